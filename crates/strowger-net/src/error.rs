//! Errors of the runtime.

use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;

use strowger_core::Transport;

/// Why an endpoint could not start, or a call on it failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A listen spec is not `TRANSPORT:IP:PORT`.
    #[error("invalid listen address {spec:?}: {reason}")]
    ListenSpec { spec: String, reason: &'static str },
    /// A socket could not be opened.
    #[error("cannot listen on {transport} {addr}: {source}")]
    Bind {
        transport: Transport,
        addr: SocketAddr,
        source: io::Error,
    },
    /// A `tls` or `wss` listener without a certificate and key.
    #[error("a {0} listener needs a TLS certificate chain and private key (tls.cert_chain, tls.private_key)")]
    TlsIdentityMissing(Transport),
    /// A PEM file could not be read or holds nothing usable.
    #[error("cannot read the {what} from {}: {reason}", path.display())]
    Pem {
        what: &'static str,
        path: PathBuf,
        reason: String,
    },
    /// rustls refused the certificate, key or roots.
    #[error("TLS configuration rejected: {0}")]
    Tls(#[from] tokio_rustls::rustls::Error),
    /// The transaction layer refused the call.
    #[error(transparent)]
    Transaction(#[from] strowger_core::Error),
    /// The request could not be given our Via.
    #[error("cannot add our Via to the request: {0}")]
    Message(#[from] strowger_message::ParseError),
    /// The endpoint was shut down (or its task ended).
    #[error("the endpoint is shut down")]
    Closed,
}
