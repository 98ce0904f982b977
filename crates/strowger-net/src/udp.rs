//! UDP (RFC 3261 section 18): one socket per listen address, one message per datagram.
//! An unparseable request is answered (400 with the parser's words as the reason)
//! when its Via can be read; an unparseable response is dropped.

use std::io::ErrorKind;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use strowger_core::{Target, Transport};
use strowger_message::{Limits as MessageLimits, Message};
use tokio::net::UdpSocket;

use crate::config::Limits;
use crate::conn::{Input, Shared};
use crate::reject::response_to_unparseable;
use crate::transports::UdpDispatch;

/// What one datagram is.
enum Datagram {
    /// A keep-alive or an empty datagram.
    Nothing,
    Message(Message),
    /// Unparseable: this answer goes back, if any.
    Unparseable(Option<Bytes>),
}

fn read_datagram(data: &[u8], from: SocketAddr, limits: &MessageLimits) -> Datagram {
    // CRLF keep-alives (and empty datagrams) carry no message.
    if data.iter().all(u8::is_ascii_whitespace) {
        return Datagram::Nothing;
    }
    match Message::parse_with(Bytes::copy_from_slice(data), limits) {
        Ok(msg) => Datagram::Message(msg),
        Err(e) => {
            tracing::debug!(peer = %from, error = %e, "unparseable datagram");
            Datagram::Unparseable(response_to_unparseable(data, &e))
        }
    }
}

/// Read datagrams until the task is aborted or the driver is gone. With `dispatch`,
/// messages go there rather than to the driver's input queue.
pub(crate) async fn recv_loop(
    socket: Arc<UdpSocket>,
    shared: Arc<Shared>,
    dispatch: Option<UdpDispatch>,
) {
    let mut buf = vec![0u8; shared.limits.udp_datagram.max(1500)];
    loop {
        let (n, from) = match socket.recv_from(&mut buf).await {
            Ok(x) => x,
            Err(e) => {
                // ICMP errors surface here on some systems; they concern one peer.
                // The pause keeps a socket that keeps failing from spinning a core.
                tracing::debug!(error = %e, "UDP receive failed");
                tokio::time::sleep(std::time::Duration::from_millis(1)).await;
                continue;
            }
        };
        let data = buf.get(..n).unwrap_or_default();
        match read_datagram(data, from, &shared.limits.message) {
            Datagram::Message(msg) => {
                let source = Target::new(from, Transport::Udp);
                if let Some(d) = &dispatch {
                    d(source, msg);
                    continue;
                }
                if shared
                    .input
                    .send(Input::Message { source, msg })
                    .await
                    .is_err()
                {
                    return;
                }
            }
            Datagram::Unparseable(Some(resp)) => {
                let _ = socket.try_send_to(&resp, from);
            }
            _ => {}
        }
    }
}

/// One receive thread of [`crate::Transports::bind_dispatching_threads`]: blocking reads
/// on its handle of the socket until `stop` is set (the socket's read timeout bounds
/// the wait), each message handed to `dispatch` on this thread.
pub(crate) fn recv_thread(
    socket: std::net::UdpSocket,
    limits: Limits,
    dispatch: UdpDispatch,
    stop: Arc<AtomicBool>,
) {
    let mut buf = vec![0u8; limits.udp_datagram.max(1500)];
    while !stop.load(Ordering::Relaxed) {
        let (n, from) = match socket.recv_from(&mut buf) {
            Ok(x) => x,
            Err(e)
                if matches!(
                    e.kind(),
                    ErrorKind::WouldBlock | ErrorKind::TimedOut | ErrorKind::Interrupted
                ) =>
            {
                continue
            }
            Err(e) => {
                // As in `recv_loop`: a failure concerns one peer; do not spin.
                tracing::debug!(error = %e, "UDP receive failed");
                std::thread::sleep(std::time::Duration::from_millis(1));
                continue;
            }
        };
        let data = buf.get(..n).unwrap_or_default();
        match read_datagram(data, from, &limits.message) {
            Datagram::Message(msg) => dispatch(Target::new(from, Transport::Udp), msg),
            Datagram::Unparseable(Some(resp)) => {
                let _ = crate::transports::send_datagram(&socket, &resp, from);
            }
            _ => {}
        }
    }
}
