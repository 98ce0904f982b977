//! `strowger answer`: answer every call (RFC 3261 section 13.3), with media, until
//! stopped; one line per call on stdout.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::Args;
use strowger_core::ua::{CallHandle, EndReason, Event, RegistrationHandle};
use strowger_media::{MediaEvent, MediaStats};
use strowger_sdp::{Role, SessionDescription};
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::media::{self, Audio, LocalAudio, MediaNote, MediaTask};
use super::{
    fail, locate, route_to, secs, status_line, uri_domain, CommonArgs, Failure, Setup, Shutdown,
    Sip,
};
use crate::say;

#[derive(Args, Debug)]
pub struct AnswerArgs {
    /// Register at this registrar (needs --user) and stay registered while running.
    #[arg(long, value_name = "REGISTRAR_URI")]
    pub register: Option<String>,
    /// Send this WAV file to every caller.
    #[arg(long, value_name = "FILE.wav")]
    pub play: Option<PathBuf>,
    /// Record each call: the first to FILE.wav, the next ones to FILE-2.wav, FILE-3.wav...
    #[arg(long, value_name = "FILE.wav")]
    pub record: Option<PathBuf>,
    /// Send back what is received.
    #[arg(long)]
    pub echo: bool,
    /// Ring (180) this many seconds before answering.
    #[arg(long, value_name = "SECONDS", default_value_t = 0.0)]
    pub ring: f64,
    /// Stop once this many calls have ended.
    #[arg(long, value_name = "N")]
    pub max_calls: Option<u64>,
    /// Hang up (BYE) this many seconds after answering.
    #[arg(long, value_name = "SECONDS")]
    pub duration: Option<f64>,
    /// Registration expiry asked for with --register.
    #[arg(long, value_name = "SECONDS", default_value_t = 3600)]
    pub expires: u32,
    #[command(flatten)]
    pub common: CommonArgs,
}

enum State {
    /// 180 sent; 200 at this instant.
    Ringing(Instant),
    Answered,
    Ended,
}

struct Call {
    n: u64,
    from: String,
    state: State,
    offer: Option<SessionDescription>,
    sdp: Option<strowger_sdp::LocalSession>,
    sockets: Option<strowger_media::MediaSockets>,
    /// RTP ports kept for a late offer until the ACK brings the answer.
    late_sockets: Option<strowger_media::MediaSockets>,
    media: Option<MediaTask>,
    answered_at: Option<Instant>,
    hangup_at: Option<Instant>,
    digits: String,
    outcome: Option<String>,
    stats: Option<MediaStats>,
}

pub async fn run(args: AnswerArgs) -> Result<(), Failure> {
    let mut shutdown = Shutdown::install()?;
    let ring = Duration::try_from_secs_f64(args.ring)
        .map_err(|_| Failure(format!("--ring {} is not a duration", args.ring)))?;
    let duration = args
        .duration
        .map(|d| {
            Duration::try_from_secs_f64(d)
                .map_err(|_| Failure(format!("--duration {d} is not a duration")))
        })
        .transpose()?;
    let audio = Audio::open(args.play.as_deref(), None, args.echo)?;
    let registrar = match &args.register {
        Some(r) => {
            if args.common.credentials().map_err(Failure)?.is_none() && args.common.aor.is_none() {
                return fail("--register needs --user NAME:PASSWORD (or --aor)");
            }
            Some((r.clone(), locate(r, None).await?))
        }
        None => None,
    };
    let mut sip = Setup {
        common: &args.common,
        target: registrar.as_ref().map(|(_, (t, _))| *t),
        outbound: registrar.as_ref().is_some_and(|(_, (_, o))| *o),
        default_aor_domain: registrar.as_ref().and_then(|(r, _)| uri_domain(r)),
    }
    .build()
    .await?;
    for l in sip.net.local_addrs() {
        say!("listening on {l}");
    }

    let mut registration: Option<RegistrationHandle> = None;
    if let Some((uri, _)) = &registrar {
        let h = sip
            .ua
            .register(super::now(), uri, args.expires)
            .map_err(|e| Failure(format!("cannot register at {uri}: {e}")))?;
        registration = Some(h);
    }

    let (notes_tx, mut notes) = mpsc::unbounded_channel::<MediaNote>();
    let mut calls: BTreeMap<CallHandle, Call> = BTreeMap::new();
    let mut count = 0u64;
    let mut done = 0u64;
    let limit = args.max_calls;

    loop {
        if limit.is_some_and(|l| done >= l) {
            break;
        }
        let next_timer = calls
            .values()
            .filter_map(|c| match c.state {
                State::Ringing(at) => Some(at),
                State::Answered => c.hangup_at,
                State::Ended => None,
            })
            .min();
        tokio::select! {
            ev = sip.next_event() => {
                let Some(ev) = ev else { break };
                match ev {
                    Event::IncomingCall { call, from, body, .. } => {
                        count += 1;
                        let mut c = Call {
                            n: count,
                            from,
                            state: State::Ringing(Instant::now() + ring),
                            offer: None,
                            sdp: None,
                            sockets: None,
                            late_sockets: None,
                            media: None,
                            answered_at: None,
                            hangup_at: None,
                            digits: String::new(),
                            outcome: None,
                            stats: None,
                        };
                        match prepare(&sip, &args.common, body.as_ref()).await {
                            Ok((offer, local)) => {
                                c.offer = offer;
                                c.sdp = Some(local.session);
                                c.sockets = Some(local.sockets);
                                let _ = sip.ua.answer(super::now(), call, 180, None);
                            }
                            Err(code) => {
                                // The core ends the call (Rejected) on a final answer.
                                let _ = sip.ua.answer(super::now(), call, code, None);
                            }
                        }
                        calls.insert(call, c);
                    }
                    Event::CallConfirmed { call, body } => {
                        // A late offer: our 200 carried the offer, the ACK the answer.
                        if let (Some(c), Some(Ok(answer))) = (calls.get_mut(&call), media::parse_sdp(body.as_ref())) {
                            if c.offer.is_none() && c.media.is_none() {
                                if let (Some(ours), Some(sockets)) = (c.sdp.as_ref().and_then(|s| s.last_sent().cloned()), c.late_sockets.take()) {
                                    match media::configure(&ours, &answer, Role::Offerer) {
                                        Ok(config) => {
                                            let mut a = audio.clone();
                                            a.record = args.record.as_ref().map(|p| numbered(p, c.n));
                                            match media::start(call, config, sockets, &a, notes_tx.clone()) {
                                                Ok(m) => c.media = Some(m),
                                                Err(e) => tracing::warn!(error = %e.0, "media not started"),
                                            }
                                        }
                                        Err(e) => tracing::info!(error = %e, "the answer in the ACK has no common codec"),
                                    }
                                }
                            }
                        }
                    }
                    Event::CallEnded { call, reason } => {
                        if let Some(c) = calls.get_mut(&call) {
                            let talk = c.answered_at.map(|a| a.elapsed()).unwrap_or_default();
                            c.outcome = Some(match reason {
                                EndReason::RemoteBye => format!("ended by the caller after {}", secs(talk)),
                                EndReason::LocalBye => format!("hung up after {}", secs(talk)),
                                EndReason::Cancelled => "cancelled by the caller (487 Request Terminated)".into(),
                                EndReason::Rejected { code } => format!("refused ({})", status_line(code)),
                                EndReason::NoAck => "no ACK for our 200 OK (BYE sent)".into(),
                                EndReason::DialogGone { code } => format!("lost ({})", status_line(code)),
                                other => format!("ended ({other:?})"),
                            });
                            c.state = State::Ended;
                            match &c.media {
                                Some(m) => m.stop(),
                                None => {
                                    done += 1;
                                    report_by_handle(&mut calls, call, &args.record);
                                }
                            }
                        }
                    }
                    Event::MessageReceived { from, body, .. } => {
                        let text = body
                            .map(|b| String::from_utf8_lossy(&b.bytes).into_owned())
                            .unwrap_or_default();
                        say!("message from {from}: {text}");
                    }
                    Event::RegisterResult { code, expires, .. } => match code {
                        200..=299 => say!(
                            "registered {} (expires in {} s)",
                            sip.ua.config().aor,
                            expires.map_or("?".into(), |e| e.to_string())
                        ),
                        _ => {
                            let aor = sip.ua.config().aor.clone();
                            say!("registration failed: {}", status_line(code));
                            hang_up_all(&mut sip, &mut calls);
                            sip.linger(Duration::from_secs(2), |_| {}).await;
                            return fail(format!(
                                "{}: the registrar refused the registration of {aor}",
                                status_line(code)
                            ));
                        }
                    },
                    Event::ReinviteReceived { call, body } => {
                        // A session refresh or hold: answered, the media left as it is.
                        let body = calls
                            .get_mut(&call)
                            .and_then(|c| c.sdp.as_mut())
                            .and_then(|s| media::reanswer(s, body.as_ref()));
                        let _ = sip.ua.answer(super::now(), call, 200, body);
                    }
                    _ => {}
                }
            }
            Some(note) = notes.recv() => match note {
                MediaNote::Event(call, MediaEvent::DtmfReceived(d)) => {
                    if let Some(c) = calls.get_mut(&call) {
                        c.digits.push(d.as_char());
                    }
                }
                MediaNote::Event(_, e) => tracing::debug!(event = ?e, "media"),
                MediaNote::Finished(call, stats) => {
                    if let Some(c) = calls.get_mut(&call) {
                        c.stats = Some(stats);
                        c.media = None;
                        if matches!(c.state, State::Ended) {
                            done += 1;
                            report_by_handle(&mut calls, call, &args.record);
                        }
                    }
                }
            },
            () = tokio::time::sleep_until(next_timer.unwrap_or_else(far)), if next_timer.is_some() => {
                let now = Instant::now();
                let due: Vec<CallHandle> = calls
                    .iter()
                    .filter(|(_, c)| match c.state {
                        State::Ringing(at) => at <= now,
                        State::Answered => c.hangup_at.is_some_and(|h| h <= now),
                        State::Ended => false,
                    })
                    .map(|(h, _)| *h)
                    .collect();
                for h in due {
                    let Some(c) = calls.get_mut(&h) else { continue };
                    match c.state {
                        State::Ringing(_) => {
                            if let Err(e) = accept(&mut sip, h, c, &audio, &args.record, notes_tx.clone()) {
                                tracing::warn!(error = %e.0, "call not answered");
                                let _ = sip.ua.answer(super::now(), h, 500, None);
                                c.state = State::Ended;
                            } else {
                                c.hangup_at = duration.map(|d| now + d);
                            }
                        }
                        State::Answered => {
                            c.hangup_at = None;
                            if sip.ua.bye(super::now(), h).is_ok() {
                                sip.sent_bye(h);
                            }
                        }
                        State::Ended => {}
                    }
                }
            }
            () = shutdown.recv() => break,
        }
    }

    // Leaving: end every call, let media finish, unregister.
    hang_up_all(&mut sip, &mut calls);
    let until = Instant::now() + Duration::from_secs(3);
    let mut unregistering = false;
    if let Some(h) = registration {
        unregistering = sip.ua.unregister(super::now(), h).is_ok();
    }
    while calls.values().any(|c| c.media.is_some()) || unregistering {
        tokio::select! {
            ev = sip.next_event() => match ev {
                Some(Event::RegisterResult { code, .. }) if unregistering => {
                    unregistering = false;
                    if (200..300).contains(&code) {
                        say!("unregistered {}", sip.ua.config().aor);
                    } else {
                        say!("unregistration failed: {}", status_line(code));
                    }
                }
                Some(Event::CallEnded { call, reason }) => {
                    if let Some(c) = calls.get_mut(&call) {
                        c.outcome.get_or_insert_with(|| format!("ended at shutdown ({reason:?})"));
                        c.state = State::Ended;
                        if let Some(m) = &c.media { m.stop(); }
                    }
                }
                Some(_) => {}
                None => break,
            },
            Some(note) = notes.recv() => {
                if let MediaNote::Finished(call, stats) = note {
                    if let Some(c) = calls.get_mut(&call) {
                        c.stats = Some(stats);
                        c.media = None;
                        report_by_handle(&mut calls, call, &args.record);
                    }
                }
            }
            () = tokio::time::sleep_until(until) => break,
        }
    }
    sip.linger(Duration::from_secs(2), |_| {}).await;
    Ok(())
}

fn far() -> Instant {
    Instant::now() + Duration::from_secs(86_400)
}

/// Read the offer and open RTP ports; the status to refuse with on failure.
async fn prepare(
    sip: &Sip,
    common: &CommonArgs,
    body: Option<&strowger_core::ua::Body>,
) -> Result<(Option<SessionDescription>, LocalAudio), u16> {
    let offer = match media::parse_sdp(body) {
        Some(Ok(o)) => Some(o),
        Some(Err(e)) => {
            tracing::info!(error = %e, "unreadable SDP offer");
            return Err(488);
        }
        None if body.is_some() => return Err(415),
        None => None,
    };
    // Our address as the caller's media address sees it.
    let remote_ip = offer.as_ref().and_then(|o| {
        o.media
            .first()
            .and_then(|m| o.media_connection(m))
            .and_then(|c| c.address.ip())
    });
    let listen_ip = common.listen.first().map(|l| l.addr.ip());
    let advertise: IpAddr = match listen_ip {
        Some(ip) if !ip.is_unspecified() => ip,
        _ => remote_ip.and_then(route_to).unwrap_or(sip.local_ip),
    };
    let bind = match listen_ip {
        Some(ip) if !ip.is_unspecified() => ip,
        Some(ip) => ip,
        None => advertise,
    };
    match LocalAudio::bind(bind, advertise).await {
        Ok(a) => Ok((offer, a)),
        Err(e) => {
            tracing::warn!(error = %e.0, "cannot open RTP ports");
            Err(503)
        }
    }
}

/// 200 with the SDP answer, and media.
fn accept(
    sip: &mut Sip,
    h: CallHandle,
    c: &mut Call,
    audio: &Audio,
    record: &Option<PathBuf>,
    notes: mpsc::UnboundedSender<MediaNote>,
) -> Result<(), Failure> {
    let (Some(session), Some(sockets)) = (c.sdp.as_mut(), c.sockets.take()) else {
        return fail("no RTP ports");
    };
    let Some(offer) = &c.offer else {
        // No offer: ours goes in the 200, the answer comes in the ACK (late offer,
        // RFC 3264 section 5); media starts then.
        let sdp = session.create_offer();
        c.late_sockets = Some(sockets);
        sip.ua
            .answer(super::now(), h, 200, Some(media::sdp_body(&sdp)))?;
        c.state = State::Answered;
        c.answered_at = Some(Instant::now());
        return Ok(());
    };
    let answer = session.create_answer(offer);
    let config = match media::configure(offer, &answer, Role::Answerer) {
        Ok(cfg) => cfg,
        Err(e) => {
            tracing::info!(error = %e, "no common codec");
            sip.ua.answer(super::now(), h, 488, None)?;
            c.state = State::Ended;
            return Ok(());
        }
    };
    let mut audio = audio.clone();
    audio.record = record.as_ref().map(|p| numbered(p, c.n));
    sip.ua
        .answer(super::now(), h, 200, Some(media::sdp_body(&answer)))?;
    c.state = State::Answered;
    c.answered_at = Some(Instant::now());
    c.media = Some(media::start(h, config, sockets, &audio, notes)?);
    Ok(())
}

/// The recording of call `n`: FILE.wav, FILE-2.wav, ...
fn numbered(path: &Path, n: u64) -> PathBuf {
    if n <= 1 {
        return path.to_path_buf();
    }
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let name = match path.extension() {
        Some(e) => format!("{stem}-{n}.{}", e.to_string_lossy()),
        None => format!("{stem}-{n}"),
    };
    path.with_file_name(name)
}

fn hang_up_all(sip: &mut Sip, calls: &mut BTreeMap<CallHandle, Call>) {
    for (h, c) in calls.iter_mut() {
        match c.state {
            State::Ringing(_) => {
                let _ = sip.ua.answer(super::now(), *h, 480, None);
            }
            State::Answered => {
                if sip.ua.bye(super::now(), *h).is_ok() {
                    sip.sent_bye(*h);
                }
            }
            State::Ended => {}
        }
    }
    sip.flush();
}

fn report_by_handle(
    calls: &mut BTreeMap<CallHandle, Call>,
    h: CallHandle,
    record: &Option<PathBuf>,
) {
    if let Some(c) = calls.get(&h) {
        print_line(c, record);
    }
    calls.remove(&h);
}

fn print_line(c: &Call, record: &Option<PathBuf>) {
    let mut line = format!(
        "call {} from {}: {}",
        c.n,
        c.from,
        c.outcome.as_deref().unwrap_or("ended")
    );
    if let Some(s) = &c.stats {
        line.push_str(&format!(
            "; rtp {} packets in, {} out",
            s.packets_received, s.packets_sent
        ));
        if let Some(r) = record {
            line.push_str(&format!("; recorded {}", numbered(r, c.n).display()));
        }
    }
    if !c.digits.is_empty() {
        line.push_str(&format!("; dtmf {}", c.digits));
    }
    say!("{line}");
}
