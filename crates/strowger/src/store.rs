//! The embedded location store: SQLite (rusqlite, bundled), so that registrations
//! survive a restart with nothing to install.
//!
//! Durability: the database runs in WAL mode with `synchronous=FULL`, and
//! [`SqliteStore::replace`] commits one transaction before it returns, so the
//! registrar's 200 goes out only once the binding is on disk.

use std::path::Path;

use rusqlite::{params, Connection, OptionalExtension};
use strowger_core::registrar::{Binding, LocationStore};

/// Bindings in an SQLite file (or in memory for tests).
#[derive(Debug)]
pub struct SqliteStore {
    db: Connection,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("the location database failed: {0}")]
    Sqlite(#[from] rusqlite::Error),
}

impl SqliteStore {
    /// Open (or create) the store at `path`.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        Self::init(Connection::open(path)?)
    }

    /// A store that lives in memory (tests).
    #[cfg(test)]
    pub fn in_memory() -> Result<Self, StoreError> {
        Self::init(Connection::open_in_memory()?)
    }

    fn init(db: Connection) -> Result<Self, StoreError> {
        // journal_mode returns a row; query it rather than execute it.
        let _: Option<String> = db
            .query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))
            .optional()?;
        db.execute_batch(
            "PRAGMA synchronous=FULL;
             CREATE TABLE IF NOT EXISTS bindings (
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
             );
             CREATE INDEX IF NOT EXISTS bindings_expiry ON bindings(expires_at);",
        )?;
        Ok(SqliteStore { db })
    }

    /// Every binding that has not expired (for metrics and start-up logs).
    pub fn count(&self, now: u64) -> Result<u64, StoreError> {
        let n: i64 = self.db.query_row(
            "SELECT COUNT(*) FROM bindings WHERE expires_at > ?1",
            params![now as i64],
            |r| r.get(0),
        )?;
        Ok(n.max(0) as u64)
    }
}

impl LocationStore for SqliteStore {
    type Error = StoreError;

    fn bindings(&mut self, aor: &str, now: u64) -> Result<Vec<Binding>, StoreError> {
        let mut st = self.db.prepare_cached(
            "SELECT contact, q, expires_at, call_id, cseq, path, instance, source
             FROM bindings WHERE aor = ?1 AND expires_at > ?2 ORDER BY q DESC, contact",
        )?;
        let rows = st.query_map(params![aor, now as i64], |r| {
            let path: String = r.get(5)?;
            Ok(Binding {
                aor: aor.to_string(),
                contact: r.get(0)?,
                q: r.get::<_, i64>(1)?.clamp(0, 1000) as u16,
                expires_at: r.get::<_, i64>(2)?.max(0) as u64,
                call_id: r.get(3)?,
                cseq: r.get::<_, i64>(4)?.clamp(0, i64::from(u32::MAX)) as u32,
                path: path
                    .split('\n')
                    .filter(|s| !s.is_empty())
                    .map(str::to_string)
                    .collect(),
                instance: r.get(6)?,
                source: r.get(7)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn replace(&mut self, aor: &str, bindings: &[Binding]) -> Result<(), StoreError> {
        let tx = self.db.transaction()?;
        tx.execute("DELETE FROM bindings WHERE aor = ?1", params![aor])?;
        {
            let mut st = tx.prepare_cached(
                "INSERT OR REPLACE INTO bindings
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
        }
        tx.commit()?;
        Ok(())
    }

    fn purge_expired(&mut self, now: u64) -> Result<usize, StoreError> {
        Ok(self.db.execute(
            "DELETE FROM bindings WHERE expires_at <= ?1",
            params![now as i64],
        )?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn bindings_survive_reopening_the_file() {
        let dir = std::env::temp_dir().join(format!("strowger-store-{}", std::process::id()));
        let _ = std::fs::remove_file(&dir);
        {
            let mut s = SqliteStore::open(&dir).unwrap();
            s.replace("sip:bob@example.com", &[binding("sip:bob@192.0.2.4", 100)])
                .unwrap();
        }
        let mut s = SqliteStore::open(&dir).unwrap();
        let b = s.bindings("sip:bob@example.com", 10).unwrap();
        assert_eq!(b, vec![binding("sip:bob@192.0.2.4", 100)]);
        assert_eq!(s.count(10).unwrap(), 1);
        drop(s);
        let _ = std::fs::remove_file(&dir);
        let _ = std::fs::remove_file(dir.with_extension("db-wal"));
    }

    #[test]
    fn replace_is_all_or_nothing_and_expired_are_hidden_then_purged() {
        let mut s = SqliteStore::in_memory().unwrap();
        s.replace(
            "sip:bob@example.com",
            &[binding("sip:a@h", 50), binding("sip:b@h", 150)],
        )
        .unwrap();
        assert_eq!(s.bindings("sip:bob@example.com", 100).unwrap().len(), 1);
        assert_eq!(s.purge_expired(100).unwrap(), 1);
        s.replace("sip:bob@example.com", &[]).unwrap();
        assert!(s.bindings("sip:bob@example.com", 0).unwrap().is_empty());
    }
}
