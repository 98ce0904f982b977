//! The checks a UAS makes on every request before acting on it (RFC 3261 section 8.2),
//! as pure functions: each takes the request and returns the response to send, or
//! `None` when the request passes.
//!
//! [`check_request`] runs them in the order of section 8.2: method (8.2.1, 405),
//! Request-URI scheme (8.2.2.1, 416), merged requests (8.2.2.2, 482), extensions
//! (8.2.2.3, 420), content (8.2.3, 415). Requests that lack a mandatory header field
//! never get that far: the transaction layer reports them and [`bad_request`] answers
//! (400, or 505 for another SIP version).
//!
//! ```
//! use strowger_core::ua::uas::{check_method, Capabilities};
//! use strowger_message::{HeaderName, Message};
//! let req = Message::parse(&b"SUBSCRIBE sip:bob@example.com SIP/2.0\r\n\
//!     Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1\r\nTo: <sip:bob@example.com>\r\n\
//!     From: <sip:alice@example.com>;tag=1\r\nCall-ID: c\r\nCSeq: 1 SUBSCRIBE\r\n\
//!     Content-Length: 0\r\n\r\n"[..])?;
//! let resp = check_method(&req, &Capabilities::default()).unwrap();
//! assert_eq!(resp.status(), Some(405));
//! assert!(resp.tokens(HeaderName::Allow).any(|m| m == "INVITE"));
//! # Ok::<(), strowger_message::ParseError>(())
//! ```

use std::collections::HashMap;
use std::time::{Duration, Instant};

use strowger_message::{HeaderName, Message, Method, ParseError, ResponseBuilder};

use crate::transaction::TransactionKey;

/// What a UAS supports: the inputs of the checks, and what it advertises in Allow,
/// Supported, Accept, Accept-Encoding and Accept-Language (sections 8.2, 11.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Capabilities {
    /// Methods (Allow).
    pub allow: Vec<String>,
    /// Request-URI schemes.
    pub schemes: Vec<String>,
    /// Option tags (Supported).
    pub supported: Vec<String>,
    /// Media types of bodies (Accept).
    pub accept: Vec<String>,
    /// Content codings (Accept-Encoding).
    pub accept_encoding: Vec<String>,
    /// Languages (Accept-Language).
    pub accept_language: Vec<String>,
}

impl Default for Capabilities {
    fn default() -> Self {
        let v = |s: &[&str]| s.iter().map(|x| x.to_string()).collect();
        Capabilities {
            allow: v(&["INVITE", "ACK", "CANCEL", "BYE", "OPTIONS", "MESSAGE"]),
            schemes: v(&["sip", "sips"]),
            supported: Vec::new(),
            accept: v(&["application/sdp", "text/plain"]),
            accept_encoding: v(&["identity"]),
            accept_language: v(&["en"]),
        }
    }
}

impl Capabilities {
    fn allows(&self, method: &str) -> bool {
        self.allow.iter().any(|m| m == method)
    }

    /// Allow, Accept, Accept-Encoding, Accept-Language and Supported header fields,
    /// as an OPTIONS response carries them (section 11.2).
    pub fn advertise(&self) -> Vec<(&'static str, String)> {
        let mut out = vec![
            ("Allow", self.allow.join(", ")),
            ("Accept", self.accept.join(", ")),
            ("Accept-Encoding", self.accept_encoding.join(", ")),
            ("Accept-Language", self.accept_language.join(", ")),
        ];
        if !self.supported.is_empty() {
            out.push(("Supported", self.supported.join(", ")));
        }
        out
    }
}

fn respond(req: &Message, code: u16, headers: &[(&str, String)]) -> Option<Message> {
    let mut b = ResponseBuilder::new(req, code);
    for (n, v) in headers {
        b = b.header(n, v);
    }
    match b.build() {
        Ok(m) => Some(m),
        Err(e) => {
            tracing::debug!(error = %e, code, "could not build a response");
            None
        }
    }
}

/// Section 8.2.1: a method the UAS does not support gets 405 with an Allow header
/// field. An ACK is never answered.
pub fn check_method(req: &Message, caps: &Capabilities) -> Option<Message> {
    let method = req.method()?;
    if method == Method::Ack || caps.allows(method.as_str()) {
        return None;
    }
    respond(req, 405, &[("Allow", caps.allow.join(", "))])
}

/// Section 8.2.2.1: a Request-URI scheme the UAS does not understand gets 416.
pub fn check_uri_scheme(req: &Message, caps: &Capabilities) -> Option<Message> {
    if req.method() == Some(Method::Ack) {
        return None;
    }
    let scheme = req.request_uri()?.scheme().to_ascii_lowercase();
    if caps.schemes.iter().any(|s| s.eq_ignore_ascii_case(&scheme)) {
        return None;
    }
    respond(req, 416, &[])
}

/// Section 8.2.2.3: option tags in Require the UAS does not support get 420 with an
/// Unsupported header field listing them. Not for ACK and CANCEL.
pub fn check_require(req: &Message, caps: &Capabilities) -> Option<Message> {
    if matches!(req.method()?, Method::Ack | Method::Cancel) {
        return None;
    }
    let unknown: Vec<&str> = req
        .tokens(HeaderName::Require)
        .filter(|t| !caps.supported.iter().any(|s| s.eq_ignore_ascii_case(t)))
        .collect();
    if unknown.is_empty() {
        return None;
    }
    respond(req, 420, &[("Unsupported", unknown.join(", "))])
}

/// Section 8.2.3: a body of a type, coding or language the UAS does not understand
/// gets 415 with Accept, Accept-Encoding and Accept-Language.
pub fn check_content(req: &Message, caps: &Capabilities) -> Option<Message> {
    if matches!(req.method()?, Method::Ack | Method::Cancel) || req.body().is_empty() {
        return None;
    }
    let type_ok = match req.content_type() {
        Some(ct) => caps.accept.iter().any(|a| {
            let (k, s) = a.split_once('/').unwrap_or((a, "*"));
            (k == "*" || k.eq_ignore_ascii_case(ct.kind))
                && (s == "*" || s.eq_ignore_ascii_case(ct.subtype))
        }),
        // Section 7.4.1: a body must have a Content-Type.
        None => false,
    };
    let encoding_ok = req.tokens(HeaderName::ContentEncoding).all(|e| {
        caps.accept_encoding
            .iter()
            .any(|a| a.eq_ignore_ascii_case(e))
    });
    let language_ok = req.tokens(HeaderName::ContentLanguage).all(|l| {
        caps.accept_language.iter().any(|a| {
            let primary = l.split('-').next().unwrap_or(l);
            a.eq_ignore_ascii_case(l) || a.eq_ignore_ascii_case(primary)
        })
    });
    if type_ok && encoding_ok && language_ok {
        return None;
    }
    respond(
        req,
        415,
        &[
            ("Accept", caps.accept.join(", ")),
            ("Accept-Encoding", caps.accept_encoding.join(", ")),
            ("Accept-Language", caps.accept_language.join(", ")),
        ],
    )
}

/// Section 8.2 and 8.1.1: the response to a request that failed
/// [`Message::validate`]: 400 with a reason naming the problem (505 for another SIP
/// version). `None` for an ACK, or when no response can be built (no Via).
pub fn bad_request(req: &Message, error: &ParseError) -> Option<Message> {
    if req.method() == Some(Method::Ack) || req.top_via().is_none() {
        return None;
    }
    let code = error.status_code();
    let reason = error.to_string();
    ResponseBuilder::new(req, code).reason(&reason).build().ok()
}

/// Section 8.2.2.2: remembers requests without a To tag for as long as their
/// transactions may live, to spot the same request arriving over two paths.
#[derive(Debug)]
pub struct MergedRequests {
    ttl: Duration,
    seen: HashMap<MergeKey, (TransactionKey, Instant)>,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct MergeKey {
    from_tag: String,
    call_id: String,
    seq: u32,
    method: String,
}

impl MergedRequests {
    /// Remember requests for `ttl` (64*T1 covers a transaction's life).
    pub fn new(ttl: Duration) -> Self {
        MergedRequests {
            ttl,
            seen: HashMap::new(),
        }
    }

    /// Section 8.2.2.2: a request with no To tag whose From tag, Call-ID and CSeq match
    /// a request that arrived through another transaction is merged: 482. Otherwise it
    /// is remembered and `None` returned.
    pub fn check(&mut self, now: Instant, req: &Message, key: &TransactionKey) -> Option<Message> {
        if req.to_tag().is_some() || matches!(req.method()?, Method::Ack | Method::Cancel) {
            return None;
        }
        self.seen.retain(|_, (_, at)| now < *at);
        let cseq = req.cseq()?;
        let mk = MergeKey {
            from_tag: req.from_tag().unwrap_or_default().to_string(),
            call_id: req.call_id()?.to_string(),
            seq: cseq.seq,
            method: cseq.method.as_str().to_string(),
        };
        match self.seen.get(&mk) {
            Some((earlier, _)) if earlier != key => respond(req, 482, &[]),
            Some(_) => None,
            None => {
                self.seen.insert(mk, (key.clone(), now + self.ttl));
                None
            }
        }
    }
}

/// Every check of section 8.2, in the RFC's order; the first response wins.
pub fn check_request(
    now: Instant,
    req: &Message,
    key: &TransactionKey,
    caps: &Capabilities,
    merged: &mut MergedRequests,
) -> Option<Message> {
    check_method(req, caps)
        .or_else(|| check_uri_scheme(req, caps))
        .or_else(|| merged.check(now, req, key))
        .or_else(|| check_require(req, caps))
        .or_else(|| check_content(req, caps))
}
