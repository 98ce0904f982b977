//! SDP, the Session Description Protocol (RFC 8866), and the offer/answer model built on it
//! (RFC 3264), for Strowger.
//!
//! Sans-I/O: no sockets, no clock, no async. [`SessionDescription::parse`] reads a body
//! (`Content-Type: application/sdp`) into a value, never panicking and never allocating
//! beyond the bounds of [`Limits`]; [`SessionDescription::to_bytes`] (or `Display`) writes it
//! back in the order RFC 8866 section 5 fixes, with CRLF line ends, and parsing that output
//! gives an equal value. [`LocalSession`] builds offers and answers from this side's
//! [`LocalMedia`] and keeps the `o=` line across a session (RFC 3264 section 8), and
//! [`negotiated_audio`] tells a media engine where to send what once both are known.
//!
//! # What the parser accepts
//!
//! Liberal where mature stacks are: bare LF line ends (RFC 8866 section 5 says parsers
//! SHOULD accept them), blank lines, runs of spaces between fields, lines of one section in
//! any order, an empty `s=`, IPv6 addresses in brackets (written back without, RFC 5118
//! section 4.6), text that is not UTF-8 (kept with U+FFFD). Strict where guessing would
//! change the meaning: `v=0` first, `o=` and `s=` present, session-only lines refused after
//! an `m=`, typed attributes (`rtpmap`, `fmtp`, `ptime`, `maxptime`, directions, `rtcp`)
//! checked against their grammar, and a type letter RFC 8866 does not define refuses the
//! whole description (section 5: a parser "MUST completely ignore or reject" it). Every
//! error names the line and the field.
//!
//! # Example
//!
//! ```
//! use std::net::{IpAddr, Ipv4Addr};
//! use strowger_sdp::{
//!     negotiated_audio, Codec, Direction, LocalMedia, LocalSession, Role, SessionDescription,
//! };
//!
//! let offer = SessionDescription::parse(
//!     b"v=0\r\n\
//!       o=alice 2890844526 2890844526 IN IP4 198.51.100.1\r\n\
//!       s=-\r\n\
//!       c=IN IP4 198.51.100.1\r\n\
//!       t=0 0\r\n\
//!       m=audio 49170 RTP/AVP 0 8 97 101\r\n\
//!       a=rtpmap:97 iLBC/8000\r\n\
//!       a=rtpmap:101 telephone-event/8000\r\n\
//!       a=fmtp:101 0-15\r\n\
//!       a=sendonly\r\n",
//! )?;
//!
//! let address = IpAddr::V4(Ipv4Addr::new(203, 0, 113, 7));
//! let audio = LocalMedia::audio(
//!     30000,
//!     vec![Codec::pcma(), Codec::pcmu(), Codec::telephone_event(8000)],
//! );
//! let mut session = LocalSession::new("strowger", 42, address, vec![audio]);
//! let answer = session.create_answer(&offer);
//!
//! // The offer's payload type numbers and order, and sendonly answered with recvonly.
//! assert_eq!(answer.media[0].formats, ["0", "8", "101"]);
//! assert_eq!(answer.media[0].direction(), Some(Direction::RecvOnly));
//!
//! let audio = negotiated_audio(&offer, &answer, Role::Answerer)?;
//! assert_eq!(audio.remote_address, IpAddr::V4(Ipv4Addr::new(198, 51, 100, 1)));
//! assert_eq!((audio.remote_port, audio.payload_type), (49170, 0));
//! assert_eq!(audio.telephone_event, Some(101));
//!
//! // What goes on the wire parses back to the same value.
//! assert_eq!(SessionDescription::parse(&answer.to_bytes())?, answer);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![deny(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]
#![cfg_attr(
    test,
    allow(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::indexing_slicing,
        clippy::panic
    )
)]

mod attribute;
mod codec;
mod description;
mod error;
mod negotiated;
mod offer_answer;
mod parse;
mod write;

pub use attribute::{Attribute, Direction, Fmtp, Rtcp, RtcpAddress, Rtpmap};
pub use codec::{static_payload_type, static_payload_type_for, RtpFormat};
pub use description::{
    AddressType, Bandwidth, Connection, Host, MediaDescription, MediaType, Origin, Repeat,
    SessionDescription, TimeUnit, TimeZoneAdjustment, Timing, TypedTime,
};
pub use error::{Limits, SdpError};
pub use negotiated::{negotiated_audio, NegotiatedAudio, NegotiationError, Role};
pub use offer_answer::{Codec, LocalMedia, LocalSession};

impl SessionDescription {
    /// Parses an SDP body with the default [`Limits`].
    pub fn parse(input: &[u8]) -> Result<SessionDescription, SdpError> {
        parse::parse(input, &Limits::default())
    }

    /// Parses an SDP body with the given limits.
    pub fn parse_with_limits(
        input: &[u8],
        limits: &Limits,
    ) -> Result<SessionDescription, SdpError> {
        parse::parse(input, limits)
    }
}

impl std::str::FromStr for SessionDescription {
    type Err = SdpError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        SessionDescription::parse(s.as_bytes())
    }
}
