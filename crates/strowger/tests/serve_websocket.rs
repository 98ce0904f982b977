//! A browser phone (RFC 7118): a WebSocket client whose Via and Contact hosts are
//! `.invalid` registers with `strowger serve`, and a call from a UDP phone reaches it
//! over its own WebSocket connection.

use std::io::{BufRead, BufReader};
use std::net::UdpSocket;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use strowger_message::{Message, Method, ResponseBuilder};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::Message as Frame;

struct Kill(Child);
impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn port_of(line: &str) -> u16 {
    line.trim()
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_websocket_client_registers_and_receives_a_call_over_its_connection_rfc7118() {
    let db = std::env::temp_dir().join(format!("strowger-ws-{}.db", std::process::id()));
    let _ = std::fs::remove_file(&db);
    let mut child = Command::new(env!("CARGO_BIN_EXE_strowger"))
        .args([
            "serve",
            "--listen",
            "udp:127.0.0.1:0",
            "--listen",
            "ws:127.0.0.1:0",
            "--domain",
            "example.com",
            "--no-auth",
            "--log",
            "warn",
            "--db",
            db.to_str().unwrap(),
        ])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let udp_port = port_of(&lines.next().unwrap().unwrap());
    let ws_port = port_of(&lines.next().unwrap().unwrap());
    let _server = Kill(child);

    let mut req = format!("ws://127.0.0.1:{ws_port}/")
        .into_client_request()
        .unwrap();
    req.headers_mut()
        .insert("sec-websocket-protocol", HeaderValue::from_static("sip"));
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", ws_port))
        .await
        .unwrap();
    let (mut ws, _) = tokio::time::timeout(
        Duration::from_secs(5),
        tokio_tungstenite::client_async(req, tcp),
    )
    .await
    .expect("handshake in time")
    .expect("handshake");
    let register = "REGISTER sip:example.com SIP/2.0\r\n\
Via: SIP/2.0/WS df7jal23ls0d.invalid;branch=z9hG4bKws1\r\nMax-Forwards: 70\r\n\
To: <sip:carol@example.com>\r\nFrom: <sip:carol@example.com>;tag=w1\r\nCall-ID: ws-reg-1\r\n\
CSeq: 1 REGISTER\r\nContact: <sip:carol@df7jal23ls0d.invalid;transport=ws>\r\nExpires: 600\r\n\
Content-Length: 0\r\n\r\n";
    ws.send(Frame::text(register)).await.unwrap();
    let ok = next(&mut ws).await;
    assert_eq!(ok.status(), Some(200), "{}", ok.start_line());

    // A UDP phone calls carol.
    let alice = UdpSocket::bind("127.0.0.1:0").unwrap();
    alice
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let ap = alice.local_addr().unwrap().port();
    let invite = format!(
        "INVITE sip:carol@example.com SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:{ap};branch=z9hG4bKua1\r\n\
Max-Forwards: 70\r\nTo: <sip:carol@example.com>\r\nFrom: <sip:alice@example.com>;tag=u1\r\n\
Call-ID: ws-call-1\r\nCSeq: 1 INVITE\r\nContact: <sip:alice@127.0.0.1:{ap}>\r\nContent-Length: 0\r\n\r\n"
    );
    alice
        .send_to(invite.as_bytes(), ("127.0.0.1", udp_port))
        .unwrap();
    let inv = next(&mut ws).await;
    assert_eq!(inv.method(), Some(Method::Invite));
    assert!(inv.request_uri_str().unwrap().contains(".invalid"));
    let ok = ResponseBuilder::new(&inv, 200)
        .to_tag("wsc")
        .header("Contact", "<sip:carol@df7jal23ls0d.invalid;transport=ws>")
        .build()
        .unwrap();
    ws.send(Frame::text(
        String::from_utf8(ok.as_bytes().to_vec()).unwrap(),
    ))
    .await
    .unwrap();
    let mut buf = vec![0u8; 65_536];
    let answered = tokio::task::spawn_blocking(move || loop {
        let (n, _) = alice.recv_from(&mut buf).expect("responses at alice");
        let m = Message::parse(buf[..n].to_vec()).unwrap();
        if m.status() == Some(200) {
            return m;
        }
    })
    .await
    .unwrap();
    assert_eq!(answered.to_tag(), Some("wsc"));
    let _ = std::fs::remove_file(&db);
}

async fn next<S>(ws: &mut tokio_tungstenite::WebSocketStream<S>) -> Message
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let f = tokio::time::timeout(Duration::from_secs(5), ws.next())
        .await
        .expect("a frame in time")
        .expect("a frame")
        .expect("a good frame");
    Message::parse(f.into_data().to_vec()).expect("SIP in the frame")
}
