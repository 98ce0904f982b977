//! The registrar's and proxy's side of Digest (RFC 3261 sections 22.1 and 22.3, RFC
//! 7616 sections 3.3, 3.4 and 5, RFC 8760 section 2.4): challenges, nonces that can be
//! checked without keeping them, and verification of credentials against a stored HA1.
//!
//! A nonce is `hex(issued || salt || tag)`: the issue time in Unix seconds (8 bytes),
//! 12 random bytes, and the first 16 bytes of HMAC-SHA-256 under the server key over a
//! label, the realm, the time and the salt. Any server holding the key can check it;
//! when its lifetime has passed, correct credentials get [`Verdict::Stale`] so the
//! client retries with a new nonce without asking the user (RFC 7616 section 3.3).
//!
//! Replay protection (RFC 7616 section 5.4): the highest nonce count seen per nonce is
//! kept in a bounded map; a count not above it is refused. When the map is full,
//! expired nonces go first, then the older half, and every nonce issued up to then is
//! treated as stale from that point, so forgetting a nonce never lets it be replayed.
//!
//! Time is a [`SystemTime`] passed in, not an `Instant`, because the issue time travels
//! inside the nonce and must mean the same after a restart and on another server of a
//! cluster sharing the key.

use std::collections::HashMap;
use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hmac::{Hmac, Mac};
use sha2::Sha256;
use strowger_message::{Auth, Message, Uri};

use super::{constant_time_eq, constant_time_eq_ignore_ascii_case, from_hex_into};
use super::{response_from_ha1, to_hex};
use super::{Algorithm, Challenge, ChallengeKind, Credentials, Error, Hash, Qop, QopParts};
use super::{RandomSource, RequestParts};

/// How a server challenges.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerConfig {
    pub realm: String,
    /// How long a nonce is good for; after that, correct credentials are stale.
    pub nonce_lifetime: Duration,
    /// Offered in this order, one WWW-Authenticate / Proxy-Authenticate each (RFC 8760
    /// section 2.4: most preferred first).
    pub algorithms: Vec<Algorithm>,
    /// The qop options offered. Empty means RFC 2069 challenges, which give no
    /// replay protection; keep `auth`.
    pub qop: Vec<Qop>,
    /// Sent in challenges and required back unchanged.
    pub opaque: Option<String>,
    /// The most nonces whose counts are remembered at once.
    pub max_tracked_nonces: usize,
}

impl ServerConfig {
    /// SHA-256 then MD5, qop=auth, 300 s nonces, up to 65 536 nonces tracked.
    pub fn new(realm: impl Into<String>) -> Self {
        ServerConfig {
            realm: realm.into(),
            nonce_lifetime: Duration::from_secs(300),
            algorithms: vec![Algorithm::Sha256, Algorithm::Md5],
            qop: vec![Qop::Auth],
            opaque: None,
            max_tracked_nonces: 65_536,
        }
    }
}

/// The outcome of checking a request's credentials (RFC 3261 section 22.3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Authenticated as this username.
    Ok(String),
    /// The credentials are right but the nonce is too old (or forgotten): challenge
    /// again with `stale=true`.
    Stale,
    /// Refused: challenge again (401/407) or answer 403, and log the reason.
    Invalid(InvalidReason),
    /// No Digest credentials for our realm: challenge.
    Missing,
}

/// Why credentials were refused; for logs, not for the peer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidReason {
    #[error("malformed credentials: {0}")]
    Malformed(Error),
    #[error("algorithm {0} was not offered")]
    AlgorithmNotOffered(Algorithm),
    #[error("qop was not offered or is missing")]
    QopNotOffered,
    #[error("a hashed username (userhash=true) was not offered")]
    UserhashNotOffered,
    #[error("the uri parameter does not match the Request-URI")]
    UriMismatch,
    #[error("the nonce was not issued by this server")]
    BadNonce,
    #[error("the opaque parameter was not echoed")]
    OpaqueMismatch,
    #[error("unknown user")]
    UnknownUser,
    #[error("wrong response (wrong password?)")]
    WrongResponse,
    #[error("the nonce count was already used (replay)")]
    Replayed,
}

/// Stored HA1 values (see [`super::ha1`]) by username, realm and hash, as lower-case
/// hex. Closures `Fn(&str, &str, Hash) -> Option<String>` implement it.
pub trait Ha1Store {
    fn ha1(&self, username: &str, realm: &str, hash: Hash) -> Option<String>;
}

impl<F: Fn(&str, &str, Hash) -> Option<String>> Ha1Store for F {
    fn ha1(&self, username: &str, realm: &str, hash: Hash) -> Option<String> {
        self(username, realm, hash)
    }
}

/// The server key is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("the nonce key must be at least {min} bytes, got {len}")]
    TooShort { min: usize, len: usize },
}

#[derive(Debug, Clone, Copy)]
struct Seen {
    issued: u64,
    last_nc: u32,
}

const NONCE_LABEL: &[u8] = b"strowger digest nonce v1\0";
const SALT_LEN: usize = 12;
const TAG_LEN: usize = 16;
const NONCE_LEN: usize = 8 + SALT_LEN + TAG_LEN;
/// Nonces dated later than now by more than this are treated as stale: the clock
/// went back, or another server of the cluster runs ahead.
const FUTURE_SKEW: u64 = 30;

/// A registrar's or proxy's Digest authenticator: issues challenges and verifies
/// credentials (RFC 3261 sections 22.1 and 22.3).
pub struct ServerAuth {
    mac: Hmac<Sha256>,
    config: ServerConfig,
    seen: HashMap<String, Seen, ahash::RandomState>,
    /// Nonces issued at or before this second that are not in `seen` were forgotten.
    forgotten_through: Option<u64>,
}

impl fmt::Debug for ServerAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerAuth")
            .field("config", &self.config)
            .field("tracked_nonces", &self.seen.len())
            .field("forgotten_through", &self.forgotten_through)
            .finish_non_exhaustive()
    }
}

fn unix_secs(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

impl ServerAuth {
    /// The shortest key accepted.
    pub const MIN_KEY_LEN: usize = 16;

    /// `key` signs the nonces: random, at least 16 bytes (32 is good), shared by the
    /// servers of a cluster, kept secret.
    pub fn new(key: &[u8], config: ServerConfig) -> Result<Self, KeyError> {
        let too_short = KeyError::TooShort {
            min: Self::MIN_KEY_LEN,
            len: key.len(),
        };
        if key.len() < Self::MIN_KEY_LEN {
            return Err(too_short);
        }
        let mac = Hmac::<Sha256>::new_from_slice(key).map_err(|_| too_short)?;
        Ok(ServerAuth {
            mac,
            config,
            seen: HashMap::default(),
            forgotten_through: None,
        })
    }

    pub fn config(&self) -> &ServerConfig {
        &self.config
    }

    /// Challenges to send in a 401 (WWW-Authenticate) or 407 (Proxy-Authenticate), one
    /// per configured algorithm, in order, sharing one fresh nonce (RFC 8760 section
    /// 2.4, RFC 3261 section 22.1). Write each with `to_string()`.
    pub fn challenge(
        &self,
        now: SystemTime,
        stale: bool,
        rng: &mut dyn RandomSource,
    ) -> Vec<Challenge> {
        let nonce = self.new_nonce(unix_secs(now), rng);
        self.config
            .algorithms
            .iter()
            .map(|&algorithm| Challenge {
                realm: self.config.realm.clone(),
                nonce: nonce.clone(),
                opaque: self.config.opaque.clone(),
                algorithm,
                qop: self.config.qop.clone(),
                stale,
                userhash_offered: false,
            })
            .collect()
    }

    /// The values of [`ServerAuth::challenge`], written: the same text as each
    /// challenge's `to_string()`, without building the challenges (a registrar writes
    /// them for every REGISTER that comes without credentials).
    pub fn challenge_values(
        &self,
        now: SystemTime,
        stale: bool,
        rng: &mut dyn RandomSource,
    ) -> Vec<String> {
        let nonce = self.new_nonce(unix_secs(now), rng);
        let c = &self.config;
        c.algorithms
            .iter()
            .map(|&algorithm| {
                let mut v = String::with_capacity(96 + c.realm.len() + nonce.len());
                let _ = super::write_challenge(
                    &mut v,
                    &super::ChallengeText {
                        realm: &c.realm,
                        nonce: &nonce,
                        opaque: c.opaque.as_deref(),
                        stale,
                        algorithm,
                        qop: &c.qop,
                    },
                );
                v
            })
            .collect()
    }

    fn tag(&self, issued_and_salt: &[u8]) -> [u8; TAG_LEN] {
        let mut m = self.mac.clone();
        m.update(NONCE_LABEL);
        m.update(self.config.realm.as_bytes());
        m.update(b"\0");
        m.update(issued_and_salt);
        let full = m.finalize().into_bytes();
        let mut tag = [0u8; TAG_LEN];
        for (t, f) in tag.iter_mut().zip(full.iter()) {
            *t = *f;
        }
        tag
    }

    fn new_nonce(&self, issued: u64, rng: &mut dyn RandomSource) -> String {
        let mut raw = [0u8; NONCE_LEN];
        raw[..8].copy_from_slice(&issued.to_be_bytes());
        rng.fill_bytes(&mut raw[8..8 + SALT_LEN]);
        let tag = self.tag(&raw[..8 + SALT_LEN]);
        raw[8 + SALT_LEN..].copy_from_slice(&tag);
        to_hex(&raw)
    }

    /// The issue time of a nonce this server (or its cluster) made.
    fn nonce_issued(&self, nonce: &str) -> Option<u64> {
        let mut raw = [0u8; NONCE_LEN];
        if !from_hex_into(nonce, &mut raw) {
            return None;
        }
        let (body, tag) = raw.split_at(8 + SALT_LEN);
        if !constant_time_eq(&self.tag(body), tag) {
            return None;
        }
        let mut t = [0u8; 8];
        t.copy_from_slice(&body[..8]);
        Some(u64::from_be_bytes(t))
    }

    /// Check `request`'s credentials (the values of its Authorization header for a
    /// registrar or UAS, Proxy-Authorization for a proxy), as RFC 3261 section 22.3
    /// and RFC 7616 section 3.4 say: the credentials for our realm; username known;
    /// algorithm and qop as offered; uri equal to the Request-URI; nonce ours and
    /// current; nonce count not seen before; response right (compared in constant
    /// time).
    pub fn verify<'a>(
        &mut self,
        now: SystemTime,
        request: &RequestParts<'_>,
        credentials: impl IntoIterator<Item = Auth<'a>>,
        store: &dyn Ha1Store,
    ) -> Verdict {
        // Each value's parameters are read once, for the realm and then the rest.
        let realm = self.config.realm.as_str();
        let ours = credentials
            .into_iter()
            .filter(Auth::is_digest)
            .map(|a| super::ParamList::of(&a))
            .find(|p| p.is("realm", realm));
        let Some(params) = ours else {
            return Verdict::Missing;
        };
        match Credentials::from_params(&params) {
            Ok(c) => self.check(unix_secs(now), request, &c, store),
            Err(e) => Verdict::Invalid(InvalidReason::Malformed(e)),
        }
    }

    /// [`ServerAuth::verify`] for a parsed request: a registrar passes
    /// [`ChallengeKind::Server`], a proxy [`ChallengeKind::Proxy`].
    pub fn verify_request(
        &mut self,
        now: SystemTime,
        request: &Message,
        kind: ChallengeKind,
        store: &dyn Ha1Store,
    ) -> Verdict {
        let (Some(method), Some(uri)) = (request.method(), request.request_uri_str()) else {
            return Verdict::Missing;
        };
        let parts = RequestParts {
            method: method.as_str(),
            uri,
            body: request.body(),
        };
        self.verify(now, &parts, request.auth(kind.credentials_header()), store)
    }

    fn check(
        &mut self,
        now: u64,
        request: &RequestParts<'_>,
        c: &Credentials,
        store: &dyn Ha1Store,
    ) -> Verdict {
        use InvalidReason as R;
        let invalid = Verdict::Invalid;
        let algorithm = c.algorithm();
        if !self.config.algorithms.contains(&algorithm) {
            return invalid(R::AlgorithmNotOffered(algorithm));
        }
        if c.userhash == Some(true) {
            return invalid(R::UserhashNotOffered);
        }
        if !uri_matches(&c.uri, request.uri) {
            return invalid(R::UriMismatch);
        }
        if self.config.opaque.is_some() && c.opaque != self.config.opaque {
            return invalid(R::OpaqueMismatch);
        }
        let Some(issued) = self.nonce_issued(&c.nonce) else {
            return invalid(R::BadNonce);
        };
        let (qop, nc) = match (self.config.qop.is_empty(), c.qop) {
            (true, None) => (None, None),
            (false, Some(q)) if self.config.qop.contains(&q) => {
                let Some(nc_text) = c.nc.as_deref() else {
                    return invalid(R::Malformed(Error::MissingParam("nc")));
                };
                let Some(cnonce) = c.cnonce.as_deref() else {
                    return invalid(R::Malformed(Error::MissingParam("cnonce")));
                };
                let Ok(nc) = u32::from_str_radix(nc_text, 16) else {
                    return invalid(R::Malformed(Error::MalformedParam("nc")));
                };
                let parts = QopParts {
                    nc: nc_text,
                    cnonce,
                    qop: q,
                };
                (Some(parts), Some(nc))
            }
            _ => return invalid(R::QopNotOffered),
        };
        let Some(ha1) = store.ha1(&c.username, &c.realm, algorithm.hash()) else {
            return invalid(R::UnknownUser);
        };
        // Stored in lower case as a rule; a store that holds upper case costs a copy.
        let ha1 = if ha1.bytes().any(|b| b.is_ascii_uppercase()) {
            ha1.to_ascii_lowercase()
        } else {
            ha1
        };
        // A2 hashes the uri parameter as sent, which matched the Request-URI above.
        let hashed = RequestParts {
            uri: &c.uri,
            ..*request
        };
        let Some(expected) = response_from_ha1(algorithm, &ha1, &c.nonce, qop, &hashed) else {
            return invalid(R::Malformed(Error::SessionWithoutQop));
        };
        if !constant_time_eq_ignore_ascii_case(expected.as_bytes(), c.response.as_bytes()) {
            return invalid(R::WrongResponse);
        }
        // Only now, with the response right, may the nonce be called stale (RFC 7616
        // section 3.3).
        let lifetime = self.config.nonce_lifetime.as_secs();
        if now > issued.saturating_add(lifetime) || issued > now.saturating_add(FUTURE_SKEW) {
            return Verdict::Stale;
        }
        if let Some(nc) = nc {
            match self.seen.get_mut(&c.nonce) {
                Some(s) if nc <= s.last_nc => return invalid(R::Replayed),
                Some(s) => s.last_nc = nc,
                None if self.forgotten_through.is_some_and(|t| issued <= t) => {
                    return Verdict::Stale
                }
                None => self.remember(now, c.nonce.clone(), issued, nc),
            }
        }
        Verdict::Ok(c.username.clone())
    }

    fn remember(&mut self, now: u64, nonce: String, issued: u64, nc: u32) {
        let max = self.config.max_tracked_nonces.max(1);
        if self.seen.len() >= max {
            let lifetime = self.config.nonce_lifetime.as_secs();
            self.seen
                .retain(|_, s| now <= s.issued.saturating_add(lifetime));
        }
        if self.seen.len() >= max {
            let mut times: Vec<u64> = self.seen.values().map(|s| s.issued).collect();
            let mid = times.len() / 2;
            let (_, &mut cutoff, _) = times.select_nth_unstable(mid);
            self.seen.retain(|_, s| s.issued > cutoff);
            self.forgotten_through = Some(self.forgotten_through.map_or(cutoff, |t| t.max(cutoff)));
            if issued <= cutoff {
                return;
            }
        }
        self.seen.insert(
            nonce,
            Seen {
                issued,
                last_nc: nc,
            },
        );
    }

    /// How many nonces' counts are remembered.
    pub fn tracked_nonces(&self) -> usize {
        self.seen.len()
    }
}

/// RFC 3261 section 22.4: the uri parameter must be the Request-URI; compared as
/// written, then as SIP URIs (section 19.1.4) for peers that re-encode it.
fn uri_matches(sent: &str, request_uri: &str) -> bool {
    if sent == request_uri {
        return true;
    }
    match (Uri::parse(sent), Uri::parse(request_uri)) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::super::{answer, ha1, ha1_md5, ha1_sha256};
    use super::*;

    const KEY: &[u8] = b"0123456789abcdef0123456789abcdef";

    fn rng() -> impl FnMut(&mut [u8]) {
        let mut n = 40u8;
        move |buf: &mut [u8]| {
            for b in buf {
                n = n.wrapping_mul(13).wrapping_add(7);
                *b = n;
            }
        }
    }

    fn at(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs)
    }

    const REGISTER: RequestParts<'static> = RequestParts {
        method: "REGISTER",
        uri: "sip:example.com",
        body: b"",
    };

    fn store(user: &str, realm: &str, hash: Hash) -> Option<String> {
        (user == "alice").then(|| ha1(hash, "alice", realm, "wonderland"))
    }

    fn server() -> ServerAuth {
        ServerAuth::new(KEY, ServerConfig::new("example.com")).unwrap()
    }

    /// Answer the first (preferred) challenge as a client would.
    fn answer_first(
        s: &ServerAuth,
        now: u64,
        password: &str,
        req: &RequestParts<'_>,
        nc: u32,
    ) -> (Challenge, String) {
        let ch = s.challenge(at(now), false, &mut rng()).remove(0);
        let creds = answer(&ch, "alice", password, req, "c0ffee", nc).unwrap();
        (ch, creds.to_string())
    }

    fn verify(s: &mut ServerAuth, now: u64, req: &RequestParts<'_>, value: &str) -> Verdict {
        s.verify(at(now), req, Auth::parse(value).ok(), &store)
    }

    #[test]
    fn challenges_offer_sha256_then_md5_with_one_nonce_rfc8760_2_4() {
        let s = server();
        let ch = s.challenge(at(1000), false, &mut rng());
        assert_eq!(ch.len(), 2);
        assert_eq!(
            (ch[0].algorithm, ch[1].algorithm),
            (Algorithm::Sha256, Algorithm::Md5)
        );
        assert_eq!(ch[0].nonce, ch[1].nonce);
        assert_eq!(ch[0].nonce.len(), 2 * NONCE_LEN);
        let text = ch[0].to_string();
        assert!(text.starts_with("Digest realm=\"example.com\", nonce=\""));
        assert!(text.ends_with(", algorithm=SHA-256, qop=\"auth\""));
        assert_ne!(
            ch[0].nonce,
            s.challenge(at(1000), false, &mut |b: &mut [u8]| b.fill(9))[0].nonce
        );
    }

    #[test]
    fn challenge_values_are_the_challenges_written() {
        let mut cfg = ServerConfig::new("example.com");
        cfg.opaque = Some("op\"aque".into());
        let s = ServerAuth::new(KEY, cfg).unwrap();
        for stale in [false, true] {
            let mut r1 = rng();
            let mut r2 = rng();
            let written: Vec<String> = s
                .challenge(at(1000), stale, &mut r1)
                .iter()
                .map(ToString::to_string)
                .collect();
            assert_eq!(s.challenge_values(at(1000), stale, &mut r2), written);
            assert_eq!(written.len(), 2);
        }
    }

    #[test]
    fn fresh_nonce_verifies_for_both_algorithms() {
        let mut s = server();
        let (_, v) = answer_first(&s, 1000, "wonderland", &REGISTER, 1);
        assert_eq!(
            verify(&mut s, 1010, &REGISTER, &v),
            Verdict::Ok("alice".into())
        );
        let ch = s.challenge(at(1000), false, &mut rng()).remove(1);
        // Same nonce as the SHA-256 challenge, so the count goes on.
        let md5 = answer(&ch, "alice", "wonderland", &REGISTER, "c", 2).unwrap();
        assert_eq!(md5.algorithm, Some(Algorithm::Md5));
        assert_eq!(
            verify(&mut s, 1010, &REGISTER, &md5.to_string()),
            Verdict::Ok("alice".into())
        );
    }

    #[test]
    fn tampered_nonce_is_invalid() {
        let mut s = server();
        let (ch, _) = answer_first(&s, 1000, "wonderland", &REGISTER, 1);
        // Move the issue time forward by one second, keeping the tag.
        let mut forged = ch.clone();
        let last = if forged.nonce.as_bytes()[15] == b'0' {
            "1"
        } else {
            "0"
        };
        forged.nonce.replace_range(15..16, last);
        let v = answer(&forged, "alice", "wonderland", &REGISTER, "c", 1).unwrap();
        assert_eq!(
            verify(&mut s, 1010, &REGISTER, &v.to_string()),
            Verdict::Invalid(InvalidReason::BadNonce)
        );
        // Signed under another key.
        let other = ServerAuth::new(
            b"another key of 16+ bytes",
            ServerConfig::new("example.com"),
        )
        .unwrap();
        let (_, v) = answer_first(&other, 1000, "wonderland", &REGISTER, 1);
        assert_eq!(
            verify(&mut s, 1010, &REGISTER, &v),
            Verdict::Invalid(InvalidReason::BadNonce)
        );
    }

    #[test]
    fn expired_nonce_with_right_response_is_stale_rfc7616_3_3() {
        let mut s = server();
        let (_, v) = answer_first(&s, 1000, "wonderland", &REGISTER, 1);
        assert_eq!(verify(&mut s, 1301, &REGISTER, &v), Verdict::Stale);
        // Wrong password on an expired nonce is not stale.
        let (_, bad) = answer_first(&s, 1000, "guess", &REGISTER, 1);
        assert_eq!(
            verify(&mut s, 1301, &REGISTER, &bad),
            Verdict::Invalid(InvalidReason::WrongResponse)
        );
        // From the future (clock went back): stale too.
        let (_, v) = answer_first(&s, 5000, "wonderland", &REGISTER, 1);
        assert_eq!(verify(&mut s, 1000, &REGISTER, &v), Verdict::Stale);
        // Lifetime is configurable.
        let mut cfg = ServerConfig::new("example.com");
        cfg.nonce_lifetime = Duration::from_secs(30);
        let mut s = ServerAuth::new(KEY, cfg).unwrap();
        let (_, v) = answer_first(&s, 1000, "wonderland", &REGISTER, 1);
        assert_eq!(verify(&mut s, 1031, &REGISTER, &v), Verdict::Stale);
    }

    #[test]
    fn nonce_count_replay_is_refused_rfc7616_5_4() {
        let mut s = server();
        let (ch, v1) = answer_first(&s, 1000, "wonderland", &REGISTER, 1);
        assert_eq!(
            verify(&mut s, 1001, &REGISTER, &v1),
            Verdict::Ok("alice".into())
        );
        assert_eq!(
            verify(&mut s, 1002, &REGISTER, &v1),
            Verdict::Invalid(InvalidReason::Replayed)
        );
        let v3 = answer(&ch, "alice", "wonderland", &REGISTER, "c", 3)
            .unwrap()
            .to_string();
        assert_eq!(
            verify(&mut s, 1003, &REGISTER, &v3),
            Verdict::Ok("alice".into())
        );
        let v2 = answer(&ch, "alice", "wonderland", &REGISTER, "c", 2)
            .unwrap()
            .to_string();
        assert_eq!(
            verify(&mut s, 1004, &REGISTER, &v2),
            Verdict::Invalid(InvalidReason::Replayed)
        );
        assert_eq!(s.tracked_nonces(), 1);
    }

    #[test]
    fn wrong_password_unknown_user_and_wrong_uri_are_refused() {
        let mut s = server();
        let (ch, bad) = answer_first(&s, 1000, "guess", &REGISTER, 1);
        assert_eq!(
            verify(&mut s, 1001, &REGISTER, &bad),
            Verdict::Invalid(InvalidReason::WrongResponse)
        );
        let eve = answer(&ch, "eve", "x", &REGISTER, "c", 1)
            .unwrap()
            .to_string();
        assert_eq!(
            verify(&mut s, 1001, &REGISTER, &eve),
            Verdict::Invalid(InvalidReason::UnknownUser)
        );
        // Credentials computed for another Request-URI.
        let other = RequestParts {
            uri: "sip:other.example.com",
            ..REGISTER
        };
        let v = answer(&ch, "alice", "wonderland", &other, "c", 2)
            .unwrap()
            .to_string();
        assert_eq!(
            verify(&mut s, 1001, &REGISTER, &v),
            Verdict::Invalid(InvalidReason::UriMismatch)
        );
        // Same URI written differently (19.1.4) is accepted; the response covers the
        // uri parameter as the client wrote it.
        let written = RequestParts {
            uri: "sip:EXAMPLE.com",
            ..REGISTER
        };
        let v = answer(&ch, "alice", "wonderland", &written, "c", 3)
            .unwrap()
            .to_string();
        assert_eq!(
            verify(&mut s, 1001, &REGISTER, &v),
            Verdict::Ok("alice".into())
        );
    }

    #[test]
    fn missing_and_malformed_credentials() {
        let mut s = server();
        assert_eq!(s.verify(at(1), &REGISTER, None, &store), Verdict::Missing);
        // Credentials for another realm only: challenge (section 22.3).
        let other = r#"Digest username="alice", realm="other", nonce="n", uri="sip:example.com", response="00""#;
        assert_eq!(verify(&mut s, 1, &REGISTER, other), Verdict::Missing);
        let no_response =
            r#"Digest username="alice", realm="example.com", nonce="n", uri="sip:example.com""#;
        assert_eq!(
            verify(&mut s, 1, &REGISTER, no_response),
            Verdict::Invalid(InvalidReason::Malformed(Error::MissingParam("response")))
        );
        // qop offered but the client answered in the RFC 2069 form: a downgrade.
        let ch = s.challenge(at(1000), false, &mut rng()).remove(0);
        let mut plain = ch.clone();
        plain.qop.clear();
        let v = answer(&plain, "alice", "wonderland", &REGISTER, "c", 1).unwrap();
        assert_eq!(
            verify(&mut s, 1001, &REGISTER, &v.to_string()),
            Verdict::Invalid(InvalidReason::QopNotOffered)
        );
        // An algorithm we did not offer.
        let mut sess = ch;
        sess.algorithm = Algorithm::Sha256Sess;
        let v = answer(&sess, "alice", "wonderland", &REGISTER, "c", 1).unwrap();
        assert_eq!(
            verify(&mut s, 1001, &REGISTER, &v.to_string()),
            Verdict::Invalid(InvalidReason::AlgorithmNotOffered(Algorithm::Sha256Sess))
        );
    }

    #[test]
    fn opaque_must_be_echoed() {
        let mut cfg = ServerConfig::new("example.com");
        cfg.opaque = Some("op4que".into());
        let mut s = ServerAuth::new(KEY, cfg).unwrap();
        let (ch, v) = answer_first(&s, 1000, "wonderland", &REGISTER, 1);
        assert_eq!(ch.opaque.as_deref(), Some("op4que"));
        assert_eq!(
            verify(&mut s, 1001, &REGISTER, &v),
            Verdict::Ok("alice".into())
        );
        let mut no = ch;
        no.opaque = None;
        let v = answer(&no, "alice", "wonderland", &REGISTER, "c", 2).unwrap();
        assert_eq!(
            verify(&mut s, 1001, &REGISTER, &v.to_string()),
            Verdict::Invalid(InvalidReason::OpaqueMismatch)
        );
    }

    #[test]
    fn full_nonce_map_forgets_old_nonces_as_stale_never_as_replayable() {
        let mut cfg = ServerConfig::new("example.com");
        cfg.max_tracked_nonces = 4;
        let mut s = ServerAuth::new(KEY, cfg).unwrap();
        let mut first = None;
        for i in 0..6u64 {
            let (ch, v) = answer_first(&s, 1000 + i, "wonderland", &REGISTER, 1);
            assert_eq!(
                verify(&mut s, 1010, &REGISTER, &v),
                Verdict::Ok("alice".into())
            );
            first.get_or_insert(ch);
            assert!(s.tracked_nonces() <= 4);
        }
        let Some(first) = first else { return };
        let v = answer(&first, "alice", "wonderland", &REGISTER, "c", 1).unwrap();
        assert_eq!(
            verify(&mut s, 1010, &REGISTER, &v.to_string()),
            Verdict::Stale
        );
        // Expired nonces go first.
        for now in [1400, 1401] {
            let (_, v) = answer_first(&s, now, "wonderland", &REGISTER, 1);
            assert_eq!(
                verify(&mut s, now, &REGISTER, &v),
                Verdict::Ok("alice".into())
            );
        }
        assert_eq!(s.tracked_nonces(), 2);
    }

    #[test]
    fn auth_int_and_ha1_helpers() {
        let mut cfg = ServerConfig::new("example.com");
        cfg.qop = vec![Qop::AuthInt];
        let mut s = ServerAuth::new(KEY, cfg).unwrap();
        let invite = RequestParts {
            method: "INVITE",
            uri: "sip:bob@example.com",
            body: b"v=0\r\n",
        };
        let (_, v) = answer_first(&s, 1000, "wonderland", &invite, 1);
        assert!(v.contains("qop=auth-int"));
        assert_eq!(
            verify(&mut s, 1001, &invite, &v),
            Verdict::Ok("alice".into())
        );
        let (_, v) = answer_first(&s, 1000, "wonderland", &invite, 1);
        let tampered = RequestParts {
            body: b"v=1\r\n",
            ..invite
        };
        assert_eq!(
            verify(&mut s, 1001, &tampered, &v),
            Verdict::Invalid(InvalidReason::WrongResponse)
        );
        assert_eq!(
            ha1_md5("Mufasa", "testrealm@host.com", "Circle Of Life"),
            "939e7578ed9e3c518a452acee763bce9"
        );
        assert_eq!(ha1_sha256("a", "r", "p"), ha1(Hash::Sha256, "a", "r", "p"));
        assert!(ServerAuth::new(b"short", ServerConfig::new("r")).is_err());
    }

    #[test]
    fn verify_request_reads_the_message() {
        let mut s = server();
        let ch = s.challenge(at(1000), false, &mut rng()).remove(0);
        let req = RequestParts {
            method: "INVITE",
            uri: "sip:bob@example.com",
            body: b"",
        };
        let v = answer(&ch, "alice", "wonderland", &req, "c", 1).unwrap();
        let text = format!(
            "INVITE sip:bob@example.com SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nTo: <sip:bob@example.com>\r\nFrom: <sip:alice@example.com>;tag=1\r\nCall-ID: c\r\nCSeq: 2 INVITE\r\nProxy-Authorization: {v}\r\nContent-Length: 0\r\n\r\n"
        );
        let Ok(m) = Message::parse(text.into_bytes()) else {
            panic!("test message does not parse");
        };
        assert_eq!(
            s.verify_request(at(1001), &m, ChallengeKind::Server, &store),
            Verdict::Missing
        );
        assert_eq!(
            s.verify_request(at(1001), &m, ChallengeKind::Proxy, &store),
            Verdict::Ok("alice".into())
        );
    }
}
