//! Requests within a dialog through a route set (RFC 3261 sections 12.1.2 and
//! 12.2.1.1): the ACK and the BYE of a UAC whose 2xx carried Record-Route, with a
//! loose and a strict router.

use std::net::SocketAddr;
use std::time::Instant;

use strowger_core::transport::{Transmit, Transport};
use strowger_core::ua::{Config, Event, UserAgent};
use strowger_message::{HeaderName, Message, ResponseBuilder};

const ALICE: &str = "192.0.2.1:5060";
const BOB: &str = "192.0.2.2:5060";

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn drain(ua: &mut UserAgent) -> Vec<Transmit> {
    std::iter::from_fn(|| ua.poll_transmit()).collect()
}

/// Alice's INVITE answered by a 2xx with `record_route`; returns the UA, the call, the
/// ACK sent and where it went.
fn answered_with(
    record_route: &str,
) -> (UserAgent, Instant, strowger_core::ua::CallHandle, Transmit) {
    let mut ua = UserAgent::new(Config::new("sip:alice@example.com", addr(ALICE)));
    let now = Instant::now();
    let call = ua.invite(now, &format!("sip:bob@{BOB}"), None).unwrap();
    let invite = Message::parse(drain(&mut ua)[0].bytes.clone()).unwrap();
    let ok = ResponseBuilder::new(&invite, 200)
        .to_tag("b1")
        .header("Record-Route", record_route)
        .header("Contact", "<sip:bob@192.0.2.2:5060>")
        .build()
        .unwrap();
    ua.handle_message(now, addr(BOB), Transport::Udp, ok);
    let out = drain(&mut ua);
    assert_eq!(out.len(), 1);
    assert!(matches!(ua.poll_event(), Some(Event::CallAnswered { .. })));
    (ua, now, call, out.into_iter().next().unwrap())
}

#[test]
fn loose_routing_ack_and_bye_go_to_the_first_route_rfc3261_12_2_1_1() {
    // As received by the UAC: the proxy nearest Bob first.
    let (mut ua, now, call, ack) = answered_with("<sip:192.0.2.61;lr>, <sip:192.0.2.60;lr>");
    assert_eq!(ack.dest, addr("192.0.2.60:5060"));
    let m = Message::parse(ack.bytes).unwrap();
    assert_eq!(m.request_uri_str(), Some("sip:bob@192.0.2.2:5060"));
    assert_eq!(
        m.values(HeaderName::Route).collect::<Vec<_>>(),
        ["<sip:192.0.2.60;lr>", "<sip:192.0.2.61;lr>"]
    );
    ua.bye(now, call).unwrap();
    let bye = drain(&mut ua).remove(0);
    assert_eq!(bye.dest, addr("192.0.2.60:5060"));
    let m = Message::parse(bye.bytes).unwrap();
    assert_eq!(m.request_uri_str(), Some("sip:bob@192.0.2.2:5060"));
    assert_eq!(m.values(HeaderName::Route).count(), 2);
}

#[test]
fn strict_routing_puts_the_route_in_the_request_uri_rfc3261_12_2_1_1() {
    // The proxy nearest Alice (last in the 2xx) is a strict router: no lr.
    let (mut ua, now, call, ack) =
        answered_with("<sip:192.0.2.61;lr>, <sip:192.0.2.60;transport=udp>");
    assert_eq!(ack.dest, addr("192.0.2.60:5060"));
    let m = Message::parse(ack.bytes).unwrap();
    assert_eq!(m.request_uri_str(), Some("sip:192.0.2.60;transport=udp"));
    assert_eq!(
        m.values(HeaderName::Route).collect::<Vec<_>>(),
        ["<sip:192.0.2.61;lr>", "<sip:bob@192.0.2.2:5060>"]
    );
    ua.bye(now, call).unwrap();
    let bye = drain(&mut ua).remove(0);
    assert_eq!(bye.dest, addr("192.0.2.60:5060"));
    let m = Message::parse(bye.bytes).unwrap();
    assert_eq!(m.request_uri_str(), Some("sip:192.0.2.60;transport=udp"));
    assert_eq!(
        m.values(HeaderName::Route).collect::<Vec<_>>(),
        ["<sip:192.0.2.61;lr>", "<sip:bob@192.0.2.2:5060>"]
    );
    assert_eq!(m.cseq().unwrap().seq, 2);
}
