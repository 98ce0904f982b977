//! `strowger register` and `strowger answer --register` against `strowger serve`, and
//! a call through the proxy with digest authentication on both legs.

mod agent_support;

use std::time::Duration;

use agent_support::{run, serve, temp_dir, Agent};

#[test]
fn register_once_query_and_unregister_all() {
    let dir = temp_dir("register");
    let (_server, port) = serve(&dir);
    let registrar = format!("sip:127.0.0.1:{port}");
    let common = [
        "--user",
        "alice:alicepw",
        "--aor",
        "sip:alice@example.com",
        "--listen",
        "udp:127.0.0.1:0",
    ];
    let with = |extra: &[&str]| {
        let mut a = vec!["register", registrar.as_str()];
        a.extend_from_slice(extra);
        a.extend_from_slice(&common);
        run(&a, Duration::from_secs(20))
    };
    let out = with(&["--once", "--expires", "600"]);
    assert_eq!(out.code(), Some(0), "{out:#?}");
    assert!(
        out.stdout
            .starts_with("registered sip:alice@example.com at"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("binding: <sip:alice@127.0.0.1:"),
        "{}",
        out.stdout
    );

    let out = with(&["--query"]);
    assert_eq!(out.code(), Some(0), "{out:#?}");
    assert!(out.stdout.contains("has 1 binding"), "{}", out.stdout);

    let out = with(&["--unregister-all"]);
    assert_eq!(out.code(), Some(0), "{out:#?}");
    let out = with(&["--query"]);
    assert!(out.stdout.contains("has 0 bindings"), "{}", out.stdout);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_wrong_password_is_one_clear_sentence() {
    let dir = temp_dir("register-wrong");
    let (_server, port) = serve(&dir);
    let registrar = format!("sip:127.0.0.1:{port}");
    let out = run(
        &[
            "register",
            &registrar,
            "--once",
            "--user",
            "alice:wrong",
            "--aor",
            "sip:alice@example.com",
            "--listen",
            "udp:127.0.0.1:0",
        ],
        Duration::from_secs(20),
    );
    assert_eq!(out.code(), Some(1), "{out:#?}");
    assert_eq!(
        out.stderr.trim(),
        "strowger register: 401 Unauthorized: the password for alice@example.com was refused"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_call_through_the_proxy_reaches_a_registered_answer() {
    let dir = temp_dir("proxy-call");
    let (_server, port) = serve(&dir);
    let registrar = format!("sip:127.0.0.1:{port}");
    let (mut bob, _) = Agent::answer(&[
        "--user",
        "bob:bobpw",
        "--aor",
        "sip:bob@example.com",
        "--register",
        &registrar,
        "--max-calls",
        "1",
    ]);
    bob.wait_line("registered sip:bob@example.com", Duration::from_secs(10));
    let out = run(
        &[
            "call",
            "sip:bob@example.com",
            "--proxy",
            &registrar,
            "--user",
            "alice:alicepw",
            "--aor",
            "sip:alice@example.com",
            "--duration",
            "1",
            "--listen",
            "udp:127.0.0.1:0",
        ],
        Duration::from_secs(20),
    );
    assert_eq!(out.code(), Some(0), "{out:#?}");
    let line = bob.wait_line("call 1 from", Duration::from_secs(10));
    assert!(
        line.contains("from sip:alice@example.com: ended by the caller"),
        "{line}"
    );
    // --max-calls 1: bob unregisters and exits.
    bob.wait_line("unregistered sip:bob@example.com", Duration::from_secs(10));
    assert!(bob
        .wait(Duration::from_secs(10))
        .is_some_and(|s| s.success()));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_running_registration_is_removed_on_sigterm() {
    let dir = temp_dir("register-term");
    let (_server, port) = serve(&dir);
    let registrar = format!("sip:127.0.0.1:{port}");
    let mut alice = Agent::start(&[
        "register",
        &registrar,
        "--user",
        "alice:alicepw",
        "--aor",
        "sip:alice@example.com",
        "--listen",
        "udp:127.0.0.1:0",
    ]);
    alice.wait_line("registered sip:alice@example.com", Duration::from_secs(10));
    agent_support::sigterm(alice.pid());
    alice.wait_line(
        "unregistered sip:alice@example.com",
        Duration::from_secs(10),
    );
    assert!(alice
        .wait(Duration::from_secs(10))
        .is_some_and(|s| s.success()));
    let out = run(
        &[
            "register",
            &registrar,
            "--query",
            "--user",
            "alice:alicepw",
            "--aor",
            "sip:alice@example.com",
            "--listen",
            "udp:127.0.0.1:0",
        ],
        Duration::from_secs(20),
    );
    assert!(out.stdout.contains("has 0 bindings"), "{}", out.stdout);
    let _ = std::fs::remove_dir_all(&dir);
}
