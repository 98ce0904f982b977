//! `strowger serve` with Strowger agents as alice and bob: both register with digest
//! authentication, alice calls bob through the proxy and they talk (the audio alice
//! plays is what bob records); with bob on two devices both ring, the one that answers
//! gets the call and the other gets CANCEL.

mod agent_support;

use std::time::Duration;

use agent_support::{best_correlation, read_wav, run, serve, temp_dir, write_chirp, Agent};

fn bob(registrar: &str, extra: &[&str]) -> Agent {
    let mut args = vec![
        "--user",
        "bob:bobpw",
        "--aor",
        "sip:bob@example.com",
        "--register",
        registrar,
        "--max-calls",
        "1",
    ];
    args.extend_from_slice(extra);
    let (mut a, _) = Agent::answer(&args);
    a.wait_line("registered sip:bob@example.com", Duration::from_secs(10));
    a
}

fn alice_calls(registrar: &str, extra: &[&str]) -> agent_support::Output {
    let mut args = vec![
        "call",
        "sip:bob@example.com",
        "--proxy",
        registrar,
        "--user",
        "alice:alicepw",
        "--aor",
        "sip:alice@example.com",
        "--listen",
        "udp:127.0.0.1:0",
    ];
    args.extend_from_slice(extra);
    run(&args, Duration::from_secs(30))
}

#[test]
fn alice_and_bob_register_and_talk_through_the_proxy() {
    let dir = temp_dir("serve-talk");
    let (_server, port) = serve(&dir);
    let registrar = format!("sip:127.0.0.1:{port}");
    let input = dir.join("alice.wav");
    let output = dir.join("bob.wav");
    let sent = write_chirp(&input, 3.0);
    let mut bob = bob(&registrar, &["--record", output.to_str().unwrap()]);
    let out = alice_calls(
        &registrar,
        &["--play", input.to_str().unwrap(), "--duration", "3"],
    );
    assert_eq!(out.code(), Some(0), "{out:#?}");
    assert!(out.stdout.contains("answered by"), "{}", out.stdout);
    let line = bob.wait_line("call 1 from", Duration::from_secs(10));
    assert!(line.contains("from sip:alice@example.com"), "{line}");
    bob.wait_line("unregistered sip:bob@example.com", Duration::from_secs(10));
    let (rate, heard) = read_wav(&output);
    assert_eq!(rate, 8000);
    let diff_ms = (heard.len() as f64 - sent.len() as f64).abs() / 8.0;
    let (corr, lag) = best_correlation(&sent, &heard, 1600);
    eprintln!(
        "through the proxy: {diff_ms:.1} ms length difference, correlation {corr:.4} at lag {lag}"
    );
    assert!(diff_ms <= 40.0, "lengths differ by {diff_ms} ms");
    assert!(corr > 0.9, "correlation {corr} at lag {lag}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bob_on_two_devices_both_ring_the_answering_one_gets_the_call_the_other_cancel() {
    let dir = temp_dir("serve-fork");
    let (_server, port) = serve(&dir);
    let registrar = format!("sip:127.0.0.1:{port}");
    // Device 1 answers after one second of ringing; device 2 would ring for 30 s.
    let mut quick = bob(&registrar, &["--ring", "1"]);
    let mut slow = bob(&registrar, &["--ring", "30"]);
    let out = alice_calls(&registrar, &["--duration", "1"]);
    assert_eq!(out.code(), Some(0), "{out:#?}");
    let answered = quick.wait_line("call 1 from", Duration::from_secs(15));
    assert!(answered.contains("ended by the caller"), "{answered}");
    let cancelled = slow.wait_line("call 1 from", Duration::from_secs(15));
    assert!(
        cancelled.contains("cancelled"),
        "the other device gets CANCEL: {cancelled}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
