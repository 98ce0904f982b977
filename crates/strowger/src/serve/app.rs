//! What `strowger serve` does with each request: the policy on top of the proxy core,
//! the registrar and digest authentication. Sans-I/O like the core: the driver feeds
//! messages and time in, sends what comes out, and resolves the host names the
//! application asks about.
//!
//! Decisions, in order (RFC 3261 sections 10.3, 16.3-16.5, 22):
//! 1. REGISTER for our domain: authenticate (401), then the registrar of 10.3.
//! 2. A request to the server itself (Request-URI without user, one of our
//!    addresses or domains): OPTIONS gets 200 with Allow, anything else 404... unless
//!    it carries a Route (loose routing), which the proxy core already consumed.
//! 3. An initial request (no To tag) from one of our users is authenticated (407).
//! 4. Request-URI in our domain: the location service gives the targets (480 when
//!    the user has no binding, 404 when there is no such user); in redirect mode an
//!    INVITE gets 302 with the contacts.
//! 5. Another domain: only for an authenticated user of ours or within a dialog
//!    (Route present); otherwise 403 (no open relay).

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use strowger_core::digest::server::{ServerAuth, ServerConfig as DigestConfig, Verdict};
use strowger_core::digest::{ChallengeKind, Hash};
use strowger_core::proxy::{ForwardTarget, LocalAddr, Proxy, ProxyConfig, ProxyEvent};
use strowger_core::registrar::{Binding, LocationStore, Outcome, Registrar, RegistrarConfig};
use strowger_core::transaction::{Config as TxConfig, TransactionKey, TransactionLayer};
use strowger_core::transport::{self, ResponseDestination, Target, Transmit, Transport};
use strowger_message::{HeaderName, Host, Message, Method, ResponseBuilder, Uri};

use super::config::ServeConfig;
use super::metrics::Metrics;
use crate::store::SqliteStore;

/// The users of the configuration with their HA1 hashes, shared by all the shards.
pub type Users = Arc<HashMap<String, Secrets, ahash::RandomState>>;

/// A user's HA1 hashes for our realm.
#[derive(Debug, Clone, Default)]
pub struct Secrets {
    md5: Option<String>,
    sha256: Option<String>,
}

/// A host name the driver must resolve (RFC 3263) before a request can go on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolveRequest {
    pub id: u64,
    /// The URI whose host, port and transport decide the next hop.
    pub uri: String,
}

#[derive(Debug)]
struct PendingForward {
    key: TransactionKey,
    /// The request to forward when the application changed it.
    request: Option<Message>,
    incoming: Transport,
    /// Targets with their next hop resolved so far, and those still waiting.
    ready: Vec<ForwardTarget>,
    waiting: HashMap<u64, ForwardTarget>,
}

/// Stateless sends that wait for a name to be resolved.
#[derive(Debug)]
enum PendingStateless {
    Request(Message),
    Response(Message),
}

/// The server's application state.
pub struct App {
    pub proxy: Proxy,
    registrar: Registrar,
    auth: ServerAuth,
    users: Users,
    store: SqliteStore,
    config: ServeConfig,
    metrics: Arc<Metrics>,
    local: Vec<LocalAddr>,
    resolve_out: VecDeque<ResolveRequest>,
    forwards: HashMap<u64, u64>,
    pending: HashMap<u64, PendingForward>,
    stateless: HashMap<u64, PendingStateless>,
    next_id: u64,
    rng: Rng,
    /// The request of the next forward, when changed (credentials removed).
    strip: Option<Message>,
    /// REGISTER responses waiting for their binding to be on disk, by store ticket.
    durable_wait: HashMap<u64, (TransactionKey, Message), ahash::RandomState>,
    /// Keys the To tags of stateless challenges.
    tag_key: std::collections::hash_map::RandomState,
}

impl std::fmt::Debug for App {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("App")
            .field("users", &self.users.len())
            .field("pending", &self.pending.len())
            .finish()
    }
}

/// Random bytes for nonces and branches from the standard library's per-process keys
/// (SipHash with random keys) and a counter: unpredictable to a peer, no dependency.
#[derive(Debug, Default)]
pub struct Rng {
    counter: u64,
}

impl Rng {
    pub fn fill(&mut self, out: &mut [u8]) {
        use std::hash::{BuildHasher, Hasher};
        for chunk in out.chunks_mut(8) {
            self.counter = self.counter.wrapping_add(1);
            let mut h = std::collections::hash_map::RandomState::new().build_hasher();
            h.write_u64(self.counter);
            let v = h.finish().to_le_bytes();
            chunk.copy_from_slice(&v[..chunk.len()]);
        }
    }
}

fn unix_now(now: SystemTime) -> u64 {
    now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// User-Agent values of the SIP scanners seen on the Internet (sipvicious and kin).
const SCANNERS: &[&str] = &[
    "friendly-scanner",
    "sipvicious",
    "sipcli",
    "sip-scan",
    "sipsak-scan",
    "iwar",
    "sivus",
    "sundayddr",
    "vaxsipuseragent",
    "vaxipuseragent",
    "siparmyknife",
    "smap",
    "pplsip",
];

/// Whether a request comes from a known SIP scanner (by its User-Agent).
pub fn is_scanner(msg: &Message) -> bool {
    // Case-insensitive search without allocating: this runs on every request.
    msg.header("User-Agent").is_some_and(|ua| {
        let ua = ua.as_bytes();
        SCANNERS.iter().any(|s| {
            ua.windows(s.len())
                .any(|w| w.eq_ignore_ascii_case(s.as_bytes()))
        })
    })
}

/// Where a bound contact is reached: the connection or address the REGISTER came
/// from (what Kamailio's nathelper does for clients behind NAT and what WebSocket
/// clients need), written `transport:ip:port[#conn]`.
pub fn encode_source(t: &Target) -> String {
    use std::fmt::Write as _;
    let mut s = String::with_capacity(64);
    s.push_str(t.transport.as_str());
    s.make_ascii_lowercase();
    s.push(':');
    // Written for every REGISTER: IPv4 without the formatting machinery.
    match t.addr {
        SocketAddr::V4(a) => {
            strowger_message::push_ipv4(&mut s, *a.ip());
            let _ = write!(s, ":{}", a.port());
        }
        SocketAddr::V6(a) => {
            let _ = write!(s, "{a}");
        }
    }
    if let Some(c) = t.conn {
        let _ = write!(s, "#{c}");
    }
    s
}

pub fn decode_source(s: &str) -> Option<Target> {
    let (t, rest) = s.split_once(':')?;
    let transport = Transport::from_via(t)?;
    let (addr, conn) = match rest.split_once('#') {
        Some((a, c)) => (a, c.parse().ok()),
        None => (rest, None),
    };
    Some(Target {
        addr: addr.parse().ok()?,
        transport,
        conn,
    })
}

/// The next hop of a URI when it needs no DNS: an IP literal host (RFC 3263 4.2 with
/// the transport rules of 4.1).
pub fn literal_target(uri: &str) -> Option<Target> {
    let Ok(Uri::Sip(u)) = Uri::parse(uri) else {
        return None;
    };
    let ip = match u
        .maddr()
        .and_then(|m| m.trim_matches(['[', ']']).parse().ok())
    {
        Some(ip) => ip,
        None => u.host.ip()?,
    };
    let transport = match u.transport() {
        Some(t) => Transport::from_via(t)?,
        None if u.secure => Transport::Tls,
        None => Transport::Udp,
    };
    let port = u.port.unwrap_or(transport.default_port());
    Some(Target::new(SocketAddr::new(ip, port), transport))
}

/// The users of `config` with their HA1 hashes (computed from passwords once).
pub fn users_of(config: &ServeConfig) -> Users {
    let realm = config.realm();
    let mut users = HashMap::default();
    for u in &config.users {
        let s = Secrets {
            md5: u.ha1_md5.clone().or_else(|| {
                u.password
                    .as_deref()
                    .map(|p| strowger_core::digest::ha1_md5(&u.name, &realm, p))
            }),
            sha256: u.ha1_sha256.clone().or_else(|| {
                u.password
                    .as_deref()
                    .map(|p| strowger_core::digest::ha1_sha256(&u.name, &realm, p))
            }),
        };
        users.insert(u.name.clone(), s);
    }
    Arc::new(users)
}

impl App {
    /// The tests' constructor; the server shares the users with [`App::with_users`].
    #[cfg_attr(not(test), allow(dead_code))]
    pub fn new(
        config: ServeConfig,
        local: Vec<LocalAddr>,
        store: SqliteStore,
        metrics: Arc<Metrics>,
        nonce_key: &[u8],
    ) -> Result<App, String> {
        let users = users_of(&config);
        Self::with_users(config, local, store, metrics, nonce_key, users)
    }

    /// [`App::new`] with the users already read ([`users_of`]): the server's shards
    /// share one table. `config.users` is not read again.
    pub fn with_users(
        config: ServeConfig,
        local: Vec<LocalAddr>,
        store: SqliteStore,
        metrics: Arc<Metrics>,
        nonce_key: &[u8],
        users: Users,
    ) -> Result<App, String> {
        let realm = config.realm();
        let mut dconf = DigestConfig::new(realm);
        dconf.nonce_lifetime = std::time::Duration::from_secs(config.auth.nonce_ttl);
        let algorithms: Vec<_> = config
            .auth
            .algorithms
            .iter()
            .filter_map(|a| strowger_core::digest::Algorithm::from_name(a))
            .collect();
        if algorithms.is_empty() {
            return Err("auth.algorithms names no known digest algorithm".into());
        }
        dconf.algorithms = algorithms;
        let auth = ServerAuth::new(nonce_key, dconf).map_err(|e| e.to_string())?;
        let mut domains = config.domains.clone();
        for l in &local {
            domains.push(l.host.trim_matches(['[', ']']).to_string());
        }
        let registrar = Registrar::new(RegistrarConfig {
            domains,
            default_expires: config.registrar.default_expires,
            min_expires: config.registrar.min_expires,
            max_expires: config.registrar.max_expires,
            max_bindings: config.registrar.max_bindings,
        });
        let tx = TxConfig {
            max_transactions: config.limits.max_transactions,
            ..TxConfig::default()
        };
        let proxy = Proxy::new(
            TransactionLayer::new(tx),
            ProxyConfig {
                local: local.clone(),
                record_route: config.record_route,
                ..ProxyConfig::default()
            },
        );
        Ok(App {
            proxy,
            registrar,
            auth,
            users,
            store,
            config,
            metrics,
            local,
            resolve_out: VecDeque::new(),
            forwards: HashMap::new(),
            pending: HashMap::new(),
            stateless: HashMap::new(),
            durable_wait: HashMap::default(),
            next_id: 0,
            rng: Rng::default(),
            strip: None,
            tag_key: std::collections::hash_map::RandomState::new(),
        })
    }

    // -- the sans-I/O boundary ---------------------------------------------------------

    pub fn handle_message(&mut self, now: Instant, wall: SystemTime, source: Target, msg: Message) {
        if msg.is_request() && is_scanner(&msg) {
            // Dropped before any transaction exists: no answer tells a scanner that a
            // SIP server is here (what Kamailio's and OpenSIPS's sample configs do).
            tracing::debug!(from = %source.addr, "request from a SIP scanner dropped");
            return;
        }
        if let Some(m) = msg.method() {
            self.metrics.request(m.as_str());
        }
        if msg.is_request() && self.challenge_statelessly(wall, source, &msg) {
            return;
        }
        self.proxy.handle_message(now, source, msg);
        self.process_events(now, wall);
    }

    /// RFC 3261 8.2.7 and 26.1.5: a REGISTER without credentials is challenged by a
    /// stateless UAS, the role the RFC names for exactly this, so that a flood of
    /// unauthenticated requests creates no transaction (Kamailio and OpenSIPS send
    /// their challenges statelessly too). A retransmission is challenged again: a
    /// fresh nonce, and the same To tag, derived from the request. `false`: the
    /// request takes the stateful path (it has credentials, or fails a check that
    /// answers something else first, or its response address needs resolving).
    fn challenge_statelessly(&mut self, wall: SystemTime, source: Target, msg: &Message) -> bool {
        if msg.method() != Some(Method::Register)
            || !self.config.auth.required
            || self.users.is_empty()
            || msg.get(HeaderName::Authorization).next().is_some()
        {
            return false;
        }
        let ours = match msg.request_uri() {
            Some(Uri::Sip(u)) => self.is_our_host(&u.host.to_string()),
            _ => false,
        };
        if !ours || msg.validate().is_err() || self.proxy.rejects(msg) {
            return false;
        }
        let Some(via) = msg.top_via() else {
            return false;
        };
        let ResponseDestination::Target(dest) = transport::response_destination(&via, &source)
        else {
            return false;
        };
        let stamped = transport::stamp_received(msg.clone(), source.addr);
        let tag = {
            use std::hash::BuildHasher;
            let h = self
                .tag_key
                .hash_one((msg.call_id(), msg.from_tag(), msg.top_via_branch()));
            format!("{h:016x}")
        };
        let mut b = ResponseBuilder::new(&stamped, 401).to_tag(&tag);
        for c in self.challenge_values(wall, false) {
            b = b.header("WWW-Authenticate", &c);
        }
        match b.build() {
            Ok(resp) => {
                tracing::debug!(from = %source.addr, "REGISTER without credentials challenged statelessly");
                self.metrics.response("REGISTER", 401);
                self.proxy.send_stateless(dest, &resp);
                true
            }
            Err(_) => false,
        }
    }

    pub fn handle_timeout(&mut self, now: Instant, wall: SystemTime) {
        self.proxy.handle_timeout(now);
        self.process_events(now, wall);
    }

    /// Live transactions (the runtime sums them over its shards for the metrics).
    pub fn transaction_count(&self) -> usize {
        self.proxy.layer().len()
    }

    pub fn transport_error(&mut self, now: Instant, wall: SystemTime, key: &TransactionKey) {
        self.proxy.transport_error(now, key);
        self.process_events(now, wall);
    }

    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.proxy.poll_transmit()
    }

    pub fn poll_timeout(&mut self) -> Option<Instant> {
        self.proxy.poll_timeout()
    }

    /// A host name to resolve; answer with [`App::resolved`].
    pub fn poll_resolve(&mut self) -> Option<ResolveRequest> {
        self.resolve_out.pop_front()
    }

    /// The result of a [`ResolveRequest`]: the targets in RFC 3263 order (the first is
    /// used; failover to the others is left to a later version).
    pub fn resolved(&mut self, now: Instant, wall: SystemTime, id: u64, targets: Vec<Target>) {
        if let Some(st) = self.stateless.remove(&id) {
            if let Some(t) = targets.first() {
                match st {
                    PendingStateless::Request(m) => self.proxy.send_stateless(*t, &m),
                    PendingStateless::Response(m) => self.proxy.send_stateless(*t, &m),
                }
            }
            return;
        }
        let Some(fid) = self.forwards.remove(&id) else {
            return;
        };
        let Some(p) = self.pending.get_mut(&fid) else {
            return;
        };
        if let Some(mut t) = p.waiting.remove(&id) {
            if let Some((dest, rest)) = targets.split_first() {
                t.dest = *dest;
                t.alternates = rest.to_vec();
                p.ready.push(t);
            }
        }
        if p.waiting.is_empty() {
            if let Some(p) = self.pending.remove(&fid) {
                self.launch(now, p);
            }
        }
        self.process_events(now, wall);
    }

    /// The location store reports the change of `ticket` on disk (or not): the
    /// REGISTER's response goes out now, a 500 if the change was lost.
    pub fn durable(
        &mut self,
        now: Instant,
        wall: SystemTime,
        ticket: u64,
        result: Result<(), String>,
    ) {
        let Some((key, resp)) = self.durable_wait.remove(&ticket) else {
            return;
        };
        match result {
            Ok(()) => self.send_register_response(now, wall, &key, resp),
            Err(e) => {
                tracing::error!("REGISTER not stored: {e}");
                self.metrics.response("REGISTER", 500);
                if let Err(e) = self.proxy.reply(
                    now,
                    &key,
                    500,
                    Some("Server Internal Error (location store)"),
                    &[],
                ) {
                    tracing::debug!("REGISTER response not sent: {e}");
                }
            }
        }
    }

    /// REGISTER responses waiting for the location store's disk.
    pub fn waiting_for_disk(&self) -> usize {
        self.durable_wait.len()
    }

    fn send_register_response(
        &mut self,
        now: Instant,
        wall: SystemTime,
        key: &TransactionKey,
        resp: Message,
    ) {
        let code = resp.status().unwrap_or(500);
        self.metrics.response("REGISTER", code);
        if let Err(e) = self.proxy.respond(now, key, resp) {
            tracing::debug!("REGISTER response not sent: {e}");
        }
        let held = match self.store.held() {
            Some(n) => n,
            None => self.binding_count(wall),
        };
        self.metrics.bindings.store(held as i64, Ordering::Relaxed);
    }

    /// Bindings in the store (for metrics and the start-up log).
    pub fn binding_count(&self, wall: SystemTime) -> u64 {
        self.store.count(unix_now(wall)).unwrap_or(0)
    }

    /// Remove expired bindings.
    pub fn purge(&mut self, wall: SystemTime) {
        let _ = self.store.purge_expired(unix_now(wall));
        self.metrics
            .bindings
            .store(self.binding_count(wall) as i64, Ordering::Relaxed);
    }

    // -- decisions ------------------------------------------------------------------------

    fn process_events(&mut self, now: Instant, wall: SystemTime) {
        while let Some(ev) = self.proxy.poll_event() {
            match ev {
                ProxyEvent::Request { key, msg, source } => {
                    self.on_request(now, wall, key, msg, source)
                }
                ProxyEvent::Stateless { msg } => {
                    let hop = next_hop_uri(&msg);
                    match hop.as_deref().and_then(literal_target) {
                        Some(t) => self.proxy.send_stateless(t, &msg),
                        None => {
                            if let Some(uri) = hop {
                                let id = self.id();
                                self.stateless.insert(id, PendingStateless::Request(msg));
                                self.resolve_out.push_back(ResolveRequest { id, uri });
                            }
                        }
                    }
                }
                ProxyEvent::ResolveAndSend {
                    msg,
                    host,
                    port,
                    transport,
                } => {
                    let id = self.id();
                    let uri = format!(
                        "sip:{host}:{port};transport={}",
                        transport.as_str().to_ascii_lowercase()
                    );
                    self.stateless.insert(id, PendingStateless::Response(msg));
                    self.resolve_out.push_back(ResolveRequest { id, uri });
                }
            }
        }
    }

    fn id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    fn reply(
        &mut self,
        now: Instant,
        key: &TransactionKey,
        req: &Message,
        code: u16,
        reason: Option<&str>,
        headers: &[(&str, String)],
    ) {
        self.metrics
            .response(req.method().map_or("", |m| m.as_str()), code);
        let hs: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
        if let Err(e) = self.proxy.reply(now, key, code, reason, &hs) {
            tracing::debug!("no response sent: {e}");
        }
    }

    fn is_our_host(&self, host: &str) -> bool {
        let h = host.trim_matches(['[', ']']);
        self.registrar.is_our_domain(h)
            || self
                .local
                .iter()
                .any(|l| l.host.trim_matches(['[', ']']).eq_ignore_ascii_case(h))
    }

    fn challenge(
        &mut self,
        now: Instant,
        wall: SystemTime,
        key: &TransactionKey,
        req: &Message,
        kind: ChallengeKind,
        stale: bool,
    ) {
        let (code, header) = match kind {
            ChallengeKind::Server => (401u16, "WWW-Authenticate"),
            ChallengeKind::Proxy => (407u16, "Proxy-Authenticate"),
        };
        let headers: Vec<(&str, String)> = self
            .challenge_values(wall, stale)
            .into_iter()
            .map(|c| (header, c))
            .collect();
        self.reply(now, key, req, code, None, &headers);
    }

    /// The challenges to send, one per configured algorithm, as header values.
    fn challenge_values(&mut self, wall: SystemTime, stale: bool) -> Vec<String> {
        let mut rng = |b: &mut [u8]| self.rng.fill(b);
        self.auth.challenge_values(wall, stale, &mut rng)
    }

    /// Authenticate `req`; `Ok(Some(user))` when it carries good credentials,
    /// `Ok(None)` when it carries none (or bad ones, already answered with a new
    /// challenge when `challenge` is set).
    fn authenticate(&mut self, wall: SystemTime, req: &Message, kind: ChallengeKind) -> Verdict {
        let users = &self.users;
        let store = |user: &str, _realm: &str, hash: Hash| -> Option<String> {
            let s = users.get(user)?;
            match hash {
                Hash::Md5 => s.md5.clone(),
                Hash::Sha256 => s.sha256.clone(),
                _ => None,
            }
        };
        self.auth.verify_request(wall, req, kind, &store)
    }

    fn on_request(
        &mut self,
        now: Instant,
        wall: SystemTime,
        key: TransactionKey,
        msg: Message,
        source: Target,
    ) {
        let transport = source.transport;
        self.strip = None;
        let Some(method) = msg.method() else { return };
        let ruri = msg.request_uri();
        let (ruri_user, ours) = match &ruri {
            Some(Uri::Sip(u)) => (
                u.user.map(str::to_string),
                match u.host {
                    Host::V4(a) => self.is_our_host(strowger_message::ipv4_text(a, &mut [0; 15])),
                    ref h => self.is_our_host(&h.to_string()),
                },
            ),
            _ => (None, self.is_our_host("")),
        };
        let in_dialog = msg.to_tag().is_some();
        let has_route = msg.routes().next().is_some();

        // 1. REGISTER for our domain.
        if method == Method::Register && ours {
            self.on_register(now, wall, key, msg, source);
            return;
        }
        // A request within a dialog that still has a Route follows it (loose routing).
        if in_dialog && has_route {
            let uri = msg.request_uri_str().unwrap_or("").to_string();
            self.forward(now, key, transport, vec![(uri, Vec::new(), 1000, None)]);
            return;
        }
        // 2. The server itself.
        if ours && ruri_user.is_none() {
            match method {
                Method::Options => self.reply(now, &key, &msg, 200, None, &[(
                    "Allow",
                    "INVITE, ACK, CANCEL, BYE, OPTIONS, REGISTER, MESSAGE, INFO, UPDATE, PRACK, SUBSCRIBE, NOTIFY, REFER".into(),
                ), ("Accept", "application/sdp".into())]),
                Method::Ack => {}
                _ => self.reply(now, &key, &msg, 404, Some("Not Found (no user in the Request-URI)"), &[]),
            }
            return;
        }
        // 3. Initial requests from our users authenticate (407).
        let from_ours = msg.from().is_some_and(|f| match f.uri {
            Uri::Sip(u) => self.is_our_host(&u.host.to_string()),
            _ => false,
        });
        let mut authenticated = None;
        if self.config.auth.required
            && !in_dialog
            && method != Method::Ack
            && method != Method::Cancel
            && from_ours
            && !self.users.is_empty()
        {
            match self.authenticate(wall, &msg, ChallengeKind::Proxy) {
                Verdict::Ok(user) => {
                    authenticated = Some(user);
                    // 22.3: credentials for our realm are consumed here, not forwarded.
                    let realm = self.auth.config().realm.clone();
                    let keep: Vec<String> = msg
                        .get(HeaderName::ProxyAuthorization)
                        .filter(|v| {
                            strowger_message::Auth::parse(v)
                                .ok()
                                .and_then(|a| a.param("realm").map(|r| r != realm.as_str()))
                                .unwrap_or(true)
                        })
                        .map(str::to_string)
                        .collect();
                    let mut e = msg.edit().remove_all("Proxy-Authorization");
                    for v in &keep {
                        e = e.push("Proxy-Authorization", v);
                    }
                    self.strip = e.finish().ok();
                }
                Verdict::Stale => {
                    self.challenge(now, wall, &key, &msg, ChallengeKind::Proxy, true);
                    return;
                }
                Verdict::Missing | Verdict::Invalid(_) => {
                    self.challenge(now, wall, &key, &msg, ChallengeKind::Proxy, false);
                    return;
                }
            }
        }
        // 4. Our domain: the location service.
        if ours {
            let Some(user) = ruri_user else { return };
            let aor = match &ruri {
                Some(Uri::Sip(u)) => strowger_core::registrar::canonical_aor(u),
                _ => return,
            };
            let bindings = match self.store.bindings(&aor, unix_now(wall)) {
                Ok(b) => b,
                Err(e) => {
                    tracing::error!("{e}");
                    self.reply(
                        now,
                        &key,
                        &msg,
                        500,
                        Some("Server Internal Error (location store)"),
                        &[],
                    );
                    return;
                }
            };
            if bindings.is_empty() {
                let known = self.users.is_empty() || self.users.contains_key(&user);
                if known {
                    self.reply(
                        now,
                        &key,
                        &msg,
                        480,
                        Some("Temporarily Unavailable (not registered)"),
                        &[],
                    );
                } else {
                    self.reply(now, &key, &msg, 404, None, &[]);
                }
                return;
            }
            if self.config.redirect && method == Method::Invite {
                let contacts: Vec<(&str, String)> = bindings
                    .iter()
                    .map(|b| {
                        (
                            "Contact",
                            format!("<{}>;q={}.{:03}", b.contact, b.q / 1000, b.q % 1000),
                        )
                    })
                    .collect();
                self.reply(now, &key, &msg, 302, None, &contacts);
                return;
            }
            let targets = bindings.into_iter().map(|b| binding_target(&b)).collect();
            self.forward(now, key, transport, targets);
            return;
        }
        // 5. Another domain: no open relay.
        if authenticated.is_none() && !in_dialog && method != Method::Ack {
            self.reply(
                now,
                &key,
                &msg,
                403,
                Some("Forbidden (relaying to other domains needs an account here)"),
                &[],
            );
            return;
        }
        let uri = msg.request_uri_str().unwrap_or("").to_string();
        let ruri_host = match &ruri {
            Some(Uri::Sip(u)) => u.host.to_string(),
            _ => String::new(),
        };
        let via = self
            .config
            .routes
            .iter()
            .find(|r| r.domain == "*" || r.domain.eq_ignore_ascii_case(&ruri_host))
            .map(|r| r.via.clone());
        self.forward(
            now,
            key,
            transport,
            vec![(uri, Vec::new(), 1000, via.map(HopHint::Uri))],
        );
    }

    fn on_register(
        &mut self,
        now: Instant,
        wall: SystemTime,
        key: TransactionKey,
        msg: Message,
        source: Target,
    ) {
        let mut auth_user = None;
        if self.config.auth.required && !self.users.is_empty() {
            match self.authenticate(wall, &msg, ChallengeKind::Server) {
                Verdict::Ok(u) => auth_user = Some(u),
                Verdict::Stale => {
                    self.challenge(now, wall, &key, &msg, ChallengeKind::Server, true);
                    return;
                }
                Verdict::Missing | Verdict::Invalid(_) => {
                    // A wrong password gets a new challenge, never a 200.
                    self.challenge(now, wall, &key, &msg, ChallengeKind::Server, false);
                    return;
                }
            }
        }
        let src = encode_source(&source);
        match self.registrar.process(
            &msg,
            auth_user.as_deref(),
            Some(&src),
            unix_now(wall),
            &mut self.store,
        ) {
            Ok(Outcome::Respond(resp)) => {
                if let Some(ticket) = self.store.take_ticket() {
                    // The bindings changed: the response waits for the disk.
                    self.durable_wait.insert(ticket, (key, resp));
                    return;
                }
                self.send_register_response(now, wall, &key, resp);
            }
            Ok(Outcome::NotOurDomain) => {
                self.reply(
                    now,
                    &key,
                    &msg,
                    403,
                    Some("Forbidden (not our domain)"),
                    &[],
                );
            }
            Err(e) => {
                tracing::error!("{e}");
                self.reply(
                    now,
                    &key,
                    &msg,
                    500,
                    Some("Server Internal Error (location store)"),
                    &[],
                );
            }
        }
    }

    /// Resolve the next hop of each target, then forward.
    fn forward(
        &mut self,
        now: Instant,
        key: TransactionKey,
        incoming: Transport,
        targets: Vec<(String, Vec<String>, u16, Option<HopHint>)>,
    ) {
        let fid = self.id();
        let mut p = PendingForward {
            key,
            request: self.strip.take(),
            incoming,
            ready: Vec::new(),
            waiting: HashMap::new(),
        };
        for (uri, route, q, hint) in targets {
            let mut t = ForwardTarget {
                uri: uri.clone(),
                route: route.clone(),
                dest: Target::new(SocketAddr::from(([0, 0, 0, 0], 0)), Transport::Udp),
                q,
                alternates: Vec::new(),
            };
            // The next hop: the hint (where the binding was registered from, or a
            // static route), else the first Route, else the Request-URI.
            let hop_uri = match &hint {
                Some(HopHint::Target(dest)) => {
                    t.dest = *dest;
                    p.ready.push(t);
                    continue;
                }
                Some(HopHint::Uri(u)) => u.clone(),
                None => route
                    .first()
                    .map(|r| r.trim_matches(['<', '>']).to_string())
                    .unwrap_or(uri),
            };
            match literal_target(&hop_uri) {
                Some(dest) => {
                    t.dest = dest;
                    p.ready.push(t);
                }
                None => {
                    let id = self.id();
                    self.forwards.insert(id, fid);
                    p.waiting.insert(id, t);
                    self.resolve_out
                        .push_back(ResolveRequest { id, uri: hop_uri });
                }
            }
        }
        if p.waiting.is_empty() {
            self.launch(now, p);
        } else {
            self.pending.insert(fid, p);
        }
    }

    fn launch(&mut self, now: Instant, p: PendingForward) {
        if p.ready.is_empty() {
            let req = self.proxy.layer().request(&p.key).cloned();
            if let Some(req) = req {
                self.reply(
                    now,
                    &p.key,
                    &req,
                    404,
                    Some("Not Found (the next hop cannot be resolved)"),
                    &[],
                );
            }
            return;
        }
        if let Err(e) = self
            .proxy
            .forward_request(now, &p.key, p.request, p.ready, p.incoming)
        {
            tracing::warn!("cannot forward: {e}");
        }
    }
}

/// Where to send a request for a target, when the application knows better than DNS.
#[derive(Debug, Clone)]
enum HopHint {
    Target(Target),
    Uri(String),
}

/// A binding as a proxy target: Path becomes Route (RFC 3327). Without Path the
/// contact URI is the next hop, as RFC 3261 and Kamailio's defaults have it, except
/// where it cannot be reached and the address the REGISTER came from must be used
/// instead: a WebSocket client (RFC 7118: only over its connection), a contact host
/// ending in `.invalid`, or a contact IP that differs from the source IP (the UA is
/// behind NAT; what Kamailio's fix_nated_register does).
fn binding_target(b: &Binding) -> (String, Vec<String>, u16, Option<HopHint>) {
    let source = b.source.as_deref().and_then(decode_source);
    let use_source = b.path.is_empty()
        && source.is_some_and(|src| {
            if matches!(src.transport, Transport::Ws | Transport::Wss) {
                return true;
            }
            match Uri::parse(&b.contact) {
                Ok(Uri::Sip(u)) => match u.host.ip() {
                    Some(ip) => ip != src.addr.ip(),
                    None => u
                        .host
                        .to_string()
                        .to_ascii_lowercase()
                        .ends_with(".invalid"),
                },
                _ => false,
            }
        });
    let hint = if use_source {
        source.map(HopHint::Target)
    } else {
        None
    };
    (b.contact.clone(), b.path.clone(), b.q, hint)
}

/// The URI that decides the next hop of a request: the top Route, else the
/// Request-URI (16.6 step 7 for stateless forwarding).
fn next_hop_uri(msg: &Message) -> Option<String> {
    match msg.routes().next() {
        Some(r) => Some(r.uri.as_str().to_string()),
        None => msg.request_uri_str().map(str::to_string),
    }
}
