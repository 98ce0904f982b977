//! Transaction keys: how messages are matched to transactions.
//!
//! - Responses to client transactions (RFC 3261 section 17.1.3): the branch of the top
//!   Via and the CSeq method. A CANCEL has its own transaction, with the branch of the
//!   request it cancels (section 9.1).
//! - Requests to server transactions (section 17.2.3): with a `z9hG4bK` branch, the
//!   branch, the sent-by of the top Via and the method, ACK counting as INVITE.
//!   Without it, the RFC 2543 rules: Request-URI, To tag, From tag, Call-ID, CSeq and
//!   top Via; an ACK then matches the INVITE whose response's To tag it carries.
//!
//! A key is made for every message received and then lives in the transaction table,
//! its wake-up heap, the events and the proxy's contexts. So it is built with as few
//! allocations as the fields allow (known methods and IP sent-by hosts are not copied),
//! it is shared rather than copied (cloning is a reference count), and it is hashed
//! once, when made: a table growing under load rehashes every key, and a cached hash
//! spares following the pointer to each key's strings.

use std::borrow::Cow;
use std::cmp::Ordering;
use std::fmt;
use std::hash::{BuildHasherDefault, Hash, Hasher};
use std::net::{Ipv4Addr, Ipv6Addr};
use std::sync::{Arc, OnceLock};

use strowger_message::{HeaderName, Host, Message, Method, Via};

/// Identifies one transaction. Client and server keys never collide, so a UA talking to
/// itself has two transactions. Cloning shares the key.
#[derive(Clone)]
pub struct TransactionKey {
    /// [`KeyData`]'s hash under a keyed hasher with random keys (ahash): the fields
    /// come from the network, so chosen collisions must not be cheap to find.
    hash: u64,
    data: Arc<KeyData>,
}

/// What a key compares.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
struct KeyData {
    /// The request method; for a server key an ACK is keyed as INVITE.
    method: Cow<'static, str>,
    kind: Kind,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Kind {
    /// A client transaction: top Via branch and CSeq method (17.1.3).
    Client { branch: Box<str> },
    /// A server transaction for a request whose branch has the magic cookie (17.2.3).
    Rfc3261 { branch: Box<str>, sent_by: SentBy },
    /// A server transaction for a request from an RFC 2543 element.
    Rfc2543(Box<Rfc2543Key>),
}

/// The fields of an RFC 2543 request that identify its transaction (besides the
/// method).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Rfc2543Key {
    pub request_uri: String,
    pub to_tag: Option<String>,
    pub from_tag: Option<String>,
    pub call_id: String,
    pub cseq: u32,
    /// The top Via value as written.
    pub top_via: String,
}

/// A Via sent-by, normalised for comparison: host names in lower case, IP addresses
/// as addresses (so `[::1]` and `[0::1]` are one host).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SentBy {
    pub host: SentByHost,
    pub port: Option<u16>,
}

/// The host of a [`SentBy`].
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SentByHost {
    /// A host name, in lower case.
    Name(Box<str>),
    V4(Ipv4Addr),
    V6(Ipv6Addr),
}

impl SentBy {
    pub fn of(host: &Host<'_>, port: Option<u16>) -> SentBy {
        let host = match host {
            Host::Name(n) => SentByHost::Name(n.to_ascii_lowercase().into_boxed_str()),
            Host::V4(a) => SentByHost::V4(*a),
            Host::V6(a, _) => SentByHost::V6(*a),
        };
        SentBy { host, port }
    }
}

impl fmt::Display for SentBy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.host {
            SentByHost::Name(n) => f.write_str(n)?,
            SentByHost::V4(a) => write!(f, "{a}")?,
            SentByHost::V6(a) => write!(f, "[{a}]")?,
        }
        match self.port {
            Some(p) => write!(f, ":{p}"),
            None => Ok(()),
        }
    }
}

/// A method name that outlives its message: known methods are not copied.
fn method_name(method: Method<'_>) -> Cow<'static, str> {
    match method.static_str() {
        Some(known) => Cow::Borrowed(known),
        None => Cow::Owned(method.as_str().to_string()),
    }
}

/// The process's hash keys for transaction keys, drawn once at random.
fn key_hasher() -> &'static ahash::RandomState {
    static STATE: OnceLock<ahash::RandomState> = OnceLock::new();
    STATE.get_or_init(ahash::RandomState::new)
}

impl TransactionKey {
    fn new(method: Cow<'static, str>, kind: Kind) -> TransactionKey {
        let data = KeyData { method, kind };
        TransactionKey {
            hash: key_hasher().hash_one(&data),
            data: Arc::new(data),
        }
    }

    /// The key of the client transaction with this branch and CSeq method.
    pub fn new_client(branch: &str, method: &str) -> TransactionKey {
        Self::client_of(branch, Method::from_token(method))
    }

    fn client_of(branch: &str, method: Method<'_>) -> TransactionKey {
        Self::new(
            method_name(method),
            Kind::Client {
                branch: branch.into(),
            },
        )
    }

    /// The key of the server transaction for a request with an RFC 3261 branch (the
    /// method of an ACK is INVITE here).
    pub fn new_server(branch: &str, sent_by: SentBy, method: &str) -> TransactionKey {
        Self::server_of(branch, sent_by, Method::from_token(method))
    }

    fn server_of(branch: &str, sent_by: SentBy, method: Method<'_>) -> TransactionKey {
        Self::new(
            method_name(method),
            Kind::Rfc3261 {
                branch: branch.into(),
                sent_by,
            },
        )
    }

    pub fn is_client(&self) -> bool {
        matches!(self.data.kind, Kind::Client { .. })
    }

    pub fn is_server(&self) -> bool {
        !self.is_client()
    }

    /// A server key made by the RFC 2543 rules (the request had no magic cookie).
    pub fn is_rfc2543(&self) -> bool {
        matches!(self.data.kind, Kind::Rfc2543(_))
    }

    /// The method of the transaction (INVITE for the INVITE transaction an ACK
    /// belongs to).
    pub fn method(&self) -> &str {
        &self.data.method
    }

    pub fn is_invite(&self) -> bool {
        self.method() == "INVITE"
    }

    /// The branch, for keys that have one.
    pub fn branch(&self) -> Option<&str> {
        match &self.data.kind {
            Kind::Client { branch } | Kind::Rfc3261 { branch, .. } => Some(branch),
            Kind::Rfc2543(_) => None,
        }
    }

    /// The key of a client transaction for `request` (the TU sending it), or for a
    /// response received for one (17.1.3). `None` without a top Via branch or CSeq.
    pub fn client(msg: &Message) -> Option<TransactionKey> {
        // The branch parsing found: no Via is parsed again for every response.
        let branch = msg.top_via_branch()?;
        Some(Self::client_of(branch, msg.cseq()?.method))
    }

    /// The key of the server transaction a request belongs to (17.2.3). For an ACK this
    /// is the INVITE's key; RFC 2543 ACKs need [`TransactionKey::rfc2543_ack_candidates`]
    /// as well. `None` without the fields the rules read.
    pub fn server(msg: &Message) -> Option<TransactionKey> {
        let method = msg.method()?;
        let keyed = match method {
            Method::Ack => Method::Invite,
            m => m,
        };
        Self::server_with_method(msg, &msg.top_via()?, keyed, None)
    }

    /// [`TransactionKey::server`] with the request's top Via parsed by the caller.
    pub fn server_via(msg: &Message, via: &Via<'_>) -> Option<TransactionKey> {
        let keyed = match msg.method()? {
            Method::Ack => Method::Invite,
            m => m,
        };
        Self::server_with_method(msg, via, keyed, None)
    }

    fn server_with_method(
        msg: &Message,
        via: &Via<'_>,
        method: Method<'_>,
        to_tag: Option<Option<&str>>,
    ) -> Option<TransactionKey> {
        if via.has_magic_cookie() {
            let branch = via.branch()?;
            return Some(Self::server_of(
                branch,
                SentBy::of(&via.host, via.port),
                method,
            ));
        }
        let to_tag = match to_tag {
            Some(t) => t.map(str::to_string),
            None => msg.to()?.tag().map(str::to_string),
        };
        let fields = Rfc2543Key {
            request_uri: msg.request_uri_str()?.to_string(),
            to_tag,
            from_tag: msg.from()?.tag().map(str::to_string),
            call_id: msg.call_id()?.to_string(),
            cseq: msg.cseq()?.seq,
            top_via: msg.values(HeaderName::Via).next()?.to_string(),
        };
        Some(Self::new(
            method_name(method),
            Kind::Rfc2543(Box::new(fields)),
        ))
    }

    /// For an RFC 2543 ACK (no magic cookie), the keys of the INVITE transactions it
    /// may belong to: the INVITE had the ACK's To tag (a re-INVITE) or none (an initial
    /// INVITE). The caller checks that the response's To tag equals the ACK's (17.2.3).
    pub fn rfc2543_ack_candidates(ack: &Message) -> Vec<TransactionKey> {
        let Some(via) = ack.top_via().filter(|v| !v.has_magic_cookie()) else {
            return Vec::new();
        };
        let Some(tag) = ack.to().and_then(|t| t.tag().map(str::to_string)) else {
            return Self::server_with_method(ack, &via, Method::Invite, Some(None))
                .into_iter()
                .collect();
        };
        [Some(tag.as_str()), None]
            .into_iter()
            .filter_map(|t| Self::server_with_method(ack, &via, Method::Invite, Some(t)))
            .collect()
    }

    /// For a CANCEL's key, the key of the request it cancels (section 9.2): the same
    /// key with the method INVITE (`method` in general).
    pub fn with_method(&self, method: &str) -> TransactionKey {
        Self::new(
            method_name(Method::from_token(method)),
            self.data.kind.clone(),
        )
    }
}

impl PartialEq for TransactionKey {
    fn eq(&self, other: &Self) -> bool {
        self.hash == other.hash && (Arc::ptr_eq(&self.data, &other.data) || self.data == other.data)
    }
}

impl Eq for TransactionKey {}

impl Hash for TransactionKey {
    /// The cached hash: equal keys have equal data, so equal hashes.
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u64(self.hash);
    }
}

impl PartialOrd for TransactionKey {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for TransactionKey {
    fn cmp(&self, other: &Self) -> Ordering {
        self.data.cmp(&other.data)
    }
}

impl fmt::Debug for TransactionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TransactionKey({self})")
    }
}

/// The hasher of tables whose keys carry a keyed, mixed hash ([`TransactionKey`], the
/// location service's AoRs): that hash is used as it is.
#[derive(Debug, Default, Clone, Copy)]
pub struct KeyHash(u64);

impl Hasher for KeyHash {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // Only `write_u64` is reached from `TransactionKey`; anything else is mixed in
        // (FNV-1a) so that the hasher stays correct if used for another type.
        for b in bytes {
            self.0 = (self.0 ^ u64::from(*b)).wrapping_mul(0x100_0000_01b3);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 ^= n;
    }
}

/// A `HashMap`/`HashSet` hasher for [`TransactionKey`]s.
pub type BuildKeyHash = BuildHasherDefault<KeyHash>;

/// A table keyed by [`TransactionKey`], in parts chosen by the key's hash.
///
/// A server at tens of thousands of requests a second holds millions of transactions
/// (each lingers 64*T1 after its final response), and a single table that grows moves
/// all of them at once: one growth from 1 to 2 million entries stopped its worker for
/// longer than its socket's buffer lasts, and datagrams were dropped (the bench's held
/// REGISTER steps at 67 500-75 000/s). In 64 parts, each growth moves 1/64 of them.
#[derive(Debug)]
pub struct KeyTable<V> {
    parts: Box<[std::collections::HashMap<TransactionKey, V, BuildKeyHash>]>,
    len: usize,
}

const KEY_TABLE_PARTS: usize = 64;

impl<V> Default for KeyTable<V> {
    fn default() -> Self {
        KeyTable {
            parts: (0..KEY_TABLE_PARTS).map(|_| Default::default()).collect(),
            len: 0,
        }
    }
}

impl<V> KeyTable<V> {
    /// The part of a key: bits of the hash the parts' own tables do not use for the
    /// bucket (the low bits) nor for the tag (the top seven).
    fn part(&self, key: &TransactionKey) -> usize {
        (key.hash >> 40) as usize % self.parts.len().max(1)
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn get(&self, key: &TransactionKey) -> Option<&V> {
        self.parts.get(self.part(key))?.get(key)
    }

    pub fn get_mut(&mut self, key: &TransactionKey) -> Option<&mut V> {
        let i = self.part(key);
        self.parts.get_mut(i)?.get_mut(key)
    }

    pub fn contains_key(&self, key: &TransactionKey) -> bool {
        self.get(key).is_some()
    }

    pub fn insert(&mut self, key: TransactionKey, value: V) -> Option<V> {
        let i = self.part(&key);
        let old = self.parts.get_mut(i)?.insert(key, value);
        if old.is_none() {
            self.len += 1;
        }
        old
    }

    pub fn remove(&mut self, key: &TransactionKey) -> Option<V> {
        let i = self.part(key);
        let old = self.parts.get_mut(i)?.remove(key);
        if old.is_some() {
            self.len -= 1;
        }
        old
    }
}

impl fmt::Display for TransactionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let method = self.method();
        match &self.data.kind {
            Kind::Client { branch } => write!(f, "client {method} {branch}"),
            Kind::Rfc3261 { branch, sent_by } => write!(f, "server {method} {branch} {sent_by}"),
            Kind::Rfc2543(k) => write!(
                f,
                "server {method} rfc2543 {} {} {}",
                k.call_id, k.cseq, k.request_uri
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(start: &str, via: &str, to: &str, cseq: &str) -> Message {
        Message::parse(
            format!(
                "{start}\r\nVia: {via}\r\nTo: {to}\r\nFrom: <sip:a@example.com>;tag=f1\r\n\
                 Call-ID: c1\r\nCSeq: {cseq}\r\nContent-Length: 0\r\n\r\n"
            )
            .into_bytes(),
        )
        .unwrap()
    }

    #[test]
    fn ack_is_keyed_as_its_invite_rfc3261_17_2_3() {
        let invite = msg(
            "INVITE sip:b@example.com SIP/2.0",
            "SIP/2.0/UDP Host.Example:5060;branch=z9hG4bK1",
            "<sip:b@example.com>",
            "1 INVITE",
        );
        let ack = msg(
            "ACK sip:b@example.com SIP/2.0",
            "SIP/2.0/UDP host.example:5060;branch=z9hG4bK1",
            "<sip:b@example.com>;tag=t",
            "1 ACK",
        );
        assert_eq!(
            TransactionKey::server(&invite),
            TransactionKey::server(&ack)
        );
    }

    #[test]
    fn keys_made_apart_from_one_request_find_each_other_in_a_table() {
        use std::collections::HashMap;
        use std::hash::BuildHasher;
        let text = |via: &str| {
            msg(
                "REGISTER sip:example.com SIP/2.0",
                via,
                "<sip:a@example.com>",
                "1 REGISTER",
            )
        };
        let a = TransactionKey::server(&text("SIP/2.0/UDP [::1]:5060;branch=z9hG4bK1")).unwrap();
        // The same sent-by written another way (section 18.2.1 compares addresses).
        let b = TransactionKey::server(&text("SIP/2.0/UDP [0::1]:5060;branch=z9hG4bK1")).unwrap();
        assert_eq!(a, b);
        let hasher = BuildKeyHash::default();
        assert_eq!(hasher.hash_one(&a), hasher.hash_one(&b));
        let mut table = HashMap::with_hasher(BuildKeyHash::default());
        table.insert(a.clone(), 1);
        assert_eq!(table.get(&b), Some(&1));
        let other =
            TransactionKey::server(&text("SIP/2.0/UDP [::1]:5060;branch=z9hG4bK2")).unwrap();
        assert_eq!(table.get(&other), None);
        assert_eq!(table.get(&a.with_method("CANCEL")), None);
        assert_eq!(a.to_string(), "server REGISTER z9hG4bK1 [::1]:5060");
    }

    #[test]
    fn a_key_table_finds_removes_and_counts_across_its_parts() {
        let mut t = KeyTable::default();
        let keys: Vec<TransactionKey> = (0..1000)
            .map(|i| TransactionKey::new_client(&format!("z9hG4bK{i}"), "INVITE"))
            .collect();
        for (i, k) in keys.iter().enumerate() {
            assert_eq!(t.insert(k.clone(), i), None);
        }
        assert_eq!(t.insert(keys[7].clone(), 70), Some(7));
        assert_eq!(t.len(), 1000);
        let used = t.parts.iter().filter(|p| !p.is_empty()).count();
        assert!(used > KEY_TABLE_PARTS / 2, "keys spread over {used} parts");
        assert_eq!(
            t.get(&TransactionKey::new_client("z9hG4bK7", "INVITE")),
            Some(&70)
        );
        assert_eq!(t.get(&TransactionKey::new_client("z9hG4bK7", "BYE")), None);
        for k in &keys[..500] {
            assert!(t.remove(k).is_some());
            assert!(!t.contains_key(k));
        }
        assert_eq!(t.remove(&keys[0]), None);
        assert_eq!(t.len(), 500);
        assert!(t.get_mut(&keys[999]).is_some());
    }

    #[test]
    fn sent_by_port_is_part_of_the_key_rfc3261_17_2_3() {
        let a = msg(
            "OPTIONS sip:b@example.com SIP/2.0",
            "SIP/2.0/UDP host.example:5060;branch=z9hG4bK1",
            "<sip:b@example.com>",
            "1 OPTIONS",
        );
        let b = msg(
            "OPTIONS sip:b@example.com SIP/2.0",
            "SIP/2.0/UDP host.example:5070;branch=z9hG4bK1",
            "<sip:b@example.com>",
            "1 OPTIONS",
        );
        assert_ne!(TransactionKey::server(&a), TransactionKey::server(&b));
    }

    #[test]
    fn cancel_has_its_own_key_and_names_its_invite_rfc3261_9_2() {
        let invite = msg(
            "INVITE sip:b@example.com SIP/2.0",
            "SIP/2.0/UDP h;branch=z9hG4bK1",
            "<sip:b@example.com>",
            "1 INVITE",
        );
        let cancel = msg(
            "CANCEL sip:b@example.com SIP/2.0",
            "SIP/2.0/UDP h;branch=z9hG4bK1",
            "<sip:b@example.com>",
            "1 CANCEL",
        );
        let ck = TransactionKey::server(&cancel).unwrap();
        let ik = TransactionKey::server(&invite).unwrap();
        assert_ne!(ck, ik);
        assert_eq!(ck.with_method("INVITE"), ik);
    }

    #[test]
    fn rfc2543_requests_are_keyed_by_their_fields_rfc3261_17_2_3() {
        let invite = msg(
            "INVITE sip:b@example.com SIP/2.0",
            "SIP/2.0/UDP h",
            "<sip:b@example.com>",
            "1 INVITE",
        );
        let k = TransactionKey::server(&invite).unwrap();
        assert!(k.is_rfc2543() && k.is_server());
        let ack = msg(
            "ACK sip:b@example.com SIP/2.0",
            "SIP/2.0/UDP h",
            "<sip:b@example.com>;tag=t",
            "1 ACK",
        );
        assert!(TransactionKey::rfc2543_ack_candidates(&ack).contains(&k));
        let other = msg(
            "INVITE sip:b@example.com SIP/2.0",
            "SIP/2.0/UDP h",
            "<sip:b@example.com>",
            "2 INVITE",
        );
        assert_ne!(TransactionKey::server(&other), Some(k));
    }

    #[test]
    fn client_key_is_branch_and_cseq_method_rfc3261_17_1_3() {
        let cancel = msg(
            "CANCEL sip:b@example.com SIP/2.0",
            "SIP/2.0/UDP h;branch=z9hG4bK1",
            "<sip:b@example.com>",
            "1 CANCEL",
        );
        let key = TransactionKey::client(&cancel).unwrap();
        assert!(key.is_client());
        assert_eq!((key.branch(), key.method()), (Some("z9hG4bK1"), "CANCEL"));
        assert_eq!(key, TransactionKey::new_client("z9hG4bK1", "CANCEL"));
        assert_ne!(key, TransactionKey::new_client("z9hG4bK1", "INVITE"));
    }
}
