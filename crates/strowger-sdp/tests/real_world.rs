//! SDP as real user agents write it: Linphone, baresip, Asterisk, a Cisco gateway, a
//! WebRTC browser, and the IPv6 torture messages of RFC 5118 sections 4.6 and 4.8.
//!
//! Each body is parsed, checked for what matters, written back (byte for byte when the
//! original already follows RFC 8866's order and spacing), and answered.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use strowger_sdp::{
    negotiated_audio, AddressType, Attribute, Codec, Direction, Host, LocalMedia, LocalSession,
    MediaType, Role, SessionDescription,
};

fn crlf(text: &str) -> String {
    text.lines().map(|l| format!("{l}\r\n")).collect()
}

/// Parses, checks that the canonical writing reproduces the input exactly and parses back
/// to the same value.
fn parse_canonical(text: &str) -> SessionDescription {
    let text = crlf(text);
    let sdp = SessionDescription::parse(text.as_bytes()).unwrap();
    assert_eq!(sdp.to_string(), text);
    assert_eq!(SessionDescription::parse(&sdp.to_bytes()).unwrap(), sdp);
    sdp
}

fn here() -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(203, 0, 113, 7))
}

fn desk_phone() -> LocalSession {
    LocalSession::new(
        "strowger",
        1,
        here(),
        vec![LocalMedia::audio(
            30000,
            vec![Codec::pcma(), Codec::pcmu(), Codec::telephone_event(8000)],
        )],
    )
}

const LINPHONE: &str = "v=0
o=alice 1823 2314 IN IP4 192.168.1.10
s=Talk
c=IN IP4 192.168.1.10
t=0 0
a=rtcp-xr:rcvr-rtt=all:10000 stat-summary=loss,dup,jitt,TTL voip-metrics
a=record:off
m=audio 7078 RTP/AVP 96 97 98 0 8 18 101 99 100
a=rtpmap:96 opus/48000/2
a=fmtp:96 useinbandfec=1
a=rtpmap:97 speex/16000
a=fmtp:97 vbr=on
a=rtpmap:98 speex/8000
a=fmtp:98 vbr=on
a=fmtp:18 annexb=yes
a=rtpmap:101 telephone-event/48000
a=rtpmap:99 telephone-event/16000
a=rtpmap:100 telephone-event/8000
a=rtcp-fb:* trr-int 1000
a=rtcp-fb:* ccm tmmbr
m=video 9078 RTP/AVP 96 97
a=rtpmap:96 VP8/90000
a=rtpmap:97 H264/90000
a=fmtp:97 profile-level-id=42801F
a=rtcp-fb:* trr-int 1000
a=rtcp-fb:* ccm tmmbr
a=rtcp-fb:96 nack pli
";

#[test]
fn linphone_offer_with_several_telephone_events_and_video() {
    let offer = parse_canonical(LINPHONE);
    assert_eq!(offer.session_name, "Talk");
    assert_eq!(offer.attributes.len(), 2);
    let audio = &offer.media[0];
    assert_eq!(audio.formats.len(), 9);
    // fmtp for a static payload type without rtpmap (G.729 annex B).
    assert_eq!(audio.fmtp("18").unwrap().params, "annexb=yes");
    assert_eq!(audio.rtp_format(18).unwrap().encoding_name, "G729");
    assert_eq!(audio.rtpmap(100).unwrap().clock_rate, 8000);

    let answer = desk_phone().create_answer(&offer);
    // PCMU and PCMA in the offer's order, telephone-event at 8 kHz with the offer's number
    // (RFC 3264 6.1), video rejected (section 6).
    assert_eq!(answer.media[0].formats, ["0", "8", "100"]);
    assert_eq!(answer.media[1].port, 0);
    assert_eq!(answer.media[1].media, MediaType::Video);

    let audio = negotiated_audio(&offer, &answer, Role::Answerer).unwrap();
    assert_eq!(
        audio.remote_address,
        IpAddr::V4(Ipv4Addr::new(192, 168, 1, 10))
    );
    assert_eq!((audio.remote_port, audio.payload_type), (7078, 0));
    assert_eq!(audio.telephone_event, Some(100));
}

const BARESIP: &str = "v=0
o=- 1208557393 3472398428 IN IP4 10.0.0.2
s=-
c=IN IP4 10.0.0.2
t=0 0
m=audio 10362 RTP/AVP 96 0 8 101
b=AS:64
a=rtpmap:96 opus/48000/2
a=fmtp:96 stereo=1;sprop-stereo=1
a=rtpmap:0 PCMU/8000
a=rtpmap:8 PCMA/8000
a=rtpmap:101 telephone-event/8000
a=fmtp:101 0-15
a=sendrecv
a=label:1
a=ssrc:2967436893 cname:0e4c2a6d-7b57-4f9a-b1a5-5e1a37b4c8f1
a=rtcp-rsize
";

#[test]
fn baresip_offer_with_opus_first() {
    let offer = parse_canonical(BARESIP);
    let audio = &offer.media[0];
    assert_eq!(audio.bandwidths[0].bwtype, "AS");
    assert_eq!(audio.bandwidths[0].bandwidth, 64);
    assert_eq!(
        audio.fmtp("96").unwrap().pairs().collect::<Vec<_>>(),
        [("stereo", "1"), ("sprop-stereo", "1")]
    );
    assert_eq!(
        audio.attribute("ssrc"),
        Some(&Attribute::value(
            "ssrc",
            "2967436893 cname:0e4c2a6d-7b57-4f9a-b1a5-5e1a37b4c8f1"
        ))
    );

    let mut phone = LocalSession::new(
        "strowger",
        1,
        here(),
        vec![LocalMedia::audio(
            30000,
            vec![Codec::opus(), Codec::telephone_event(8000)],
        )],
    );
    let answer = phone.create_answer(&offer);
    assert_eq!(answer.media[0].formats, ["96", "101"]);
    assert_eq!(answer.media[0].fmtp("101").unwrap().params, "0-15");
    let audio = negotiated_audio(&offer, &answer, Role::Answerer).unwrap();
    assert_eq!((audio.encoding_name.as_str(), audio.channels), ("opus", 2));
}

const ASTERISK: &str = "v=0
o=- 1638266386 1638266387 IN IP4 198.51.100.20
s=Asterisk
c=IN IP4 198.51.100.20
t=0 0
m=audio 17562 RTP/AVP 0 8 101
a=rtpmap:0 PCMU/8000
a=rtpmap:8 PCMA/8000
a=rtpmap:101 telephone-event/8000
a=fmtp:101 0-16
a=ptime:20
a=maxptime:150
a=sendrecv
";

#[test]
fn asterisk_answer_read_by_the_offerer() {
    let answer = parse_canonical(ASTERISK);
    let m = &answer.media[0];
    assert_eq!(m.ptime(), Some(20));
    assert_eq!(m.maxptime(), Some(150));
    assert_eq!(m.direction(), Some(Direction::SendRecv));

    // Our offer, to which Asterisk's SDP is the answer.
    let mut phone = desk_phone();
    let offer = phone.create_offer();
    assert_eq!(offer.media[0].formats, ["8", "0", "101"]);
    let audio = negotiated_audio(&offer, &answer, Role::Offerer).unwrap();
    // The offerer sends with the answer's first codec (RFC 3264 section 7).
    assert_eq!(audio.payload_type, 0);
    assert_eq!(audio.remote_port, 17562);
    assert_eq!(audio.ptime, Some(20));
    assert_eq!(audio.telephone_event, Some(101));
    assert_eq!(audio.direction, Direction::SendRecv);
}

const CISCO: &str = "v=0
o=CiscoSystemsSIP-GW-UserAgent 7389 2538 IN IP4 192.0.2.50
s=SIP Call
c=IN IP4 192.0.2.50
t=0 0
m=audio 16426 RTP/AVP 18 0 101 19
c=IN IP4 192.0.2.50
a=rtpmap:18 G729/8000
a=fmtp:18 annexb=no
a=rtpmap:0 PCMU/8000
a=rtpmap:101 telephone-event/8000
a=fmtp:101 0-16
a=rtpmap:19 CN/8000
a=ptime:20
";

#[test]
fn cisco_gateway_offer_with_g729_first() {
    let offer = parse_canonical(CISCO);
    assert_eq!(offer.media[0].connections.len(), 1);
    let answer = desk_phone().create_answer(&offer);
    // G.729 and CN (19, not the static 13) are not ours; PCMU is.
    assert_eq!(answer.media[0].formats, ["0", "101"]);
    assert_eq!(answer.media[0].fmtp("101").unwrap().params, "0-16");
}

#[test]
fn cisco_hold_reoffer_with_inactive_and_legacy_zero_address() {
    let offer = parse_canonical(CISCO);
    let mut phone = desk_phone();
    let first = phone.create_answer(&offer);

    let inactive = SessionDescription::parse(
        crlf(
            &CISCO
                .replace("7389 2538", "7389 2539")
                .replace("a=ptime:20", "a=inactive"),
        )
        .as_bytes(),
    )
    .unwrap();
    let answer = phone.create_answer(&inactive);
    assert_eq!(answer.media[0].direction(), Some(Direction::Inactive));
    assert_eq!(
        answer.origin.session_version,
        first.origin.session_version + 1
    );

    // Older gateways hold with c=0.0.0.0 (RFC 2543); RFC 3264 8.4 asks us to understand it.
    let zero = SessionDescription::parse(
        crlf(&CISCO.replace("c=IN IP4 192.0.2.50", "c=IN IP4 0.0.0.0")).as_bytes(),
    )
    .unwrap();
    let answer = phone.create_answer(&zero);
    assert_eq!(answer.media[0].direction(), Some(Direction::RecvOnly));
}

const WEBRTC: &str = "v=0
o=- 4611731400430051336 2 IN IP4 127.0.0.1
s=-
t=0 0
a=group:BUNDLE 0 1
a=extmap-allow-mixed
a=msid-semantic: WMS
m=audio 9 UDP/TLS/RTP/SAVPF 111 63 9 0 8 13 110 126
c=IN IP4 0.0.0.0
a=rtcp:9 IN IP4 0.0.0.0
a=ice-ufrag:Xw3u
a=ice-pwd:hN3b+aL0tV9fGZ7H0c6WQ7aU
a=ice-options:trickle
a=fingerprint:sha-256 7B:8B:F0:65:5F:78:E2:51:3B:AC:6F:F3:3F:46:1B:35:DC:B8:5F:64:1A:24:C2:43:F0:A1:58:D0:A1:2C:19:08
a=setup:actpass
a=mid:0
a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level
a=sendrecv
a=msid:- 1f2ab2c1-5d33-4d2f-9e39-3c0ae1f7a0b5
a=rtcp-mux
a=rtpmap:111 opus/48000/2
a=rtcp-fb:111 transport-cc
a=fmtp:111 minptime=10;useinbandfec=1
a=rtpmap:63 red/48000/2
a=fmtp:63 111/111
a=rtpmap:9 G722/8000
a=rtpmap:0 PCMU/8000
a=rtpmap:8 PCMA/8000
a=rtpmap:13 CN/8000
a=rtpmap:110 telephone-event/48000
a=rtpmap:126 telephone-event/8000
a=ssrc:3735928559 cname:4TOk42mSjXCkVIa6
a=candidate:1467250027 1 udp 2122260223 192.0.2.3 54321 typ host generation 0 network-id 1
m=video 9 UDP/TLS/RTP/SAVPF 96 97
c=IN IP4 0.0.0.0
a=rtcp:9 IN IP4 0.0.0.0
a=ice-ufrag:Xw3u
a=ice-pwd:hN3b+aL0tV9fGZ7H0c6WQ7aU
a=mid:1
a=recvonly
a=rtcp-mux
a=rtcp-rsize
a=rtpmap:96 VP8/90000
a=rtcp-fb:96 goog-remb
a=rtcp-fb:96 nack pli
a=rtpmap:97 rtx/90000
a=fmtp:97 apt=96
";

#[test]
fn webrtc_offer_with_many_attributes() {
    let offer = parse_canonical(WEBRTC);
    assert_eq!(offer.origin.session_id, "4611731400430051336");
    // The value keeps its leading space, so it is written back as it came.
    assert_eq!(
        offer.attributes[2],
        Attribute::value("msid-semantic", " WMS")
    );
    let audio = &offer.media[0];
    assert!(audio.is_rtp());
    assert_eq!(audio.rtcp().unwrap().port, 9);
    assert_eq!(audio.fmtp("63").unwrap().params, "111/111");
    assert!(audio.attribute("candidate").is_some());
    assert_eq!(offer.media[1].direction(), Some(Direction::RecvOnly));

    // A plain RTP/AVP phone rejects both streams (RFC 3264 section 6).
    let answer = desk_phone().create_answer(&offer);
    assert!(answer.media.iter().all(|m| m.port == 0));
    assert_eq!(answer.media[0].proto, "UDP/TLS/RTP/SAVPF");

    // With the profile accepted, 0.0.0.0 with ICE is not a hold (RFC 8839).
    let mut media = LocalMedia::audio(30000, vec![Codec::opus(), Codec::pcmu()]);
    media.protocols = vec!["UDP/TLS/RTP/SAVPF".into()];
    let answer = LocalSession::new("strowger", 1, here(), vec![media]).create_answer(&offer);
    assert_eq!(answer.media[0].formats, ["111", "0"]);
    assert_eq!(answer.media[0].direction(), Some(Direction::SendRecv));
}

/// The SDP body of a SIP message: what follows the first empty line.
fn body(message: &[u8]) -> &[u8] {
    for separator in [&b"\r\n\r\n"[..], &b"\n\n"[..]] {
        if let Some(at) = message
            .windows(separator.len())
            .position(|w| w == separator)
        {
            return &message[at + separator.len()..];
        }
    }
    panic!("no empty line in the message");
}

#[test]
fn ipv6_addresses_in_sdp_have_no_brackets_rfc5118_4_6() {
    for message in [
        &include_bytes!("data/rfc5118/ipv6-in-sdp.dat")[..],
        &include_bytes!("data/rfc5118/ipv6-in-sdp.lf")[..],
    ] {
        let sdp = SessionDescription::parse(body(message)).unwrap();
        let ip = IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0x20));
        assert_eq!(sdp.origin.address_type, AddressType::Ip6);
        assert_eq!(sdp.origin.address, Host::Ip(ip));
        assert_eq!(sdp.origin.session_id, "971731711378798081");
        assert_eq!(sdp.session_name, "Live video feed for today's meeting");
        assert_eq!(sdp.connection.as_ref().unwrap().address, Host::Ip(ip));
        assert_eq!(
            (sdp.times[0].start, sdp.times[0].stop),
            (3_338_481_189, 3_370_017_201)
        );
        assert_eq!(sdp.media.len(), 2);
        assert_eq!(sdp.media[0].rtpmap(2).unwrap().encoding_name, "G726-32");
        assert_eq!(sdp.media[1].rtpmap(107).unwrap().clock_rate, 90_000);
        let written = sdp.to_string();
        assert!(written.contains("c=IN IP6 2001:db8::20\r\n"));
        assert_eq!(SessionDescription::parse(written.as_bytes()).unwrap(), sdp);
    }
}

#[test]
fn one_stream_on_ipv4_and_one_on_ipv6_rfc5118_4_8() {
    for message in [
        &include_bytes!("data/rfc5118/mult-ip-in-sdp.dat")[..],
        &include_bytes!("data/rfc5118/mult-ip-in-sdp.lf")[..],
    ] {
        let sdp = SessionDescription::parse(body(message)).unwrap();
        // The origin is a domain name, and the session name is empty.
        assert_eq!(sdp.origin.address, Host::Name("host.example.com".into()));
        assert_eq!(sdp.session_name, "");
        assert_eq!(sdp.connection, None);
        let audio = sdp.media_connection(&sdp.media[0]).unwrap();
        assert_eq!(
            audio.address,
            Host::Ip(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)))
        );
        let video = sdp.media_connection(&sdp.media[1]).unwrap();
        assert_eq!(video.address_type, AddressType::Ip6);
        assert_eq!(video.address, Host::Ip("2001:db8::1".parse().unwrap()));
        assert_eq!(SessionDescription::parse(&sdp.to_bytes()).unwrap(), sdp);

        // Answered by a phone with only audio: the video line is rejected, and the
        // negotiated remote address is the audio stream's IPv4 one.
        let answer = desk_phone().create_answer(&sdp);
        assert_eq!(answer.media[1].port, 0);
        let audio = negotiated_audio(&sdp, &answer, Role::Answerer).unwrap();
        assert_eq!(
            audio.remote_address,
            IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1))
        );
        assert_eq!(audio.payload_type, 0);
    }
}
