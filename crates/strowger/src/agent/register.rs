//! `strowger register REGISTRAR_URI`: bind, refresh, remove or list bindings (RFC 3261
//! section 10.2).

use std::time::Duration;

use clap::Args;
use strowger_core::ua::Event;
use tokio::time::Instant;

use super::{fail, locate, status_line, uri_domain, CommonArgs, Failure, Setup, Shutdown};
use crate::say;

#[derive(Args, Debug)]
pub struct RegisterArgs {
    /// The registrar, e.g. sip:example.com or sip:192.0.2.10:5060.
    pub registrar: String,
    /// Expiry to ask for, in seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 3600)]
    pub expires: u32,
    /// Remove our binding (the Contact of this --listen address) and exit.
    #[arg(long, conflicts_with_all = ["unregister_all", "query"])]
    pub unregister: bool,
    /// Remove every binding of the address of record (Contact: *) and exit.
    #[arg(long, conflicts_with = "query")]
    pub unregister_all: bool,
    /// List the bindings of the address of record and exit.
    #[arg(long)]
    pub query: bool,
    /// Register, print the granted bindings and exit (instead of staying registered
    /// until SIGTERM or Ctrl-C).
    #[arg(long)]
    pub once: bool,
    #[command(flatten)]
    pub common: CommonArgs,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Register,
    Unregister,
    UnregisterAll,
    Query,
}

/// A refresh that failed is tried again after this long.
const RETRY: Duration = Duration::from_secs(30);

pub async fn run(args: RegisterArgs) -> Result<(), Failure> {
    let mut shutdown = Shutdown::install()?;
    let mode = if args.unregister {
        Mode::Unregister
    } else if args.unregister_all {
        Mode::UnregisterAll
    } else if args.query {
        Mode::Query
    } else {
        Mode::Register
    };
    if args.common.credentials().map_err(Failure)?.is_none() && args.common.aor.is_none() {
        return fail("whom to register: pass --user NAME:PASSWORD (or --aor sip:name@domain)");
    }
    let (target, outbound) = locate(&args.registrar, None).await?;
    let mut sip = Setup {
        common: &args.common,
        target: Some(target),
        outbound,
        default_aor_domain: uri_domain(&args.registrar),
    }
    .build()
    .await?;
    let aor = sip.ua.config().aor.clone();
    let registrar = args.registrar.as_str();
    let now = super::now();
    let started = match mode {
        Mode::Register => sip.ua.register(now, registrar, args.expires),
        other => sip
            .ua
            .new_registration(registrar, args.expires)
            .and_then(|h| {
                match other {
                    Mode::Unregister => sip.ua.unregister(now, h),
                    Mode::UnregisterAll => sip.ua.unregister_all(now, h),
                    _ => sip.ua.query_bindings(now, h),
                }
                .map(|()| h)
            }),
    };
    let mut handle =
        started.map_err(|e| Failure(format!("cannot send REGISTER to {registrar}: {e}")))?;

    let mut registered = false;
    let mut retry_at: Option<Instant> = None;
    let mut stopping = false;
    let result = loop {
        tokio::select! {
            ev = sip.next_event() => {
                let Some(ev) = ev else { break fail("the sockets closed") };
                let Event::RegisterResult { registration, code, expires, bindings } = ev else { continue };
                if registration != handle {
                    continue;
                }
                if !(200..300).contains(&code) {
                    let sentence = match code {
                        401 | 407 => sip.auth_refused(code),
                        403 => format!("{}: {registrar} does not let {aor} register", status_line(code)),
                        404 => format!("{}: {registrar} does not know {aor}", status_line(code)),
                        408 => format!("no answer: {registrar} did not respond to the REGISTER"),
                        503 => format!("{}: cannot reach {registrar}", status_line(code)),
                        _ => format!("{}: the registrar refused the request", status_line(code)),
                    };
                    if registered && !stopping {
                        // A refresh failed: keep trying while running.
                        say!("refresh failed: {sentence}; trying again in {} s", RETRY.as_secs());
                        registered = false;
                        retry_at = Some(Instant::now() + RETRY);
                        continue;
                    }
                    break fail(sentence);
                }
                match (mode, stopping) {
                    (Mode::Register, false) => {
                        let granted = expires.map_or("?".into(), |e| e.to_string());
                        if !registered {
                            say!("registered {aor} at {registrar} for {granted} s");
                        } else {
                            say!("refreshed {aor} for {granted} s");
                        }
                        registered = true;
                        if args.once {
                            print_bindings(&bindings);
                            break Ok(());
                        }
                    }
                    (Mode::Register, true) | (Mode::Unregister, _) => {
                        say!("unregistered {aor} at {registrar}");
                        print_bindings(&bindings);
                        break Ok(());
                    }
                    (Mode::UnregisterAll, _) => {
                        say!("removed every binding of {aor} at {registrar}");
                        break Ok(());
                    }
                    (Mode::Query, _) => {
                        say!("{aor} has {} binding{}", bindings.len(), if bindings.len() == 1 { "" } else { "s" });
                        print_bindings(&bindings);
                        break Ok(());
                    }
                }
            }
            () = tokio::time::sleep_until(retry_at.unwrap_or_else(far)), if retry_at.is_some() => {
                retry_at = None;
                match sip.ua.register(super::now(), registrar, args.expires) {
                    Ok(h) => handle = h,
                    Err(e) => break fail(format!("cannot send REGISTER to {registrar}: {e}")),
                }
            }
            () = shutdown.recv() => {
                if mode != Mode::Register {
                    break fail("interrupted");
                }
                if stopping {
                    break fail("interrupted while unregistering");
                }
                stopping = true;
                // Bounded by timer F (32 s), or the next signal.
                if sip.ua.unregister(super::now(), handle).is_err() {
                    break Ok(());
                }
            }
        }
    };
    sip.linger(Duration::from_millis(100), |_| {}).await;
    result
}

fn far() -> Instant {
    Instant::now() + Duration::from_secs(86_400)
}

fn print_bindings(bindings: &[String]) {
    for b in bindings {
        say!("binding: {b}");
    }
}
