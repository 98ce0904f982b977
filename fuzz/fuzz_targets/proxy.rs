//! The stateful proxy core (strowger-core `proxy`): any sequence of datagrams, from the
//! upstream side or from the downstream next hop, interleaved with timeouts at
//! advancing virtual instants. The application answers every `ProxyEvent::Request` by
//! forwarding to loopback targets or replying 404, as an input byte says, and the
//! downstream can answer the requests the proxy forwarded with a status the input
//! chooses. Nothing may panic; the layer stays within `max_transactions`; once input
//! stops and time passes, every transaction and response context is gone.
//!
//! Input: segments separated by a NUL byte: two control bytes `c0 c1`, then a message
//! (`Message::parse`; empty or unparsable messages only drive the controls).
//! - c0 bits 0-2: advance the clock by 0, 1 ms, 100 ms, 500 ms, 2 s, 5 s, 32 s or 64 s
//!   and fire the due timers (timer C is 181 s);
//! - c0 bit 3: the message comes from the downstream hop 127.0.0.1:5070 rather than the
//!   upstream client 127.0.0.1:5001;
//! - c0 bits 4-5: the application's answer to new requests: forward to 127.0.0.1:5070
//!   (alternate 127.0.0.1:5071), fork to 5070 and 5072 with a lower-q 5073 after them,
//!   reply 404, or reply 404 then try to forward (which must fail);
//! - c0 bit 6: the downstream answers the newest request the proxy sent it (to the
//!   address it was sent to) with status `STATUSES[c1 & 15]` (and To tag `c1 >> 4`);
//! - c0 bit 7: report a transport error for the transaction of that request.
#![no_main]
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use strowger_core::proxy::{ForwardTarget, LocalAddr, Proxy, ProxyConfig, ProxyEvent};
use strowger_core::transaction::{Config, TransactionKey, TransactionLayer};
use strowger_core::transport::{Target, Transport};
use strowger_message::{Message, ResponseBuilder};

const MAX: usize = 32;
const STEPS_MS: [u64; 8] = [0, 1, 100, 500, 2_000, 5_000, 32_000, 64_000];
const STATUSES: [u16; 16] = [
    100, 180, 183, 200, 202, 302, 401, 407, 404, 408, 486, 487, 500, 503, 600, 603,
];

fn udp(s: &str) -> Target {
    let a: SocketAddr = s.parse().unwrap();
    Target::new(a, Transport::Udp)
}

fn target(uri: &str, dest: &str, q: u16, alternates: &[&str]) -> ForwardTarget {
    ForwardTarget {
        uri: uri.to_string(),
        route: Vec::new(),
        dest: udp(dest),
        q,
        alternates: alternates.iter().map(|a| udp(a)).collect(),
    }
}

struct Harness {
    proxy: Proxy,
    now: Instant,
    /// Requests the proxy sent downstream, newest last (at most 8).
    sent: Vec<(Target, Message)>,
}

impl Harness {
    fn fire(&mut self) {
        for _ in 0..4 {
            match self.proxy.poll_timeout() {
                Some(t) if t <= self.now => self.proxy.handle_timeout(self.now),
                _ => break,
            }
        }
    }

    fn drain(&mut self, mode: u8) {
        for _ in 0..1000 {
            let mut moved = false;
            while let Some(t) = self.proxy.poll_transmit() {
                moved = true;
                let Ok(msg) = Message::parse(t.bytes.clone()) else {
                    panic!("the proxy sent bytes that do not parse: {:?}", t.bytes);
                };
                if msg.is_request() {
                    if self.sent.len() == 8 {
                        self.sent.remove(0);
                    }
                    self.sent.push((t.target(), msg));
                }
            }
            while let Some(e) = self.proxy.poll_event() {
                moved = true;
                match e {
                    ProxyEvent::Request { key, msg, source } => self.decide(mode, &key, &msg, source),
                    ProxyEvent::Stateless { msg } => {
                        self.proxy.send_stateless(udp("127.0.0.1:5070"), &msg)
                    }
                    ProxyEvent::ResolveAndSend { .. } => {}
                }
            }
            assert!(
                self.proxy.layer().len() <= MAX,
                "{} transactions",
                self.proxy.layer().len()
            );
            if !moved {
                return;
            }
        }
        panic!("the proxy never went quiet");
    }

    fn decide(&mut self, mode: u8, key: &TransactionKey, msg: &Message, source: Target) {
        let now = self.now;
        let one = || vec![target("sip:bob@127.0.0.1:5070", "127.0.0.1:5070", 1000, &["127.0.0.1:5071"])];
        match mode & 3 {
            0 => {
                let _ = self.proxy.forward(now, key, one(), source.transport);
            }
            1 => {
                let targets = vec![
                    target("sip:bob@127.0.0.1:5070", "127.0.0.1:5070", 1000, &[]),
                    target("sip:bob@127.0.0.1:5072;transport=udp", "127.0.0.1:5072", 1000, &[]),
                    target("sip:bob@127.0.0.1:5073", "127.0.0.1:5073", 500, &["127.0.0.1:5074"]),
                ];
                let _ = self.proxy.forward(now, key, targets, source.transport);
            }
            _ => {
                let replied = self.proxy.reply(now, key, 404, None, &[]);
                if mode & 3 == 3 && replied.is_ok() {
                    let r = self.proxy.forward(now, key, one(), source.transport);
                    let _ = (r, msg);
                }
            }
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let layer = TransactionLayer::new(Config {
        max_transactions: MAX,
        ..Config::default()
    });
    let config = ProxyConfig {
        local: vec![LocalAddr {
            transport: Transport::Udp,
            host: "127.0.0.1".into(),
            port: 5060,
        }],
        ..ProxyConfig::default()
    };
    let mut h = Harness {
        proxy: Proxy::new(layer, config),
        now: Instant::now(),
        sent: Vec::new(),
    };
    for segment in data.split(|&b| b == 0).take(256) {
        let (c0, c1, bytes) = match segment {
            [c0, c1, rest @ ..] => (*c0, *c1, rest),
            [c0] => (*c0, 0, &[][..]),
            [] => continue,
        };
        let mode = (c0 >> 4) & 3;
        h.now += Duration::from_millis(STEPS_MS[usize::from(c0 & 7)]);
        h.fire();
        h.drain(mode);
        if c0 & 0x40 != 0 {
            if let Some((dest, req)) = h.sent.last().cloned() {
                let status = STATUSES[usize::from(c1 & 15)];
                let tag = format!("d{}", c1 >> 4);
                if let Ok(resp) = ResponseBuilder::new(&req, status).to_tag(&tag).build() {
                    h.proxy.handle_message(h.now, dest, resp);
                    h.drain(mode);
                }
            }
        }
        if c0 & 0x80 != 0 {
            if let Some(key) = h.sent.last().and_then(|(_, r)| TransactionKey::client(r)) {
                h.proxy.transport_error(h.now, &key);
                h.drain(mode);
            }
        }
        if let Ok(msg) = Message::parse(bytes.to_vec()) {
            let from = if c0 & 0x08 != 0 {
                udp("127.0.0.1:5070")
            } else {
                udp("127.0.0.1:5001")
            };
            h.proxy.handle_message(h.now, from, msg);
            h.drain(mode);
        }
    }

    // No more input: every branch ends by a timeout (timer C, then B/F/H), and so
    // does every response context.
    for _ in 0..20 {
        h.now += Duration::from_secs(64);
        h.fire();
        h.drain(2);
    }
    assert_eq!(h.proxy.active_contexts(), 0, "response contexts left after 20 minutes");
    assert!(
        h.proxy.layer().is_empty(),
        "{} transactions left after 20 minutes",
        h.proxy.layer().len()
    );
});
