//! The proxy core of RFC 3261 section 16 between user agents made of bare transaction
//! layers, over an in-memory network with a virtual clock.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use strowger_core::proxy::{ForwardTarget, LocalAddr, Proxy, ProxyConfig, ProxyEvent};
use strowger_core::transaction::{Config, Event, TransactionKey, TransactionLayer};
use strowger_core::transport::{Target, Transport};
use strowger_message::{HeaderName, Message, Method, ResponseBuilder};

const PROXY: &str = "127.0.0.1:5060";
const ALICE: &str = "127.0.0.1:5001";
const BOB1: &str = "127.0.0.1:5002";
const BOB2: &str = "127.0.0.1:5003";

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn udp(s: &str) -> Target {
    Target::new(addr(s), Transport::Udp)
}

struct Phone {
    addr: SocketAddr,
    layer: TransactionLayer,
    events: Vec<Event>,
}

struct Net {
    now: Instant,
    proxy: Proxy,
    phones: Vec<Phone>,
    proxy_events: Vec<ProxyEvent>,
    /// Every message that crossed the network: (from, to, message).
    wire: Vec<(SocketAddr, SocketAddr, Message)>,
}

impl Net {
    fn new() -> Net {
        let proxy = Proxy::new(
            TransactionLayer::new(Config::default()),
            ProxyConfig {
                local: vec![LocalAddr {
                    transport: Transport::Udp,
                    host: "127.0.0.1".into(),
                    port: 5060,
                }],
                ..ProxyConfig::default()
            },
        );
        let phones = [ALICE, BOB1, BOB2]
            .iter()
            .map(|a| Phone {
                addr: addr(a),
                layer: TransactionLayer::new(Config::default()),
                events: Vec::new(),
            })
            .collect();
        Net {
            now: Instant::now(),
            proxy,
            phones,
            proxy_events: Vec::new(),
            wire: Vec::new(),
        }
    }

    fn phone(&mut self, a: &str) -> &mut Phone {
        let a = addr(a);
        self.phones.iter_mut().find(|p| p.addr == a).unwrap()
    }

    /// Deliver everything until the network is quiet (no time passes).
    fn run(&mut self) {
        for _ in 0..1000 {
            let mut moved = false;
            while let Some(t) = self.proxy.poll_transmit() {
                moved = true;
                let msg = Message::parse(t.bytes.clone()).unwrap();
                self.wire.push((addr(PROXY), t.dest, msg.clone()));
                if let Some(p) = self.phones.iter_mut().find(|p| p.addr == t.dest) {
                    p.layer.handle_message_on(self.now, udp(PROXY), msg);
                }
            }
            for i in 0..self.phones.len() {
                while let Some(t) = self.phones[i].layer.poll_transmit() {
                    moved = true;
                    let from = self.phones[i].addr;
                    let msg = Message::parse(t.bytes.clone()).unwrap();
                    self.wire.push((from, t.dest, msg.clone()));
                    if t.dest == addr(PROXY) {
                        self.proxy
                            .handle_message(self.now, Target::new(from, Transport::Udp), msg);
                    }
                }
                while let Some(e) = self.phones[i].layer.poll_event() {
                    self.phones[i].events.push(e);
                }
            }
            while let Some(e) = self.proxy.poll_event() {
                self.proxy_events.push(e);
            }
            if !moved {
                return;
            }
        }
        panic!("the network never went quiet");
    }

    fn advance(&mut self, d: Duration) {
        let end = self.now + d;
        loop {
            let mut next = end;
            if let Some(t) = self.proxy.poll_timeout() {
                next = next.min(t);
            }
            for p in &mut self.phones {
                if let Some(t) = p.layer.poll_timeout() {
                    next = next.min(t);
                }
            }
            self.now = next.max(self.now);
            self.proxy.handle_timeout(self.now);
            for p in &mut self.phones {
                p.layer.handle_timeout(self.now);
            }
            self.run();
            if self.now >= end {
                return;
            }
        }
    }

    /// The request the proxy asks the application about.
    fn take_request(&mut self) -> (TransactionKey, Message) {
        let i = self
            .proxy_events
            .iter()
            .position(|e| matches!(e, ProxyEvent::Request { .. }))
            .expect("the proxy passed a request up");
        match self.proxy_events.remove(i) {
            ProxyEvent::Request { key, msg, .. } => (key, msg),
            _ => unreachable!(),
        }
    }

    fn new_requests(&mut self, a: &str) -> Vec<(TransactionKey, Message)> {
        let p = self.phone(a);
        let mut out = Vec::new();
        p.events.retain(|e| match e {
            Event::NewRequest { key, msg, .. } => {
                out.push((key.clone(), msg.clone()));
                false
            }
            _ => true,
        });
        out
    }

    fn responses(&mut self, a: &str) -> Vec<u16> {
        let p = self.phone(a);
        let mut out = Vec::new();
        p.events.retain(|e| match e {
            Event::Response { msg, .. } => {
                out.push(msg.status().unwrap());
                false
            }
            _ => true,
        });
        out
    }

    fn answer(&mut self, a: &str, key: &TransactionKey, req: &Message, code: u16, tag: &str) {
        let now = self.now;
        let mut b = ResponseBuilder::new(req, code).to_tag(tag);
        // A UAS copies Record-Route into dialog-creating responses (12.1.1).
        if code < 300 && req.method() == Some(Method::Invite) {
            for rr in req.get(HeaderName::RecordRoute) {
                b = b.header("Record-Route", rr);
            }
        }
        let r = b.build().unwrap();
        self.phone(a).layer.respond(now, key, r).unwrap();
        self.run();
    }
}

fn invite(extra: &str) -> Message {
    Message::parse(
        format!(
            "INVITE sip:bob@example.com SIP/2.0\r\n\
Via: SIP/2.0/UDP {ALICE};branch=z9hG4bKalice1\r\nMax-Forwards: 70\r\n\
To: <sip:bob@example.com>\r\nFrom: <sip:alice@example.com>;tag=a1\r\n\
Call-ID: call-1@alice\r\nCSeq: 1 INVITE\r\nContact: <sip:alice@{ALICE}>\r\n{extra}Content-Length: 0\r\n\r\n"
        )
        .into_bytes(),
    )
    .unwrap()
}

/// Alice's CANCEL of the INVITE of [`invite`] (section 9.1: its Via, Request-URI,
/// Call-ID, From, To and CSeq number).
fn alice_cancel() -> Message {
    Message::parse(
        format!(
            "CANCEL sip:bob@example.com SIP/2.0\r\nVia: SIP/2.0/UDP {ALICE};branch=z9hG4bKalice1\r\n\
Max-Forwards: 70\r\nTo: <sip:bob@example.com>\r\nFrom: <sip:alice@example.com>;tag=a1\r\n\
Call-ID: call-1@alice\r\nCSeq: 1 CANCEL\r\nContent-Length: 0\r\n\r\n"
        )
        .into_bytes(),
    )
    .unwrap()
}

fn send_from_alice(net: &mut Net, msg: Message) -> TransactionKey {
    let now = net.now;
    let k = net
        .phone(ALICE)
        .layer
        .send_request(now, msg, udp(PROXY))
        .unwrap();
    net.run();
    k
}

/// Alice's INVITE, forwarded by the application to `targets`; the proxy's server key.
fn invite_forwarded_to(net: &mut Net, targets: Vec<ForwardTarget>) -> TransactionKey {
    send_from_alice(net, invite(""));
    let (key, _) = net.take_request();
    let now = net.now;
    net.proxy
        .forward(now, &key, targets, Transport::Udp)
        .unwrap();
    net.run();
    key
}

fn target(uri: &str, dest: &str, q: u16) -> ForwardTarget {
    ForwardTarget {
        uri: uri.into(),
        route: Vec::new(),
        dest: udp(dest),
        q,
        alternates: Vec::new(),
    }
}

#[test]
fn forwards_with_via_record_route_and_max_forwards_and_relays_responses_rfc3261_16_6_16_7() {
    let mut net = Net::new();
    invite_forwarded_to(
        &mut net,
        vec![target(&format!("sip:bob@{BOB1}"), BOB1, 1000)],
    );
    let reqs = net.new_requests(BOB1);
    assert_eq!(reqs.len(), 1);
    let (bk, fwd) = &reqs[0];
    assert_eq!(
        fwd.request_uri_str(),
        Some(format!("sip:bob@{BOB1}").as_str())
    );
    assert_eq!(fwd.max_forwards(), Some(69));
    assert_eq!(fwd.vias().count(), 2);
    assert!(fwd.top_via_branch().unwrap().starts_with("z9hG4bK"));
    assert_eq!(
        fwd.record_routes().next().unwrap().uri.as_str(),
        "sip:127.0.0.1:5060;lr"
    );
    // 100 Trying went upstream at once (16.2).
    assert_eq!(net.responses(ALICE), vec![100]);
    let (bk, fwd) = (bk.clone(), fwd.clone());
    net.answer(BOB1, &bk, &fwd, 180, "b1");
    net.answer(BOB1, &bk, &fwd, 200, "b1");
    assert_eq!(net.responses(ALICE), vec![180, 200]);
    // The responses that reached Alice carry only her Via.
    let last = net
        .wire
        .iter()
        .rev()
        .find(|(_, to, m)| *to == addr(ALICE) && m.status() == Some(200))
        .unwrap();
    assert_eq!(last.2.vias().count(), 1);
    assert_eq!(last.2.record_routes().count(), 1);
}

#[test]
fn parallel_fork_cancels_the_other_branch_after_a_2xx_rfc3261_16_7_step_10() {
    let mut net = Net::new();
    send_from_alice(&mut net, invite(""));
    let (key, _) = net.take_request();
    let now = net.now;
    net.proxy
        .forward(
            now,
            &key,
            vec![
                target("sip:bob@b1", BOB1, 1000),
                target("sip:bob@b2", BOB2, 1000),
            ],
            Transport::Udp,
        )
        .unwrap();
    net.run();
    let (k1, r1) = net.new_requests(BOB1).remove(0);
    let (k2, r2) = net.new_requests(BOB2).remove(0);
    net.answer(BOB1, &k1, &r1, 180, "b1");
    net.answer(BOB2, &k2, &r2, 180, "b2");
    net.answer(BOB1, &k1, &r1, 200, "b1");
    // BOB2 got a CANCEL for its INVITE.
    let cancels = net.new_requests(BOB2);
    assert_eq!(cancels.len(), 1);
    assert_eq!(cancels[0].1.method(), Some(Method::Cancel));
    assert_eq!(cancels[0].1.top_via_branch(), r2.top_via_branch());
    let (ck, c) = cancels[0].clone();
    net.answer(BOB2, &ck, &c, 200, "b2");
    net.answer(BOB2, &k2, &r2, 487, "b2");
    let got = net.responses(ALICE);
    assert!(got.contains(&200));
    assert!(
        !got.contains(&487),
        "the 487 of a cancelled branch is not relayed after a 2xx"
    );
}

#[test]
fn a_2xx_ends_the_context_and_its_retransmissions_still_go_upstream_rfc6026_7_2() {
    let mut net = Net::new();
    let skey = invite_forwarded_to(&mut net, vec![target("sip:bob@b1", BOB1, 1000)]);
    let (k1, r1) = net.new_requests(BOB1).remove(0);
    assert_eq!(net.proxy.active_contexts(), 1);
    net.answer(BOB1, &k1, &r1, 200, "b1");
    assert_eq!(net.responses(ALICE), vec![100, 200]);
    // Nothing waits for an answer any more: the context (the request, its branches)
    // is gone, while both transactions linger in Accepted (64*T1).
    assert_eq!(net.proxy.active_contexts(), 0);
    assert!(net.proxy.layer().state(&skey).is_some());
    assert!(
        net.proxy.layer().request(&skey).is_none(),
        "a transaction keeps no request after its final response"
    );
    // Bob's ACK was lost: his UA core retransmits the 2xx (13.3.1.4), and the proxy
    // relays each retransmission to Alice.
    net.answer(BOB1, &k1, &r1, 200, "b1");
    assert_eq!(net.responses(ALICE), vec![200]);
    // A CANCEL after the answer has no effect but is answered 200 (9.2).
    send_from_alice(&mut net, alice_cancel());
    assert_eq!(net.responses(ALICE), vec![200]);
    assert!(
        net.new_requests(BOB1).is_empty(),
        "nothing to cancel downstream"
    );
    // After 64*T1 every transaction of the call is gone.
    net.advance(Duration::from_secs(33));
    assert_eq!(net.proxy.layer().len(), 0);
}

#[test]
fn best_response_prefers_lowest_class_and_503_becomes_500_rfc3261_16_7_step_6() {
    let mut net = Net::new();
    send_from_alice(&mut net, invite(""));
    let (key, _) = net.take_request();
    let now = net.now;
    net.proxy
        .forward(
            now,
            &key,
            vec![
                target("sip:bob@b1", BOB1, 1000),
                target("sip:bob@b2", BOB2, 1000),
            ],
            Transport::Udp,
        )
        .unwrap();
    net.run();
    let (k1, r1) = net.new_requests(BOB1).remove(0);
    let (k2, r2) = net.new_requests(BOB2).remove(0);
    net.answer(BOB1, &k1, &r1, 503, "b1");
    assert_eq!(
        net.responses(ALICE),
        vec![100],
        "nothing final before all branches end"
    );
    net.answer(BOB2, &k2, &r2, 486, "b2");
    assert_eq!(net.responses(ALICE), vec![486]);

    let mut net = Net::new();
    invite_forwarded_to(&mut net, vec![target("sip:bob@b1", BOB1, 1000)]);
    let (k1, r1) = net.new_requests(BOB1).remove(0);
    net.answer(BOB1, &k1, &r1, 503, "b1");
    assert_eq!(net.responses(ALICE), vec![100, 500]);
}

#[test]
fn six_hundred_cancels_pending_branches_rfc3261_16_7_step_5() {
    let mut net = Net::new();
    send_from_alice(&mut net, invite(""));
    let (key, _) = net.take_request();
    let now = net.now;
    net.proxy
        .forward(
            now,
            &key,
            vec![
                target("sip:bob@b1", BOB1, 1000),
                target("sip:bob@b2", BOB2, 1000),
            ],
            Transport::Udp,
        )
        .unwrap();
    net.run();
    let (k1, r1) = net.new_requests(BOB1).remove(0);
    let (k2, r2) = net.new_requests(BOB2).remove(0);
    net.answer(BOB2, &k2, &r2, 180, "b2");
    net.answer(BOB1, &k1, &r1, 603, "b1");
    let c = net.new_requests(BOB2);
    assert_eq!(c[0].1.method(), Some(Method::Cancel));
    let (ck, cm) = c[0].clone();
    net.answer(BOB2, &ck, &cm, 200, "b2");
    net.answer(BOB2, &k2, &r2, 487, "b2");
    assert_eq!(net.responses(ALICE), vec![100, 180, 603]);
}

#[test]
fn challenges_of_all_branches_are_aggregated_rfc3261_16_7_step_7() {
    let mut net = Net::new();
    send_from_alice(&mut net, invite(""));
    let (key, _) = net.take_request();
    let now = net.now;
    net.proxy
        .forward(
            now,
            &key,
            vec![
                target("sip:bob@b1", BOB1, 1000),
                target("sip:bob@b2", BOB2, 1000),
            ],
            Transport::Udp,
        )
        .unwrap();
    net.run();
    let (k1, r1) = net.new_requests(BOB1).remove(0);
    let (k2, r2) = net.new_requests(BOB2).remove(0);
    let now = net.now;
    let a = ResponseBuilder::new(&r1, 401)
        .to_tag("b1")
        .header("WWW-Authenticate", "Digest realm=\"one\", nonce=\"1\"")
        .build()
        .unwrap();
    net.phone(BOB1).layer.respond(now, &k1, a).unwrap();
    let b = ResponseBuilder::new(&r2, 407)
        .to_tag("b2")
        .header("Proxy-Authenticate", "Digest realm=\"two\", nonce=\"2\"")
        .build()
        .unwrap();
    net.phone(BOB2).layer.respond(now, &k2, b).unwrap();
    net.run();
    let final_msg = net
        .wire
        .iter()
        .rev()
        .find(|(_, to, m)| *to == addr(ALICE) && m.status().is_some_and(|s| s >= 400))
        .unwrap()
        .2
        .clone();
    assert_eq!(final_msg.get(HeaderName::WwwAuthenticate).count(), 1);
    assert_eq!(final_msg.get(HeaderName::ProxyAuthenticate).count(), 1);
}

#[test]
fn sequential_forking_by_q_tries_the_next_group_after_failure_rfc3261_16_6() {
    let mut net = Net::new();
    send_from_alice(&mut net, invite(""));
    let (key, _) = net.take_request();
    let now = net.now;
    net.proxy
        .forward(
            now,
            &key,
            vec![
                target("sip:bob@b2", BOB2, 500),
                target("sip:bob@b1", BOB1, 1000),
            ],
            Transport::Udp,
        )
        .unwrap();
    net.run();
    assert!(net.new_requests(BOB2).is_empty(), "q=0.5 waits for q=1.0");
    let (k1, r1) = net.new_requests(BOB1).remove(0);
    net.answer(BOB1, &k1, &r1, 486, "b1");
    let (k2, r2) = net.new_requests(BOB2).remove(0);
    net.answer(BOB2, &k2, &r2, 200, "b2");
    assert_eq!(net.responses(ALICE), vec![100, 200]);
}

#[test]
fn cancel_from_upstream_is_answered_and_propagated_rfc3261_16_10() {
    let mut net = Net::new();
    let inv = invite("");
    send_from_alice(&mut net, inv.clone());
    let (key, _) = net.take_request();
    let now = net.now;
    net.proxy
        .forward(
            now,
            &key,
            vec![target("sip:bob@b1", BOB1, 1000)],
            Transport::Udp,
        )
        .unwrap();
    net.run();
    let (k1, r1) = net.new_requests(BOB1).remove(0);
    net.answer(BOB1, &k1, &r1, 180, "b1");
    // Alice cancels.
    send_from_alice(&mut net, alice_cancel());
    let c = net.new_requests(BOB1);
    assert_eq!(c.len(), 1);
    assert_eq!(c[0].1.method(), Some(Method::Cancel));
    let (ck, cm) = c[0].clone();
    net.answer(BOB1, &ck, &cm, 200, "b1");
    net.answer(BOB1, &k1, &r1, 487, "b1");
    let got = net.responses(ALICE);
    assert!(got.contains(&200), "the CANCEL is answered: {got:?}");
    assert!(got.contains(&487), "the INVITE ends with 487: {got:?}");
}

#[test]
fn max_forwards_zero_gets_483_and_proxy_require_gets_420_rfc3261_16_3() {
    let mut net = Net::new();
    let m = invite("").edit().set("Max-Forwards", "0").finish().unwrap();
    send_from_alice(&mut net, m);
    assert_eq!(net.responses(ALICE), vec![483]);
    assert!(net.proxy_events.is_empty());

    let mut net = Net::new();
    send_from_alice(&mut net, invite("Proxy-Require: foo, bar\r\n"));
    assert_eq!(net.responses(ALICE), vec![420]);
    let r = net
        .wire
        .iter()
        .rev()
        .find(|(_, to, m)| *to == addr(ALICE) && m.status() == Some(420))
        .unwrap();
    assert_eq!(r.2.header("Unsupported"), Some("foo, bar"));
}

#[test]
fn a_request_that_comes_back_unchanged_is_a_loop_rfc3261_16_3_step_4() {
    let mut net = Net::new();
    send_from_alice(&mut net, invite(""));
    let (key, _) = net.take_request();
    let now = net.now;
    // Misconfiguration: the target is the proxy itself, with the same Request-URI.
    net.proxy
        .forward(
            now,
            &key,
            vec![target("sip:bob@example.com", PROXY, 1000)],
            Transport::Udp,
        )
        .unwrap();
    // Deliver the proxy's own request back to it.
    for _ in 0..10 {
        let mut sent = Vec::new();
        while let Some(t) = net.proxy.poll_transmit() {
            sent.push(t);
        }
        if sent.is_empty() {
            break;
        }
        for t in sent {
            let m = Message::parse(t.bytes.clone()).unwrap();
            if t.dest == addr(PROXY) {
                let now = net.now;
                net.proxy.handle_message(now, udp(PROXY), m);
            } else if let Some(p) = net.phones.iter_mut().find(|p| p.addr == t.dest) {
                p.layer.handle_message_on(net.now, udp(PROXY), m);
            }
        }
    }
    net.run();
    assert!(net.responses(ALICE).contains(&482));
}

#[test]
fn timer_c_cancels_a_ringing_branch_rfc3261_16_8() {
    let mut net = Net::new();
    invite_forwarded_to(&mut net, vec![target("sip:bob@b1", BOB1, 1000)]);
    let (k1, r1) = net.new_requests(BOB1).remove(0);
    net.answer(BOB1, &k1, &r1, 180, "b1");
    net.advance(Duration::from_secs(180));
    assert!(
        net.new_requests(BOB1).is_empty(),
        "no CANCEL before timer C"
    );
    net.advance(Duration::from_secs(2));
    let c = net.new_requests(BOB1);
    assert_eq!(c.len(), 1);
    assert_eq!(c[0].1.method(), Some(Method::Cancel));
    // BOB1 answers neither the CANCEL nor the INVITE: the next timer C gives up on the
    // branch (9.1: the INVITE is considered cancelled and its transaction destroyed),
    // ALICE gets 408 and nothing is left behind.
    let client = TransactionKey::client(&r1).unwrap();
    assert!(net.proxy.layer().state(&client).is_some());
    net.advance(Duration::from_secs(182));
    assert_eq!(net.responses(ALICE).last(), Some(&408));
    assert_eq!(net.proxy.active_contexts(), 0);
    assert!(net.proxy.layer().state(&client).is_none());
}

#[test]
fn route_to_us_is_removed_and_ack_for_2xx_is_passed_up_for_stateless_forwarding_rfc3261_16_4_16_11()
{
    let mut net = Net::new();
    let ack = Message::parse(
        format!(
            "ACK sip:bob@{BOB1} SIP/2.0\r\nVia: SIP/2.0/UDP {ALICE};branch=z9hG4bKack1\r\n\
Route: <sip:127.0.0.1:5060;lr>\r\nMax-Forwards: 70\r\nTo: <sip:bob@example.com>;tag=b1\r\n\
From: <sip:alice@example.com>;tag=a1\r\nCall-ID: call-1@alice\r\nCSeq: 1 ACK\r\nContent-Length: 0\r\n\r\n"
        )
        .into_bytes(),
    )
    .unwrap();
    let now = net.now;
    net.proxy.handle_message(now, udp(ALICE), ack);
    net.run();
    let ev = net.proxy_events.iter().find_map(|e| match e {
        ProxyEvent::Stateless { msg } => Some(msg.clone()),
        _ => None,
    });
    let fwd = ev.expect("the ACK is handed up");
    assert_eq!(fwd.routes().count(), 0, "our Route is removed (16.4)");
    assert_eq!(fwd.max_forwards(), Some(69));
    assert_eq!(fwd.vias().count(), 2);
}

#[test]
fn a_503_fails_over_to_the_next_address_rfc3263_4_3() {
    let mut net = Net::new();
    send_from_alice(&mut net, invite(""));
    let (key, _) = net.take_request();
    let now = net.now;
    let mut t = target("sip:bob@example.com", BOB1, 1000);
    t.alternates = vec![udp(BOB2)];
    net.proxy
        .forward(now, &key, vec![t], Transport::Udp)
        .unwrap();
    net.run();
    let (k1, r1) = net.new_requests(BOB1).remove(0);
    net.answer(BOB1, &k1, &r1, 503, "b1");
    let (k2, r2) = net.new_requests(BOB2).remove(0);
    assert_ne!(r2.top_via_branch(), r1.top_via_branch(), "a new branch");
    net.answer(BOB2, &k2, &r2, 200, "b2");
    assert_eq!(net.responses(ALICE), vec![100, 200]);
}

#[test]
fn an_unreachable_next_hop_fails_over_after_timer_b_rfc3263_4_3() {
    let mut net = Net::new();
    send_from_alice(&mut net, invite(""));
    let (key, _) = net.take_request();
    let now = net.now;
    // Nobody listens at 127.0.0.1:5999: the branch times out without a response.
    let mut t = target("sip:bob@example.com", "127.0.0.1:5999", 1000);
    t.alternates = vec![udp(BOB1)];
    net.proxy
        .forward(now, &key, vec![t], Transport::Udp)
        .unwrap();
    net.run();
    assert!(net.new_requests(BOB1).is_empty());
    net.advance(Duration::from_secs(33));
    let (k1, r1) = net.new_requests(BOB1).remove(0);
    net.answer(BOB1, &k1, &r1, 486, "b1");
    let got = net.responses(ALICE);
    assert_eq!(got.last(), Some(&486), "{got:?}");
}
