//! UDP (RFC 3261 section 18): one socket per listen address, one message per datagram.
//! An unparseable request is answered (400 with the parser's words as the reason)
//! when its Via can be read; an unparseable response is dropped.

use std::sync::Arc;

use bytes::Bytes;
use strowger_core::{Target, Transport};
use strowger_message::Message;
use tokio::net::UdpSocket;

use crate::conn::{Input, Shared};
use crate::reject::response_to_unparseable;
use crate::transports::UdpDispatch;

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
        // CRLF keep-alives (and empty datagrams) carry no message.
        if data.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        match Message::parse_with(Bytes::copy_from_slice(data), &shared.limits.message) {
            Ok(msg) => {
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
            Err(e) => {
                tracing::debug!(peer = %from, error = %e, "unparseable datagram");
                if let Some(resp) = response_to_unparseable(data, &e) {
                    let _ = socket.try_send_to(&resp, from);
                }
            }
        }
    }
}
