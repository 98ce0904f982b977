//! Request methods (RFC 3261 section 7.1 and the extensions in common use).
//! Methods are case-sensitive tokens: `invite` is an extension method, not INVITE.

use std::fmt;

/// A SIP method. Known methods are variants; anything else is `Extension`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Method<'a> {
    Invite,
    Ack,
    Bye,
    Cancel,
    Options,
    Register,
    Prack,
    Subscribe,
    Notify,
    Publish,
    Info,
    Refer,
    Message,
    Update,
    Extension(&'a str),
}

impl<'a> Method<'a> {
    /// Classify a method token (the caller has checked it is a token).
    #[inline]
    pub fn from_token(s: &'a str) -> Method<'a> {
        match s {
            "INVITE" => Method::Invite,
            "ACK" => Method::Ack,
            "BYE" => Method::Bye,
            "CANCEL" => Method::Cancel,
            "OPTIONS" => Method::Options,
            "REGISTER" => Method::Register,
            "PRACK" => Method::Prack,
            "SUBSCRIBE" => Method::Subscribe,
            "NOTIFY" => Method::Notify,
            "PUBLISH" => Method::Publish,
            "INFO" => Method::Info,
            "REFER" => Method::Refer,
            "MESSAGE" => Method::Message,
            "UPDATE" => Method::Update,
            other => Method::Extension(other),
        }
    }

    pub fn as_str(&self) -> &'a str {
        match self {
            Method::Extension(s) => s,
            known => known.static_str().unwrap_or_default(),
        }
    }

    /// The name of a known method as a `'static` string (`None` for an extension), so
    /// that what outlives the message (a transaction key) need not copy it.
    pub fn static_str(&self) -> Option<&'static str> {
        Some(match self {
            Method::Invite => "INVITE",
            Method::Ack => "ACK",
            Method::Bye => "BYE",
            Method::Cancel => "CANCEL",
            Method::Options => "OPTIONS",
            Method::Register => "REGISTER",
            Method::Prack => "PRACK",
            Method::Subscribe => "SUBSCRIBE",
            Method::Notify => "NOTIFY",
            Method::Publish => "PUBLISH",
            Method::Info => "INFO",
            Method::Refer => "REFER",
            Method::Message => "MESSAGE",
            Method::Update => "UPDATE",
            Method::Extension(_) => return None,
        })
    }
}

impl fmt::Display for Method<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn methods_are_case_sensitive_rfc3261_7_1() {
        assert_eq!(Method::from_token("INVITE"), Method::Invite);
        assert_eq!(Method::from_token("invite"), Method::Extension("invite"));
        // RFC 4475 3.1.1.5: RE%47IST%45R is not REGISTER.
        assert_eq!(
            Method::from_token("RE%47IST%45R"),
            Method::Extension("RE%47IST%45R")
        );
    }
}
