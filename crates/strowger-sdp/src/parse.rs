//! Parsing an SDP body (RFC 8866 sections 5 and 9).
//!
//! Liberal where mature stacks are: bare LF line ends (section 5: parsers "SHOULD be tolerant
//! and also accept records terminated with a single newline character"), blank lines, runs
//! of spaces between fields, lines within a section in any order, an empty `s=`, a bracketed
//! IPv6 address. Strict where being liberal would change the meaning: `v=` first and `0`,
//! `o=` and `s=` present, session-only lines kept out of media sections, unknown type letters
//! refused (section 5 lets a parser "ignore or reject" such a description; refusing says why).

use std::borrow::Cow;
use std::net::{IpAddr, Ipv6Addr};
use std::str::FromStr;

use crate::attribute::{Attribute, Direction, Fmtp, Rtcp, RtcpAddress, Rtpmap};
use crate::description::{
    AddressType, Bandwidth, Connection, Host, MediaDescription, MediaType, Origin, Repeat,
    SessionDescription, TimeUnit, TimeZoneAdjustment, Timing, TypedTime,
};
use crate::error::{Limits, SdpError};

/// The type letters RFC 8866 section 5 defines.
const KNOWN_TYPES: &[u8] = b"vosiuepcbtrzkam";

pub(crate) fn parse(input: &[u8], limits: &Limits) -> Result<SessionDescription, SdpError> {
    if input.len() > limits.max_size {
        return Err(SdpError::TooLarge {
            size: input.len(),
            limit: limits.max_size,
        });
    }
    let mut builder = Builder::default();
    let mut lines = 0usize;
    for (index, raw) in input.split(|b| *b == b'\n').enumerate() {
        let line = index + 1;
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        if raw.iter().all(|b| *b == b' ' || *b == b'\t') {
            continue;
        }
        lines += 1;
        if lines > limits.max_lines {
            return Err(SdpError::TooManyLines {
                limit: limits.max_lines,
            });
        }
        let (letter, value) = match raw {
            [letter, b'=', value @ ..] => (*letter, value),
            _ => return Err(SdpError::MalformedLine { line }),
        };
        let field = char::from(letter);
        if !KNOWN_TYPES.contains(&letter) {
            return Err(SdpError::UnknownType { line, field });
        }
        if value.iter().any(|b| *b == 0 || *b == b'\r') {
            return Err(invalid(line, field, "contains a NUL or CR byte"));
        }
        let value = String::from_utf8_lossy(value);
        builder.line(line, field, value, limits)?;
    }
    builder.finish()
}

fn invalid(line: usize, field: char, reason: &'static str) -> SdpError {
    SdpError::InvalidField {
        line,
        field,
        reason,
    }
}

#[derive(Default)]
struct Builder {
    seen_version: bool,
    origin: Option<Origin>,
    session_name: Option<String>,
    information: Option<String>,
    uri: Option<String>,
    emails: Vec<String>,
    phones: Vec<String>,
    connection: Option<Connection>,
    bandwidths: Vec<Bandwidth>,
    times: Vec<Timing>,
    time_zones: Option<Vec<TimeZoneAdjustment>>,
    key: Option<String>,
    attributes: Vec<Attribute>,
    media: Vec<MediaDescription>,
}

/// Sets a field that may appear once per section.
fn once<T>(slot: &mut Option<T>, value: T, line: usize, field: char) -> Result<(), SdpError> {
    if slot.is_some() {
        return Err(SdpError::Duplicate { line, field });
    }
    *slot = Some(value);
    Ok(())
}

impl Builder {
    fn line(
        &mut self,
        line: usize,
        field: char,
        value: Cow<'_, str>,
        limits: &Limits,
    ) -> Result<(), SdpError> {
        if !self.seen_version {
            if field != 'v' {
                return Err(SdpError::OutOfOrder {
                    line,
                    field,
                    reason: "the first line must be v=",
                });
            }
            if value.trim() != "0" {
                return Err(invalid(line, field, "the protocol version must be 0"));
            }
            self.seen_version = true;
            return Ok(());
        }
        if field == 'm' {
            if self.media.len() >= limits.max_media {
                return Err(SdpError::TooManyMedia {
                    limit: limits.max_media,
                });
            }
            self.media.push(parse_media(&value, line)?);
            return Ok(());
        }
        if let Some(media) = self.media.last_mut() {
            return media_line(media, line, field, value);
        }
        match field {
            'v' => Err(SdpError::OutOfOrder {
                line,
                field,
                reason: "v= must appear only once, as the first line",
            }),
            'o' => once(&mut self.origin, parse_origin(&value, line)?, line, field),
            's' => once(&mut self.session_name, value.into_owned(), line, field),
            'i' => once(&mut self.information, value.into_owned(), line, field),
            'u' => once(&mut self.uri, value.into_owned(), line, field),
            'e' => {
                self.emails.push(value.into_owned());
                Ok(())
            }
            'p' => {
                self.phones.push(value.into_owned());
                Ok(())
            }
            'c' => once(
                &mut self.connection,
                parse_connection(&value, line)?,
                line,
                field,
            ),
            'b' => {
                self.bandwidths.push(parse_bandwidth(&value, line)?);
                Ok(())
            }
            't' => {
                self.times.push(parse_timing(&value, line)?);
                Ok(())
            }
            'r' => {
                let repeat = parse_repeat(&value, line)?;
                match self.times.last_mut() {
                    Some(timing) => {
                        timing.repeats.push(repeat);
                        Ok(())
                    }
                    None => Err(SdpError::OutOfOrder {
                        line,
                        field,
                        reason: "r= must follow a t= line",
                    }),
                }
            }
            'z' => once(
                &mut self.time_zones,
                parse_time_zones(&value, line)?,
                line,
                field,
            ),
            'k' => once(&mut self.key, value.into_owned(), line, field),
            'a' => {
                self.attributes.push(parse_attribute(&value, line)?);
                Ok(())
            }
            _ => Err(SdpError::UnknownType { line, field }),
        }
    }

    fn finish(self) -> Result<SessionDescription, SdpError> {
        if !self.seen_version {
            return Err(SdpError::Empty);
        }
        Ok(SessionDescription {
            origin: self.origin.ok_or(SdpError::Missing { field: 'o' })?,
            session_name: self.session_name.ok_or(SdpError::Missing { field: 's' })?,
            information: self.information,
            uri: self.uri,
            emails: self.emails,
            phones: self.phones,
            connection: self.connection,
            bandwidths: self.bandwidths,
            times: self.times,
            time_zones: self.time_zones.unwrap_or_default(),
            key: self.key,
            attributes: self.attributes,
            media: self.media,
        })
    }
}

fn media_line(
    media: &mut MediaDescription,
    line: usize,
    field: char,
    value: Cow<'_, str>,
) -> Result<(), SdpError> {
    match field {
        'i' => once(&mut media.information, value.into_owned(), line, field),
        'c' => {
            media.connections.push(parse_connection(&value, line)?);
            Ok(())
        }
        'b' => {
            media.bandwidths.push(parse_bandwidth(&value, line)?);
            Ok(())
        }
        'k' => once(&mut media.key, value.into_owned(), line, field),
        'a' => {
            media.attributes.push(parse_attribute(&value, line)?);
            Ok(())
        }
        _ => Err(SdpError::OutOfOrder {
            line,
            field,
            reason: "only i=, c=, b=, k= and a= may follow an m= line",
        }),
    }
}

/// Fields separated by one or more spaces (RFC 8866 asks for one; peers send more).
fn tokens(value: &str) -> impl Iterator<Item = &str> {
    value.split([' ', '\t']).filter(|t| !t.is_empty())
}

/// A decimal number made of digits only (no sign, no space).
fn number<T: FromStr>(text: &str) -> Option<T> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

fn parse_address_type(token: &str) -> AddressType {
    if token.eq_ignore_ascii_case("IP4") {
        AddressType::Ip4
    } else if token.eq_ignore_ascii_case("IP6") {
        AddressType::Ip6
    } else {
        AddressType::Other(token.to_owned())
    }
}

/// An address of the given type: an IP address that matches it, or a domain name.
fn parse_host(token: &str, address_type: &AddressType) -> Result<Host, &'static str> {
    if token.is_empty() {
        return Err("address is empty");
    }
    // RFC 5118 section 4.6: IPv6 in SDP has no brackets; accept them anyway.
    if let Some(inner) = token.strip_prefix('[').and_then(|t| t.strip_suffix(']')) {
        if let Ok(v6) = inner.parse::<Ipv6Addr>() {
            return match address_type {
                AddressType::Ip4 => Err("an IPv6 address with address type IP4"),
                _ => Ok(Host::Ip(IpAddr::V6(v6))),
            };
        }
    }
    match (token.parse::<IpAddr>(), address_type) {
        (Ok(IpAddr::V6(_)), AddressType::Ip4) => Err("an IPv6 address with address type IP4"),
        (Ok(IpAddr::V4(_)), AddressType::Ip6) => Err("an IPv4 address with address type IP6"),
        (Ok(ip), _) => Ok(Host::Ip(ip)),
        (Err(_), AddressType::Ip4 | AddressType::Ip6) => {
            let fqdn = token
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_'));
            if fqdn {
                Ok(Host::Name(token.to_owned()))
            } else {
                Err("address is neither an IP address nor a domain name")
            }
        }
        (Err(_), AddressType::Other(_)) => Ok(Host::Name(token.to_owned())),
    }
}

fn parse_origin(value: &str, line: usize) -> Result<Origin, SdpError> {
    const SHAPE: &str =
        "expected <username> <sess-id> <sess-version> <nettype> <addrtype> <unicast-address>";
    let mut fields = tokens(value);
    let mut next = || fields.next().ok_or(invalid(line, 'o', SHAPE));
    let username = next()?;
    let session_id = next()?;
    let session_version = next()?;
    let network_type = next()?;
    let address_type = next()?;
    let address = next()?;
    if fields.next().is_some() {
        return Err(invalid(line, 'o', SHAPE));
    }
    let session_version =
        number(session_version).ok_or(invalid(line, 'o', "session version is not a number"))?;
    let address_type = parse_address_type(address_type);
    let address =
        parse_host(address, &address_type).map_err(|reason| invalid(line, 'o', reason))?;
    Ok(Origin {
        username: username.to_owned(),
        session_id: session_id.to_owned(),
        session_version,
        network_type: network_type.to_owned(),
        address_type,
        address,
    })
}

fn parse_connection(value: &str, line: usize) -> Result<Connection, SdpError> {
    const SHAPE: &str = "expected <nettype> <addrtype> <connection-address>";
    let mut fields = tokens(value);
    let (Some(network_type), Some(address_type), Some(address), None) =
        (fields.next(), fields.next(), fields.next(), fields.next())
    else {
        return Err(invalid(line, 'c', SHAPE));
    };
    let address_type = parse_address_type(address_type);
    let mut parts = address.split('/');
    let host = parts.next().unwrap_or_default();
    let address = parse_host(host, &address_type).map_err(|reason| invalid(line, 'c', reason))?;
    let first = parts.next();
    let second = parts.next();
    if parts.next().is_some() {
        return Err(invalid(line, 'c', "too many '/' in the connection address"));
    }
    let (ttl, count) = match address_type {
        // IPv4 multicast: <address>/<ttl>[/<number of addresses>].
        AddressType::Ip4 => {
            let ttl = first
                .map(|t| {
                    number::<u8>(t).ok_or(invalid(line, 'c', "TTL is not a number from 0 to 255"))
                })
                .transpose()?;
            let count = second.map(|c| parse_count(c, line)).transpose()?;
            (ttl, count)
        }
        // IPv6 and others: <address>[/<number of addresses>].
        _ => {
            if second.is_some() {
                return Err(invalid(line, 'c', "too many '/' in the connection address"));
            }
            (None, first.map(|c| parse_count(c, line)).transpose()?)
        }
    };
    Ok(Connection {
        network_type: network_type.to_owned(),
        address_type,
        address,
        ttl,
        count,
    })
}

fn parse_count(text: &str, line: usize) -> Result<u32, SdpError> {
    number(text).ok_or(invalid(line, 'c', "number of addresses is not a number"))
}

fn parse_bandwidth(value: &str, line: usize) -> Result<Bandwidth, SdpError> {
    let (bwtype, bandwidth) =
        value
            .trim()
            .split_once(':')
            .ok_or(invalid(line, 'b', "expected <bwtype>:<bandwidth>"))?;
    if bwtype.is_empty() || bwtype.contains([' ', '\t']) {
        return Err(invalid(
            line,
            'b',
            "bandwidth type is empty or contains white space",
        ));
    }
    let bandwidth = number(bandwidth).ok_or(invalid(line, 'b', "bandwidth is not a number"))?;
    Ok(Bandwidth {
        bwtype: bwtype.to_owned(),
        bandwidth,
    })
}

fn parse_timing(value: &str, line: usize) -> Result<Timing, SdpError> {
    let mut fields = tokens(value);
    let (Some(start), Some(stop), None) = (fields.next(), fields.next(), fields.next()) else {
        return Err(invalid(line, 't', "expected <start-time> <stop-time>"));
    };
    Ok(Timing {
        start: number(start).ok_or(invalid(line, 't', "start time is not a number"))?,
        stop: number(stop).ok_or(invalid(line, 't', "stop time is not a number"))?,
        repeats: Vec::new(),
    })
}

fn parse_typed_time(text: &str) -> Option<TypedTime> {
    let (digits, unit) = match text.as_bytes().last()? {
        b'd' => (text.get(..text.len() - 1)?, Some(TimeUnit::Days)),
        b'h' => (text.get(..text.len() - 1)?, Some(TimeUnit::Hours)),
        b'm' => (text.get(..text.len() - 1)?, Some(TimeUnit::Minutes)),
        b's' => (text.get(..text.len() - 1)?, Some(TimeUnit::Seconds)),
        _ => (text, None),
    };
    Some(TypedTime {
        amount: number(digits)?,
        unit,
    })
}

fn parse_repeat(value: &str, line: usize) -> Result<Repeat, SdpError> {
    let mut times = Vec::new();
    for field in tokens(value) {
        times.push(parse_typed_time(field).ok_or(invalid(
            line,
            'r',
            "a repeat time is not a typed time",
        ))?);
    }
    let mut times = times.into_iter();
    let (Some(interval), Some(duration)) = (times.next(), times.next()) else {
        return Err(invalid(
            line,
            'r',
            "expected <interval> <duration> <offset>...",
        ));
    };
    let offsets: Vec<TypedTime> = times.collect();
    if offsets.is_empty() {
        return Err(invalid(line, 'r', "expected at least one offset"));
    }
    Ok(Repeat {
        interval,
        duration,
        offsets,
    })
}

fn parse_time_zones(value: &str, line: usize) -> Result<Vec<TimeZoneAdjustment>, SdpError> {
    let mut adjustments = Vec::new();
    let mut fields = tokens(value);
    while let Some(time) = fields.next() {
        let offset = fields.next().ok_or(invalid(
            line,
            'z',
            "expected pairs of <adjustment time> <offset>",
        ))?;
        let (negative, magnitude) = match offset.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, offset),
        };
        adjustments.push(TimeZoneAdjustment {
            time: number(time).ok_or(invalid(line, 'z', "adjustment time is not a number"))?,
            negative,
            offset: parse_typed_time(magnitude).ok_or(invalid(
                line,
                'z',
                "offset is not a typed time",
            ))?,
        });
    }
    if adjustments.is_empty() {
        return Err(invalid(
            line,
            'z',
            "expected pairs of <adjustment time> <offset>",
        ));
    }
    Ok(adjustments)
}

fn parse_media(value: &str, line: usize) -> Result<MediaDescription, SdpError> {
    let mut fields = tokens(value);
    let (Some(media), Some(port), Some(proto)) = (fields.next(), fields.next(), fields.next())
    else {
        return Err(invalid(
            line,
            'm',
            "expected <media> <port> <proto> <fmt> ...",
        ));
    };
    let (port, port_count) = match port.split_once('/') {
        Some((port, count)) => (
            port,
            Some(number(count).ok_or(invalid(line, 'm', "number of ports is not a number"))?),
        ),
        None => (port, None),
    };
    let port = number(port).ok_or(invalid(line, 'm', "port is not a number from 0 to 65535"))?;
    let mut description = MediaDescription::new(MediaType::from_token(media), port, proto);
    description.port_count = port_count;
    description.formats = fields.map(str::to_owned).collect();
    Ok(description)
}

fn attribute_error(line: usize, name: &str, reason: &'static str) -> SdpError {
    SdpError::InvalidAttribute {
        line,
        name: name.to_owned(),
        reason,
    }
}

fn parse_attribute(value: &str, line: usize) -> Result<Attribute, SdpError> {
    let Some((name, rest)) = value.split_once(':') else {
        let name = value.trim();
        if name.is_empty() || name.contains([' ', '\t']) {
            return Err(attribute_error(
                line,
                name,
                "name is empty or contains white space",
            ));
        }
        if let Some(direction) = Direction::from_name(name) {
            return Ok(Attribute::Direction(direction));
        }
        if matches!(name, "rtpmap" | "fmtp" | "ptime" | "maxptime" | "rtcp") {
            return Err(attribute_error(line, name, "value is missing"));
        }
        return Ok(Attribute::property(name));
    };
    if name.is_empty() || name.contains([' ', '\t']) {
        return Err(attribute_error(
            line,
            name,
            "name is empty or contains white space",
        ));
    }
    let attribute = match name {
        "rtpmap" => {
            Attribute::Rtpmap(parse_rtpmap(rest).map_err(|r| attribute_error(line, name, r))?)
        }
        "fmtp" => Attribute::Fmtp(parse_fmtp(rest).map_err(|r| attribute_error(line, name, r))?),
        "ptime" => Attribute::Ptime(number(rest.trim()).ok_or(attribute_error(
            line,
            name,
            "not a number of milliseconds",
        ))?),
        "maxptime" => Attribute::MaxPtime(number(rest.trim()).ok_or(attribute_error(
            line,
            name,
            "not a number of milliseconds",
        ))?),
        "rtcp" => Attribute::Rtcp(parse_rtcp(rest).map_err(|r| attribute_error(line, name, r))?),
        _ if Direction::from_name(name).is_some() => {
            return Err(attribute_error(
                line,
                name,
                "a direction attribute takes no value",
            ))
        }
        _ => Attribute::value(name, rest),
    };
    Ok(attribute)
}

fn parse_rtpmap(value: &str) -> Result<Rtpmap, &'static str> {
    const SHAPE: &str = "expected <payload type> <encoding name>/<clock rate>[/<channels>]";
    let mut fields = tokens(value);
    let (Some(payload_type), Some(encoding), None) = (fields.next(), fields.next(), fields.next())
    else {
        return Err(SHAPE);
    };
    let payload_type = number::<u8>(payload_type)
        .filter(|pt| *pt <= 127)
        .ok_or("payload type is not a number from 0 to 127")?;
    let mut parts = encoding.split('/');
    let (Some(encoding_name), Some(clock_rate)) = (parts.next(), parts.next()) else {
        return Err(SHAPE);
    };
    let channels = parts.next();
    if parts.next().is_some() || encoding_name.is_empty() {
        return Err(SHAPE);
    }
    Ok(Rtpmap {
        payload_type,
        encoding_name: encoding_name.to_owned(),
        clock_rate: number(clock_rate).ok_or("clock rate is not a number")?,
        channels: channels
            .map(|c| number(c).ok_or("number of channels is not a number"))
            .transpose()?,
    })
}

fn parse_fmtp(value: &str) -> Result<Fmtp, &'static str> {
    let value = value.trim();
    let (format, params) = match value.split_once([' ', '\t']) {
        Some((format, params)) => (format, params.trim()),
        None => (value, ""),
    };
    if format.is_empty() {
        return Err("expected <format> <format specific parameters>");
    }
    Ok(Fmtp {
        format: format.to_owned(),
        params: params.to_owned(),
    })
}

fn parse_rtcp(value: &str) -> Result<Rtcp, &'static str> {
    const SHAPE: &str = "expected <port> [<nettype> <addrtype> <connection-address>]";
    let mut fields = tokens(value);
    let port = number(fields.next().ok_or(SHAPE)?).ok_or("port is not a number from 0 to 65535")?;
    let address = match (fields.next(), fields.next(), fields.next(), fields.next()) {
        (None, ..) => None,
        (Some(network_type), Some(address_type), Some(address), None) => {
            let address_type = parse_address_type(address_type);
            let address = parse_host(address, &address_type)?;
            Some(RtcpAddress {
                network_type: network_type.to_owned(),
                address_type,
                address,
            })
        }
        _ => return Err(SHAPE),
    };
    Ok(Rtcp { port, address })
}

#[cfg(test)]
mod tests {
    use std::net::{Ipv4Addr, Ipv6Addr};

    use super::*;
    use crate::codec::static_payload_type;

    fn parse(text: &str) -> Result<SessionDescription, SdpError> {
        SessionDescription::parse(text.as_bytes())
    }

    fn crlf(text: &str) -> String {
        text.lines().map(|l| format!("{l}\r\n")).collect()
    }

    /// The example of RFC 8866 section 5.
    const RFC8866_EXAMPLE: &str = "v=0
o=jdoe 3724394400 3724394405 IN IP4 198.51.100.1
s=Call to John Smith
i=SDP Offer #1
u=http://www.jdoe.example.com/home.html
e=Jane Doe <jane@jdoe.example.com>
p=+1 617 555-6011
c=IN IP4 198.51.100.1
t=0 0
m=audio 49170 RTP/AVP 0
m=audio 49180 RTP/AVP 0
m=video 51372 RTP/AVP 99
c=IN IP6 2001:db8::2
a=rtpmap:99 h263-1998/90000
";

    const MINIMAL: &str = "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nt=0 0\r\n";

    #[test]
    fn parses_the_example_of_rfc8866_5() {
        let sdp = parse(&crlf(RFC8866_EXAMPLE)).unwrap();
        assert_eq!(sdp.origin.username, "jdoe");
        assert_eq!(sdp.origin.session_id, "3724394400");
        assert_eq!(sdp.origin.session_version, 3_724_394_405);
        assert_eq!(sdp.origin.network_type, "IN");
        assert_eq!(sdp.origin.address_type, AddressType::Ip4);
        assert_eq!(
            sdp.origin.address,
            Host::Ip(IpAddr::V4(Ipv4Addr::new(198, 51, 100, 1)))
        );
        assert_eq!(sdp.session_name, "Call to John Smith");
        assert_eq!(sdp.information.as_deref(), Some("SDP Offer #1"));
        assert_eq!(
            sdp.uri.as_deref(),
            Some("http://www.jdoe.example.com/home.html")
        );
        assert_eq!(sdp.emails, ["Jane Doe <jane@jdoe.example.com>"]);
        assert_eq!(sdp.phones, ["+1 617 555-6011"]);
        assert_eq!(
            sdp.connection,
            Some(Connection::new(IpAddr::V4(Ipv4Addr::new(198, 51, 100, 1))))
        );
        assert_eq!(sdp.times, [Timing::default()]);
        assert_eq!(sdp.media.len(), 3);
        let video = &sdp.media[2];
        assert_eq!(video.media, MediaType::Video);
        assert_eq!(video.port, 51372);
        assert_eq!(video.proto, "RTP/AVP");
        assert_eq!(video.formats, ["99"]);
        assert_eq!(
            video.connections,
            [Connection::new("2001:db8::2".parse().unwrap())]
        );
        assert_eq!(
            video.rtpmap(99),
            Some(&Rtpmap {
                payload_type: 99,
                encoding_name: "h263-1998".to_owned(),
                clock_rate: 90_000,
                channels: None,
            })
        );
        // Media-level c= wins over session-level (section 5.7).
        assert_eq!(
            sdp.media_connection(video).unwrap().address,
            Host::Ip("2001:db8::2".parse().unwrap())
        );
        assert_eq!(
            sdp.media_connection(&sdp.media[0]).unwrap().address,
            Host::Ip(IpAddr::V4(Ipv4Addr::new(198, 51, 100, 1)))
        );
    }

    #[test]
    fn bare_lf_line_ends_are_accepted_rfc8866_5() {
        let lf = parse(RFC8866_EXAMPLE).unwrap();
        let crlf = parse(&crlf(RFC8866_EXAMPLE)).unwrap();
        assert_eq!(lf, crlf);
    }

    #[test]
    fn last_line_without_line_end_and_blank_lines_are_tolerated() {
        let sdp = parse("v=0\r\n\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nt=0 0").unwrap();
        assert_eq!(sdp.times, [Timing::default()]);
    }

    #[test]
    fn first_line_must_be_version_rfc8866_5() {
        let err = parse("o=- 1 1 IN IP4 192.0.2.1\r\nv=0\r\ns=-\r\nt=0 0\r\n").unwrap_err();
        assert!(
            matches!(
                err,
                SdpError::OutOfOrder {
                    line: 1,
                    field: 'o',
                    ..
                }
            ),
            "{err:?}"
        );
    }

    #[test]
    fn version_must_be_zero_rfc8866_5_1() {
        let err = parse(&MINIMAL.replace("v=0", "v=1")).unwrap_err();
        assert!(
            matches!(
                err,
                SdpError::InvalidField {
                    line: 1,
                    field: 'v',
                    ..
                }
            ),
            "{err:?}"
        );
    }

    #[test]
    fn second_version_line_is_refused_rfc8866_5() {
        let err = parse(&format!("{MINIMAL}v=0\r\n")).unwrap_err();
        assert!(
            matches!(
                err,
                SdpError::OutOfOrder {
                    line: 5,
                    field: 'v',
                    ..
                }
            ),
            "{err:?}"
        );
    }

    #[test]
    fn origin_and_session_name_are_required_rfc8866_5() {
        assert_eq!(
            parse("v=0\r\ns=-\r\nt=0 0\r\n"),
            Err(SdpError::Missing { field: 'o' })
        );
        assert_eq!(
            parse("v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\nt=0 0\r\n"),
            Err(SdpError::Missing { field: 's' })
        );
    }

    #[test]
    fn empty_input_is_refused() {
        assert_eq!(parse(""), Err(SdpError::Empty));
        assert_eq!(parse("\r\n\r\n"), Err(SdpError::Empty));
    }

    #[test]
    fn unknown_type_letter_refuses_the_description_rfc8866_5() {
        // "an SDP parser MUST completely ignore or reject any session description that
        // contains a type letter that it does not understand"
        let err = parse(&format!("{MINIMAL}y=0100000001\r\n")).unwrap_err();
        assert_eq!(
            err,
            SdpError::UnknownType {
                line: 5,
                field: 'y'
            }
        );
    }

    #[test]
    fn line_without_equals_sign_is_malformed_rfc8866_5() {
        let err = parse(&format!("{MINIMAL}m audio 4000 RTP/AVP 0\r\n")).unwrap_err();
        assert_eq!(err, SdpError::MalformedLine { line: 5 });
        // No space is allowed on either side of "=".
        let err = parse(&format!("{MINIMAL}a =sendonly\r\n")).unwrap_err();
        assert_eq!(err, SdpError::MalformedLine { line: 5 });
    }

    #[test]
    fn media_port_that_is_not_a_number_names_line_and_field_rfc8866_5_14() {
        let err = parse(&format!("{MINIMAL}m=audio x RTP/AVP 0\r\n")).unwrap_err();
        assert_eq!(
            err,
            SdpError::InvalidField {
                line: 5,
                field: 'm',
                reason: "port is not a number from 0 to 65535"
            }
        );
        assert_eq!(
            err.to_string(),
            "line 5: invalid 'm=' line: port is not a number from 0 to 65535"
        );
        let err = parse(&format!("{MINIMAL}m=audio 65536 RTP/AVP 0\r\n")).unwrap_err();
        assert!(matches!(
            err,
            SdpError::InvalidField {
                line: 5,
                field: 'm',
                ..
            }
        ));
        let err = parse(&format!("{MINIMAL}m=audio 4000\r\n")).unwrap_err();
        assert!(matches!(
            err,
            SdpError::InvalidField {
                line: 5,
                field: 'm',
                ..
            }
        ));
    }

    #[test]
    fn media_port_with_number_of_ports_rfc8866_5_14() {
        let sdp = parse(&format!("{MINIMAL}m=video 49170/2 RTP/AVP 31\r\n")).unwrap();
        assert_eq!(sdp.media[0].port, 49170);
        assert_eq!(sdp.media[0].port_count, Some(2));
        let err = parse(&format!("{MINIMAL}m=video 49170/ RTP/AVP 31\r\n")).unwrap_err();
        assert!(matches!(
            err,
            SdpError::InvalidField {
                line: 5,
                field: 'm',
                ..
            }
        ));
    }

    #[test]
    fn session_level_lines_are_refused_inside_a_media_description_rfc8866_5() {
        for line in [
            "t=0 0",
            "s=x",
            "o=- 1 1 IN IP4 192.0.2.1",
            "e=a@example.com",
            "z=0 0",
            "r=1 1 1",
        ] {
            let text = format!("{MINIMAL}m=audio 4000 RTP/AVP 0\r\n{line}\r\n");
            let err = parse(&text).unwrap_err();
            assert!(
                matches!(err, SdpError::OutOfOrder { line: 6, .. }),
                "{line}: {err:?}"
            );
        }
    }

    #[test]
    fn single_valued_lines_may_not_repeat_rfc8866_5() {
        let err = parse(&format!("{MINIMAL}s=again\r\n")).unwrap_err();
        assert_eq!(
            err,
            SdpError::Duplicate {
                line: 5,
                field: 's'
            }
        );
        let err = parse(&format!(
            "{MINIMAL}c=IN IP4 192.0.2.1\r\nc=IN IP4 192.0.2.2\r\n"
        ))
        .unwrap_err();
        assert_eq!(
            err,
            SdpError::Duplicate {
                line: 6,
                field: 'c'
            }
        );
        let err = parse(&format!(
            "{MINIMAL}m=audio 4000 RTP/AVP 0\r\ni=a\r\ni=b\r\n"
        ))
        .unwrap_err();
        assert_eq!(
            err,
            SdpError::Duplicate {
                line: 7,
                field: 'i'
            }
        );
    }

    #[test]
    fn several_media_level_connections_are_kept_rfc8866_5_7() {
        let sdp = parse(&format!(
            "{MINIMAL}m=video 4000 RTP/AVP 31\r\nc=IN IP4 233.252.0.1/127\r\nc=IN IP4 233.252.0.2/127\r\n"
        ))
        .unwrap();
        assert_eq!(sdp.media[0].connections.len(), 2);
    }

    #[test]
    fn lines_within_a_section_are_accepted_in_any_order() {
        // Some stacks put c= after a= lines or b= before c=; the meaning is unambiguous.
        let sdp = parse(
            "v=0\r\ns=-\r\no=- 1 1 IN IP4 192.0.2.1\r\nt=0 0\r\nc=IN IP4 192.0.2.1\r\n\
             m=audio 4000 RTP/AVP 0\r\na=sendrecv\r\nc=IN IP4 192.0.2.9\r\n",
        )
        .unwrap();
        assert_eq!(sdp.media[0].connections.len(), 1);
        assert!(sdp.connection.is_some());
    }

    #[test]
    fn connection_multicast_ttl_and_count_rfc8866_5_7() {
        let c = parse_connection("IN IP4 233.252.0.1/127/3", 1).unwrap();
        assert_eq!(
            c.address,
            Host::Ip(IpAddr::V4(Ipv4Addr::new(233, 252, 0, 1)))
        );
        assert_eq!((c.ttl, c.count), (Some(127), Some(3)));
        // IPv6 multicast has no TTL: the single number is the count.
        let c = parse_connection("IN IP6 ff00::db8:0:101/3", 1).unwrap();
        assert_eq!((c.ttl, c.count), (None, Some(3)));
        assert!(parse_connection("IN IP4 233.252.0.1/256", 1).is_err());
        assert!(parse_connection("IN IP6 ff00::db8:0:101/3/2", 1).is_err());
        assert!(parse_connection("IN IP4", 1).is_err());
        assert!(parse_connection("IN IP4 192.0.2.1 extra", 1).is_err());
    }

    #[test]
    fn ipv6_address_needs_ip6_address_type_rfc8866_5_7() {
        let err = parse(&format!("{MINIMAL}c=IN IP4 2001:db8::1\r\n")).unwrap_err();
        assert!(matches!(
            err,
            SdpError::InvalidField {
                line: 5,
                field: 'c',
                ..
            }
        ));
        let err = parse(&format!("{MINIMAL}c=IN IP6 192.0.2.1\r\n")).unwrap_err();
        assert!(matches!(
            err,
            SdpError::InvalidField {
                line: 5,
                field: 'c',
                ..
            }
        ));
    }

    #[test]
    fn ipv6_in_brackets_is_accepted_and_written_without_rfc5118_4_6() {
        let sdp = parse(&format!("{MINIMAL}c=IN IP6 [2001:db8::1]\r\n")).unwrap();
        let ip = IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1));
        assert_eq!(sdp.connection.as_ref().unwrap().address, Host::Ip(ip));
        let text = sdp.to_string();
        assert!(text.contains("c=IN IP6 2001:db8::1\r\n"), "{text}");
    }

    #[test]
    fn domain_names_are_unicast_addresses_rfc8866_5_2() {
        let o = parse_origin("bob 2808844564 2808844564 IN IP4 host.example.com", 1).unwrap();
        assert_eq!(o.address, Host::Name("host.example.com".to_owned()));
        assert!(parse_origin("bob 1 1 IN IP4 host example", 1).is_err());
        assert!(parse_origin("bob 1 x IN IP4 192.0.2.1", 1).is_err());
        let c = parse_connection("IN IP4 media.example.com", 1).unwrap();
        assert_eq!(c.address, Host::Name("media.example.com".to_owned()));
        assert!(parse_connection("IN IP4 bad@name", 1).is_err());
    }

    #[test]
    fn bandwidth_lines_rfc8866_5_8() {
        let sdp = parse(&format!(
            "{MINIMAL}b=CT:128\r\nm=audio 4000 RTP/AVP 0\r\nb=AS:64\r\nb=TIAS:64000\r\n"
        ))
        .unwrap();
        assert_eq!(
            sdp.bandwidths,
            [Bandwidth {
                bwtype: "CT".into(),
                bandwidth: 128
            }]
        );
        assert_eq!(sdp.media[0].bandwidths.len(), 2);
        let err = parse(&format!("{MINIMAL}b=AS\r\n")).unwrap_err();
        assert!(matches!(
            err,
            SdpError::InvalidField {
                line: 5,
                field: 'b',
                ..
            }
        ));
        let err = parse(&format!("{MINIMAL}b=AS:lots\r\n")).unwrap_err();
        assert!(matches!(
            err,
            SdpError::InvalidField {
                line: 5,
                field: 'b',
                ..
            }
        ));
    }

    #[test]
    fn repeat_and_time_zone_lines_with_typed_times_rfc8866_5_10_and_5_11() {
        // The examples of sections 5.10 and 5.11.
        let sdp = parse(
            "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nt=3034423619 3042462419\r\n\
             r=7d 1h 0 25h\r\nr=604800 3600 0 90000\r\nz=2882844526 -1h 2898848070 0\r\n",
        )
        .unwrap();
        let timing = &sdp.times[0];
        assert_eq!((timing.start, timing.stop), (3_034_423_619, 3_042_462_419));
        assert_eq!(timing.repeats.len(), 2);
        let first = &timing.repeats[0];
        assert_eq!(first.interval.seconds(), 604_800);
        assert_eq!(first.duration.seconds(), 3_600);
        assert_eq!(
            first
                .offsets
                .iter()
                .map(TypedTime::seconds)
                .collect::<Vec<_>>(),
            [0, 90_000]
        );
        // The two r= lines say the same thing in different units.
        let second = &timing.repeats[1];
        assert_eq!(first.interval.seconds(), second.interval.seconds());
        assert_eq!(sdp.time_zones.len(), 2);
        assert!(sdp.time_zones[0].negative);
        assert_eq!(sdp.time_zones[0].offset.seconds(), 3_600);
        assert!(!sdp.time_zones[1].negative);
    }

    #[test]
    fn repeat_needs_a_preceding_time_and_three_fields_rfc8866_5_10() {
        let err =
            parse("v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nr=7d 1h 0\r\nt=0 0\r\n").unwrap_err();
        assert!(matches!(
            err,
            SdpError::OutOfOrder {
                line: 4,
                field: 'r',
                ..
            }
        ));
        let err = parse(&format!("{MINIMAL}r=7d 1h\r\n")).unwrap_err();
        assert!(matches!(
            err,
            SdpError::InvalidField {
                line: 5,
                field: 'r',
                ..
            }
        ));
        let err = parse(&format!("{MINIMAL}r=7x 1h 0\r\n")).unwrap_err();
        assert!(matches!(
            err,
            SdpError::InvalidField {
                line: 5,
                field: 'r',
                ..
            }
        ));
        let err = parse(&format!("{MINIMAL}z=2882844526\r\n")).unwrap_err();
        assert!(matches!(
            err,
            SdpError::InvalidField {
                line: 5,
                field: 'z',
                ..
            }
        ));
    }

    #[test]
    fn typed_attributes_rfc8866_6() {
        let sdp = parse(&format!(
            "{MINIMAL}m=audio 4000 RTP/AVP 111 0 101\r\n\
             a=rtpmap:111 opus/48000/2\r\n\
             a=fmtp:111 minptime=10; useinbandfec=1\r\n\
             a=rtpmap:101 telephone-event/8000\r\n\
             a=fmtp:101 0-16\r\n\
             a=ptime:20\r\n\
             a=maxptime:150\r\n\
             a=recvonly\r\n\
             a=rtcp:53020 IN IP4 126.16.64.4\r\n\
             a=rtcp-mux\r\n\
             a=ssrc:1 cname:x y\r\n"
        ))
        .unwrap();
        let m = &sdp.media[0];
        assert_eq!(
            m.rtpmap(111),
            Some(&Rtpmap {
                payload_type: 111,
                encoding_name: "opus".into(),
                clock_rate: 48_000,
                channels: Some(2)
            })
        );
        let fmtp = m.fmtp("111").unwrap();
        assert_eq!(fmtp.params, "minptime=10; useinbandfec=1");
        assert_eq!(
            fmtp.pairs().collect::<Vec<_>>(),
            [("minptime", "10"), ("useinbandfec", "1")]
        );
        assert_eq!(m.fmtp("101").unwrap().params, "0-16");
        assert_eq!(m.ptime(), Some(20));
        assert_eq!(m.maxptime(), Some(150));
        assert_eq!(m.direction(), Some(Direction::RecvOnly));
        assert_eq!(sdp.media_direction(m), Direction::RecvOnly);
        let rtcp = m.rtcp().unwrap();
        assert_eq!(rtcp.port, 53020);
        assert_eq!(
            rtcp.address.as_ref().unwrap().address,
            Host::Ip(IpAddr::V4(Ipv4Addr::new(126, 16, 64, 4)))
        );
        assert_eq!(
            m.attribute("rtcp-mux"),
            Some(&Attribute::property("rtcp-mux"))
        );
        // A value keeps everything after the first colon, further colons included.
        assert_eq!(
            m.attribute("ssrc"),
            Some(&Attribute::value("ssrc", "1 cname:x y"))
        );
        // Static payload type 0 is PCMU without any rtpmap (RFC 3551 section 6).
        assert_eq!(m.rtp_format(0), static_payload_type(0));
        assert_eq!(m.payload_types().collect::<Vec<_>>(), [111, 0, 101]);
    }

    #[test]
    fn rtcp_attribute_with_port_only_rfc3605_2_1() {
        let sdp = parse(&format!(
            "{MINIMAL}m=audio 4000 RTP/AVP 0\r\na=rtcp:4005\r\n"
        ))
        .unwrap();
        assert_eq!(
            sdp.media[0].rtcp(),
            Some(&Rtcp {
                port: 4005,
                address: None
            })
        );
        let err = parse(&format!(
            "{MINIMAL}m=audio 4000 RTP/AVP 0\r\na=rtcp:4005 IN IP4\r\n"
        ))
        .unwrap_err();
        assert!(matches!(err, SdpError::InvalidAttribute { line: 6, .. }));
    }

    #[test]
    fn direction_defaults_to_sendrecv_and_media_level_overrides_session_rfc3264_5_1() {
        let sdp = parse(&format!(
            "{MINIMAL}a=sendonly\r\nm=audio 4000 RTP/AVP 0\r\nm=audio 4002 RTP/AVP 0\r\na=inactive\r\n"
        ))
        .unwrap();
        assert_eq!(sdp.media_direction(&sdp.media[0]), Direction::SendOnly);
        assert_eq!(sdp.media_direction(&sdp.media[1]), Direction::Inactive);
        let plain = parse(&format!("{MINIMAL}m=audio 4000 RTP/AVP 0\r\n")).unwrap();
        assert_eq!(plain.media_direction(&plain.media[0]), Direction::SendRecv);
    }

    #[test]
    fn malformed_typed_attributes_name_the_line_rfc8866_6() {
        let cases = [
            ("a=rtpmap:128 foo/8000", "rtpmap"),
            ("a=rtpmap:96 opus", "rtpmap"),
            ("a=rtpmap:96 opus/fast", "rtpmap"),
            ("a=rtpmap:96 opus/48000/2/1", "rtpmap"),
            ("a=rtpmap:96", "rtpmap"),
            ("a=rtpmap", "rtpmap"),
            ("a=fmtp:", "fmtp"),
            ("a=ptime:twenty", "ptime"),
            ("a=ptime:-20", "ptime"),
            ("a=maxptime:", "maxptime"),
            ("a=sendonly:yes", "sendonly"),
            ("a=rtcp:x", "rtcp"),
            ("a=:value", ""),
            ("a=", ""),
            ("a=two words", "two words"),
        ];
        for (line, name) in cases {
            let err = parse(&format!("{MINIMAL}m=audio 4000 RTP/AVP 0\r\n{line}\r\n")).unwrap_err();
            match err {
                SdpError::InvalidAttribute {
                    line: 6,
                    name: ref got,
                    ..
                } if got == name => {}
                other => panic!("{line}: {other:?}"),
            }
        }
    }

    #[test]
    fn nul_and_stray_cr_are_refused_rfc8866_5() {
        // Text fields may hold any byte but NUL, CR and LF.
        let err = parse(&MINIMAL.replace("s=-", "s=a\0b")).unwrap_err();
        assert!(matches!(
            err,
            SdpError::InvalidField {
                line: 3,
                field: 's',
                ..
            }
        ));
        let err = parse(&MINIMAL.replace("s=-", "s=a\rb")).unwrap_err();
        assert!(matches!(
            err,
            SdpError::InvalidField {
                line: 3,
                field: 's',
                ..
            }
        ));
    }

    #[test]
    fn text_that_is_not_utf8_is_kept_lossily() {
        let mut body = b"v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=caf".to_vec();
        body.push(0xe9); // ISO 8859-1 e-acute
        body.extend_from_slice(b"\r\nt=0 0\r\n");
        let sdp = SessionDescription::parse(&body).unwrap();
        assert_eq!(sdp.session_name, "caf\u{fffd}");
    }

    #[test]
    fn limits_bound_size_lines_and_media() {
        let limits = Limits {
            max_size: 40,
            ..Limits::default()
        };
        let err = SessionDescription::parse_with_limits(MINIMAL.as_bytes(), &limits);
        assert_eq!(
            err,
            Err(SdpError::TooLarge {
                size: MINIMAL.len(),
                limit: 40
            })
        );

        let limits = Limits {
            max_lines: 3,
            ..Limits::default()
        };
        let err = SessionDescription::parse_with_limits(MINIMAL.as_bytes(), &limits);
        assert_eq!(err, Err(SdpError::TooManyLines { limit: 3 }));

        let limits = Limits {
            max_media: 1,
            ..Limits::default()
        };
        let two = format!("{MINIMAL}m=audio 1 RTP/AVP 0\r\nm=audio 2 RTP/AVP 0\r\n");
        let err = SessionDescription::parse_with_limits(two.as_bytes(), &limits);
        assert_eq!(err, Err(SdpError::TooManyMedia { limit: 1 }));

        // Exactly at the limits is fine.
        let limits = Limits {
            max_size: MINIMAL.len(),
            max_lines: 4,
            max_media: 0,
        };
        assert!(SessionDescription::parse_with_limits(MINIMAL.as_bytes(), &limits).is_ok());
    }

    #[test]
    fn default_limits_refuse_a_huge_body() {
        let huge = format!("{MINIMAL}{}", "a=x\r\n".repeat(20_000));
        assert!(matches!(
            SessionDescription::parse(huge.as_bytes()),
            Err(SdpError::TooLarge { .. })
        ));
    }

    #[test]
    fn several_spaces_between_fields_are_tolerated() {
        let sdp = parse("v=0\r\no=-  1 1  IN IP4  192.0.2.1\r\ns=-\r\nt=0  0\r\nm=audio  4000  RTP/AVP  0  8\r\n")
            .unwrap();
        assert_eq!(sdp.media[0].formats, ["0", "8"]);
    }
}
