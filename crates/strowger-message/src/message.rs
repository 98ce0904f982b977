//! SIP messages: requests and responses (RFC 3261 section 7), parsed from bytes and
//! written back.
//!
//! A [`Message`] owns its bytes (a [`Bytes`], cheap to clone and to hand to a socket)
//! and an index of spans into them. Parsing validates the start line and every header
//! field Strowger has a type for; typed accessors then read from the spans without
//! copying. A parsed message is written back byte for byte by [`Message::as_bytes`].

use bytes::Bytes;

use crate::error::{FieldError, ParseError};
use crate::headers::{
    self, each_prefix, parse_route_prefix, Auth, CSeq, Contact, MediaType, NameAddr, PrefixList,
    RetryAfter, Timestamp, Via, Warning,
};
use crate::method::Method;
use crate::name::HeaderName;
use crate::scan::{self, ListSplit};
use crate::uri::Uri;

/// `v` as `Bytes` without its spare capacity. `Bytes::from` a vector whose length is
/// not its capacity keeps the whole allocation and adds one for its reference count;
/// built messages are often kept (a response for retransmission, 64*T1), so the
/// builders' generous initial capacities would be kept with them. Shrinking in place is
/// a cheap `realloc`.
pub(crate) fn exact_bytes(mut v: Vec<u8>) -> Bytes {
    v.shrink_to_fit();
    Bytes::from(v)
}

/// Bounds that keep a hostile peer from making the parser work or allocate without
/// limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest message, start line to end of body (default 65 535, the largest UDP
    /// datagram).
    pub max_message_size: usize,
    /// Most header fields (lines, folds joined) in one message (default 256).
    pub max_headers: usize,
    /// Longest header field, folds included (default 16 384 bytes).
    pub max_line_length: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_message_size: 65_535,
            max_headers: 256,
            max_line_length: 16_384,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
struct Span {
    start: u32,
    end: u32,
}

impl Span {
    #[inline]
    fn new(start: usize, end: usize) -> Span {
        Span {
            start: start as u32,
            end: end as u32,
        }
    }
    #[inline]
    fn range(self) -> std::ops::Range<usize> {
        self.start as usize..self.end as usize
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Entry {
    name: HeaderName,
    raw_name: Span,
    value: Span,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Start {
    Request { method: Span, uri: Span },
    Response { code: u16, reason: Span },
}

/// The first index of the fields every message reads, found while parsing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
struct Index {
    via: Option<u16>,
    from: Option<u16>,
    to: Option<u16>,
    call_id: Option<u16>,
    cseq: Option<u16>,
    max_forwards: Option<u16>,
    content_length: Option<u16>,
}

impl Index {
    /// The entry of a field the index keeps (its first occurrence), if it is one.
    fn slot(&mut self, name: HeaderName) -> Option<&mut Option<u16>> {
        match name {
            HeaderName::Via => Some(&mut self.via),
            HeaderName::From => Some(&mut self.from),
            HeaderName::To => Some(&mut self.to),
            HeaderName::CallId => Some(&mut self.call_id),
            HeaderName::CSeq => Some(&mut self.cseq),
            HeaderName::MaxForwards => Some(&mut self.max_forwards),
            HeaderName::ContentLength => Some(&mut self.content_length),
            _ => None,
        }
    }
}

/// Fields the transaction layer reads on every message, found while validating.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
struct Cache {
    branch: Option<Span>,
    from_tag: Option<Span>,
    to_tag: Option<Span>,
    cseq: Option<(u32, Span)>,
}

/// A SIP request or response.
#[derive(Clone)]
pub struct Message {
    cache: Cache,
    buf: Bytes,
    /// The message within `buf`: leading CRLFs and trailing octets are outside.
    whole: Span,
    start: Start,
    version: Span,
    headers: Vec<Entry>,
    body: Span,
    index: Index,
    content_length: Option<u32>,
}

impl PartialEq for Message {
    /// Two messages are equal when they are the same bytes.
    fn eq(&self, other: &Self) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl Eq for Message {}

impl std::fmt::Debug for Message {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Message")
            .field("start_line", &self.start_line())
            .field("headers", &self.headers.len())
            .field("body", &self.body().len())
            .finish()
    }
}

/// One header field as written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header<'a> {
    pub name: HeaderName,
    /// The name as written (possibly compact or oddly cased).
    pub raw_name: &'a str,
    /// The value as written, folds included, leading and trailing white space removed.
    pub value: &'a str,
}

impl Message {
    /// Parse one message from a datagram or a framed stream message, with the default
    /// [`Limits`]. Without Content-Length the body is the rest of the input (allowed on
    /// datagrams, section 18.3); with it, octets after the body are ignored.
    ///
    /// ```
    /// use strowger_message::{Message, Method};
    /// let msg = Message::parse(&b"OPTIONS sip:bob@example.com SIP/2.0\r\n\
    ///     Via: SIP/2.0/UDP pc33.example.com;branch=z9hG4bK776asdhds\r\n\
    ///     Max-Forwards: 70\r\nTo: <sip:bob@example.com>\r\n\
    ///     From: Alice <sip:alice@example.com>;tag=1928301774\r\n\
    ///     Call-ID: a84b4c76e66710\r\nCSeq: 63104 OPTIONS\r\n\
    ///     Content-Length: 0\r\n\r\n"[..]).unwrap();
    /// assert_eq!(msg.method(), Some(Method::Options));
    /// assert_eq!(msg.top_via().unwrap().branch(), Some("z9hG4bK776asdhds"));
    /// assert_eq!(msg.from().unwrap().tag(), Some("1928301774"));
    /// assert_eq!(msg.cseq().unwrap().seq, 63104);
    /// ```
    pub fn parse(input: impl Into<Bytes>) -> Result<Message, ParseError> {
        Self::parse_with(input, &Limits::default())
    }

    /// Parse with explicit limits.
    pub fn parse_with(input: impl Into<Bytes>, limits: &Limits) -> Result<Message, ParseError> {
        Self::parse_mode(input.into(), limits, false)
    }

    /// Parse text this process wrote from messages it parsed: a response built from a
    /// request, a request edited for forwarding. Start line, framing and index as
    /// [`Message::parse`], and the fields read on every message (top Via, From, To,
    /// CSeq) are parsed again, but the other header values are taken as they are: they
    /// were checked when the original was parsed, and the builders check the values
    /// they add ([`check_header`]). A proxy re-parsed each message it forwarded; this
    /// skips most of that. Debug builds check the whole message as well.
    pub(crate) fn parse_trusted(buf: Vec<u8>) -> Result<Message, ParseError> {
        Self::parse_trusted_like(buf, None)
    }

    /// [`Message::parse_trusted`] for an edit of `like`: a Request-URI or a first Via,
    /// From, To or CSeq field whose text is the same as `like`'s is not parsed again,
    /// its cached spans are moved over instead (a proxy edits every message it
    /// forwards, and most of those fields are copied as they were).
    pub(crate) fn parse_trusted_like(
        buf: Vec<u8>,
        like: Option<&Message>,
    ) -> Result<Message, ParseError> {
        let buf = exact_bytes(buf);
        #[cfg(debug_assertions)]
        let full = match Parser::new(&buf, &Limits::default(), false).run() {
            Ok(full) => full,
            Err(e) => panic!(
                "a builder wrote a message that does not parse: {e}\n{}",
                String::from_utf8_lossy(&buf)
            ),
        };
        let limits = Limits::default();
        let mut parser = Parser::new(&buf, &limits, true);
        parser.like = like;
        let parsed = parser.run()?;
        #[cfg(debug_assertions)]
        assert!(
            full.cache == parsed.cache && full.index == parsed.index,
            "moved spans differ from a parse: {:?} / {:?}\n{}",
            full.cache,
            parsed.cache,
            String::from_utf8_lossy(&buf)
        );
        Ok(Message::from_parsed(parsed, buf))
    }

    fn parse_mode(buf: Bytes, limits: &Limits, trusted: bool) -> Result<Message, ParseError> {
        let parsed = Parser::new(&buf, limits, trusted).run()?;
        Ok(Message::from_parsed(parsed, buf))
    }

    fn from_parsed(p: Parsed, buf: Bytes) -> Message {
        Message {
            cache: p.cache,
            whole: p.whole,
            start: p.start,
            version: p.version,
            headers: p.headers,
            body: p.body,
            index: p.index,
            content_length: p.content_length,
            buf,
        }
    }

    /// The text of a span of the start line or header section.
    ///
    /// Every header value read goes through here, a few dozen per message, and checking
    /// each slice as UTF-8 again was 7 % of the server's user-space instructions per
    /// REGISTER (callgrind: `core::str::from_utf8`, 24.9 M of 340.7 M for 5000). The
    /// octets before the body were checked once when parsing (or were written from
    /// `&str` by the [`Assembler`]), so a slice of them that starts and ends on character
    /// boundaries is UTF-8, and only the two ends need looking at.
    #[inline]
    #[allow(unsafe_code)]
    fn text(&self, s: Span) -> &str {
        let b: &[u8] = &self.buf;
        let r = s.range();
        let text_end = self.body.start as usize;
        let char_start = |i: usize| b.get(i).is_none_or(|&c| (c as i8) >= -0x40);
        if r.start <= r.end && r.end <= text_end && char_start(r.start) && char_start(r.end) {
            if let Some(slice) = b.get(r) {
                // The proof below, checked where debug assertions are on (tests, fuzzing):
                // `from_utf8_unchecked` checks nothing itself.
                debug_assert!(std::str::from_utf8(slice).is_ok());
                // SAFETY: `b[..text_end]` is UTF-8 (checked in `Parser::run`, or written
                // from `&str` by `Assembler`, and `buf` never changes afterwards), and
                // the slice lies inside it with both ends on character boundaries (the
                // octets there are not UTF-8 continuation octets, as
                // `str::is_char_boundary` tests; an end at `b.len()` is one), so it is
                // UTF-8 too.
                return unsafe { std::str::from_utf8_unchecked(slice) };
            }
        }
        std::str::from_utf8(b.get(s.range()).unwrap_or_default()).unwrap_or("")
    }

    /// The message as bytes, exactly as parsed (without leading CRLFs or trailing
    /// octets after the body).
    pub fn as_bytes(&self) -> &[u8] {
        self.buf.get(self.whole.range()).unwrap_or_default()
    }

    /// The message as a shared buffer (no copy).
    pub fn to_bytes(&self) -> Bytes {
        self.buf.slice(self.whole.range())
    }

    pub fn is_request(&self) -> bool {
        matches!(self.start, Start::Request { .. })
    }

    pub fn is_response(&self) -> bool {
        !self.is_request()
    }

    /// The request method; `None` for a response.
    pub fn method(&self) -> Option<Method<'_>> {
        match self.start {
            Start::Request { method, .. } => Some(Method::from_token(self.text(method))),
            Start::Response { .. } => None,
        }
    }

    /// The Request-URI; `None` for a response.
    pub fn request_uri(&self) -> Option<Uri<'_>> {
        match self.start {
            Start::Request { uri, .. } => Uri::parse(self.text(uri)).ok(),
            Start::Response { .. } => None,
        }
    }

    /// The Request-URI as written.
    pub fn request_uri_str(&self) -> Option<&str> {
        match self.start {
            Start::Request { uri, .. } => Some(self.text(uri)),
            Start::Response { .. } => None,
        }
    }

    /// The status code; `None` for a request.
    pub fn status(&self) -> Option<u16> {
        match self.start {
            Start::Response { code, .. } => Some(code),
            Start::Request { .. } => None,
        }
    }

    /// The reason phrase; `None` for a request.
    pub fn reason(&self) -> Option<&str> {
        match self.start {
            Start::Response { reason, .. } => Some(self.text(reason)),
            Start::Request { .. } => None,
        }
    }

    /// The SIP-Version as written (`SIP/2.0`).
    pub fn version(&self) -> &str {
        self.text(self.version)
    }

    /// The start line as written, without CRLF.
    pub fn start_line(&self) -> &str {
        let end = self
            .headers
            .first()
            .map_or(self.body.start, |h| h.raw_name.start);
        let s = self.text(Span::new(self.whole.start as usize, end as usize));
        s.lines().next().unwrap_or("")
    }

    /// The body (exactly Content-Length octets when it is present).
    pub fn body(&self) -> &[u8] {
        self.buf.get(self.body.range()).unwrap_or_default()
    }

    /// The body as a shared buffer.
    pub fn body_bytes(&self) -> Bytes {
        self.buf.slice(self.body.range())
    }

    /// Every header field in order.
    pub fn headers(&self) -> impl Iterator<Item = Header<'_>> + '_ {
        self.headers.iter().map(|e| self.header_at(e))
    }

    /// Each header line with its exact bytes, CRLF and folds included (for editing).
    pub(crate) fn raw_lines(&self) -> impl Iterator<Item = (Header<'_>, &[u8])> + '_ {
        self.headers.iter().map(|e| {
            let start = e.raw_name.start as usize;
            let from = e.value.end as usize;
            let end = self
                .buf
                .get(from..)
                .and_then(|b| memchr::memchr(b'\n', b))
                .map_or(self.body.start as usize, |p| from + p + 1);
            (
                self.header_at(e),
                self.buf.get(start..end).unwrap_or_default(),
            )
        })
    }

    #[inline]
    fn header_at(&self, e: &Entry) -> Header<'_> {
        Header {
            name: e.name,
            raw_name: self.text(e.raw_name),
            value: self.text(e.value),
        }
    }

    #[inline]
    fn value_at(&self, i: Option<u16>) -> Option<&str> {
        i.and_then(|i| self.headers.get(i as usize))
            .map(|e| self.text(e.value))
    }

    /// The values of every line of a known header field, in order.
    pub fn get(&self, name: HeaderName) -> impl Iterator<Item = &str> + '_ {
        self.headers
            .iter()
            .filter(move |e| e.name == name)
            .map(|e| self.text(e.value))
    }

    /// The first line of a header field given by name (any case, compact forms and
    /// unknown names included).
    pub fn header<'a>(&'a self, name: &'a str) -> Option<&'a str> {
        self.header_all(name).next()
    }

    /// Every line of a header field given by name, in order.
    pub fn header_all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        let kind = HeaderName::parse(name);
        self.headers
            .iter()
            .filter(move |e| {
                if kind == HeaderName::Other {
                    e.name == HeaderName::Other && self.text(e.raw_name).eq_ignore_ascii_case(name)
                } else {
                    e.name == kind
                }
            })
            .map(|e| self.text(e.value))
    }

    /// The list elements of a header field over all its lines, in order: several lines
    /// of the same name are one comma-separated list (section 7.3.1).
    pub fn values(&self, name: HeaderName) -> impl Iterator<Item = &str> + '_ {
        self.get(name).flat_map(|v| {
            ListSplit::new(v)
                .filter_map(Result::ok)
                .map(|(_, s)| scan::trim(s))
                .filter(|s| !s.is_empty())
        })
    }

    /// All values of a header field joined into one line with ", ".
    pub fn combined(&self, name: &str) -> Option<String> {
        let mut it = self.header_all(name).peekable();
        it.peek()?;
        Some(it.collect::<Vec<_>>().join(", "))
    }

    // -- typed accessors ------------------------------------------------------------

    /// The topmost Via value.
    pub fn top_via(&self) -> Option<Via<'_>> {
        let v = self.value_at(self.index.via)?;
        Via::parse_prefix(v, 0, true).ok().map(|(via, _)| via)
    }

    /// Every Via value, top first.
    pub fn vias(&self) -> impl Iterator<Item = Via<'_>> + '_ {
        self.get(HeaderName::Via)
            .flat_map(|v| PrefixList::new(v, Via::parse_prefix))
    }

    pub fn from(&self) -> Option<NameAddr<'_>> {
        NameAddr::parse(self.value_at(self.index.from)?).ok()
    }

    pub fn to(&self) -> Option<NameAddr<'_>> {
        NameAddr::parse(self.value_at(self.index.to)?).ok()
    }

    pub fn call_id(&self) -> Option<&str> {
        self.value_at(self.index.call_id)
    }

    pub fn cseq(&self) -> Option<CSeq<'_>> {
        let (seq, method) = self.cache.cseq?;
        Some(CSeq {
            seq,
            method: Method::from_token(self.text(method)),
        })
    }

    /// The branch of the topmost Via (read while parsing; no re-parse).
    pub fn top_via_branch(&self) -> Option<&str> {
        self.cache.branch.map(|s| self.text(s))
    }

    /// The From tag (read while parsing; no re-parse).
    pub fn from_tag(&self) -> Option<&str> {
        self.cache.from_tag.map(|s| self.text(s))
    }

    /// The To tag (read while parsing; no re-parse).
    pub fn to_tag(&self) -> Option<&str> {
        self.cache.to_tag.map(|s| self.text(s))
    }

    pub fn max_forwards(&self) -> Option<u8> {
        headers::parse_number(self.value_at(self.index.max_forwards)?, 255)
            .ok()
            .map(|v| v as u8)
    }

    /// The Content-Length header's value, if present.
    pub fn content_length(&self) -> Option<u32> {
        self.content_length
    }

    pub fn content_type(&self) -> Option<MediaType<'_>> {
        MediaType::parse(self.get(HeaderName::ContentType).next()?).ok()
    }

    pub fn contacts(&self) -> impl Iterator<Item = Contact<'_>> + '_ {
        self.get(HeaderName::Contact)
            .flat_map(|v| PrefixList::new(v, Contact::parse_prefix))
    }

    pub fn routes(&self) -> impl Iterator<Item = NameAddr<'_>> + '_ {
        self.get(HeaderName::Route)
            .flat_map(|v| PrefixList::new(v, parse_route_prefix))
    }

    pub fn record_routes(&self) -> impl Iterator<Item = NameAddr<'_>> + '_ {
        self.get(HeaderName::RecordRoute)
            .flat_map(|v| PrefixList::new(v, parse_route_prefix))
    }

    pub fn paths(&self) -> impl Iterator<Item = NameAddr<'_>> + '_ {
        self.get(HeaderName::Path)
            .flat_map(|v| PrefixList::new(v, parse_route_prefix))
    }

    /// The Expires header in seconds; a malformed value (an RFC 2543 date, say) is 3600,
    /// as RFC 3261 10.2.1.1 says to treat it.
    pub fn expires(&self) -> Option<u32> {
        let v = self.get(HeaderName::Expires).next()?;
        Some(headers::parse_delta_seconds(v).unwrap_or(3600))
    }

    pub fn min_expires(&self) -> Option<u32> {
        headers::parse_delta_seconds(self.get(HeaderName::MinExpires).next()?).ok()
    }

    pub fn retry_after(&self) -> Option<RetryAfter<'_>> {
        RetryAfter::parse(self.get(HeaderName::RetryAfter).next()?).ok()
    }

    pub fn timestamp(&self) -> Option<Timestamp<'_>> {
        Timestamp::parse(self.get(HeaderName::Timestamp).next()?).ok()
    }

    /// Authorization, Proxy-Authorization, WWW-Authenticate or Proxy-Authenticate
    /// values (pass the header name).
    pub fn auth(&self, name: HeaderName) -> impl Iterator<Item = Auth<'_>> + '_ {
        self.get(name).filter_map(|v| Auth::parse(v).ok())
    }

    /// Option tags or methods of a token-list field (Require, Supported, Allow, ...).
    pub fn tokens(&self, name: HeaderName) -> impl Iterator<Item = &str> + '_ {
        self.values(name)
    }

    pub fn warnings(&self) -> impl Iterator<Item = Warning<'_>> + '_ {
        self.values(HeaderName::Warning)
            .filter_map(|v| Warning::parse(v).ok())
    }

    // -- validation -----------------------------------------------------------------

    /// Check what every message must have beyond syntax, in the order a server checks
    /// it: SIP/2.0 (505 otherwise), the mandatory header fields of section 8.1.1 (To,
    /// From, CSeq, Call-ID, Via; Max-Forwards is not required so that RFC 2543
    /// requests, RFC 4475 3.4.1, are accepted), a single value where the grammar
    /// allows one, a CSeq method equal to the request method, and no headers in the
    /// Request-URI (section 19.1.1 table).
    pub fn validate(&self) -> Result<(), ParseError> {
        let v = self.version();
        if !v.eq_ignore_ascii_case("SIP/2.0") {
            return Err(ParseError::UnsupportedVersion { version: v.into() });
        }
        for (kind, idx) in [
            (HeaderName::To, self.index.to),
            (HeaderName::From, self.index.from),
            (HeaderName::CSeq, self.index.cseq),
            (HeaderName::CallId, self.index.call_id),
            (HeaderName::Via, self.index.via),
        ] {
            if idx.is_none() {
                return Err(ParseError::MissingHeader {
                    header: kind.as_str(),
                });
            }
        }
        // One pass over the fields, counting those that take a single value.
        const SINGLE: [HeaderName; 13] = [
            HeaderName::CallId,
            HeaderName::To,
            HeaderName::From,
            HeaderName::CSeq,
            HeaderName::MaxForwards,
            HeaderName::ContentLength,
            HeaderName::ContentType,
            HeaderName::Expires,
            HeaderName::MinExpires,
            HeaderName::Date,
            HeaderName::RetryAfter,
            HeaderName::Timestamp,
            HeaderName::MimeVersion,
        ];
        let mut counts = [0usize; SINGLE.len()];
        for e in &self.headers {
            if let Some(i) = SINGLE.iter().position(|&k| k == e.name) {
                counts[i] += 1;
            }
        }
        if let Some((kind, &count)) = SINGLE.iter().zip(&counts).find(|(_, &c)| c > 1) {
            return Err(ParseError::MultipleValues {
                header: kind.as_str(),
                count,
            });
        }
        if let (Some(m), Some(c)) = (self.method(), self.cseq()) {
            if m != c.method {
                return Err(ParseError::CSeqMethodMismatch {
                    method: m.as_str().into(),
                    cseq: c.method.as_str().into(),
                });
            }
        }
        // Headers start at a '?' (which a user part may also hold); without one there
        // is nothing to parse.
        let uri_has_query = self.request_uri_str().is_some_and(|u| u.contains('?'));
        if let Some(Uri::Sip(u)) = uri_has_query.then(|| self.request_uri()).flatten() {
            if u.headers.is_some() {
                return Err(ParseError::StartLine {
                    offset: self.whole.start as usize,
                    reason: "the Request-URI must not carry headers (RFC 3261 19.1.1)",
                });
            }
        }
        Ok(())
    }
}

// ------------------------------------------------------------------------------------

/// Writes a response and its index together, so that a builder's output need not be
/// parsed again: the header fields copied from a parsed message keep their spans
/// (shifted to where they are written), and the fields a builder adds are checked as
/// parsing would check them ([`check_header`]). Debug builds parse the result too and
/// panic when the two disagree.
pub(crate) struct Assembler {
    out: Vec<u8>,
    start: Start,
    version: Span,
    headers: Vec<Entry>,
    index: Index,
    cache: Cache,
    /// A field the index or the cache reads was added rather than copied: `finish`
    /// parses the message instead (builders do not do this on any hot path).
    reparse: bool,
}

impl Assembler {
    /// A response's status line.
    pub(crate) fn response(code: u16, reason: &str, capacity: usize) -> Result<Self, ParseError> {
        let bad = |offset, reason| ParseError::StartLine { offset, reason };
        if !(100..=699).contains(&code) {
            return Err(bad(8, "status code must be from 100 to 699"));
        }
        if let Some(p) = reason.bytes().position(|c| c < 0x20 && c != b'\t') {
            return Err(bad(12 + p, "control character in reason phrase"));
        }
        let mut out = Vec::with_capacity(capacity);
        out.extend_from_slice(b"SIP/2.0 ");
        out.extend_from_slice(&[
            b'0' + (code / 100) as u8,
            b'0' + (code / 10 % 10) as u8,
            b'0' + (code % 10) as u8,
            b' ',
        ]);
        out.extend_from_slice(reason.as_bytes());
        let end = out.len();
        out.extend_from_slice(b"\r\n");
        Ok(Assembler {
            out,
            start: Start::Response {
                code,
                reason: Span::new(12, end),
            },
            version: Span::new(0, 7),
            headers: Vec::with_capacity(12),
            index: Index::default(),
            cache: Cache::default(),
            reparse: false,
        })
    }

    /// Write one header line; returns the span of its value.
    fn line(&mut self, name: HeaderName, raw_name: &str, value: &str) -> Span {
        let n0 = self.out.len();
        self.out.extend_from_slice(raw_name.as_bytes());
        let n1 = self.out.len();
        self.out.extend_from_slice(b": ");
        let v0 = self.out.len();
        self.out.extend_from_slice(value.as_bytes());
        let v1 = self.out.len();
        self.out.extend_from_slice(b"\r\n");
        // Values are stored trimmed, as the parser stores them.
        let v0 = skip_sp(&self.out, v0, v1);
        let v1 = trim_end(&self.out, v0, v1);
        let value = Span::new(v0, v1);
        self.headers.push(Entry {
            name,
            raw_name: Span::new(n0, n1),
            value,
        });
        value
    }

    /// Copy every `name` field of `from`, in order, under `raw_name`. With `to_tag`,
    /// each is written with `;tag=` and the tag appended (a To without one).
    pub(crate) fn copy(
        &mut self,
        from: &Message,
        name: HeaderName,
        raw_name: &str,
        to_tag: Option<&str>,
    ) {
        for (i, e) in from.headers.iter().enumerate() {
            if e.name != name {
                continue;
            }
            let old = e.value;
            let value = match to_tag {
                Some(tag) => {
                    let mut v = String::with_capacity(old.range().len() + 5 + tag.len());
                    v.push_str(from.text(old));
                    v.push_str(";tag=");
                    v.push_str(tag);
                    std::borrow::Cow::Owned(v)
                }
                None => std::borrow::Cow::Borrowed(from.text(old)),
            };
            let at = self.headers.len() as u16;
            let new = self.line(name, raw_name, &value);
            let first_here = match self.index.slot(name) {
                Some(slot) if slot.is_none() => {
                    *slot = Some(at);
                    true
                }
                _ => false,
            };
            // The fields every message reads are cached from the first of each kind:
            // the first copied is `from`'s first, so its cached spans move along.
            let first_there = match name {
                HeaderName::Via => from.index.via,
                HeaderName::From => from.index.from,
                HeaderName::To => from.index.to,
                HeaderName::CSeq => from.index.cseq,
                _ => None,
            } == Some(i as u16);
            if !(first_here && first_there) {
                continue;
            }
            // A cached span lies within its field's value; one that does not (which
            // parsing never makes) is dropped rather than moved out of the text.
            let shift = |s: Span| {
                let inside = old.start <= s.start && s.end <= old.end;
                inside.then(|| Span {
                    start: s.start - old.start + new.start,
                    end: s.end - old.start + new.start,
                })
            };
            match name {
                HeaderName::Via => self.cache.branch = from.cache.branch.and_then(shift),
                HeaderName::From => self.cache.from_tag = from.cache.from_tag.and_then(shift),
                HeaderName::To => match to_tag {
                    // The tag is read from the written field as parsing reads it (a To
                    // with a `tag` parameter without a value keeps that one first); a
                    // field the tag made unreadable is left to `finish`'s parse, which
                    // reports it.
                    // Without "tag" anywhere in the original value, the tag written
                    // last is the one parsing finds: its span is the value's end, and
                    // the field need not be parsed again (once per response).
                    Some(tag)
                        if !from
                            .text(old)
                            .as_bytes()
                            .windows(3)
                            .any(|w| w.eq_ignore_ascii_case(b"tag"))
                            && new.end as usize >= tag.len() =>
                    {
                        self.cache.to_tag =
                            Some(Span::new(new.end as usize - tag.len(), new.end as usize));
                    }
                    Some(_) => match to_tag_span(&self.out, new) {
                        Ok(span) => self.cache.to_tag = span,
                        Err(()) => self.reparse = true,
                    },
                    None => self.cache.to_tag = from.cache.to_tag.and_then(shift),
                },
                HeaderName::CSeq => {
                    self.cache.cseq = from.cache.cseq.and_then(|(n, m)| Some((n, shift(m)?)));
                }
                _ => {}
            }
        }
    }

    /// Add a header field given by a caller: checked as parsing would check it.
    pub(crate) fn add(&mut self, raw_name: &str, value: &str) -> Result<(), ParseError> {
        if raw_name.is_empty() || !scan::all(raw_name.as_bytes(), scan::TOKEN) {
            return Err(ParseError::header(
                raw_name,
                self.out.len(),
                "header name is not a token",
            ));
        }
        check_header(raw_name, value)?;
        let name = HeaderName::parse(raw_name);
        let at = self.headers.len() as u16;
        self.line(name, raw_name, value);
        if let Some(slot) = self.index.slot(name) {
            if slot.is_none() {
                *slot = Some(at);
            }
            self.reparse = true;
        }
        Ok(())
    }

    /// Content-Type (when there is a body type), Content-Length, the blank line and
    /// the body.
    pub(crate) fn finish(
        mut self,
        content_type: Option<&str>,
        body: &[u8],
    ) -> Result<Message, ParseError> {
        if let Some(ct) = content_type {
            self.add("Content-Type", ct)?;
        }
        if self.index.content_length.is_some() {
            self.reparse = true;
        }
        let mut digits = [0u8; 20];
        let at = self.headers.len() as u16;
        self.line(
            HeaderName::ContentLength,
            "Content-Length",
            decimal(body.len(), &mut digits),
        );
        self.index.content_length.get_or_insert(at);
        self.out.extend_from_slice(b"\r\n");
        let body_start = self.out.len();
        self.out.extend_from_slice(body);
        let limits = Limits::default();
        if self.reparse {
            return Message::parse_trusted(self.out);
        }
        if self.out.len() > limits.max_message_size {
            return Err(ParseError::TooLarge {
                size: self.out.len(),
                limit: limits.max_message_size,
            });
        }
        if self.headers.len() > limits.max_headers {
            return Err(ParseError::TooManyHeaders {
                limit: limits.max_headers,
            });
        }
        if let Some(e) = self
            .headers
            .iter()
            .find(|e| (e.value.end - e.raw_name.start) as usize > limits.max_line_length)
        {
            return Err(ParseError::LineTooLong {
                offset: e.raw_name.start as usize,
                limit: limits.max_line_length,
            });
        }
        // `text` relies on this: everything before the body was written from `&str`.
        debug_assert!(std::str::from_utf8(&self.out[..body_start]).is_ok());
        let buf = exact_bytes(self.out);
        let msg = Message {
            cache: self.cache,
            whole: Span::new(0, buf.len()),
            start: self.start,
            version: self.version,
            headers: self.headers,
            body: Span::new(body_start, buf.len()),
            index: self.index,
            content_length: Some(body.len() as u32),
            buf,
        };
        #[cfg(debug_assertions)]
        msg.assert_parses_the_same();
        Ok(msg)
    }
}

/// Where parsing finds the tag of the To field written at `value` in `out`.
fn to_tag_span(out: &[u8], value: Span) -> Result<Option<Span>, ()> {
    let text = std::str::from_utf8(out.get(value.range()).unwrap_or_default()).map_err(drop)?;
    let a = single_name_addr(text).map_err(drop)?;
    Ok(a.tag().and_then(|t| {
        let at = (t.as_ptr() as usize).checked_sub(text.as_ptr() as usize)?;
        let start = value.start as usize + at;
        (at + t.len() <= text.len()).then(|| Span::new(start, start + t.len()))
    }))
}

/// `n` in decimal, written into `digits` without the formatting machinery.
fn decimal(mut n: usize, digits: &mut [u8; 20]) -> &str {
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    std::str::from_utf8(&digits[i..]).unwrap_or("0")
}

impl Message {
    /// Debug builds: an assembled message is what parsing its bytes gives.
    #[cfg(debug_assertions)]
    fn assert_parses_the_same(&self) {
        let p = match Parser::new(&self.buf, &Limits::default(), false).run() {
            Ok(p) => p,
            Err(e) => panic!(
                "a builder wrote a message that does not parse: {e}\n{}",
                String::from_utf8_lossy(&self.buf)
            ),
        };
        let same = p.cache == self.cache
            && p.whole == self.whole
            && p.start == self.start
            && p.version == self.version
            && p.headers == self.headers
            && p.body == self.body
            && p.index == self.index
            && p.content_length == self.content_length;
        assert!(
            same,
            "an assembled message's index differs from its parse:\n{}",
            String::from_utf8_lossy(&self.buf)
        );
    }
}

struct Parser<'b> {
    b: &'b [u8],
    limits: &'b Limits,
    /// See [`Message::parse_trusted`].
    trusted: bool,
    /// See [`Message::parse_trusted_like`] (trusted parses only).
    like: Option<&'b Message>,
}

struct Parsed {
    cache: Cache,
    whole: Span,
    start: Start,
    version: Span,
    headers: Vec<Entry>,
    body: Span,
    index: Index,
    content_length: Option<u32>,
}

#[inline]
fn hdr_err(name: &str, e: FieldError, base: usize) -> ParseError {
    ParseError::header(name, base + e.offset, e.reason)
}

impl<'b> Parser<'b> {
    fn new(b: &'b [u8], limits: &'b Limits, trusted: bool) -> Self {
        Parser {
            b,
            limits,
            trusted,
            like: None,
        }
    }

    fn run(self) -> Result<Parsed, ParseError> {
        let b = self.b;
        if b.len() > self.limits.max_message_size {
            return Err(ParseError::TooLarge {
                size: b.len(),
                limit: self.limits.max_message_size,
            });
        }
        let mut pos = 0;
        // Section 7.5: CRLFs before the start line are ignored.
        while matches!(b.get(pos), Some(b'\r' | b'\n')) {
            pos += 1;
        }
        if pos >= b.len() {
            return Err(ParseError::Empty);
        }
        let msg_start = pos;
        // Header section first: find the lines, join folds.
        let line_end = |from: usize| -> Option<(usize, usize)> {
            // (end of content, start of next line); bare LF tolerated as mature stacks
            // do.
            let nl = from + memchr::memchr(b'\n', b.get(from..)?)?;
            let end = if nl > from && b.get(nl - 1) == Some(&b'\r') {
                nl - 1
            } else {
                nl
            };
            Some((end, nl + 1))
        };
        let (sl_end, mut next) = line_end(pos).ok_or(ParseError::Unterminated)?;
        if sl_end - pos > self.limits.max_line_length {
            return Err(ParseError::LineTooLong {
                offset: pos,
                limit: self.limits.max_line_length,
            });
        }
        let mut headers: Vec<Entry> = Vec::with_capacity(16);
        let body_start;
        loop {
            let (end, after) = line_end(next).ok_or(ParseError::Unterminated)?;
            if end == next {
                body_start = after;
                break;
            }
            // A CR is only allowed as part of CRLF (RFC 3261 section 7.3.1). A bare CR would
            // stay in the value here while other stacks read it as a line end (a header
            // injection), and the canonical form would differ from the parsed one.
            if let Some(p) = memchr::memchr(b'\r', &b[next..end]) {
                return Err(ParseError::header(
                    &String::from_utf8_lossy(&b[next..end.min(next + 40)]),
                    next + p,
                    "bare CR in a header line (CR is only allowed before LF)",
                ));
            }
            let first = b[next];
            if first == b' ' || first == b'\t' {
                // A fold: the previous header's value runs on.
                let last = headers.last_mut().ok_or(ParseError::StartLine {
                    offset: next,
                    reason: "a continuation line comes before any header field",
                })?;
                let trimmed = trim_end(b, next, end);
                if trimmed > next {
                    if last.value.start == last.value.end {
                        last.value.start = skip_sp(b, next, end) as u32;
                    }
                    last.value.end = trimmed as u32;
                }
                if end - last.raw_name.start as usize > self.limits.max_line_length {
                    return Err(ParseError::LineTooLong {
                        offset: last.raw_name.start as usize,
                        limit: self.limits.max_line_length,
                    });
                }
                next = after;
                continue;
            }
            if end - next > self.limits.max_line_length {
                return Err(ParseError::LineTooLong {
                    offset: next,
                    limit: self.limits.max_line_length,
                });
            }
            if headers.len() >= self.limits.max_headers {
                return Err(ParseError::TooManyHeaders {
                    limit: self.limits.max_headers,
                });
            }
            let line = &b[next..end];
            let colon = memchr::memchr(b':', line).ok_or_else(|| {
                ParseError::header(
                    &String::from_utf8_lossy(line.get(..line.len().min(40)).unwrap_or_default()),
                    next,
                    "header line without ':'",
                )
            })?;
            // HCOLON = *( SP / HTAB ) ":" SWS
            let mut name_end = next + colon;
            while name_end > next && matches!(b[name_end - 1], b' ' | b'\t') {
                name_end -= 1;
            }
            let raw_name = &b[next..name_end];
            if !scan::all(raw_name, scan::TOKEN) {
                return Err(ParseError::header(
                    &String::from_utf8_lossy(raw_name),
                    next,
                    "header name is not a token",
                ));
            }
            let v0 = skip_sp(b, next + colon + 1, end);
            let v1 = trim_end(b, v0, end);
            headers.push(Entry {
                name: HeaderName::from_bytes(raw_name),
                raw_name: Span::new(next, name_end),
                value: Span::new(v0, v1),
            });
            next = after;
        }
        // Everything up to the body is text (section 7.3.1 TEXT-UTF8): checked once, then
        // every value is a slice of `head`.
        let head = match std::str::from_utf8(&b[..body_start]) {
            Ok(h) => h,
            Err(e) => {
                return Err(ParseError::NotUtf8 {
                    offset: e.valid_up_to(),
                })
            }
        };
        let (start, version) = self.start_line(msg_start, sl_end)?;

        // Typed validation of every known header.
        let mut index = Index::default();
        let mut cache = Cache::default();
        let mut content_length: Option<u32> = None;
        for (i, e) in headers.iter().enumerate() {
            let i = i as u16;
            let base = e.value.start as usize;
            let value = head.get(e.value.range()).unwrap_or("");
            let label = |e: &Entry| -> String {
                if e.name == HeaderName::Other {
                    String::from_utf8_lossy(&b[e.raw_name.range()]).into_owned()
                } else {
                    e.name.as_str().to_string()
                }
            };
            let mut unindexed = None;
            let slot = index.slot(e.name).unwrap_or(&mut unindexed);
            if slot.is_none() {
                *slot = Some(i);
            }
            if e.name == HeaderName::ContentLength {
                let n = headers::parse_number(value, u64::from(u32::MAX))
                    .map_err(|f| hdr_err("Content-Length", f, base))?
                    as u32;
                if content_length.is_some() {
                    // RFC 4475 3.3.9: the framing is ambiguous, whatever the values.
                    return Err(ParseError::header(
                        "Content-Length",
                        base,
                        "Content-Length appears more than once",
                    ));
                }
                content_length = Some(n);
                continue;
            }
            // Where a slice of `head` lies in it (None for text not taken from it).
            let span_of = |x: &str| {
                let start = (x.as_ptr() as usize).checked_sub(head.as_ptr() as usize)?;
                (start + x.len() <= head.len()).then(|| Span::new(start, start + x.len()))
            };
            let first = Some(i) == *slot;
            // The same text as the first field of this name in the message this one
            // was edited from: the same parse, its spans moved (`parse_trusted_like`).
            let same = self.like.filter(|_| first).and_then(|m| {
                let at = match e.name {
                    HeaderName::Via => m.index.via,
                    HeaderName::From => m.index.from,
                    HeaderName::To => m.index.to,
                    HeaderName::CSeq => m.index.cseq,
                    _ => None,
                }?;
                let old = m.headers.get(usize::from(at))?.value;
                (m.text(old) == value).then_some((m, old))
            });
            if let Some((m, old)) = same {
                let moved = |x: Span| {
                    (old.start <= x.start && x.end <= old.end).then(|| {
                        Span::new(
                            (x.start - old.start) as usize + base,
                            (x.end - old.start) as usize + base,
                        )
                    })
                };
                match e.name {
                    HeaderName::Via => cache.branch = m.cache.branch.and_then(moved),
                    HeaderName::From => cache.from_tag = m.cache.from_tag.and_then(moved),
                    HeaderName::To => cache.to_tag = m.cache.to_tag.and_then(moved),
                    _ => cache.cseq = m.cache.cseq.and_then(|(n, x)| Some((n, moved(x)?))),
                }
                continue;
            }
            match e.name {
                HeaderName::Via if first => {
                    let (via, end) =
                        Via::parse_prefix(value, 0, true).map_err(|f| hdr_err("Via", f, base))?;
                    cache.branch = via.branch().and_then(span_of);
                    if end < value.len() && !self.trusted {
                        each_prefix(&value[end + 1..], false, Via::parse_prefix)
                            .map_err(|f| hdr_err("Via", f.shift(end + 1), base))?;
                    }
                }
                HeaderName::From | HeaderName::To if first => {
                    let a = single_name_addr(value).map_err(|f| hdr_err(&label(e), f, base))?;
                    let tag = a.tag().and_then(span_of);
                    if e.name == HeaderName::From {
                        cache.from_tag = tag;
                    } else {
                        cache.to_tag = tag;
                    }
                }
                HeaderName::CSeq if first => {
                    let (seq, method) =
                        headers::cseq_parts(value).map_err(|f| hdr_err("CSeq", f, base))?;
                    cache.cseq = span_of(method).map(|m| (seq, m));
                }
                _ if self.trusted => {}
                _ => check_value(e.name, value).map_err(|f| hdr_err(&label(e), f, base))?,
            }
        }

        let available = b.len() - body_start;
        let body_end = match content_length {
            Some(n) => {
                let n = n as usize;
                if n > available {
                    return Err(ParseError::BodyTruncated {
                        declared: n,
                        available,
                    });
                }
                body_start + n
            }
            None => b.len(),
        };
        if body_end - msg_start > self.limits.max_message_size {
            return Err(ParseError::TooLarge {
                size: body_end - msg_start,
                limit: self.limits.max_message_size,
            });
        }
        Ok(Parsed {
            cache,
            whole: Span::new(msg_start, body_end),
            start,
            version,
            headers,
            body: Span::new(body_start, body_end),
            index,
            content_length,
        })
    }

    fn start_line(&self, s: usize, e: usize) -> Result<(Start, Span), ParseError> {
        let b = self.b;
        let line = &b[s..e];
        let bad = |off: usize, reason| ParseError::StartLine {
            offset: s + off,
            reason,
        };
        if line.len() >= 4 && line[..4].eq_ignore_ascii_case(b"SIP/") {
            // Status-Line = SIP-Version SP Status-Code SP Reason-Phrase
            let sp =
                memchr::memchr(b' ', line).ok_or(bad(0, "status line without a status code"))?;
            let ver = &line[..sp];
            check_version(ver).map_err(|r| bad(0, r))?;
            let code = line.get(sp + 1..sp + 4).unwrap_or_default();
            if code.len() != 3 || !code.iter().all(u8::is_ascii_digit) {
                return Err(bad(sp + 1, "status code must be three digits"));
            }
            let code_n = u16::from(code[0] - b'0') * 100
                + u16::from(code[1] - b'0') * 10
                + u16::from(code[2] - b'0');
            if !(100..=699).contains(&code_n) {
                return Err(bad(sp + 1, "status code must be from 100 to 699"));
            }
            let reason = match line.get(sp + 4) {
                // The SP before an empty reason is sometimes left out; tolerated, as
                // mature stacks do.
                None => Span::new(e, e),
                Some(b' ') => Span::new(s + sp + 5, e),
                Some(_) => return Err(bad(sp + 4, "status code must be three digits")),
            };
            if let Some(p) = b[reason.range()]
                .iter()
                .position(|&c| c < 0x20 && c != b'\t')
            {
                return Err(bad(
                    reason.start as usize - s + p,
                    "control character in reason phrase",
                ));
            }
            return Ok((
                Start::Response {
                    code: code_n,
                    reason,
                },
                Span::new(s, s + sp),
            ));
        }
        // Request-Line = Method SP Request-URI SP SIP-Version: exactly one SP each
        // (RFC 4475 3.1.2.8-3.1.2.10 are rejected).
        let sp1 = memchr::memchr(b' ', line).ok_or(bad(0, "request line without a Request-URI"))?;
        let method = &line[..sp1];
        if !scan::all(method, scan::TOKEN) {
            return Err(bad(0, "method is not a token"));
        }
        let rest = &line[sp1 + 1..];
        let sp2 =
            memchr::memchr(b' ', rest).ok_or(bad(sp1 + 1, "request line without a SIP-Version"))?;
        let uri = &rest[..sp2];
        let ver = &rest[sp2 + 1..];
        if uri.is_empty() {
            return Err(bad(
                sp1 + 1,
                "Request-URI is missing (or separated by more than one SP)",
            ));
        }
        let uri_off = sp1 + 1;
        let uri_str =
            std::str::from_utf8(uri).map_err(|_| bad(uri_off, "Request-URI is not text"))?;
        // An edit that kept the Request-URI: it parsed when the original did.
        if self.like.and_then(Message::request_uri_str) != Some(uri_str) {
            Uri::parse(uri_str).map_err(|f| bad(uri_off + f.offset, f.reason))?;
        }
        let ver_off = uri_off + sp2 + 1;
        check_version(ver).map_err(|r| bad(ver_off, r))?;
        Ok((
            Start::Request {
                method: Span::new(s, s + sp1),
                uri: Span::new(s + uri_off, s + uri_off + uri.len()),
            },
            Span::new(s + ver_off, e),
        ))
    }
}

/// SIP-Version = "SIP" "/" 1*DIGIT "." 1*DIGIT. Versions other than 2.0 parse; the
/// element answers 505 ([`Message::validate`]).
fn check_version(v: &[u8]) -> Result<(), &'static str> {
    let ok = v.len() >= 7 && v[..4].eq_ignore_ascii_case(b"SIP/") && {
        let num = &v[4..];
        match memchr::memchr(b'.', num) {
            Some(d) => {
                d > 0
                    && d + 1 < num.len()
                    && num[..d].iter().all(u8::is_ascii_digit)
                    && num[d + 1..].iter().all(u8::is_ascii_digit)
            }
            None => false,
        }
    };
    if ok {
        Ok(())
    } else {
        Err("invalid SIP-Version (expected SIP/2.0, separated by exactly one SP)")
    }
}

#[inline]
fn skip_sp(b: &[u8], mut i: usize, end: usize) -> usize {
    while i < end && matches!(b[i], b' ' | b'\t') {
        i += 1;
    }
    i
}

#[inline]
fn trim_end(b: &[u8], start: usize, mut end: usize) -> usize {
    while end > start && matches!(b[end - 1], b' ' | b'\t') {
        end -= 1;
    }
    end
}

/// Check a header value that a builder is about to write, as parsing would (the
/// offset in the error is within the value).
pub(crate) fn check_header(name: &str, value: &str) -> Result<(), ParseError> {
    let n = HeaderName::parse(name);
    let checked = match n {
        HeaderName::From | HeaderName::To => single_name_addr(value).map(drop),
        HeaderName::CSeq => headers::cseq_parts(value).map(drop),
        HeaderName::ContentLength => headers::parse_number(value, u64::from(u32::MAX)).map(drop),
        _ => check_value(n, value),
    };
    checked.map_err(|f| hdr_err(name, f, 0))
}

/// Validate a header value by its type. Unknown headers are kept as they are.
fn check_value(name: HeaderName, v: &str) -> Result<(), FieldError> {
    use HeaderName as H;
    match name {
        H::Via => each_prefix(v, false, Via::parse_prefix).map(drop),
        H::From | H::To => single_name_addr(v).map(drop),
        H::Contact => {
            let mut star = false;
            let n = each_prefix(v, false, |s, i, l| {
                let (c, end) = Contact::parse_prefix(s, i, l)?;
                star |= c == Contact::Star;
                Ok(((), end))
            })?;
            if star && n > 1 {
                return Err(FieldError::new(0, "Contact '*' must be the only value"));
            }
            Ok(())
        }
        H::Route | H::RecordRoute | H::Path | H::ServiceRoute => {
            each_prefix(v, false, headers::parse_route_prefix).map(drop)
        }
        H::CallId => headers::parse_call_id(v).map(drop),
        H::CSeq => CSeq::parse(v).map(drop),
        H::MaxForwards => headers::parse_number(v, 255).map(drop),
        H::ContentType => MediaType::parse(v).map(drop),
        H::Accept => each(v, true, |x| MediaType::parse(x).map(drop)),
        // Expires is not checked: a malformed value counts as 3600 (RFC 3261 10.2.1.1).
        H::MinExpires => headers::parse_delta_seconds(v).map(drop),
        H::Authorization | H::ProxyAuthorization | H::WwwAuthenticate | H::ProxyAuthenticate => {
            Auth::parse(v).map(drop)
        }
        H::Require | H::ProxyRequire | H::Unsupported => {
            each_prefix(v, false, headers::parse_token_prefix).map(drop)
        }
        H::Supported | H::Allow | H::AllowEvents => {
            each_prefix(v, true, headers::parse_token_prefix).map(drop)
        }
        H::RetryAfter => RetryAfter::parse(v).map(drop),
        H::Timestamp => Timestamp::parse(v).map(drop),
        H::Date => headers::parse_date(v).map(drop),
        H::Warning => each(v, false, |x| Warning::parse(x).map(drop)),
        _ => Ok(()),
    }
}

/// Run `f` on each element of a comma-separated list split by [`ListSplit`], with
/// offsets shifted to the whole value (for the rarer list fields).
fn each(
    v: &str,
    may_be_empty: bool,
    mut f: impl FnMut(&str) -> Result<(), FieldError>,
) -> Result<(), FieldError> {
    if v.is_empty() {
        return if may_be_empty {
            Ok(())
        } else {
            Err(FieldError::new(0, "value is empty"))
        };
    }
    for item in ListSplit::new(v) {
        let (off, s) = item.map_err(|o| FieldError::new(o, "unterminated quoted string or '<'"))?;
        if scan::trim(s).is_empty() {
            return Err(FieldError::new(
                off,
                "empty element in a comma-separated list",
            ));
        }
        f(s).map_err(|e| e.shift(off))?;
    }
    Ok(())
}

/// From and To take one address (RFC 4475 3.3.8 has two).
fn single_name_addr(v: &str) -> Result<NameAddr<'_>, FieldError> {
    let (a, end) = NameAddr::parse_prefix(v, 0, true)?;
    match v.as_bytes().get(end) {
        None => Ok(a),
        Some(b',') => Err(FieldError::new(end, "only one address is allowed")),
        Some(_) => Err(FieldError::new(end, "unexpected text after the address")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Header values are read without a second UTF-8 check (`Message::text`): values
    /// that are, start or end with multi-octet characters read back whole, beside a
    /// body that is not UTF-8 at all (section 7.3.1: TEXT-UTF8 values; section 7.4: any
    /// body).
    #[test]
    fn utf8_values_read_back_whole_beside_a_binary_body() {
        let mut m = "MESSAGE sip:b@example.com SIP/2.0\r\n\
            Via: SIP/2.0/UDP h;branch=z9hG4bK1\r\n\
            From: \"Zoë 山田\" <sip:a@example.com>;tag=t1\r\n\
            To: <sip:b@example.com>\r\nCall-ID: c1\r\nCSeq: 1 MESSAGE\r\n\
            Subject: 日本\r\nX-Last: €\r\nContent-Length: 4\r\n\r\n"
            .as_bytes()
            .to_vec();
        m.extend_from_slice(&[0x80, 0xbf, 0xff, 0x80]);
        let msg = Message::parse(m).unwrap();
        assert_eq!(msg.get(HeaderName::Subject).next(), Some("日本"));
        assert_eq!(msg.header("X-Last"), Some("€"));
        let from = msg.from().unwrap();
        assert_eq!(from.display_name().as_deref(), Some("Zoë 山田"));
        assert_eq!(from.tag(), Some("t1"));
        assert_eq!(msg.body(), &[0x80, 0xbf, 0xff, 0x80]);
        let built = crate::ResponseBuilder::new(&msg, 200).build().unwrap();
        assert_eq!(
            built.from().unwrap().display_name().as_deref(),
            Some("Zoë 山田")
        );
    }

    /// Fuzz regression (fuzz/regressions/roundtrip-bare-cr.bin): a CR not followed by LF
    /// inside a header line was kept in the value (`e:\rn` gave "\rn", `Call-ID: a\r\r\n`
    /// gave "a\r") while the typed parsers and the canonical writer read it as white
    /// space. A bare CR is rejected (RFC 3261 section 7.3.1: CR only in CRLF).
    #[test]
    fn bare_cr_in_a_header_line_is_rejected() {
        for m in [
            &b"S s:/ SIP/2.0\ne:\rn\n\n"[..],
            b"OPTIONS sip:a@b SIP/2.0\r\nCall-ID: abc\r\r\nCSeq: 1 OPTIONS\r\n\r\n",
            b"OPTIONS sip:a@b SIP/2.0\r\nX: a\rVia: SIP/2.0/UDP evil\r\n\r\n",
            b"OPTIONS sip:a@b SIP/2.0\r\nX: a\r\n b\rc\r\n\r\n",
        ] {
            assert!(
                matches!(Message::parse(m), Err(ParseError::Header { .. })),
                "{:?}",
                String::from_utf8_lossy(m)
            );
        }
        // CRLF and bare LF line ends, and folds, are still fine; a CR in the body is.
        let m = Message::parse(&b"OPTIONS sip:a@b SIP/2.0\r\nX: a\r\n b\nY: c\r\n\r\n\rbody"[..])
            .unwrap();
        assert_eq!(m.header("X"), Some("a\r\n b"));
        assert_eq!(m.header("Y"), Some("c"));
        assert_eq!(m.body(), b"\rbody");
    }
}
