//! Test network for user agents: several `UserAgent`s (and a hand-written forking
//! proxy) joined by an in-memory network with a virtual clock, quinn-style. Every
//! datagram is logged; a loss rule decides which ones the network drops.
#![allow(dead_code)]

use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use strowger_core::transport::Transport;
use strowger_core::ua::{Config, Event, UserAgent};
use strowger_message::Message;

pub const ALICE: &str = "192.0.2.1:5060";
pub const BOB: &str = "192.0.2.2:5060";
pub const CAROL: &str = "192.0.2.3:5060";
pub const PROXY: &str = "192.0.2.9:5060";

pub fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

pub fn secs(s: f64) -> Duration {
    Duration::from_secs_f64(s)
}

/// One datagram on the wire.
#[derive(Debug, Clone)]
pub struct Sent {
    pub at: Duration,
    pub from: SocketAddr,
    pub to: SocketAddr,
    pub msg: Message,
    pub lost: bool,
}

impl Sent {
    pub fn method(&self) -> Option<String> {
        self.msg.method().map(|m| m.as_str().to_string())
    }

    pub fn status(&self) -> Option<u16> {
        self.msg.status()
    }

    /// "INVITE", "ACK", ... for requests; "200 INVITE", "487 INVITE" for responses.
    pub fn label(&self) -> String {
        match self.msg.status() {
            Some(code) => format!(
                "{code} {}",
                self.msg
                    .cseq()
                    .map(|c| c.method.as_str().to_string())
                    .unwrap_or_default()
            ),
            None => self.method().unwrap_or_default(),
        }
    }
}

/// A stateless proxy that forks INVITE and CANCEL to every target and sends responses
/// back along the Via (sections 16.11, 16.6 in miniature).
pub struct ForkingProxy {
    pub addr: SocketAddr,
    pub targets: Vec<SocketAddr>,
    out: VecDeque<(SocketAddr, Bytes)>,
}

impl ForkingProxy {
    pub fn new(addr: SocketAddr, targets: Vec<SocketAddr>) -> Self {
        ForkingProxy {
            addr,
            targets,
            out: VecDeque::new(),
        }
    }

    fn handle(&mut self, msg: Message) {
        let text = String::from_utf8(msg.as_bytes().to_vec()).unwrap();
        if msg.is_request() {
            let branch = msg.top_via_branch().unwrap_or("z9hG4bKx").to_string();
            let line_end = text.find("\r\n").unwrap() + 2;
            for (i, t) in self.targets.clone().into_iter().enumerate() {
                let via = format!("Via: SIP/2.0/UDP {};branch={branch}.{i}\r\n", self.addr);
                let fwd = format!("{}{via}{}", &text[..line_end], &text[line_end..]);
                self.out.push_back((t, Bytes::from(fwd)));
            }
        } else {
            // Drop our Via (the first line that starts with "Via:"), send to the next.
            let start = text.find("\r\nVia: ").unwrap() + 2;
            let end = start + text[start..].find("\r\n").unwrap() + 2;
            let rest = format!("{}{}", &text[..start], &text[end..]);
            let next = Message::parse(rest.clone().into_bytes()).unwrap();
            let via = next.top_via().unwrap();
            let to: SocketAddr = format!("{}:{}", via.host, via.port.unwrap_or(5060))
                .parse()
                .unwrap();
            self.out.push_back((to, Bytes::from(rest)));
        }
    }
}

type LossRule = Box<dyn FnMut(&Sent) -> bool>;

pub struct Net {
    pub start: Instant,
    pub now: Instant,
    pub uas: BTreeMap<SocketAddr, UserAgent>,
    pub proxies: BTreeMap<SocketAddr, ForkingProxy>,
    pub log: Vec<Sent>,
    pub events: BTreeMap<SocketAddr, Vec<(Duration, Event)>>,
    lose: LossRule,
}

impl Default for Net {
    fn default() -> Self {
        Net::new()
    }
}

impl Net {
    pub fn new() -> Net {
        let start = Instant::now();
        Net {
            start,
            now: start,
            uas: BTreeMap::new(),
            proxies: BTreeMap::new(),
            log: Vec::new(),
            events: BTreeMap::new(),
            lose: Box::new(|_| false),
        }
    }

    /// A UA for `sip:<user>@example.com` at `at`.
    pub fn add(&mut self, user: &str, at: &str) -> SocketAddr {
        let a = addr(at);
        let config = Config::new(&format!("sip:{user}@example.com"), a);
        self.uas.insert(a, UserAgent::new(config));
        a
    }

    pub fn add_ua(&mut self, ua: UserAgent, at: &str) -> SocketAddr {
        let a = addr(at);
        self.uas.insert(a, ua);
        a
    }

    pub fn add_proxy(&mut self, at: &str, targets: &[&str]) {
        let a = addr(at);
        self.proxies.insert(
            a,
            ForkingProxy::new(a, targets.iter().map(|t| addr(t)).collect()),
        );
    }

    pub fn lose(&mut self, rule: impl FnMut(&Sent) -> bool + 'static) {
        self.lose = Box::new(rule);
    }

    pub fn ua(&mut self, at: &str) -> &mut UserAgent {
        self.uas.get_mut(&addr(at)).unwrap()
    }

    pub fn elapsed(&self) -> Duration {
        self.now - self.start
    }

    /// Deliver everything in flight, and what that causes, without moving the clock.
    pub fn run(&mut self) {
        loop {
            let mut moved = false;
            self.collect_events();
            let keys: Vec<SocketAddr> = self.uas.keys().copied().collect();
            for from in keys {
                let mut out = Vec::new();
                while let Some(t) = self.uas.get_mut(&from).unwrap().poll_transmit() {
                    out.push((t.dest, t.bytes));
                }
                for (to, bytes) in out {
                    moved = true;
                    self.deliver(from, to, bytes);
                }
            }
            let keys: Vec<SocketAddr> = self.proxies.keys().copied().collect();
            for from in keys {
                let out: Vec<_> = self.proxies.get_mut(&from).unwrap().out.drain(..).collect();
                for (to, bytes) in out {
                    moved = true;
                    self.deliver(from, to, bytes);
                }
            }
            self.collect_events();
            if !moved {
                break;
            }
        }
    }

    fn deliver(&mut self, from: SocketAddr, to: SocketAddr, bytes: Bytes) {
        let msg = Message::parse(bytes).expect("every transmitted message parses");
        let mut sent = Sent {
            at: self.elapsed(),
            from,
            to,
            msg: msg.clone(),
            lost: false,
        };
        sent.lost = (self.lose)(&sent);
        let lost = sent.lost;
        self.log.push(sent);
        if lost {
            return;
        }
        if let Some(ua) = self.uas.get_mut(&to) {
            ua.handle_message(self.now, from, Transport::Udp, msg);
        } else if let Some(p) = self.proxies.get_mut(&to) {
            p.handle(msg);
        }
    }

    fn collect_events(&mut self) {
        let at = self.elapsed();
        for (a, ua) in self.uas.iter_mut() {
            while let Some(e) = ua.poll_event() {
                self.events.entry(*a).or_default().push((at, e));
            }
        }
    }

    /// Move the clock forward by `d`, firing every timer on the way.
    pub fn advance(&mut self, d: Duration) {
        let until = self.now + d;
        loop {
            self.run();
            let next = self.uas.values_mut().filter_map(|u| u.poll_timeout()).min();
            match next {
                Some(at) if at <= until => {
                    self.now = self.now.max(at);
                    let now = self.now;
                    for ua in self.uas.values_mut() {
                        ua.handle_timeout(now);
                    }
                }
                _ => break,
            }
        }
        self.now = until;
        self.run();
    }

    /// The events of the UA at `at` so far (taken).
    pub fn events(&mut self, at: &str) -> Vec<Event> {
        self.collect_events();
        self.events
            .remove(&addr(at))
            .unwrap_or_default()
            .into_iter()
            .map(|(_, e)| e)
            .collect()
    }

    /// The datagrams from `from` to `to` with this label ("INVITE", "200 INVITE").
    pub fn sent(&self, from: &str, to: &str, label: &str) -> Vec<Sent> {
        self.log
            .iter()
            .filter(|s| s.from == addr(from) && s.to == addr(to) && s.label() == label)
            .cloned()
            .collect()
    }

    /// Every label on the wire, in order, as `from->to label`.
    pub fn trace(&self) -> Vec<String> {
        self.log
            .iter()
            .map(|s| format!("{}->{} {}", s.from.ip(), s.to.ip(), s.label()))
            .collect()
    }
}
