//! End to end over loopback UDP with the tokio runner: the WAV recorded at one end matches
//! the WAV played at the other (length within 40 ms, cross-correlation), and DTMF digits
//! sent are the digits received.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime};

use tokio::sync::mpsc;
use tokio::time::timeout;

use strowger_media::g711::{mulaw_decode, mulaw_encode};
use strowger_media::wav::read_wav;
use strowger_media::{
    run_media, MediaCommand, MediaConfig, MediaEvent, MediaSession, MediaSockets, RandomStart,
    RunOptions, WavSink, WavSource, G711,
};

const LOCALHOST: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

fn temp(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("strowger-media-{}-{name}", std::process::id()))
}

/// Two seconds of a non-periodic signal (a chirp under a slow envelope, plus a little
/// deterministic noise), so that only the right lag correlates well.
fn test_signal() -> Vec<i16> {
    let rate = 8000.0;
    let mut noise: u32 = 0x1234_5678;
    (0..16_000)
        .map(|i| {
            let t = f64::from(i) / rate;
            // Instantaneous frequency 300 + 1200 t Hz: 300 Hz to 2700 Hz.
            let phase = std::f64::consts::TAU * (300.0 * t + 600.0 * t * t);
            let envelope = 0.3 + 0.25 * (std::f64::consts::TAU * 1.7 * t).sin();
            noise = noise.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            let n = f64::from((noise >> 16) as u16) / 65536.0 - 0.5;
            ((phase.sin() * envelope + 0.05 * n) * 32767.0) as i16
        })
        .collect()
}

fn write_wav(path: &PathBuf, samples: &[i16]) {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: 8000,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut writer = hound::WavWriter::create(path, spec).unwrap();
    for &s in samples {
        writer.write_sample(s).unwrap();
    }
    writer.finalize().unwrap();
}

/// The best normalised cross-correlation of `b` against `a` over lags in
/// `-max_lag..=max_lag` (b delayed by `lag`), and that lag.
fn best_correlation(a: &[i16], b: &[i16], max_lag: isize) -> (f64, isize) {
    let mut best = (f64::MIN, 0);
    for lag in -max_lag..=max_lag {
        let (mut dot, mut aa, mut bb) = (0.0f64, 0.0f64, 0.0f64);
        for (i, &x) in a.iter().enumerate() {
            let j = i as isize + lag;
            if j < 0 || j as usize >= b.len() {
                continue;
            }
            let (x, y) = (f64::from(x), f64::from(b[j as usize]));
            dot += x * y;
            aa += x * x;
            bb += y * y;
        }
        if aa > 0.0 && bb > 0.0 {
            let c = dot / (aa.sqrt() * bb.sqrt());
            if c > best.0 {
                best = (c, lag);
            }
        }
    }
    best
}

struct Peer {
    sockets: MediaSockets,
    rtp: SocketAddr,
}

/// An even RTP port and the odd RTCP port above it, both chosen by the OS.
async fn peer() -> Peer {
    let sockets = MediaSockets::bind_pair(LOCALHOST).await.unwrap();
    let rtp = sockets.rtp_addr().unwrap();
    assert_eq!(rtp.port() % 2, 0);
    let rtcp = sockets.rtcp.as_ref().unwrap().local_addr().unwrap();
    assert_eq!(rtcp.port(), rtp.port() + 1);
    Peer { sockets, rtp }
}

fn config(remote: SocketAddr) -> MediaConfig {
    let mut config = MediaConfig::new(remote, G711::Pcmu);
    config.telephone_event = Some(101);
    config.rtcp_interval = Duration::from_millis(500);
    config
}

#[tokio::test]
async fn wav_recorded_at_one_end_matches_the_wav_played_at_the_other() {
    let played_path = temp("played.wav");
    let recorded_path = temp("recorded.wav");
    let signal = test_signal();
    write_wav(&played_path, &signal);

    let (a, b) = (peer().await, peer().await);
    let now = Instant::now();
    let sender = MediaSession::new(config(b.rtp), RandomStart::from_entropy(), now)
        .unwrap()
        .with_source(WavSource::open(&played_path, 8000).unwrap())
        .with_wall_clock(SystemTime::now());
    let receiver = MediaSession::new(config(a.rtp), RandomStart::from_entropy(), now)
        .unwrap()
        .with_sink(WavSink::create(&recorded_path, 8000).unwrap());

    let (a_events_tx, mut a_events) = mpsc::unbounded_channel();
    let (a_stop_tx, a_stop) = tokio::sync::oneshot::channel::<()>();
    let (b_stop_tx, b_stop) = tokio::sync::oneshot::channel::<()>();
    let a_task = tokio::spawn(run_media(
        sender,
        a.sockets,
        RunOptions {
            events: Some(a_events_tx),
            ..RunOptions::default()
        },
        async {
            let _ = a_stop.await;
        },
    ));
    let b_task = tokio::spawn(run_media(
        receiver,
        b.sockets,
        RunOptions::default(),
        async {
            let _ = b_stop.await;
        },
    ));

    let outcome = timeout(Duration::from_secs(10), async {
        // Wait until the sender's file has played, then for the receiver's jitter buffer.
        while let Some(event) = a_events.recv().await {
            if event == MediaEvent::SourceEnded {
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
        let _ = a_stop_tx.send(());
        let _ = b_stop_tx.send(());
        (
            a_task.await.unwrap().unwrap(),
            b_task.await.unwrap().unwrap(),
        )
    })
    .await;
    let (sender, receiver) = outcome.expect("the call finished within 10 s");

    let recorded = read_wav(&recorded_path, 8000).unwrap();
    let reference: Vec<i16> = signal
        .iter()
        .map(|&s| mulaw_decode(mulaw_encode(s)))
        .collect();
    let length_difference_ms =
        (recorded.len() as f64 - reference.len() as f64).abs() * 1000.0 / 8000.0;
    let (correlation, lag) = best_correlation(&reference, &recorded, 400);
    let (raw_correlation, raw_lag) = best_correlation(&signal, &recorded, 400);
    println!(
        "played {} samples, recorded {} samples: length difference {length_difference_ms} ms; \
         cross-correlation {correlation:.6} at lag {lag} against the G.711 round trip, \
         {raw_correlation:.6} at lag {raw_lag} against the original",
        reference.len(),
        recorded.len()
    );
    println!("sender {:?}", sender.stats());
    println!("receiver {:?}", receiver.stats());
    assert!(length_difference_ms <= 40.0, "{length_difference_ms} ms");
    assert!(correlation > 0.9, "{correlation} at lag {lag}");
    assert!(receiver.stats().rtcp_received > 0, "sender reports arrived");
    assert!(sender.stats().rtcp_received > 0, "receiver reports arrived");

    let _ = std::fs::remove_file(&played_path);
    let _ = std::fs::remove_file(&recorded_path);
}

#[tokio::test]
async fn dtmf_digits_sent_are_the_digits_received_with_rtcp_muxed() {
    // One port each for RTP and RTCP (RFC 5761), this time.
    let a = MediaSockets::bind_mux(LOCALHOST).await.unwrap();
    let b = MediaSockets::bind_mux(LOCALHOST).await.unwrap();
    let mut a_config = config(b.rtp_addr().unwrap());
    let mut b_config = config(a.rtp_addr().unwrap());
    a_config.rtcp_mux = true;
    b_config.rtcp_mux = true;
    let now = Instant::now();
    let sender = MediaSession::new(a_config, RandomStart::from_entropy(), now).unwrap();
    let receiver = MediaSession::new(b_config, RandomStart::from_entropy(), now).unwrap();

    let (commands_tx, commands) = mpsc::unbounded_channel();
    let (b_commands_tx, b_commands) = mpsc::unbounded_channel();
    let (b_events_tx, mut b_events) = mpsc::unbounded_channel();
    let a_task = tokio::spawn(run_media(
        sender,
        a,
        RunOptions {
            commands: Some(commands),
            ..RunOptions::default()
        },
        std::future::pending(),
    ));
    let b_task = tokio::spawn(run_media(
        receiver,
        b,
        RunOptions {
            commands: Some(b_commands),
            events: Some(b_events_tx),
            duration: Some(Duration::from_secs(10)),
        },
        std::future::pending(),
    ));
    commands_tx
        .send(MediaCommand::SendDtmf("123#".into()))
        .unwrap();

    let received = timeout(Duration::from_secs(5), async {
        let mut digits = String::new();
        while digits.len() < 4 {
            match b_events.recv().await {
                Some(MediaEvent::DtmfReceived(digit)) => digits.push(digit.as_char()),
                Some(_) => {}
                None => break,
            }
        }
        digits
    })
    .await
    .expect("four digits within 5 s");
    assert_eq!(received, "123#");

    commands_tx.send(MediaCommand::Stop).unwrap();
    b_commands_tx.send(MediaCommand::Stop).unwrap();
    let (sender, receiver) = timeout(Duration::from_secs(2), async {
        (
            a_task.await.unwrap().unwrap(),
            b_task.await.unwrap().unwrap(),
        )
    })
    .await
    .expect("both stopped");
    assert!(sender.is_closed() && receiver.is_closed());
    assert!(receiver.stats().rtcp_received > 0, "muxed RTCP arrived");
    assert_eq!(receiver.stats().malformed, 0);
    // Each digit was reported once: the repeated end packets were not.
    while let Ok(event) = b_events.try_recv() {
        assert!(!matches!(event, MediaEvent::DtmfReceived(_)), "{event:?}");
    }
}
