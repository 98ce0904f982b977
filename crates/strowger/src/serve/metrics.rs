//! Counters for the Prometheus endpoint (`GET /metrics`, text format 0.0.4): requests
//! and responses by method and code, active transactions and dialogs, bindings.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

#[derive(Debug, Default)]
pub struct Metrics {
    requests: Mutex<BTreeMap<String, u64>>,
    /// By method, then code: counted without allocating once a pair was seen.
    responses: Mutex<BTreeMap<String, BTreeMap<u16, u64>>>,
    pub transactions: AtomicI64,
    pub contexts: AtomicI64,
    pub bindings: AtomicI64,
    pub parse_errors: AtomicU64,
}

impl Metrics {
    pub fn request(&self, method: &str) {
        if let Ok(mut m) = self.requests.lock() {
            match m.get_mut(method) {
                Some(n) => *n += 1,
                None => {
                    m.insert(method.to_string(), 1);
                }
            }
        }
    }

    pub fn response(&self, method: &str, code: u16) {
        if let Ok(mut m) = self.responses.lock() {
            let codes = match m.get_mut(method) {
                Some(c) => c,
                None => m.entry(method.to_string()).or_default(),
            };
            *codes.entry(code).or_insert(0) += 1;
        }
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut s = String::new();
        s.push_str("# HELP strowger_requests_total SIP requests received, by method.\n");
        s.push_str("# TYPE strowger_requests_total counter\n");
        if let Ok(m) = self.requests.lock() {
            for (method, n) in m.iter() {
                let _ = writeln!(
                    s,
                    "strowger_requests_total{{method=\"{}\"}} {n}",
                    escape(method)
                );
            }
        }
        s.push_str("# HELP strowger_responses_total SIP responses sent, by method and code.\n");
        s.push_str("# TYPE strowger_responses_total counter\n");
        if let Ok(m) = self.responses.lock() {
            for (method, codes) in m.iter() {
                for (code, n) in codes {
                    let _ = writeln!(
                        s,
                        "strowger_responses_total{{method=\"{}\",code=\"{code}\"}} {n}",
                        escape(method)
                    );
                }
            }
        }
        for (name, help, v) in [
            (
                "strowger_transactions",
                "Active SIP transactions.",
                &self.transactions,
            ),
            (
                "strowger_proxy_contexts",
                "Requests being proxied (response contexts).",
                &self.contexts,
            ),
            (
                "strowger_bindings",
                "Registered contact bindings.",
                &self.bindings,
            ),
        ] {
            let _ = writeln!(
                s,
                "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {}",
                v.load(Ordering::Relaxed)
            );
        }
        let _ = writeln!(
            s,
            "# HELP strowger_parse_errors_total Messages that could not be parsed.\n# TYPE strowger_parse_errors_total counter\nstrowger_parse_errors_total {}",
            self.parse_errors.load(Ordering::Relaxed)
        );
        s
    }
}

fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// Serve `GET /metrics` on `listener` until the task is dropped.
pub async fn serve(listener: TcpListener, metrics: Arc<Metrics>) {
    loop {
        let Ok((mut sock, _)) = listener.accept().await else {
            continue;
        };
        let metrics = metrics.clone();
        tokio::spawn(async move {
            let mut buf = [0u8; 1024];
            let n =
                match tokio::time::timeout(std::time::Duration::from_secs(5), sock.read(&mut buf))
                    .await
                {
                    Ok(Ok(n)) => n,
                    _ => return,
                };
            let head = String::from_utf8_lossy(&buf[..n]);
            let (status, body) = if head.starts_with("GET /metrics") {
                ("200 OK", metrics.render())
            } else {
                (
                    "404 Not Found",
                    "only /metrics is served here\n".to_string(),
                )
            };
            let resp = format!(
                "HTTP/1.1 {status}\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = sock.write_all(resp.as_bytes()).await;
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_prometheus_text() {
        let m = Metrics::default();
        m.request("INVITE");
        m.request("INVITE");
        m.response("INVITE", 200);
        m.bindings.store(3, Ordering::Relaxed);
        let t = m.render();
        assert!(t.contains("strowger_requests_total{method=\"INVITE\"} 2\n"));
        assert!(t.contains("strowger_responses_total{method=\"INVITE\",code=\"200\"} 1\n"));
        assert!(t.contains("strowger_bindings 3\n"));
    }
}
