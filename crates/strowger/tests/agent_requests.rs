//! `strowger options` and `strowger message` against `strowger answer`.

mod agent_support;

use std::time::Duration;

use agent_support::{run, Agent};

#[test]
fn options_prints_the_status_line_allow_and_round_trip() {
    let (_callee, port) = Agent::answer(&[]);
    let uri = format!("sip:127.0.0.1:{port}");
    let out = run(
        &["options", &uri, "--listen", "udp:127.0.0.1:0"],
        Duration::from_secs(10),
    );
    assert_eq!(out.code(), Some(0), "{out:#?}");
    assert!(out.stdout.starts_with("SIP/2.0 200 OK\n"), "{}", out.stdout);
    assert!(
        out.stdout
            .contains("Allow: INVITE, ACK, CANCEL, BYE, OPTIONS, MESSAGE"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("round trip: "), "{}", out.stdout);
}

#[test]
fn message_is_delivered_and_printed_by_the_callee() {
    let (mut callee, port) = Agent::answer(&[]);
    let uri = format!("sip:bob@127.0.0.1:{port}");
    let out = run(
        &[
            "message",
            &uri,
            "hello, bob",
            "--listen",
            "udp:127.0.0.1:0",
            "--aor",
            "sip:alice@example.com",
        ],
        Duration::from_secs(10),
    );
    assert_eq!(out.code(), Some(0), "{out:#?}");
    assert!(
        out.stdout.contains("200 OK: delivered to"),
        "{}",
        out.stdout
    );
    let line = callee.wait_line("message from", Duration::from_secs(5));
    assert_eq!(line, "message from sip:alice@example.com: hello, bob");
}

#[test]
fn options_to_nobody_fails_with_one_sentence() {
    // A UDP port with nobody on it: ICMP makes the send fail, or timer F fires; either
    // way the exit code is 1 and stderr says why. Bound it with a short transaction
    // timeout is not possible from the command line, so use a closed TCP port, which
    // fails at once.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let uri = format!("sip:127.0.0.1:{port};transport=tcp");
    let out = run(
        &["options", &uri, "--listen", "udp:127.0.0.1:0"],
        Duration::from_secs(20),
    );
    assert_eq!(out.code(), Some(1), "{out:#?}");
    assert!(
        out.stderr.starts_with("strowger options: cannot reach"),
        "{}",
        out.stderr
    );
    assert_eq!(out.stderr.lines().count(), 1, "{}", out.stderr);
}
