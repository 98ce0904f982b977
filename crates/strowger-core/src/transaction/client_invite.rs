//! The INVITE client transaction (RFC 3261 section 17.1.1, figure 5 as corrected by
//! RFC 6026 section 7.2: the Accepted state and timer M).
//!
//! ```text
//!                    |INVITE from TU
//!    Timer A fires   |INVITE sent
//!    Reset A,        V                      Timer B fires
//!    INVITE sent +-----------+              or Transport Err.
//!      +---------|           |---------------+inform TU
//!      |         |  Calling  |               |
//!      +-------->|           |-----------+   |
//!                +-----------+ 2xx       |   |
//!                   |  |       2xx to TU |   |
//!       300-699     |  |1xx              |   |
//!       ACK sent    |  |1xx to TU        |   |
//!     resp. to TU   |  V                 V   |
//!                   | Proceeding ---> Accepted (2xx to TU, each one; timer M)
//!                   V
//!               Completed (ACK re-sent on each final retransmission; timer D)
//!                   |
//!                   V
//!               Terminated
//! ```

use std::time::Instant;

use bytes::Bytes;
use strowger_message::{HeaderName, Message};

use super::timers::{Retransmit, Timers};
use super::{Event, Outbox, State, TransactionKey};
use crate::transport::Target;

#[derive(Debug)]
enum Phase {
    Calling {
        a: Option<Retransmit>,
        b: Instant,
    },
    Proceeding,
    /// A non-2xx final response was received; `ack` is re-sent for each
    /// retransmission of it until timer D.
    Completed {
        ack: Bytes,
        d: Instant,
    },
    /// A 2xx was received (RFC 6026); more 2xx go to the TU until timer M.
    Accepted {
        m: Instant,
    },
    Terminated,
}

/// An INVITE client transaction.
#[derive(Debug)]
pub struct ClientInviteTransaction {
    key: TransactionKey,
    /// The request and its bytes, dropped at the final response: Completed keeps the
    /// ACK it built from them, Accepted only the key (a proxy holds one of these per
    /// call for 64*T1 after its 2xx).
    request: Option<Message>,
    bytes: Bytes,
    dest: Target,
    timers: Timers,
    phase: Phase,
}

impl ClientInviteTransaction {
    /// Start the transaction: the INVITE is sent now.
    pub(crate) fn start(
        now: Instant,
        key: TransactionKey,
        request: Message,
        dest: Target,
        timers: Timers,
        out: &mut Outbox,
    ) -> Self {
        let bytes = request.to_bytes();
        out.send(&dest, bytes.clone());
        let reliable = dest.transport.is_reliable();
        ClientInviteTransaction {
            key,
            request: Some(request),
            bytes,
            dest,
            phase: Phase::Calling {
                a: Retransmit::start(now, timers.a(reliable)),
                b: now + timers.b(),
            },
            timers,
        }
    }

    pub fn state(&self) -> State {
        match self.phase {
            Phase::Calling { .. } => State::Calling,
            Phase::Proceeding => State::Proceeding,
            Phase::Completed { .. } => State::Completed,
            Phase::Accepted { .. } => State::Accepted,
            Phase::Terminated => State::Terminated,
        }
    }

    /// The request, until the final response arrives.
    pub fn request(&self) -> Option<&Message> {
        self.request.as_ref()
    }

    pub(crate) fn next_timeout(&self) -> Option<Instant> {
        match &self.phase {
            Phase::Calling { a, b } => Some(a.map_or(*b, |a| a.at.min(*b))),
            Phase::Proceeding | Phase::Terminated => None,
            Phase::Completed { d, .. } => Some(*d),
            Phase::Accepted { m } => Some(*m),
        }
    }

    pub(crate) fn on_timeout(&mut self, now: Instant, out: &mut Outbox) {
        match &mut self.phase {
            Phase::Calling { b, .. } if now >= *b => {
                // Timer B: no final response (17.1.1.2).
                out.event(Event::Timeout {
                    key: self.key.clone(),
                });
                self.phase = Phase::Terminated;
            }
            Phase::Calling { a: Some(a), .. } if now >= a.at => {
                // Timer A: retransmit, doubling the interval (no T2 cap for INVITE).
                out.send(&self.dest, self.bytes.clone());
                a.interval = a.interval.saturating_mul(2);
                a.at = now + a.interval;
            }
            Phase::Completed { d, .. } if now >= *d => self.phase = Phase::Terminated,
            Phase::Accepted { m } if now >= *m => self.phase = Phase::Terminated,
            _ => {}
        }
    }

    pub(crate) fn on_response(&mut self, now: Instant, msg: Message, out: &mut Outbox) {
        let Some(code) = msg.status() else { return };
        match (&self.phase, code) {
            (Phase::Calling { .. } | Phase::Proceeding, 100..=199) => {
                self.phase = Phase::Proceeding;
                self.pass_up(msg, out);
            }
            (Phase::Calling { .. } | Phase::Proceeding, 200..=299) => {
                // RFC 6026 7.2: Accepted, not Terminated, so 2xx retransmissions and
                // 2xx from other forks still reach the TU.
                self.forget_request();
                self.phase = Phase::Accepted {
                    m: now + self.timers.m(),
                };
                self.pass_up(msg, out);
            }
            (Phase::Calling { .. } | Phase::Proceeding, _) => {
                let ack = self.ack_for(&msg);
                self.forget_request();
                out.send(&self.dest, ack.clone());
                let reliable = self.dest.transport.is_reliable();
                self.phase = if reliable {
                    Phase::Terminated
                } else {
                    Phase::Completed {
                        ack,
                        d: now + self.timers.d(false),
                    }
                };
                self.pass_up(msg, out);
            }
            (Phase::Completed { ack, .. }, 300..=699) => {
                // A retransmission of the final response: ACK again, absorb.
                out.send(&self.dest, ack.clone());
            }
            (Phase::Accepted { .. }, 200..=299) => self.pass_up(msg, out),
            _ => {
                tracing::trace!(key = %self.key, code, "response absorbed");
            }
        }
    }

    pub(crate) fn on_transport_error(&mut self, out: &mut Outbox) {
        // 17.1.4: the TU hears of it while it still waits for a final response.
        if matches!(self.phase, Phase::Calling { .. } | Phase::Proceeding) {
            out.event(Event::TransportError {
                key: self.key.clone(),
            });
        }
        self.phase = Phase::Terminated;
    }

    pub(crate) fn is_terminated(&self) -> bool {
        matches!(self.phase, Phase::Terminated)
    }

    fn pass_up(&self, msg: Message, out: &mut Outbox) {
        out.event(Event::Response {
            key: self.key.clone(),
            msg,
        });
    }

    /// The ACK for a non-2xx final response (section 17.1.1.3).
    fn ack_for(&self, response: &Message) -> Bytes {
        match &self.request {
            Some(request) => build_ack(request, response),
            None => Bytes::new(),
        }
    }

    fn forget_request(&mut self) {
        self.request = None;
        self.bytes = Bytes::new();
    }
}

/// Section 17.1.1.3: the ACK for a non-2xx final response to `invite`. Request-URI,
/// Call-ID, From and CSeq number of the INVITE, CSeq method ACK, the To of the response,
/// the single top Via of the INVITE, its Route header fields, Max-Forwards 70, no body.
pub fn build_ack(invite: &Message, response: &Message) -> Bytes {
    let mut out = String::with_capacity(invite.as_bytes().len());
    let ruri = invite.request_uri_str().unwrap_or_default();
    out.push_str("ACK ");
    out.push_str(ruri);
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
    if let Some(from) = invite.get(HeaderName::From).next() {
        line("From", from);
    }
    if let Some(to) = response.get(HeaderName::To).next() {
        line("To", to);
    }
    if let Some(call_id) = invite.call_id() {
        line("Call-ID", call_id);
    }
    let seq = invite.cseq().map_or(0, |c| c.seq);
    line("CSeq", &format!("{seq} ACK"));
    line("Content-Length", "0");
    out.push_str("\r\n");
    // Kept in Completed until timer D: without the spare capacity.
    let mut out = out.into_bytes();
    out.shrink_to_fit();
    Bytes::from(out)
}
