//! # strowger-message
//!
//! The syntax and encoding layer of SIP (RFC 3261 sections 7, 19, 20 and 25): URIs,
//! header fields, requests and responses, parsed from bytes and written back.
//!
//! - [`Message::parse`] reads a datagram or a framed stream message, validates the start
//!   line and every header field it has a type for, and keeps the bytes: a message that
//!   is not changed is written back byte for byte.
//! - [`Message::validate`] adds the checks a server makes before acting (505, mandatory
//!   header fields, single values, CSeq method).
//! - [`frame`] cuts messages out of a TCP/TLS/WebSocket byte stream (section 18.3) and
//!   recognises the RFC 5626 CRLF keep-alives.
//! - [`RequestBuilder`] and [`ResponseBuilder`] write new messages in canonical form
//!   (sections 8.1.1 and 8.2.6).
//!
//! Nothing here does I/O, reads a clock, or panics on input.
//!
//! ```
//! use strowger_message::{Message, HeaderName};
//! let msg = Message::parse(&b"SIP/2.0 200 OK\r\n\
//!     v: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKnashds8;received=192.0.2.4\r\n\
//!     t: <sip:bob@example.com>;tag=a6c85cf\r\nf: <sip:alice@example.com>;tag=1928301774\r\n\
//!     i: a84b4c76e66710\r\nCSeq: 314159 INVITE\r\nl: 0\r\n\r\n"[..])?;
//! assert_eq!(msg.status(), Some(200));
//! assert_eq!(msg.to().unwrap().tag(), Some("a6c85cf"));
//! assert_eq!(msg.get(HeaderName::CallId).next(), Some("a84b4c76e66710"));
//! # Ok::<(), strowger_message::ParseError>(())
//! ```
// One `unsafe` block, `Message::text` (reading a header value without checking it as
// UTF-8 again), allowed there with its measurement and its proof; nowhere else.
#![deny(unsafe_code)]
#![warn(missing_debug_implementations)]

mod builder;
mod edit;
mod error;
mod framing;
pub mod headers;
mod message;
mod method;
mod name;
mod params;
mod scan;
pub mod uri;
mod write;

pub use builder::{
    default_reason, new_branch_suffix, new_call_id, new_tag, RequestBuilder, ResponseBuilder,
};
pub use edit::Editor;
pub use error::{FieldError, ParseError};
pub use framing::{frame, Frame};
pub use headers::{Auth, CSeq, Contact, MediaType, NameAddr, RetryAfter, Timestamp, Via, Warning};
pub use message::{Header, Limits, Message};
pub use method::Method;
pub use name::HeaderName;
pub use params::{Param, Params};
pub use scan::unescape;
pub use uri::{ipv4_text, push_ipv4, Host, SipUri, TelUri, Uri};
pub use write::unfold;

/// The magic cookie that starts every RFC 3261 branch (section 8.1.1.7).
pub const MAGIC_COOKIE: &str = "z9hG4bK";
