//! Shared code for the parser comparison: the four messages, one `parse` and one `read`
//! per parser, and the start-up check that every parser reads the expected values.
//!
//! The same functions are used by the criterion benchmark (`benches/parsers.rs`) and by
//! the callgrind driver (`src/bin/callgrind_one.rs`), so both measure the same code.
//!
//! "read" means the three fields a transaction layer needs first: the branch of the top
//! Via, the CSeq number and method, and the From tag. Each parser is read through its
//! own idiomatic typed API; nothing is copied into owned strings beyond what that API
//! itself does (rsip and rsipstack parse a typed header out of an owned clone of the
//! header value; strowger-message borrows from the message buffer).

use bytes::Bytes;

/// One test message: its name (also the criterion group and the file name under
/// `messages/`), its bytes, and the values every parser must read from it.
#[derive(Debug, Clone, Copy)]
pub struct Sample {
    pub name: &'static str,
    pub bytes: &'static [u8],
    pub expected: Expected,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Expected {
    pub branch: &'static str,
    pub seq: u32,
    pub method: &'static str,
    pub from_tag: &'static str,
}

/// The fields as read by one parser, owned, for comparison outside the timed loop.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fields {
    pub branch: Option<String>,
    pub seq: Option<u32>,
    pub method: Option<String>,
    pub from_tag: Option<String>,
}

impl Fields {
    pub fn matches(&self, e: &Expected) -> bool {
        self.branch.as_deref() == Some(e.branch)
            && self.seq == Some(e.seq)
            && self.method.as_deref() == Some(e.method)
            && self.from_tag.as_deref() == Some(e.from_tag)
    }
}

pub const SAMPLES: [Sample; 4] = [
    Sample {
        name: "invite",
        bytes: include_bytes!("../messages/invite.sip"),
        expected: Expected {
            branch: "z9hG4bK-524287-1---8a3f0c2d9e7b41f6",
            seq: 1,
            method: "INVITE",
            from_tag: "9fxced76sl",
        },
    },
    Sample {
        name: "ok200",
        bytes: include_bytes!("../messages/ok200.sip"),
        expected: Expected {
            branch: "z9hG4bK-524287-1---8a3f0c2d9e7b41f6",
            seq: 1,
            method: "INVITE",
            from_tag: "9fxced76sl",
        },
    },
    Sample {
        name: "register",
        bytes: include_bytes!("../messages/register.sip"),
        expected: Expected {
            branch: "z9hG4bK-524287-1---d1c6a0e2b54f37a9",
            seq: 2,
            method: "REGISTER",
            from_tag: "a73kszlfl",
        },
    },
    Sample {
        name: "proxy_invite",
        bytes: include_bytes!("../messages/proxy_invite.sip"),
        expected: Expected {
            branch: "z9hG4bK8f2e.6b1d9a7c3e5f0b2d4a6c8e1f3a5b7d9e.0",
            seq: 1,
            method: "INVITE",
            from_tag: "9fxced76sl",
        },
    },
];

pub fn sample(name: &str) -> Option<&'static Sample> {
    SAMPLES.iter().find(|s| s.name == name)
}

pub const PARSERS: [&str; 3] = ["strowger", "rsip", "rsipstack"];

/// strowger-message: `Message::parse(Bytes)`; the buffer is shared, not copied.
pub mod strowger {
    use bytes::Bytes;
    pub use strowger_message::Message;

    #[inline]
    pub fn parse(input: &Bytes) -> Result<Message, strowger_message::ParseError> {
        // A clone of `Bytes` is a reference-count increment: this is how a datagram
        // reaches the parser in strowger-net.
        Message::parse(input.clone())
    }

    #[inline]
    pub fn read<R>(
        msg: &Message,
        f: impl FnOnce(Option<&str>, Option<u32>, Option<&str>, Option<&str>) -> R,
    ) -> R {
        // The accessors the transaction layer uses: the top Via branch, From tag and
        // CSeq are recorded while the message is validated, so reading them is a
        // slice, not a second parse. (`top_via()`/`from()` give the full typed
        // values, at the cost of parsing them again.)
        let branch = msg.top_via_branch();
        let cseq = msg.cseq();
        let tag = msg.from_tag();
        f(
            branch,
            cseq.as_ref().map(|c| c.seq),
            cseq.as_ref().map(|c| c.method.as_str()),
            tag,
        )
    }
}

/// rsip (crates.io): `SipMessage::try_from(&[u8])`, fields through the typed headers.
pub mod rsip_impl {
    use rsip::prelude::*;
    pub use rsip::SipMessage;

    #[inline]
    pub fn parse(input: &[u8]) -> Result<SipMessage, rsip::Error> {
        SipMessage::try_from(input)
    }

    #[inline]
    pub fn read<R>(
        msg: &SipMessage,
        f: impl FnOnce(Option<&str>, Option<u32>, Option<rsip::Method>, Option<&str>) -> R,
    ) -> R {
        // `via_header()` is the first Via header field; `typed()` parses it (rsip keeps
        // header values as strings and parses on access).
        let via = msg.via_header().ok().and_then(|v| v.typed().ok());
        let branch = via.as_ref().and_then(|v| v.branch()).map(|b| b.value());
        let cseq = msg.cseq_header().ok().and_then(|c| c.typed().ok());
        let from = msg.from_header().ok().and_then(|h| h.typed().ok());
        let tag = from.as_ref().and_then(|f| f.tag()).map(|t| t.value());
        f(
            branch,
            cseq.as_ref().map(|c| c.seq),
            cseq.as_ref().map(|c| c.method),
            tag,
        )
    }
}

/// The parser inside rsipstack (`rsipstack::sip`, a fork of rsip's API).
pub mod rsipstack_impl {
    use rsipstack::sip::prelude::*;
    pub use rsipstack::sip::SipMessage;

    #[inline]
    pub fn parse(input: &[u8]) -> Result<SipMessage, rsipstack::sip::Error> {
        SipMessage::try_from(input)
    }

    #[inline]
    pub fn read<R>(
        msg: &SipMessage,
        f: impl FnOnce(Option<&str>, Option<u32>, Option<rsipstack::sip::Method>, Option<&str>) -> R,
    ) -> R {
        // `top_via_header()` is the first value of the first Via header field (it splits
        // a comma-separated list); `typed()` parses it.
        let via = msg.top_via_header().ok().and_then(|v| v.typed().ok());
        let branch = via.as_ref().and_then(|v| v.branch()).map(|b| b.value());
        let cseq = msg.cseq_header().ok().and_then(|c| c.typed().ok());
        let from = msg.from_header().ok().and_then(|h| h.typed().ok());
        let tag = from.as_ref().and_then(|f| f.tag()).map(|t| t.value());
        f(
            branch,
            cseq.as_ref().map(|c| c.seq),
            cseq.as_ref().map(|c| c.method),
            tag,
        )
    }
}

fn owned<M: std::fmt::Display>(
    b: Option<&str>,
    s: Option<u32>,
    m: Option<M>,
    t: Option<&str>,
) -> Fields {
    Fields {
        branch: b.map(str::to_owned),
        seq: s,
        method: m.map(|m| m.to_string()),
        from_tag: t.map(str::to_owned),
    }
}

/// Parse `sample` with `parser` and read the fields, owned. Used only outside the
/// timed code.
pub fn fields(parser: &str, sample: &Sample) -> Result<Fields, String> {
    match parser {
        "strowger" => {
            let input = Bytes::from_static(sample.bytes);
            let msg = strowger::parse(&input).map_err(|e| e.to_string())?;
            Ok(strowger::read(&msg, |b, s, m, t| owned(b, s, m, t)))
        }
        "rsip" => {
            let msg = rsip_impl::parse(sample.bytes).map_err(|e| e.to_string())?;
            Ok(rsip_impl::read(&msg, owned))
        }
        "rsipstack" => {
            let msg = rsipstack_impl::parse(sample.bytes).map_err(|e| e.to_string())?;
            Ok(rsipstack_impl::read(&msg, owned))
        }
        other => Err(format!("unknown parser {other:?}")),
    }
}

/// Checks that each message file is well formed (CRLF only, Content-Length equal to the
/// body) and that every parser parses every message and reads the expected values.
/// Panics with a description otherwise.
pub fn check_all() {
    let mut failures = Vec::new();
    for s in &SAMPLES {
        if let Err(e) = check_framing(s.bytes) {
            failures.push(format!("{}: message file: {e}", s.name));
        }
        for p in PARSERS {
            match fields(p, s) {
                Ok(f) if f.matches(&s.expected) => {}
                Ok(f) => failures.push(format!(
                    "{}/{p}: read {f:?}, expected {:?}",
                    s.name, s.expected
                )),
                Err(e) => failures.push(format!("{}/{p}: parse error: {e}", s.name)),
            }
        }
    }
    assert!(
        failures.is_empty(),
        "start-up check failed:\n  {}",
        failures.join("\n  ")
    );
}

fn check_framing(b: &[u8]) -> Result<(), String> {
    let text = std::str::from_utf8(b).map_err(|e| e.to_string())?;
    let end = text.find("\r\n\r\n").ok_or("no blank line")?;
    let (head, body) = (&text[..end], &text[end + 4..]);
    if head
        .split("\r\n")
        .any(|l| l.contains('\n') || l.contains('\r'))
    {
        return Err("bare CR or LF in the header section".into());
    }
    let cl = head
        .split("\r\n")
        .find_map(|l| l.strip_prefix("Content-Length:"))
        .ok_or("no Content-Length")?
        .trim()
        .parse::<usize>()
        .map_err(|e| e.to_string())?;
    if cl != body.len() {
        return Err(format!(
            "Content-Length {cl} but body is {} bytes",
            body.len()
        ));
    }
    if body.split("\r\n").any(|l| l.contains('\n')) {
        return Err("bare LF in the body".into());
    }
    Ok(())
}
