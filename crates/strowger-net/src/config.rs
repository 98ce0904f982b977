//! Endpoint configuration: what to listen on (`udp:IP:PORT`, `tcp:...`, `tls:...`,
//! `ws:...`, `wss:...`), TLS material, and the resource bounds that keep a slow or
//! hostile peer from exhausting memory or file descriptors.

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use strowger_core::Transport;

use crate::error::Error;

/// One listening socket: a transport and a local address (port 0 lets the OS choose).
///
/// ```
/// use strowger_net::ListenSpec;
/// use strowger_core::Transport;
/// let spec: ListenSpec = "wss:[::1]:0".parse().unwrap();
/// assert_eq!(spec.transport, Transport::Wss);
/// assert_eq!(spec.addr, "[::1]:0".parse().unwrap());
/// assert_eq!(spec.to_string(), "wss:[::1]:0");
/// assert!("sctp:127.0.0.1:5060".parse::<ListenSpec>().is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ListenSpec {
    pub transport: Transport,
    pub addr: SocketAddr,
}

impl ListenSpec {
    pub fn new(transport: Transport, addr: SocketAddr) -> ListenSpec {
        ListenSpec { transport, addr }
    }
}

impl FromStr for ListenSpec {
    type Err = Error;

    fn from_str(s: &str) -> Result<ListenSpec, Error> {
        let bad = |reason: &'static str| Error::ListenSpec {
            spec: s.to_string(),
            reason,
        };
        let (scheme, rest) = s
            .split_once(':')
            .ok_or_else(|| bad("expected TRANSPORT:IP:PORT, e.g. udp:0.0.0.0:5060"))?;
        let transport = Transport::from_via(scheme)
            .ok_or_else(|| bad("the transport must be one of udp, tcp, tls, ws, wss"))?;
        let addr = rest
            .parse::<SocketAddr>()
            .map_err(|_| bad("expected IP:PORT, with IPv6 in brackets ([::1]:5060)"))?;
        Ok(ListenSpec { transport, addr })
    }
}

impl fmt::Display for ListenSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}",
            self.transport.as_str().to_ascii_lowercase(),
            self.addr
        )
    }
}

/// TLS material (used by `tls` and `wss`). Server side: a certificate chain and its
/// private key, PEM files. Client side: the trust anchors, PEM files of CA
/// certificates; with none, no server certificate is trusted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsConfig {
    /// PEM file with the server certificate chain, leaf first.
    pub cert_chain: Option<PathBuf>,
    /// PEM file with the server's private key (PKCS#8, PKCS#1 or SEC1).
    pub private_key: Option<PathBuf>,
    /// PEM files with the CA certificates this endpoint trusts as a client.
    pub roots: Vec<PathBuf>,
    /// The name checked against the server certificate when connecting. `None`: the
    /// destination IP address (the certificate must then carry an IP SAN).
    pub server_name: Option<String>,
}

/// Resource bounds. Every queue is bounded; what overflows is dropped (datagrams,
/// requests answered 503) or closed (connections).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Message size, header count and line length bounds of the parser. A stream
    /// message larger than `max_message_size` closes its connection.
    pub message: strowger_message::Limits,
    /// Most open connections (TCP, TLS, WS, WSS; accepted and opened together). An
    /// accept over the limit is closed at once; a connect over it is a transport error.
    pub max_connections: usize,
    /// A connection with no traffic either way for this long is closed.
    pub idle_timeout: Duration,
    /// Bound on connecting, and on the TLS and WebSocket handshakes of a connection.
    pub handshake_timeout: Duration,
    /// Messages waiting to be written on one connection; past that the peer is not
    /// reading and the connection is closed.
    pub connection_queue: usize,
    /// Most bytes buffered from one stream while a message is incomplete.
    pub read_buffer: usize,
    /// Requests waiting for the transaction user; past that new requests get 503.
    pub incoming_queue: usize,
    /// Messages from the sockets waiting for the transaction layer. When full,
    /// readers wait (and the kernel drops datagrams).
    pub input_queue: usize,
    /// Size of the UDP receive buffer of each socket (the largest datagram read).
    pub udp_datagram: usize,
    /// The kernel's receive buffer (SO_RCVBUF) asked for each UDP socket, in bytes:
    /// what absorbs a burst of datagrams while the reader is busy. The kernel caps it
    /// at `net.core.rmem_max`; 0 keeps the system default (`net.core.rmem_default`).
    pub udp_recv_buffer: usize,
}

impl Default for Limits {
    fn default() -> Self {
        let message = strowger_message::Limits::default();
        Limits {
            message,
            max_connections: 4096,
            idle_timeout: Duration::from_secs(300),
            handshake_timeout: Duration::from_secs(10),
            connection_queue: 128,
            read_buffer: message.max_message_size + 4096,
            incoming_queue: 1024,
            input_queue: 1024,
            udp_datagram: 65_536,
            // Like Kamailio's `maxbuffer` and SIPp's `-buff_size` in the benchmark.
            udp_recv_buffer: 4 << 20,
        }
    }
}

/// Everything [`crate::Endpoint::bind`] needs.
#[derive(Debug, Clone, Default)]
pub struct Config {
    /// The sockets to open. May be empty for a client that only connects out (it then
    /// cannot use UDP, which needs a bound socket).
    pub listen: Vec<ListenSpec>,
    /// Timers and transaction bound of the transaction layer.
    pub transactions: strowger_core::Config,
    pub limits: Limits,
    /// Needed for `tls` and `wss` listeners and for connecting out over TLS.
    pub tls: Option<TlsConfig>,
    /// The host written in the sent-by of our Via (section 18.1.1). `None`: the IP of
    /// the listener of the request's transport; `<random>.invalid` when that is a
    /// wildcard address or there is no such listener (as RFC 7118 section 5.2 does
    /// for WebSocket clients; responses then find us by `received` and `rport`, or
    /// by the connection). Set it when listening on `0.0.0.0` or `[::]`.
    pub via_host: Option<String>,
}

impl Config {
    /// A configuration listening on `specs` (each `TRANSPORT:IP:PORT`), defaults
    /// elsewhere.
    ///
    /// ```
    /// let c = strowger_net::Config::listening(&["udp:127.0.0.1:0", "tcp:[::1]:0"]).unwrap();
    /// assert_eq!(c.listen.len(), 2);
    /// ```
    pub fn listening(specs: &[&str]) -> Result<Config, Error> {
        Ok(Config {
            listen: specs.iter().map(|s| s.parse()).collect::<Result<_, _>>()?,
            ..Config::default()
        })
    }
}
