//! The endpoint: sockets, a [`TransactionLayer`] and one timer, driven by one task.
//!
//! The driver loop is the sans-I/O loop of quinn and str0m: feed what the sockets read
//! and what the transaction user asks into the core, drain `poll_transmit` and
//! `poll_event`, then sleep until `poll_timeout` or the next input. Socket tasks never
//! touch the core; the driver never waits on a socket (every queue it writes to is
//! bounded and written with `try_send`).

use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use strowger_core::transaction::SentBy;
use strowger_core::transport::{self, ResponseDestination};
use strowger_core::{Event, State, Target, TransactionKey, TransactionLayer, Transmit, Transport};
use strowger_message::{new_tag, Message, Method, ResponseBuilder};
use tokio::sync::mpsc::error::TrySendError;
use tokio::sync::{mpsc, oneshot};

use crate::config::{Config, ListenSpec};
use crate::error::Error;
use crate::transports::{TransportEvent, Transports};

/// What the transaction user hears from the network, on the receiver
/// [`Endpoint::bind`] returns.
#[derive(Debug)]
#[non_exhaustive]
pub enum Incoming {
    /// A request that created a server transaction: answer it with
    /// [`Endpoint::respond`]. `source.conn` is the connection it came on; a request
    /// to this peer in the same dialog should use it (RFC 7118 clients cannot be
    /// reached otherwise).
    Request {
        key: TransactionKey,
        msg: Message,
        source: Target,
    },
    /// An ACK: for a 2xx the INVITE server transaction `key` sent (RFC 6026 section
    /// 7.1), or (`key: None`) one that matched no transaction (section 17.2.3).
    Ack {
        key: Option<TransactionKey>,
        msg: Message,
        source: Target,
    },
    /// A response that matched no client transaction (section 18.1.2); a stateless
    /// proxy forwards it, anyone else drops it.
    StrayResponse { msg: Message, source: Target },
    /// A server transaction failed: timer H fired without an ACK (section 17.2.1), or
    /// its response could not be sent (17.2.4).
    ServerFailure {
        key: TransactionKey,
        failure: Failure,
    },
}

/// How a transaction failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// Timer B, F or H (a client acts as on a 408, section 8.1.3.1).
    Timeout,
    /// The message could not be sent (a client acts as on a 503, section 8.1.3.1).
    Transport,
}

/// What a client transaction hears.
#[derive(Debug, Clone, PartialEq)]
pub enum ClientEvent {
    /// A provisional or final response. For an INVITE, every 2xx (retransmissions
    /// too) arrives here and the transaction user acknowledges each (section 13.2.2.4).
    Response(Message),
    /// No final response in time, or the request could not be sent.
    Failed(Failure),
}

/// A request in flight (section 17.1): read its responses with
/// [`ClientTransaction::recv`]. The events end when the transaction terminates (for
/// an INVITE answered 2xx, only after timer M, so wait with
/// [`ClientTransaction::final_response`] instead of for the end).
#[derive(Debug)]
pub struct ClientTransaction {
    key: TransactionKey,
    request: Message,
    target: Target,
    events: mpsc::Receiver<ClientEvent>,
}

impl ClientTransaction {
    pub fn key(&self) -> &TransactionKey {
        &self.key
    }

    /// The request as sent, with our Via (a CANCEL copies it, section 9.1).
    pub fn request(&self) -> &Message {
        &self.request
    }

    /// Where it was sent (after the size rule of section 18.1.1).
    pub fn target(&self) -> Target {
        self.target
    }

    /// The next event; `None` once the transaction has terminated.
    pub async fn recv(&mut self) -> Option<ClientEvent> {
        self.events.recv().await
    }

    /// Skip provisional responses: the first final response, or why there is none.
    pub async fn final_response(&mut self) -> Result<Message, Failure> {
        while let Some(event) = self.events.recv().await {
            match event {
                ClientEvent::Response(m) if m.status().is_some_and(|s| s >= 200) => return Ok(m),
                ClientEvent::Response(_) => {}
                ClientEvent::Failed(f) => return Err(f),
            }
        }
        Err(Failure::Transport)
    }
}

impl futures_util::Stream for ClientTransaction {
    type Item = ClientEvent;

    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<ClientEvent>> {
        self.events.poll_recv(cx)
    }
}

enum Command {
    Send {
        msg: Message,
        target: Target,
        reply: oneshot::Sender<Result<(TransactionKey, mpsc::Receiver<ClientEvent>), Error>>,
    },
    Respond {
        key: TransactionKey,
        msg: Message,
        reply: oneshot::Sender<Result<(), Error>>,
    },
    Stateless {
        target: Target,
        bytes: Bytes,
    },
    Shutdown {
        grace: Duration,
        done: oneshot::Sender<()>,
    },
}

#[derive(Debug)]
struct Info {
    local: Vec<ListenSpec>,
    via_host: Option<String>,
    /// Our name when we have no address to give (RFC 7118 section 5.2).
    invalid_host: String,
}

impl Info {
    /// The sent-by of our Via for `transport` (section 18.1.1).
    fn sent_by(&self, transport: Transport) -> String {
        let listener = self.local.iter().find(|l| l.transport == transport);
        let address = |ip: IpAddr| {
            if ip.is_unspecified() {
                self.invalid_host.clone()
            } else {
                ip_host(ip)
            }
        };
        let host = match (&self.via_host, listener) {
            (Some(h), _) => h.clone(),
            (None, Some(l)) => address(l.addr.ip()),
            // RFC 7118 section 5.2: a WebSocket client has no address to give.
            (None, None) if matches!(transport, Transport::Ws | Transport::Wss) => {
                self.invalid_host.clone()
            }
            (None, None) => self
                .local
                .first()
                .map_or_else(|| self.invalid_host.clone(), |l| address(l.addr.ip())),
        };
        match listener {
            Some(l) => format!("{host}:{}", l.addr.port()),
            None => host,
        }
    }
}

fn ip_host(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(a) => a.to_string(),
        IpAddr::V6(a) => format!("[{a}]"),
    }
}

/// A running SIP endpoint. Cheap to clone; the endpoint stops when
/// [`Endpoint::shutdown`] completes or every handle is dropped.
///
/// ```no_run
/// # async fn demo() -> Result<(), strowger_net::Error> {
/// use strowger_net::{Config, Endpoint, Incoming};
/// use strowger_message::ResponseBuilder;
/// let (endpoint, mut incoming) = Endpoint::bind(Config::listening(&["udp:127.0.0.1:5060"])?).await?;
/// while let Some(Incoming::Request { key, msg, .. }) = incoming.recv().await {
///     endpoint.respond(&key, ResponseBuilder::new(&msg, 200).build()?).await?;
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Endpoint {
    commands: mpsc::Sender<Command>,
    info: Arc<Info>,
}

impl std::fmt::Debug for Command {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Command::Send { .. } => "Send",
            Command::Respond { .. } => "Respond",
            Command::Stateless { .. } => "Stateless",
            Command::Shutdown { .. } => "Shutdown",
        })
    }
}

impl Endpoint {
    /// Open every listener of `config` and start the driver. Returns the handle and
    /// the receiver of requests (and the rest of [`Incoming`]). Must run inside a
    /// Tokio runtime.
    pub async fn bind(config: Config) -> Result<(Endpoint, mpsc::Receiver<Incoming>), Error> {
        let transports = Transports::bind(&config).await?;
        let local = transports.local_addrs().to_vec();
        let (incoming, incoming_rx) = mpsc::channel(config.limits.incoming_queue.max(1));
        let (commands, commands_rx) = mpsc::channel(64);
        let driver = Driver {
            layer: TransactionLayer::new(config.transactions.clone()),
            net: transports,
            commands: commands_rx,
            incoming,
            clients: HashMap::new(),
            servers: HashSet::new(),
            closing: None,
        };
        tokio::spawn(driver.run());
        let info = Arc::new(Info {
            local,
            via_host: config.via_host.clone(),
            invalid_host: format!("{}.invalid", new_tag()),
        });
        Ok((Endpoint { commands, info }, incoming_rx))
    }

    /// The addresses listened on, with the ports the OS chose.
    pub fn local_addrs(&self) -> &[ListenSpec] {
        &self.info.local
    }

    /// The first listening address for `transport`.
    pub fn local_addr(&self, transport: Transport) -> Option<SocketAddr> {
        self.info
            .local
            .iter()
            .find(|l| l.transport == transport)
            .map(|l| l.addr)
    }

    /// `msg` with our Via on top (fresh branch, `rport`; sections 18.1.1, 8.1.1.7;
    /// RFC 3581): for an ACK to a 2xx or a request sent with
    /// [`Endpoint::send_request_as_is`].
    pub fn push_via(&self, msg: &Message, transport: Transport) -> Result<Message, Error> {
        Ok(transport::push_via(
            msg,
            transport,
            &self.info.sent_by(transport),
            true,
        )?)
    }

    /// Send a request in a new client transaction, with our Via pushed on top. A
    /// request too large for UDP goes over TCP (section 18.1.1).
    pub async fn send_request(
        &self,
        msg: Message,
        target: Target,
    ) -> Result<ClientTransaction, Error> {
        let sent_by = self.info.sent_by(target.transport);
        let (prepared, chosen) =
            transport::prepare_request(&msg, target.transport, &sent_by, true, None)?;
        let (prepared, target) = if chosen == target.transport {
            (prepared, target)
        } else {
            let t = Target::new(target.addr, chosen);
            (self.push_via(&msg, chosen)?, t)
        };
        self.send_request_as_is(prepared, target).await
    }

    /// Send a request whose top Via is already ours (a CANCEL, which copies the
    /// INVITE's Via, section 9.1; or a request from [`Endpoint::push_via`]).
    pub async fn send_request_as_is(
        &self,
        msg: Message,
        target: Target,
    ) -> Result<ClientTransaction, Error> {
        let (reply, answer) = oneshot::channel();
        self.command(Command::Send {
            msg: msg.clone(),
            target,
            reply,
        })
        .await?;
        let (key, events) = answer.await.map_err(|_| Error::Closed)??;
        Ok(ClientTransaction {
            key,
            request: msg,
            target,
            events,
        })
    }

    /// Answer the request of server transaction `key`.
    pub async fn respond(&self, key: &TransactionKey, msg: Message) -> Result<(), Error> {
        let (reply, answer) = oneshot::channel();
        self.command(Command::Respond {
            key: key.clone(),
            msg,
            reply,
        })
        .await?;
        answer.await.map_err(|_| Error::Closed)?
    }

    /// Send bytes outside any transaction (the ACK for a 2xx, a 2xx retransmitted by
    /// the transaction user, a statelessly forwarded message). Delivery failures are
    /// only logged.
    pub async fn send_stateless(&self, target: Target, bytes: Bytes) -> Result<(), Error> {
        self.command(Command::Stateless { target, bytes }).await
    }

    /// Stop accepting connections, answer new requests with 503, and wait until
    /// every transaction has had its final response (or `grace` has passed); then
    /// close every socket and connection. Later calls fail with [`Error::Closed`].
    pub async fn shutdown(&self, grace: Duration) {
        let (done, finished) = oneshot::channel();
        if self
            .command(Command::Shutdown { grace, done })
            .await
            .is_ok()
        {
            let _ = finished.await;
        }
    }

    async fn command(&self, c: Command) -> Result<(), Error> {
        self.commands.send(c).await.map_err(|_| Error::Closed)
    }
}

struct Closing {
    deadline: Instant,
    waiters: Vec<oneshot::Sender<()>>,
}

/// Capacity of one client transaction's event queue (responses past it are dropped:
/// the transaction user is not reading).
const CLIENT_EVENTS: usize = 32;

struct Driver {
    layer: TransactionLayer,
    net: Transports,
    commands: mpsc::Receiver<Command>,
    incoming: mpsc::Sender<Incoming>,
    clients: HashMap<TransactionKey, mpsc::Sender<ClientEvent>>,
    /// Live server transactions, to know when a shutdown may finish.
    servers: HashSet<TransactionKey>,
    closing: Option<Closing>,
}

fn now() -> Instant {
    tokio::time::Instant::now().into_std()
}

fn wake_at(at: Option<Instant>) -> tokio::time::Instant {
    match at {
        Some(at) => tokio::time::Instant::from_std(at),
        None => tokio::time::Instant::now() + Duration::from_secs(86_400),
    }
}

impl Driver {
    async fn run(mut self) {
        loop {
            let timer = self.layer.poll_timeout();
            let closing = self.closing.as_ref().map(|c| c.deadline);
            // The transaction user first (its answers end transactions), then due
            // timers, then the network.
            tokio::select! {
                biased;
                cmd = self.commands.recv() => match cmd {
                    Some(cmd) => self.command(cmd),
                    None => break, // every handle dropped
                },
                () = tokio::time::sleep_until(wake_at(timer)), if timer.is_some() => {
                    self.layer.handle_timeout(now());
                    self.drain(None);
                }
                Some(ev) = self.net.recv() => self.input(ev),
                () = tokio::time::sleep_until(wake_at(closing)), if closing.is_some() => {
                    tracing::info!(left = self.layer.len(), "shutdown grace period over");
                    break;
                }
            }
            if self.closing.is_some() && self.settled() {
                break;
            }
        }
        self.stop();
    }

    /// No transaction still waits for a final response.
    fn settled(&self) -> bool {
        self.clients.keys().chain(self.servers.iter()).all(|k| {
            !matches!(
                self.layer.state(k),
                Some(State::Calling | State::Trying | State::Proceeding)
            )
        })
    }

    fn stop(mut self) {
        self.net.close();
        self.clients.clear();
        if let Some(c) = self.closing.take() {
            for w in c.waiters {
                let _ = w.send(());
            }
        }
        tracing::info!("endpoint stopped");
    }

    fn command(&mut self, cmd: Command) {
        match cmd {
            Command::Send { msg, target, reply } => {
                if self.closing.is_some() {
                    let _ = reply.send(Err(Error::Closed));
                    return;
                }
                match self.layer.send_request(now(), msg, target) {
                    Ok(key) => {
                        let (tx, rx) = mpsc::channel(CLIENT_EVENTS);
                        self.clients.insert(key.clone(), tx);
                        let _ = reply.send(Ok((key, rx)));
                    }
                    Err(e) => {
                        let _ = reply.send(Err(e.into()));
                    }
                }
            }
            Command::Respond { key, msg, reply } => {
                let r = self.layer.respond(now(), &key, msg).map_err(Error::from);
                let _ = reply.send(r);
            }
            Command::Stateless { target, bytes } => self.layer.send_stateless(target, bytes),
            Command::Shutdown { grace, done } => match &mut self.closing {
                Some(c) => c.waiters.push(done),
                None => {
                    tracing::info!(?grace, "shutting down");
                    self.net.stop_accepting();
                    self.closing = Some(Closing {
                        deadline: now() + grace,
                        waiters: vec![done],
                    });
                }
            },
        }
        self.drain(None);
    }

    fn input(&mut self, ev: TransportEvent) {
        match ev {
            TransportEvent::Message { source, msg } => {
                self.layer.handle_message_on(now(), source, msg);
                self.drain(Some(source));
            }
            TransportEvent::Undelivered(bytes) => {
                self.undeliverable(&bytes);
                self.drain(None);
            }
        }
    }

    /// Carry out everything the core has queued; `source` is where the message just
    /// handled came from (the core's events do not carry the connection).
    fn drain(&mut self, source: Option<Target>) {
        loop {
            let mut busy = false;
            while let Some(t) = self.layer.poll_transmit() {
                busy = true;
                self.transmit(t);
            }
            while let Some(e) = self.layer.poll_event() {
                busy = true;
                self.event(e, source);
            }
            if !busy {
                break;
            }
        }
    }

    fn transmit(&mut self, t: Transmit) {
        if let Err(reason) = self.net.send(&t) {
            tracing::info!(dest = %t.dest, transport = %t.transport, reason, "cannot send");
            self.undeliverable(&t.bytes);
        }
    }

    /// A message could not be sent: tell its transaction (17.1.4, 17.2.4).
    fn undeliverable(&mut self, bytes: &Bytes) {
        let Ok(msg) = Message::parse(bytes.clone()) else {
            return;
        };
        let key = if msg.is_request() {
            TransactionKey::client(&msg)
        } else {
            server_key_of_response(&msg)
        };
        if let Some(key) = key {
            if self.layer.state(&key).is_some() {
                self.layer.transport_error(now(), &key);
            }
        }
    }

    fn event(&mut self, event: Event, source: Option<Target>) {
        // The core reports an address and transport; put the connection back.
        let at = |from: SocketAddr, transport: Transport| match source {
            Some(s) if s.addr == from && s.transport == transport => s,
            _ => Target::new(from, transport),
        };
        match event {
            Event::NewRequest {
                key,
                msg,
                from,
                transport,
            } => {
                self.servers.insert(key.clone());
                if self.closing.is_some() {
                    self.refuse(&key, &msg, "Shutting Down");
                    return;
                }
                let source = at(from, transport);
                match self.incoming.try_send(Incoming::Request {
                    key: key.clone(),
                    msg,
                    source,
                }) {
                    Ok(()) => {}
                    Err(TrySendError::Full(Incoming::Request { msg, .. }))
                    | Err(TrySendError::Closed(Incoming::Request { msg, .. })) => {
                        tracing::warn!("transaction user is not keeping up; request refused");
                        self.refuse(&key, &msg, "Overloaded");
                    }
                    Err(_) => {}
                }
            }
            Event::Response { key, msg } => self.notify_client(&key, ClientEvent::Response(msg)),
            Event::Timeout { key } => self.failed(key, Failure::Timeout),
            Event::TransportError { key } => self.failed(key, Failure::Transport),
            Event::Terminated { key } => {
                self.clients.remove(&key);
                self.servers.remove(&key);
            }
            Event::AckFor2xx {
                key,
                msg,
                from,
                transport,
            } => self.tell(Incoming::Ack {
                key: Some(key),
                msg,
                source: at(from, transport),
            }),
            Event::StrayAck {
                msg,
                from,
                transport,
            } => self.tell(Incoming::Ack {
                key: None,
                msg,
                source: at(from, transport),
            }),
            Event::StrayResponse {
                msg,
                from,
                transport,
            } => self.tell(Incoming::StrayResponse {
                msg,
                source: at(from, transport),
            }),
            Event::InvalidRequest {
                msg,
                from,
                transport,
                error,
            } => {
                // Section 8.2: answered statelessly here; an ACK gets no answer.
                if msg.method() == Some(Method::Ack) {
                    return;
                }
                let source = at(from, transport);
                let Ok(resp) = ResponseBuilder::new(&msg, error.status_code())
                    .reason(&error.to_string())
                    .build()
                else {
                    return;
                };
                let dest = match msg.top_via() {
                    Some(via) => match transport::response_destination(&via, &source) {
                        ResponseDestination::Target(t) => t,
                        ResponseDestination::Resolve { .. } => source,
                    },
                    None => source,
                };
                self.layer.send_stateless(dest, resp.to_bytes());
            }
        }
    }

    fn tell(&mut self, incoming: Incoming) {
        if let Err(e) = self.incoming.try_send(incoming) {
            tracing::warn!(error = %e, "transaction user is not keeping up; message dropped");
        }
    }

    fn notify_client(&mut self, key: &TransactionKey, event: ClientEvent) {
        if let Some(tx) = self.clients.get(key) {
            if tx.try_send(event).is_err() {
                tracing::debug!(%key, "client transaction events not read; dropped");
            }
        }
    }

    fn failed(&mut self, key: TransactionKey, failure: Failure) {
        if key.is_client() {
            self.notify_client(&key, ClientEvent::Failed(failure));
        } else {
            self.tell(Incoming::ServerFailure { key, failure });
        }
    }

    /// Answer a new request 503 ourselves (shutting down, or the TU is overloaded).
    fn refuse(&mut self, key: &TransactionKey, msg: &Message, reason: &str) {
        if let Ok(resp) = ResponseBuilder::new(msg, 503).reason(reason).build() {
            if let Err(e) = self.layer.respond(now(), key, resp) {
                tracing::debug!(error = %e, "cannot refuse request");
            }
        }
    }
}

/// Section 18.2.2 for a response over a reliable transport whose connection is gone:
/// `received` (or the sent-by host) and the `rport` (or sent-by) port of the top Via.
fn server_key_of_response(resp: &Message) -> Option<TransactionKey> {
    let via = resp.top_via()?;
    if !via.has_magic_cookie() {
        return None;
    }
    Some(TransactionKey::new_server(
        via.branch()?,
        SentBy::of(&via.host, via.port),
        resp.cseq()?.method.as_str(),
    ))
}
