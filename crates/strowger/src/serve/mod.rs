//! `strowger serve`: registrar, location service, proxy and redirect server.

pub mod app;
#[cfg(test)]
mod app_tests;
pub mod config;
pub mod metrics;
pub mod run;

use std::path::PathBuf;

/// `strowger serve` flags; each overrides the configuration file.
#[derive(clap::Args, Debug)]
pub struct ServeArgs {
    /// Where to listen: udp:IP:PORT, tcp:IP:PORT, tls:IP:PORT, ws:IP:PORT, wss:IP:PORT
    /// (repeatable; IPv6 as [::1]). Default: udp and tcp on 0.0.0.0:5060.
    #[arg(long, value_name = "SPEC")]
    pub listen: Vec<String>,
    /// A domain this server is the registrar and proxy for (repeatable). The listen
    /// addresses count as ours too.
    #[arg(long, value_name = "NAME")]
    pub domain: Vec<String>,
    /// The location database (SQLite), created if missing. Default: strowger.db.
    /// `:memory:` keeps the bindings in memory only (lost when the server stops).
    #[arg(long, value_name = "PATH")]
    pub db: Option<PathBuf>,
    /// A user who may register and call (repeatable).
    #[arg(long, value_name = "NAME:PASSWORD")]
    pub user: Vec<String>,
    /// Users from a file: one `NAME;PASSWORD` (or `NAME:PASSWORD`) per line; a SIPp
    /// injection file (with its SEQUENTIAL/RANDOM first line) works as it is.
    #[arg(long, value_name = "FILE")]
    pub users_file: Option<PathBuf>,
    /// Redirect server: answer INVITEs for our users with 302 and their contacts.
    #[arg(long)]
    pub redirect: bool,
    /// Threads that process messages (default: the number of cores).
    #[arg(long, value_name = "N")]
    pub workers: Option<usize>,
    /// A TOML file with all of these settings and more (routes, limits, TLS, logging).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Serve Prometheus metrics on http://IP:PORT/metrics.
    #[arg(long, value_name = "IP:PORT")]
    pub metrics: Option<String>,
    /// PEM certificate chain for tls: and wss: listeners.
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key for tls: and wss: listeners.
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Do not challenge our users (for tests and closed networks).
    #[arg(long)]
    pub no_auth: bool,
    /// Log level or tracing filter (error, warn, info, debug, trace).
    #[arg(long, value_name = "LEVEL")]
    pub log: Option<String>,
}

/// Build the configuration: the file, then the flags.
pub fn configure(args: &ServeArgs) -> Result<config::ServeConfig, String> {
    let mut c = match &args.config {
        Some(p) => config::ServeConfig::from_file(p).map_err(|e| e.to_string())?,
        None => config::ServeConfig::default(),
    };
    if !args.listen.is_empty() {
        c.listen = args.listen.clone();
    }
    if !args.domain.is_empty() {
        c.domains = args.domain.clone();
    }
    if let Some(db) = &args.db {
        c.db = db.clone();
    }
    for u in &args.user {
        c.add_user_flag(u).map_err(|e| e.to_string())?;
    }
    if let Some(f) = &args.users_file {
        let text =
            std::fs::read_to_string(f).map_err(|e| format!("cannot read {}: {e}", f.display()))?;
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty()
                || line.starts_with('#')
                || matches!(line, "SEQUENTIAL" | "RANDOM" | "USER")
            {
                continue;
            }
            let spec = line.replacen(';', ":", 1);
            c.add_user_flag(&spec)
                .map_err(|e| format!("{} line {}: {e}", f.display(), n + 1))?;
        }
    }
    if args.redirect {
        c.redirect = true;
    }
    if args.workers.is_some() {
        c.workers = args.workers;
    }
    if let Some(m) = &args.metrics {
        c.metrics.listen = Some(m.clone());
    }
    if let (Some(cert), Some(key)) = (&args.tls_cert, &args.tls_key) {
        c.tls = Some(config::TlsFiles {
            cert: cert.clone(),
            key: key.clone(),
        });
        if !c.listen.iter().any(|l| l.starts_with("tls:")) && args.listen.is_empty() {
            c.listen.push("tls:0.0.0.0:5061".into());
        }
    }
    if c.domains.is_empty() {
        // "The local domain": the host's name, and localhost.
        if let Ok(h) = std::fs::read_to_string("/proc/sys/kernel/hostname") {
            let h = h.trim();
            if !h.is_empty() {
                c.domains.push(h.to_string());
            }
        }
        c.domains.push("localhost".into());
    }
    if args.no_auth {
        c.auth.required = false;
    }
    if let Some(l) = &args.log {
        c.log.level = l.clone();
    }
    c.check().map_err(|e| e.to_string())?;
    Ok(c)
}

/// Run `strowger serve`.
pub fn main(args: &ServeArgs) -> std::process::ExitCode {
    let config = match configure(args) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("strowger serve: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    crate::logging::init(&config.log.level, config.log.format == "json");
    let workers = config
        .workers
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers.max(1) + 1)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("strowger serve: cannot start the runtime: {e}");
            return std::process::ExitCode::from(1);
        }
    };
    match rt.block_on(run::run(config)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("strowger serve: {e}");
            std::process::ExitCode::from(1)
        }
    }
}
