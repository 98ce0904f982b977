//! Transaction keys: how messages are matched to transactions.
//!
//! - Responses to client transactions (RFC 3261 section 17.1.3): the branch of the top
//!   Via and the CSeq method. A CANCEL has its own transaction, with the branch of the
//!   request it cancels (section 9.1).
//! - Requests to server transactions (section 17.2.3): with a `z9hG4bK` branch, the
//!   branch, the sent-by of the top Via and the method, ACK counting as INVITE.
//!   Without it, the RFC 2543 rules: Request-URI, To tag, From tag, Call-ID, CSeq and
//!   top Via; an ACK then matches the INVITE whose response's To tag it carries.

use std::fmt;

use strowger_message::{HeaderName, Host, Message, Method};

/// Identifies one transaction. Client and server keys never collide, so a UA talking to
/// itself has two transactions.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TransactionKey {
    /// A client transaction: top Via branch and CSeq method (17.1.3).
    Client { branch: String, method: String },
    /// A server transaction (17.2.3).
    Server(ServerKey),
}

/// The key of a server transaction.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ServerKey {
    /// A request whose branch has the magic cookie.
    Rfc3261 {
        branch: String,
        sent_by: SentBy,
        /// The request method; an ACK is keyed as INVITE.
        method: String,
    },
    /// A request from an RFC 2543 element.
    Rfc2543(Box<Rfc2543Key>),
}

/// The fields of an RFC 2543 request that identify its transaction.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Rfc2543Key {
    pub request_uri: String,
    pub to_tag: Option<String>,
    pub from_tag: Option<String>,
    pub call_id: String,
    pub cseq: u32,
    /// The request method; an ACK is keyed as INVITE.
    pub method: String,
    /// The top Via value as written.
    pub top_via: String,
}

/// A Via sent-by, normalised for comparison: host names in lower case, IPv6 in
/// canonical form.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SentBy {
    pub host: String,
    pub port: Option<u16>,
}

impl SentBy {
    fn of(host: &Host<'_>, port: Option<u16>) -> SentBy {
        let host = match host {
            Host::Name(n) => n.to_ascii_lowercase(),
            Host::V4(a) => dotted_quad(a),
            Host::V6(a, _) => format!("[{a}]"),
        };
        SentBy { host, port }
    }
}

/// `a` as `Ipv4Addr`'s `Display` writes it, without the formatting machinery: a key is
/// made for every request received.
fn dotted_quad(a: &std::net::Ipv4Addr) -> String {
    let mut s = String::with_capacity(15);
    for (i, &o) in a.octets().iter().enumerate() {
        if i > 0 {
            s.push('.');
        }
        if o >= 100 {
            s.push(char::from(b'0' + o / 100));
        }
        if o >= 10 {
            s.push(char::from(b'0' + o / 10 % 10));
        }
        s.push(char::from(b'0' + o % 10));
    }
    s
}

impl TransactionKey {
    pub fn is_client(&self) -> bool {
        matches!(self, TransactionKey::Client { .. })
    }

    pub fn is_server(&self) -> bool {
        !self.is_client()
    }

    /// The method of the transaction (INVITE for the INVITE transaction an ACK
    /// belongs to).
    pub fn method(&self) -> &str {
        match self {
            TransactionKey::Client { method, .. } => method,
            TransactionKey::Server(ServerKey::Rfc3261 { method, .. }) => method,
            TransactionKey::Server(ServerKey::Rfc2543(k)) => &k.method,
        }
    }

    pub fn is_invite(&self) -> bool {
        self.method() == "INVITE"
    }

    /// The branch, for keys that have one.
    pub fn branch(&self) -> Option<&str> {
        match self {
            TransactionKey::Client { branch, .. } => Some(branch),
            TransactionKey::Server(ServerKey::Rfc3261 { branch, .. }) => Some(branch),
            TransactionKey::Server(ServerKey::Rfc2543(_)) => None,
        }
    }

    /// The key of a client transaction for `request` (the TU sending it), or for a
    /// response received for one (17.1.3). `None` without a top Via branch or CSeq.
    pub fn client(msg: &Message) -> Option<TransactionKey> {
        let branch = msg.top_via()?.branch()?.to_string();
        let method = msg.cseq()?.method.as_str().to_string();
        Some(TransactionKey::Client { branch, method })
    }

    /// The key of the server transaction a request belongs to (17.2.3). For an ACK this
    /// is the INVITE's key; RFC 2543 ACKs need [`TransactionKey::rfc2543_ack_candidates`]
    /// as well. `None` without the fields the rules read.
    pub fn server(msg: &Message) -> Option<TransactionKey> {
        let method = msg.method()?;
        let keyed = match method {
            Method::Ack => Method::Invite,
            m => m,
        };
        Self::server_with_method(msg, keyed.as_str(), None)
    }

    fn server_with_method(
        msg: &Message,
        method: &str,
        to_tag: Option<Option<&str>>,
    ) -> Option<TransactionKey> {
        let via = msg.top_via()?;
        if via.has_magic_cookie() {
            let branch = via.branch()?.to_string();
            return Some(TransactionKey::Server(ServerKey::Rfc3261 {
                branch,
                sent_by: SentBy::of(&via.host, via.port),
                method: method.to_string(),
            }));
        }
        let to_tag = match to_tag {
            Some(t) => t.map(str::to_string),
            None => msg.to()?.tag().map(str::to_string),
        };
        Some(TransactionKey::Server(ServerKey::Rfc2543(Box::new(
            Rfc2543Key {
                request_uri: msg.request_uri_str()?.to_string(),
                to_tag,
                from_tag: msg.from()?.tag().map(str::to_string),
                call_id: msg.call_id()?.to_string(),
                cseq: msg.cseq()?.seq,
                method: method.to_string(),
                top_via: msg.values(HeaderName::Via).next()?.to_string(),
            },
        ))))
    }

    /// For an RFC 2543 ACK (no magic cookie), the keys of the INVITE transactions it
    /// may belong to: the INVITE had the ACK's To tag (a re-INVITE) or none (an initial
    /// INVITE). The caller checks that the response's To tag equals the ACK's (17.2.3).
    pub fn rfc2543_ack_candidates(ack: &Message) -> Vec<TransactionKey> {
        if ack.top_via().is_none_or(|v| v.has_magic_cookie()) {
            return Vec::new();
        }
        let Some(tag) = ack.to().and_then(|t| t.tag().map(str::to_string)) else {
            return Self::server_with_method(ack, "INVITE", Some(None))
                .into_iter()
                .collect();
        };
        [Some(tag.as_str()), None]
            .into_iter()
            .filter_map(|t| Self::server_with_method(ack, "INVITE", Some(t)))
            .collect()
    }

    /// For a CANCEL's key, the key of the request it cancels (section 9.2): the same
    /// key with the method INVITE (`method` in general).
    pub fn with_method(&self, method: &str) -> TransactionKey {
        match self {
            TransactionKey::Client { branch, .. } => TransactionKey::Client {
                branch: branch.clone(),
                method: method.to_string(),
            },
            TransactionKey::Server(ServerKey::Rfc3261 {
                branch, sent_by, ..
            }) => TransactionKey::Server(ServerKey::Rfc3261 {
                branch: branch.clone(),
                sent_by: sent_by.clone(),
                method: method.to_string(),
            }),
            TransactionKey::Server(ServerKey::Rfc2543(k)) => {
                TransactionKey::Server(ServerKey::Rfc2543(Box::new(Rfc2543Key {
                    method: method.to_string(),
                    ..(**k).clone()
                })))
            }
        }
    }
}

impl fmt::Display for TransactionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TransactionKey::Client { branch, method } => write!(f, "client {method} {branch}"),
            TransactionKey::Server(ServerKey::Rfc3261 {
                branch,
                sent_by,
                method,
            }) => {
                write!(f, "server {method} {branch} {}", sent_by.host)?;
                match sent_by.port {
                    Some(p) => write!(f, ":{p}"),
                    None => Ok(()),
                }
            }
            TransactionKey::Server(ServerKey::Rfc2543(k)) => write!(
                f,
                "server {} rfc2543 {} {} {}",
                k.method, k.call_id, k.cseq, k.request_uri
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dotted_quads_read_as_display_writes_them() {
        for a in [
            [0, 0, 0, 0],
            [127, 0, 0, 1],
            [10, 99, 100, 255],
            [192, 168, 9, 10],
        ] {
            let ip = std::net::Ipv4Addr::from(a);
            assert_eq!(dotted_quad(&ip), ip.to_string());
        }
    }

    fn msg(start: &str, via: &str, to: &str, cseq: &str) -> Message {
        Message::parse(
            format!(
                "{start}\r\nVia: {via}\r\nTo: {to}\r\nFrom: <sip:a@example.com>;tag=f1\r\n\
                 Call-ID: c1\r\nCSeq: {cseq}\r\nContent-Length: 0\r\n\r\n"
            )
            .into_bytes(),
        )
        .unwrap()
    }

    #[test]
    fn ack_is_keyed_as_its_invite_rfc3261_17_2_3() {
        let invite = msg(
            "INVITE sip:b@example.com SIP/2.0",
            "SIP/2.0/UDP Host.Example:5060;branch=z9hG4bK1",
            "<sip:b@example.com>",
            "1 INVITE",
        );
        let ack = msg(
            "ACK sip:b@example.com SIP/2.0",
            "SIP/2.0/UDP host.example:5060;branch=z9hG4bK1",
            "<sip:b@example.com>;tag=t",
            "1 ACK",
        );
        assert_eq!(
            TransactionKey::server(&invite),
            TransactionKey::server(&ack)
        );
    }

    #[test]
    fn sent_by_port_is_part_of_the_key_rfc3261_17_2_3() {
        let a = msg(
            "OPTIONS sip:b@example.com SIP/2.0",
            "SIP/2.0/UDP host.example:5060;branch=z9hG4bK1",
            "<sip:b@example.com>",
            "1 OPTIONS",
        );
        let b = msg(
            "OPTIONS sip:b@example.com SIP/2.0",
            "SIP/2.0/UDP host.example:5070;branch=z9hG4bK1",
            "<sip:b@example.com>",
            "1 OPTIONS",
        );
        assert_ne!(TransactionKey::server(&a), TransactionKey::server(&b));
    }

    #[test]
    fn cancel_has_its_own_key_and_names_its_invite_rfc3261_9_2() {
        let invite = msg(
            "INVITE sip:b@example.com SIP/2.0",
            "SIP/2.0/UDP h;branch=z9hG4bK1",
            "<sip:b@example.com>",
            "1 INVITE",
        );
        let cancel = msg(
            "CANCEL sip:b@example.com SIP/2.0",
            "SIP/2.0/UDP h;branch=z9hG4bK1",
            "<sip:b@example.com>",
            "1 CANCEL",
        );
        let ck = TransactionKey::server(&cancel).unwrap();
        let ik = TransactionKey::server(&invite).unwrap();
        assert_ne!(ck, ik);
        assert_eq!(ck.with_method("INVITE"), ik);
    }

    #[test]
    fn rfc2543_requests_are_keyed_by_their_fields_rfc3261_17_2_3() {
        let invite = msg(
            "INVITE sip:b@example.com SIP/2.0",
            "SIP/2.0/UDP h",
            "<sip:b@example.com>",
            "1 INVITE",
        );
        let k = TransactionKey::server(&invite).unwrap();
        assert!(matches!(k, TransactionKey::Server(ServerKey::Rfc2543(_))));
        let ack = msg(
            "ACK sip:b@example.com SIP/2.0",
            "SIP/2.0/UDP h",
            "<sip:b@example.com>;tag=t",
            "1 ACK",
        );
        assert!(TransactionKey::rfc2543_ack_candidates(&ack).contains(&k));
        let other = msg(
            "INVITE sip:b@example.com SIP/2.0",
            "SIP/2.0/UDP h",
            "<sip:b@example.com>",
            "2 INVITE",
        );
        assert_ne!(TransactionKey::server(&other), Some(k));
    }

    #[test]
    fn client_key_is_branch_and_cseq_method_rfc3261_17_1_3() {
        let cancel = msg(
            "CANCEL sip:b@example.com SIP/2.0",
            "SIP/2.0/UDP h;branch=z9hG4bK1",
            "<sip:b@example.com>",
            "1 CANCEL",
        );
        assert_eq!(
            TransactionKey::client(&cancel),
            Some(TransactionKey::Client {
                branch: "z9hG4bK1".into(),
                method: "CANCEL".into()
            })
        );
    }
}
