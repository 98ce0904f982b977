//! Changing a message: what a proxy (section 16.6) and the transport layer (18.2.1) do
//! to a request before sending it on, and what a UA does to a copy.
//!
//! An [`Editor`] records changes and [`Editor::finish`] writes new bytes: lines that
//! are not touched are copied as they were (folds and odd spellings included), changed
//! lines are written in canonical form, and Content-Length is always written last with
//! the right value (section 18.3 makes it mandatory on streams). Every value the
//! editor writes is checked like one from the wire; the lines copied from the original
//! were checked when it was parsed, and are only indexed again.

use crate::builder::clean;
use crate::error::ParseError;
use crate::headers::split_list;
use crate::message::{check_header, Header, Message};
use crate::name::HeaderName;

#[derive(Debug, Clone)]
enum Op {
    /// Insert a line before the first line of this name (or at the top).
    InsertFirst(String, String),
    /// Add a line at the end of the header section.
    Push(String, String),
    RemoveAll(String),
    RemoveFirstValue(String),
    ReplaceFirstValue(String, String),
    /// Replace every line of the name by one line.
    Set(String, String),
}

/// Changes to a [`Message`]; see the module documentation.
///
/// ```
/// use strowger_message::{Message, HeaderName};
/// let m = Message::parse(&b"INVITE sip:bob@example.com SIP/2.0\r\n\
///     Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1\r\nMax-Forwards: 70\r\n\
///     Route: <sip:p1.example.com;lr>, <sip:p2.example.com;lr>\r\n\
///     To: <sip:bob@example.com>\r\nFrom: <sip:a@example.com>;tag=1\r\n\
///     Call-ID: c1\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n"[..]).unwrap();
/// let fwd = m.edit()
///     .insert_first("Via", "SIP/2.0/UDP p1.example.com;branch=z9hG4bKp1")
///     .set("Max-Forwards", "69")
///     .remove_first_value("Route")
///     .finish()
///     .unwrap();
/// assert_eq!(fwd.top_via_branch(), Some("z9hG4bKp1"));
/// assert_eq!(fwd.vias().count(), 2);
/// assert_eq!(fwd.max_forwards(), Some(69));
/// assert_eq!(fwd.routes().count(), 1);
/// ```
#[derive(Debug, Clone)]
pub struct Editor<'m> {
    msg: &'m Message,
    request_uri: Option<String>,
    ops: Vec<Op>,
    body: Option<(Option<String>, Vec<u8>)>,
}

/// Strip CR and LF so an edited value cannot inject header lines.
/// `kind` is `HeaderName::parse(name)`, looked up once per operation: comparing each
/// line with each operation looked it up again for every pair, 2 % of a proxied call.
fn same_name(h: &Header<'_>, name: &str, kind: HeaderName) -> bool {
    if kind == HeaderName::Other {
        h.name == HeaderName::Other && h.raw_name.eq_ignore_ascii_case(name)
    } else {
        h.name == kind
    }
}

fn canonical(name: &str) -> &str {
    match HeaderName::parse(name) {
        HeaderName::Other => name,
        k => k.as_str(),
    }
}

fn line(out: &mut Vec<u8>, name: &str, value: &str) {
    out.extend_from_slice(canonical(name).as_bytes());
    out.extend_from_slice(b": ");
    out.extend_from_slice(value.as_bytes());
    out.extend_from_slice(b"\r\n");
}

impl Message {
    /// Start changing a copy of this message.
    pub fn edit(&self) -> Editor<'_> {
        Editor {
            msg: self,
            request_uri: None,
            ops: Vec::new(),
            body: None,
        }
    }
}

impl<'m> Editor<'m> {
    /// Replace the Request-URI (requests only; ignored for responses).
    pub fn request_uri(mut self, uri: &str) -> Self {
        self.request_uri = Some(clean(uri));
        self
    }

    /// Insert a header line above the first line of the same name, or at the top of the
    /// header section when there is none (a proxy's Via and Record-Route, 16.6).
    pub fn insert_first(mut self, name: &str, value: &str) -> Self {
        self.ops.push(Op::InsertFirst(clean(name), clean(value)));
        self
    }

    /// Add a header line at the end of the header section.
    pub fn push(mut self, name: &str, value: &str) -> Self {
        self.ops.push(Op::Push(clean(name), clean(value)));
        self
    }

    /// Remove every line of a header field.
    pub fn remove_all(mut self, name: &str) -> Self {
        self.ops.push(Op::RemoveAll(clean(name)));
        self
    }

    /// Remove the first value of a header field (the top Route of 16.4/16.6, the top
    /// Via of a response, 16.7 step 3), keeping the rest of its line.
    pub fn remove_first_value(mut self, name: &str) -> Self {
        self.ops.push(Op::RemoveFirstValue(clean(name)));
        self
    }

    /// Replace the first value of a header field (the top Via with `received`).
    pub fn replace_first_value(mut self, name: &str, value: &str) -> Self {
        self.ops
            .push(Op::ReplaceFirstValue(clean(name), clean(value)));
        self
    }

    /// Replace every line of a header field by one line with this value.
    pub fn set(mut self, name: &str, value: &str) -> Self {
        self.ops.push(Op::Set(clean(name), clean(value)));
        self
    }

    /// Replace the body; with a content type, Content-Type is replaced too.
    pub fn body(mut self, content_type: Option<&str>, body: impl Into<Vec<u8>>) -> Self {
        self.body = Some((content_type.map(clean), body.into()));
        self
    }

    /// Write the changed message and parse it.
    pub fn finish(self) -> Result<Message, ParseError> {
        let m = self.msg;
        for op in &self.ops {
            match op {
                Op::InsertFirst(n, v)
                | Op::Push(n, v)
                | Op::ReplaceFirstValue(n, v)
                | Op::Set(n, v) => check_header(n, v)?,
                Op::RemoveAll(_) | Op::RemoveFirstValue(_) => {}
            }
        }
        if let Some((Some(ct), _)) = &self.body {
            check_header("Content-Type", ct)?;
        }
        let (body, content_type): (&[u8], Option<&str>) = match &self.body {
            Some((ct, b)) => (b, ct.as_deref()),
            None => (m.body(), None),
        };
        let mut out = Vec::with_capacity(m.as_bytes().len() + 256);
        match (&self.request_uri, m.method()) {
            (Some(uri), Some(method)) => {
                out.extend_from_slice(method.as_str().as_bytes());
                out.push(b' ');
                out.extend_from_slice(uri.as_bytes());
                out.push(b' ');
                out.extend_from_slice(m.version().as_bytes());
            }
            _ => out.extend_from_slice(m.start_line().as_bytes()),
        }
        out.extend_from_slice(b"\r\n");

        let lines: Vec<(Header<'_>, &[u8])> = m.raw_lines().collect();
        let kinds: Vec<HeaderName> = self
            .ops
            .iter()
            .map(|op| match op {
                Op::InsertFirst(n, _)
                | Op::Push(n, _)
                | Op::RemoveAll(n)
                | Op::RemoveFirstValue(n)
                | Op::ReplaceFirstValue(n, _)
                | Op::Set(n, _) => HeaderName::parse(n),
            })
            .collect();
        // Insertions whose header does not occur go to the top.
        for op in &self.ops {
            if let Op::InsertFirst(n, v) = op {
                if !lines
                    .iter()
                    .any(|(h, _)| same_name(h, n, HeaderName::parse(n)))
                {
                    line(&mut out, n, v);
                }
            }
        }
        let mut seen: Vec<&str> = Vec::new();
        for (h, raw) in &lines {
            if h.name == HeaderName::ContentLength
                || (content_type.is_some() && h.name == HeaderName::ContentType)
            {
                continue;
            }
            let first_of_name = !lines
                .iter()
                .take_while(|(x, _)| !std::ptr::eq(x.raw_name, h.raw_name))
                .any(|(x, _)| {
                    x.name == h.name
                        && (h.name != HeaderName::Other
                            || x.raw_name.eq_ignore_ascii_case(h.raw_name))
                });
            let mut skip = false;
            let mut value: Option<String> = None;
            for (op, &kind) in self.ops.iter().zip(&kinds) {
                let same_name = |h: &Header<'_>, n: &str| same_name(h, n, kind);
                match op {
                    Op::InsertFirst(n, v) if first_of_name && same_name(h, n) => {
                        line(&mut out, n, v);
                    }
                    Op::RemoveAll(n) if same_name(h, n) => skip = true,
                    Op::Set(n, v) if same_name(h, n) => {
                        if !seen.contains(&n.as_str()) {
                            line(&mut out, n, v);
                            seen.push(n);
                        }
                        skip = true;
                    }
                    Op::RemoveFirstValue(n) if first_of_name && same_name(h, n) => {
                        let current = value.clone().unwrap_or_else(|| h.value.to_string());
                        let rest: Vec<&str> = split_list(&current).skip(1).collect();
                        if rest.is_empty() {
                            skip = true;
                        } else {
                            value = Some(rest.join(", "));
                        }
                    }
                    Op::ReplaceFirstValue(n, v) if first_of_name && same_name(h, n) => {
                        let current = value.clone().unwrap_or_else(|| h.value.to_string());
                        let mut vals: Vec<String> =
                            split_list(&current).map(str::to_string).collect();
                        if let Some(f) = vals.first_mut() {
                            *f = v.clone();
                        }
                        value = Some(vals.join(", "));
                    }
                    _ => {}
                }
            }
            if skip {
                continue;
            }
            match value {
                Some(v) => {
                    let name = if h.name == HeaderName::Other {
                        h.raw_name
                    } else {
                        h.name.as_str()
                    };
                    line(&mut out, name, &v);
                }
                None => out.extend_from_slice(raw),
            }
        }
        // `set` for a header that was not there adds it.
        for op in &self.ops {
            match op {
                Op::Set(n, v) if !seen.contains(&n.as_str()) => line(&mut out, n, v),
                Op::Push(n, v) => line(&mut out, n, v),
                _ => {}
            }
        }
        if let Some(ct) = content_type {
            line(&mut out, "Content-Type", ct);
        }
        line(&mut out, "Content-Length", &body.len().to_string());
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(body);
        Message::parse_trusted_like(out, Some(m))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_the_editor_writes_are_checked_like_the_wire() {
        let m = invite();
        for (name, bad) in [
            ("Via", "SIP/2.0/UDP"),
            ("Record-Route", "<sip:p.example.com;lr"),
            ("Max-Forwards", "many"),
            ("CSeq", "1"),
        ] {
            let e = m.edit().insert_first(name, bad).finish().unwrap_err();
            assert!(e.to_string().contains(name), "{name}: {e}");
        }
        let e = m.edit().set("Contact", "<sip:a@b").finish().unwrap_err();
        assert!(e.to_string().contains("Contact"), "{e}");
        // What is written and what was copied reads back the same as a full parse.
        let ok = m
            .edit()
            .insert_first("Via", "SIP/2.0/UDP p.example.com;branch=z9hG4bKx")
            .insert_first("Record-Route", "<sip:p.example.com;lr>")
            .finish()
            .unwrap();
        let full = Message::parse(ok.to_bytes()).unwrap();
        assert_eq!(ok.top_via_branch(), Some("z9hG4bKx"));
        assert_eq!(ok.top_via_branch(), full.top_via_branch());
        assert_eq!(ok.from_tag(), full.from_tag());
        assert_eq!(ok.cseq(), full.cseq());
        assert_eq!(
            ok.get(HeaderName::Via).count(),
            full.get(HeaderName::Via).count()
        );
    }

    fn invite() -> Message {
        Message::parse(
            &b"INVITE sip:bob@example.com SIP/2.0\r\n\
v: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1, SIP/2.0/UDP 192.0.2.9;branch=z9hG4bK0\r\n\
Max-Forwards: 70\r\nRoute: <sip:p1.example.com;lr>\r\nRoute: <sip:p2.example.com;lr>\r\n\
To: <sip:bob@example.com>\r\nFrom: \"A\"\r\n <sip:a@example.com>;tag=1\r\n\
Call-ID: c1\r\nCSeq: 1 INVITE\r\nX-Odd:  kept   as is \r\nl: 4\r\n\r\nbody"[..],
        )
        .unwrap()
    }

    /// `finish` moves the tags and the branch of fields it copies instead of parsing
    /// them again; fields it changes are parsed. Either way the edit reads as a parse
    /// of its bytes reads (debug builds also compare the two in `parse_trusted_like`).
    #[test]
    fn copied_and_changed_fields_read_as_a_parse_of_the_edit() {
        let m = invite();
        let kept = m
            .edit()
            .insert_first("Record-Route", "<sip:p0.example.com;lr>")
            .set("Max-Forwards", "69")
            .finish()
            .unwrap();
        let changed = m
            .edit()
            .request_uri("sip:carol@example.net")
            .set("To", "<sip:bob@example.com>;tag=t2")
            .set("From", "<sip:a@example.com>;tag=f2")
            .set("CSeq", "7 INVITE")
            .insert_first("Via", "SIP/2.0/UDP p0.example.com;branch=z9hG4bKp0")
            .finish()
            .unwrap();
        for e in [&kept, &changed] {
            let parsed = Message::parse(e.as_bytes().to_vec()).unwrap();
            assert_eq!(e.top_via_branch(), parsed.top_via_branch());
            assert_eq!(e.from_tag(), parsed.from_tag());
            assert_eq!(e.to_tag(), parsed.to_tag());
            assert_eq!(e.cseq(), parsed.cseq());
            assert_eq!(e.request_uri_str(), parsed.request_uri_str());
        }
        assert_eq!(kept.top_via_branch(), Some("z9hG4bK1"));
        assert_eq!((kept.from_tag(), kept.to_tag()), (Some("1"), None));
        assert_eq!(changed.top_via_branch(), Some("z9hG4bKp0"));
        assert_eq!(
            (changed.from_tag(), changed.to_tag()),
            (Some("f2"), Some("t2"))
        );
        assert_eq!(changed.cseq().map(|c| c.seq), Some(7));
        assert_eq!(changed.request_uri_str(), Some("sip:carol@example.net"));
    }

    #[test]
    fn untouched_lines_are_copied_byte_for_byte() {
        let m = invite();
        let e = m.edit().finish().unwrap();
        // Only Content-Length is rewritten (long form, last).
        let text = String::from_utf8(e.as_bytes().to_vec()).unwrap();
        assert!(text.contains("From: \"A\"\r\n <sip:a@example.com>;tag=1\r\n"));
        assert!(text.contains("X-Odd:  kept   as is \r\n"));
        assert!(text.ends_with("Content-Length: 4\r\n\r\nbody"));
        assert_eq!(e.body(), b"body");
    }

    #[test]
    fn proxy_forwarding_edits_rfc3261_16_6() {
        let m = invite();
        let f = m
            .edit()
            .request_uri("sip:bob@192.0.2.4:5062")
            .insert_first("Via", "SIP/2.0/TCP proxy.example.com;branch=z9hG4bKp")
            .insert_first("Record-Route", "<sip:proxy.example.com;lr>")
            .set("Max-Forwards", "69")
            .remove_first_value("Route")
            .finish()
            .unwrap();
        assert_eq!(f.request_uri_str(), Some("sip:bob@192.0.2.4:5062"));
        let vias: Vec<_> = f.vias().map(|v| v.branch().unwrap().to_string()).collect();
        assert_eq!(vias, ["z9hG4bKp", "z9hG4bK1", "z9hG4bK0"]);
        assert_eq!(f.max_forwards(), Some(69));
        let routes: Vec<_> = f.routes().map(|r| r.uri.as_str().to_string()).collect();
        assert_eq!(routes, ["sip:p2.example.com;lr"]);
        assert_eq!(f.record_routes().count(), 1);
        f.validate().unwrap();
    }

    #[test]
    fn removing_the_top_via_of_a_response_keeps_the_rest_rfc3261_16_7() {
        let m = invite();
        let f = m.edit().remove_first_value("Via").finish().unwrap();
        let vias: Vec<_> = f.vias().map(|v| v.branch().unwrap().to_string()).collect();
        assert_eq!(vias, ["z9hG4bK0"]);
        let f = f.edit().remove_first_value("v").finish().unwrap();
        assert_eq!(f.vias().count(), 0);
    }

    #[test]
    fn replacing_the_top_via_keeps_the_others_rfc3261_18_2_1() {
        let m = invite();
        let f = m
            .edit()
            .replace_first_value(
                "Via",
                "SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1;received=198.51.100.7",
            )
            .finish()
            .unwrap();
        assert_eq!(f.top_via().unwrap().received(), Some("198.51.100.7"));
        assert_eq!(f.vias().count(), 2);
    }

    #[test]
    fn body_replacement_fixes_content_length_and_type() {
        let m = invite();
        let f = m
            .edit()
            .body(Some("application/sdp"), &b"v=0\r\n"[..])
            .finish()
            .unwrap();
        assert_eq!(f.content_length(), Some(5));
        assert_eq!(f.content_type().unwrap().subtype, "sdp");
        assert_eq!(f.body(), b"v=0\r\n");
    }

    #[test]
    fn injected_crlf_cannot_add_lines() {
        let m = invite();
        let f = m.edit().set("Subject", "hi\r\nEvil: 1").finish().unwrap();
        assert!(f.header("Evil").is_none());
        assert_eq!(f.header("Subject"), Some("hiEvil: 1"));
    }
}
