//! Registrar (RFC 3261 section 10.3) and the location service it writes to, with Path
//! (RFC 3327). Sans-I/O: the caller authenticates the request (see [`crate::digest`]),
//! passes the current wall-clock time in seconds, and sends the response this module
//! builds. Bindings live behind [`LocationStore`], so the embedded store of the server
//! (SQLite) and a shared store for several machines are interchangeable.

use std::collections::HashMap;

use strowger_message::headers::unquote;
use strowger_message::{Contact, HeaderName, Host, Message, Method, ResponseBuilder, Uri};

/// One binding of an address of record to a contact (section 10.2.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Binding {
    /// The address of record, canonical (`sip:user@domain`).
    pub aor: String,
    /// The contact URI as the UA wrote it (URI parameters kept, RFC 4475 3.3.13).
    pub contact: String,
    /// q in thousandths (1000 when absent).
    pub q: u16,
    /// Absolute expiry, seconds since the Unix epoch.
    pub expires_at: u64,
    pub call_id: String,
    pub cseq: u32,
    /// Path header values, top first (RFC 3327): the route to reach the contact.
    pub path: Vec<String>,
    /// `+sip.instance` (RFC 5626), when given.
    pub instance: Option<String>,
    /// Where the REGISTER came from (`ip:port` and transport), for NAT traversal.
    pub source: Option<String>,
}

/// Storage of bindings. Implementations make [`LocationStore::replace`] durable before
/// it returns: the registrar answers 200 only after that (issue: "a 200 to a REGISTER
/// is sent only once its binding is durable").
pub trait LocationStore {
    type Error: std::fmt::Display;
    /// The bindings of an address of record that have not expired at `now`.
    fn bindings(&mut self, aor: &str, now: u64) -> Result<Vec<Binding>, Self::Error>;
    /// Replace all bindings of an address of record atomically (section 10.3 step 8:
    /// all updates or none).
    fn replace(&mut self, aor: &str, bindings: Vec<Binding>) -> Result<(), Self::Error>;
    /// Drop expired bindings; returns how many.
    fn purge_expired(&mut self, now: u64) -> Result<usize, Self::Error>;
}

/// A location store in memory (tests, and a cache in front of a shared store).
#[derive(Debug, Default, Clone)]
pub struct MemoryStore {
    map: HashMap<String, Vec<Binding>>,
}

impl LocationStore for MemoryStore {
    type Error = std::convert::Infallible;

    fn bindings(&mut self, aor: &str, now: u64) -> Result<Vec<Binding>, Self::Error> {
        Ok(self
            .map
            .get(aor)
            .map(|v| v.iter().filter(|b| b.expires_at > now).cloned().collect())
            .unwrap_or_default())
    }

    fn replace(&mut self, aor: &str, bindings: Vec<Binding>) -> Result<(), Self::Error> {
        if bindings.is_empty() {
            self.map.remove(aor);
        } else {
            self.map.insert(aor.to_string(), bindings);
        }
        Ok(())
    }

    fn purge_expired(&mut self, now: u64) -> Result<usize, Self::Error> {
        let mut n = 0;
        self.map.retain(|_, v| {
            let before = v.len();
            v.retain(|b| b.expires_at > now);
            n += before - v.len();
            !v.is_empty()
        });
        Ok(n)
    }
}

/// Registrar settings.
#[derive(Debug, Clone)]
pub struct RegistrarConfig {
    /// Domains this registrar is responsible for (host part of the Request-URI).
    pub domains: Vec<String>,
    /// Expiry when the request gives none (section 10.2.1.1: 3600 is the usual value).
    pub default_expires: u32,
    /// Shortest expiry accepted (423 with Min-Expires below it, section 10.3 step 7).
    pub min_expires: u32,
    /// Longest expiry granted; longer requests are shortened (section 10.3 step 7).
    pub max_expires: u32,
    /// Most bindings per address of record.
    pub max_bindings: usize,
}

impl Default for RegistrarConfig {
    fn default() -> Self {
        RegistrarConfig {
            domains: vec!["localhost".into()],
            default_expires: 3600,
            min_expires: 60,
            max_expires: 86_400,
            max_bindings: 16,
        }
    }
}

/// What the registrar decided.
#[derive(Debug)]
pub enum Outcome {
    /// Send this response.
    Respond(Message),
    /// The Request-URI is not one of our domains: a proxy forwards the request
    /// (section 10.3 step 1).
    NotOurDomain,
}

/// The option tags this registrar supports (Require handling, 10.3 step 2).
pub const SUPPORTED: &[&str] = &["path"];

/// The registrar of section 10.3.
#[derive(Debug, Clone)]
pub struct Registrar {
    config: RegistrarConfig,
}

/// A failure of the store, reported by the registrar as 500.
#[derive(Debug, thiserror::Error)]
#[error("the location store failed: {0}")]
pub struct StoreError(pub String);

impl Registrar {
    pub fn new(config: RegistrarConfig) -> Self {
        Registrar { config }
    }

    pub fn config(&self) -> &RegistrarConfig {
        &self.config
    }

    /// Whether `host` is one of our domains (case-insensitive).
    pub fn is_our_domain(&self, host: &str) -> bool {
        let host = host.trim_end_matches('.');
        self.config
            .domains
            .iter()
            .any(|d| d.eq_ignore_ascii_case(host))
    }

    /// [`Registrar::is_our_domain`] for a parsed host, without writing it out.
    fn is_our_host(&self, host: &Host<'_>) -> bool {
        match host {
            Host::Name(n) => self.is_our_domain(n),
            Host::V4(a) => self.config.domains.iter().any(|d| d.parse() == Ok(*a)),
            Host::V6(a, _) => self
                .config
                .domains
                .iter()
                .any(|d| d.trim_matches(['[', ']']).parse() == Ok(*a)),
        }
    }

    /// Process a REGISTER (steps 1 to 8 of section 10.3, authentication excepted).
    ///
    /// `auth_user`: the user the request authenticated as, if the caller requires
    /// authentication (step 3); only that user may register its own address of record
    /// (step 4, answered 403). `source`: where the request came from, kept with the
    /// binding.
    pub fn process<S: LocationStore>(
        &self,
        req: &Message,
        auth_user: Option<&str>,
        source: Option<&str>,
        now: u64,
        store: &mut S,
    ) -> Result<Outcome, StoreError> {
        let reply = |code: u16| ResponseBuilder::new(req, code);
        let done = |b: ResponseBuilder<'_>| -> Result<Outcome, StoreError> {
            b.build()
                .map(Outcome::Respond)
                .map_err(|e| StoreError(format!("cannot build the response: {e}")))
        };
        if req.method() != Some(Method::Register) {
            return done(reply(405).header("Allow", "REGISTER"));
        }
        // Step 1: the Request-URI names our domain.
        match req.request_uri() {
            Some(Uri::Sip(u)) => {
                if !self.is_our_host(&u.host) {
                    return Ok(Outcome::NotOurDomain);
                }
            }
            _ => return done(reply(416)),
        }
        // Step 2: Require.
        let unsupported: Vec<&str> = req
            .tokens(HeaderName::Require)
            .filter(|t| !SUPPORTED.iter().any(|s| s.eq_ignore_ascii_case(t)))
            .collect();
        if !unsupported.is_empty() {
            return done(reply(420).header("Unsupported", &unsupported.join(", ")));
        }
        // Step 5: the To header names the address of record; it must be sip/sips and
        // in our domain (RFC 4475 3.3.4: a registrar rejects other schemes).
        let Some(to) = req.to() else {
            return done(reply(400).reason("Missing To header"));
        };
        let Uri::Sip(to_uri) = to.uri else {
            return done(
                reply(404).reason("Not Found (the To URI is not a SIP address of record)"),
            );
        };
        if !self.is_our_host(&to_uri.host) {
            return done(
                reply(404).reason("Not Found (the address of record is not in our domain)"),
            );
        }
        let aor = canonical_aor(&to_uri);
        // Step 4: an authenticated user registers only its own address of record.
        if let Some(user) = auth_user {
            let to_user = to_uri
                .user_unescaped()
                .map(|u| String::from_utf8_lossy(&u).into_owned());
            if to_user.as_deref() != Some(user) {
                return done(
                    reply(403).reason(&format!("Forbidden ({user} may not register {aor})")),
                );
            }
        }
        let call_id = req.call_id().unwrap_or("").to_string();
        let cseq = req.cseq().map_or(0, |c| c.seq);
        let header_expires = req.expires();
        let contacts: Vec<Contact<'_>> = req.contacts().collect();
        let mut current = store
            .bindings(&aor, now)
            .map_err(|e| StoreError(e.to_string()))?;

        // Step 6: Contact: * only alone and with Expires: 0.
        if contacts.contains(&Contact::Star) {
            if contacts.len() != 1 || header_expires != Some(0) {
                return done(reply(400).reason(
                    "Contact * is allowed only alone and with Expires: 0 (RFC 3261 10.3)",
                ));
            }
            // Call-ID/CSeq ordering applies to every binding removed.
            if current
                .iter()
                .any(|b| b.call_id == call_id && cseq <= b.cseq)
            {
                return done(reply(500).reason("CSeq is not higher than the binding's"));
            }
            store
                .replace(&aor, Vec::new())
                .map_err(|e| StoreError(e.to_string()))?;
            return done(reply(200));
        }

        // Step 7: each contact.
        let path: Vec<String> = req
            .get(HeaderName::Path)
            .flat_map(strowger_message::headers::split_list)
            .map(str::to_string)
            .collect();
        for c in &contacts {
            let Contact::Addr(a) = c else { continue };
            let requested = c
                .expires()
                .or(header_expires)
                .unwrap_or(self.config.default_expires);
            if requested != 0 && requested < self.config.min_expires {
                return done(
                    reply(423).header("Min-Expires", &self.config.min_expires.to_string()),
                );
            }
            let expires = requested.min(self.config.max_expires);
            let existing = current
                .iter()
                .position(|b| Uri::parse(&b.contact).is_ok_and(|u| u == a.uri));
            if let Some(i) = existing {
                let b = &current[i];
                if b.call_id == call_id && cseq <= b.cseq {
                    return done(reply(500).reason("CSeq is not higher than the binding's"));
                }
                if expires == 0 {
                    current.remove(i);
                    continue;
                }
            } else if expires == 0 {
                continue;
            }
            let binding = Binding {
                aor: aor.clone(),
                contact: a.uri.as_str().to_string(),
                q: c.q().unwrap_or(1000),
                expires_at: now + u64::from(expires),
                call_id: call_id.clone(),
                cseq,
                path: path.clone(),
                instance: a
                    .params
                    .value("+sip.instance")
                    .map(|v| unquote(v).into_owned()),
                source: source.map(str::to_string),
            };
            match existing {
                Some(i) => current[i] = binding,
                None => current.push(binding),
            }
        }
        if current.len() > self.config.max_bindings {
            return done(
                reply(403).reason("Forbidden (too many bindings for this address of record)"),
            );
        }
        // Step 8: commit, then answer with every binding (highest q first).
        let mut ok = reply(200);
        let mut order: Vec<&Binding> = current.iter().collect();
        order.sort_by_key(|b| std::cmp::Reverse(b.q));
        let mut value = String::with_capacity(128);
        for b in order {
            use std::fmt::Write as _;
            value.clear();
            let left = b.expires_at.saturating_sub(now);
            let _ = write!(value, "<{}>;expires={left}", b.contact);
            if b.q != 1000 {
                let _ = write!(value, ";q={}.{:03}", b.q / 1000, b.q % 1000);
            }
            ok = ok.header("Contact", &value);
        }
        if !contacts.is_empty() {
            store
                .replace(&aor, current)
                .map_err(|e| StoreError(e.to_string()))?;
        }
        // RFC 3327 5.3: echo the stored Path when the UA supports it.
        if req
            .tokens(HeaderName::Supported)
            .any(|t| t.eq_ignore_ascii_case("path"))
        {
            for p in &path {
                ok = ok.header("Path", p);
            }
        }
        done(ok)
    }
}

/// The canonical address of record of section 10.3 step 5: scheme, user (unescaped
/// where printable) and host lowercased; parameters and port-less form.
pub fn canonical_aor(u: &strowger_message::SipUri<'_>) -> String {
    use std::fmt::Write as _;
    let user = u.user_unescaped();
    let mut aor = String::with_capacity(48 + user.as_ref().map_or(0, |u| u.len()));
    aor.push_str(if u.secure { "sips:" } else { "sip:" });
    if let Some(user) = user {
        aor.push_str(&String::from_utf8_lossy(&user));
        aor.push('@');
    }
    let host = aor.len();
    match u.host {
        Host::Name(n) => aor.push_str(n),
        Host::V4(a) => strowger_message::push_ipv4(&mut aor, a),
        ref h => {
            let _ = write!(aor, "{h}");
        }
    }
    if let Some(h) = aor.get_mut(host..) {
        h.make_ascii_lowercase();
    }
    aor
}

#[cfg(test)]
mod tests {
    use super::*;

    fn register(extra: &str, cseq: u32) -> Message {
        Message::parse(
            format!(
                "REGISTER sip:example.com SIP/2.0\r\n\
Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK{cseq}\r\n\
Max-Forwards: 70\r\nTo: <sip:bob@example.com>\r\nFrom: <sip:bob@example.com>;tag=456248\r\n\
Call-ID: 843817637684230@998sdasdh09\r\nCSeq: {cseq} REGISTER\r\n{extra}Content-Length: 0\r\n\r\n"
            )
            .into_bytes(),
        )
        .unwrap()
    }

    fn registrar() -> Registrar {
        Registrar::new(RegistrarConfig {
            domains: vec!["example.com".into()],
            ..RegistrarConfig::default()
        })
    }

    fn respond(o: Outcome) -> Message {
        match o {
            Outcome::Respond(m) => m,
            Outcome::NotOurDomain => panic!("expected a response"),
        }
    }

    #[test]
    fn registers_and_lists_bindings_with_expires_rfc3261_10_3() {
        let r = registrar();
        let mut s = MemoryStore::default();
        let req = register("Contact: <sip:bob@192.0.2.4>\r\nExpires: 7200\r\n", 1);
        let resp = respond(r.process(&req, Some("bob"), None, 1000, &mut s).unwrap());
        assert_eq!(resp.status(), Some(200));
        let c: Vec<_> = resp.contacts().collect();
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].expires(), Some(7200));
        assert_eq!(s.bindings("sip:bob@example.com", 1000).unwrap().len(), 1);
        // Query (no Contact) lists the binding with the time left.
        let resp = respond(
            r.process(&register("", 2), Some("bob"), None, 1100, &mut s)
                .unwrap(),
        );
        assert_eq!(resp.contacts().next().unwrap().expires(), Some(7100));
    }

    #[test]
    fn contact_parameter_overrides_expires_header_rfc3261_10_3_step_7() {
        let r = registrar();
        let mut s = MemoryStore::default();
        let req = register(
            "Contact: <sip:bob@192.0.2.4>;expires=120\r\nExpires: 7200\r\n",
            1,
        );
        let resp = respond(r.process(&req, None, None, 0, &mut s).unwrap());
        assert_eq!(resp.contacts().next().unwrap().expires(), Some(120));
    }

    #[test]
    fn too_brief_interval_gets_423_with_min_expires_rfc3261_10_3() {
        let r = registrar();
        let mut s = MemoryStore::default();
        let req = register("Contact: <sip:bob@192.0.2.4>;expires=10\r\n", 1);
        let resp = respond(r.process(&req, None, None, 0, &mut s).unwrap());
        assert_eq!(resp.status(), Some(423));
        assert_eq!(resp.min_expires(), Some(60));
        assert!(s.bindings("sip:bob@example.com", 0).unwrap().is_empty());
    }

    #[test]
    fn star_only_alone_with_expires_zero_rfc3261_10_3_step_6() {
        let r = registrar();
        let mut s = MemoryStore::default();
        respond(
            r.process(
                &register("Contact: <sip:bob@192.0.2.4>\r\n", 1),
                None,
                None,
                0,
                &mut s,
            )
            .unwrap(),
        );
        let bad = register("Contact: *\r\nExpires: 30\r\n", 2);
        assert_eq!(
            respond(r.process(&bad, None, None, 0, &mut s).unwrap()).status(),
            Some(400)
        );
        let good = register("Contact: *\r\nExpires: 0\r\n", 3);
        assert_eq!(
            respond(r.process(&good, None, None, 0, &mut s).unwrap()).status(),
            Some(200)
        );
        assert!(s.bindings("sip:bob@example.com", 0).unwrap().is_empty());
    }

    #[test]
    fn older_cseq_in_same_call_id_fails_rfc3261_10_3_step_7() {
        let r = registrar();
        let mut s = MemoryStore::default();
        respond(
            r.process(
                &register("Contact: <sip:bob@192.0.2.4>\r\n", 5),
                None,
                None,
                0,
                &mut s,
            )
            .unwrap(),
        );
        let stale = register("Contact: <sip:bob@192.0.2.4>;expires=0\r\n", 4);
        assert_eq!(
            respond(r.process(&stale, None, None, 0, &mut s).unwrap()).status(),
            Some(500)
        );
        assert_eq!(s.bindings("sip:bob@example.com", 0).unwrap().len(), 1);
        let newer = register("Contact: <sip:bob@192.0.2.4>;expires=0\r\n", 6);
        assert_eq!(
            respond(r.process(&newer, None, None, 0, &mut s).unwrap()).status(),
            Some(200)
        );
        assert!(s.bindings("sip:bob@example.com", 0).unwrap().is_empty());
    }

    #[test]
    fn authenticated_user_registers_only_its_own_aor_rfc3261_10_3_step_4() {
        let r = registrar();
        let mut s = MemoryStore::default();
        let req = register("Contact: <sip:bob@192.0.2.4>\r\n", 1);
        assert_eq!(
            respond(r.process(&req, Some("alice"), None, 0, &mut s).unwrap()).status(),
            Some(403)
        );
        assert!(s.bindings("sip:bob@example.com", 0).unwrap().is_empty());
    }

    #[test]
    fn canonical_aor_lowercases_the_host_and_keeps_the_user_rfc3261_10_3_step_5() {
        let aor = |u: &str| match Uri::parse(u).unwrap() {
            Uri::Sip(s) => canonical_aor(&s),
            _ => unreachable!(),
        };
        assert_eq!(
            aor("sip:Bob@EXAMPLE.com:5070;transport=tcp"),
            "sip:Bob@example.com"
        );
        assert_eq!(aor("sips:%61lice@Example.COM"), "sips:alice@example.com");
        assert_eq!(aor("sip:bob@127.0.0.1"), "sip:bob@127.0.0.1");
        assert_eq!(aor("sip:bob@[2001:DB8::1]"), "sip:bob@[2001:db8::1]");
        assert_eq!(aor("sip:Example.com"), "sip:example.com");
    }

    #[test]
    fn domains_given_as_addresses_match_hosts_written_otherwise_rfc3261_10_3_step_1() {
        let r = Registrar::new(RegistrarConfig {
            domains: vec!["127.0.0.1".into(), "[2001:db8::1]".into()],
            ..RegistrarConfig::default()
        });
        let host = |u: &str| match Uri::parse(u).unwrap() {
            Uri::Sip(s) => r.is_our_host(&s.host),
            _ => unreachable!(),
        };
        assert!(host("sip:127.0.0.1"));
        assert!(host("sip:[2001:db8:0::1]"));
        assert!(!host("sip:127.0.0.2"));
        assert!(!host("sip:example.com"));
    }

    #[test]
    fn foreign_domain_is_forwarded_and_foreign_aor_is_404_rfc3261_10_3_steps_1_5() {
        let r = Registrar::new(RegistrarConfig {
            domains: vec!["other.org".into()],
            ..RegistrarConfig::default()
        });
        let mut s = MemoryStore::default();
        let req = register("Contact: <sip:bob@192.0.2.4>\r\n", 1);
        assert!(matches!(
            r.process(&req, None, None, 0, &mut s).unwrap(),
            Outcome::NotOurDomain
        ));
        let r2 = Registrar::new(RegistrarConfig {
            domains: vec!["example.com".into()],
            ..RegistrarConfig::default()
        });
        let req = Message::parse(
            &b"REGISTER sip:example.com SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\n\
To: <sip:bob@elsewhere.net>\r\nFrom: <sip:bob@elsewhere.net>;tag=1\r\nCall-ID: x\r\n\
CSeq: 1 REGISTER\r\nContact: <sip:bob@h>\r\nContent-Length: 0\r\n\r\n"[..],
        )
        .unwrap();
        assert_eq!(
            respond(r2.process(&req, None, None, 0, &mut s).unwrap()).status(),
            Some(404)
        );
    }

    #[test]
    fn unknown_require_gets_420_with_unsupported_rfc3261_10_3_step_2() {
        let r = registrar();
        let mut s = MemoryStore::default();
        let req = register("Require: path, foo\r\nContact: <sip:bob@h>\r\n", 1);
        let resp = respond(r.process(&req, None, None, 0, &mut s).unwrap());
        assert_eq!(resp.status(), Some(420));
        assert_eq!(resp.header("Unsupported"), Some("foo"));
    }

    #[test]
    fn q_values_order_the_listing_and_uri_params_are_kept_rfc4475_3_3_13() {
        let r = registrar();
        let mut s = MemoryStore::default();
        let req = register(
            "Contact: <sip:bob@192.0.2.4;unknownparam>;q=0.5, <sip:bob@192.0.2.5>;q=0.9\r\n",
            1,
        );
        let resp = respond(r.process(&req, None, None, 0, &mut s).unwrap());
        let c: Vec<_> = resp
            .contacts()
            .map(|c| match c {
                Contact::Addr(a) => (a.uri.as_str().to_string(), c.q()),
                Contact::Star => unreachable!(),
            })
            .collect();
        assert_eq!(
            c,
            vec![
                ("sip:bob@192.0.2.5".to_string(), Some(900)),
                ("sip:bob@192.0.2.4;unknownparam".to_string(), Some(500)),
            ]
        );
    }

    #[test]
    fn path_is_stored_and_echoed_when_supported_rfc3327() {
        let r = registrar();
        let mut s = MemoryStore::default();
        let req = register(
            "Supported: path\r\nPath: <sip:edge.example.com;lr>\r\nContact: <sip:bob@192.0.2.4>\r\n",
            1,
        );
        let resp = respond(r.process(&req, None, None, 0, &mut s).unwrap());
        assert_eq!(resp.header("Path"), Some("<sip:edge.example.com;lr>"));
        let b = s.bindings("sip:bob@example.com", 0).unwrap();
        assert_eq!(b[0].path, vec!["<sip:edge.example.com;lr>".to_string()]);
    }

    #[test]
    fn expired_bindings_are_not_listed_and_purged() {
        let r = registrar();
        let mut s = MemoryStore::default();
        respond(
            r.process(
                &register("Contact: <sip:bob@h>;expires=60\r\n", 1),
                None,
                None,
                0,
                &mut s,
            )
            .unwrap(),
        );
        assert!(s.bindings("sip:bob@example.com", 61).unwrap().is_empty());
        assert_eq!(s.purge_expired(61).unwrap(), 1);
    }
}
