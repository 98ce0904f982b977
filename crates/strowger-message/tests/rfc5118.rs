//! RFC 5118, SIP Torture Test Messages for IPv6: one test per message
//! (tests/data/rfc5118, see INDEX.tsv and SOURCES.txt for the wire form).

use std::net::{Ipv4Addr, Ipv6Addr};

use strowger_message::{Contact, Host, Message, Method, ParseError, SipUri, Uri};

macro_rules! dat {
    ($name:literal) => {
        &include_bytes!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/data/rfc5118/",
            $name,
            ".dat"
        ))[..]
    };
}

fn valid(bytes: &'static [u8]) -> Message {
    let msg = Message::parse(bytes).unwrap_or_else(|e| panic!("parse: {e}"));
    msg.validate().unwrap_or_else(|e| panic!("validate: {e}"));
    msg
}

fn sip<'a>(u: &Uri<'a>) -> SipUri<'a> {
    *u.as_sip().unwrap_or_else(|| panic!("not a SIP URI: {u}"))
}

fn ip6(s: &str) -> Ipv6Addr {
    s.parse().unwrap()
}

/// The address of an IPv6 reference, and the text written between the brackets.
fn v6<'a>(h: &Host<'a>) -> (Ipv6Addr, &'a str) {
    match h {
        Host::V6(a, raw) => (*a, raw),
        other => panic!("not an IPv6 reference: {other:?}"),
    }
}

fn contact_uri<'a>(m: &'a Message) -> SipUri<'a> {
    match m.contacts().next().expect("a Contact") {
        Contact::Addr(a) => sip(&a.uri),
        Contact::Star => panic!("Contact is '*'"),
    }
}

/// 4.1: IPv6 references in the Request-URI, the Via sent-by and the Contact.
#[test]
fn s4_1_ipv6_good_valid_ipv6_reference() {
    let m = valid(dat!("ipv6-good"));
    assert_eq!(m.method(), Some(Method::Register));
    let ruri = sip(&m.request_uri().unwrap());
    assert_eq!(ruri.user, None);
    assert_eq!(v6(&ruri.host), (ip6("2001:db8::10"), "2001:db8::10"));
    assert_eq!(ruri.port, None);
    assert_eq!(ruri.host.to_string(), "[2001:db8::10]");

    let via = m.top_via().unwrap();
    assert_eq!(v6(&via.host).0, ip6("2001:db8::9:1"));
    assert_eq!(via.port, None);
    assert_eq!(via.branch(), Some("z9hG4bKas3-111"));

    let c = contact_uri(&m);
    assert_eq!(c.user, Some("caller"));
    assert_eq!(v6(&c.host).0, ip6("2001:db8::1"));
}

/// 4.2: an IPv6 address without [ ] in the Request-URI: 400 Bad Request.
#[test]
fn s4_2_ipv6_bad_invalid_ipv6_reference() {
    let e = Message::parse(dat!("ipv6-bad")).unwrap_err();
    // The error points at the host of "REGISTER sip:2001:db8::10".
    assert!(
        matches!(e, ParseError::StartLine { offset, .. } if offset == "REGISTER sip:".len()),
        "{e:?}"
    );
    assert_eq!(e.status_code(), 400);
    assert!(Uri::parse("sip:2001:db8::10").is_err());
}

/// 4.3: "sip:[2001:db8::10:5070]" is well-formed: the host is the address
/// 2001:db8::10:5070 and there is NO port (the sender may have meant 5070; a parser
/// must not guess).
#[test]
fn s4_3_port_ambiguous_port_ambiguous_in_sip_uri() {
    let m = valid(dat!("port-ambiguous"));
    let ruri = sip(&m.request_uri().unwrap());
    assert_eq!(
        v6(&ruri.host),
        (ip6("2001:db8::10:5070"), "2001:db8::10:5070")
    );
    assert_eq!(ruri.port, None);
    assert_ne!(
        m.request_uri().unwrap(),
        Uri::parse("sip:[2001:db8::10]:5070").unwrap()
    );
}

/// 4.4: "sip:[2001:db8::10]:5070": host 2001:db8::10, port 5070.
#[test]
fn s4_4_port_unambiguous_port_unambiguous_in_sip_uri() {
    let m = valid(dat!("port-unambiguous"));
    let ruri = sip(&m.request_uri().unwrap());
    assert_eq!(v6(&ruri.host), (ip6("2001:db8::10"), "2001:db8::10"));
    assert_eq!(ruri.port, Some(5070));
}

/// 4.5: received=[2001:db8::9:255]: strictly invalid under RFC 3261's grammar (received
/// is an address without brackets), but a robust implementation parses the topmost Via
/// and goes on.
#[test]
fn s4_5_via_received_param_with_delim() {
    let m = valid(dat!("via-received-param-with-delim"));
    assert_eq!(m.method(), Some(Method::Bye));
    let via = m.top_via().unwrap();
    assert_eq!(v6(&via.host).0, ip6("2001:db8::9:1"));
    let received = via.received().unwrap();
    assert_eq!(received, "[2001:db8::9:255]");
    let inner = received.strip_prefix('[').and_then(|r| r.strip_suffix(']'));
    assert_eq!(inner.map(ip6), Some(ip6("2001:db8::9:255")));
    assert_eq!(via.branch(), Some("z9hG4bKas3-111"));
}

/// 4.5: received=2001:db8::9:255, valid under RFC 3261's grammar; the colons of the
/// address do not end the parameter.
#[test]
fn s4_5_via_received_param_no_delim() {
    let m = valid(dat!("via-received-param-no-delim"));
    let via = m.top_via().unwrap();
    assert_eq!(v6(&via.host).0, ip6("2001:db8::9:1"));
    assert_eq!(via.received().map(ip6), Some(ip6("2001:db8::9:255")));
    assert_eq!(via.branch(), Some("z9hG4bKas3"));
}

/// 4.6: IPv6 addresses in the SDP body carry no brackets; the SIP parts do.
#[test]
fn s4_6_ipv6_in_sdp_ipv6_addresses_in_sdp_body() {
    let m = valid(dat!("ipv6-in-sdp"));
    let ruri = sip(&m.request_uri().unwrap());
    assert_eq!(ruri.user, Some("user"));
    assert_eq!(v6(&ruri.host).0, ip6("2001:db8::10"));
    assert_eq!(m.to().unwrap().uri, m.request_uri().unwrap());
    assert_eq!(v6(&m.top_via().unwrap().host).0, ip6("2001:db8::20"));
    assert_eq!(v6(&contact_uri(&m).host).0, ip6("2001:db8::20"));
    assert_eq!(m.content_length(), Some(251));
    assert_eq!(m.body().len(), 251);
    let body = std::str::from_utf8(m.body()).unwrap();
    assert!(body.contains("\r\nc=IN IP6 2001:db8::20\r\n"));
    assert!(body.contains(" IN IP6 2001:db8::20\r\n"));
}

/// 4.7: three Vias: an IPv6 reference with port 6050 outside the ], an IPv4 address,
/// and an IPv6 reference with an IPv4 received.
#[test]
fn s4_7_mult_ip_in_header_multiple_ip_addresses_in_sip_headers() {
    let m = valid(dat!("mult-ip-in-header"));
    let vias: Vec<_> = m.vias().collect();
    assert_eq!(vias.len(), 3);
    assert_eq!(vias[0].transport, "UDP");
    assert_eq!(v6(&vias[0].host).0, ip6("2001:db8::9:1"));
    assert_eq!(vias[0].port, Some(6050));
    assert_eq!(vias[1].host, Host::V4(Ipv4Addr::new(192, 0, 2, 1)));
    assert_eq!(vias[1].port, None);
    assert_eq!(vias[2].transport, "TCP");
    assert_eq!(v6(&vias[2].host).0, ip6("2001:db8::9:255"));
    assert_eq!(vias[2].port, None);
    assert_eq!(vias[2].received(), Some("192.0.2.200"));
    assert_eq!(vias[2].branch(), Some("z9hG4bK451jj"));
}

/// 4.8: one media stream on IPv4, one on IPv6, in the SDP.
#[test]
fn s4_8_mult_ip_in_sdp_multiple_ip_addresses_in_sdp() {
    let m = valid(dat!("mult-ip-in-sdp"));
    assert_eq!(
        v6(&sip(&m.request_uri().unwrap()).host).0,
        ip6("2001:db8::10")
    );
    assert_eq!(v6(&contact_uri(&m).host).0, ip6("2001:db8::9:1"));
    assert_eq!(m.content_length(), Some(189));
    assert_eq!(m.body().len(), 189);
    let body = std::str::from_utf8(m.body()).unwrap();
    assert!(body.contains("\r\nc=IN IP4 192.0.2.1\r\n"));
    assert!(body.contains("\r\nc=IN IP6 2001:db8::1\r\n"));
}

/// 4.9: IPv4-mapped IPv6 addresses in the Vias (the top one with port 19823 outside
/// the ]), the Contact and the SDP.
#[test]
fn s4_9_ipv4_mapped_ipv6_addresses() {
    let m = valid(dat!("ipv4-mapped-ipv6"));
    let vias: Vec<_> = m.vias().collect();
    assert_eq!(vias.len(), 2);
    let (top, raw) = v6(&vias[0].host);
    assert_eq!(raw, "::ffff:192.0.2.10");
    assert_eq!(top.to_ipv4_mapped(), Some(Ipv4Addr::new(192, 0, 2, 10)));
    assert_eq!(vias[0].port, Some(19823));
    let (second, _) = v6(&vias[1].host);
    assert_eq!(second.to_ipv4_mapped(), Some(Ipv4Addr::new(192, 0, 2, 2)));
    assert_eq!(vias[1].port, None);
    // An IPv4-mapped IPv6 reference is not the IPv4 host.
    assert_ne!(vias[1].host, Host::V4(Ipv4Addr::new(192, 0, 2, 2)));

    let c = contact_uri(&m);
    assert_eq!(c.user, Some("ted"));
    assert_eq!(
        v6(&c.host).0.to_ipv4_mapped(),
        Some(Ipv4Addr::new(192, 0, 2, 2))
    );
    assert_eq!(m.content_length(), Some(245));
    assert_eq!(m.body().len(), 245);
    let body = std::str::from_utf8(m.body()).unwrap();
    assert!(body.contains("\r\nc=IN IP6 ::ffff:192.0.2.2\r\n"));
}

/// 4.10: "[2001:db8:::192.0.2.1]" matches RFC 3261's faulty IPv6address ABNF though it
/// is no RFC 4291 address. A receiver should tolerate it and read 2001:db8::192.0.2.1
/// (a proxy may write it back with two colons).
#[test]
fn s4_10_ipv6_bug_abnf_3_colons() {
    let m = valid(dat!("ipv6-bug-abnf-3-colons"));
    let ruri = m.request_uri().unwrap();
    assert_eq!(
        v6(&sip(&ruri).host),
        (ip6("2001:db8::192.0.2.1"), "2001:db8:::192.0.2.1")
    );
    assert_eq!(ruri, Uri::parse("sip:user@[2001:db8::192.0.2.1]").unwrap());
    let to = m.to().unwrap();
    assert_eq!(v6(&sip(&to.uri).host).0, ip6("2001:db8::192.0.2.1"));
    // Written back in RFC 4291 form: no ":::", the same address.
    let aor = sip(&ruri).aor();
    assert!(!aor.contains(":::"), "{aor}");
    assert_eq!(Uri::parse(&aor).unwrap(), ruri);
}

/// 4.10: the correct form "[2001:db8::192.0.2.1]", which RFC 3261's literal ABNF does
/// not admit: accepted.
#[test]
fn s4_10_ipv6_correct_abnf_2_colons() {
    let m = valid(dat!("ipv6-correct-abnf-2-colons"));
    let ruri = m.request_uri().unwrap();
    assert_eq!(
        v6(&sip(&ruri).host),
        (ip6("2001:db8::192.0.2.1"), "2001:db8::192.0.2.1")
    );
    assert_eq!(sip(&ruri).port, None);
    assert_eq!(m.to().unwrap().uri, ruri);
}
