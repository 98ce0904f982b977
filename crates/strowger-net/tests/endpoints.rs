//! Two endpoints on loopback exchange transactions over every transport (RFC 3261
//! sections 17 and 18, RFC 7118), plus the stream rules: CRLF keep-alive (RFC 5626
//! section 4.4.1), framing errors, retransmission over a lossy UDP path, and the
//! WebSocket subprotocol check.
//!
//! Every wait is bounded by `within`; every port comes from the OS.

use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::Duration;

use strowger_message::{
    new_call_id, new_tag, HeaderName, Message, Method, RequestBuilder, ResponseBuilder,
};
use strowger_net::{
    ClientEvent, Config, Endpoint, Incoming, ListenSpec, Target, TlsConfig, Transport,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};
use tokio::sync::mpsc;

const BOUND: Duration = Duration::from_secs(10);

async fn within<F: Future>(what: &str, f: F) -> F::Output {
    match tokio::time::timeout(BOUND, f).await {
        Ok(x) => x,
        Err(_) => panic!("timed out waiting for {what}"),
    }
}

const V4: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
const V6: IpAddr = IpAddr::V6(Ipv6Addr::LOCALHOST);

/// Whether this machine has an IPv6 loopback (`::1` on `lo`).
fn has_ipv6_loopback() -> bool {
    std::fs::read_to_string("/proc/net/if_inet6")
        .map(|s| {
            s.lines()
                .any(|l| l.starts_with("00000000000000000000000000000001"))
        })
        .unwrap_or(false)
}

/// A CA and a server certificate for 127.0.0.1, ::1 and localhost, made with rcgen
/// and written once per test process.
fn pki() -> TlsConfig {
    static PKI: OnceLock<TlsConfig> = OnceLock::new();
    PKI.get_or_init(|| {
        use rcgen::{
            BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer,
            KeyPair, KeyUsagePurpose,
        };
        let ca_key = KeyPair::generate().unwrap();
        let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca.distinguished_name
            .push(DnType::CommonName, "Strowger test CA");
        ca.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let ca_cert = ca.self_signed(&ca_key).unwrap();
        let issuer = Issuer::new(ca, ca_key);
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(vec![
            "localhost".to_string(),
            "127.0.0.1".to_string(),
            "::1".to_string(),
        ])
        .unwrap();
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let cert = params.signed_by(&key, &issuer).unwrap();

        let dir = std::env::temp_dir().join(format!("strowger-net-tests-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let write = |name: &str, text: String| -> PathBuf {
            let p = dir.join(name);
            std::fs::write(&p, text).unwrap();
            p
        };
        TlsConfig {
            roots: vec![write("ca.pem", ca_cert.pem())],
            cert_chain: Some(write("cert.pem", cert.pem())),
            private_key: Some(write("key.pem", key.serialize_pem())),
            server_name: None,
        }
    })
    .clone()
}

fn config(transport: Transport, ip: IpAddr) -> Config {
    let mut c = Config {
        listen: vec![ListenSpec::new(transport, SocketAddr::new(ip, 0))],
        tls: Some(pki()),
        ..Config::default()
    };
    // Short timers keep the UDP tests quick; reliable transports do not use them.
    c.transactions.timers.t1 = Duration::from_millis(100);
    c.transactions.timers.t2 = Duration::from_millis(400);
    c
}

async fn endpoint(config: Config) -> (Endpoint, mpsc::Receiver<Incoming>) {
    within("bind", Endpoint::bind(config)).await.unwrap()
}

fn uri(addr: SocketAddr) -> String {
    format!("sip:bob@{addr}")
}

fn request(method: Method<'_>, to: SocketAddr) -> Message {
    RequestBuilder::new(method, &uri(to))
        .from("<sip:alice@example.com>", &new_tag())
        .to("<sip:bob@example.com>")
        .call_id(&new_call_id("test.invalid"))
        .cseq(1)
        .contact("<sip:alice@alice.invalid;transport=ws>")
        .build()
        .unwrap()
}

/// The ACK for a 2xx (section 13.2.2.4): a new transaction-less request with the To
/// tag of the response.
fn ack_for(invite: &Message, ok: &Message, via_of: &Endpoint, transport: Transport) -> Message {
    let mut b = RequestBuilder::new(Method::Ack, invite.request_uri_str().unwrap());
    for (name, h) in [
        ("From", HeaderName::From),
        ("To", HeaderName::To),
        ("Call-ID", HeaderName::CallId),
    ] {
        let msg = if h == HeaderName::To { ok } else { invite };
        b = b.header(name, msg.get(h).next().unwrap());
    }
    let ack = b.cseq(invite.cseq().unwrap().seq).build().unwrap();
    via_of.push_via(&ack, transport).unwrap()
}

/// A user agent server: 180 then 200 to an INVITE, 200 to anything else; reports
/// every request and ACK it sees on the returned channel.
fn spawn_uas(
    b: Endpoint,
    mut incoming: mpsc::Receiver<Incoming>,
) -> mpsc::UnboundedReceiver<(Method<'static>, Target)> {
    let (seen_tx, seen) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Some(event) = incoming.recv().await {
            match event {
                Incoming::Request { key, msg, source } => {
                    let method = if msg.method() == Some(Method::Invite) {
                        Method::Invite
                    } else {
                        Method::Options
                    };
                    let _ = seen_tx.send((method, source));
                    let tag = new_tag();
                    if method == Method::Invite {
                        let ringing = ResponseBuilder::new(&msg, 180)
                            .to_tag(&tag)
                            .build()
                            .unwrap();
                        b.respond(&key, ringing).await.unwrap();
                    }
                    let ok = ResponseBuilder::new(&msg, 200)
                        .to_tag(&tag)
                        .build()
                        .unwrap();
                    b.respond(&key, ok).await.unwrap();
                }
                Incoming::Ack { source, .. } => {
                    let _ = seen_tx.send((Method::Ack, source));
                }
                _ => {}
            }
        }
    });
    seen
}

/// INVITE -> 180 -> 200, ACK, then OPTIONS -> 200, from `a` to `b_addr`.
async fn invite_then_options(
    a: &Endpoint,
    target: Target,
    seen: &mut mpsc::UnboundedReceiver<(Method<'static>, Target)>,
) {
    let transport = target.transport;
    let invite = request(Method::Invite, target.addr);
    let mut txn = within("send INVITE", a.send_request(invite, target))
        .await
        .unwrap();
    assert_eq!(
        txn.request().top_via().unwrap().transport,
        transport.as_str()
    );

    let (method, source) = within("INVITE at the server", seen.recv()).await.unwrap();
    assert_eq!(method, Method::Invite);
    assert_eq!(source.transport, transport);
    assert_eq!(source.conn.is_some(), transport.is_reliable(), "{source:?}");

    let mut statuses = Vec::new();
    let ok = loop {
        match within("INVITE responses", txn.recv()).await {
            Some(ClientEvent::Response(r)) => {
                let status = r.status().unwrap();
                if status != 100 {
                    statuses.push(status);
                }
                if status >= 200 {
                    break r;
                }
            }
            other => panic!("INVITE over {transport}: {other:?}"),
        }
    };
    assert_eq!(statuses, [180, 200], "over {transport}");

    let ack = ack_for(txn.request(), &ok, a, transport);
    within("send ACK", a.send_stateless(txn.target(), ack.to_bytes()))
        .await
        .unwrap();
    let (method, _) = within("ACK at the server", seen.recv()).await.unwrap();
    assert_eq!(method, Method::Ack, "over {transport}");

    let options = request(Method::Options, target.addr);
    let mut txn = within("send OPTIONS", a.send_request(options, target))
        .await
        .unwrap();
    let resp = within("OPTIONS response", txn.final_response())
        .await
        .unwrap();
    assert_eq!(resp.status(), Some(200), "over {transport}");
    assert_eq!(
        within("OPTIONS at the server", seen.recv())
            .await
            .unwrap()
            .0,
        Method::Options
    );
}

async fn exchange(transport: Transport, ip: IpAddr) {
    if ip.is_ipv6() && !has_ipv6_loopback() {
        eprintln!("note: no IPv6 loopback on this machine; {transport} over ::1 skipped");
        return;
    }
    let (a, _a_incoming) = endpoint(config(transport, ip)).await;
    let (b, b_incoming) = endpoint(config(transport, ip)).await;
    let b_addr = b.local_addr(transport).unwrap();
    assert_ne!(b_addr.port(), 0);
    let mut seen = spawn_uas(b.clone(), b_incoming);
    invite_then_options(&a, Target::new(b_addr, transport), &mut seen).await;
    within("shutdown a", a.shutdown(Duration::from_secs(1))).await;
    within("shutdown b", b.shutdown(Duration::from_secs(1))).await;
}

#[tokio::test]
async fn udp_v4_invite_and_options() {
    exchange(Transport::Udp, V4).await;
}
#[tokio::test]
async fn udp_v6_invite_and_options() {
    exchange(Transport::Udp, V6).await;
}
#[tokio::test]
async fn tcp_v4_invite_and_options() {
    exchange(Transport::Tcp, V4).await;
}
#[tokio::test]
async fn tcp_v6_invite_and_options() {
    exchange(Transport::Tcp, V6).await;
}
#[tokio::test]
async fn tls_v4_invite_and_options() {
    exchange(Transport::Tls, V4).await;
}
#[tokio::test]
async fn tls_v6_invite_and_options() {
    exchange(Transport::Tls, V6).await;
}
#[tokio::test]
async fn ws_v4_invite_and_options() {
    exchange(Transport::Ws, V4).await;
}
#[tokio::test]
async fn ws_v6_invite_and_options() {
    exchange(Transport::Ws, V6).await;
}
#[tokio::test]
async fn wss_v4_invite_and_options() {
    exchange(Transport::Wss, V4).await;
}
#[tokio::test]
async fn wss_v6_invite_and_options() {
    exchange(Transport::Wss, V6).await;
}

/// A UDP relay between `a` and `to` that drops the first `drop_first` datagrams
/// going towards `to`. Returns the address `a` should send to.
async fn lossy_relay(
    to: SocketAddr,
    drop_first: usize,
) -> (SocketAddr, mpsc::UnboundedReceiver<usize>) {
    let front = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let back = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let addr = front.local_addr().unwrap();
    let (dropped_tx, dropped) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        let mut client = None;
        let mut dropped = 0;
        let (mut fbuf, mut bbuf) = (vec![0u8; 65_536], vec![0u8; 65_536]);
        loop {
            tokio::select! {
                Ok((n, from)) = front.recv_from(&mut fbuf) => {
                    client = Some(from);
                    if dropped < drop_first {
                        dropped += 1;
                        let _ = dropped_tx.send(dropped);
                        continue;
                    }
                    let _ = back.send_to(&fbuf[..n], to).await;
                }
                Ok((n, _)) = back.recv_from(&mut bbuf) => {
                    if let Some(c) = client {
                        let _ = front.send_to(&bbuf[..n], c).await;
                    }
                }
            }
        }
    });
    (addr, dropped)
}

#[tokio::test]
async fn udp_retransmission_recovers_from_lost_requests_rfc3261_17_1_1_2() {
    let (a, _a_incoming) = endpoint(config(Transport::Udp, V4)).await;
    let (b, b_incoming) = endpoint(config(Transport::Udp, V4)).await;
    let b_addr = b.local_addr(Transport::Udp).unwrap();
    let (relay, mut dropped) = lossy_relay(b_addr, 2).await;
    let mut seen = spawn_uas(b.clone(), b_incoming);
    // The INVITE and its first retransmission (timer A) are lost; the second gets
    // through and the transaction completes.
    invite_then_options(&a, Target::new(relay, Transport::Udp), &mut seen).await;
    assert_eq!(within("drop count", dropped.recv()).await, Some(1));
    assert_eq!(within("drop count", dropped.recv()).await, Some(2));
}

async fn uas_on(
    transport: Transport,
    mut config: Config,
) -> (
    Endpoint,
    SocketAddr,
    mpsc::UnboundedReceiver<(Method<'static>, Target)>,
) {
    config.listen = vec![ListenSpec::new(transport, SocketAddr::new(V4, 0))];
    let (b, incoming) = endpoint(config).await;
    let addr = b.local_addr(transport).unwrap();
    let seen = spawn_uas(b.clone(), incoming);
    (b, addr, seen)
}

fn raw_options(transport: &str, body_length: &str) -> String {
    format!(
        "OPTIONS sip:bob@example.com SIP/2.0\r\n\
         Via: SIP/2.0/{transport} 127.0.0.1:9;branch=z9hG4bK{}\r\n\
         Max-Forwards: 70\r\nTo: <sip:bob@example.com>\r\nFrom: <sip:alice@example.com>;tag=1\r\n\
         Call-ID: {}\r\nCSeq: 1 OPTIONS\r\nContent-Length: {body_length}\r\n\r\n",
        new_tag(),
        new_tag()
    )
}

/// Read one response off a stream (headers and a zero-length body).
async fn read_response(s: &mut TcpStream) -> String {
    let mut got = Vec::new();
    let mut byte = [0u8; 1];
    while !got.ends_with(b"\r\n\r\n") {
        let n = within("a response", s.read(&mut byte)).await.unwrap();
        assert_ne!(n, 0, "closed after {:?}", String::from_utf8_lossy(&got));
        got.push(byte[0]);
    }
    String::from_utf8(got).unwrap()
}

#[tokio::test]
async fn tcp_crlf_ping_gets_a_pong_rfc5626_4_4_1() {
    let (_b, addr, _seen) = uas_on(Transport::Tcp, config(Transport::Tcp, V4)).await;
    let mut s = within("connect", TcpStream::connect(addr)).await.unwrap();
    s.write_all(b"\r\n\r\n").await.unwrap();
    let mut pong = [0u8; 2];
    within("pong", s.read_exact(&mut pong)).await.unwrap();
    assert_eq!(&pong, b"\r\n");
    // The connection still carries messages after the keep-alive.
    s.write_all(raw_options("TCP", "0").as_bytes())
        .await
        .unwrap();
    let resp = read_response(&mut s).await;
    assert!(resp.starts_with("SIP/2.0 200 "), "{resp}");
}

#[tokio::test]
async fn tcp_bad_content_length_gets_400_and_the_connection_closes_rfc3261_18_3() {
    let (_b, addr, _seen) = uas_on(Transport::Tcp, config(Transport::Tcp, V4)).await;
    let mut s = within("connect", TcpStream::connect(addr)).await.unwrap();
    s.write_all(raw_options("TCP", "many").as_bytes())
        .await
        .unwrap();
    let mut all = Vec::new();
    // read_to_end returns only when the server closes the connection.
    within("the server to close", s.read_to_end(&mut all))
        .await
        .unwrap();
    let text = String::from_utf8(all).unwrap();
    assert!(text.starts_with("SIP/2.0 400 "), "{text}");
    assert!(
        text.lines().next().unwrap().contains("Content-Length"),
        "{text}"
    );
    assert!(text.contains("CSeq: 1 OPTIONS"), "{text}");
}

#[tokio::test]
async fn udp_unparseable_request_gets_400_with_the_parse_error_as_reason() {
    let (_b, addr, _seen) = uas_on(Transport::Udp, config(Transport::Udp, V4)).await;
    let s = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let bad = raw_options("UDP", "0").replace("CSeq: 1 OPTIONS", "CSeq: one OPTIONS");
    s.send_to(bad.as_bytes(), addr).await.unwrap();
    let mut buf = vec![0u8; 65_536];
    let (n, _) = within("the 400", s.recv_from(&mut buf)).await.unwrap();
    let resp = Message::parse(buf[..n].to_vec()).unwrap();
    assert_eq!(resp.status(), Some(400));
    assert!(
        resp.reason().unwrap().contains("CSeq"),
        "{:?}",
        resp.reason()
    );
    // An unparseable response is dropped: nothing comes back.
    s.send_to(b"SIP/2.0 200 OK\r\nVia: garbage\r\n\r\n", addr)
        .await
        .unwrap();
    assert!(
        tokio::time::timeout(Duration::from_millis(200), s.recv_from(&mut buf))
            .await
            .is_err()
    );
}

#[tokio::test]
async fn websocket_handshake_without_sip_subprotocol_is_refused_rfc7118_4() {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    use tokio_tungstenite::tungstenite::http::HeaderValue;
    let (_b, addr, _seen) = uas_on(Transport::Ws, config(Transport::Ws, V4)).await;

    let tcp = within("connect", TcpStream::connect(addr)).await.unwrap();
    let refused = within(
        "handshake",
        tokio_tungstenite::client_async(format!("ws://{addr}/"), tcp),
    )
    .await;
    match refused {
        Err(tokio_tungstenite::tungstenite::Error::Http(resp)) => assert_eq!(resp.status(), 400),
        other => panic!("expected an HTTP refusal, got {:?}", other.map(|_| ())),
    }

    // With the subprotocol the same server accepts, and answers SIP in a text frame.
    let tcp = within("connect", TcpStream::connect(addr)).await.unwrap();
    let mut req = format!("ws://{addr}/").into_client_request().unwrap();
    req.headers_mut()
        .insert("sec-websocket-protocol", HeaderValue::from_static("sip"));
    let (mut ws, resp) = within("handshake", tokio_tungstenite::client_async(req, tcp))
        .await
        .unwrap();
    assert_eq!(resp.headers().get("sec-websocket-protocol").unwrap(), "sip");
    use futures_util::{SinkExt, StreamExt};
    ws.send(tokio_tungstenite::tungstenite::Message::text(raw_options(
        "WS", "0",
    )))
    .await
    .unwrap();
    let answer = within("a response frame", ws.next())
        .await
        .unwrap()
        .unwrap();
    let text = answer.into_text().unwrap();
    assert!(text.starts_with("SIP/2.0 200 "), "{text}");
}

#[tokio::test]
async fn requests_to_a_websocket_client_go_back_over_its_connection_rfc7118_5() {
    // The client has no WebSocket listener: its Via host is `.invalid` and only the
    // connection it opened can reach it.
    let mut client_config = config(Transport::Ws, V4);
    client_config.listen.clear();
    let (a, mut a_incoming) = endpoint(client_config).await;
    let (b, mut b_incoming) = endpoint(config(Transport::Ws, V4)).await;
    let b_addr = b.local_addr(Transport::Ws).unwrap();

    let options = request(Method::Options, b_addr);
    let mut txn = within(
        "send",
        a.send_request(options, Target::new(b_addr, Transport::Ws)),
    )
    .await
    .unwrap();
    assert!(txn
        .request()
        .top_via()
        .unwrap()
        .host
        .to_string()
        .ends_with(".invalid"));
    let Some(Incoming::Request { key, msg, source }) =
        within("request at B", b_incoming.recv()).await
    else {
        panic!("expected a request");
    };
    assert!(source.conn.is_some());
    b.respond(&key, ResponseBuilder::new(&msg, 200).build().unwrap())
        .await
        .unwrap();
    assert_eq!(
        within("200 at A", txn.final_response())
            .await
            .unwrap()
            .status(),
        Some(200)
    );

    // B sends a request of its own to A over the same connection.
    let back = request(Method::Options, source.addr);
    let mut back_txn = within("send back", b.send_request(back, source))
        .await
        .unwrap();
    let Some(Incoming::Request { key, msg, .. }) = within("request at A", a_incoming.recv()).await
    else {
        panic!("expected a request at A");
    };
    a.respond(&key, ResponseBuilder::new(&msg, 200).build().unwrap())
        .await
        .unwrap();
    assert_eq!(
        within("200 at B", back_txn.final_response())
            .await
            .unwrap()
            .status(),
        Some(200)
    );
}

#[tokio::test]
async fn a_refused_connection_is_a_transport_error_rfc3261_17_1_4() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let (a, _incoming) = endpoint(config(Transport::Tcp, V4)).await;
    let mut txn = within(
        "send",
        a.send_request(
            request(Method::Options, closed),
            Target::new(closed, Transport::Tcp),
        ),
    )
    .await
    .unwrap();
    assert_eq!(
        within("failure", txn.final_response()).await.unwrap_err(),
        strowger_net::Failure::Transport
    );
}

#[tokio::test]
async fn connections_over_the_limit_are_closed_and_idle_ones_time_out() {
    let mut c = config(Transport::Tcp, V4);
    c.limits.max_connections = 1;
    c.limits.idle_timeout = Duration::from_millis(300);
    let (_b, addr, _seen) = uas_on(Transport::Tcp, c).await;
    let mut first = within("connect", TcpStream::connect(addr)).await.unwrap();
    first.write_all(b"\r\n\r\n").await.unwrap();
    let mut pong = [0u8; 2];
    within("pong", first.read_exact(&mut pong)).await.unwrap();

    let mut second = within("connect", TcpStream::connect(addr)).await.unwrap();
    let mut rest = Vec::new();
    let closed = within(
        "the second connection to close",
        second.read_to_end(&mut rest),
    )
    .await;
    assert!(closed.is_err() || rest.is_empty());

    // The first, silent from now on, is closed after the idle timeout.
    let closed = within("the idle connection to close", first.read_to_end(&mut rest)).await;
    assert!(closed.is_err() || rest.is_empty());
}

#[tokio::test]
async fn after_shutdown_calls_fail_with_closed() {
    let (a, _incoming) = endpoint(config(Transport::Udp, V4)).await;
    within("shutdown", a.shutdown(Duration::from_secs(1))).await;
    let target = Target::new("127.0.0.1:9".parse().unwrap(), Transport::Udp);
    let err = within(
        "send",
        a.send_request(request(Method::Options, target.addr), target),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, strowger_net::Error::Closed), "{err}");
}

#[test]
fn listen_specs_parse_v4_and_v6() {
    let c = Config::listening(&[
        "udp:0.0.0.0:5060",
        "tcp:[::]:0",
        "tls:127.0.0.1:5061",
        "ws:[::1]:80",
        "wss:[::1]:443",
    ])
    .unwrap();
    let kinds: Vec<_> = c.listen.iter().map(|l| l.transport).collect();
    assert_eq!(
        kinds,
        [
            Transport::Udp,
            Transport::Tcp,
            Transport::Tls,
            Transport::Ws,
            Transport::Wss
        ]
    );
    for bad in [
        "udp:5060",
        "quic:127.0.0.1:1",
        "tcp:::1:5060",
        "tcp:127.0.0.1",
    ] {
        let e = bad.parse::<ListenSpec>().unwrap_err();
        assert!(e.to_string().contains(bad), "{e}");
    }
}

#[tokio::test]
async fn a_tls_listener_without_certificate_is_a_clear_error() {
    let mut c = config(Transport::Tls, V4);
    c.tls = None;
    let err = Endpoint::bind(c).await.unwrap_err();
    assert!(err.to_string().contains("certificate"), "{err}");
}

#[tokio::test]
async fn shutdown_lets_pending_transactions_finish_and_refuses_new_requests() {
    let (a, _a_incoming) = endpoint(config(Transport::Tcp, V4)).await;
    let (b, mut b_incoming) = endpoint(config(Transport::Tcp, V4)).await;
    let target = Target::new(b.local_addr(Transport::Tcp).unwrap(), Transport::Tcp);

    let mut pending = within(
        "send",
        a.send_request(request(Method::Options, target.addr), target),
    )
    .await
    .unwrap();
    let Some(Incoming::Request { key, msg, .. }) = within("request at B", b_incoming.recv()).await
    else {
        panic!("expected a request");
    };

    // Start the shutdown: one poll queues the command ahead of anything sent later.
    let shutdown = b.shutdown(Duration::from_secs(5));
    tokio::pin!(shutdown);
    tokio::select! {
        biased;
        () = &mut shutdown => panic!("shutdown finished with a transaction pending"),
        () = std::future::ready(()) => {}
    }

    // A new request on the existing connection is refused.
    let mut refused = within(
        "send",
        a.send_request(request(Method::Options, target.addr), target),
    )
    .await
    .unwrap();
    assert_eq!(
        within("503", refused.final_response())
            .await
            .unwrap()
            .status(),
        Some(503)
    );

    // The pending one is still answered, and then the shutdown completes.
    b.respond(&key, ResponseBuilder::new(&msg, 200).build().unwrap())
        .await
        .unwrap();
    assert_eq!(
        within("200", pending.final_response())
            .await
            .unwrap()
            .status(),
        Some(200)
    );
    within("shutdown", shutdown).await;
}

#[tokio::test]
async fn large_messages_cross_streams_intact() {
    for transport in [Transport::Tcp, Transport::Tls, Transport::Ws] {
        let (a, _a_incoming) = endpoint(config(transport, V4)).await;
        let (b, mut b_incoming) = endpoint(config(transport, V4)).await;
        let target = Target::new(b.local_addr(transport).unwrap(), transport);
        let body: Vec<u8> = (0..40_000u32).map(|i| b'a' + (i % 26) as u8).collect();
        let msg = RequestBuilder::new(Method::Message, &uri(target.addr))
            .from("<sip:alice@example.com>", &new_tag())
            .to("<sip:bob@example.com>")
            .call_id(&new_call_id("test.invalid"))
            .cseq(1)
            .body("text/plain", body.clone())
            .build()
            .unwrap();
        let mut txn = within("send", a.send_request(msg, target)).await.unwrap();
        let Some(Incoming::Request { key, msg, .. }) =
            within("request at B", b_incoming.recv()).await
        else {
            panic!("expected a request over {transport}");
        };
        assert_eq!(msg.body(), &body[..], "over {transport}");
        b.respond(&key, ResponseBuilder::new(&msg, 200).build().unwrap())
            .await
            .unwrap();
        assert_eq!(
            within("200", txn.final_response()).await.unwrap().status(),
            Some(200)
        );
    }
}
