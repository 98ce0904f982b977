//! RFC 4475, SIP Torture Test Messages: one test per message of the RFC's archive
//! (tests/data/rfc4475, see INDEX.tsv).
//!
//! Valid messages: the test asserts the reading the RFC gives of the tricky fields, not
//! only that the message parses. Invalid messages: the test asserts which check fails,
//! the header it names and the status a server answers with. Sections 3.2 to 3.4 hold
//! well-formed messages whose RFC expectation is a response chosen above the parser;
//! each test says which one in its doc comment (checked again at the transaction, UA
//! and server levels).

use std::net::Ipv4Addr;

use strowger_message::{
    unescape, Contact, HeaderName, Host, Message, Method, NameAddr, ParseError, SipUri, Uri,
};

macro_rules! dat {
    ($name:literal) => {
        &include_bytes!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/data/rfc4475/",
            $name,
            ".dat"
        ))[..]
    };
}

/// Parse and validate a message the RFC calls valid.
fn valid(bytes: &'static [u8]) -> Message {
    let msg = Message::parse(bytes).unwrap_or_else(|e| panic!("parse: {e}"));
    msg.validate().unwrap_or_else(|e| panic!("validate: {e}"));
    msg
}

/// The error of a message the RFC calls invalid, from parsing or from validation.
fn rejected(bytes: &'static [u8]) -> ParseError {
    match Message::parse(bytes) {
        Err(e) => e,
        Ok(m) => match m.validate() {
            Err(e) => e,
            Ok(()) => panic!("accepted an invalid message: {m:?}"),
        },
    }
}

/// The header named by a `ParseError::Header`.
fn header_error(e: &ParseError) -> (&str, &'static str) {
    match e {
        ParseError::Header { header, reason, .. } => (header, reason),
        other => panic!("expected a header error, got {other:?}"),
    }
}

fn sip<'a>(u: &Uri<'a>) -> SipUri<'a> {
    *u.as_sip().unwrap_or_else(|| panic!("not a SIP URI: {u}"))
}

fn uri(s: &str) -> Uri<'_> {
    Uri::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
}

fn addr<'a>(c: &Contact<'a>) -> NameAddr<'a> {
    match c {
        Contact::Addr(a) => *a,
        Contact::Star => panic!("Contact is '*'"),
    }
}

fn name(s: &str) -> Host<'_> {
    Host::Name(s)
}

fn v4(s: &str) -> Host<'static> {
    Host::V4(s.parse().unwrap())
}

// -------------------------------------------------------------------------------------
// 3.1.1 Valid messages

/// 3.1.1.1: "All elements should treat this as a well-formed request."
#[test]
fn s3_1_1_1_wsinv_short_tortuous_invite() {
    let input = dat!("wsinv");
    let m = valid(input);
    assert_eq!(m.as_bytes(), input, "nothing before or after the message");
    assert_eq!(m.method(), Some(Method::Invite));

    // Unknown Request-URI parameter without a value.
    let ruri = sip(&m.request_uri().unwrap());
    assert_eq!(ruri.user, Some("vivekg"));
    assert_eq!(ruri.host, name("chair-dnrc.example.com"));
    let p = ruri.params.get("unknownparam").unwrap();
    assert_eq!(p.value, None);

    // "TO :" then a fold; addr-spec with LWS around ';' and '=': tag is a header param.
    let to = m.to().unwrap();
    assert!(!to.bracketed);
    assert_eq!(to.tag(), Some("1918181833n"));
    assert_eq!(sip(&to.uri).user, Some("vivekg"));
    assert!(sip(&to.uri).params.is_empty());

    // Quoted display name with quoted-pairs: "J Rosenberg \\\"" is J Rosenberg \"
    let from = m.from().unwrap();
    assert_eq!(from.display, Some(r#""J Rosenberg \\\"""#));
    assert_eq!(from.display_name().unwrap(), r#"J Rosenberg \""#);
    assert_eq!(from.tag(), Some("98asjd8"));
    assert_eq!(from.uri, uri("sip:jdrosen@example.com"));

    // Leading zeros in integer fields.
    assert_eq!(m.header("Max-Forwards"), Some("0068"));
    assert_eq!(m.max_forwards(), Some(68));
    let cseq = m.cseq().unwrap();
    assert_eq!((cseq.seq, cseq.method), (9, Method::Invite));
    assert_eq!(m.call_id(), Some("wsinv.ndaksdj@192.0.2.1"));

    // One Via line and one v: line with two comma-separated values: three Vias, in order.
    assert_eq!(m.get(HeaderName::Via).count(), 2);
    let vias: Vec<_> = m.vias().collect();
    assert_eq!(vias.len(), 3);
    let got: Vec<_> = vias
        .iter()
        .map(|v| {
            (
                v.protocol,
                v.version,
                v.transport,
                v.host,
                v.port,
                v.branch(),
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            (
                "SIP",
                "2.0",
                "UDP",
                v4("192.0.2.2"),
                None,
                Some("390skdjuw")
            ),
            (
                "SIP",
                "2.0",
                "TCP",
                name("spindle.example.com"),
                None,
                Some("z9hG4bK9ikj8")
            ),
            (
                "SIP",
                "2.0",
                "UDP",
                v4("192.168.255.111"),
                None,
                Some("z9hG4bK30239")
            ),
        ]
    );
    assert!(!vias[0].has_magic_cookie(), "an RFC 2543 branch on top");
    assert_eq!(m.top_via().unwrap(), vias[0]);

    // Empty Subject in compact form ("s :").
    assert_eq!(m.header("Subject"), Some(""));
    assert_eq!(m.get(HeaderName::Subject).collect::<Vec<_>>(), vec![""]);

    // Unknown headers kept as written, fold included; the unusual value is opaque.
    assert_eq!(
        m.header("NewFangledHeader"),
        Some("newfangled value\r\n continued newfangled value")
    );
    assert_eq!(m.header("UnknownHeaderWithUnusualValue"), Some(";;,,;;,;"));
    let unusual = m
        .headers()
        .find(|h| h.raw_name == "UnknownHeaderWithUnusualValue")
        .unwrap();
    assert_eq!(unusual.name, HeaderName::Other);

    // Route: URI parameter without value (lr), unknown ones with and without value.
    let routes: Vec<_> = m.routes().collect();
    assert_eq!(routes.len(), 1);
    let r = sip(&routes[0].uri);
    assert_eq!(r.host, name("services.example.com"));
    assert!(r.lr());
    assert_eq!(r.params.value("unknownwith"), Some("value"));
    assert_eq!(r.params.get("unknown-no-value").unwrap().value, None);
    assert_eq!(r.params.len(), 3);

    // Contact: quoted display name, header params with LWS, one without a value, q.
    let contacts: Vec<_> = m.contacts().collect();
    assert_eq!(contacts.len(), 1);
    assert_eq!(contacts[0].q(), Some(330));
    let c = addr(&contacts[0]);
    assert_eq!(c.display_name().unwrap(), r#"Quoted string """#);
    assert_eq!(c.uri, uri("sip:jdrosen@example.com"));
    assert!(
        sip(&c.uri).params.is_empty(),
        "the params are header params"
    );
    assert_eq!(c.params.value("newparam"), Some("newvalue"));
    assert_eq!(c.params.get("secondparam").unwrap().value, None);
    assert_eq!(c.params.value("q"), Some("0.33"));

    // Names in odd case and with white space before the colon are recognised.
    let names: Vec<_> = m.headers().map(|h| (h.raw_name, h.name)).collect();
    assert!(names.contains(&("TO", HeaderName::To)));
    assert!(names.contains(&("from", HeaderName::From)));
    assert!(names.contains(&("MaX-fOrWaRdS", HeaderName::MaxForwards)));
    assert!(names.contains(&("cseq", HeaderName::CSeq)));
    assert!(names.contains(&("Content-Length", HeaderName::ContentLength)));
    assert!(names.contains(&("m", HeaderName::Contact)));

    let ct = m.content_type().unwrap();
    assert_eq!((ct.kind, ct.subtype), ("application", "sdp"));
    assert_eq!(m.content_length(), Some(150));
    assert_eq!(m.body().len(), 150);
    assert!(m.body().starts_with(b"v=0\r\n"));
    assert!(m.body().ends_with(b"a=rtpmap:31 LPC\r\n"));
}

/// 3.1.1.2: the parser accepts; the method is an unknown extension, so an endpoint
/// answers 501 with Allow and a proxy forwards it (or answers 404).
#[test]
fn s3_1_1_2_intmeth_wide_range_of_valid_characters() {
    let m = valid(dat!("intmeth"));
    const METHOD: &str = "!interesting-Method0123456789_*+`.%indeed'~";
    assert_eq!(m.method(), Some(Method::Extension(METHOD)));

    // Unusual characters in user and password; the first '@' ends the userinfo.
    let ruri = sip(&m.request_uri().unwrap());
    assert_eq!(
        ruri.user,
        Some("1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*")
    );
    assert_eq!(
        ruri.password,
        Some("&it+has=1,weird!*pas$wo~d_too.(doesn't-it)")
    );
    assert_eq!(ruri.host, name("example.com"));
    assert!(ruri.params.is_empty());
    assert_eq!(ruri.headers, None);

    // Branch with every non-alphanumeric token character; % is not an escape here.
    let via = m.top_via().unwrap();
    assert_eq!(via.transport, "TCP");
    assert_eq!(via.branch(), Some("z9hG4bK-.!%66*_+`'~"));

    // Quoted-pairs of BEL, NUL and DEL in the To display name.
    let to = m.to().unwrap();
    assert_eq!(to.display_name().unwrap(), "BEL:\x07 NUL:\0 DEL:\x7F");
    assert_eq!(
        sip(&to.uri).user,
        Some("1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*")
    );
    assert_eq!(sip(&to.uri).password, None);

    // Display name of several tokens; header param with token punctuation in its name
    // and a quoted UTF-8 value; tag with token punctuation.
    let from = m.from().unwrap();
    assert_eq!(from.display, Some("token1~` token2'+_ token3*%!.-"));
    assert_eq!(from.uri, uri("sip:mundane@example.com"));
    assert_eq!(from.params.value("fromParam''~+*_!.-%"), Some("работающий"));
    assert_eq!(from.tag(), Some("_token~1'+`*%!-."));
    assert_eq!(from.params.len(), 2);

    // Call-ID with word punctuation: % is no escape, " starts no quoted string, the
    // brackets need not balance.
    assert_eq!(
        m.call_id(),
        Some(r#"intmeth.word%ZK-!.*_+'@word`~)(><:\/"][?}{"#)
    );
    let cseq = m.cseq().unwrap();
    assert_eq!(
        (cseq.seq, cseq.method),
        (139_122_385, Method::Extension(METHOD))
    );
    assert_eq!(m.max_forwards(), Some(255));

    // Extension header with token punctuation in its name and a UTF-8 value.
    assert_eq!(
        m.header("extensionHeader-!.%*+_`'~"),
        Some("\u{feff}大停電")
    );
    assert_eq!(m.content_length(), Some(0));
    assert!(m.body().is_empty());
}

/// 3.1.1.3: %HH in SIP-URI user parts and parameters stands for the character it
/// encodes, and is decoded once only (value%41 is not valueA).
#[test]
fn s3_1_1_3_esc01_valid_use_of_percent_escaping() {
    let m = valid(dat!("esc01"));
    let ruri = sip(&m.request_uri().unwrap());
    assert_eq!(ruri.user, Some("sips%3Auser%40example.com"));
    assert_eq!(&*ruri.user_unescaped().unwrap(), b"sips:user@example.com");
    assert_eq!(ruri.host, name("example.net"));

    let to = m.to().unwrap();
    assert_eq!(&*sip(&to.uri).user_unescaped().unwrap(), b"user");
    assert_eq!(
        to.uri,
        uri("sip:user@example.com"),
        "compared unescaped (19.1.4)"
    );

    let from = m.from().unwrap();
    assert_eq!(&*sip(&from.uri).user_unescaped().unwrap(), b"I have spaces");
    assert_eq!(from.uri, uri("sip:I%20have%20spaces@example.net"));
    assert_eq!(from.tag(), Some("938"));

    // C: is the compact Content-Type.
    assert_eq!(m.content_type().unwrap().subtype, "sdp");

    // <sip:cal%6Cer@host5.example.net;%6C%72;n%61me=v%61lue%25%34%31>: user "caller",
    // parameter "lr", parameter "name" with the value "value%41".
    let contacts: Vec<_> = m.contacts().collect();
    assert_eq!(contacts.len(), 1);
    let c = sip(&addr(&contacts[0]).uri);
    assert_eq!(&*c.user_unescaped().unwrap(), b"caller");
    assert!(c.lr(), "%6C%72 is lr");
    let value = c.params.value("name").unwrap();
    assert_eq!(&*unescape(value), b"value%41");
    assert_eq!(
        Uri::Sip(c),
        uri("sip:caller@host5.example.net;lr;name=value%2541")
    );
    assert_ne!(
        Uri::Sip(c),
        uri("sip:caller@host5.example.net;lr;name=valueA"),
        "unescaping is never recursive"
    );
    assert_eq!(m.body().len(), 150);
}

/// 3.1.1.4: %00 in a user part must not shorten it; the REGISTER binds two distinct
/// contacts.
#[test]
fn s3_1_1_4_escnull_escaped_nulls_in_uris() {
    let m = valid(dat!("escnull"));
    assert_eq!(m.method(), Some(Method::Register));
    let to = sip(&m.to().unwrap().uri);
    assert_eq!(&*to.user_unescaped().unwrap(), b"null-\0-null");
    assert_eq!(to.aor(), "sip:null-%00-null@example.com");
    let from = m.from().unwrap();
    assert_eq!(&*sip(&from.uri).user_unescaped().unwrap(), b"null-\0-null");
    assert_eq!(from.tag(), Some("839923423"));
    assert_eq!(from.uri, m.to().unwrap().uri);

    let contacts: Vec<_> = m.contacts().map(|c| addr(&c).uri).collect();
    assert_eq!(contacts.len(), 2);
    assert_eq!(&*sip(&contacts[0]).user_unescaped().unwrap(), b"\0");
    assert_eq!(&*sip(&contacts[1]).user_unescaped().unwrap(), b"\0\0");
    assert_ne!(contacts[0], contacts[1], "two distinct bindings");
    assert_eq!(m.content_length(), Some(0));
}

/// 3.1.1.5: % is not an escape in a method, a display name or a header name. The
/// method is unknown (an endpoint answers 501), NOT REGISTER.
#[test]
fn s3_1_1_5_esc02_percent_when_not_an_escape() {
    let m = valid(dat!("esc02"));
    assert_eq!(m.method(), Some(Method::Extension("RE%47IST%45R")));
    assert_ne!(m.method(), Some(Method::Register));
    assert_eq!(m.cseq().unwrap().method, Method::Extension("RE%47IST%45R"));

    for a in [m.to().unwrap(), m.from().unwrap()] {
        assert_eq!(a.display_name().unwrap(), "%Z%45");
    }
    assert_eq!(m.top_via().unwrap().branch(), Some("z9hG4bK209%fzsnel234"));

    // Two Contact values, not three: C%6Fntact is an unknown header.
    let contacts: Vec<_> = m.contacts().map(|c| addr(&c).uri).collect();
    assert_eq!(
        contacts,
        vec![
            uri("sip:alias1@host1.example.com"),
            uri("sip:alias3@host3.example.com")
        ]
    );
    let other = m.headers().find(|h| h.raw_name == "C%6Fntact").unwrap();
    assert_eq!(other.name, HeaderName::Other);
    assert_eq!(
        m.header("C%6Fntact"),
        Some("<sip:alias2@host2.example.com>")
    );
}

/// 3.1.1.6: no LWS between the display name and '<'; elements should accept it.
#[test]
fn s3_1_1_6_lwsdisp_no_lws_between_display_name_and_laquot() {
    let m = valid(dat!("lwsdisp"));
    let from = m.from().unwrap();
    assert_eq!(from.display, Some("caller"));
    assert!(from.bracketed);
    assert_eq!(from.uri, uri("sip:caller@example.com"));
    assert_eq!(from.tag(), Some("323"));
}

/// 3.1.1.7: long values and many Via fields under every spelling of the name.
#[test]
fn s3_1_1_7_longreq_long_values_in_header_fields() {
    let m = valid(dat!("longreq"));
    let to = m.to().unwrap();
    assert_eq!(
        to.display_name().unwrap(),
        format!("I have a user name of {} proportion", "extreme".repeat(10))
    );
    let tu = sip(&to.uri);
    assert_eq!(tu.port, Some(6000));
    assert_eq!(
        tu.params.value("unknownparam1"),
        Some(format!("very{}value", "long".repeat(20)).as_str())
    );
    assert_eq!(
        tu.params.value(&format!("longparam{}", "name".repeat(25))),
        Some("shortvalue")
    );
    let valueless = format!("very{}ParameterNameWithNoValue", "long".repeat(25));
    assert_eq!(tu.params.get(&valueless).unwrap().value, None);
    assert_eq!(tu.params.len(), 3);

    let caller = "amazinglylongcallername".repeat(5);
    let from = m.from().unwrap();
    assert!(!from.bracketed);
    assert_eq!(sip(&from.uri).user, Some(caller.as_str()));
    assert_eq!(sip(&from.uri).host, name("example.net"));
    assert_eq!(
        from.tag(),
        Some(format!("12{}424", "982".repeat(50)).as_str())
    );
    assert_eq!(
        from.params
            .value(&format!("unknownheaderparam{}", "name".repeat(20))),
        Some(format!("unknowheaderparam{}", "value".repeat(15)).as_str())
    );
    let valueless = format!("unknownValueless{}", "paramname".repeat(10));
    assert_eq!(from.params.get(&valueless).unwrap().value, None);

    assert_eq!(
        m.call_id(),
        Some(format!("longreq.one{}longcallid", "really".repeat(20)).as_str())
    );
    assert_eq!(m.cseq().unwrap().seq, 3_882_340);

    let long = "long".repeat(20);
    let unknown = format!("Unknown-{}-Name", "Long".repeat(20));
    assert_eq!(
        m.header(&unknown),
        Some(
            format!(
                "unknown-{long}-value; unknown-{long}-parameter-name = unknown-{long}-parameter-value"
            )
            .as_str()
        )
    );

    // 34 Via fields: Via, v, V, ViA, VIa, VIA, via, viA, vIa, vIA, "V :", "Via  :", ...
    assert_eq!(m.get(HeaderName::Via).count(), 34);
    let vias: Vec<_> = m.vias().collect();
    assert_eq!(vias.len(), 34);
    for (i, v) in vias[..33].iter().enumerate() {
        assert_eq!(v.transport, "TCP");
        assert_eq!(v.host.to_string(), format!("sip{}.example.com", 33 - i));
        assert_eq!(v.branch(), None);
    }
    let last = vias[33];
    assert_eq!(last.host, name("host.example.com"));
    assert_eq!(last.received(), Some("192.0.2.5"));
    assert_eq!(
        last.branch(),
        Some(format!("very{}branchvalue", "long".repeat(50)).as_str())
    );
    let spellings: Vec<_> = m
        .headers()
        .filter(|h| h.name == HeaderName::Via)
        .map(|h| h.raw_name)
        .collect();
    for s in [
        "Via", "v", "V", "ViA", "VIa", "VIA", "via", "viA", "vIa", "vIA",
    ] {
        assert!(spellings.contains(&s), "{s}");
    }

    assert_eq!(m.max_forwards(), Some(70));
    let contacts: Vec<_> = m.contacts().collect();
    assert_eq!(sip(&addr(&contacts[0]).uri).user, Some(caller.as_str()));
    assert_eq!(m.content_length(), Some(150));
    assert_eq!(m.body().len(), 150);
}

/// 3.1.1.8: the REGISTER is handled normally; the octets after its (empty) body look
/// like an INVITE but are noise that must be ignored and never forwarded (18.3).
#[test]
fn s3_1_1_8_dblreq_extra_trailing_octets_in_udp_datagram() {
    let input = dat!("dblreq");
    let m = valid(input);
    assert_eq!(m.method(), Some(Method::Register));
    assert_eq!(m.content_length(), Some(0));
    assert!(m.body().is_empty());
    assert!(m.as_bytes().ends_with(b"Content-Length: 0\r\n\r\n"));
    assert!(m.as_bytes().len() < input.len());
    assert!(input[m.as_bytes().len()..]
        .windows(6)
        .any(|w| w == b"INVITE"));
    assert!(!m.as_bytes().windows(6).any(|w| w == b"INVITE"));
    assert_eq!(&m.to_bytes()[..], m.as_bytes());
    // The REGISTER's own fields, not the INVITE's.
    assert_eq!(m.call_id(), Some("dblreq.0ha0isndaksdj99sdfafnl3lk233412"));
    assert_eq!(m.cseq().unwrap().method, Method::Register);
    assert_eq!(m.get(HeaderName::Via).count(), 1);
    assert_eq!(m.max_forwards(), Some(8));
    let c = addr(&m.contacts().next().unwrap());
    assert_eq!(c.uri, uri("sip:j.user@host.example.com"));
}

/// 3.1.1.9: the user part of the Request-URI is "user;par=u@example.net".
#[test]
fn s3_1_1_9_semiuri_semicolon_separated_parameters_in_uri_user_part() {
    let m = valid(dat!("semiuri"));
    let ruri = sip(&m.request_uri().unwrap());
    assert_eq!(ruri.user, Some("user;par=u%40example.net"));
    assert_eq!(&*ruri.user_unescaped().unwrap(), b"user;par=u@example.net");
    assert_eq!(ruri.host, name("example.com"));
    assert!(ruri.params.is_empty(), "par belongs to the user part");
    // Accept folded over three lines: six media ranges.
    let accept: Vec<_> = m.values(HeaderName::Accept).collect();
    assert_eq!(
        accept,
        vec![
            "application/sdp",
            "application/pkcs7-mime",
            "multipart/mixed",
            "multipart/signed",
            "message/sip",
            "message/sipfrag"
        ]
    );
}

/// 3.1.1.10: Via transports UDP, SCTP, TLS, an unknown token, and TCP.
#[test]
fn s3_1_1_10_transports_varied_and_unknown_transport_types() {
    let m = valid(dat!("transports"));
    let vias: Vec<_> = m
        .vias()
        .map(|v| (v.transport, v.host.to_string(), v.branch()))
        .collect();
    assert_eq!(
        vias,
        vec![
            ("UDP", "t1.example.com".to_string(), Some("z9hG4bKkdjuw")),
            (
                "SCTP",
                "t2.example.com".to_string(),
                Some("z9hG4bKklasjdhf")
            ),
            (
                "TLS",
                "t3.example.com".to_string(),
                Some("z9hG4bK2980unddj")
            ),
            (
                "UNKNOWN",
                "t4.example.com".to_string(),
                Some("z9hG4bKasd0f3en")
            ),
            (
                "TCP",
                "t5.example.com".to_string(),
                Some("z9hG4bK0a9idfnee")
            ),
        ]
    );
    assert_eq!(m.call_id(), Some("transports.kijh4akdnaqjkwendsasfdj"));
}

/// 3.1.1.11: framed by Content-Length; the binary part holds NUL and bare CR and LF
/// octets. Accepted even where multipart is unsupported above the parser.
#[test]
fn s3_1_1_11_mpart01_multipart_mime_message() {
    let m = valid(dat!("mpart01"));
    assert_eq!(m.method(), Some(Method::Message));
    let via = m.top_via().unwrap();
    assert_eq!((via.host, via.port), (v4("127.0.0.1"), Some(5070)));
    assert_eq!(via.rport(), Some(None));
    assert_eq!(
        via.branch(),
        Some("z9hG4bK-d87543-4dade06d0bdb11ee-1--d87543-")
    );
    let route = m.routes().next().unwrap();
    assert_eq!(sip(&route.uri).port, Some(5080));
    assert_eq!(
        m.call_id(),
        Some("3d9485ad0c49859b@Zmx1ZmZ5LW1hYy0xNi5sb2NhbA..")
    );
    assert_eq!(m.header("Date"), Some("Sat, 15 Oct 2005 04:44:56 GMT"));
    assert_eq!(m.header("Content-Transfer-Encoding"), Some("binary"));

    let ct = m.content_type().unwrap();
    assert!(ct.matches("multipart", "mixed"));
    assert_eq!(ct.params.value("boundary"), Some("7a9cbec02ceef655"));

    assert_eq!(m.content_length(), Some(553));
    let body = m.body();
    assert_eq!(body.len(), 553);
    assert!(body.starts_with(b"--7a9cbec02ceef655\r\nContent-Type: text/plain\r\n"));
    assert!(body.ends_with(b"\r\n--7a9cbec02ceef655--\r\n"));

    // The binary part: a DER SEQUENCE (30 82 01 52) of 4 + 0x152 octets.
    let head =
        b"Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: binary\r\n\r\n";
    let start = body.windows(head.len()).position(|w| w == head).unwrap() + head.len();
    let end = body.len() - b"\r\n--7a9cbec02ceef655--\r\n".len();
    let part = &body[start..end];
    assert_eq!(part[..4], [0x30, 0x82, 0x01, 0x52]);
    assert_eq!(part.len(), 4 + 0x152);
    assert!(part.contains(&0));
    let bare_lf = part.windows(2).any(|w| w[1] == b'\n' && w[0] != b'\r');
    let bare_cr = part.windows(2).any(|w| w[0] == b'\r' && w[1] != b'\n');
    assert!(bare_lf && bare_cr);
}

/// 3.1.1.12: a reason phrase with non-ASCII UTF-8; a parser must accept it.
#[test]
fn s3_1_1_12_unreason_unusual_reason_phrase() {
    let m = valid(dat!("unreason"));
    assert_eq!(m.status(), Some(200));
    assert_eq!(
        m.reason(),
        Some("= 2**3 * 5**2 но сто девяносто девять - простое")
    );
    assert_eq!(m.cseq().unwrap().method, Method::Invite);
    assert_eq!(m.content_length(), Some(154));
    assert_eq!(m.body().len(), 154);
}

/// 3.1.1.13: "SIP/2.0 100 " with the SP and an empty reason phrase.
#[test]
fn s3_1_1_13_noreason_empty_reason_phrase() {
    let m = valid(dat!("noreason"));
    assert_eq!(m.status(), Some(100));
    assert_eq!(m.reason(), Some(""));
    assert_eq!(m.start_line(), "SIP/2.0 100 ");
    assert_eq!(m.to().unwrap().tag(), Some("902jndnke3"));
}

// -------------------------------------------------------------------------------------
// 3.1.2 Invalid messages

/// 3.1.2.1: empty elements ";;,;,," in Via and ";;;;" in Contact: 400.
#[test]
fn s3_1_2_1_badinv01_extraneous_header_field_separators() {
    let e = rejected(dat!("badinv01"));
    let (header, _) = header_error(&e);
    assert_eq!(header, "Via");
    assert_eq!(e.status_code(), 400);
    // The Contact (after the Via) is wrong on its own too.
    assert!(Contact::parse(r#""Joe" <sip:joe@example.org>;;;;"#).is_err());
}

/// 3.1.2.2: Content-Length 9999 with a 154-octet body. Over UDP: 400. (Over TCP the
/// framer waits for more data; see `frame`.)
#[test]
fn s3_1_2_2_clerr_content_length_larger_than_message() {
    let e = rejected(dat!("clerr"));
    assert_eq!(
        e,
        ParseError::BodyTruncated {
            declared: 9999,
            available: 154
        }
    );
    assert_eq!(e.status_code(), 400);
}

/// 3.1.2.3: Content-Length -999: an error (400); never used as a count. Over TCP the
/// framing is lost and the connection is closed.
#[test]
fn s3_1_2_3_ncl_negative_content_length() {
    let input = dat!("ncl");
    let e = rejected(input);
    assert_eq!(header_error(&e).0, "Content-Length");
    assert_eq!(e.status_code(), 400);
    assert!(strowger_message::frame(input, &Default::default()).is_err());
}

/// 3.1.2.4: 400 because the CSeq number exceeds 2^32-1. (The RFC lets an element treat
/// an overlarge Max-Forwards alone as absent, and overlarge expiry values as the
/// default; we clamp the expiry values, and report the CSeq first.)
#[test]
fn s3_1_2_4_scalar02_request_scalar_fields_with_overlarge_values() {
    let e = rejected(dat!("scalar02"));
    let (header, reason) = header_error(&e);
    assert_eq!(header, "CSeq");
    assert!(reason.contains("2^32-1"), "{reason}");
    assert_eq!(e.status_code(), 400);
    let c = Contact::parse("<sip:user@host129.example.com>\r\n  ;expires=280297596632815").unwrap();
    assert_eq!(c.expires(), Some(u32::MAX));
}

/// 3.1.2.5: a response with an overlarge CSeq, Retry-After and a four-digit warn-code:
/// simply discarded (a response is never answered).
#[test]
fn s3_1_2_5_scalarlg_response_scalar_fields_with_overlarge_values() {
    let e = rejected(dat!("scalarlg"));
    assert_eq!(header_error(&e).0, "CSeq");
    assert_eq!(e.status_code(), 400);
    assert!(strowger_message::RetryAfter::parse("949302838503028349304023988").is_err());
    assert!(strowger_message::Warning::parse(r#"1812 overture "In Progress""#).is_err());
}

/// 3.1.2.6: unterminated quoted display name in To: 400. (The RFC lets an element infer
/// the closing quote if it does so reasonably; we do not.)
#[test]
fn s3_1_2_6_quotbal_unterminated_quoted_string_in_display_name() {
    let e = rejected(dat!("quotbal"));
    let (header, reason) = header_error(&e);
    assert_eq!(header, "To");
    assert!(reason.contains("quote"), "{reason}");
    assert_eq!(e.status_code(), 400);
}

/// 3.1.2.7: Request-URI enclosed in <>: 400 is reasonable. (A liberal element may ignore
/// the brackets but must not forward them.)
#[test]
fn s3_1_2_7_ltgtruri_ltgt_enclosing_request_uri() {
    let e = rejected(dat!("ltgtruri"));
    assert!(
        matches!(e, ParseError::StartLine { offset: 7, .. }),
        "error at the Request-URI: {e:?}"
    );
    assert_eq!(e.status_code(), 400);
}

/// 3.1.2.8: LWS inside the Request-URI ("sip:user@example.com; lr"): 400. (An element
/// may ignore the LWS where that is unambiguous.)
#[test]
fn s3_1_2_8_lwsruri_malformed_request_uri_embedded_lws() {
    let e = rejected(dat!("lwsruri"));
    match &e {
        // The URI ends at the SP, leaving an empty parameter after ';'.
        ParseError::StartLine { offset, reason } => {
            assert_eq!(*offset, "INVITE sip:user@example.com;".len());
            assert!(reason.contains("parameter"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(e.status_code(), 400);
}

/// 3.1.2.9: several SP between the Request-Line elements: rejecting is acceptable (400).
/// (A liberal element may ignore them but must not forward them.)
#[test]
fn s3_1_2_9_lwsstart_multiple_sp_separating_request_line_elements() {
    let e = rejected(dat!("lwsstart"));
    assert!(
        matches!(e, ParseError::StartLine { offset: 7, .. }),
        "{e:?}"
    );
    assert_eq!(e.status_code(), 400);
}

/// 3.1.2.10: SP after SIP/2.0: rejecting is acceptable (400). (A liberal element may
/// ignore it but must not forward it.)
#[test]
fn s3_1_2_10_trws_sp_characters_at_end_of_request_line() {
    let e = rejected(dat!("trws"));
    let version_at = "OPTIONS sip:remote-target@example.com ".len();
    assert!(
        matches!(e, ParseError::StartLine { offset, .. } if offset == version_at),
        "{e:?}"
    );
    assert_eq!(e.status_code(), 400);
}

/// 3.1.2.11: escaped headers in the Request-URI: rejecting with 400 is acceptable. (A
/// liberal element may ignore them; a proxy must neither forward them in the
/// Request-URI nor turn them into header fields.)
#[test]
fn s3_1_2_11_escruri_escaped_headers_in_sip_request_uri() {
    let input = dat!("escruri");
    let m = Message::parse(input).unwrap();
    assert_eq!(
        sip(&m.request_uri().unwrap()).headers,
        Some("Route=%3Csip:example.com%3E")
    );
    assert_eq!(m.routes().count(), 0, "not a real Route header");
    let e = m.validate().unwrap_err();
    match &e {
        ParseError::StartLine { reason, .. } => assert!(reason.contains("headers"), "{reason}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(e.status_code(), 400);
}

/// 3.1.2.12: Date in EST: only GMT is valid. Rejecting is acceptable (though the RFC
/// says an element should not unless the Date matters; it may ignore it or convert).
#[test]
fn s3_1_2_12_baddate_invalid_time_zone_in_date_header_field() {
    let e = rejected(dat!("baddate"));
    assert_eq!(header_error(&e).0, "Date");
    assert_eq!(e.status_code(), 400);
}

/// 3.1.2.13: a Contact URI with an escaped header but no <>: 400 is reasonable. (The
/// RFC lets an element infer the brackets here, where there is no ambiguity.)
#[test]
fn s3_1_2_13_regbadct_failure_to_enclose_name_addr_uri_in_ltgt() {
    let e = rejected(dat!("regbadct"));
    let (header, reason) = header_error(&e);
    assert_eq!(header, "Contact");
    assert!(reason.contains('<'), "{reason}");
    assert_eq!(e.status_code(), 400);
}

/// 3.1.2.14: spaces inside the <> of the To addr-spec: the parser must not break; 400
/// is reasonable. (A liberal element may ignore the spaces.)
#[test]
fn s3_1_2_14_badaspec_spaces_within_addr_spec() {
    let input = dat!("badaspec");
    let e = rejected(input);
    assert_eq!(header_error(&e).0, "To");
    assert_eq!(e.status_code(), 400);
    // The From before it, with a quoted display name holding a comma, is fine.
    let from = NameAddr::parse(r#""Bell, Alexander" <sip:a.g.bell@example.com>;tag=433423"#);
    assert_eq!(from.unwrap().display_name().unwrap(), "Bell, Alexander");
}

/// 3.1.2.15: unquoted display names with non-token characters (the comma): 400. (An
/// element may infer the quotes; a proxy must not propagate the error.)
#[test]
fn s3_1_2_15_baddn_non_token_characters_in_display_name() {
    let e = rejected(dat!("baddn"));
    assert_eq!(header_error(&e).0, "From");
    assert_eq!(e.status_code(), 400);
    assert!(NameAddr::parse("Watson, Thomas <sip:t.watson@example.org>").is_err());
}

/// 3.1.2.16: SIP/7.0: 505 Version Not Supported.
#[test]
fn s3_1_2_16_badvers_unknown_protocol_version() {
    let e = rejected(dat!("badvers"));
    assert_eq!(
        e,
        ParseError::UnsupportedVersion {
            version: "SIP/7.0".into()
        }
    );
    assert_eq!(e.status_code(), 505);
}

/// 3.1.2.17: OPTIONS with CSeq method INVITE: 400.
#[test]
fn s3_1_2_17_mismatch01_start_line_and_cseq_method_mismatch() {
    let e = rejected(dat!("mismatch01"));
    assert_eq!(
        e,
        ParseError::CSeqMethodMismatch {
            method: "OPTIONS".into(),
            cseq: "INVITE".into()
        }
    );
    assert_eq!(e.status_code(), 400);
}

/// 3.1.2.18: unknown method NEWMETHOD with CSeq INVITE: the RFC prefers 501 Not
/// Implemented and accepts 400; the message layer says 400 and the UA/proxy core may
/// answer 501 for the unknown method.
#[test]
fn s3_1_2_18_mismatch02_unknown_method_with_cseq_method_mismatch() {
    let m = Message::parse(dat!("mismatch02")).unwrap();
    assert_eq!(m.method(), Some(Method::Extension("NEWMETHOD")));
    let e = m.validate().unwrap_err();
    assert_eq!(
        e,
        ParseError::CSeqMethodMismatch {
            method: "NEWMETHOD".into(),
            cseq: "INVITE".into()
        }
    );
    assert_eq!(e.status_code(), 400);
}

/// 3.1.2.19: status code 4294967301: the response is simply dropped.
#[test]
fn s3_1_2_19_bigcode_overlarge_response_code() {
    let e = rejected(dat!("bigcode"));
    assert!(
        matches!(e, ParseError::StartLine { offset, .. } if (8..=11).contains(&offset)),
        "error at the status code: {e:?}"
    );
}

// -------------------------------------------------------------------------------------
// 3.2 Transaction layer semantics

/// 3.2.1: the branch is only the magic cookie. The parser must not break; an element
/// may reject with 400 (preferably statelessly) or fall back to RFC 2543 transaction
/// matching.
#[test]
fn s3_2_1_badbranch_missing_transaction_identifier() {
    let m = valid(dat!("badbranch"));
    let via = m.top_via().unwrap();
    assert_eq!(via.branch(), Some("z9hG4bK"));
    assert_eq!(via.branch(), Some(strowger_message::MAGIC_COOKIE));
}

// -------------------------------------------------------------------------------------
// 3.3 Application-layer semantics

/// 3.3.1: no Call-ID, From or To: must not break; ideally 400.
#[test]
fn s3_3_1_insuf_missing_required_header_fields() {
    let m = Message::parse(dat!("insuf")).unwrap();
    assert!(m.to().is_none() && m.from().is_none() && m.call_id().is_none());
    let e = m.validate().unwrap_err();
    assert!(
        matches!(
            e,
            ParseError::MissingHeader {
                header: "To" | "From" | "Call-ID"
            }
        ),
        "{e:?}"
    );
    assert_eq!(e.status_code(), 400);
}

/// 3.3.2: unknown scheme in the Request-URI: the parser accepts; an element answers
/// 416 Unsupported URI Scheme (and must not route on the To).
#[test]
fn s3_3_2_unkscm_request_uri_with_unknown_scheme() {
    let m = valid(dat!("unkscm"));
    let ruri = m.request_uri().unwrap();
    assert!(matches!(
        ruri,
        Uri::Other {
            scheme: "nobodyKnowsThisScheme",
            raw: "nobodyKnowsThisScheme:totallyopaquecontent"
        }
    ));
    assert!(m.to().unwrap().uri.is_sip());
}

/// 3.3.3: a registered but atypical scheme in the Request-URI: the parser accepts; an
/// element answers 416 if it never accepts the scheme, else 404 for URIs it does not.
#[test]
fn s3_3_3_novelsc_request_uri_with_known_but_atypical_scheme() {
    let m = valid(dat!("novelsc"));
    let ruri = m.request_uri().unwrap();
    assert!(matches!(
        ruri,
        Uri::Other {
            scheme: "soap.beep",
            raw: "soap.beep://192.0.2.103:3002"
        }
    ));
}

/// 3.3.4: non-SIP schemes in To, From and Contact: the parser must not fail; a proxy
/// treats the request normally; a registrar answers 400 (the To must be a SIP or SIPS
/// AOR).
#[test]
fn s3_3_4_unksm2_unknown_uri_schemes_in_header_fields() {
    let m = valid(dat!("unksm2"));
    let to = m.to().unwrap();
    assert!(!to.bracketed);
    assert!(matches!(
        to.uri,
        Uri::Other {
            scheme: "isbn",
            raw: "isbn:2983792873"
        }
    ));
    let from = m.from().unwrap();
    assert!(matches!(
        from.uri,
        Uri::Other {
            scheme: "http",
            raw: "http://www.example.com"
        }
    ));
    assert_eq!(from.tag(), Some("3234233"));
    let contacts: Vec<_> = m.contacts().map(|c| addr(&c).uri).collect();
    assert_eq!(contacts.len(), 1);
    assert!(matches!(
        contacts[0],
        Uri::Other {
            scheme: "name",
            raw: "name:John_Smith"
        }
    ));
}

/// 3.3.5: unknown option tags in Require and Proxy-Require: 420 Bad Extension with an
/// Unsupported header listing the tags of Require (UAS) or Proxy-Require (proxy).
#[test]
fn s3_3_5_bext01_proxy_require_and_require() {
    let m = valid(dat!("bext01"));
    assert_eq!(
        m.tokens(HeaderName::Require).collect::<Vec<_>>(),
        vec!["nothingSupportsThis", "nothingSupportsThisEither"]
    );
    assert_eq!(
        m.tokens(HeaderName::ProxyRequire).collect::<Vec<_>>(),
        vec!["noProxiesSupportThis", "norDoAnyProxiesSupportThis"]
    );
    assert_eq!(m.top_via().unwrap().transport, "TLS");
}

/// 3.3.6: unknown Content-Type: the parser must not fail; a proxy processes it normally;
/// an endpoint answers 415 Unsupported Media Type.
#[test]
fn s3_3_6_invut_unknown_content_type() {
    let m = valid(dat!("invut"));
    let ct = m.content_type().unwrap();
    assert_eq!((ct.kind, ct.subtype), ("application", "unknownformat"));
    assert!(!ct.matches("application", "sdp"));
    assert_eq!(m.content_length(), Some(40));
    assert_eq!(
        m.body(),
        b"<audio>\r\n <pcmu port=\"443\"/>\r\n</audio>\r\n"
    );
}

/// 3.3.7: unknown Authorization scheme: the parser must not fail; a proxy forwards the
/// header unmodified; a registrar ignores it or challenges (401) with a known scheme; a
/// non-registrar endpoint answers 405 Method Not Allowed.
#[test]
fn s3_3_7_regaut01_unknown_authorization_scheme() {
    let m = valid(dat!("regaut01"));
    let auth: Vec<_> = m.auth(HeaderName::Authorization).collect();
    assert_eq!(auth.len(), 1);
    assert_eq!(auth[0].scheme, "NoOneKnowsThisScheme");
    assert_eq!(auth[0].raw_params, "opaque-data=here");
    assert!(!auth[0].is_digest());
    assert_eq!(
        m.header("Authorization"),
        Some("NoOneKnowsThisScheme opaque-data=here")
    );
    assert_eq!(m.content_length(), Some(0));
}

/// 3.3.8: two Call-ID, To, From, Max-Forwards and CSeq fields: must not break; 400.
#[test]
fn s3_3_8_multi01_multiple_values_in_single_value_required_fields() {
    let m = Message::parse(dat!("multi01")).unwrap();
    for h in [
        HeaderName::CallId,
        HeaderName::To,
        HeaderName::From,
        HeaderName::MaxForwards,
        HeaderName::CSeq,
    ] {
        assert_eq!(m.get(h).count(), 2, "{h:?}");
    }
    let e = m.validate().unwrap_err();
    assert!(
        matches!(
            e,
            ParseError::MultipleValues {
                header: "Call-ID" | "To" | "From" | "Max-Forwards" | "CSeq",
                count: 2
            }
        ),
        "{e:?}"
    );
    assert_eq!(e.status_code(), 400);
}

/// 3.3.9: Content-Length 13 and 5: an error; over UDP the rest of the datagram is
/// discarded, over TCP the framing is lost and the connection closed.
#[test]
fn s3_3_9_mcl01_multiple_content_length_values() {
    let input = dat!("mcl01");
    let e = rejected(input);
    let (header, reason) = header_error(&e);
    assert_eq!(header, "Content-Length");
    assert!(reason.contains("more than once"), "{reason}");
    assert_eq!(e.status_code(), 400);
    assert!(strowger_message::frame(input, &Default::default()).is_err());
}

/// 3.3.10: the second Via sent-by is 255.255.255.255: the parser must not fail; an
/// endpoint discards the response, a proxy should drop it.
#[test]
fn s3_3_10_bcast_200_ok_response_with_broadcast_via() {
    let m = valid(dat!("bcast"));
    assert_eq!(m.status(), Some(200));
    let vias: Vec<_> = m.vias().collect();
    assert_eq!(vias.len(), 2);
    assert_eq!(vias[0].host, v4("192.0.2.198"));
    assert_eq!(vias[1].host, Host::V4(Ipv4Addr::BROADCAST));
    assert_eq!(vias[1].branch(), Some("z9hG4bK1saber23"));
}

/// 3.3.11: Max-Forwards 0: a proxy must not forward and answers 483 Too Many Hops; an
/// endpoint processes the request normally.
#[test]
fn s3_3_11_zeromf_max_forwards_of_zero() {
    let m = valid(dat!("zeromf"));
    assert_eq!(m.max_forwards(), Some(0));
    assert_eq!(m.method(), Some(Method::Options));
}

/// 3.3.12: Contact without <>: unknownparam is a contact-param (header parameter), not
/// a url-parameter of the binding. The REGISTER succeeds (200).
#[test]
fn s3_3_12_cparam01_register_with_contact_header_parameter() {
    let m = valid(dat!("cparam01"));
    let c = addr(&m.contacts().next().unwrap());
    assert!(!c.bracketed);
    assert_eq!(c.params.get("unknownparam").unwrap().value, None);
    let u = sip(&c.uri);
    assert!(u.params.is_empty(), "not a url-parameter");
    assert_eq!(u.user, Some("+19725552222"));
    assert_eq!(u.host, name("gw1.example.net"));
    assert_eq!(c.uri.as_str(), "sip:+19725552222@gw1.example.net");
}

/// 3.3.13: Contact in <> with a URI parameter: unknownparam is a url-parameter, kept in
/// the binding and returned by later fetches. The REGISTER succeeds (200).
#[test]
fn s3_3_13_cparam02_register_with_url_parameter() {
    let m = valid(dat!("cparam02"));
    let c = addr(&m.contacts().next().unwrap());
    assert!(c.bracketed);
    assert!(c.params.is_empty(), "not a contact-param");
    let u = sip(&c.uri);
    assert_eq!(u.params.get("unknownparam").unwrap().value, None);
    assert_eq!(
        c.uri.as_str(),
        "sip:+19725552222@gw1.example.net;unknownparam"
    );
}

/// 3.3.14: a Contact URI with an escaped Route header: the REGISTER succeeds (200) and
/// the binding keeps the escaped header in its contact URI.
#[test]
fn s3_3_14_regescrt_register_with_url_escaped_header() {
    let m = valid(dat!("regescrt"));
    let contacts: Vec<_> = m.contacts().collect();
    assert_eq!(contacts.len(), 1, "M: is the compact Contact");
    let c = addr(&contacts[0]);
    let u = sip(&c.uri);
    assert_eq!(u.headers, Some("Route=%3Csip:sip.example.com%3E"));
    assert_eq!(
        &*unescape(u.headers.unwrap()),
        b"Route=<sip:sip.example.com>"
    );
    assert_eq!(
        c.uri.as_str(),
        "sip:user@example.com?Route=%3Csip:sip.example.com%3E"
    );
    assert_eq!(m.routes().count(), 0);
    assert_eq!(
        m.content_length(),
        Some(0),
        "L: is the compact Content-Length"
    );
}

/// 3.3.15: Accept without application/sdp: 406 Not Acceptable (with Warning 399) or 400
/// Bad Request (UAs supporting INVITE must support application/sdp).
#[test]
fn s3_3_15_sdp01_unacceptable_accept_offering() {
    let m = valid(dat!("sdp01"));
    let accept: Vec<_> = m.values(HeaderName::Accept).collect();
    assert_eq!(accept, vec!["text/nobodyKnowsThis"]);
    let range = strowger_message::MediaType::parse(accept[0]).unwrap();
    assert_eq!((range.kind, range.subtype), ("text", "nobodyKnowsThis"));
    assert!(!range.matches("application", "sdp"));
    assert!(m.content_type().unwrap().matches("application", "sdp"));
}

// -------------------------------------------------------------------------------------
// 3.4 Backward compatibility

/// 3.4.1: RFC 2543 syntax, accepted for backward compatibility: no branch, no From
/// tag, no Max-Forwards, no Content-Length (the body is the rest of the datagram).
#[test]
fn s3_4_1_inv2543_invite_with_rfc2543_syntax() {
    let input = dat!("inv2543");
    let m = valid(input);
    let via = m.top_via().unwrap();
    assert_eq!(via.branch(), None);
    assert!(!via.has_magic_cookie());
    assert_eq!(via.host, name("iftgw.example.com"));
    let from = m.from().unwrap();
    assert_eq!(from.tag(), None);
    assert_eq!(sip(&from.uri).params.value("user"), Some("phone"));
    assert_eq!(m.max_forwards(), None);
    assert_eq!(m.get(HeaderName::MaxForwards).count(), 0);
    assert_eq!(m.content_length(), None);
    let body_start = input.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    assert_eq!(m.body(), &input[body_start..]);
    assert!(m.body().ends_with(b"m=audio 49217 RTP/AVP 0\r\n"));
    assert_eq!(m.as_bytes(), input);
    // To is an addr-spec: ";user=phone" is a header parameter there (20.10).
    let to = m.to().unwrap();
    assert!(sip(&to.uri).params.is_empty());
    assert_eq!(to.params.value("user"), Some("phone"));
    let rr = m.record_routes().next().unwrap();
    assert_eq!(sip(&rr.uri).maddr(), Some("ss1.example.com"));
    assert!(!sip(&rr.uri).lr(), "a strict router");
}

/// Responses are written with their index rather than parsed back (the builder shifts
/// the spans of the fields it copies): for every request of the archive that parses,
/// each response reads the same as the parse of its bytes.
#[test]
fn responses_to_every_archived_request_read_as_their_parse() {
    use strowger_message::ResponseBuilder;
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/rfc4475");
    let mut built = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("dat") {
            continue;
        }
        let Ok(req) = Message::parse(std::fs::read(&path).unwrap()) else {
            continue;
        };
        if !req.is_request() {
            continue;
        }
        let responses = [
            ResponseBuilder::new(&req, 100).build(),
            ResponseBuilder::new(&req, 180).to_tag("t1").build(),
            ResponseBuilder::new(&req, 200)
                .reason("")
                .header("Contact", "<sip:bob@192.0.2.4>;expires=60")
                .header("X-Odd", "  spaced  ")
                .body("application/sdp", &b"v=0\r\n"[..])
                .build(),
            ResponseBuilder::new(&req, 401)
                .header("WWW-Authenticate", "Digest realm=\"x\", nonce=\"n\"")
                .build(),
        ];
        for r in responses {
            let Ok(r) = r else { continue };
            let p = Message::parse(r.to_bytes()).unwrap_or_else(|e| panic!("{path:?}: {e}"));
            let what = format!("{path:?} {:?}", r.status());
            assert_eq!(r.status(), p.status(), "{what}");
            assert_eq!(r.reason(), p.reason(), "{what}");
            assert_eq!(r.top_via_branch(), p.top_via_branch(), "{what}");
            assert_eq!(r.from_tag(), p.from_tag(), "{what}");
            assert_eq!(r.to_tag(), p.to_tag(), "{what}");
            assert_eq!(r.cseq(), p.cseq(), "{what}");
            assert_eq!(r.call_id(), p.call_id(), "{what}");
            assert_eq!(r.max_forwards(), p.max_forwards(), "{what}");
            assert_eq!(r.body(), p.body(), "{what}");
            assert!(
                r.headers().eq(p.headers()),
                "{what}: headers differ from the parse"
            );
            assert_eq!(r.top_via_branch(), req.top_via_branch(), "{what}");
            if r.status() != Some(100) && req.to().is_some() && req.to_tag().is_none() {
                assert!(r.to_tag().is_some(), "{what}: a To tag is added");
            }
            built += 1;
        }
    }
    assert!(built > 40, "only {built} responses were built");
}
