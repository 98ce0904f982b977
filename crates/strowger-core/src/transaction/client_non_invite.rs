//! The non-INVITE client transaction (RFC 3261 section 17.1.2, figure 6).
//!
//! ```text
//!                    |Request from TU
//!                    |send request
//! Timer E            V
//! send request +-----------+
//!    +---------|           |-------------------+
//!    |         |  Trying   |  Timer F          |
//!    +-------->|           |  or Transport Err.|
//!              +-----------+  inform TU        |
//!  200-699        |  |                         |
//!  resp. to TU    |  |1xx                      |
//!  +--------------+  |resp. to TU              |
//!  |                 |                         |
//!  |   Timer E       V       Timer F           |
//!  |   send req +-----------+ or Transport Err.|
//!  |  +---------|           | inform TU        |
//!  |  |         |Proceeding |------------------|
//!  |  +-------->|           |-----+            |
//!  |            +-----------+     |1xx         |
//!  |              |      ^        |resp to TU  |
//!  | 200-699      |      +--------+            |
//!  | resp. to TU  |                            |
//!  |              V                            |
//!  |            +-----------+                  |
//!  |            |           |                  |
//!  |            | Completed |                  |
//!  |            |           |                  |
//!  |            +-----------+                  |
//!  |              ^   |                        |
//!  |              |   | Timer K                |
//!  +--------------+   | -                      |
//!                     |                        |
//!                     V                        |
//!               NOTE: Terminated <-------------+
//! ```

use std::time::Instant;

use bytes::Bytes;
use strowger_message::Message;

use super::timers::{Retransmit, Timers};
use super::{Event, Outbox, State, TransactionKey};
use crate::transport::Target;

#[derive(Debug)]
enum Phase {
    Trying { e: Option<Retransmit>, f: Instant },
    Proceeding { e: Option<Retransmit>, f: Instant },
    Completed { k: Instant },
    Terminated,
}

/// A non-INVITE client transaction.
#[derive(Debug)]
pub struct ClientNonInviteTransaction {
    key: TransactionKey,
    /// The request and its bytes, dropped at the final response: in Completed only
    /// the key is needed (to absorb retransmissions of the response, timer K).
    request: Option<Message>,
    bytes: Bytes,
    dest: Target,
    timers: Timers,
    phase: Phase,
}

impl ClientNonInviteTransaction {
    /// Start the transaction: the request is sent now.
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
        ClientNonInviteTransaction {
            key,
            request: Some(request),
            bytes,
            dest,
            phase: Phase::Trying {
                e: Retransmit::start(now, timers.e(reliable)),
                f: now + timers.f(),
            },
            timers,
        }
    }

    pub fn state(&self) -> State {
        match self.phase {
            Phase::Trying { .. } => State::Trying,
            Phase::Proceeding { .. } => State::Proceeding,
            Phase::Completed { .. } => State::Completed,
            Phase::Terminated => State::Terminated,
        }
    }

    /// The request, until the final response arrives.
    pub fn request(&self) -> Option<&Message> {
        self.request.as_ref()
    }

    pub(crate) fn next_timeout(&self) -> Option<Instant> {
        match &self.phase {
            Phase::Trying { e, f } | Phase::Proceeding { e, f } => {
                Some(e.map_or(*f, |e| e.at.min(*f)))
            }
            Phase::Completed { k } => Some(*k),
            Phase::Terminated => None,
        }
    }

    pub(crate) fn on_timeout(&mut self, now: Instant, out: &mut Outbox) {
        let t2 = self.timers.t2;
        match &mut self.phase {
            Phase::Trying { f, .. } | Phase::Proceeding { f, .. } if now >= *f => {
                // Timer F (17.1.2.2).
                out.event(Event::Timeout {
                    key: self.key.clone(),
                });
                self.phase = Phase::Terminated;
            }
            Phase::Trying { e: Some(e), .. } if now >= e.at => {
                // Timer E: doubling up to T2.
                out.send(&self.dest, self.bytes.clone());
                e.interval = self.timers.double_capped(e.interval);
                e.at = now + e.interval;
            }
            Phase::Proceeding { e: Some(e), .. } if now >= e.at => {
                // Timer E in Proceeding: every T2.
                out.send(&self.dest, self.bytes.clone());
                e.interval = t2;
                e.at = now + t2;
            }
            Phase::Completed { k } if now >= *k => self.phase = Phase::Terminated,
            _ => {}
        }
    }

    pub(crate) fn on_response(&mut self, now: Instant, msg: Message, out: &mut Outbox) {
        let Some(code) = msg.status() else { return };
        match &self.phase {
            Phase::Trying { e, f } | Phase::Proceeding { e, f } => {
                if code < 200 {
                    self.phase = Phase::Proceeding { e: *e, f: *f };
                } else {
                    self.request = None;
                    self.bytes = Bytes::new();
                    let reliable = self.dest.transport.is_reliable();
                    self.phase = if reliable {
                        Phase::Terminated
                    } else {
                        Phase::Completed {
                            k: now + self.timers.k(false),
                        }
                    };
                }
                out.event(Event::Response {
                    key: self.key.clone(),
                    msg,
                });
            }
            // Completed: retransmissions of the final response are absorbed.
            Phase::Completed { .. } | Phase::Terminated => {}
        }
    }

    pub(crate) fn on_transport_error(&mut self, out: &mut Outbox) {
        if matches!(self.phase, Phase::Trying { .. } | Phase::Proceeding { .. }) {
            out.event(Event::TransportError {
                key: self.key.clone(),
            });
        }
        self.phase = Phase::Terminated;
    }

    pub(crate) fn is_terminated(&self) -> bool {
        matches!(self.phase, Phase::Terminated)
    }
}
