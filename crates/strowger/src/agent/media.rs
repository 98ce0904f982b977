//! Media for the agent's calls: SDP offers and answers (PCMU, PCMA, telephone-event),
//! and one [`run_media`] task per call whose events come back tagged with the call.

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use strowger_core::ua::{Body, CallHandle};
use strowger_media::{
    run_media, AudioSink, AudioSource, MediaCommand, MediaConfig, MediaEvent, MediaSession,
    MediaSockets, MediaStats, RandomStart, RunOptions, WavSink, WavSource,
};
use strowger_sdp::{negotiated_audio, Codec, LocalMedia, LocalSession, Role, SessionDescription};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::Failure;

/// What a media task tells the command.
#[derive(Debug)]
pub enum MediaNote {
    Event(CallHandle, MediaEvent),
    /// The task ended (after [`MediaCommand::Stop`]); the sink is finished.
    Finished(CallHandle, MediaStats),
}

/// Local RTP sockets and the SDP that describes them.
pub struct LocalAudio {
    pub sockets: MediaSockets,
    pub session: LocalSession,
}

impl LocalAudio {
    /// Bind an RTP/RTCP pair on `bind` (advertised as `advertise`).
    pub async fn bind(bind: IpAddr, advertise: IpAddr) -> Result<LocalAudio, Failure> {
        let sockets = MediaSockets::bind_pair(bind)
            .await
            .map_err(|e| Failure(format!("cannot open RTP ports: {e}")))?;
        let port = sockets
            .rtp_addr()
            .map_err(|e| Failure(format!("cannot open RTP ports: {e}")))?
            .port();
        let audio = LocalMedia::audio(
            port,
            vec![Codec::pcmu(), Codec::pcma(), Codec::telephone_event(8000)],
        );
        let id = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs();
        Ok(LocalAudio {
            sockets,
            session: LocalSession::new("strowger", id, advertise, vec![audio]),
        })
    }
}

pub fn sdp_body(sdp: &SessionDescription) -> Body {
    Body::sdp(sdp.to_bytes())
}

/// The SDP of a body, if it is one.
pub fn parse_sdp(body: Option<&Body>) -> Option<Result<SessionDescription, String>> {
    let body = body?;
    if !body
        .content_type
        .trim()
        .to_ascii_lowercase()
        .starts_with("application/sdp")
    {
        return None;
    }
    Some(SessionDescription::parse(&body.bytes).map_err(|e| e.to_string()))
}

/// The SDP for the 200 to a re-INVITE: the answer to its offer, or (without one) our
/// last description as the offer.
pub fn reanswer(session: &mut LocalSession, body: Option<&Body>) -> Option<Body> {
    match parse_sdp(body) {
        Some(Ok(offer)) => Some(sdp_body(&session.create_answer(&offer))),
        _ => session.last_sent().map(sdp_body),
    }
}

/// The media configuration of an exchange.
pub fn configure(
    offer: &SessionDescription,
    answer: &SessionDescription,
    role: Role,
) -> Result<MediaConfig, String> {
    let audio = negotiated_audio(offer, answer, role).map_err(|e| e.to_string())?;
    MediaConfig::from_negotiated(&audio).map_err(|e| e.to_string())
}

/// The audio a call plays and records.
#[derive(Default, Clone)]
pub struct Audio {
    pub play: Option<WavSource>,
    pub record: Option<PathBuf>,
    pub echo: bool,
}

impl Audio {
    pub fn open(
        play: Option<&Path>,
        record: Option<PathBuf>,
        echo: bool,
    ) -> Result<Audio, Failure> {
        let play = match play {
            Some(p) => Some(WavSource::open(p, 8000).map_err(|e| Failure(format!("--play: {e}")))?),
            None => None,
        };
        Ok(Audio { play, record, echo })
    }
}

/// A running media task.
pub struct MediaTask {
    commands: mpsc::UnboundedSender<MediaCommand>,
    pub join: JoinHandle<()>,
}

impl MediaTask {
    pub fn send_dtmf(&self, digits: &str) {
        let _ = self
            .commands
            .send(MediaCommand::SendDtmf(digits.to_string()));
    }

    pub fn stop(&self) {
        let _ = self.commands.send(MediaCommand::Stop);
    }
}

/// Start media for `call`.
pub fn start(
    call: CallHandle,
    config: MediaConfig,
    sockets: MediaSockets,
    audio: &Audio,
    notes: mpsc::UnboundedSender<MediaNote>,
) -> Result<MediaTask, Failure> {
    let mut session = MediaSession::new(config, RandomStart::from_entropy(), super::now())
        .map_err(|e| Failure(format!("cannot start media: {e}")))?
        .with_wall_clock(std::time::SystemTime::now());
    let source: Option<Box<dyn AudioSource>> = audio.play.clone().map(|s| Box::new(s) as _);
    let mut sink: Option<Box<dyn AudioSink>> = match &audio.record {
        Some(path) => Some(Box::new(
            WavSink::create(path, 8000).map_err(|e| Failure(format!("--record: {e}")))?,
        )),
        None => None,
    };
    if audio.echo {
        let (echo_sink, echo_source) = strowger_media::echo();
        session = session.with_source(echo_source);
        if sink.is_none() {
            sink = Some(Box::new(echo_sink));
        } else if let Some(s) = sink.take() {
            sink = Some(Box::new(Tee(s, echo_sink)));
        }
    }
    if let Some(s) = source {
        session = session.with_source(s);
    }
    if let Some(s) = sink {
        session = session.with_sink(s);
    }
    let (commands, rx) = mpsc::unbounded_channel();
    let join = tokio::spawn(async move {
        let (etx, mut erx) = mpsc::unbounded_channel();
        let options = RunOptions {
            commands: Some(rx),
            events: Some(etx),
            duration: None,
        };
        let run = run_media(session, sockets, options, std::future::pending());
        tokio::pin!(run);
        let result = loop {
            tokio::select! {
                r = &mut run => break r,
                Some(e) = erx.recv() => { let _ = notes.send(MediaNote::Event(call, e)); }
            }
        };
        while let Ok(e) = erx.try_recv() {
            let _ = notes.send(MediaNote::Event(call, e));
        }
        let stats = match result {
            Ok(session) => session.stats(),
            Err(e) => {
                tracing::warn!(error = %e, "media failed");
                MediaStats::default()
            }
        };
        let _ = notes.send(MediaNote::Finished(call, stats));
    });
    Ok(MediaTask { commands, join })
}

/// Record and echo at once.
struct Tee(Box<dyn AudioSink>, strowger_media::audio::EchoSink);

impl AudioSink for Tee {
    fn write(&mut self, samples: &[i16]) -> Result<(), strowger_media::WavError> {
        self.1.write(samples)?;
        self.0.write(samples)
    }

    fn finish(&mut self) -> Result<(), strowger_media::WavError> {
        self.0.finish()
    }
}
