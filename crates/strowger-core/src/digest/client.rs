//! The user agent's side of Digest (RFC 3261 sections 22.2 to 22.4, RFC 7616 section
//! 3.4, RFC 8760 section 2.4): pick the challenge to answer, decide whether a 401 or 407
//! is worth one more try, and write Authorization / Proxy-Authorization values with a
//! nonce count per nonce.

use std::collections::HashMap;
use std::fmt;

use strowger_message::{Auth, HeaderName, Message};

use super::{answer, strongest, to_hex, Challenge, ChallengeKind, Credentials, Error};
use super::{RandomSource, RequestParts};

/// Usernames and passwords by realm, with an optional default for any other realm
/// (RFC 3261 section 22.1: the realm tells the user which credentials to use).
#[derive(Clone, Default)]
pub struct CredentialStore {
    by_realm: HashMap<String, Secret>,
    default: Option<Secret>,
}

#[derive(Clone)]
struct Secret {
    username: String,
    password: String,
}

impl CredentialStore {
    pub fn new() -> Self {
        Self::default()
    }

    /// A store that answers every realm with one username and password.
    pub fn with_default(username: impl Into<String>, password: impl Into<String>) -> Self {
        let mut s = Self::new();
        s.set_default(username, password);
        s
    }

    /// Use these credentials for any realm without its own.
    pub fn set_default(&mut self, username: impl Into<String>, password: impl Into<String>) {
        self.default = Some(Secret {
            username: username.into(),
            password: password.into(),
        });
    }

    /// Use these credentials for `realm` only (compared exactly, RFC 7616 section 3.3).
    pub fn insert(
        &mut self,
        realm: impl Into<String>,
        username: impl Into<String>,
        password: impl Into<String>,
    ) {
        self.by_realm.insert(
            realm.into(),
            Secret {
                username: username.into(),
                password: password.into(),
            },
        );
    }

    /// `(username, password)` for `realm`.
    pub fn lookup(&self, realm: &str) -> Option<(&str, &str)> {
        self.by_realm
            .get(realm)
            .or(self.default.as_ref())
            .map(|s| (s.username.as_str(), s.password.as_str()))
    }
}

/// Realms and usernames, never passwords.
impl fmt::Debug for CredentialStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let realms: HashMap<&str, &str> = self
            .by_realm
            .iter()
            .map(|(r, s)| (r.as_str(), s.username.as_str()))
            .collect();
        f.debug_struct("CredentialStore")
            .field("by_realm", &realms)
            .field("default", &self.default.as_ref().map(|s| &s.username))
            .finish()
    }
}

/// Why a 401 or 407 should go to the user rather than be retried.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GiveUp {
    #[error("the response carries no challenge")]
    NoChallenge,
    #[error("no challenge uses a supported scheme, algorithm and qop")]
    NoSupportedChallenge,
    #[error("no credentials for realm {0:?}")]
    NoCredentials(String),
    /// The realm challenged again, not stale, after credentials were sent: the
    /// username or password is wrong (RFC 3261 section 22.2).
    #[error("realm {0:?} refused the credentials")]
    Rejected(String),
}

#[derive(Debug, Clone)]
struct RealmState {
    kind: ChallengeKind,
    challenge: Challenge,
    /// The last nonce count used with `challenge.nonce`.
    nc: u32,
}

/// A UA's memory of the challenges it answers: the current nonce per realm (and per
/// WWW- / Proxy- kind) with its nonce count, so that later requests carry credentials
/// without waiting to be challenged (RFC 3261 section 22.3), and the retry rule.
///
/// Use: on a 401 or 407, call [`ClientAuth::handle_response`]; on `Ok`, resend the
/// request (new CSeq, section 22.2) with the headers from [`ClientAuth::authorize`].
/// Call `authorize` for every later request as well.
#[derive(Debug, Clone)]
pub struct ClientAuth {
    store: CredentialStore,
    realms: Vec<RealmState>,
}

impl ClientAuth {
    pub fn new(store: CredentialStore) -> Self {
        ClientAuth {
            store,
            realms: Vec::new(),
        }
    }

    pub fn store_mut(&mut self) -> &mut CredentialStore {
        &mut self.store
    }

    /// A 401 or 407 `response` answered `request`: learn its challenges (both
    /// WWW-Authenticate and Proxy-Authenticate, since a forking proxy merges them,
    /// section 16.7) and say whether to retry.
    pub fn handle_response(&mut self, request: &Message, response: &Message) -> Result<(), GiveUp> {
        let mut offered = Vec::new();
        let mut sent = Vec::new();
        let mut any = false;
        for kind in [ChallengeKind::Server, ChallengeKind::Proxy] {
            for a in response.auth(kind.challenge_header()) {
                any = true;
                if let Ok(c) = Challenge::from_auth(&a) {
                    offered.push((kind, c));
                }
            }
            sent.extend(
                request
                    .auth(kind.credentials_header())
                    .filter_map(|a| Credentials::from_auth(&a).ok())
                    .map(|c| (kind, c)),
            );
        }
        self.learn(any, offered, &sent)
    }

    /// The same as [`ClientAuth::handle_response`] for one kind of challenge, given the
    /// challenge values and the credentials the challenged request carried in the
    /// matching header (Authorization for [`ChallengeKind::Server`]).
    ///
    /// Retry (`Ok`) when a realm is challenged for the first time, or with `stale=true`
    /// and a new nonce (RFC 7616 section 3.3); give up when a realm we sent
    /// credentials to challenges again without `stale=true` (RFC 3261 section 22.2).
    /// Several challenges for one realm: the strongest algorithm wins (RFC 8760
    /// section 2.4). Nothing is learnt when giving up.
    pub fn handle_challenge<'a, 'b>(
        &mut self,
        kind: ChallengeKind,
        challenges: impl IntoIterator<Item = Auth<'a>>,
        sent: impl IntoIterator<Item = Auth<'b>>,
    ) -> Result<(), GiveUp> {
        let mut any = false;
        let offered: Vec<(ChallengeKind, Challenge)> = challenges
            .into_iter()
            .inspect(|_| any = true)
            .filter_map(|a| Challenge::from_auth(&a).ok())
            .map(|c| (kind, c))
            .collect();
        let sent: Vec<(ChallengeKind, Credentials)> = sent
            .into_iter()
            .filter_map(|a| Credentials::from_auth(&a).ok())
            .map(|c| (kind, c))
            .collect();
        self.learn(any, offered, &sent)
    }

    fn learn(
        &mut self,
        any: bool,
        offered: Vec<(ChallengeKind, Challenge)>,
        sent: &[(ChallengeKind, Credentials)],
    ) -> Result<(), GiveUp> {
        if offered.is_empty() {
            return Err(if any {
                GiveUp::NoSupportedChallenge
            } else {
                GiveUp::NoChallenge
            });
        }
        // Group by (kind, realm), first seen first.
        let mut groups: Vec<(ChallengeKind, String, Vec<Challenge>)> = Vec::new();
        for (kind, c) in offered {
            match groups.iter_mut().find(|g| g.0 == kind && g.1 == c.realm) {
                Some(g) => g.2.push(c),
                None => groups.push((kind, c.realm.clone(), vec![c])),
            }
        }
        let mut chosen = Vec::with_capacity(groups.len());
        for (kind, realm, list) in &groups {
            let Some(c) = strongest(list) else {
                continue;
            };
            if self.store.lookup(realm).is_none() {
                return Err(GiveUp::NoCredentials(realm.clone()));
            }
            let answered = sent.iter().find(|(k, s)| k == kind && &s.realm == realm);
            if let Some((_, s)) = answered {
                // stale with the very nonce we used would loop forever.
                if !c.stale || c.nonce == s.nonce {
                    return Err(GiveUp::Rejected(realm.clone()));
                }
            }
            chosen.push((*kind, c.clone()));
        }
        for (kind, challenge) in chosen {
            let state = RealmState {
                kind,
                challenge,
                nc: 0,
            };
            match self
                .realms
                .iter_mut()
                .find(|r| r.kind == kind && r.challenge.realm == state.challenge.realm)
            {
                Some(r) => *r = state,
                None => self.realms.push(state),
            }
        }
        Ok(())
    }

    /// Headers to add to `request`: one Authorization or Proxy-Authorization per realm
    /// known, each with the next nonce count and a fresh cnonce (RFC 7616 section
    /// 3.4). Empty before any challenge.
    pub fn authorize(
        &mut self,
        request: &RequestParts<'_>,
        rng: &mut dyn RandomSource,
    ) -> Result<Vec<(HeaderName, String)>, Error> {
        let mut out = Vec::with_capacity(self.realms.len());
        for r in &mut self.realms {
            let Some((user, password)) = self.store.lookup(&r.challenge.realm) else {
                continue;
            };
            let nc = r.nc.checked_add(1).ok_or(Error::NonceCountExhausted)?;
            let cnonce = if r.challenge.qop.is_empty() {
                String::new()
            } else {
                let mut b = [0u8; 16];
                rng.fill_bytes(&mut b);
                to_hex(&b)
            };
            let creds = answer(&r.challenge, user, password, request, &cnonce, nc)?;
            r.nc = nc;
            out.push((r.kind.credentials_header(), creds.to_string()));
        }
        Ok(out)
    }

    /// Forget what was learnt about `realm` (for example after the user changed the
    /// password).
    pub fn forget(&mut self, realm: &str) {
        self.realms.retain(|r| r.challenge.realm != realm);
    }
}

#[cfg(test)]
mod tests {
    use super::super::Algorithm;
    use super::*;

    fn counter_rng() -> impl FnMut(&mut [u8]) {
        let mut n = 0u8;
        move |buf: &mut [u8]| {
            for b in buf {
                n = n.wrapping_add(1);
                *b = n;
            }
        }
    }

    const REGISTER: RequestParts<'static> = RequestParts {
        method: "REGISTER",
        uri: "sip:example.com",
        body: b"",
    };

    fn auths<'a>(values: &'a [&'a str]) -> impl Iterator<Item = Auth<'a>> + 'a {
        values.iter().filter_map(|v| Auth::parse(v).ok())
    }

    fn creds(headers: &[(HeaderName, String)]) -> Vec<Credentials> {
        headers
            .iter()
            .filter_map(|(_, v)| Credentials::parse(v).ok())
            .collect()
    }

    #[test]
    fn first_challenge_is_answered_with_counts_incrementing_per_nonce() {
        let mut ua = ClientAuth::new(CredentialStore::with_default("alice", "pw"));
        let mut rng = counter_rng();
        assert!(ua.authorize(&REGISTER, &mut rng).unwrap().is_empty());
        ua.handle_challenge(
            ChallengeKind::Server,
            auths(&[r#"Digest realm="example.com", nonce="n1", qop="auth", opaque="o""#]),
            auths(&[]),
        )
        .unwrap();
        let h = ua.authorize(&REGISTER, &mut rng).unwrap();
        assert_eq!(h.len(), 1);
        assert_eq!(h[0].0, HeaderName::Authorization);
        let c = &creds(&h)[0];
        assert_eq!(c.nc.as_deref(), Some("00000001"));
        assert_eq!(c.opaque.as_deref(), Some("o"));
        assert_eq!(
            c.cnonce.as_deref(),
            Some("0102030405060708090a0b0c0d0e0f10")
        );
        assert_eq!(c.userhash, None);
        let c2 = &creds(&ua.authorize(&REGISTER, &mut rng).unwrap())[0];
        assert_eq!(c2.nc.as_deref(), Some("00000002"));
        assert_ne!(c2.cnonce, c.cnonce);
    }

    #[test]
    fn same_realm_challenging_again_means_the_password_was_refused_rfc3261_22_2() {
        let mut ua = ClientAuth::new(CredentialStore::with_default("alice", "wrong"));
        let mut rng = counter_rng();
        let ch = [r#"Digest realm="example.com", nonce="n1", qop="auth""#];
        ua.handle_challenge(ChallengeKind::Server, auths(&ch), auths(&[]))
            .unwrap();
        let sent = ua.authorize(&REGISTER, &mut rng).unwrap();
        let sent: Vec<&str> = sent.iter().map(|(_, v)| v.as_str()).collect();
        // The registrar answers with a fresh nonce, not stale: do not retry.
        let again = [r#"Digest realm="example.com", nonce="n2", qop="auth""#];
        assert_eq!(
            ua.handle_challenge(ChallengeKind::Server, auths(&again), auths(&sent)),
            Err(GiveUp::Rejected("example.com".into()))
        );
    }

    #[test]
    fn stale_nonce_is_retried_once_with_the_new_nonce_rfc7616_3_3() {
        let mut ua = ClientAuth::new(CredentialStore::with_default("alice", "pw"));
        let mut rng = counter_rng();
        let ch = [r#"Digest realm="example.com", nonce="n1", qop="auth""#];
        ua.handle_challenge(ChallengeKind::Server, auths(&ch), auths(&[]))
            .unwrap();
        ua.authorize(&REGISTER, &mut rng).unwrap();
        let sent = ua.authorize(&REGISTER, &mut rng).unwrap();
        let sent: Vec<&str> = sent.iter().map(|(_, v)| v.as_str()).collect();
        let stale = [r#"Digest realm="example.com", nonce="n2", qop="auth", stale=true"#];
        ua.handle_challenge(ChallengeKind::Server, auths(&stale), auths(&sent))
            .unwrap();
        let c = &creds(&ua.authorize(&REGISTER, &mut rng).unwrap())[0];
        assert_eq!(
            (c.nonce.as_str(), c.nc.as_deref()),
            ("n2", Some("00000001"))
        );
        // stale again but with the nonce just used: a broken server, give up.
        let sent = ua.authorize(&REGISTER, &mut rng).unwrap();
        let sent: Vec<&str> = sent.iter().map(|(_, v)| v.as_str()).collect();
        let loop_ = [r#"Digest realm="example.com", nonce="n2", qop="auth", stale=true"#];
        assert!(ua
            .handle_challenge(ChallengeKind::Server, auths(&loop_), auths(&sent))
            .is_err());
    }

    #[test]
    fn strongest_algorithm_is_picked_rfc8760_2_4() {
        let mut ua = ClientAuth::new(CredentialStore::with_default("alice", "pw"));
        let mut rng = counter_rng();
        let ch = [
            r#"Digest realm="example.com", nonce="n1", algorithm=MD5, qop="auth""#,
            r#"Digest realm="example.com", nonce="n1", algorithm=SHA-512-256, qop="auth""#,
            r#"Digest realm="example.com", nonce="n1", algorithm=SHA-256, qop="auth""#,
            r#"Digest realm="example.com", nonce="n1", algorithm=SHA-1, qop="auth""#,
        ];
        ua.handle_challenge(ChallengeKind::Server, auths(&ch), auths(&[]))
            .unwrap();
        let c = creds(&ua.authorize(&REGISTER, &mut rng).unwrap());
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].algorithm, Some(Algorithm::Sha512_256));
        assert_eq!(c[0].response.len(), 64);
    }

    #[test]
    fn credentials_are_chosen_by_realm_and_proxy_challenges_answered_separately() {
        let mut store = CredentialStore::new();
        store.insert("proxy.example.com", "alice-p", "pp");
        store.insert("registrar.example.com", "alice-r", "rr");
        let mut ua = ClientAuth::new(store);
        let mut rng = counter_rng();
        let proxy =
            [r#"Digest realm="proxy.example.com", nonce="p1", algorithm=SHA-256, qop="auth""#];
        ua.handle_challenge(ChallengeKind::Proxy, auths(&proxy), auths(&[]))
            .unwrap();
        let registrar = [r#"Digest realm="registrar.example.com", nonce="r1""#];
        ua.handle_challenge(ChallengeKind::Server, auths(&registrar), auths(&[]))
            .unwrap();
        let h = ua.authorize(&REGISTER, &mut rng).unwrap();
        assert_eq!(h[0].0, HeaderName::ProxyAuthorization);
        assert_eq!(h[1].0, HeaderName::Authorization);
        let c = creds(&h);
        assert_eq!(c[0].username, "alice-p");
        assert_eq!(c[1].username, "alice-r");
        // RFC 2069 form for the registrar.
        assert_eq!((c[1].qop, c[1].nc.as_deref()), (None, None));
        let unknown = [r#"Digest realm="elsewhere", nonce="x""#];
        assert_eq!(
            ua.handle_challenge(ChallengeKind::Server, auths(&unknown), auths(&[])),
            Err(GiveUp::NoCredentials("elsewhere".into()))
        );
    }

    #[test]
    fn nothing_usable_gives_up() {
        let mut ua = ClientAuth::new(CredentialStore::with_default("a", "b"));
        assert_eq!(
            ua.handle_challenge(ChallengeKind::Server, auths(&[]), auths(&[])),
            Err(GiveUp::NoChallenge)
        );
        let ch = [
            r#"Basic realm="x""#,
            r#"Digest realm="x", nonce="n", algorithm=AKAv1-MD5"#,
        ];
        assert_eq!(
            ua.handle_challenge(ChallengeKind::Server, auths(&ch), auths(&[])),
            Err(GiveUp::NoSupportedChallenge)
        );
    }

    #[test]
    fn handle_response_reads_both_headers_from_messages() {
        let request = Message::parse(
            &b"REGISTER sip:example.com SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nTo: <sip:a@example.com>\r\nFrom: <sip:a@example.com>;tag=1\r\nCall-ID: c\r\nCSeq: 1 REGISTER\r\nContent-Length: 0\r\n\r\n"[..],
        )
        .unwrap();
        let response = Message::parse(
            &b"SIP/2.0 401 Unauthorized\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nTo: <sip:a@example.com>;tag=2\r\nFrom: <sip:a@example.com>;tag=1\r\nCall-ID: c\r\nCSeq: 1 REGISTER\r\nWWW-Authenticate: Digest realm=\"example.com\", nonce=\"n1\", algorithm=SHA-256, qop=\"auth\"\r\nWWW-Authenticate: Digest realm=\"example.com\", nonce=\"n1\", algorithm=MD5, qop=\"auth\"\r\nContent-Length: 0\r\n\r\n"[..],
        )
        .unwrap();
        let mut ua = ClientAuth::new(CredentialStore::with_default("a", "b"));
        ua.handle_response(&request, &response).unwrap();
        let c = creds(&ua.authorize(&REGISTER, &mut counter_rng()).unwrap());
        assert_eq!(c[0].algorithm, Some(Algorithm::Sha256));
    }

    #[test]
    fn debug_never_shows_passwords() {
        let mut s = CredentialStore::with_default("alice", "hunter2");
        s.insert("r", "bob", "swordfish");
        let text = format!("{:?}", ClientAuth::new(s));
        assert!(text.contains("alice") && text.contains("bob"));
        assert!(!text.contains("hunter2") && !text.contains("swordfish"));
    }
}
