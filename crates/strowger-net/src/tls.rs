//! TLS with rustls and the *ring* provider (RFC 3261 section 26.2, RFC 5630): the
//! server identity and the client trust anchors come from PEM files.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio_rustls::rustls::{self, ClientConfig, RootCertStore, ServerConfig};
use tokio_rustls::{TlsAcceptor, TlsConnector};

use crate::config::TlsConfig;
use crate::error::Error;

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn certs(path: &Path, what: &'static str) -> Result<Vec<CertificateDer<'static>>, Error> {
    let pem_err = |reason: String| Error::Pem {
        what,
        path: path.to_path_buf(),
        reason,
    };
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| pem_err(e.to_string()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| pem_err(e.to_string()))?;
    if certs.is_empty() {
        return Err(pem_err("no CERTIFICATE section".into()));
    }
    Ok(certs)
}

/// The acceptor for `tls` and `wss` listeners.
pub(crate) fn acceptor(tls: &TlsConfig) -> Result<Option<TlsAcceptor>, Error> {
    let (Some(chain), Some(key)) = (&tls.cert_chain, &tls.private_key) else {
        return Ok(None);
    };
    let chain = certs(chain, "certificate chain")?;
    let key = PrivateKeyDer::from_pem_file(key).map_err(|e| Error::Pem {
        what: "private key",
        path: key.clone(),
        reason: e.to_string(),
    })?;
    let config = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(chain, key)?;
    Ok(Some(TlsAcceptor::from(Arc::new(config))))
}

/// The connector for outgoing `tls` and `wss` connections.
pub(crate) fn connector(tls: Option<&TlsConfig>) -> Result<TlsConnector, Error> {
    let mut roots = RootCertStore::empty();
    for path in tls.map(|t| t.roots.as_slice()).unwrap_or_default() {
        for cert in certs(path, "trusted CA certificates")? {
            roots.add(cert)?;
        }
    }
    let config = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(TlsConnector::from(Arc::new(config)))
}

/// The name a server certificate must carry: the configured one, or the IP address.
pub(crate) fn server_name(tls: Option<&TlsConfig>, addr: SocketAddr) -> ServerName<'static> {
    tls.and_then(|t| t.server_name.as_deref())
        .and_then(|n| ServerName::try_from(n.to_string()).ok())
        .unwrap_or_else(|| ServerName::IpAddress(addr.ip().into()))
}
