//! The UAS checks of RFC 3261 section 8.2 (and 12.2.2), as pure functions and through
//! a `UserAgent`: every response a request can get before the core acts on it.

use std::time::{Duration, Instant};

use strowger_core::transaction::TransactionKey;
use strowger_core::transport::Transport;
use strowger_core::ua::uas::{
    bad_request, check_content, check_method, check_request, check_require, check_uri_scheme,
    Capabilities, MergedRequests,
};
use strowger_core::ua::{Config, Event, UserAgent};
use strowger_message::{HeaderName, Message};

const UA: &str = "192.0.2.2:5060";
const PEER: &str = "192.0.2.1:5060";

fn request(method: &str, ruri: &str, branch: &str, extra: &str, body: &str) -> Message {
    let text = format!(
        "{method} {ruri} SIP/2.0\r\n\
         Via: SIP/2.0/UDP 192.0.2.1:5060;branch={branch}\r\n\
         Max-Forwards: 70\r\n\
         To: <sip:bob@example.com>\r\n\
         From: <sip:alice@example.com>;tag=a1\r\n\
         Call-ID: c1@192.0.2.1\r\n\
         CSeq: 1 {method}\r\n\
         {extra}Content-Length: {}\r\n\r\n{body}",
        body.len()
    );
    Message::parse(text.into_bytes()).unwrap()
}

fn invite(extra: &str, body: &str) -> Message {
    request("INVITE", "sip:bob@192.0.2.2", "z9hG4bK1", extra, body)
}

/// Feed `msg` to a fresh UA and return every response it sends, and its events.
fn through_ua(msgs: &[Message]) -> (Vec<Message>, Vec<Event>) {
    let mut ua = UserAgent::new(Config::new("sip:bob@example.com", UA.parse().unwrap()));
    let now = Instant::now();
    for m in msgs {
        ua.handle_message(now, PEER.parse().unwrap(), Transport::Udp, m.clone());
    }
    let out = std::iter::from_fn(|| ua.poll_transmit())
        .map(|t| Message::parse(t.bytes).unwrap())
        .collect();
    let events = std::iter::from_fn(|| ua.poll_event()).collect();
    (out, events)
}

fn only_response(msgs: &[Message]) -> (Message, Vec<Event>) {
    let (out, events) = through_ua(msgs);
    assert_eq!(out.len(), 1, "expected one response, got {out:?}");
    (out.into_iter().next().unwrap(), events)
}

#[test]
fn unsupported_method_gets_405_with_allow_rfc3261_8_2_1() {
    let req = request(
        "SUBSCRIBE",
        "sip:bob@192.0.2.2",
        "z9hG4bK1",
        "Event: presence\r\n",
        "",
    );
    let caps = Capabilities::default();
    let r = check_method(&req, &caps).unwrap();
    assert_eq!(r.status(), Some(405));
    assert_eq!(
        r.tokens(HeaderName::Allow).collect::<Vec<_>>(),
        ["INVITE", "ACK", "CANCEL", "BYE", "OPTIONS", "MESSAGE"]
    );
    assert!(check_method(&invite("", ""), &caps).is_none());
    let (r, events) = only_response(&[req]);
    assert_eq!(r.status(), Some(405));
    assert!(r.header("Allow").is_some());
    assert!(events.is_empty());
}

#[test]
fn unknown_request_uri_scheme_gets_416_rfc3261_8_2_2_1() {
    let req = request("INVITE", "http://example.com/bob", "z9hG4bK1", "", "");
    assert_eq!(
        check_uri_scheme(&req, &Capabilities::default())
            .unwrap()
            .status(),
        Some(416)
    );
    let tel = request("OPTIONS", "tel:+15551234", "z9hG4bK1", "", "");
    assert_eq!(
        check_uri_scheme(&tel, &Capabilities::default())
            .unwrap()
            .status(),
        Some(416)
    );
    assert!(check_uri_scheme(&invite("", ""), &Capabilities::default()).is_none());
    let (r, _) = only_response(&[req]);
    assert_eq!(r.status(), Some(416));
}

#[test]
fn unknown_required_extension_gets_420_with_unsupported_rfc3261_8_2_2_3() {
    let req = invite("Require: 100rel, foo\r\n", "");
    let caps = Capabilities {
        supported: vec!["100rel".into()],
        ..Capabilities::default()
    };
    let r = check_require(&req, &caps).unwrap();
    assert_eq!(r.status(), Some(420));
    assert_eq!(r.header("Unsupported"), Some("foo"));
    // Not for CANCEL (nor ACK).
    let cancel = request(
        "CANCEL",
        "sip:bob@192.0.2.2",
        "z9hG4bK1",
        "Require: foo\r\n",
        "",
    );
    assert!(check_require(&cancel, &caps).is_none());
    let (r, events) = only_response(&[req]);
    assert_eq!(r.status(), Some(420));
    assert_eq!(r.header("Unsupported"), Some("100rel, foo"));
    assert!(events.is_empty());
}

#[test]
fn unknown_content_type_or_encoding_gets_415_with_accept_rfc3261_8_2_3() {
    let caps = Capabilities::default();
    let req = invite("Content-Type: application/x-unknown\r\n", "hello");
    let r = check_content(&req, &caps).unwrap();
    assert_eq!(r.status(), Some(415));
    assert_eq!(r.header("Accept"), Some("application/sdp, text/plain"));
    assert_eq!(r.header("Accept-Encoding"), Some("identity"));
    let gz = invite(
        "Content-Type: application/sdp\r\nContent-Encoding: gzip\r\n",
        "v=0\r\n",
    );
    assert_eq!(check_content(&gz, &caps).unwrap().status(), Some(415));
    let fine = invite("Content-Type: application/sdp\r\n", "v=0\r\n");
    assert!(check_content(&fine, &caps).is_none());
    let (r, _) = only_response(&[req]);
    assert_eq!(r.status(), Some(415));
    assert!(r.header("Accept").is_some());
}

#[test]
fn merged_request_gets_482_rfc3261_8_2_2_2() {
    // The same INVITE (no To tag, same From tag, Call-ID, CSeq) forked back to us
    // over another path: another branch, so another transaction.
    let first = invite("", "");
    let second = request("INVITE", "sip:bob@192.0.2.2", "z9hG4bK2", "", "");
    let mut merged = MergedRequests::new(Duration::from_secs(32));
    let now = Instant::now();
    let k1 = TransactionKey::server(&first).unwrap();
    let k2 = TransactionKey::server(&second).unwrap();
    assert!(merged.check(now, &first, &k1).is_none());
    // A retransmission (same transaction) is not merged.
    assert!(merged.check(now, &first, &k1).is_none());
    assert_eq!(merged.check(now, &second, &k2).unwrap().status(), Some(482));
    // Forgotten once the transaction is gone.
    let later = now + Duration::from_secs(33);
    assert!(merged.check(later, &second, &k2).is_none());

    let (out, events) = through_ua(&[first, second]);
    let codes: Vec<_> = out.iter().filter_map(Message::status).collect();
    assert_eq!(codes, [482]);
    assert_eq!(out[0].top_via_branch(), Some("z9hG4bK2"));
    assert_eq!(events.len(), 1, "only the first INVITE is a call");
}

#[test]
fn missing_mandatory_header_gets_400_naming_it_rfc3261_8_1_1() {
    let text = "OPTIONS sip:bob@192.0.2.2 SIP/2.0\r\n\
                Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK1\r\n\
                To: <sip:bob@example.com>\r\nFrom: <sip:alice@example.com>;tag=a1\r\n\
                CSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n";
    let req = Message::parse(text.as_bytes().to_vec()).unwrap();
    let err = req.validate().unwrap_err();
    let r = bad_request(&req, &err).unwrap();
    assert_eq!(r.status(), Some(400));
    assert!(r.reason().unwrap().contains("Call-ID"));
    let (r, events) = only_response(&[req]);
    assert_eq!(r.status(), Some(400));
    assert!(r.reason().unwrap().contains("Call-ID"));
    assert!(events.is_empty());
}

#[test]
fn request_in_unknown_dialog_gets_481_rfc3261_12_2_2() {
    let req = request("INVITE", "sip:bob@192.0.2.2", "z9hG4bK1", "", "");
    let text = String::from_utf8(req.as_bytes().to_vec()).unwrap().replace(
        "To: <sip:bob@example.com>",
        "To: <sip:bob@example.com>;tag=gone",
    );
    let (r, events) = only_response(&[Message::parse(text.into_bytes()).unwrap()]);
    assert_eq!(r.status(), Some(481));
    assert!(events.is_empty());
}

#[test]
fn checks_run_in_the_order_of_section_8_2() {
    // Everything wrong at once: the method decides (405) before the scheme (416),
    // the scheme before Require (420), Require before the body (415).
    let caps = Capabilities::default();
    let now = Instant::now();
    let all = request(
        "SUBSCRIBE",
        "http://x",
        "z9hG4bK1",
        "Require: foo\r\nContent-Type: a/b\r\n",
        "x",
    );
    let key = |m: &Message| TransactionKey::server(m).unwrap();
    let code = |m: &Message| {
        let mut merged = MergedRequests::new(Duration::from_secs(32));
        check_request(now, m, &key(m), &caps, &mut merged).and_then(|r| r.status())
    };
    assert_eq!(code(&all), Some(405));
    let scheme = request(
        "INVITE",
        "http://x",
        "z9hG4bK2",
        "Require: foo\r\nContent-Type: a/b\r\n",
        "x",
    );
    assert_eq!(code(&scheme), Some(416));
    let require = request(
        "OPTIONS",
        "sip:b@x",
        "z9hG4bK3",
        "Require: foo\r\nContent-Type: a/b\r\n",
        "x",
    );
    assert_eq!(code(&require), Some(420));
    let body = request(
        "MESSAGE",
        "sip:b@x",
        "z9hG4bK4",
        "Content-Type: a/b\r\n",
        "x",
    );
    assert_eq!(code(&body), Some(415));
    let good = request(
        "MESSAGE",
        "sip:b@x",
        "z9hG4bK5",
        "Content-Type: text/plain\r\n",
        "x",
    );
    assert_eq!(code(&good), None);
}
