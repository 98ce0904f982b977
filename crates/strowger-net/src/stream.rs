//! Byte-stream connections (TCP and TLS, RFC 3261 section 18.3): messages framed by
//! Content-Length with [`strowger_message::frame`], CRLF keep-alives answered (RFC 5626
//! section 4.4.1), and a framing error answered with 400 where the Via can be read,
//! then the connection closed.

use bytes::{Buf, Bytes, BytesMut};
use strowger_message::{frame, Frame, ParseError};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;

use crate::conn::{finish, Activity, Conn, Link, Outgoing};
use crate::reject::response_to_unparseable;

const PONG: &[u8] = b"\r\n";

/// Serve one connection until it closes, is idle, or is killed. Returns the messages
/// that were queued but not written.
pub(crate) async fn run<S>(stream: S, conn: &mut Conn) -> Vec<Bytes>
where
    S: AsyncRead + AsyncWrite + Send + Unpin + 'static,
{
    let (rd, wr) = tokio::io::split(stream);
    let activity = Activity::new();
    let failed = {
        let reader = read(rd, &conn.link, &activity);
        let writer = write(wr, &mut conn.rx, &activity);
        tokio::select! {
            () = reader => None,
            failed = writer => failed,
            _ = &mut conn.kill => None,
        }
    };
    tracing::debug!(id = conn.link.id, peer = %conn.link.peer, "connection closed");
    finish(conn, failed)
}

async fn read<R: AsyncRead + Unpin>(mut rd: R, conn: &Link, activity: &Activity) {
    let limits = &conn.shared.limits;
    let source = conn.source();
    let mut buf = BytesMut::with_capacity(4096);
    loop {
        // Take every whole frame the buffer holds.
        loop {
            match frame(&buf, &limits.message) {
                Ok(Frame::Incomplete) => break,
                Ok(Frame::Ping(n)) => {
                    buf.advance(n);
                    let _ = conn.tx.try_send(Outgoing::Data(Bytes::from_static(PONG)));
                }
                Ok(Frame::Pong(n)) => buf.advance(n),
                Ok(Frame::Message(n)) => {
                    let bytes = buf.split_to(n).freeze();
                    if !conn.shared.deliver(source, bytes, &conn.tx).await {
                        return;
                    }
                }
                Err(e) => return reject_and_close(&buf, &e, conn).await,
            }
        }
        if buf.len() >= limits.read_buffer {
            let e = ParseError::TooLarge {
                size: buf.len(),
                limit: limits.read_buffer,
            };
            return reject_and_close(&buf, &e, conn).await;
        }
        buf.reserve(4096.min(limits.read_buffer - buf.len()));
        let deadline = activity.deadline(limits.idle_timeout);
        match tokio::time::timeout_at(deadline, rd.read_buf(&mut buf)).await {
            Err(_) => {
                if activity.deadline(limits.idle_timeout) <= tokio::time::Instant::now() {
                    tracing::debug!(id = conn.id, peer = %conn.peer, "idle connection closed");
                    return;
                }
            }
            Ok(Ok(0)) => return,
            Ok(Ok(_)) => activity.touch(),
            Ok(Err(e)) => {
                tracing::debug!(id = conn.id, peer = %conn.peer, error = %e, "read failed");
                return;
            }
        }
    }
}

/// The stream cannot be framed any more: answer (when possible), then close once the
/// answer is written. Never returns on its own; the writer ends the connection.
async fn reject_and_close(buf: &[u8], error: &ParseError, conn: &Link) {
    tracing::info!(id = conn.id, peer = %conn.peer, %error, "stream framing failed; closing");
    if let Some(resp) = response_to_unparseable(buf, error) {
        let _ = conn.tx.try_send(Outgoing::Data(resp));
    }
    // If the queue is full the peer is not reading; the kill or idle path ends it.
    let _ = conn.tx.try_send(Outgoing::Close);
    let idle = conn.shared.limits.handshake_timeout;
    tokio::time::sleep(idle).await;
}

async fn write<W: AsyncWrite + Unpin>(
    mut wr: W,
    rx: &mut mpsc::Receiver<Outgoing>,
    activity: &Activity,
) -> Option<Bytes> {
    while let Some(out) = rx.recv().await {
        match out {
            Outgoing::Data(bytes) => {
                let written = async {
                    wr.write_all(&bytes).await?;
                    wr.flush().await
                };
                if let Err(e) = written.await {
                    tracing::debug!(error = %e, "write failed");
                    return Some(bytes);
                }
                activity.touch();
            }
            Outgoing::Close => {
                let _ = wr.shutdown().await;
                return None;
            }
        }
    }
    None
}
