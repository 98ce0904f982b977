//! CANCEL (RFC 3261 section 9): a call that is not answered in time, or whose caller
//! is stopped with SIGTERM while it rings, is cancelled; the callee answers 487.

mod agent_support;

use std::process::{Command, Stdio};
use std::time::Duration;

use agent_support::{finish, sigterm, Agent, BIN};

#[test]
fn an_unanswered_call_is_cancelled_after_the_timeout() {
    let (mut callee, port) = Agent::answer(&["--ring", "30"]);
    let uri = format!("sip:bob@127.0.0.1:{port}");
    let out = agent_support::run(
        &[
            "call",
            &uri,
            "--timeout",
            "1",
            "--listen",
            "udp:127.0.0.1:0",
        ],
        Duration::from_secs(20),
    );
    assert_eq!(out.code(), Some(1), "{out:#?}");
    assert!(out.stdout.contains("ringing"), "{}", out.stdout);
    assert!(
        out.stdout.contains("487 Request Terminated"),
        "{}",
        out.stdout
    );
    assert!(
        out.stderr
            .starts_with("strowger call: no answer: bob@127.0.0.1"),
        "{}",
        out.stderr
    );
    let line = callee.wait_line("call 1 from", Duration::from_secs(5));
    assert!(line.contains("cancelled by the caller (487"), "{line}");
}

#[test]
fn sigterm_before_the_answer_sends_cancel() {
    let (mut callee, port) = Agent::answer(&["--ring", "30"]);
    let uri = format!("sip:bob@127.0.0.1:{port}");
    let caller = Command::new(BIN)
        .args(["call", &uri, "--listen", "udp:127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The callee rings at once; then stop the caller.
    callee.wait_line("listening on", Duration::from_secs(1));
    std::thread::sleep(Duration::from_millis(700));
    sigterm(caller.id());
    let out = finish(caller, Duration::from_secs(10));
    assert_eq!(out.code(), Some(1), "{out:#?}");
    assert!(out.stdout.contains("ringing"), "{}", out.stdout);
    assert!(
        out.stdout.contains("487 Request Terminated"),
        "{}",
        out.stdout
    );
    let line = callee.wait_line("call 1 from", Duration::from_secs(5));
    assert!(line.contains("cancelled by the caller (487"), "{line}");
}

#[test]
fn sigterm_stops_the_callee_cleanly() {
    let (mut callee, _) = Agent::answer(&[]);
    let status = callee.terminate(Duration::from_secs(10)).expect("exits");
    assert!(status.success(), "{status:?}");
}
