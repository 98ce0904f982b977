//! RTP and RTCP datagrams (strowger-media): any input gives a packet or an error, never a
//! panic; an RTP packet written back parses to the same packet, and what RTCP parses is
//! written (`write_compound`) to bytes that parse again.
#![no_main]
use libfuzzer_sys::fuzz_target;
use strowger_media::rtcp::{parse_compound, write_compound, RtcpPacket};
use strowger_media::rtp::{is_rtcp, RtpPacket};

fuzz_target!(|data: &[u8]| {
    let _ = is_rtcp(data);

    if let Ok(p) = RtpPacket::parse(data) {
        assert!(p.csrcs.len() <= 15);
        assert!(p.payload_type <= 0x7F);
        assert_eq!(p.wire_len(), data.len(), "wire_len differs from the parsed datagram");
        let bytes = p.to_bytes().expect("a parsed RTP packet must be writable");
        let mut appended = vec![0xAA];
        p.write_to(&mut appended).expect("write_to");
        assert_eq!(&appended[1..], &bytes[..], "write_to and to_bytes differ");
        let q = RtpPacket::parse(&bytes).expect("the written RTP packet must parse");
        assert_eq!(
            (q.marker, q.payload_type, q.sequence, q.timestamp, q.ssrc),
            (p.marker, p.payload_type, p.sequence, p.timestamp, p.ssrc)
        );
        assert_eq!(q.csrcs, p.csrcs);
        assert_eq!(q.extension, p.extension);
        assert_eq!(q.payload, p.payload);
        assert_eq!(q.padding, p.padding);
        // Only the padding bytes before the count may differ (written as zeros).
        let fixed = bytes.len() - usize::from(p.padding);
        assert_eq!(&bytes[..fixed], &data[..fixed]);
    }

    if let Ok(packets) = parse_compound(data) {
        let written = write_compound(&packets);
        let again = match parse_compound(&written) {
            Ok(a) => a,
            Err(e) => panic!("written RTCP does not parse: {e}\n{packets:?}\n{written:02x?}"),
        };
        assert_eq!(again.len(), packets.len());
        for (a, p) in again.iter().zip(&packets) {
            match (a, p) {
                // Text may be re-encoded (lossy UTF-8, cut at 255 bytes); the rest is exact
                // up to the 31 blocks/sources a packet can count.
                (
                    RtcpPacket::SourceDescription { ssrc: x, .. },
                    RtcpPacket::SourceDescription { ssrc: y, .. },
                ) => assert_eq!(x, y),
                (
                    RtcpPacket::Goodbye { sources: x, .. },
                    RtcpPacket::Goodbye { sources: y, .. },
                ) => assert_eq!(x, y),
                (a, p) => assert_eq!(a, p),
            }
        }
    }
});
