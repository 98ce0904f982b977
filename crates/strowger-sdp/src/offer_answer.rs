//! The offer/answer model (RFC 3264): building offers and answers from what this side can
//! do, keeping the `o=` line and its version across the session (section 8), hold and
//! resume (section 8.4).
//!
//! A [`LocalSession`] is one side's view of one SDP session, typically one per dialog. It
//! remembers the last SDP it produced so that each later offer or answer keeps the same
//! `o=` line, the same `m=` lines in the same order, and a version that moves by one exactly
//! when the description changed.

use std::net::IpAddr;

use crate::attribute::{Attribute, Direction, Fmtp, Rtpmap};
use crate::codec::{static_payload_type_for, RtpFormat};
use crate::description::{
    AddressType, Connection, Host, MediaDescription, MediaType, Origin, SessionDescription,
};

/// A codec this side supports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Codec {
    /// Encoding name as in `a=rtpmap` (compared without regard to case).
    pub encoding_name: String,
    /// RTP clock rate in Hz.
    pub clock_rate: u32,
    /// Number of audio channels; `None` means one (or not applicable, for video).
    pub channels: Option<u16>,
    /// The payload type to use in offers, if there is a preference. Answers always use the
    /// offerer's number (RFC 3264 section 6.1).
    pub payload_type: Option<u8>,
    /// Format parameters for `a=fmtp`, if any.
    pub fmtp: Option<String>,
}

impl Codec {
    /// A codec by encoding name and clock rate.
    pub fn new(encoding_name: impl Into<String>, clock_rate: u32) -> Self {
        Codec {
            encoding_name: encoding_name.into(),
            clock_rate,
            channels: None,
            payload_type: None,
            fmtp: None,
        }
    }

    /// With a channel count.
    pub fn with_channels(mut self, channels: u16) -> Self {
        self.channels = Some(channels);
        self
    }

    /// With a preferred payload type for offers.
    pub fn with_payload_type(mut self, payload_type: u8) -> Self {
        self.payload_type = Some(payload_type);
        self
    }

    /// With `a=fmtp` parameters.
    pub fn with_fmtp(mut self, fmtp: impl Into<String>) -> Self {
        self.fmtp = Some(fmtp.into());
        self
    }

    /// G.711 mu-law, static payload type 0.
    pub fn pcmu() -> Self {
        Codec::new("PCMU", 8_000).with_payload_type(0)
    }

    /// G.711 A-law, static payload type 8.
    pub fn pcma() -> Self {
        Codec::new("PCMA", 8_000).with_payload_type(8)
    }

    /// G.722, static payload type 9 (RTP clock 8000, RFC 3551 section 4.5.2).
    pub fn g722() -> Self {
        Codec::new("G722", 8_000).with_payload_type(9)
    }

    /// G.729, static payload type 18.
    pub fn g729() -> Self {
        Codec::new("G729", 8_000).with_payload_type(18)
    }

    /// Opus (RFC 7587): `opus/48000/2`, dynamic payload type.
    pub fn opus() -> Self {
        Codec::new("opus", 48_000).with_channels(2)
    }

    /// DTMF events (RFC 4733) at a clock rate, events 0-16, dynamic payload type 101.
    pub fn telephone_event(clock_rate: u32) -> Self {
        Codec::new("telephone-event", clock_rate)
            .with_payload_type(101)
            .with_fmtp("0-16")
    }

    fn matches(&self, format: &RtpFormat<'_>) -> bool {
        format.is_same_codec(&self.encoding_name, self.clock_rate, self.channels)
    }

    fn is_telephone_event(&self) -> bool {
        self.encoding_name.eq_ignore_ascii_case("telephone-event")
    }
}

/// One kind of stream this side can handle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalMedia {
    /// `audio`, `video`, ...
    pub media: MediaType,
    /// Address to receive on, when it differs from the session's.
    pub address: Option<IpAddr>,
    /// Port to receive RTP on; 0 offers the stream disabled.
    pub port: u16,
    /// Transport protocols accepted, the first one used in offers (e.g. `RTP/AVP`).
    pub protocols: Vec<String>,
    /// Codecs, most preferred first (telephone-event and CN included here).
    pub codecs: Vec<Codec>,
    /// The direction this side wants (RFC 3264 section 5.1), usually `sendrecv`.
    pub direction: Direction,
    /// `a=ptime` to announce, if any.
    pub ptime: Option<u32>,
}

impl LocalMedia {
    /// An `audio` stream over `RTP/AVP`, `sendrecv`, on the session's address.
    pub fn audio(port: u16, codecs: Vec<Codec>) -> Self {
        LocalMedia {
            media: MediaType::Audio,
            address: None,
            port,
            protocols: vec!["RTP/AVP".to_owned()],
            codecs,
            direction: Direction::SendRecv,
            ptime: None,
        }
    }

    /// A `video` stream over `RTP/AVP`, `sendrecv`, on the session's address.
    pub fn video(port: u16, codecs: Vec<Codec>) -> Self {
        LocalMedia {
            media: MediaType::Video,
            ..LocalMedia::audio(port, codecs)
        }
    }
}

#[derive(Debug, Clone)]
struct Sent {
    sdp: SessionDescription,
    /// For each `m=` line of `sdp`, the index of the local media it carries, if any.
    slots: Vec<Option<usize>>,
}

/// One side of one SDP session (RFC 3264): produces offers and answers, and keeps the
/// `o=` line and version rules of section 8 across them.
#[derive(Debug, Clone)]
pub struct LocalSession {
    username: String,
    session_id: String,
    address: IpAddr,
    session_name: String,
    version: u64,
    media: Vec<LocalMedia>,
    on_hold: bool,
    last_sent: Option<Sent>,
}

impl LocalSession {
    /// A session whose `o=` line carries `username`, `session_id` (RFC 8866 suggests an NTP
    /// timestamp; the caller chooses, as this crate reads no clock) and `address`, which is
    /// also the session-level `c=` address. The session name is `-`; the version starts
    /// at 1.
    pub fn new(
        username: impl Into<String>,
        session_id: u64,
        address: IpAddr,
        media: Vec<LocalMedia>,
    ) -> Self {
        LocalSession {
            username: username.into(),
            session_id: session_id.to_string(),
            address,
            session_name: "-".to_owned(),
            version: 1,
            media,
            on_hold: false,
            last_sent: None,
        }
    }

    /// The local media, to change ports, codecs or directions before the next offer.
    pub fn local_media_mut(&mut self) -> &mut [LocalMedia] {
        &mut self.media
    }

    /// The last description this side produced, if any.
    pub fn last_sent(&self) -> Option<&SessionDescription> {
        self.last_sent.as_ref().map(|sent| &sent.sdp)
    }

    /// The version the next unchanged description would carry.
    pub fn session_version(&self) -> u64 {
        self.version
    }

    /// Whether [`hold`](Self::hold) is in force.
    pub fn is_on_hold(&self) -> bool {
        self.on_hold
    }

    /// An offer. The first one has one `m=` line per local media. Later ones are re-offers
    /// (RFC 3264 section 8): the same `m=` lines in the same order as the last description
    /// sent, refreshed from the local media, the same `o=` line, and the version incremented
    /// by one if and only if the description changed.
    pub fn create_offer(&mut self) -> SessionDescription {
        let (media, slots) = match &self.last_sent {
            None => {
                let media = self
                    .media
                    .iter()
                    .map(|local| self.offer_media(local, None))
                    .collect();
                (media, (0..self.media.len()).map(Some).collect())
            }
            Some(sent) => {
                let mut media = Vec::with_capacity(sent.slots.len());
                for (previous, slot) in sent.sdp.media.iter().zip(&sent.slots) {
                    match slot.and_then(|j| self.media.get(j)) {
                        Some(local) => media.push(self.offer_media(local, Some(previous))),
                        None => media.push(rejected(previous)),
                    }
                }
                (media, sent.slots.clone())
            }
        };
        self.stamp(media, slots)
    }

    /// An answer to `offer` (RFC 3264 section 6): one `m=` line per offered one, in the same
    /// order. A stream is accepted when a local media of its type, not used by an earlier
    /// stream, speaks its protocol and shares a codec with it; the answer lists the common
    /// codecs in the offer's order with the offer's payload type numbers (section 6.1), and
    /// telephone-event with the events both sides support. Other streams are answered with
    /// port 0. Directions follow section 6.1: the offer's reversed, limited by the local one.
    pub fn create_answer(&mut self, offer: &SessionDescription) -> SessionDescription {
        let mut used = vec![false; self.media.len()];
        let mut media = Vec::with_capacity(offer.media.len());
        let mut slots = Vec::with_capacity(offer.media.len());
        for (index, offered) in offer.media.iter().enumerate() {
            // In a re-offer, keep each stream on the local media it had.
            let previous = self
                .last_sent
                .as_ref()
                .and_then(|sent| sent.slots.get(index).copied().flatten());
            let candidates = previous.into_iter().chain(0..self.media.len());
            let mut accepted = None;
            for j in candidates {
                if used.get(j).copied().unwrap_or(true) {
                    continue;
                }
                let Some(local) = self.media.get(j) else {
                    continue;
                };
                if let Some(answer) = self.answer_media(offer, offered, local) {
                    accepted = Some((j, answer));
                    break;
                }
            }
            match accepted {
                Some((j, answer)) => {
                    if let Some(flag) = used.get_mut(j) {
                        *flag = true;
                    }
                    media.push(answer);
                    slots.push(Some(j));
                }
                None => {
                    media.push(rejected(offered));
                    slots.push(None);
                }
            }
        }
        self.stamp(media, slots)
    }

    /// A re-offer that puts the call on hold (RFC 3264 section 8.4): a stream that was
    /// `sendrecv` becomes `sendonly`, one that was `recvonly` becomes `inactive`. Answers
    /// produced while on hold are limited the same way.
    pub fn hold(&mut self) -> SessionDescription {
        self.on_hold = true;
        self.create_offer()
    }

    /// A re-offer that takes the call off hold: streams go back to the local direction.
    pub fn resume(&mut self) -> SessionDescription {
        self.on_hold = false;
        self.create_offer()
    }

    fn local_direction(&self, local: &LocalMedia) -> Direction {
        if self.on_hold {
            local.direction.intersect(Direction::SendOnly)
        } else {
            local.direction
        }
    }

    fn connection_for(&self, local: &LocalMedia) -> Option<Connection> {
        local
            .address
            .filter(|address| *address != self.address)
            .map(Connection::new)
    }

    fn offer_media(
        &self,
        local: &LocalMedia,
        previous: Option<&MediaDescription>,
    ) -> MediaDescription {
        let proto = previous
            .map(|m| m.proto.clone())
            .or_else(|| local.protocols.first().cloned())
            .unwrap_or_else(|| "RTP/AVP".to_owned());
        let mut media = MediaDescription::new(local.media.clone(), local.port, proto);
        // Payload type numbers already bound in this session stay bound (RFC 3264 8.3.2).
        let bound: Vec<u8> = previous
            .map(|m| m.payload_types().collect())
            .unwrap_or_default();
        let mut used: Vec<u8> = Vec::new();
        for codec in &local.codecs {
            let free = |pt: &u8| !used.contains(pt) && !bound.contains(pt);
            let payload_type = previous
                .and_then(|m| {
                    m.payload_types()
                        .find(|pt| m.rtp_format(*pt).is_some_and(|f| codec.matches(&f)))
                })
                .filter(|pt| !used.contains(pt))
                .or(codec.payload_type.filter(|pt| *pt <= 127).filter(free))
                .or(
                    static_payload_type_for(&codec.encoding_name, codec.clock_rate, codec.channels)
                        .filter(free),
                )
                .or((96..=127).find(free));
            let Some(payload_type) = payload_type else {
                continue;
            };
            used.push(payload_type);
            media.formats.push(payload_type.to_string());
            media.attributes.push(Attribute::Rtpmap(Rtpmap {
                payload_type,
                encoding_name: codec.encoding_name.clone(),
                clock_rate: codec.clock_rate,
                channels: codec.channels,
            }));
            if let Some(params) = &codec.fmtp {
                media.attributes.push(Attribute::Fmtp(Fmtp {
                    format: payload_type.to_string(),
                    params: params.clone(),
                }));
            }
        }
        if let Some(ptime) = local.ptime {
            media.attributes.push(Attribute::Ptime(ptime));
        }
        media.set_direction(self.local_direction(local));
        media.connections.extend(self.connection_for(local));
        media
    }

    fn answer_media(
        &self,
        offer: &SessionDescription,
        offered: &MediaDescription,
        local: &LocalMedia,
    ) -> Option<MediaDescription> {
        if offered.is_rejected()
            || local.port == 0
            || offered.media != local.media
            || !offered.is_rtp()
            || !local
                .protocols
                .iter()
                .any(|p| p.eq_ignore_ascii_case(&offered.proto))
        {
            return None;
        }
        let mut media = MediaDescription::new(offered.media.clone(), local.port, &offered.proto);
        let mut has_codec = false;
        for payload_type in offered.payload_types() {
            let format = payload_type.to_string();
            if media.formats.contains(&format) {
                continue;
            }
            let Some(rtp) = offered.rtp_format(payload_type) else {
                continue;
            };
            let Some(codec) = local.codecs.iter().find(|c| c.matches(&rtp)) else {
                continue;
            };
            let params = if codec.is_telephone_event() {
                let offered_params = offered.fmtp(&format).map(|f| f.params.as_str());
                match common_events(offered_params, codec.fmtp.as_deref()) {
                    Some(params) => Some(params),
                    None => continue,
                }
            } else {
                codec.fmtp.clone()
            };
            has_codec |= !rtp.is_auxiliary();
            media.attributes.push(Attribute::Rtpmap(Rtpmap {
                payload_type,
                encoding_name: rtp.encoding_name.to_owned(),
                clock_rate: rtp.clock_rate,
                channels: rtp.channels,
            }));
            if let Some(params) = params {
                media.attributes.push(Attribute::Fmtp(Fmtp {
                    format: format.clone(),
                    params,
                }));
            }
            media.formats.push(format);
        }
        if !has_codec {
            return None;
        }
        if let Some(ptime) = local.ptime {
            media.attributes.push(Attribute::Ptime(ptime));
        }
        let mut offered_direction = offer.media_direction(offered);
        if offer.media_on_legacy_hold(offered) {
            // RFC 3264 8.4: c=0.0.0.0 from RFC 2543 means "do not send to me".
            offered_direction = offered_direction.intersect(Direction::SendOnly);
        }
        media.set_direction(
            offered_direction
                .reversed()
                .intersect(self.local_direction(local)),
        );
        media.connections.extend(self.connection_for(local));
        Some(media)
    }

    /// Wraps media lines into a description and applies the version rule of RFC 3264
    /// section 8: the same `o=` line as before, the version up by one if anything changed.
    fn stamp(
        &mut self,
        media: Vec<MediaDescription>,
        slots: Vec<Option<usize>>,
    ) -> SessionDescription {
        let mut sdp = SessionDescription::new(
            Origin {
                username: self.username.clone(),
                session_id: self.session_id.clone(),
                session_version: self.version,
                network_type: "IN".to_owned(),
                address_type: AddressType::of(self.address),
                address: Host::Ip(self.address),
            },
            self.session_name.clone(),
        );
        sdp.connection = Some(Connection::new(self.address));
        sdp.media = media;
        if let Some(sent) = &self.last_sent {
            if sent.sdp != sdp {
                self.version = self.version.saturating_add(1);
                sdp.origin.session_version = self.version;
            }
        }
        self.last_sent = Some(Sent {
            sdp: sdp.clone(),
            slots,
        });
        sdp
    }
}

/// The answer to a stream that is not accepted, or a stream kept removed in a re-offer:
/// port 0 and the same formats (RFC 3264 sections 6 and 8.2: "at least one MUST be
/// present").
fn rejected(offered: &MediaDescription) -> MediaDescription {
    let mut media = MediaDescription::new(offered.media.clone(), 0, &offered.proto);
    media.formats = offered.formats.clone();
    media
}

/// The telephone-event events (RFC 4733 section 2.4.1) both sides support, written as
/// ranges, or `None` if they share none. An absent list means `0-15`; a list this code
/// cannot read is taken as the offer's.
fn common_events(offered: Option<&str>, local: Option<&str>) -> Option<String> {
    let offered_text = offered.unwrap_or("0-15");
    let (Some(theirs), Some(ours)) = (events(offered_text), events(local.unwrap_or("0-15"))) else {
        return Some(offered_text.to_owned());
    };
    let mut common = [false; 256];
    for (slot, (a, b)) in common.iter_mut().zip(theirs.iter().zip(ours.iter())) {
        *slot = *a && *b;
    }
    let mut ranges = Vec::new();
    let mut event = 0usize;
    while event < common.len() {
        if common.get(event).copied().unwrap_or(false) {
            let start = event;
            while common.get(event + 1).copied().unwrap_or(false) {
                event += 1;
            }
            ranges.push(if start == event {
                start.to_string()
            } else {
                format!("{start}-{event}")
            });
        }
        event += 1;
    }
    if ranges.is_empty() {
        None
    } else {
        Some(ranges.join(","))
    }
}

/// The set of events in a list such as `0-15,66,70`.
fn events(list: &str) -> Option<[bool; 256]> {
    let mut set = [false; 256];
    for item in list.split(',').map(str::trim) {
        let (start, end) = match item.split_once('-') {
            Some((start, end)) => (
                start.trim().parse::<u8>().ok()?,
                end.trim().parse::<u8>().ok()?,
            ),
            None => {
                let event = item.parse::<u8>().ok()?;
                (event, event)
            }
        };
        for slot in set
            .iter_mut()
            .take(usize::from(end) + 1)
            .skip(usize::from(start))
        {
            *slot = true;
        }
    }
    Some(set)
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use super::*;

    const HERE: IpAddr = IpAddr::V4(Ipv4Addr::new(203, 0, 113, 7));

    /// An offer from 198.51.100.1 with the given media sections (LF line ends are fine).
    fn offer(media: &str) -> SessionDescription {
        let text = format!(
            "v=0\no=alice 2890844526 2890844526 IN IP4 198.51.100.1\ns=-\nc=IN IP4 198.51.100.1\nt=0 0\n{media}"
        );
        SessionDescription::parse(text.as_bytes()).unwrap()
    }

    fn phone() -> LocalSession {
        LocalSession::new(
            "strowger",
            7,
            HERE,
            vec![LocalMedia::audio(
                30000,
                vec![
                    Codec::opus().with_payload_type(96),
                    Codec::pcmu(),
                    Codec::pcma(),
                    Codec::telephone_event(8000),
                ],
            )],
        )
    }

    #[test]
    fn answer_keeps_the_offerers_payload_type_numbers_rfc3264_6_1() {
        let offer = offer(
            "m=audio 49170 RTP/AVP 109 0 110\na=rtpmap:109 opus/48000/2\na=rtpmap:110 telephone-event/8000\na=fmtp:110 0-15\n",
        );
        let answer = phone().create_answer(&offer);
        let m = &answer.media[0];
        assert_eq!(m.formats, ["109", "0", "110"]);
        assert_eq!(m.rtpmap(109).unwrap().encoding_name, "opus");
        assert_eq!(m.rtpmap(110).unwrap().encoding_name, "telephone-event");
        assert_eq!(m.port, 30000);
        assert_eq!(m.proto, "RTP/AVP");
    }

    #[test]
    fn answer_lists_common_codecs_in_the_offers_order_rfc3264_6_1() {
        // Local preference is opus, PCMU, PCMA; the offer prefers PCMA.
        let answer = phone().create_answer(&offer("m=audio 49170 RTP/AVP 8 0\n"));
        assert_eq!(answer.media[0].formats, ["8", "0"]);
    }

    #[test]
    fn static_payload_types_are_recognised_without_rtpmap_rfc3551_6() {
        let mut session = LocalSession::new(
            "strowger",
            7,
            HERE,
            vec![LocalMedia::audio(30000, vec![Codec::g729(), Codec::g722()])],
        );
        let answer = session.create_answer(&offer("m=audio 49170 RTP/AVP 0 8 9 18\n"));
        assert_eq!(answer.media[0].formats, ["9", "18"]);
        // The answer still says what the numbers mean.
        assert_eq!(answer.media[0].rtpmap(18).unwrap().encoding_name, "G729");
    }

    #[test]
    fn codec_match_ignores_case_but_needs_clock_rate_and_channels_rfc8866_6_6() {
        let offer = offer(
            "m=audio 49170 RTP/AVP 96 97 98\na=rtpmap:96 OPUS/48000/2\na=rtpmap:97 pcmu/16000\na=rtpmap:98 telephone-event/48000\n",
        );
        let answer = phone().create_answer(&offer);
        // PCMU at 16 kHz is not the PCMU we have; telephone-event at 48 kHz neither.
        assert_eq!(answer.media[0].formats, ["96"]);
        let mono = offer_with_mono_opus();
        assert!(phone().create_answer(&mono).media[0].is_rejected());
    }

    fn offer_with_mono_opus() -> SessionDescription {
        offer("m=audio 49170 RTP/AVP 96\na=rtpmap:96 opus/48000/1\n")
    }

    #[test]
    fn telephone_event_is_answered_with_the_events_both_support_rfc4733_2_4_1() {
        let offer_a = offer(
            "m=audio 49170 RTP/AVP 0 101\na=rtpmap:101 telephone-event/8000\na=fmtp:101 0-11,16,66\n",
        );
        let answer = phone().create_answer(&offer_a);
        assert_eq!(answer.media[0].formats, ["0", "101"]);
        // Local side supports 0-16.
        assert_eq!(answer.media[0].fmtp("101").unwrap().params, "0-11,16");

        // No fmtp in the offer means 0-15.
        let offer_b = offer("m=audio 49170 RTP/AVP 0 101\na=rtpmap:101 telephone-event/8000\n");
        let answer = phone().create_answer(&offer_b);
        assert_eq!(answer.media[0].fmtp("101").unwrap().params, "0-15");

        // Nothing in common: telephone-event is left out, the codec stays.
        let offer_c = offer(
            "m=audio 49170 RTP/AVP 0 101\na=rtpmap:101 telephone-event/8000\na=fmtp:101 66\n",
        );
        let answer = phone().create_answer(&offer_c);
        assert_eq!(answer.media[0].formats, ["0"]);
    }

    #[test]
    fn answer_has_a_media_line_per_offered_one_rejecting_with_port_0_rfc3264_6() {
        let offer = offer(
            "m=audio 49170 RTP/AVP 0\nm=video 51372 RTP/AVP 31\nm=application 5000 UDP/BFCP *\nm=image 6000 udptl t38\n",
        );
        let answer = phone().create_answer(&offer);
        assert_eq!(answer.media.len(), 4);
        let summary: Vec<(&str, u16, &str, Vec<String>)> = answer
            .media
            .iter()
            .map(|m| {
                (
                    m.media.as_str(),
                    m.port,
                    m.proto.as_str(),
                    m.formats.clone(),
                )
            })
            .collect();
        assert_eq!(
            summary,
            [
                ("audio", 30000, "RTP/AVP", vec!["0".to_owned()]),
                ("video", 0, "RTP/AVP", vec!["31".to_owned()]),
                ("application", 0, "UDP/BFCP", vec!["*".to_owned()]),
                ("image", 0, "udptl", vec!["t38".to_owned()]),
            ]
        );
        // A rejected stream's formats are ignored, but at least one must be present.
        assert!(answer.media.iter().all(|m| !m.formats.is_empty()));
        // The answer parses back to the same value.
        assert_eq!(
            SessionDescription::parse(&answer.to_bytes()).unwrap(),
            answer
        );
    }

    #[test]
    fn stream_offered_with_port_0_is_answered_with_port_0_rfc3264_6() {
        let answer =
            phone().create_answer(&offer("m=audio 0 RTP/AVP 0\nm=audio 49170 RTP/AVP 0\n"));
        assert_eq!(answer.media[0].port, 0);
        assert_eq!(answer.media[1].port, 30000);
    }

    #[test]
    fn stream_without_a_common_codec_is_rejected_rfc3264_6_1() {
        let answer = phone().create_answer(&offer("m=audio 49170 RTP/AVP 18 3\n"));
        assert!(answer.media[0].is_rejected());
        // telephone-event or comfort noise alone is not a codec to talk with.
        let answer = phone().create_answer(&offer(
            "m=audio 49170 RTP/AVP 13 101\na=rtpmap:101 telephone-event/8000\n",
        ));
        assert!(answer.media[0].is_rejected());
    }

    #[test]
    fn stream_with_a_protocol_not_supported_is_rejected_rfc3264_6() {
        let answer = phone().create_answer(&offer(
            "m=audio 49170 RTP/SAVP 0\na=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:x\n",
        ));
        assert!(answer.media[0].is_rejected());
        assert_eq!(answer.media[0].proto, "RTP/SAVP");
    }

    #[test]
    fn one_local_stream_answers_only_one_offered_stream_rfc3264_6() {
        let answer =
            phone().create_answer(&offer("m=audio 49170 RTP/AVP 0\nm=audio 49172 RTP/AVP 0\n"));
        assert_eq!(answer.media[0].port, 30000);
        assert!(answer.media[1].is_rejected());
    }

    fn answered_direction(offered: &str, local: Direction) -> Direction {
        let mut session = phone();
        session.local_media_mut()[0].direction = local;
        let answer = session.create_answer(&offer(&format!("m=audio 49170 RTP/AVP 0\n{offered}")));
        answer.media[0].direction().unwrap()
    }

    #[test]
    fn answer_to_sendonly_offer_is_recvonly_rfc3264_6_1() {
        assert_eq!(
            answered_direction("a=sendonly\n", Direction::SendRecv),
            Direction::RecvOnly
        );
        // A side that will not receive cannot accept a sendonly stream other than inactive.
        assert_eq!(
            answered_direction("a=sendonly\n", Direction::SendOnly),
            Direction::Inactive
        );
    }

    #[test]
    fn answer_to_recvonly_offer_is_sendonly_rfc3264_6_1() {
        assert_eq!(
            answered_direction("a=recvonly\n", Direction::SendRecv),
            Direction::SendOnly
        );
    }

    #[test]
    fn answer_to_inactive_offer_is_inactive_rfc3264_6_1() {
        assert_eq!(
            answered_direction("a=inactive\n", Direction::SendRecv),
            Direction::Inactive
        );
    }

    #[test]
    fn answer_to_sendrecv_offer_follows_local_preference_rfc3264_6_1() {
        for local in [
            Direction::SendRecv,
            Direction::SendOnly,
            Direction::RecvOnly,
            Direction::Inactive,
        ] {
            assert_eq!(answered_direction("a=sendrecv\n", local), local);
            // No attribute means sendrecv (RFC 3264 section 5.1).
            assert_eq!(answered_direction("", local), local);
        }
    }

    #[test]
    fn session_level_direction_of_the_offer_is_honoured_rfc8866_6_7() {
        let text = "v=0\no=alice 1 1 IN IP4 198.51.100.1\ns=-\nc=IN IP4 198.51.100.1\nt=0 0\na=sendonly\nm=audio 49170 RTP/AVP 0\n";
        let offer = SessionDescription::parse(text.as_bytes()).unwrap();
        let answer = phone().create_answer(&offer);
        assert_eq!(answer.media[0].direction(), Some(Direction::RecvOnly));
    }

    #[test]
    fn legacy_hold_with_zero_address_is_answered_recvonly_rfc3264_8_4() {
        let text = "v=0\no=alice 1 2 IN IP4 198.51.100.1\ns=-\nc=IN IP4 0.0.0.0\nt=0 0\nm=audio 49170 RTP/AVP 0\n";
        let offer = SessionDescription::parse(text.as_bytes()).unwrap();
        let answer = phone().create_answer(&offer);
        assert_eq!(answer.media[0].direction(), Some(Direction::RecvOnly));
    }

    #[test]
    fn answer_carries_local_address_at_session_level_and_a_different_one_per_media_rfc8866_5_7() {
        let other = IpAddr::V4(Ipv4Addr::new(203, 0, 113, 99));
        let mut video = LocalMedia::video(40000, vec![Codec::new("H264", 90_000)]);
        video.address = Some(other);
        let mut session = LocalSession::new(
            "strowger",
            7,
            HERE,
            vec![LocalMedia::audio(30000, vec![Codec::pcmu()]), video],
        );
        let answer = session.create_answer(&offer(
            "m=audio 49170 RTP/AVP 0\nm=video 51372 RTP/AVP 99\na=rtpmap:99 H264/90000\n",
        ));
        assert_eq!(answer.connection, Some(Connection::new(HERE)));
        assert!(answer.media[0].connections.is_empty());
        assert_eq!(answer.media[1].connections, [Connection::new(other)]);
        assert_eq!(answer.origin.address, Host::Ip(HERE));
    }

    #[test]
    fn initial_offer_assigns_static_preferred_and_dynamic_payload_types_rfc3264_5_1() {
        let mut session = LocalSession::new(
            "strowger",
            7,
            HERE,
            vec![LocalMedia {
                ptime: Some(20),
                ..LocalMedia::audio(
                    30000,
                    vec![
                        Codec::opus(),
                        Codec::pcmu(),
                        Codec::new("PCMA", 8000),
                        Codec::telephone_event(8000),
                    ],
                )
            }],
        );
        let offer = session.create_offer();
        let m = &offer.media[0];
        assert_eq!(m.formats, ["96", "0", "8", "101"]);
        assert_eq!(m.rtpmap(96).unwrap().channels, Some(2));
        assert_eq!(m.fmtp("101").unwrap().params, "0-16");
        assert_eq!(m.ptime(), Some(20));
        assert_eq!(m.direction(), Some(Direction::SendRecv));
        assert_eq!(offer.origin.session_id, "7");
        assert_eq!(SessionDescription::parse(&offer.to_bytes()).unwrap(), offer);
    }

    #[test]
    fn version_increments_only_when_a_new_offer_changes_the_session_rfc3264_8() {
        let mut session = phone();
        let first = session.create_offer();
        let same = session.create_offer();
        // "If the version in the origin line does not increment, the SDP MUST be identical".
        assert_eq!(same, first);
        let held = session.hold();
        assert_eq!(
            held.origin.session_version,
            first.origin.session_version + 1
        );
        // The o= line is otherwise identical.
        assert_eq!(held.origin.username, first.origin.username);
        assert_eq!(held.origin.session_id, first.origin.session_id);
        assert_eq!(held.origin.address, first.origin.address);
        let resumed = session.resume();
        assert_eq!(
            resumed.origin.session_version,
            first.origin.session_version + 2
        );
        assert_eq!(resumed.media, first.media);
    }

    #[test]
    fn hold_marks_sendrecv_streams_sendonly_rfc3264_8_4() {
        let mut session = phone();
        session.create_offer();
        let held = session.hold();
        assert!(session.is_on_hold());
        assert_eq!(held.media[0].direction(), Some(Direction::SendOnly));
        assert_eq!(held.media[0].port, 30000);
        let resumed = session.resume();
        assert!(!session.is_on_hold());
        assert_eq!(resumed.media[0].direction(), Some(Direction::SendRecv));
    }

    #[test]
    fn hold_marks_recvonly_streams_inactive_rfc3264_8_4() {
        let mut session = phone();
        session.local_media_mut()[0].direction = Direction::RecvOnly;
        session.create_offer();
        assert_eq!(
            session.hold().media[0].direction(),
            Some(Direction::Inactive)
        );
    }

    #[test]
    fn answers_while_on_hold_do_not_receive_rfc3264_8_4() {
        let mut session = phone();
        session.create_answer(&offer("m=audio 49170 RTP/AVP 0\n"));
        session.hold();
        // The peer re-offers sendrecv while we hold it: we keep sending only.
        let answer = session.create_answer(&offer("m=audio 49170 RTP/AVP 0\n"));
        assert_eq!(answer.media[0].direction(), Some(Direction::SendOnly));
    }

    #[test]
    fn answers_in_one_session_keep_the_origin_and_version_rule_rfc3264_8() {
        let mut session = phone();
        let first = session.create_answer(&offer("m=audio 49170 RTP/AVP 0\n"));
        // The peer refreshes the session with the same offer: nothing changes.
        let again = session.create_answer(&offer("m=audio 49170 RTP/AVP 0\n"));
        assert_eq!(again, first);
        // The peer puts us on hold: our answer changes to recvonly, with the version up by one.
        let held = session.create_answer(&offer("m=audio 49170 RTP/AVP 0\na=sendonly\n"));
        assert_eq!(held.media[0].direction(), Some(Direction::RecvOnly));
        assert_eq!(
            held.origin.session_version,
            first.origin.session_version + 1
        );
        assert_eq!(held.origin.session_id, first.origin.session_id);
    }

    #[test]
    fn reoffer_after_an_answer_keeps_media_lines_and_payload_types_rfc3264_8() {
        let mut session = phone();
        let offer = offer(
            "m=video 51372 RTP/AVP 31\nm=audio 49170 RTP/AVP 109 0\na=rtpmap:109 opus/48000/2\n",
        );
        let answer = session.create_answer(&offer);
        assert!(answer.media[0].is_rejected());
        let held = session.hold();
        // Same number and order of m= lines; the rejected one stays at port 0.
        assert_eq!(held.media.len(), 2);
        assert_eq!(held.media[0].media, MediaType::Video);
        assert_eq!(held.media[0].port, 0);
        assert_eq!(held.media[1].media, MediaType::Audio);
        // opus keeps the number the peer gave it; PCMU its static one; PCMA and
        // telephone-event, which were not negotiated, get numbers not in use.
        assert_eq!(held.media[1].formats, ["109", "0", "8", "101"]);
        assert_eq!(held.media[1].direction(), Some(Direction::SendOnly));
    }

    #[test]
    fn rejected_streams_of_a_reoffer_are_answered_on_the_same_line_rfc3264_8_2() {
        let mut session = phone();
        session.create_offer();
        // The peer removes our audio stream in its re-offer.
        let answer = session.create_answer(&offer("m=audio 0 RTP/AVP 0\n"));
        assert_eq!(answer.media.len(), 1);
        assert!(answer.media[0].is_rejected());
    }

    #[test]
    fn common_events_are_written_as_ranges() {
        assert_eq!(
            common_events(Some("0-15"), Some("0-16")).as_deref(),
            Some("0-15")
        );
        assert_eq!(
            common_events(Some("0-255"), Some("5,7-9,255")).as_deref(),
            Some("5,7-9,255")
        );
        assert_eq!(common_events(Some("16"), Some("0-15")), None);
        // A list we cannot read is answered as offered rather than refused.
        assert_eq!(
            common_events(Some("0-15;x"), Some("0-16")).as_deref(),
            Some("0-15;x")
        );
    }
}
