//! What a media engine needs once an offer and its answer are known (RFC 3264 sections 6.1
//! and 7): where to send RTP, with which payload type and clock, DTMF's payload type, and
//! the packetisation the peer asked for.

use std::net::IpAddr;

use crate::attribute::Direction;
use crate::codec::{static_payload_type, RtpFormat};
use crate::description::{MediaDescription, MediaType, SessionDescription};

/// Which side of the exchange this is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// This side sent the offer; the answer is the peer's.
    Offerer,
    /// This side sent the answer; the offer is the peer's.
    Answerer,
}

/// The first audio stream both sides accepted, seen from this side.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NegotiatedAudio {
    /// Index of the `m=` line in the offer and the answer.
    pub media_index: usize,
    /// The peer's RTP address (its `c=`, media level first).
    pub remote_address: IpAddr,
    /// The peer's RTP port.
    pub remote_port: u16,
    /// The peer's RTCP port from `a=rtcp` (RFC 3605); `None` when absent, and RTCP then
    /// goes to the RTP port + 1 (RFC 3550 section 11).
    pub remote_rtcp_port: Option<u16>,
    /// Payload type to send with.
    pub payload_type: u8,
    /// Its encoding name.
    pub encoding_name: String,
    /// Its RTP clock rate in Hz.
    pub clock_rate: u32,
    /// Its channel count (1 when not written).
    pub channels: u16,
    /// Its `a=fmtp` parameters, if any.
    pub fmtp: Option<String>,
    /// Payload type of telephone-event (RFC 4733), preferring the one at the codec's clock
    /// rate, if negotiated.
    pub telephone_event: Option<u8>,
    /// `a=ptime` the peer asked for, in milliseconds.
    pub ptime: Option<u32>,
    /// Direction of the stream from this side (`sendonly`: this side sends only).
    pub direction: Direction,
}

/// Why no audio stream could be read from an offer and answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NegotiationError {
    /// RFC 3264 section 6: the answer has exactly as many `m=` lines as the offer.
    #[error(
        "the answer has {answer} media descriptions but the offer has {offer} (RFC 3264 section 6)"
    )]
    MediaCountMismatch {
        /// `m=` lines in the offer.
        offer: usize,
        /// `m=` lines in the answer.
        answer: usize,
    },
    /// No audio stream has a non-zero port in both offer and answer.
    #[error("no audio stream was accepted")]
    NoAudioStream,
    /// The peer's description gives no `c=` for the stream.
    #[error("media description {media_index} has no connection address")]
    NoConnection {
        /// Index of the `m=` line.
        media_index: usize,
    },
    /// The peer's `c=` holds a name; resolving it is the caller's business.
    #[error("media description {media_index} has connection address {address}, not an IP address")]
    NotAnIpAddress {
        /// Index of the `m=` line.
        media_index: usize,
        /// The address as written.
        address: String,
    },
    /// The answer lists no codec (other than telephone-event or CN) that the offer lists.
    #[error("media description {media_index} has no codec common to offer and answer")]
    NoCommonCodec {
        /// Index of the `m=` line.
        media_index: usize,
    },
}

/// The first audio stream accepted in both `offer` and `answer`, from the point of view of
/// `role`.
///
/// The codec is the one RFC 3264 says to send with: for the offerer, the first codec of the
/// answer (section 7, the answer's order is the answerer's preference); for the answerer,
/// the most preferred codec of the offer that the answer lists (section 6.1). The payload
/// type numbers are those of the answer, which should equal the offer's (section 6.1).
pub fn negotiated_audio(
    offer: &SessionDescription,
    answer: &SessionDescription,
    role: Role,
) -> Result<NegotiatedAudio, NegotiationError> {
    if offer.media.len() != answer.media.len() {
        return Err(NegotiationError::MediaCountMismatch {
            offer: offer.media.len(),
            answer: answer.media.len(),
        });
    }
    let (media_index, (offered, answered)) = offer
        .media
        .iter()
        .zip(&answer.media)
        .enumerate()
        .find(|(_, (o, a))| {
            o.media == MediaType::Audio
                && a.media == MediaType::Audio
                && !o.is_rejected()
                && !a.is_rejected()
        })
        .ok_or(NegotiationError::NoAudioStream)?;
    let (remote, remote_media) = match role {
        Role::Offerer => (answer, answered),
        Role::Answerer => (offer, offered),
    };
    let connection = remote
        .media_connection(remote_media)
        .ok_or(NegotiationError::NoConnection { media_index })?;
    let remote_address =
        connection
            .address
            .ip()
            .ok_or_else(|| NegotiationError::NotAnIpAddress {
                media_index,
                address: connection.address.to_string(),
            })?;

    let answered_types: Vec<u8> = answered.payload_types().collect();
    let candidates: Vec<u8> = match role {
        Role::Offerer => answered_types.clone(),
        Role::Answerer => offered
            .payload_types()
            .filter(|pt| answered_types.contains(pt))
            .collect(),
    };
    let codec = candidates
        .iter()
        .filter_map(|pt| format_of(*pt, answered, offered))
        .find(|format| !format.is_auxiliary())
        .ok_or(NegotiationError::NoCommonCodec { media_index })?;
    let telephone_events: Vec<RtpFormat<'_>> = answered_types
        .iter()
        .filter_map(|pt| format_of(*pt, answered, offered))
        .filter(|f| f.encoding_name.eq_ignore_ascii_case("telephone-event"))
        .collect();
    let telephone_event = telephone_events
        .iter()
        .find(|f| f.clock_rate == codec.clock_rate)
        .or(telephone_events.first())
        .map(|f| f.payload_type);
    let format = codec.payload_type.to_string();
    let fmtp = answered
        .fmtp(&format)
        .or_else(|| offered.fmtp(&format))
        .map(|f| f.params.clone());

    let answer_direction = answer.media_direction(answered);
    let mut direction = match role {
        Role::Offerer => answer_direction.reversed(),
        Role::Answerer => answer_direction,
    };
    if remote.media_on_legacy_hold(remote_media) {
        // RFC 3264 8.4: the peer asked not to be sent to with c=0.0.0.0.
        direction = direction.intersect(Direction::RecvOnly);
    }
    Ok(NegotiatedAudio {
        media_index,
        remote_address,
        remote_port: remote_media.port,
        remote_rtcp_port: remote_media.rtcp().map(|r| r.port),
        payload_type: codec.payload_type,
        encoding_name: codec.encoding_name.to_owned(),
        clock_rate: codec.clock_rate,
        channels: codec.channels.unwrap_or(1),
        fmtp,
        telephone_event,
        ptime: remote_media.ptime(),
        direction,
    })
}

/// A payload type's meaning: the answer's `a=rtpmap`, else the offer's, else the static table.
fn format_of<'a>(
    payload_type: u8,
    answered: &'a MediaDescription,
    offered: &'a MediaDescription,
) -> Option<RtpFormat<'a>> {
    answered
        .rtpmap(payload_type)
        .or_else(|| offered.rtpmap(payload_type))
        .map(|map| RtpFormat {
            payload_type,
            encoding_name: &map.encoding_name,
            clock_rate: map.clock_rate,
            channels: map.channels,
        })
        .or_else(|| static_payload_type(payload_type))
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use super::*;
    use crate::{Connection, Host};

    fn sdp(origin: &str, rest: &str) -> SessionDescription {
        let text = format!("v=0\no=- 1 1 IN IP4 {origin}\ns=-\nt=0 0\n{rest}");
        SessionDescription::parse(text.as_bytes()).unwrap()
    }

    fn v4(a: u8, b: u8, c: u8, d: u8) -> IpAddr {
        IpAddr::V4(Ipv4Addr::new(a, b, c, d))
    }

    fn pair() -> (SessionDescription, SessionDescription) {
        let offer = sdp(
            "198.51.100.1",
            "c=IN IP4 198.51.100.1\nm=video 5000 RTP/AVP 31\nm=audio 49170 RTP/AVP 8 0 101\na=rtpmap:101 telephone-event/8000\na=ptime:30\n",
        );
        let answer = sdp(
            "203.0.113.7",
            "c=IN IP4 203.0.113.7\nm=video 0 RTP/AVP 31\nm=audio 30000 RTP/AVP 0 8 101\na=rtpmap:101 telephone-event/8000\na=ptime:20\na=rtcp:30011\na=recvonly\n",
        );
        (offer, answer)
    }

    #[test]
    fn offerer_sends_to_the_answer_with_its_first_codec_rfc3264_7() {
        let (offer, answer) = pair();
        let audio = negotiated_audio(&offer, &answer, Role::Offerer).unwrap();
        assert_eq!(audio.media_index, 1);
        assert_eq!(audio.remote_address, v4(203, 0, 113, 7));
        assert_eq!(audio.remote_port, 30000);
        assert_eq!(audio.remote_rtcp_port, Some(30011));
        assert_eq!(audio.payload_type, 0);
        assert_eq!(
            (
                audio.encoding_name.as_str(),
                audio.clock_rate,
                audio.channels
            ),
            ("PCMU", 8000, 1)
        );
        assert_eq!(audio.telephone_event, Some(101));
        assert_eq!(audio.ptime, Some(20));
        // The answerer is recvonly, so the offerer only sends.
        assert_eq!(audio.direction, Direction::SendOnly);
    }

    #[test]
    fn answerer_sends_to_the_offer_with_its_most_preferred_common_codec_rfc3264_6_1() {
        let (offer, answer) = pair();
        let audio = negotiated_audio(&offer, &answer, Role::Answerer).unwrap();
        assert_eq!(audio.remote_address, v4(198, 51, 100, 1));
        assert_eq!(audio.remote_port, 49170);
        assert_eq!(audio.remote_rtcp_port, None);
        // "SHOULD send using the most preferred media format in the offer that is also
        // listed in the answer": PCMA.
        assert_eq!(audio.payload_type, 8);
        assert_eq!(audio.ptime, Some(30));
        assert_eq!(audio.direction, Direction::RecvOnly);
    }

    #[test]
    fn media_level_connection_and_fmtp_are_used() {
        let offer = sdp(
            "198.51.100.1",
            "c=IN IP4 198.51.100.1\nm=audio 49170 RTP/AVP 111\nc=IN IP6 2001:db8::5\na=rtpmap:111 opus/48000/2\na=fmtp:111 useinbandfec=1\n",
        );
        let answer = sdp(
            "203.0.113.7",
            "c=IN IP4 203.0.113.7\nm=audio 30000 RTP/AVP 111\na=rtpmap:111 opus/48000/2\n",
        );
        let audio = negotiated_audio(&offer, &answer, Role::Answerer).unwrap();
        assert_eq!(
            audio.remote_address,
            "2001:db8::5".parse::<IpAddr>().unwrap()
        );
        assert_eq!(audio.channels, 2);
        assert_eq!(audio.fmtp.as_deref(), Some("useinbandfec=1"));
        assert_eq!(audio.telephone_event, None);
        assert_eq!(audio.direction, Direction::SendRecv);
    }

    #[test]
    fn answer_must_have_as_many_media_lines_as_the_offer_rfc3264_6() {
        let (offer, mut answer) = pair();
        answer.media.pop();
        assert_eq!(
            negotiated_audio(&offer, &answer, Role::Offerer),
            Err(NegotiationError::MediaCountMismatch {
                offer: 2,
                answer: 1
            })
        );
    }

    #[test]
    fn rejected_audio_is_no_audio_stream_rfc3264_6() {
        let (offer, mut answer) = pair();
        answer.media[1].port = 0;
        assert_eq!(
            negotiated_audio(&offer, &answer, Role::Offerer),
            Err(NegotiationError::NoAudioStream)
        );
    }

    #[test]
    fn missing_or_named_connection_address_is_reported() {
        let (offer, mut answer) = pair();
        answer.connection = None;
        assert_eq!(
            negotiated_audio(&offer, &answer, Role::Offerer),
            Err(NegotiationError::NoConnection { media_index: 1 })
        );
        answer.connection = Some(Connection {
            address: Host::Name("media.example.com".into()),
            ..Connection::new(v4(203, 0, 113, 7))
        });
        assert!(matches!(
            negotiated_audio(&offer, &answer, Role::Offerer),
            Err(NegotiationError::NotAnIpAddress { media_index: 1, .. })
        ));
    }

    #[test]
    fn answer_with_only_telephone_event_has_no_common_codec() {
        let offer = sdp(
            "198.51.100.1",
            "c=IN IP4 198.51.100.1\nm=audio 49170 RTP/AVP 0 101\na=rtpmap:101 telephone-event/8000\n",
        );
        let answer = sdp(
            "203.0.113.7",
            "c=IN IP4 203.0.113.7\nm=audio 30000 RTP/AVP 101\na=rtpmap:101 telephone-event/8000\n",
        );
        assert_eq!(
            negotiated_audio(&offer, &answer, Role::Offerer),
            Err(NegotiationError::NoCommonCodec { media_index: 0 })
        );
    }

    #[test]
    fn peer_on_legacy_hold_is_not_sent_to_rfc3264_8_4() {
        let offer = sdp(
            "198.51.100.1",
            "c=IN IP4 0.0.0.0\nm=audio 49170 RTP/AVP 0\n",
        );
        let answer = sdp(
            "203.0.113.7",
            "c=IN IP4 203.0.113.7\nm=audio 30000 RTP/AVP 0\n",
        );
        let audio = negotiated_audio(&offer, &answer, Role::Answerer).unwrap();
        assert_eq!(audio.direction, Direction::RecvOnly);
    }

    #[test]
    fn telephone_event_at_the_codec_clock_rate_is_preferred_rfc4733_2_1() {
        let offer = sdp(
            "198.51.100.1",
            "c=IN IP4 198.51.100.1\nm=audio 49170 RTP/AVP 111 100 101\na=rtpmap:111 opus/48000/2\na=rtpmap:100 telephone-event/8000\na=rtpmap:101 telephone-event/48000\n",
        );
        let audio = negotiated_audio(&offer, &offer, Role::Offerer).unwrap();
        assert_eq!(audio.telephone_event, Some(101));
    }
}
