//! `MediaSession` driven by hand with a virtual clock: exact packets, loss, reordering,
//! RTCP timing, timeouts.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use strowger_media::rtcp::{parse_compound, RtcpPacket};
use strowger_media::{
    Channel, Digit, MediaConfig, MediaEvent, MediaSession, MemorySink, RandomStart, RtpPacket,
    SampleSource, Tone, Transmit, G711,
};

const MS20: Duration = Duration::from_millis(20);

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn config() -> MediaConfig {
    let mut config = MediaConfig::new(addr("192.0.2.2:40000"), G711::Pcmu);
    config.telephone_event = Some(101);
    config
}

fn start() -> RandomStart {
    RandomStart {
        ssrc: 0x1122_3344,
        sequence: 65534,
        timestamp: 1000,
    }
}

/// Runs `ticks` packet times and returns what was sent.
fn run(session: &mut MediaSession, start: Instant, ticks: u32) -> Vec<Transmit> {
    let mut out = Vec::new();
    for i in 0..ticks {
        session.handle_timeout(start + MS20 * i);
        while let Some(t) = session.poll_transmit() {
            out.push(t);
        }
    }
    out
}

fn rtp_only(transmits: &[Transmit]) -> Vec<&[u8]> {
    transmits
        .iter()
        .filter(|t| t.channel == Channel::Rtp)
        .map(|t| t.contents.as_slice())
        .collect()
}

#[test]
fn rfc4733_digit_goes_out_as_exact_telephone_event_packets() {
    let t0 = Instant::now();
    let mut session = MediaSession::new(config(), start(), t0).unwrap();
    session.send_dtmf("#").unwrap();
    let sent = run(&mut session, t0, 8);
    let rtp = rtp_only(&sent);
    let header = |marker: u8, seq: u16| {
        let mut h = vec![0x80, marker | 101];
        h.extend(seq.to_be_bytes());
        h.extend(1000u32.to_be_bytes());
        h.extend([0x11, 0x22, 0x33, 0x44]);
        h
    };
    let expected: Vec<Vec<u8>> = [
        (0x80, 65534, [11, 0x0A, 0x00, 0xA0]),
        (0, 65535, [11, 0x0A, 0x01, 0x40]),
        (0, 0, [11, 0x0A, 0x01, 0xE0]),
        (0, 1, [11, 0x0A, 0x02, 0x80]),
        (0, 2, [11, 0x8A, 0x03, 0x20]),
        (0, 3, [11, 0x8A, 0x03, 0x20]),
        (0, 4, [11, 0x8A, 0x03, 0x20]),
    ]
    .into_iter()
    .map(|(m, seq, payload)| {
        let mut p = header(m, seq);
        p.extend(payload);
        p
    })
    .collect();
    assert_eq!(
        &rtp[..7],
        expected.iter().map(Vec::as_slice).collect::<Vec<_>>()
    );
    // Then audio resumes, its timestamp having advanced in real time: 1000 + 7 * 160.
    let audio = RtpPacket::parse(rtp[7]).unwrap();
    assert_eq!(
        (
            audio.payload_type,
            audio.sequence,
            audio.timestamp,
            audio.marker
        ),
        (0, 5, 2120, true)
    );
    assert_eq!(audio.payload, [0xFF; 160]);
    let events: Vec<MediaEvent> = std::iter::from_fn(|| session.poll_event()).collect();
    assert_eq!(
        events,
        [MediaEvent::DtmfSent(Digit::from_char('#').unwrap())]
    );
}

#[test]
fn dtmf_is_refused_without_telephone_event_or_with_a_bad_digit() {
    let t0 = Instant::now();
    let mut config = config();
    let mut session = MediaSession::new(config.clone(), start(), t0).unwrap();
    assert!(session.send_dtmf("12x").is_err());
    config.telephone_event = None;
    let mut session = MediaSession::new(config, start(), t0).unwrap();
    assert!(session.send_dtmf("1").is_err());
}

#[test]
fn audio_is_paced_one_frame_per_ptime_with_consecutive_numbers() {
    let t0 = Instant::now();
    let mut session = MediaSession::new(config(), start(), t0)
        .unwrap()
        .with_source(Tone::new(1000.0, 0.5, 8000).with_samples(1000));
    // Jumping 100 ms at once sends the 6 frames due (ticks at 0, 20, ... 100 ms).
    session.handle_timeout(t0 + Duration::from_millis(100));
    let sent: Vec<Transmit> = std::iter::from_fn(|| session.poll_transmit()).collect();
    let packets: Vec<RtpPacket<'_>> = sent
        .iter()
        .map(|t| RtpPacket::parse(&t.contents).unwrap())
        .collect();
    assert_eq!(packets.len(), 6);
    for (i, p) in packets.iter().enumerate() {
        assert_eq!(p.sequence, 65534u16.wrapping_add(i as u16));
        assert_eq!(p.timestamp, 1000 + 160 * i as u32);
        assert_eq!(p.marker, i == 0);
    }
    // 1000 samples: six whole frames, a last one of 40 samples padded with silence.
    let more = run(&mut session, t0 + Duration::from_millis(120), 3);
    assert_eq!(rtp_only(&more).len(), 1);
    assert_eq!(
        session.poll_event(),
        Some(MediaEvent::SourceEnded),
        "the source ran out"
    );
    assert_eq!(
        session.poll_timeout(),
        Some(t0 + Duration::from_millis(180))
    );
}

/// The 50 packets a peer sends for one second of PCMA, and what they decode to.
fn peer_stream() -> (Vec<Vec<u8>>, Vec<i16>) {
    let mut peer_config = MediaConfig::new(addr("192.0.2.1:40000"), G711::Pcma);
    peer_config.telephone_event = Some(101);
    let samples: Vec<i16> = (0..8000)
        .map(|i| ((i * 97) % 20000 - 10000) as i16)
        .collect();
    let t0 = Instant::now();
    let mut peer = MediaSession::new(peer_config, RandomStart::from_seed(9), t0)
        .unwrap()
        .with_source(SampleSource::new(samples.clone()));
    let sent = run(&mut peer, t0, 51);
    let packets: Vec<Vec<u8>> = rtp_only(&sent).iter().map(|p| p.to_vec()).collect();
    assert_eq!(packets.len(), 50);
    let codes: Vec<u8> = samples
        .iter()
        .map(|&s| strowger_media::g711::alaw_encode(s))
        .collect();
    let mut expected = Vec::new();
    G711::Pcma.decode(&codes, &mut expected);
    (packets, expected)
}

/// Delivers `schedule[t]` (indexes into `packets`) at packet time `t`, then lets the
/// buffer drain; returns what was played.
fn receive(packets: &[Vec<u8>], schedule: &[Vec<usize>]) -> (Vec<i16>, MediaSession) {
    let t0 = Instant::now();
    let sink = MemorySink::new();
    let mut config = config();
    config.codec = G711::Pcmu; // the peer sends PCMA: decoded by its static payload type
    config.send = false;
    let mut session = MediaSession::new(config, start(), t0)
        .unwrap()
        .with_sink(sink.clone());
    let from = addr("192.0.2.1:40000");
    let mut tick = 0;
    for slot in schedule {
        let now = t0 + MS20 * tick;
        for &i in slot {
            session.handle_datagram(now, from, &packets[i]);
        }
        session.handle_timeout(now);
        tick += 1;
    }
    for _ in 0..20 {
        session.handle_timeout(t0 + MS20 * tick);
        tick += 1;
    }
    (sink.samples(), session)
}

#[test]
fn received_audio_plays_in_order_despite_reordering_and_duplicates() {
    let (packets, expected) = peer_stream();
    // Pairs swapped: 1, 0, 3, 2, ...
    let mut schedule: Vec<Vec<usize>> = (0..50).map(|i| vec![i ^ 1]).collect();
    schedule[10].push(3); // a duplicate after its turn
    schedule[20].push(18); // a duplicate before its turn
    let (played, session) = receive(&packets, &schedule);
    assert_eq!(played, expected);
    let stats = session.stats().jitter;
    assert_eq!((stats.late, stats.duplicates, stats.lost), (1, 1, 0));
}

#[test]
fn lost_packets_are_concealed_with_silence_keeping_the_length() {
    let (packets, mut expected) = peer_stream();
    let schedule: Vec<Vec<usize>> = (0..50)
        .map(|i| {
            if [10, 11, 30].contains(&i) {
                vec![]
            } else {
                vec![i]
            }
        })
        .collect();
    let (played, session) = receive(&packets, &schedule);
    for lost in [10, 11, 30] {
        expected[lost * 160..(lost + 1) * 160].fill(0);
    }
    assert_eq!(played.len(), expected.len());
    assert_eq!(played, expected);
    assert_eq!(session.stats().jitter.lost, 3);
}

#[test]
fn rfc3550_6_2_reports_every_interval_with_counts_and_bye_on_close() {
    let t0 = Instant::now();
    let mut session = MediaSession::new(config(), start(), t0)
        .unwrap()
        .with_source(Tone::new(440.0, 0.3, 8000));
    let mut reports = Vec::new();
    let mut now = t0;
    while now <= t0 + Duration::from_millis(12_600) {
        session.handle_timeout(now);
        while let Some(t) = session.poll_transmit() {
            if t.channel == Channel::Rtcp {
                assert_eq!(t.destination, addr("192.0.2.2:40001"), "RTP port + 1");
                reports.push((now - t0, parse_compound(&t.contents).unwrap()));
            }
        }
        now = session.poll_timeout().unwrap();
    }
    let times: Vec<u64> = reports.iter().map(|(t, _)| t.as_millis() as u64).collect();
    assert_eq!(times, [2500, 7500, 12_500]);
    match &reports[1].1[..] {
        [RtcpPacket::SenderReport(sr), RtcpPacket::SourceDescription { cname, .. }] => {
            assert_eq!(sr.ssrc, 0x1122_3344);
            // Ticks at 0, 20, ... 7500 ms: 376 packets of 160 octets.
            assert_eq!(sr.packet_count, 376);
            assert_eq!(sr.octet_count, 376 * 160);
            assert_eq!(sr.rtp_timestamp, 1000 + 7500 * 8);
            assert_eq!(cname.as_deref(), Some("strowger"));
        }
        other => panic!("expected SR and SDES, got {other:?}"),
    }
    session.close(now);
    let last: Vec<Transmit> = std::iter::from_fn(|| session.poll_transmit()).collect();
    let bye = parse_compound(&last[0].contents).unwrap();
    assert!(
        matches!(bye.last(), Some(RtcpPacket::Goodbye { sources, .. }) if sources == &[0x1122_3344])
    );
    assert_eq!(session.poll_timeout(), None);
}

#[test]
fn silence_from_the_peer_raises_a_timeout_then_resumes() {
    let t0 = Instant::now();
    let mut config = config();
    config.rtp_timeout = Duration::from_secs(2);
    let mut session = MediaSession::new(config, start(), t0).unwrap();
    let peer = RtpPacket::new(0, 1, 0, 77, &[0xFF; 160])
        .to_bytes()
        .unwrap();
    session.handle_datagram(t0, addr("192.0.2.1:4000"), &peer);
    session.handle_timeout(t0 + Duration::from_millis(1990));
    assert!(matches!(
        session.poll_event(),
        Some(MediaEvent::RemoteStarted { ssrc: 77, .. })
    ));
    assert_eq!(session.poll_event(), None);
    session.handle_timeout(t0 + Duration::from_secs(2));
    assert_eq!(
        session.poll_event(),
        Some(MediaEvent::RtpTimeout {
            silent_for: Duration::from_secs(2)
        })
    );
    let peer = RtpPacket::new(0, 2, 160, 77, &[0xFF; 160])
        .to_bytes()
        .unwrap();
    session.handle_datagram(t0 + Duration::from_secs(3), addr("192.0.2.1:4000"), &peer);
    assert_eq!(session.poll_event(), Some(MediaEvent::RtpResumed));
}

#[test]
fn garbage_datagrams_are_counted_and_dropped() {
    let t0 = Instant::now();
    let mut session = MediaSession::new(config(), start(), t0).unwrap();
    let from = addr("192.0.2.1:4000");
    for datagram in [
        &b""[..],
        b"\x80",
        b"\x00\x00abcdefghij",
        b"\x81\xc8\x00\x40",
        b"\x80\xc9",
    ] {
        session.handle_datagram(t0, from, datagram);
    }
    assert_eq!(session.stats().malformed, 5);
    assert_eq!(session.poll_event(), None);
    // An RTCP BYE from the peer is reported.
    let bye = strowger_media::rtcp::write_compound(&[RtcpPacket::Goodbye {
        sources: vec![5],
        reason: Some("done".into()),
    }]);
    session.handle_datagram(t0, from, &bye);
    assert_eq!(
        session.poll_event(),
        Some(MediaEvent::RemoteBye {
            reason: Some("done".into())
        })
    );
}

#[test]
fn configuration_comes_from_the_offer_answer_exchange() {
    use strowger_sdp::{negotiated_audio, Role, SessionDescription};
    let offer = SessionDescription::parse(
        b"v=0\r\no=a 1 1 IN IP4 198.51.100.1\r\ns=-\r\nc=IN IP4 198.51.100.1\r\nt=0 0\r\n\
          m=audio 49170 RTP/AVP 8 0 101\r\na=rtpmap:101 telephone-event/8000\r\na=ptime:30\r\n",
    )
    .unwrap();
    let answer = SessionDescription::parse(
        b"v=0\r\no=b 2 2 IN IP4 203.0.113.7\r\ns=-\r\nc=IN IP4 203.0.113.7\r\nt=0 0\r\n\
          m=audio 30000 RTP/AVP 8 101\r\na=rtpmap:101 telephone-event/8000\r\na=recvonly\r\n",
    )
    .unwrap();
    let audio = negotiated_audio(&offer, &answer, Role::Answerer).unwrap();
    let config = MediaConfig::from_negotiated(&audio).unwrap();
    assert_eq!(config.remote_rtp, addr("198.51.100.1:49170"));
    assert_eq!((config.codec, config.payload_type), (G711::Pcma, 8));
    assert_eq!(config.telephone_event, Some(101));
    assert_eq!(config.ptime_ms, 30);
    assert!(!config.send && config.receive, "answered recvonly");

    let mut unsupported = audio.clone();
    unsupported.encoding_name = "opus".into();
    unsupported.clock_rate = 48000;
    assert!(MediaConfig::from_negotiated(&unsupported).is_err());
}
