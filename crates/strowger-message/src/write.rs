//! Writing messages in canonical form: long header names in their usual spelling, folds
//! replaced by one SP (section 7.3.1 gives them the same meaning), one SP after the
//! colon. A parsed message that is not changed is written back by
//! [`Message::as_bytes`] instead, byte for byte.

use crate::message::Message;
use crate::name::HeaderName;

/// Replace each run of LWS that contains a line fold by one SP.
pub fn unfold(v: &str) -> std::borrow::Cow<'_, str> {
    if !v.contains(['\r', '\n']) {
        return std::borrow::Cow::Borrowed(v);
    }
    let mut out = String::with_capacity(v.len());
    let mut ws = String::new();
    let mut folded = false;
    for c in v.chars() {
        match c {
            ' ' | '\t' | '\r' | '\n' => {
                folded |= c == '\r' || c == '\n';
                ws.push(c);
            }
            _ => {
                if folded {
                    out.push(' ');
                } else {
                    out.push_str(&ws);
                }
                ws.clear();
                folded = false;
                out.push(c);
            }
        }
    }
    out.into()
}

impl Message {
    /// The message written in canonical form (see the module documentation).
    pub fn to_canonical_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.as_bytes().len());
        out.extend_from_slice(self.start_line().as_bytes());
        out.extend_from_slice(b"\r\n");
        for h in self.headers() {
            let name = if h.name == HeaderName::Other {
                h.raw_name
            } else {
                h.name.as_str()
            };
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(b": ");
            out.extend_from_slice(unfold(h.value).as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(self.body());
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folds_become_one_space_rfc3261_7_3_1() {
        assert_eq!(unfold("a\r\n  b"), "a b");
        assert_eq!(unfold("a  b"), "a  b");
        assert_eq!(unfold("SIP  /   2.0\r\n /UDP"), "SIP  /   2.0 /UDP");
    }

    #[test]
    fn canonical_form_parses_to_the_same_fields() {
        let m = Message::parse(
            &b"OPTIONS sip:a@b SIP/2.0\r\nv: SIP/2.0/UDP h\r\n ;branch=z9hG4bK1\r\nf: <sip:a@b>;tag=1\r\nt: <sip:a@b>\r\ni: x\r\nCSeq: 1 OPTIONS\r\nl: 0\r\n\r\n"[..],
        )
        .unwrap();
        let c = Message::parse(m.to_canonical_bytes()).unwrap();
        assert!(c.as_bytes().starts_with(
            b"OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h ;branch=z9hG4bK1\r\nFrom: "
        ));
        assert_eq!(c.top_via(), m.top_via());
        assert_eq!(c.from(), m.from());
        assert_eq!(c.cseq(), m.cseq());
    }
}
