//! Running `strowger` user agents as processes on loopback, for the agent tests: every
//! process is bounded by a time limit and killed when its handle drops.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_strowger");

/// A long-running `strowger` (answer, register): its stdout read line by line.
pub struct Agent {
    child: Child,
    lines: mpsc::Receiver<String>,
    pub seen: Vec<String>,
}

impl Agent {
    pub fn start(args: &[&str]) -> Agent {
        let mut child = Command::new(BIN)
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("strowger starts");
        let out = child.stdout.take().expect("stdout");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Agent {
            child,
            lines,
            seen: Vec::new(),
        }
    }

    /// `strowger answer` on an OS-chosen loopback port; returns it and the port.
    pub fn answer(extra: &[&str]) -> (Agent, u16) {
        let mut args = vec!["answer", "--listen", "udp:127.0.0.1:0"];
        args.extend_from_slice(extra);
        let mut a = Agent::start(&args);
        let first = a.wait_line("listening on", Duration::from_secs(10));
        let port = first
            .rsplit(':')
            .next()
            .and_then(|p| p.trim().parse().ok())
            .unwrap_or_else(|| panic!("unexpected first line {first:?}"));
        (a, port)
    }

    /// The first line (from now on, or already seen) containing `pattern`.
    pub fn wait_line(&mut self, pattern: &str, limit: Duration) -> String {
        if let Some(l) = self.seen.iter().find(|l| l.contains(pattern)) {
            return l.clone();
        }
        let until = Instant::now() + limit;
        loop {
            let left = until.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    eprintln!("agent: {line}");
                    self.seen.push(line.clone());
                    if line.contains(pattern) {
                        return line;
                    }
                }
                Err(_) => panic!(
                    "no line with {pattern:?} within {limit:?}; saw {:#?}",
                    self.seen
                ),
            }
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGTERM, then wait (bounded) for the exit.
    pub fn terminate(&mut self, limit: Duration) -> Option<ExitStatus> {
        sigterm(self.child.id());
        wait_bounded(&mut self.child, limit)
    }

    pub fn wait(&mut self, limit: Duration) -> Option<ExitStatus> {
        wait_bounded(&mut self.child, limit)
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn sigterm(pid: u32) {
    let _ = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status();
}

fn wait_bounded(child: &mut Child, limit: Duration) -> Option<ExitStatus> {
    let until = Instant::now() + limit;
    loop {
        if let Ok(Some(s)) = child.try_wait() {
            return Some(s);
        }
        if Instant::now() >= until {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// What a one-shot command did.
#[derive(Debug)]
pub struct Output {
    pub status: Option<ExitStatus>,
    pub stdout: String,
    pub stderr: String,
}

impl Output {
    pub fn code(&self) -> Option<i32> {
        self.status.and_then(|s| s.code())
    }
}

/// Run a one-shot `strowger` command, killed after `limit`.
pub fn run(args: &[&str], limit: Duration) -> Output {
    let child = Command::new(BIN)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("strowger starts");
    finish(child, limit)
}

/// Wait (bounded) for a spawned command and collect its output.
pub fn finish(mut child: Child, limit: Duration) -> Output {
    let mut out = child.stdout.take().expect("stdout");
    let mut err = child.stderr.take().expect("stderr");
    let t_out = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = out.read_to_string(&mut s);
        s
    });
    let t_err = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s);
        s
    });
    let status = wait_bounded(&mut child, limit);
    let o = Output {
        status,
        stdout: t_out.join().unwrap_or_default(),
        stderr: t_err.join().unwrap_or_default(),
    };
    eprintln!("command output: {o:#?}");
    o
}

/// A fresh directory for a test's files.
pub fn temp_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("strowger-agent-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("temp dir");
    d
}

/// A linear chirp from 300 Hz to 3000 Hz at 8 kHz, 16-bit mono.
pub fn write_chirp(path: &Path, seconds: f64) -> Vec<i16> {
    let rate = 8000.0;
    let n = (seconds * rate) as usize;
    let (f0, f1) = (300.0, 3000.0);
    let k = (f1 - f0) / seconds;
    let samples: Vec<i16> = (0..n)
        .map(|i| {
            let t = i as f64 / rate;
            let phase = 2.0 * std::f64::consts::PI * (f0 * t + k * t * t / 2.0);
            (12000.0 * phase.sin()) as i16
        })
        .collect();
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: 8000,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(path, spec).expect("create wav");
    for s in &samples {
        w.write_sample(*s).expect("write wav");
    }
    w.finalize().expect("finalize wav");
    samples
}

pub fn read_wav(path: &Path) -> (u32, Vec<i16>) {
    let mut r = hound::WavReader::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let rate = r.spec().sample_rate;
    let samples = r.samples::<i16>().map(|s| s.expect("sample")).collect();
    (rate, samples)
}

/// The normalized cross-correlation of `a` and `b` at the best lag within
/// `max_lag` samples (positive: `b` is late), and that lag.
pub fn best_correlation(a: &[i16], b: &[i16], max_lag: i64) -> (f64, i64) {
    let energy = |x: &[i16]| x.iter().map(|&s| f64::from(s) * f64::from(s)).sum::<f64>();
    let norm = (energy(a) * energy(b)).sqrt();
    if norm == 0.0 {
        return (0.0, 0);
    }
    let mut best = (f64::MIN, 0);
    for lag in -max_lag..=max_lag {
        let mut sum = 0.0;
        for (i, &x) in a.iter().enumerate() {
            let j = i as i64 + lag;
            if j < 0 || j >= b.len() as i64 {
                continue;
            }
            sum += f64::from(x) * f64::from(b[j as usize]);
        }
        let c = sum / norm;
        if c > best.0 {
            best = (c, lag);
        }
    }
    best
}

/// `strowger serve` on an OS-chosen loopback UDP port, for the domain example.com with the
/// users alice:alicepw and bob:bobpw and its database in `dir`; returns it and the port.
pub fn serve(dir: &Path) -> (Agent, u16) {
    let db = dir.join("location.db");
    let mut s = Agent::start(&[
        "serve",
        "--listen",
        "udp:127.0.0.1:0",
        "--domain",
        "example.com",
        "--db",
        db.to_str().unwrap_or("location.db"),
        "--user",
        "alice:alicepw",
        "--user",
        "bob:bobpw",
        "--workers",
        "2",
        "--log",
        "warn",
    ]);
    let first = s.wait_line("listening on", Duration::from_secs(10));
    let port = first
        .rsplit(':')
        .next()
        .and_then(|p| p.trim().parse().ok())
        .unwrap_or_else(|| panic!("unexpected first line {first:?}"));
    (s, port)
}
