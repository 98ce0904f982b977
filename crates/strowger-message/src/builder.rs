//! Building new messages in canonical form: requests (RFC 3261 section 8.1.1) and
//! responses to a request (section 8.2.6).
//!
//! Builders write text and parse it back, so a built message is checked by the same
//! parser as one from the wire and has the same accessors.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::ParseError;
use crate::message::{Assembler, Message};
use crate::method::Method;
use crate::name::HeaderName;
use crate::scan;

/// 64 random bits as hex. Tags, Call-IDs and branches need global uniqueness and at
/// least 32 bits of randomness (sections 19.3, 8.1.1.4, 8.1.1.7): the per-process
/// random keys of `RandomState` mixed with a counter give that without a dependency.
fn random_hex() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut h = RandomState::new().build_hasher();
    h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    format!("{:016x}", h.finish())
}

/// A fresh tag for From or To (section 19.3).
pub fn new_tag() -> String {
    random_hex()
}

/// A fresh branch without the magic cookie; a branch is `z9hG4bK` followed by this.
pub fn new_branch_suffix() -> String {
    random_hex()
}

/// A fresh Call-ID, `random@host` (section 8.1.1.4).
pub fn new_call_id(host: &str) -> String {
    format!("{}{}@{}", random_hex(), random_hex(), host)
}

/// Reason phrases of section 21 and the extensions in use.
pub fn default_reason(code: u16) -> &'static str {
    match code {
        100 => "Trying",
        180 => "Ringing",
        181 => "Call Is Being Forwarded",
        182 => "Queued",
        183 => "Session Progress",
        200 => "OK",
        202 => "Accepted",
        300 => "Multiple Choices",
        301 => "Moved Permanently",
        302 => "Moved Temporarily",
        305 => "Use Proxy",
        380 => "Alternative Service",
        400 => "Bad Request",
        401 => "Unauthorized",
        402 => "Payment Required",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        406 => "Not Acceptable",
        407 => "Proxy Authentication Required",
        408 => "Request Timeout",
        410 => "Gone",
        413 => "Request Entity Too Large",
        414 => "Request-URI Too Long",
        415 => "Unsupported Media Type",
        416 => "Unsupported URI Scheme",
        420 => "Bad Extension",
        421 => "Extension Required",
        423 => "Interval Too Brief",
        480 => "Temporarily Unavailable",
        481 => "Call/Transaction Does Not Exist",
        482 => "Loop Detected",
        483 => "Too Many Hops",
        484 => "Address Incomplete",
        485 => "Ambiguous",
        486 => "Busy Here",
        487 => "Request Terminated",
        488 => "Not Acceptable Here",
        491 => "Request Pending",
        493 => "Undecipherable",
        500 => "Server Internal Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Server Time-out",
        505 => "Version Not Supported",
        513 => "Message Too Large",
        600 => "Busy Everywhere",
        603 => "Decline",
        604 => "Does Not Exist Anywhere",
        606 => "Not Acceptable",
        _ => match code / 100 {
            1 => "Session Progress",
            2 => "OK",
            3 => "Redirection",
            4 => "Request Failure",
            5 => "Server Failure",
            _ => "Global Failure",
        },
    }
}

/// Strip CR and LF so a value given by a caller cannot inject header lines.
/// Values almost never hold them: copied whole then.
pub(crate) fn clean(v: &str) -> String {
    if !v.bytes().any(|b| b == b'\r' || b == b'\n') {
        return v.to_string();
    }
    v.chars().filter(|c| *c != '\r' && *c != '\n').collect()
}

/// Builds a request (section 8.1.1). Header fields are written in the order given,
/// with Max-Forwards defaulting to 70 and Content-Length always last.
///
/// ```
/// use strowger_message::{RequestBuilder, Method};
/// let req = RequestBuilder::new(Method::Options, "sip:bob@example.com")
///     .via("UDP", "192.0.2.1:5060", "z9hG4bK74bf9")
///     .from("<sip:alice@example.com>", "9fxced76sl")
///     .to("<sip:bob@example.com>")
///     .call_id("3848276298220188511@192.0.2.1")
///     .cseq(1)
///     .build()
///     .unwrap();
/// assert_eq!(req.max_forwards(), Some(70));
/// assert_eq!(req.cseq().unwrap().method, Method::Options);
/// ```
#[derive(Debug, Clone)]
pub struct RequestBuilder {
    method: String,
    uri: String,
    headers: Vec<(String, String)>,
    cseq: Option<u32>,
    max_forwards: u8,
    body: Vec<u8>,
    content_type: Option<String>,
}

impl RequestBuilder {
    pub fn new(method: Method<'_>, uri: &str) -> Self {
        RequestBuilder {
            method: method.as_str().to_string(),
            uri: clean(uri),
            headers: Vec::new(),
            cseq: None,
            max_forwards: 70,
            body: Vec::new(),
            content_type: None,
        }
    }

    /// Any header field, written as given.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((clean(name), clean(value)));
        self
    }

    /// A Via with `branch` (give the full branch, magic cookie included).
    pub fn via(self, transport: &str, sent_by: &str, branch: &str) -> Self {
        let v = format!("SIP/2.0/{transport} {sent_by};branch={branch}");
        self.header("Via", &v)
    }

    pub fn from(self, addr: &str, tag: &str) -> Self {
        let v = format!("{addr};tag={tag}");
        self.header("From", &v)
    }

    pub fn to(self, addr: &str) -> Self {
        self.header("To", addr)
    }

    pub fn call_id(self, id: &str) -> Self {
        self.header("Call-ID", id)
    }

    pub fn cseq(mut self, seq: u32) -> Self {
        self.cseq = Some(seq);
        self
    }

    pub fn max_forwards(mut self, n: u8) -> Self {
        self.max_forwards = n;
        self
    }

    pub fn contact(self, addr: &str) -> Self {
        self.header("Contact", addr)
    }

    pub fn body(mut self, content_type: &str, body: impl Into<Vec<u8>>) -> Self {
        self.content_type = Some(clean(content_type));
        self.body = body.into();
        self
    }

    /// Write the request and parse it back.
    pub fn build(self) -> Result<Message, ParseError> {
        let mut out = Vec::with_capacity(256 + self.body.len());
        out.extend_from_slice(self.method.as_bytes());
        out.push(b' ');
        out.extend_from_slice(self.uri.as_bytes());
        out.extend_from_slice(b" SIP/2.0\r\n");
        let mut vias = self
            .headers
            .iter()
            .filter(|(n, _)| HeaderName::parse(n) == HeaderName::Via);
        let others = self
            .headers
            .iter()
            .filter(|(n, _)| HeaderName::parse(n) != HeaderName::Via);
        for (n, v) in vias.by_ref() {
            line(&mut out, n, v);
        }
        if !self
            .headers
            .iter()
            .any(|(n, _)| HeaderName::parse(n) == HeaderName::MaxForwards)
        {
            line(&mut out, "Max-Forwards", &self.max_forwards.to_string());
        }
        for (n, v) in others {
            line(&mut out, n, v);
        }
        if let Some(seq) = self.cseq {
            line(&mut out, "CSeq", &format!("{seq} {}", self.method));
        }
        finish(&mut out, self.content_type.as_deref(), &self.body);
        Message::parse(out)
    }
}

fn line(out: &mut Vec<u8>, name: &str, value: &str) {
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b": ");
    out.extend_from_slice(value.as_bytes());
    out.extend_from_slice(b"\r\n");
}

fn finish(out: &mut Vec<u8>, content_type: Option<&str>, body: &[u8]) {
    if let Some(ct) = content_type {
        line(out, "Content-Type", ct);
    }
    line(out, "Content-Length", &body.len().to_string());
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(body);
}

/// Builds a response to a request (section 8.2.6): Via (all values, in order), From,
/// To, Call-ID and CSeq are copied; a To tag is added when the request has none and the
/// response is not a 100; a 100 copies Timestamp (8.2.6.1).
///
/// ```
/// use strowger_message::{Message, ResponseBuilder};
/// let req = Message::parse(&b"BYE sip:bob@192.0.2.4 SIP/2.0\r\n\
///     Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKnashds7\r\n\
///     To: <sip:bob@example.com>;tag=a6c85cf\r\nFrom: <sip:alice@example.com>;tag=1928301774\r\n\
///     Call-ID: a84b4c76e66710\r\nCSeq: 231 BYE\r\nContent-Length: 0\r\n\r\n"[..]).unwrap();
/// let resp = ResponseBuilder::new(&req, 200).build().unwrap();
/// assert_eq!(resp.status(), Some(200));
/// assert_eq!(resp.to().unwrap().tag(), Some("a6c85cf"));
/// assert_eq!(resp.cseq(), req.cseq());
/// ```
#[derive(Debug, Clone)]
pub struct ResponseBuilder<'r> {
    req: &'r Message,
    code: u16,
    /// The default phrase is static: most responses keep it.
    reason: std::borrow::Cow<'static, str>,
    to_tag: Option<String>,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    content_type: Option<String>,
}

impl<'r> ResponseBuilder<'r> {
    pub fn new(req: &'r Message, code: u16) -> Self {
        ResponseBuilder {
            req,
            code,
            reason: std::borrow::Cow::Borrowed(default_reason(code)),
            to_tag: None,
            headers: Vec::new(),
            body: Vec::new(),
            content_type: None,
        }
    }

    pub fn reason(mut self, reason: &str) -> Self {
        self.reason = std::borrow::Cow::Owned(clean(reason));
        self
    }

    /// The To tag to add when the request has none (a fresh one is made otherwise).
    pub fn to_tag(mut self, tag: &str) -> Self {
        self.to_tag = Some(clean(tag));
        self
    }

    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((clean(name), clean(value)));
        self
    }

    pub fn body(mut self, content_type: &str, body: impl Into<Vec<u8>>) -> Self {
        self.content_type = Some(clean(content_type));
        self.body = body.into();
        self
    }

    pub fn build(self) -> Result<Message, ParseError> {
        let req = self.req;
        // Sized exactly: a server transaction keeps its last response for up to 32 s
        // (timer J), so every spare byte is held that long.
        let mut copied = [HeaderName::Via, HeaderName::From, HeaderName::To]
            .into_iter()
            .chain([HeaderName::CallId, HeaderName::CSeq])
            .chain((self.code == 100).then_some(HeaderName::Timestamp))
            .map(|n| {
                req.get(n)
                    .map(|v| n.as_str().len() + v.len() + 4)
                    .sum::<usize>()
            })
            .sum::<usize>();
        copied += self.to_tag.as_ref().map_or(21, |t| t.len() + 5);
        let added: usize = self
            .headers
            .iter()
            .map(|(n, v)| n.len() + v.len() + 4)
            .sum();
        let framing = self.content_type.as_ref().map_or(0, |t| t.len() + 16) + 40;
        let size = 14 + self.reason.len() + copied + added + framing + self.body.len();
        let mut out = Assembler::response(self.code, &self.reason, size)?;
        out.copy(req, HeaderName::Via, "Via", None);
        out.copy(req, HeaderName::From, "From", None);
        // The tag parsing found (no second parse of the To field).
        let has_tag = req.to_tag().is_some();
        if has_tag || self.code == 100 {
            out.copy(req, HeaderName::To, "To", None);
        } else {
            let tag = match self.to_tag {
                Some(t) if !t.is_empty() && scan::all(t.as_bytes(), scan::TOKEN) => t,
                Some(_) => {
                    return Err(ParseError::header("To", 0, "the To tag is not a token"));
                }
                None => new_tag(),
            };
            out.copy(req, HeaderName::To, "To", Some(&tag));
        }
        out.copy(req, HeaderName::CallId, "Call-ID", None);
        out.copy(req, HeaderName::CSeq, "CSeq", None);
        if self.code == 100 {
            out.copy(req, HeaderName::Timestamp, "Timestamp", None);
        }
        // What was copied from the request was checked when it was parsed; what the
        // caller added is checked here.
        for (n, v) in &self.headers {
            out.add(n, v)?;
        }
        out.finish(self.content_type.as_deref(), &self.body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_given_to_the_response_builder_are_checked() {
        let req = invite();
        let e = ResponseBuilder::new(&req, 200)
            .header("Contact", "<sip:bob@192.0.2.4")
            .build()
            .unwrap_err();
        assert!(e.to_string().contains("Contact"), "{e}");
        let e = ResponseBuilder::new(&req, 200)
            .body("not a type", "x")
            .build()
            .unwrap_err();
        assert!(e.to_string().contains("Content-Type"), "{e}");
        let ok = ResponseBuilder::new(&req, 401)
            .header("WWW-Authenticate", "Digest realm=\"x\", nonce=\"n\"")
            .build()
            .unwrap();
        let full = Message::parse(ok.to_bytes()).unwrap();
        assert_eq!(ok.top_via_branch(), full.top_via_branch());
        assert_eq!(ok.to_tag(), full.to_tag());
        assert!(ok.to_tag().is_some());
    }

    #[test]
    fn a_to_tag_added_beside_a_valueless_tag_reads_as_its_parse() {
        // Found by the proxy fuzz target: the request's To carries `tag` without a value
        // (so it has no tag), the response adds one; the index must say what a parse of
        // the response says.
        let req = Message::parse(
            &b"OPTIONS sip:b@example.com SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\n\
To: sip:b@example.com ;   tag\r\nFrom: <sip:a@example.com>;tag=1\r\nCall-ID: c\r\n\
CSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"[..],
        )
        .unwrap();
        let r = ResponseBuilder::new(&req, 400)
            .to_tag("af0c")
            .build()
            .unwrap();
        let p = Message::parse(r.to_bytes()).unwrap();
        assert_eq!(r.to_tag(), p.to_tag());
        assert!(r.headers().eq(p.headers()));
    }

    fn invite() -> Message {
        Message::parse(
            &b"INVITE sip:bob@biloxi.com SIP/2.0\r\n\
Via: SIP/2.0/UDP bigbox3.site3.atlanta.com;branch=z9hG4bK77ef4c2312983.1\r\n\
Via: SIP/2.0/UDP pc33.atlanta.com;branch=z9hG4bKnashds8;received=192.0.2.1\r\n\
Max-Forwards: 69\r\nTo: Bob <sip:bob@biloxi.com>\r\n\
From: Alice <sip:alice@atlanta.com>;tag=1928301774\r\nCall-ID: a84b4c76e66710\r\n\
CSeq: 314159 INVITE\r\nTimestamp: 54\r\nContact: <sip:alice@pc33.atlanta.com>\r\n\
Content-Length: 0\r\n\r\n"[..],
        )
        .unwrap()
    }

    #[test]
    fn response_copies_vias_in_order_and_adds_to_tag_rfc3261_8_2_6_2() {
        let req = invite();
        let r = ResponseBuilder::new(&req, 180)
            .to_tag("abc")
            .build()
            .unwrap();
        let vias: Vec<_> = r.vias().map(|v| v.branch().unwrap().to_string()).collect();
        assert_eq!(vias, ["z9hG4bK77ef4c2312983.1", "z9hG4bKnashds8"]);
        assert_eq!(r.to().unwrap().tag(), Some("abc"));
        assert_eq!(r.from().unwrap().tag(), Some("1928301774"));
        assert_eq!(r.call_id(), Some("a84b4c76e66710"));
        assert_eq!(r.cseq(), req.cseq());
        assert_eq!(r.reason(), Some("Ringing"));
        assert!(r.timestamp().is_none());
    }

    #[test]
    fn trying_has_no_to_tag_and_copies_timestamp_rfc3261_8_2_6_1() {
        let req = invite();
        let r = ResponseBuilder::new(&req, 100).build().unwrap();
        assert_eq!(r.to().unwrap().tag(), None);
        assert_eq!(r.timestamp().unwrap().value, "54");
    }

    #[test]
    fn fresh_tags_differ() {
        let a = new_tag();
        let b = new_tag();
        assert_ne!(a, b);
        assert_eq!(a.len(), 16);
    }

    #[test]
    fn request_builder_writes_canonical_request_rfc3261_8_1_1() {
        let r = RequestBuilder::new(Method::Invite, "sip:bob@biloxi.com")
            .via("UDP", "pc33.atlanta.com", "z9hG4bK776asdhds")
            .to("Bob <sip:bob@biloxi.com>")
            .from("Alice <sip:alice@atlanta.com>", "1928301774")
            .call_id("a84b4c76e66710@pc33.atlanta.com")
            .cseq(314159)
            .contact("<sip:alice@pc33.atlanta.com>")
            .body("application/sdp", &b"v=0\r\n"[..])
            .build()
            .unwrap();
        let text = String::from_utf8(r.as_bytes().to_vec()).unwrap();
        assert!(text.starts_with("INVITE sip:bob@biloxi.com SIP/2.0\r\nVia: SIP/2.0/UDP pc33.atlanta.com;branch=z9hG4bK776asdhds\r\nMax-Forwards: 70\r\n"));
        assert!(text.ends_with("CSeq: 314159 INVITE\r\nContent-Type: application/sdp\r\nContent-Length: 5\r\n\r\nv=0\r\n"));
        r.validate().unwrap();
    }

    #[test]
    fn header_injection_is_stripped() {
        let r = RequestBuilder::new(Method::Message, "sip:a@b")
            .via("UDP", "h", "z9hG4bK1")
            .from("<sip:a@b>", "1")
            .to("<sip:a@b>\r\nEvil: 1")
            .call_id("c")
            .cseq(1)
            .build();
        // CR/LF removed: "Evil: 1" cannot become a header line of its own.
        assert!(r.map(|m| m.header("Evil").is_none()).unwrap_or(true));
    }
}
