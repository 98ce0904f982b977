//! The transaction layer (strowger-core `transaction`): any sequence of datagrams from a
//! fixed source, interleaved with timeouts at advancing virtual instants, with a
//! transaction user that answers new requests and starts a few client transactions.
//! Nothing may panic; the layer never holds more than `max_transactions`; once the TU
//! has answered everything and time has passed, the layer is empty again (but for
//! INVITE client transactions in Proceeding, which wait for the TU).
//!
//! Input: segments separated by a NUL byte. The first byte of a segment is a control
//! byte, the rest a message (parsed with `Message::parse`; empty or unparsable
//! messages only advance time). Control:
//! - bits 0-2: advance the clock by 0, 1 ms, 100 ms, 500 ms, 2 s, 5 s, 32 s or 64 s
//!   and fire the due timers;
//! - bit 3: the source is TCP (connection 1) instead of UDP;
//! - bits 4-6: how the TU answers a new request: nothing, 100, 180, 200, 404, 487,
//!   180 then 200, or 503 then 200 (the second must fail);
//! - bit 7: the TU starts a client transaction (INVITE or OPTIONS, branch
//!   `z9hG4bKfuzz0`..`z9hG4bKfuzz3`, to 192.0.2.9:5060) before the message is handled,
//!   so responses in the input can match it.
#![no_main]
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use strowger_core::transaction::{Config, Event, State, TransactionKey, TransactionLayer};
use strowger_core::transport::{Target, Transport};
use strowger_message::{Message, Method, RequestBuilder, ResponseBuilder};

const MAX: usize = 16;
const STEPS_MS: [u64; 8] = [0, 1, 100, 500, 2_000, 5_000, 32_000, 64_000];
const ANSWERS: [&[u16]; 8] = [&[], &[100], &[180], &[200], &[404], &[487], &[180, 200], &[503, 200]];

fn source(control: u8) -> Target {
    let addr: SocketAddr = "192.0.2.1:5060".parse().unwrap();
    if control & 0x08 != 0 {
        let mut t = Target::new(addr, Transport::Tcp);
        t.conn = Some(1);
        t
    } else {
        Target::new(addr, Transport::Udp)
    }
}

fn client_request(n: u32) -> Message {
    let method = if n % 2 == 0 { Method::Invite } else { Method::Options };
    RequestBuilder::new(method, "sip:bob@192.0.2.9")
        .via("UDP", "192.0.2.5:5060", &format!("z9hG4bKfuzz{}", n % 4))
        .from("<sip:alice@example.com>", "fuzztag")
        .to("<sip:bob@example.com>")
        .call_id("fuzz-call")
        .cseq(n + 1)
        .build()
        .expect("client request")
}

struct Harness {
    layer: TransactionLayer,
    now: Instant,
    servers: Vec<TransactionKey>,
    clients: Vec<TransactionKey>,
}

impl Harness {
    fn fire(&mut self) {
        // A timer re-armed while firing waits for the next call: call a few times.
        for _ in 0..4 {
            match self.layer.poll_timeout() {
                Some(t) if t <= self.now => self.layer.handle_timeout(self.now),
                _ => break,
            }
        }
    }

    fn drain(&mut self, answer: &[u16]) {
        while self.layer.poll_transmit().is_some() {}
        let mut rounds = 0;
        while let Some(e) = self.layer.poll_event() {
            rounds += 1;
            assert!(rounds < 10_000, "events never stop");
            match e {
                Event::NewRequest { key, msg, .. } => {
                    if msg.method() == Some(Method::Ack) {
                        panic!("an ACK created a server transaction: {key}");
                    }
                    let mut final_sent = false;
                    for &code in answer {
                        let Ok(resp) = ResponseBuilder::new(&msg, code).to_tag("uas").build()
                        else {
                            continue;
                        };
                        let r = self.layer.respond(self.now, &key, resp);
                        if final_sent && code >= 200 {
                            assert!(r.is_err(), "a second final response was accepted: {key}");
                        }
                        final_sent |= r.is_ok() && code >= 300;
                    }
                    if !self.servers.contains(&key) {
                        self.servers.push(key);
                    }
                }
                Event::Response { .. }
                | Event::Timeout { .. }
                | Event::TransportError { .. }
                | Event::Terminated { .. }
                | Event::AckFor2xx { .. }
                | Event::StrayAck { .. }
                | Event::StrayResponse { .. }
                | Event::InvalidRequest { .. } => {}
            }
            while self.layer.poll_transmit().is_some() {}
        }
        assert!(self.layer.len() <= MAX, "{} transactions", self.layer.len());
    }
}

fuzz_target!(|data: &[u8]| {
    let config = Config {
        max_transactions: MAX,
        ..Config::default()
    };
    let mut h = Harness {
        layer: TransactionLayer::new(config),
        now: Instant::now(),
        servers: Vec::new(),
        clients: Vec::new(),
    };
    let mut client_n = 0u32;
    for segment in data.split(|&b| b == 0).take(256) {
        let Some((&control, bytes)) = segment.split_first() else {
            continue;
        };
        h.now += Duration::from_millis(STEPS_MS[usize::from(control & 7)]);
        h.fire();
        let answer = ANSWERS[usize::from((control >> 4) & 7)];
        h.drain(answer);
        if control & 0x80 != 0 {
            let dest = Target::new("192.0.2.9:5060".parse().unwrap(), Transport::Udp);
            if let Ok(key) = h.layer.send_request(h.now, client_request(client_n), dest) {
                if !h.clients.contains(&key) {
                    h.clients.push(key);
                }
            }
            client_n += 1;
            h.drain(answer);
        }
        if let Ok(msg) = Message::parse(bytes.to_vec()) {
            h.layer.handle_message_on(h.now, source(control), msg);
            h.drain(answer);
        }
    }

    // The TU answers whatever is still open, then time passes: nothing may be left.
    for key in std::mem::take(&mut h.servers) {
        if let Some(req) = h.layer.request(&key).cloned() {
            if let Ok(resp) = ResponseBuilder::new(&req, 500).to_tag("uas").build() {
                let _ = h.layer.respond(h.now, &key, resp);
            }
        }
    }
    h.drain(&[500]);
    for _ in 0..20 {
        h.now += Duration::from_secs(64);
        h.fire();
        h.drain(&[500]);
    }
    // An INVITE client transaction in Proceeding has no timer (17.1.1.2): only a final
    // response ends it, or the TU (a proxy's timer C, a UAC's CANCEL) gives up on it.
    let proceeding = h
        .clients
        .iter()
        .filter(|k| k.is_invite() && h.layer.state(k) == Some(State::Proceeding))
        .count();
    assert_eq!(
        h.layer.len(),
        proceeding,
        "transactions left after the TU answered and 20 minutes passed \
         (besides INVITE client transactions in Proceeding)"
    );
});
