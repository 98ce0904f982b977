//! Character classes and small scanners for the ABNF of RFC 3261 section 25.1.
//!
//! Everything here works on byte slices and indexes with `get`, so no input can make it
//! panic. The classes are 256-entry tables: one load per byte on the hot path.

pub(crate) const TOKEN: u16 = 1;
pub(crate) const UNRESERVED: u16 = 1 << 1;
pub(crate) const USER: u16 = 1 << 2;
pub(crate) const PASSWORD: u16 = 1 << 3;
pub(crate) const PARAMCHAR: u16 = 1 << 4;
pub(crate) const HNVCHAR: u16 = 1 << 5;
pub(crate) const HOSTCHAR: u16 = 1 << 6;
pub(crate) const WORD: u16 = 1 << 7;
pub(crate) const URIC: u16 = 1 << 8;
pub(crate) const SCHEME: u16 = 1 << 9;
pub(crate) const DIGIT: u16 = 1 << 10;
pub(crate) const TELCHAR: u16 = 1 << 11;
/// user and password characters and the ':' between them.
pub(crate) const USERINFO: u16 = 1 << 12;

const fn build() -> [u16; 256] {
    let mut t = [0u16; 256];
    let mut i = 0;
    while i < 256 {
        let c = i as u8;
        let alnum = c.is_ascii_alphanumeric();
        let mark = matches!(
            c,
            b'-' | b'_' | b'.' | b'!' | b'~' | b'*' | b'\'' | b'(' | b')'
        );
        let mut f = 0u16;
        if alnum
            || matches!(
                c,
                b'-' | b'.' | b'!' | b'%' | b'*' | b'_' | b'+' | b'`' | b'\'' | b'~'
            )
        {
            f |= TOKEN;
        }
        if alnum || mark {
            f |= UNRESERVED | USER | PASSWORD | PARAMCHAR | HNVCHAR;
        }
        // '%' is allowed in the classes below as the start of an escape; callers that
        // care check the two hex digits with `valid_escapes`.
        if matches!(
            c,
            b'&' | b'=' | b'+' | b'$' | b',' | b';' | b'?' | b'/' | b'%'
        ) {
            f |= USER;
        }
        if matches!(c, b'&' | b'=' | b'+' | b'$' | b',' | b'%') {
            f |= PASSWORD;
        }
        if (f & (USER | PASSWORD)) != 0 || c == b':' {
            f |= USERINFO;
        }
        if matches!(c, b'[' | b']' | b'/' | b':' | b'&' | b'+' | b'$' | b'%') {
            f |= PARAMCHAR;
        }
        if matches!(c, b'[' | b']' | b'/' | b'?' | b':' | b'+' | b'$' | b'%') {
            f |= HNVCHAR;
        }
        // RFC 3261 hostname is alphanum / "-" / "."; "_" is accepted because real DNS
        // names carry it (SRV-style labels), as Kamailio and PJSIP accept it too.
        if alnum || matches!(c, b'-' | b'.' | b'_') {
            f |= HOSTCHAR;
        }
        if (f & TOKEN) != 0
            || matches!(
                c,
                b'(' | b')'
                    | b'<'
                    | b'>'
                    | b':'
                    | b'\\'
                    | b'"'
                    | b'/'
                    | b'['
                    | b']'
                    | b'?'
                    | b'{'
                    | b'}'
            )
        {
            f |= WORD;
        }
        // uric = reserved / unreserved / escaped (RFC 2396), used for absolute URIs of
        // other schemes.
        if alnum
            || mark
            || matches!(
                c,
                b';' | b'/' | b'?' | b':' | b'@' | b'&' | b'=' | b'+' | b'$' | b',' | b'%'
            )
        {
            f |= URIC;
        }
        if alnum || matches!(c, b'+' | b'-' | b'.') {
            f |= SCHEME;
        }
        if c.is_ascii_digit() {
            f |= DIGIT;
        }
        // RFC 3966 phonedigit-hex plus visual separators and the characters of
        // parameters; the structure is checked by the tel parser.
        if c.is_ascii_hexdigit() || matches!(c, b'*' | b'#' | b'-' | b'.' | b'(' | b')' | b'+') {
            f |= TELCHAR;
        }
        t[i] = f;
        i += 1;
    }
    t
}

pub(crate) static CLASS: [u16; 256] = build();

#[inline(always)]
pub(crate) fn is(c: u8, class: u16) -> bool {
    CLASS[c as usize] & class != 0
}

/// True when every byte of `s` is in `class` and `s` is not empty.
#[inline]
pub(crate) fn all(s: &[u8], class: u16) -> bool {
    !s.is_empty() && s.iter().all(|&c| is(c, class))
}

/// True when every `%` in `s` is followed by two hex digits.
#[inline]
pub(crate) fn valid_escapes(s: &[u8]) -> bool {
    let mut i = 0;
    while let Some(p) = memchr::memchr(b'%', s.get(i..).unwrap_or_default()) {
        let at = i + p;
        match (s.get(at + 1), s.get(at + 2)) {
            (Some(a), Some(b)) if a.is_ascii_hexdigit() && b.is_ascii_hexdigit() => i = at + 3,
            _ => return false,
        }
    }
    true
}

#[inline]
pub(crate) fn is_token(s: &str) -> bool {
    all(s.as_bytes(), TOKEN)
}

#[inline(always)]
pub(crate) fn is_ws(c: u8) -> bool {
    // LWS after unfolding: SP, HTAB, and the CR LF of a fold.
    matches!(c, b' ' | b'\t' | b'\r' | b'\n')
}

/// Skip linear white space (including folds) from `i`.
#[inline]
pub(crate) fn skip_ws(s: &[u8], mut i: usize) -> usize {
    while let Some(&c) = s.get(i) {
        if !is_ws(c) {
            break;
        }
        i += 1;
    }
    i
}

/// Trim linear white space (including folds) from both ends.
#[inline]
pub(crate) fn trim(s: &str) -> &str {
    s.trim_matches(|c: char| matches!(c, ' ' | '\t' | '\r' | '\n'))
}

/// Scan a quoted-string starting at `s[i] == '"'`; returns the index just past the
/// closing quote, or `None` when it is not terminated. quoted-pair (`\` + any char but
/// CR/LF) is honoured.
#[inline]
pub(crate) fn skip_quoted(s: &[u8], i: usize) -> Option<usize> {
    let mut j = i + 1;
    loop {
        match *s.get(j)? {
            b'"' => return Some(j + 1),
            b'\\' => {
                let n = *s.get(j + 1)?;
                if n == b'\r' || n == b'\n' {
                    return None;
                }
                j += 2;
            }
            _ => j += 1,
        }
    }
}

/// Split a header value list on commas that are not inside a quoted string or `<...>`.
/// Empty elements are yielded (as empty/blank strings) so callers can reject them.
pub(crate) struct ListSplit<'a> {
    s: &'a str,
    pos: usize,
    done: bool,
}

impl<'a> ListSplit<'a> {
    pub(crate) fn new(s: &'a str) -> Self {
        ListSplit {
            s,
            pos: 0,
            done: false,
        }
    }
}

impl<'a> Iterator for ListSplit<'a> {
    /// (offset of the element within the list, element) or the offset of an
    /// unterminated quote / angle bracket.
    type Item = Result<(usize, &'a str), usize>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let b = self.s.as_bytes();
        let start = self.pos;
        let mut i = start;
        let mut in_angle = false;
        while let Some(&c) = b.get(i) {
            match c {
                b'"' => match skip_quoted(b, i) {
                    Some(j) => {
                        i = j;
                        continue;
                    }
                    None => {
                        self.done = true;
                        return Some(Err(i));
                    }
                },
                b'<' => in_angle = true,
                b'>' => in_angle = false,
                b',' if !in_angle => {
                    self.pos = i + 1;
                    return Some(Ok((start, self.s.get(start..i).unwrap_or(""))));
                }
                _ => {}
            }
            i += 1;
        }
        self.done = true;
        if in_angle {
            return Some(Err(start));
        }
        Some(Ok((start, self.s.get(start..).unwrap_or(""))))
    }
}

/// Parse a run of ASCII digits as u64, saturating; `None` when empty or not all digits.
#[inline]
pub(crate) fn parse_u64_saturating(s: &[u8]) -> Option<u64> {
    if s.is_empty() {
        return None;
    }
    let mut v: u64 = 0;
    for &c in s {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v.saturating_mul(10).saturating_add(u64::from(c - b'0'));
    }
    Some(v)
}

/// Parse digits into a u32, `None` on overflow or non-digit.
#[inline]
pub(crate) fn parse_u32(s: &[u8]) -> Option<u32> {
    match parse_u64_saturating(s) {
        Some(v) if v <= u64::from(u32::MAX) => Some(v as u32),
        _ => None,
    }
}

/// Decode `%HH` escapes. Returns the input unchanged (borrowed) when there is none.
pub fn unescape(s: &str) -> std::borrow::Cow<'_, [u8]> {
    let b = s.as_bytes();
    if memchr::memchr(b'%', b).is_none() {
        return std::borrow::Cow::Borrowed(b);
    }
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while let Some(&c) = b.get(i) {
        if c == b'%' {
            if let (Some(h), Some(l)) = (
                b.get(i + 1).and_then(|x| hex(*x)),
                b.get(i + 2).and_then(|x| hex(*x)),
            ) {
                out.push(h * 16 + l);
                i += 3;
                continue;
            }
        }
        out.push(c);
        i += 1;
    }
    std::borrow::Cow::Owned(out)
}

#[inline]
fn hex(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_split_ignores_commas_in_quotes_and_angles() {
        let v: Vec<_> = ListSplit::new(r#""a, b" <sip:x;p=1,2>, <sip:y>"#)
            .map(|r| r.map(|(_, s)| s))
            .collect();
        assert_eq!(v, vec![Ok(r#""a, b" <sip:x;p=1,2>"#), Ok(" <sip:y>")]);
    }

    #[test]
    fn list_split_reports_unterminated_quote() {
        let v: Vec<_> = ListSplit::new(r#""abc <sip:x>"#).collect();
        assert_eq!(v, vec![Err(0)]);
    }

    #[test]
    fn unescape_decodes_hex_pairs_only() {
        assert_eq!(&*unescape("a%41%4a%zz"), b"aAJ%zz");
        assert_eq!(&*unescape("%00x"), b"\0x");
    }

    #[test]
    fn token_class_matches_rfc3261_25_1() {
        assert!(is_token("!interesting-Method0123456789_*+`.%indeed'~"));
        assert!(!is_token("a,b"));
        assert!(!is_token(""));
    }
}
