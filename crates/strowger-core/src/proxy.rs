//! The proxy core of a transaction-stateful proxy (RFC 3261 section 16), sans-I/O, on
//! top of the [`TransactionLayer`].
//!
//! The core validates requests (16.3), preprocesses routing (16.4), forwards to the
//! targets the application chose (16.5 is the application's: registrar lookups,
//! authentication and policy need its stores) with forking by q-value (16.6), keeps a
//! response context per request and selects the best response (16.7), cancels
//! branches (16.10, 6xx, 2xx, timer C of 16.8), and hands ACKs for 2xx and stray
//! CANCELs to the application for stateless forwarding (16.11).
//!
//! Choices where the RFC leaves room, following what Kamailio and OpenSIPS do:
//! - a request with Max-Forwards 0 is answered 483 whatever its method;
//! - loop detection (16.3 step 4) puts a hash of the loop-relevant fields in the branch
//!   (`z9hG4bK-sg<hash>-<n>`); a Via of ours carrying the same hash is a loop (482);
//! - a 100 Trying is sent at once for a forwarded INVITE (16.2 allows it, and it stops
//!   upstream retransmissions sooner than the 200 ms rule of 17.2.1);
//! - the best final response prefers 6xx, then the lowest class, with 401/407
//!   challenges aggregated and 503 turned into 500 (16.7 step 6).

use std::collections::hash_map::DefaultHasher;
use std::collections::{BTreeMap, VecDeque};
use std::hash::{Hash, Hasher};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use strowger_message::{HeaderName, Host, Message, Method, RequestBuilder, ResponseBuilder, Uri};

use crate::transaction::{Event, KeyTable, TransactionKey, TransactionLayer};
use crate::transport::{response_destination, ResponseDestination, Target, Transmit, Transport};

/// An address this proxy listens on, as written into Via and Record-Route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalAddr {
    pub transport: Transport,
    /// Host name or IP address (IPv6 in brackets).
    pub host: String,
    pub port: u16,
}

impl LocalAddr {
    fn sent_by(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }

    fn record_route(&self) -> String {
        let t = match self.transport {
            Transport::Udp => String::new(),
            t => format!(";transport={}", t.as_str().to_ascii_lowercase()),
        };
        let scheme = if self.transport == Transport::Tls || self.transport == Transport::Wss {
            "sips"
        } else {
            "sip"
        };
        format!("<{scheme}:{}:{}{t};lr>", self.host, self.port)
    }
}

/// Proxy settings.
#[derive(Debug, Clone)]
pub struct ProxyConfig {
    /// Our addresses, one per listening transport; the first of a transport is used
    /// in Via and Record-Route for requests sent over it.
    pub local: Vec<LocalAddr>,
    /// Record-Route every dialog-creating request (always done when the request
    /// changes transport).
    pub record_route: bool,
    /// Timer C (16.6 step 11): longer than 3 minutes.
    pub timer_c: Duration,
    /// Option tags we support in Proxy-Require (16.3 step 5).
    pub supported: Vec<String>,
}

impl Default for ProxyConfig {
    fn default() -> Self {
        ProxyConfig {
            local: Vec::new(),
            record_route: true,
            timer_c: Duration::from_secs(181),
            supported: Vec::new(),
        }
    }
}

/// A target chosen by the application (16.5), with the next hop already resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForwardTarget {
    /// The Request-URI of the forwarded request.
    pub uri: String,
    /// Route values to put on top (the Path of the binding, RFC 3327), in order.
    pub route: Vec<String>,
    /// Where to send it (RFC 3263 already applied by the application).
    pub dest: Target,
    /// Preference in thousandths: higher first; equal q are tried in parallel.
    pub q: u16,
    /// The next hops to try, in order, when `dest` fails with a transport error, a
    /// timeout before any response, or a 503 (RFC 3263 section 4.3).
    pub alternates: Vec<Target>,
}

/// What the application must decide or do.
#[derive(Debug, Clone, PartialEq)]
pub enum ProxyEvent {
    /// A request that passed 16.3 and 16.4: answer it ([`Proxy::respond`]), act as the
    /// registrar, or [`Proxy::forward`] it.
    Request {
        key: TransactionKey,
        msg: Message,
        /// Where it came from, with the connection for reliable transports.
        source: Target,
    },
    /// A request to forward without state (an ACK for a 2xx, a CANCEL with no
    /// context): already preprocessed, with Max-Forwards decremented and our Via on
    /// top; resolve its next hop (top Route, else Request-URI) and call
    /// [`Proxy::send_stateless`].
    Stateless { msg: Message },
    /// A response to send to a host name (maddr, or a sent-by without `received`):
    /// resolve it (RFC 3263 section 5) and send.
    ResolveAndSend {
        msg: Message,
        host: String,
        port: u16,
        transport: Transport,
    },
}

#[derive(Debug)]
struct Branch {
    key: TransactionKey,
    request: Message,
    dest: Target,
    /// The target it came from, with the alternates not tried yet.
    target: ForwardTarget,
    provisional: bool,
    cancel_pending: bool,
    /// Timer C fired once and sent CANCEL; the next firing gives up on the branch.
    cancelled_by_timer_c: bool,
    done: bool,
}

#[derive(Debug)]
struct Context {
    request: Message,
    invite: bool,
    branches: Vec<Branch>,
    /// Targets not tried yet, grouped by q (sequential forking).
    pending_groups: VecDeque<Vec<ForwardTarget>>,
    /// Final non-2xx responses received (3xx-6xx).
    finals: Vec<Message>,
    /// A 2xx or a final response was sent upstream.
    answered: bool,
    cancelled: bool,
    incoming: Transport,
}

/// The proxy core. See the module documentation.
#[derive(Debug)]
pub struct Proxy {
    layer: TransactionLayer,
    config: ProxyConfig,
    contexts: KeyTable<Context>,
    branch_of: KeyTable<TransactionKey>,
    timer_c: BTreeMap<(Instant, u64), TransactionKey>,
    /// Where each branch's timer C is in `timer_c`: disarming it on every response was
    /// a scan of all of them, which grew with the calls waiting for an answer (under
    /// overload, the more responses queued, the longer each one took).
    timer_c_of: KeyTable<(Instant, u64)>,
    timer_seq: u64,
    branch_seq: u64,
    events: VecDeque<ProxyEvent>,
    /// The source of the message being handled (its connection id included).
    current_source: Option<Target>,
    /// Requests route preprocessing (16.4) changed, by server transaction, from
    /// [`ProxyEvent::Request`] until they are forwarded or their transaction ends:
    /// forwarding takes this one instead of preprocessing the request again (an edit
    /// and a parse, for every in-dialog request).
    preprocessed: KeyTable<Message>,
}

/// Why a call from the application failed.
#[derive(Debug, thiserror::Error)]
pub enum ProxyError {
    #[error("there is no request waiting with that key")]
    NoSuchRequest,
    #[error("no target to forward to")]
    NoTargets,
    #[error("the forwarded request cannot be written: {0}")]
    Message(#[from] strowger_message::ParseError),
    #[error(transparent)]
    Transaction(#[from] crate::transaction::Error),
}

impl Proxy {
    pub fn new(layer: TransactionLayer, config: ProxyConfig) -> Self {
        Proxy {
            layer,
            config,
            contexts: KeyTable::default(),
            branch_of: KeyTable::default(),
            timer_c: BTreeMap::new(),
            timer_c_of: KeyTable::default(),
            timer_seq: 0,
            branch_seq: 0,
            events: VecDeque::new(),
            current_source: None,
            preprocessed: KeyTable::default(),
        }
    }

    pub fn config(&self) -> &ProxyConfig {
        &self.config
    }

    /// The transaction layer (for its counters and lookups).
    pub fn layer(&self) -> &TransactionLayer {
        &self.layer
    }

    /// Requests with a response context (for metrics).
    pub fn active_contexts(&self) -> usize {
        self.contexts.len()
    }

    // -- input ----------------------------------------------------------------------

    /// A message arrived from `source`.
    pub fn handle_message(&mut self, now: Instant, source: Target, msg: Message) {
        self.current_source = Some(source);
        self.layer.handle_message_on(now, source, msg);
        self.drain(now);
        self.current_source = None;
    }

    /// Time passed.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.layer.handle_timeout(now);
        while let Some((&(at, seq), _)) = self.timer_c.iter().next() {
            if at > now {
                break;
            }
            if let Some(client) = self.timer_c.remove(&(at, seq)) {
                self.timer_c_of.remove(&client);
                self.fire_timer_c(now, &client);
            }
        }
        self.drain(now);
    }

    /// The runtime failed to deliver a message of this transaction.
    pub fn transport_error(&mut self, now: Instant, key: &TransactionKey) {
        self.layer.transport_error(now, key);
        self.drain(now);
    }

    // -- output ---------------------------------------------------------------------

    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.layer.poll_transmit()
    }

    pub fn poll_event(&mut self) -> Option<ProxyEvent> {
        self.events.pop_front()
    }

    pub fn poll_timeout(&mut self) -> Option<Instant> {
        let c = self.timer_c.keys().next().map(|(at, _)| *at);
        match (self.layer.poll_timeout(), c) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    // -- application calls --------------------------------------------------------------

    /// Answer a request locally (the application acts as UAS or registrar, or rejects).
    pub fn respond(
        &mut self,
        now: Instant,
        key: &TransactionKey,
        msg: Message,
    ) -> Result<(), ProxyError> {
        let last = msg.status().is_some_and(|s| s >= 200);
        if last {
            // One line per transaction answered here.
            tracing::info!(
                method = msg.cseq().map_or("", |c| c.method.as_str()),
                call_id = msg.call_id().unwrap_or(""),
                code = msg.status().unwrap_or(0),
                "answered"
            );
        }
        self.layer.respond(now, key, msg)?;
        if last {
            self.drop_context(now, key);
        }
        self.drain(now);
        Ok(())
    }

    /// Answer with a status code and optional extra header lines.
    pub fn reply(
        &mut self,
        now: Instant,
        key: &TransactionKey,
        code: u16,
        reason: Option<&str>,
        headers: &[(&str, &str)],
    ) -> Result<(), ProxyError> {
        let Some(req) = self.layer.request(key).cloned() else {
            return Err(ProxyError::NoSuchRequest);
        };
        let mut b = ResponseBuilder::new(&req, code);
        if let Some(r) = reason {
            b = b.reason(r);
        }
        for (n, v) in headers {
            b = b.header(n, v);
        }
        let msg = b.build()?;
        self.respond(now, key, msg)
    }

    /// Send bytes without a transaction (stateless forwarding, 16.11).
    pub fn send_stateless(&mut self, dest: Target, msg: &Message) {
        self.layer.send_stateless(dest, msg.to_bytes());
    }

    /// Forward a request to targets (16.6): equal q in parallel, lower q after every
    /// branch of the higher group failed.
    pub fn forward(
        &mut self,
        now: Instant,
        key: &TransactionKey,
        targets: Vec<ForwardTarget>,
        source_transport: Transport,
    ) -> Result<(), ProxyError> {
        self.forward_request(now, key, None, targets, source_transport)
    }

    /// [`Proxy::forward`] with the request to forward given by the application (the
    /// preprocessed request of [`ProxyEvent::Request`], changed: for instance without
    /// the Proxy-Authorization credentials this proxy consumed, RFC 3261 22.3).
    pub fn forward_request(
        &mut self,
        now: Instant,
        key: &TransactionKey,
        request: Option<Message>,
        mut targets: Vec<ForwardTarget>,
        source_transport: Transport,
    ) -> Result<(), ProxyError> {
        if targets.is_empty() {
            return Err(ProxyError::NoTargets);
        }
        let Some(req) = self.layer.request(key).cloned() else {
            return Err(ProxyError::NoSuchRequest);
        };
        let request = match (request, self.contexts.get(key)) {
            (Some(r), _) => r,
            (None, Some(c)) => c.request.clone(),
            // What `on_request` made of it (a request it did not change is not kept).
            (None, None) => self.preprocessed.remove(key).unwrap_or(req),
        };
        self.preprocessed.remove(key);
        targets.sort_by_key(|t| std::cmp::Reverse(t.q));
        let mut groups: VecDeque<Vec<ForwardTarget>> = VecDeque::new();
        for t in targets {
            match groups.back_mut() {
                Some(g) if g.first().is_some_and(|f| f.q == t.q) => g.push(t),
                _ => groups.push_back(vec![t]),
            }
        }
        let invite = request.method() == Some(Method::Invite);
        self.contexts.insert(
            key.clone(),
            Context {
                request,
                invite,
                branches: Vec::new(),
                pending_groups: groups,
                finals: Vec::new(),
                answered: false,
                cancelled: false,
                incoming: source_transport,
            },
        );
        if invite {
            // 16.2: a 100 now rather than after 200 ms.
            let _ = self.reply(now, key, 100, None, &[]);
        }
        self.start_next_group(now, key);
        self.drain(now);
        Ok(())
    }

    // -- 16.3 and 16.4 ---------------------------------------------------------------------

    /// Whether a new request fails the checks of 16.3 (416, 483, 482, 420): a
    /// caller that answers some requests itself, without a transaction, asks first so
    /// that those requests still get these answers.
    pub fn rejects(&self, msg: &Message) -> bool {
        self.validate(msg).is_some()
    }

    /// Validate a new request (16.3); `Some` is the rejection.
    fn validate(&self, msg: &Message) -> Option<Rejection> {
        // The Request-URI parsed when the message did; its scheme is all that is read.
        let scheme = msg
            .request_uri_str()
            .and_then(|u| u.split_once(':'))
            .map(|(scheme, _)| scheme);
        if !scheme.is_some_and(|s| {
            ["sip", "sips", "tel"]
                .iter()
                .any(|k| s.eq_ignore_ascii_case(k))
        }) {
            return Some((416, "Unsupported URI Scheme".into(), Vec::new()));
        }
        if msg.max_forwards() == Some(0) && msg.method() != Some(Method::Ack) {
            return Some((483, "Too Many Hops".into(), Vec::new()));
        }
        if self.is_loop(msg) {
            return Some((482, "Loop Detected".into(), Vec::new()));
        }
        let unsupported: Vec<&str> = msg
            .tokens(HeaderName::ProxyRequire)
            .filter(|t| {
                !self
                    .config
                    .supported
                    .iter()
                    .any(|s| s.eq_ignore_ascii_case(t))
            })
            .collect();
        if !unsupported.is_empty()
            && msg.method() != Some(Method::Ack)
            && msg.method() != Some(Method::Cancel)
        {
            return Some((
                420,
                "Bad Extension".into(),
                vec![("Unsupported".into(), unsupported.join(", "))],
            ));
        }
        None
    }

    /// Whether a host and port name one of our listeners, compared without
    /// formatting the host (this runs for every response and forwarded request).
    fn host_is_ours(&self, host: &Host<'_>, port: Option<u16>) -> bool {
        self.config.local.iter().any(|l| {
            let same_host = match host {
                Host::Name(n) => l.host.eq_ignore_ascii_case(n),
                Host::V4(a) => l.host.parse::<std::net::Ipv4Addr>().is_ok_and(|x| x == *a),
                Host::V6(a, _) => l
                    .host
                    .trim_matches(['[', ']'])
                    .parse::<std::net::Ipv6Addr>()
                    .is_ok_and(|x| x == *a),
            };
            same_host && port.unwrap_or(default_port(l.transport)) == l.port
        })
    }

    fn uri_is_ours(&self, u: &Uri<'_>) -> bool {
        match u {
            Uri::Sip(s) => s.user.is_none() && self.host_is_ours(&s.host, s.port),
            _ => false,
        }
    }

    /// The loop hash of 16.6 step 8 over the fields that change when a request loops.
    fn loop_hash(msg: &Message) -> String {
        let mut h = DefaultHasher::new();
        msg.request_uri_str().hash(&mut h);
        msg.to_tag().hash(&mut h);
        msg.from_tag().hash(&mut h);
        msg.call_id().hash(&mut h);
        msg.cseq().map(|c| c.seq).hash(&mut h);
        for r in msg.get(HeaderName::Route) {
            r.hash(&mut h);
        }
        for r in msg.get(HeaderName::ProxyRequire) {
            r.hash(&mut h);
        }
        format!("{:016x}", h.finish())
    }

    fn is_loop(&self, msg: &Message) -> bool {
        // The hash only when a Via of ours carries one: most requests have none, and
        // those are told by the text, without parsing their Vias.
        if !msg.get(HeaderName::Via).any(|v| v.contains("z9hG4bK-sg")) {
            return false;
        }
        let mut hash = None;
        msg.vias().any(|v| {
            let Some(theirs) = v
                .branch()
                .and_then(|b| b.strip_prefix("z9hG4bK-sg"))
                .and_then(|b| b.split('-').next())
            else {
                return false;
            };
            self.host_is_ours(&v.host, v.port)
                && hash.get_or_insert_with(|| Self::loop_hash(msg)).as_str() == theirs
        })
    }

    /// Route preprocessing (16.4).
    fn preprocess(&self, msg: &Message) -> Option<Message> {
        let mut edit = msg.edit();
        let mut changed = false;
        // A strict router upstream put our Record-Route URI in the Request-URI.
        if msg.request_uri().is_some_and(|u| self.uri_is_ours(&u)) {
            let routes: Vec<String> = msg.routes().map(|r| r.uri.as_str().to_string()).collect();
            if let Some(last) = routes.last() {
                let keep: Vec<String> = msg
                    .get(HeaderName::Route)
                    .flat_map(strowger_message::headers::split_list)
                    .map(str::to_string)
                    .collect();
                edit = edit.request_uri(last).remove_all("Route");
                for r in keep.iter().take(keep.len().saturating_sub(1)) {
                    edit = edit.push("Route", r);
                }
                changed = true;
            }
        }
        if !changed
            && msg
                .routes()
                .next()
                .is_some_and(|r| self.uri_is_ours(&r.uri))
        {
            edit = edit.remove_first_value("Route");
            changed = true;
        }
        if changed {
            edit.finish().ok()
        } else {
            None
        }
    }

    fn local_for(&self, transport: Transport) -> Option<&LocalAddr> {
        self.config
            .local
            .iter()
            .find(|l| l.transport == transport)
            .or_else(|| self.config.local.first())
    }

    fn next_branch(&mut self, hash: &str) -> String {
        self.branch_seq += 1;
        format!("z9hG4bK-sg{hash}-{:x}", self.branch_seq)
    }

    /// The request for one target (16.6 steps 1-8).
    fn branch_request(
        &mut self,
        ctx_req: &Message,
        t: &ForwardTarget,
        incoming: Transport,
    ) -> Result<Message, ProxyError> {
        let hash = Self::loop_hash(ctx_req);
        let branch = self.next_branch(&hash);
        let out = self.local_for(t.dest.transport).cloned();
        let mut e = ctx_req.edit().request_uri(&t.uri);
        let mf = ctx_req.max_forwards().map_or(70, |m| m.saturating_sub(1));
        e = e.set("Max-Forwards", &mf.to_string());
        let dialog_creating = matches!(
            ctx_req.method(),
            Some(Method::Invite) | Some(Method::Subscribe) | Some(Method::Refer)
        ) && ctx_req.to_tag().is_none();
        if let Some(out) = &out {
            if dialog_creating && (self.config.record_route || incoming != t.dest.transport) {
                // Bridging transports: one entry per side, the inbound one below.
                if incoming != t.dest.transport {
                    if let Some(inb) = self.local_for(incoming) {
                        e = e.insert_first("Record-Route", &inb.record_route());
                    }
                }
                e = e.insert_first("Record-Route", &out.record_route());
            }
            for r in t.route.iter().rev() {
                e = e.insert_first("Route", r);
            }
            e = e.insert_first(
                "Via",
                &format!(
                    "SIP/2.0/{} {};branch={branch};rport",
                    t.dest.transport.as_str(),
                    out.sent_by()
                ),
            );
        }
        Ok(e.finish()?)
    }

    fn start_next_group(&mut self, now: Instant, key: &TransactionKey) {
        loop {
            let Some(ctx) = self.contexts.get_mut(key) else {
                return;
            };
            if ctx.cancelled || ctx.answered {
                return;
            }
            let Some(group) = ctx.pending_groups.pop_front() else {
                self.finish_if_done(now, key);
                return;
            };
            let req = ctx.request.clone();
            let incoming = ctx.incoming;
            let mut started = 0;
            for t in group {
                let msg = match self.branch_request(&req, &t, incoming) {
                    Ok(m) => m,
                    Err(e) => {
                        tracing::warn!("cannot forward to {}: {e}", t.uri);
                        continue;
                    }
                };
                match self.layer.send_request(now, msg.clone(), t.dest) {
                    Ok(client) => {
                        self.branch_of.insert(client.clone(), key.clone());
                        if req.method() == Some(Method::Invite) {
                            self.arm_timer_c(now, client.clone());
                        }
                        if let Some(ctx) = self.contexts.get_mut(key) {
                            ctx.branches.push(Branch {
                                key: client,
                                request: msg,
                                dest: t.dest,
                                target: t.clone(),
                                provisional: false,
                                cancel_pending: false,
                                cancelled_by_timer_c: false,
                                done: false,
                            });
                        }
                        started += 1;
                    }
                    Err(e) => tracing::warn!("cannot forward to {}: {e}", t.uri),
                }
            }
            if started > 0 {
                return;
            }
            // Nothing could be sent in this group: the next one, or a final answer.
            if let Some(ctx) = self.contexts.get_mut(key) {
                if ctx.pending_groups.is_empty() {
                    let r = ResponseBuilder::new(&ctx.request, 503).build();
                    if let Ok(r) = r {
                        ctx.finals.push(r);
                    }
                }
            }
        }
    }

    fn arm_timer_c(&mut self, now: Instant, client: TransactionKey) {
        self.disarm_timer_c(&client);
        self.timer_seq += 1;
        let slot = (now + self.config.timer_c, self.timer_seq);
        self.timer_c_of.insert(client.clone(), slot);
        self.timer_c.insert(slot, client);
    }

    fn disarm_timer_c(&mut self, client: &TransactionKey) {
        if let Some(slot) = self.timer_c_of.remove(client) {
            self.timer_c.remove(&slot);
        }
    }

    fn fire_timer_c(&mut self, now: Instant, client: &TransactionKey) {
        let Some(server) = self.branch_of.get(client).cloned() else {
            // 9.1: a cancelled INVITE without a final response is destroyed.
            self.layer.abandon(client);
            return;
        };
        let Some(ctx) = self.contexts.get_mut(&server) else {
            // Its context ended and cancelled it, and no final response came: 9.1, the
            // client considers the INVITE cancelled and destroys its transaction.
            self.layer.abandon(client);
            return;
        };
        let Some(b) = ctx.branches.iter_mut().find(|b| &b.key == client) else {
            self.layer.abandon(client);
            return;
        };
        if b.done {
            return;
        }
        if b.provisional && b.cancelled_by_timer_c {
            // Our CANCEL got no final response in a whole timer C (9.1): give up on the
            // branch as if it had answered 408.
            b.done = true;
            if let Ok(r) = ResponseBuilder::new(&ctx.request, 408).build() {
                ctx.finals.push(r);
            }
            self.layer.abandon(client);
            self.finish_if_done(now, &server);
        } else if b.provisional {
            // 16.8: CANCEL the branch; its 487 ends it, or the next firing does.
            b.cancelled_by_timer_c = true;
            let (req, dest) = (b.request.clone(), b.dest);
            self.arm_timer_c(now, client.clone());
            self.send_cancel(now, &req, dest);
        } else {
            // No provisional: as if a 408 arrived (16.8).
            b.done = true;
            if let Ok(r) = ResponseBuilder::new(&ctx.request, 408).build() {
                ctx.finals.push(r);
            }
            self.finish_if_done(now, &server);
        }
    }

    /// CANCEL for a branch (9.1): same Request-URI, Call-ID, To, From, CSeq number and
    /// top Via as the request, and its Route headers.
    fn send_cancel(&mut self, now: Instant, req: &Message, dest: Target) {
        let Some(uri) = req.request_uri_str() else {
            return;
        };
        let mut b = RequestBuilder::new(Method::Cancel, uri);
        if let Some(v) = req.get(HeaderName::Via).next() {
            let top = strowger_message::headers::split_list(v).next().unwrap_or(v);
            b = b.header("Via", top);
        }
        for n in [
            HeaderName::Route,
            HeaderName::To,
            HeaderName::From,
            HeaderName::CallId,
        ] {
            for v in req.get(n) {
                b = b.header(n.as_str(), v);
            }
        }
        let seq = req.cseq().map_or(1, |c| c.seq);
        match b.cseq(seq).build() {
            Ok(cancel) => {
                if let Err(e) = self.layer.send_request(now, cancel, dest) {
                    tracing::debug!("CANCEL not sent: {e}");
                }
            }
            Err(e) => tracing::warn!("cannot build CANCEL: {e}"),
        }
    }

    /// End a response context before its branches are all done (the TU answered, or
    /// the server transaction ended): its INVITE branches are cancelled first, or they
    /// would stay in Proceeding for good, since timer C looks for their context.
    fn drop_context(&mut self, now: Instant, server: &TransactionKey) {
        self.cancel_branches(now, server);
        self.contexts.remove(server);
    }

    fn cancel_branches(&mut self, now: Instant, server: &TransactionKey) {
        let Some(ctx) = self.contexts.get_mut(server) else {
            return;
        };
        let mut to_cancel = Vec::new();
        for b in ctx.branches.iter_mut().filter(|b| !b.done) {
            if b.provisional {
                to_cancel.push((b.request.clone(), b.dest));
            } else {
                // 9.1: wait for a provisional before sending CANCEL.
                b.cancel_pending = true;
            }
        }
        ctx.pending_groups.clear();
        for (req, dest) in to_cancel {
            self.send_cancel(now, &req, dest);
        }
    }

    // -- 16.7 -------------------------------------------------------------------------------

    fn on_response(&mut self, now: Instant, client: TransactionKey, msg: Message) {
        let Some(server) = self.branch_of.get(&client).cloned() else {
            // A CANCEL's own response, or a context already gone.
            return;
        };
        let Some(code) = msg.status() else { return };
        let Some(ctx) = self.contexts.get_mut(&server) else {
            // The context ended with its final answer. A 2xx to the INVITE still goes
            // upstream: a retransmission (the 200 or its ACK was lost) or another fork's
            // answer (16.7 step 5; RFC 6026 7.2, the client transaction in Accepted
            // passes each one up and the server transaction in Accepted sends it).
            if (200..300).contains(&code) && client.is_invite() {
                self.relay(now, &server, &msg);
            }
            return;
        };
        let invite = ctx.invite;
        let Some(b) = ctx.branches.iter_mut().find(|b| b.key == client) else {
            return;
        };
        if code < 200 {
            b.provisional = true;
            let pending_cancel = b.cancel_pending;
            let (breq, bdest) = (b.request.clone(), b.dest);
            if pending_cancel {
                b.cancel_pending = false;
                self.send_cancel(now, &breq, bdest);
            }
            if invite {
                // Timer C restarts on each provisional (16.7 step 2); arming disarms.
                self.arm_timer_c(now, client.clone());
            }
            if code != 100 {
                self.relay(now, &server, &msg);
            }
            return;
        }
        if code == 503 {
            // 4.3: a 503 sends the request to the next address too.
            if self.fail_over(now, &client) {
                return;
            }
            let Some(ctx) = self.contexts.get_mut(&server) else {
                return;
            };
            let Some(b) = ctx.branches.iter_mut().find(|b| b.key == client) else {
                return;
            };
            b.done = true;
        } else {
            b.done = true;
        }
        self.disarm_timer_c(&client);
        if (200..300).contains(&code) {
            // Every 2xx goes upstream at once (16.7 step 5); other branches of an INVITE
            // are cancelled (16.7 step 10).
            if let Some(ctx) = self.contexts.get_mut(&server) {
                ctx.answered = true;
            }
            self.relay(now, &server, &msg);
            if invite {
                self.cancel_branches(now, &server);
            }
            // The context goes as soon as no branch waits for an answer (held until
            // the server transaction ended, it kept every call's requests for 64*T1).
            self.finish_if_done(now, &server);
            return;
        }
        if let Some(ctx) = self.contexts.get_mut(&server) {
            ctx.finals.push(msg);
        }
        if code >= 600 {
            self.cancel_branches(now, &server);
        }
        self.finish_if_done(now, &server);
    }

    /// RFC 3263 4.3: a branch whose next hop failed before any response (or answered
    /// 503) is sent to the next address of its target, with a new branch. Returns
    /// whether it was.
    fn fail_over(&mut self, now: Instant, client: &TransactionKey) -> bool {
        let Some(server) = self.branch_of.get(client).cloned() else {
            return false;
        };
        let Some(ctx) = self.contexts.get_mut(&server) else {
            return false;
        };
        if ctx.cancelled || ctx.answered {
            return false;
        }
        let (req, incoming) = (ctx.request.clone(), ctx.incoming);
        let Some(b) = ctx.branches.iter_mut().find(|b| &b.key == client) else {
            return false;
        };
        if b.done || b.target.alternates.is_empty() {
            return false;
        }
        let mut t = b.target.clone();
        t.dest = t.alternates.remove(0);
        // The alternates left belong to the new branch only.
        b.target.alternates.clear();
        let Ok(msg) = self.branch_request(&req, &t, incoming) else {
            return false;
        };
        match self.layer.send_request(now, msg.clone(), t.dest) {
            Ok(new_key) => {
                self.disarm_timer_c(client);
                if let Some(old) = self
                    .contexts
                    .get_mut(&server)
                    .and_then(|c| c.branches.iter_mut().find(|b| &b.key == client))
                {
                    old.done = true;
                }
                tracing::info!(dest = %t.dest.addr, "failing over to the next address (RFC 3263 4.3)");
                self.branch_of.insert(new_key.clone(), server.clone());
                if req.method() == Some(Method::Invite) {
                    self.arm_timer_c(now, new_key.clone());
                }
                if let Some(ctx) = self.contexts.get_mut(&server) {
                    ctx.branches.push(Branch {
                        key: new_key,
                        request: msg,
                        dest: t.dest,
                        target: t,
                        provisional: false,
                        cancel_pending: false,
                        cancelled_by_timer_c: false,
                        done: false,
                    });
                }
                true
            }
            Err(_) => false,
        }
    }

    fn branch_failed(&mut self, now: Instant, client: &TransactionKey, code: u16) {
        let no_response = self
            .branch_of
            .get(client)
            .and_then(|s| self.contexts.get(s))
            .and_then(|c| c.branches.iter().find(|b| &b.key == client))
            .is_some_and(|b| !b.provisional);
        if no_response && self.fail_over(now, client) {
            return;
        }
        let Some(server) = self.branch_of.get(client).cloned() else {
            return;
        };
        let Some(ctx) = self.contexts.get_mut(&server) else {
            return;
        };
        let Some(b) = ctx.branches.iter_mut().find(|b| &b.key == client) else {
            return;
        };
        if b.done {
            return;
        }
        b.done = true;
        if let Ok(r) = ResponseBuilder::new(&ctx.request, code).build() {
            ctx.finals.push(r);
        }
        self.disarm_timer_c(client);
        self.finish_if_done(now, &server);
    }

    fn finish_if_done(&mut self, now: Instant, server: &TransactionKey) {
        let Some(ctx) = self.contexts.get_mut(server) else {
            return;
        };
        if ctx.branches.iter().any(|b| !b.done) {
            return;
        }
        if ctx.answered {
            self.contexts.remove(server);
            return;
        }
        if !ctx.pending_groups.is_empty() && !ctx.cancelled {
            self.start_next_group(now, server);
            return;
        }
        let best = best_response(&ctx.finals, &ctx.request);
        self.contexts.remove(server);
        if let Some(best) = best {
            self.relay(now, server, &best);
        }
    }

    /// Send a response upstream: our Via removed (16.7 step 3).
    fn relay(&mut self, now: Instant, server: &TransactionKey, msg: &Message) {
        let out = if msg
            .top_via()
            .is_some_and(|v| self.host_is_ours(&v.host, v.port))
        {
            msg.edit().remove_first_value("Via").finish()
        } else {
            Ok(msg.clone())
        };
        match out {
            Ok(m) => {
                if let Some(code) = m.status().filter(|c| *c >= 200) {
                    // One line per proxied transaction, at its final response.
                    tracing::info!(
                        method = m.cseq().map_or("", |c| c.method.as_str()),
                        call_id = m.call_id().unwrap_or(""),
                        code,
                        "proxied"
                    );
                }
                if let Err(e) = self.layer.respond(now, server, m) {
                    tracing::debug!("response not relayed: {e}");
                }
            }
            Err(e) => tracing::warn!("cannot relay response: {e}"),
        }
    }

    // -- events of the transaction layer ------------------------------------------------

    fn drain(&mut self, now: Instant) {
        while let Some(ev) = self.layer.poll_event() {
            match ev {
                Event::NewRequest {
                    key,
                    msg,
                    from,
                    transport,
                } => self.on_request(now, key, msg, from, transport),
                Event::Response { key, msg } => self.on_response(now, key, msg),
                Event::Timeout { key } => self.branch_failed(now, &key, 408),
                Event::TransportError { key } => self.branch_failed(now, &key, 503),
                Event::Terminated { key } => {
                    self.branch_of.remove(&key);
                    self.preprocessed.remove(&key);
                    self.drop_context(now, &key);
                }
                Event::AckFor2xx { msg, .. } | Event::StrayAck { msg, .. } => {
                    if let Some(m) = self.prepare_stateless(&msg) {
                        self.events.push_back(ProxyEvent::Stateless { msg: m });
                    }
                }
                Event::StrayResponse { msg, .. } => self.on_stray_response(msg),
                Event::InvalidRequest {
                    msg,
                    from,
                    transport,
                    error,
                } => {
                    if msg.method() == Some(Method::Ack) {
                        continue;
                    }
                    let code = error.status_code();
                    let reason = error.to_string();
                    if let Ok(r) = ResponseBuilder::new(&msg, code).reason(&reason).build() {
                        self.send_response_stateless(r, Target::new(from, transport));
                    }
                }
            }
        }
    }

    fn on_request(
        &mut self,
        now: Instant,
        key: TransactionKey,
        msg: Message,
        from: SocketAddr,
        transport: Transport,
    ) {
        if let Some((code, reason, headers)) = self.validate(&msg) {
            let hs: Vec<(&str, &str)> = headers
                .iter()
                .map(|(a, b)| (a.as_str(), b.as_str()))
                .collect();
            let _ = self.reply(now, &key, code, Some(&reason), &hs);
            return;
        }
        if msg.method() == Some(Method::Cancel) {
            // 16.10: answer the CANCEL and cancel the branches of its INVITE.
            match self.layer.cancel_target(&key) {
                Some(invite) if self.contexts.contains_key(&invite) => {
                    let _ = self.reply(now, &key, 200, None, &[]);
                    if let Some(ctx) = self.contexts.get_mut(&invite) {
                        ctx.cancelled = true;
                    }
                    self.cancel_branches(now, &invite);
                }
                Some(invite) => {
                    // Not forwarded yet (the application is deciding): answer both. Or
                    // answered already (its request is gone then): 9.2, the CANCEL has
                    // no effect but is answered 200 all the same.
                    let _ = self.reply(now, &key, 200, None, &[]);
                    if self.layer.request(&invite).is_some() {
                        let _ = self.reply(now, &invite, 487, None, &[]);
                    }
                }
                None => {
                    let _ = self.reply(now, &key, 481, None, &[]);
                }
            }
            return;
        }
        let msg = match self.preprocess(&msg) {
            Some(changed) => {
                self.preprocessed.insert(key.clone(), changed.clone());
                changed
            }
            None => msg,
        };
        let source = match self.current_source {
            Some(s) if s.addr == from && s.transport == transport => s,
            _ => Target::new(from, transport),
        };
        self.events
            .push_back(ProxyEvent::Request { key, msg, source });
    }

    /// 16.11 for an ACK: route preprocessing, Max-Forwards, our Via.
    fn prepare_stateless(&mut self, msg: &Message) -> Option<Message> {
        if msg.max_forwards() == Some(0) {
            return None;
        }
        let m = self.preprocess(msg).unwrap_or_else(|| msg.clone());
        let hash = Self::loop_hash(&m);
        let local = self.config.local.first().cloned()?;
        let mf = m.max_forwards().map_or(70, |x| x.saturating_sub(1));
        // A stateless branch must be the same for retransmissions: derive it from the
        // request (16.11), not from a counter.
        let branch = format!("z9hG4bK-sg{hash}-s");
        m.edit()
            .set("Max-Forwards", &mf.to_string())
            .insert_first(
                "Via",
                &format!(
                    "SIP/2.0/{} {};branch={branch}",
                    local.transport.as_str(),
                    local.sent_by()
                ),
            )
            .finish()
            .ok()
    }

    /// A response to something we forwarded statelessly: pass it on (16.11); others
    /// are dropped (RFC 6026 section 7.2 for a stateful proxy).
    fn on_stray_response(&mut self, msg: Message) {
        let ours = msg.top_via().is_some_and(|v| {
            self.host_is_ours(&v.host, v.port) && v.branch().is_some_and(|b| b.ends_with("-s"))
        });
        if !ours {
            return;
        }
        let Ok(m) = msg.edit().remove_first_value("Via").finish() else {
            return;
        };
        let Some(via) = m.top_via() else { return };
        let transport = Transport::from_via(via.transport).unwrap_or(Transport::Udp);
        let port = via.port.unwrap_or(transport.default_port());
        let host = via.received().unwrap_or("").to_string();
        let addr = host
            .trim_matches(['[', ']'])
            .parse()
            .ok()
            .or_else(|| via.host.ip())
            .map(|ip| SocketAddr::new(ip, via.rport().flatten().unwrap_or(port)));
        match addr {
            Some(a) => self.send_response_stateless(m.clone(), Target::new(a, transport)),
            None => {
                let host = via.host.to_string();
                self.events.push_back(ProxyEvent::ResolveAndSend {
                    msg: m.clone(),
                    host,
                    port,
                    transport,
                });
            }
        }
    }

    fn send_response_stateless(&mut self, r: Message, source: Target) {
        let Some(via) = r.top_via() else { return };
        match response_destination(&via, &source) {
            ResponseDestination::Target(t) => self.layer.send_stateless(t, r.to_bytes()),
            ResponseDestination::Resolve {
                host,
                port,
                transport,
            } => self.events.push_back(ProxyEvent::ResolveAndSend {
                msg: r.clone(),
                host,
                port,
                transport,
            }),
        }
    }
}

/// A response code, reason and extra header lines.
type Rejection = (u16, String, Vec<(String, String)>);

/// The best final response of a context (16.7 step 6), with challenges aggregated
/// (step 7) and 503 turned into 500.
fn best_response(finals: &[Message], request: &Message) -> Option<Message> {
    if finals.is_empty() {
        return ResponseBuilder::new(request, 408).build().ok();
    }
    let code = |m: &Message| m.status().unwrap_or(500);
    let best = if let Some(six) = finals.iter().find(|m| code(m) >= 600) {
        six.clone()
    } else {
        let min_class = finals.iter().map(|m| code(m) / 100).min().unwrap_or(5);
        let in_class: Vec<&Message> = finals
            .iter()
            .filter(|m| code(m) / 100 == min_class)
            .collect();
        let preferred = [401u16, 407, 415, 420, 484];
        in_class
            .iter()
            .find(|m| preferred.contains(&code(m)))
            .or_else(|| in_class.first())
            .map(|m| (*m).clone())?
    };
    match code(&best) {
        401 | 407 => {
            // Step 7: every challenge of every 401/407 goes into the response.
            let mut e = best
                .edit()
                .remove_all("WWW-Authenticate")
                .remove_all("Proxy-Authenticate");
            for m in finals.iter().filter(|m| matches!(code(m), 401 | 407)) {
                for v in m.get(HeaderName::WwwAuthenticate) {
                    e = e.push("WWW-Authenticate", v);
                }
                for v in m.get(HeaderName::ProxyAuthenticate) {
                    e = e.push("Proxy-Authenticate", v);
                }
            }
            e.finish().ok()
        }
        // Built from the request we received, so its Via stack is the upstream one.
        503 => ResponseBuilder::new(request, 500)
            .reason("Server Internal Error (all targets unavailable)")
            .build()
            .ok(),
        _ => Some(best),
    }
}

/// The port a URI or Via without one means for a listener of this transport.
fn default_port(t: Transport) -> u16 {
    if t == Transport::Tls {
        5061
    } else {
        5060
    }
}
