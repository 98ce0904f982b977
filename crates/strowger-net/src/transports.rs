//! The socket layer: listeners, UDP sockets, TCP/TLS/WebSocket connections and the
//! connection table, without any SIP state. [`crate::Endpoint`] drives a transaction
//! layer over it; a server or user agent with its own sans-I/O core (the proxy core,
//! the UA core) drives [`Transports`] directly: read [`TransportEvent`]s, feed them to
//! the core, and [`Transports::send`] what the core transmits.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use strowger_core::{Target, Transmit, Transport};
use strowger_message::Message;
use tokio::net::{TcpListener, UdpSocket};
use tokio::sync::mpsc::error::TrySendError;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use crate::config::{Config, ListenSpec};
use crate::conn::{self, Conn, Input, Link, Outgoing, Shared};
use crate::error::Error;
use crate::{tls, udp};

/// What the network delivers.
#[derive(Debug)]
// Messages are the common case; boxing them would cost an allocation per message.
#[allow(clippy::large_enum_variant)]
pub enum TransportEvent {
    /// A parsed message and where it came from (with its connection).
    Message { source: Target, msg: Message },
    /// Bytes queued on a connection that closed before they were written: tell the
    /// transaction they belong to (17.1.4, 17.2.4).
    Undelivered(Bytes),
}

struct ConnEntry {
    tx: mpsc::Sender<Outgoing>,
    peer: SocketAddr,
    transport: Transport,
    /// Dropping it closes the connection.
    kill: oneshot::Sender<()>,
}

/// How long connections may take to write what is queued when the endpoint stops.
const LINGER: Duration = Duration::from_secs(2);

/// Listeners, sockets and connections. See the module documentation.
pub struct Transports {
    shared: Arc<Shared>,
    inputs: mpsc::Receiver<Input>,
    local: Vec<ListenSpec>,
    conns: HashMap<u64, ConnEntry>,
    by_addr: HashMap<(SocketAddr, Transport), u64>,
    /// Each UDP socket's handle for sending (see [`Transports::bind`]); receiving
    /// is done by a task or by threads on handles of their own.
    udp: Vec<(SocketAddr, Arc<std::net::UdpSocket>)>,
    /// Tells the UDP receive threads of [`Transports::bind_dispatching_threads`] to stop.
    udp_stop: Arc<AtomicBool>,
    accept_tasks: Vec<JoinHandle<()>>,
    udp_tasks: Vec<JoinHandle<()>>,
    /// Undelivered bytes of connections that closed, not handed out yet.
    undelivered: std::collections::VecDeque<Bytes>,
}

impl std::fmt::Debug for Transports {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transports")
            .field("local", &self.local)
            .field("connections", &self.conns.len())
            .finish()
    }
}

/// Where the UDP receive tasks hand each parsed datagram when the driver asks for it
/// ([`Transports::bind_dispatching`]): straight to the task that processes it, without
/// a detour through [`Transports::recv`].
pub type UdpDispatch = Arc<dyn Fn(Target, Message) + Send + Sync>;

/// Sends a UDP transmit from any thread ([`Transports::udp_send_fn`]).
type UdpSockets = Arc<[(SocketAddr, Arc<std::net::UdpSocket>)]>;

impl Transports {
    /// Open every listener of `config`. Must run inside a Tokio runtime.
    pub async fn bind(config: &Config) -> Result<Transports, Error> {
        Self::bind_with(config, None, 0).await
    }

    /// Like [`Transports::bind`], but every datagram that parses goes to `dispatch`
    /// from the socket's receive task instead of coming out of [`Transports::recv`]
    /// (which still delivers what arrives on connections).
    pub async fn bind_dispatching(
        config: &Config,
        dispatch: UdpDispatch,
    ) -> Result<Transports, Error> {
        Self::bind_with(config, Some(dispatch), 0).await
    }

    /// Like [`Transports::bind_dispatching`], but each UDP socket is read by `threads`
    /// threads of their own, which call `dispatch` themselves, as Kamailio's UDP
    /// workers share a socket: a datagram is read, processed and answered on one
    /// thread, with no hand-over to a task. The first thread waits for the socket; the
    /// others join in when the one before them finds datagrams queued up (see
    /// `udp::recv_thread`). A UDP send never waits: a full send buffer drops it.
    pub async fn bind_dispatching_threads(
        config: &Config,
        dispatch: UdpDispatch,
        threads: usize,
    ) -> Result<Transports, Error> {
        Self::bind_with(config, Some(dispatch), threads.max(1)).await
    }

    /// A function that sends a UDP transmit on the right socket, callable from any
    /// thread while the sockets are open: `None` for a transmit that is not UDP (give
    /// it to [`Transports::send`]), `Err` when it cannot go (tell the transaction).
    pub fn udp_send_fn(
        &self,
    ) -> impl Fn(&Transmit) -> Option<Result<(), &'static str>> + Send + Sync + Clone + 'static
    {
        let sockets: UdpSockets = self.udp.iter().map(|(a, s)| (*a, s.clone())).collect();
        move |t: &Transmit| {
            if t.transport != Transport::Udp {
                return None;
            }
            Some(match udp_socket_for(&sockets, t.dest) {
                Some(socket) => udp_send(socket, t),
                None => Err("no UDP socket of this address family"),
            })
        }
    }

    /// `threads`: 0 reads each UDP socket in a task, more in that many threads (which
    /// requires `dispatch`).
    async fn bind_with(
        config: &Config,
        dispatch: Option<UdpDispatch>,
        threads: usize,
    ) -> Result<Transports, Error> {
        let limits = config.limits.clone();
        let acceptor = match &config.tls {
            Some(t) => tls::acceptor(t)?,
            None => None,
        };
        if let Some(spec) = config
            .listen
            .iter()
            .find(|s| matches!(s.transport, Transport::Tls | Transport::Wss))
        {
            if acceptor.is_none() {
                return Err(Error::TlsIdentityMissing(spec.transport));
            }
        }
        let connector = tls::connector(config.tls.as_ref())?;

        let mut local = Vec::new();
        let mut udp_sockets = Vec::new();
        let mut listeners = Vec::new();
        for spec in &config.listen {
            let bind_err = |source| Error::Bind {
                transport: spec.transport,
                addr: spec.addr,
                source,
            };
            if spec.transport == Transport::Udp {
                let std_socket =
                    bind_udp(spec.addr, config.limits.udp_recv_buffer).map_err(bind_err)?;
                let addr = std_socket.local_addr().map_err(bind_err)?;
                // Receive threads (`threads > 0`) keep the socket non-blocking too:
                // thread 0 waits for it in a poll, see `udp::recv_thread`.
                local.push(ListenSpec::new(spec.transport, addr));
                udp_sockets.push((addr, Arc::new(std_socket)));
            } else {
                let listener = TcpListener::bind(spec.addr).await.map_err(bind_err)?;
                local.push(ListenSpec::new(
                    spec.transport,
                    listener.local_addr().map_err(bind_err)?,
                ));
                listeners.push((listener, spec.transport));
            }
        }

        let (input_tx, inputs) = mpsc::channel::<Input>(limits.input_queue.max(1));
        let shared = Arc::new(Shared::new(
            limits,
            input_tx,
            acceptor,
            connector,
            config.tls.clone(),
        ));
        let accept_tasks = listeners
            .into_iter()
            .map(|(l, t)| tokio::spawn(conn::accept_loop(l, t, shared.clone())))
            .collect();
        let udp_stop = Arc::new(AtomicBool::new(false));
        let mut udp_tasks = Vec::new();
        for (addr, socket) in &udp_sockets {
            let bind_err = |source| Error::Bind {
                transport: Transport::Udp,
                addr: *addr,
                source,
            };
            match (&dispatch, threads) {
                (Some(d), n) if n > 0 => {
                    let gates: Arc<[udp::Gate]> = (0..n).map(|_| udp::Gate::default()).collect();
                    for i in 0..n {
                        let handle = socket.try_clone().map_err(bind_err)?;
                        let (d, stop, gates) = (d.clone(), udp_stop.clone(), gates.clone());
                        let limits = shared.limits.clone();
                        std::thread::Builder::new()
                            .name(format!("udp-{}-{i}", addr.port()))
                            .spawn(move || udp::recv_thread(handle, limits, d, stop, gates, i))
                            .map_err(bind_err)?;
                    }
                }
                _ => {
                    // Datagrams are sent on the plain non-blocking handle: tokio's
                    // `try_send_to` reports WouldBlock until its reactor has seen the
                    // socket writable once, which dropped the first datagram sent
                    // right after binding.
                    let rx = UdpSocket::from_std(socket.try_clone().map_err(bind_err)?)
                        .map_err(bind_err)?;
                    udp_tasks.push(tokio::spawn(udp::recv_loop(
                        Arc::new(rx),
                        shared.clone(),
                        dispatch.clone(),
                    )));
                }
            }
        }
        for l in &local {
            tracing::info!(listen = %l, "listening");
        }
        Ok(Transports {
            shared,
            inputs,
            local,
            conns: HashMap::new(),
            by_addr: HashMap::new(),
            udp: udp_sockets,
            udp_stop,
            accept_tasks,
            udp_tasks,
            undelivered: std::collections::VecDeque::new(),
        })
    }

    /// The addresses listened on, with the ports the OS chose.
    pub fn local_addrs(&self) -> &[ListenSpec] {
        &self.local
    }

    /// The next message (or undelivered bytes); `None` when every socket task ended.
    /// Cancel-safe: use it in `tokio::select!`.
    pub async fn recv(&mut self) -> Option<TransportEvent> {
        loop {
            if let Some(b) = self.undelivered.pop_front() {
                return Some(TransportEvent::Undelivered(b));
            }
            match self.inputs.recv().await? {
                Input::Message { source, msg } => {
                    return Some(TransportEvent::Message { source, msg })
                }
                Input::ConnOpened {
                    id,
                    peer,
                    transport,
                    tx,
                    kill,
                } => {
                    self.conns.insert(
                        id,
                        ConnEntry {
                            tx,
                            peer,
                            transport,
                            kill,
                        },
                    );
                    self.by_addr.insert((peer, transport), id);
                }
                Input::ConnClosed { id, unsent } => {
                    self.forget_conn(id);
                    self.undelivered.extend(unsent);
                }
            }
        }
    }

    /// Send what a core transmits: UDP from the socket of the right family, a
    /// connection by id (18.2.2: back over the connection a request came on), an open
    /// connection to the address, or a new one. `Err` means the bytes cannot go: tell
    /// the transaction (17.1.4, 17.2.4).
    pub fn send(&mut self, t: &Transmit) -> Result<(), &'static str> {
        self.try_transmit(t)
    }

    /// Stop accepting new connections (graceful shutdown); existing ones stay.
    pub fn stop_accepting(&mut self) {
        for t in self.accept_tasks.drain(..) {
            t.abort();
        }
    }

    /// Close everything: connections write what is queued first.
    pub fn close(&mut self) {
        self.udp_stop.store(true, Ordering::Relaxed);
        for t in self.accept_tasks.drain(..).chain(self.udp_tasks.drain(..)) {
            t.abort();
        }
        // Connections write what is queued, then close; the kill switches (held a
        // little while elsewhere) end any whose peer does not read.
        let mut kills = Vec::new();
        for (_, c) in self.conns.drain() {
            let _ = c.tx.try_send(Outgoing::Close);
            kills.push(c.kill);
        }
        let linger = self.shared.limits.handshake_timeout.min(LINGER);
        tokio::spawn(async move {
            tokio::time::sleep(linger).await;
            drop(kills);
        });
    }

    fn try_transmit(&mut self, t: &Transmit) -> Result<(), &'static str> {
        if t.transport == Transport::Udp {
            let socket = self
                .udp_socket_for(t.dest)
                .ok_or("no UDP socket of this address family")?;
            return udp_send(&socket, t);
        }
        if let Some(id) = t.conn {
            if self.conns.contains_key(&id) {
                return self.queue(id, t.bytes.clone());
            }
            // RFC 7118: a WebSocket client cannot be reached but over its connection.
            if matches!(t.transport, Transport::Ws | Transport::Wss) {
                return Err("the WebSocket connection is closed");
            }
        }
        // Section 18.2.2: a response whose connection is gone goes to the sent-by.
        let dest = match t.conn {
            Some(_) => response_address(&t.bytes).unwrap_or(t.dest),
            None => t.dest,
        };
        if let Some(&id) = self.by_addr.get(&(dest, t.transport)) {
            return self.queue(id, t.bytes.clone());
        }
        self.connect(dest, t.transport, t.bytes.clone())
    }

    fn queue(&mut self, id: u64, bytes: Bytes) -> Result<(), &'static str> {
        let Some(c) = self.conns.get(&id) else {
            return Err("the connection is closed");
        };
        match c.tx.try_send(Outgoing::Data(bytes)) {
            Ok(()) => Ok(()),
            Err(TrySendError::Full(_)) => {
                tracing::warn!(peer = %c.peer, "peer is not reading; connection closed");
                self.forget_conn(id);
                Err("the connection's write queue is full")
            }
            Err(TrySendError::Closed(_)) => {
                self.forget_conn(id);
                Err("the connection is closed")
            }
        }
    }

    fn connect(
        &mut self,
        peer: SocketAddr,
        transport: Transport,
        first: Bytes,
    ) -> Result<(), &'static str> {
        let permit = self
            .shared
            .permits
            .clone()
            .try_acquire_owned()
            .map_err(|_| "connection limit reached")?;
        let id = self.shared.next_id();
        let (tx, rx) = mpsc::channel(self.shared.limits.connection_queue.max(1));
        let (kill_tx, kill) = oneshot::channel();
        tx.try_send(Outgoing::Data(first))
            .map_err(|_| "the connection's write queue is full")?;
        self.conns.insert(
            id,
            ConnEntry {
                tx: tx.clone(),
                peer,
                transport,
                kill: kill_tx,
            },
        );
        self.by_addr.insert((peer, transport), id);
        conn::spawn_connect(Conn {
            link: Link {
                id,
                peer,
                transport,
                shared: self.shared.clone(),
                tx,
            },
            rx,
            kill,
            _permit: permit,
        });
        Ok(())
    }

    /// The UDP socket to send to `dest` from: same address family, and a loopback
    /// socket only for loopback destinations.
    fn udp_socket_for(&self, dest: SocketAddr) -> Option<Arc<std::net::UdpSocket>> {
        self.udp
            .iter()
            .filter_map(|(local, s)| udp_score(local, dest).map(|sc| (sc, s)))
            .max_by_key(|(sc, _)| *sc)
            .map(|(_, s)| s.clone())
    }

    fn forget_conn(&mut self, id: u64) {
        if let Some(c) = self.conns.remove(&id) {
            if self.by_addr.get(&(c.peer, c.transport)) == Some(&id) {
                self.by_addr.remove(&(c.peer, c.transport));
            }
        }
    }
}

fn response_address(bytes: &Bytes) -> Option<SocketAddr> {
    let msg = Message::parse(bytes.clone()).ok()?;
    if msg.is_request() {
        return None;
    }
    let via = msg.top_via()?;
    let transport = Transport::from_via(via.transport)?;
    let ip = match via.received() {
        Some(r) => r.trim_matches(|c| c == '[' || c == ']').parse().ok()?,
        None => via.host.ip()?,
    };
    let port = match via.rport() {
        Some(Some(p)) => p,
        _ => via.port.unwrap_or_else(|| transport.default_port()),
    };
    Some(SocketAddr::new(ip, port))
}

/// How well a UDP socket bound to `local` suits `dest`: same address family, and a
/// loopback socket only for loopback destinations (preferred for them).
fn udp_score(local: &SocketAddr, dest: SocketAddr) -> Option<u8> {
    if local.is_ipv4() != dest.is_ipv4() {
        return None;
    }
    let l = local.ip();
    match (l.is_loopback(), dest.ip().is_loopback(), l.is_unspecified()) {
        (true, true, _) => Some(2),
        (false, _, true) | (false, false, false) => Some(1),
        _ => None,
    }
}

fn udp_socket_for(
    sockets: &[(SocketAddr, Arc<std::net::UdpSocket>)],
    dest: SocketAddr,
) -> Option<&std::net::UdpSocket> {
    sockets
        .iter()
        .filter_map(|(local, s)| udp_score(local, dest).map(|sc| (sc, s)))
        .max_by_key(|(sc, _)| *sc)
        .map(|(_, s)| &**s)
}

fn udp_send(socket: &std::net::UdpSocket, t: &Transmit) -> Result<(), &'static str> {
    match send_datagram(socket, &t.bytes, t.dest) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
            // The socket buffer is full: as if the datagram were lost.
            tracing::debug!(dest = %t.dest, "UDP send buffer full; datagram dropped");
            Ok(())
        }
        Err(_) => Err("UDP send failed"),
    }
}

/// Send one datagram without ever waiting for room in the socket's send buffer, also
/// on the blocking sockets of the receive threads: a UDP send buffer stays full while
/// the peer's receive queue holds our datagrams (loopback charges them to us until
/// read), and a worker that waited there would stop reading its own socket. A
/// datagram that does not fit fails with `WouldBlock`, as if lost.
pub(crate) fn send_datagram(
    socket: &std::net::UdpSocket,
    bytes: &[u8],
    dest: SocketAddr,
) -> std::io::Result<usize> {
    #[cfg(unix)]
    {
        socket2::SockRef::from(socket).send_to_with_flags(bytes, &dest.into(), libc::MSG_DONTWAIT)
    }
    #[cfg(not(unix))]
    {
        socket.send_to(bytes, dest)
    }
}

/// A non-blocking UDP socket bound to `addr`, with a receive buffer of `recv_buffer`
/// bytes when not 0 (the kernel caps it at `net.core.rmem_max`).
fn bind_udp(addr: SocketAddr, recv_buffer: usize) -> std::io::Result<std::net::UdpSocket> {
    use socket2::{Domain, Protocol, Socket, Type};
    let socket = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    if recv_buffer > 0 {
        if let Err(e) = socket.set_recv_buffer_size(recv_buffer) {
            tracing::warn!(%addr, error = %e, "cannot size the UDP receive buffer");
        }
        // As much room to send: a burst of responses to a slow reader is queued, not
        // dropped (the kernel caps it at net.core.wmem_max).
        if let Err(e) = socket.set_send_buffer_size(recv_buffer) {
            tracing::warn!(%addr, error = %e, "cannot size the UDP send buffer");
        }
    }
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    Ok(socket.into())
}

impl Drop for Transports {
    fn drop(&mut self) {
        // Receive threads end within their read timeout; tasks end with the runtime.
        self.udp_stop.store(true, Ordering::Relaxed);
    }
}
