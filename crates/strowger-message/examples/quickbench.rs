//! Rough timing of parse + the three field reads (the real comparison is bench/parser).
use std::hint::black_box;
use std::time::Instant;
use strowger_message::Message;

const INVITE: &[u8] = b"INVITE sip:bob@biloxi.example.com SIP/2.0\r\n\
Via: SIP/2.0/UDP 192.0.2.10:5060;rport;branch=z9hG4bK776asdhds\r\n\
Max-Forwards: 70\r\n\
To: Bob <sip:bob@biloxi.example.com>\r\n\
From: Alice <sip:alice@atlanta.example.com>;tag=1928301774\r\n\
Call-ID: a84b4c76e66710@pc33.atlanta.example.com\r\n\
CSeq: 314159 INVITE\r\n\
Contact: <sip:alice@192.0.2.10:5060;transport=udp>\r\n\
Allow: INVITE, ACK, CANCEL, BYE, OPTIONS, MESSAGE, INFO, UPDATE\r\n\
Supported: replaces, timer\r\n\
User-Agent: Strowger-Bench/1.0\r\n\
Content-Type: application/sdp\r\n\
Content-Length: 226\r\n\
\r\n\
v=0\r\n\
o=alice 2890844526 2890844526 IN IP4 192.0.2.10\r\n\
s=-\r\n\
c=IN IP4 192.0.2.10\r\n\
t=0 0\r\n\
m=audio 49170 RTP/AVP 0 8 101\r\n\
a=rtpmap:0 PCMU/8000\r\n\
a=rtpmap:8 PCMA/8000\r\n\
a=rtpmap:101 telephone-event/8000\r\n\
a=fmtp:101 0-16\r\n\
a=sendrecv\r\n";

fn main() {
    let input = bytes::Bytes::from_static(INVITE);
    let m = Message::parse(input.clone()).expect("parses");
    assert_eq!(m.body().len(), 226);
    let n: usize = std::env::var("N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(300_000);
    let t = Instant::now();
    let mut acc = 0usize;
    for _ in 0..n {
        let m = Message::parse(black_box(input.clone())).unwrap();
        acc += m.top_via_branch().map_or(0, str::len);
        let c = m.cseq().unwrap();
        acc += c.seq as usize + c.method.as_str().len();
        acc += m.from_tag().map_or(0, str::len);
    }
    let el = t.elapsed();
    println!(
        "parse+read: {:.0} ns/iter ({acc})",
        el.as_nanos() as f64 / n as f64
    );
    let t = Instant::now();
    for _ in 0..n {
        black_box(Message::parse(black_box(input.clone())).unwrap());
    }
    println!(
        "parse only: {:.0} ns/iter",
        t.elapsed().as_nanos() as f64 / n as f64
    );
}
