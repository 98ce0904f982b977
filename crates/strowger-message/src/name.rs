//! Header field names: the fields of RFC 3261 section 20 and the extensions a SIP
//! element meets every day, with their compact forms (section 7.3.3 and the IANA
//! registry). Names compare case-insensitively (section 7.3.1).

macro_rules! header_names {
    ($( $variant:ident = $canon:literal $(, $compact:literal)? ;)*) => {
        /// A known header field name. Anything else is [`HeaderName::Other`] and kept
        /// as written.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum HeaderName {
            $( $variant, )*
            /// A header field we have no type for; compare by its text.
            Other,
        }

        impl HeaderName {
            /// The canonical spelling, as Strowger writes it.
            pub fn as_str(self) -> &'static str {
                match self {
                    $( HeaderName::$variant => $canon, )*
                    HeaderName::Other => "",
                }
            }

            /// The compact form of section 7.3.3, if the field has one.
            pub fn compact(self) -> Option<char> {
                match self {
                    $( $( HeaderName::$variant => Some($compact), )? )*
                    _ => None,
                }
            }

            /// All known names, for tests and tools.
            pub const ALL: &'static [HeaderName] = &[ $( HeaderName::$variant, )* ];


            #[inline]
            fn lookup_compact(c: u8) -> HeaderName {
                match c.to_ascii_lowercase() {
                    $( $( x if u32::from(x) == u32::from($compact) => HeaderName::$variant, )? )*
                    _ => HeaderName::Other,
                }
            }
        }
    };
}

header_names! {
    Accept = "Accept";
    AcceptContact = "Accept-Contact", 'a';
    AcceptEncoding = "Accept-Encoding";
    AcceptLanguage = "Accept-Language";
    AlertInfo = "Alert-Info";
    Allow = "Allow";
    AllowEvents = "Allow-Events", 'u';
    AuthenticationInfo = "Authentication-Info";
    Authorization = "Authorization";
    CallId = "Call-ID", 'i';
    CallInfo = "Call-Info";
    Contact = "Contact", 'm';
    ContentDisposition = "Content-Disposition";
    ContentEncoding = "Content-Encoding", 'e';
    ContentLanguage = "Content-Language";
    ContentLength = "Content-Length", 'l';
    ContentType = "Content-Type", 'c';
    CSeq = "CSeq";
    Date = "Date";
    ErrorInfo = "Error-Info";
    Event = "Event", 'o';
    Expires = "Expires";
    From = "From", 'f';
    Identity = "Identity", 'y';
    InReplyTo = "In-Reply-To";
    MaxForwards = "Max-Forwards";
    MimeVersion = "MIME-Version";
    MinExpires = "Min-Expires";
    Organization = "Organization";
    Path = "Path";
    Priority = "Priority";
    ProxyAuthenticate = "Proxy-Authenticate";
    ProxyAuthorization = "Proxy-Authorization";
    ProxyRequire = "Proxy-Require";
    RAck = "RAck";
    Reason = "Reason";
    RecordRoute = "Record-Route";
    ReferTo = "Refer-To", 'r';
    ReferredBy = "Referred-By", 'b';
    RejectContact = "Reject-Contact", 'j';
    ReplyTo = "Reply-To";
    RequestDisposition = "Request-Disposition", 'd';
    Require = "Require";
    RetryAfter = "Retry-After";
    Route = "Route";
    RSeq = "RSeq";
    Server = "Server";
    ServiceRoute = "Service-Route";
    SessionExpires = "Session-Expires", 'x';
    Subject = "Subject", 's';
    SubscriptionState = "Subscription-State";
    Supported = "Supported", 'k';
    Timestamp = "Timestamp";
    To = "To", 't';
    Unsupported = "Unsupported";
    UserAgent = "User-Agent";
    Via = "Via", 'v';
    Warning = "Warning";
    WwwAuthenticate = "WWW-Authenticate";
}

impl HeaderName {
    /// Long names, dispatched on length first (generated from the list above).
    #[inline]
    fn lookup_long(name: &[u8]) -> HeaderName {
        match name.len() {
            2 => {
                if name.eq_ignore_ascii_case(b"To") {
                    HeaderName::To
                } else {
                    HeaderName::Other
                }
            }
            3 => {
                if name.eq_ignore_ascii_case(b"Via") {
                    HeaderName::Via
                } else {
                    HeaderName::Other
                }
            }
            4 => {
                if name.eq_ignore_ascii_case(b"CSeq") {
                    HeaderName::CSeq
                } else if name.eq_ignore_ascii_case(b"Date") {
                    HeaderName::Date
                } else if name.eq_ignore_ascii_case(b"From") {
                    HeaderName::From
                } else if name.eq_ignore_ascii_case(b"Path") {
                    HeaderName::Path
                } else if name.eq_ignore_ascii_case(b"RAck") {
                    HeaderName::RAck
                } else if name.eq_ignore_ascii_case(b"RSeq") {
                    HeaderName::RSeq
                } else {
                    HeaderName::Other
                }
            }
            5 => {
                if name.eq_ignore_ascii_case(b"Allow") {
                    HeaderName::Allow
                } else if name.eq_ignore_ascii_case(b"Event") {
                    HeaderName::Event
                } else if name.eq_ignore_ascii_case(b"Route") {
                    HeaderName::Route
                } else {
                    HeaderName::Other
                }
            }
            6 => {
                if name.eq_ignore_ascii_case(b"Accept") {
                    HeaderName::Accept
                } else if name.eq_ignore_ascii_case(b"Reason") {
                    HeaderName::Reason
                } else if name.eq_ignore_ascii_case(b"Server") {
                    HeaderName::Server
                } else {
                    HeaderName::Other
                }
            }
            7 => {
                if name.eq_ignore_ascii_case(b"Call-ID") {
                    HeaderName::CallId
                } else if name.eq_ignore_ascii_case(b"Contact") {
                    HeaderName::Contact
                } else if name.eq_ignore_ascii_case(b"Expires") {
                    HeaderName::Expires
                } else if name.eq_ignore_ascii_case(b"Require") {
                    HeaderName::Require
                } else if name.eq_ignore_ascii_case(b"Subject") {
                    HeaderName::Subject
                } else if name.eq_ignore_ascii_case(b"Warning") {
                    HeaderName::Warning
                } else {
                    HeaderName::Other
                }
            }
            8 => {
                if name.eq_ignore_ascii_case(b"Identity") {
                    HeaderName::Identity
                } else if name.eq_ignore_ascii_case(b"Priority") {
                    HeaderName::Priority
                } else if name.eq_ignore_ascii_case(b"Refer-To") {
                    HeaderName::ReferTo
                } else if name.eq_ignore_ascii_case(b"Reply-To") {
                    HeaderName::ReplyTo
                } else {
                    HeaderName::Other
                }
            }
            9 => {
                if name.eq_ignore_ascii_case(b"Call-Info") {
                    HeaderName::CallInfo
                } else if name.eq_ignore_ascii_case(b"Supported") {
                    HeaderName::Supported
                } else if name.eq_ignore_ascii_case(b"Timestamp") {
                    HeaderName::Timestamp
                } else {
                    HeaderName::Other
                }
            }
            10 => {
                if name.eq_ignore_ascii_case(b"Alert-Info") {
                    HeaderName::AlertInfo
                } else if name.eq_ignore_ascii_case(b"Error-Info") {
                    HeaderName::ErrorInfo
                } else if name.eq_ignore_ascii_case(b"User-Agent") {
                    HeaderName::UserAgent
                } else {
                    HeaderName::Other
                }
            }
            11 => {
                if name.eq_ignore_ascii_case(b"In-Reply-To") {
                    HeaderName::InReplyTo
                } else if name.eq_ignore_ascii_case(b"Min-Expires") {
                    HeaderName::MinExpires
                } else if name.eq_ignore_ascii_case(b"Referred-By") {
                    HeaderName::ReferredBy
                } else if name.eq_ignore_ascii_case(b"Retry-After") {
                    HeaderName::RetryAfter
                } else if name.eq_ignore_ascii_case(b"Unsupported") {
                    HeaderName::Unsupported
                } else {
                    HeaderName::Other
                }
            }
            12 => {
                if name.eq_ignore_ascii_case(b"Allow-Events") {
                    HeaderName::AllowEvents
                } else if name.eq_ignore_ascii_case(b"Content-Type") {
                    HeaderName::ContentType
                } else if name.eq_ignore_ascii_case(b"Max-Forwards") {
                    HeaderName::MaxForwards
                } else if name.eq_ignore_ascii_case(b"MIME-Version") {
                    HeaderName::MimeVersion
                } else if name.eq_ignore_ascii_case(b"Organization") {
                    HeaderName::Organization
                } else if name.eq_ignore_ascii_case(b"Record-Route") {
                    HeaderName::RecordRoute
                } else {
                    HeaderName::Other
                }
            }
            13 => {
                if name.eq_ignore_ascii_case(b"Authorization") {
                    HeaderName::Authorization
                } else if name.eq_ignore_ascii_case(b"Proxy-Require") {
                    HeaderName::ProxyRequire
                } else if name.eq_ignore_ascii_case(b"Service-Route") {
                    HeaderName::ServiceRoute
                } else {
                    HeaderName::Other
                }
            }
            14 => {
                if name.eq_ignore_ascii_case(b"Accept-Contact") {
                    HeaderName::AcceptContact
                } else if name.eq_ignore_ascii_case(b"Content-Length") {
                    HeaderName::ContentLength
                } else if name.eq_ignore_ascii_case(b"Reject-Contact") {
                    HeaderName::RejectContact
                } else {
                    HeaderName::Other
                }
            }
            15 => {
                if name.eq_ignore_ascii_case(b"Accept-Encoding") {
                    HeaderName::AcceptEncoding
                } else if name.eq_ignore_ascii_case(b"Accept-Language") {
                    HeaderName::AcceptLanguage
                } else if name.eq_ignore_ascii_case(b"Session-Expires") {
                    HeaderName::SessionExpires
                } else {
                    HeaderName::Other
                }
            }
            16 => {
                if name.eq_ignore_ascii_case(b"Content-Encoding") {
                    HeaderName::ContentEncoding
                } else if name.eq_ignore_ascii_case(b"Content-Language") {
                    HeaderName::ContentLanguage
                } else if name.eq_ignore_ascii_case(b"WWW-Authenticate") {
                    HeaderName::WwwAuthenticate
                } else {
                    HeaderName::Other
                }
            }
            18 => {
                if name.eq_ignore_ascii_case(b"Proxy-Authenticate") {
                    HeaderName::ProxyAuthenticate
                } else if name.eq_ignore_ascii_case(b"Subscription-State") {
                    HeaderName::SubscriptionState
                } else {
                    HeaderName::Other
                }
            }
            19 => {
                if name.eq_ignore_ascii_case(b"Authentication-Info") {
                    HeaderName::AuthenticationInfo
                } else if name.eq_ignore_ascii_case(b"Content-Disposition") {
                    HeaderName::ContentDisposition
                } else if name.eq_ignore_ascii_case(b"Proxy-Authorization") {
                    HeaderName::ProxyAuthorization
                } else if name.eq_ignore_ascii_case(b"Request-Disposition") {
                    HeaderName::RequestDisposition
                } else {
                    HeaderName::Other
                }
            }
            _ => HeaderName::Other,
        }
    }
}

impl HeaderName {
    /// Classify a header field name as written on the wire.
    #[inline]
    pub fn from_bytes(name: &[u8]) -> HeaderName {
        match name.len() {
            1 => Self::lookup_compact(name[0]),
            _ => Self::lookup_long(name),
        }
    }

    /// Classify a header field name given as text.
    pub fn parse(name: &str) -> HeaderName {
        Self::from_bytes(name.as_bytes())
    }

    /// Fields that carry a comma-separated list and may be split or combined across
    /// lines (section 7.3.1). Authorization-style fields and fields whose values hold
    /// commas (dates, for instance) are not lists.
    pub fn is_list(self) -> bool {
        use HeaderName::*;
        matches!(
            self,
            Accept
                | AcceptContact
                | AcceptEncoding
                | AcceptLanguage
                | AlertInfo
                | Allow
                | AllowEvents
                | CallInfo
                | Contact
                | ContentEncoding
                | ContentLanguage
                | ErrorInfo
                | InReplyTo
                | Path
                | ProxyRequire
                | Reason
                | RecordRoute
                | RejectContact
                | RequestDisposition
                | Require
                | Route
                | ServiceRoute
                | Supported
                | Unsupported
                | Via
                | Warning
        )
    }

    /// Fields that may appear only once with a single value.
    pub fn is_single(self) -> bool {
        use HeaderName::*;
        matches!(
            self,
            CallId
                | ContentLength
                | ContentType
                | CSeq
                | Date
                | Expires
                | From
                | MaxForwards
                | MimeVersion
                | MinExpires
                | RetryAfter
                | Timestamp
                | To
                | RAck
                | RSeq
                | SessionExpires
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compact_forms_rfc3261_7_3_3() {
        for (c, n) in [
            ("i", HeaderName::CallId),
            ("m", HeaderName::Contact),
            ("e", HeaderName::ContentEncoding),
            ("l", HeaderName::ContentLength),
            ("c", HeaderName::ContentType),
            ("f", HeaderName::From),
            ("s", HeaderName::Subject),
            ("k", HeaderName::Supported),
            ("t", HeaderName::To),
            ("V", HeaderName::Via),
            ("o", HeaderName::Event),
            ("u", HeaderName::AllowEvents),
            ("r", HeaderName::ReferTo),
        ] {
            assert_eq!(HeaderName::parse(c), n, "{c}");
        }
        assert_eq!(HeaderName::parse("z"), HeaderName::Other);
    }

    #[test]
    fn names_are_case_insensitive_rfc3261_7_3_1() {
        assert_eq!(HeaderName::parse("MaX-fOrWaRdS"), HeaderName::MaxForwards);
        assert_eq!(HeaderName::parse("call-id"), HeaderName::CallId);
        assert_eq!(HeaderName::parse("C%6Fntact"), HeaderName::Other);
        for n in HeaderName::ALL {
            assert_eq!(HeaderName::parse(&n.as_str().to_ascii_uppercase()), *n);
        }
    }

    /// A known name matches in any case and nothing one octet away from it (another
    /// token character, a CR, a longer name) does.
    #[test]
    fn every_name_matches_itself_only_rfc3261_7_3_1() {
        for n in HeaderName::ALL {
            let canon = n.as_str();
            if canon.len() == 1 {
                continue;
            }
            for v in [
                canon.to_string(),
                canon.to_ascii_lowercase(),
                canon.to_ascii_uppercase(),
            ] {
                assert_eq!(HeaderName::parse(&v), *n, "{v}");
            }
            for i in 0..canon.len() {
                for c in [b'_', b'.', b'0', b'\r', b'!', b'~', b'`', b'{', b'@'] {
                    let mut near = canon.as_bytes().to_vec();
                    if near[i].eq_ignore_ascii_case(&c) {
                        continue;
                    }
                    near[i] = c;
                    assert_eq!(HeaderName::from_bytes(&near), HeaderName::Other, "{near:?}");
                }
            }
            assert_eq!(HeaderName::parse(&format!("{canon}x")), HeaderName::Other);
        }
        assert_eq!(HeaderName::parse("Call\rID"), HeaderName::Other);
    }
}
