//! The session description as a value: RFC 8866 section 5 (the fields) and section 9 (the
//! grammar they follow). Parsing is in `parse.rs`, writing in `write.rs`.

use std::net::IpAddr;

use crate::attribute::{Attribute, Direction, Fmtp, Rtcp, Rtpmap};
use crate::codec::{static_payload_type, RtpFormat};

/// A whole SDP body (RFC 8866 section 5).
///
/// Field order on the wire is fixed by the RFC; here each kind of line has its own field, and
/// lines that may repeat keep their order. `v=` is not stored: its only legal value is `0`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionDescription {
    /// `o=`, the originator and session identifier (section 5.2).
    pub origin: Origin,
    /// `s=`, the session name (section 5.3). RFC 8866 asks for `-` when there is no name;
    /// an empty name is accepted when parsing and written as it is.
    pub session_name: String,
    /// `i=`, session information (section 5.4).
    pub information: Option<String>,
    /// `u=`, a URI (section 5.5).
    pub uri: Option<String>,
    /// `e=` lines (section 5.6).
    pub emails: Vec<String>,
    /// `p=` lines (section 5.6).
    pub phones: Vec<String>,
    /// Session-level `c=` (section 5.7).
    pub connection: Option<Connection>,
    /// Session-level `b=` lines (section 5.8).
    pub bandwidths: Vec<Bandwidth>,
    /// `t=` lines, each with the `r=` lines that follow it (sections 5.9, 5.10).
    pub times: Vec<Timing>,
    /// The `z=` line's adjustments (section 5.11), empty when there is none.
    pub time_zones: Vec<TimeZoneAdjustment>,
    /// Session-level `k=` (section 5.12, obsolete but still parsed), kept as written.
    pub key: Option<String>,
    /// Session-level `a=` lines (section 5.13), in order.
    pub attributes: Vec<Attribute>,
    /// `m=` sections (section 5.14), in order.
    pub media: Vec<MediaDescription>,
}

/// The `o=` line (RFC 8866 section 5.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// `<username>`, `-` when there is none.
    pub username: String,
    /// `<sess-id>`, a numeric string; kept as text because peers send more digits than fit
    /// a machine integer.
    pub session_id: String,
    /// `<sess-version>`, incremented on each change of the session (RFC 3264 section 8).
    pub session_version: u64,
    /// `<nettype>`, in practice `IN`.
    pub network_type: String,
    /// `<addrtype>`.
    pub address_type: AddressType,
    /// `<unicast-address>`: an address or a fully qualified domain name.
    pub address: Host,
}

/// `<addrtype>` of `o=`, `c=` and `a=rtcp`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum AddressType {
    /// `IP4`.
    Ip4,
    /// `IP6`.
    Ip6,
    /// Any other token (never `IP4` or `IP6` in any case).
    Other(String),
}

impl AddressType {
    /// The address type that fits an IP address.
    pub fn of(address: IpAddr) -> AddressType {
        match address {
            IpAddr::V4(_) => AddressType::Ip4,
            IpAddr::V6(_) => AddressType::Ip6,
        }
    }
}

/// An address in `o=`, `c=` or `a=rtcp`: an IP address, or a name (RFC 8866 allows a fully
/// qualified domain name, and other address types their own syntax).
///
/// IPv6 addresses are written without brackets (RFC 5118 section 4.6); a bracketed one is
/// accepted when parsing and written without.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Host {
    /// An IPv4 or IPv6 address.
    Ip(IpAddr),
    /// Anything else: a domain name, or an address of a type this crate does not know.
    Name(String),
}

impl Host {
    /// The IP address, if this is one.
    pub fn ip(&self) -> Option<IpAddr> {
        match self {
            Host::Ip(ip) => Some(*ip),
            Host::Name(_) => None,
        }
    }
}

impl From<IpAddr> for Host {
    fn from(ip: IpAddr) -> Self {
        Host::Ip(ip)
    }
}

/// A `c=` line (RFC 8866 section 5.7).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Connection {
    /// `<nettype>`, in practice `IN`.
    pub network_type: String,
    /// `<addrtype>`.
    pub address_type: AddressType,
    /// The address.
    pub address: Host,
    /// IPv4 multicast TTL (`/ttl`); only with `IP4`.
    pub ttl: Option<u8>,
    /// Number of addresses (`/<number of addresses>`). With `IP4` it follows the TTL.
    pub count: Option<u32>,
}

impl Connection {
    /// `c=IN IP4 <addr>` or `c=IN IP6 <addr>` for a unicast address.
    pub fn new(address: IpAddr) -> Self {
        Connection {
            network_type: "IN".to_owned(),
            address_type: AddressType::of(address),
            address: Host::Ip(address),
            ttl: None,
            count: None,
        }
    }

    /// True for `c=IN IP4 0.0.0.0`, the RFC 2543 way of putting a stream on hold, which
    /// RFC 3264 section 8.4 asks answerers to still understand.
    pub fn is_legacy_hold(&self) -> bool {
        matches!(self.address, Host::Ip(IpAddr::V4(v4)) if v4.is_unspecified())
    }
}

/// A `b=` line (RFC 8866 section 5.8).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bandwidth {
    /// `<bwtype>`: `CT`, `AS`, `TIAS` (RFC 3890), or another token.
    pub bwtype: String,
    /// `<bandwidth>`, in kilobits per second for `CT` and `AS`.
    pub bandwidth: u64,
}

/// A `t=` line and its `r=` lines (RFC 8866 sections 5.9 and 5.10).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Timing {
    /// `<start-time>`, NTP seconds; 0 for an unbounded session.
    pub start: u64,
    /// `<stop-time>`, NTP seconds; 0 for an unbounded session.
    pub stop: u64,
    /// The `r=` lines that follow this `t=`.
    pub repeats: Vec<Repeat>,
}

/// An `r=` line (RFC 8866 section 5.10).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Repeat {
    /// `<repeat interval>`.
    pub interval: TypedTime,
    /// `<active duration>`.
    pub duration: TypedTime,
    /// `<offsets from start-time>`, at least one.
    pub offsets: Vec<TypedTime>,
}

/// A time with an optional unit letter, as in `r=` and `z=` (RFC 8866 section 5.10).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TypedTime {
    /// The number as written.
    pub amount: u64,
    /// The unit letter, if any.
    pub unit: Option<TimeUnit>,
}

impl TypedTime {
    /// The time in seconds (saturating).
    pub fn seconds(&self) -> u64 {
        let factor = match self.unit {
            None | Some(TimeUnit::Seconds) => 1,
            Some(TimeUnit::Minutes) => 60,
            Some(TimeUnit::Hours) => 3_600,
            Some(TimeUnit::Days) => 86_400,
        };
        self.amount.saturating_mul(factor)
    }
}

/// Unit letters of typed times.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeUnit {
    /// `d`.
    Days,
    /// `h`.
    Hours,
    /// `m`.
    Minutes,
    /// `s`.
    Seconds,
}

/// One `<adjustment time> <offset>` pair of a `z=` line (RFC 8866 section 5.11).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeZoneAdjustment {
    /// `<adjustment time>`, NTP seconds.
    pub time: u64,
    /// True when the offset is written with a leading `-`.
    pub negative: bool,
    /// The offset's magnitude.
    pub offset: TypedTime,
}

/// The `<media>` of an `m=` line.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum MediaType {
    /// `audio`.
    Audio,
    /// `video`.
    Video,
    /// `text`.
    Text,
    /// `application`.
    Application,
    /// `message`.
    Message,
    /// `image` (T.38 fax).
    Image,
    /// Any other token (never one of the above).
    Other(String),
}

impl MediaType {
    /// The token as written on the `m=` line.
    pub fn as_str(&self) -> &str {
        match self {
            MediaType::Audio => "audio",
            MediaType::Video => "video",
            MediaType::Text => "text",
            MediaType::Application => "application",
            MediaType::Message => "message",
            MediaType::Image => "image",
            MediaType::Other(other) => other,
        }
    }

    pub(crate) fn from_token(token: &str) -> MediaType {
        match token {
            "audio" => MediaType::Audio,
            "video" => MediaType::Video,
            "text" => MediaType::Text,
            "application" => MediaType::Application,
            "message" => MediaType::Message,
            "image" => MediaType::Image,
            other => MediaType::Other(other.to_owned()),
        }
    }
}

/// An `m=` section (RFC 8866 section 5.14) with its `i=`, `c=`, `b=`, `k=` and `a=` lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaDescription {
    /// `<media>`.
    pub media: MediaType,
    /// `<port>`; 0 means the stream is rejected or removed (RFC 3264 sections 6 and 8.2).
    pub port: u16,
    /// `/<number of ports>`, if written.
    pub port_count: Option<u16>,
    /// `<proto>`, e.g. `RTP/AVP`, `RTP/SAVPF`, `UDP/TLS/RTP/SAVPF`, `udptl`.
    pub proto: String,
    /// `<fmt>` list: RTP payload type numbers for RTP protocols, tokens otherwise.
    pub formats: Vec<String>,
    /// `i=`.
    pub information: Option<String>,
    /// `c=` lines; more than one only for layered multicast (section 5.7).
    pub connections: Vec<Connection>,
    /// `b=` lines.
    pub bandwidths: Vec<Bandwidth>,
    /// `k=`, kept as written.
    pub key: Option<String>,
    /// `a=` lines, in order.
    pub attributes: Vec<Attribute>,
}

impl MediaDescription {
    /// An `m=` section with no lines under it yet.
    pub fn new(media: MediaType, port: u16, proto: impl Into<String>) -> Self {
        MediaDescription {
            media,
            port,
            port_count: None,
            proto: proto.into(),
            formats: Vec::new(),
            information: None,
            connections: Vec::new(),
            bandwidths: Vec::new(),
            key: None,
            attributes: Vec::new(),
        }
    }

    /// Port 0: the stream is rejected (RFC 3264 section 6) or removed (section 8.2).
    pub fn is_rejected(&self) -> bool {
        self.port == 0
    }

    /// True when `<proto>` is an RTP profile (its formats are payload type numbers).
    pub fn is_rtp(&self) -> bool {
        self.proto
            .split('/')
            .any(|part| part.eq_ignore_ascii_case("RTP"))
    }

    /// The formats that are RTP payload type numbers (0 to 127), in order.
    pub fn payload_types(&self) -> impl Iterator<Item = u8> + '_ {
        self.formats
            .iter()
            .filter_map(|f| f.parse::<u8>().ok())
            .filter(|pt| *pt <= 127)
    }

    /// The media-level direction attribute, if there is one.
    pub fn direction(&self) -> Option<Direction> {
        self.attributes.iter().find_map(|a| match a {
            Attribute::Direction(d) => Some(*d),
            _ => None,
        })
    }

    /// Replaces every media-level direction attribute with `direction`.
    pub fn set_direction(&mut self, direction: Direction) {
        self.attributes
            .retain(|a| !matches!(a, Attribute::Direction(_)));
        self.attributes.push(Attribute::Direction(direction));
    }

    /// The `a=rtpmap` for a payload type.
    pub fn rtpmap(&self, payload_type: u8) -> Option<&Rtpmap> {
        self.attributes.iter().find_map(|a| match a {
            Attribute::Rtpmap(r) if r.payload_type == payload_type => Some(r),
            _ => None,
        })
    }

    /// The `a=fmtp` for a format.
    pub fn fmtp(&self, format: &str) -> Option<&Fmtp> {
        self.attributes.iter().find_map(|a| match a {
            Attribute::Fmtp(f) if f.format == format => Some(f),
            _ => None,
        })
    }

    /// `a=ptime`, in milliseconds.
    pub fn ptime(&self) -> Option<u32> {
        self.attributes.iter().find_map(|a| match a {
            Attribute::Ptime(p) => Some(*p),
            _ => None,
        })
    }

    /// `a=maxptime`, in milliseconds.
    pub fn maxptime(&self) -> Option<u32> {
        self.attributes.iter().find_map(|a| match a {
            Attribute::MaxPtime(p) => Some(*p),
            _ => None,
        })
    }

    /// `a=rtcp` (RFC 3605).
    pub fn rtcp(&self) -> Option<&Rtcp> {
        self.attributes.iter().find_map(|a| match a {
            Attribute::Rtcp(r) => Some(r),
            _ => None,
        })
    }

    /// The first attribute with this name (typed attributes included).
    pub fn attribute(&self, name: &str) -> Option<&Attribute> {
        self.attributes.iter().find(|a| a.name() == name)
    }

    /// What a payload type stands for: its `a=rtpmap`, or else the static assignment of
    /// RFC 3551 section 6 (0 PCMU, 8 PCMA, 9 G722, 18 G729, ...).
    pub fn rtp_format(&self, payload_type: u8) -> Option<RtpFormat<'_>> {
        match self.rtpmap(payload_type) {
            Some(map) => Some(RtpFormat {
                payload_type,
                encoding_name: &map.encoding_name,
                clock_rate: map.clock_rate,
                channels: map.channels,
            }),
            None => static_payload_type(payload_type),
        }
    }
}

impl SessionDescription {
    /// A description with the given origin and name, `t=0 0`, and nothing else.
    pub fn new(origin: Origin, session_name: impl Into<String>) -> Self {
        SessionDescription {
            origin,
            session_name: session_name.into(),
            information: None,
            uri: None,
            emails: Vec::new(),
            phones: Vec::new(),
            connection: None,
            bandwidths: Vec::new(),
            times: vec![Timing::default()],
            time_zones: Vec::new(),
            key: None,
            attributes: Vec::new(),
            media: Vec::new(),
        }
    }

    /// The session-level direction attribute, if there is one.
    pub fn direction(&self) -> Option<Direction> {
        self.attributes.iter().find_map(|a| match a {
            Attribute::Direction(d) => Some(*d),
            _ => None,
        })
    }

    /// The direction in force for a media description: its own attribute, else the
    /// session-level one, else `sendrecv` (RFC 3264 section 5.1).
    pub fn media_direction(&self, media: &MediaDescription) -> Direction {
        media
            .direction()
            .or_else(|| self.direction())
            .unwrap_or(Direction::SendRecv)
    }

    /// The connection in force for a media description: its first `c=`, else the
    /// session-level one (RFC 8866 section 5.7).
    pub fn media_connection<'a>(&'a self, media: &'a MediaDescription) -> Option<&'a Connection> {
        media.connections.first().or(self.connection.as_ref())
    }

    /// Whether a media description is put on hold the RFC 2543 way, with connection address
    /// `0.0.0.0` (RFC 3264 section 8.4). Not when ICE is in use (`a=ice-ufrag`), where
    /// `0.0.0.0` is only a placeholder for the candidates (RFC 8839 section 4.2).
    pub fn media_on_legacy_hold(&self, media: &MediaDescription) -> bool {
        let uses_ice = media.attribute("ice-ufrag").is_some()
            || self.attributes.iter().any(|a| a.name() == "ice-ufrag");
        !uses_ice
            && self
                .media_connection(media)
                .is_some_and(Connection::is_legacy_hold)
    }
}
