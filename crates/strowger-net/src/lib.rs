//! # strowger-net
//!
//! The runtime under the sans-I/O core: Tokio sockets for UDP, TCP, TLS (rustls) and
//! WebSocket (RFC 7118), a connection table with reuse, and one timer driver feeding
//! [`strowger_core::TransactionLayer`] (RFC 3261 sections 17 and 18, RFC 5626 section
//! 4.4.1 keep-alives).
//!
//! - [`Endpoint::bind`] opens the listeners of a [`Config`] (`udp:IP:PORT`,
//!   `tcp:...`, `tls:...`, `ws:...`, `wss:...`; port 0 lets the OS choose) and
//!   returns a handle and the receiver of [`Incoming`] requests.
//! - [`Endpoint::send_request`] starts a client transaction and gives a
//!   [`ClientTransaction`] to read its responses from.
//! - [`Endpoint::respond`], [`Endpoint::send_stateless`], [`Endpoint::shutdown`].
//!
//! Every queue is bounded and every wait on a peer has a deadline: see [`Limits`].
#![forbid(unsafe_code)]
#![warn(missing_debug_implementations)]

mod config;
mod conn;
mod endpoint;
mod error;
mod reject;
pub mod resolve;
mod stream;
mod tls;
mod transports;
mod udp;
mod ws;

pub use config::{Config, Limits, ListenSpec, TlsConfig};
pub use endpoint::{ClientEvent, ClientTransaction, Endpoint, Failure, Incoming};
pub use error::Error;
pub use strowger_core::{Target, TransactionKey, Transport};
pub use transports::{TransportEvent, Transports, UdpDispatch};
