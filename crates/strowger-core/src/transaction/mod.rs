//! The transaction layer (RFC 3261 section 17, with the corrections of RFC 6026), as a
//! sans-I/O state machine.
//!
//! [`TransactionLayer`] holds every client and server transaction. It is driven by
//! three kinds of input and drained of three kinds of output:
//!
//! - input: [`TransactionLayer::handle_message`] (a parsed message arrived),
//!   [`TransactionLayer::handle_timeout`] (time passed), and calls from the transaction
//!   user: [`TransactionLayer::send_request`], [`TransactionLayer::respond`],
//!   [`TransactionLayer::transport_error`];
//! - output: [`TransactionLayer::poll_transmit`] (bytes to send),
//!   [`TransactionLayer::poll_event`] (what the TU must hear) and
//!   [`TransactionLayer::poll_timeout`] (when to call `handle_timeout` next).
//!
//! Time is always the `now` passed in.
//!
//! ```
//! use std::time::{Duration, Instant};
//! use strowger_core::transaction::{Config, Event, TransactionLayer};
//! use strowger_core::transport::{Target, Transport};
//! use strowger_message::{Method, RequestBuilder};
//!
//! let mut layer = TransactionLayer::new(Config::default());
//! let now = Instant::now();
//! let options = RequestBuilder::new(Method::Options, "sip:bob@example.com")
//!     .via("UDP", "192.0.2.1:5060", "z9hG4bK74bf9")
//!     .from("<sip:alice@example.com>", "9fxced76sl")
//!     .to("<sip:bob@example.com>")
//!     .call_id("3848276298220188511@192.0.2.1")
//!     .cseq(1)
//!     .build()?;
//! let dest = Target::new("192.0.2.4:5060".parse().unwrap(), Transport::Udp);
//! let key = layer.send_request(now, options, dest).unwrap();
//! assert!(layer.poll_transmit().is_some());
//! // Timer E: the first retransmission is due after T1.
//! assert_eq!(layer.poll_timeout(), Some(now + Duration::from_millis(500)));
//! // Nobody answers: timer F fires after 64*T1.
//! layer.handle_timeout(now + Duration::from_secs(32));
//! assert!(matches!(layer.poll_event(), Some(Event::Timeout { key: k }) if k == key));
//! # Ok::<(), strowger_message::ParseError>(())
//! ```

mod client_invite;
mod client_non_invite;
mod key;
mod server_invite;
mod server_non_invite;
mod timers;

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::net::SocketAddr;
use std::time::Instant;

use bytes::Bytes;
use strowger_message::{Message, Method, ParseError};

pub use client_invite::build_ack;
pub use key::{BuildKeyHash, KeyHash, KeyTable, SentBy, SentByHost, TransactionKey};
pub use timers::Timers;

use client_invite::ClientInviteTransaction;
use client_non_invite::ClientNonInviteTransaction;
use server_invite::ServerInviteTransaction;
use server_non_invite::ServerNonInviteTransaction;

use crate::transport::{self, Target, Transmit, Transport};

/// Configuration of the transaction layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// T1, T2, T4 and the values derived from them.
    pub timers: Timers,
    /// Most live transactions; requests that would create more are dropped and
    /// [`TransactionLayer::send_request`] fails.
    pub max_transactions: usize,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            timers: Timers::default(),
            max_transactions: 100_000,
        }
    }
}

/// The states of the four machines (figures 5-8 of RFC 3261, RFC 6026 section 7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum State {
    /// INVITE client, before any response.
    Calling,
    /// Non-INVITE client or server, before any response.
    Trying,
    Proceeding,
    Completed,
    /// INVITE server, ACK received for a non-2xx final response.
    Confirmed,
    /// INVITE client or server after a 2xx (RFC 6026).
    Accepted,
    Terminated,
}

/// What the transaction user must hear.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// A request that created a new server transaction.
    NewRequest {
        key: TransactionKey,
        msg: Message,
        from: SocketAddr,
        transport: Transport,
    },
    /// A response for a client transaction (every 2xx to an INVITE, including
    /// retransmissions, which the TU acknowledges itself).
    Response { key: TransactionKey, msg: Message },
    /// Timer B, F or H fired (sections 17.1.1.2, 17.1.2.2, 17.2.1); for a client,
    /// act as on a 408 (section 8.1.3.1).
    Timeout { key: TransactionKey },
    /// The runtime reported a transport failure for this transaction (17.1.4, 17.2.4);
    /// for a client, act as on a 503 (section 8.1.3.1).
    TransportError { key: TransactionKey },
    /// The transaction is gone; its key may be reused.
    Terminated { key: TransactionKey },
    /// An ACK for a 2xx that matched an INVITE server transaction in the Accepted
    /// state (RFC 6026 section 7.1).
    AckFor2xx {
        key: TransactionKey,
        msg: Message,
        from: SocketAddr,
        transport: Transport,
    },
    /// An ACK that matched no transaction: the ACK for a 2xx, which a UA core takes
    /// and a proxy forwards statelessly (sections 13.3.1.4, 16.11, 17.2.3).
    StrayAck {
        msg: Message,
        from: SocketAddr,
        transport: Transport,
    },
    /// A response that matched no client transaction (18.1.2). A stateless proxy
    /// forwards it (16.11). RFC 6026, updating 18.1.2, has every other element (UA,
    /// stateful proxy) discard it silently: with the Accepted state every 2xx
    /// retransmission still finds its transaction, so such a TU should just drop this.
    StrayResponse {
        msg: Message,
        from: SocketAddr,
        transport: Transport,
    },
    /// A request that parsed but fails the checks of [`Message::validate`] (missing
    /// mandatory header fields, SIP version, CSeq method...). No transaction was
    /// created; the TU answers it statelessly (400, 505, section 8.2) or drops it.
    InvalidRequest {
        msg: Message,
        from: SocketAddr,
        transport: Transport,
        error: ParseError,
    },
}

/// Why a call from the TU failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    #[error("a response was given where a request is expected")]
    NotARequest,
    #[error("a request was given where a response is expected")]
    NotAResponse,
    #[error("an ACK is not a transaction; send it with send_stateless")]
    AckIsNotATransaction,
    #[error("the request has no top Via with a branch parameter")]
    MissingBranch,
    #[error("the request has no valid CSeq")]
    MissingCSeq,
    #[error("the CSeq method does not match the request method")]
    CSeqMismatch,
    #[error("a transaction with key {0} already exists")]
    DuplicateTransaction(TransactionKey),
    #[error("no transaction with key {0}")]
    NoSuchTransaction(TransactionKey),
    #[error("transaction {0} is a client transaction; only server transactions take responses")]
    NotAServerTransaction(TransactionKey),
    #[error("a {status} response cannot be sent in the {state:?} state")]
    InvalidState { state: State, status: u16 },
    #[error("too many transactions (limit {limit})")]
    TooManyTransactions { limit: usize },
}

/// Effects queued by the machines, drained by the runtime.
#[derive(Debug, Default)]
pub(crate) struct Outbox {
    transmits: VecDeque<Transmit>,
    events: VecDeque<Event>,
}

impl Outbox {
    pub(crate) fn send(&mut self, to: &Target, bytes: Bytes) {
        self.transmits.push_back(Transmit::to(to, bytes));
    }

    pub(crate) fn event(&mut self, e: Event) {
        self.events.push_back(e);
    }
}

/// The four machines, behind one interface for the layer.
#[derive(Debug)]
#[allow(clippy::enum_variant_names)]
enum Transaction {
    // Boxed: the machines are hundreds of bytes, and the table stores its values
    // inline, so that every slot would be as big as the biggest machine. Small slots
    // also keep the table's growth short: a resize moves every slot while the shard
    // is locked (at 144-byte slots that took 20 ms at 30 000 transactions).
    ClientInvite(Box<ClientInviteTransaction>),
    ClientNonInvite(Box<ClientNonInviteTransaction>),
    ServerInvite(Box<ServerInviteTransaction>),
    ServerNonInvite(Box<ServerNonInviteTransaction>),
    /// A non-INVITE server transaction in the Completed state over an unreliable
    /// transport (17.2.2), reduced to what that state needs: the final response to
    /// send again for every retransmission of the request until timer J. A registrar
    /// holds one per REGISTER of the last 32 s, so this is most of its transactions.
    NonInviteCompleted(Box<CompletedNonInvite>),
}

#[derive(Debug)]
struct CompletedNonInvite {
    response: Bytes,
    dest: Target,
    j: Instant,
    terminated: bool,
}

impl CompletedNonInvite {
    fn on_timeout(&mut self, now: Instant) {
        if now >= self.j {
            self.terminated = true;
        }
    }
}

impl Transaction {
    fn state(&self) -> State {
        match self {
            Transaction::ClientInvite(t) => t.state(),
            Transaction::ClientNonInvite(t) => t.state(),
            Transaction::ServerInvite(t) => t.state(),
            Transaction::ServerNonInvite(t) => t.state(),
            Transaction::NonInviteCompleted(c) => {
                if c.terminated {
                    State::Terminated
                } else {
                    State::Completed
                }
            }
        }
    }

    fn request(&self) -> Option<&Message> {
        match self {
            Transaction::ClientInvite(t) => t.request(),
            Transaction::ClientNonInvite(t) => t.request(),
            Transaction::ServerInvite(t) => t.request(),
            Transaction::ServerNonInvite(t) => t.request(),
            Transaction::NonInviteCompleted(_) => None,
        }
    }

    fn next_timeout(&self) -> Option<Instant> {
        match self {
            Transaction::ClientInvite(t) => t.next_timeout(),
            Transaction::ClientNonInvite(t) => t.next_timeout(),
            Transaction::ServerInvite(t) => t.next_timeout(),
            Transaction::ServerNonInvite(t) => t.next_timeout(),
            Transaction::NonInviteCompleted(c) => (!c.terminated).then_some(c.j),
        }
    }

    fn on_timeout(&mut self, now: Instant, out: &mut Outbox) {
        match self {
            Transaction::ClientInvite(t) => t.on_timeout(now, out),
            Transaction::ClientNonInvite(t) => t.on_timeout(now, out),
            Transaction::ServerInvite(t) => t.on_timeout(now, out),
            Transaction::ServerNonInvite(t) => t.on_timeout(now, out),
            Transaction::NonInviteCompleted(c) => c.on_timeout(now),
        }
    }

    fn on_transport_error(&mut self, key: &TransactionKey, out: &mut Outbox) {
        match self {
            Transaction::ClientInvite(t) => t.on_transport_error(out),
            Transaction::ClientNonInvite(t) => t.on_transport_error(out),
            Transaction::ServerInvite(t) => t.on_transport_error(out),
            Transaction::ServerNonInvite(t) => t.on_transport_error(out),
            // 17.2.4: a failure to send the response is a transport error.
            Transaction::NonInviteCompleted(c) => {
                out.event(Event::TransportError { key: key.clone() });
                c.terminated = true;
            }
        }
    }

    fn is_terminated(&self) -> bool {
        match self {
            Transaction::ClientInvite(t) => t.is_terminated(),
            Transaction::ClientNonInvite(t) => t.is_terminated(),
            Transaction::ServerInvite(t) => t.is_terminated(),
            Transaction::ServerNonInvite(t) => t.is_terminated(),
            Transaction::NonInviteCompleted(c) => c.terminated,
        }
    }
}

#[derive(Debug)]
struct Entry {
    /// The map's key, shared with the wake-up heap (one lookup finds both).
    key: TransactionKey,
    txn: Transaction,
    /// The wake-up last pushed for this transaction.
    scheduled: Option<Instant>,
}

/// Every transaction of one SIP element, sans-I/O. See the [module](self) docs.
#[derive(Debug)]
pub struct TransactionLayer {
    config: Config,
    /// Keys are shared with `wakeups` (a reference count, not a copy of the strings
    /// for every timer armed) and carry their hash (keyed, see [`TransactionKey`]).
    /// In parts, so that no growth of the table stops the worker for long.
    transactions: KeyTable<Entry>,
    /// Wake-ups, possibly stale: an entry counts only while its transaction's next
    /// timeout is still that instant. The sequence number orders equal instants (timers
    /// armed in one call share its `now`), so that the heap never compares keys, which
    /// are strings.
    wakeups: BinaryHeap<Reverse<(Instant, u64, TransactionKey)>>,
    armed: u64,
    out: Outbox,
}

impl TransactionLayer {
    pub fn new(config: Config) -> Self {
        TransactionLayer {
            config,
            transactions: KeyTable::default(),
            wakeups: BinaryHeap::new(),
            armed: 0,
            out: Outbox::default(),
        }
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Live transactions.
    pub fn len(&self) -> usize {
        self.transactions.len()
    }

    pub fn is_empty(&self) -> bool {
        self.transactions.is_empty()
    }

    /// The state of a live transaction.
    pub fn state(&self, key: &TransactionKey) -> Option<State> {
        self.transactions.get(key).map(|e| e.txn.state())
    }

    /// The request that created a live transaction (for a server transaction, as
    /// received, with `received`/`rport` stamped), until its final response: a
    /// transaction lets its request go then (only its key and, where it retransmits,
    /// bytes are kept for the 64*T1 it lingers).
    pub fn request(&self, key: &TransactionKey) -> Option<&Message> {
        self.transactions.get(key).and_then(|e| e.txn.request())
    }

    /// Section 9.2: the server transaction a CANCEL (given by its own server
    /// transaction key) targets: the INVITE with the same branch and sent-by (or, for
    /// RFC 2543 requests, the same Request-URI, tags, Call-ID, CSeq number and top
    /// Via). `None` if there is none (the TU answers the CANCEL with 481).
    pub fn cancel_target(&self, cancel: &TransactionKey) -> Option<TransactionKey> {
        if !cancel.is_server() || cancel.method() != "CANCEL" {
            return None;
        }
        let invite = cancel.with_method("INVITE");
        self.transactions.contains_key(&invite).then_some(invite)
    }

    // -- input ----------------------------------------------------------------------

    /// A message arrived from `from` over `transport` (a datagram, or a message framed
    /// out of a stream). Effects are queued.
    pub fn handle_message(
        &mut self,
        now: Instant,
        from: SocketAddr,
        transport: Transport,
        msg: Message,
    ) {
        self.handle_message_on(now, Target::new(from, transport), msg);
    }

    /// As [`TransactionLayer::handle_message`], with the runtime's connection id, so
    /// that responses go back over the same connection (section 18.2.2).
    pub fn handle_message_on(&mut self, now: Instant, source: Target, msg: Message) {
        if msg.is_request() {
            self.handle_request(now, source, msg);
        } else {
            self.handle_response(now, source, msg);
        }
    }

    fn handle_request(&mut self, now: Instant, source: Target, msg: Message) {
        // Keys are computed from the request as received; `received` and `rport`
        // (18.2.1, RFC 3581) are stamped on what goes up to the TU or into a new
        // transaction, so a retransmission costs no rewrite.
        if let Err(error) = msg.validate() {
            self.out.event(Event::InvalidRequest {
                msg: transport::stamp_received(msg, source.addr),
                from: source.addr,
                transport: source.transport,
                error,
            });
            return;
        }
        // The top Via is parsed once here, for the key, the stamp and the destination.
        let Some(via) = msg.top_via() else {
            tracing::debug!("request without a top Via dropped");
            return;
        };
        let Some(key) = TransactionKey::server_via(&msg, &via) else {
            tracing::debug!("request without the fields of a transaction key dropped");
            return;
        };
        if msg.method() == Some(Method::Ack) {
            self.handle_ack(now, source, key, msg);
            return;
        }
        if let Some(entry) = self.transactions.get_mut(&key) {
            // A retransmission (17.2.3).
            match &mut entry.txn {
                Transaction::ServerInvite(t) => t.on_request(now, msg, source, &mut self.out),
                Transaction::ServerNonInvite(t) => t.on_request(&mut self.out),
                Transaction::NonInviteCompleted(c) => self.out.send(&c.dest, c.response.clone()),
                _ => {}
            }
            self.settle(&key);
            return;
        }
        if self.transactions.len() >= self.config.max_transactions {
            tracing::warn!(key = %key, "transaction limit reached; request dropped");
            return;
        }
        // The runtime has no resolver here: a destination to resolve is answered where
        // the request came from.
        let (stamped, dest) = transport::stamp_received_via(&msg, &via, &source);
        let msg = stamped.unwrap_or(msg);
        let timers = self.config.timers;
        let txn = if msg.method() == Some(Method::Invite) {
            Transaction::ServerInvite(Box::new(ServerInviteTransaction::new(
                now,
                key.clone(),
                msg.clone(),
                dest,
                timers,
            )))
        } else {
            Transaction::ServerNonInvite(Box::new(ServerNonInviteTransaction::new(
                now,
                key.clone(),
                msg.clone(),
                dest,
                timers,
            )))
        };
        self.insert(key.clone(), txn);
        self.out.event(Event::NewRequest {
            key,
            msg,
            from: source.addr,
            transport: source.transport,
        });
    }

    fn handle_ack(&mut self, now: Instant, source: Target, key: TransactionKey, msg: Message) {
        let mut found = None;
        if self.transactions.contains_key(&key) && !key.is_rfc2543() {
            found = Some(key);
        } else {
            // RFC 2543: the ACK carries the To tag of the response it acknowledges.
            let tag = msg.to().and_then(|t| t.tag());
            for candidate in TransactionKey::rfc2543_ack_candidates(&msg) {
                if let Some(Entry {
                    txn: Transaction::ServerInvite(t),
                    ..
                }) = self.transactions.get(&candidate)
                {
                    if t.final_to_tag().is_some() && t.final_to_tag() == tag {
                        found = Some(candidate);
                        break;
                    }
                }
            }
        }
        let msg = transport::stamp_received(msg, source.addr);
        match found {
            Some(key) => {
                if let Some(Entry {
                    txn: Transaction::ServerInvite(t),
                    ..
                }) = self.transactions.get_mut(&key)
                {
                    t.on_request(now, msg, source, &mut self.out);
                }
                self.settle(&key);
            }
            None => self.out.event(Event::StrayAck {
                msg,
                from: source.addr,
                transport: source.transport,
            }),
        }
    }

    fn handle_response(&mut self, now: Instant, source: Target, msg: Message) {
        if msg.top_via().is_none() || msg.cseq().is_none() {
            tracing::debug!("response without Via or CSeq dropped (8.1.3.3)");
            return;
        }
        let key = TransactionKey::client(&msg);
        let txn = key
            .as_ref()
            .and_then(|k| self.transactions.get_mut(k))
            .map(|e| &mut e.txn);
        match (key.as_ref(), txn) {
            (Some(key), Some(Transaction::ClientInvite(t))) => {
                t.on_response(now, msg, &mut self.out);
                let key = key.clone();
                self.settle(&key);
            }
            (Some(key), Some(Transaction::ClientNonInvite(t))) => {
                t.on_response(now, msg, &mut self.out);
                let key = key.clone();
                self.settle(&key);
            }
            _ => self.out.event(Event::StrayResponse {
                msg,
                from: source.addr,
                transport: source.transport,
            }),
        }
    }

    /// Time passed: fire every timer due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        // Take what is due first: a timer re-armed while firing waits for the next
        // call, so one call does bounded work whatever the timer values.
        let mut due = Vec::new();
        while let Some(Reverse((at, _, _))) = self.wakeups.peek() {
            if *at > now {
                break;
            }
            if let Some(Reverse((at, _, key))) = self.wakeups.pop() {
                due.push((at, key));
            }
        }
        for (at, key) in due {
            let Some(entry) = self.transactions.get_mut(&key) else {
                continue;
            };
            if entry.scheduled != Some(at) {
                continue; // stale
            }
            entry.scheduled = None;
            entry.txn.on_timeout(now, &mut self.out);
            self.settle(&key);
        }
    }

    /// The transaction user sends a request: a new client transaction, keyed by the
    /// branch of the request's top Via and its CSeq method. The request goes out as it
    /// is (the TU or [`transport::prepare_request`] has written the Via).
    pub fn send_request(
        &mut self,
        now: Instant,
        msg: Message,
        dest: Target,
    ) -> Result<TransactionKey, Error> {
        let method = msg.method().ok_or(Error::NotARequest)?;
        if method == Method::Ack {
            return Err(Error::AckIsNotATransaction);
        }
        let cseq = msg.cseq().ok_or(Error::MissingCSeq)?;
        if cseq.method != method {
            return Err(Error::CSeqMismatch);
        }
        let key = TransactionKey::client(&msg).ok_or(Error::MissingBranch)?;
        if self.transactions.contains_key(&key) {
            return Err(Error::DuplicateTransaction(key));
        }
        if self.transactions.len() >= self.config.max_transactions {
            return Err(Error::TooManyTransactions {
                limit: self.config.max_transactions,
            });
        }
        let timers = self.config.timers;
        let txn = if method == Method::Invite {
            Transaction::ClientInvite(Box::new(ClientInviteTransaction::start(
                now,
                key.clone(),
                msg,
                dest,
                timers,
                &mut self.out,
            )))
        } else {
            Transaction::ClientNonInvite(Box::new(ClientNonInviteTransaction::start(
                now,
                key.clone(),
                msg,
                dest,
                timers,
                &mut self.out,
            )))
        };
        self.insert(key.clone(), txn);
        Ok(key)
    }

    /// The transaction user answers the request of server transaction `key`.
    pub fn respond(
        &mut self,
        now: Instant,
        key: &TransactionKey,
        msg: Message,
    ) -> Result<(), Error> {
        if msg.is_request() {
            return Err(Error::NotAResponse);
        }
        let entry = self
            .transactions
            .get_mut(key)
            .ok_or_else(|| Error::NoSuchTransaction(key.clone()))?;
        let result = match &mut entry.txn {
            Transaction::ServerInvite(t) => t.respond(now, msg, &mut self.out),
            Transaction::ServerNonInvite(t) => t.respond(now, msg, &mut self.out),
            // 17.2.2: further final responses are discarded.
            Transaction::NonInviteCompleted(c) => Err(Error::InvalidState {
                state: if c.terminated {
                    State::Terminated
                } else {
                    State::Completed
                },
                status: msg.status().unwrap_or(0),
            }),
            _ => Err(Error::NotAServerTransaction(key.clone())),
        };
        self.settle(key);
        result
    }

    /// The runtime could not deliver a message of transaction `key` (17.1.4, 17.2.4).
    pub fn transport_error(&mut self, _now: Instant, key: &TransactionKey) {
        if let Some(entry) = self.transactions.get_mut(key) {
            entry.txn.on_transport_error(key, &mut self.out);
            self.settle(key);
        }
    }

    /// Destroy a client INVITE transaction still waiting for its final response after
    /// its CANCEL went unanswered (RFC 3261 9.1: "the client SHOULD then consider the
    /// original transaction cancelled and SHOULD destroy the client transaction").
    /// Other transactions are left alone; their timers end them.
    pub fn abandon(&mut self, key: &TransactionKey) {
        let waiting = matches!(
            self.transactions.get(key).map(|e| &e.txn),
            Some(Transaction::ClientInvite(t)) if matches!(t.state(), State::Calling | State::Proceeding)
        );
        if waiting {
            self.transactions.remove(key);
            self.out.event(Event::Terminated { key: key.clone() });
        }
    }

    /// Send bytes outside any transaction: the ACK for a 2xx (13.2.2.4), a 2xx
    /// retransmitted by a UA core (13.3.1.4), or a message a proxy forwards
    /// statelessly.
    pub fn send_stateless(&mut self, dest: Target, bytes: Bytes) {
        self.out.send(&dest, bytes);
    }

    // -- output ---------------------------------------------------------------------

    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.out.transmits.pop_front()
    }

    pub fn poll_event(&mut self) -> Option<Event> {
        self.out.events.pop_front()
    }

    /// When `handle_timeout` must be called next.
    pub fn poll_timeout(&mut self) -> Option<Instant> {
        while let Some(Reverse((at, _, key))) = self.wakeups.peek() {
            let live = self
                .transactions
                .get(key)
                .is_some_and(|e| e.scheduled == Some(*at));
            if live {
                return Some(*at);
            }
            self.wakeups.pop();
        }
        None
    }

    fn insert(&mut self, key: TransactionKey, txn: Transaction) {
        self.transactions.insert(
            key.clone(),
            Entry {
                key: key.clone(),
                txn,
                scheduled: None,
            },
        );
        self.settle(&key);
    }

    /// After a transaction moved: drop it if it ended, else note its next wake-up.
    fn settle(&mut self, key: &TransactionKey) {
        let Some(entry) = self.transactions.get_mut(key) else {
            return;
        };
        if entry.txn.is_terminated() {
            self.transactions.remove(key);
            self.out.event(Event::Terminated { key: key.clone() });
            return;
        }
        if let Transaction::ServerNonInvite(t) = &entry.txn {
            if let Some((response, dest, j)) = t.completed() {
                entry.txn = Transaction::NonInviteCompleted(Box::new(CompletedNonInvite {
                    response,
                    dest,
                    j,
                    terminated: false,
                }));
            }
        }
        let next = entry.txn.next_timeout();
        if next != entry.scheduled {
            entry.scheduled = next;
            if let Some(at) = next {
                self.armed += 1;
                self.wakeups
                    .push(Reverse((at, self.armed, entry.key.clone())));
            }
        }
    }
}
