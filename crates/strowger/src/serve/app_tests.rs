//! The server's policy, driven in memory: user agents made of bare transaction layers
//! talk to an [`App`] with a virtual clock; the SQLite store is a real file.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use strowger_core::digest::{answer, Challenge, RequestParts};
use strowger_core::proxy::LocalAddr;
use strowger_core::transaction::{Config, Event, TransactionKey, TransactionLayer};
use strowger_core::transport::{Target, Transport};
use strowger_message::{HeaderName, Message, ResponseBuilder};

use super::app::App;
use super::config::ServeConfig;
use super::metrics::Metrics;
use crate::store::SqliteStore;

const SERVER: &str = "127.0.0.1:5060";
const ALICE: &str = "127.0.0.1:6001";
const BOB: &str = "127.0.0.1:6002";
const BOB2: &str = "127.0.0.1:6003";

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

struct Phone {
    addr: SocketAddr,
    layer: TransactionLayer,
    events: Vec<Event>,
}

struct World {
    now: Instant,
    wall: SystemTime,
    app: App,
    phones: Vec<Phone>,
    db: std::path::PathBuf,
    seq: u32,
}

fn db_path(name: &str) -> std::path::PathBuf {
    std::env::temp_dir().join(format!("strowger-app-{name}-{}.db", std::process::id()))
}

fn app(db: &std::path::Path, redirect: bool) -> App {
    let mut config = ServeConfig {
        domains: vec!["example.com".into()],
        redirect,
        ..ServeConfig::default()
    };
    config.add_user_flag("alice:alicepw").unwrap();
    config.add_user_flag("bob:bobpw").unwrap();
    let local = vec![LocalAddr {
        transport: Transport::Udp,
        host: "127.0.0.1".into(),
        port: 5060,
    }];
    App::new(
        config,
        local,
        SqliteStore::open(db).unwrap(),
        Arc::new(Metrics::default()),
        b"0123456789abcdef0123456789abcdef",
    )
    .unwrap()
}

impl World {
    fn new(name: &str, redirect: bool) -> World {
        let db = db_path(name);
        let _ = std::fs::remove_file(&db);
        World {
            now: Instant::now(),
            wall: SystemTime::now(),
            app: app(&db, redirect),
            phones: [ALICE, BOB, BOB2]
                .iter()
                .map(|a| Phone {
                    addr: addr(a),
                    layer: TransactionLayer::new(Config::default()),
                    events: Vec::new(),
                })
                .collect(),
            db,
            seq: 0,
        }
    }

    fn restart(&mut self) {
        self.app = app(&self.db, false);
    }

    fn phone(&mut self, a: &str) -> &mut Phone {
        let a = addr(a);
        self.phones.iter_mut().find(|p| p.addr == a).unwrap()
    }

    fn run(&mut self) {
        for _ in 0..1000 {
            let mut moved = false;
            while let Some(t) = self.app.poll_transmit() {
                moved = true;
                let m = Message::parse(t.bytes.clone()).unwrap();
                if let Some(p) = self.phones.iter_mut().find(|p| p.addr == t.dest) {
                    p.layer.handle_message_on(
                        self.now,
                        Target::new(addr(SERVER), Transport::Udp),
                        m,
                    );
                }
            }
            for i in 0..self.phones.len() {
                while let Some(t) = self.phones[i].layer.poll_transmit() {
                    moved = true;
                    let from = self.phones[i].addr;
                    let m = Message::parse(t.bytes.clone()).unwrap();
                    if t.dest == addr(SERVER) {
                        self.app.handle_message(
                            self.now,
                            self.wall,
                            Target::new(from, Transport::Udp),
                            m,
                        );
                    }
                }
                while let Some(e) = self.phones[i].layer.poll_event() {
                    self.phones[i].events.push(e);
                }
            }
            if !moved {
                return;
            }
        }
        panic!("never quiet");
    }

    fn send(&mut self, from: &str, text: String) -> Message {
        let m = Message::parse(text.into_bytes()).unwrap();
        let now = self.now;
        self.phone(from)
            .layer
            .send_request(now, m.clone(), Target::new(addr(SERVER), Transport::Udp))
            .unwrap();
        self.run();
        m
    }

    fn last_final(&mut self, a: &str) -> Message {
        let p = self.phone(a);
        let mut out = None;
        p.events.retain(|e| match e {
            Event::Response { msg, .. } if msg.status().is_some_and(|s| s >= 200) => {
                out = Some(msg.clone());
                false
            }
            _ => true,
        });
        out.expect("a final response")
    }

    fn requests(&mut self, a: &str) -> Vec<(TransactionKey, Message)> {
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

    fn branch(&mut self) -> String {
        self.seq += 1;
        format!("z9hG4bKt{}", self.seq)
    }

    fn register_text(
        &mut self,
        user: &str,
        aor: &str,
        from: &str,
        cseq: u32,
        auth: Option<String>,
    ) -> String {
        let b = self.branch();
        let auth = auth
            .map(|a| format!("Authorization: {a}\r\n"))
            .unwrap_or_default();
        format!(
            "REGISTER sip:example.com SIP/2.0\r\nVia: SIP/2.0/UDP {from};branch={b}\r\n\
Max-Forwards: 70\r\nTo: <sip:{aor}@example.com>\r\nFrom: <sip:{user}@example.com>;tag=r{user}\r\n\
Call-ID: reg-{user}-{from}\r\nCSeq: {cseq} REGISTER\r\nContact: <sip:{aor}@{from}>\r\n{auth}Content-Length: 0\r\n\r\n"
        )
    }

    /// Register with digest: 401, then credentials computed from the challenge.
    fn register(&mut self, user: &str, password: &str, aor: &str, from: &str) -> Message {
        let first = self.register_text(user, aor, from, 1, None);
        self.send(from, first);
        let r = self.last_final(from);
        assert_eq!(r.status(), Some(401));
        let ch = r
            .get(HeaderName::WwwAuthenticate)
            .next()
            .unwrap()
            .to_string();
        let ch = Challenge::parse(&ch).unwrap();
        let creds = answer(
            &ch,
            user,
            password,
            &RequestParts {
                method: "REGISTER",
                uri: "sip:example.com",
                body: b"",
            },
            "0a4f113b",
            1,
        )
        .unwrap();
        let second = self.register_text(user, aor, from, 2, Some(creds.to_string()));
        self.send(from, second);
        self.last_final(from)
    }
}

impl Drop for World {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.db);
        let _ = std::fs::remove_file(self.db.with_extension("db-wal"));
        let _ = std::fs::remove_file(self.db.with_extension("db-shm"));
    }
}

#[test]
fn register_is_challenged_then_accepted_and_survives_a_restart_rfc3261_10_3_22() {
    let mut w = World::new("reg", false);
    let r = w.register("bob", "bobpw", "bob", BOB);
    assert_eq!(r.status(), Some(200));
    assert_eq!(r.contacts().count(), 1);
    // Both algorithms are offered, MD5 first by default (see AuthConfig::algorithms).
    let first = w.register_text("bob", "bob", BOB, 3, None);
    w.send(BOB, first);
    let c = w.last_final(BOB);
    let offered: Vec<_> = c
        .get(HeaderName::WwwAuthenticate)
        .map(str::to_string)
        .collect();
    assert_eq!(offered.len(), 2);
    assert!(offered[0].contains("MD5"));
    assert!(offered[1].contains("SHA-256"));
    w.restart();
    assert_eq!(
        w.app.binding_count(w.wall),
        1,
        "the binding was loaded again"
    );
}

#[test]
fn register_without_credentials_is_challenged_statelessly_rfc3261_8_2_7() {
    let mut w = World::new("stateless", false);
    let text = w.register_text("bob", "bob", BOB, 1, None);
    let req = Message::parse(text.into_bytes()).unwrap();
    let mut challenges = Vec::new();
    for _ in 0..2 {
        // The request and a retransmission, straight from the wire.
        w.app.handle_message(
            w.now,
            w.wall,
            Target::new(addr(BOB), Transport::Udp),
            req.clone(),
        );
        let t = w.app.poll_transmit().expect("a challenge");
        assert_eq!(t.dest, addr(BOB));
        assert!(w.app.poll_transmit().is_none());
        challenges.push(Message::parse(t.bytes).unwrap());
        // No transaction was made for it (26.1.5: floods create no state).
        assert_eq!(w.app.transaction_count(), 0);
    }
    for c in &challenges {
        assert_eq!(c.status(), Some(401));
        assert_eq!(c.top_via_branch(), req.top_via_branch());
        assert_eq!(c.cseq(), req.cseq());
        assert_eq!(c.get(HeaderName::WwwAuthenticate).count(), 2);
    }
    // The same To tag both times (derived from the request); each has a fresh nonce.
    assert!(challenges[0].to_tag().is_some());
    assert_eq!(challenges[0].to_tag(), challenges[1].to_tag());
    assert_ne!(
        challenges[0].get(HeaderName::WwwAuthenticate).next(),
        challenges[1].get(HeaderName::WwwAuthenticate).next()
    );
    // Checks that answer first still do: Max-Forwards 0 is 483, statefully.
    let text = w
        .register_text("bob", "bob", BOB, 2, None)
        .replace("Max-Forwards: 70", "Max-Forwards: 0");
    w.send(BOB, text);
    assert_eq!(w.last_final(BOB).status(), Some(483));
}

#[test]
fn wrong_password_gets_a_new_challenge_never_200_rfc3261_22_4() {
    let mut w = World::new("badpw", false);
    let r = w.register("bob", "wrong", "bob", BOB);
    assert_eq!(r.status(), Some(401));
    assert_eq!(w.app.binding_count(w.wall), 0);
}

#[test]
fn registering_someone_elses_aor_is_forbidden_rfc3261_10_3_step_4() {
    let mut w = World::new("other", false);
    let r = w.register("alice", "alicepw", "bob", ALICE);
    assert_eq!(r.status(), Some(403));
}

fn invite_text(
    w: &mut World,
    from_user: &str,
    to: &str,
    auth: Option<String>,
    max_forwards: u8,
) -> String {
    let b = w.branch();
    let auth = auth
        .map(|a| format!("Proxy-Authorization: {a}\r\n"))
        .unwrap_or_default();
    format!(
        "INVITE sip:{to} SIP/2.0\r\nVia: SIP/2.0/UDP {ALICE};branch={b}\r\nMax-Forwards: {max_forwards}\r\n\
To: <sip:{to}>\r\nFrom: <sip:{from_user}>;tag=inv1\r\nCall-ID: call-{b}\r\nCSeq: 1 INVITE\r\n\
Contact: <sip:alice@{ALICE}>\r\n{auth}Content-Length: 0\r\n\r\n"
    )
}

/// INVITE from alice with the 407 round.
fn invite_authenticated(w: &mut World, to: &str) -> Message {
    let t = invite_text(w, "alice@example.com", to, None, 70);
    w.send(ALICE, t);
    let r = w.last_final(ALICE);
    assert_eq!(r.status(), Some(407));
    let ch = Challenge::parse(r.get(HeaderName::ProxyAuthenticate).next().unwrap()).unwrap();
    let uri = format!("sip:{to}");
    let creds = answer(
        &ch,
        "alice",
        "alicepw",
        &RequestParts {
            method: "INVITE",
            uri: &uri,
            body: b"",
        },
        "c0ffee",
        1,
    )
    .unwrap();
    let t = invite_text(w, "alice@example.com", to, Some(creds.to_string()), 70);
    w.send(ALICE, t)
}

#[test]
fn call_to_a_registered_user_is_proxied_to_both_contacts_and_the_loser_cancelled_rfc3261_16() {
    let mut w = World::new("call", false);
    assert_eq!(w.register("bob", "bobpw", "bob", BOB).status(), Some(200));
    // A second contact for bob, another device.
    let first = w.register_text("bob", "bob", BOB2, 1, None);
    w.send(BOB2, first);
    let c = w.last_final(BOB2);
    let ch = Challenge::parse(c.get(HeaderName::WwwAuthenticate).next().unwrap()).unwrap();
    let creds = answer(
        &ch,
        "bob",
        "bobpw",
        &RequestParts {
            method: "REGISTER",
            uri: "sip:example.com",
            body: b"",
        },
        "x",
        1,
    )
    .unwrap();
    let second = w.register_text("bob", "bob", BOB2, 2, Some(creds.to_string()));
    w.send(BOB2, second);
    assert_eq!(w.last_final(BOB2).status(), Some(200));

    invite_authenticated(&mut w, "bob@example.com");
    let (k1, r1) = w.requests(BOB).remove(0);
    let (k2, r2) = w.requests(BOB2).remove(0);
    assert_eq!(
        r1.request_uri_str(),
        Some(format!("sip:bob@{BOB}").as_str())
    );
    assert!(
        r1.header("Proxy-Authorization").is_none(),
        "our credentials are not forwarded (22.3)"
    );
    let now = w.now;
    for (a, k, r) in [(BOB, &k1, &r1), (BOB2, &k2, &r2)] {
        let ringing = ResponseBuilder::new(r, 180).to_tag("b").build().unwrap();
        w.phone(a).layer.respond(now, k, ringing).unwrap();
    }
    w.run();
    let ok = ResponseBuilder::new(&r1, 200).to_tag("b").build().unwrap();
    w.phone(BOB).layer.respond(now, &k1, ok).unwrap();
    w.run();
    assert_eq!(w.last_final(ALICE).status(), Some(200));
    let cancels = w.requests(BOB2);
    assert_eq!(cancels.len(), 1, "the other device gets CANCEL");
    assert_eq!(
        cancels[0].1.method(),
        Some(strowger_message::Method::Cancel)
    );
}

#[test]
fn unregistered_user_is_480_and_unknown_user_404_rfc3261_16_5() {
    let mut w = World::new("nobody", false);
    invite_authenticated(&mut w, "bob@example.com");
    assert_eq!(w.last_final(ALICE).status(), Some(480));
    invite_authenticated(&mut w, "carol@example.com");
    assert_eq!(w.last_final(ALICE).status(), Some(404));
}

#[test]
fn redirect_mode_answers_302_with_the_contacts_rfc3261_8_3() {
    let mut w = World::new("redirect", true);
    assert_eq!(w.register("bob", "bobpw", "bob", BOB).status(), Some(200));
    invite_authenticated(&mut w, "bob@example.com");
    let r = w.last_final(ALICE);
    assert_eq!(r.status(), Some(302));
    assert_eq!(r.contacts().count(), 1);
}

#[test]
fn no_open_relay_for_strangers_rfc3261_16_5() {
    let mut w = World::new("relay", false);
    let t = invite_text(
        &mut w,
        "mallory@evil.example",
        "victim@elsewhere.example",
        None,
        70,
    );
    w.send(ALICE, t);
    assert_eq!(w.last_final(ALICE).status(), Some(403));
}

#[test]
fn max_forwards_zero_is_483_and_a_loop_is_482_rfc3261_16_3() {
    let mut w = World::new("hops", false);
    let t = invite_text(&mut w, "mallory@evil.example", "bob@example.com", None, 0);
    w.send(ALICE, t);
    assert_eq!(w.last_final(ALICE).status(), Some(483));
}

#[test]
fn options_to_the_server_is_answered_with_allow_rfc3261_11() {
    let mut w = World::new("options", false);
    let b = w.branch();
    w.send(
        ALICE,
        format!(
            "OPTIONS sip:example.com SIP/2.0\r\nVia: SIP/2.0/UDP {ALICE};branch={b}\r\nMax-Forwards: 70\r\n\
To: <sip:example.com>\r\nFrom: <sip:x@other.example>;tag=o\r\nCall-ID: opt\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
        ),
    );
    let r = w.last_final(ALICE);
    assert_eq!(r.status(), Some(200));
    assert!(r.header("Allow").unwrap().contains("INVITE"));
}

#[test]
fn expired_nonce_is_stale_and_retried_rfc7616() {
    let mut w = World::new("stale", false);
    let first = w.register_text("bob", "bob", BOB, 1, None);
    w.send(BOB, first);
    let r = w.last_final(BOB);
    let ch = Challenge::parse(r.get(HeaderName::WwwAuthenticate).next().unwrap()).unwrap();
    w.wall += Duration::from_secs(301);
    let creds = answer(
        &ch,
        "bob",
        "bobpw",
        &RequestParts {
            method: "REGISTER",
            uri: "sip:example.com",
            body: b"",
        },
        "x",
        1,
    )
    .unwrap();
    let second = w.register_text("bob", "bob", BOB, 2, Some(creds.to_string()));
    w.send(BOB, second);
    let r = w.last_final(BOB);
    assert_eq!(r.status(), Some(401));
    assert!(r
        .get(HeaderName::WwwAuthenticate)
        .next()
        .unwrap()
        .to_ascii_lowercase()
        .contains("stale=true"));
}

#[test]
fn sip_scanners_get_no_answer() {
    let mut w = World::new("scanner", false);
    let b = w.branch();
    w.send(
        ALICE,
        format!(
            "OPTIONS sip:100@example.com SIP/2.0\r\nVia: SIP/2.0/UDP {ALICE};branch={b}\r\nMax-Forwards: 70\r\n\
To: <sip:100@example.com>\r\nFrom: <sip:100@example.com>;tag=s\r\nCall-ID: scan\r\nCSeq: 1 OPTIONS\r\n\
User-Agent: friendly-scanner\r\nContent-Length: 0\r\n\r\n"
        ),
    );
    assert!(
        !w.phone(ALICE)
            .events
            .iter()
            .any(|e| matches!(e, Event::Response { .. })),
        "a scanner hears nothing"
    );
}
