//! Property tests: any description written and parsed again is the same value (RFC 8866
//! writing is lossless for what this crate models), and no input makes the parser panic.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use proptest::collection::vec;
use proptest::option;
use proptest::prelude::*;
use strowger_sdp::{
    AddressType, Attribute, Bandwidth, Connection, Direction, Fmtp, Host, MediaDescription,
    MediaType, Origin, Repeat, Rtcp, RtcpAddress, Rtpmap, SessionDescription, TimeUnit,
    TimeZoneAdjustment, Timing, TypedTime,
};

/// A field without white space, colon or slash.
fn token() -> impl Strategy<Value = String> {
    "[A-Za-z0-9_.+*#-]{1,10}"
}

/// Free text as in s=, i=, e=, p=, u=, k= and attribute values: anything but NUL, CR, LF.
fn text() -> impl Strategy<Value = String> {
    "[^\u{0}\r\n]{0,24}"
}

fn domain_name() -> impl Strategy<Value = String> {
    "[a-z][a-z0-9-]{0,8}(\\.[a-z][a-z0-9-]{0,8}){0,3}"
}

fn ipv4() -> impl Strategy<Value = IpAddr> {
    any::<u32>().prop_map(|n| IpAddr::V4(Ipv4Addr::from(n)))
}

fn ipv6() -> impl Strategy<Value = IpAddr> {
    any::<u128>().prop_map(|n| IpAddr::V6(Ipv6Addr::from(n)))
}

/// An address type and an address that fits it.
fn typed_address() -> impl Strategy<Value = (AddressType, Host)> {
    prop_oneof![
        (ipv4().prop_map(Host::Ip)).prop_map(|h| (AddressType::Ip4, h)),
        (ipv6().prop_map(Host::Ip)).prop_map(|h| (AddressType::Ip6, h)),
        domain_name().prop_map(|n| (AddressType::Ip4, Host::Name(n))),
        domain_name().prop_map(|n| (AddressType::Ip6, Host::Name(n))),
        (
            "[A-Z]{3,5}".prop_filter("not IP4 or IP6", |t| t != "IP4" && t != "IP6"),
            prop_oneof![
                ipv4().prop_map(Host::Ip),
                ipv6().prop_map(Host::Ip),
                domain_name().prop_map(Host::Name)
            ]
        )
            .prop_map(|(t, h)| (AddressType::Other(t), h)),
    ]
}

fn origin() -> impl Strategy<Value = Origin> {
    (
        token(),
        "[0-9]{1,25}",
        any::<u64>(),
        token(),
        typed_address(),
    )
        .prop_map(
            |(username, session_id, session_version, network_type, (address_type, address))| {
                Origin {
                    username,
                    session_id,
                    session_version,
                    network_type,
                    address_type,
                    address,
                }
            },
        )
}

fn connection() -> impl Strategy<Value = Connection> {
    (
        token(),
        typed_address(),
        option::of(any::<u8>()),
        option::of(any::<u32>()),
    )
        .prop_map(|(network_type, (address_type, address), ttl, count)| {
            // Only IPv4 has a TTL, and the number of addresses follows it (RFC 8866 5.7).
            let (ttl, count) = match address_type {
                AddressType::Ip4 => (ttl, ttl.and(count)),
                _ => (None, count),
            };
            Connection {
                network_type,
                address_type,
                address,
                ttl,
                count,
            }
        })
}

fn bandwidth() -> impl Strategy<Value = Bandwidth> {
    (token(), any::<u64>()).prop_map(|(bwtype, bandwidth)| Bandwidth { bwtype, bandwidth })
}

fn typed_time() -> impl Strategy<Value = TypedTime> {
    (
        any::<u64>(),
        option::of(prop_oneof![
            Just(TimeUnit::Days),
            Just(TimeUnit::Hours),
            Just(TimeUnit::Minutes),
            Just(TimeUnit::Seconds)
        ]),
    )
        .prop_map(|(amount, unit)| TypedTime { amount, unit })
}

fn timing() -> impl Strategy<Value = Timing> {
    let repeat = (typed_time(), typed_time(), vec(typed_time(), 1..4)).prop_map(
        |(interval, duration, offsets)| Repeat {
            interval,
            duration,
            offsets,
        },
    );
    (any::<u64>(), any::<u64>(), vec(repeat, 0..3)).prop_map(|(start, stop, repeats)| Timing {
        start,
        stop,
        repeats,
    })
}

fn time_zone() -> impl Strategy<Value = TimeZoneAdjustment> {
    (any::<u64>(), any::<bool>(), typed_time()).prop_map(|(time, negative, offset)| {
        TimeZoneAdjustment {
            time,
            negative,
            offset,
        }
    })
}

fn direction() -> impl Strategy<Value = Direction> {
    prop_oneof![
        Just(Direction::SendRecv),
        Just(Direction::SendOnly),
        Just(Direction::RecvOnly),
        Just(Direction::Inactive)
    ]
}

const TYPED_NAMES: &[&str] = &[
    "rtpmap", "fmtp", "ptime", "maxptime", "rtcp", "sendrecv", "sendonly", "recvonly", "inactive",
];

fn attribute() -> impl Strategy<Value = Attribute> {
    let rtpmap = (
        0u8..=127,
        "[A-Za-z0-9_.+-]{1,12}",
        any::<u32>(),
        option::of(any::<u16>()),
    )
        .prop_map(|(payload_type, encoding_name, clock_rate, channels)| {
            Attribute::Rtpmap(Rtpmap {
                payload_type,
                encoding_name,
                clock_rate,
                channels,
            })
        });
    // Parameters are kept trimmed.
    let fmtp = (token(), "([!-~]([ -~]{0,16}[!-~])?)?")
        .prop_map(|(format, params)| Attribute::Fmtp(Fmtp { format, params }));
    let rtcp = (
        any::<u16>(),
        option::of((token(), typed_address()).prop_map(
            |(network_type, (address_type, address))| RtcpAddress {
                network_type,
                address_type,
                address,
            },
        )),
    )
        .prop_map(|(port, address)| Attribute::Rtcp(Rtcp { port, address }));
    let other = (
        token().prop_filter("not a typed attribute", |n| {
            !TYPED_NAMES.contains(&n.as_str())
        }),
        option::of(text()),
    )
        .prop_map(|(name, value)| Attribute::Other { name, value });
    prop_oneof![
        rtpmap,
        fmtp,
        any::<u32>().prop_map(Attribute::Ptime),
        any::<u32>().prop_map(Attribute::MaxPtime),
        direction().prop_map(Attribute::Direction),
        rtcp,
        other,
    ]
}

fn media_type() -> impl Strategy<Value = MediaType> {
    prop_oneof![
        Just(MediaType::Audio),
        Just(MediaType::Video),
        Just(MediaType::Text),
        Just(MediaType::Application),
        Just(MediaType::Message),
        Just(MediaType::Image),
        "[a-z]{1,8}"
            .prop_filter("not a known media type", |t| {
                !["audio", "video", "text", "application", "message", "image"].contains(&t.as_str())
            })
            .prop_map(MediaType::Other),
    ]
}

fn media() -> impl Strategy<Value = MediaDescription> {
    (
        (
            media_type(),
            any::<u16>(),
            option::of(any::<u16>()),
            "[A-Za-z0-9/]{1,20}",
            vec(token(), 0..6),
        ),
        (
            option::of(text()),
            vec(connection(), 0..3),
            vec(bandwidth(), 0..2),
            option::of(text()),
            vec(attribute(), 0..8),
        ),
    )
        .prop_map(
            |(
                (media, port, port_count, proto, formats),
                (information, connections, bandwidths, key, attributes),
            )| MediaDescription {
                media,
                port,
                port_count,
                proto,
                formats,
                information,
                connections,
                bandwidths,
                key,
                attributes,
            },
        )
}

fn session() -> impl Strategy<Value = SessionDescription> {
    (
        (
            origin(),
            text(),
            option::of(text()),
            option::of(text()),
            vec(text(), 0..2),
            vec(text(), 0..2),
        ),
        (
            option::of(connection()),
            vec(bandwidth(), 0..2),
            vec(timing(), 0..3),
            vec(time_zone(), 0..3),
            option::of(text()),
            vec(attribute(), 0..6),
            vec(media(), 0..4),
        ),
    )
        .prop_map(
            |(
                (origin, session_name, information, uri, emails, phones),
                (connection, bandwidths, times, time_zones, key, attributes, media),
            )| SessionDescription {
                origin,
                session_name,
                information,
                uri,
                emails,
                phones,
                connection,
                bandwidths,
                times,
                time_zones,
                key,
                attributes,
                media,
            },
        )
}

/// Lines that look like SDP, to reach deep into the parser with random orderings.
fn sdp_like_line() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("v=0".to_owned()),
        Just("o=- 1 1 IN IP4 192.0.2.1".to_owned()),
        Just("s=-".to_owned()),
        Just("t=0 0".to_owned()),
        Just("c=IN IP6 2001:db8::1".to_owned()),
        Just("m=audio 4000 RTP/AVP 0 8".to_owned()),
        Just("a=sendonly".to_owned()),
        Just("a=rtpmap:96 opus/48000/2".to_owned()),
        "[a-z]=[ -~]{0,30}",
        "[vosiuepcbtrzkam]=[0-9a-zA-Z :/.\\-]{0,30}",
        "[ -~]{0,10}",
    ]
}

proptest! {
    #[test]
    fn written_description_parses_back_to_the_same_value(sdp in session()) {
        let bytes = sdp.to_bytes();
        let parsed = SessionDescription::parse(&bytes);
        prop_assert_eq!(parsed.as_ref(), Ok(&sdp), "{}", String::from_utf8_lossy(&bytes));
        // Every line ends with CRLF (RFC 8866 section 5).
        let text = String::from_utf8_lossy(&bytes);
        prop_assert!(text.ends_with("\r\n"));
        prop_assert_eq!(text.matches('\n').count(), text.matches("\r\n").count());
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in vec(any::<u8>(), 0..512)) {
        if let Ok(sdp) = SessionDescription::parse(&bytes) {
            prop_assert_eq!(SessionDescription::parse(&sdp.to_bytes()), Ok(sdp));
        }
    }

    #[test]
    fn sdp_like_line_soup_never_panics_and_round_trips(
        lines in vec(sdp_like_line(), 0..20),
        lf_only in any::<bool>(),
    ) {
        let mut text = String::from("v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\n");
        let end = if lf_only { "\n" } else { "\r\n" };
        for line in &lines {
            text.push_str(line);
            text.push_str(end);
        }
        if let Ok(sdp) = SessionDescription::parse(text.as_bytes()) {
            prop_assert_eq!(SessionDescription::parse(&sdp.to_bytes()), Ok(sdp));
        }
    }
}
