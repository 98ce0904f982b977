//! The user agent core (RFC 3261 sections 8, 9, 10.2, 11, 12-15; RFC 3428), sans-I/O.
//!
//! A [`UserAgent`] is the transaction user of a UA: it sits on a
//! [`TransactionLayer`](crate::transaction::TransactionLayer) and keeps its boundary.
//!
//! - input: [`UserAgent::handle_message`] and [`UserAgent::handle_timeout`] (passed
//!   to the transaction layer, whose events the UA core consumes), and the calls of
//!   the application: [`invite`](UserAgent::invite), [`answer`](UserAgent::answer),
//!   [`cancel`](UserAgent::cancel), [`bye`](UserAgent::bye),
//!   [`reinvite`](UserAgent::reinvite), [`options`](UserAgent::options),
//!   [`message`](UserAgent::message), [`register`](UserAgent::register) and friends;
//! - output: [`UserAgent::poll_transmit`], [`UserAgent::poll_event`] (an [`Event`] for
//!   the application) and [`UserAgent::poll_timeout`].
//!
//! What the core does by itself: the checks of section 8.2 ([`uas`]); 481 for requests
//! in unknown dialogs and 500 for out-of-order CSeqs (12.2.2); the ACK for every 2xx,
//! re-sent for retransmissions (13.2.2.4); ACK then BYE for the 2xx of forks it does
//! not keep; retransmission of its own 2xx until the ACK comes, and BYE if it never
//! does (13.3.1.4); 491 for a re-INVITE during a re-INVITE and the retry after the
//! back-off of 14.1; CANCEL only after a provisional response (9.1); 200 and 487 for a
//! CANCEL received (9.2); OPTIONS answered (11.2); MESSAGE answered 200 (RFC 3428);
//! registration refreshes, 423 retries (10.2); 401/407 through an [`Authenticator`].
//!
//! Every call ends with exactly one [`Event::CallEnded`].
//!
//! ```
//! use std::time::Instant;
//! use strowger_core::ua::{Config, UserAgent};
//!
//! let mut alice = UserAgent::new(Config::new("sip:alice@example.com", "192.0.2.1:5060".parse().unwrap()));
//! let now = Instant::now();
//! let ping = alice.options(now, "sip:bob@192.0.2.2:5060").unwrap();
//! let out = alice.poll_transmit().unwrap();
//! assert_eq!(out.dest, "192.0.2.2:5060".parse().unwrap());
//! assert!(out.bytes.starts_with(b"OPTIONS sip:bob@192.0.2.2:5060 SIP/2.0\r\n"));
//! # let _ = ping;
//! ```

mod invite;
mod register;
pub mod uac;
pub mod uas;

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::fmt;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use strowger_message::{
    new_call_id, new_tag, HeaderName, Message, Method, ParseError, RequestBuilder, ResponseBuilder,
};

use crate::dialog::Dialog;
use crate::transaction::{self, TransactionKey, TransactionLayer};
use crate::transport::{self, ResponseDestination, Target, Transmit, Transport};

pub use invite::EndReason;
pub use register::refresh_delay;
pub use uac::{Authenticator, DigestAuthenticator};
pub use uas::Capabilities;

use invite::Call;
use register::Registration;

/// How a user agent presents itself and what it supports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub transaction: transaction::Config,
    /// Our address of record: From of requests outside a dialog, To and From of
    /// REGISTER.
    pub aor: String,
    pub display_name: Option<String>,
    /// Our Contact URI (where peers send requests within our dialogs).
    pub contact: String,
    /// The sent-by of our Via (`host:port`).
    pub sent_by: String,
    /// The transport of requests whose URI names none.
    pub transport: Transport,
    /// Where requests outside a dialog go, and requests whose next hop is a host name
    /// (the core resolves IP addresses only).
    pub outbound_proxy: Option<Target>,
    pub capabilities: Capabilities,
}

impl Config {
    /// A UA with address of record `aor` listening on `local` (UDP).
    pub fn new(aor: &str, local: SocketAddr) -> Config {
        let user = aor
            .split_once(':')
            .map(|(_, rest)| rest)
            .and_then(|r| r.split_once('@'))
            .map(|(u, _)| u.to_string());
        let contact = match user {
            Some(u) => format!("sip:{u}@{local}"),
            None => format!("sip:{local}"),
        };
        Config {
            transaction: transaction::Config::default(),
            aor: aor.to_string(),
            display_name: None,
            contact,
            sent_by: local.to_string(),
            transport: Transport::Udp,
            outbound_proxy: None,
            capabilities: Capabilities::default(),
        }
    }

    fn local_address(&self) -> String {
        match &self.display_name {
            Some(d) => format!("\"{}\" <{}>", d.replace(['"', '\\'], ""), self.aor),
            None => format!("<{}>", self.aor),
        }
    }

    fn host(&self) -> &str {
        self.sent_by
            .rsplit_once(':')
            .map_or(self.sent_by.as_str(), |(h, _)| h)
    }
}

/// A message body and its Content-Type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Body {
    pub content_type: String,
    pub bytes: Vec<u8>,
}

impl Body {
    pub fn new(content_type: &str, bytes: impl Into<Vec<u8>>) -> Body {
        Body {
            content_type: content_type.to_string(),
            bytes: bytes.into(),
        }
    }

    /// An `application/sdp` body.
    pub fn sdp(text: impl Into<Vec<u8>>) -> Body {
        Body::new("application/sdp", text)
    }

    fn of(msg: &Message) -> Option<Body> {
        if msg.body().is_empty() {
            return None;
        }
        let content_type = msg
            .get(HeaderName::ContentType)
            .next()
            .unwrap_or("application/octet-stream");
        Some(Body::new(content_type, msg.body()))
    }
}

macro_rules! handle {
    ($(#[$doc:meta])* $name:ident, $prefix:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(u64);

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!($prefix, "{}"), self.0)
            }
        }
    };
}

handle!(
    /// One call: an INVITE session, sent or received, and its dialog.
    CallHandle,
    "call-"
);
handle!(
    /// One registration (an AOR, a Contact and a Call-ID kept across refreshes).
    RegistrationHandle,
    "reg-"
);
handle!(
    /// One OPTIONS or MESSAGE request sent outside a dialog.
    RequestHandle,
    "req-"
);

/// What the application hears.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// An INVITE outside a dialog: answer it with [`UserAgent::answer`].
    IncomingCall {
        call: CallHandle,
        from: String,
        to: String,
        body: Option<Body>,
    },
    /// A provisional response above 100 to our INVITE (for forked INVITEs, one per
    /// early dialog).
    CallRinging {
        call: CallHandle,
        code: u16,
        body: Option<Body>,
    },
    /// Our INVITE was answered with a 2xx; the ACK is sent.
    CallAnswered {
        call: CallHandle,
        body: Option<Body>,
    },
    /// The ACK for our 2xx arrived (13.3.1.4).
    CallConfirmed {
        call: CallHandle,
        /// The ACK's body: the answer when our 2xx carried the offer (a late offer,
        /// RFC 3264 section 5 / RFC 3261 13.2.1).
        body: Option<Body>,
    },
    /// The call is over.
    CallEnded { call: CallHandle, reason: EndReason },
    /// A re-INVITE (section 14.2): answer it with [`UserAgent::answer`].
    ReinviteReceived {
        call: CallHandle,
        body: Option<Body>,
    },
    /// The final response to our re-INVITE (a 491 is retried by the core, 14.1).
    ReinviteResult {
        call: CallHandle,
        code: u16,
        body: Option<Body>,
    },
    /// A MESSAGE (RFC 3428), already answered 200.
    MessageReceived {
        /// The call, for a MESSAGE within a dialog.
        call: Option<CallHandle>,
        from: String,
        body: Option<Body>,
    },
    /// The final response to an OPTIONS or MESSAGE; 408 or 503 without a response on
    /// timeout or transport error (8.1.3.1).
    RequestResult {
        request: RequestHandle,
        code: u16,
        response: Option<Message>,
    },
    /// The final response to a REGISTER (10.2).
    RegisterResult {
        registration: RegistrationHandle,
        code: u16,
        /// The expiry granted to our binding (0 after a removal; `None` if the
        /// registrar did not list it or the request failed).
        expires: Option<u32>,
        /// The bindings the registrar returned (Contact values).
        bindings: Vec<String>,
    },
}

/// Why an application call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    #[error("there is no call {0}")]
    NoSuchCall(CallHandle),
    #[error("there is no registration {0}")]
    NoSuchRegistration(RegistrationHandle),
    #[error("not possible now: {0}")]
    InvalidState(&'static str),
    #[error("an INVITE transaction is already in progress in this dialog (RFC 3261 14.1)")]
    RequestPending,
    #[error("{0} is not a valid response code here")]
    InvalidStatus(u16),
    #[error("no route to {0}: its host is not an IP address and no outbound proxy is set")]
    Unresolvable(String),
    #[error("could not build the message: {0}")]
    Message(#[from] ParseError),
    #[error(transparent)]
    Transaction(#[from] transaction::Error),
}

/// Why a client transaction was started: where its responses go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Purpose {
    Invite(CallHandle),
    Reinvite(CallHandle),
    Cancel(CallHandle),
    /// A request within a call's dialog (BYE, ...): only 481 and 408 matter (12.2.1.2).
    InDialog(CallHandle),
    /// The BYE for the 2xx of a fork we did not keep (13.2.2.4).
    ForkBye,
    /// A request sent again with credentials; the new transaction carries on.
    Superseded,
    Register(RegistrationHandle),
    Request(RequestHandle),
}

/// A request as the application or a dialog made it, kept so that it can be sent
/// again with a new CSeq (after 401/407 or 423).
#[derive(Debug, Clone)]
struct Template {
    method: String,
    uri: String,
    /// Everything but Via, Max-Forwards, CSeq and the Content-* of the body.
    headers: Vec<(String, String)>,
    body: Option<Body>,
    cseq: u32,
    dest: Target,
}

impl Template {
    fn from_message(msg: &Message, dest: Target) -> Template {
        let skip = [
            HeaderName::Via,
            HeaderName::MaxForwards,
            HeaderName::CSeq,
            HeaderName::ContentLength,
            HeaderName::ContentType,
        ];
        Template {
            method: msg
                .method()
                .map(|m| m.as_str().to_string())
                .unwrap_or_default(),
            uri: msg.request_uri_str().unwrap_or_default().to_string(),
            headers: msg
                .headers()
                .filter(|h| !skip.contains(&h.name))
                .map(|h| (h.raw_name.to_string(), h.value.to_string()))
                .collect(),
            body: Body::of(msg),
            cseq: msg.cseq().map_or(1, |c| c.seq),
            dest,
        }
    }

    fn build(&self) -> Result<Message, ParseError> {
        let mut b = RequestBuilder::new(Method::from_token(&self.method), &self.uri);
        for (n, v) in &self.headers {
            b = b.header(n, v);
        }
        b = b.cseq(self.cseq);
        if let Some(body) = &self.body {
            b = b.body(&body.content_type, body.bytes.clone());
        }
        b.build()
    }

    /// Replace (or add) a header field.
    fn set(&mut self, name: &str, value: String) {
        self.headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
        self.headers.push((name.to_string(), value));
    }
}

#[derive(Debug)]
struct Outgoing {
    purpose: Purpose,
    template: Template,
    auth_tries: u8,
    /// Request-URIs already tried for this request (3xx recursion, 8.1.3.4).
    tried: Vec<String>,
}

/// A source of random numbers (glare back-off); injectable for tests.
struct Random(Box<dyn FnMut() -> u64 + Send>);

impl fmt::Debug for Random {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Random")
    }
}

struct AuthHook(Option<Box<dyn Authenticator>>);

impl fmt::Debug for AuthHook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.is_some() {
            "Authenticator"
        } else {
            "None"
        })
    }
}

/// The transaction layer and what the UA needs to send through it.
#[derive(Debug)]
struct Stack {
    layer: TransactionLayer,
    config: Config,
    clients: HashMap<TransactionKey, Outgoing>,
    auth: AuthHook,
    random: Random,
}

impl Stack {
    fn t1(&self) -> Duration {
        self.layer.config().timers.t1
    }

    fn t2(&self) -> Duration {
        self.layer.config().timers.t2
    }

    /// The next hop for a URI (8.1.2): the outbound proxy for requests outside a
    /// dialog, else the URI itself when its host is an IP address.
    fn dest(&self, uri: &str, outside_dialog: bool) -> Result<Target, Error> {
        if outside_dialog {
            if let Some(p) = self.config.outbound_proxy {
                return Ok(p);
            }
        }
        uac::resolve(uri, self.config.transport)
            .or(self.config.outbound_proxy)
            .ok_or_else(|| Error::Unresolvable(uri.to_string()))
    }

    /// Push a Via (18.1.1) and start a client transaction.
    fn send(
        &mut self,
        now: Instant,
        purpose: Purpose,
        template: Template,
    ) -> Result<(TransactionKey, Message), Error> {
        let msg = template.build()?;
        let (msg, transport) = transport::prepare_request(
            &msg,
            template.dest.transport,
            &self.config.sent_by,
            true,
            None,
        )?;
        let dest = Target {
            transport,
            ..template.dest
        };
        let key = self.layer.send_request(now, msg.clone(), dest)?;
        let template = Template { dest, ..template };
        self.clients.insert(
            key.clone(),
            Outgoing {
                purpose,
                template,
                auth_tries: 0,
                tried: Vec::new(),
            },
        );
        Ok((key, msg))
    }

    /// A request outside a dialog (8.1.1): fresh Call-ID and From tag.
    fn new_request(
        &mut self,
        method: Method<'_>,
        uri: &str,
        to: &str,
        body: Option<Body>,
    ) -> Result<Template, Error> {
        let dest = self.dest(uri, true)?;
        let mut headers = vec![
            ("To".to_string(), to.to_string()),
            (
                "From".to_string(),
                format!("{};tag={}", self.config.local_address(), new_tag()),
            ),
            ("Call-ID".to_string(), new_call_id(self.config.host())),
        ];
        if matches!(method, Method::Invite | Method::Options) {
            headers.push(("Contact".to_string(), format!("<{}>", self.config.contact)));
        }
        if method == Method::Invite {
            headers.push((
                "Allow".to_string(),
                self.config.capabilities.allow.join(", "),
            ));
            if !self.config.capabilities.supported.is_empty() {
                headers.push((
                    "Supported".to_string(),
                    self.config.capabilities.supported.join(", "),
                ));
            }
        }
        Ok(Template {
            method: method.as_str().to_string(),
            uri: uri.to_string(),
            headers,
            body,
            cseq: 1,
            dest,
        })
    }

    /// A request within `dialog` (12.2.1.1).
    fn dialog_request(
        &self,
        dialog: &mut Dialog,
        method: Method<'_>,
        body: Option<Body>,
    ) -> Result<Template, Error> {
        let r = dialog.new_request(method);
        let mut b = r.builder;
        if method == Method::Invite {
            b = b
                .contact(&format!("<{}>", self.config.contact))
                .header("Allow", &self.config.capabilities.allow.join(", "));
        }
        if let Some(body) = &body {
            b = b.body(&body.content_type, body.bytes.clone());
        }
        let msg = b.build()?;
        let dest = self.dest(&r.next_hop, false)?;
        Ok(Template::from_message(&msg, dest))
    }

    /// Section 13.2.2.4: the ACK for a 2xx, sent outside any transaction. It carries
    /// the credentials of the INVITE. Returns where it went and its bytes, to re-send
    /// for retransmissions of the 2xx.
    fn send_ack(&mut self, dialog: &Dialog, seq: u32, invite: &Message) -> Option<(Target, Bytes)> {
        let r = dialog.ack(seq);
        let mut b = r.builder;
        for name in [HeaderName::Authorization, HeaderName::ProxyAuthorization] {
            for v in invite.get(name) {
                b = b.header(name.as_str(), v);
            }
        }
        let built = b.build().ok()?;
        let dest = self.dest(&r.next_hop, false).ok()?;
        let (msg, transport) =
            transport::prepare_request(&built, dest.transport, &self.config.sent_by, true, None)
                .ok()?;
        let dest = Target { transport, ..dest };
        let bytes = msg.to_bytes();
        self.layer.send_stateless(dest, bytes.clone());
        Some((dest, bytes))
    }

    fn respond(&mut self, now: Instant, key: &TransactionKey, resp: Message) {
        if let Err(e) = self.layer.respond(now, key, resp) {
            tracing::debug!(error = %e, key = %key, "response not sent");
        }
    }

    /// A response built for `req`, sent on its transaction.
    fn reply(&mut self, now: Instant, key: &TransactionKey, req: &Message, code: u16) {
        if let Ok(r) = ResponseBuilder::new(req, code).build() {
            self.respond(now, key, r);
        }
    }

    fn random(&mut self) -> u64 {
        (self.random.0)()
    }
}

/// Where the responses to a request received from `source` go (18.2.2); a host name
/// to resolve falls back to the source.
fn response_dest(msg: &Message, source: Target) -> Target {
    match msg.top_via() {
        Some(via) => match transport::response_destination(&via, &source) {
            ResponseDestination::Target(t) => t,
            ResponseDestination::Resolve { .. } => source,
        },
        None => source,
    }
}

/// A user agent's transaction user, sans-I/O. See the [module](self) docs.
#[derive(Debug)]
pub struct UserAgent {
    stack: Stack,
    calls: BTreeMap<CallHandle, Call>,
    registrations: BTreeMap<RegistrationHandle, Registration>,
    merged: uas::MergedRequests,
    events: VecDeque<Event>,
    next_handle: u64,
}

impl UserAgent {
    pub fn new(config: Config) -> UserAgent {
        let layer = TransactionLayer::new(config.transaction.clone());
        let ttl = layer.config().timers.t1_x64();
        UserAgent {
            stack: Stack {
                layer,
                config,
                clients: HashMap::new(),
                auth: AuthHook(None),
                random: Random(Box::new(|| {
                    u64::from_str_radix(&new_tag(), 16).unwrap_or_default()
                })),
            },
            calls: BTreeMap::new(),
            registrations: BTreeMap::new(),
            merged: uas::MergedRequests::new(ttl),
            events: VecDeque::new(),
            next_handle: 1,
        }
    }

    /// Replace the source of randomness (used for the glare back-off of 14.1).
    pub fn with_random(mut self, random: impl FnMut() -> u64 + Send + 'static) -> UserAgent {
        self.stack.random = Random(Box::new(random));
        self
    }

    /// Answer 401 and 407 through `auth` (without one they are reported as failures).
    pub fn set_authenticator(&mut self, auth: Box<dyn Authenticator>) {
        self.stack.auth = AuthHook(Some(auth));
    }

    pub fn config(&self) -> &Config {
        &self.stack.config
    }

    /// The dialog of a call: the confirmed one, else the first early one.
    pub fn dialog(&self, call: CallHandle) -> Option<&Dialog> {
        self.calls.get(&call).and_then(Call::dialog)
    }

    // -- input ----------------------------------------------------------------------

    /// A message arrived from `from` over `transport`.
    pub fn handle_message(
        &mut self,
        now: Instant,
        from: SocketAddr,
        transport: Transport,
        msg: Message,
    ) {
        self.stack.layer.handle_message(now, from, transport, msg);
        self.drain(now);
    }

    /// Time passed: fire the transaction timers and the UA's own (2xx retransmission,
    /// glare retry, registration refresh).
    pub fn handle_timeout(&mut self, now: Instant) {
        self.stack.layer.handle_timeout(now);
        self.drain(now);
        let due: Vec<CallHandle> = self
            .calls
            .iter()
            .filter(|(_, c)| c.next_timeout().is_some_and(|t| t <= now))
            .map(|(h, _)| *h)
            .collect();
        for h in due {
            self.call_timeout(now, h);
            self.drain(now);
        }
        let due: Vec<RegistrationHandle> = self
            .registrations
            .iter()
            .filter(|(_, r)| r.next_timeout().is_some_and(|t| t <= now))
            .map(|(h, _)| *h)
            .collect();
        for h in due {
            self.registration_timeout(now, h);
            self.drain(now);
        }
    }

    /// Bytes from [`UserAgent::poll_transmit`] could not be sent (the runtime's send
    /// failed, or their connection closed first): the request's client transaction
    /// fails as on a 503 (sections 8.1.3.1, 17.1.4).
    pub fn undeliverable(&mut self, now: Instant, bytes: &[u8]) {
        let Ok(msg) = Message::parse(bytes.to_vec()) else {
            return;
        };
        if let Some(key) = TransactionKey::client(&msg).filter(|_| msg.is_request()) {
            if self.stack.layer.state(&key).is_some() {
                self.stack.layer.transport_error(now, &key);
                self.drain(now);
            }
        }
    }

    // -- output ---------------------------------------------------------------------

    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.stack.layer.poll_transmit()
    }

    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// When [`UserAgent::handle_timeout`] must be called next.
    pub fn poll_timeout(&mut self) -> Option<Instant> {
        let calls = self.calls.values().filter_map(Call::next_timeout);
        let regs = self.registrations.values().filter_map(|r| r.next_timeout());
        self.stack
            .layer
            .poll_timeout()
            .into_iter()
            .chain(calls)
            .chain(regs)
            .min()
    }

    // -- requests outside a dialog --------------------------------------------------

    /// Section 11: ask `uri` what it supports. The answer comes as
    /// [`Event::RequestResult`].
    pub fn options(&mut self, now: Instant, uri: &str) -> Result<RequestHandle, Error> {
        let t = self
            .stack
            .new_request(Method::Options, uri, &format!("<{uri}>"), None)?;
        let h = RequestHandle(self.handle());
        self.stack.send(now, Purpose::Request(h), t)?;
        Ok(h)
    }

    /// RFC 3428: send a MESSAGE to `uri`. The answer comes as [`Event::RequestResult`].
    pub fn message(&mut self, now: Instant, uri: &str, body: Body) -> Result<RequestHandle, Error> {
        let t = self
            .stack
            .new_request(Method::Message, uri, &format!("<{uri}>"), Some(body))?;
        let h = RequestHandle(self.handle());
        self.stack.send(now, Purpose::Request(h), t)?;
        Ok(h)
    }

    fn handle(&mut self) -> u64 {
        self.next_handle += 1;
        self.next_handle
    }

    // -- the transaction layer's events ---------------------------------------------

    fn drain(&mut self, now: Instant) {
        while let Some(e) = self.stack.layer.poll_event() {
            self.on_layer_event(now, e);
        }
    }

    fn on_layer_event(&mut self, now: Instant, e: transaction::Event) {
        use transaction::Event as L;
        match e {
            L::NewRequest {
                key,
                msg,
                from,
                transport,
            } => self.on_request(now, key, msg, Target::new(from, transport)),
            L::Response { key, msg } => self.on_response(now, key, msg),
            L::Timeout { key } if key.is_client() => self.on_final(now, key, 408, None),
            L::TransportError { key } if key.is_client() => self.on_final(now, key, 503, None),
            L::Timeout { .. } | L::TransportError { .. } => {}
            L::Terminated { key } => {
                if let Some(o) = self.stack.clients.remove(&key) {
                    if let Purpose::Invite(h) | Purpose::Reinvite(h) = o.purpose {
                        self.forget_if_done(h);
                    }
                }
            }
            L::AckFor2xx { msg, .. } | L::StrayAck { msg, .. } => self.on_ack(now, msg),
            // RFC 6026: a UA drops responses no transaction wants.
            L::StrayResponse { .. } => {}
            L::InvalidRequest {
                msg,
                from,
                transport,
                error,
            } => {
                // Section 8.2: answered statelessly (no transaction was made).
                if let Some(resp) = uas::bad_request(&msg, &error) {
                    let dest = response_dest(&msg, Target::new(from, transport));
                    self.stack.layer.send_stateless(dest, resp.to_bytes());
                }
            }
        }
    }

    fn on_request(&mut self, now: Instant, key: TransactionKey, msg: Message, source: Target) {
        if let Some(resp) = uas::check_request(
            now,
            &msg,
            &key,
            &self.stack.config.capabilities,
            &mut self.merged,
        ) {
            self.stack.respond(now, &key, resp);
            return;
        }
        let method = msg.method().map(|m| m.as_str().to_string());
        match method.as_deref() {
            Some("CANCEL") => self.on_cancel(now, key, msg),
            Some(_) if msg.to_tag().is_some() => self.on_in_dialog(now, key, msg, source),
            Some("INVITE") => self.on_invite(now, key, msg, source),
            Some("OPTIONS") => self.answer_options(now, &key, &msg),
            Some("MESSAGE") => {
                self.stack.reply(now, &key, &msg, 200);
                self.events.push_back(Event::MessageReceived {
                    call: None,
                    from: msg
                        .from()
                        .map(|f| f.uri.as_str().to_string())
                        .unwrap_or_default(),
                    body: Body::of(&msg),
                });
            }
            // A BYE needs a dialog (12.2.2 / 15.1.2).
            Some("BYE") => self.stack.reply(now, &key, &msg, 481),
            _ => self.stack.reply(now, &key, &msg, 501),
        }
    }

    /// Section 11.2: 200 with Allow, Accept, Accept-Encoding, Accept-Language and
    /// Supported.
    fn answer_options(&mut self, now: Instant, key: &TransactionKey, req: &Message) {
        let mut b = ResponseBuilder::new(req, 200);
        for (n, v) in self.stack.config.capabilities.advertise() {
            b = b.header(n, &v);
        }
        b = b.header("Contact", &format!("<{}>", self.stack.config.contact));
        if let Ok(r) = b.build() {
            self.stack.respond(now, key, r);
        }
    }

    fn on_response(&mut self, now: Instant, key: TransactionKey, msg: Message) {
        if uac::is_misrouted(&msg) {
            tracing::debug!("response with more than one Via discarded (8.1.3.3)");
            return;
        }
        let Some(code) = msg.status() else { return };
        if code >= 200 && self.retry_with_credentials(now, &key, &msg) {
            return;
        }
        if (300..400).contains(&code) && self.recurse_on_redirect(now, &key, &msg) {
            return;
        }
        self.on_final_or_provisional(now, key, code, Some(msg));
    }

    /// A final outcome without a response (timer B/F: 408, transport error: 503).
    fn on_final(&mut self, now: Instant, key: TransactionKey, code: u16, msg: Option<Message>) {
        self.on_final_or_provisional(now, key, code, msg);
    }

    fn on_final_or_provisional(
        &mut self,
        now: Instant,
        key: TransactionKey,
        code: u16,
        msg: Option<Message>,
    ) {
        let Some(purpose) = self.stack.clients.get(&key).map(|o| o.purpose) else {
            return;
        };
        match purpose {
            Purpose::Invite(h) => self.on_invite_response(now, h, &key, code, msg),
            Purpose::Reinvite(h) => self.on_reinvite_response(now, h, &key, code, msg),
            Purpose::InDialog(h) if matches!(code, 408 | 481) => {
                // 12.2.1.2: the dialog is gone.
                self.end_call(now, h, EndReason::DialogGone { code });
            }
            Purpose::InDialog(_) | Purpose::Cancel(_) | Purpose::ForkBye | Purpose::Superseded => {}
            Purpose::Register(h) => self.on_register_response(now, h, code, msg),
            Purpose::Request(request) if code >= 200 => {
                self.events.push_back(Event::RequestResult {
                    request,
                    code,
                    response: msg,
                });
            }
            Purpose::Request(_) => {}
        }
    }

    /// Sections 8.1.3.5 and 22.2: a 401 or 407 is answered by the authenticator with
    /// new credentials, and the request sent again with a new CSeq. Returns whether it
    /// was.
    fn retry_with_credentials(
        &mut self,
        now: Instant,
        key: &TransactionKey,
        resp: &Message,
    ) -> bool {
        if !matches!(resp.status(), Some(401 | 407)) {
            return false;
        }
        let Some(outgoing) = self.stack.clients.get(key) else {
            return false;
        };
        if outgoing.auth_tries >= 2 || matches!(outgoing.purpose, Purpose::Cancel(_)) {
            return false;
        }
        let Some(auth) = self.stack.auth.0.as_mut() else {
            return false;
        };
        let Ok(request) = outgoing.template.build() else {
            return false;
        };
        let Some(fields) = auth.authorize(&request, resp) else {
            return false;
        };
        let purpose = outgoing.purpose;
        let tries = outgoing.auth_tries + 1;
        let mut t = outgoing.template.clone();
        for (n, v) in fields {
            t.set(&n, v);
        }
        t.cseq = match purpose {
            Purpose::Reinvite(h) | Purpose::InDialog(h) => {
                match self.calls.get_mut(&h).and_then(Call::dialog_mut) {
                    Some(d) => d.next_local_seq(),
                    None => return false,
                }
            }
            Purpose::Register(h) => match self.registrations.get_mut(&h) {
                Some(r) => r.next_cseq(),
                None => return false,
            },
            _ => t.cseq.wrapping_add(1),
        };
        match self.stack.send(now, purpose, t) {
            Ok((new_key, msg)) => {
                if let Some(o) = self.stack.clients.get_mut(&new_key) {
                    o.auth_tries = tries;
                }
                // The old transaction's purpose is over.
                if let Some(o) = self.stack.clients.get_mut(key) {
                    o.purpose = Purpose::Superseded;
                }
                self.retargeted(purpose, new_key, msg);
                true
            }
            Err(e) => {
                tracing::debug!(error = %e, "could not retry with credentials");
                false
            }
        }
    }

    /// Section 8.1.3.4: recurse on a 3xx, sending the request to the first Contact
    /// (best q first) not tried yet, with the same Call-ID, From and To and a new
    /// CSeq; at most 5 redirections per request. Returns whether it did. Only
    /// requests outside a dialog (initial INVITE, OPTIONS, MESSAGE) recurse.
    fn recurse_on_redirect(&mut self, now: Instant, key: &TransactionKey, resp: &Message) -> bool {
        const MAX_REDIRECTS: usize = 5;
        let Some(outgoing) = self.stack.clients.get(key) else {
            return false;
        };
        if !matches!(outgoing.purpose, Purpose::Invite(_) | Purpose::Request(_)) {
            return false;
        }
        if outgoing.tried.len() >= MAX_REDIRECTS {
            return false;
        }
        let mut tried = outgoing.tried.clone();
        tried.push(outgoing.template.uri.clone());
        let Some(next) = uac::redirect_targets(resp).into_iter().find(|t| {
            !tried.contains(t)
                && matches!(
                    strowger_message::Uri::parse(t),
                    Ok(strowger_message::Uri::Sip(_))
                )
        }) else {
            return false;
        };
        let Ok(dest) = self.stack.dest(&next, true) else {
            return false;
        };
        let purpose = outgoing.purpose;
        let mut t = outgoing.template.clone();
        t.uri = next.clone();
        t.dest = dest;
        t.cseq = t.cseq.wrapping_add(1);
        match self.stack.send(now, purpose, t) {
            Ok((new_key, msg)) => {
                tracing::info!(target = %next, "following the redirection (8.1.3.4)");
                if let Some(o) = self.stack.clients.get_mut(&new_key) {
                    o.tried = tried;
                }
                if let Some(o) = self.stack.clients.get_mut(key) {
                    o.purpose = Purpose::Superseded;
                }
                self.retargeted(purpose, new_key, msg);
                true
            }
            Err(e) => {
                tracing::debug!(error = %e, "could not follow the redirection");
                false
            }
        }
    }

    /// A request was sent again (credentials, 423): the call or registration follows
    /// the new transaction.
    fn retargeted(&mut self, purpose: Purpose, key: TransactionKey, msg: Message) {
        match purpose {
            Purpose::Invite(h) => {
                if let Some(c) = self.calls.get_mut(&h) {
                    c.resent_invite(key, msg);
                }
            }
            Purpose::Reinvite(h) => {
                if let Some(c) = self.calls.get_mut(&h) {
                    c.resent_reinvite(key, msg);
                }
            }
            Purpose::Register(h) => {
                if let Some(r) = self.registrations.get_mut(&h) {
                    r.pending = Some(key);
                }
            }
            _ => {}
        }
    }
}
