//! The registration client (RFC 3261 section 10.2).
//!
//! A registration keeps its Call-ID across refreshes and increments its CSeq
//! (10.2.4). REGISTER has To and From set to the address of record, and a Contact
//! with an `expires` parameter. The binding is refreshed before it expires (at
//! [`refresh_delay`] of the granted expiry, read from the Contact of the 2xx that
//! matches ours, 10.2.4); a 423 is retried with the Min-Expires of the response
//! (10.2.8). A binding is removed with `expires=0`, all of them with `*` and
//! `Expires: 0` (10.2.2); a REGISTER without Contact asks for the bindings (10.2.3).
//! One REGISTER at a time: a request asked for while one is in flight waits for its
//! final response (10.2).

use std::time::{Duration, Instant};

use strowger_message::{new_call_id, new_tag, Contact, HeaderName, Message, Uri};

use super::{Error, Event, Purpose, RegistrationHandle, Template, UserAgent};
use crate::transaction::TransactionKey;
use crate::transport::Target;

/// When to refresh a binding granted for `expires` seconds: the smaller of half the
/// time and 30 s before expiry (at least 1 s).
///
/// ```
/// use std::time::Duration;
/// use strowger_core::ua::refresh_delay;
/// assert_eq!(refresh_delay(3600), Duration::from_secs(1800));
/// assert_eq!(refresh_delay(50), Duration::from_secs(20));
/// ```
pub fn refresh_delay(expires: u32) -> Duration {
    let e = u64::from(expires);
    let secs = if e > 30 { (e / 2).min(e - 30) } else { e / 2 };
    Duration::from_secs(secs.max(1))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Register,
    RemoveOurs,
    RemoveAll,
    Query,
}

#[derive(Debug)]
pub(super) struct Registration {
    registrar: String,
    call_id: String,
    from_tag: String,
    cseq: u32,
    /// The expiry we ask for (raised by a 423).
    expires: u32,
    refresh_at: Option<Instant>,
    pub(super) pending: Option<TransactionKey>,
    /// The kind of the REGISTER in flight (or the last one).
    mode: Mode,
    queued: Option<Mode>,
    dest: Target,
}

impl Registration {
    pub(super) fn next_timeout(&self) -> Option<Instant> {
        if self.pending.is_some() {
            None
        } else {
            self.refresh_at
        }
    }

    pub(super) fn next_cseq(&mut self) -> u32 {
        self.cseq = self.cseq.wrapping_add(1);
        self.cseq
    }
}

impl UserAgent {
    /// Section 10.2: bind our Contact to our address of record at `registrar` (a URI,
    /// e.g. `sip:example.com`) for `expires` seconds, and keep it refreshed. Results
    /// come as [`Event::RegisterResult`].
    pub fn register(
        &mut self,
        now: Instant,
        registrar: &str,
        expires: u32,
    ) -> Result<RegistrationHandle, Error> {
        let h = self.new_registration(registrar, expires)?;
        if let Err(e) = self.send_register(now, h, Mode::Register) {
            self.registrations.remove(&h);
            return Err(e);
        }
        self.drain(now);
        Ok(h)
    }

    /// A registration at `registrar` that sends nothing yet: follow it with
    /// [`unregister`](Self::unregister), [`unregister_all`](Self::unregister_all) or
    /// [`query_bindings`](Self::query_bindings) to remove or list bindings without
    /// adding ours first.
    pub fn new_registration(
        &mut self,
        registrar: &str,
        expires: u32,
    ) -> Result<RegistrationHandle, Error> {
        let dest = self.stack.dest(registrar, true)?;
        let h = RegistrationHandle(self.handle());
        self.registrations.insert(
            h,
            Registration {
                registrar: registrar.to_string(),
                call_id: new_call_id(self.stack.config.host()),
                from_tag: new_tag(),
                cseq: 0,
                expires,
                refresh_at: None,
                pending: None,
                mode: Mode::Register,
                queued: None,
                dest,
            },
        );
        Ok(h)
    }

    /// Section 10.2.2: remove our binding (`expires=0`) and stop refreshing.
    pub fn unregister(&mut self, now: Instant, h: RegistrationHandle) -> Result<(), Error> {
        self.request_register(now, h, Mode::RemoveOurs)
    }

    /// Section 10.2.2: remove every binding of the address of record (`Contact: *`,
    /// `Expires: 0`) and stop refreshing.
    pub fn unregister_all(&mut self, now: Instant, h: RegistrationHandle) -> Result<(), Error> {
        self.request_register(now, h, Mode::RemoveAll)
    }

    /// Section 10.2.3: ask for the current bindings (a REGISTER without Contact).
    pub fn query_bindings(&mut self, now: Instant, h: RegistrationHandle) -> Result<(), Error> {
        self.request_register(now, h, Mode::Query)
    }

    fn request_register(
        &mut self,
        now: Instant,
        h: RegistrationHandle,
        mode: Mode,
    ) -> Result<(), Error> {
        let reg = self
            .registrations
            .get_mut(&h)
            .ok_or(Error::NoSuchRegistration(h))?;
        if reg.pending.is_some() {
            reg.queued = Some(mode);
            return Ok(());
        }
        self.send_register(now, h, mode)?;
        self.drain(now);
        Ok(())
    }

    fn send_register(
        &mut self,
        now: Instant,
        h: RegistrationHandle,
        mode: Mode,
    ) -> Result<(), Error> {
        let aor = self.stack.config.aor.clone();
        let contact = self.stack.config.contact.clone();
        let reg = self
            .registrations
            .get_mut(&h)
            .ok_or(Error::NoSuchRegistration(h))?;
        let mut headers = vec![
            ("To".to_string(), format!("<{aor}>")),
            ("From".to_string(), format!("<{aor}>;tag={}", reg.from_tag)),
            ("Call-ID".to_string(), reg.call_id.clone()),
        ];
        match mode {
            Mode::Register => {
                headers.push((
                    "Contact".into(),
                    format!("<{contact}>;expires={}", reg.expires),
                ));
            }
            Mode::RemoveOurs => {
                headers.push(("Contact".into(), format!("<{contact}>;expires=0")));
                headers.push(("Expires".into(), "0".into()));
            }
            Mode::RemoveAll => {
                headers.push(("Contact".into(), "*".into()));
                headers.push(("Expires".into(), "0".into()));
            }
            Mode::Query => {}
        }
        let t = Template {
            method: "REGISTER".into(),
            uri: reg.registrar.clone(),
            headers,
            body: None,
            cseq: reg.next_cseq(),
            dest: reg.dest,
        };
        let (key, _) = self.stack.send(now, Purpose::Register(h), t)?;
        if let Some(reg) = self.registrations.get_mut(&h) {
            reg.pending = Some(key);
            reg.mode = mode;
            if mode != Mode::Query {
                reg.refresh_at = None;
            }
        }
        Ok(())
    }

    pub(super) fn on_register_response(
        &mut self,
        now: Instant,
        h: RegistrationHandle,
        code: u16,
        msg: Option<Message>,
    ) {
        if code < 200 {
            return;
        }
        let contact = self.stack.config.contact.clone();
        let Some(reg) = self.registrations.get_mut(&h) else {
            return;
        };
        reg.pending = None;
        let mut result = Event::RegisterResult {
            registration: h,
            code,
            expires: None,
            bindings: Vec::new(),
        };
        match (code, &msg) {
            (200..=299, Some(m)) => {
                let granted = granted_expiry(m, &contact);
                let expires = match reg.mode {
                    Mode::Register => {
                        reg.refresh_at = granted.filter(|e| *e > 0).map(|e| now + refresh_delay(e));
                        granted
                    }
                    Mode::RemoveOurs | Mode::RemoveAll => {
                        reg.refresh_at = None;
                        Some(0)
                    }
                    Mode::Query => granted,
                };
                result = Event::RegisterResult {
                    registration: h,
                    code,
                    expires,
                    bindings: m.values(HeaderName::Contact).map(str::to_string).collect(),
                };
            }
            (423, Some(m)) => {
                // 10.2.8: ask again with at least the registrar's minimum.
                if let Some(min) = m.min_expires().filter(|min| *min > reg.expires) {
                    reg.expires = min;
                    let mode = reg.mode;
                    match self.send_register(now, h, mode) {
                        Ok(()) => return,
                        Err(e) => tracing::warn!(error = %e, "could not retry REGISTER"),
                    }
                }
            }
            (503, Some(m)) => {
                // Try again when the registrar says it will be back.
                if let Some(ra) = m.retry_after() {
                    reg.refresh_at = Some(now + Duration::from_secs(u64::from(ra.seconds)));
                }
            }
            _ => reg.refresh_at = None,
        }
        self.events.push_back(result);
        let queued = self.registrations.get_mut(&h).and_then(|r| r.queued.take());
        if let Some(mode) = queued {
            if let Err(e) = self.send_register(now, h, mode) {
                tracing::warn!(error = %e, "could not send the queued REGISTER");
            }
        }
    }

    pub(super) fn registration_timeout(&mut self, now: Instant, h: RegistrationHandle) {
        let Some(reg) = self.registrations.get_mut(&h) else {
            return;
        };
        reg.refresh_at = None;
        if let Err(e) = self.send_register(now, h, Mode::Register) {
            tracing::warn!(error = %e, "could not refresh the registration");
        }
    }
}

/// Section 10.2.4: the expiry of our binding in a 2xx: the `expires` of the Contact
/// equal to ours (19.1.4), else the Expires header field. `None` when ours is absent.
fn granted_expiry(resp: &Message, contact: &str) -> Option<u32> {
    let ours = Uri::parse(contact).ok()?;
    let c = resp.contacts().find(|c| match c {
        Contact::Addr(a) => a.uri == ours,
        Contact::Star => false,
    })?;
    c.expires().or_else(|| resp.expires())
}
