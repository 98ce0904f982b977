//! Digest authentication (strowger-core `digest`): `Credentials::parse` and
//! `Challenge::parse` on any text, and a server's `ServerAuth::verify` /
//! `verify_request` on any Authorization value. Nothing may panic, and what parses is
//! written (`Display`) and parsed back to the same value.
//!
//! Input: lines separated by `\n`. The first byte of a line is a control byte, the rest
//! the header value (lossy UTF-8). Control: bits 0-3 advance the clock by that many
//! times 41 s (the nonce lifetime is 300 s); bit 4 issues a new nonce. In the value,
//! `$N` is replaced by the newest nonce issued, `$O` by the one before, and `$R` by
//! the response that is right for the rest of the credentials (password "secret" for
//! every user but "nobody"), so the fuzzer gets past the HMAC and the hash and reaches
//! the stale, replay and nonce-tracking code.
#![no_main]
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use libfuzzer_sys::fuzz_target;
use strowger_core::digest::{
    ha1, Algorithm, Challenge, ChallengeKind, Credentials, Hash, Qop, RequestParts, ServerAuth,
    ServerConfig,
};
use strowger_message::{Auth, Message};

const KEY: &[u8] = b"fuzz-key-0123456789abcdef-fuzz!!";
const REALM: &str = "example.com";
const METHOD: &str = "REGISTER";
const URI: &str = "sip:example.com";
const BODY: &[u8] = b"v=0\r\n";

fn store(user: &str, realm: &str, hash: Hash) -> Option<String> {
    (user != "nobody").then(|| ha1(hash, user, realm, "secret"))
}

/// The response `verify` expects for these credentials (RFC 7616 section 3.4.1).
fn right_response(c: &Credentials) -> Option<String> {
    let algorithm = c.algorithm();
    let h = algorithm.hash();
    let mut h1 = store(&c.username, &c.realm, h)?;
    if algorithm.is_session() {
        h1 = h.hex(&[
            h1.as_bytes(),
            b":",
            c.nonce.as_bytes(),
            b":",
            c.cnonce.as_deref()?.as_bytes(),
        ]);
    }
    let ha2 = match c.qop {
        Some(Qop::AuthInt) => {
            let body = h.hex(&[BODY]);
            h.hex(&[METHOD.as_bytes(), b":", c.uri.as_bytes(), b":", body.as_bytes()])
        }
        _ => h.hex(&[METHOD.as_bytes(), b":", c.uri.as_bytes()]),
    };
    Some(match c.qop {
        Some(q) => h.hex(&[
            h1.as_bytes(),
            b":",
            c.nonce.as_bytes(),
            b":",
            c.nc.as_deref()?.as_bytes(),
            b":",
            c.cnonce.as_deref()?.as_bytes(),
            b":",
            q.name().as_bytes(),
            b":",
            ha2.as_bytes(),
        ]),
        None => h.hex(&[h1.as_bytes(), b":", c.nonce.as_bytes(), b":", ha2.as_bytes()]),
    })
}

/// `FUZZ_DEBUG=1` prints each verdict (to check that the seeds reach the checks).
fn debug() -> bool {
    static DEBUG: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *DEBUG.get_or_init(|| std::env::var_os("FUZZ_DEBUG").is_some())
}

fn roundtrip(s: &str) {
    if let Ok(c) = Credentials::parse(s) {
        let _ = c.algorithm();
        let w = c.to_string();
        match Credentials::parse(&w) {
            Ok(again) => assert_eq!(again, c, "credentials changed: {s:?} -> {w:?}"),
            Err(e) => panic!("written credentials do not parse: {e}: {s:?} -> {w:?}"),
        }
    }
    if let Ok(c) = Challenge::parse(s) {
        let _ = c.chosen_qop();
        let w = c.to_string();
        match Challenge::parse(&w) {
            // Display does not write userhash.
            Ok(again) => assert_eq!(
                again,
                Challenge {
                    userhash_offered: false,
                    ..c.clone()
                },
                "challenge changed: {s:?} -> {w:?}"
            ),
            Err(e) => panic!("written challenge does not parse: {e}: {s:?} -> {w:?}"),
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let mut config = ServerConfig::new(REALM);
    config.algorithms = vec![Algorithm::Sha256, Algorithm::Md5, Algorithm::Md5Sess];
    config.qop = vec![Qop::Auth, Qop::AuthInt];
    config.max_tracked_nonces = 4;
    let mut server = ServerAuth::new(KEY, config).expect("key");
    let mut seed = 7u8;
    let mut rng = move |buf: &mut [u8]| {
        for b in buf {
            seed = seed.wrapping_mul(31).wrapping_add(11);
            *b = seed;
        }
    };
    let mut now = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    let mut nonces: Vec<String> = Vec::new();
    let request = RequestParts {
        method: METHOD,
        uri: URI,
        body: BODY,
    };

    for line in data.split(|&b| b == b'\n').take(64) {
        let Some((&control, rest)) = line.split_first() else {
            continue;
        };
        now += Duration::from_secs(u64::from(control & 0x0F) * 41);
        if control & 0x10 != 0 || nonces.is_empty() {
            let challenges = server.challenge(now, false, &mut rng);
            for c in &challenges {
                roundtrip(&c.to_string());
            }
            if let Some(c) = challenges.first() {
                nonces.push(c.nonce.clone());
            }
        }
        let text = String::from_utf8_lossy(rest);
        roundtrip(&text);

        let newest = nonces.last().map_or("", String::as_str);
        let older = nonces.iter().rev().nth(1).map_or("", String::as_str);
        let mut value = text.replace("$N", newest).replace("$O", older);
        if value.contains("$R") {
            if let Ok(c) = Credentials::parse(&value.replace("$R", "0")) {
                if let Some(r) = right_response(&c) {
                    value = value.replace("$R", &r);
                }
            }
        }

        // The value as one header value.
        let auths: Vec<Auth<'_>> = Auth::parse(&value).into_iter().collect();
        let verdict = server.verify(now, &request, auths, &store);
        if debug() {
            eprintln!("{value:?}\n  -> {verdict:?}");
        }

        // The value in a request, at a time before the epoch as well.
        let msg = format!(
            "{METHOD} {URI} SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1\r\n\
             From: <sip:alice@example.com>;tag=1\r\nTo: <sip:alice@example.com>\r\n\
             Call-ID: c\r\nCSeq: 1 {METHOD}\r\nMax-Forwards: 70\r\n\
             Authorization: {value}\r\nProxy-Authorization: {value}\r\n\
             Content-Length: {}\r\n\r\n",
            BODY.len()
        );
        let mut bytes = msg.into_bytes();
        bytes.extend_from_slice(BODY);
        if let Ok(m) = Message::parse(bytes) {
            let when = if control & 0x20 != 0 {
                SystemTime::UNIX_EPOCH
            } else {
                now
            };
            let _ = server.verify_request(when, &m, ChallengeKind::Server, &store);
            let _ = server.verify_request(now, &m, ChallengeKind::Proxy, &store);
        }
        assert!(server.tracked_nonces() <= 4);
    }
});
