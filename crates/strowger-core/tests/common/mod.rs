//! Test helpers: messages, a virtual clock, and a driver that runs a layer's timers.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use strowger_core::transaction::{Config, Event, TransactionLayer};
use strowger_core::transport::{Target, Transmit, Transport};
use strowger_message::{Message, ResponseBuilder};

pub const CLIENT: &str = "192.0.2.1:5060";
pub const SERVER: &str = "192.0.2.2:5060";

pub fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

pub fn udp(s: &str) -> Target {
    Target::new(addr(s), Transport::Udp)
}

pub fn tcp(s: &str) -> Target {
    Target::new(addr(s), Transport::Tcp)
}

pub fn secs(s: f64) -> Duration {
    Duration::from_secs_f64(s)
}

/// A request as a UA at CLIENT writes it.
pub fn request(method: &str, branch: &str, transport: &str, cseq: u32) -> Message {
    request_with(
        method,
        &format!("SIP/2.0/{transport} {CLIENT};branch={branch}"),
        "<sip:bob@example.com>",
        cseq,
        "",
    )
}

pub fn request_with(method: &str, via: &str, to: &str, cseq: u32, extra: &str) -> Message {
    let text = format!(
        "{method} sip:bob@example.com SIP/2.0\r\n\
         Via: {via}\r\n\
         Max-Forwards: 70\r\n\
         To: {to}\r\n\
         From: Alice <sip:alice@example.com>;tag=1928301774\r\n\
         Call-ID: a84b4c76e66710@pc33.example.com\r\n\
         CSeq: {cseq} {method}\r\n\
         {extra}\
         Content-Length: 0\r\n\r\n"
    );
    Message::parse(text.into_bytes()).unwrap()
}

pub fn response(req: &Message, code: u16, to_tag: &str) -> Message {
    ResponseBuilder::new(req, code)
        .to_tag(to_tag)
        .build()
        .unwrap()
}

pub fn transmits(layer: &mut TransactionLayer) -> Vec<Transmit> {
    std::iter::from_fn(|| layer.poll_transmit()).collect()
}

pub fn events(layer: &mut TransactionLayer) -> Vec<Event> {
    std::iter::from_fn(|| layer.poll_event()).collect()
}

pub fn parsed(t: &Transmit) -> Message {
    Message::parse(t.bytes.clone()).unwrap()
}

pub fn layer() -> TransactionLayer {
    TransactionLayer::new(Config::default())
}

/// Things that happened, with when (relative to the start of the test).
pub type Timeline<T> = Vec<(Duration, T)>;

/// Fire every timer up to `until` (inclusive). Returns the transmits with the instant
/// (relative to `start`) they were made, and the events with theirs. Transmits are
/// dropped: this is the network losing everything.
pub fn run_until(
    layer: &mut TransactionLayer,
    start: Instant,
    until: Instant,
) -> (Timeline<Transmit>, Timeline<Event>) {
    let mut sent = Vec::new();
    let mut evs = Vec::new();
    while let Some(at) = layer.poll_timeout() {
        if at > until {
            break;
        }
        layer.handle_timeout(at);
        for t in transmits(layer) {
            sent.push((at - start, t));
        }
        for e in events(layer) {
            evs.push((at - start, e));
        }
    }
    (sent, evs)
}

pub fn instants(sent: &[(Duration, Transmit)]) -> Vec<Duration> {
    sent.iter().map(|(d, _)| *d).collect()
}

/// An in-memory network between two layers (quinn-style): `drop` decides, for the
/// n-th transmit of a side (0-based), whether the network loses it.
pub struct Pair {
    pub start: Instant,
    pub now: Instant,
    pub client: TransactionLayer,
    pub server: TransactionLayer,
    pub client_sent: usize,
    pub server_sent: usize,
    pub transport: Transport,
}

impl Pair {
    pub fn new(transport: Transport) -> Pair {
        let start = Instant::now();
        Pair {
            start,
            now: start,
            client: layer(),
            server: layer(),
            client_sent: 0,
            server_sent: 0,
            transport,
        }
    }

    /// Deliver what is in flight (once), with the loss rules.
    pub fn deliver(
        &mut self,
        lose_client: &dyn Fn(usize) -> bool,
        lose_server: &dyn Fn(usize) -> bool,
    ) -> bool {
        let mut moved = false;
        while let Some(t) = self.client.poll_transmit() {
            let n = self.client_sent;
            self.client_sent += 1;
            moved = true;
            if !lose_client(n) {
                self.server
                    .handle_message(self.now, addr(CLIENT), self.transport, parsed(&t));
            }
        }
        while let Some(t) = self.server.poll_transmit() {
            let n = self.server_sent;
            self.server_sent += 1;
            moved = true;
            if !lose_server(n) {
                self.client
                    .handle_message(self.now, addr(SERVER), self.transport, parsed(&t));
            }
        }
        moved
    }

    /// Advance the clock to the next timer of either side and fire it.
    pub fn step_time(&mut self) -> bool {
        let next = [self.client.poll_timeout(), self.server.poll_timeout()]
            .into_iter()
            .flatten()
            .min();
        match next {
            Some(at) => {
                self.now = self.now.max(at);
                self.client.handle_timeout(self.now);
                self.server.handle_timeout(self.now);
                true
            }
            None => false,
        }
    }
}
