//! Locating SIP servers: RFC 3263 (with RFC 7118 section 5 for WebSocket).
//!
//! Given the URI a request is sent to (the Request-URI, or the URI of the top Route
//! header when there is one, RFC 3261 section 8.1.2 and 16.6 step 7), [`Resolver::resolve`]
//! returns the ordered list of `(address, port, transport)` to try, as a
//! `Vec<`[`ResolvedTarget`]`>`.
//!
//! # The procedure (RFC 3263 section 4)
//!
//! - TARGET is the `maddr` parameter when present, else the host (section 4, first
//!   paragraph of 4.1).
//! - Transport (section 4.1): an explicit `transport=` parameter wins (`tcp` on a `sips:`
//!   URI means TLS, `ws` on a `sips:` URI means WSS, RFC 7118). Otherwise, when TARGET is
//!   an IP address or the URI has a port, UDP for `sip:` and TLS for `sips:`. Otherwise a
//!   NAPTR query for TARGET: services `SIP+D2U`, `SIP+D2T`, `SIPS+D2T` (RFC 3263) and
//!   `SIP+D2W`, `SIPS+D2W` (RFC 7118), sorted by order then preference, kept only when
//!   the flag is `S`, the regexp empty, the transport enabled and, for a `sips:` URI, the
//!   service secure. Without usable NAPTR records, SRV queries `_sip._udp`, `_sip._tcp`,
//!   `_sips._tcp` (only `_sips._tcp` for `sips:`), in that order of preference. SRV
//!   labels for WebSocket are not used: they are reached only through NAPTR.
//! - Port and address (section 4.2): an IP TARGET is used as is; with a port, an A/AAAA
//!   lookup of TARGET; without one, SRV (the NAPTR replacement, or the `_service._proto`
//!   name of the chosen transport) and then A/AAAA of each SRV target. When no SRV
//!   record exists, A/AAAA of TARGET at the default port of the transport (5060, 5061
//!   for TLS; 80 and 443 for WS and WSS).
//! - SRV ordering (section 4.3, RFC 2782): by priority, then weighted random selection
//!   within a priority ([`order_srv`]; the randomness is injectable, see [`SrvRng`]). A
//!   target of `.` means the service is decidedly not available
//!   ([`ResolveError::ServiceNotAvailable`]).
//!
//! Where several NAPTR records (or, without NAPTR, several SRV transports) are usable,
//! all of them contribute to the list, most preferred first, so that the list carries
//! every fallback the domain publishes; a caller wanting only the most preferred
//! transport keeps the leading entries with the first entry's transport. Duplicates
//! (same address and transport) are dropped, and the list is capped at
//! [`ResolveOptions::max_targets`].
//!
//! # Names in the hosts file
//!
//! The DNS-backed resolver reads `/etc/hosts` (or a file given to
//! [`Resolver::with_hosts_file`]). A name listed there resolves to the listed addresses
//! only (both families, no DNS query for the missing one, as the C library does), and —
//! unless [`ResolveOptions::hosts_skip_srv`] is cleared — is taken as having no NAPTR or
//! SRV records, so `sip:localhost` and test names on loopback never cause a DNS query.
//!
//! # Failover (RFC 3263 section 4.3, RFC 3261 sections 8.1.3.1 and 16.7)
//!
//! The caller sends to the first target. A *failure* is a transport error (ICMP error on
//! UDP, connection refused or reset on TCP/TLS/WS), a transaction timeout (timer B or F)
//! without any response at all, or a 503 response. On a failure the caller builds a new
//! request identical to the previous one but with a new Via branch (it is a new client
//! transaction) and sends it to the next target; it stops at the first other outcome
//! (any other response, including a provisional one followed by a timeout) or when the
//! list is exhausted, and then reports the last failure (a proxy treats an exhausted
//! list as a 503 for that branch in its response context, 16.7). [`TargetIter`] holds
//! the cursor and [`AttemptOutcome::warrants_failover`] the rule. A CANCEL, and the ACK
//! of a non-2xx final response, go to the same target as the INVITE they belong to
//! (RFC 3263 section 4), so keep the target the INVITE used rather than resolving again.
//!
//! # Backends
//!
//! - [`Resolver::system`]: hickory-resolver configured from `/etc/resolv.conf` and the
//!   system hosts file.
//! - [`Resolver::with_config`] / [`Resolver::with_nameserver`]: a given hickory
//!   configuration, e.g. a test name server on `127.0.0.1`.
//! - [`Resolver::from_static`]: a fixed [`StaticZone`] (addresses, SRV and NAPTR records,
//!   failures), for unit tests that must not touch the network.

use std::collections::hash_map::RandomState;
use std::collections::{HashMap, HashSet};
use std::error::Error as StdError;
use std::fmt;
use std::hash::BuildHasher;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hickory_resolver::config::{NameServerConfig, ResolverConfig, ResolverOpts};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::proto::op::Query;
use hickory_resolver::proto::rr::{Name, RData, RecordType};
use hickory_resolver::{Hosts, TokioResolver};
use strowger_core::transport::{Target, Transport};
use strowger_message::uri::{Host, SipUri, Uri};
use tracing::{debug, trace, warn};

/// The hickory-resolver configuration types, for [`Resolver::with_config`].
pub use hickory_resolver::config as hickory_config;

/// At most this many NAPTR records of one name are considered.
const MAX_NAPTR: usize = 16;
/// At most this many SRV records of one name are considered.
const MAX_SRV: usize = 32;
/// At most this many addresses of one name are used.
const MAX_ADDRS: usize = 16;

/// Boxed error of a DNS backend.
type BoxError = Box<dyn StdError + Send + Sync + 'static>;

// ---------------------------------------------------------------------------------------
// Results and options
// ---------------------------------------------------------------------------------------

/// One place to send a request: the output of RFC 3263 section 4.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ResolvedTarget {
    /// Address and port.
    pub addr: SocketAddr,
    /// Transport to use there.
    pub transport: Transport,
    /// The name to present in TLS SNI and to match against the server certificate (and
    /// the WebSocket `Host`): the TARGET domain of the URI (the `maddr` or the host), not
    /// a NAPTR or SRV target name (RFC 5922 section 4). For an IP TARGET, the address as
    /// text (no brackets).
    pub host: String,
}

impl ResolvedTarget {
    /// The destination in the form the transport layer of strowger-core takes.
    pub fn target(&self) -> Target {
        Target::new(self.addr, self.transport)
    }
}

impl fmt::Display for ResolvedTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} ({})", self.transport, self.addr, self.host)
    }
}

/// A set of transports (the ones this element has listeners or connectors for).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TransportSet(u8);

impl TransportSet {
    /// No transport.
    pub const EMPTY: TransportSet = TransportSet(0);
    /// UDP, TCP, TLS, WS and WSS.
    pub const ALL: TransportSet = TransportSet(0b1_1111);

    fn bit(t: Transport) -> u8 {
        match t {
            Transport::Udp => 1,
            Transport::Tcp => 2,
            Transport::Tls => 4,
            Transport::Ws => 8,
            Transport::Wss => 16,
        }
    }

    /// The set of the given transports.
    pub fn of(transports: &[Transport]) -> TransportSet {
        transports
            .iter()
            .fold(TransportSet::EMPTY, |s, &t| s.with(t))
    }

    /// This set plus `t`.
    #[must_use]
    pub fn with(self, t: Transport) -> TransportSet {
        TransportSet(self.0 | Self::bit(t))
    }

    /// This set without `t`.
    #[must_use]
    pub fn without(self, t: Transport) -> TransportSet {
        TransportSet(self.0 & !Self::bit(t))
    }

    /// Whether `t` is in the set.
    pub fn contains(self, t: Transport) -> bool {
        self.0 & Self::bit(t) != 0
    }
}

impl Default for TransportSet {
    fn default() -> Self {
        TransportSet::ALL
    }
}

/// Which address families to use, and in which order (within one SRV target, or for
/// TARGET itself).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum IpPreference {
    /// IPv4 addresses, then IPv6 ones.
    #[default]
    V4First,
    /// IPv6 addresses, then IPv4 ones.
    V6First,
    /// IPv4 only (no AAAA query).
    V4Only,
    /// IPv6 only (no A query).
    V6Only,
}

impl IpPreference {
    fn wants_v4(self) -> bool {
        self != IpPreference::V6Only
    }

    fn wants_v6(self) -> bool {
        self != IpPreference::V4Only
    }

    fn order(self, v4: Vec<IpAddr>, v6: Vec<IpAddr>) -> Vec<IpAddr> {
        match self {
            IpPreference::V4First => v4.into_iter().chain(v6).collect(),
            IpPreference::V6First => v6.into_iter().chain(v4).collect(),
            IpPreference::V4Only => v4,
            IpPreference::V6Only => v6,
        }
    }
}

/// What the caller supports and wants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolveOptions {
    /// Transports this element can use; NAPTR and SRV results for others are skipped,
    /// and an explicit `transport=` naming another is an error.
    pub transports: TransportSet,
    /// A `sips:` URI never resolves to a non-secure transport: `sips:...;transport=udp`
    /// is [`ResolveError::InsecureTransportForSips`] (RFC 3261 section 26.2.2 asks for TLS
    /// on every hop). When false such an explicit transport is honoured (lenient
    /// interop); DNS discovery for `sips:` still only uses secure services.
    pub sips_requires_tls: bool,
    /// Address families and their order.
    pub ip_preference: IpPreference,
    /// A name found in the hosts file skips NAPTR and SRV (see the module docs).
    pub hosts_skip_srv: bool,
    /// Cap on the length of the returned list.
    pub max_targets: usize,
}

impl Default for ResolveOptions {
    fn default() -> Self {
        ResolveOptions {
            transports: TransportSet::ALL,
            sips_requires_tls: true,
            ip_preference: IpPreference::V4First,
            hosts_skip_srv: true,
            max_targets: 32,
        }
    }
}

/// Why a URI could not be resolved.
#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    /// `tel:` and other schemes have no server location procedure.
    #[error("cannot locate a server for a {0}: URI")]
    NotSip(String),
    /// The `transport=` parameter names no transport we know (RFC 3261 section 19.1.1).
    #[error("unknown transport parameter {0:?}")]
    UnknownTransport(String),
    /// The `transport=` parameter names a transport that exists but is not enabled.
    #[error("transport {0} is not enabled")]
    TransportNotEnabled(String),
    /// A `sips:` URI asked for a transport that is not secure.
    #[error("a sips: URI cannot use the insecure transport {0}")]
    InsecureTransportForSips(Transport),
    /// No enabled transport fits the URI (e.g. `sips:` with TLS disabled).
    #[error("no enabled transport can reach a {0}: URI")]
    NoUsableTransport(&'static str),
    /// The host or `maddr` is not a valid domain name.
    #[error("invalid host name {0:?}")]
    InvalidName(String),
    /// An SRV record with target `.` says the service is not offered (RFC 2782).
    #[error("SIP service is not available at {0} (SRV target \".\")")]
    ServiceNotAvailable(String),
    /// DNS answered, but with no usable record.
    #[error("no address found for {0}")]
    NotFound(String),
    /// A DNS query failed (time-out, SERVFAIL, ...) and nothing else was found.
    #[error("DNS {record} lookup of {name} failed: {source}")]
    Dns {
        /// The name queried.
        name: String,
        /// The record type queried (`NAPTR`, `SRV`, `A/AAAA`).
        record: &'static str,
        /// The resolver's error.
        #[source]
        source: BoxError,
    },
    /// The resolver could not be built from its configuration.
    #[error("resolver configuration: {0}")]
    Config(#[source] BoxError),
    /// A hosts file could not be read.
    #[error("hosts file {path}: {source}")]
    HostsFile {
        /// The file.
        path: String,
        /// Why it could not be read.
        #[source]
        source: std::io::Error,
    },
}

// ---------------------------------------------------------------------------------------
// Failover cursor
// ---------------------------------------------------------------------------------------

/// How one attempt at a target ended, as far as failover is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttemptOutcome {
    /// The transport reported an error (RFC 3261 section 8.1.3.1 treats it as a 503).
    TransportError,
    /// The client transaction timed out (timer B or F). `provisional_received` says
    /// whether any provisional response had arrived first.
    Timeout {
        /// A provisional (1xx) response had arrived before the time-out.
        provisional_received: bool,
    },
    /// A response with this status code arrived.
    Response(u16),
}

impl AttemptOutcome {
    /// RFC 3263 section 4.3: a transport failure, a time-out without any response, or
    /// a 503 sends the request to the next target. Everything else ends the search.
    pub fn warrants_failover(self) -> bool {
        match self {
            AttemptOutcome::TransportError => true,
            AttemptOutcome::Timeout {
                provisional_received,
            } => !provisional_received,
            AttemptOutcome::Response(code) => code == 503,
        }
    }
}

/// A cursor over the resolved targets, for failover (RFC 3263 section 4.3).
///
/// ```ignore
/// let mut it = TargetIter::new(resolver.resolve(&uri, &opts).await?);
/// let mut current = it.current().cloned();
/// while let Some(target) = current {
///     let outcome = send_new_transaction(&target).await; // fresh Via branch each time
///     current = it.failover(outcome).cloned();
/// }
/// ```
#[derive(Debug, Clone, Default)]
pub struct TargetIter {
    targets: Vec<ResolvedTarget>,
    pos: usize,
}

impl TargetIter {
    /// A cursor at the first of `targets` (the output of [`Resolver::resolve`]).
    pub fn new(targets: Vec<ResolvedTarget>) -> TargetIter {
        TargetIter { targets, pos: 0 }
    }

    /// The target to use now; `None` once the list is exhausted.
    pub fn current(&self) -> Option<&ResolvedTarget> {
        self.targets.get(self.pos)
    }

    /// Record how the attempt at [`current`](Self::current) ended. When the outcome
    /// warrants failover, advance and return the next target (`None` when there is
    /// none left); otherwise return `None` and stay: the search is over.
    pub fn failover(&mut self, outcome: AttemptOutcome) -> Option<&ResolvedTarget> {
        if !outcome.warrants_failover() || self.pos >= self.targets.len() {
            debug!(?outcome, "no failover");
            return None;
        }
        self.pos += 1;
        let next = self.targets.get(self.pos);
        match next {
            Some(t) => debug!(?outcome, next = %t, "failing over to the next target"),
            None => debug!(?outcome, "all targets failed"),
        }
        next
    }

    /// Targets not tried yet, the current one included.
    pub fn remaining(&self) -> &[ResolvedTarget] {
        self.targets.get(self.pos..).unwrap_or(&[])
    }

    /// How many targets were given up on.
    pub fn attempts_failed(&self) -> usize {
        self.pos.min(self.targets.len())
    }

    /// True once every target failed.
    pub fn is_exhausted(&self) -> bool {
        self.pos >= self.targets.len()
    }
}

// ---------------------------------------------------------------------------------------
// Records and SRV ordering
// ---------------------------------------------------------------------------------------

/// An SRV record (RFC 2782).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SrvRecord {
    /// Lower is tried first.
    pub priority: u16,
    /// Relative share of the load within one priority.
    pub weight: u16,
    /// Port of the service on the target.
    pub port: u16,
    /// Target host name, without the trailing dot; `.` when the service is not offered.
    pub target: String,
}

impl SrvRecord {
    /// A record; the target name is lowercased and loses its trailing dot.
    pub fn new(priority: u16, weight: u16, port: u16, target: &str) -> SrvRecord {
        SrvRecord {
            priority,
            weight,
            port,
            target: normalize_name(target),
        }
    }

    fn is_decline(&self) -> bool {
        self.target == "." || self.target.is_empty()
    }
}

/// A NAPTR record (RFC 3403), as RFC 3263 uses it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct NaptrRecord {
    /// Lower is considered first.
    pub order: u16,
    /// Lower is considered first among records of one order.
    pub preference: u16,
    /// `S` for the records RFC 3263 uses.
    pub flags: String,
    /// `SIP+D2U`, `SIP+D2T`, `SIPS+D2T`, `SIP+D2W`, `SIPS+D2W`, ...
    pub services: String,
    /// Empty for the records RFC 3263 uses.
    pub regexp: String,
    /// The SRV name to query next, without the trailing dot.
    pub replacement: String,
}

impl NaptrRecord {
    /// An `S`-flag record with an empty regexp, the only kind RFC 3263 uses.
    pub fn srv(order: u16, preference: u16, services: &str, replacement: &str) -> NaptrRecord {
        NaptrRecord {
            order,
            preference,
            flags: "s".into(),
            services: services.into(),
            regexp: String::new(),
            replacement: normalize_name(replacement),
        }
    }
}

/// Source of randomness for the weighted SRV selection of RFC 2782.
pub trait SrvRng: Send {
    /// A uniformly distributed value.
    fn next_u32(&mut self) -> u32;
}

/// Any `FnMut() -> u32` is a [`SrvRng`] (handy in tests: `|| 0`).
impl<F: FnMut() -> u32 + Send> SrvRng for F {
    fn next_u32(&mut self) -> u32 {
        self()
    }
}

/// The default [`SrvRng`]: xorshift64* seeded from the standard library's per-process
/// random hash keys. Load distribution needs no cryptographic quality.
#[derive(Debug, Clone)]
pub struct DefaultSrvRng(u64);

impl DefaultSrvRng {
    /// A generator with a fresh random seed.
    pub fn new() -> DefaultSrvRng {
        let seed = RandomState::new().hash_one(std::process::id());
        DefaultSrvRng(seed | 1)
    }
}

impl Default for DefaultSrvRng {
    fn default() -> Self {
        DefaultSrvRng::new()
    }
}

impl SrvRng for DefaultSrvRng {
    fn next_u32(&mut self) -> u32 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        (x.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 32) as u32
    }
}

/// Order SRV records as RFC 2782 (and RFC 3263 section 4.3) says: lowest priority first;
/// within one priority, repeatedly pick a record at random with probability
/// proportional to its weight (zero-weight records placed first, so they are picked
/// only rarely). Records with target `.` are left in place; the caller handles them.
pub fn order_srv(mut records: Vec<SrvRecord>, rng: &mut dyn SrvRng) -> Vec<SrvRecord> {
    records.sort_by_key(|r| r.priority);
    let mut out = Vec::with_capacity(records.len());
    let mut rest = records.into_iter().peekable();
    while let Some(first) = rest.next() {
        let mut group = vec![first];
        while let Some(r) = rest.next_if(|r| r.priority == group[0].priority) {
            group.push(r);
        }
        // "all those with weight 0 are placed at the beginning of the list"
        group.sort_by_key(|r| r.weight != 0);
        while !group.is_empty() {
            let total: u32 = group.iter().map(|r| u32::from(r.weight)).sum();
            let pick = if total == 0 {
                0
            } else {
                rng.next_u32() % (total + 1)
            };
            let mut running = 0u32;
            let mut chosen = group.len() - 1;
            for (i, r) in group.iter().enumerate() {
                running += u32::from(r.weight);
                if running >= pick {
                    chosen = i;
                    break;
                }
            }
            out.push(group.remove(chosen));
        }
    }
    out
}

// ---------------------------------------------------------------------------------------
// Static zone
// ---------------------------------------------------------------------------------------

/// A fixed set of records, for tests that must not touch the network. Names are
/// case-insensitive; a trailing dot is ignored. A name with no entry has no records.
#[derive(Debug, Clone, Default)]
pub struct StaticZone {
    addrs: HashMap<String, Vec<IpAddr>>,
    srv: HashMap<String, Vec<SrvRecord>>,
    naptr: HashMap<String, Vec<NaptrRecord>>,
    failing: HashSet<String>,
}

impl StaticZone {
    /// An empty zone: every name has no records.
    pub fn new() -> StaticZone {
        StaticZone::default()
    }

    /// A and AAAA records of `name`.
    #[must_use]
    pub fn host(mut self, name: &str, addrs: &[IpAddr]) -> StaticZone {
        self.addrs
            .entry(normalize_name(name))
            .or_default()
            .extend_from_slice(addrs);
        self
    }

    /// SRV records at `name` (e.g. `_sip._udp.example.com`).
    #[must_use]
    pub fn srv(mut self, name: &str, records: Vec<SrvRecord>) -> StaticZone {
        self.srv
            .entry(normalize_name(name))
            .or_default()
            .extend(records);
        self
    }

    /// NAPTR records at `name`.
    #[must_use]
    pub fn naptr(mut self, name: &str, records: Vec<NaptrRecord>) -> StaticZone {
        self.naptr
            .entry(normalize_name(name))
            .or_default()
            .extend(records);
        self
    }

    /// Every query for `name` fails (as a time-out or SERVFAIL would).
    #[must_use]
    pub fn failing(mut self, name: &str) -> StaticZone {
        self.failing.insert(normalize_name(name));
        self
    }

    fn check(&self, name: &str) -> Result<String, BoxError> {
        let key = normalize_name(name);
        if self.failing.contains(&key) {
            return Err(format!("static zone: {key} is set to fail").into());
        }
        Ok(key)
    }
}

// ---------------------------------------------------------------------------------------
// Resolver
// ---------------------------------------------------------------------------------------

#[derive(Clone)]
enum Backend {
    Dns {
        resolver: Box<TokioResolver>,
        hosts: Arc<Hosts>,
    },
    Static(Arc<StaticZone>),
}

/// The RFC 3263 resolver. Cheap to clone; clones share the DNS cache and the random
/// source.
#[derive(Clone)]
pub struct Resolver {
    backend: Backend,
    rng: Arc<Mutex<Box<dyn SrvRng>>>,
}

impl fmt::Debug for Resolver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match &self.backend {
            Backend::Dns { .. } => "dns",
            Backend::Static(_) => "static",
        };
        f.debug_struct("Resolver").field("backend", &kind).finish()
    }
}

impl Resolver {
    /// A resolver configured like the system one: `/etc/resolv.conf` for name servers,
    /// search list and options, and the system hosts file.
    pub fn system() -> Result<Resolver, ResolveError> {
        let builder = TokioResolver::builder_tokio().map_err(|e| ResolveError::Config(e.into()))?;
        let resolver = builder
            .build()
            .map_err(|e| ResolveError::Config(e.into()))?;
        Ok(Resolver::from_hickory(resolver, system_hosts()))
    }

    /// A resolver with the given hickory configuration. The system hosts file is read
    /// unless `options.use_hosts_file` is `Never`; see also
    /// [`with_hosts_file`](Self::with_hosts_file).
    pub fn with_config(
        config: ResolverConfig,
        options: ResolverOpts,
    ) -> Result<Resolver, ResolveError> {
        let use_hosts = options.use_hosts_file != hickory_config::ResolveHosts::Never;
        let resolver = TokioResolver::builder_with_config(config, TokioRuntimeProvider::default())
            .with_options(options)
            .build()
            .map_err(|e| ResolveError::Config(e.into()))?;
        let hosts = if use_hosts {
            system_hosts()
        } else {
            Arc::new(Hosts::default())
        };
        Ok(Resolver::from_hickory(resolver, hosts))
    }

    /// A resolver asking one name server over UDP (for tests: a responder on
    /// `127.0.0.1`), with no search list, one attempt, a two-second time-out and the
    /// system hosts file.
    pub fn with_nameserver(server: SocketAddr) -> Result<Resolver, ResolveError> {
        let mut ns = NameServerConfig::udp(server.ip());
        for c in &mut ns.connections {
            c.port = server.port();
        }
        let config = ResolverConfig::from_parts(None, Vec::new(), vec![ns]);
        let mut options = ResolverOpts::default();
        options.attempts = 1;
        options.timeout = Duration::from_secs(2);
        Resolver::with_config(config, options)
    }

    /// A resolver answering from `zone` only, without any I/O.
    pub fn from_static(zone: StaticZone) -> Resolver {
        Resolver {
            backend: Backend::Static(Arc::new(zone)),
            rng: Arc::new(Mutex::new(Box::new(DefaultSrvRng::new()))),
        }
    }

    fn from_hickory(mut resolver: TokioResolver, hosts: Arc<Hosts>) -> Resolver {
        resolver.set_hosts(hosts.clone());
        Resolver {
            backend: Backend::Dns {
                resolver: Box::new(resolver),
                hosts,
            },
            rng: Arc::new(Mutex::new(Box::new(DefaultSrvRng::new()))),
        }
    }

    /// Use this hosts file instead of the system one (DNS backend; the static backend
    /// has no hosts file and ignores it).
    pub fn with_hosts_file(mut self, path: impl AsRef<Path>) -> Result<Resolver, ResolveError> {
        let path = path.as_ref();
        let err = |source| ResolveError::HostsFile {
            path: path.display().to_string(),
            source,
        };
        let file = std::fs::File::open(path).map_err(err)?;
        let mut hosts = Hosts::default();
        hosts.read_hosts_conf(file).map_err(err)?;
        if let Backend::Dns {
            resolver,
            hosts: current,
        } = &mut self.backend
        {
            let hosts = Arc::new(hosts);
            resolver.set_hosts(hosts.clone());
            *current = hosts;
        }
        Ok(self)
    }

    /// Use this randomness for the weighted SRV selection (RFC 2782).
    #[must_use]
    pub fn with_rng(mut self, rng: impl SrvRng + 'static) -> Resolver {
        self.rng = Arc::new(Mutex::new(Box::new(rng)));
        self
    }

    /// Resolve any URI: `sip:` and `sips:` go to [`resolve`](Self::resolve); other
    /// schemes are [`ResolveError::NotSip`].
    pub async fn resolve_uri(
        &self,
        uri: &Uri<'_>,
        opts: &ResolveOptions,
    ) -> Result<Vec<ResolvedTarget>, ResolveError> {
        match uri {
            Uri::Sip(sip) => self.resolve(sip, opts).await,
            other => Err(ResolveError::NotSip(other.scheme().to_ascii_lowercase())),
        }
    }

    /// RFC 3263 section 4: the ordered list of targets for `uri`. Never empty on `Ok`.
    pub async fn resolve(
        &self,
        uri: &SipUri<'_>,
        opts: &ResolveOptions,
    ) -> Result<Vec<ResolvedTarget>, ResolveError> {
        let secure = uri.secure;
        let scheme = if secure { "sips" } else { "sip" };
        // Section 4.1: maddr, when present, is TARGET.
        let target = match uri.maddr() {
            Some(m) => parse_target(m)?,
            None => match uri.host {
                Host::Name(n) => parse_target(n)?,
                Host::V4(a) => TargetHost::Ip(IpAddr::V4(a)),
                Host::V6(a, _) => TargetHost::Ip(IpAddr::V6(a)),
            },
        };
        let explicit = match uri.transport() {
            Some(t) => Some(explicit_transport(t, secure, opts)?),
            None => None,
        };
        debug!(uri = uri.as_str(), ?target, ?explicit, port = ?uri.port, "RFC 3263 resolution");

        let mut run = Run::new(self, opts, &target);

        let name = match &target {
            TargetHost::Ip(ip) => {
                // Section 4.1/4.2: numeric TARGET, no DNS at all.
                let transport = match explicit {
                    Some(t) => t,
                    None => default_transport(secure, opts)?,
                };
                let port = uri.port.unwrap_or_else(|| transport.default_port());
                run.push(SocketAddr::new(*ip, port), transport);
                return run.finish();
            }
            TargetHost::Name(n) => n.as_str(),
        };

        if let Some(port) = uri.port {
            // Section 4.2: a port means A/AAAA only.
            let transport = match explicit {
                Some(t) => t,
                None => default_transport(secure, opts)?,
            };
            run.addresses(name, port, transport).await;
            return run.finish();
        }

        let in_hosts = opts.hosts_skip_srv && self.in_hosts(name);
        if in_hosts {
            debug!(name, "listed in the hosts file: no NAPTR or SRV");
        }

        if let Some(transport) = explicit {
            // Section 4.2: transport known, no port: SRV for that transport.
            if !in_hosts {
                if let Some(srv) = srv_name(transport, name) {
                    if run.srv(&srv, transport).await {
                        return run.finish();
                    }
                }
            }
            run.addresses(name, transport.default_port(), transport)
                .await;
            return run.finish();
        }

        if !in_hosts {
            // Section 4.1: NAPTR.
            let naptrs = self.naptr(name, secure, opts, &mut run).await;
            if let Some(first) = naptrs.first() {
                let mut any_srv = false;
                for (transport, replacement) in &naptrs {
                    any_srv |= run.srv(replacement, *transport).await;
                }
                if !any_srv && !run.declined {
                    // Section 4.2: no SRV: A/AAAA of TARGET with the NAPTR transport.
                    run.addresses(name, first.0.default_port(), first.0).await;
                }
                return run.finish();
            }

            // Section 4.1: no NAPTR: SRV for each supported transport.
            let candidates: &[(&str, Transport)] = if secure {
                &[("_sips._tcp", Transport::Tls)]
            } else {
                &[
                    ("_sip._udp", Transport::Udp),
                    ("_sip._tcp", Transport::Tcp),
                    ("_sips._tcp", Transport::Tls),
                ]
            };
            let mut any_srv = false;
            for (label, transport) in candidates {
                if opts.transports.contains(*transport) {
                    any_srv |= run.srv(&format!("{label}.{name}"), *transport).await;
                }
            }
            if any_srv || run.declined {
                return run.finish();
            }
        }

        // Section 4.2: no SRV: A/AAAA, UDP for sip (TCP for sips), default port.
        let transport = default_transport(secure, opts)?;
        debug!(name, scheme, %transport, "no NAPTR or SRV: A/AAAA at the default port");
        run.addresses(name, transport.default_port(), transport)
            .await;
        run.finish()
    }

    /// RFC 3263 section 4.1 NAPTR step: usable records as `(transport, replacement)`,
    /// in order.
    async fn naptr(
        &self,
        name: &str,
        secure: bool,
        opts: &ResolveOptions,
        run: &mut Run<'_>,
    ) -> Vec<(Transport, String)> {
        let mut records = match self.lookup_naptr(name).await {
            Ok(r) => r,
            Err(e) => {
                run.failed(name, "NAPTR", e);
                return Vec::new();
            }
        };
        records.truncate(MAX_NAPTR);
        records.sort_by_key(|r| (r.order, r.preference));
        let mut out = Vec::new();
        for r in records {
            let Some((svc_secure, transport)) = naptr_service(&r.services) else {
                trace!(name, services = %r.services, "NAPTR service not for SIP over a known transport");
                continue;
            };
            if !r.flags.eq_ignore_ascii_case("s") || !r.regexp.is_empty() {
                debug!(name, flags = %r.flags, regexp = %r.regexp, "NAPTR record is not an S record with empty regexp: skipped");
                continue;
            }
            if secure && !svc_secure {
                trace!(name, services = %r.services, "insecure NAPTR service for a sips: URI");
                continue;
            }
            if !opts.transports.contains(transport) {
                trace!(name, %transport, "NAPTR service for a transport not enabled");
                continue;
            }
            if r.replacement.is_empty() || r.replacement == "." {
                continue;
            }
            debug!(name, order = r.order, preference = r.preference, %transport, replacement = %r.replacement, "NAPTR");
            out.push((transport, r.replacement));
        }
        out
    }

    fn in_hosts(&self, name: &str) -> bool {
        match &self.backend {
            Backend::Dns { hosts, .. } => hosts_lookup(hosts, name).is_some(),
            Backend::Static(_) => false,
        }
    }

    async fn lookup_naptr(&self, name: &str) -> Result<Vec<NaptrRecord>, BoxError> {
        match &self.backend {
            Backend::Static(zone) => {
                let key = zone.check(name)?;
                Ok(zone.naptr.get(&key).cloned().unwrap_or_default())
            }
            Backend::Dns { resolver, .. } => {
                let rdata = dns_lookup(resolver, name, RecordType::NAPTR).await?;
                Ok(rdata
                    .into_iter()
                    .filter_map(|d| match d {
                        RData::NAPTR(n) => Some(NaptrRecord {
                            order: n.order,
                            preference: n.preference,
                            flags: String::from_utf8_lossy(&n.flags).into_owned(),
                            services: String::from_utf8_lossy(&n.services).into_owned(),
                            regexp: String::from_utf8_lossy(&n.regexp).into_owned(),
                            replacement: normalize_name(&n.replacement.to_utf8()),
                        }),
                        _ => None,
                    })
                    .collect())
            }
        }
    }

    async fn lookup_srv(&self, name: &str) -> Result<Vec<SrvRecord>, BoxError> {
        match &self.backend {
            Backend::Static(zone) => {
                let key = zone.check(name)?;
                Ok(zone.srv.get(&key).cloned().unwrap_or_default())
            }
            Backend::Dns { resolver, .. } => {
                let rdata = dns_lookup(resolver, name, RecordType::SRV).await?;
                Ok(rdata
                    .into_iter()
                    .filter_map(|d| match d {
                        RData::SRV(s) => Some(SrvRecord::new(
                            s.priority,
                            s.weight,
                            s.port,
                            &s.target.to_utf8(),
                        )),
                        _ => None,
                    })
                    .collect())
            }
        }
    }

    /// A and AAAA of `name` in the preferred order. The hosts file, when it lists the
    /// name, is the whole answer.
    async fn lookup_ip(&self, name: &str, pref: IpPreference) -> Result<Vec<IpAddr>, BoxError> {
        match &self.backend {
            Backend::Static(zone) => {
                let key = zone.check(name)?;
                let all = zone.addrs.get(&key).cloned().unwrap_or_default();
                let (v4, v6) = all.into_iter().partition(IpAddr::is_ipv4);
                Ok(pref.order(v4, v6))
            }
            Backend::Dns { resolver, hosts } => {
                if let Some((v4, v6)) = hosts_lookup(hosts, name) {
                    trace!(name, "address from the hosts file");
                    return Ok(pref.order(v4, v6));
                }
                let a = async {
                    if pref.wants_v4() {
                        dns_lookup(resolver, name, RecordType::A).await
                    } else {
                        Ok(Vec::new())
                    }
                };
                let aaaa = async {
                    if pref.wants_v6() {
                        dns_lookup(resolver, name, RecordType::AAAA).await
                    } else {
                        Ok(Vec::new())
                    }
                };
                let (a, aaaa) = tokio::join!(a, aaaa);
                let ips = |r: Vec<RData>| -> Vec<IpAddr> {
                    r.into_iter().filter_map(|d| d.ip_addr()).collect()
                };
                match (a, aaaa) {
                    (Ok(a), Ok(aaaa)) => Ok(pref.order(ips(a), ips(aaaa))),
                    (Ok(a), Err(e)) if !a.is_empty() => {
                        debug!(name, error = %e, "AAAA lookup failed; using A records");
                        Ok(pref.order(ips(a), Vec::new()))
                    }
                    (Err(e), Ok(aaaa)) if !aaaa.is_empty() => {
                        debug!(name, error = %e, "A lookup failed; using AAAA records");
                        Ok(pref.order(Vec::new(), ips(aaaa)))
                    }
                    (Err(e), _) | (_, Err(e)) => Err(e),
                }
            }
        }
    }

    fn shuffle_srv(&self, records: Vec<SrvRecord>) -> Vec<SrvRecord> {
        // A poisoned lock only means another thread panicked mid-draw: the generator
        // state is still a valid state.
        let mut rng = self.rng.lock().unwrap_or_else(|p| p.into_inner());
        order_srv(records, rng.as_mut())
    }
}

/// Accumulates targets of one resolution.
struct Run<'r> {
    resolver: &'r Resolver,
    opts: &'r ResolveOptions,
    host: String,
    targets: Vec<ResolvedTarget>,
    seen: HashSet<(SocketAddr, Transport)>,
    failure: Option<ResolveError>,
    declined: bool,
}

impl<'r> Run<'r> {
    fn new(resolver: &'r Resolver, opts: &'r ResolveOptions, target: &TargetHost) -> Run<'r> {
        Run {
            resolver,
            opts,
            host: match target {
                TargetHost::Ip(ip) => ip.to_string(),
                TargetHost::Name(n) => n.clone(),
            },
            targets: Vec::new(),
            seen: HashSet::new(),
            failure: None,
            declined: false,
        }
    }

    fn full(&self) -> bool {
        self.targets.len() >= self.opts.max_targets
    }

    fn push(&mut self, addr: SocketAddr, transport: Transport) {
        if self.full() || !self.seen.insert((addr, transport)) {
            return;
        }
        self.targets.push(ResolvedTarget {
            addr,
            transport,
            host: self.host.clone(),
        });
    }

    fn failed(&mut self, name: &str, record: &'static str, source: BoxError) {
        warn!(name, record, error = %source, "DNS lookup failed");
        if self.failure.is_none() {
            self.failure = Some(ResolveError::Dns {
                name: name.to_string(),
                record,
                source,
            });
        }
    }

    /// A/AAAA of `name`, each address at `port` over `transport`.
    async fn addresses(&mut self, name: &str, port: u16, transport: Transport) {
        if self.full() {
            return;
        }
        match self.resolver.lookup_ip(name, self.opts.ip_preference).await {
            Ok(mut ips) => {
                ips.truncate(MAX_ADDRS);
                trace!(name, ?ips, "addresses");
                for ip in ips {
                    self.push(SocketAddr::new(ip, port), transport);
                }
            }
            Err(e) => self.failed(name, "A/AAAA", e),
        }
    }

    /// SRV lookup of `name` and expansion of its targets (section 4.2, 4.3). True when
    /// the name has SRV records (even if their targets have no address).
    async fn srv(&mut self, name: &str, transport: Transport) -> bool {
        if self.full() {
            return false;
        }
        let mut records = match self.resolver.lookup_srv(name).await {
            Ok(r) => r,
            Err(e) => {
                self.failed(name, "SRV", e);
                return false;
            }
        };
        if records.is_empty() {
            trace!(name, "no SRV records");
            return false;
        }
        records.truncate(MAX_SRV);
        if records.iter().all(SrvRecord::is_decline) {
            debug!(name, "SRV target \".\": service not available");
            self.declined = true;
            return false;
        }
        records.retain(|r| !r.is_decline());
        for r in self.resolver.shuffle_srv(records) {
            debug!(name, priority = r.priority, weight = r.weight, port = r.port, target = %r.target, %transport, "SRV");
            match parse_target(&r.target) {
                Ok(TargetHost::Ip(ip)) => self.push(SocketAddr::new(ip, r.port), transport),
                Ok(TargetHost::Name(n)) => self.addresses(&n, r.port, transport).await,
                Err(e) => warn!(name, target = %r.target, error = %e, "bad SRV target"),
            }
        }
        true
    }

    fn finish(self) -> Result<Vec<ResolvedTarget>, ResolveError> {
        if !self.targets.is_empty() {
            debug!(targets = ?self.targets, "resolved");
            return Ok(self.targets);
        }
        if self.declined {
            return Err(ResolveError::ServiceNotAvailable(self.host));
        }
        Err(self.failure.unwrap_or(ResolveError::NotFound(self.host)))
    }
}

// ---------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq, Eq)]
enum TargetHost {
    Ip(IpAddr),
    Name(String),
}

/// A host or `maddr` value: IPv4, bracketed (or bare) IPv6, or a domain name.
fn parse_target(s: &str) -> Result<TargetHost, ResolveError> {
    let s = s.trim();
    let inner = s.strip_prefix('[').and_then(|r| r.strip_suffix(']'));
    if let Some(v6) = inner {
        return v6
            .parse::<Ipv6Addr>()
            .map(|a| TargetHost::Ip(IpAddr::V6(a)))
            .map_err(|_| ResolveError::InvalidName(s.to_string()));
    }
    if let Ok(a) = s.parse::<Ipv4Addr>() {
        return Ok(TargetHost::Ip(IpAddr::V4(a)));
    }
    if let Ok(a) = s.parse::<Ipv6Addr>() {
        return Ok(TargetHost::Ip(IpAddr::V6(a)));
    }
    let name = normalize_name(s);
    let valid = !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .bytes()
                    .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_' || !c.is_ascii())
        });
    if !valid {
        return Err(ResolveError::InvalidName(s.to_string()));
    }
    Ok(TargetHost::Name(name))
}

/// Lowercase, without a trailing dot (but `.` stays `.`).
fn normalize_name(s: &str) -> String {
    let s = s.trim();
    let s = if s.len() > 1 {
        s.strip_suffix('.').unwrap_or(s)
    } else {
        s
    };
    s.to_ascii_lowercase()
}

/// RFC 3261 section 19.1.1 / 26.2.2 and RFC 7118: the `transport=` parameter.
fn explicit_transport(
    value: &str,
    secure: bool,
    opts: &ResolveOptions,
) -> Result<Transport, ResolveError> {
    let t = match value.to_ascii_lowercase().as_str() {
        "udp" => Transport::Udp,
        "tcp" if secure => Transport::Tls,
        "tcp" => Transport::Tcp,
        "tls" => Transport::Tls,
        "ws" if secure => Transport::Wss,
        "ws" => Transport::Ws,
        "wss" => Transport::Wss,
        "sctp" | "tls-sctp" => return Err(ResolveError::TransportNotEnabled(value.to_string())),
        _ => return Err(ResolveError::UnknownTransport(value.to_string())),
    };
    if secure && opts.sips_requires_tls && !matches!(t, Transport::Tls | Transport::Wss) {
        return Err(ResolveError::InsecureTransportForSips(t));
    }
    if !opts.transports.contains(t) {
        return Err(ResolveError::TransportNotEnabled(t.to_string()));
    }
    Ok(t)
}

/// Section 4.1 for an IP TARGET or a given port: UDP for `sip:` (TCP, then TLS, when
/// UDP is not enabled), TLS for `sips:`.
fn default_transport(secure: bool, opts: &ResolveOptions) -> Result<Transport, ResolveError> {
    let candidates: &[Transport] = if secure {
        &[Transport::Tls]
    } else {
        &[Transport::Udp, Transport::Tcp, Transport::Tls]
    };
    candidates
        .iter()
        .copied()
        .find(|t| opts.transports.contains(*t))
        .ok_or(ResolveError::NoUsableTransport(if secure {
            "sips"
        } else {
            "sip"
        }))
}

/// The SRV name for a transport chosen without NAPTR (section 4.2). WebSocket has none
/// (RFC 7118 defines only NAPTR services).
fn srv_name(transport: Transport, name: &str) -> Option<String> {
    let label = match transport {
        Transport::Udp => "_sip._udp",
        Transport::Tcp => "_sip._tcp",
        Transport::Tls => "_sips._tcp",
        Transport::Ws | Transport::Wss => return None,
    };
    Some(format!("{label}.{name}"))
}

/// NAPTR service field to `(secure, transport)` (RFC 3263 section 4.1, RFC 7118 section 5).
fn naptr_service(services: &str) -> Option<(bool, Transport)> {
    let s = services.to_ascii_uppercase();
    Some(match s.as_str() {
        "SIP+D2U" => (false, Transport::Udp),
        "SIP+D2T" => (false, Transport::Tcp),
        "SIPS+D2T" => (true, Transport::Tls),
        "SIP+D2W" => (false, Transport::Ws),
        "SIPS+D2W" => (true, Transport::Wss),
        _ => return None,
    })
}

fn system_hosts() -> Arc<Hosts> {
    match Hosts::from_system() {
        Ok(h) => Arc::new(h),
        Err(e) => {
            warn!(error = %e, "cannot read the system hosts file");
            Arc::new(Hosts::default())
        }
    }
}

/// The hosts-file addresses of `name` as `(v4, v6)`, when it is listed.
fn hosts_lookup(hosts: &Hosts, name: &str) -> Option<(Vec<IpAddr>, Vec<IpAddr>)> {
    let name = Name::from_utf8(name).ok()?;
    let get = |rt| {
        hosts
            .lookup_static_host(&Query::query(name.clone(), rt))
            .map(|l| {
                l.answers()
                    .iter()
                    .filter_map(|r| r.data.ip_addr())
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default()
    };
    let v4 = get(RecordType::A);
    let v6 = get(RecordType::AAAA);
    if v4.is_empty() && v6.is_empty() {
        None
    } else {
        Some((v4, v6))
    }
}

/// One DNS query; "no such name" and "no records of that type" are an empty answer.
async fn dns_lookup(
    resolver: &TokioResolver,
    name: &str,
    rtype: RecordType,
) -> Result<Vec<RData>, BoxError> {
    let qname = Name::from_utf8(name)?;
    match resolver.lookup(qname, rtype).await {
        Ok(lookup) => Ok(lookup
            .answers()
            .iter()
            .filter(|r| r.record_type() == rtype)
            .map(|r| r.data.clone())
            .collect()),
        Err(e) if e.is_no_records_found() => {
            trace!(name, %rtype, "no records");
            Ok(Vec::new())
        }
        Err(e) => Err(e.into()),
    }
}

// ---------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------

#[cfg(test)]
mod tests {
    use super::*;

    fn v4(a: u8, b: u8, c: u8, d: u8) -> IpAddr {
        IpAddr::V4(Ipv4Addr::new(a, b, c, d))
    }

    fn sa(s: &str) -> SocketAddr {
        s.parse().expect("test address")
    }

    fn t(addr: &str, transport: Transport, host: &str) -> ResolvedTarget {
        ResolvedTarget {
            addr: sa(addr),
            transport,
            host: host.into(),
        }
    }

    async fn resolve(
        r: &Resolver,
        uri: &str,
        opts: &ResolveOptions,
    ) -> Result<Vec<ResolvedTarget>, ResolveError> {
        let uri = Uri::parse(uri).expect("test URI parses");
        r.resolve_uri(&uri, opts).await
    }

    /// Always picks the first record of the remaining pool (pick 0).
    fn first_rng() -> impl SrvRng {
        || 0u32
    }

    fn example_zone() -> StaticZone {
        StaticZone::new()
            .host("a.example.com", &[v4(192, 0, 2, 1)])
            .host(
                "b.example.com",
                &[v4(192, 0, 2, 2), "2001:db8::2".parse().expect("v6")],
            )
            .host("example.com", &[v4(192, 0, 2, 10)])
    }

    // -- section 4.1 / 4.2: numeric TARGET --------------------------------------------

    #[tokio::test]
    async fn rfc3263_4_1_ip_literal_sip_is_udp_5060() {
        let r = Resolver::from_static(StaticZone::new());
        let got = resolve(&r, "sip:alice@192.0.2.7", &ResolveOptions::default())
            .await
            .expect("resolves");
        assert_eq!(got, vec![t("192.0.2.7:5060", Transport::Udp, "192.0.2.7")]);
    }

    #[tokio::test]
    async fn rfc3263_4_1_ip_literal_sips_is_tls_5061() {
        let r = Resolver::from_static(StaticZone::new());
        let got = resolve(&r, "sips:alice@[2001:db8::7]", &ResolveOptions::default())
            .await
            .expect("resolves");
        assert_eq!(
            got,
            vec![t("[2001:db8::7]:5061", Transport::Tls, "2001:db8::7")]
        );
        let got = resolve(&r, "sips:[::1]:7777", &ResolveOptions::default())
            .await
            .expect("resolves");
        assert_eq!(got, vec![t("[::1]:7777", Transport::Tls, "::1")]);
    }

    #[tokio::test]
    async fn rfc3263_4_1_explicit_transport_wins() {
        let r = Resolver::from_static(StaticZone::new());
        let o = ResolveOptions::default();
        let got = resolve(&r, "sip:192.0.2.7;transport=TCP", &o)
            .await
            .expect("resolves");
        assert_eq!(got, vec![t("192.0.2.7:5060", Transport::Tcp, "192.0.2.7")]);
        let got = resolve(&r, "sips:192.0.2.7;transport=tcp", &o)
            .await
            .expect("resolves");
        assert_eq!(got, vec![t("192.0.2.7:5061", Transport::Tls, "192.0.2.7")]);
        let got = resolve(&r, "sip:192.0.2.7;transport=tls", &o)
            .await
            .expect("resolves");
        assert_eq!(got[0].transport, Transport::Tls);
        let got = resolve(&r, "sip:192.0.2.7:8080;transport=ws", &o)
            .await
            .expect("resolves");
        assert_eq!(got, vec![t("192.0.2.7:8080", Transport::Ws, "192.0.2.7")]);
        let got = resolve(&r, "sips:192.0.2.7;transport=ws", &o)
            .await
            .expect("resolves");
        assert_eq!(got, vec![t("192.0.2.7:443", Transport::Wss, "192.0.2.7")]);
    }

    #[tokio::test]
    async fn transport_errors_are_typed() {
        let r = Resolver::from_static(StaticZone::new());
        let o = ResolveOptions::default();
        assert!(matches!(
            resolve(&r, "sips:192.0.2.7;transport=udp", &o).await,
            Err(ResolveError::InsecureTransportForSips(Transport::Udp))
        ));
        let lenient = ResolveOptions {
            sips_requires_tls: false,
            ..ResolveOptions::default()
        };
        let got = resolve(&r, "sips:192.0.2.7;transport=udp", &lenient)
            .await
            .expect("lenient");
        assert_eq!(got[0].transport, Transport::Udp);
        assert!(matches!(
            resolve(&r, "sip:192.0.2.7;transport=carrier-pigeon", &o).await,
            Err(ResolveError::UnknownTransport(_))
        ));
        assert!(matches!(
            resolve(&r, "sip:192.0.2.7;transport=sctp", &o).await,
            Err(ResolveError::TransportNotEnabled(_))
        ));
        let udp_only = ResolveOptions {
            transports: TransportSet::of(&[Transport::Udp]),
            ..ResolveOptions::default()
        };
        assert!(matches!(
            resolve(&r, "sip:192.0.2.7;transport=tcp", &udp_only).await,
            Err(ResolveError::TransportNotEnabled(_))
        ));
        assert!(matches!(
            resolve(&r, "sips:192.0.2.7", &udp_only).await,
            Err(ResolveError::NoUsableTransport("sips"))
        ));
        assert!(matches!(
            resolve(&r, "tel:+15551234567", &o).await,
            Err(ResolveError::NotSip(s)) if s == "tel"
        ));
    }

    #[tokio::test]
    async fn default_transport_falls_back_to_tcp_without_udp() {
        let r = Resolver::from_static(StaticZone::new());
        let tcp_only = ResolveOptions {
            transports: TransportSet::ALL.without(Transport::Udp),
            ..ResolveOptions::default()
        };
        let got = resolve(&r, "sip:192.0.2.7", &tcp_only)
            .await
            .expect("resolves");
        assert_eq!(got[0].transport, Transport::Tcp);
    }

    // -- maddr --------------------------------------------------------------------------

    #[tokio::test]
    async fn rfc3263_4_1_maddr_overrides_host() {
        let r = Resolver::from_static(example_zone());
        let o = ResolveOptions::default();
        let got = resolve(&r, "sip:bob@example.com;maddr=192.0.2.99", &o)
            .await
            .expect("resolves");
        assert_eq!(
            got,
            vec![t("192.0.2.99:5060", Transport::Udp, "192.0.2.99")]
        );
        let got = resolve(&r, "sip:bob@example.com:5070;maddr=[2001:db8::9]", &o)
            .await
            .expect("resolves");
        assert_eq!(
            got,
            vec![t("[2001:db8::9]:5070", Transport::Udp, "2001:db8::9")]
        );
        let got = resolve(&r, "sip:bob@example.com;maddr=a.example.com", &o)
            .await
            .expect("resolves");
        assert_eq!(
            got,
            vec![t("192.0.2.1:5060", Transport::Udp, "a.example.com")]
        );
        assert!(matches!(
            resolve(&r, "sip:bob@example.com;maddr=bad..name", &o).await,
            Err(ResolveError::InvalidName(_))
        ));
    }

    // -- section 4.2: a port means A/AAAA only ---------------------------------------------

    #[tokio::test]
    async fn rfc3263_4_2_port_skips_naptr_and_srv() {
        let zone = example_zone()
            .naptr(
                "example.com",
                vec![NaptrRecord::srv(10, 10, "SIP+D2T", "_sip._tcp.example.com")],
            )
            .srv(
                "_sip._tcp.example.com",
                vec![SrvRecord::new(0, 0, 5080, "a.example.com")],
            )
            .srv(
                "_sip._udp.example.com",
                vec![SrvRecord::new(0, 0, 5080, "a.example.com")],
            );
        let r = Resolver::from_static(zone);
        let o = ResolveOptions::default();
        let got = resolve(&r, "sip:example.com:5090", &o)
            .await
            .expect("resolves");
        assert_eq!(
            got,
            vec![t("192.0.2.10:5090", Transport::Udp, "example.com")]
        );
        let got = resolve(&r, "sips:example.com:5091", &o)
            .await
            .expect("resolves");
        assert_eq!(
            got,
            vec![t("192.0.2.10:5091", Transport::Tls, "example.com")]
        );
        let got = resolve(&r, "sip:example.com:5092;transport=tcp", &o)
            .await
            .expect("resolves");
        assert_eq!(
            got,
            vec![t("192.0.2.10:5092", Transport::Tcp, "example.com")]
        );
    }

    // -- section 4.1: NAPTR ---------------------------------------------------------------

    fn naptr_zone() -> StaticZone {
        example_zone()
            .naptr(
                "example.com",
                vec![
                    // deliberately out of order
                    NaptrRecord::srv(20, 10, "SIP+D2U", "_sip._udp.example.com"),
                    NaptrRecord::srv(10, 20, "SIP+D2T", "_sip._tcp.example.com"),
                    NaptrRecord::srv(10, 10, "SIPS+D2T", "_sips._tcp.example.com"),
                    NaptrRecord::srv(5, 10, "SIP+D2S", "_sip._sctp.example.com"),
                    NaptrRecord::srv(30, 10, "SIPS+D2W", "_sips._ws.example.com"),
                    NaptrRecord {
                        order: 1,
                        preference: 1,
                        flags: "u".into(),
                        services: "SIP+D2U".into(),
                        regexp: "!^.*$!sip:x@y!".into(),
                        replacement: ".".into(),
                    },
                ],
            )
            .srv(
                "_sip._udp.example.com",
                vec![SrvRecord::new(0, 0, 5060, "a.example.com")],
            )
            .srv(
                "_sip._tcp.example.com",
                vec![SrvRecord::new(0, 0, 5070, "a.example.com")],
            )
            .srv(
                "_sips._tcp.example.com",
                vec![SrvRecord::new(0, 0, 5071, "b.example.com")],
            )
            .srv(
                "_sips._ws.example.com",
                vec![SrvRecord::new(0, 0, 8443, "a.example.com")],
            )
            .srv(
                "_sip._sctp.example.com",
                vec![SrvRecord::new(0, 0, 5060, "a.example.com")],
            )
    }

    #[tokio::test]
    async fn rfc3263_4_1_naptr_order_preference_and_filtering() {
        let r = Resolver::from_static(naptr_zone());
        let got = resolve(&r, "sip:bob@example.com", &ResolveOptions::default())
            .await
            .expect("resolves");
        assert_eq!(
            got,
            vec![
                t("192.0.2.2:5071", Transport::Tls, "example.com"),
                t("[2001:db8::2]:5071", Transport::Tls, "example.com"),
                t("192.0.2.1:5070", Transport::Tcp, "example.com"),
                t("192.0.2.1:5060", Transport::Udp, "example.com"),
                t("192.0.2.1:8443", Transport::Wss, "example.com"),
            ]
        );
    }

    #[tokio::test]
    async fn rfc3263_4_1_naptr_sips_uses_secure_services_only() {
        let r = Resolver::from_static(naptr_zone());
        let got = resolve(&r, "sips:bob@example.com", &ResolveOptions::default())
            .await
            .expect("resolves");
        let transports: Vec<_> = got.iter().map(|t| t.transport).collect();
        assert_eq!(
            transports,
            vec![Transport::Tls, Transport::Tls, Transport::Wss]
        );
    }

    #[tokio::test]
    async fn rfc3263_4_1_naptr_filtered_by_enabled_transports() {
        let r = Resolver::from_static(naptr_zone());
        let o = ResolveOptions {
            transports: TransportSet::of(&[Transport::Udp]),
            ip_preference: IpPreference::V6Only,
            ..ResolveOptions::default()
        };
        // Only SIP+D2U is usable; a.example.com has no IPv6 address: nothing left.
        assert!(matches!(
            resolve(&r, "sip:example.com", &o).await,
            Err(ResolveError::NotFound(h)) if h == "example.com"
        ));
        let o = ResolveOptions {
            transports: TransportSet::of(&[Transport::Udp]),
            ..ResolveOptions::default()
        };
        let got = resolve(&r, "sip:example.com", &o).await.expect("resolves");
        assert_eq!(
            got,
            vec![t("192.0.2.1:5060", Transport::Udp, "example.com")]
        );
    }

    #[tokio::test]
    async fn rfc3263_4_2_naptr_without_srv_falls_back_to_a_with_naptr_transport() {
        let zone = example_zone().naptr(
            "example.com",
            vec![NaptrRecord::srv(10, 10, "SIP+D2T", "_sip._tcp.example.com")],
        );
        let r = Resolver::from_static(zone);
        let got = resolve(&r, "sip:example.com", &ResolveOptions::default())
            .await
            .expect("resolves");
        assert_eq!(
            got,
            vec![t("192.0.2.10:5060", Transport::Tcp, "example.com")]
        );
    }

    #[tokio::test]
    async fn unusable_naptr_is_like_no_naptr() {
        let zone = example_zone()
            .naptr(
                "example.com",
                vec![NaptrRecord::srv(10, 10, "E2U+sip", "x.example.com")],
            )
            .srv(
                "_sip._tcp.example.com",
                vec![SrvRecord::new(0, 0, 5070, "a.example.com")],
            );
        let r = Resolver::from_static(zone);
        let got = resolve(&r, "sip:example.com", &ResolveOptions::default())
            .await
            .expect("resolves");
        assert_eq!(
            got,
            vec![t("192.0.2.1:5070", Transport::Tcp, "example.com")]
        );
    }

    // -- section 4.1 without NAPTR: SRV per transport -------------------------------------

    #[tokio::test]
    async fn rfc3263_4_1_srv_without_naptr_in_preference_order() {
        let zone = example_zone()
            .srv(
                "_sips._tcp.example.com",
                vec![SrvRecord::new(0, 0, 5061, "b.example.com")],
            )
            .srv(
                "_sip._tcp.example.com",
                vec![SrvRecord::new(0, 0, 5060, "a.example.com")],
            )
            .srv(
                "_sip._udp.example.com",
                vec![SrvRecord::new(0, 0, 5060, "a.example.com")],
            );
        let r = Resolver::from_static(zone);
        let o = ResolveOptions {
            ip_preference: IpPreference::V6First,
            ..ResolveOptions::default()
        };
        let got = resolve(&r, "sip:example.com", &o).await.expect("resolves");
        assert_eq!(
            got,
            vec![
                t("192.0.2.1:5060", Transport::Udp, "example.com"),
                t("192.0.2.1:5060", Transport::Tcp, "example.com"),
                t("[2001:db8::2]:5061", Transport::Tls, "example.com"),
                t("192.0.2.2:5061", Transport::Tls, "example.com"),
            ]
        );
        let got = resolve(&r, "sips:example.com", &o).await.expect("resolves");
        assert_eq!(got.len(), 2);
        assert!(got
            .iter()
            .all(|t| t.transport == Transport::Tls && t.addr.port() == 5061));
    }

    #[tokio::test]
    async fn rfc3263_4_2_explicit_transport_without_port_uses_its_srv() {
        let zone = example_zone()
            .srv(
                "_sip._udp.example.com",
                vec![SrvRecord::new(0, 0, 5999, "a.example.com")],
            )
            .srv(
                "_sip._tcp.example.com",
                vec![SrvRecord::new(0, 0, 5070, "a.example.com")],
            )
            .srv(
                "_sips._tcp.example.com",
                vec![SrvRecord::new(0, 0, 5071, "a.example.com")],
            );
        let r = Resolver::from_static(zone);
        let o = ResolveOptions::default();
        let got = resolve(&r, "sip:example.com;transport=tcp", &o)
            .await
            .expect("resolves");
        assert_eq!(
            got,
            vec![t("192.0.2.1:5070", Transport::Tcp, "example.com")]
        );
        let got = resolve(&r, "sips:example.com;transport=tcp", &o)
            .await
            .expect("resolves");
        assert_eq!(
            got,
            vec![t("192.0.2.1:5071", Transport::Tls, "example.com")]
        );
        // WebSocket has no SRV label: A/AAAA at the default port.
        let got = resolve(&r, "sip:example.com;transport=ws", &o)
            .await
            .expect("resolves");
        assert_eq!(got, vec![t("192.0.2.10:80", Transport::Ws, "example.com")]);
    }

    #[tokio::test]
    async fn rfc3263_4_2_no_naptr_no_srv_uses_a_at_default_port() {
        let r = Resolver::from_static(example_zone());
        let o = ResolveOptions::default();
        let got = resolve(&r, "sip:example.com", &o).await.expect("resolves");
        assert_eq!(
            got,
            vec![t("192.0.2.10:5060", Transport::Udp, "example.com")]
        );
        let got = resolve(&r, "sips:EXAMPLE.com.", &o)
            .await
            .expect("resolves");
        assert_eq!(
            got,
            vec![t("192.0.2.10:5061", Transport::Tls, "example.com")]
        );
    }

    #[tokio::test]
    async fn srv_target_dot_means_not_available() {
        let zone = example_zone().srv("_sip._udp.example.com", vec![SrvRecord::new(0, 0, 0, ".")]);
        let r = Resolver::from_static(zone);
        let o = ResolveOptions {
            transports: TransportSet::of(&[Transport::Udp]),
            ..ResolveOptions::default()
        };
        assert!(matches!(
            resolve(&r, "sip:example.com", &o).await,
            Err(ResolveError::ServiceNotAvailable(h)) if h == "example.com"
        ));
    }

    #[tokio::test]
    async fn srv_target_may_be_an_ip_and_duplicates_are_dropped() {
        let zone = example_zone().srv(
            "_sip._udp.example.com",
            vec![
                SrvRecord::new(0, 0, 5060, "192.0.2.50"),
                SrvRecord::new(1, 0, 5060, "192.0.2.50"),
                SrvRecord::new(2, 0, 5060, "a.example.com"),
            ],
        );
        let r = Resolver::from_static(zone);
        let o = ResolveOptions {
            transports: TransportSet::of(&[Transport::Udp]),
            ..ResolveOptions::default()
        };
        let got = resolve(&r, "sip:example.com", &o).await.expect("resolves");
        assert_eq!(
            got,
            vec![
                t("192.0.2.50:5060", Transport::Udp, "example.com"),
                t("192.0.2.1:5060", Transport::Udp, "example.com"),
            ]
        );
    }

    #[tokio::test]
    async fn max_targets_caps_the_list() {
        let ips: Vec<IpAddr> = (1..=10).map(|i| v4(192, 0, 2, i)).collect();
        let r = Resolver::from_static(StaticZone::new().host("many.example.com", &ips));
        let o = ResolveOptions {
            max_targets: 3,
            ..ResolveOptions::default()
        };
        let got = resolve(&r, "sip:many.example.com:5060", &o)
            .await
            .expect("resolves");
        assert_eq!(got.len(), 3);
    }

    #[tokio::test]
    async fn failures_and_not_found_are_reported() {
        let r = Resolver::from_static(StaticZone::new().failing("broken.example.com"));
        let o = ResolveOptions::default();
        assert!(matches!(
            resolve(&r, "sip:nowhere.example.com", &o).await,
            Err(ResolveError::NotFound(h)) if h == "nowhere.example.com"
        ));
        let err = resolve(&r, "sip:broken.example.com", &o)
            .await
            .expect_err("fails");
        assert!(
            matches!(
                &err,
                ResolveError::Dns {
                    record: "NAPTR",
                    ..
                }
            ),
            "{err}"
        );
        // A failing SRV target does not hide the others.
        let zone = example_zone().failing("dead.example.com").srv(
            "_sip._udp.example.com",
            vec![
                SrvRecord::new(0, 0, 5060, "dead.example.com"),
                SrvRecord::new(1, 0, 5060, "a.example.com"),
            ],
        );
        let r = Resolver::from_static(zone);
        let got = resolve(&r, "sip:example.com", &o).await.expect("resolves");
        assert_eq!(
            got,
            vec![t("192.0.2.1:5060", Transport::Udp, "example.com")]
        );
    }

    // -- RFC 2782 ordering ----------------------------------------------------------------

    fn targets(v: &[SrvRecord]) -> Vec<&str> {
        v.iter().map(|r| r.target.as_str()).collect()
    }

    #[test]
    fn rfc2782_priority_first() {
        let recs = vec![
            SrvRecord::new(20, 100, 1, "c"),
            SrvRecord::new(10, 1, 1, "b"),
            SrvRecord::new(0, 0, 1, "a"),
        ];
        let mut rng = first_rng();
        assert_eq!(targets(&order_srv(recs, &mut rng)), vec!["a", "b", "c"]);
    }

    #[test]
    fn rfc2782_weighted_selection_uses_running_sum() {
        let recs = vec![
            SrvRecord::new(0, 10, 1, "w10"),
            SrvRecord::new(0, 0, 1, "w0"),
            SrvRecord::new(0, 30, 1, "w30"),
        ];
        // Pool after zero-weight first: [w0, w10, w30], sums 0, 10, 40.
        let mut draws = vec![25u32, 0].into_iter();
        let mut rng = move || draws.next().unwrap_or(0);
        // 25 % 41 = 25 -> w30; then pool [w0, w10], 0 % 11 = 0 -> w0; then w10.
        assert_eq!(
            targets(&order_srv(recs.clone(), &mut rng)),
            vec!["w30", "w0", "w10"]
        );
        let mut rng = || 40u32; // always the top of the range: last record
        assert_eq!(
            targets(&order_srv(recs.clone(), &mut rng)),
            vec!["w30", "w10", "w0"]
        );
        let mut rng = || 5u32; // within w10's share
        assert_eq!(
            targets(&order_srv(recs, &mut rng)),
            vec!["w10", "w30", "w0"]
        );
    }

    #[test]
    fn rfc2782_weights_are_respected_statistically() {
        let recs = vec![
            SrvRecord::new(0, 90, 1, "heavy"),
            SrvRecord::new(0, 10, 1, "light"),
        ];
        let mut rng = DefaultSrvRng::new();
        let heavy_first = (0..2000)
            .filter(|_| order_srv(recs.clone(), &mut rng)[0].target == "heavy")
            .count();
        // Expected ~1800; a wide margin keeps this deterministic in practice.
        assert!((1500..=1990).contains(&heavy_first), "{heavy_first}");
    }

    #[tokio::test]
    async fn injected_rng_drives_resolution_order() {
        let zone = example_zone().srv(
            "_sip._udp.example.com",
            vec![
                SrvRecord::new(0, 1, 5060, "a.example.com"),
                SrvRecord::new(0, 1000, 5060, "b.example.com"),
            ],
        );
        let o = ResolveOptions {
            transports: TransportSet::of(&[Transport::Udp]),
            ip_preference: IpPreference::V4Only,
            ..ResolveOptions::default()
        };
        let r = Resolver::from_static(zone.clone()).with_rng(|| 0u32);
        let got = resolve(&r, "sip:example.com", &o).await.expect("resolves");
        assert_eq!(got[0].addr, sa("192.0.2.1:5060"));
        let r = Resolver::from_static(zone).with_rng(|| 1000u32);
        let got = resolve(&r, "sip:example.com", &o).await.expect("resolves");
        assert_eq!(got[0].addr, sa("192.0.2.2:5060"));
    }

    // -- failover -------------------------------------------------------------------------

    #[test]
    fn rfc3263_4_3_failover_rules() {
        assert!(AttemptOutcome::TransportError.warrants_failover());
        assert!(AttemptOutcome::Timeout {
            provisional_received: false
        }
        .warrants_failover());
        assert!(!AttemptOutcome::Timeout {
            provisional_received: true
        }
        .warrants_failover());
        assert!(AttemptOutcome::Response(503).warrants_failover());
        for code in [200, 302, 404, 408, 480, 486, 500, 502, 504, 603] {
            assert!(
                !AttemptOutcome::Response(code).warrants_failover(),
                "{code}"
            );
        }
    }

    #[test]
    fn target_iter_walks_on_failure_and_stops_otherwise() {
        let list = vec![
            t("192.0.2.1:5060", Transport::Udp, "x"),
            t("192.0.2.2:5060", Transport::Udp, "x"),
            t("192.0.2.3:5060", Transport::Udp, "x"),
        ];
        let mut it = TargetIter::new(list.clone());
        assert_eq!(it.current(), Some(&list[0]));
        assert_eq!(it.failover(AttemptOutcome::Response(503)), Some(&list[1]));
        assert_eq!(it.failover(AttemptOutcome::Response(486)), None);
        assert_eq!(
            it.current(),
            Some(&list[1]),
            "a final answer ends the search in place"
        );
        assert_eq!(it.failover(AttemptOutcome::TransportError), Some(&list[2]));
        assert_eq!(it.remaining().len(), 1);
        assert_eq!(
            it.failover(AttemptOutcome::Timeout {
                provisional_received: false
            }),
            None
        );
        assert!(it.is_exhausted());
        assert_eq!(it.attempts_failed(), 3);
        assert_eq!(it.failover(AttemptOutcome::TransportError), None);
        assert!(it.remaining().is_empty());
        assert_eq!(
            list[0].target(),
            Target::new(sa("192.0.2.1:5060"), Transport::Udp)
        );
    }

    // -- hosts file and a DNS server on loopback -----------------------------------------

    mod fake_dns {
        use std::collections::HashMap;
        use std::net::SocketAddr;
        use std::sync::{Arc, Mutex};

        use hickory_resolver::proto::op::{Message, OpCode, ResponseCode};
        use hickory_resolver::proto::rr::{Name, RData, Record, RecordType};
        use tokio::net::UdpSocket;

        /// A minimal authoritative DNS responder on 127.0.0.1 for hand-built answers.
        pub struct FakeDns {
            pub addr: SocketAddr,
            pub queries: Arc<Mutex<Vec<(String, RecordType)>>>,
            task: tokio::task::JoinHandle<()>,
        }

        impl Drop for FakeDns {
            fn drop(&mut self) {
                self.task.abort();
            }
        }

        #[derive(Default)]
        pub struct Zone(HashMap<String, Vec<Record>>);

        impl Zone {
            pub fn add(&mut self, name: &str, rdata: RData) {
                let n = Name::from_ascii(name).expect("test name");
                let key = n.to_ascii().to_ascii_lowercase();
                self.0
                    .entry(key)
                    .or_default()
                    .push(Record::from_rdata(n, 60, rdata));
            }
        }

        pub async fn start(zone: Zone) -> FakeDns {
            let sock = UdpSocket::bind("127.0.0.1:0").await.expect("bind loopback");
            let addr = sock.local_addr().expect("local addr");
            let queries = Arc::new(Mutex::new(Vec::new()));
            let log = queries.clone();
            let task = tokio::spawn(async move {
                let mut buf = vec![0u8; 4096];
                // Bounded: the task is aborted when the test drops the server.
                loop {
                    let Ok((len, from)) = sock.recv_from(&mut buf).await else {
                        return;
                    };
                    let Ok(req) = Message::from_vec(&buf[..len]) else {
                        continue;
                    };
                    let Some(q) = req.queries.first().cloned() else {
                        continue;
                    };
                    let mut qname = q.name().clone();
                    qname.set_fqdn(true);
                    let key = qname.to_ascii().to_ascii_lowercase();
                    log.lock().expect("log").push((key.clone(), q.query_type()));
                    let mut resp = Message::response(req.metadata.id, OpCode::Query);
                    resp.metadata.authoritative = true;
                    resp.metadata.recursion_desired = req.metadata.recursion_desired;
                    resp.metadata.recursion_available = true;
                    resp.add_query(q.clone());
                    match zone.0.get(&key) {
                        None => resp.metadata.response_code = ResponseCode::NXDomain,
                        Some(records) => {
                            resp.add_answers(
                                records
                                    .iter()
                                    .filter(|r| r.record_type() == q.query_type())
                                    .cloned(),
                            );
                        }
                    }
                    if let Ok(bytes) = resp.to_vec() {
                        let _ = sock.send_to(&bytes, from).await;
                    }
                }
            });
            FakeDns {
                addr,
                queries,
                task,
            }
        }
    }

    fn temp_hosts(contents: &str) -> std::path::PathBuf {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static N: AtomicUsize = AtomicUsize::new(0);
        let path = std::env::temp_dir().join(format!(
            "strowger-resolve-hosts-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::write(&path, contents).expect("write temp hosts file");
        path
    }

    #[tokio::test]
    async fn localhost_resolves_through_the_system_hosts_file_without_dns() {
        // The name server is a loopback responder that knows nothing: any answer must come
        // from /etc/hosts, and no query may be sent.
        let dns = fake_dns::start(fake_dns::Zone::default()).await;
        let r = Resolver::with_nameserver(dns.addr).expect("resolver");
        let got = resolve(&r, "sip:alice@localhost", &ResolveOptions::default())
            .await
            .expect("localhost resolves");
        assert!(!got.is_empty());
        assert!(got.iter().all(|t| t.addr.ip().is_loopback()
            && t.addr.port() == 5060
            && t.transport == Transport::Udp));
        assert_eq!(got[0].host, "localhost");
        let got = resolve(&r, "sips:localhost:15061", &ResolveOptions::default())
            .await
            .expect("resolves");
        assert!(got
            .iter()
            .all(|t| t.addr.port() == 15061 && t.transport == Transport::Tls));
        assert!(
            dns.queries.lock().expect("log").is_empty(),
            "{:?}",
            dns.queries
        );
    }

    #[tokio::test]
    async fn custom_hosts_file_gives_both_families() {
        let dns = fake_dns::start(fake_dns::Zone::default()).await;
        let path = temp_hosts("# test\n127.0.0.1 pbx.strowger.test pbx\n::1 pbx.strowger.test\n");
        let r = Resolver::with_nameserver(dns.addr)
            .expect("resolver")
            .with_hosts_file(&path)
            .expect("hosts file");
        let _ = std::fs::remove_file(&path);
        let got = resolve(
            &r,
            "sip:pbx.strowger.test;transport=tcp",
            &ResolveOptions::default(),
        )
        .await
        .expect("resolves");
        assert_eq!(
            got,
            vec![
                t("127.0.0.1:5060", Transport::Tcp, "pbx.strowger.test"),
                t("[::1]:5060", Transport::Tcp, "pbx.strowger.test"),
            ]
        );
        let v6 = ResolveOptions {
            ip_preference: IpPreference::V6First,
            ..ResolveOptions::default()
        };
        let got = resolve(&r, "sip:pbx.strowger.test", &v6)
            .await
            .expect("resolves");
        assert_eq!(got[0].addr, sa("[::1]:5060"));
        assert!(dns.queries.lock().expect("log").is_empty());
        assert!(matches!(
            Resolver::with_nameserver(dns.addr)
                .expect("resolver")
                .with_hosts_file("/nonexistent/hosts"),
            Err(ResolveError::HostsFile { .. })
        ));
    }

    #[tokio::test]
    async fn naptr_srv_a_aaaa_end_to_end_over_loopback_dns() {
        use hickory_resolver::proto::rr::rdata::{A, AAAA, NAPTR, SRV};
        let name = |s: &str| Name::from_ascii(s).expect("name");
        let mut zone = fake_dns::Zone::default();
        zone.add(
            "example.test.",
            RData::NAPTR(NAPTR::new(
                50,
                50,
                b"s".to_vec().into(),
                b"SIP+D2U".to_vec().into(),
                Vec::new().into(),
                name("_sip._udp.example.test."),
            )),
        );
        zone.add(
            "example.test.",
            RData::NAPTR(NAPTR::new(
                10,
                50,
                b"S".to_vec().into(),
                b"SIPS+D2T".to_vec().into(),
                Vec::new().into(),
                name("_sips._tcp.example.test."),
            )),
        );
        zone.add(
            "_sips._tcp.example.test.",
            RData::SRV(SRV::new(1, 0, 5061, name("srv2.example.test."))),
        );
        zone.add(
            "_sips._tcp.example.test.",
            RData::SRV(SRV::new(0, 0, 15061, name("srv1.example.test."))),
        );
        zone.add(
            "_sip._udp.example.test.",
            RData::SRV(SRV::new(0, 0, 15060, name("srv1.example.test."))),
        );
        zone.add("srv1.example.test.", RData::A(A::new(127, 0, 0, 2)));
        zone.add(
            "srv1.example.test.",
            RData::AAAA(AAAA("::1".parse().expect("v6"))),
        );
        zone.add("srv2.example.test.", RData::A(A::new(127, 0, 0, 3)));
        // No NAPTR here: SRV per transport.
        zone.add("plain.test.", RData::A(A::new(127, 0, 0, 9)));
        zone.add(
            "_sip._tcp.plain.test.",
            RData::SRV(SRV::new(0, 0, 25060, name("plain.test."))),
        );
        let dns = fake_dns::start(zone).await;
        let r = Resolver::with_nameserver(dns.addr).expect("resolver");
        let o = ResolveOptions::default();

        let got = resolve(&r, "sip:bob@example.test", &o)
            .await
            .expect("resolves");
        assert_eq!(
            got,
            vec![
                t("127.0.0.2:15061", Transport::Tls, "example.test"),
                t("[::1]:15061", Transport::Tls, "example.test"),
                t("127.0.0.3:5061", Transport::Tls, "example.test"),
                t("127.0.0.2:15060", Transport::Udp, "example.test"),
                t("[::1]:15060", Transport::Udp, "example.test"),
            ]
        );

        let got = resolve(&r, "sip:plain.test", &o).await.expect("resolves");
        assert_eq!(
            got,
            vec![t("127.0.0.9:25060", Transport::Tcp, "plain.test")]
        );
        let log = dns.queries.lock().expect("log").clone();
        assert!(
            log.contains(&("plain.test.".to_string(), RecordType::NAPTR)),
            "{log:?}"
        );
        assert!(
            log.contains(&("_sip._udp.plain.test.".to_string(), RecordType::SRV)),
            "{log:?}"
        );

        assert!(matches!(
            resolve(&r, "sip:missing.test", &o).await,
            Err(ResolveError::NotFound(h)) if h == "missing.test"
        ));
    }

    #[test]
    fn system_resolver_builds_inside_a_runtime() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async {
            // Reads /etc/resolv.conf; sends nothing.
            if let Err(e) = Resolver::system() {
                // A machine without resolv.conf is a configuration error, not a panic.
                assert!(matches!(e, ResolveError::Config(_)), "{e}");
            }
        });
    }
}
