//! Parameters: the `;name=value` lists of URIs (RFC 3261 section 19.1.1) and of header
//! fields (section 25.1, `generic-param`).
//!
//! Parameters are validated once, when the message is parsed; afterwards a [`Params`] is
//! a borrowed view that is iterated without allocating.

use crate::error::FieldError;
use crate::scan::{self, is, skip_ws, PARAMCHAR, TOKEN};

/// One parameter. `value` is `None` for a parameter without `=` (like `lr`); a quoted
/// value is given without its quotes (quoted-pairs are left as they are).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Param<'a> {
    pub name: &'a str,
    pub value: Option<&'a str>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Uri,
    Header,
}

/// A validated parameter list. For URIs the text is exactly as on the wire; for header
/// fields white space around `;` and `=` is skipped when iterating.
///
/// Equality compares the parameters in order (names and values as written, white
/// space ignored); URI equality of section 19.1.4 is [`crate::Uri`]'s.
#[derive(Clone, Copy)]
pub struct Params<'a> {
    /// Text after the first `;`, or empty.
    raw: &'a str,
    kind: Kind,
}

impl PartialEq for Params<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.iter().eq(other.iter())
    }
}

impl Eq for Params<'_> {}

impl std::fmt::Debug for Params<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl<'a> Params<'a> {
    pub(crate) const EMPTY_URI: Params<'static> = Params {
        raw: "",
        kind: Kind::Uri,
    };
    pub(crate) const EMPTY_HEADER: Params<'static> = Params {
        raw: "",
        kind: Kind::Header,
    };

    pub(crate) fn uri(raw: &'a str) -> Self {
        Params {
            raw,
            kind: Kind::Uri,
        }
    }

    pub(crate) fn header(raw: &'a str) -> Self {
        Params {
            raw,
            kind: Kind::Header,
        }
    }

    /// The parameters as written, without the leading `;`.
    pub fn as_str(&self) -> &'a str {
        self.raw
    }

    pub fn is_empty(&self) -> bool {
        self.raw.is_empty()
    }

    pub fn iter(&self) -> ParamIter<'a> {
        ParamIter {
            s: self.raw,
            pos: 0,
            kind: self.kind,
        }
    }

    /// The parameter named `name` (case-insensitive, as RFC 3261 section 7.3.1 says of
    /// parameter names). URI parameter names are compared with their escapes decoded:
    /// `%6C%72` is `lr` (section 19.1.4, RFC 4475 3.1.1.3).
    pub fn get(&self, name: &str) -> Option<Param<'a>> {
        self.iter().find(|p| {
            p.name.eq_ignore_ascii_case(name)
                || (self.kind == Kind::Uri
                    && (p.name.contains('%') || name.contains('%'))
                    && scan::unescape(p.name).eq_ignore_ascii_case(&scan::unescape(name)))
        })
    }

    /// The value of the parameter named `name`; `None` when absent or valueless.
    pub fn value(&self, name: &str) -> Option<&'a str> {
        self.get(name).and_then(|p| p.value)
    }

    pub fn contains(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    pub fn len(&self) -> usize {
        self.iter().count()
    }
}

impl<'a> IntoIterator for Params<'a> {
    type Item = Param<'a>;
    type IntoIter = ParamIter<'a>;
    fn into_iter(self) -> ParamIter<'a> {
        self.iter()
    }
}

#[derive(Debug, Clone)]
pub struct ParamIter<'a> {
    s: &'a str,
    pos: usize,
    kind: Kind,
}

impl<'a> Iterator for ParamIter<'a> {
    type Item = Param<'a>;

    fn next(&mut self) -> Option<Param<'a>> {
        let b = self.s.as_bytes();
        if self.pos >= b.len() {
            return None;
        }
        let mut i = if self.kind == Kind::Header {
            skip_ws(b, self.pos)
        } else {
            self.pos
        };
        let name_start = i;
        while let Some(&c) = b.get(i) {
            if c == b';' || c == b'=' || (self.kind == Kind::Header && scan::is_ws(c)) {
                break;
            }
            i += 1;
        }
        let name = self.s.get(name_start..i).unwrap_or("");
        if self.kind == Kind::Header {
            i = skip_ws(b, i);
        }
        let mut value = None;
        if b.get(i) == Some(&b'=') {
            i += 1;
            if self.kind == Kind::Header {
                i = skip_ws(b, i);
            }
            let v_start = i;
            if b.get(i) == Some(&b'"') {
                let end = scan::skip_quoted(b, i).unwrap_or(b.len());
                value = self.s.get(v_start + 1..end.saturating_sub(1));
                i = end;
            } else {
                while let Some(&c) = b.get(i) {
                    if c == b';' || (self.kind == Kind::Header && scan::is_ws(c)) {
                        break;
                    }
                    i += 1;
                }
                value = self.s.get(v_start..i);
            }
        }
        // Move past trailing white space and the separating ';'.
        while let Some(&c) = b.get(i) {
            i += 1;
            if c == b';' {
                break;
            }
        }
        self.pos = i;
        Some(Param { name, value })
    }
}

/// Validate URI parameters: `s` starts just after the first `;`. Each parameter is
/// `pname [ "=" pvalue ]`, both made of paramchar (RFC 3261 section 25.1).
pub(crate) fn validate_uri_params(s: &str) -> Result<(), FieldError> {
    let end = scan_uri_params(s.as_bytes(), 0)?;
    if end != s.len() {
        return Err(FieldError::new(end, "invalid character in URI parameter"));
    }
    Ok(())
}

/// Scan paramchar (with `%HH` escapes) from `i`; returns the end.
#[inline]
fn scan_paramchars(b: &[u8], mut i: usize) -> Result<usize, FieldError> {
    while let Some(&c) = b.get(i) {
        if c == b'%' {
            match (b.get(i + 1), b.get(i + 2)) {
                (Some(h), Some(l)) if h.is_ascii_hexdigit() && l.is_ascii_hexdigit() => i += 3,
                _ => return Err(FieldError::new(i, "invalid % escape in URI parameter")),
            }
        } else if is(c, PARAMCHAR) {
            i += 1;
        } else {
            break;
        }
    }
    Ok(i)
}

/// Scan URI parameters from `b[i]` (just after the first `;`) in one pass; returns the
/// index of the first byte that is not part of them (`?`, `>` or the end).
pub(crate) fn scan_uri_params(b: &[u8], mut i: usize) -> Result<usize, FieldError> {
    loop {
        let n = i;
        i = scan_paramchars(b, i)?;
        if i == n {
            return Err(FieldError::new(n, "empty URI parameter"));
        }
        if b.get(i) == Some(&b'=') {
            let v = i + 1;
            i = scan_paramchars(b, v)?;
            if i == v {
                return Err(FieldError::new(v, "URI parameter value is empty"));
            }
        }
        if b.get(i) != Some(&b';') {
            return Ok(i);
        }
        i += 1;
    }
}

/// Characters accepted in an unquoted header parameter value: token, plus the `:` `[`
/// `]` of an IPv6 address (`host` in gen-value) and, for robustness as mature stacks do,
/// `/` `@` `?`, which real equipment puts in unquoted values.
#[inline]
fn is_gen_value_char(c: u8) -> bool {
    is(c, TOKEN) || matches!(c, b':' | b'[' | b']' | b'/' | b'@' | b'?')
}

/// Validate header parameters from `s[i] == ';'` to the end of `s` (only white space may
/// follow the last parameter). Returns the offset of the text after the first `;`.
#[cfg(test)]
pub(crate) fn validate_header_params(s: &str, i: usize) -> Result<usize, FieldError> {
    let mut first = 0;
    let (_, end) = scan_header_params(s, i, false, &mut |_, _| Ok(()))?;
    if end != s.len() {
        return Err(FieldError::new(end, "unexpected text after the parameters"));
    }
    if let Some(p) = s.get(i..).and_then(|x| x.find(';')) {
        first = i + p + 1;
    }
    Ok(first.min(s.len()))
}

/// Scan header parameters starting at `s[i] == ';'` in one pass, calling `check` on each
/// `(name, value)` (value unquoted). Stops at the end of `s`, or at a `,` outside quotes
/// when `stop_at_comma` (the next element of a list). Returns the parameters and the
/// index where scanning stopped (after trailing white space).
pub(crate) fn scan_header_params<'a>(
    s: &'a str,
    i: usize,
    stop_at_comma: bool,
    check: &mut dyn FnMut(&'a str, Option<&'a str>) -> Result<(), &'static str>,
) -> Result<(Params<'a>, usize), FieldError> {
    let b = s.as_bytes();
    let first = i + 1;
    let mut last_end = first;
    let mut i = i;
    loop {
        match b.get(i) {
            None => break,
            Some(b',') if stop_at_comma => break,
            Some(b';') => {}
            Some(_) => return Err(FieldError::new(i, "expected ';' before a parameter")),
        }
        i = skip_ws(b, i + 1);
        let n = i;
        while b.get(i).is_some_and(|&c| is(c, TOKEN)) {
            i += 1;
        }
        if i == n {
            return Err(FieldError::new(n, "empty or invalid parameter name"));
        }
        let name = &s[n..i];
        let mut value = None;
        last_end = i;
        i = skip_ws(b, i);
        if b.get(i) == Some(&b'=') {
            i = skip_ws(b, i + 1);
            let v = i;
            match b.get(i) {
                Some(b'"') => {
                    i = scan::skip_quoted(b, i)
                        .ok_or(FieldError::new(i, "unterminated quoted parameter value"))?;
                    value = s.get(v + 1..i - 1);
                }
                _ => {
                    while b.get(i).is_some_and(|&c| is_gen_value_char(c)) {
                        i += 1;
                    }
                    if i == v {
                        return Err(FieldError::new(v, "parameter value is missing"));
                    }
                    value = s.get(v..i);
                }
            }
            last_end = i;
            i = skip_ws(b, i);
        }
        check(name, value).map_err(|r| FieldError::new(n, r))?;
    }
    let raw = s.get(first.min(last_end)..last_end).unwrap_or("");
    Ok((Params::header(raw), i))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_params_allow_lws_around_separators_rfc3261_25_1() {
        let s = " ;   tag    = 1918181833n";
        let at = validate_header_params(s, 1).unwrap();
        let p = Params::header(&s[at..]);
        assert_eq!(p.value("TAG"), Some("1918181833n"));
    }

    #[test]
    fn header_params_reject_empty_parameter() {
        assert!(validate_header_params(";;a", 0).is_err());
        assert!(validate_header_params(";a;", 0).is_err());
        assert!(validate_header_params(";a=", 0).is_err());
    }

    #[test]
    fn quoted_values_are_returned_without_quotes() {
        let s = r#";+sip.instance="<urn:uuid:1;2>";reg-id=1"#;
        validate_header_params(s, 0).unwrap();
        let p = Params::header(&s[1..]);
        assert_eq!(p.value("+sip.instance"), Some("<urn:uuid:1;2>"));
        assert_eq!(p.value("reg-id"), Some("1"));
        assert_eq!(p.len(), 2);
    }

    #[test]
    fn uri_params_valueless_and_escaped() {
        validate_uri_params("lr;transport=tcp;x=%41").unwrap();
        let p = Params::uri("lr;transport=tcp;x=%41");
        assert!(p.contains("LR"));
        assert_eq!(p.get("lr").unwrap().value, None);
        assert_eq!(p.value("transport"), Some("tcp"));
        assert!(validate_uri_params("lr;;x").is_err());
        assert!(validate_uri_params("a b").is_err());
        assert!(validate_uri_params("x=%4").is_err());
    }

    #[test]
    fn uri_param_names_match_unescaped_rfc4475_3_1_1_3() {
        let p = Params::uri("%6C%72;n%61me=v%61lue%25%34%31");
        assert!(p.contains("lr"));
        assert_eq!(p.value("NAME"), Some("v%61lue%25%34%31"));
        assert_eq!(Params::uri("lr").get("%6c%72").map(|x| x.name), Some("lr"));
        // Header parameters carry no escapes.
        assert!(!Params::header("%6C%72").contains("lr"));
    }
}
