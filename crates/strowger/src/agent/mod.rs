//! The command-line user agent: `call`, `answer`, `register`, `options` and `message`.
//!
//! Each command drives the sans-I/O UA core ([`strowger_core::ua::UserAgent`]) over the
//! socket layer ([`strowger_net::Transports`]) with the loop of quinn and str0m: feed what
//! the sockets read and what time it is into the core, send what it transmits, act on its
//! events ([`Sip::next_event`]). Media runs beside it, one [`strowger_media`] task per
//! call ([`media`]).
//!
//! Progress goes to stdout, one line per step; logs (tracing) go to stderr. A command
//! that fails prints one sentence on stderr and exits 1.

mod answer;
mod call;
mod media;
mod register;
mod request;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::Args;
use strowger_core::digest::CredentialStore;
use strowger_core::ua::{Config, DigestAuthenticator, Event, UserAgent};
use strowger_core::{Target, Transport};
use strowger_message::{SipUri, Uri};
use strowger_net::{ListenSpec, TransportEvent, Transports};

pub use answer::AnswerArgs;
pub use call::CallArgs;
pub use register::RegisterArgs;
pub use request::{MessageArgs, OptionsArgs};

/// Flags every command shares.
#[derive(Args, Debug, Clone)]
pub struct CommonArgs {
    /// Where to listen, `TRANSPORT:IP:PORT` (udp, tcp, tls, ws, wss; port 0 lets the OS
    /// choose). Repeatable. Default: `udp:0.0.0.0:0`.
    #[arg(long, value_name = "TRANSPORT:IP:PORT", value_parser = parse_listen)]
    pub listen: Vec<ListenSpec>,
    /// Credentials for digest authentication (401/407), `NAME:PASSWORD`. Default: the
    /// environment variables STROWGER_USER and STROWGER_PASSWORD.
    #[arg(long, value_name = "NAME:PASSWORD")]
    pub user: Option<String>,
    /// Our address of record (From of requests, To of REGISTER). Default:
    /// `sip:NAME@DOMAIN` with the name of --user and the domain of the target.
    #[arg(long, value_name = "SIP-URI")]
    pub aor: Option<String>,
    /// More logging on stderr (-v info, -vv debug, -vvv trace; RUST_LOG overrides).
    #[arg(short, long, action = clap::ArgAction::Count)]
    pub verbose: u8,
}

fn parse_listen(s: &str) -> Result<ListenSpec, String> {
    s.parse().map_err(|e: strowger_net::Error| e.to_string())
}

/// A name and password from --user, else from the environment.
#[derive(Debug, Clone)]
pub struct Credentials {
    pub name: String,
    pub password: String,
}

impl CommonArgs {
    pub fn credentials(&self) -> Result<Option<Credentials>, String> {
        let (name, password) = match &self.user {
            Some(u) => match u.split_once(':') {
                Some((n, p)) => (n.to_string(), Some(p.to_string())),
                None => (u.clone(), None),
            },
            None => match std::env::var("STROWGER_USER") {
                Ok(u) if !u.is_empty() => match u.split_once(':') {
                    Some((n, p)) => (n.to_string(), Some(p.to_string())),
                    None => (u, None),
                },
                _ => return Ok(None),
            },
        };
        let password = password
            .or_else(|| std::env::var("STROWGER_PASSWORD").ok())
            .ok_or_else(|| {
                format!(
                    "no password for {name}: pass --user NAME:PASSWORD or set STROWGER_PASSWORD"
                )
            })?;
        if name.is_empty() {
            return Err("--user needs a name: NAME:PASSWORD".into());
        }
        Ok(Some(Credentials { name, password }))
    }
}

/// `strowger call`.
pub fn call(args: CallArgs) -> ExitCode {
    init_logging(args.common.verbose);
    run("call", call::run(args))
}

/// `strowger answer`.
pub fn answer(args: AnswerArgs) -> ExitCode {
    init_logging(args.common.verbose);
    run("answer", answer::run(args))
}

/// `strowger register`.
pub fn register(args: RegisterArgs) -> ExitCode {
    init_logging(args.common.verbose);
    run("register", register::run(args))
}

/// `strowger options`.
pub fn options(args: OptionsArgs) -> ExitCode {
    init_logging(args.common.verbose);
    run("options", request::options(args))
}

/// `strowger message`.
pub fn message(args: MessageArgs) -> ExitCode {
    init_logging(args.common.verbose);
    run("message", request::message(args))
}

/// Tracing to stderr (the lead's [`crate::logging`]): warnings by default, more with
/// -v; RUST_LOG wins.
fn init_logging(verbose: u8) {
    let level = match verbose {
        0 => "warn",
        1 => "info",
        2 => "debug",
        _ => "trace",
    };
    crate::logging::init(level, false);
}

/// Run a command's future on a runtime; print its error as one sentence.
pub fn run<F>(command: &str, fut: F) -> ExitCode
where
    F: std::future::Future<Output = Result<(), Failure>>,
{
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("strowger {command}: cannot start the runtime: {e}");
            return ExitCode::from(2);
        }
    };
    match runtime.block_on(fut) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure(sentence)) => {
            eprintln!("strowger {command}: {sentence}");
            ExitCode::from(1)
        }
    }
}

/// Why a command failed, in one sentence for the user.
#[derive(Debug)]
pub struct Failure(pub String);

impl<T: std::fmt::Display> From<T> for Failure {
    fn from(e: T) -> Failure {
        Failure(e.to_string())
    }
}

pub fn fail<T>(sentence: impl Into<String>) -> Result<T, Failure> {
    Err(Failure(sentence.into()))
}

/// The clock the core reads: tokio's, so paused-time tests would work.
pub fn now() -> Instant {
    tokio::time::Instant::now().into_std()
}

pub fn wake_at(at: Option<Instant>) -> tokio::time::Instant {
    match at {
        Some(at) => tokio::time::Instant::from_std(at),
        None => tokio::time::Instant::now() + Duration::from_secs(86_400),
    }
}

/// SIGTERM, SIGINT (Ctrl-C): installed at start, so a signal that comes early is not
/// lost.
pub struct Shutdown {
    #[cfg(unix)]
    term: tokio::signal::unix::Signal,
    #[cfg(unix)]
    int: tokio::signal::unix::Signal,
}

impl Shutdown {
    pub fn install() -> Result<Shutdown, Failure> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            Ok(Shutdown {
                term: signal(SignalKind::terminate())?,
                int: signal(SignalKind::interrupt())?,
            })
        }
        #[cfg(not(unix))]
        Ok(Shutdown {})
    }

    /// Completes when a signal arrives (cancel-safe).
    pub async fn recv(&mut self) {
        #[cfg(unix)]
        tokio::select! {
            _ = self.term.recv() => {}
            _ = self.int.recv() => {}
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

/// The UA core and its sockets.
pub struct Sip {
    pub ua: UserAgent,
    pub net: Transports,
    /// Our address as peers see it (sent-by IP, SDP address).
    pub local_ip: IpAddr,
    /// A password was given (for the words of a 401/407 failure).
    pub has_password: bool,
    /// Requests whose final response we wait for before leaving (BYE), by Call-ID.
    awaiting_bye: Vec<String>,
}

impl Sip {
    /// One sentence for a 401 or 407 that ended a request.
    pub fn auth_refused(&self, code: u16) -> String {
        let config = self.ua.config();
        let me = config
            .aor
            .trim_start_matches("sip:")
            .trim_start_matches("sips:");
        if self.has_password {
            format!("{}: the password for {me} was refused", status_line(code))
        } else {
            format!(
                "{}: a password is needed for {me}: pass --user NAME:PASSWORD",
                status_line(code)
            )
        }
    }
}

impl Sip {
    /// Send what the core has queued; tell it what could not go.
    pub fn flush(&mut self) {
        while let Some(t) = self.ua.poll_transmit() {
            if let Err(reason) = self.net.send(&t) {
                tracing::info!(dest = %t.dest, transport = %t.transport, reason, "cannot send");
                self.ua.undeliverable(now(), &t.bytes);
            }
        }
    }

    /// The next event of the core; `None` when the sockets are gone. Cancel-safe.
    pub async fn next_event(&mut self) -> Option<Event> {
        loop {
            self.flush();
            if let Some(e) = self.ua.poll_event() {
                return Some(e);
            }
            let timer = self.ua.poll_timeout();
            tokio::select! {
                ev = self.net.recv() => match ev? {
                    TransportEvent::Message { source, msg } => {
                        if msg.is_response()
                            && msg.cseq().is_some_and(|c| c.method.as_str() == "BYE")
                            && msg.status().is_some_and(|s| s >= 200)
                        {
                            let id = msg.call_id().unwrap_or_default().to_string();
                            self.awaiting_bye.retain(|c| *c != id);
                        }
                        self.ua.handle_message(now(), source.addr, source.transport, msg);
                    }
                    TransportEvent::Undelivered(bytes) => self.ua.undeliverable(now(), &bytes),
                },
                () = tokio::time::sleep_until(wake_at(timer)), if timer.is_some() => {
                    self.ua.handle_timeout(now());
                }
            }
        }
    }

    /// Remember that a BYE went in call `call_id`, to wait for its response in
    /// [`Sip::linger`].
    pub fn sent_bye(&mut self, call: strowger_core::ua::CallHandle) {
        if let Some(d) = self.ua.dialog(call) {
            self.awaiting_bye.push(d.id.call_id.clone());
        }
    }

    /// Keep the core running until every BYE has its final response (or `limit`),
    /// handing other events to `on_event`; then close the sockets.
    pub async fn linger(&mut self, limit: Duration, mut on_event: impl FnMut(Event)) {
        let until = tokio::time::Instant::now() + limit;
        while !self.awaiting_bye.is_empty() {
            tokio::select! {
                ev = self.next_event() => match ev {
                    Some(e) => on_event(e),
                    None => break,
                },
                () = tokio::time::sleep_until(until) => break,
            }
        }
        self.flush();
        self.net.close();
    }
}

/// How to reach what a command talks to: the first target of RFC 3263 for `uri` (or
/// for the proxy), and whether the core needs it as outbound proxy (host names: the
/// core resolves IP addresses only).
pub async fn locate(uri: &str, proxy: Option<&str>) -> Result<(Target, bool), Failure> {
    let via = proxy.unwrap_or(uri);
    let parsed = Uri::parse(via).map_err(|e| Failure(format!("{via} is not a SIP URI: {e}")))?;
    let Uri::Sip(sip) = &parsed else {
        return fail(format!(
            "{via} is not a sip: or sips: URI (tel: needs a --proxy)"
        ));
    };
    if let Some(t) = strowger_core::ua::uac::resolve(via, default_transport(sip)) {
        return Ok((t, proxy.is_some()));
    }
    let resolver = strowger_net::resolve::Resolver::system()
        .map_err(|e| Failure(format!("cannot read the DNS configuration: {e}")))?;
    let targets = resolver
        .resolve_uri(&parsed, &Default::default())
        .await
        .map_err(|e| Failure(format!("cannot resolve {via}: {e}")))?;
    match targets.first() {
        Some(t) => Ok((t.target(), true)),
        None => fail(format!("cannot resolve {via}: no address")),
    }
}

fn default_transport(uri: &SipUri<'_>) -> Transport {
    if uri.secure {
        Transport::Tls
    } else {
        Transport::Udp
    }
}

/// The host (without port) of a SIP URI, for a default address of record.
pub fn uri_domain(uri: &str) -> Option<String> {
    match Uri::parse(uri).ok()? {
        Uri::Sip(s) => Some(match s.host {
            strowger_message::Host::Name(n) => n.to_string(),
            strowger_message::Host::V4(a) => a.to_string(),
            strowger_message::Host::V6(a, _) => format!("[{a}]"),
        }),
        _ => None,
    }
}

/// The local address the OS would send from to reach `dest` (no packet is sent).
pub fn route_to(dest: IpAddr) -> Option<IpAddr> {
    let any: IpAddr = if dest.is_ipv4() {
        Ipv4Addr::UNSPECIFIED.into()
    } else {
        Ipv6Addr::UNSPECIFIED.into()
    };
    let s = std::net::UdpSocket::bind(SocketAddr::new(any, 0)).ok()?;
    s.connect(SocketAddr::new(dest, 9)).ok()?;
    let ip = s.local_addr().ok()?.ip();
    (!ip.is_unspecified()).then_some(ip)
}

/// What to build a user agent from.
pub struct Setup<'a> {
    pub common: &'a CommonArgs,
    /// Where requests go (for the choice of listener and local address), if known.
    pub target: Option<Target>,
    /// The target must be the outbound proxy of the core.
    pub outbound: bool,
    /// The address of record when neither --aor nor --user gives one.
    pub default_aor_domain: Option<String>,
}

impl Setup<'_> {
    /// Bind the sockets and make the UA: sent-by and Contact on the listener of the
    /// target's transport, with the address the OS routes to the target from.
    pub async fn build(self) -> Result<Sip, Failure> {
        let credentials = self.common.credentials().map_err(Failure)?;
        let mut listen = self.common.listen.clone();
        if listen.is_empty() {
            listen.push(ListenSpec::new(
                Transport::Udp,
                SocketAddr::new(Ipv4Addr::UNSPECIFIED.into(), 0),
            ));
            if let Some(t) = self.target.filter(|t| t.transport == Transport::Tcp) {
                listen.push(ListenSpec::new(
                    t.transport,
                    SocketAddr::new(Ipv4Addr::UNSPECIFIED.into(), 0),
                ));
            }
        }
        let config = strowger_net::Config {
            listen,
            ..Default::default()
        };
        let net = Transports::bind(&config)
            .await
            .map_err(|e| Failure(format!("cannot listen: {e}")))?;
        let transport = self.target.map_or(Transport::Udp, |t| t.transport);
        let local = net
            .local_addrs()
            .iter()
            .find(|l| l.transport == transport)
            .or_else(|| net.local_addrs().first())
            .copied()
            .ok_or_else(|| Failure("nothing to listen on".into()))?;
        let local_ip = if local.addr.ip().is_unspecified() {
            self.target
                .and_then(|t| route_to(t.addr.ip()))
                .or_else(|| route_to(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1))))
                .unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST))
        } else {
            local.addr.ip()
        };
        let sent_by = SocketAddr::new(local_ip, local.addr.port());
        let name = credentials.as_ref().map(|c| c.name.clone());
        let aor = match (&self.common.aor, &name, &self.default_aor_domain) {
            (Some(a), _, _) => a.clone(),
            (None, Some(n), Some(d)) => format!("sip:{n}@{d}"),
            (None, Some(n), None) => format!("sip:{n}@{}", host_of(local_ip)),
            (None, None, _) => format!("sip:strowger@{}", host_of(local_ip)),
        };
        if !matches!(Uri::parse(&aor), Ok(Uri::Sip(_))) {
            return fail(format!("{aor} is not a SIP URI (--aor)"));
        }
        let mut config = Config::new(&aor, sent_by);
        config.transport = transport;
        if local.transport != Transport::Udp {
            config.contact.push_str(&format!(
                ";transport={}",
                local.transport.as_str().to_ascii_lowercase()
            ));
        }
        if self.outbound {
            config.outbound_proxy = self.target;
        }
        let mut ua = UserAgent::new(config);
        let has_password = credentials.is_some();
        if let Some(c) = credentials {
            ua.set_authenticator(Box::new(DigestAuthenticator::new(
                CredentialStore::with_default(c.name, c.password),
                fill_random,
            )));
        }
        Ok(Sip {
            ua,
            net,
            local_ip,
            has_password,
            awaiting_bye: Vec::new(),
        })
    }
}

fn host_of(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(a) => a.to_string(),
        IpAddr::V6(a) => format!("[{a}]"),
    }
}

/// Unpredictable bytes (cnonces) from the standard library's random SipHash keys.
fn fill_random(out: &mut [u8]) {
    use std::hash::{BuildHasher, Hasher};
    for (i, chunk) in out.chunks_mut(8).enumerate() {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_usize(i);
        h.write_u128(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap_or_default()
                .as_nanos(),
        );
        let v = h.finish().to_le_bytes();
        let n = chunk.len();
        chunk.copy_from_slice(&v[..n]);
    }
}

/// "486 Busy Here" for a status code.
pub fn status_line(code: u16) -> String {
    format!("{code} {}", strowger_message::default_reason(code))
}

/// Seconds with one decimal.
pub fn secs(d: Duration) -> String {
    format!("{:.1} s", d.as_secs_f64())
}

/// Print a progress line and flush (stdout may be a pipe read line by line).
#[macro_export]
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, $($arg)*);
        let _ = out.flush();
    }};
}
