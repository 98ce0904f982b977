//! Property tests: generated messages in the many spellings the grammar allows (compact
//! and odd-case names, LWS around separators, line folds, quoted display names,
//! parameter orders) parse to the values they were generated from; the written-back
//! bytes equal the input; the canonical form parses to the same fields.

use proptest::prelude::*;
use strowger_message::{unfold, HeaderName, Message, Method};

fn token() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9][a-zA-Z0-9.!%*_+`'~-]{0,11}"
}

/// user = 1*( unreserved / escaped / user-unreserved ) (RFC 3261 25.1)
fn user() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9][a-zA-Z0-9._~!*'()&=+$%-]{0,11}".prop_map(|u| u.replace('%', "%25"))
}

fn host() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z]([a-z0-9-]{0,7}[a-z0-9])?(\\.[a-z][a-z0-9]{0,8}){0,2}",
        (0u8..=255, 0u8..=255, 0u8..=255, 1u8..=254)
            .prop_map(|(a, b, c, d)| format!("{a}.{b}.{c}.{d}")),
        Just("[2001:db8::10]".to_string()),
        Just("[::ffff:192.0.2.1]".to_string()),
    ]
}

/// White space the grammar allows around separators: nothing, spaces, or a fold.
fn lws() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        Just(" ".to_string()),
        Just("  ".to_string()),
        Just("\r\n ".to_string()),
        Just(" \r\n\t".to_string()),
    ]
}

fn name(long: &'static str, compact: &'static str) -> impl Strategy<Value = String> {
    prop_oneof![
        Just(long.to_string()),
        Just(long.to_ascii_lowercase()),
        Just(long.to_ascii_uppercase()),
        Just(compact.to_string()),
    ]
}

#[derive(Debug, Clone)]
struct Spec {
    method: &'static str,
    user: String,
    host: String,
    port: Option<u16>,
    branch: String,
    from_tag: String,
    display: Option<String>,
    call_id: String,
    seq: u32,
    body: Vec<u8>,
    lws: Vec<String>,
    names: Vec<String>,
    vias: usize,
}

fn spec() -> impl Strategy<Value = Spec> {
    (
        (
            prop::sample::select(vec![
                "INVITE", "REGISTER", "OPTIONS", "BYE", "MESSAGE", "X-CUSTOM",
            ]),
            user(),
            host(),
            prop::option::of(1u16..=65535),
        ),
        token(),
        token(),
        prop::option::of("[a-zA-Z ,\"\\\\]{0,12}"),
        (token(), prop::option::of(host())),
        any::<u32>(),
        prop::collection::vec(any::<u8>(), 0..64),
        prop::collection::vec(lws(), 8),
        (
            name("Via", "v"),
            name("From", "f"),
            name("Call-ID", "i"),
            name("Content-Length", "l"),
        ),
        1usize..4,
    )
        .prop_map(
            |(
                (method, user, host, port),
                branch,
                from_tag,
                display,
                (cid, cid_host),
                seq,
                body,
                lws,
                n,
                vias,
            )| Spec {
                method,
                user,
                host,
                port,
                branch,
                from_tag,
                display,
                call_id: match cid_host {
                    Some(h) => format!("{cid}@{}", h.trim_matches(['[', ']'])),
                    None => cid,
                },
                seq,
                body,
                lws,
                names: vec![n.0, n.1, n.2, n.3],
                vias,
            },
        )
}

fn quote(s: &str) -> String {
    let mut q = String::from("\"");
    for c in s.chars() {
        if c == '"' || c == '\\' {
            q.push('\\');
        }
        q.push(c);
    }
    q.push('"');
    q
}

fn render(s: &Spec) -> Vec<u8> {
    let w = &s.lws;
    let port = s.port.map(|p| format!(":{p}")).unwrap_or_default();
    let mut m = format!("{} sip:{}@{}{} SIP/2.0\r\n", s.method, s.user, s.host, port);
    let mut via_values = Vec::new();
    for i in 0..s.vias {
        via_values.push(format!(
            "SIP{a}/{a}2.0{b}/{b}UDP {}{}{c};{c}branch{a}={b}z9hG4bK{}{i}",
            s.host,
            port,
            s.branch,
            a = w[0],
            b = w[1],
            c = w[2]
        ));
    }
    m.push_str(&format!(
        "{}{}: {}\r\n",
        s.names[0],
        w[3].replace("\r\n", ""),
        via_values.join(&format!(",{}", w[4]))
    ));
    let display = s
        .display
        .as_deref()
        .map(|d| format!("{} ", quote(d)))
        .unwrap_or_default();
    m.push_str(&format!(
        "{}:{}{display}<sip:{}@{}>{};{}tag{}={}{}\r\n",
        s.names[1], w[5], s.user, s.host, w[6], w[7], w[0], w[1], s.from_tag
    ));
    m.push_str(&format!("To: <sip:{}@{}>\r\n", s.user, s.host));
    m.push_str(&format!("{}: {}\r\n", s.names[2], s.call_id));
    m.push_str(&format!(
        "CSeq:{}{}{}{}\r\n",
        w[2],
        s.seq,
        if w[3].is_empty() { " " } else { &w[3] },
        s.method
    ));
    m.push_str("Max-Forwards: 70\r\nX-Opaque: ;;,,\r\n");
    m.push_str(&format!("{}: {}\r\n\r\n", s.names[3], s.body.len()));
    let mut b = m.into_bytes();
    b.extend_from_slice(&s.body);
    b
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn generated_messages_parse_to_their_values(s in spec()) {
        let bytes = render(&s);
        let m = Message::parse(bytes.clone()).map_err(|e| {
            TestCaseError::fail(format!("{e}\n{}", String::from_utf8_lossy(&bytes)))
        })?;
        m.validate().map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(m.method(), Some(Method::from_token(s.method)));
        let vias: Vec<_> = m.vias().collect();
        prop_assert_eq!(vias.len(), s.vias);
        for (i, v) in vias.iter().enumerate() {
            let expected = format!("z9hG4bK{}{i}", s.branch);
            prop_assert_eq!(v.branch(), Some(expected.as_str()));
            prop_assert_eq!(v.port, s.port);
        }
        let from = m.from().unwrap();
        prop_assert_eq!(from.tag(), Some(s.from_tag.as_str()));
        prop_assert_eq!(from.display_name().map(|d| d.into_owned()), s.display.clone());
        prop_assert_eq!(m.call_id(), Some(s.call_id.as_str()));
        let cseq = m.cseq().unwrap();
        prop_assert_eq!(cseq.seq, s.seq);
        prop_assert_eq!(m.body(), &s.body[..]);
        prop_assert_eq!(m.header("X-Opaque"), Some(";;,,"));
        // Written back byte for byte.
        prop_assert_eq!(m.as_bytes(), &bytes[..]);
        // Canonical form: same fields.
        let c = Message::parse(m.to_canonical_bytes()).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(c.from().unwrap().tag(), from.tag());
        prop_assert_eq!(c.cseq(), m.cseq());
        prop_assert_eq!(c.vias().count(), s.vias);
        let a: Vec<_> = m.headers().map(|h| (h.name, unfold(h.value).into_owned())).collect();
        let b: Vec<_> = c.headers().map(|h| (h.name, h.value.to_string())).collect();
        prop_assert_eq!(a, b);
    }

    #[test]
    fn arbitrary_bytes_never_panic(data in prop::collection::vec(any::<u8>(), 0..512)) {
        if let Ok(m) = Message::parse(data.clone()) {
            let _ = m.validate();
            let _ = (m.top_via(), m.from(), m.to(), m.cseq(), m.contacts().count());
            let again = Message::parse(m.to_bytes()).unwrap();
            prop_assert_eq!(again.as_bytes(), m.as_bytes());
        }
        let _ = strowger_message::frame(&data, &Default::default());
    }

    #[test]
    fn mutated_valid_messages_never_panic(s in spec(), at in any::<prop::sample::Index>(), byte in any::<u8>()) {
        let mut bytes = render(&s);
        let i = at.index(bytes.len());
        bytes[i] = byte;
        if let Ok(m) = Message::parse(bytes) {
            let _ = m.validate();
            let _ = (m.top_via(), m.from(), m.to(), m.cseq(), m.request_uri(), m.get(HeaderName::Via).count());
            let c = Message::parse(m.to_canonical_bytes());
            prop_assert!(c.is_ok(), "canonical form of a parsed message must parse: {:?}", c.err());
        }
    }
}
