//! The embedded location store: SQLite (rusqlite, bundled), so that registrations
//! survive a restart with nothing to install.
//!
//! Durability: the database runs in WAL mode and the registrar's 200 goes out only once
//! the binding's transaction is committed ([`Sync`] says how far: written to the file,
//! or also flushed to the disk). Two ways to get there:
//!
//! - [`SqliteStore::open`]: [`SqliteStore::replace`] commits one transaction before it
//!   returns (tests, tools, one connection).
//! - [`SharedStore::open`] (the server): every worker gets a [`SqliteStore`] handle on
//!   one shared copy of the bindings in memory, and one writer thread owns the
//!   database. `replace` updates the memory copy and queues the change; the writer
//!   takes everything queued while the previous commit was syncing and commits it as
//!   one transaction (group commit: one fsync for a whole burst of REGISTERs), then
//!   reports each queued change's ticket as durable. The worker answers the REGISTER
//!   only then ([`SqliteStore::take_ticket`]). Lookups read the memory copy: no SQL
//!   on the proxy's path.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::path::Path;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;

use rusqlite::{params, Connection, OptionalExtension};
use strowger_core::registrar::{Binding, LocationStore};
use strowger_core::transaction::BuildKeyHash;

/// Bindings in an SQLite file (or in memory for tests): a connection of its own, or a
/// handle on a [`SharedStore`].
#[derive(Debug)]
pub struct SqliteStore {
    mode: Mode,
}

#[derive(Debug)]
enum Mode {
    /// Tests use it; the server uses [`SharedStore`] handles.
    #[cfg_attr(not(test), allow(dead_code))]
    Direct(Connection),
    Shared {
        shared: Arc<Shared>,
        worker: usize,
        next_ticket: u64,
        /// The ticket of the last change queued and not yet handed out.
        ticket: Option<u64>,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("the location database failed: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("the location database writer has stopped")]
    Stopped,
}

/// How far a commit goes before the REGISTER it carries is answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Sync {
    /// Written to the database's WAL file (SQLite `synchronous=NORMAL`): a binding
    /// that was answered survives the server being killed or crashing; an operating
    /// system crash or power loss may take back the last commits before it (the
    /// database stays consistent, and phones re-register). The default: the same
    /// trade as the mature registrars, whose location tables are in memory or written
    /// back on a timer, at about a tenth less CPU per REGISTER than `Full`.
    #[default]
    Normal,
    /// Also flushed to the disk (fsync, SQLite `synchronous=FULL`) before the answer:
    /// survives power loss, at one fsync per group of REGISTERs.
    Full,
}

impl Sync {
    fn pragma(self) -> &'static str {
        match self {
            Sync::Normal => "PRAGMA synchronous=NORMAL;",
            Sync::Full => "PRAGMA synchronous=FULL;",
        }
    }
}

fn init(db: &Connection, sync: Sync) -> Result<(), StoreError> {
    // journal_mode returns a row; query it rather than execute it.
    let _: Option<String> = db
        .query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))
        .optional()?;
    db.execute_batch(sync.pragma())?;
    db.execute_batch(
        // One B-tree, clustered by (aor, contact), and no index on expiry: a REGISTER
        // then changes one page (and its parents) instead of three trees, which is most
        // of what a commit writes. The purge every 30 s scans the table instead.
        "CREATE TABLE IF NOT EXISTS location (
             aor TEXT NOT NULL,
             contact TEXT NOT NULL,
             q INTEGER NOT NULL,
             expires_at INTEGER NOT NULL,
             call_id TEXT NOT NULL,
             cseq INTEGER NOT NULL,
             path TEXT NOT NULL,
             instance TEXT,
             source TEXT,
             PRIMARY KEY (aor, contact)
         ) WITHOUT ROWID;",
    )?;
    // The first layout (table `bindings` with a rowid and an expiry index): move its
    // rows over once.
    let old: Option<String> = db
        .query_row(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'bindings'",
            [],
            |r| r.get(0),
        )
        .optional()?;
    if old.is_some() {
        db.execute_batch(
            "BEGIN;
             INSERT OR REPLACE INTO location
               SELECT aor, contact, q, expires_at, call_id, cseq, path, instance, source
               FROM bindings;
             DROP TABLE bindings;
             COMMIT;",
        )?;
    }
    Ok(())
}

fn row_binding(aor: String, r: &rusqlite::Row<'_>, first: usize) -> rusqlite::Result<Binding> {
    let path: String = r.get(first + 5)?;
    Ok(Binding {
        aor,
        contact: r.get(first)?,
        q: r.get::<_, i64>(first + 1)?.clamp(0, 1000) as u16,
        expires_at: r.get::<_, i64>(first + 2)?.max(0) as u64,
        call_id: r.get(first + 3)?,
        cseq: r.get::<_, i64>(first + 4)?.clamp(0, i64::from(u32::MAX)) as u32,
        path: path
            .split('\n')
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect(),
        instance: r.get(first + 6)?,
        source: r.get(first + 7)?,
    })
}

/// The SQL of `replace`: delete the AoR's rows, insert the new ones (in a transaction
/// the caller opened).
fn write_aor(tx: &Connection, aor: &str, bindings: &[Binding]) -> rusqlite::Result<()> {
    tx.prepare_cached("DELETE FROM location WHERE aor = ?1")?
        .execute(params![aor])?;
    insert_bindings(tx, aor, bindings)
}

/// Insert or overwrite the rows of `bindings`.
fn insert_bindings(tx: &Connection, aor: &str, bindings: &[Binding]) -> rusqlite::Result<()> {
    let mut st = tx.prepare_cached(
        "INSERT OR REPLACE INTO location
         (aor, contact, q, expires_at, call_id, cseq, path, instance, source)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )?;
    for b in bindings {
        st.execute(params![
            aor,
            b.contact,
            i64::from(b.q),
            b.expires_at as i64,
            b.call_id,
            i64::from(b.cseq),
            b.path.join("\n"),
            b.instance,
            b.source,
        ])?;
    }
    Ok(())
}

/// The order in which `bindings` returns an AoR's bindings: q descending, then contact.
fn sort_bindings(v: &mut [Binding]) {
    v.sort_by(|a, b| b.q.cmp(&a.q).then_with(|| a.contact.cmp(&b.contact)));
}

impl SqliteStore {
    /// Open (or create) the store at `path`, with a connection of its own: `replace`
    /// commits before it returns.
    #[cfg_attr(not(test), allow(dead_code))]
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let db = Connection::open(path)?;
        init(&db, Sync::Full)?;
        Ok(SqliteStore {
            mode: Mode::Direct(db),
        })
    }

    /// A store that lives in memory (tests).
    #[cfg(test)]
    pub fn in_memory() -> Result<Self, StoreError> {
        let db = Connection::open_in_memory()?;
        init(&db, Sync::Full)?;
        Ok(SqliteStore {
            mode: Mode::Direct(db),
        })
    }

    /// Every binding that has not expired (for the start-up log and tests).
    pub fn count(&self, now: u64) -> Result<u64, StoreError> {
        match &self.mode {
            Mode::Direct(db) => {
                let n: i64 = db.query_row(
                    "SELECT COUNT(*) FROM location WHERE expires_at > ?1",
                    params![now as i64],
                    |r| r.get(0),
                )?;
                Ok(n.max(0) as u64)
            }
            Mode::Shared { shared, .. } => Ok(shared
                .lock()
                .map
                .parts
                .iter()
                .flat_map(|p| p.values())
                .flatten()
                .filter(|b| b.expires_at > now)
                .count() as u64),
        }
    }

    /// Bindings held, expired ones not purged yet included: cheap, for the metrics
    /// after each REGISTER (a handle on a [`SharedStore`]); `None` for a direct store.
    pub fn held(&self) -> Option<u64> {
        match &self.mode {
            Mode::Direct(_) => None,
            Mode::Shared { shared, .. } => Some(shared.lock().held as u64),
        }
    }

    /// After a `replace` on a handle of a [`SharedStore`]: the ticket that the writer
    /// reports once the change is on disk. `None` when nothing is waiting (a direct
    /// store commits in `replace`).
    pub fn take_ticket(&mut self) -> Option<u64> {
        match &mut self.mode {
            Mode::Direct(_) => None,
            Mode::Shared { ticket, .. } => ticket.take(),
        }
    }
}

impl LocationStore for SqliteStore {
    type Error = StoreError;

    fn bindings(&mut self, aor: &str, now: u64) -> Result<Vec<Binding>, StoreError> {
        match &mut self.mode {
            Mode::Direct(db) => {
                let mut st = db.prepare_cached(
                    "SELECT contact, q, expires_at, call_id, cseq, path, instance, source
                     FROM location WHERE aor = ?1 AND expires_at > ?2 ORDER BY q DESC, contact",
                )?;
                let rows = st.query_map(params![aor, now as i64], |r| {
                    row_binding(aor.to_string(), r, 0)
                })?;
                Ok(rows.collect::<Result<_, _>>()?)
            }
            Mode::Shared { shared, .. } => Ok(shared
                .lock()
                .map
                .get(aor)
                .map(|v| {
                    v.iter()
                        .filter(|b| b.expires_at > now)
                        .map(|b| b.unpack(aor))
                        .collect()
                })
                .unwrap_or_default()),
        }
    }

    fn replace(&mut self, aor: &str, bindings: Vec<Binding>) -> Result<(), StoreError> {
        match &mut self.mode {
            Mode::Direct(db) => {
                let tx = db.transaction()?;
                write_aor(&tx, aor, &bindings)?;
                tx.commit()?;
                Ok(())
            }
            Mode::Shared {
                shared,
                worker,
                next_ticket,
                ticket,
            } => {
                *next_ticket += 1;
                let t = *next_ticket;
                let mut sorted = bindings;
                sort_bindings(&mut sorted);
                let mut st = shared.lock();
                if st.stopped {
                    return Err(StoreError::Stopped);
                }
                // Memory and queue change under one lock: the writer applies changes
                // in the order the memory copy saw them.
                let old = if sorted.is_empty() {
                    st.map.remove(aor)
                } else {
                    st.map.insert(aor.into(), Packed::all(&sorted))
                };
                // Only adds or refreshes contacts: the rows of the old ones are
                // overwritten, and the writer need not delete first.
                let only_adds = old.as_ref().is_none_or(|o| {
                    o.iter()
                        .all(|p| sorted.iter().any(|b| b.contact == p.part(0)))
                });
                st.held = st.held + sorted.len() - old.map_or(0, |v| v.len());
                if shared.memory_only {
                    // Nothing to wait for: no ticket, the REGISTER is answered now.
                    return Ok(());
                }
                st.queue.push(Write::Replace {
                    aor: aor.to_string(),
                    bindings: sorted,
                    only_adds,
                    ticket: (*worker, t),
                });
                // Wake the writer only when it waits: a busy writer takes the queue
                // after its commit anyway, and a wake is a system call per REGISTER.
                let wake = std::mem::take(&mut st.writer_waits);
                drop(st);
                if wake {
                    shared.wake.notify_one();
                }
                *ticket = Some(t);
                Ok(())
            }
        }
    }

    fn purge_expired(&mut self, now: u64) -> Result<usize, StoreError> {
        match &mut self.mode {
            Mode::Direct(db) => Ok(db.execute(
                "DELETE FROM location WHERE expires_at <= ?1",
                params![now as i64],
            )?),
            Mode::Shared { shared, .. } => {
                let mut st = shared.lock();
                let mut purged = 0;
                st.map.retain(|v| {
                    let live = v.iter().filter(|b| b.expires_at > now).count();
                    if live < v.len() {
                        purged += v.len() - live;
                        *v = std::mem::take(v)
                            .into_vec()
                            .into_iter()
                            .filter(|b| b.expires_at > now)
                            .collect();
                    }
                    live > 0
                });
                st.held -= purged;
                if shared.memory_only {
                    return Ok(purged);
                }
                st.queue.push(Write::Purge(now));
                drop(st);
                shared.wake.notify_one();
                Ok(purged)
            }
        }
    }
}

/// What the writer reports for each ticket: the worker that queued the change, the
/// ticket, and whether the change is on disk.
pub type Notify = Box<dyn Fn(usize, u64, Result<(), String>) + Send>;

#[derive(Debug)]
enum Write {
    Replace {
        aor: String,
        bindings: Vec<Binding>,
        /// Per the memory copy, every old contact of the AoR is among `bindings`.
        only_adds: bool,
        ticket: (usize, u64),
    },
    Purge(u64),
}

/// A binding as the shared memory copy holds it: its strings in one allocation, the
/// address of record only in the map's key. Holding 100 000 registrations, this
/// copy is most of the registrar's memory (about half of a [`Binding`]'s five
/// allocations and 200-byte struct).
#[derive(Debug)]
struct Packed {
    /// contact, Call-ID, Path values joined by LF, +sip.instance, source.
    text: Box<str>,
    /// Where each of the five ends in `text`.
    ends: [u32; 5],
    /// Bit 0: `instance` is present; bit 1: `source` is present.
    present: u8,
    q: u16,
    cseq: u32,
    expires_at: u64,
}

impl Packed {
    fn new(b: &Binding) -> Packed {
        let path = b.path.join("\n");
        let parts = [
            b.contact.as_str(),
            b.call_id.as_str(),
            path.as_str(),
            b.instance.as_deref().unwrap_or(""),
            b.source.as_deref().unwrap_or(""),
        ];
        let mut text = String::with_capacity(parts.iter().map(|p| p.len()).sum());
        let mut ends = [0u32; 5];
        for (i, p) in parts.iter().enumerate() {
            text.push_str(p);
            // Messages are at most 65 535 bytes (strowger-message's limit), so these fit.
            ends[i] = u32::try_from(text.len()).unwrap_or(u32::MAX);
        }
        Packed {
            text: text.into_boxed_str(),
            ends,
            present: u8::from(b.instance.is_some()) | (u8::from(b.source.is_some()) << 1),
            q: b.q,
            cseq: b.cseq,
            expires_at: b.expires_at,
        }
    }

    fn all(bindings: &[Binding]) -> Box<[Packed]> {
        bindings.iter().map(Packed::new).collect()
    }

    fn part(&self, i: usize) -> &str {
        let start = if i == 0 { 0 } else { self.ends[i - 1] as usize };
        self.text.get(start..self.ends[i] as usize).unwrap_or("")
    }

    fn unpack(&self, aor: &str) -> Binding {
        let path = self.part(2);
        Binding {
            aor: aor.to_string(),
            contact: self.part(0).to_string(),
            q: self.q,
            expires_at: self.expires_at,
            call_id: self.part(1).to_string(),
            cseq: self.cseq,
            path: if path.is_empty() {
                Vec::new()
            } else {
                path.split('\n').map(str::to_string).collect()
            },
            instance: (self.present & 1 != 0).then(|| self.part(3).to_string()),
            source: (self.present & 2 != 0).then(|| self.part(4).to_string()),
        }
    }
}

/// Bindings by AoR in 64 tables chosen by a hash of the AoR: growing a table moves
/// all its entries while every worker waits for the lock, and one table of 300 000
/// AoRs took tens of milliseconds to grow (datagrams were dropped meanwhile).
///
/// Each AoR carries its hash, computed once: a table that grows rehashes every key, and
/// hashing an AoR again meant following its pointer to its text, a cache miss per
/// entry. The 64 tables fill evenly, so they grow at nearly the same moment: at 70 000
/// REGISTER/s the workers stalled together each time the tables doubled.
#[derive(Debug)]
struct AorMap {
    hasher: ahash::RandomState,
    /// The tables use the hash as it is ([`BuildKeyHash`], as transaction tables do).
    parts: Vec<hashbrown::HashMap<AorKey, Box<[Packed]>, BuildKeyHash>>,
}

/// An AoR and its hash (keyed with random keys: AoRs come from the network).
#[derive(Debug, PartialEq, Eq)]
struct AorKey {
    hash: u64,
    aor: Box<str>,
}

impl Hash for AorKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u64(self.hash);
    }
}

/// A lookup by text and hash, without an owned key.
struct AorQuery<'a> {
    hash: u64,
    aor: &'a str,
}

impl Hash for AorQuery<'_> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u64(self.hash);
    }
}

impl hashbrown::Equivalent<AorKey> for AorQuery<'_> {
    fn equivalent(&self, key: &AorKey) -> bool {
        self.hash == key.hash && *self.aor == *key.aor
    }
}

const AOR_MAP_PARTS: usize = 64;

impl Default for AorMap {
    fn default() -> Self {
        AorMap {
            hasher: ahash::RandomState::new(),
            parts: (0..AOR_MAP_PARTS).map(|_| Default::default()).collect(),
        }
    }
}

impl AorMap {
    /// The AoR's hash and its table (bits of the hash the table does not use for the
    /// bucket nor for the tag).
    fn query<'a>(&self, aor: &'a str) -> (AorQuery<'a>, usize) {
        let hash = self.hasher.hash_one(aor);
        let part = (hash >> 40) as usize % AOR_MAP_PARTS;
        (AorQuery { hash, aor }, part)
    }

    fn get(&self, aor: &str) -> Option<&[Packed]> {
        let (q, i) = self.query(aor);
        self.parts.get(i)?.get(&q).map(|v| &**v)
    }

    fn insert(&mut self, aor: Box<str>, v: Box<[Packed]>) -> Option<Box<[Packed]>> {
        let (q, i) = self.query(&aor);
        let hash = q.hash;
        self.parts.get_mut(i)?.insert(AorKey { hash, aor }, v)
    }

    fn remove(&mut self, aor: &str) -> Option<Box<[Packed]>> {
        let (q, i) = self.query(aor);
        self.parts.get_mut(i)?.remove(&q)
    }

    fn retain(&mut self, mut f: impl FnMut(&mut Box<[Packed]>) -> bool) {
        for p in &mut self.parts {
            p.retain(|_, v| f(v));
        }
    }
}

#[derive(Debug, Default)]
struct State {
    map: AorMap,
    /// Bindings in `map`.
    held: usize,
    queue: Vec<Write>,
    stopped: bool,
    /// The writer is waiting on `wake` (set and cleared under the lock).
    writer_waits: bool,
}

#[derive(Debug, Default)]
struct Shared {
    state: Mutex<State>,
    wake: Condvar,
    /// No database: changes stay in `state.map` and are never queued (see
    /// [`SharedStore::memory`]).
    memory_only: bool,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The bindings shared by the workers, and the writer thread that commits their
/// changes in groups. Dropping it writes what is queued and stops the writer.
pub struct SharedStore {
    shared: Arc<Shared>,
    writer: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for SharedStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedStore").finish_non_exhaustive()
    }
}

impl SharedStore {
    /// Open (or create) the database at `path`, load its bindings and start the
    /// writer; `notify` is called from the writer thread for every ticket, once its
    /// change is committed as far as `sync` says.
    pub fn open(path: &Path, sync: Sync, notify: Notify) -> Result<SharedStore, StoreError> {
        let db = Connection::open(path)?;
        init(&db, sync)?;
        let mut loaded: HashMap<String, Vec<Binding>> = HashMap::new();
        let mut held = 0;
        {
            let mut st = db.prepare(
                "SELECT aor, contact, q, expires_at, call_id, cseq, path, instance, source
                 FROM location",
            )?;
            let mut rows = st.query([])?;
            while let Some(r) = rows.next()? {
                let aor: String = r.get(0)?;
                let b = row_binding(aor.clone(), r, 1)?;
                loaded.entry(aor).or_default().push(b);
                held += 1;
            }
        }
        let mut map = AorMap::default();
        for (aor, mut v) in loaded {
            sort_bindings(&mut v);
            map.insert(aor.into_boxed_str(), Packed::all(&v));
        }
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                map,
                held,
                ..State::default()
            }),
            wake: Condvar::new(),
            memory_only: false,
        });
        let s = shared.clone();
        let writer = std::thread::Builder::new()
            .name("location-writer".into())
            .spawn(move || write_loop(db, s, notify))
            .map_err(|_| StoreError::Stopped)?;
        Ok(SharedStore {
            shared,
            writer: Some(writer),
        })
    }

    /// The path that asks for [`SharedStore::memory`] instead of a file (SQLite's own
    /// name for an in-memory database).
    pub const MEMORY: &'static str = ":memory:";

    /// Bindings in memory only, as Kamailio's and OpenSIPS's usrloc with `db_mode` 0:
    /// no database, no writer thread, each REGISTER answered as soon as its change is
    /// in memory; nothing survives a restart (phones register again within their
    /// expiry). For a server that keeps no state on disk, and for load tests beside
    /// such a registrar.
    pub fn memory() -> SharedStore {
        SharedStore {
            shared: Arc::new(Shared {
                memory_only: true,
                ..Shared::default()
            }),
            writer: None,
        }
    }

    /// [`SharedStore::memory`] when `path` is `:memory:`, else [`SharedStore::open`].
    pub fn open_or_memory(
        path: &Path,
        sync: Sync,
        notify: Notify,
    ) -> Result<SharedStore, StoreError> {
        if path.as_os_str() == Self::MEMORY {
            Ok(Self::memory())
        } else {
            Self::open(path, sync, notify)
        }
    }

    /// A handle for worker `worker` (the number its tickets are reported with).
    pub fn handle(&self, worker: usize) -> SqliteStore {
        SqliteStore {
            mode: Mode::Shared {
                shared: self.shared.clone(),
                worker,
                next_ticket: 0,
                ticket: None,
            },
        }
    }
}

impl Drop for SharedStore {
    fn drop(&mut self) {
        self.shared.lock().stopped = true;
        self.shared.wake.notify_one();
        if let Some(w) = self.writer.take() {
            let _ = w.join();
        }
    }
}

/// See `write_loop`: how long the writer waits for more changes when it has fewer than
/// `GATHER_BELOW`.
const GATHER: std::time::Duration = std::time::Duration::from_millis(1);
const GATHER_BELOW: usize = 32;

fn write_loop(mut db: Connection, shared: Arc<Shared>, notify: Notify) {
    let mut trust_memory = true;
    loop {
        let batch = {
            let mut st = shared.lock();
            while st.queue.is_empty() && !st.stopped {
                st.writer_waits = true;
                st = shared.wake.wait(st).unwrap_or_else(|e| e.into_inner());
                st.writer_waits = false;
            }
            if st.queue.is_empty() {
                return;
            }
            if st.queue.len() < GATHER_BELOW && !st.stopped {
                // A commit costs about the same for 1 change as for 100 (the fsync
                // dominates): under load, wait a moment for the changes arriving
                // right behind this one (PostgreSQL's commit_delay). Idle servers
                // see a lone REGISTER answered GATHER later.
                drop(st);
                std::thread::sleep(GATHER);
                st = shared.lock();
            }
            std::mem::take(&mut st.queue)
        };
        tracing::trace!(changes = batch.len(), "location commit");
        let started = std::time::Instant::now();
        let result = commit(&mut db, &batch, trust_memory).map_err(|e| e.to_string());
        let took = started.elapsed();
        if took > std::time::Duration::from_millis(200) {
            // REGISTERs wait for this: over 500 ms their senders retransmit.
            tracing::warn!(
                changes = batch.len(),
                ms = took.as_millis() as u64,
                "slow location commit"
            );
        }
        if let Err(e) = &result {
            // From now on the memory copy may be ahead of the disk: delete before
            // every insert, as the disk may hold rows the memory copy does not.
            trust_memory = false;
            tracing::error!(changes = batch.len(), "the location database failed: {e}");
            // The memory copy went ahead of the disk: take the disk's word back for
            // the AoRs of the failed batch.
            let mut st = shared.lock();
            for w in &batch {
                if let Write::Replace { aor, .. } = w {
                    let on_disk = reload(&db, aor).unwrap_or_default();
                    let old = if on_disk.is_empty() {
                        st.map.remove(aor.as_str())
                    } else {
                        st.map.insert(aor.as_str().into(), Packed::all(&on_disk))
                    };
                    st.held = st.held + on_disk.len() - old.map_or(0, |v| v.len());
                }
            }
        }
        for w in &batch {
            if let Write::Replace {
                ticket: (worker, t),
                ..
            } = w
            {
                notify(*worker, *t, result.clone());
            }
        }
    }
}

/// Write a batch in one transaction. With `trust_memory`, an AoR whose change only adds
/// or refreshes contacts is written without deleting its rows first (one statement
/// per binding instead of two).
fn commit(db: &mut Connection, batch: &[Write], trust_memory: bool) -> rusqlite::Result<()> {
    let tx = db.transaction()?;
    for w in batch {
        match w {
            Write::Replace {
                aor,
                bindings,
                only_adds,
                ..
            } => {
                if *only_adds && trust_memory {
                    insert_bindings(&tx, aor, bindings)?;
                } else {
                    write_aor(&tx, aor, bindings)?;
                }
            }
            Write::Purge(now) => {
                tx.prepare_cached("DELETE FROM location WHERE expires_at <= ?1")?
                    .execute(params![*now as i64])?;
            }
        }
    }
    tx.commit()
}

fn reload(db: &Connection, aor: &str) -> rusqlite::Result<Vec<Binding>> {
    let mut st = db.prepare_cached(
        "SELECT contact, q, expires_at, call_id, cseq, path, instance, source
         FROM location WHERE aor = ?1 ORDER BY q DESC, contact",
    )?;
    let rows = st.query_map(params![aor], |r| row_binding(aor.to_string(), r, 0))?;
    rows.collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A test database and its WAL files, gone.
    fn remove_db(path: &Path) {
        let _ = std::fs::remove_file(path);
        let _ = std::fs::remove_file(path.with_extension("db-wal"));
        let _ = std::fs::remove_file(path.with_extension("db-shm"));
    }

    fn binding(contact: &str, expires_at: u64) -> Binding {
        Binding {
            aor: "sip:bob@example.com".into(),
            contact: contact.into(),
            q: 500,
            expires_at,
            call_id: "c".into(),
            cseq: 7,
            path: vec!["<sip:edge;lr>".into(), "<sip:core;lr>".into()],
            instance: Some("<urn:uuid:1>".into()),
            source: Some("udp:192.0.2.4:5060".into()),
        }
    }

    #[test]
    fn sync_sets_how_far_a_commit_goes() {
        for (sync, level) in [(Sync::Normal, 1), (Sync::Full, 2)] {
            let db = Connection::open_in_memory().unwrap();
            init(&db, sync).unwrap();
            let got: i64 = db
                .query_row("PRAGMA synchronous", [], |r| r.get(0))
                .unwrap();
            assert_eq!(got, level, "{sync:?}");
        }
    }

    #[test]
    fn packed_bindings_give_back_what_went_in() {
        let full = binding("sip:bob@192.0.2.4;transport=tcp", 100);
        assert_eq!(Packed::new(&full).unpack("sip:bob@example.com"), full);
        let bare = Binding {
            path: Vec::new(),
            instance: None,
            source: None,
            ..binding("sip:bob@h", 5)
        };
        assert_eq!(Packed::new(&bare).unpack("sip:bob@example.com"), bare);
        let empty_strings = Binding {
            instance: Some(String::new()),
            source: Some(String::new()),
            path: vec!["<sip:p;lr>".into()],
            ..bare.clone()
        };
        assert_eq!(
            Packed::new(&empty_strings).unpack("sip:bob@example.com"),
            empty_strings
        );
    }

    #[test]
    fn a_database_of_the_first_layout_is_moved_over() {
        let path = std::env::temp_dir().join(format!("strowger-v1-{}.db", std::process::id()));
        let _ = std::fs::remove_file(&path);
        {
            let db = Connection::open(&path).unwrap();
            db.execute_batch(
                "CREATE TABLE bindings (aor TEXT NOT NULL, contact TEXT NOT NULL,
                   q INTEGER NOT NULL, expires_at INTEGER NOT NULL, call_id TEXT NOT NULL,
                   cseq INTEGER NOT NULL, path TEXT NOT NULL, instance TEXT, source TEXT,
                   PRIMARY KEY (aor, contact));
                 CREATE INDEX bindings_expiry ON bindings(expires_at);
                 INSERT INTO bindings VALUES ('sip:bob@example.com', 'sip:bob@192.0.2.4',
                   500, 100, 'c', 7, '<sip:edge;lr>
<sip:core;lr>', '<urn:uuid:1>',
                   'udp:192.0.2.4:5060');",
            )
            .unwrap();
        }
        let mut s = SqliteStore::open(&path).unwrap();
        assert_eq!(
            s.bindings("sip:bob@example.com", 10).unwrap(),
            vec![binding("sip:bob@192.0.2.4", 100)]
        );
        drop(s);
        remove_db(&path);
    }

    #[test]
    fn shared_store_disk_follows_adds_refreshes_and_removals() {
        let path = std::env::temp_dir().join(format!("strowger-adds-{}.db", std::process::id()));
        let _ = std::fs::remove_file(&path);
        let aor = "sip:bob@example.com";
        {
            let shared = SharedStore::open(&path, Sync::Full, Box::new(|_, _, _| {})).unwrap();
            let mut h = shared.handle(0);
            h.replace(aor, vec![binding("sip:a@h", 100)]).unwrap();
            // Adds B and refreshes A: no delete needed.
            h.replace(aor, vec![binding("sip:a@h", 200), binding("sip:b@h", 200)])
                .unwrap();
            // Drops A: its row must go.
            h.replace(aor, vec![binding("sip:b@h", 300)]).unwrap();
            h.replace("sip:carol@example.com", vec![binding("sip:c@h", 300)])
                .unwrap();
        }
        let mut s = SqliteStore::open(&path).unwrap();
        assert_eq!(s.bindings(aor, 10).unwrap(), vec![binding("sip:b@h", 300)]);
        assert_eq!(s.count(10).unwrap(), 2);
        drop(s);
        remove_db(&path);
    }

    #[test]
    fn bindings_survive_reopening_the_file() {
        let dir = std::env::temp_dir().join(format!("strowger-store-{}", std::process::id()));
        let _ = std::fs::remove_file(&dir);
        {
            let mut s = SqliteStore::open(&dir).unwrap();
            s.replace(
                "sip:bob@example.com",
                vec![binding("sip:bob@192.0.2.4", 100)],
            )
            .unwrap();
        }
        let mut s = SqliteStore::open(&dir).unwrap();
        let b = s.bindings("sip:bob@example.com", 10).unwrap();
        assert_eq!(b, vec![binding("sip:bob@192.0.2.4", 100)]);
        assert_eq!(s.count(10).unwrap(), 1);
        drop(s);
        remove_db(&dir);
    }

    #[test]
    fn replace_is_all_or_nothing_and_expired_are_hidden_then_purged() {
        let mut s = SqliteStore::in_memory().unwrap();
        s.replace(
            "sip:bob@example.com",
            vec![binding("sip:a@h", 50), binding("sip:b@h", 150)],
        )
        .unwrap();
        assert_eq!(s.bindings("sip:bob@example.com", 100).unwrap().len(), 1);
        assert_eq!(s.purge_expired(100).unwrap(), 1);
        s.replace("sip:bob@example.com", vec![]).unwrap();
        assert!(s.bindings("sip:bob@example.com", 0).unwrap().is_empty());
    }

    #[test]
    fn a_memory_store_answers_at_once_and_writes_no_file() {
        let notify: Notify = Box::new(|_, _, _| panic!("a memory store reports no ticket"));
        let store = SharedStore::open_or_memory(Path::new(SharedStore::MEMORY), Sync::Full, notify)
            .unwrap();
        assert!(!Path::new(SharedStore::MEMORY).exists());
        let (mut a, mut b) = (store.handle(0), store.handle(1));
        a.replace(
            "sip:bob@example.com",
            vec![binding("sip:a@h", 50), binding("sip:b@h", 150)],
        )
        .unwrap();
        assert_eq!(a.take_ticket(), None, "nothing to wait for");
        // Every worker sees the change; expired bindings are hidden, then purged.
        assert_eq!(
            b.bindings("sip:bob@example.com", 100).unwrap(),
            vec![binding("sip:b@h", 150)]
        );
        assert_eq!(b.held(), Some(2));
        assert_eq!(b.purge_expired(100).unwrap(), 1);
        assert_eq!(a.held(), Some(1));
        a.replace("sip:bob@example.com", vec![]).unwrap();
        assert!(b.bindings("sip:bob@example.com", 0).unwrap().is_empty());
        assert_eq!(b.held(), Some(0));
    }

    #[test]
    fn shared_store_group_commits_and_reports_each_ticket_once_durable() {
        let path = std::env::temp_dir().join(format!("strowger-shared-{}.db", std::process::id()));
        let _ = std::fs::remove_file(&path);
        let (tx, rx) = std::sync::mpsc::channel();
        let tx = std::sync::Mutex::new(tx);
        let notify: Notify = Box::new(move |w, t, r| {
            let _ = tx.lock().unwrap().send((w, t, r));
        });
        {
            let shared = SharedStore::open(&path, Sync::Full, notify).unwrap();
            let mut a = shared.handle(0);
            let mut b = shared.handle(1);
            a.replace(
                "sip:bob@example.com",
                vec![binding("sip:b@h", 100), binding("sip:a@h", 100)],
            )
            .unwrap();
            assert_eq!(a.take_ticket(), Some(1));
            assert_eq!(a.take_ticket(), None);
            // Visible at once to every worker, in the order of the SQL store.
            let seen = b.bindings("sip:bob@example.com", 10).unwrap();
            assert_eq!(seen[0].contact, "sip:a@h");
            assert_eq!(b.held(), Some(2));
            b.replace("sip:bob@example.com", vec![binding("sip:c@h", 100)])
                .unwrap();
            assert_eq!(b.take_ticket(), Some(1));
            let mut got = vec![rx.recv().unwrap(), rx.recv().unwrap()];
            got.sort_by_key(|(w, _, _)| *w);
            assert_eq!(got, vec![(0, 1, Ok(())), (1, 1, Ok(()))]);
            assert_eq!(a.count(10).unwrap(), 1);
            assert_eq!(a.purge_expired(200).unwrap(), 1);
            assert_eq!(a.held(), Some(0));
        }
        // Dropping the shared store wrote everything queued.
        let mut s = SqliteStore::open(&path).unwrap();
        assert!(s.bindings("sip:bob@example.com", 10).unwrap().is_empty());
        drop(s);
        {
            let shared = SharedStore::open(&path, Sync::Full, Box::new(|_, _, _| {})).unwrap();
            let mut h = shared.handle(0);
            h.replace("sip:bob@example.com", vec![binding("sip:d@h", 300)])
                .unwrap();
        }
        let shared = SharedStore::open(&path, Sync::Full, Box::new(|_, _, _| {})).unwrap();
        let mut h = shared.handle(0);
        assert_eq!(
            h.bindings("sip:bob@example.com", 10).unwrap(),
            vec![binding("sip:d@h", 300)]
        );
        drop(shared);
        remove_db(&path);
    }
}
