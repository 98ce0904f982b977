//! The thin tokio wrapper: sockets and timers around a [`MediaSession`].

use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::session::{Channel, MediaEvent, MediaSession};

/// Largest datagram read; G.711 at 120 ms is under 1 KiB.
const RECEIVE_BUFFER: usize = 2048;

/// The local RTP socket and, unless RTCP is multiplexed (RFC 5761), the RTCP socket.
#[derive(Debug)]
pub struct MediaSockets {
    /// RTP, on an even port when bound with [`bind_pair`](Self::bind_pair).
    pub rtp: UdpSocket,
    /// RTCP, on the RTP port + 1 (RFC 3550 section 11); `None` with rtcp-mux.
    pub rtcp: Option<UdpSocket>,
}

impl MediaSockets {
    /// Binds an even port chosen by the OS for RTP and the next one for RTCP, retrying
    /// when the next one is taken.
    pub async fn bind_pair(ip: IpAddr) -> io::Result<MediaSockets> {
        let mut last_error = None;
        for _ in 0..64 {
            let rtp = UdpSocket::bind(SocketAddr::new(ip, 0)).await?;
            let port = rtp.local_addr()?.port();
            if port % 2 != 0 || port == u16::MAX {
                continue;
            }
            match UdpSocket::bind(SocketAddr::new(ip, port + 1)).await {
                Ok(rtcp) => {
                    return Ok(MediaSockets {
                        rtp,
                        rtcp: Some(rtcp),
                    })
                }
                Err(error) => last_error = Some(error),
            }
        }
        Err(last_error.unwrap_or_else(|| {
            io::Error::new(io::ErrorKind::AddrInUse, "no free even/odd UDP port pair")
        }))
    }

    /// Binds one port chosen by the OS for RTP and RTCP together (RFC 5761).
    pub async fn bind_mux(ip: IpAddr) -> io::Result<MediaSockets> {
        Ok(MediaSockets {
            rtp: UdpSocket::bind(SocketAddr::new(ip, 0)).await?,
            rtcp: None,
        })
    }

    /// The RTP socket's address, for the SDP `m=` line.
    pub fn rtp_addr(&self) -> io::Result<SocketAddr> {
        self.rtp.local_addr()
    }
}

/// What the application can ask of a running session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MediaCommand {
    /// Send these digits as telephone-events.
    SendDtmf(String),
    /// Close the session and return.
    Stop,
}

/// Channels and limits for [`run_media`].
#[derive(Debug, Default)]
pub struct RunOptions {
    /// Commands from the application.
    pub commands: Option<mpsc::UnboundedReceiver<MediaCommand>>,
    /// Where events go; logged when `None`.
    pub events: Option<mpsc::UnboundedSender<MediaEvent>>,
    /// Stop after this long.
    pub duration: Option<Duration>,
}

async fn receive(socket: Option<&UdpSocket>, buffer: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
    match socket {
        Some(socket) => socket.recv_from(buffer).await,
        None => std::future::pending().await,
    }
}

async fn command(
    commands: &mut Option<mpsc::UnboundedReceiver<MediaCommand>>,
) -> Option<MediaCommand> {
    match commands {
        Some(receiver) => receiver.recv().await,
        None => std::future::pending().await,
    }
}

async fn flush(
    session: &mut MediaSession,
    sockets: &MediaSockets,
    events: &Option<mpsc::UnboundedSender<MediaEvent>>,
) {
    while let Some(transmit) = session.poll_transmit() {
        let socket = match (transmit.channel, &sockets.rtcp) {
            (Channel::Rtcp, Some(rtcp)) => rtcp,
            _ => &sockets.rtp,
        };
        if let Err(error) = socket
            .send_to(&transmit.contents, transmit.destination)
            .await
        {
            // A peer not listening yet (ICMP unreachable) must not end the call.
            tracing::debug!(%error, destination = %transmit.destination, "RTP send failed");
        }
    }
    while let Some(event) = session.poll_event() {
        match events {
            Some(sender) => {
                let _ = sender.send(event);
            }
            None => tracing::info!(?event, "media event"),
        }
    }
}

/// Drives `session` on `sockets` until `stop` completes, a [`MediaCommand::Stop`] arrives
/// or `options.duration` passes; then closes it (RTCP BYE, sink finished) and gives it
/// back for its counters. Time is tokio's clock, so paused-time tests work.
pub async fn run_media(
    mut session: MediaSession,
    sockets: MediaSockets,
    mut options: RunOptions,
    stop: impl Future<Output = ()>,
) -> io::Result<MediaSession> {
    let deadline = options.duration.map(|d| Instant::now() + d);
    let mut rtp_buffer = vec![0u8; RECEIVE_BUFFER];
    let mut rtcp_buffer = vec![0u8; RECEIVE_BUFFER];
    tokio::pin!(stop);
    loop {
        flush(&mut session, &sockets, &options.events).await;
        let wake = match (session.poll_timeout().map(Instant::from_std), deadline) {
            (Some(wake), Some(deadline)) => wake.min(deadline),
            (Some(wake), None) => wake,
            (None, Some(deadline)) => deadline,
            (None, None) => break,
        };
        tokio::select! {
            () = &mut stop => break,
            () = tokio::time::sleep_until(wake) => {
                let now = Instant::now();
                if deadline.is_some_and(|d| now >= d) {
                    break;
                }
                session.handle_timeout(now.into_std());
            }
            received = receive(Some(&sockets.rtp), &mut rtp_buffer) => match received {
                Ok((len, from)) => session.handle_datagram(
                    Instant::now().into_std(), from, rtp_buffer.get(..len).unwrap_or_default()),
                Err(error) => tracing::debug!(%error, "RTP receive failed"),
            },
            received = receive(sockets.rtcp.as_ref(), &mut rtcp_buffer) => match received {
                Ok((len, from)) => session.handle_datagram(
                    Instant::now().into_std(), from, rtcp_buffer.get(..len).unwrap_or_default()),
                Err(error) => tracing::debug!(%error, "RTCP receive failed"),
            },
            command = command(&mut options.commands) => match command {
                Some(MediaCommand::SendDtmf(digits)) => {
                    if let Err(error) = session.send_dtmf(&digits) {
                        tracing::warn!(%error, "DTMF refused");
                    }
                }
                Some(MediaCommand::Stop) => break,
                None => options.commands = None,
            },
        }
    }
    session.close(Instant::now().into_std());
    flush(&mut session, &sockets, &options.events).await;
    Ok(session)
}
