//! One audio stream, sans-I/O: datagrams and time in, datagrams, events and the next
//! wake-up out (the shape of `strowger-core` and quinn-proto).
//!
//! Every packet time (`ptime`, 20 ms by default) the session sends one RTP packet — a
//! frame of the [`AudioSource`] encoded with G.711, or a telephone-event packet while a
//! digit is being sent (RFC 4733) — and plays one frame from the jitter buffer into the
//! [`AudioSink`]. RTCP goes out every `rtcp_interval` (RFC 3550 section 6.2, first after
//! half of it), and a BYE when [`MediaSession::close`] is called.

use std::collections::VecDeque;
use std::hash::{BuildHasher, Hasher};
use std::net::SocketAddr;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use strowger_sdp::{Direction, NegotiatedAudio};

use crate::audio::{AudioSink, AudioSource, NullSink, Silence};
use crate::dtmf::{Digit, DtmfDetector, DtmfSender, DtmfTiming, TelephoneEvent};
use crate::g711::G711;
use crate::jitter::{JitterBuffer, JitterConfig, JitterStats, Playout};
use crate::rtcp::{
    ntp_timestamp, parse_compound, write_compound, ReceptionStats, RtcpPacket, SenderReport,
};
use crate::rtp::{is_rtcp, RtpPacket};

/// Comfort noise (RFC 3389), static payload type 13: played as silence.
const COMFORT_NOISE: u8 = 13;

/// Ticks the session catches up at once after a stall before it skips ahead.
const MAX_CATCH_UP_TICKS: u32 = 10;

/// A session cannot be set up, or a request is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MediaError {
    /// The negotiated codec is not PCMU or PCMA.
    #[error("codec {0} is not supported; offer PCMU (0) or PCMA (8)")]
    UnsupportedCodec(String),
    /// The clock rate is not 8000 Hz.
    #[error("clock rate {0} Hz is not supported; G.711 runs at 8000 Hz")]
    UnsupportedClockRate(u32),
    /// A ptime that does not give a whole number of samples, or is not 10-120 ms.
    #[error("packet time {0} ms is not supported (10 to 120 ms in steps of 1 ms)")]
    UnsupportedPtime(u32),
    /// A character that is not a DTMF digit.
    #[error("{0:?} is not a DTMF digit (0-9, *, #, A-D)")]
    InvalidDigit(char),
    /// DTMF asked for, but no telephone-event payload type was negotiated.
    #[error("the peer did not negotiate telephone-event (RFC 4733)")]
    NoTelephoneEvent,
}

/// How a missing packet is played.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Concealment {
    /// Silence.
    #[default]
    Silence,
    /// The last packet again, at half the level each time, silence after three.
    Repeat,
}

/// What the session sends and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaConfig {
    /// Where RTP goes.
    pub remote_rtp: SocketAddr,
    /// Where RTCP goes; `None`: the RTP port + 1 (RFC 3550 section 11), or the RTP address
    /// itself with `rtcp_mux`.
    pub remote_rtcp: Option<SocketAddr>,
    /// RTP and RTCP on one port (RFC 5761).
    pub rtcp_mux: bool,
    /// The codec sent.
    pub codec: G711,
    /// The payload type sent for it (the static 0 or 8 unless the SDP mapped another).
    pub payload_type: u8,
    /// Payload type of telephone-event, if negotiated.
    pub telephone_event: Option<u8>,
    /// Packet time in ms (20 by default).
    pub ptime_ms: u32,
    /// Send RTP (false for `recvonly` and `inactive`).
    pub send: bool,
    /// Play what is received (false for `sendonly` and `inactive`).
    pub receive: bool,
    /// Jitter buffer sizes; its `ptime_ms` is set from the session's.
    pub jitter: JitterConfig,
    /// How lost packets are played.
    pub concealment: Concealment,
    /// DTMF tone and gap lengths.
    pub dtmf: DtmfTiming,
    /// Between RTCP reports (5 s by default).
    pub rtcp_interval: Duration,
    /// No RTP for this long raises [`MediaEvent::RtpTimeout`] (10 s by default).
    pub rtp_timeout: Duration,
    /// SDES CNAME (RFC 3550 section 6.5.1).
    pub cname: String,
}

impl MediaConfig {
    /// Defaults for sending `codec` to `remote_rtp`.
    pub fn new(remote_rtp: SocketAddr, codec: G711) -> MediaConfig {
        MediaConfig {
            remote_rtp,
            remote_rtcp: None,
            rtcp_mux: false,
            codec,
            payload_type: codec.payload_type(),
            telephone_event: None,
            ptime_ms: 20,
            send: true,
            receive: true,
            jitter: JitterConfig::default(),
            concealment: Concealment::default(),
            dtmf: DtmfTiming::default(),
            rtcp_interval: Duration::from_secs(5),
            rtp_timeout: Duration::from_secs(10),
            cname: "strowger".into(),
        }
    }

    /// The configuration an offer/answer exchange settled on ([`strowger_sdp::negotiated_audio`]).
    pub fn from_negotiated(audio: &NegotiatedAudio) -> Result<MediaConfig, MediaError> {
        let codec = G711::from_encoding_name(&audio.encoding_name)
            .ok_or_else(|| MediaError::UnsupportedCodec(audio.encoding_name.clone()))?;
        if audio.clock_rate != 8000 {
            return Err(MediaError::UnsupportedClockRate(audio.clock_rate));
        }
        let remote_rtp = SocketAddr::new(audio.remote_address, audio.remote_port);
        let mut config = MediaConfig::new(remote_rtp, codec);
        config.payload_type = audio.payload_type;
        config.telephone_event = audio.telephone_event;
        config.remote_rtcp = audio
            .remote_rtcp_port
            .map(|port| SocketAddr::new(audio.remote_address, port));
        if let Some(ptime) = audio.ptime {
            config.ptime_ms = ptime;
        }
        (config.send, config.receive) = match audio.direction {
            Direction::SendRecv => (true, true),
            Direction::SendOnly => (true, false),
            Direction::RecvOnly => (false, true),
            Direction::Inactive => (false, false),
        };
        config.validate()?;
        Ok(config)
    }

    fn validate(&self) -> Result<(), MediaError> {
        if !(10..=120).contains(&self.ptime_ms) {
            return Err(MediaError::UnsupportedPtime(self.ptime_ms));
        }
        Ok(())
    }

    fn rtcp_destination(&self) -> SocketAddr {
        match self.remote_rtcp {
            Some(address) => address,
            None if self.rtcp_mux => self.remote_rtp,
            None => {
                let mut address = self.remote_rtp;
                address.set_port(address.port().wrapping_add(1));
                address
            }
        }
    }
}

/// The random starting values RFC 3550 section 5.1 asks for: SSRC, sequence number and
/// timestamp. Injected so tests are deterministic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RandomStart {
    /// Synchronisation source.
    pub ssrc: u32,
    /// First sequence number.
    pub sequence: u16,
    /// First timestamp.
    pub timestamp: u32,
}

impl RandomStart {
    /// Values drawn from a seed (SplitMix64).
    pub fn from_seed(seed: u64) -> RandomStart {
        let mut state = seed;
        let mut next = || {
            state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        };
        let a = next();
        let b = next();
        RandomStart {
            ssrc: a as u32,
            sequence: (a >> 32) as u16,
            timestamp: b as u32,
        }
    }

    /// Values seeded from the process's hash randomness and the clock: unpredictable
    /// enough for RTP (not for cryptography; SRTP is out of scope).
    pub fn from_entropy() -> RandomStart {
        let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        hasher.write_u128(now.as_nanos());
        hasher.write_u32(std::process::id());
        RandomStart::from_seed(hasher.finish())
    }
}

/// Which port a datagram belongs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Channel {
    /// The RTP port.
    Rtp,
    /// The RTCP port (the RTP port itself with rtcp-mux).
    Rtcp,
}

/// A datagram to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transmit {
    /// Where to.
    pub destination: SocketAddr,
    /// From which socket.
    pub channel: Channel,
    /// The datagram.
    pub contents: Vec<u8>,
}

/// What the session tells the application.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum MediaEvent {
    /// The first RTP packet from a source arrived.
    RemoteStarted {
        /// Where it came from.
        from: SocketAddr,
        /// Its SSRC.
        ssrc: u32,
    },
    /// The peer pressed a key (RFC 4733), reported once per event.
    DtmfReceived(Digit),
    /// A digit asked for with [`MediaSession::send_dtmf`] was sent in full.
    DtmfSent(Digit),
    /// No RTP arrived for `rtp_timeout`.
    RtpTimeout {
        /// Since the last packet (or the start).
        silent_for: Duration,
    },
    /// RTP arrived again after a timeout.
    RtpResumed,
    /// The peer sent an RTCP BYE.
    RemoteBye {
        /// Why, if said.
        reason: Option<String>,
    },
    /// The audio source ended; nothing more is sent but DTMF.
    SourceEnded,
    /// Writing to the sink failed; nothing more is written.
    SinkFailed(String),
}

/// Counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MediaStats {
    /// RTP packets sent.
    pub packets_sent: u64,
    /// RTP payload octets sent.
    pub octets_sent: u64,
    /// RTP packets received and accepted.
    pub packets_received: u64,
    /// Datagrams that were neither RTP nor RTCP.
    pub malformed: u64,
    /// RTP packets with a payload type this session does not play.
    pub unknown_payload_type: u64,
    /// RTCP compound packets received.
    pub rtcp_received: u64,
    /// RTCP compound packets sent.
    pub rtcp_sent: u64,
    /// Samples written to the sink.
    pub samples_played: u64,
    /// The jitter buffer's counters.
    pub jitter: JitterStats,
}

/// What the jitter buffer holds for one sequence number.
#[derive(Debug, Clone)]
enum Held {
    Audio {
        codec: G711,
        payload: Vec<u8>,
    },
    /// A telephone-event or comfort noise packet: a packet time of silence.
    Silence,
}

#[derive(Debug, Clone, Copy)]
struct RemoteSource {
    ssrc: u32,
    last_sr: Option<(u32, Instant)>,
}

/// One RTP audio stream.
pub struct MediaSession {
    config: MediaConfig,
    samples_per_frame: usize,
    ptime: Duration,
    start: Instant,
    wall_clock_at_start: SystemTime,
    ssrc: u32,
    timestamp_base: u32,
    sequence: u16,
    tick: u64,
    next_tick: Instant,
    next_rtcp: Instant,
    closed: bool,

    source: Box<dyn AudioSource>,
    source_ended: bool,
    frame: Vec<i16>,
    first_audio_sent: bool,
    dtmf_sender: DtmfSender,

    sink: Box<dyn AudioSink>,
    sink_failed: bool,
    jitter: JitterBuffer<Held>,
    pending: VecDeque<i16>,
    last_frame: Vec<i16>,
    repeats: u32,
    remote: Option<RemoteSource>,
    reception: ReceptionStats,
    dtmf_detector: DtmfDetector,
    last_received: Instant,
    timed_out: bool,

    stats: MediaStats,
    sent_since_report: bool,
    transmits: VecDeque<Transmit>,
    events: VecDeque<MediaEvent>,
}

impl std::fmt::Debug for MediaSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MediaSession")
            .field("config", &self.config)
            .field("ssrc", &self.ssrc)
            .field("stats", &self.stats)
            .field("closed", &self.closed)
            .finish_non_exhaustive()
    }
}

impl MediaSession {
    /// A session starting at `now`, sending silence and discarding what it receives until
    /// [`with_source`](Self::with_source) and [`with_sink`](Self::with_sink) say otherwise.
    pub fn new(
        config: MediaConfig,
        start: RandomStart,
        now: Instant,
    ) -> Result<MediaSession, MediaError> {
        config.validate()?;
        let clock_rate = 8000u32;
        let samples = clock_rate * config.ptime_ms / 1000;
        let ptime = Duration::from_millis(u64::from(config.ptime_ms));
        let mut jitter_config = config.jitter;
        jitter_config.ptime_ms = config.ptime_ms;
        Ok(MediaSession {
            samples_per_frame: samples as usize,
            ptime,
            start: now,
            wall_clock_at_start: UNIX_EPOCH,
            ssrc: start.ssrc,
            timestamp_base: start.timestamp,
            sequence: start.sequence,
            tick: 0,
            next_tick: now,
            next_rtcp: now + config.rtcp_interval / 2,
            closed: false,
            source: Box::new(Silence::endless()),
            source_ended: false,
            frame: vec![0; samples as usize],
            first_audio_sent: false,
            dtmf_sender: DtmfSender::new(config.dtmf, samples, config.ptime_ms),
            sink: Box::new(NullSink),
            sink_failed: false,
            jitter: JitterBuffer::new(jitter_config),
            pending: VecDeque::new(),
            last_frame: Vec::new(),
            repeats: 0,
            remote: None,
            reception: ReceptionStats::default(),
            dtmf_detector: DtmfDetector::new(),
            last_received: now,
            timed_out: false,
            stats: MediaStats::default(),
            sent_since_report: false,
            transmits: VecDeque::new(),
            events: VecDeque::new(),
            config,
        })
    }

    /// Sends audio from `source`.
    pub fn with_source(mut self, source: impl AudioSource + 'static) -> MediaSession {
        self.source = Box::new(source);
        self
    }

    /// Plays received audio into `sink`.
    pub fn with_sink(mut self, sink: impl AudioSink + 'static) -> MediaSession {
        self.sink = Box::new(sink);
        self
    }

    /// The wall-clock time at the session's start, for RTCP's NTP timestamps.
    pub fn with_wall_clock(mut self, at_start: SystemTime) -> MediaSession {
        self.wall_clock_at_start = at_start;
        self
    }

    /// This side's SSRC.
    pub fn ssrc(&self) -> u32 {
        self.ssrc
    }

    /// The configuration.
    pub fn config(&self) -> &MediaConfig {
        &self.config
    }

    /// Counters so far.
    pub fn stats(&self) -> MediaStats {
        MediaStats {
            jitter: self.jitter.stats(),
            ..self.stats
        }
    }

    /// Whether [`close`](Self::close) was called.
    pub fn is_closed(&self) -> bool {
        self.closed
    }

    /// Queues digits (`0`-`9`, `*`, `#`, `A`-`D`) to send as telephone-events. Checks all
    /// of them before queueing any.
    pub fn send_dtmf(&mut self, digits: &str) -> Result<(), MediaError> {
        if self.config.telephone_event.is_none() {
            return Err(MediaError::NoTelephoneEvent);
        }
        let digits = digits
            .chars()
            .filter(|c| !c.is_whitespace())
            .map(|c| Digit::from_char(c).ok_or(MediaError::InvalidDigit(c)))
            .collect::<Result<Vec<Digit>, MediaError>>()?;
        for digit in digits {
            self.dtmf_sender.push(digit);
        }
        Ok(())
    }

    /// Takes a datagram from the RTP or RTCP port (told apart by RFC 5761's rule, so one
    /// port or two both work).
    pub fn handle_datagram(&mut self, now: Instant, from: SocketAddr, datagram: &[u8]) {
        if self.closed {
            return;
        }
        if is_rtcp(datagram) {
            self.handle_rtcp(now, datagram);
        } else {
            self.handle_rtp(now, from, datagram);
        }
    }

    fn handle_rtcp(&mut self, now: Instant, datagram: &[u8]) {
        let packets = match parse_compound(datagram) {
            Ok(packets) => packets,
            Err(error) => {
                tracing::debug!(%error, "dropping malformed RTCP");
                self.stats.malformed += 1;
                return;
            }
        };
        self.stats.rtcp_received += 1;
        for packet in packets {
            match packet {
                RtcpPacket::SenderReport(sr) => {
                    if let Some(remote) = self.remote.as_mut().filter(|r| r.ssrc == sr.ssrc) {
                        remote.last_sr = Some(((sr.ntp_timestamp >> 16) as u32, now));
                    }
                }
                RtcpPacket::Goodbye { sources, reason } => {
                    let ours = self
                        .remote
                        .is_none_or(|remote| sources.contains(&remote.ssrc));
                    if ours {
                        self.events.push_back(MediaEvent::RemoteBye { reason });
                    }
                }
                _ => {}
            }
        }
    }

    fn handle_rtp(&mut self, now: Instant, from: SocketAddr, datagram: &[u8]) {
        let packet = match RtpPacket::parse(datagram) {
            Ok(packet) => packet,
            Err(error) => {
                tracing::debug!(%error, %from, "dropping malformed RTP");
                self.stats.malformed += 1;
                return;
            }
        };
        match self.remote {
            Some(remote) if remote.ssrc == packet.ssrc => {}
            previous => {
                // A new source, or the peer changed SSRC (RFC 3550 section 8.2): start over.
                if previous.is_some() {
                    tracing::info!(ssrc = packet.ssrc, %from, "remote RTP source changed");
                    self.jitter.reset();
                    self.pending.clear();
                }
                self.remote = Some(RemoteSource {
                    ssrc: packet.ssrc,
                    last_sr: None,
                });
                self.reception = ReceptionStats::default();
                self.dtmf_detector = DtmfDetector::new();
                self.events.push_back(MediaEvent::RemoteStarted {
                    from,
                    ssrc: packet.ssrc,
                });
            }
        }
        self.stats.packets_received += 1;
        self.last_received = now;
        if self.timed_out {
            self.timed_out = false;
            self.events.push_back(MediaEvent::RtpResumed);
        }
        let arrival = self.rtp_timestamp_at(now);
        self.reception
            .on_packet(packet.sequence, packet.timestamp, arrival);

        let held = if Some(packet.payload_type) == self.config.telephone_event {
            match TelephoneEvent::parse(packet.payload) {
                Ok(event) => {
                    if let Some(digit) = self.dtmf_detector.on_packet(packet.timestamp, &event) {
                        self.events.push_back(MediaEvent::DtmfReceived(digit));
                    }
                }
                Err(error) => tracing::debug!(%error, "dropping malformed telephone-event"),
            }
            Held::Silence
        } else if packet.payload_type == COMFORT_NOISE {
            Held::Silence
        } else if let Some(codec) = self.codec_for(packet.payload_type) {
            Held::Audio {
                codec,
                payload: packet.payload.to_vec(),
            }
        } else {
            self.stats.unknown_payload_type += 1;
            return;
        };
        if self.config.receive {
            self.jitter.insert(packet.sequence, held);
        }
    }

    fn codec_for(&self, payload_type: u8) -> Option<G711> {
        if payload_type == self.config.payload_type {
            Some(self.config.codec)
        } else {
            G711::from_payload_type(payload_type)
        }
    }

    fn rtp_timestamp_at(&self, now: Instant) -> u32 {
        let elapsed = now.saturating_duration_since(self.start);
        let units = elapsed.as_micros() * 8000 / 1_000_000;
        self.timestamp_base.wrapping_add(units as u32)
    }

    /// Lets time pass: sends and plays every packet time due by `now`, sends RTCP when due
    /// and notices a silent peer.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.closed {
            return;
        }
        let mut ticks = 0;
        while self.next_tick <= now {
            if ticks == MAX_CATCH_UP_TICKS {
                // Stalled (a suspended process): skip ahead rather than burst.
                let behind = now.saturating_duration_since(self.next_tick);
                let skipped = (behind.as_nanos() / self.ptime.as_nanos()) as u64 + 1;
                tracing::debug!(skipped, "media clock skipped ahead");
                self.tick += skipped;
                self.next_tick = self.tick_instant(self.tick);
                break;
            }
            self.on_tick();
            self.tick += 1;
            self.next_tick = self.tick_instant(self.tick);
            ticks += 1;
        }
        if self.next_rtcp <= now {
            self.send_rtcp(now, false);
            self.next_rtcp = now + self.config.rtcp_interval;
        }
        let silent_for = now.saturating_duration_since(self.last_received);
        if self.config.receive && !self.timed_out && silent_for >= self.config.rtp_timeout {
            self.timed_out = true;
            self.events.push_back(MediaEvent::RtpTimeout { silent_for });
        }
    }

    fn tick_instant(&self, tick: u64) -> Instant {
        let nanos = u128::from(tick) * self.ptime.as_nanos();
        self.start + Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
    }

    fn on_tick(&mut self) {
        let timestamp = self
            .timestamp_base
            .wrapping_add((self.tick as u32).wrapping_mul(self.samples_per_frame as u32));
        if self.config.send {
            self.send_tick(timestamp);
        }
        if self.config.receive {
            self.play_tick();
        }
    }

    fn send_tick(&mut self, timestamp: u32) {
        let dtmf = self
            .config
            .telephone_event
            .and_then(|pt| Some((pt, self.dtmf_sender.next_packet(timestamp)?)));
        // The source runs in real time: a frame is read every tick, sent or not.
        let mut read = 0;
        if !self.source_ended {
            read = self.source.read(&mut self.frame);
            if read < self.frame.len() {
                self.source_ended = true;
                self.events.push_back(MediaEvent::SourceEnded);
                self.frame.iter_mut().skip(read).for_each(|s| *s = 0);
            }
        }
        if let Some((payload_type, packet)) = dtmf {
            let payload = packet.event.to_bytes();
            let mut rtp = RtpPacket::new(
                payload_type,
                self.sequence,
                packet.timestamp,
                self.ssrc,
                &payload,
            );
            rtp.marker = packet.marker;
            self.send_rtp(&rtp);
            if packet.last {
                self.events.push_back(MediaEvent::DtmfSent(packet.digit));
            }
        } else if read > 0 {
            let mut payload = Vec::with_capacity(self.frame.len());
            self.config.codec.encode(&self.frame, &mut payload);
            let mut rtp = RtpPacket::new(
                self.config.payload_type,
                self.sequence,
                timestamp,
                self.ssrc,
                &payload,
            );
            // RFC 3551 section 4.1: the marker starts a talkspurt.
            rtp.marker = !self.first_audio_sent;
            self.first_audio_sent = true;
            self.send_rtp(&rtp);
        }
    }

    fn send_rtp(&mut self, packet: &RtpPacket<'_>) {
        match packet.to_bytes() {
            Ok(contents) => {
                self.stats.packets_sent += 1;
                self.stats.octets_sent += packet.payload.len() as u64;
                self.sequence = self.sequence.wrapping_add(1);
                self.sent_since_report = true;
                self.transmits.push_back(Transmit {
                    destination: self.config.remote_rtp,
                    channel: Channel::Rtp,
                    contents,
                });
            }
            Err(error) => tracing::warn!(%error, "cannot write RTP packet"),
        }
    }

    fn play_tick(&mut self) {
        let needed = self.samples_per_frame;
        let mut drained = false;
        while self.pending.len() < needed {
            match self.jitter.pop() {
                Playout::Packet(Held::Audio { codec, payload }) => {
                    let mut decoded = Vec::with_capacity(payload.len());
                    codec.decode(&payload, &mut decoded);
                    self.pending.extend(&decoded);
                    self.last_frame = decoded;
                    self.repeats = 0;
                }
                Playout::Packet(Held::Silence) => {
                    self.pending.extend(std::iter::repeat_n(0, needed));
                    self.last_frame.clear();
                }
                Playout::Lost => self.conceal(),
                Playout::Buffering => break,
                Playout::Empty => {
                    drained = true;
                    break;
                }
            }
        }
        // A whole frame if there is one; what is left when the stream stops.
        let n = if self.pending.len() >= needed {
            needed
        } else if drained {
            self.pending.len()
        } else {
            0
        };
        if n == 0 {
            return;
        }
        let frame: Vec<i16> = self.pending.drain(..n).collect();
        self.stats.samples_played += n as u64;
        if self.sink_failed {
            return;
        }
        if let Err(error) = self.sink.write(&frame) {
            tracing::warn!(%error, "audio sink failed");
            self.sink_failed = true;
            self.events
                .push_back(MediaEvent::SinkFailed(error.to_string()));
        }
    }

    fn conceal(&mut self) {
        let len = if self.last_frame.is_empty() {
            self.samples_per_frame
        } else {
            self.last_frame.len()
        };
        match self.config.concealment {
            Concealment::Repeat if !self.last_frame.is_empty() && self.repeats < 3 => {
                self.repeats += 1;
                for sample in &mut self.last_frame {
                    *sample /= 2;
                }
                self.pending.extend(&self.last_frame);
            }
            _ => self.pending.extend(std::iter::repeat_n(0, len)),
        }
    }

    fn send_rtcp(&mut self, now: Instant, bye: bool) {
        let mut reports = Vec::new();
        if let Some(remote) = self.remote {
            if self.reception.received() > 0 {
                let (last_sr, delay) = match remote.last_sr {
                    Some((middle, at)) => {
                        let delay = now.saturating_duration_since(at);
                        (middle, (delay.as_micros() * 65536 / 1_000_000) as u32)
                    }
                    None => (0, 0),
                };
                reports.push(self.reception.report(remote.ssrc, last_sr, delay));
            }
        }
        let first = if self.sent_since_report {
            let wall = self.wall_clock_at_start + now.saturating_duration_since(self.start);
            RtcpPacket::SenderReport(SenderReport {
                ssrc: self.ssrc,
                ntp_timestamp: ntp_timestamp(wall),
                rtp_timestamp: self.rtp_timestamp_at(now),
                packet_count: self.stats.packets_sent as u32,
                octet_count: self.stats.octets_sent as u32,
                reports,
            })
        } else {
            RtcpPacket::ReceiverReport {
                ssrc: self.ssrc,
                reports,
            }
        };
        let mut packets = vec![
            first,
            RtcpPacket::SourceDescription {
                ssrc: self.ssrc,
                cname: Some(self.config.cname.clone()),
            },
        ];
        if bye {
            packets.push(RtcpPacket::Goodbye {
                sources: vec![self.ssrc],
                reason: None,
            });
        }
        self.stats.rtcp_sent += 1;
        self.sent_since_report = false;
        self.transmits.push_back(Transmit {
            destination: self.config.rtcp_destination(),
            channel: if self.config.rtcp_mux {
                Channel::Rtp
            } else {
                Channel::Rtcp
            },
            contents: write_compound(&packets),
        });
    }

    /// Ends the session: queues an RTCP BYE (RFC 3550 section 6.6), plays out what the
    /// jitter buffer holds and finishes the sink. Nothing is sent or played after.
    pub fn close(&mut self, now: Instant) {
        if self.closed {
            return;
        }
        self.send_rtcp(now, true);
        if self.config.receive {
            // Whatever is still buffered was received: play it rather than lose it.
            self.jitter.play_now();
            for _ in 0..1000 {
                if self.jitter.is_empty() && self.pending.is_empty() {
                    break;
                }
                self.play_tick();
            }
        }
        self.closed = true;
        if let Err(error) = self.sink.finish() {
            if !self.sink_failed {
                self.events
                    .push_back(MediaEvent::SinkFailed(error.to_string()));
            }
        }
    }

    /// The next datagram to send.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmits.pop_front()
    }

    /// The next event for the application.
    pub fn poll_event(&mut self) -> Option<MediaEvent> {
        self.events.pop_front()
    }

    /// When [`handle_timeout`](Self::handle_timeout) should next be called.
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.closed {
            return None;
        }
        Some(self.next_tick.min(self.next_rtcp))
    }
}
