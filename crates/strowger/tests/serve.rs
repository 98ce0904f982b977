//! `strowger serve` as a process on loopback, driven by user agents written here on
//! plain UDP sockets: registration with digest authentication, a call through the
//! proxy with forking, persistence across a restart, and the answers to bad input.

use std::io::{BufRead, BufReader};
use std::net::UdpSocket;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use strowger_core::digest::{answer, Challenge, RequestParts};
use strowger_message::{HeaderName, Message, Method, ResponseBuilder};

struct Server {
    child: Child,
    port: u16,
}

impl Server {
    fn start(db: &Path, extra: &[&str]) -> Server {
        Self::start_at(db, 0, extra)
    }

    fn start_at(db: &Path, port: u16, extra: &[&str]) -> Server {
        let listen = format!("udp:127.0.0.1:{port}");
        let mut args = vec![
            "serve",
            "--listen",
            &listen,
            "--domain",
            "example.com",
            "--db",
            db.to_str().unwrap(),
            "--user",
            "alice:alicepw",
            "--user",
            "bob:bobpw",
            "--workers",
            "2",
            "--log",
            "warn",
        ];
        args.extend_from_slice(extra);
        let mut child = Command::new(env!("CARGO_BIN_EXE_strowger"))
            .args(&args)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("strowger starts");
        let out = child.stdout.take().unwrap();
        let mut line = String::new();
        BufReader::new(out).read_line(&mut line).unwrap();
        // "listening on udp:127.0.0.1:PORT"
        let port = line
            .trim()
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"));
        Server { child, port }
    }

    fn stop(mut self) {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                assert!(status.success(), "serve exits cleanly on SIGTERM: {status}");
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        panic!("serve did not stop within 10 s of SIGTERM");
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

struct Ua {
    sock: UdpSocket,
    port: u16,
    server: u16,
    seq: u32,
}

impl Ua {
    fn new(server: u16) -> Ua {
        let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
        sock.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let port = sock.local_addr().unwrap().port();
        Ua {
            sock,
            port,
            server,
            seq: 0,
        }
    }

    fn send(&self, text: &str) {
        self.sock
            .send_to(text.as_bytes(), ("127.0.0.1", self.server))
            .unwrap();
    }

    fn send_msg(&self, m: &Message) {
        self.sock
            .send_to(m.as_bytes(), ("127.0.0.1", self.server))
            .unwrap();
    }

    /// The next message, skipping 100 Trying and retransmissions the filter refuses.
    fn recv_where(&self, what: &str, f: impl Fn(&Message) -> bool) -> Message {
        let deadline = Instant::now() + Duration::from_secs(5);
        let mut buf = vec![0u8; 65_536];
        loop {
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            let Ok((n, _)) = self.sock.recv_from(&mut buf) else {
                panic!("timed out waiting for {what}");
            };
            let m = Message::parse(buf[..n].to_vec()).expect("the server sends valid SIP");
            if m.status() == Some(100) {
                continue;
            }
            if f(&m) {
                return m;
            }
        }
    }

    fn final_response(&self) -> Message {
        self.recv_where("a final response", |m| m.status().is_some_and(|s| s >= 200))
    }

    fn branch(&mut self) -> String {
        self.seq += 1;
        format!("z9hG4bK{}x{}", self.port, self.seq)
    }

    fn register(
        &mut self,
        user: &str,
        aor: &str,
        cseq: u32,
        auth: Option<&str>,
        contact: bool,
    ) -> String {
        let b = self.branch();
        let auth = auth
            .map(|a| format!("Authorization: {a}\r\n"))
            .unwrap_or_default();
        let contact = if contact {
            format!("Contact: <sip:{aor}@127.0.0.1:{}>\r\n", self.port)
        } else {
            String::new()
        };
        format!(
            "REGISTER sip:example.com SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:{p};branch={b};rport\r\n\
Max-Forwards: 70\r\nTo: <sip:{aor}@example.com>\r\nFrom: <sip:{user}@example.com>;tag=r{p}\r\n\
Call-ID: reg{p}@127.0.0.1\r\nCSeq: {cseq} REGISTER\r\n{contact}{auth}Content-Length: 0\r\n\r\n",
            p = self.port
        )
    }

    /// REGISTER with the digest round; returns the final response.
    fn register_with(&mut self, user: &str, password: &str, aor: &str, contact: bool) -> Message {
        let first = self.register(user, aor, 1, None, contact);
        self.send(&first);
        let r = self.final_response();
        assert_eq!(
            r.status(),
            Some(401),
            "a REGISTER without credentials is challenged"
        );
        let ch = Challenge::parse(r.get(HeaderName::WwwAuthenticate).next().unwrap()).unwrap();
        let creds = answer(
            &ch,
            user,
            password,
            &RequestParts {
                method: "REGISTER",
                uri: "sip:example.com",
                body: b"",
            },
            "a1b2c3",
            1,
        )
        .unwrap();
        let second = self.register(user, aor, 2, Some(&creds.to_string()), contact);
        self.send(&second);
        self.final_response()
    }
}

fn temp_db(name: &str) -> PathBuf {
    let p = std::env::temp_dir().join(format!("strowger-serve-{name}-{}.db", std::process::id()));
    for ext in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{ext}", p.display()));
    }
    p
}

#[test]
fn options_is_answered_and_registration_needs_the_right_password_rfc3261_10_3_22() {
    let db = temp_db("reg");
    let server = Server::start(&db, &[]);
    let mut bob = Ua::new(server.port);
    bob.send(&format!(
        "OPTIONS sip:example.com SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:{p};branch=z9hG4bKo1\r\n\
Max-Forwards: 70\r\nTo: <sip:example.com>\r\nFrom: <sip:bob@example.com>;tag=o\r\nCall-ID: o1\r\n\
CSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n",
        p = bob.port
    ));
    let r = bob.final_response();
    assert_eq!(r.status(), Some(200));
    assert!(r.header("Allow").unwrap().contains("REGISTER"));

    // A wrong password gets a new challenge, never a 200.
    let r = bob.register_with("bob", "wrong", "bob", true);
    assert_eq!(r.status(), Some(401));
    // Someone else's AOR is forbidden.
    let mut alice = Ua::new(server.port);
    let r = alice.register_with("alice", "alicepw", "bob", true);
    assert_eq!(r.status(), Some(403));
    // The right password registers.
    let r = bob.register_with("bob", "bobpw", "bob", true);
    assert_eq!(r.status(), Some(200));
    assert_eq!(r.contacts().count(), 1);
    server.stop();
}

#[test]
fn registrations_survive_a_restart() {
    let db = temp_db("restart");
    let server = Server::start(&db, &[]);
    let mut bob = Ua::new(server.port);
    assert_eq!(
        bob.register_with("bob", "bobpw", "bob", true).status(),
        Some(200)
    );
    let port = server.port;
    server.stop();
    let server = Server::start_at(&db, port, &[]);
    // A query (REGISTER without Contact) lists the binding loaded from the database.
    let r = bob.register_with("bob", "bobpw", "bob", false);
    assert_eq!(r.status(), Some(200));
    let contacts: Vec<String> = r
        .contacts()
        .map(|c| match c {
            strowger_message::Contact::Addr(a) => a.uri.as_str().to_string(),
            strowger_message::Contact::Star => "*".into(),
        })
        .collect();
    assert_eq!(contacts, vec![format!("sip:bob@127.0.0.1:{}", bob.port)]);
    server.stop();
}

/// `--db :memory:`: no database file; bindings are served from memory and go with the
/// process (as usrloc's `db_mode` 0).
#[test]
fn a_memory_location_service_registers_and_forgets_at_a_restart() {
    let db = Path::new(":memory:");
    let server = Server::start(db, &[]);
    let mut bob = Ua::new(server.port);
    assert_eq!(
        bob.register_with("bob", "bobpw", "bob", true).status(),
        Some(200)
    );
    let r = bob.register_with("bob", "bobpw", "bob", false);
    assert_eq!(r.status(), Some(200));
    assert_eq!(r.contacts().count(), 1, "the query lists the binding");
    let port = server.port;
    server.stop();
    assert!(!db.exists(), "no file named :memory: was created");
    let server = Server::start_at(db, port, &[]);
    let r = bob.register_with("bob", "bobpw", "bob", false);
    assert_eq!(r.status(), Some(200));
    assert_eq!(r.contacts().count(), 0, "nothing survived the restart");
    server.stop();
}

/// A server that restarts under load must not lose what arrives while it starts: the
/// first request that reaches its port is answered, however long the users and the
/// location service take to load (here 60 000 users). Before, the sockets opened first
/// and the receive threads dropped what they read until the rest was ready, so the
/// first requests were answered only after their senders' retransmission (500 ms).
#[test]
fn the_first_request_that_reaches_the_port_is_answered_even_while_the_server_starts() {
    let db = temp_db("early");
    let users = db.with_extension("users.csv");
    let mut text = String::from("SEQUENTIAL\n");
    for i in 0..60_000 {
        text.push_str(&format!("user{i};pw{i}\n"));
    }
    std::fs::write(&users, text).unwrap();
    // A port free a moment ago; the client aims at it before the server binds it.
    let port = UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let ua = UdpSocket::bind("127.0.0.1:0").unwrap();
    ua.connect(("127.0.0.1", port)).unwrap();
    let me = ua.local_addr().unwrap().port();
    let listen = format!("udp:127.0.0.1:{port}");
    let child = Command::new(env!("CARGO_BIN_EXE_strowger"))
        .args(["serve", "--listen", &listen, "--domain", "example.com"])
        .args(["--db", db.to_str().unwrap(), "--users-file"])
        .arg(&users)
        .args(["--workers", "2", "--log", "warn"])
        .stdout(Stdio::null())
        .spawn()
        .expect("strowger starts");
    // Killed when dropped, also when an assertion fails.
    let server = Server { child, port };
    // Send OPTIONS until one is not refused: on loopback, a datagram to a port nobody
    // has bound comes back at once as ICMP port unreachable, which the next receive on
    // the connected socket reports. The first one not refused reached the bound port.
    let options = |i: u32| {
        format!(
            "OPTIONS sip:example.com SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:{me};branch=z9hG4bKe{i}\r\n\
Max-Forwards: 70\r\nTo: <sip:example.com>\r\nFrom: <sip:bob@example.com>;tag=e\r\n\
Call-ID: early{i}\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
        )
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut landed = None;
    let mut buf = vec![0u8; 65_536];
    for i in 0.. {
        assert!(Instant::now() < deadline, "the server never bound its port");
        let _ = ua.send(options(i).as_bytes());
        std::thread::sleep(Duration::from_millis(2));
        ua.set_nonblocking(true).unwrap();
        let refused = matches!(ua.recv(&mut buf), Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused);
        ua.set_nonblocking(false).unwrap();
        if !refused {
            landed = Some(i);
            break;
        }
    }
    let landed = landed.unwrap();
    // No retransmission: the one datagram must be answered.
    ua.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let n = ua.recv(&mut buf).expect("the first request is answered");
    let r = Message::parse(buf[..n].to_vec()).expect("the server sends valid SIP");
    assert_eq!(r.status(), Some(200));
    assert_eq!(r.header("Call-ID"), Some(format!("early{landed}").as_str()));
    drop(server);
    let _ = std::fs::remove_file(&users);
}

#[test]
fn bad_requests_get_the_rfc_answers_400_483() {
    let db = temp_db("bad");
    let server = Server::start(&db, &[]);
    let ua = Ua::new(server.port);
    // No To, From or Call-ID: 400 naming the problem (RFC 4475 3.3.1).
    ua.send(&format!(
        "INVITE sip:bob@example.com SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:{p};branch=z9hG4bKb1\r\n\
CSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n",
        p = ua.port
    ));
    let r = ua.final_response();
    assert_eq!(r.status(), Some(400));
    assert!(r.reason().unwrap().contains("To"), "{:?}", r.reason());
    // Max-Forwards 0 (RFC 4475 3.3.11 for a proxy).
    ua.send(&format!(
        "OPTIONS sip:bob@example.com SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:{p};branch=z9hG4bKb2\r\n\
Max-Forwards: 0\r\nTo: <sip:bob@example.com>\r\nFrom: <sip:x@other.example>;tag=1\r\nCall-ID: b2\r\n\
CSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n",
        p = ua.port
    ));
    assert_eq!(ua.final_response().status(), Some(483));
    // Unsupported version (RFC 4475 3.1.2.16): 505.
    ua.send(&format!(
        "OPTIONS sip:bob@example.com SIP/7.0\r\nVia: SIP/2.0/UDP 127.0.0.1:{p};branch=z9hG4bKb3\r\n\
Max-Forwards: 70\r\nTo: <sip:bob@example.com>\r\nFrom: <sip:x@other.example>;tag=1\r\nCall-ID: b3\r\n\
CSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n",
        p = ua.port
    ));
    assert_eq!(ua.final_response().status(), Some(505));
    // Relaying for a stranger: 403.
    ua.send(&format!(
        "INVITE sip:victim@elsewhere.example SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:{p};branch=z9hG4bKb4\r\n\
Max-Forwards: 70\r\nTo: <sip:victim@elsewhere.example>\r\nFrom: <sip:mallory@evil.example>;tag=1\r\n\
Call-ID: b4\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n",
        p = ua.port
    ));
    assert_eq!(ua.final_response().status(), Some(403));
    server.stop();
}

#[test]
fn a_request_routed_back_to_the_proxy_is_a_loop_482_rfc3261_16_3() {
    let db = temp_db("loop");
    let cfg = std::env::temp_dir().join(format!("strowger-loop-{}.toml", std::process::id()));
    // Every other domain goes to this server itself: a loop.
    let server0 = Server::start(&db, &[]);
    let port = server0.port;
    server0.stop();
    std::fs::write(
        &cfg,
        format!("[[routes]]\ndomain = \"*\"\nvia = \"sip:127.0.0.1:{port}\"\n"),
    )
    .unwrap();
    let server = Server::start_at(&db, port, &["--config", cfg.to_str().unwrap()]);
    let mut alice = Ua::new(server.port);
    let b = alice.branch();
    let b2 = alice.branch();
    let aport = alice.port;
    let invite = |auth: &str| {
        format!(
            "INVITE sip:carol@far.example SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:{p};branch={b}\r\n\
Max-Forwards: 70\r\nTo: <sip:carol@far.example>\r\nFrom: <sip:alice@example.com>;tag=l1\r\n\
Call-ID: loop1\r\nCSeq: {seq} INVITE\r\nContact: <sip:alice@127.0.0.1:{p}>\r\n{auth}Content-Length: 0\r\n\r\n",
            p = aport,
            seq = if auth.is_empty() { 1 } else { 2 }
        )
    };
    alice.send(&invite(""));
    let r = alice.final_response();
    assert_eq!(r.status(), Some(407));
    let ch = Challenge::parse(r.get(HeaderName::ProxyAuthenticate).next().unwrap()).unwrap();
    let creds = answer(
        &ch,
        "alice",
        "alicepw",
        &RequestParts {
            method: "INVITE",
            uri: "sip:carol@far.example",
            body: b"",
        },
        "c",
        1,
    )
    .unwrap();
    // Retry with credentials on a new branch.
    let retry = invite(&format!("Proxy-Authorization: {creds}\r\n")).replace(&b, &b2);
    alice.send(&retry);
    let r = alice.final_response();
    assert_eq!(r.status(), Some(482), "{}", r.start_line());
    server.stop();
    let _ = std::fs::remove_file(cfg);
}

#[test]
fn a_call_forks_to_both_contacts_and_the_other_is_cancelled_rfc3261_16() {
    let db = temp_db("call");
    let server = Server::start(&db, &[]);
    let mut bob1 = Ua::new(server.port);
    let mut bob2 = Ua::new(server.port);
    assert_eq!(
        bob1.register_with("bob", "bobpw", "bob", true).status(),
        Some(200)
    );
    // bob's second device: another Call-ID (its own port is in it).
    assert_eq!(
        bob2.register_with("bob", "bobpw", "bob", true).status(),
        Some(200)
    );

    let mut alice = Ua::new(server.port);
    let sdp = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 40000 RTP/AVP 0\r\n";
    let inv = |auth: &str, branch: &str, cseq: u32, port: u16| {
        format!(
            "INVITE sip:bob@example.com SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:{port};branch={branch}\r\n\
Max-Forwards: 70\r\nTo: <sip:bob@example.com>\r\nFrom: \"Alice\" <sip:alice@example.com>;tag=a1\r\n\
Call-ID: call1@127.0.0.1\r\nCSeq: {cseq} INVITE\r\nContact: <sip:alice@127.0.0.1:{port}>\r\n{auth}\
Content-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{sdp}",
            sdp.len()
        )
    };
    let b1 = alice.branch();
    alice.send(&inv("", &b1, 1, alice.port));
    let r = alice.final_response();
    assert_eq!(r.status(), Some(407));
    // ACK for the 407.
    alice.send(&format!(
        "ACK sip:bob@example.com SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:{p};branch={b1}\r\nMax-Forwards: 70\r\n\
To: {to}\r\nFrom: \"Alice\" <sip:alice@example.com>;tag=a1\r\nCall-ID: call1@127.0.0.1\r\nCSeq: 1 ACK\r\n\
Content-Length: 0\r\n\r\n",
        p = alice.port,
        to = r.get(HeaderName::To).next().unwrap()
    ));
    let ch = Challenge::parse(r.get(HeaderName::ProxyAuthenticate).next().unwrap()).unwrap();
    let creds = answer(
        &ch,
        "alice",
        "alicepw",
        &RequestParts {
            method: "INVITE",
            uri: "sip:bob@example.com",
            body: b"",
        },
        "c",
        1,
    )
    .unwrap();
    let b2 = alice.branch();
    alice.send(&inv(
        &format!("Proxy-Authorization: {creds}\r\n"),
        &b2,
        2,
        alice.port,
    ));

    // Both devices ring.
    let i1 = bob1.recv_where("INVITE at bob1", |m| m.method() == Some(Method::Invite));
    let i2 = bob2.recv_where("INVITE at bob2", |m| m.method() == Some(Method::Invite));
    assert_eq!(
        i1.request_uri_str(),
        Some(format!("sip:bob@127.0.0.1:{}", bob1.port).as_str())
    );
    assert!(
        i1.record_routes().next().is_some(),
        "the proxy records its route"
    );
    assert!(
        i1.header("Proxy-Authorization").is_none(),
        "credentials for our realm are consumed"
    );
    assert_eq!(i1.body(), sdp.as_bytes());
    for (ua, inv) in [(&bob1, &i1), (&bob2, &i2)] {
        let mut b = ResponseBuilder::new(inv, 180).to_tag(&format!("t{}", ua.port));
        for rr in inv.get(HeaderName::RecordRoute) {
            b = b.header("Record-Route", rr);
        }
        ua.send_msg(&b.build().unwrap());
    }
    let ringing = alice.recv_where("180 at alice", |m| m.status() == Some(180));
    assert_eq!(ringing.vias().count(), 1, "the proxy's Via is removed");
    // bob1 answers.
    let mut ok = ResponseBuilder::new(&i1, 200)
        .to_tag(&format!("t{}", bob1.port))
        .header("Contact", &format!("<sip:bob@127.0.0.1:{}>", bob1.port))
        .body("application/sdp", sdp.as_bytes().to_vec());
    for rr in i1.get(HeaderName::RecordRoute) {
        ok = ok.header("Record-Route", rr);
    }
    bob1.send_msg(&ok.build().unwrap());
    let answered = alice.recv_where("200 at alice", |m| m.status() == Some(200));
    assert_eq!(answered.to_tag(), Some(format!("t{}", bob1.port).as_str()));
    // bob2 gets CANCEL and ends its INVITE with 487.
    let cancel = bob2.recv_where("CANCEL at bob2", |m| m.method() == Some(Method::Cancel));
    assert_eq!(cancel.top_via_branch(), i2.top_via_branch());
    bob2.send_msg(&ResponseBuilder::new(&cancel, 200).build().unwrap());
    bob2.send_msg(
        &ResponseBuilder::new(&i2, 487)
            .to_tag(&format!("t{}", bob2.port))
            .build()
            .unwrap(),
    );
    let ack487 = bob2.recv_where("ACK of the 487", |m| m.method() == Some(Method::Ack));
    assert_eq!(ack487.cseq().unwrap().seq, i2.cseq().unwrap().seq);
    // alice ACKs the 2xx through the recorded route; bob1 gets it.
    let route = answered
        .get(HeaderName::RecordRoute)
        .next()
        .unwrap()
        .to_string();
    let ack_branch = alice.branch();
    alice.send(&format!(
        "ACK sip:bob@127.0.0.1:{bp} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:{p};branch={b}\r\nRoute: {route}\r\n\
Max-Forwards: 70\r\nTo: {to}\r\nFrom: \"Alice\" <sip:alice@example.com>;tag=a1\r\n\
Call-ID: call1@127.0.0.1\r\nCSeq: 2 ACK\r\nContent-Length: 0\r\n\r\n",
        bp = bob1.port,
        p = alice.port,
        b = ack_branch,
        to = answered.get(HeaderName::To).next().unwrap()
    ));
    let ack = bob1.recv_where("ACK at bob1", |m| m.method() == Some(Method::Ack));
    assert!(
        ack.routes().next().is_none(),
        "the proxy consumed its Route"
    );
    server.stop();
}
