//! The non-INVITE server transaction (RFC 3261 section 17.2.2, figure 8).
//!
//! ```text
//!                   |Request received
//!                   |pass to TU
//!                   V
//!             +-----------+
//!             |           |
//!             | Trying    |-------------+
//!             |           |             |
//!             +-----------+             |200-699 from TU
//!                   |                   |send response
//!                   |1xx from TU        |
//!                   |send response      |
//!                   |                   |
//!    Request        V      1xx from TU  |
//!    send response+-----------+send response|
//!        +--------|           |--------+  |
//!        |        | Proceeding|        |  |
//!        +------->|           |<-------+  |
//! +<--------------|           |           |
//! |Trnsprt Err    +-----------+           |
//! |Inform TU            |                 |
//! |                     |                 |
//! |                     |200-699 from TU  |
//! |                     |send response    |
//! |  Request            V                 |
//! |  send response+-----------+           |
//! |      +--------|           |           |
//! |      |        | Completed |<----------+
//! |      +------->|           |
//! +<--------------|           |
//! |Trnsprt Err    +-----------+
//! |Inform TU            |
//! |                     |Timer J fires
//! |                     |-
//! |                     |
//! |                     V
//! +-------------->Terminated
//! ```

use std::time::Instant;

use bytes::Bytes;
use strowger_message::Message;

use super::timers::Timers;
use super::{Error, Event, Outbox, State, TransactionKey};
use crate::transport::Target;

#[derive(Debug)]
enum Phase {
    Trying,
    Proceeding { last: Bytes },
    Completed { response: Bytes, j: Instant },
    Terminated,
}

/// A non-INVITE server transaction.
#[derive(Debug)]
pub struct ServerNonInviteTransaction {
    key: TransactionKey,
    /// Dropped once a final response is sent: in Completed only the response is
    /// retransmitted, and a registrar holds thousands of completed transactions.
    request: Option<Message>,
    dest: Target,
    timers: Timers,
    phase: Phase,
    /// When a transaction the TU never answered is dropped: the client gave up at
    /// timer F (64*T1) by then. Not in RFC 3261, which assumes the TU always answers;
    /// without it a dropped request (a scanner, a TU bug) would hold memory forever.
    guard: Instant,
}

impl ServerNonInviteTransaction {
    pub(crate) fn new(
        now: Instant,
        key: TransactionKey,
        request: Message,
        dest: Target,
        timers: Timers,
    ) -> Self {
        let guard = now + timers.f();
        ServerNonInviteTransaction {
            key,
            request: Some(request),
            dest,
            timers,
            phase: Phase::Trying,
            guard,
        }
    }

    pub fn state(&self) -> State {
        match self.phase {
            Phase::Trying => State::Trying,
            Phase::Proceeding { .. } => State::Proceeding,
            Phase::Completed { .. } => State::Completed,
            Phase::Terminated => State::Terminated,
        }
    }

    /// The request, until the final response is sent.
    pub fn request(&self) -> Option<&Message> {
        self.request.as_ref()
    }

    pub(crate) fn next_timeout(&self) -> Option<Instant> {
        match &self.phase {
            Phase::Completed { j, .. } => Some(*j),
            Phase::Trying | Phase::Proceeding { .. } => Some(self.guard),
            Phase::Terminated => None,
        }
    }

    pub(crate) fn on_timeout(&mut self, now: Instant, _out: &mut Outbox) {
        match &self.phase {
            Phase::Completed { j, .. } if now >= *j => self.phase = Phase::Terminated,
            Phase::Trying | Phase::Proceeding { .. } if now >= self.guard => {
                self.phase = Phase::Terminated
            }
            _ => {}
        }
    }

    /// A retransmission of the request.
    pub(crate) fn on_request(&mut self, out: &mut Outbox) {
        match &self.phase {
            // Trying: absorbed; the TU has not answered yet.
            Phase::Trying | Phase::Terminated => {}
            Phase::Proceeding { last } => out.send(&self.dest, last.clone()),
            Phase::Completed { response, .. } => out.send(&self.dest, response.clone()),
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
        if matches!(self.phase, Phase::Completed { .. } | Phase::Terminated) {
            // 17.2.2: further final responses are discarded.
            return Err(Error::InvalidState {
                state: self.state(),
                status: code,
            });
        }
        let bytes = msg.to_bytes();
        out.send(&self.dest, bytes.clone());
        if code < 200 {
            self.phase = Phase::Proceeding { last: bytes };
        } else {
            let reliable = self.dest.transport.is_reliable();
            self.request = None;
            self.phase = if reliable {
                Phase::Terminated
            } else {
                Phase::Completed {
                    response: bytes,
                    j: now + self.timers.j(false),
                }
            };
        }
        Ok(())
    }

    pub(crate) fn on_transport_error(&mut self, out: &mut Outbox) {
        out.event(Event::TransportError {
            key: self.key.clone(),
        });
        self.phase = Phase::Terminated;
    }

    /// In the Completed state: the final response, where it goes and when timer J
    /// fires; all the state needs from here on (the layer keeps only that).
    pub(crate) fn completed(&self) -> Option<(Bytes, Target, Instant)> {
        match &self.phase {
            Phase::Completed { response, j } => Some((response.clone(), self.dest, *j)),
            _ => None,
        }
    }

    pub(crate) fn is_terminated(&self) -> bool {
        matches!(self.phase, Phase::Terminated)
    }
}
