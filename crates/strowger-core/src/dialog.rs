//! Dialogs (RFC 3261 section 12), without I/O.
//!
//! A [`Dialog`] is the peer-to-peer relationship an INVITE creates: its identifier
//! (Call-ID, local tag, remote tag), the local and remote URIs, the remote target (the
//! peer's Contact), the route set (from Record-Route: reversed for the UAC, 12.1.2; in
//! order for the UAS, 12.1.1), the local and remote CSeq numbers and whether it is
//! secure.
//!
//! - Creation: [`Dialog::uac`] from a request and a response with a To tag (a 1xx makes
//!   an early dialog, a 2xx a confirmed one; forking makes several), [`Dialog::uas`]
//!   from a request and the To tag of our response.
//! - [`Dialog::confirm`]: an early dialog confirmed by a 2xx recomputes its route set
//!   and remote target from it (13.2.2.4).
//! - [`Dialog::refresh_target`]: target refresh from a Contact (12.2.1.2, 12.2.2).
//! - [`Dialog::new_request`] and [`Dialog::ack`]: requests within the dialog
//!   (12.2.1.1), with loose routing (`lr`: Request-URI = remote target, Route = route
//!   set) and strict routing (the first route has no `lr`: Request-URI = that route,
//!   Route = the rest followed by the remote target).
//! - [`Dialog::check_remote_cseq`]: requests out of order get 500 (12.2.2).
//!
//! ```
//! use strowger_core::dialog::{Dialog, DialogState};
//! use strowger_message::{Message, Method, ResponseBuilder};
//! let invite = Message::parse(&b"INVITE sip:bob@biloxi.example.com SIP/2.0\r\n\
//!     Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1\r\n\
//!     To: Bob <sip:bob@biloxi.example.com>\r\nFrom: Alice <sip:alice@atlanta.example.com>;tag=a1\r\n\
//!     Call-ID: c1\r\nCSeq: 7 INVITE\r\nContact: <sip:alice@192.0.2.1>\r\nContent-Length: 0\r\n\r\n"[..])?;
//! let ok = ResponseBuilder::new(&invite, 200)
//!     .to_tag("b1")
//!     .header("Contact", "<sip:bob@192.0.2.4>")
//!     .header("Record-Route", "<sip:p2.example.com;lr>, <sip:p1.example.com;lr>")
//!     .build()?;
//! let mut dialog = Dialog::uac(&invite, &ok).unwrap();
//! assert_eq!(dialog.state, DialogState::Confirmed);
//! assert_eq!(dialog.route_set, ["<sip:p1.example.com;lr>", "<sip:p2.example.com;lr>"]);
//! let bye = dialog.new_request(Method::Bye).builder.build()?;
//! assert_eq!(bye.request_uri_str(), Some("sip:bob@192.0.2.4"));
//! assert_eq!(bye.cseq().unwrap().seq, 8);
//! # Ok::<(), strowger_message::ParseError>(())
//! ```

use std::fmt;

use strowger_message::headers::parse_route;
use strowger_message::{HeaderName, Message, Method, RequestBuilder, Uri};

/// What identifies a dialog (section 12): Call-ID, local tag, remote tag.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DialogId {
    pub call_id: String,
    pub local_tag: String,
    /// Empty for a dialog with an RFC 2543 peer that sent no tag.
    pub remote_tag: String,
}

impl fmt::Display for DialogId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{};{};{}", self.call_id, self.local_tag, self.remote_tag)
    }
}

/// Early (created by a 1xx with a To tag) or confirmed (by a 2xx).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DialogState {
    Early,
    Confirmed,
}

/// Why a dialog could not be made from a message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DialogError {
    #[error("the message has no Call-ID")]
    MissingCallId,
    #[error("the message has no From or To header field")]
    MissingFromOrTo,
    #[error("the request has no From tag")]
    MissingFromTag,
    #[error("the message has no valid CSeq")]
    MissingCSeq,
    #[error("a {0} response does not create a dialog")]
    NotDialogCreating(u16),
}

/// Why a request within a dialog is refused (section 12.2.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CSeqError {
    /// Lower than the remote sequence number: answer 500.
    #[error("CSeq {got} is lower than the remote sequence number {expected}")]
    OutOfOrder { got: u32, expected: u32 },
    #[error("the request has no valid CSeq")]
    Missing,
}

/// A request within a dialog, ready for a Via (section 12.2.1.1).
#[derive(Debug, Clone)]
pub struct DialogRequest {
    /// Request-URI, Route, Max-Forwards, To, From, Call-ID and CSeq written; add the
    /// method's own header fields and a body, then build and push a Via.
    pub builder: RequestBuilder,
    /// Where the request goes next (8.1.2): the first route, or the remote target when
    /// the route set is empty.
    pub next_hop: String,
    pub cseq: u32,
}

/// A dialog (section 12). Fields are public for reading; change them through the
/// methods, which follow the RFC.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dialog {
    pub id: DialogId,
    pub state: DialogState,
    /// The local URI (From of our requests), as written, without the tag.
    pub local_uri: String,
    /// The remote URI (To of our requests), as written, without the tag.
    pub remote_uri: String,
    /// The peer's Contact URI: the Request-URI of our requests (loose routing).
    pub remote_target: String,
    /// Route values (`<uri;lr>`), in the order our requests carry them.
    pub route_set: Vec<String>,
    /// Created by a request with a `sips:` Request-URI over TLS (12.1.1, 12.1.2).
    pub secure: bool,
    /// Our last CSeq number; `None` before our first request (UAS, 12.1.1).
    pub local_seq: Option<u32>,
    /// The peer's last CSeq number; `None` before its first request (UAC, 12.1.2).
    pub remote_seq: Option<u32>,
    /// The From or To value we write, tag included.
    local_field: String,
    remote_field: String,
}

impl Dialog {
    /// Section 12.1.2: the UAC's view of the dialog `response` (a 101-299 with, per
    /// RFC 3261, a To tag) to `request` creates. Mark it secure with
    /// [`Dialog::with_secure`] and [`is_secure`].
    pub fn uac(request: &Message, response: &Message) -> Result<Dialog, DialogError> {
        let code = response.status().unwrap_or(0);
        if !(101..=299).contains(&code) {
            return Err(DialogError::NotDialogCreating(code));
        }
        let call_id = request.call_id().ok_or(DialogError::MissingCallId)?;
        let local_tag = request.from_tag().ok_or(DialogError::MissingFromTag)?;
        let local_field = first(request, HeaderName::From).ok_or(DialogError::MissingFromOrTo)?;
        let remote_field = first(response, HeaderName::To).ok_or(DialogError::MissingFromOrTo)?;
        let local_seq = request.cseq().ok_or(DialogError::MissingCSeq)?.seq;
        let mut routes: Vec<String> = record_routes(response);
        routes.reverse();
        Ok(Dialog {
            id: DialogId {
                call_id: call_id.to_string(),
                local_tag: local_tag.to_string(),
                remote_tag: response.to_tag().unwrap_or_default().to_string(),
            },
            state: if code >= 200 {
                DialogState::Confirmed
            } else {
                DialogState::Early
            },
            local_uri: uri_of(request.from()),
            remote_uri: uri_of(response.to()),
            remote_target: contact_uri(response).unwrap_or_default(),
            route_set: routes,
            secure: false,
            local_seq: Some(local_seq),
            remote_seq: None,
            local_field,
            remote_field,
        })
    }

    /// Section 12.1.1: the UAS's view of the dialog our response with To tag
    /// `local_tag` to `request` creates; `confirmed` for a 2xx, early for a 1xx.
    pub fn uas(request: &Message, local_tag: &str, confirmed: bool) -> Result<Dialog, DialogError> {
        let call_id = request.call_id().ok_or(DialogError::MissingCallId)?;
        let remote_tag = request.from_tag().unwrap_or_default();
        let remote_field = first(request, HeaderName::From).ok_or(DialogError::MissingFromOrTo)?;
        let to = first(request, HeaderName::To).ok_or(DialogError::MissingFromOrTo)?;
        let local_field = if request.to_tag().is_some() {
            to
        } else {
            format!("{to};tag={local_tag}")
        };
        let remote_seq = request.cseq().ok_or(DialogError::MissingCSeq)?.seq;
        Ok(Dialog {
            id: DialogId {
                call_id: call_id.to_string(),
                local_tag: local_tag.to_string(),
                remote_tag: remote_tag.to_string(),
            },
            state: if confirmed {
                DialogState::Confirmed
            } else {
                DialogState::Early
            },
            local_uri: uri_of(request.to()),
            remote_uri: uri_of(request.from()),
            remote_target: contact_uri(request).unwrap_or_default(),
            route_set: record_routes(request),
            secure: false,
            local_seq: None,
            remote_seq: Some(remote_seq),
            local_field,
            remote_field,
        })
    }

    /// Mark the dialog secure (12.1.1, 12.1.2: a `sips:` Request-URI sent over TLS).
    pub fn with_secure(mut self, secure: bool) -> Dialog {
        self.secure = secure;
        self
    }

    /// Section 13.2.2.4: a 2xx for an early dialog confirms it, and the UAC recomputes
    /// the route set and remote target from the 2xx. A UAS passes `None`.
    pub fn confirm(&mut self, uac_response: Option<&Message>) {
        self.state = DialogState::Confirmed;
        if let Some(resp) = uac_response {
            let mut routes = record_routes(resp);
            routes.reverse();
            self.route_set = routes;
            self.refresh_target(resp);
        }
    }

    /// Target refresh (12.2): the remote target becomes the Contact of a re-INVITE
    /// (UAS) or of its 2xx (UAC), when it has one.
    pub fn refresh_target(&mut self, msg: &Message) {
        if let Some(uri) = contact_uri(msg) {
            self.remote_target = uri;
        }
    }

    /// Section 12.2.2: check the CSeq of a request within the dialog and remember it.
    /// ACK and CANCEL carry the CSeq of the INVITE and are not checked.
    pub fn check_remote_cseq(&mut self, request: &Message) -> Result<(), CSeqError> {
        let cseq = request.cseq().ok_or(CSeqError::Missing)?;
        if matches!(cseq.method, Method::Ack | Method::Cancel) {
            return Ok(());
        }
        if let Some(expected) = self.remote_seq {
            if cseq.seq < expected {
                return Err(CSeqError::OutOfOrder {
                    got: cseq.seq,
                    expected,
                });
            }
        }
        self.remote_seq = Some(cseq.seq);
        Ok(())
    }

    /// The next local CSeq number (one more than the last; 1 for a UAS's first request,
    /// section 12.2.1.1).
    pub fn next_local_seq(&mut self) -> u32 {
        let next = self.local_seq.map_or(1, |s| s.wrapping_add(1).max(1));
        self.local_seq = Some(next);
        next
    }

    /// Section 12.2.1.1: a request of `method` within the dialog, with the next local
    /// CSeq number.
    pub fn new_request(&mut self, method: Method<'_>) -> DialogRequest {
        let seq = self.next_local_seq();
        self.request_with_seq(method, seq)
    }

    /// Section 13.2.2.4: the ACK for a 2xx to the INVITE with CSeq number `invite_seq`:
    /// a request within the dialog with that number and method ACK.
    pub fn ack(&self, invite_seq: u32) -> DialogRequest {
        self.request_with_seq(Method::Ack, invite_seq)
    }

    fn request_with_seq(&self, method: Method<'_>, seq: u32) -> DialogRequest {
        let (uri, routes) = self.routing();
        let next_hop = match self.route_set.first() {
            Some(r) => route_uri(r).unwrap_or_else(|| self.remote_target.clone()),
            None => self.remote_target.clone(),
        };
        let mut b = RequestBuilder::new(method, &uri);
        for r in &routes {
            b = b.header("Route", r);
        }
        b = b
            .header("To", &self.remote_field)
            .header("From", &self.local_field)
            .call_id(&self.id.call_id)
            .cseq(seq);
        DialogRequest {
            builder: b,
            next_hop,
            cseq: seq,
        }
    }

    /// Request-URI and Route values for a request within the dialog (12.2.1.1).
    pub fn routing(&self) -> (String, Vec<String>) {
        let Some(first) = self.route_set.first() else {
            return (self.remote_target.clone(), Vec::new());
        };
        let loose = parse_route(first)
            .ok()
            .and_then(|r| r.uri.as_sip().map(|u| u.lr()))
            .unwrap_or(true);
        if loose {
            return (self.remote_target.clone(), self.route_set.clone());
        }
        // Strict routing: the first route becomes the Request-URI (without what a
        // Request-URI may not carry), the remote target goes last.
        let uri = route_uri(first).map_or_else(String::new, |u| request_uri_form(&u));
        let mut routes: Vec<String> = self.route_set[1..].to_vec();
        routes.push(format!("<{}>", self.remote_target));
        (uri, routes)
    }
}

/// Section 12.1.1 and 12.1.2: a dialog is secure when its creating request had a
/// `sips:` Request-URI and was sent or received over TLS.
pub fn is_secure(request: &Message, over_tls: bool) -> bool {
    over_tls
        && request
            .request_uri()
            .and_then(|u| u.as_sip().map(|s| s.secure))
            .unwrap_or(false)
}

fn first(msg: &Message, name: HeaderName) -> Option<String> {
    msg.get(name).next().map(str::to_string)
}

fn uri_of(addr: Option<strowger_message::NameAddr<'_>>) -> String {
    addr.map(|a| a.uri.as_str().to_string()).unwrap_or_default()
}

/// The URI of the first Contact.
pub(crate) fn contact_uri(msg: &Message) -> Option<String> {
    msg.contacts().find_map(|c| match c {
        strowger_message::Contact::Addr(a) => Some(a.uri.as_str().to_string()),
        strowger_message::Contact::Star => None,
    })
}

fn record_routes(msg: &Message) -> Vec<String> {
    msg.values(HeaderName::RecordRoute)
        .map(str::to_string)
        .collect()
}

/// The URI of a route value.
fn route_uri(route: &str) -> Option<String> {
    parse_route(route).ok().map(|r| r.uri.as_str().to_string())
}

/// Section 19.1.1 table: a Request-URI carries no `method` parameter and no headers.
fn request_uri_form(uri: &str) -> String {
    let without_headers = uri.split('?').next().unwrap_or(uri);
    let Ok(Uri::Sip(_)) = Uri::parse(without_headers) else {
        return without_headers.to_string();
    };
    let mut parts = without_headers.split(';');
    let mut out = parts.next().unwrap_or_default().to_string();
    for p in parts {
        let name = p.split('=').next().unwrap_or("");
        if !name.trim().eq_ignore_ascii_case("method") {
            out.push(';');
            out.push_str(p);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use strowger_message::ResponseBuilder;

    fn invite(extra: &str) -> Message {
        let text = format!(
            "INVITE sip:bob@biloxi.example.com SIP/2.0\r\n\
             Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1\r\n\
             To: Bob <sip:bob@biloxi.example.com>\r\n\
             From: Alice <sip:alice@atlanta.example.com>;tag=a1\r\n\
             Call-ID: c1\r\nCSeq: 7 INVITE\r\nContact: <sip:alice@192.0.2.1>\r\n\
             {extra}Content-Length: 0\r\n\r\n"
        );
        Message::parse(text.into_bytes()).unwrap()
    }

    fn uac_dialog(record_route: &str) -> Dialog {
        let req = invite("");
        let mut r = ResponseBuilder::new(&req, 200)
            .to_tag("b1")
            .header("Contact", "<sip:bob@192.0.2.4:5062>");
        if !record_route.is_empty() {
            r = r.header("Record-Route", record_route);
        }
        Dialog::uac(&req, &r.build().unwrap()).unwrap()
    }

    #[test]
    fn uac_dialog_state_rfc3261_12_1_2() {
        let d = uac_dialog("<sip:p2.example.com;lr>, <sip:p1.example.com;lr>");
        assert_eq!(d.id.call_id, "c1");
        assert_eq!(d.id.local_tag, "a1");
        assert_eq!(d.id.remote_tag, "b1");
        assert_eq!(d.local_uri, "sip:alice@atlanta.example.com");
        assert_eq!(d.remote_uri, "sip:bob@biloxi.example.com");
        assert_eq!(d.remote_target, "sip:bob@192.0.2.4:5062");
        // Reversed for the UAC.
        assert_eq!(
            d.route_set,
            ["<sip:p1.example.com;lr>", "<sip:p2.example.com;lr>"]
        );
        assert_eq!(d.local_seq, Some(7));
        assert_eq!(d.remote_seq, None);
        assert_eq!(d.state, DialogState::Confirmed);
    }

    #[test]
    fn uas_dialog_state_keeps_record_route_order_rfc3261_12_1_1() {
        let req = invite(
            "Record-Route: <sip:p1.example.com;lr>\r\nRecord-Route: <sip:p2.example.com;lr>\r\n",
        );
        let d = Dialog::uas(&req, "b1", false).unwrap();
        assert_eq!(d.state, DialogState::Early);
        assert_eq!(d.id.local_tag, "b1");
        assert_eq!(d.id.remote_tag, "a1");
        assert_eq!(d.remote_target, "sip:alice@192.0.2.1");
        assert_eq!(
            d.route_set,
            ["<sip:p1.example.com;lr>", "<sip:p2.example.com;lr>"]
        );
        assert_eq!(d.local_seq, None);
        assert_eq!(d.remote_seq, Some(7));
        let mut d = d;
        let bye = d.new_request(Method::Bye).builder.build().unwrap();
        assert_eq!(bye.from_tag(), Some("b1"));
        assert_eq!(bye.to_tag(), Some("a1"));
        assert_eq!(bye.cseq().unwrap().seq, 1);
    }

    #[test]
    fn loose_routing_request_rfc3261_12_2_1_1() {
        let mut d = uac_dialog("<sip:p2.example.com;lr>, <sip:p1.example.com;lr>");
        let r = d.new_request(Method::Bye);
        assert_eq!(r.next_hop, "sip:p1.example.com;lr");
        let m = r.builder.build().unwrap();
        assert_eq!(m.request_uri_str(), Some("sip:bob@192.0.2.4:5062"));
        let routes: Vec<_> = m.values(HeaderName::Route).collect();
        assert_eq!(
            routes,
            ["<sip:p1.example.com;lr>", "<sip:p2.example.com;lr>"]
        );
        assert_eq!(m.cseq().unwrap().seq, 8);
        assert_eq!(m.to_tag(), Some("b1"));
        assert_eq!(m.from_tag(), Some("a1"));
    }

    #[test]
    fn strict_routing_request_rfc3261_12_2_1_1() {
        // Record-Route as received by the UAC: p3 (nearest the UAS) ... p1 (nearest us),
        // p1 a strict router with a method parameter a Request-URI may not carry.
        let mut d = uac_dialog(
            "<sip:p3.example.com;lr>, <sip:p2.example.com;lr>, <sip:p1.example.com;method=INVITE;transport=tcp>",
        );
        let r = d.new_request(Method::Bye);
        assert_eq!(r.next_hop, "sip:p1.example.com;method=INVITE;transport=tcp");
        let m = r.builder.build().unwrap();
        assert_eq!(
            m.request_uri_str(),
            Some("sip:p1.example.com;transport=tcp")
        );
        let routes: Vec<_> = m.values(HeaderName::Route).collect();
        assert_eq!(
            routes,
            [
                "<sip:p2.example.com;lr>",
                "<sip:p3.example.com;lr>",
                "<sip:bob@192.0.2.4:5062>"
            ]
        );
    }

    #[test]
    fn no_route_set_sends_to_remote_target_rfc3261_12_2_1_1() {
        let mut d = uac_dialog("");
        let r = d.new_request(Method::Info);
        assert_eq!(r.next_hop, "sip:bob@192.0.2.4:5062");
        let m = r.builder.build().unwrap();
        assert_eq!(m.values(HeaderName::Route).count(), 0);
    }

    #[test]
    fn ack_uses_the_invite_cseq_rfc3261_13_2_2_4() {
        let mut d = uac_dialog("");
        d.new_request(Method::Info);
        let ack = d.ack(7).builder.build().unwrap();
        assert_eq!(ack.cseq().unwrap().seq, 7);
        assert_eq!(ack.cseq().unwrap().method, Method::Ack);
        assert_eq!(d.local_seq, Some(8));
    }

    #[test]
    fn lower_remote_cseq_is_refused_rfc3261_12_2_2() {
        let req = invite("");
        let mut d = Dialog::uas(&req, "b1", true).unwrap();
        let reinvite = invite("").as_bytes().to_vec();
        let text = String::from_utf8(reinvite)
            .unwrap()
            .replace("CSeq: 7", "CSeq: 6");
        let old = Message::parse(text.into_bytes()).unwrap();
        assert_eq!(
            d.check_remote_cseq(&old),
            Err(CSeqError::OutOfOrder {
                got: 6,
                expected: 7
            })
        );
        let newer = invite("").as_bytes().to_vec();
        let text = String::from_utf8(newer)
            .unwrap()
            .replace("CSeq: 7", "CSeq: 9");
        assert!(d
            .check_remote_cseq(&Message::parse(text.into_bytes()).unwrap())
            .is_ok());
        assert_eq!(d.remote_seq, Some(9));
    }

    #[test]
    fn early_dialog_confirmed_recomputes_route_set_rfc3261_13_2_2_4() {
        let req = invite("");
        let ringing = ResponseBuilder::new(&req, 180)
            .to_tag("b1")
            .header("Contact", "<sip:bob@192.0.2.4>")
            .build()
            .unwrap();
        let mut d = Dialog::uac(&req, &ringing).unwrap();
        assert_eq!(d.state, DialogState::Early);
        let ok = ResponseBuilder::new(&req, 200)
            .to_tag("b1")
            .header("Contact", "<sip:bob@192.0.2.5>")
            .header("Record-Route", "<sip:p1.example.com;lr>")
            .build()
            .unwrap();
        d.confirm(Some(&ok));
        assert_eq!(d.state, DialogState::Confirmed);
        assert_eq!(d.remote_target, "sip:bob@192.0.2.5");
        assert_eq!(d.route_set, ["<sip:p1.example.com;lr>"]);
    }
}
