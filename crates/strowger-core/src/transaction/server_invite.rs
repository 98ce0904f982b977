//! The INVITE server transaction (RFC 3261 section 17.2.1, figure 7 as corrected by
//! RFC 6026 section 7.1: the Accepted state and timer L).
//!
//! ```text
//!                      |INVITE
//!                      |pass INV to TU
//!   INVITE             V send 100 if TU won't in 200 ms
//!   send response+------------+
//!       +--------|            |--------+ 101-199 from TU
//!       |        |  Proceeding|        | send response
//!       +------->|            |<-------+
//!                |            |          Transport Err.
//!                |            |          Inform TU
//!                |            |--------------------------------->+
//!                +------------+                                  |
//!   300-699 from TU |    |2xx from TU                            |
//!   send response   |    |send response                          |
//!                   |    +------------------> Accepted           |
//!                   |         INVITE absorbed; 2xx from TU sent; |
//!                   |         ACK to TU; timer L -> Terminated   |
//!                   V                                            |
//!   INVITE    +------------+  Timer G: resend (doubling to T2)   |
//!   send resp.|  Completed |  Timer H / Transport Err.: inform TU|
//!             +------------+                                     |
//!                   | ACK                                        |
//!                   V                                            |
//!             +------------+  ACK, INVITE absorbed               |
//!             |  Confirmed |  Timer I -> Terminated              |
//!             +------------+                                     |
//! ```

use std::time::Instant;

use bytes::Bytes;
use strowger_message::{Message, Method, ResponseBuilder};

use super::timers::{Retransmit, Timers};
use super::{Error, Event, Outbox, State, TransactionKey};
use crate::transport::Target;

#[derive(Debug)]
enum Phase {
    Proceeding {
        /// When the transaction sends 100 Trying itself, if the TU has not answered.
        trying: Option<Instant>,
        last_provisional: Option<Bytes>,
    },
    Completed {
        response: Bytes,
        g: Option<Retransmit>,
        h: Instant,
    },
    Confirmed {
        i: Instant,
    },
    Accepted {
        l: Instant,
    },
    Terminated,
}

/// An INVITE server transaction.
#[derive(Debug)]
pub struct ServerInviteTransaction {
    key: TransactionKey,
    /// Dropped at the final response: Completed keeps the response bytes, Accepted
    /// only the key (a proxy holds one of these per call for 64*T1 after its 2xx).
    request: Option<Message>,
    /// Where responses go (section 18.2.2).
    dest: Target,
    timers: Timers,
    /// The To tag of the final response, which an RFC 2543 ACK must carry.
    final_to_tag: Option<String>,
    phase: Phase,
}

impl ServerInviteTransaction {
    pub(crate) fn new(
        now: Instant,
        key: TransactionKey,
        request: Message,
        dest: Target,
        timers: Timers,
    ) -> Self {
        ServerInviteTransaction {
            key,
            request: Some(request),
            dest,
            phase: Phase::Proceeding {
                trying: Some(now + timers.trying),
                last_provisional: None,
            },
            final_to_tag: None,
            timers,
        }
    }

    pub fn state(&self) -> State {
        match self.phase {
            Phase::Proceeding { .. } => State::Proceeding,
            Phase::Completed { .. } => State::Completed,
            Phase::Confirmed { .. } => State::Confirmed,
            Phase::Accepted { .. } => State::Accepted,
            Phase::Terminated => State::Terminated,
        }
    }

    /// The request, until the final response is sent.
    pub fn request(&self) -> Option<&Message> {
        self.request.as_ref()
    }

    pub(crate) fn final_to_tag(&self) -> Option<&str> {
        self.final_to_tag.as_deref()
    }

    pub(crate) fn next_timeout(&self) -> Option<Instant> {
        match &self.phase {
            Phase::Proceeding { trying, .. } => *trying,
            Phase::Completed { g, h, .. } => Some(g.map_or(*h, |g| g.at.min(*h))),
            Phase::Confirmed { i } => Some(*i),
            Phase::Accepted { l } => Some(*l),
            Phase::Terminated => None,
        }
    }

    pub(crate) fn on_timeout(&mut self, now: Instant, out: &mut Outbox) {
        match &mut self.phase {
            Phase::Proceeding {
                trying,
                last_provisional,
            } if trying.is_some_and(|t| now >= t) => {
                *trying = None;
                // 17.2.1: the TU has been silent for 200 ms.
                let Some(request) = &self.request else { return };
                match ResponseBuilder::new(request, 100).build() {
                    Ok(r) => {
                        let bytes = r.to_bytes();
                        out.send(&self.dest, bytes.clone());
                        *last_provisional = Some(bytes);
                    }
                    Err(e) => tracing::warn!(error = %e, "could not build 100 Trying"),
                }
            }
            Phase::Completed { h, .. } if now >= *h => {
                // Timer H: the ACK never came (17.2.1).
                out.event(Event::Timeout {
                    key: self.key.clone(),
                });
                self.phase = Phase::Terminated;
            }
            Phase::Completed {
                g: Some(g),
                response,
                ..
            } if now >= g.at => {
                out.send(&self.dest, response.clone());
                g.interval = self.timers.double_capped(g.interval);
                g.at = now + g.interval;
            }
            Phase::Confirmed { i } if now >= *i => self.phase = Phase::Terminated,
            Phase::Accepted { l } if now >= *l => self.phase = Phase::Terminated,
            _ => {}
        }
    }

    /// A request matched this transaction: a retransmitted INVITE or an ACK.
    pub(crate) fn on_request(
        &mut self,
        now: Instant,
        msg: Message,
        from: Target,
        out: &mut Outbox,
    ) {
        let is_ack = msg.method() == Some(Method::Ack);
        match &mut self.phase {
            Phase::Proceeding {
                last_provisional: Some(p),
                ..
            } if !is_ack => out.send(&self.dest, p.clone()),
            Phase::Completed { response, .. } if !is_ack => {
                out.send(&self.dest, response.clone());
            }
            Phase::Completed { .. } => {
                // The ACK for our non-2xx final response: absorbed (17.2.1).
                let reliable = self.dest.transport.is_reliable();
                self.phase = if reliable {
                    Phase::Terminated
                } else {
                    Phase::Confirmed {
                        i: now + self.timers.i(false),
                    }
                };
            }
            Phase::Accepted { .. } if is_ack => {
                // RFC 6026 7.1: an ACK for the 2xx goes to the TU.
                out.event(Event::AckFor2xx {
                    key: self.key.clone(),
                    msg,
                    from: from.addr,
                    transport: from.transport,
                });
            }
            // Proceeding + ACK, Confirmed, Accepted + INVITE: absorbed.
            _ => {}
        }
    }

    /// A response from the TU.
    pub(crate) fn respond(
        &mut self,
        now: Instant,
        msg: Message,
        out: &mut Outbox,
    ) -> Result<(), Error> {
        let code = msg.status().ok_or(Error::NotAResponse)?;
        let bytes = msg.to_bytes();
        match (&mut self.phase, code) {
            (
                Phase::Proceeding {
                    trying,
                    last_provisional,
                },
                100..=199,
            ) => {
                *trying = None;
                out.send(&self.dest, bytes.clone());
                *last_provisional = Some(bytes);
            }
            (Phase::Proceeding { .. }, 200..=299) => {
                out.send(&self.dest, bytes);
                self.request = None;
                self.final_to_tag = to_tag(&msg);
                self.phase = Phase::Accepted {
                    l: now + self.timers.l(),
                };
            }
            (Phase::Proceeding { .. }, _) => {
                out.send(&self.dest, bytes.clone());
                self.request = None;
                self.final_to_tag = to_tag(&msg);
                let reliable = self.dest.transport.is_reliable();
                self.phase = Phase::Completed {
                    response: bytes,
                    g: Retransmit::start(now, self.timers.g(reliable)),
                    h: now + self.timers.h(),
                };
            }
            (Phase::Accepted { .. }, 200..=299) => {
                // RFC 6026 7.1: the TU retransmits its 2xx through the transaction.
                out.send(&self.dest, bytes);
            }
            (_, code) => {
                return Err(Error::InvalidState {
                    state: self.state(),
                    status: code,
                })
            }
        }
        Ok(())
    }

    pub(crate) fn on_transport_error(&mut self, out: &mut Outbox) {
        // 17.2.4: a response could not be delivered.
        out.event(Event::TransportError {
            key: self.key.clone(),
        });
        self.phase = Phase::Terminated;
    }

    pub(crate) fn is_terminated(&self) -> bool {
        matches!(self.phase, Phase::Terminated)
    }
}

fn to_tag(msg: &Message) -> Option<String> {
    msg.to().and_then(|t| t.tag().map(str::to_string))
}
