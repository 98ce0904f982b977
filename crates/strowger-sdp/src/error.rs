//! Parse errors and the resource bounds the parser enforces.
//!
//! Every error that comes from a line names it (counted from one) and its type letter, so a
//! `488 Not Acceptable Here` can carry a useful reason and a log says where a peer went wrong.

/// Why an SDP body was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SdpError {
    /// The body is longer than [`Limits::max_size`].
    #[error("SDP body of {size} bytes is larger than the limit of {limit} bytes")]
    TooLarge {
        /// Length of the body in bytes.
        size: usize,
        /// The limit in force.
        limit: usize,
    },
    /// The body has more lines than [`Limits::max_lines`].
    #[error("SDP body has more than {limit} lines")]
    TooManyLines {
        /// The limit in force.
        limit: usize,
    },
    /// The body has more `m=` sections than [`Limits::max_media`].
    #[error("SDP body has more than {limit} media descriptions")]
    TooManyMedia {
        /// The limit in force.
        limit: usize,
    },
    /// The body holds no line at all.
    #[error("SDP body is empty")]
    Empty,
    /// A line that is not `<type>=<value>` (RFC 8866 section 5).
    #[error("line {line}: not of the form <type>=<value>")]
    MalformedLine {
        /// Line number, counted from one.
        line: usize,
    },
    /// A type letter RFC 8866 does not define. Section 5: "an SDP parser MUST completely
    /// ignore or reject any session description that contains a type letter that it does
    /// not understand"; this parser rejects.
    #[error("line {line}: unknown type letter '{field}' (RFC 8866 section 5)")]
    UnknownType {
        /// Line number, counted from one.
        line: usize,
        /// The letter.
        field: char,
    },
    /// A known line where RFC 8866 section 5 does not allow it (for example `v=` not first,
    /// `o=` inside a media description, `r=` before any `t=`).
    #[error("line {line}: '{field}=' is out of place: {reason}")]
    OutOfOrder {
        /// Line number, counted from one.
        line: usize,
        /// The letter.
        field: char,
        /// What is wrong, in words.
        reason: &'static str,
    },
    /// A line that may appear at most once per section appears again.
    #[error("line {line}: '{field}=' appears more than once in the same section")]
    Duplicate {
        /// Line number of the second occurrence, counted from one.
        line: usize,
        /// The letter.
        field: char,
    },
    /// A required line (`o=` or `s=`) is absent.
    #[error("required '{field}=' line is missing")]
    Missing {
        /// The letter.
        field: char,
    },
    /// A line whose value does not follow its grammar.
    #[error("line {line}: invalid '{field}=' line: {reason}")]
    InvalidField {
        /// Line number, counted from one.
        line: usize,
        /// The letter.
        field: char,
        /// What is wrong, in words.
        reason: &'static str,
    },
    /// An attribute this crate types (`rtpmap`, `fmtp`, `ptime`, `maxptime`, the direction
    /// attributes, `rtcp`) whose value does not follow its grammar, or an attribute without
    /// a name.
    #[error("line {line}: invalid 'a={name}' attribute: {reason}")]
    InvalidAttribute {
        /// Line number, counted from one.
        line: usize,
        /// The attribute name as it appeared.
        name: String,
        /// What is wrong, in words.
        reason: &'static str,
    },
}

/// Resource bounds for [`SessionDescription::parse_with_limits`](crate::SessionDescription::parse_with_limits).
///
/// Allocation while parsing is bounded by these numbers: the body is refused before anything
/// is copied if it is larger than `max_size`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest body accepted, in bytes. Default 65 535 (the largest UDP payload; SIP bodies
    /// over TCP are rarely larger).
    pub max_size: usize,
    /// Most lines accepted, not counting blank ones (which cost nothing). Default 2 048.
    pub max_lines: usize,
    /// Most `m=` sections accepted. Default 64.
    pub max_media: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_size: 65_535,
            max_lines: 2_048,
            max_media: 64,
        }
    }
}
