//! # strowger-core
//!
//! The SIP protocol without I/O: state machines that take events in (a message arrived,
//! time passed, the application asked for something) and give actions out (send these
//! bytes there, wake me at instant T, tell the application X). The runtime
//! (`strowger-net`) owns the sockets and the clock.
//!
//! - [`transaction`]: the transaction layer of RFC 3261 section 17 with the corrections
//!   of RFC 6026 (Accepted state, timers L and M): INVITE and non-INVITE client
//!   transactions (17.1.1, 17.1.2), INVITE and non-INVITE server transactions (17.2.1,
//!   17.2.2), matching (17.1.3, 17.2.3, with the RFC 2543 fallback), the CANCEL lookup
//!   of section 9.2, and transport errors (17.1.4, 17.2.4, 8.1.3.1).
//! - [`transport`]: the transport-layer rules of section 18 that need no socket:
//!   `received` and `rport` (18.2.1, RFC 3581), where responses go (18.2.2), the
//!   client's Via and the size rule for UDP (18.1.1).
//!
//! Time is always an [`std::time::Instant`] passed in; nothing here reads the clock,
//! and nothing reachable from the network panics.
#![forbid(unsafe_code)]
#![warn(missing_debug_implementations)]

pub mod dialog;
pub mod digest;
pub mod proxy;
pub mod registrar;
pub mod transaction;
pub mod transport;
pub mod ua;

pub use transaction::{Config, Error, Event, State, Timers, TransactionKey, TransactionLayer};
pub use transport::{Target, Transmit, Transport};
