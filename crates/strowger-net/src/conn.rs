//! Connections for the reliable transports (RFC 3261 section 18, RFC 7118): accept
//! loops, outgoing connects, and what every connection task shares. A connection is
//! one task; the endpoint's driver knows it by an id and holds the sending end of its
//! bounded write queue and a kill switch (dropping it closes the connection).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use strowger_core::{Target, Transport};
use strowger_message::Message;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot, OwnedSemaphorePermit, Semaphore};
use tokio_rustls::{TlsAcceptor, TlsConnector};

use crate::config::{Limits, TlsConfig};
use crate::reject::response_to_unparseable;
use crate::{stream, tls, ws};

/// What a connection task writes.
#[derive(Debug)]
pub(crate) enum Outgoing {
    Data(Bytes),
    /// Write what came before, then close (after a framing error).
    Close,
}

/// What the sockets tell the driver.
#[derive(Debug)]
pub(crate) enum Input {
    Message {
        source: Target,
        msg: Message,
    },
    ConnOpened {
        id: u64,
        peer: SocketAddr,
        transport: Transport,
        tx: mpsc::Sender<Outgoing>,
        kill: oneshot::Sender<()>,
    },
    /// The connection is gone; `unsent` were queued but never written.
    ConnClosed {
        id: u64,
        unsent: Vec<Bytes>,
    },
}

/// Read-only state every socket task shares.
pub(crate) struct Shared {
    pub limits: Limits,
    pub input: mpsc::Sender<Input>,
    pub acceptor: Option<TlsAcceptor>,
    pub connector: TlsConnector,
    pub tls: Option<TlsConfig>,
    pub permits: Arc<Semaphore>,
    next_id: AtomicU64,
}

impl Shared {
    pub(crate) fn new(
        limits: Limits,
        input: mpsc::Sender<Input>,
        acceptor: Option<TlsAcceptor>,
        connector: TlsConnector,
        tls: Option<TlsConfig>,
    ) -> Shared {
        Shared {
            permits: Arc::new(Semaphore::new(limits.max_connections)),
            limits,
            input,
            acceptor,
            connector,
            tls,
            next_id: AtomicU64::new(1),
        }
    }

    pub(crate) fn next_id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }

    /// Parse one framed message and hand it to the driver; answer an unparseable
    /// request on `reply`. `false` when the driver is gone.
    pub(crate) async fn deliver(
        &self,
        source: Target,
        bytes: Bytes,
        reply: &mpsc::Sender<Outgoing>,
    ) -> bool {
        match Message::parse_with(bytes.clone(), &self.limits.message) {
            Ok(msg) => self
                .input
                .send(Input::Message { source, msg })
                .await
                .is_ok(),
            Err(e) => {
                tracing::debug!(peer = %source.addr, transport = %source.transport, error = %e, "unparseable message");
                if let Some(resp) = response_to_unparseable(&bytes, &e) {
                    // A full queue means the peer is not reading: no answer then.
                    let _ = reply.try_send(Outgoing::Data(resp));
                }
                true
            }
        }
    }
}

/// The last time anything was read or written on a connection, for the idle timeout.
pub(crate) struct Activity {
    start: Instant,
    millis: AtomicU64,
}

impl Activity {
    pub(crate) fn new() -> Activity {
        Activity {
            start: Instant::now(),
            millis: AtomicU64::new(0),
        }
    }

    pub(crate) fn touch(&self) {
        let ms = u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.millis.store(ms, Ordering::Relaxed);
    }

    /// When the connection becomes idle if nothing happens before.
    pub(crate) fn deadline(&self, idle: Duration) -> tokio::time::Instant {
        let last = self.start + Duration::from_millis(self.millis.load(Ordering::Relaxed));
        tokio::time::Instant::from_std(last + idle)
    }
}

/// What a connection's reader needs: who it is, and how to queue a reply.
pub(crate) struct Link {
    pub id: u64,
    pub peer: SocketAddr,
    pub transport: Transport,
    pub shared: Arc<Shared>,
    pub tx: mpsc::Sender<Outgoing>,
}

impl Link {
    pub(crate) fn source(&self) -> Target {
        Target {
            addr: self.peer,
            transport: self.transport,
            conn: Some(self.id),
        }
    }
}

/// One connection task's end of the plumbing.
pub(crate) struct Conn {
    pub link: Link,
    pub rx: mpsc::Receiver<Outgoing>,
    pub kill: oneshot::Receiver<()>,
    pub _permit: OwnedSemaphorePermit,
}

impl Conn {
    /// What was queued and never written.
    fn drain(&mut self) -> Vec<Bytes> {
        let mut unsent = Vec::new();
        self.rx.close();
        while let Ok(o) = self.rx.try_recv() {
            if let Outgoing::Data(b) = o {
                unsent.push(b);
            }
        }
        unsent
    }
}

/// A connection after its handshakes.
enum Established {
    Tcp(TcpStream),
    Tls(Box<tokio_rustls::TlsStream<TcpStream>>),
    Ws(Box<ws::WsStream<TcpStream>>),
    Wss(Box<ws::WsStream<tokio_rustls::TlsStream<TcpStream>>>),
}

async fn serve(established: Established, conn: &mut Conn) -> Vec<Bytes> {
    match established {
        Established::Tcp(s) => stream::run(s, conn).await,
        Established::Tls(s) => stream::run(*s, conn).await,
        Established::Ws(s) => ws::run(*s, conn).await,
        Established::Wss(s) => ws::run(*s, conn).await,
    }
}

#[derive(Debug, thiserror::Error)]
enum HandshakeError {
    #[error("timed out")]
    Timeout,
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("WebSocket: {0}")]
    Ws(#[from] tokio_tungstenite::tungstenite::Error),
    #[error("{0}")]
    WsConnect(#[from] ws::ConnectError),
    #[error("no TLS certificate configured")]
    NoTlsIdentity,
}

async fn accept_handshake(
    tcp: TcpStream,
    transport: Transport,
    shared: &Shared,
) -> Result<Established, HandshakeError> {
    let wsconf = ws::config(&shared.limits);
    let work = async {
        Ok(match transport {
            Transport::Udp | Transport::Tcp => Established::Tcp(tcp),
            Transport::Tls => {
                let acceptor = shared
                    .acceptor
                    .as_ref()
                    .ok_or(HandshakeError::NoTlsIdentity)?;
                Established::Tls(Box::new(acceptor.accept(tcp).await?.into()))
            }
            Transport::Ws => Established::Ws(Box::new(ws::accept(tcp, wsconf).await?)),
            Transport::Wss => {
                let acceptor = shared
                    .acceptor
                    .as_ref()
                    .ok_or(HandshakeError::NoTlsIdentity)?;
                let tls = tokio_rustls::TlsStream::from(acceptor.accept(tcp).await?);
                Established::Wss(Box::new(ws::accept(tls, wsconf).await?))
            }
        })
    };
    tokio::time::timeout(shared.limits.handshake_timeout, work)
        .await
        .map_err(|_| HandshakeError::Timeout)?
}

async fn connect_handshake(
    peer: SocketAddr,
    transport: Transport,
    shared: &Shared,
) -> Result<Established, HandshakeError> {
    let wsconf = ws::config(&shared.limits);
    let work = async {
        let tcp = TcpStream::connect(peer).await?;
        let _ = tcp.set_nodelay(true);
        let name = || tls::server_name(shared.tls.as_ref(), peer);
        Ok(match transport {
            Transport::Udp | Transport::Tcp => Established::Tcp(tcp),
            Transport::Tls => {
                let s = shared.connector.connect(name(), tcp).await?;
                Established::Tls(Box::new(s.into()))
            }
            Transport::Ws => {
                Established::Ws(Box::new(ws::connect(tcp, peer, false, wsconf).await?))
            }
            Transport::Wss => {
                let s = shared.connector.connect(name(), tcp).await?;
                let s = tokio_rustls::TlsStream::from(s);
                Established::Wss(Box::new(ws::connect(s, peer, true, wsconf).await?))
            }
        })
    };
    tokio::time::timeout(shared.limits.handshake_timeout, work)
        .await
        .map_err(|_| HandshakeError::Timeout)?
}

/// Accept connections on `listener` until the task is aborted.
pub(crate) async fn accept_loop(listener: TcpListener, transport: Transport, shared: Arc<Shared>) {
    loop {
        let (tcp, peer) = match listener.accept().await {
            Ok(x) => x,
            Err(e) => {
                // EMFILE and friends: wait a little rather than spin.
                tracing::warn!(%transport, error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let Ok(permit) = shared.permits.clone().try_acquire_owned() else {
            tracing::warn!(%peer, %transport, limit = shared.limits.max_connections, "connection limit reached; connection refused");
            continue;
        };
        let _ = tcp.set_nodelay(true);
        tokio::spawn(serve_accepted(tcp, peer, transport, shared.clone(), permit));
    }
}

async fn serve_accepted(
    tcp: TcpStream,
    peer: SocketAddr,
    transport: Transport,
    shared: Arc<Shared>,
    permit: OwnedSemaphorePermit,
) {
    let established = match accept_handshake(tcp, transport, &shared).await {
        Ok(s) => s,
        Err(e) => {
            tracing::debug!(%peer, %transport, error = %e, "handshake failed");
            return;
        }
    };
    let id = shared.next_id();
    let (tx, rx) = mpsc::channel(shared.limits.connection_queue.max(1));
    let (kill_tx, kill) = oneshot::channel();
    let opened = Input::ConnOpened {
        id,
        peer,
        transport,
        tx: tx.clone(),
        kill: kill_tx,
    };
    if shared.input.send(opened).await.is_err() {
        return;
    }
    tracing::debug!(id, %peer, %transport, "connection accepted");
    let mut conn = Conn {
        link: Link {
            id,
            peer,
            transport,
            shared: shared.clone(),
            tx,
        },
        rx,
        kill,
        _permit: permit,
    };
    let unsent = serve(established, &mut conn).await;
    let _ = shared.input.send(Input::ConnClosed { id, unsent }).await;
}

/// A connection the driver asked for: it already registered `id` with the sending
/// end of `rx`; messages queue there while we connect.
pub(crate) fn spawn_connect(mut conn: Conn) {
    tokio::spawn(async move {
        let l = &conn.link;
        let (id, peer, transport, shared) = (l.id, l.peer, l.transport, l.shared.clone());
        let unsent = match connect_handshake(peer, transport, &shared).await {
            Ok(established) => {
                tracing::debug!(id, %peer, %transport, "connected");
                serve(established, &mut conn).await
            }
            Err(e) => {
                tracing::info!(%peer, %transport, error = %e, "cannot connect");
                conn.drain()
            }
        };
        let _ = shared.input.send(Input::ConnClosed { id, unsent }).await;
    });
}

/// What a connection loop returns: the message whose write failed (if any) and what
/// was still queued.
pub(crate) fn finish(conn: &mut Conn, failed: Option<Bytes>) -> Vec<Bytes> {
    let mut unsent: Vec<Bytes> = failed.into_iter().collect();
    unsent.extend(conn.drain());
    unsent
}
