//! Helpers of the UAC side (RFC 3261 sections 8.1, 9.1, 14.1), pure functions:
//!
//! - [`redirect_targets`]: the Contacts of a 3xx, best `q` first, for recursion
//!   (8.1.3.4);
//! - [`is_misrouted`]: a response with more than one Via is discarded (8.1.3.3);
//! - [`build_cancel`]: the CANCEL for an INVITE (9.1);
//! - [`glare_backoff`]: how long to wait before retrying a re-INVITE that got 491
//!   (14.1);
//! - [`resolve`]: the next hop of a URI whose host is an IP address (the rest is
//!   RFC 3263, which needs a resolver the core does not have);
//! - [`Authenticator`]: the hook through which 401 and 407 are answered (8.1.3.5, 22),
//!   and [`DigestAuthenticator`], the one on [`crate::digest`].

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use strowger_message::{Contact, HeaderName, Host, Message, ParseError, Uri};

use crate::digest::{ClientAuth, CredentialStore, RequestParts};
use crate::transport::{Target, Transport};

/// Answers authentication challenges (401 and 407, sections 8.1.3.5 and 22.2). The
/// UA core calls it with the request that was challenged and the challenge; it returns
/// the header fields to add to the retried request (`Authorization` or
/// `Proxy-Authorization`), or `None` to give up and report the challenge.
pub trait Authenticator: Send {
    fn authorize(
        &mut self,
        request: &Message,
        challenge: &Message,
    ) -> Option<Vec<(String, String)>>;
}

/// An [`Authenticator`] on the digest client of [`crate::digest`]: learns the
/// challenges of a 401/407 and answers them with the credentials of its store (giving
/// up when a realm refuses them, section 22.2).
pub struct DigestAuthenticator {
    auth: ClientAuth,
    random: Box<FillBytes>,
}

/// Fills a buffer with unpredictable bytes.
type FillBytes = dyn FnMut(&mut [u8]) + Send;

impl DigestAuthenticator {
    /// `random` fills cnonces; pass the runtime's OS generator.
    pub fn new(store: CredentialStore, random: impl FnMut(&mut [u8]) + Send + 'static) -> Self {
        DigestAuthenticator {
            auth: ClientAuth::new(store),
            random: Box::new(random),
        }
    }
}

impl fmt::Debug for DigestAuthenticator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DigestAuthenticator")
            .field("auth", &self.auth)
            .finish_non_exhaustive()
    }
}

impl Authenticator for DigestAuthenticator {
    fn authorize(
        &mut self,
        request: &Message,
        challenge: &Message,
    ) -> Option<Vec<(String, String)>> {
        if let Err(e) = self.auth.handle_response(request, challenge) {
            tracing::debug!(error = %e, "challenge not answered");
            return None;
        }
        let parts = RequestParts {
            method: request.method()?.as_str(),
            uri: request.request_uri_str()?,
            body: request.body(),
        };
        let random = &mut self.random;
        let mut fill = |b: &mut [u8]| random(b);
        let fields = self.auth.authorize(&parts, &mut fill).ok()?;
        Some(
            fields
                .into_iter()
                .map(|(n, v)| (n.as_str().to_string(), v))
                .collect(),
        )
    }
}

/// Section 8.1.3.4: the URIs of the Contacts of a 3xx, in the order to try them:
/// highest `q` first (no `q` counts as 1.0), the order of the response among equals.
///
/// ```
/// use strowger_core::ua::uac::redirect_targets;
/// use strowger_message::Message;
/// let r = Message::parse(&b"SIP/2.0 302 Moved Temporarily\r\n\
///     Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1\r\nTo: <sip:bob@example.com>;tag=2\r\n\
///     From: <sip:alice@example.com>;tag=1\r\nCall-ID: c\r\nCSeq: 1 INVITE\r\n\
///     Contact: <sip:a@192.0.2.5>;q=0.1, <sip:b@192.0.2.6>, <sip:c@192.0.2.7>;q=0.7\r\n\
///     Content-Length: 0\r\n\r\n"[..])?;
/// assert_eq!(redirect_targets(&r), ["sip:b@192.0.2.6", "sip:c@192.0.2.7", "sip:a@192.0.2.5"]);
/// # Ok::<(), strowger_message::ParseError>(())
/// ```
pub fn redirect_targets(response: &Message) -> Vec<String> {
    let mut targets: Vec<(u16, String)> = response
        .contacts()
        .filter_map(|c| match c {
            Contact::Addr(a) => Some((c.q().unwrap_or(1000), a.uri.as_str().to_string())),
            Contact::Star => None,
        })
        .collect();
    // Stable: equal q keep the response's order.
    targets.sort_by_key(|t| std::cmp::Reverse(t.0));
    targets.into_iter().map(|(_, u)| u).collect()
}

/// Section 8.1.3.3: a response with other than exactly one Via is not ours.
pub fn is_misrouted(response: &Message) -> bool {
    response.vias().count() != 1
}

/// Section 9.1: the CANCEL for `invite` as it was sent: same Request-URI, Call-ID,
/// From, To, CSeq number (method CANCEL), the single top Via (so it reaches the same
/// servers and matches the INVITE's transaction) and Route header fields.
pub fn build_cancel(invite: &Message) -> Result<Message, ParseError> {
    let mut out = String::with_capacity(invite.as_bytes().len());
    out.push_str("CANCEL ");
    out.push_str(invite.request_uri_str().unwrap_or_default());
    out.push_str(" SIP/2.0\r\n");
    let mut line = |name: &str, value: &str| {
        out.push_str(name);
        out.push_str(": ");
        out.push_str(value);
        out.push_str("\r\n");
    };
    if let Some(via) = invite.values(HeaderName::Via).next() {
        line("Via", via);
    }
    line("Max-Forwards", "70");
    for route in invite.get(HeaderName::Route) {
        line("Route", route);
    }
    for name in [HeaderName::From, HeaderName::To, HeaderName::CallId] {
        if let Some(v) = invite.get(name).next() {
            line(name.as_str(), v);
        }
    }
    let seq = invite.cseq().map_or(0, |c| c.seq);
    line("CSeq", &format!("{seq} CANCEL"));
    line("Content-Length", "0");
    out.push_str("\r\n");
    Message::parse(out.into_bytes())
}

/// Section 14.1: the wait before retrying a re-INVITE that got 491, from a random
/// number: 2.1 to 4 s in units of 10 ms when we own the Call-ID (we sent the INVITE
/// that made the dialog), 0 to 2 s otherwise.
pub fn glare_backoff(owns_call_id: bool, random: u64) -> Duration {
    let ticks = if owns_call_id {
        210 + random % 191
    } else {
        random % 201
    };
    Duration::from_millis(ticks * 10)
}

/// The next hop for `uri` when its host (or `maddr`) is an IP address: the port of
/// the URI or the transport's default, the transport from `transport=` (TLS for
/// `sips:`), else `default`. Host names need RFC 3263 resolution: `None`.
pub fn resolve(uri: &str, default: Transport) -> Option<Target> {
    let Ok(Uri::Sip(sip)) = Uri::parse(uri) else {
        return None;
    };
    let transport = match sip.transport() {
        Some(t) => Transport::from_via(t)?,
        None if sip.secure => Transport::Tls,
        None => default,
    };
    let ip: IpAddr = match sip.maddr() {
        Some(m) => m
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse()
            .ok()?,
        None => match sip.host {
            Host::V4(a) => IpAddr::V4(a),
            Host::V6(a, _) => IpAddr::V6(a),
            Host::Name(_) => return None,
        },
    };
    let port = sip.port.unwrap_or_else(|| transport.default_port());
    Some(Target::new(SocketAddr::new(ip, port), transport))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glare_backoff_ranges_rfc3261_14_1() {
        for r in [0, 1, 190, 191, 200, 12345, u64::MAX] {
            let owner = glare_backoff(true, r);
            assert!(owner >= Duration::from_millis(2100) && owner <= Duration::from_secs(4));
            let other = glare_backoff(false, r);
            assert!(other <= Duration::from_secs(2));
            assert_eq!(owner.as_millis() % 10, 0);
        }
        assert_eq!(glare_backoff(true, 0), Duration::from_millis(2100));
        assert_eq!(glare_backoff(true, 190), Duration::from_secs(4));
        assert_eq!(glare_backoff(false, 200), Duration::from_secs(2));
    }

    #[test]
    fn resolve_ip_literals_only() {
        let t = resolve("sip:bob@192.0.2.4:5062;transport=tcp", Transport::Udp).unwrap();
        assert_eq!(t.addr, "192.0.2.4:5062".parse().unwrap());
        assert_eq!(t.transport, Transport::Tcp);
        let t = resolve("sips:bob@[2001:db8::1]", Transport::Udp).unwrap();
        assert_eq!(t.addr, "[2001:db8::1]:5061".parse().unwrap());
        assert_eq!(t.transport, Transport::Tls);
        assert!(resolve("sip:bob@example.com", Transport::Udp).is_none());
        let t = resolve("sip:bob@example.com;maddr=192.0.2.9", Transport::Udp).unwrap();
        assert_eq!(t.addr, "192.0.2.9:5060".parse().unwrap());
    }

    #[test]
    fn cancel_copies_the_invite_rfc3261_9_1() {
        let invite = Message::parse(
            &b"INVITE sip:bob@biloxi.example.com SIP/2.0\r\n\
               Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKab;rport\r\n\
               Max-Forwards: 70\r\nRoute: <sip:p1.example.com;lr>\r\n\
               To: Bob <sip:bob@biloxi.example.com>\r\n\
               From: Alice <sip:alice@atlanta.example.com>;tag=a1\r\n\
               Call-ID: c1\r\nCSeq: 7 INVITE\r\nContact: <sip:alice@192.0.2.1>\r\n\
               Content-Type: application/sdp\r\nContent-Length: 4\r\n\r\nv=0\n"[..],
        )
        .unwrap();
        let c = build_cancel(&invite).unwrap();
        c.validate().unwrap();
        assert_eq!(c.request_uri_str(), invite.request_uri_str());
        assert_eq!(c.top_via_branch(), Some("z9hG4bKab"));
        assert_eq!(c.vias().count(), 1);
        assert_eq!(c.cseq().unwrap().seq, 7);
        assert_eq!(c.cseq().unwrap().method.as_str(), "CANCEL");
        assert_eq!(c.call_id(), Some("c1"));
        assert_eq!(c.from_tag(), Some("a1"));
        assert_eq!(c.to_tag(), None);
        assert_eq!(c.header("Route"), Some("<sip:p1.example.com;lr>"));
        assert!(c.body().is_empty());
    }

    #[test]
    fn multiple_vias_are_misrouted_rfc3261_8_1_3_3() {
        let r = Message::parse(
            &b"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1\r\n\
               Via: SIP/2.0/UDP 192.0.2.9;branch=z9hG4bK2\r\nTo: <sip:b@x>;tag=2\r\n\
               From: <sip:a@x>;tag=1\r\nCall-ID: c\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
                [..],
        )
        .unwrap();
        assert!(is_misrouted(&r));
    }
}
