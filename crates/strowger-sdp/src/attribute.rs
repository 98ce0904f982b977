//! `a=` lines (RFC 8866 sections 5.13 and 6): the attributes this crate gives a type, and
//! every other attribute kept by name and value.
//!
//! Typed: `rtpmap` and `fmtp` (section 6.6, 6.15), `ptime` and `maxptime` (6.4, 6.5), the
//! direction attributes `sendrecv`, `sendonly`, `recvonly`, `inactive` (6.7), and `rtcp`
//! (RFC 3605 section 2.1).

use std::fmt;

use crate::description::{AddressType, Host};

/// One `a=` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attribute {
    /// `a=rtpmap:<payload type> <encoding name>/<clock rate>[/<channels>]`.
    Rtpmap(Rtpmap),
    /// `a=fmtp:<format> <format specific parameters>`.
    Fmtp(Fmtp),
    /// `a=ptime:<milliseconds>`.
    Ptime(u32),
    /// `a=maxptime:<milliseconds>`.
    MaxPtime(u32),
    /// `a=sendrecv`, `a=sendonly`, `a=recvonly` or `a=inactive`.
    Direction(Direction),
    /// `a=rtcp:<port> [<nettype> <addrtype> <address>]` (RFC 3605).
    Rtcp(Rtcp),
    /// Any other attribute: `a=<name>` (a property, `value` is `None`) or
    /// `a=<name>:<value>` (the value exactly as written after the first colon).
    Other {
        /// The attribute name.
        name: String,
        /// The value, if the line has a colon.
        value: Option<String>,
    },
}

impl Attribute {
    /// The attribute name as written before the colon.
    pub fn name(&self) -> &str {
        match self {
            Attribute::Rtpmap(_) => "rtpmap",
            Attribute::Fmtp(_) => "fmtp",
            Attribute::Ptime(_) => "ptime",
            Attribute::MaxPtime(_) => "maxptime",
            Attribute::Direction(d) => d.as_str(),
            Attribute::Rtcp(_) => "rtcp",
            Attribute::Other { name, .. } => name,
        }
    }

    /// A property attribute `a=<name>` kept as it is.
    pub fn property(name: impl Into<String>) -> Self {
        Attribute::Other {
            name: name.into(),
            value: None,
        }
    }

    /// A value attribute `a=<name>:<value>` kept as it is.
    pub fn value(name: impl Into<String>, value: impl Into<String>) -> Self {
        Attribute::Other {
            name: name.into(),
            value: Some(value.into()),
        }
    }
}

/// `a=rtpmap` (RFC 8866 section 6.6).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rtpmap {
    /// The RTP payload type, 0 to 127.
    pub payload_type: u8,
    /// The encoding name, e.g. `PCMU`, `opus`, `telephone-event` (compared without regard
    /// to case).
    pub encoding_name: String,
    /// The RTP clock rate in Hz.
    pub clock_rate: u32,
    /// Encoding parameters: the number of audio channels, if written.
    pub channels: Option<u16>,
}

/// `a=fmtp` (RFC 8866 section 6.15).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fmtp {
    /// The format (for RTP, the payload type number as text).
    pub format: String,
    /// The format-specific parameters, trimmed; meaning depends on the format.
    pub params: String,
}

impl Fmtp {
    /// The parameters split as `key=value` pairs separated by `;` (the common convention;
    /// a parameter without `=` gives an empty value).
    pub fn pairs(&self) -> impl Iterator<Item = (&str, &str)> {
        self.params
            .split(';')
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(|p| match p.split_once('=') {
                Some((k, v)) => (k.trim(), v.trim()),
                None => (p, ""),
            })
    }
}

/// `a=rtcp` (RFC 3605 section 2.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rtcp {
    /// The RTCP port.
    pub port: u16,
    /// The RTCP address, when it differs from the media's `c=`.
    pub address: Option<RtcpAddress>,
}

/// The optional address part of `a=rtcp`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RtcpAddress {
    /// `<nettype>`, in practice `IN`.
    pub network_type: String,
    /// `<addrtype>`.
    pub address_type: AddressType,
    /// The address.
    pub address: Host,
}

/// The direction attributes of RFC 8866 section 6.7, seen from the side that wrote them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// `sendrecv`, the default.
    SendRecv,
    /// `sendonly`.
    SendOnly,
    /// `recvonly`.
    RecvOnly,
    /// `inactive`.
    Inactive,
}

impl Direction {
    /// The attribute name.
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::SendRecv => "sendrecv",
            Direction::SendOnly => "sendonly",
            Direction::RecvOnly => "recvonly",
            Direction::Inactive => "inactive",
        }
    }

    /// The direction named by an attribute name, if it is one.
    pub fn from_name(name: &str) -> Option<Direction> {
        match name {
            "sendrecv" => Some(Direction::SendRecv),
            "sendonly" => Some(Direction::SendOnly),
            "recvonly" => Some(Direction::RecvOnly),
            "inactive" => Some(Direction::Inactive),
            _ => None,
        }
    }

    /// The direction that sends and receives as asked.
    pub fn from_flags(sends: bool, receives: bool) -> Direction {
        match (sends, receives) {
            (true, true) => Direction::SendRecv,
            (true, false) => Direction::SendOnly,
            (false, true) => Direction::RecvOnly,
            (false, false) => Direction::Inactive,
        }
    }

    /// Whether the side that wrote this sends media.
    pub fn sends(self) -> bool {
        matches!(self, Direction::SendRecv | Direction::SendOnly)
    }

    /// Whether the side that wrote this receives media.
    pub fn receives(self) -> bool {
        matches!(self, Direction::SendRecv | Direction::RecvOnly)
    }

    /// The same stream seen from the other side: `sendonly` becomes `recvonly`.
    pub fn reversed(self) -> Direction {
        Direction::from_flags(self.receives(), self.sends())
    }

    /// Only what both allow.
    pub fn intersect(self, other: Direction) -> Direction {
        Direction::from_flags(
            self.sends() && other.sends(),
            self.receives() && other.receives(),
        )
    }
}

impl fmt::Display for Direction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
