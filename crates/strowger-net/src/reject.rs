//! Answering what cannot be parsed (RFC 3261 sections 8.2 and 18.3, RFC 4475): a
//! request that fails to parse still gets its 400 (or 505, 513) when the header fields
//! a response copies can be read from the raw bytes, with the parser's error text as
//! the reason phrase. A response that fails to parse, or a request whose Via cannot be
//! read, is dropped.

use bytes::Bytes;
use strowger_message::headers::parse_call_id;
use strowger_message::{new_tag, CSeq, HeaderName, NameAddr, ParseError, Via};

/// Longest reason phrase we write; the parser's messages are well under it.
const MAX_REASON: usize = 200;

/// The response to bytes that failed with `error`, or `None` when there is nobody to
/// answer (a response, or no readable Via).
pub(crate) fn response_to_unparseable(raw: &[u8], error: &ParseError) -> Option<Bytes> {
    let head_end = memfind(raw, b"\r\n\r\n").unwrap_or(raw.len());
    let head = String::from_utf8_lossy(raw.get(..head_end)?);
    let mut lines = unfolded(&head).into_iter();
    let start = lines.next()?;
    // A status line (or garbage that is not a request line) gets no answer.
    if start.starts_with("SIP/") || start.split_ascii_whitespace().count() != 3 {
        return None;
    }
    let mut fields: Vec<(&'static str, String)> = Vec::new();
    let mut via_ok = false;
    let mut to_has_tag = false;
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        if value.chars().any(|c| c.is_control() && c != '\t') {
            continue;
        }
        // Only fields that parse are copied, so that the answer itself parses.
        let canonical = match HeaderName::parse(name.trim()) {
            HeaderName::Via if Via::parse_prefix(value, 0, true).is_ok() => {
                via_ok = true;
                "Via"
            }
            HeaderName::Via if !via_ok => return None,
            HeaderName::From if NameAddr::parse(value).is_ok() => "From",
            HeaderName::To if NameAddr::parse(value).is_ok() => {
                to_has_tag = NameAddr::parse(value).is_ok_and(|t| t.tag().is_some());
                "To"
            }
            HeaderName::CallId if parse_call_id(value).is_ok() => "Call-ID",
            HeaderName::CSeq if CSeq::parse(value).is_ok() => "CSeq",
            _ => continue,
        };
        fields.push((canonical, value.to_string()));
    }
    if !via_ok {
        return None;
    }
    let code = error.status_code();
    let mut reason: String = error
        .to_string()
        .chars()
        .filter(|c| c.is_ascii() && !c.is_ascii_control())
        .take(MAX_REASON)
        .collect();
    if reason.is_empty() {
        reason = "Bad Request".into();
    }
    let mut out = format!("SIP/2.0 {code} {reason}\r\n");
    for (name, value) in fields {
        out.push_str(name);
        out.push_str(": ");
        out.push_str(&value);
        if name == "To" && !to_has_tag {
            out.push_str(";tag=");
            out.push_str(&new_tag());
        }
        out.push_str("\r\n");
    }
    out.push_str("Content-Length: 0\r\n\r\n");
    Some(Bytes::from(out))
}

/// Lines of a header section with folds (section 7.3.1) joined.
fn unfolded(head: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for line in head.split('\n') {
        let line = line.strip_suffix('\r').unwrap_or(line);
        match out.last_mut() {
            Some(prev) if line.starts_with([' ', '\t']) => {
                prev.push(' ');
                prev.push_str(line.trim_start());
            }
            _ => out.push(line.to_string()),
        }
    }
    out
}

fn memfind(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;
    use strowger_message::Message;

    #[test]
    fn a_request_with_a_bad_header_gets_400_naming_it_rfc4475() {
        let raw = b"OPTIONS sip:bob@example.com SIP/2.0\r\n\
            Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1\r\n\
            v: SIP/2.0/UDP 192.0.2.2;branch=z9hG4bK0\r\n\
            To: <sip:bob@example.com>\r\nFrom: <sip:a@example.com>;tag=1\r\n\
            Call-ID: x\r\nCSeq: nope OPTIONS\r\nContent-Length: 0\r\n\r\n";
        let err = Message::parse(&raw[..]).unwrap_err();
        let resp = response_to_unparseable(raw, &err).unwrap();
        let resp = Message::parse(resp).unwrap();
        assert_eq!(resp.status(), Some(400));
        assert!(
            resp.reason().unwrap().contains("CSeq"),
            "{:?}",
            resp.reason()
        );
        assert_eq!(resp.vias().count(), 2);
        assert!(resp.to().unwrap().tag().is_some());
        assert_eq!(resp.call_id(), Some("x"));
        // The broken CSeq is not copied: the answer must parse.
        assert!(resp.cseq().is_none());
    }

    #[test]
    fn responses_and_requests_without_a_via_get_nothing() {
        let err = ParseError::Empty;
        assert!(response_to_unparseable(
            b"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP a;branch=z9hG4bK1\r\n\r\n",
            &err
        )
        .is_none());
        assert!(
            response_to_unparseable(b"OPTIONS sip:a SIP/2.0\r\nTo: <sip:a>\r\n\r\n", &err)
                .is_none()
        );
        assert!(
            response_to_unparseable(b"OPTIONS sip:a SIP/2.0\r\nVia: ???\r\n\r\n", &err).is_none()
        );
        assert!(response_to_unparseable(b"\x00\x01garbage", &err).is_none());
    }
}
