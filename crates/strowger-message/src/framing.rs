//! Stream framing (RFC 3261 section 18.3) for TCP, TLS and WebSocket-less streams:
//! the end of the header section, then exactly Content-Length octets. CRLF keep-alives
//! (RFC 5626 section 4.4.1) between messages are recognised.

use crate::error::ParseError;
use crate::message::Limits;
use crate::name::HeaderName;

/// What the start of a stream buffer holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Frame {
    /// Not enough bytes yet for a whole message.
    Incomplete,
    /// A CRLF CRLF keep-alive ping of this many bytes: answer with a CRLF pong.
    Ping(usize),
    /// A single CRLF (a keep-alive pong) of this many bytes: consume it.
    Pong(usize),
    /// A whole message occupies this many bytes; pass them to [`crate::Message::parse`].
    Message(usize),
}

/// Find the next frame at the start of `buf`.
///
/// Errors mean the stream cannot be framed any more (no or bad Content-Length, a
/// message over the size limit): the transport answers 400 where it can and closes
/// the connection (RFC 4475 3.1.2.3, 3.3.9).
///
/// ```
/// use strowger_message::{frame, Frame, Limits};
/// let l = Limits::default();
/// assert_eq!(frame(b"\r\n\r\n", &l).unwrap(), Frame::Ping(4));
/// let m = b"OPTIONS sip:a@b SIP/2.0\r\nContent-Length: 2\r\n\r\nhiINVITE";
/// assert_eq!(frame(m, &l).unwrap(), Frame::Message(m.len() - 6));
/// assert_eq!(frame(&m[..20], &l).unwrap(), Frame::Incomplete);
/// ```
pub fn frame(buf: &[u8], limits: &Limits) -> Result<Frame, ParseError> {
    if buf.starts_with(b"\r\n\r\n") {
        return Ok(Frame::Ping(4));
    }
    if buf.starts_with(b"\r\n") {
        return Ok(Frame::Pong(2));
    }
    if buf.is_empty() || buf == b"\r" {
        return Ok(Frame::Incomplete);
    }
    let (head_end, body_start) = match find_header_end(buf) {
        Some(x) => x,
        None => {
            if buf.len() > limits.max_message_size {
                return Err(ParseError::TooLarge {
                    size: buf.len(),
                    limit: limits.max_message_size,
                });
            }
            return Ok(Frame::Incomplete);
        }
    };
    let mut content_length: Option<usize> = None;
    for line in buf[..head_end].split(|&c| c == b'\n').skip(1) {
        let Some(colon) = memchr::memchr(b':', line) else {
            continue;
        };
        if matches!(line.first(), Some(b' ' | b'\t')) {
            continue;
        }
        let name = trim(&line[..colon]);
        if HeaderName::from_bytes(name) != HeaderName::ContentLength {
            continue;
        }
        let value = trim(&line[colon + 1..]);
        let n = crate::scan::parse_u64_saturating(value)
            .filter(|n| *n <= limits.max_message_size as u64)
            .ok_or_else(|| {
                ParseError::header(
                    "Content-Length",
                    colon + 1,
                    "Content-Length is not a number within the message size limit",
                )
            })? as usize;
        if content_length.is_some() {
            return Err(ParseError::header(
                "Content-Length",
                colon + 1,
                "Content-Length appears more than once",
            ));
        }
        content_length = Some(n);
    }
    let n = content_length.ok_or_else(|| {
        ParseError::header(
            "Content-Length",
            head_end,
            "Content-Length is mandatory on stream transports (RFC 3261 18.3)",
        )
    })?;
    let total = body_start + n;
    if total > limits.max_message_size {
        return Err(ParseError::TooLarge {
            size: total,
            limit: limits.max_message_size,
        });
    }
    if buf.len() < total {
        return Ok(Frame::Incomplete);
    }
    Ok(Frame::Message(total))
}

fn trim(s: &[u8]) -> &[u8] {
    let a = s
        .iter()
        .position(|c| !c.is_ascii_whitespace())
        .unwrap_or(s.len());
    let b = s
        .iter()
        .rposition(|c| !c.is_ascii_whitespace())
        .map_or(a, |p| p + 1);
    s.get(a..b).unwrap_or_default()
}

/// (end of the last header line, start of the body); bare LF line ends tolerated.
fn find_header_end(buf: &[u8]) -> Option<(usize, usize)> {
    let mut from = 0;
    while let Some(p) = memchr::memchr(b'\n', buf.get(from..)?) {
        let nl = from + p;
        match buf.get(nl + 1) {
            Some(b'\n') => return Some((nl, nl + 2)),
            Some(b'\r') if buf.get(nl + 2) == Some(&b'\n') => return Some((nl, nl + 3)),
            Some(_) => from = nl + 1,
            None => return None,
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const L: Limits = Limits {
        max_message_size: 65_535,
        max_headers: 256,
        max_line_length: 16_384,
    };

    #[test]
    fn keepalives_between_messages_rfc5626_4_4_1() {
        assert_eq!(frame(b"\r\n\r\nINVITE", &L).unwrap(), Frame::Ping(4));
        assert_eq!(frame(b"\r\nINVITE", &L).unwrap(), Frame::Pong(2));
        assert_eq!(frame(b"", &L).unwrap(), Frame::Incomplete);
    }

    #[test]
    fn stream_needs_content_length_rfc3261_18_3() {
        assert!(frame(b"OPTIONS sip:a@b SIP/2.0\r\nVia: x\r\n\r\n", &L).is_err());
    }

    #[test]
    fn negative_or_duplicate_content_length_breaks_framing_rfc4475_3_1_2_3() {
        assert!(frame(b"A sip:a SIP/2.0\r\nContent-Length: -999\r\n\r\n", &L).is_err());
        assert!(frame(
            b"A sip:a SIP/2.0\r\nl: 5\r\nContent-Length: 13\r\n\r\nxxxxx",
            &L
        )
        .is_err());
    }

    #[test]
    fn body_is_exactly_content_length_and_waits_for_more() {
        let m = b"A sip:a SIP/2.0\r\nl: 4\r\n\r\nabc";
        assert_eq!(frame(m, &L).unwrap(), Frame::Incomplete);
        let m = b"A sip:a SIP/2.0\r\nl: 4\r\n\r\nabcdNEXT";
        assert_eq!(frame(m, &L).unwrap(), Frame::Message(m.len() - 4));
    }

    #[test]
    fn oversized_stream_is_refused() {
        let big = vec![b'a'; 70_000];
        assert!(frame(&big, &L).is_err());
        assert!(frame(b"A sip:a SIP/2.0\r\nl: 99999\r\n\r\n", &L).is_err());
    }
}
