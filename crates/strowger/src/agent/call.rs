//! `strowger call URI`: one outgoing call (RFC 3261 section 13.2) with media.

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use strowger_core::ua::{CallHandle, EndReason, Event};
use strowger_media::MediaEvent;
use strowger_sdp::Role;
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::media::{self, Audio, LocalAudio, MediaNote, MediaTask};
use super::{fail, locate, secs, status_line, uri_domain, CommonArgs, Failure, Setup, Shutdown};
use crate::say;

#[derive(Args, Debug)]
pub struct CallArgs {
    /// Whom to call, e.g. sip:bob@example.com or sip:bob@192.0.2.4:5060.
    pub uri: String,
    /// Send this WAV file (any rate, mixed to mono, resampled to 8 kHz).
    #[arg(long, value_name = "FILE.wav")]
    pub play: Option<PathBuf>,
    /// Write what is received to this WAV file (16-bit mono, 8 kHz).
    #[arg(long, value_name = "FILE.wav")]
    pub record: Option<PathBuf>,
    /// Hang up this many seconds after the answer. Default: when the played file ends,
    /// else after 10 s.
    #[arg(long, value_name = "SECONDS")]
    pub duration: Option<f64>,
    /// Send these digits (RFC 4733 telephone-events) once answered.
    #[arg(long, value_name = "DIGITS")]
    pub dtmf: Option<String>,
    /// Give up (CANCEL) when nobody answers within this many seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 60.0)]
    pub timeout: f64,
    /// Send the INVITE through this proxy (a SIP URI).
    #[arg(long, value_name = "URI")]
    pub proxy: Option<String>,
    #[command(flatten)]
    pub common: CommonArgs,
}

fn seconds(name: &str, s: f64) -> Result<Duration, Failure> {
    Duration::try_from_secs_f64(s).map_err(|_| Failure(format!("--{name} {s} is not a duration")))
}

/// What ended the call, to say and to exit with.
enum Outcome {
    Completed,
    Failed(String),
}

pub async fn run(args: CallArgs) -> Result<(), Failure> {
    let mut shutdown = Shutdown::install()?;
    let duration = args.duration.map(|d| seconds("duration", d)).transpose()?;
    let ring_timeout = seconds("timeout", args.timeout)?;
    if let Some(d) = &args.dtmf {
        if let Some(c) = d
            .chars()
            .find(|c| strowger_media::Digit::from_char(*c).is_none())
        {
            return fail(format!(
                "--dtmf: {c:?} is not a DTMF digit (0-9, *, #, A-D)"
            ));
        }
    }
    let audio = Audio::open(args.play.as_deref(), args.record.clone(), false)?;
    let (target, outbound) = locate(&args.uri, args.proxy.as_deref()).await?;
    let mut sip = Setup {
        common: &args.common,
        target: Some(target),
        outbound,
        default_aor_domain: uri_domain(&args.uri)
            .or_else(|| args.proxy.as_deref().and_then(uri_domain)),
    }
    .build()
    .await?;
    let bind_ip = match args.common.listen.first() {
        Some(l) if !l.addr.ip().is_unspecified() => l.addr.ip(),
        _ => sip.local_ip,
    };
    let mut local = LocalAudio::bind(bind_ip, sip.local_ip).await?;
    let offer = local.session.create_offer();
    let callee = args
        .uri
        .trim_start_matches("sip:")
        .trim_start_matches("sips:");

    say!("calling {}...", args.uri);
    let call = sip
        .ua
        .invite(super::now(), &args.uri, Some(media::sdp_body(&offer)))
        .map_err(|e| Failure(format!("cannot call {}: {e}", args.uri)))?;
    let invited = Instant::now();

    let (notes_tx, mut notes) = mpsc::unbounded_channel::<MediaNote>();
    let mut sockets = Some(local.sockets);
    let mut media_task: Option<MediaTask> = None;
    let mut answered_at: Option<Instant> = None;
    let mut hangup_at: Option<Instant> = None;
    let mut give_up_at = Some(invited + ring_timeout);
    let mut last_provisional = 0u16;
    let mut digits_heard = String::new();

    let outcome = loop {
        tokio::select! {
            ev = sip.next_event() => {
                let Some(ev) = ev else { break Outcome::Failed("the sockets closed".into()) };
                match ev {
                    Event::CallRinging { call: c, code, .. }
                        if c == call && code != last_provisional =>
                    {
                        last_provisional = code;
                        match code {
                            180 => say!("ringing"),
                            183 => say!("session progress"),
                            _ => say!("{}", status_line(code)),
                        }
                    }
                    Event::CallAnswered { call: c, body } if c == call => {
                        let now = Instant::now();
                        answered_at = Some(now);
                        give_up_at = None;
                        let who = sip
                            .ua
                            .dialog(call)
                            .map(|d| d.remote_target.clone())
                            .unwrap_or_else(|| args.uri.clone());
                        say!("answered by {who}");
                        let config = match media::parse_sdp(body.as_ref()) {
                            Some(Ok(answer)) => media::configure(&offer, &answer, Role::Offerer),
                            Some(Err(e)) => Err(format!("its SDP answer is not valid: {e}")),
                            None => Err("the 2xx has no SDP answer".into()),
                        };
                        let config = match config {
                            Ok(c) => c,
                            Err(e) => {
                                hang_up(&mut sip, call);
                                break Outcome::Failed(format!("no media with {callee}: {e}"));
                            }
                        };
                        let Some(s) = sockets.take() else { continue };
                        let task = media::start(call, config, s, &audio, notes_tx.clone())?;
                        if let Some(d) = &args.dtmf {
                            task.send_dtmf(d);
                        }
                        media_task = Some(task);
                        hangup_at = match duration {
                            Some(d) => Some(now + d),
                            None if audio.play.is_some() => None,
                            None => Some(now + Duration::from_secs(10)),
                        };
                    }
                    Event::ReinviteReceived { call: c, body } if c == call => {
                        // A session refresh or hold: answered, the media left as it is.
                        let answer = media::reanswer(&mut local.session, body.as_ref());
                        let _ = sip.ua.answer(super::now(), call, 200, answer);
                    }
                    Event::CallEnded { call: c, reason } if c == call => {
                        break match reason {
                            EndReason::RemoteBye => {
                                let talk = answered_at.map(|a| a.elapsed()).unwrap_or_default();
                                say!("the other side hung up after {}", secs(talk));
                                Outcome::Completed
                            }
                            other => {
                                let auth = sip.auth_refused(match other { EndReason::Rejected { code } => code, _ => 401 });
                                Outcome::Failed(explain(&other, callee, &auth, invited))
                            }
                        };
                    }
                    _ => {}
                }
            }
            Some(note) = notes.recv() => match note {
                MediaNote::Event(_, MediaEvent::SourceEnded) if duration.is_none() => {
                    // Let the last packets arrive before the BYE.
                    hangup_at = Some(Instant::now() + Duration::from_millis(200));
                }
                MediaNote::Event(_, MediaEvent::DtmfReceived(d)) => digits_heard.push(d.as_char()),
                MediaNote::Event(_, MediaEvent::DtmfSent(d)) => tracing::info!(digit = %d.as_char(), "DTMF sent"),
                MediaNote::Event(_, e) => tracing::debug!(event = ?e, "media"),
                MediaNote::Finished(..) => {}
            },
            () = tokio::time::sleep_until(hangup_at.unwrap_or_else(far)), if hangup_at.is_some() => {
                let talk = answered_at.map(|a| a.elapsed()).unwrap_or_default();
                hang_up(&mut sip, call);
                say!("hung up after {}", secs(talk));
                break Outcome::Completed;
            }
            () = tokio::time::sleep_until(give_up_at.unwrap_or_else(far)), if give_up_at.is_some() => {
                say!("no answer after {}: cancelling", secs(ring_timeout));
                let _ = sip.ua.cancel(super::now(), call);
                cancel_deadline(&mut sip, call, &mut notes).await;
                break Outcome::Failed(format!("no answer: {callee} did not answer within {}", secs(ring_timeout)));
            }
            () = shutdown.recv() => {
                if answered_at.is_some() {
                    let talk = answered_at.map(|a| a.elapsed()).unwrap_or_default();
                    hang_up(&mut sip, call);
                    say!("hung up after {}", secs(talk));
                    break Outcome::Completed;
                }
                say!("interrupted: cancelling");
                let _ = sip.ua.cancel(super::now(), call);
                cancel_deadline(&mut sip, call, &mut notes).await;
                break Outcome::Failed("cancelled before answer (interrupted)".into());
            }
        }
    };

    if let Some(task) = media_task {
        task.stop();
        let _ = tokio::time::timeout(Duration::from_secs(3), task.join).await;
    }
    if !digits_heard.is_empty() {
        say!("dtmf received: {digits_heard}");
    }
    sip.linger(Duration::from_secs(2), |_| {}).await;
    match outcome {
        Outcome::Completed => Ok(()),
        Outcome::Failed(s) => fail(s),
    }
}

fn far() -> Instant {
    Instant::now() + Duration::from_secs(86_400)
}

fn hang_up(sip: &mut super::Sip, call: CallHandle) {
    if sip.ua.bye(super::now(), call).is_ok() {
        sip.sent_bye(call);
    }
    sip.flush();
}

/// After a CANCEL: run until the call ends (487) or 5 s pass.
async fn cancel_deadline(
    sip: &mut super::Sip,
    call: CallHandle,
    notes: &mut mpsc::UnboundedReceiver<MediaNote>,
) {
    let until = Instant::now() + Duration::from_secs(5);
    loop {
        tokio::select! {
            ev = sip.next_event() => match ev {
                Some(Event::CallEnded { call: c, reason }) if c == call => {
                    let code = match reason {
                        EndReason::Cancelled => 487,
                        EndReason::Rejected { code } => code,
                        _ => 0,
                    };
                    if code > 0 {
                        say!("{}", status_line(code));
                    }
                    return;
                }
                Some(Event::CallAnswered { call: c, .. }) if c == call => {
                    // The 2xx crossed the CANCEL; the core acknowledged it and sent BYE.
                    sip.sent_bye(call);
                }
                Some(_) => {}
                None => return,
            },
            Some(_) = notes.recv() => {}
            () = tokio::time::sleep_until(until) => return,
        }
    }
}

/// One sentence for a call that did not complete.
fn explain(reason: &EndReason, callee: &str, auth: &str, invited: Instant) -> String {
    match reason {
        EndReason::Rejected { code } => match code {
            401 | 407 => auth.to_string(),
            404 => format!("{}: {callee} is not known there", status_line(*code)),
            408 => format!("{}: {callee} did not answer", status_line(*code)),
            480 => format!("{}: {callee} is not available", status_line(*code)),
            486 | 600 => format!("{}: {callee} is busy", status_line(*code)),
            603 => format!("{}: {callee} declined the call", status_line(*code)),
            488 | 606 => format!(
                "{}: {callee} accepts none of PCMU, PCMA",
                status_line(*code)
            ),
            c => format!("{}: the call to {callee} failed", status_line(*c)),
        },
        EndReason::Redirected { code, targets } => format!(
            "{}: {callee} is at {} (redirects are not followed)",
            status_line(*code),
            if targets.is_empty() {
                "no address given".to_string()
            } else {
                targets.join(", ")
            }
        ),
        EndReason::Timeout => format!(
            "no answer: the INVITE timed out after {:.0} s",
            invited.elapsed().as_secs_f64()
        ),
        EndReason::TransportError => format!("cannot reach {callee}: the INVITE could not be sent"),
        EndReason::Cancelled => "cancelled before answer".into(),
        EndReason::NoAck | EndReason::LocalBye => "the call ended".into(),
        EndReason::RemoteBye => "the other side hung up".into(),
        EndReason::DialogGone { code } => {
            format!("{}: the call to {callee} was lost", status_line(*code))
        }
    }
}
