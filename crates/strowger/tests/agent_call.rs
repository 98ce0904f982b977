//! `strowger call` against `strowger answer`, both as processes on loopback: audio
//! played by the caller is recorded by the callee unchanged (within G.711's
//! quantisation), and DTMF digits arrive.

mod agent_support;

use std::time::Duration;

use agent_support::{best_correlation, read_wav, run, temp_dir, write_chirp, Agent};

#[test]
fn played_audio_is_recorded_by_the_callee() {
    let dir = temp_dir("media");
    let input = dir.join("in.wav");
    let output = dir.join("out.wav");
    let sent = write_chirp(&input, 3.0);
    let (mut callee, port) =
        Agent::answer(&["--record", output.to_str().unwrap(), "--max-calls", "1"]);

    let uri = format!("sip:bob@127.0.0.1:{port}");
    let out = run(
        &[
            "call",
            &uri,
            "--play",
            input.to_str().unwrap(),
            "--duration",
            "3",
            "--listen",
            "udp:127.0.0.1:0",
        ],
        Duration::from_secs(20),
    );
    assert_eq!(out.code(), Some(0), "the call completes: {out:#?}");
    assert!(out.stdout.contains("calling"), "{}", out.stdout);
    assert!(out.stdout.contains("answered by"), "{}", out.stdout);
    assert!(out.stdout.contains("hung up after"), "{}", out.stdout);

    let line = callee.wait_line("call 1 from", Duration::from_secs(10));
    assert!(line.contains("ended by the caller"), "{line}");
    assert!(callee
        .wait(Duration::from_secs(10))
        .is_some_and(|s| s.success()));

    let (rate, heard) = read_wav(&output);
    assert_eq!(rate, 8000);
    let diff_ms = (heard.len() as f64 - sent.len() as f64).abs() / 8.0;
    let (corr, lag) = best_correlation(&sent, &heard, 1600);
    eprintln!(
        "sent {} samples, recorded {} ({diff_ms:.1} ms apart); correlation {corr:.4} at lag {lag}",
        sent.len(),
        heard.len()
    );
    assert!(diff_ms <= 40.0, "lengths differ by {diff_ms} ms");
    assert!(corr > 0.9, "correlation {corr} at lag {lag}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn dtmf_digits_reach_the_callee() {
    let (mut callee, port) = Agent::answer(&["--max-calls", "1"]);
    let uri = format!("sip:bob@127.0.0.1:{port}");
    let out = run(
        &[
            "call",
            &uri,
            "--dtmf",
            "123#",
            "--duration",
            "2",
            "--listen",
            "udp:127.0.0.1:0",
        ],
        Duration::from_secs(20),
    );
    assert_eq!(out.code(), Some(0), "{out:#?}");
    let line = callee.wait_line("call 1 from", Duration::from_secs(10));
    assert!(line.contains("dtmf 123#"), "{line}");
}

#[test]
fn the_callee_can_hang_up_and_echo() {
    // answer --echo --duration: the callee sends back what it hears and ends the call.
    let dir = temp_dir("echo");
    let input = dir.join("in.wav");
    let heard = dir.join("heard.wav");
    write_chirp(&input, 1.0);
    let (mut callee, port) = Agent::answer(&["--echo", "--duration", "2", "--max-calls", "1"]);
    let uri = format!("sip:bob@127.0.0.1:{port}");
    let out = run(
        &[
            "call",
            &uri,
            "--play",
            input.to_str().unwrap(),
            "--record",
            heard.to_str().unwrap(),
            "--duration",
            "10",
            "--listen",
            "udp:127.0.0.1:0",
        ],
        Duration::from_secs(20),
    );
    assert_eq!(out.code(), Some(0), "{out:#?}");
    assert!(
        out.stdout.contains("the other side hung up"),
        "{}",
        out.stdout
    );
    let line = callee.wait_line("call 1 from", Duration::from_secs(10));
    assert!(line.contains("hung up after 2.0 s"), "{line}");
    let (_, echoed) = read_wav(&heard);
    let loud = echoed.iter().filter(|s| s.unsigned_abs() > 2000).count();
    assert!(
        loud > 4000,
        "the echo carries the chirp back ({loud} loud samples)"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
