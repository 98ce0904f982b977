//! The registration client of RFC 3261 section 10.2 against a registrar played by the
//! test, with a virtual clock.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use strowger_core::transport::Transport;
use strowger_core::ua::{Authenticator, Config, Event, RegistrationHandle, UserAgent};
use strowger_message::{Contact, HeaderName, Message, ResponseBuilder};

const UA: &str = "192.0.2.1:5060";
const REGISTRAR: &str = "192.0.2.10:5060";
const CONTACT: &str = "sip:alice@192.0.2.1:5060";

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

struct Bench {
    ua: UserAgent,
    start: Instant,
    now: Instant,
    pending: Vec<strowger_core::transport::Transmit>,
}

impl Bench {
    fn new() -> Bench {
        let now = Instant::now();
        Bench {
            ua: UserAgent::new(Config::new("sip:alice@example.com", addr(UA))),
            start: now,
            now,
            pending: Vec::new(),
        }
    }

    /// The one REGISTER the UA has sent.
    fn sent(&mut self) -> Message {
        let mut out: Vec<_> = std::mem::take(&mut self.pending);
        out.extend(std::iter::from_fn(|| self.ua.poll_transmit()));
        assert_eq!(out.len(), 1, "expected one request");
        assert_eq!(out[0].dest, addr(REGISTRAR));
        Message::parse(out[0].bytes.clone()).unwrap()
    }

    fn nothing_sent(&mut self) {
        assert!(self.pending.is_empty() && self.ua.poll_transmit().is_none());
    }

    fn reply(&mut self, req: &Message, code: u16, headers: &[(&str, &str)]) {
        let mut b = ResponseBuilder::new(req, code);
        for (n, v) in headers {
            b = b.header(n, v);
        }
        let r = b.build().unwrap();
        self.ua
            .handle_message(self.now, addr(REGISTRAR), Transport::Udp, r);
    }

    fn events(&mut self) -> Vec<Event> {
        std::iter::from_fn(|| self.ua.poll_event()).collect()
    }

    /// Fire timers until the UA sends something; when it did (since the start).
    fn fire_until_sent(&mut self) -> Duration {
        loop {
            let at = self.ua.poll_timeout().expect("a timer");
            self.now = at;
            self.ua.handle_timeout(at);
            if self.ua_has_output() {
                return at - self.start;
            }
        }
    }

    fn ua_has_output(&mut self) -> bool {
        // Peek by draining into a buffer kept for `sent`.
        if let Some(t) = self.ua.poll_transmit() {
            self.pending.push(t);
        }
        !self.pending.is_empty()
    }

    /// Fire every timer up to `d` after the start.
    fn advance_to(&mut self, d: Duration) {
        while let Some(at) = self.ua.poll_timeout() {
            if at > self.start + d {
                break;
            }
            self.now = at;
            self.ua.handle_timeout(at);
        }
        self.now = self.start + d;
    }
}

fn contact_expires(req: &Message) -> Option<u32> {
    req.contacts().next().and_then(|c| c.expires())
}

#[test]
fn register_has_aor_in_to_and_from_and_contact_with_expires_rfc3261_10_2_1() {
    let mut b = Bench::new();
    let now = b.now;
    b.ua.register(now, "sip:192.0.2.10", 3600).unwrap();
    let req = b.sent();
    assert_eq!(req.request_uri_str(), Some("sip:192.0.2.10"));
    assert_eq!(req.to().unwrap().uri.as_str(), "sip:alice@example.com");
    assert_eq!(req.from().unwrap().uri.as_str(), "sip:alice@example.com");
    assert!(req.from_tag().is_some());
    assert_eq!(req.to_tag(), None);
    assert_eq!(contact_expires(&req), Some(3600));
    assert!(matches!(req.contacts().next(), Some(Contact::Addr(a)) if a.uri.as_str() == CONTACT));
    assert_eq!(req.cseq().unwrap().seq, 1);
    req.validate().unwrap();
}

#[test]
fn granted_expiry_is_read_from_our_contact_and_refreshed_early_rfc3261_10_2_4() {
    let mut b = Bench::new();
    let now = b.now;
    let h = b.ua.register(now, "sip:192.0.2.10", 3600).unwrap();
    let first = b.sent();
    // The registrar grants 600 s to our binding and lists another one.
    b.reply(
        &first,
        200,
        &[
            ("Contact", "<sip:alice@198.51.100.7>;expires=3000"),
            ("Contact", "<sip:alice@192.0.2.1:5060>;expires=600"),
            ("Expires", "7200"),
        ],
    );
    let events = b.events();
    assert_eq!(
        events,
        [Event::RegisterResult {
            registration: h,
            code: 200,
            expires: Some(600),
            bindings: vec![
                "<sip:alice@198.51.100.7>;expires=3000".into(),
                "<sip:alice@192.0.2.1:5060>;expires=600".into()
            ],
        }]
    );
    // Refreshed at the smaller of expires/2 and expires-30 s: 300 s.
    assert_eq!(b.fire_until_sent(), Duration::from_secs(300));
    let refresh = b.sent();
    assert_eq!(refresh.call_id(), first.call_id());
    assert_eq!(refresh.from_tag(), first.from_tag());
    assert_eq!(refresh.cseq().unwrap().seq, 2);
    assert_eq!(contact_expires(&refresh), Some(3600));
    // Without an expires parameter the Expires header field counts.
    b.reply(
        &refresh,
        200,
        &[
            ("Contact", "<sip:alice@192.0.2.1:5060>"),
            ("Expires", "100"),
        ],
    );
    assert!(matches!(
        &b.events()[..],
        [Event::RegisterResult {
            expires: Some(100),
            ..
        }]
    ));
    assert_eq!(b.fire_until_sent(), Duration::from_secs(300 + 50));
    assert_eq!(b.sent().cseq().unwrap().seq, 3);
}

#[test]
fn interval_too_brief_is_retried_with_min_expires_rfc3261_10_2_8() {
    let mut b = Bench::new();
    let now = b.now;
    let h = b.ua.register(now, "sip:192.0.2.10", 60).unwrap();
    let first = b.sent();
    b.reply(&first, 423, &[("Min-Expires", "1800")]);
    assert!(b.events().is_empty(), "the 423 is handled by the core");
    let retry = b.sent();
    assert_eq!(contact_expires(&retry), Some(1800));
    assert_eq!(retry.call_id(), first.call_id());
    assert_eq!(retry.cseq().unwrap().seq, 2);
    b.reply(
        &retry,
        200,
        &[("Contact", "<sip:alice@192.0.2.1:5060>;expires=1800")],
    );
    assert!(matches!(
        &b.events()[..],
        [Event::RegisterResult { registration, code: 200, expires: Some(1800), .. }] if *registration == h
    ));
}

#[test]
fn remove_all_bindings_with_star_and_expires_zero_rfc3261_10_2_2() {
    let mut b = Bench::new();
    let now = b.now;
    let h = b.ua.register(now, "sip:192.0.2.10", 3600).unwrap();
    let first = b.sent();
    b.reply(
        &first,
        200,
        &[("Contact", "<sip:alice@192.0.2.1:5060>;expires=3600")],
    );
    b.events();
    b.ua.unregister_all(now, h).unwrap();
    let remove = b.sent();
    assert!(matches!(
        remove.contacts().collect::<Vec<_>>()[..],
        [Contact::Star]
    ));
    assert_eq!(remove.expires(), Some(0));
    assert_eq!(remove.call_id(), first.call_id());
    assert_eq!(remove.cseq().unwrap().seq, 2);
    b.reply(&remove, 200, &[]);
    assert_eq!(
        b.events(),
        [Event::RegisterResult {
            registration: h,
            code: 200,
            expires: Some(0),
            bindings: vec![]
        }]
    );
    // No more refreshes: once the transactions are gone, nothing is left to do.
    b.advance_to(Duration::from_secs(10));
    assert_eq!(b.ua.poll_timeout(), None);
}

#[test]
fn remove_our_binding_with_expires_zero_rfc3261_10_2_2() {
    let mut b = Bench::new();
    let now = b.now;
    let h = b.ua.register(now, "sip:192.0.2.10", 3600).unwrap();
    let first = b.sent();
    b.reply(
        &first,
        200,
        &[("Contact", "<sip:alice@192.0.2.1:5060>;expires=3600")],
    );
    b.ua.unregister(now, h).unwrap();
    let remove = b.sent();
    assert_eq!(contact_expires(&remove), Some(0));
    assert_eq!(remove.expires(), Some(0));
}

#[test]
fn query_bindings_sends_no_contact_rfc3261_10_2_3() {
    let mut b = Bench::new();
    let now = b.now;
    let h = b.ua.register(now, "sip:192.0.2.10", 3600).unwrap();
    let first = b.sent();
    b.reply(
        &first,
        200,
        &[("Contact", "<sip:alice@192.0.2.1:5060>;expires=3600")],
    );
    b.events();
    b.ua.query_bindings(now, h).unwrap();
    let query = b.sent();
    assert_eq!(query.contacts().count(), 0);
    assert_eq!(query.values(HeaderName::Contact).count(), 0);
    b.reply(
        &query,
        200,
        &[("Contact", "<sip:alice@192.0.2.1:5060>;expires=3590")],
    );
    assert!(matches!(
        &b.events()[..],
        [Event::RegisterResult { expires: Some(3590), bindings, .. }] if bindings.len() == 1
    ));
    // The refresh of the binding still stands.
    assert_eq!(b.fire_until_sent(), Duration::from_secs(1800));
}

#[test]
fn one_register_at_a_time_rfc3261_10_2() {
    let mut b = Bench::new();
    let now = b.now;
    let h = b.ua.register(now, "sip:192.0.2.10", 3600).unwrap();
    let first = b.sent();
    b.ua.unregister_all(now, h).unwrap();
    b.nothing_sent();
    b.reply(
        &first,
        200,
        &[("Contact", "<sip:alice@192.0.2.1:5060>;expires=3600")],
    );
    let queued = b.sent();
    assert!(matches!(
        queued.contacts().collect::<Vec<_>>()[..],
        [Contact::Star]
    ));
}

struct FixedCredentials;

impl Authenticator for FixedCredentials {
    fn authorize(
        &mut self,
        request: &Message,
        challenge: &Message,
    ) -> Option<Vec<(String, String)>> {
        let realm = challenge
            .auth(HeaderName::WwwAuthenticate)
            .next()?
            .param("realm")?
            .to_string();
        let uri = request.request_uri_str()?.to_string();
        Some(vec![(
            "Authorization".into(),
            format!("Digest username=\"alice\", realm=\"{realm}\", nonce=\"n\", uri=\"{uri}\", response=\"00\""),
        )])
    }
}

#[test]
fn challenge_is_answered_through_the_authenticator_rfc3261_22_2() {
    let mut b = Bench::new();
    b.ua.set_authenticator(Box::new(FixedCredentials));
    let now = b.now;
    let h: RegistrationHandle = b.ua.register(now, "sip:192.0.2.10", 3600).unwrap();
    let first = b.sent();
    assert!(first.header("Authorization").is_none());
    b.reply(
        &first,
        401,
        &[(
            "WWW-Authenticate",
            "Digest realm=\"example.com\", nonce=\"n\"",
        )],
    );
    assert!(b.events().is_empty());
    let again = b.sent();
    assert!(again
        .header("Authorization")
        .unwrap()
        .contains("realm=\"example.com\""));
    assert_eq!(again.cseq().unwrap().seq, 2);
    assert_eq!(again.call_id(), first.call_id());
    assert_ne!(again.top_via_branch(), first.top_via_branch());
    b.reply(
        &again,
        200,
        &[("Contact", "<sip:alice@192.0.2.1:5060>;expires=3600")],
    );
    assert!(matches!(
        &b.events()[..],
        [Event::RegisterResult { registration, code: 200, .. }] if *registration == h
    ));
}

#[test]
fn challenge_without_authenticator_is_reported_rfc3261_8_1_3_5() {
    let mut b = Bench::new();
    let now = b.now;
    b.ua.register(now, "sip:192.0.2.10", 3600).unwrap();
    let first = b.sent();
    b.reply(
        &first,
        401,
        &[("WWW-Authenticate", "Digest realm=\"x\", nonce=\"n\"")],
    );
    assert!(matches!(
        &b.events()[..],
        [Event::RegisterResult {
            code: 401,
            expires: None,
            ..
        }]
    ));
    b.nothing_sent();
}

#[test]
fn digest_challenge_is_answered_with_the_credentials_of_the_store_rfc3261_22_2() {
    use strowger_core::digest::CredentialStore;
    use strowger_core::ua::DigestAuthenticator;
    let mut b = Bench::new();
    b.ua.set_authenticator(Box::new(DigestAuthenticator::new(
        CredentialStore::with_default("alice", "secret"),
        |buf: &mut [u8]| buf.fill(7),
    )));
    let now = b.now;
    b.ua.register(now, "sip:192.0.2.10", 3600).unwrap();
    let first = b.sent();
    let challenge = "Digest realm=\"example.com\", nonce=\"abc\", qop=\"auth\"";
    b.reply(&first, 401, &[("WWW-Authenticate", challenge)]);
    let again = b.sent();
    let auth = again.auth(HeaderName::Authorization).next().unwrap();
    assert_eq!(auth.param("username").as_deref(), Some("alice"));
    assert_eq!(auth.param("realm").as_deref(), Some("example.com"));
    assert_eq!(auth.param("uri").as_deref(), Some("sip:192.0.2.10"));
    assert!(auth.param("response").is_some());
    // The same realm refusing the credentials (not stale) is reported, not retried.
    b.reply(&again, 401, &[("WWW-Authenticate", challenge)]);
    assert!(matches!(
        &b.events()[..],
        [Event::RegisterResult { code: 401, .. }]
    ));
    b.nothing_sent();
}

#[test]
fn a_new_registration_can_query_without_binding_first_rfc3261_10_2_3() {
    let mut b = Bench::new();
    let h = b.ua.new_registration("sip:192.0.2.10", 3600).unwrap();
    b.nothing_sent();
    let now = b.now;
    b.ua.query_bindings(now, h).unwrap();
    let query = b.sent();
    assert_eq!(query.contacts().count(), 0);
    b.reply(
        &query,
        200,
        &[("Contact", "<sip:alice@192.0.2.7>;expires=60")],
    );
    assert!(matches!(
        &b.events()[..],
        [Event::RegisterResult { code: 200, bindings, .. }] if bindings.len() == 1
    ));
}

#[test]
fn an_undeliverable_register_fails_as_503_rfc3261_8_1_3_1() {
    let mut b = Bench::new();
    let now = b.now;
    b.ua.register(now, "sip:192.0.2.10", 3600).unwrap();
    let out = b.ua.poll_transmit().unwrap();
    b.ua.undeliverable(now, &out.bytes);
    assert!(matches!(
        &b.events()[..],
        [Event::RegisterResult {
            code: 503,
            expires: None,
            ..
        }]
    ));
}
