//! INVITE sessions (RFC 3261 sections 13, 14, 15 and 9) on top of dialogs.
//!
//! - UAC (13.2): early dialogs from 1xx with a To tag (several when the INVITE forks),
//!   the ACK for every 2xx built within the dialog and re-sent for retransmissions
//!   (13.2.2.4), ACK then BYE for the 2xx of forks not kept, CANCEL only after a
//!   provisional response (9.1).
//! - UAS (13.3): the 2xx re-sent at T1 doubling to T2 until the ACK, BYE after 64*T1
//!   without it (13.3.1.4); CANCEL answered 200 and the INVITE 487 (9.2).
//! - re-INVITE (14): 491 for a re-INVITE while ours is pending, 500 while the peer's
//!   previous one is unanswered, retry after the random back-off of 14.1.
//! - BYE (15): ends the session as soon as it is sent or received.

use std::time::{Duration, Instant};

use bytes::Bytes;
use strowger_message::{Message, Method, ResponseBuilder};

use super::{response_dest, uac, Body, CallHandle, Error, Event, Purpose, Template, UserAgent};
use crate::dialog::{is_secure, Dialog};
use crate::transaction::TransactionKey;
use crate::transport::{Target, Transport};

/// Why a call ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EndReason {
    /// We sent BYE (15.1.1).
    LocalBye,
    /// The peer sent BYE (15.1.2).
    RemoteBye,
    /// The INVITE was cancelled: by us (UAC) or by the caller (UAS).
    Cancelled,
    /// A final response of 400 or more, received (UAC) or sent (UAS).
    Rejected { code: u16 },
    /// A 3xx, with the Contacts to try, best first (8.1.3.4).
    Redirected { code: u16, targets: Vec<String> },
    /// No final response (timer B; 8.1.3.1 treats it as 408).
    Timeout,
    /// The transport failed (8.1.3.1 treats it as 503).
    TransportError,
    /// Our 2xx was never acknowledged; BYE sent (13.3.1.4).
    NoAck,
    /// A request within the dialog got 481 or 408 (12.2.1.2).
    DialogGone { code: u16 },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cancel {
    No,
    /// Asked before any provisional response: sent when one comes (9.1).
    Pending,
    Sent,
}

/// An ACK we sent for a 2xx, re-sent for each retransmission of it.
#[derive(Debug)]
struct SentAck {
    remote_tag: String,
    seq: u32,
    dest: Target,
    bytes: Bytes,
}

/// An INVITE (initial or re-INVITE) waiting for our final response.
#[derive(Debug, Clone)]
struct ServerInvite {
    key: TransactionKey,
    request: Message,
    dest: Target,
    reinvite: bool,
}

/// Our 2xx, re-sent until the ACK (13.3.1.4).
#[derive(Debug)]
struct Pending2xx {
    seq: u32,
    bytes: Bytes,
    dest: Target,
    interval: Duration,
    next: Instant,
    give_up: Instant,
    initial: bool,
}

/// Our re-INVITE in progress.
#[derive(Debug)]
struct OutReinvite {
    key: TransactionKey,
    request: Message,
    body: Option<Body>,
}

/// One INVITE session.
#[derive(Debug)]
pub(super) struct Call {
    uac: bool,
    ended: bool,
    /// The INVITE that made the call: as sent (UAC) or received (UAS).
    invite: Message,
    invite_key: TransactionKey,
    /// UAC: a provisional response arrived, so CANCEL may be sent (9.1).
    provisional: bool,
    cancel: Cancel,
    /// Early dialogs, one per remote tag (forking).
    early: Vec<Dialog>,
    /// The confirmed dialog.
    dialog: Option<Dialog>,
    acks: Vec<SentAck>,
    /// UAS: our To tag.
    local_tag: String,
    server_invite: Option<ServerInvite>,
    pending_2xx: Option<Pending2xx>,
    /// The application hung up before the ACK for our 2xx: BYE when it comes (15).
    hangup_after_ack: bool,
    reinvite: Option<OutReinvite>,
    /// A re-INVITE that got 491, retried at this instant (14.1).
    glare_retry: Option<(Instant, Option<Body>)>,
}

impl Call {
    fn new(uac: bool, invite: Message, invite_key: TransactionKey) -> Call {
        Call {
            uac,
            ended: false,
            invite,
            invite_key,
            provisional: false,
            cancel: Cancel::No,
            early: Vec::new(),
            dialog: None,
            acks: Vec::new(),
            local_tag: strowger_message::new_tag(),
            server_invite: None,
            pending_2xx: None,
            hangup_after_ack: false,
            reinvite: None,
            glare_retry: None,
        }
    }

    pub(super) fn dialog(&self) -> Option<&Dialog> {
        self.dialog.as_ref().or(self.early.first())
    }

    pub(super) fn dialog_mut(&mut self) -> Option<&mut Dialog> {
        match self.dialog {
            Some(ref mut d) => Some(d),
            None => self.early.first_mut(),
        }
    }

    fn matches(&self, call_id: &str, local: &str, remote: &str) -> bool {
        self.dialog.iter().chain(self.early.iter()).any(|d| {
            d.id.call_id == call_id && d.id.local_tag == local && d.id.remote_tag == remote
        })
    }

    pub(super) fn next_timeout(&self) -> Option<Instant> {
        let p = self.pending_2xx.as_ref().map(|p| p.next);
        let g = self.glare_retry.as_ref().map(|g| g.0);
        p.into_iter().chain(g).min()
    }

    pub(super) fn resent_invite(&mut self, key: TransactionKey, msg: Message) {
        self.invite_key = key;
        self.invite = msg;
    }

    pub(super) fn resent_reinvite(&mut self, key: TransactionKey, msg: Message) {
        if let Some(r) = self.reinvite.as_mut() {
            r.key = key;
            r.request = msg;
        }
    }
}

impl UserAgent {
    // -- application calls ----------------------------------------------------------

    /// Section 13.2.1: call `uri` with an offer (or none). Events follow:
    /// [`Event::CallRinging`], [`Event::CallAnswered`], [`Event::CallEnded`].
    pub fn invite(
        &mut self,
        now: Instant,
        uri: &str,
        body: Option<Body>,
    ) -> Result<CallHandle, Error> {
        let t = self
            .stack
            .new_request(Method::Invite, uri, &format!("<{uri}>"), body)?;
        let h = CallHandle(self.handle());
        let (key, msg) = self.stack.send(now, Purpose::Invite(h), t)?;
        self.calls.insert(h, Call::new(true, msg, key));
        Ok(h)
    }

    /// Answer the INVITE (or re-INVITE) of a call waiting for an answer: a provisional
    /// response (101-199, which makes an early dialog), a 2xx (confirmed dialog; re-sent
    /// until the ACK), or a rejection (300-699).
    pub fn answer(
        &mut self,
        now: Instant,
        h: CallHandle,
        code: u16,
        body: Option<Body>,
    ) -> Result<(), Error> {
        if !(101..=699).contains(&code) {
            return Err(Error::InvalidStatus(code));
        }
        let t1 = self.stack.t1();
        let x64 = self.stack.layer.config().timers.t1_x64();
        let contact = format!("<{}>", self.stack.config.contact);
        let allow = self.stack.config.capabilities.allow.join(", ");
        let supported = self.stack.config.capabilities.supported.join(", ");
        let call = self.calls.get_mut(&h).ok_or(Error::NoSuchCall(h))?;
        let Some(si) = call.server_invite.clone() else {
            return Err(Error::InvalidState("no INVITE is waiting for an answer"));
        };
        let mut b = ResponseBuilder::new(&si.request, code).to_tag(&call.local_tag);
        if code < 300 {
            b = b.header("Contact", &contact);
        }
        if (200..300).contains(&code) {
            b = b.header("Allow", &allow);
            if !supported.is_empty() {
                b = b.header("Supported", &supported);
            }
        }
        if let Some(body) = &body {
            b = b.body(&body.content_type, body.bytes.clone());
        }
        let resp = b.build()?;
        let secure = is_secure(&si.request, si.dest.transport == Transport::Tls);
        let mut rejected = false;
        match code {
            101..=199 => {
                if !si.reinvite && call.dialog.is_none() && call.early.is_empty() {
                    if let Ok(d) = Dialog::uas(&si.request, &call.local_tag, false) {
                        call.early.push(d.with_secure(secure));
                    }
                }
            }
            200..=299 => {
                if !si.reinvite {
                    let d = match call.early.pop() {
                        Some(mut d) => {
                            d.confirm(None);
                            Some(d)
                        }
                        None => Dialog::uas(&si.request, &call.local_tag, true)
                            .ok()
                            .map(|d| d.with_secure(secure)),
                    };
                    call.dialog = d;
                }
                call.server_invite = None;
                call.pending_2xx = Some(Pending2xx {
                    seq: si.request.cseq().map_or(0, |c| c.seq),
                    bytes: resp.to_bytes(),
                    dest: si.dest,
                    interval: t1,
                    next: now + t1,
                    give_up: now + x64,
                    initial: !si.reinvite,
                });
            }
            _ => {
                call.server_invite = None;
                rejected = !si.reinvite;
            }
        }
        self.stack.respond(now, &si.key, resp);
        if rejected {
            self.end_call(now, h, EndReason::Rejected { code });
        }
        self.drain(now);
        Ok(())
    }

    /// Section 9.1: cancel our unanswered INVITE. The CANCEL goes once a provisional
    /// response has arrived; the call ends with [`EndReason::Cancelled`] on the 487.
    pub fn cancel(&mut self, now: Instant, h: CallHandle) -> Result<(), Error> {
        let call = self.calls.get_mut(&h).ok_or(Error::NoSuchCall(h))?;
        if !call.uac || call.ended || call.dialog.is_some() {
            return Err(Error::InvalidState(
                "only an unanswered outgoing call can be cancelled",
            ));
        }
        match call.cancel {
            Cancel::No if call.provisional => self.send_cancel(now, h),
            Cancel::No => call.cancel = Cancel::Pending,
            Cancel::Pending | Cancel::Sent => {}
        }
        self.drain(now);
        Ok(())
    }

    /// Section 15: hang up. A confirmed call gets BYE and ends now (15.1.1); an
    /// unanswered outgoing call is cancelled. The callee sends its BYE only after the
    /// ACK for its 2xx.
    pub fn bye(&mut self, now: Instant, h: CallHandle) -> Result<(), Error> {
        let call = self.calls.get_mut(&h).ok_or(Error::NoSuchCall(h))?;
        if call.ended {
            return Err(Error::InvalidState("the call has ended"));
        }
        if call.dialog.is_none() {
            if call.uac {
                return self.cancel(now, h);
            }
            return Err(Error::InvalidState(
                "answer an incoming call with a final response to refuse it",
            ));
        }
        if call.pending_2xx.as_ref().is_some_and(|p| p.initial) {
            call.hangup_after_ack = true;
            return Ok(());
        }
        self.send_bye(now, h);
        self.end_call(now, h, EndReason::LocalBye);
        self.drain(now);
        Ok(())
    }

    /// Section 14.1: a re-INVITE with a new offer (or none). The result comes as
    /// [`Event::ReinviteResult`]; a 491 is retried after the back-off.
    pub fn reinvite(
        &mut self,
        now: Instant,
        h: CallHandle,
        body: Option<Body>,
    ) -> Result<(), Error> {
        let call = self.calls.get_mut(&h).ok_or(Error::NoSuchCall(h))?;
        if call.ended || call.dialog.is_none() {
            return Err(Error::InvalidState("the call has no confirmed dialog"));
        }
        if call.reinvite.is_some()
            || call.server_invite.is_some()
            || call.glare_retry.is_some()
            || call.pending_2xx.is_some()
        {
            return Err(Error::RequestPending);
        }
        self.send_reinvite(now, h, body)?;
        self.drain(now);
        Ok(())
    }

    // -- sending --------------------------------------------------------------------

    fn send_cancel(&mut self, now: Instant, h: CallHandle) {
        let Some(call) = self.calls.get_mut(&h) else {
            return;
        };
        let Some(dest) = self
            .stack
            .clients
            .get(&call.invite_key)
            .map(|o| o.template.dest)
        else {
            return;
        };
        let cancel = match uac::build_cancel(&call.invite) {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(error = %e, "could not build CANCEL");
                return;
            }
        };
        call.cancel = Cancel::Sent;
        let template = Template::from_message(&cancel, dest);
        match self.stack.layer.send_request(now, cancel, dest) {
            Ok(key) => {
                self.stack.clients.insert(
                    key,
                    super::Outgoing {
                        purpose: Purpose::Cancel(h),
                        template,
                        auth_tries: 0,
                        tried: Vec::new(),
                    },
                );
            }
            Err(e) => tracing::warn!(error = %e, "could not send CANCEL"),
        }
    }

    fn send_bye(&mut self, now: Instant, h: CallHandle) {
        let Some(d) = self.calls.get_mut(&h).and_then(|c| c.dialog.as_mut()) else {
            return;
        };
        match self.stack.dialog_request(d, Method::Bye, None) {
            Ok(t) => {
                if let Err(e) = self.stack.send(now, Purpose::InDialog(h), t) {
                    tracing::warn!(error = %e, "could not send BYE");
                }
            }
            Err(e) => tracing::warn!(error = %e, "could not build BYE"),
        }
    }

    fn send_reinvite(
        &mut self,
        now: Instant,
        h: CallHandle,
        body: Option<Body>,
    ) -> Result<(), Error> {
        let d = self
            .calls
            .get_mut(&h)
            .and_then(|c| c.dialog.as_mut())
            .ok_or(Error::InvalidState("the call has no confirmed dialog"))?;
        let t = self.stack.dialog_request(d, Method::Invite, body.clone())?;
        let (key, request) = self.stack.send(now, Purpose::Reinvite(h), t)?;
        if let Some(c) = self.calls.get_mut(&h) {
            c.reinvite = Some(OutReinvite { key, request, body });
        }
        Ok(())
    }

    /// Mark a call ended, tell the application once, and forget it when no
    /// transaction needs it any more.
    pub(super) fn end_call(&mut self, _now: Instant, h: CallHandle, reason: EndReason) {
        let Some(c) = self.calls.get_mut(&h) else {
            return;
        };
        if c.ended {
            return;
        }
        c.ended = true;
        c.pending_2xx = None;
        c.glare_retry = None;
        c.server_invite = None;
        self.events.push_back(Event::CallEnded { call: h, reason });
        self.forget_if_done(h);
    }

    /// An ended call stays while its INVITE client transactions live, to ACK
    /// retransmitted 2xx (13.2.2.4).
    pub(super) fn forget_if_done(&mut self, h: CallHandle) {
        let ended = self.calls.get(&h).is_some_and(|c| c.ended);
        let busy = self
            .stack
            .clients
            .values()
            .any(|o| matches!(o.purpose, Purpose::Invite(x) | Purpose::Reinvite(x) if x == h));
        if ended && !busy {
            self.calls.remove(&h);
        }
    }

    // -- UAC: responses -------------------------------------------------------------

    pub(super) fn on_invite_response(
        &mut self,
        now: Instant,
        h: CallHandle,
        _key: &TransactionKey,
        code: u16,
        msg: Option<Message>,
    ) {
        let Some(call) = self.calls.get_mut(&h) else {
            return;
        };
        match (code, msg) {
            (100..=199, Some(msg)) => {
                if call.ended {
                    return;
                }
                call.provisional = true;
                if code > 100 {
                    if let Some(tag) = msg.to_tag() {
                        let known = call.early.iter().any(|d| d.id.remote_tag == tag);
                        if call.dialog.is_none() && !known {
                            if let Ok(d) = Dialog::uac(&call.invite, &msg) {
                                call.early.push(d);
                            }
                        }
                    }
                    self.events.push_back(Event::CallRinging {
                        call: h,
                        code,
                        body: Body::of(&msg),
                    });
                }
                if call.cancel == Cancel::Pending {
                    self.send_cancel(now, h);
                }
            }
            (200..=299, Some(msg)) => self.on_invite_2xx(now, h, msg),
            (300..=699, msg) => {
                if call.ended {
                    return;
                }
                let reason = match (code, &msg) {
                    (408, None) => EndReason::Timeout,
                    (503, None) => EndReason::TransportError,
                    (487, _) if call.cancel != Cancel::No => EndReason::Cancelled,
                    (300..=399, Some(m)) => EndReason::Redirected {
                        code,
                        targets: uac::redirect_targets(m),
                    },
                    _ => EndReason::Rejected { code },
                };
                call.early.clear();
                self.end_call(now, h, reason);
            }
            _ => {}
        }
    }

    /// Section 13.2.2.4.
    fn on_invite_2xx(&mut self, now: Instant, h: CallHandle, msg: Message) {
        let Some(call) = self.calls.get_mut(&h) else {
            return;
        };
        let tag = msg.to_tag().unwrap_or_default().to_string();
        let seq = msg.cseq().map_or(0, |c| c.seq);
        if let Some(a) = call
            .acks
            .iter()
            .find(|a| a.remote_tag == tag && a.seq == seq)
        {
            // A retransmission: the same ACK again.
            self.stack.layer.send_stateless(a.dest, a.bytes.clone());
            return;
        }
        let mut dialog = match call.early.iter().position(|d| d.id.remote_tag == tag) {
            Some(i) => {
                let mut d = call.early.remove(i);
                d.confirm(Some(&msg));
                d
            }
            None => match Dialog::uac(&call.invite, &msg) {
                Ok(d) => d,
                Err(e) => {
                    tracing::debug!(error = %e, "2xx without a usable dialog dropped");
                    return;
                }
            },
        };
        if let Some((dest, bytes)) = self.stack.send_ack(&dialog, seq, &call.invite) {
            call.acks.push(SentAck {
                remote_tag: tag,
                seq,
                dest,
                bytes,
            });
        }
        if call.dialog.is_none() && !call.ended {
            call.dialog = Some(dialog);
            if call.cancel != Cancel::No {
                // 9.1: the 2xx crossed our CANCEL; the call is not wanted.
                self.send_bye(now, h);
                self.end_call(now, h, EndReason::Cancelled);
            } else {
                self.events.push_back(Event::CallAnswered {
                    call: h,
                    body: Body::of(&msg),
                });
            }
        } else {
            // Another fork answered too: ACKed above, now ended with BYE.
            match self.stack.dialog_request(&mut dialog, Method::Bye, None) {
                Ok(t) => {
                    if let Err(e) = self.stack.send(now, Purpose::ForkBye, t) {
                        tracing::warn!(error = %e, "could not send BYE to a fork");
                    }
                }
                Err(e) => tracing::warn!(error = %e, "could not build BYE to a fork"),
            }
        }
    }

    pub(super) fn on_reinvite_response(
        &mut self,
        now: Instant,
        h: CallHandle,
        key: &TransactionKey,
        code: u16,
        msg: Option<Message>,
    ) {
        let owner = self.calls.get(&h).is_some_and(|c| c.uac);
        let backoff = uac::glare_backoff(owner, self.stack.random());
        let Some(call) = self.calls.get_mut(&h) else {
            return;
        };
        if code < 200 || call.ended {
            return;
        }
        let current = call.reinvite.as_ref().is_some_and(|r| &r.key == key);
        if (200..300).contains(&code) {
            let Some(msg) = msg else { return };
            let tag = msg.to_tag().unwrap_or_default().to_string();
            let seq = msg.cseq().map_or(0, |c| c.seq);
            if let Some(a) = call
                .acks
                .iter()
                .find(|a| a.remote_tag == tag && a.seq == seq)
            {
                self.stack.layer.send_stateless(a.dest, a.bytes.clone());
                return;
            }
            let Some(r) = call.reinvite.take().filter(|_| current) else {
                return;
            };
            let Some(d) = call.dialog.as_mut() else {
                return;
            };
            d.refresh_target(&msg);
            if let Some((dest, bytes)) = self.stack.send_ack(d, seq, &r.request) {
                call.acks.push(SentAck {
                    remote_tag: tag,
                    seq,
                    dest,
                    bytes,
                });
            }
            self.events.push_back(Event::ReinviteResult {
                call: h,
                code,
                body: Body::of(&msg),
            });
            return;
        }
        if !current {
            return;
        }
        let Some(r) = call.reinvite.take() else {
            return;
        };
        if code == 491 {
            call.glare_retry = Some((now + backoff, r.body));
            return;
        }
        self.events.push_back(Event::ReinviteResult {
            call: h,
            code,
            body: msg.as_ref().and_then(Body::of),
        });
        if matches!(code, 408 | 481) {
            self.end_call(now, h, EndReason::DialogGone { code });
        }
    }

    // -- UAS: requests --------------------------------------------------------------

    /// An INVITE outside any dialog: a new call (13.3.1).
    pub(super) fn on_invite(
        &mut self,
        _now: Instant,
        key: TransactionKey,
        msg: Message,
        source: Target,
    ) {
        let h = CallHandle(self.handle());
        let dest = response_dest(&msg, source);
        let mut call = Call::new(false, msg.clone(), key.clone());
        call.server_invite = Some(ServerInvite {
            key,
            request: msg.clone(),
            dest,
            reinvite: false,
        });
        self.calls.insert(h, call);
        self.events.push_back(Event::IncomingCall {
            call: h,
            from: msg
                .from()
                .map(|f| f.uri.as_str().to_string())
                .unwrap_or_default(),
            to: msg
                .to()
                .map(|f| f.uri.as_str().to_string())
                .unwrap_or_default(),
            body: Body::of(&msg),
        });
    }

    fn find_call(&self, call_id: &str, local: &str, remote: &str) -> Option<CallHandle> {
        self.calls
            .iter()
            .find(|(_, c)| !c.ended && c.matches(call_id, local, remote))
            .map(|(h, _)| *h)
    }

    /// A request with a To tag (12.2.2).
    pub(super) fn on_in_dialog(
        &mut self,
        now: Instant,
        key: TransactionKey,
        msg: Message,
        source: Target,
    ) {
        let call_id = msg.call_id().unwrap_or_default();
        let local = msg.to_tag().unwrap_or_default();
        let remote = msg.from_tag().unwrap_or_default();
        let Some(h) = self.find_call(call_id, local, remote) else {
            self.stack.reply(now, &key, &msg, 481);
            return;
        };
        let Some(call) = self.calls.get_mut(&h) else {
            return;
        };
        let checked = call
            .dialog
            .iter_mut()
            .chain(call.early.iter_mut())
            .find(|d| d.id.remote_tag == remote)
            .map(|d| d.check_remote_cseq(&msg));
        if let Some(Err(e)) = checked {
            tracing::debug!(error = %e, "request within a dialog refused (12.2.2)");
            self.stack.reply(now, &key, &msg, 500);
            return;
        }
        match msg.method() {
            Some(Method::Invite) => self.on_reinvite(now, h, key, msg, source),
            Some(Method::Bye) => {
                self.stack.reply(now, &key, &msg, 200);
                // 15.2: a BYE for an unanswered INVITE ends it with 487.
                if let Some(si) = call.server_invite.take() {
                    if let Ok(r) = ResponseBuilder::new(&si.request, 487)
                        .to_tag(&call.local_tag)
                        .build()
                    {
                        self.stack.respond(now, &si.key, r);
                    }
                }
                self.end_call(now, h, EndReason::RemoteBye);
            }
            Some(Method::Options) => self.answer_options(now, &key, &msg),
            Some(Method::Message) => {
                self.stack.reply(now, &key, &msg, 200);
                self.events.push_back(Event::MessageReceived {
                    call: Some(h),
                    from: msg
                        .from()
                        .map(|f| f.uri.as_str().to_string())
                        .unwrap_or_default(),
                    body: Body::of(&msg),
                });
            }
            _ => self.stack.reply(now, &key, &msg, 501),
        }
    }

    /// Section 14.2.
    fn on_reinvite(
        &mut self,
        now: Instant,
        h: CallHandle,
        key: TransactionKey,
        msg: Message,
        source: Target,
    ) {
        let retry_after = self.stack.random() % 11;
        let Some(call) = self.calls.get_mut(&h) else {
            return;
        };
        if call.reinvite.is_some() || (call.uac && call.dialog.is_none()) {
            // Glare: our own INVITE is still pending.
            self.stack.reply(now, &key, &msg, 491);
            return;
        }
        if call.server_invite.is_some() || call.dialog.is_none() {
            if let Ok(r) = ResponseBuilder::new(&msg, 500)
                .header("Retry-After", &retry_after.to_string())
                .build()
            {
                self.stack.respond(now, &key, r);
            }
            return;
        }
        if let Some(d) = call.dialog.as_mut() {
            d.refresh_target(&msg);
        }
        call.server_invite = Some(ServerInvite {
            key,
            request: msg.clone(),
            dest: response_dest(&msg, source),
            reinvite: true,
        });
        self.events.push_back(Event::ReinviteReceived {
            call: h,
            body: Body::of(&msg),
        });
    }

    /// Section 9.2: CANCEL of an INVITE we have not answered: 200, then 487.
    pub(super) fn on_cancel(&mut self, now: Instant, key: TransactionKey, msg: Message) {
        let Some(invite_key) = self.stack.layer.cancel_target(&key) else {
            self.stack.reply(now, &key, &msg, 481);
            return;
        };
        let found = self.calls.iter_mut().find(|(_, c)| {
            c.server_invite
                .as_ref()
                .is_some_and(|s| s.key == invite_key)
                || c.invite_key == invite_key
        });
        let Some((h, call)) = found else {
            self.stack.reply(now, &key, &msg, 200);
            return;
        };
        let h = *h;
        if let Ok(r) = ResponseBuilder::new(&msg, 200)
            .to_tag(&call.local_tag)
            .build()
        {
            self.stack.respond(now, &key, r);
        }
        let Some(si) = call.server_invite.take_if(|s| s.key == invite_key) else {
            return;
        };
        if let Ok(r) = ResponseBuilder::new(&si.request, 487)
            .to_tag(&call.local_tag)
            .build()
        {
            self.stack.respond(now, &si.key, r);
        }
        if !si.reinvite {
            self.end_call(now, h, EndReason::Cancelled);
        }
    }

    /// The ACK for a 2xx of ours (13.3.1.4).
    pub(super) fn on_ack(&mut self, now: Instant, msg: Message) {
        let call_id = msg.call_id().unwrap_or_default();
        let local = msg.to_tag().unwrap_or_default();
        let remote = msg.from_tag().unwrap_or_default();
        let Some(h) = self.find_call(call_id, local, remote) else {
            return;
        };
        let seq = msg.cseq().map_or(0, |c| c.seq);
        let Some(call) = self.calls.get_mut(&h) else {
            return;
        };
        let Some(p) = call.pending_2xx.take_if(|p| p.seq == seq) else {
            return;
        };
        if p.initial {
            self.events.push_back(Event::CallConfirmed {
                call: h,
                body: Body::of(&msg),
            });
        }
        if call.hangup_after_ack {
            self.send_bye(now, h);
            self.end_call(now, h, EndReason::LocalBye);
        }
    }

    /// The UA's own timers of a call: 2xx retransmission (13.3.1.4) and glare retry
    /// (14.1).
    pub(super) fn call_timeout(&mut self, now: Instant, h: CallHandle) {
        let t2 = self.stack.t2();
        let backoff = {
            let owner = self.calls.get(&h).is_some_and(|c| c.uac);
            uac::glare_backoff(owner, self.stack.random())
        };
        let Some(call) = self.calls.get_mut(&h) else {
            return;
        };
        let mut no_ack = false;
        if let Some(p) = call.pending_2xx.as_mut().filter(|p| p.next <= now) {
            if now >= p.give_up {
                no_ack = true;
            } else {
                self.stack.layer.send_stateless(p.dest, p.bytes.clone());
                p.interval = (p.interval * 2).min(t2);
                p.next = (now + p.interval).min(p.give_up);
            }
        }
        if no_ack {
            call.pending_2xx = None;
            self.send_bye(now, h);
            self.end_call(now, h, EndReason::NoAck);
            return;
        }
        let due = call.glare_retry.as_ref().is_some_and(|g| g.0 <= now);
        if due {
            if call.server_invite.is_some() || call.pending_2xx.is_some() {
                // The peer's re-INVITE is in progress: wait again.
                if let Some(g) = call.glare_retry.as_mut() {
                    g.0 = now + backoff;
                }
                return;
            }
            let body = call.glare_retry.take().and_then(|g| g.1);
            if let Err(e) = self.send_reinvite(now, h, body) {
                tracing::warn!(error = %e, "could not retry the re-INVITE");
            }
        }
    }
}
