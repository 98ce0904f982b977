//! The transaction layer driven through its public API with a virtual clock: every
//! state and timer of RFC 3261 section 17 and RFC 6026, loss, duplicates, matching.

mod common;

use std::time::{Duration, Instant};

use common::*;
use strowger_core::transaction::{
    Config, Error, Event, State, Timers, TransactionKey, TransactionLayer,
};
use strowger_core::transport::Transport;
use strowger_message::{HeaderName, Message, Method};

fn ms(v: &[f64]) -> Vec<Duration> {
    v.iter().map(|s| secs(*s)).collect()
}

fn only_event(layer: &mut TransactionLayer) -> Event {
    let mut e = events(layer);
    assert_eq!(e.len(), 1, "expected one event, got {e:?}");
    e.remove(0)
}

fn response_key(e: &Event) -> (&TransactionKey, u16) {
    match e {
        Event::Response { key, msg } => (key, msg.status().unwrap()),
        other => panic!("expected a response, got {other:?}"),
    }
}

fn new_request_key(layer: &mut TransactionLayer) -> (TransactionKey, Message) {
    match only_event(layer) {
        Event::NewRequest { key, msg, .. } => (key, msg),
        other => panic!("expected a new request, got {other:?}"),
    }
}

// ---------------------------------------------------------------------------------
// INVITE client (17.1.1, RFC 6026 7.2)

#[test]
fn invite_client_retransmits_at_t1_doubling_until_timer_b() {
    let start = Instant::now();
    let mut l = layer();
    let key = l
        .send_request(start, request("INVITE", "z9hG4bK1", "UDP", 1), udp(SERVER))
        .unwrap();
    assert_eq!(transmits(&mut l).len(), 1);
    assert_eq!(l.state(&key), Some(State::Calling));
    let (sent, evs) = run_until(&mut l, start, start + secs(100.0));
    assert_eq!(instants(&sent), ms(&[0.5, 1.5, 3.5, 7.5, 15.5, 31.5]));
    assert!(sent
        .iter()
        .all(|(_, t)| t.dest == addr(SERVER) && t.transport == Transport::Udp));
    assert_eq!(
        evs,
        vec![
            (secs(32.0), Event::Timeout { key: key.clone() }),
            (secs(32.0), Event::Terminated { key: key.clone() }),
        ]
    );
    assert_eq!(l.state(&key), None);
    assert_eq!(l.poll_timeout(), None);
}

#[test]
fn invite_client_timers_follow_configured_t1() {
    let start = Instant::now();
    let mut l = TransactionLayer::new(Config {
        timers: Timers {
            t1: Duration::from_millis(100),
            ..Timers::default()
        },
        ..Config::default()
    });
    let key = l
        .send_request(start, request("INVITE", "z9hG4bK1", "UDP", 1), udp(SERVER))
        .unwrap();
    transmits(&mut l);
    let (sent, evs) = run_until(&mut l, start, start + secs(100.0));
    assert_eq!(instants(&sent), ms(&[0.1, 0.3, 0.7, 1.5, 3.1, 6.3]));
    assert_eq!(evs[0], (secs(6.4), Event::Timeout { key }));
}

#[test]
fn invite_client_over_tcp_never_retransmits_and_times_out_with_timer_b() {
    let start = Instant::now();
    let mut l = layer();
    let key = l
        .send_request(start, request("INVITE", "z9hG4bK1", "TCP", 1), tcp(SERVER))
        .unwrap();
    assert_eq!(transmits(&mut l).len(), 1);
    let (sent, evs) = run_until(&mut l, start, start + secs(100.0));
    assert!(sent.is_empty());
    assert_eq!(evs[0], (secs(32.0), Event::Timeout { key }));
}

#[test]
fn invite_client_provisional_stops_timers_a_and_b() {
    let start = Instant::now();
    let mut l = layer();
    let req = request("INVITE", "z9hG4bK1", "UDP", 1);
    let key = l.send_request(start, req.clone(), udp(SERVER)).unwrap();
    transmits(&mut l);
    let (sent, _) = run_until(&mut l, start, start + secs(0.5));
    assert_eq!(sent.len(), 1);
    l.handle_message(
        start + secs(0.6),
        addr(SERVER),
        Transport::Udp,
        response(&req, 180, "t"),
    );
    assert_eq!(response_key(&only_event(&mut l)), (&key, 180));
    assert_eq!(l.state(&key), Some(State::Proceeding));
    // More provisionals are passed up too.
    l.handle_message(
        start + secs(0.7),
        addr(SERVER),
        Transport::Udp,
        response(&req, 183, "t"),
    );
    assert_eq!(response_key(&only_event(&mut l)), (&key, 183));
    let (sent, evs) = run_until(&mut l, start, start + secs(100.0));
    assert!(sent.is_empty() && evs.is_empty());
    assert_eq!(l.state(&key), Some(State::Proceeding));
}

#[test]
fn invite_client_acks_a_4xx_as_section_17_1_1_3_says() {
    let start = Instant::now();
    let mut l = layer();
    // A proxy's INVITE: two Vias, Route set, Max-Forwards not 70.
    let req = Message::parse(
        &b"INVITE sip:bob@192.0.2.4 SIP/2.0\r\n\
Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKtop\r\n\
Via: SIP/2.0/UDP 10.0.0.1;branch=z9hG4bKbelow\r\n\
Max-Forwards: 10\r\n\
Route: <sip:p1.example.com;lr>\r\n\
Route: <sip:p2.example.com;lr>\r\n\
To: Bob <sip:bob@example.com>\r\n\
From: Alice <sip:alice@example.com>;tag=1928301774\r\n\
Call-ID: a84b4c76e66710\r\n\
CSeq: 314159 INVITE\r\n\
Contact: <sip:alice@10.0.0.1>\r\n\
Content-Type: application/sdp\r\n\
Content-Length: 4\r\n\r\nv=0\n"[..],
    )
    .unwrap();
    let key = l.send_request(start, req.clone(), udp(SERVER)).unwrap();
    transmits(&mut l);
    let resp = response(&req, 486, "bobtag");
    l.handle_message(
        start + secs(0.1),
        addr(SERVER),
        Transport::Udp,
        resp.clone(),
    );
    assert_eq!(response_key(&only_event(&mut l)), (&key, 486));
    assert_eq!(l.state(&key), Some(State::Completed));
    let sent = transmits(&mut l);
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].dest, addr(SERVER));
    let ack = parsed(&sent[0]);
    assert_eq!(ack.method(), Some(Method::Ack));
    assert_eq!(ack.request_uri_str(), Some("sip:bob@192.0.2.4"));
    assert_eq!(ack.call_id(), Some("a84b4c76e66710"));
    assert_eq!(
        ack.get(HeaderName::From).collect::<Vec<_>>(),
        ["Alice <sip:alice@example.com>;tag=1928301774"]
    );
    assert_eq!(
        ack.get(HeaderName::To).collect::<Vec<_>>(),
        ["Bob <sip:bob@example.com>;tag=bobtag"]
    );
    let cseq = ack.cseq().unwrap();
    assert_eq!((cseq.seq, cseq.method), (314159, Method::Ack));
    assert_eq!(
        ack.values(HeaderName::Via).collect::<Vec<_>>(),
        ["SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKtop"]
    );
    assert_eq!(
        ack.get(HeaderName::Route).collect::<Vec<_>>(),
        ["<sip:p1.example.com;lr>", "<sip:p2.example.com;lr>"]
    );
    assert_eq!(ack.max_forwards(), Some(70));
    assert!(ack.body().is_empty());
    assert!(ack.get(HeaderName::Contact).next().is_none());
    ack.validate().unwrap();
}

#[test]
fn invite_client_resends_ack_for_each_retransmitted_final_and_absorbs_it() {
    let start = Instant::now();
    let mut l = layer();
    let req = request("INVITE", "z9hG4bK1", "UDP", 1);
    let key = l.send_request(start, req.clone(), udp(SERVER)).unwrap();
    transmits(&mut l);
    let resp = response(&req, 404, "t");
    l.handle_message(
        start + secs(0.1),
        addr(SERVER),
        Transport::Udp,
        resp.clone(),
    );
    let first_ack = transmits(&mut l);
    assert_eq!(events(&mut l).len(), 1);
    for i in 1..=3 {
        l.handle_message(
            start + secs(0.1 * f64::from(i)),
            addr(SERVER),
            Transport::Udp,
            resp.clone(),
        );
        let again = transmits(&mut l);
        assert_eq!(again, first_ack, "the same ACK is sent again");
        assert!(
            events(&mut l).is_empty(),
            "a retransmitted final is not passed up"
        );
    }
    // Timer D: 32 s on UDP, then the transaction ends.
    assert_eq!(l.poll_timeout(), Some(start + secs(32.1)));
    let (_, evs) = run_until(&mut l, start, start + secs(100.0));
    assert_eq!(evs, vec![(secs(32.1), Event::Terminated { key })]);
}

#[test]
fn invite_client_over_tcp_ends_right_after_the_ack_timer_d_zero() {
    let start = Instant::now();
    let mut l = layer();
    let req = request("INVITE", "z9hG4bK1", "TCP", 1);
    let key = l.send_request(start, req.clone(), tcp(SERVER)).unwrap();
    transmits(&mut l);
    l.handle_message(
        start,
        addr(SERVER),
        Transport::Tcp,
        response(&req, 603, "t"),
    );
    let sent = transmits(&mut l);
    assert_eq!(parsed(&sent[0]).method(), Some(Method::Ack));
    let evs = events(&mut l);
    assert_eq!(response_key(&evs[0]), (&key, 603));
    assert_eq!(evs[1], Event::Terminated { key });
}

#[test]
fn invite_client_passes_every_2xx_up_in_accepted_and_never_acks_rfc6026() {
    let start = Instant::now();
    let mut l = layer();
    let req = request("INVITE", "z9hG4bK1", "UDP", 1);
    let key = l.send_request(start, req.clone(), udp(SERVER)).unwrap();
    transmits(&mut l);
    let ok = response(&req, 200, "fork1");
    l.handle_message(start + secs(1.0), addr(SERVER), Transport::Udp, ok.clone());
    assert_eq!(response_key(&only_event(&mut l)), (&key, 200));
    assert_eq!(l.state(&key), Some(State::Accepted));
    // A retransmission, and a 2xx from another fork: both passed up.
    l.handle_message(start + secs(2.0), addr(SERVER), Transport::Udp, ok.clone());
    assert_eq!(response_key(&only_event(&mut l)), (&key, 200));
    l.handle_message(
        start + secs(3.0),
        addr(SERVER),
        Transport::Udp,
        response(&req, 200, "fork2"),
    );
    assert_eq!(response_key(&only_event(&mut l)), (&key, 200));
    // Non-2xx and provisionals are absorbed.
    l.handle_message(
        start + secs(3.0),
        addr(SERVER),
        Transport::Udp,
        response(&req, 486, "fork3"),
    );
    l.handle_message(
        start + secs(3.0),
        addr(SERVER),
        Transport::Udp,
        response(&req, 180, "fork3"),
    );
    assert!(events(&mut l).is_empty());
    assert!(
        transmits(&mut l).is_empty(),
        "the transaction never ACKs a 2xx"
    );
    // Timer M = 64*T1 from the first 2xx.
    let (sent, evs) = run_until(&mut l, start, start + secs(100.0));
    assert!(sent.is_empty());
    assert_eq!(evs, vec![(secs(33.0), Event::Terminated { key })]);
    // After that a 2xx is stray: the UA core acks it from its dialog.
    l.handle_message(start + secs(34.0), addr(SERVER), Transport::Udp, ok);
    assert!(matches!(only_event(&mut l), Event::StrayResponse { .. }));
}

#[test]
fn invite_client_transport_error_is_reported_and_ends_it_rfc3261_17_1_4() {
    let start = Instant::now();
    let mut l = layer();
    let key = l
        .send_request(start, request("INVITE", "z9hG4bK1", "TCP", 1), tcp(SERVER))
        .unwrap();
    l.transport_error(start, &key);
    assert_eq!(
        events(&mut l),
        vec![
            Event::TransportError { key: key.clone() },
            Event::Terminated { key: key.clone() }
        ]
    );
    assert_eq!(l.state(&key), None);
    // Unknown keys are ignored.
    l.transport_error(start, &key);
    assert!(events(&mut l).is_empty());
}

// ---------------------------------------------------------------------------------
// Non-INVITE client (17.1.2)

#[test]
fn non_invite_client_retransmits_e_doubling_capped_at_t2_until_timer_f() {
    let start = Instant::now();
    let mut l = layer();
    let key = l
        .send_request(start, request("OPTIONS", "z9hG4bK1", "UDP", 1), udp(SERVER))
        .unwrap();
    assert_eq!(transmits(&mut l).len(), 1);
    assert_eq!(l.state(&key), Some(State::Trying));
    let (sent, evs) = run_until(&mut l, start, start + secs(100.0));
    assert_eq!(
        instants(&sent),
        ms(&[0.5, 1.5, 3.5, 7.5, 11.5, 15.5, 19.5, 23.5, 27.5, 31.5])
    );
    assert_eq!(
        evs,
        vec![
            (secs(32.0), Event::Timeout { key: key.clone() }),
            (secs(32.0), Event::Terminated { key }),
        ]
    );
}

#[test]
fn non_invite_client_in_proceeding_retransmits_every_t2() {
    let start = Instant::now();
    let mut l = layer();
    let req = request("REGISTER", "z9hG4bK1", "UDP", 1);
    let key = l.send_request(start, req.clone(), udp(SERVER)).unwrap();
    transmits(&mut l);
    let (sent, _) = run_until(&mut l, start, start + secs(1.0));
    assert_eq!(instants(&sent), ms(&[0.5]));
    l.handle_message(
        start + secs(1.0),
        addr(SERVER),
        Transport::Udp,
        response(&req, 100, "t"),
    );
    assert_eq!(response_key(&only_event(&mut l)), (&key, 100));
    assert_eq!(l.state(&key), Some(State::Proceeding));
    let (sent, evs) = run_until(&mut l, start, start + secs(100.0));
    // The pending E at 1.5 s fires, then every T2.
    assert_eq!(
        instants(&sent),
        ms(&[1.5, 5.5, 9.5, 13.5, 17.5, 21.5, 25.5, 29.5])
    );
    assert_eq!(evs[0], (secs(32.0), Event::Timeout { key }));
}

#[test]
fn non_invite_client_final_response_waits_timer_k_and_absorbs_retransmissions() {
    let start = Instant::now();
    let mut l = layer();
    let req = request("BYE", "z9hG4bK1", "UDP", 2);
    let key = l.send_request(start, req.clone(), udp(SERVER)).unwrap();
    transmits(&mut l);
    let ok = response(&req, 200, "t");
    l.handle_message(start + secs(0.2), addr(SERVER), Transport::Udp, ok.clone());
    assert_eq!(response_key(&only_event(&mut l)), (&key, 200));
    assert_eq!(l.state(&key), Some(State::Completed));
    l.handle_message(start + secs(0.3), addr(SERVER), Transport::Udp, ok);
    assert!(events(&mut l).is_empty());
    let (sent, evs) = run_until(&mut l, start, start + secs(100.0));
    assert!(sent.is_empty(), "no retransmission in Completed");
    // Timer K = T4.
    assert_eq!(evs, vec![(secs(5.2), Event::Terminated { key })]);
}

#[test]
fn non_invite_client_over_tcp_never_retransmits_and_k_is_zero() {
    let start = Instant::now();
    let mut l = layer();
    let req = request("OPTIONS", "z9hG4bK1", "TCP", 1);
    let key = l.send_request(start, req.clone(), tcp(SERVER)).unwrap();
    transmits(&mut l);
    let (sent, _) = run_until(&mut l, start, start + secs(10.0));
    assert!(sent.is_empty());
    l.handle_message(
        start + secs(10.0),
        addr(SERVER),
        Transport::Tcp,
        response(&req, 200, "t"),
    );
    let evs = events(&mut l);
    assert_eq!(response_key(&evs[0]), (&key, 200));
    assert_eq!(evs[1], Event::Terminated { key });
}

#[test]
fn send_request_rejects_what_is_not_a_transaction() {
    let start = Instant::now();
    let mut l = layer();
    let req = request("INVITE", "z9hG4bK1", "UDP", 1);
    assert_eq!(
        l.send_request(start, request("ACK", "z9hG4bK1", "UDP", 1), udp(SERVER)),
        Err(Error::AckIsNotATransaction)
    );
    assert_eq!(
        l.send_request(start, response(&req, 200, "t"), udp(SERVER)),
        Err(Error::NotARequest)
    );
    let key = l.send_request(start, req.clone(), udp(SERVER)).unwrap();
    assert_eq!(
        l.send_request(start, req, udp(SERVER)),
        Err(Error::DuplicateTransaction(key))
    );
    let no_branch = request_with(
        "OPTIONS",
        "SIP/2.0/UDP 192.0.2.1",
        "<sip:b@example.com>",
        1,
        "",
    );
    assert_eq!(
        l.send_request(start, no_branch, udp(SERVER)),
        Err(Error::MissingBranch)
    );
}

// ---------------------------------------------------------------------------------
// INVITE server (17.2.1, RFC 6026 7.1)

#[test]
fn invite_server_sends_100_trying_after_200_ms_of_tu_silence() {
    let start = Instant::now();
    let mut l = layer();
    let invite = request("INVITE", "z9hG4bK1", "UDP", 1);
    l.handle_message(start, addr(CLIENT), Transport::Udp, invite.clone());
    let (key, _) = new_request_key(&mut l);
    assert_eq!(l.state(&key), Some(State::Proceeding));
    assert!(transmits(&mut l).is_empty());
    assert_eq!(l.poll_timeout(), Some(start + secs(0.2)));
    l.handle_timeout(start + secs(0.2));
    let sent = transmits(&mut l);
    assert_eq!(sent.len(), 1);
    let trying = parsed(&sent[0]);
    assert_eq!(trying.status(), Some(100));
    assert_eq!(trying.to().unwrap().tag(), None);
    assert_eq!(sent[0].dest, addr(CLIENT));
    // A retransmitted INVITE is absorbed and the 100 sent again.
    l.handle_message(start + secs(0.5), addr(CLIENT), Transport::Udp, invite);
    assert!(events(&mut l).is_empty());
    assert_eq!(transmits(&mut l), sent);
    assert_eq!(l.poll_timeout(), None);
}

#[test]
fn invite_server_sends_no_100_when_the_tu_answers_within_200_ms() {
    let start = Instant::now();
    let mut l = layer();
    let invite = request("INVITE", "z9hG4bK1", "UDP", 1);
    l.handle_message(start, addr(CLIENT), Transport::Udp, invite.clone());
    let (key, req) = new_request_key(&mut l);
    l.respond(start + secs(0.1), &key, response(&req, 180, "t"))
        .unwrap();
    let ringing = transmits(&mut l);
    assert_eq!(parsed(&ringing[0]).status(), Some(180));
    let (sent, _) = run_until(&mut l, start, start + secs(10.0));
    assert!(sent.is_empty());
    // The retransmitted INVITE gets the last provisional response.
    l.handle_message(start + secs(0.5), addr(CLIENT), Transport::Udp, invite);
    assert_eq!(transmits(&mut l), ringing);
    assert!(events(&mut l).is_empty());
}

#[test]
fn invite_server_retransmits_a_non_2xx_final_with_timer_g_until_timer_h() {
    let start = Instant::now();
    let mut l = layer();
    l.handle_message(
        start,
        addr(CLIENT),
        Transport::Udp,
        request("INVITE", "z9hG4bK1", "UDP", 1),
    );
    let (key, req) = new_request_key(&mut l);
    l.respond(start, &key, response(&req, 486, "t")).unwrap();
    assert_eq!(transmits(&mut l).len(), 1);
    assert_eq!(l.state(&key), Some(State::Completed));
    let (sent, evs) = run_until(&mut l, start, start + secs(100.0));
    assert_eq!(
        instants(&sent),
        ms(&[0.5, 1.5, 3.5, 7.5, 11.5, 15.5, 19.5, 23.5, 27.5, 31.5])
    );
    assert!(sent.iter().all(|(_, t)| parsed(t).status() == Some(486)));
    assert_eq!(
        evs,
        vec![
            (secs(32.0), Event::Timeout { key: key.clone() }),
            (secs(32.0), Event::Terminated { key }),
        ]
    );
}

#[test]
fn invite_server_absorbs_the_ack_in_completed_and_confirmed_until_timer_i() {
    let start = Instant::now();
    let mut l = layer();
    let invite = request("INVITE", "z9hG4bK1", "UDP", 1);
    l.handle_message(start, addr(CLIENT), Transport::Udp, invite.clone());
    let (key, req) = new_request_key(&mut l);
    let busy = response(&req, 486, "t");
    l.respond(start, &key, busy.clone()).unwrap();
    transmits(&mut l);
    // The retransmitted INVITE gets the final response again.
    l.handle_message(
        start + secs(0.2),
        addr(CLIENT),
        Transport::Udp,
        invite.clone(),
    );
    assert_eq!(transmits(&mut l).len(), 1);
    let (sent, _) = run_until(&mut l, start, start + secs(2.0));
    assert_eq!(instants(&sent), ms(&[0.5, 1.5]));
    let ack = request_with(
        "ACK",
        "SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK1",
        "<sip:bob@example.com>;tag=t",
        1,
        "",
    );
    l.handle_message(start + secs(2.0), addr(CLIENT), Transport::Udp, ack.clone());
    assert!(
        events(&mut l).is_empty(),
        "the ACK of a non-2xx stays in the transaction"
    );
    assert_eq!(l.state(&key), Some(State::Confirmed));
    l.handle_message(start + secs(3.0), addr(CLIENT), Transport::Udp, ack);
    l.handle_message(start + secs(3.0), addr(CLIENT), Transport::Udp, invite);
    assert!(events(&mut l).is_empty());
    assert!(transmits(&mut l).is_empty());
    let (sent, evs) = run_until(&mut l, start, start + secs(100.0));
    assert!(sent.is_empty());
    // Timer I = T4 from the first ACK.
    assert_eq!(evs, vec![(secs(7.0), Event::Terminated { key })]);
}

#[test]
fn invite_server_over_tcp_never_retransmits_and_ends_on_ack_timer_i_zero() {
    let start = Instant::now();
    let mut l = layer();
    l.handle_message(
        start,
        addr(CLIENT),
        Transport::Tcp,
        request("INVITE", "z9hG4bK1", "TCP", 1),
    );
    let (key, req) = new_request_key(&mut l);
    l.respond(start, &key, response(&req, 404, "t")).unwrap();
    let sent = transmits(&mut l);
    assert_eq!((sent.len(), sent[0].transport), (1, Transport::Tcp));
    let (sent, _) = run_until(&mut l, start, start + secs(10.0));
    assert!(sent.is_empty());
    let ack = request_with(
        "ACK",
        "SIP/2.0/TCP 192.0.2.1:5060;branch=z9hG4bK1",
        "<sip:bob@example.com>;tag=t",
        1,
        "",
    );
    l.handle_message(start + secs(10.0), addr(CLIENT), Transport::Tcp, ack);
    assert_eq!(events(&mut l), vec![Event::Terminated { key }]);
}

#[test]
fn invite_server_in_accepted_sends_tu_2xx_retransmissions_absorbs_invites_and_passes_acks_up() {
    let start = Instant::now();
    let mut l = layer();
    let invite = request("INVITE", "z9hG4bK1", "UDP", 1);
    l.handle_message(start, addr(CLIENT), Transport::Udp, invite.clone());
    let (key, req) = new_request_key(&mut l);
    let ok = response(&req, 200, "t");
    l.respond(start, &key, ok.clone()).unwrap();
    assert_eq!(transmits(&mut l).len(), 1);
    assert_eq!(l.state(&key), Some(State::Accepted));
    // The transaction does not retransmit the 2xx itself...
    let (sent, _) = run_until(&mut l, start, start + secs(0.5));
    assert!(sent.is_empty());
    // ...the TU does (13.3.1.4), through it.
    l.respond(start + secs(0.5), &key, ok.clone()).unwrap();
    assert_eq!(parsed(&transmits(&mut l)[0]).status(), Some(200));
    // A retransmitted INVITE is absorbed: nothing sent, nothing passed up.
    l.handle_message(start + secs(0.6), addr(CLIENT), Transport::Udp, invite);
    assert!(transmits(&mut l).is_empty());
    assert!(events(&mut l).is_empty());
    // A non-2xx now is refused.
    assert_eq!(
        l.respond(start + secs(0.7), &key, response(&req, 500, "t")),
        Err(Error::InvalidState {
            state: State::Accepted,
            status: 500
        })
    );
    // An ACK matching the transaction goes up.
    let ack = request_with(
        "ACK",
        "SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK1",
        "<sip:bob@example.com>;tag=t",
        1,
        "",
    );
    l.handle_message(start + secs(1.0), addr(CLIENT), Transport::Udp, ack);
    assert!(matches!(only_event(&mut l), Event::AckFor2xx { key: k, .. } if k == key));
    // The RFC 3261 ACK for a 2xx has a branch of its own: stray, for the TU.
    let ack2 = request_with(
        "ACK",
        "SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK2",
        "<sip:bob@example.com>;tag=t",
        1,
        "",
    );
    l.handle_message(start + secs(1.0), addr(CLIENT), Transport::Udp, ack2);
    assert!(matches!(only_event(&mut l), Event::StrayAck { .. }));
    // Timer L.
    let (_, evs) = run_until(&mut l, start, start + secs(100.0));
    assert_eq!(evs, vec![(secs(32.0), Event::Terminated { key })]);
}

#[test]
fn invite_server_refuses_a_second_final_response_in_completed() {
    let start = Instant::now();
    let mut l = layer();
    l.handle_message(
        start,
        addr(CLIENT),
        Transport::Udp,
        request("INVITE", "z9hG4bK1", "UDP", 1),
    );
    let (key, req) = new_request_key(&mut l);
    l.respond(start, &key, response(&req, 486, "t")).unwrap();
    assert_eq!(
        l.respond(start, &key, response(&req, 200, "t")),
        Err(Error::InvalidState {
            state: State::Completed,
            status: 200
        })
    );
    assert_eq!(
        l.respond(start, &key, request("INVITE", "z9hG4bK1", "UDP", 1)),
        Err(Error::NotAResponse)
    );
}

#[test]
fn invite_server_transport_error_is_reported_rfc3261_17_2_4() {
    let start = Instant::now();
    let mut l = layer();
    l.handle_message(
        start,
        addr(CLIENT),
        Transport::Tcp,
        request("INVITE", "z9hG4bK1", "TCP", 1),
    );
    let (key, req) = new_request_key(&mut l);
    l.respond(start, &key, response(&req, 180, "t")).unwrap();
    l.transport_error(start, &key);
    assert_eq!(
        events(&mut l),
        vec![
            Event::TransportError { key: key.clone() },
            Event::Terminated { key }
        ]
    );
}

// ---------------------------------------------------------------------------------
// Non-INVITE server (17.2.2)

#[test]
fn non_invite_server_absorbs_in_trying_and_resends_the_last_response() {
    let start = Instant::now();
    let mut l = layer();
    let req = request("MESSAGE", "z9hG4bK1", "UDP", 1);
    l.handle_message(start, addr(CLIENT), Transport::Udp, req.clone());
    let (key, got) = new_request_key(&mut l);
    assert_eq!(l.state(&key), Some(State::Trying));
    // Duplicate delivery in Trying: absorbed, nothing sent.
    l.handle_message(start, addr(CLIENT), Transport::Udp, req.clone());
    assert!(events(&mut l).is_empty());
    assert!(transmits(&mut l).is_empty());
    l.respond(start + secs(0.1), &key, response(&got, 100, "t"))
        .unwrap();
    let trying = transmits(&mut l);
    assert_eq!(l.state(&key), Some(State::Proceeding));
    l.handle_message(start + secs(0.5), addr(CLIENT), Transport::Udp, req.clone());
    assert_eq!(transmits(&mut l), trying);
    l.respond(start + secs(1.0), &key, response(&got, 202, "t"))
        .unwrap();
    let accepted = transmits(&mut l);
    assert_eq!(l.state(&key), Some(State::Completed));
    l.handle_message(start + secs(1.5), addr(CLIENT), Transport::Udp, req);
    assert_eq!(transmits(&mut l), accepted);
    assert!(events(&mut l).is_empty());
    assert!(matches!(
        l.respond(start + secs(2.0), &key, response(&got, 500, "t")),
        Err(Error::InvalidState {
            state: State::Completed,
            status: 500
        })
    ));
    // Timer J = 64*T1 over UDP.
    let (sent, evs) = run_until(&mut l, start, start + secs(100.0));
    assert!(sent.is_empty());
    assert_eq!(evs, vec![(secs(33.0), Event::Terminated { key })]);
}

#[test]
fn non_invite_server_completed_transport_error_is_reported_rfc3261_17_2_4() {
    // A retransmitted final response that cannot be sent ends the transaction.
    let start = Instant::now();
    let mut l = layer();
    let req = request("REGISTER", "z9hG4bK7", "UDP", 1);
    l.handle_message(start, addr(CLIENT), Transport::Udp, req.clone());
    let (key, got) = new_request_key(&mut l);
    l.respond(start, &key, response(&got, 200, "t")).unwrap();
    let ok = transmits(&mut l);
    assert_eq!(ok.len(), 1);
    l.handle_message(start + secs(0.5), addr(CLIENT), Transport::Udp, req);
    assert_eq!(transmits(&mut l), ok);
    l.transport_error(start + secs(0.5), &key);
    assert_eq!(
        events(&mut l),
        vec![
            Event::TransportError { key: key.clone() },
            Event::Terminated { key: key.clone() }
        ]
    );
    assert_eq!(l.state(&key), None);
}

#[test]
fn non_invite_server_over_tcp_ends_on_its_final_response_timer_j_zero() {
    let start = Instant::now();
    let mut l = layer();
    l.handle_message(
        start,
        addr(CLIENT),
        Transport::Tcp,
        request("OPTIONS", "z9hG4bK1", "TCP", 1),
    );
    let (key, got) = new_request_key(&mut l);
    l.respond(start, &key, response(&got, 200, "t")).unwrap();
    assert_eq!(transmits(&mut l).len(), 1);
    assert_eq!(events(&mut l), vec![Event::Terminated { key: key.clone() }]);
    assert_eq!(
        l.respond(start, &key, response(&got, 200, "t")),
        Err(Error::NoSuchTransaction(key))
    );
}

#[test]
fn server_responses_go_back_over_the_connection_the_request_came_on() {
    let start = Instant::now();
    let mut l = layer();
    let source = strowger_core::Target {
        addr: addr("192.0.2.1:49152"),
        transport: Transport::Tls,
        conn: Some(42),
    };
    l.handle_message_on(
        start,
        source,
        request_with(
            "OPTIONS",
            "SIP/2.0/TLS client.example.com;branch=z9hG4bK1",
            "<sip:b@example.com>",
            1,
            "",
        ),
    );
    let (key, got) = new_request_key(&mut l);
    // 18.2.1: the sent-by is a name, so the request is stamped.
    assert_eq!(got.top_via().unwrap().received(), Some("192.0.2.1"));
    l.respond(start, &key, response(&got, 200, "t")).unwrap();
    let sent = transmits(&mut l);
    assert_eq!(sent[0].target(), source);
}

#[test]
fn server_responses_over_udp_follow_received_and_rport_rfc3581() {
    let start = Instant::now();
    let mut l = layer();
    l.handle_message(
        start,
        addr("198.51.100.7:61000"),
        Transport::Udp,
        request_with(
            "OPTIONS",
            "SIP/2.0/UDP 10.0.0.5:5060;rport;branch=z9hG4bK1",
            "<sip:b@example.com>",
            1,
            "",
        ),
    );
    let (key, got) = new_request_key(&mut l);
    let via = got.top_via().unwrap();
    assert_eq!(
        (via.received(), via.rport()),
        (Some("198.51.100.7"), Some(Some(61000)))
    );
    let resp = response(&got, 200, "t");
    assert_eq!(resp.top_via().unwrap().rport(), Some(Some(61000)));
    l.respond(start, &key, resp).unwrap();
    assert_eq!(transmits(&mut l)[0].dest, addr("198.51.100.7:61000"));
}

// ---------------------------------------------------------------------------------
// Matching (17.1.3, 17.2.3, 9.2) and stray messages

#[test]
fn responses_match_by_branch_and_cseq_method_so_cancel_has_its_own_transaction() {
    let start = Instant::now();
    let mut l = layer();
    let invite = request("INVITE", "z9hG4bK1", "UDP", 1);
    let cancel = request("CANCEL", "z9hG4bK1", "UDP", 1);
    let ik = l.send_request(start, invite.clone(), udp(SERVER)).unwrap();
    let ck = l.send_request(start, cancel.clone(), udp(SERVER)).unwrap();
    assert_ne!(ik, ck);
    l.handle_message(
        start,
        addr(SERVER),
        Transport::Udp,
        response(&cancel, 200, "t"),
    );
    assert_eq!(response_key(&only_event(&mut l)), (&ck, 200));
    assert_eq!(l.state(&ik), Some(State::Calling));
    l.handle_message(
        start,
        addr(SERVER),
        Transport::Udp,
        response(&invite, 487, "t"),
    );
    assert_eq!(response_key(&only_event(&mut l)), (&ik, 487));
    // Another branch matches nothing.
    let other = request("INVITE", "z9hG4bK2", "UDP", 1);
    l.handle_message(
        start,
        addr(SERVER),
        Transport::Udp,
        response(&other, 200, "t"),
    );
    assert!(matches!(only_event(&mut l), Event::StrayResponse { .. }));
}

#[test]
fn requests_with_the_same_branch_but_another_sent_by_are_different_transactions() {
    let start = Instant::now();
    let mut l = layer();
    let a = request_with(
        "OPTIONS",
        "SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK1",
        "<sip:b@example.com>",
        1,
        "",
    );
    let b = request_with(
        "OPTIONS",
        "SIP/2.0/UDP 192.0.2.9:5060;branch=z9hG4bK1",
        "<sip:b@example.com>",
        1,
        "",
    );
    l.handle_message(start, addr(CLIENT), Transport::Udp, a);
    l.handle_message(start, addr("192.0.2.9:5060"), Transport::Udp, b);
    let evs = events(&mut l);
    assert_eq!(evs.len(), 2);
    assert!(evs.iter().all(|e| matches!(e, Event::NewRequest { .. })));
    assert_eq!(l.len(), 2);
}

#[test]
fn cancel_gets_its_own_server_transaction_and_finds_its_invite_rfc3261_9_2() {
    let start = Instant::now();
    let mut l = layer();
    l.handle_message(
        start,
        addr(CLIENT),
        Transport::Udp,
        request("INVITE", "z9hG4bK1", "UDP", 1),
    );
    let (ik, _) = new_request_key(&mut l);
    l.handle_message(
        start,
        addr(CLIENT),
        Transport::Udp,
        request("CANCEL", "z9hG4bK1", "UDP", 1),
    );
    let (ck, cancel) = new_request_key(&mut l);
    assert_ne!(ik, ck);
    assert_eq!(l.cancel_target(&ck), Some(ik.clone()));
    assert_eq!(l.cancel_target(&ik), None);
    l.respond(start, &ck, response(&cancel, 200, "t")).unwrap();
    assert_eq!(l.state(&ik), Some(State::Proceeding));
    // A CANCEL for no INVITE: no target (the TU answers 481).
    l.handle_message(
        start,
        addr(CLIENT),
        Transport::Udp,
        request("CANCEL", "z9hG4bK9", "UDP", 1),
    );
    let (ck2, _) = new_request_key(&mut l);
    assert_eq!(l.cancel_target(&ck2), None);
}

#[test]
fn rfc2543_requests_match_by_request_uri_tags_call_id_cseq_and_top_via() {
    let start = Instant::now();
    let mut l = layer();
    let via = "SIP/2.0/UDP 192.0.2.1:5060";
    let invite = request_with("INVITE", via, "<sip:bob@example.com>", 1, "");
    l.handle_message(start, addr(CLIENT), Transport::Udp, invite.clone());
    let (key, got) = new_request_key(&mut l);
    // The same request again is a retransmission.
    l.handle_message(start + secs(0.1), addr(CLIENT), Transport::Udp, invite);
    assert!(events(&mut l).is_empty());
    // Another CSeq is another transaction.
    l.handle_message(
        start,
        addr(CLIENT),
        Transport::Udp,
        request_with("INVITE", via, "<sip:bob@example.com>", 2, ""),
    );
    let (other, _) = new_request_key(&mut l);
    assert_ne!(key, other);
    // CANCEL of the first INVITE (same fields, CANCEL method).
    l.handle_message(
        start,
        addr(CLIENT),
        Transport::Udp,
        request_with("CANCEL", via, "<sip:bob@example.com>", 1, ""),
    );
    let (ck, _) = new_request_key(&mut l);
    assert_eq!(l.cancel_target(&ck), Some(key.clone()));
    // The ACK must carry the To tag of the final response.
    l.respond(start, &key, response(&got, 486, "bobtag"))
        .unwrap();
    transmits(&mut l);
    let wrong = request_with("ACK", via, "<sip:bob@example.com>;tag=other", 1, "");
    l.handle_message(start + secs(1.0), addr(CLIENT), Transport::Udp, wrong);
    assert!(matches!(only_event(&mut l), Event::StrayAck { .. }));
    assert_eq!(l.state(&key), Some(State::Completed));
    let ack = request_with("ACK", via, "<sip:bob@example.com>;tag=bobtag", 1, "");
    l.handle_message(start + secs(1.0), addr(CLIENT), Transport::Udp, ack);
    assert!(events(&mut l).is_empty());
    assert_eq!(l.state(&key), Some(State::Confirmed));
}

#[test]
fn rfc2543_ack_for_a_reinvite_matches_with_the_dialog_to_tag() {
    let start = Instant::now();
    let mut l = layer();
    let via = "SIP/2.0/UDP 192.0.2.1:5060";
    let to = "<sip:bob@example.com>;tag=dlg";
    l.handle_message(
        start,
        addr(CLIENT),
        Transport::Udp,
        request_with("INVITE", via, to, 5, ""),
    );
    let (key, got) = new_request_key(&mut l);
    l.respond(start, &key, response(&got, 488, "ignored"))
        .unwrap();
    l.handle_message(
        start,
        addr(CLIENT),
        Transport::Udp,
        request_with("ACK", via, to, 5, ""),
    );
    assert!(events(&mut l).is_empty());
    assert_eq!(l.state(&key), Some(State::Confirmed));
}

#[test]
fn stray_ack_and_stray_response_are_passed_up_for_stateless_forwarding() {
    let start = Instant::now();
    let mut l = layer();
    let ack = request_with(
        "ACK",
        "SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK7",
        "<sip:bob@example.com>;tag=x",
        1,
        "",
    );
    l.handle_message(start, addr(CLIENT), Transport::Udp, ack.clone());
    match only_event(&mut l) {
        Event::StrayAck {
            msg,
            from,
            transport,
        } => {
            assert_eq!(msg, ack);
            assert_eq!((from, transport), (addr(CLIENT), Transport::Udp));
        }
        other => panic!("{other:?}"),
    }
    let resp = response(&request("INVITE", "z9hG4bK7", "UDP", 1), 200, "x");
    l.handle_message(start, addr(SERVER), Transport::Udp, resp.clone());
    assert!(matches!(only_event(&mut l), Event::StrayResponse { msg, .. } if msg == resp));
    assert!(l.is_empty());
    // A proxy forwards them with send_stateless.
    l.send_stateless(udp(SERVER), ack.to_bytes());
    assert_eq!(transmits(&mut l)[0].bytes, ack.to_bytes());
}

#[test]
fn invalid_requests_are_passed_up_without_a_transaction() {
    let start = Instant::now();
    let mut l = layer();
    let bad = Message::parse(
        &b"OPTIONS sip:bob@example.com SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1\r\n\
To: <sip:bob@example.com>\r\nFrom: <sip:a@example.com>;tag=1\r\nCSeq: 1 OPTIONS\r\n\r\n"[..],
    )
    .unwrap();
    l.handle_message(start, addr(CLIENT), Transport::Udp, bad);
    assert!(matches!(only_event(&mut l), Event::InvalidRequest { .. }));
    assert!(l.is_empty());
}

#[test]
fn the_transaction_limit_is_enforced() {
    let start = Instant::now();
    let mut l = TransactionLayer::new(Config {
        max_transactions: 1,
        ..Config::default()
    });
    l.handle_message(
        start,
        addr(CLIENT),
        Transport::Udp,
        request("OPTIONS", "z9hG4bK1", "UDP", 1),
    );
    l.handle_message(
        start,
        addr(CLIENT),
        Transport::Udp,
        request("OPTIONS", "z9hG4bK2", "UDP", 2),
    );
    assert_eq!(events(&mut l).len(), 1);
    assert_eq!(
        l.send_request(start, request("OPTIONS", "z9hG4bK3", "UDP", 3), udp(SERVER)),
        Err(Error::TooManyTransactions { limit: 1 })
    );
}

#[test]
fn a_late_wake_up_fires_one_retransmission_and_rearms_from_now() {
    let start = Instant::now();
    let mut l = layer();
    let key = l
        .send_request(start, request("OPTIONS", "z9hG4bK1", "UDP", 1), udp(SERVER))
        .unwrap();
    transmits(&mut l);
    // The runtime oversleeps: 0.5 and 1.5 s have both passed.
    l.handle_timeout(start + secs(2.0));
    assert_eq!(transmits(&mut l).len(), 1);
    assert_eq!(l.poll_timeout(), Some(start + secs(3.0)));
    // Timer F still fires at 32 s, however late the wake-ups are.
    l.handle_timeout(start + secs(40.0));
    assert_eq!(
        events(&mut l),
        vec![
            Event::Timeout { key: key.clone() },
            Event::Terminated { key }
        ]
    );
    assert!(transmits(&mut l).is_empty());
}

#[test]
fn messages_missing_what_matching_needs_are_dropped_or_passed_up_never_panic() {
    let start = Instant::now();
    let mut l = layer();
    l.send_request(start, request("INVITE", "z9hG4bK1", "UDP", 1), udp(SERVER))
        .unwrap();
    transmits(&mut l);
    let inputs: [&[u8]; 5] = [
        // A response without Via: dropped (8.1.3.3).
        b"SIP/2.0 200 OK\r\nTo: <sip:b@example.com>;tag=1\r\nFrom: <sip:a@example.com>;tag=2\r\nCall-ID: c\r\nCSeq: 1 INVITE\r\n\r\n",
        // A response without CSeq: dropped.
        b"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK1\r\nCall-ID: c\r\n\r\n",
        // A response whose Via has no branch: stray.
        b"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 192.0.2.1:5060\r\nCSeq: 1 INVITE\r\nCall-ID: c\r\n\r\n",
        // A request without From: invalid, passed up for a 400.
        b"INVITE sip:b@example.com SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK2\r\nTo: <sip:b@example.com>\r\nCall-ID: c\r\nCSeq: 1 INVITE\r\n\r\n",
        // SIP/3.0: invalid, passed up for a 505.
        b"OPTIONS sip:b@example.com SIP/3.0\r\nVia: SIP/3.0/UDP h;branch=z9hG4bK2\r\nTo: <sip:b@example.com>\r\nFrom: <sip:a@example.com>;tag=1\r\nCall-ID: c\r\nCSeq: 1 OPTIONS\r\n\r\n",
    ];
    for input in inputs {
        let msg = Message::parse(input).unwrap();
        l.handle_message(start, addr(SERVER), Transport::Udp, msg);
    }
    let evs = events(&mut l);
    assert!(matches!(evs[0], Event::StrayResponse { .. }), "{evs:?}");
    assert!(matches!(evs[1], Event::InvalidRequest { .. }), "{evs:?}");
    assert!(matches!(evs[2], Event::InvalidRequest { .. }), "{evs:?}");
    assert_eq!(evs.len(), 3);
    assert_eq!(l.len(), 1);
}

// ---------------------------------------------------------------------------------
// Two layers over a lossy in-memory network

/// Run the pair: the server TU answers each new request with `code` at once; the
/// client TU records responses. Returns the client's events.
fn drive(
    pair: &mut Pair,
    code: u16,
    lose_client: &dyn Fn(usize) -> bool,
    lose_server: &dyn Fn(usize) -> bool,
) -> Vec<(Duration, Event)> {
    let mut client_events = Vec::new();
    for _ in 0..10_000 {
        let moved = pair.deliver(lose_client, lose_server);
        while let Some(e) = pair.server.poll_event() {
            if let Event::NewRequest { key, msg, .. } = e {
                let resp = response(&msg, code, "srv");
                pair.server.respond(pair.now, &key, resp).unwrap();
            }
        }
        while let Some(e) = pair.client.poll_event() {
            client_events.push((pair.now - pair.start, e));
        }
        if !moved && !pair.step_time() {
            break;
        }
    }
    client_events
}

#[test]
fn non_invite_over_lossy_udp_recovers_by_retransmission() {
    let mut pair = Pair::new(Transport::Udp);
    let req = request("MESSAGE", "z9hG4bKnet", "UDP", 1);
    let key = pair
        .client
        .send_request(pair.now, req, udp(SERVER))
        .unwrap();
    // The first two requests and the first response are lost.
    let evs = drive(&mut pair, 200, &|n| n < 2, &|n| n == 0);
    // Sent at 0 (lost), 0.5 (lost), 1.5 (answered, answer lost), 3.5 (answer resent).
    assert_eq!(
        evs[0],
        (
            secs(3.5),
            Event::Response {
                key: key.clone(),
                msg: evs[0].1.clone().into_msg()
            }
        )
    );
    assert_eq!(evs.last().unwrap(), &(secs(8.5), Event::Terminated { key }));
    assert!(pair.client.is_empty());
    assert!(
        pair.server.is_empty(),
        "timer J has ended the server side too"
    );
}

#[test]
fn invite_rejected_over_lossy_udp_is_acked_and_both_sides_end() {
    let mut pair = Pair::new(Transport::Udp);
    let req = request("INVITE", "z9hG4bKnet", "UDP", 1);
    let key = pair
        .client
        .send_request(pair.now, req, udp(SERVER))
        .unwrap();
    // The first 486 is lost (timer A resends the INVITE at 0.5 s, timer G the 486),
    // and so is the first ACK (timer G resends the 486 at 1.5 s, the client ACKs it
    // again).
    let evs = drive(&mut pair, 486, &|n| n == 2, &|n| n == 0);
    let statuses: Vec<_> = evs
        .iter()
        .filter_map(|(_, e)| match e {
            Event::Response { msg, .. } => msg.status(),
            _ => None,
        })
        .collect();
    assert_eq!(statuses, [486], "the final response is passed up once");
    assert_eq!(evs.last().unwrap().1, Event::Terminated { key });
    assert!(pair.client.is_empty() && pair.server.is_empty());
    // Client: timer D runs 32 s from the 486 it got at 0.5 s.
    assert_eq!(evs.last().unwrap().0, secs(32.5));
    assert_eq!(pair.client_sent, 4, "INVITE, INVITE again, ACK (lost), ACK");
}

trait IntoMsg {
    fn into_msg(self) -> Message;
}

impl IntoMsg for Event {
    fn into_msg(self) -> Message {
        match self {
            Event::Response { msg, .. } => msg,
            other => panic!("{other:?}"),
        }
    }
}

#[test]
fn non_invite_server_the_tu_never_answers_is_dropped_after_64_t1() {
    // Not in RFC 3261 (the TU always answers): a guard so that a request the TU drops
    // does not hold memory forever. The client gave up at timer F.
    let mut layer = TransactionLayer::new(Config::default());
    let start = Instant::now();
    let req = Message::parse(
        &b"OPTIONS sip:bob@192.0.2.2 SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKguard\r\n\
Max-Forwards: 70\r\nTo: <sip:bob@example.com>\r\nFrom: <sip:alice@example.com>;tag=g\r\n\
Call-ID: guard@192.0.2.1\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"[..],
    )
    .unwrap();
    layer.handle_message(
        start,
        "192.0.2.1:5060".parse().unwrap(),
        Transport::Udp,
        req,
    );
    assert_eq!(layer.len(), 1);
    layer.handle_timeout(start + Duration::from_secs(31));
    assert_eq!(layer.len(), 1, "still waiting for the TU before 64*T1");
    layer.handle_timeout(start + Duration::from_secs(33));
    assert_eq!(layer.len(), 0, "dropped after 64*T1");
}
