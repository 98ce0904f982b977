//! Configuration of `strowger serve`: a TOML file and the command-line flags that
//! override it. Every setting has a default, so `strowger serve` with nothing starts
//! a registrar and proxy for the local domain on UDP and TCP 5060.

use std::path::{Path, PathBuf};

use serde::Deserialize;

/// The whole configuration.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ServeConfig {
    /// `udp:IP:PORT`, `tcp:...`, `tls:...`, `ws:...`, `wss:...`.
    pub listen: Vec<String>,
    /// Domains we are the registrar and home proxy for.
    pub domains: Vec<String>,
    /// The location database (SQLite); `:memory:` for none (bindings in memory only,
    /// lost at a restart, as usrloc's `db_mode` 0 in Kamailio).
    pub db: PathBuf,
    /// How far a REGISTER's change is written before the 200: `normal` (the database
    /// file; survives a crash of the server) or `full` (flushed to the disk; survives
    /// power loss). See [`crate::store::Sync`].
    pub db_sync: crate::store::Sync,
    /// Answer INVITEs for our users with 302 and their contacts instead of proxying.
    pub redirect: bool,
    /// Threads that process messages.
    pub workers: Option<usize>,
    /// Record-Route every dialog-creating request.
    pub record_route: bool,
    pub tls: Option<TlsFiles>,
    pub users: Vec<User>,
    pub auth: AuthConfig,
    pub registrar: RegistrarSettings,
    pub limits: LimitSettings,
    pub metrics: MetricsConfig,
    pub log: LogConfig,
    /// Static routes for requests to other domains: the first whose `domain` matches
    /// the Request-URI host sends the request to `via`.
    pub routes: Vec<Route>,
}

impl Default for ServeConfig {
    fn default() -> Self {
        ServeConfig {
            listen: vec!["udp:0.0.0.0:5060".into(), "tcp:0.0.0.0:5060".into()],
            domains: Vec::new(),
            db: PathBuf::from("strowger.db"),
            db_sync: crate::store::Sync::default(),
            redirect: false,
            workers: None,
            record_route: true,
            tls: None,
            users: Vec::new(),
            auth: AuthConfig::default(),
            registrar: RegistrarSettings::default(),
            limits: LimitSettings::default(),
            metrics: MetricsConfig::default(),
            log: LogConfig::default(),
            routes: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TlsFiles {
    /// PEM certificate chain.
    pub cert: PathBuf,
    /// PEM private key.
    pub key: PathBuf,
}

/// A user: a password, or its HA1 hashes (RFC 3261 22.4 / RFC 7616), which is what a
/// production configuration should hold.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct User {
    pub name: String,
    pub password: Option<String>,
    pub ha1_md5: Option<String>,
    pub ha1_sha256: Option<String>,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct AuthConfig {
    /// The digest realm (defaults to the first domain).
    pub realm: Option<String>,
    /// Require authentication from our users (REGISTER 401, other requests 407).
    pub required: bool,
    /// Seconds a nonce stays fresh (then stale=true).
    pub nonce_ttl: u64,
    /// Digest algorithms offered, one challenge each, in this order. RFC 8760 asks
    /// for the most preferred first; the default puts MD5 first anyway because
    /// MD5-only clients that take the first challenge (SIPp 3.6, older phones) fail
    /// otherwise, and a client that supports SHA-256 still finds it. Use
    /// `["SHA-256", "MD5"]` when every client is RFC 8760-aware.
    pub algorithms: Vec<String>,
}

impl Default for AuthConfig {
    fn default() -> Self {
        AuthConfig {
            realm: None,
            required: true,
            nonce_ttl: 300,
            algorithms: vec!["MD5".into(), "SHA-256".into()],
        }
    }
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct RegistrarSettings {
    pub default_expires: u32,
    pub min_expires: u32,
    pub max_expires: u32,
    pub max_bindings: usize,
}

impl Default for RegistrarSettings {
    fn default() -> Self {
        RegistrarSettings {
            default_expires: 3600,
            min_expires: 60,
            max_expires: 86_400,
            max_bindings: 16,
        }
    }
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct LimitSettings {
    pub max_connections: usize,
    pub max_message_size: usize,
    /// Live transactions in the whole server (shared out among its shards). A call
    /// through the proxy holds about four for 32 s after it is answered (RFC 6026,
    /// timer J), so 1 000 000 (about 1 GiB) carries some 7000 calls/s.
    pub max_transactions: usize,
    /// Seconds before an idle TCP/TLS/WebSocket connection is closed.
    pub idle_timeout: u64,
}

impl Default for LimitSettings {
    fn default() -> Self {
        LimitSettings {
            max_connections: 10_000,
            max_message_size: 65_535,
            max_transactions: 1_000_000,
            idle_timeout: 3600,
        }
    }
}

#[derive(Debug, Clone, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields, default)]
pub struct MetricsConfig {
    /// `IP:PORT` of the Prometheus endpoint (`GET /metrics`); off when absent.
    pub listen: Option<String>,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    /// `error`, `warn`, `info`, `debug`, `trace`, or a tracing filter.
    pub level: String,
    /// `text` or `json`.
    pub format: String,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            level: "info".into(),
            format: "text".into(),
        }
    }
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Route {
    /// A domain (exact, case-insensitive) or `*`.
    pub domain: String,
    /// Where to send: a SIP URI (`sip:gw.example.net:5060;transport=tcp`).
    pub via: String,
}

/// Why the configuration cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{path} is not valid configuration: {message}")]
    Parse { path: String, message: String },
    #[error("--user {0:?} must be NAME:PASSWORD")]
    User(String),
    #[error("user {0} has neither a password nor an HA1 hash")]
    NoSecret(String),
    #[error("--workers must be at least 1")]
    Workers,
}

impl ServeConfig {
    /// Read a TOML file.
    pub fn from_file(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Self::from_toml(&text).map_err(|message| ConfigError::Parse {
            path: path.display().to_string(),
            message,
        })
    }

    pub fn from_toml(text: &str) -> Result<Self, String> {
        toml::from_str(text).map_err(|e| e.message().to_string())
    }

    /// Check what serde cannot.
    pub fn check(&self) -> Result<(), ConfigError> {
        if self.workers == Some(0) {
            return Err(ConfigError::Workers);
        }
        for u in &self.users {
            if u.password.is_none() && u.ha1_md5.is_none() && u.ha1_sha256.is_none() {
                return Err(ConfigError::NoSecret(u.name.clone()));
            }
        }
        Ok(())
    }

    /// Add a `--user NAME:PASSWORD` (a later one for the same name wins).
    pub fn add_user_flag(&mut self, spec: &str) -> Result<(), ConfigError> {
        let (name, password) = spec
            .split_once(':')
            .filter(|(n, p)| !n.is_empty() && !p.is_empty())
            .ok_or_else(|| ConfigError::User(spec.to_string()))?;
        if self.users.len() < 64 {
            // Short lists only: a users file of 100 000 lines would make this quadratic.
            self.users.retain(|u| u.name != name);
        }
        self.users.push(User {
            name: name.to_string(),
            password: Some(password.to_string()),
            ha1_md5: None,
            ha1_sha256: None,
        });
        Ok(())
    }

    /// The realm of our digest challenges.
    pub fn realm(&self) -> String {
        self.auth
            .realm
            .clone()
            .or_else(|| self.domains.first().cloned())
            .unwrap_or_else(|| "strowger".to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_listen_on_udp_and_tcp_5060() {
        let c = ServeConfig::from_toml("").unwrap();
        assert_eq!(c.listen, vec!["udp:0.0.0.0:5060", "tcp:0.0.0.0:5060"]);
        assert!(c.auth.required);
        assert_eq!(c.registrar.min_expires, 60);
        assert_eq!(c.db_sync, crate::store::Sync::Normal);
        assert!(ServeConfig::from_toml("db_sync = \"off\"").is_err());
    }

    #[test]
    fn a_full_file_parses() {
        let c = ServeConfig::from_toml(
            r#"
            listen = ["udp:127.0.0.1:5070", "tls:127.0.0.1:5071"]
            domains = ["example.com"]
            db = "/var/lib/strowger/location.db"
            db_sync = "full"
            redirect = false
            workers = 4
            [tls]
            cert = "/etc/strowger/cert.pem"
            key = "/etc/strowger/key.pem"
            [[users]]
            name = "alice"
            ha1_md5 = "0123456789abcdef0123456789abcdef"
            [auth]
            realm = "example.com"
            nonce_ttl = 120
            [registrar]
            min_expires = 30
            [metrics]
            listen = "127.0.0.1:9090"
            [log]
            level = "debug"
            [[routes]]
            domain = "*"
            via = "sip:gw.example.net;transport=tcp"
            "#,
        )
        .unwrap();
        c.check().unwrap();
        assert_eq!(c.workers, Some(4));
        assert_eq!(c.db_sync, crate::store::Sync::Full);
        assert_eq!(c.users[0].name, "alice");
        assert_eq!(c.registrar.min_expires, 30);
        assert_eq!(c.registrar.max_expires, 86_400);
        assert_eq!(c.routes[0].via, "sip:gw.example.net;transport=tcp");
    }

    #[test]
    fn unknown_keys_and_bad_users_are_refused() {
        assert!(ServeConfig::from_toml("lisen = []").is_err());
        let mut c = ServeConfig::default();
        assert!(c.add_user_flag("alice").is_err());
        assert!(c.add_user_flag(":pw").is_err());
        c.add_user_flag("alice:secret:with:colons").unwrap();
        assert_eq!(c.users[0].password.as_deref(), Some("secret:with:colons"));
        let c = ServeConfig::from_toml("[[users]]\nname = \"bob\"").unwrap();
        assert!(c.check().is_err());
    }
}
