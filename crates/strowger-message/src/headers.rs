//! Typed header field values (RFC 3261 section 20, grammar of section 25.1).
//!
//! Each type borrows from the message and is parsed from one value (one element of a
//! comma-separated list). Parsing accepts LWS, including line folds, wherever the
//! grammar allows it. Offsets in errors are relative to the value given.

use std::borrow::Cow;

use crate::error::FieldError;
use crate::method::Method;
use crate::params::{scan_header_params, Params};
use crate::scan::{self, is, skip_quoted, skip_ws, trim, TOKEN, WORD};
use crate::uri::{self, Host, Uri};

#[inline]
fn err<T>(offset: usize, reason: &'static str) -> Result<T, FieldError> {
    Err(FieldError::new(offset, reason))
}

/// Scan a token at `i`; returns its end.
#[inline]
fn token_end(b: &[u8], mut i: usize) -> usize {
    while b.get(i).is_some_and(|&c| is(c, TOKEN)) {
        i += 1;
    }
    i
}

/// The elements of a comma-separated header value, trimmed: commas inside quoted
/// strings and `<...>` do not split (section 7.3.1). Stops at an unterminated quote.
pub fn split_list(v: &str) -> impl Iterator<Item = &str> {
    scan::ListSplit::new(v)
        .map_while(Result::ok)
        .map(|(_, s)| scan::trim(s))
}

/// Params after an element: from `i` (white space allowed) to the end of `s`.
fn trailing_params(s: &str, i: usize) -> Result<Params<'_>, FieldError> {
    let (p, end) = params_until(s, i, false, &mut |_, _| Ok(()))?;
    if end != s.len() {
        return err(end, "unexpected text after the value");
    }
    Ok(p)
}

/// Params after an element of a list: from `i` (white space allowed) to the end of `s`
/// or a `,`; `check` sees each parameter. Returns the params and where they stop.
fn params_until<'a>(
    s: &'a str,
    i: usize,
    list: bool,
    check: &mut dyn FnMut(&'a str, Option<&'a str>) -> Result<(), &'static str>,
) -> Result<(Params<'a>, usize), FieldError> {
    let b = s.as_bytes();
    let i = skip_ws(b, i);
    match b.get(i) {
        None => Ok((Params::EMPTY_HEADER, i)),
        Some(b',') if list => Ok((Params::EMPTY_HEADER, i)),
        Some(b';') => scan_header_params(s, i, list, check),
        Some(_) => err(i, "unexpected text after the value"),
    }
}

/// Parse a whole value with a prefix parser: nothing but white space may follow.
#[inline]
fn whole<'a, T>(
    s: &'a str,
    f: impl FnOnce(&'a str, usize, bool) -> Result<(T, usize), FieldError>,
) -> Result<T, FieldError> {
    let (v, end) = f(s, 0, false)?;
    if end != s.len() {
        return err(end, "unexpected text after the value");
    }
    Ok(v)
}

/// Run a prefix parser over a comma-separated list. `may_be_empty`: the whole value may
/// be empty (Supported, Allow, Accept); single empty elements are never allowed.
pub(crate) fn each_prefix<'a, T>(
    s: &'a str,
    may_be_empty: bool,
    mut f: impl FnMut(&'a str, usize, bool) -> Result<(T, usize), FieldError>,
) -> Result<usize, FieldError> {
    let b = s.as_bytes();
    let mut i = skip_ws(b, 0);
    if i >= b.len() {
        return if may_be_empty {
            Ok(0)
        } else {
            err(0, "value is empty")
        };
    }
    let mut n = 0;
    loop {
        i = skip_ws(b, i);
        if i >= b.len() || b[i] == b',' {
            return err(i, "empty element in a comma-separated list");
        }
        let (_, end) = f(s, i, true)?;
        n += 1;
        match b.get(end) {
            None => return Ok(n),
            Some(b',') => i = end + 1,
            Some(_) => return err(end, "unexpected text after a list element"),
        }
    }
}

/// A prefix parser: parse one list element at an index, return it and where it ends.
pub(crate) type PrefixParser<'a, T> = fn(&'a str, usize, bool) -> Result<(T, usize), FieldError>;

/// Iterate the elements of a validated list with a prefix parser.
pub(crate) struct PrefixList<'a, T> {
    s: &'a str,
    i: usize,
    f: PrefixParser<'a, T>,
}

impl<'a, T> PrefixList<'a, T> {
    pub(crate) fn new(s: &'a str, f: PrefixParser<'a, T>) -> Self {
        PrefixList { s, i: 0, f }
    }
}

impl<'a, T> Iterator for PrefixList<'a, T> {
    type Item = T;
    fn next(&mut self) -> Option<T> {
        let b = self.s.as_bytes();
        let i = skip_ws(b, self.i);
        if i >= b.len() {
            return None;
        }
        match (self.f)(self.s, i, true) {
            Ok((v, end)) => {
                self.i = if b.get(end) == Some(&b',') {
                    end + 1
                } else {
                    b.len()
                };
                Some(v)
            }
            Err(_) => {
                self.i = b.len();
                None
            }
        }
    }
}

// ---------------------------------------------------------------------------------
// Via (20.42)

/// One Via value: `SIP/2.0/UDP host:port;branch=...`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Via<'a> {
    pub protocol: &'a str,
    pub version: &'a str,
    pub transport: &'a str,
    pub host: Host<'a>,
    pub port: Option<u16>,
    pub params: Params<'a>,
}

impl<'a> Via<'a> {
    pub fn parse(s: &'a str) -> Result<Self, FieldError> {
        whole(s, Via::parse_prefix)
    }

    /// Parse one Via value at `s[i..]`; with `list`, stop at a `,` that starts the
    /// next value. Returns the value and where it ends.
    pub fn parse_prefix(s: &'a str, i: usize, list: bool) -> Result<(Self, usize), FieldError> {
        let b = s.as_bytes();
        let mut i = skip_ws(b, i);
        let p0 = i;
        i = token_end(b, i);
        let protocol = &s[p0..i];
        if protocol.is_empty() {
            return err(p0, "sent-protocol is missing");
        }
        i = skip_ws(b, i);
        if b.get(i) != Some(&b'/') {
            return err(i, "expected '/' in sent-protocol");
        }
        i = skip_ws(b, i + 1);
        let v0 = i;
        i = token_end(b, i);
        let version = &s[v0..i];
        if version.is_empty() {
            return err(v0, "protocol version is missing");
        }
        i = skip_ws(b, i);
        if b.get(i) != Some(&b'/') {
            return err(i, "expected '/' before the transport");
        }
        i = skip_ws(b, i + 1);
        let t0 = i;
        i = token_end(b, i);
        let transport = &s[t0..i];
        if transport.is_empty() {
            return err(t0, "transport is missing");
        }
        let h0 = skip_ws(b, i);
        if h0 == i {
            return err(i, "expected white space before sent-by");
        }
        let (host, mut i) = uri::parse_host(s, h0)?;
        let mut port = None;
        let j = skip_ws(b, i);
        if b.get(j) == Some(&b':') {
            let d0 = skip_ws(b, j + 1);
            let mut d = d0;
            while b.get(d).is_some_and(u8::is_ascii_digit) {
                d += 1;
            }
            port = Some(
                scan::parse_u32(&b[d0..d])
                    .filter(|p| *p <= 65535 && d - d0 <= 5)
                    .ok_or(FieldError::new(d0, "invalid port in sent-by"))? as u16,
            );
            i = d;
        }
        let (params, end) = params_until(s, i, list, &mut check_via_param)?;
        Ok((
            Via {
                protocol,
                version,
                transport,
                host,
                port,
                params,
            },
            end,
        ))
    }

    pub fn branch(&self) -> Option<&'a str> {
        self.params.value("branch")
    }

    pub fn received(&self) -> Option<&'a str> {
        self.params.value("received")
    }

    /// `None`: no rport; `Some(None)`: rport without a value (a request, RFC 3581);
    /// `Some(Some(p))`: filled in.
    pub fn rport(&self) -> Option<Option<u16>> {
        self.params
            .get("rport")
            .map(|p| p.value.and_then(|v| v.parse().ok()))
    }

    pub fn maddr(&self) -> Option<&'a str> {
        self.params.value("maddr")
    }

    pub fn ttl(&self) -> Option<u8> {
        self.params.value("ttl").and_then(|v| v.parse().ok())
    }

    /// True when the branch starts with the magic cookie of RFC 3261 (section 8.1.1.7).
    pub fn has_magic_cookie(&self) -> bool {
        self.branch().is_some_and(|b| b.starts_with("z9hG4bK"))
    }
}

/// The Via parameters with a grammar of their own (section 20.42, RFC 3581).
fn check_via_param(name: &str, value: Option<&str>) -> Result<(), &'static str> {
    match name.len() {
        6 if name.eq_ignore_ascii_case("branch") && !value.is_some_and(scan::is_token) => {
            return Err("branch must be a token");
        }
        3 if name.eq_ignore_ascii_case("ttl") => {
            match value.and_then(|v| scan::parse_u32(v.as_bytes())) {
                Some(t) if t <= 255 => {}
                _ => return Err("ttl must be a number from 0 to 255"),
            }
        }
        8 if name.eq_ignore_ascii_case("received") => {
            let v = value.ok_or("received without a value")?;
            // RFC 5118 4.5: tolerate brackets around an IPv6 received.
            let v = v
                .strip_prefix('[')
                .and_then(|x| x.strip_suffix(']'))
                .unwrap_or(v);
            let ok = match uri::parse_host(v, 0) {
                Ok((Host::V4(_), end)) => end == v.len(),
                _ => uri::parse_ipv6(v).is_some(),
            };
            if !ok {
                return Err("received is not an IP address");
            }
        }
        5 if name.eq_ignore_ascii_case("rport") => {
            if let Some(v) = value {
                if scan::parse_u32(v.as_bytes()).is_none_or(|x| x > 65535) {
                    return Err("rport is not a port number");
                }
            }
        }
        5 if name.eq_ignore_ascii_case("maddr") => {
            let v = value.ok_or("maddr without a value")?;
            if uri::parse_host(v, 0).map(|(_, e)| e) != Ok(v.len()) {
                return Err("maddr is not a host");
            }
        }
        _ => {}
    }
    Ok(())
}

// ---------------------------------------------------------------------------------
// name-addr / addr-spec (From, To, Contact, Route, Record-Route, ...)

/// A `name-addr` or `addr-spec` with the header parameters that follow (20.10).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NameAddr<'a> {
    /// The display name as written: a quoted string with its quotes, or tokens.
    pub display: Option<&'a str>,
    pub uri: Uri<'a>,
    /// Header parameters (after the `>`, or after the URI of an addr-spec).
    pub params: Params<'a>,
    /// Whether the URI was enclosed in `<` and `>`.
    pub bracketed: bool,
}

impl<'a> NameAddr<'a> {
    pub fn parse(s: &'a str) -> Result<Self, FieldError> {
        whole(s, NameAddr::parse_prefix)
    }

    /// Parse one name-addr or addr-spec with its parameters at `s[i..]`; with `list`,
    /// stop at a `,` that starts the next value.
    pub fn parse_prefix(s: &'a str, i: usize, list: bool) -> Result<(Self, usize), FieldError> {
        Self::parse_checked(s, i, list, &mut |_, _| Ok(()))
    }

    fn parse_checked(
        s: &'a str,
        i: usize,
        list: bool,
        check: &mut dyn FnMut(&'a str, Option<&'a str>) -> Result<(), &'static str>,
    ) -> Result<(Self, usize), FieldError> {
        let b = s.as_bytes();
        let start = skip_ws(b, i);
        let mut i = start;
        let mut display = None;
        let lt = if b.get(i) == Some(&b'"') {
            let end =
                skip_quoted(b, i).ok_or(FieldError::new(i, "unterminated quoted display name"))?;
            display = Some(&s[i..end]);
            i = skip_ws(b, end);
            if b.get(i) != Some(&b'<') {
                return err(i, "expected '<' after the display name");
            }
            Some(i)
        } else {
            // display-name = *(token LWS) before '<'; anything else is an addr-spec,
            // whose scheme ends at a ':' that is not a token character.
            let mut j = i;
            let mut last = i;
            while let Some(&c) = b.get(j) {
                if is(c, TOKEN) {
                    j += 1;
                    last = j;
                } else if scan::is_ws(c) {
                    j += 1;
                } else {
                    break;
                }
            }
            match b.get(j) {
                Some(b'<') => {
                    if last > i {
                        display = Some(&s[i..last]);
                    }
                    Some(j)
                }
                Some(b':') if display.is_none() && last == j => None,
                Some(b'"') | Some(b',') | Some(b'\\') | Some(b'@') | Some(b';') if last > i => {
                    return err(j, "invalid character in display name (quote it)")
                }
                _ => None,
            }
        };
        match lt {
            Some(lt) => {
                let mut gt = lt + 1;
                while b.get(gt).is_some_and(|&c| c != b'>') {
                    gt += 1;
                }
                if gt >= b.len() {
                    return err(lt, "'<' without '>'");
                }
                let uri = Uri::parse(&s[lt + 1..gt]).map_err(|e| e.shift(lt + 1))?;
                let (params, end) = params_until(s, gt + 1, list, check)?;
                Ok((
                    NameAddr {
                        display,
                        uri,
                        params,
                        bracketed: true,
                    },
                    end,
                ))
            }
            None => {
                // addr-spec: section 20.10, a URI with ',', '?' or ';' must be
                // bracketed, so the URI ends at the first ';', ',' or white space and
                // all parameters after it are header parameters.
                let mut j = i;
                while let Some(&c) = b.get(j) {
                    if c == b';' || c == b',' || scan::is_ws(c) {
                        break;
                    }
                    if c == b'?' {
                        return err(j, "a URI with '?' must be enclosed in '<' and '>'");
                    }
                    j += 1;
                }
                let text = &s[i..j];
                if text.is_empty() {
                    return err(i, "address is missing");
                }
                let uri = Uri::parse(text).map_err(|e| e.shift(i))?;
                let (params, end) = params_until(s, j, list, check)?;
                Ok((
                    NameAddr {
                        display: None,
                        uri,
                        params,
                        bracketed: false,
                    },
                    end,
                ))
            }
        }
    }

    pub fn tag(&self) -> Option<&'a str> {
        self.params.value("tag")
    }

    /// The display name without quotes and with quoted-pairs resolved.
    pub fn display_name(&self) -> Option<Cow<'a, str>> {
        self.display.map(unquote)
    }
}

/// Strip the quotes of a quoted-string and resolve its quoted-pairs; other text is
/// returned as is.
pub fn unquote(s: &str) -> Cow<'_, str> {
    let Some(inner) = s.strip_prefix('"').and_then(|x| x.strip_suffix('"')) else {
        return Cow::Borrowed(s);
    };
    if !inner.contains('\\') {
        return Cow::Borrowed(inner);
    }
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            if let Some(n) = chars.next() {
                out.push(n);
            }
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// A Contact value: `*` or an address (20.10).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Contact<'a> {
    Star,
    Addr(NameAddr<'a>),
}

impl<'a> Contact<'a> {
    pub fn parse(s: &'a str) -> Result<Self, FieldError> {
        whole(s, Contact::parse_prefix)
    }

    /// Parse one Contact value at `s[i..]`; with `list`, stop at the `,` before the next.
    pub fn parse_prefix(s: &'a str, i: usize, list: bool) -> Result<(Self, usize), FieldError> {
        let b = s.as_bytes();
        let j = skip_ws(b, i);
        if b.get(j) == Some(&b'*') {
            let end = skip_ws(b, j + 1);
            if end == b.len() || (list && b.get(end) == Some(&b',')) {
                return Ok((Contact::Star, end));
            }
        }
        let (a, end) = NameAddr::parse_checked(s, i, list, &mut |name, value| {
            match name.len() {
                1 if name.eq_ignore_ascii_case("q") && !value.is_some_and(valid_qvalue) => {
                    return Err("q must be a qvalue from 0 to 1");
                }
                // A malformed expires is not an error: RFC 3261 10.2.1.1 has it treated
                // as 3600 (see `Contact::expires`).
                _ => {}
            }
            Ok(())
        })?;
        Ok((Contact::Addr(a), end))
    }

    /// The `expires` parameter, saturated at 2^32-1 (RFC 4475 3.1.2.4 lets an overlarge
    /// value be clamped); a malformed value is 3600 (RFC 3261 10.2.1.1).
    pub fn expires(&self) -> Option<u32> {
        match self {
            Contact::Star => None,
            Contact::Addr(a) => a.params.get("expires").map(|p| {
                p.value
                    .and_then(|v| scan::parse_u64_saturating(v.as_bytes()))
                    .map_or(3600, |v| v.min(u64::from(u32::MAX)) as u32)
            }),
        }
    }

    /// The `q` parameter in thousandths (q=0.5 is 500).
    pub fn q(&self) -> Option<u16> {
        match self {
            Contact::Star => None,
            Contact::Addr(a) => a.params.value("q").map(qvalue_thousandths),
        }
    }
}

/// qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] )
fn valid_qvalue(v: &str) -> bool {
    let (int, frac) = v.split_once('.').unwrap_or((v, ""));
    frac.len() <= 3
        && frac.bytes().all(|c| c.is_ascii_digit())
        && (int == "0" || (int == "1" && frac.bytes().all(|c| c == b'0')))
}

fn qvalue_thousandths(v: &str) -> u16 {
    let (int, frac) = v.split_once('.').unwrap_or((v, ""));
    let mut n: u16 = if int == "1" { 1000 } else { 0 };
    let mut scale = 100;
    for c in frac.bytes().take(3) {
        n += u16::from(c.wrapping_sub(b'0').min(9)) * scale;
        scale /= 10;
    }
    n.min(1000)
}

/// Route, Record-Route, Path, Service-Route: always a name-addr (20.30, 20.34).
pub fn parse_route(s: &str) -> Result<NameAddr<'_>, FieldError> {
    whole(s, parse_route_prefix)
}

/// One route value at `s[i..]` (see [`parse_route`]).
pub fn parse_route_prefix(
    s: &str,
    i: usize,
    list: bool,
) -> Result<(NameAddr<'_>, usize), FieldError> {
    let (a, end) = NameAddr::parse_prefix(s, i, list)?;
    if !a.bracketed {
        return err(i, "the route URI must be enclosed in '<' and '>'");
    }
    Ok((a, end))
}

// ---------------------------------------------------------------------------------
// Scalars

/// CSeq (20.16): a sequence number below 2^32 and a method.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CSeq<'a> {
    pub seq: u32,
    pub method: Method<'a>,
}

impl<'a> CSeq<'a> {
    pub fn parse(s: &'a str) -> Result<Self, FieldError> {
        let (seq, method) = cseq_parts(s)?;
        Ok(CSeq {
            seq,
            method: Method::from_token(method),
        })
    }
}

/// The number and the method token of a CSeq value.
pub(crate) fn cseq_parts(s: &str) -> Result<(u32, &str), FieldError> {
    {
        let b = s.as_bytes();
        let d0 = skip_ws(b, 0);
        let mut i = d0;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        if i == d0 {
            return err(d0, "sequence number is missing");
        }
        let seq = scan::parse_u32(&b[d0..i])
            .ok_or(FieldError::new(d0, "sequence number is larger than 2^32-1"))?;
        let m0 = skip_ws(b, i);
        if m0 == i {
            return err(i, "expected white space before the method");
        }
        let m1 = token_end(b, m0);
        if m1 == m0 {
            return err(m0, "method is missing");
        }
        if skip_ws(b, m1) != b.len() {
            return err(m1, "unexpected text after the method");
        }
        Ok((seq, &s[m0..m1]))
    }
}

/// Call-ID (20.8): `word [ "@" word ]`.
pub fn parse_call_id(s: &str) -> Result<&str, FieldError> {
    let t = trim(s);
    let ok = match t.split_once('@') {
        Some((a, b)) => scan::all(a.as_bytes(), WORD) && scan::all(b.as_bytes(), WORD),
        None => scan::all(t.as_bytes(), WORD),
    };
    if !ok {
        return err(0, "Call-ID must be word [ \"@\" word ]");
    }
    Ok(t)
}

/// A decimal number that must fit in `max` (Max-Forwards, Content-Length, ...).
pub fn parse_number(s: &str, max: u64) -> Result<u64, FieldError> {
    let t = trim(s);
    match scan::parse_u64_saturating(t.as_bytes()) {
        Some(v) if v <= max => Ok(v),
        Some(_) => err(0, "number is too large"),
        None => err(0, "expected a decimal number"),
    }
}

/// delta-seconds (Expires, Min-Expires): saturated at 2^32-1, as RFC 4475 3.1.2.4
/// allows for an overlarge value.
pub fn parse_delta_seconds(s: &str) -> Result<u32, FieldError> {
    let t = trim(s);
    scan::parse_u64_saturating(t.as_bytes())
        .map(|v| v.min(u64::from(u32::MAX)) as u32)
        .ok_or(FieldError::new(0, "expected a number of seconds"))
}

/// A media type (Content-Type, 20.15; an element of Accept, 20.1).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MediaType<'a> {
    pub kind: &'a str,
    pub subtype: &'a str,
    pub params: Params<'a>,
}

impl<'a> MediaType<'a> {
    pub fn parse(s: &'a str) -> Result<Self, FieldError> {
        let b = s.as_bytes();
        let t0 = skip_ws(b, 0);
        let t1 = token_end(b, t0);
        if t1 == t0 {
            return err(t0, "media type is missing");
        }
        let i = skip_ws(b, t1);
        if b.get(i) != Some(&b'/') {
            return err(i, "expected '/' in the media type");
        }
        let s0 = skip_ws(b, i + 1);
        let s1 = token_end(b, s0);
        if s1 == s0 {
            return err(s0, "media subtype is missing");
        }
        Ok(MediaType {
            kind: &s[t0..t1],
            subtype: &s[s0..s1],
            params: trailing_params(s, s1)?,
        })
    }

    /// Case-insensitive match of `type/subtype`, with `*` wildcards on this side.
    pub fn matches(&self, kind: &str, subtype: &str) -> bool {
        (self.kind == "*" || self.kind.eq_ignore_ascii_case(kind))
            && (self.subtype == "*" || self.subtype.eq_ignore_ascii_case(subtype))
    }
}

/// An element of a token list (Require, Supported, Allow, ...); `None` for the empty
/// value Supported and Allow may carry.
pub fn parse_token(s: &str) -> Result<&str, FieldError> {
    let t = trim(s);
    if !scan::is_token(t) {
        return err(0, "expected a token");
    }
    Ok(t)
}

/// One token of a token list at `s[i..]` (Require, Supported, Allow, ...).
pub fn parse_token_prefix(s: &str, i: usize, _list: bool) -> Result<(&str, usize), FieldError> {
    let b = s.as_bytes();
    let t0 = skip_ws(b, i);
    let t1 = token_end(b, t0);
    if t1 == t0 {
        return err(t0, "expected a token");
    }
    Ok((&s[t0..t1], skip_ws(b, t1)))
}

/// Retry-After (20.33): `delta-seconds [ comment ] *( SEMI retry-param )`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetryAfter<'a> {
    pub seconds: u32,
    pub comment: Option<&'a str>,
    pub params: Params<'a>,
}

impl<'a> RetryAfter<'a> {
    pub fn parse(s: &'a str) -> Result<Self, FieldError> {
        let b = s.as_bytes();
        let d0 = skip_ws(b, 0);
        let mut i = d0;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        let v = scan::parse_u64_saturating(&b[d0..i])
            .ok_or(FieldError::new(d0, "expected a number of seconds"))?;
        if v > u64::from(u32::MAX) {
            return err(d0, "delta-seconds is larger than 2^32-1");
        }
        let mut j = skip_ws(b, i);
        let mut comment = None;
        if b.get(j) == Some(&b'(') {
            let end = skip_comment(b, j).ok_or(FieldError::new(j, "unterminated comment"))?;
            comment = Some(&s[j..end]);
            j = end;
        }
        Ok(RetryAfter {
            seconds: v as u32,
            comment,
            params: trailing_params(s, j)?,
        })
    }
}

fn skip_comment(b: &[u8], mut i: usize) -> Option<usize> {
    let mut depth = 0usize;
    loop {
        match *b.get(i)? {
            b'(' => depth += 1,
            b')' => {
                depth -= 1;
                if depth == 0 {
                    return Some(i + 1);
                }
            }
            b'\\' => i += 1,
            _ => {}
        }
        i += 1;
    }
}

/// Timestamp (20.38): `1*DIGIT [ "." *DIGIT ] [ LWS delay ]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timestamp<'a> {
    pub value: &'a str,
    pub delay: Option<&'a str>,
}

impl<'a> Timestamp<'a> {
    pub fn parse(s: &'a str) -> Result<Self, FieldError> {
        let t = trim(s);
        let (value, delay) = match t.find([' ', '\t', '\r']) {
            Some(p) => (&t[..p], Some(trim(&t[p..]))),
            None => (t, None),
        };
        let number = |x: &str| {
            let (a, f) = x.split_once('.').unwrap_or((x, ""));
            !a.is_empty()
                && a.bytes().all(|c| c.is_ascii_digit())
                && f.bytes().all(|c| c.is_ascii_digit())
        };
        let delay_ok = delay.is_none_or(|d| {
            let (a, f) = d.split_once('.').unwrap_or((d, ""));
            a.bytes().all(|c| c.is_ascii_digit())
                && f.bytes().all(|c| c.is_ascii_digit())
                && !(a.is_empty() && f.is_empty())
        });
        if !number(value) || !delay_ok {
            return err(0, "Timestamp must be digits [ . digits ] [ delay ]");
        }
        Ok(Timestamp { value, delay })
    }
}

/// Date (20.17): an RFC 1123 date, and the time zone must be GMT (RFC 4475 3.1.2.12).
pub fn parse_date(s: &str) -> Result<&str, FieldError> {
    let t = trim(s);
    let parts: Vec<&str> = t.split(' ').collect();
    const DAYS: [&str; 7] = ["Mon,", "Tue,", "Wed,", "Thu,", "Fri,", "Sat,", "Sun,"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let digits = |x: &str, n: usize| x.len() == n && x.bytes().all(|c| c.is_ascii_digit());
    let ok = match parts.as_slice() {
        [wd, d, m, y, time, zone] => {
            DAYS.contains(wd)
                && digits(d, 2)
                && MONTHS.contains(m)
                && digits(y, 4)
                && time.len() == 8
                && time.split(':').all(|x| digits(x, 2))
                && time.split(':').count() == 3
                && *zone == "GMT"
        }
        _ => false,
    };
    if !ok {
        return err(0, "Date must be an RFC 1123 date in GMT");
    }
    Ok(t)
}

/// One Warning value (20.43): `warn-code SP warn-agent SP warn-text`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Warning<'a> {
    pub code: u16,
    pub agent: &'a str,
    pub text: &'a str,
}

impl<'a> Warning<'a> {
    pub fn parse(s: &'a str) -> Result<Self, FieldError> {
        let t = trim(s);
        let mut it = t.splitn(3, ' ');
        let code = it.next().unwrap_or("");
        let agent = it.next().unwrap_or("");
        let text = it.next().unwrap_or("");
        if code.len() != 3 || !code.bytes().all(|c| c.is_ascii_digit()) {
            return err(0, "warn-code must be three digits");
        }
        if agent.is_empty() {
            return err(code.len(), "warn-agent is missing");
        }
        let tb = text.as_bytes();
        if tb.first() != Some(&b'"') || skip_quoted(tb, 0) != Some(tb.len()) {
            return err(0, "warn-text must be a quoted string");
        }
        Ok(Warning {
            code: code.parse().unwrap_or(0),
            agent,
            text,
        })
    }
}

// ---------------------------------------------------------------------------------
// Authentication (20.7, 20.27, 20.28, 20.44; RFC 7616)

/// Credentials (Authorization, Proxy-Authorization) or a challenge
/// (WWW-Authenticate, Proxy-Authenticate): a scheme and its auth-params.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Auth<'a> {
    pub scheme: &'a str,
    /// The text after the scheme; for Digest a validated list of auth-params.
    pub raw_params: &'a str,
}

impl<'a> Auth<'a> {
    pub fn parse(s: &'a str) -> Result<Self, FieldError> {
        let b = s.as_bytes();
        let s0 = skip_ws(b, 0);
        let s1 = token_end(b, s0);
        if s1 == s0 {
            return err(s0, "authentication scheme is missing");
        }
        let scheme = &s[s0..s1];
        let rest = &s[s1..];
        if !rest.is_empty() && !rest.starts_with([' ', '\t', '\r', '\n']) {
            return err(s1, "expected white space after the scheme");
        }
        let a = Auth {
            scheme,
            raw_params: trim(rest),
        };
        // Digest params are checked strictly; other schemes (RFC 4475 3.3.7) are opaque
        // to a proxy and kept as they are.
        if scheme.eq_ignore_ascii_case("Digest") {
            for r in AuthParams::new(a.raw_params) {
                r.map_err(|o| FieldError::new(s1 + o, "malformed auth-param"))?;
            }
        }
        Ok(a)
    }

    pub fn is_digest(&self) -> bool {
        self.scheme.eq_ignore_ascii_case("Digest")
    }

    /// The auth-params; malformed ones are skipped.
    pub fn params(&self) -> impl Iterator<Item = (&'a str, Cow<'a, str>)> {
        AuthParams::new(self.raw_params).filter_map(Result::ok)
    }

    /// One auth-param by name (case-insensitive), unquoted.
    pub fn param(&self, name: &str) -> Option<Cow<'a, str>> {
        self.params()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    }
}

/// auth-param = auth-param-name EQUAL ( token / quoted-string ), comma separated.
struct AuthParams<'a> {
    s: &'a str,
    i: usize,
}

impl<'a> AuthParams<'a> {
    fn new(s: &'a str) -> Self {
        AuthParams { s, i: 0 }
    }
}

impl<'a> Iterator for AuthParams<'a> {
    type Item = Result<(&'a str, Cow<'a, str>), usize>;

    fn next(&mut self) -> Option<Self::Item> {
        let b = self.s.as_bytes();
        let mut i = skip_ws(b, self.i);
        if i >= b.len() {
            return None;
        }
        let fail = |at: usize, me: &mut Self| {
            me.i = usize::MAX / 2;
            Some(Err(at))
        };
        let n0 = i;
        i = token_end(b, i);
        if i == n0 {
            return fail(n0, self);
        }
        let name = &self.s[n0..i];
        i = skip_ws(b, i);
        if b.get(i) != Some(&b'=') {
            return fail(i, self);
        }
        i = skip_ws(b, i + 1);
        let value = if b.get(i) == Some(&b'"') {
            let Some(end) = skip_quoted(b, i) else {
                return fail(i, self);
            };
            let v = unquote(&self.s[i..end]);
            i = end;
            v
        } else {
            let v0 = i;
            // token, plus '/' and '=' seen in real nonces and in token68-style values.
            while b
                .get(i)
                .is_some_and(|&c| is(c, TOKEN) || c == b'/' || c == b'=')
            {
                i += 1;
            }
            if i == v0 {
                return fail(v0, self);
            }
            Cow::Borrowed(&self.s[v0..i])
        };
        i = skip_ws(b, i);
        match b.get(i) {
            None => self.i = i,
            Some(b',') => self.i = i + 1,
            Some(_) => return fail(i, self),
        }
        Some(Ok((name, value)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn via_with_lws_everywhere_rfc4475_3_1_1_1() {
        let v = Via::parse("SIP  /   2.0\r\n /UDP\r\n    192.0.2.2;branch=390skdjuw").unwrap();
        assert_eq!((v.protocol, v.version, v.transport), ("SIP", "2.0", "UDP"));
        assert_eq!(v.host, Host::V4("192.0.2.2".parse().unwrap()));
        assert_eq!(v.branch(), Some("390skdjuw"));
        assert!(!v.has_magic_cookie());
        let v = Via::parse(
            "  SIP  / 2.0  / TCP     spindle.example.com   ;\r\n  branch  =   z9hG4bK9ikj8  ",
        )
        .unwrap();
        assert_eq!(v.transport, "TCP");
        assert_eq!(v.host, Host::Name("spindle.example.com"));
        assert_eq!(v.branch(), Some("z9hG4bK9ikj8"));
    }

    #[test]
    fn via_params_rfc3261_20_42_rfc3581() {
        let v = Via::parse("SIP/2.0/UDP [2001:db8::9:1]:6050;received=[2001:db8::9:255];rport;ttl=16;maddr=224.2.0.1;branch=z9hG4bKas3").unwrap();
        assert_eq!(v.port, Some(6050));
        assert_eq!(v.received(), Some("[2001:db8::9:255]"));
        assert_eq!(v.rport(), Some(None));
        assert_eq!(v.ttl(), Some(16));
        assert_eq!(v.maddr(), Some("224.2.0.1"));
        assert!(v.has_magic_cookie());
        assert!(Via::parse("SIP/2.0/UDP h;ttl=256").is_err());
        assert!(Via::parse("SIP/2.0/UDP h;received=example.com").is_err());
        assert!(Via::parse("SIP/2.0/UDP 192.0.2.15;;").is_err());
        assert!(Via::parse("SIP/2.0/UDP").is_err());
        assert!(Via::parse("SIP/2.0/UDPhost").is_err());
    }

    #[test]
    fn name_addr_forms_rfc3261_20_10() {
        let a = NameAddr::parse(
            r#" "J Rosenberg \\\""       <sip:jdrosen@example.com>  ;  tag = 98asjd8"#,
        )
        .unwrap();
        assert_eq!(a.display_name().unwrap(), r#"J Rosenberg \""#);
        assert_eq!(a.tag(), Some("98asjd8"));
        // addr-spec: parameters belong to the header, not to the URI.
        let a =
            NameAddr::parse("sip:vivekg@chair-dnrc.example.com ;   tag    = 1918181833n").unwrap();
        assert_eq!(a.tag(), Some("1918181833n"));
        assert!(a.uri.as_sip().unwrap().params.is_empty());
        let a = NameAddr::parse("sip:a@b;lr").unwrap();
        assert!(a.params.contains("lr"));
        assert!(!a.uri.as_sip().unwrap().lr());
        // bracketed: URI parameters stay in the URI.
        let a = NameAddr::parse("<sip:a@b;lr>;x=1").unwrap();
        assert!(a.uri.as_sip().unwrap().lr());
        assert_eq!(a.params.value("x"), Some("1"));
        // RFC 4475 3.1.1.6: no LWS between display name and '<'.
        let a = NameAddr::parse("caller<sip:caller@example.com>;tag=323").unwrap();
        assert_eq!(a.display, Some("caller"));
    }

    #[test]
    fn name_addr_errors() {
        assert!(NameAddr::parse(r#""Mr J. User <sip:j.user@example.com>"#).is_err());
        assert!(NameAddr::parse("Bell, Alexander <sip:a.g.bell@bell-tel.com>").is_err());
        assert!(NameAddr::parse("sip:user@example.com?Route=%3Csip:x%3E").is_err());
        assert!(NameAddr::parse("<sip:a@b").is_err());
        assert!(NameAddr::parse("").is_err());
    }

    #[test]
    fn contact_star_q_expires_rfc3261_20_10() {
        assert_eq!(Contact::parse(" * ").unwrap(), Contact::Star);
        let c = Contact::parse("<sip:a@b>;q=0.7;expires=3600").unwrap();
        assert_eq!(c.q(), Some(700));
        assert_eq!(c.expires(), Some(3600));
        let c = Contact::parse("<sip:a@b>;expires=280297596632815").unwrap();
        assert_eq!(c.expires(), Some(u32::MAX));
        assert!(Contact::parse("<sip:a@b>;q=1.5").is_err());
        assert!(Contact::parse("<sip:a@b>;q=0.1234").is_err());
        // RFC 3261 10.2.1.1: malformed values are treated as 3600.
        assert_eq!(
            Contact::parse("<sip:a@b>;expires=soon").unwrap().expires(),
            Some(3600)
        );
    }

    #[test]
    fn cseq_rfc3261_20_16() {
        assert_eq!(
            CSeq::parse("0009\r\n  INVITE").unwrap(),
            CSeq {
                seq: 9,
                method: Method::Invite
            }
        );
        assert!(CSeq::parse("36893488147419103232 INVITE").is_err());
        assert!(CSeq::parse("4294967296 INVITE").is_err());
        assert_eq!(CSeq::parse("4294967295 INVITE").unwrap().seq, u32::MAX);
        assert!(CSeq::parse("1").is_err());
        assert!(CSeq::parse("1INVITE").is_err());
        assert!(CSeq::parse("x INVITE").is_err());
    }

    #[test]
    fn call_id_is_word_at_word_rfc3261_20_8() {
        assert_eq!(
            parse_call_id(" a84b4c76e66710@pc33.atlanta.com ").unwrap(),
            "a84b4c76e66710@pc33.atlanta.com"
        );
        assert!(parse_call_id("a b").is_err());
        assert!(parse_call_id("").is_err());
        assert!(parse_call_id("a@b@c").is_err());
    }

    #[test]
    fn date_must_be_gmt_rfc4475_3_1_2_12() {
        assert!(parse_date("Sat, 13 Nov 2010 23:29:00 GMT").is_ok());
        assert!(parse_date("Fri, 01 Jan 2010 16:00:00 EST").is_err());
    }

    #[test]
    fn warning_code_is_three_digits_rfc3261_20_43() {
        let w = Warning::parse(r#"307 isi.edu "Session parameter 'foo' not understood""#).unwrap();
        assert_eq!(w.code, 307);
        assert!(Warning::parse(r#"1812 overture "In Progress""#).is_err());
    }

    #[test]
    fn retry_after_rfc3261_20_33() {
        let r = RetryAfter::parse("18000;duration=3600").unwrap();
        assert_eq!(r.seconds, 18000);
        assert_eq!(r.params.value("duration"), Some("3600"));
        let r = RetryAfter::parse("120 (I'm in a meeting)").unwrap();
        assert_eq!(r.comment, Some("(I'm in a meeting)"));
        assert!(RetryAfter::parse("949302838503028349304023988").is_err());
    }

    #[test]
    fn digest_credentials_rfc3261_20_7() {
        let a = Auth::parse(r#"Digest username="bob", realm="biloxi.com", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", uri="sip:bob@biloxi.com", qop=auth, nc=00000001, cnonce="0a4f113b", response="6629fae49393a05397450978507c4ef1", opaque="5ccc069c403ebaf9f0171e9517f40e41""#).unwrap();
        assert!(a.is_digest());
        assert_eq!(a.param("USERNAME").as_deref(), Some("bob"));
        assert_eq!(a.param("nc").as_deref(), Some("00000001"));
        assert_eq!(a.param("qop").as_deref(), Some("auth"));
        assert!(Auth::parse(r#"Digest username="bob"#).is_err());
        // RFC 4475 3.3.7: unknown schemes are kept opaque.
        let a = Auth::parse("NoOneKnowsThisScheme opaque-data=here").unwrap();
        assert_eq!(a.scheme, "NoOneKnowsThisScheme");
    }

    #[test]
    fn media_type_rfc3261_20_15() {
        let m = MediaType::parse("multipart/mixed;boundary=7a9cbec02ceef655").unwrap();
        assert!(m.matches("Multipart", "MIXED"));
        assert_eq!(m.params.value("boundary"), Some("7a9cbec02ceef655"));
        assert!(MediaType::parse("application").is_err());
    }

    #[test]
    fn timestamp_rfc3261_20_38() {
        let t = Timestamp::parse("54.2 0.5").unwrap();
        assert_eq!((t.value, t.delay), ("54.2", Some("0.5")));
        assert!(Timestamp::parse("abc").is_err());
    }
}
