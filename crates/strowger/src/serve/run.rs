//! The network side of `strowger serve`: the sockets ([`Transports`]), N workers each
//! owning an [`App`] (proxy core, registrar, authentication), and the resolver.
//!
//! Messages are dispatched to workers by a hash of their Call-ID, so every message of
//! a transaction and of a dialog (requests, responses, CANCEL, ACK) reaches the worker
//! that holds its state; the workers run in parallel on the runtime's threads. UDP
//! takes the short way: each socket's receive task hands a datagram straight to its
//! worker, and workers send datagrams themselves. Connections (TCP, TLS, WebSocket)
//! go through the socket task, which owns them: workers hand it what to send over a
//! channel.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use strowger_core::proxy::LocalAddr;
use strowger_core::transaction::TransactionKey;
use strowger_core::transport::{Target, Transmit};
use strowger_message::{Message, Uri};
use strowger_net::resolve::{ResolveOptions, Resolver};
use strowger_net::{Config as NetConfig, ListenSpec, TlsConfig, TransportEvent, Transports};

use tokio::sync::mpsc;

use super::app::{App, ResolveRequest};
use super::config::ServeConfig;
use super::metrics::{self, Metrics};
use crate::store::SharedStore;

/// What the UDP receive tasks call with each message (see `Transports::bind_dispatching`).
type UdpDispatch = Arc<dyn Fn(Target, Message) + Send + Sync>;

/// Input of a worker.
enum WorkerInput {
    Message(Target, Message),
    Undelivered(Message),
    Resolved(u64, Vec<Target>),
    /// The location store's change with this ticket is on disk (or failed).
    Durable(u64, Result<(), String>),
    Stop,
}

fn shard(msg: &Message, workers: usize) -> usize {
    let mut h = DefaultHasher::new();
    msg.call_id().unwrap_or("").hash(&mut h);
    (h.finish() % workers.max(1) as u64) as usize
}

/// Our address as written in Via and Record-Route: the listen address, or for a
/// wildcard listener the first domain, else the address the system would use to
/// reach the outside (found without sending anything).
fn advertised_host(ip: IpAddr, config: &ServeConfig) -> String {
    let ip = if ip.is_unspecified() {
        if let Some(d) = config.domains.first() {
            return d.clone();
        }
        let probe = if ip.is_ipv4() {
            "192.0.2.1:9"
        } else {
            "[2001:db8::1]:9"
        };
        std::net::UdpSocket::bind(if ip.is_ipv4() { "0.0.0.0:0" } else { "[::]:0" })
            .and_then(|s| {
                s.connect(probe)?;
                s.local_addr()
            })
            .map(|a| a.ip())
            .unwrap_or(ip)
    } else {
        ip
    };
    match ip {
        IpAddr::V4(a) => a.to_string(),
        IpAddr::V6(a) => format!("[{a}]"),
    }
}

fn net_config(config: &ServeConfig) -> Result<NetConfig, String> {
    let specs: Vec<&str> = config.listen.iter().map(String::as_str).collect();
    let mut net = NetConfig::listening(&specs).map_err(|e| e.to_string())?;
    if let Some(t) = &config.tls {
        net.tls = Some(TlsConfig {
            cert_chain: Some(t.cert.clone()),
            private_key: Some(t.key.clone()),
            roots: Vec::new(),
            server_name: None,
        });
    }
    net.limits.max_connections = config.limits.max_connections;
    net.limits.idle_timeout = Duration::from_secs(config.limits.idle_timeout);
    net.limits.message.max_message_size = config.limits.max_message_size;
    Ok(net)
}

/// A random 32-byte key for the digest nonces of this run.
fn nonce_key() -> Vec<u8> {
    let mut key = vec![0u8; 32];
    super::app::Rng::default().fill(&mut key);
    key
}

/// Run the server until SIGTERM or Ctrl-C.
pub async fn run(config: ServeConfig) -> Result<(), String> {
    // Before anything is announced, so that a SIGTERM right after start is handled.
    let mut sigterm = signal_term();
    let workers = config
        .workers
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
        .max(1);
    let mut senders = Vec::new();
    let mut receivers = Vec::new();
    for _ in 0..workers {
        let (tx, rx) = mpsc::channel::<WorkerInput>(16_384);
        senders.push(tx);
        receivers.push(rx);
    }
    let dispatch_to = senders.clone();
    let dispatch: UdpDispatch = Arc::new(move |source, msg| {
        let w = shard(&msg, dispatch_to.len());
        if let Some(tx) = dispatch_to.get(w) {
            if tx.try_send(WorkerInput::Message(source, msg)).is_err() {
                // As a lost datagram: the sender retransmits.
                tracing::warn!("worker {w} is overloaded; message dropped");
            }
        }
    });
    let mut transports = Transports::bind_dispatching(&net_config(&config)?, dispatch)
        .await
        .map_err(|e| format!("cannot listen: {e}"))?;
    let udp_send = transports.udp_send_fn();
    let local: Vec<LocalAddr> = transports
        .local_addrs()
        .iter()
        .map(|l: &ListenSpec| LocalAddr {
            transport: l.transport,
            host: advertised_host(l.addr.ip(), &config),
            port: l.addr.port(),
        })
        .collect();
    for l in transports.local_addrs() {
        println!("listening on {}", l);
    }
    let metrics = Arc::new(Metrics::default());
    if let Some(addr) = &config.metrics.listen {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|e| format!("cannot open the metrics endpoint on {addr}: {e}"))?;
        tracing::info!(%addr, "metrics on http://{addr}/metrics");
        tokio::spawn(metrics::serve(listener, metrics.clone()));
    }
    let key = nonce_key();
    let (out_tx, mut out_rx) = mpsc::channel::<Transmit>(65_536);
    let (resolve_tx, mut resolve_rx) = mpsc::channel::<(usize, ResolveRequest)>(4096);
    // One copy of the bindings for all workers, one writer thread committing their
    // changes in groups; each REGISTER is answered once its change is on disk.
    let notify_to = senders.clone();
    let store = SharedStore::open(
        &config.db,
        Box::new(move |w, ticket, result| {
            if let Some(tx) = notify_to.get(w) {
                let _ = tx.blocking_send(WorkerInput::Durable(ticket, result));
            }
        }),
    )
    .map_err(|e| {
        format!(
            "cannot open the location database {}: {e}",
            config.db.display()
        )
    })?;
    let mut handles = Vec::new();
    let wall = SystemTime::now();
    for (w, rx) in receivers.into_iter().enumerate() {
        let mut app = App::new(
            config.clone(),
            local.clone(),
            store.handle(w),
            metrics.clone(),
            &key,
        )?;
        if w == 0 {
            app.purge(wall);
            tracing::info!(
                bindings = app.binding_count(wall),
                db = %config.db.display(),
                "location service loaded"
            );
        }
        handles.push(tokio::spawn(worker(
            w,
            app,
            rx,
            udp_send.clone(),
            out_tx.clone(),
            resolve_tx.clone(),
        )));
    }
    drop(out_tx);
    drop(resolve_tx);
    tracing::info!(workers, domains = ?config.domains, "strowger serve started");

    let resolver = Resolver::system().ok();
    let mut stopping = false;
    loop {
        tokio::select! {
            ev = transports.recv() => match ev {
                Some(TransportEvent::Message { source, msg }) => {
                    let w = shard(&msg, workers);
                    if let Some(tx) = senders.get(w) {
                        if tx.try_send(WorkerInput::Message(source, msg)).is_err() {
                            // As a lost datagram: the sender retransmits.
                            tracing::warn!("worker {w} is overloaded; message dropped");
                        }
                    }
                }
                Some(TransportEvent::Undelivered(bytes)) => {
                    if let Ok(msg) = Message::parse(bytes) {
                        let w = shard(&msg, workers);
                        if let Some(tx) = senders.get(w) {
                            let _ = tx.try_send(WorkerInput::Undelivered(msg));
                        }
                    }
                }
                None => break,
            },
            Some(t) = out_rx.recv() => {
                if let Err(reason) = transports.send(&t) {
                    tracing::debug!(dest = %t.dest, reason, "cannot send");
                    if let Ok(msg) = Message::parse(t.bytes.clone()) {
                        let w = shard(&msg, workers);
                        if let Some(tx) = senders.get(w) {
                            let _ = tx.try_send(WorkerInput::Undelivered(msg));
                        }
                    }
                }
            }
            Some((w, req)) = resolve_rx.recv() => {
                let resolver = resolver.clone();
                let tx = senders.get(w).cloned();
                tokio::spawn(async move {
                    let targets = resolve(resolver.as_ref(), &req.uri).await;
                    if let Some(tx) = tx {
                        let _ = tx.send(WorkerInput::Resolved(req.id, targets)).await;
                    }
                });
            }
            _ = wait_signal(&mut sigterm), if !stopping => {
                tracing::info!("stopping: finishing transactions (at most 5 s)");
                stopping = true;
                transports.stop_accepting();
                for tx in &senders {
                    let _ = tx.try_send(WorkerInput::Stop);
                }
            }
            _ = tokio::time::sleep(Duration::from_millis(100)), if stopping => {
                if handles.iter().all(|h| h.is_finished()) {
                    break;
                }
            }
        }
    }
    // Send what the workers produced last.
    while let Ok(t) = out_rx.try_recv() {
        let _ = transports.send(&t);
    }
    transports.close();
    // Write what is queued and stop the writer.
    drop(store);
    tokio::time::sleep(Duration::from_millis(200)).await;
    tracing::info!("strowger serve stopped");
    Ok(())
}

async fn resolve(resolver: Option<&Resolver>, uri: &str) -> Vec<Target> {
    let Some(r) = resolver else { return Vec::new() };
    let Ok(u) = Uri::parse(uri) else {
        return Vec::new();
    };
    match r.resolve_uri(&u, &ResolveOptions::default()).await {
        Ok(list) => list.iter().map(|t| t.target()).collect(),
        Err(e) => {
            tracing::info!(%uri, "cannot resolve: {e}");
            Vec::new()
        }
    }
}

async fn worker<U>(
    id: usize,
    mut app: App,
    mut rx: mpsc::Receiver<WorkerInput>,
    udp_send: U,
    out: mpsc::Sender<Transmit>,
    resolve: mpsc::Sender<(usize, ResolveRequest)>,
) where
    U: Fn(&Transmit) -> Option<Result<(), &'static str>>,
{
    let mut stop_at: Option<Instant> = None;
    let mut purge = tokio::time::interval(Duration::from_secs(30));
    loop {
        let wake = app.poll_timeout();
        let sleep_until = wake
            .map(tokio::time::Instant::from_std)
            .unwrap_or_else(|| tokio::time::Instant::now() + Duration::from_secs(3600));
        tokio::select! {
            input = rx.recv() => match input {
                Some(WorkerInput::Message(source, msg)) => {
                    app.handle_message(Instant::now(), SystemTime::now(), source, msg);
                }
                Some(WorkerInput::Undelivered(msg)) => {
                    if msg.is_request() {
                        if let Some(key) = TransactionKey::client(&msg) {
                            app.transport_error(Instant::now(), SystemTime::now(), &key);
                        }
                    }
                }
                Some(WorkerInput::Resolved(rid, targets)) => {
                    app.resolved(Instant::now(), SystemTime::now(), rid, targets);
                }
                Some(WorkerInput::Durable(ticket, result)) => {
                    app.durable(Instant::now(), SystemTime::now(), ticket, result);
                }
                Some(WorkerInput::Stop) => {
                    stop_at = Some(Instant::now() + Duration::from_secs(5));
                }
                None => break,
            },
            _ = tokio::time::sleep_until(sleep_until) => {
                app.handle_timeout(Instant::now(), SystemTime::now());
            }
            _ = purge.tick() => {
                if id == 0 {
                    app.purge(SystemTime::now());
                }
            }
        }
        // Datagrams go out from here; what fails to go is a transport error of its
        // transaction (17.1.4, 17.2.4), which may transmit again (bounded rounds).
        for _ in 0..4 {
            let mut failed = Vec::new();
            while let Some(t) = app.poll_transmit() {
                match udp_send(&t) {
                    Some(Ok(())) => {}
                    Some(Err(reason)) => {
                        tracing::debug!(dest = %t.dest, reason, "cannot send");
                        failed.push(t.bytes);
                    }
                    None => {
                        if out.send(t).await.is_err() {
                            return;
                        }
                    }
                }
            }
            if failed.is_empty() {
                break;
            }
            for bytes in failed {
                if let Ok(msg) = Message::parse(bytes) {
                    if let Some(key) = msg
                        .is_request()
                        .then(|| TransactionKey::client(&msg))
                        .flatten()
                    {
                        app.transport_error(Instant::now(), SystemTime::now(), &key);
                    }
                }
            }
        }
        while let Some(r) = app.poll_resolve() {
            let _ = resolve.send((id, r)).await;
        }
        if let Some(at) = stop_at {
            let idle = app.proxy.active_contexts() == 0 && app.waiting_for_disk() == 0;
            if idle || Instant::now() >= at {
                break;
            }
        }
    }
}

#[cfg(unix)]
type TermSignal = Option<tokio::signal::unix::Signal>;
#[cfg(not(unix))]
type TermSignal = ();

#[cfg(unix)]
fn signal_term() -> TermSignal {
    tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok()
}
#[cfg(not(unix))]
fn signal_term() -> TermSignal {}

/// SIGTERM or Ctrl-C.
async fn wait_signal(term: &mut TermSignal) {
    #[cfg(unix)]
    {
        match term {
            Some(t) => {
                tokio::select! {
                    _ = t.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            None => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = term;
        let _ = tokio::signal::ctrl_c().await;
    }
}
