//! The network side of `strowger serve`: the sockets ([`Transports`]), the server's
//! state in shards (each an [`App`]: proxy core, registrar, authentication, behind a
//! lock), and the resolver.
//!
//! A message goes to the shard chosen by a hash of its Call-ID, so every message of a
//! transaction and of a dialog (requests, responses, CANCEL, ACK) reaches the state
//! that holds it. Whatever thread has the message processes it: each UDP socket is
//! read by `--workers` threads blocked on it (the kernel wakes one per datagram, as
//! with Kamailio's UDP workers), which lock the shard, run it and send what it
//! produced before reading again, with no hand-over between threads. Shards are
//! several per worker, so two workers rarely want the same lock. Messages from
//! connections (TCP, TLS, WebSocket) are processed by the task that owns the
//! connections; the location writer thread answers REGISTERs once their bindings
//! are on disk; one timer thread fires the shards' timers.

use std::collections::VecDeque;
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, TryLockError, Weak};
use std::time::{Duration, Instant, SystemTime};

use strowger_core::proxy::LocalAddr;
use strowger_core::transaction::TransactionKey;
use strowger_core::transport::{Target, Transmit};
use strowger_message::{Message, Uri};
use strowger_net::resolve::{ResolveOptions, Resolver};
use strowger_net::{Config as NetConfig, ListenSpec, TlsConfig, TransportEvent, Transports};

use tokio::sync::mpsc;

use super::app::{users_of, App, ResolveRequest};
use super::config::ServeConfig;
use super::metrics::{self, Metrics};
use crate::store::SharedStore;

/// What the UDP receive threads call with each message.
type UdpDispatch = Arc<dyn Fn(Target, Message) + Send + Sync>;

/// Sends a UDP transmit (see `Transports::udp_send_fn`).
type UdpSend = Box<dyn Fn(&Transmit) -> Option<Result<(), &'static str>> + Send + Sync>;

/// Shards per worker: with two workers and 32 shards, two messages processed at the
/// same moment want the same lock one time in 32, and each shard's tables stay small
/// enough that growing one (which holds its lock) takes well under a millisecond.
const SHARDS_PER_WORKER: usize = 16;

/// The timer thread looks at the shards at least this often; a timer armed while it
/// sleeps fires at most this late.
const TIMER_TICK: Duration = Duration::from_millis(10);

/// Work for a shard, run by whichever thread holds its lock.
type Job = Box<dyn FnOnce(&mut App) + Send>;

/// One part of the server's state.
struct Shard {
    app: Mutex<App>,
    /// Work handed over by threads that found `app` locked (see [`Core::with_app`]).
    queue: Mutex<VecDeque<Job>>,
    /// A timer job is queued or running for this shard.
    timer_queued: Arc<AtomicBool>,
    /// When its next timer is due, in nanoseconds after [`Core::epoch`];
    /// `u64::MAX` for none. Read by the timer thread without the lock.
    due: AtomicU64,
    transactions: AtomicI64,
    contexts: AtomicI64,
}

/// What every thread of the server shares.
struct Core {
    shards: Vec<Shard>,
    /// Picks a message's shard from its Call-ID (random keys: a peer cannot aim many
    /// calls at one shard).
    hasher: ahash::RandomState,
    epoch: Instant,
    udp_send: UdpSend,
    /// Transmits on connections, for the task that owns them.
    out: mpsc::UnboundedSender<Transmit>,
    /// Names to resolve, with the shard that asks.
    resolve: mpsc::UnboundedSender<(usize, ResolveRequest)>,
}

impl Core {
    fn shard_of(&self, msg: &Message) -> usize {
        let h = self.hasher.hash_one(msg.call_id().unwrap_or(""));
        (h % self.shards.len().max(1) as u64) as usize
    }

    fn lock(&self, w: usize) -> Option<MutexGuard<'_, App>> {
        // A thread that panicked while holding the lock left the state as it was; go on
        // with it rather than stop the server.
        self.shards
            .get(w)
            .map(|s| s.app.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// Run `f` on shard `w` and send what it produced (under the lock, so that a
    /// shard's messages leave in the order it produced them). A thread never waits for
    /// a shard: when another holds it, `f` joins the shard's queue and that thread runs
    /// it before letting go. A thread descheduled while holding a shard (the SIPp
    /// processes of the benchmark share the two cores) then delays that shard only,
    /// while the other threads keep reading the socket; blocked on the lock they let
    /// the socket's buffer overflow, as a trace of 20-30 ms waits at 6000 calls/s showed.
    fn with_app(&self, w: usize, f: impl FnOnce(&mut App) + Send + 'static) {
        let Some(shard) = self.shards.get(w) else {
            return;
        };
        lock_queue(&shard.queue).push_back(Box::new(f));
        loop {
            let mut app = match shard.app.try_lock() {
                Ok(app) => app,
                // A thread that panicked while holding the lock left the state as it
                // was; go on with it rather than stop the server.
                Err(TryLockError::Poisoned(e)) => e.into_inner(),
                Err(TryLockError::WouldBlock) => return,
            };
            loop {
                let job = lock_queue(&shard.queue).pop_front();
                let Some(job) = job else { break };
                job(&mut app);
                self.flush(w, &mut app);
            }
            let due = app.poll_timeout().map_or(u64::MAX, |t| {
                u64::try_from(t.saturating_duration_since(self.epoch).as_nanos())
                    .unwrap_or(u64::MAX)
            });
            shard.due.store(due, Ordering::Release);
            shard
                .transactions
                .store(app.transaction_count() as i64, Ordering::Relaxed);
            shard
                .contexts
                .store(app.proxy.active_contexts() as i64, Ordering::Relaxed);
            drop(app);
            // Work queued after the last look and before the unlock is ours to run:
            // its thread found the lock taken.
            if lock_queue(&shard.queue).is_empty() {
                return;
            }
        }
    }

    /// Datagrams go out from here, connection transmits to their task; what fails to
    /// go is a transport error of its transaction (17.1.4, 17.2.4), which may transmit
    /// again (bounded rounds).
    fn flush(&self, w: usize, app: &mut App) {
        for _ in 0..4 {
            let mut failed = Vec::new();
            while let Some(t) = app.poll_transmit() {
                match (self.udp_send)(&t) {
                    Some(Ok(())) => {}
                    Some(Err(reason)) => {
                        tracing::debug!(dest = %t.dest, reason, "cannot send");
                        failed.push(t.bytes);
                    }
                    None => {
                        // The receiving task only ends when the server stops.
                        let _ = self.out.send(t);
                    }
                }
            }
            if failed.is_empty() {
                break;
            }
            for bytes in failed {
                report_undelivered(app, bytes);
            }
        }
        while let Some(r) = app.poll_resolve() {
            let _ = self.resolve.send((w, r));
        }
    }

    fn handle_message(&self, source: Target, msg: Message) {
        let w = self.shard_of(&msg);
        self.with_app(w, move |app| {
            app.handle_message(Instant::now(), SystemTime::now(), source, msg)
        });
    }

    /// Bytes that could not be delivered: a transport error of their transaction.
    fn undelivered(&self, bytes: bytes::Bytes) {
        if let Ok(msg) = Message::parse(bytes) {
            let w = self.shard_of(&msg);
            self.with_app(w, move |app| report_undelivered_msg(app, &msg));
        }
    }

    /// Fire the timers that are due; the next time to look.
    fn run_timers(&self) -> Instant {
        let now = Instant::now();
        let now_ns =
            u64::try_from(now.saturating_duration_since(self.epoch).as_nanos()).unwrap_or(u64::MAX);
        let mut next = u64::MAX;
        for (w, shard) in self.shards.iter().enumerate() {
            // One timer job per shard at a time: a busy shard runs it when it can.
            if shard.due.load(Ordering::Acquire) <= now_ns
                && !shard.timer_queued.swap(true, Ordering::AcqRel)
            {
                let queued = shard.timer_queued.clone();
                self.with_app(w, move |app| {
                    queued.store(false, Ordering::Release);
                    app.handle_timeout(Instant::now(), SystemTime::now());
                });
            }
            if !shard.timer_queued.load(Ordering::Acquire) {
                next = next.min(shard.due.load(Ordering::Acquire));
            }
        }
        let next = self.epoch + Duration::from_nanos(next.min(now_ns.saturating_add(1 << 40)));
        // At least a millisecond: a shard whose timer job waits must not make this spin.
        next.clamp(now + Duration::from_millis(1), now + TIMER_TICK)
    }

    fn idle(&self) -> bool {
        (0..self.shards.len()).all(|w| {
            self.lock(w)
                .is_none_or(|app| app.proxy.active_contexts() == 0 && app.waiting_for_disk() == 0)
        })
    }

    fn publish_gauges(&self, metrics: &Metrics) {
        let sum = |f: fn(&Shard) -> &AtomicI64| -> i64 {
            self.shards
                .iter()
                .map(|s| f(s).load(Ordering::Relaxed))
                .sum()
        };
        metrics
            .transactions
            .store(sum(|s| &s.transactions), Ordering::Relaxed);
        metrics
            .contexts
            .store(sum(|s| &s.contexts), Ordering::Relaxed);
    }
}

fn lock_queue(q: &Mutex<VecDeque<Job>>) -> MutexGuard<'_, VecDeque<Job>> {
    q.lock().unwrap_or_else(|e| e.into_inner())
}

fn report_undelivered(app: &mut App, bytes: bytes::Bytes) {
    if let Ok(msg) = Message::parse(bytes) {
        report_undelivered_msg(app, &msg);
    }
}

fn report_undelivered_msg(app: &mut App, msg: &Message) {
    if msg.is_request() {
        if let Some(key) = TransactionKey::client(msg) {
            app.transport_error(Instant::now(), SystemTime::now(), &key);
        }
    }
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
    let shard_count = workers * SHARDS_PER_WORKER;
    // The dispatch closure and the store's notifier need the core, which needs the
    // sockets and the store: they find it here once it exists.
    let core_slot: Arc<OnceLock<Weak<Core>>> = Arc::new(OnceLock::new());
    // Everything slow comes before the sockets open: the users' HA1s and the location
    // service's bindings. Between the binding and the core, the receive threads wait
    // for it (the datagrams queue in the socket's buffer) instead of dropping them: a
    // server restarted under load would otherwise lose the first requests, answered
    // only after their senders' retransmission 500 ms later.
    let key = nonce_key();
    let (out_tx, mut out_rx) = mpsc::unbounded_channel::<Transmit>();
    let (resolve_tx, mut resolve_rx) = mpsc::unbounded_channel::<(usize, ResolveRequest)>();
    // One copy of the bindings for all shards, one writer thread committing their
    // changes in groups; each REGISTER is answered once its change is on disk, from
    // the writer thread.
    let slot = core_slot.clone();
    let store = SharedStore::open_or_memory(
        &config.db,
        config.db_sync,
        Box::new(move |w, ticket, result| {
            if let Some(core) = slot.get().and_then(Weak::upgrade) {
                core.with_app(w, move |app| {
                    app.durable(Instant::now(), SystemTime::now(), ticket, result)
                });
            }
        }),
    )
    .map_err(|e| {
        format!(
            "cannot open the location database {}: {e}",
            config.db.display()
        )
    })?;
    let users = users_of(&config);
    let slot = core_slot.clone();
    let dispatch: UdpDispatch = Arc::new(move |source, msg| {
        if let Some(core) = slot.wait().upgrade() {
            core.handle_message(source, msg);
        }
    });
    let ready = Ready(core_slot.clone());
    let mut transports =
        Transports::bind_dispatching_threads(&net_config(&config)?, dispatch, workers)
            .await
            .map_err(|e| format!("cannot listen: {e}"))?;
    let local: Vec<LocalAddr> = transports
        .local_addrs()
        .iter()
        .map(|l: &ListenSpec| LocalAddr {
            transport: l.transport,
            host: advertised_host(l.addr.ip(), &config),
            port: l.addr.port(),
        })
        .collect();
    let metrics = Arc::new(Metrics::default());
    if let Some(addr) = &config.metrics.listen {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|e| format!("cannot open the metrics endpoint on {addr}: {e}"))?;
        tracing::info!(%addr, "metrics on http://{addr}/metrics");
        tokio::spawn(metrics::serve(listener, metrics.clone()));
    }
    let mut shard_config = config.clone();
    shard_config.users = Vec::new(); // read once into `users`
                                     // The limit is the server's: each shard holds its share.
    shard_config.limits.max_transactions = config.limits.max_transactions.div_ceil(shard_count);
    let wall = SystemTime::now();
    let mut shards = Vec::new();
    for w in 0..shard_count {
        let mut app = App::with_users(
            shard_config.clone(),
            local.clone(),
            store.handle(w),
            metrics.clone(),
            &key,
            users.clone(),
        )?;
        if w == 0 {
            app.purge(wall);
            tracing::info!(
                bindings = app.binding_count(wall),
                db = %config.db.display(),
                "location service loaded"
            );
        }
        shards.push(Shard {
            app: Mutex::new(app),
            queue: Mutex::new(VecDeque::new()),
            timer_queued: Arc::new(AtomicBool::new(false)),
            due: AtomicU64::new(u64::MAX),
            transactions: AtomicI64::new(0),
            contexts: AtomicI64::new(0),
        });
    }
    let core = Arc::new(Core {
        shards,
        hasher: ahash::RandomState::new(),
        epoch: Instant::now(),
        udp_send: Box::new(transports.udp_send_fn()),
        out: out_tx,
        resolve: resolve_tx,
    });
    let _ = core_slot.set(Arc::downgrade(&core));
    drop(ready);
    // Announced once datagrams are processed (until now, the receive threads waited).
    for l in transports.local_addrs() {
        println!("listening on {}", l);
    }
    let timers_stop = Arc::new(AtomicBool::new(false));
    let timers = {
        let (core, stop, metrics) = (core.clone(), timers_stop.clone(), metrics.clone());
        std::thread::Builder::new()
            .name("timers".into())
            .spawn(move || timer_loop(&core, &stop, &metrics))
            .map_err(|e| format!("cannot start the timer thread: {e}"))?
    };
    tracing::info!(workers, shards = shard_count, domains = ?config.domains, "strowger serve started");

    let resolver = Resolver::system().ok();
    let mut stop_at: Option<Instant> = None;
    loop {
        tokio::select! {
            ev = transports.recv() => match ev {
                Some(TransportEvent::Message { source, msg }) => core.handle_message(source, msg),
                Some(TransportEvent::Undelivered(bytes)) => core.undelivered(bytes),
                None => break,
            },
            Some(t) = out_rx.recv() => {
                if let Err(reason) = transports.send(&t) {
                    tracing::debug!(dest = %t.dest, reason, "cannot send");
                    core.undelivered(t.bytes);
                }
            }
            Some((w, req)) = resolve_rx.recv() => {
                let resolver = resolver.clone();
                let core = core.clone();
                tokio::spawn(async move {
                    let targets = resolve(resolver.as_ref(), &req.uri).await;
                    core.with_app(w, move |app| {
                        app.resolved(Instant::now(), SystemTime::now(), req.id, targets)
                    });
                });
            }
            _ = wait_signal(&mut sigterm), if stop_at.is_none() => {
                tracing::info!("stopping: finishing transactions (at most 5 s)");
                stop_at = Some(Instant::now() + Duration::from_secs(5));
                transports.stop_accepting();
            }
            _ = tokio::time::sleep(Duration::from_millis(100)), if stop_at.is_some() => {
                if stop_at.is_some_and(|at| Instant::now() >= at) || core.idle() {
                    break;
                }
            }
        }
    }
    timers_stop.store(true, Ordering::Relaxed);
    let _ = timers.join();
    // Send what the shards produced last.
    while let Ok(t) = out_rx.try_recv() {
        let _ = transports.send(&t);
    }
    transports.close();
    // Write what is queued and stop the writer.
    drop(store);
    drop(core);
    tokio::time::sleep(Duration::from_millis(200)).await;
    tracing::info!("strowger serve stopped");
    Ok(())
}

/// Releases the receive threads waiting for the core when the start fails after the
/// sockets are open (they then find no core and drop what they read).
struct Ready(Arc<OnceLock<Weak<Core>>>);

impl Drop for Ready {
    fn drop(&mut self) {
        let _ = self.0.set(Weak::new());
    }
}

/// The timer thread: fires the shards' timers, purges expired bindings every 30 s
/// and publishes the gauges every second, until `stop`.
fn timer_loop(core: &Core, stop: &AtomicBool, metrics: &Metrics) {
    let mut purge_at = Instant::now() + Duration::from_secs(30);
    let mut gauges_at = Instant::now();
    while !stop.load(Ordering::Relaxed) {
        let next = core.run_timers();
        let now = Instant::now();
        if now >= purge_at {
            purge_at = now + Duration::from_secs(30);
            core.with_app(0, |app| app.purge(SystemTime::now()));
        }
        if now >= gauges_at {
            gauges_at = now + Duration::from_secs(1);
            core.publish_gauges(metrics);
        }
        std::thread::sleep(next.saturating_duration_since(Instant::now()));
    }
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
