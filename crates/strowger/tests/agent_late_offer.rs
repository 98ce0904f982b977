//! A late offer (RFC 3264 section 5, RFC 3261 13.2.1): an INVITE without SDP gets our
//! offer in the 200, the answer comes in the ACK, and media flows to the address it
//! names.

mod agent_support;

use std::net::UdpSocket;
use std::time::Duration;

use agent_support::Agent;
use strowger_message::{HeaderName, Message};

#[test]
fn an_invite_without_sdp_gets_an_offer_and_media_follows_the_answer_in_the_ack() {
    let (mut answer, port) = Agent::answer(&["--max-calls", "1"]);
    let sip = UdpSocket::bind("127.0.0.1:0").unwrap();
    sip.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let rtp = UdpSocket::bind("127.0.0.1:0").unwrap();
    rtp.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let me = sip.local_addr().unwrap().port();
    let rtp_port = rtp.local_addr().unwrap().port();
    let head = |method: &str, branch: &str, cseq: u32, to: &str| {
        format!(
            "{method} sip:bob@127.0.0.1:{port} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:{me};branch={branch}\r\n\
Max-Forwards: 70\r\nTo: {to}\r\nFrom: <sip:alice@127.0.0.1>;tag=late1\r\nCall-ID: late-offer@127.0.0.1\r\n\
CSeq: {cseq} {method}\r\nContact: <sip:alice@127.0.0.1:{me}>\r\n"
        )
    };
    let invite = format!(
        "{}Content-Length: 0\r\n\r\n",
        head("INVITE", "z9hG4bKlate1", 1, "<sip:bob@127.0.0.1>")
    );
    sip.send_to(invite.as_bytes(), ("127.0.0.1", port)).unwrap();
    let mut buf = vec![0u8; 65_536];
    let ok = loop {
        let (n, _) = sip.recv_from(&mut buf).expect("a response to the INVITE");
        let m = Message::parse(buf[..n].to_vec()).unwrap();
        if m.status() == Some(200) {
            break m;
        }
    };
    assert_eq!(
        ok.content_type().unwrap().subtype,
        "sdp",
        "the 200 carries the offer"
    );
    let offer = String::from_utf8_lossy(ok.body()).into_owned();
    assert!(offer.contains("m=audio"), "{offer}");
    let to = ok.get(HeaderName::To).next().unwrap().to_string();
    let sdp = format!(
        "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
m=audio {rtp_port} RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n"
    );
    let ack = format!(
        "{}Content-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{sdp}",
        head("ACK", "z9hG4bKlate2", 1, &to),
        sdp.len()
    );
    sip.send_to(ack.as_bytes(), ("127.0.0.1", port)).unwrap();
    // RTP arrives at the port the answer named.
    let (n, _) = rtp.recv_from(&mut buf).expect("RTP after the ACK's answer");
    assert!(n >= 12 && buf[0] >> 6 == 2, "an RTP packet");
    assert_eq!(buf[1] & 0x7f, 0, "payload type PCMU, as answered");
    let bye = format!(
        "{}Content-Length: 0\r\n\r\n",
        head("BYE", "z9hG4bKlate3", 2, &to)
    );
    sip.send_to(bye.as_bytes(), ("127.0.0.1", port)).unwrap();
    answer.wait_line("call 1 from", Duration::from_secs(10));
}
