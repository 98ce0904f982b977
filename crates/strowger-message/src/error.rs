//! Errors of the message layer.
//!
//! Every error names where the problem is: the header field (by its canonical name when
//! it is one we know) and the byte offset from the start of the input, so that a server
//! can put the reason in its 400 and a person holding a capture can find the byte.

use std::fmt;

/// Why a message could not be parsed, or why a parsed message is not one a SIP element
/// may act on (see [`crate::Message::validate`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParseError {
    /// Nothing but white space.
    #[error("the message is empty")]
    Empty,
    /// The input is larger than [`crate::Limits::max_message_size`].
    #[error("the message is {size} bytes, more than the limit of {limit}")]
    TooLarge { size: usize, limit: usize },
    /// More header fields than [`crate::Limits::max_headers`].
    #[error("the message has more than {limit} header fields")]
    TooManyHeaders { limit: usize },
    /// A header line (with its folds) longer than [`crate::Limits::max_line_length`].
    #[error("the line at byte {offset} is longer than {limit} bytes")]
    LineTooLong { offset: usize, limit: usize },
    /// The header section holds bytes that are not UTF-8 (RFC 3261 section 7.3.1).
    #[error("the header section is not valid UTF-8 at byte {offset}")]
    NotUtf8 { offset: usize },
    /// The request line or status line is malformed.
    #[error("invalid start line at byte {offset}: {reason}")]
    StartLine { offset: usize, reason: &'static str },
    /// A header field is malformed.
    #[error("invalid {header} header at byte {offset}: {reason}")]
    Header {
        header: Box<str>,
        offset: usize,
        reason: &'static str,
    },
    /// The input ends before the empty line that closes the header section.
    #[error("the header section is not terminated by an empty line")]
    Unterminated,
    /// Content-Length promises more bytes than there are (RFC 3261 section 18.3).
    #[error("Content-Length is {declared} but only {available} bytes of body follow")]
    BodyTruncated { declared: usize, available: usize },
    /// The SIP-Version is not SIP/2.0: a server answers 505 (RFC 3261 section 8.2.2).
    #[error("SIP version {version} is not supported (only SIP/2.0)")]
    UnsupportedVersion { version: Box<str> },
    /// A header field every request or response must carry is missing (section 8.1.1).
    #[error("the mandatory {header} header is missing")]
    MissingHeader { header: &'static str },
    /// A header field that takes a single value appears more than once or holds a list.
    #[error("the {header} header must have a single value but has {count}")]
    MultipleValues { header: &'static str, count: usize },
    /// The CSeq method differs from the request method (section 8.1.1.5).
    #[error("the CSeq method {cseq} does not match the request method {method}")]
    CSeqMethodMismatch { method: Box<str>, cseq: Box<str> },
}

impl ParseError {
    /// The response a server sends to a request that failed with this error
    /// (RFC 3261 sections 8.2 and 21; RFC 4475 section 3).
    pub fn status_code(&self) -> u16 {
        match self {
            ParseError::UnsupportedVersion { .. } => 505,
            ParseError::TooLarge { .. } => 513,
            _ => 400,
        }
    }

    pub(crate) fn header(name: &str, offset: usize, reason: &'static str) -> Self {
        ParseError::Header {
            header: name.into(),
            offset,
            reason,
        }
    }
}

/// An error inside one header value; the message parser turns it into
/// [`ParseError::Header`] with the absolute offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FieldError {
    /// Offset from the start of the value.
    pub offset: usize,
    /// What is wrong, in words.
    pub reason: &'static str,
}

impl FieldError {
    #[inline]
    pub(crate) fn new(offset: usize, reason: &'static str) -> Self {
        FieldError { offset, reason }
    }

    #[inline]
    pub(crate) fn shift(self, by: usize) -> Self {
        FieldError {
            offset: self.offset + by,
            reason: self.reason,
        }
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (at offset {})", self.reason, self.offset)
    }
}

impl std::error::Error for FieldError {}
