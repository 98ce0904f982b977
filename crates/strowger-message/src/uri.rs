//! URIs: `sip:` and `sips:` (RFC 3261 section 19.1), `tel:` (RFC 3966), and any other
//! absolute URI, kept as written.
//!
//! A [`Uri`] borrows the text it was parsed from; `Display` writes it back unchanged.
//! Equality is the comparison of section 19.1.4 (and RFC 3966 section 4 for `tel:`),
//! not a byte comparison: use [`Uri::as_str`] for that.

use std::borrow::Cow;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::error::FieldError;
use crate::params::{validate_uri_params, Params};
use crate::scan::{self, unescape, HNVCHAR, HOSTCHAR, PASSWORD, SCHEME, URIC, USERINFO};

/// A parsed URI.
#[derive(Debug, Clone, Copy)]
pub enum Uri<'a> {
    Sip(SipUri<'a>),
    Tel(TelUri<'a>),
    /// Any other absolute URI (RFC 3261 `absoluteURI`): kept as written.
    Other {
        scheme: &'a str,
        raw: &'a str,
    },
}

/// A `sip:` or `sips:` URI.
#[derive(Debug, Clone, Copy)]
pub struct SipUri<'a> {
    raw: &'a str,
    /// `sips:` rather than `sip:`.
    pub secure: bool,
    pub user: Option<&'a str>,
    pub password: Option<&'a str>,
    pub host: Host<'a>,
    pub port: Option<u16>,
    pub params: Params<'a>,
    /// The header part after `?`, without the `?`.
    pub headers: Option<&'a str>,
}

/// The host of a SIP URI or of a Via sent-by.
#[derive(Debug, Clone, Copy)]
pub enum Host<'a> {
    Name(&'a str),
    V4(Ipv4Addr),
    /// An IPv6 reference; the text is what was written between the brackets.
    V6(Ipv6Addr, &'a str),
}

/// A `tel:` URI (RFC 3966).
#[derive(Debug, Clone, Copy)]
pub struct TelUri<'a> {
    raw: &'a str,
    /// The number as written, with visual separators; starts with `+` when global.
    pub number: &'a str,
    pub params: Params<'a>,
}

impl<'a> Uri<'a> {
    /// Parse a URI as it appears in a Request-URI or between `<` and `>`.
    pub fn parse(s: &'a str) -> Result<Self, FieldError> {
        let b = s.as_bytes();
        let mut colon = 0;
        while b.get(colon).is_some_and(|&c| scan::is(c, SCHEME)) {
            colon += 1;
        }
        if b.get(colon) != Some(&b':') {
            return Err(FieldError::new(colon, "URI has no scheme"));
        }
        let scheme = &s[..colon];
        if scheme.is_empty() || !b[0].is_ascii_alphabetic() {
            return Err(FieldError::new(0, "invalid URI scheme"));
        }
        let rest = &s[colon + 1..];
        if scheme.eq_ignore_ascii_case("sip") {
            SipUri::parse_rest(s, rest, false, colon + 1).map(Uri::Sip)
        } else if scheme.eq_ignore_ascii_case("sips") {
            SipUri::parse_rest(s, rest, true, colon + 1).map(Uri::Sip)
        } else if scheme.eq_ignore_ascii_case("tel") {
            TelUri::parse_rest(s, rest, colon + 1).map(Uri::Tel)
        } else {
            if rest.is_empty() {
                return Err(FieldError::new(colon + 1, "URI is empty after the scheme"));
            }
            // absoluteURI = scheme ":" ( hier-part / opaque-part ); both are made of
            // uric characters (RFC 2396), "#" excluded.
            if let Some(p) = rest.bytes().position(|c| !scan::is(c, URIC)) {
                return Err(FieldError::new(colon + 1 + p, "invalid character in URI"));
            }
            if !scan::valid_escapes(rest.as_bytes()) {
                return Err(FieldError::new(colon + 1, "invalid % escape in URI"));
            }
            Ok(Uri::Other { scheme, raw: s })
        }
    }

    /// The URI exactly as written.
    pub fn as_str(&self) -> &'a str {
        match self {
            Uri::Sip(u) => u.raw,
            Uri::Tel(t) => t.raw,
            Uri::Other { raw, .. } => raw,
        }
    }

    /// The scheme as written (`sip`, `sips`, `tel`, ...).
    pub fn scheme(&self) -> &'a str {
        let s = self.as_str();
        s.split(':').next().unwrap_or(s)
    }

    pub fn as_sip(&self) -> Option<&SipUri<'a>> {
        match self {
            Uri::Sip(u) => Some(u),
            _ => None,
        }
    }

    /// True for `sip:` and `sips:` URIs.
    pub fn is_sip(&self) -> bool {
        matches!(self, Uri::Sip(_))
    }
}

impl fmt::Display for Uri<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PartialEq for Uri<'_> {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Uri::Sip(a), Uri::Sip(b)) => a == b,
            (Uri::Tel(a), Uri::Tel(b)) => a == b,
            (Uri::Other { raw: a, .. }, Uri::Other { raw: b, .. }) => {
                // RFC 3986 6.2.2: scheme case-insensitive, escapes normalised.
                let (sa, ra) = a.split_once(':').unwrap_or((a, ""));
                let (sb, rb) = b.split_once(':').unwrap_or((b, ""));
                sa.eq_ignore_ascii_case(sb) && unescape(ra) == unescape(rb)
            }
            _ => false,
        }
    }
}

impl<'a> SipUri<'a> {
    /// Parse a `sip:` or `sips:` URI.
    pub fn parse(s: &'a str) -> Result<Self, FieldError> {
        match Uri::parse(s)? {
            Uri::Sip(u) => Ok(u),
            _ => Err(FieldError::new(0, "not a sip: or sips: URI")),
        }
    }

    fn parse_rest(
        raw: &'a str,
        rest: &'a str,
        secure: bool,
        base: usize,
    ) -> Result<Self, FieldError> {
        let b = rest.as_bytes();
        // One pass over the userinfo candidates. Neither uri-parameters nor headers may
        // hold a raw '@' (section 25.1), so an '@' ends the userinfo; the user part
        // itself may hold ';' and '?' (RFC 4475 3.1.1.9).
        // The userinfo, if any, is a run of user/password characters ended by '@'.
        let run = b
            .iter()
            .position(|&c| !scan::is(c, USERINFO))
            .unwrap_or(b.len());
        let (user, password, mut i) = if b.get(run) == Some(&b'@') {
            let userinfo = &rest[..run];
            if !scan::valid_escapes(userinfo.as_bytes()) {
                return Err(FieldError::new(base, "invalid % escape in URI user part"));
            }
            let (user, password) = match userinfo.as_bytes().iter().position(|&c| c == b':') {
                Some(c) => {
                    let p = &userinfo[c + 1..];
                    if !p.bytes().all(|x| scan::is(x, PASSWORD)) {
                        return Err(FieldError::new(base + c + 1, "invalid password in URI"));
                    }
                    (&userinfo[..c], Some(p))
                }
                None => (userinfo, None),
            };
            if user.is_empty() {
                return Err(FieldError::new(base, "invalid user part in URI"));
            }
            (Some(user), password, run + 1)
        } else {
            (None, None, 0)
        };
        let (host, end) = parse_host(rest, i).map_err(|e| e.shift(base))?;
        i = end;
        let mut port = None;
        if b.get(i) == Some(&b':') {
            let p0 = i + 1;
            let mut j = p0;
            while b.get(j).is_some_and(u8::is_ascii_digit) {
                j += 1;
            }
            port = Some(parse_port(&b[p0..j]).ok_or(FieldError::new(base + p0, "invalid port"))?);
            i = j;
        }
        let mut params = Params::EMPTY_URI;
        if b.get(i) == Some(&b';') {
            let p0 = i + 1;
            let end = crate::params::scan_uri_params(b, p0).map_err(|e| e.shift(base))?;
            params = Params::uri(&rest[p0..end]);
            i = end;
        }
        let mut headers = None;
        if b.get(i) == Some(&b'?') {
            let h0 = i + 1;
            let text = &rest[h0..];
            validate_uri_headers(text).map_err(|e| e.shift(base + h0))?;
            headers = Some(text);
            i = b.len();
        }
        if i != b.len() {
            return Err(FieldError::new(base + i, "unexpected character in URI"));
        }
        Ok(SipUri {
            raw,
            secure,
            user,
            password,
            host,
            port,
            params,
            headers,
        })
    }

    pub fn as_str(&self) -> &'a str {
        self.raw
    }

    /// The `transport` URI parameter.
    pub fn transport(&self) -> Option<&'a str> {
        self.params.value("transport")
    }

    /// The `maddr` URI parameter.
    pub fn maddr(&self) -> Option<&'a str> {
        self.params.value("maddr")
    }

    /// True when the `lr` parameter is present (loose routing, section 19.1.1).
    pub fn lr(&self) -> bool {
        self.params.contains("lr")
    }

    /// The user part with escapes decoded (RFC 4475 3.1.1.3, 3.1.1.4).
    pub fn user_unescaped(&self) -> Option<Cow<'a, [u8]>> {
        self.user.map(unescape)
    }

    /// The address of record form of this URI (section 10.3 step 5): scheme, user and
    /// host(:port), with parameters and headers dropped and the user unescaped where
    /// the result stays printable; the host is lowercased.
    pub fn aor(&self) -> String {
        let mut s = String::with_capacity(self.raw.len());
        s.push_str(if self.secure { "sips:" } else { "sip:" });
        if let Some(u) = self.user {
            s.push_str(u);
            s.push('@');
        }
        match self.host {
            Host::Name(n) => s.push_str(&n.to_ascii_lowercase()),
            Host::V4(a) => s.push_str(&a.to_string()),
            Host::V6(a, _) => {
                s.push('[');
                s.push_str(&a.to_string());
                s.push(']');
            }
        }
        if let Some(p) = self.port {
            s.push(':');
            s.push_str(&p.to_string());
        }
        s
    }
}

impl fmt::Display for SipUri<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.raw)
    }
}

/// Parameters whose presence in one URI alone makes two URIs differ (19.1.4).
const SIGNIFICANT: [&str; 5] = ["user", "ttl", "method", "maddr", "transport"];

/// Whether a parameter name (escapes decoded) is one of [`SIGNIFICANT`].
fn is_significant(name: &str) -> bool {
    let n = unescape(name);
    SIGNIFICANT
        .iter()
        .any(|s| n.eq_ignore_ascii_case(s.as_bytes()))
}

fn eq_escaped_ci(a: &str, b: &str) -> bool {
    unescape(a).eq_ignore_ascii_case(&unescape(b))
}

impl PartialEq for SipUri<'_> {
    /// URI comparison of RFC 3261 section 19.1.4.
    fn eq(&self, o: &Self) -> bool {
        if self.secure != o.secure || self.port != o.port || self.host != o.host {
            return false;
        }
        // userinfo: case-sensitive, escapes decoded.
        if self.user.map(unescape) != o.user.map(unescape)
            || self.password.map(unescape) != o.password.map(unescape)
        {
            return false;
        }
        for p in self.params.iter() {
            match o.params.get(p.name) {
                Some(q) => match (p.value, q.value) {
                    (Some(a), Some(b)) if eq_escaped_ci(a, b) => {}
                    (None, None) => {}
                    _ => return false,
                },
                None if is_significant(p.name) => return false,
                None => {}
            }
        }
        for q in o.params.iter() {
            if self.params.get(q.name).is_none() && is_significant(q.name) {
                return false;
            }
        }
        // Headers are never ignored: the same set on both sides.
        let ha: Vec<_> = uri_headers(self.headers).collect();
        let hb: Vec<_> = uri_headers(o.headers).collect();
        ha.len() == hb.len()
            && ha.iter().all(|(n, v)| {
                hb.iter()
                    .any(|(m, w)| eq_escaped_ci(n, m) && unescape(v) == unescape(w))
            })
    }
}

fn uri_headers(h: Option<&str>) -> impl Iterator<Item = (&str, &str)> {
    h.unwrap_or("")
        .split('&')
        .filter(|s| !s.is_empty())
        .map(|s| s.split_once('=').unwrap_or((s, "")))
}

fn validate_uri_headers(s: &str) -> Result<(), FieldError> {
    let mut off = 0;
    for h in s.split('&') {
        let (n, v) = h
            .split_once('=')
            .ok_or(FieldError::new(off, "URI header without '='"))?;
        if !scan::all(n.as_bytes(), HNVCHAR)
            || !v.bytes().all(|c| scan::is(c, HNVCHAR))
            || !scan::valid_escapes(h.as_bytes())
        {
            return Err(FieldError::new(off, "invalid character in URI header"));
        }
        off += h.len() + 1;
    }
    Ok(())
}

fn parse_port(d: &[u8]) -> Option<u16> {
    if d.is_empty() || d.len() > 5 {
        return None;
    }
    scan::parse_u32(d).and_then(|v| u16::try_from(v).ok())
}

/// Parse `host` at `s[i..]`: an IPv6 reference, an IPv4 address or a host name. Returns
/// the host and the index after it.
pub(crate) fn parse_host(s: &str, i: usize) -> Result<(Host<'_>, usize), FieldError> {
    let b = s.as_bytes();
    if b.get(i) == Some(&b'[') {
        let mut close = i + 1;
        while b.get(close).is_some_and(|&c| c != b']') {
            close += 1;
        }
        if close >= b.len() {
            return Err(FieldError::new(i, "IPv6 reference without ']'"));
        }
        let inner = &s[i + 1..close];
        let addr = parse_ipv6(inner).ok_or(FieldError::new(i, "invalid IPv6 address"))?;
        return Ok((Host::V6(addr, inner), close + 1));
    }
    // hostname = *( domainlabel "." ) toplabel [ "." ]; labels neither start nor end
    // with '-'; all digits and dots is an IPv4 address.
    let rest = b.get(i..).unwrap_or_default();
    let len = rest
        .iter()
        .position(|&c| !scan::is(c, HOSTCHAR))
        .unwrap_or(rest.len());
    let name = &rest[..len];
    let (Some(&first), Some(&last)) = (name.first(), name.last()) else {
        return Err(FieldError::new(i, "host is missing"));
    };
    let j = i + len;
    if name.iter().all(|&c| c.is_ascii_digit() || c == b'.') {
        return parse_ipv4(name)
            .map(|a| (Host::V4(a), j))
            .ok_or(FieldError::new(
                i,
                "invalid IPv4 address (an IPv6 address needs [ ])",
            ));
    }
    if first == b'.'
        || first == b'-'
        || last == b'-'
        || name
            .windows(2)
            .any(|w| matches!(w, [b'.', b'.'] | [b'-', b'.'] | [b'.', b'-']))
    {
        return Err(FieldError::new(i, "invalid host name"));
    }
    Ok((Host::Name(&s[i..j]), j))
}

/// dotted-quad IPv4 without leading-zero ambiguity checks beyond range (RFC 3261's
/// IPv4address is 1*3DIGIT per part).
fn parse_ipv4(b: &[u8]) -> Option<Ipv4Addr> {
    let mut parts = [0u8; 4];
    let mut n = 0;
    let mut v: u32 = 0;
    let mut digits = 0;
    for &c in b {
        if c == b'.' {
            if digits == 0 || n >= 3 {
                return None;
            }
            parts[n] = u8::try_from(v).ok()?;
            n += 1;
            v = 0;
            digits = 0;
        } else {
            digits += 1;
            if digits > 3 {
                return None;
            }
            v = v * 10 + u32::from(c - b'0');
        }
    }
    if n != 3 || digits == 0 {
        return None;
    }
    parts[3] = u8::try_from(v).ok()?;
    Some(Ipv4Addr::from(parts))
}

/// Parse an IPv6 address. Tolerates the `:::` of RFC 3261's ABNF bug (RFC 5118 section
/// 4.10) by reading it as `::`, as robust implementations do.
pub(crate) fn parse_ipv6(s: &str) -> Option<Ipv6Addr> {
    if let Ok(a) = s.parse::<Ipv6Addr>() {
        return Some(a);
    }
    if s.contains(":::") {
        return s.replacen(":::", "::", 1).parse().ok();
    }
    None
}

impl<'a> Host<'a> {
    /// The IP address when the host is one.
    pub fn ip(&self) -> Option<IpAddr> {
        match self {
            Host::Name(_) => None,
            Host::V4(a) => Some(IpAddr::V4(*a)),
            Host::V6(a, _) => Some(IpAddr::V6(*a)),
        }
    }
}

impl PartialEq for Host<'_> {
    fn eq(&self, o: &Self) -> bool {
        match (self, o) {
            (Host::Name(a), Host::Name(b)) => a.eq_ignore_ascii_case(b),
            (Host::V4(a), Host::V4(b)) => a == b,
            (Host::V6(a, _), Host::V6(b, _)) => a == b,
            _ => false,
        }
    }
}

/// `a` in dotted-decimal, as `Ipv4Addr`'s `Display` writes it, into `buf`: without the
/// formatting machinery, which cost about 1000 instructions an address (callgrind), and
/// a server writes a host for nearly every request it answers.
pub fn ipv4_text(a: Ipv4Addr, buf: &mut [u8; 15]) -> &str {
    let mut n = 0;
    for (i, o) in a.octets().into_iter().enumerate() {
        if i > 0 {
            buf[n] = b'.';
            n += 1;
        }
        if o >= 100 {
            buf[n] = b'0' + o / 100;
            n += 1;
        }
        if o >= 10 {
            buf[n] = b'0' + o / 10 % 10;
            n += 1;
        }
        buf[n] = b'0' + o % 10;
        n += 1;
    }
    // Only ASCII digits and dots were written.
    std::str::from_utf8(&buf[..n]).unwrap_or_default()
}

/// Append `a` in dotted-decimal (see [`ipv4_text`]).
pub fn push_ipv4(out: &mut String, a: Ipv4Addr) {
    out.push_str(ipv4_text(a, &mut [0; 15]));
}

impl fmt::Display for Host<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Host::Name(n) => f.write_str(n),
            Host::V4(a) => f.write_str(ipv4_text(*a, &mut [0; 15])),
            Host::V6(_, raw) => write!(f, "[{raw}]"),
        }
    }
}

impl<'a> TelUri<'a> {
    fn parse_rest(raw: &'a str, rest: &'a str, base: usize) -> Result<Self, FieldError> {
        let (number, params) = match rest.find(';') {
            Some(p) => (&rest[..p], Some(&rest[p + 1..])),
            None => (rest, None),
        };
        let digits = number.strip_prefix('+');
        let body = digits.unwrap_or(number);
        if body.is_empty()
            || !body
                .bytes()
                .all(|c| scan::is(c, scan::TELCHAR) && c != b'+')
        {
            return Err(FieldError::new(base, "invalid telephone number"));
        }
        let significant = body.bytes().filter(|c| !is_visual(*c));
        if digits.is_some() {
            // global-number-digits: digits and visual separators only.
            if !body.bytes().all(|c| c.is_ascii_digit() || is_visual(c))
                || significant.clone().count() == 0
            {
                return Err(FieldError::new(base, "invalid global telephone number"));
            }
        }
        let params = match params {
            Some(p) => {
                validate_uri_params(p).map_err(|e| e.shift(base + number.len() + 1))?;
                Params::uri(p)
            }
            None => Params::EMPTY_URI,
        };
        // RFC 3966 5.1.5: a local number needs a phone-context.
        if digits.is_none() && !params.contains("phone-context") {
            return Err(FieldError::new(
                base,
                "local telephone number without phone-context",
            ));
        }
        Ok(TelUri {
            raw,
            number,
            params,
        })
    }

    pub fn as_str(&self) -> &'a str {
        self.raw
    }

    pub fn is_global(&self) -> bool {
        self.number.starts_with('+')
    }

    /// The number without visual separators (RFC 3966 section 5.1.1).
    pub fn digits(&self) -> String {
        self.number
            .bytes()
            .filter(|c| !is_visual(*c))
            .map(|c| c.to_ascii_uppercase() as char)
            .collect()
    }
}

fn is_visual(c: u8) -> bool {
    matches!(c, b'-' | b'.' | b'(' | b')')
}

impl PartialEq for TelUri<'_> {
    /// RFC 3966 section 4: numbers compared without visual separators; parameters
    /// compared by name regardless of order, values case-insensitively.
    fn eq(&self, o: &Self) -> bool {
        if self.digits() != o.digits() || self.params.len() != o.params.len() {
            return false;
        }
        self.params.iter().all(|p| {
            o.params
                .get(p.name)
                .is_some_and(|q| match (p.value, q.value) {
                    (Some(a), Some(b)) => {
                        // phone-context digits compare without separators too.
                        let strip = |s: &str| -> String {
                            s.bytes()
                                .filter(|c| !is_visual(*c))
                                .map(|c| c.to_ascii_lowercase() as char)
                                .collect()
                        };
                        strip(&String::from_utf8_lossy(&unescape(a)))
                            == strip(&String::from_utf8_lossy(&unescape(b)))
                    }
                    (None, None) => true,
                    _ => false,
                })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv4_text_is_what_display_writes() {
        for a in [
            [0, 0, 0, 0],
            [127, 0, 0, 1],
            [10, 99, 100, 255],
            [192, 168, 9, 10],
            [255; 4],
        ] {
            let ip = Ipv4Addr::from(a);
            assert_eq!(ipv4_text(ip, &mut [0; 15]), ip.to_string());
            assert_eq!(Host::V4(ip).to_string(), ip.to_string());
        }
    }

    fn u(s: &str) -> Uri<'_> {
        Uri::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn sip_uri_components_rfc3261_19_1_1() {
        let Uri::Sip(x) = u(
            "sips:alice:secret@[2001:db8::10]:5061;transport=tcp;lr?subject=x%20y&priority=urgent",
        ) else {
            panic!()
        };
        assert!(x.secure);
        assert_eq!(x.user, Some("alice"));
        assert_eq!(x.password, Some("secret"));
        assert_eq!(x.host.ip(), Some("2001:db8::10".parse().unwrap()));
        assert_eq!(x.port, Some(5061));
        assert_eq!(x.transport(), Some("tcp"));
        assert!(x.lr());
        assert_eq!(x.headers, Some("subject=x%20y&priority=urgent"));
    }

    #[test]
    fn semicolon_in_user_part_belongs_to_user_rfc4475_3_1_1_9() {
        let Uri::Sip(x) = u("sip:user;par=u%40example.net@example.com") else {
            panic!()
        };
        assert_eq!(x.user, Some("user;par=u%40example.net"));
        assert_eq!(&*x.user_unescaped().unwrap(), b"user;par=u@example.net");
        assert_eq!(x.host, Host::Name("example.com"));
        assert!(x.params.is_empty());
    }

    #[test]
    fn ipv6_without_brackets_is_rejected_rfc5118_4_2() {
        assert!(Uri::parse("sip:2001:db8::10").is_err());
    }

    #[test]
    fn ipv6_port_inside_brackets_is_part_of_address_rfc5118_4_3() {
        let Uri::Sip(x) = u("sip:[2001:db8::10:5070]") else {
            panic!()
        };
        assert_eq!(x.port, None);
        assert_eq!(x.host.ip(), Some("2001:db8::10:5070".parse().unwrap()));
        let Uri::Sip(y) = u("sip:[2001:db8::10]:5070") else {
            panic!()
        };
        assert_eq!(y.port, Some(5070));
    }

    #[test]
    fn three_colon_ipv6_is_tolerated_rfc5118_4_10() {
        let Uri::Sip(x) = u("sip:[2001:db8:::192.0.2.1]") else {
            panic!()
        };
        assert_eq!(x.host.ip(), Some("2001:db8::192.0.2.1".parse().unwrap()));
    }

    #[test]
    fn equal_uris_rfc3261_19_1_4() {
        let pairs = [
            (
                "sip:%61lice@atlanta.com;transport=TCP",
                "sip:alice@AtLanTa.CoM;Transport=tcp",
            ),
            ("sip:carol@chicago.com", "sip:carol@chicago.com;newparam=5"),
            ("sip:carol@chicago.com", "sip:carol@chicago.com;security=on"),
            (
                "sip:carol@chicago.com;newparam=5",
                "sip:carol@chicago.com;security=on",
            ),
            (
                "sip:biloxi.com;transport=tcp;method=REGISTER?to=sip:bob%40biloxi.com",
                "sip:biloxi.com;method=REGISTER;transport=tcp?to=sip:bob%40biloxi.com",
            ),
            (
                "sip:alice@atlanta.com?subject=project%20x&priority=urgent",
                "sip:alice@atlanta.com?priority=urgent&subject=project%20x",
            ),
        ];
        for (a, b) in pairs {
            assert_eq!(u(a), u(b), "{a} == {b}");
            assert_eq!(u(b), u(a), "{b} == {a}");
        }
    }

    #[test]
    fn unequal_uris_rfc3261_19_1_4() {
        let pairs = [
            (
                "SIP:ALICE@AtLanTa.CoM;Transport=udp",
                "sip:alice@AtLanTa.CoM;Transport=UDP",
            ),
            ("sip:bob@biloxi.com", "sip:bob@biloxi.com:5060"),
            ("sip:bob@biloxi.com", "sip:bob@biloxi.com;transport=udp"),
            (
                "sip:bob@biloxi.com",
                "sip:bob@biloxi.com:6000;transport=tcp",
            ),
            (
                "sip:carol@chicago.com",
                "sip:carol@chicago.com?Subject=next%20meeting",
            ),
            ("sip:bob@phone21.boxesbybob.com", "sip:bob@192.0.2.4"),
            (
                "sip:carol@chicago.com;newparam=5",
                "sip:carol@chicago.com;newparam=6",
            ),
            ("sip:alice@pc33.atlanta.com", "sip:alice@atlanta.com"),
            ("sip:alice@atlanta.com", "sips:alice@atlanta.com"),
        ];
        for (a, b) in pairs {
            assert_ne!(u(a), u(b), "{a} != {b}");
            assert_ne!(u(b), u(a), "{b} != {a}");
        }
    }

    #[test]
    fn escaped_value_is_not_unescaped_twice_rfc4475_3_1_1_3() {
        // value%41 decodes to valueA; value%2541 decodes to value%41, not valueA.
        assert_eq!(u("sip:a@h;p=value%41"), u("sip:a@h;p=valueA"));
        assert_ne!(u("sip:a@h;p=value%2541"), u("sip:a@h;p=valueA"));
    }

    #[test]
    fn escaped_param_names_compare_unescaped_rfc4475_3_1_1_3() {
        // n%61me is name: the values are compared, and value%41 is not valueA.
        let c = "sip:caller@host5.example.net;%6C%72;n%61me=v%61lue%25%34%31";
        assert_eq!(u(c), u("sip:caller@host5.example.net;lr;name=value%2541"));
        assert_ne!(u(c), u("sip:caller@host5.example.net;lr;name=valueA"));
        // An escaped transport is still a parameter that must match (19.1.4).
        assert_ne!(u("sip:a@h;%74ransport=tcp"), u("sip:a@h"));
        assert_ne!(u("sip:a@h"), u("sip:a@h;%74ransport=tcp"));
    }

    #[test]
    fn tel_uri_rfc3966() {
        let Uri::Tel(t) = u("tel:+1-201-555-0123") else {
            panic!()
        };
        assert!(t.is_global());
        assert_eq!(t.digits(), "+12015550123");
        assert_eq!(u("tel:+1-201-555-0123"), u("tel:+1.201.555.0123"));
        assert_eq!(
            u("tel:7042;phone-context=example.com"),
            u("tel:7042;PHONE-CONTEXT=Example.COM")
        );
        assert_ne!(u("tel:+12015550123"), u("tel:+12015550124"));
        assert!(
            Uri::parse("tel:7042").is_err(),
            "local number needs phone-context"
        );
        assert!(Uri::parse("tel:+").is_err());
    }

    #[test]
    fn other_schemes_are_kept_rfc4475_3_3_2() {
        let x = u("nobodyKnowsThisScheme:totallyopaquecontent");
        assert!(matches!(
            x,
            Uri::Other {
                scheme: "nobodyKnowsThisScheme",
                ..
            }
        ));
        assert_eq!(u("soap.beep://192.0.2.103:3002").scheme(), "soap.beep");
        assert!(Uri::parse("<sip:a@b>").is_err());
        assert!(Uri::parse("http:").is_err());
    }

    #[test]
    fn bad_sip_uris_are_rejected() {
        for s in [
            "sip:",
            "sip:@host",
            "sip:a@",
            "sip:a@host:99999",
            "sip:a@host:",
            "sip:a@host;;lr",
            "sip:a@host;lr=",
            "sip:a b@host",
            "sip:a@host?x",
            "sip:a@-host",
            "sip:a@host extra",
            "sip:a@256.1.1.1",
            "sip:a%4@host",
        ] {
            assert!(Uri::parse(s).is_err(), "{s} should be rejected");
        }
    }
}
