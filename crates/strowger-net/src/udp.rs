//! UDP (RFC 3261 section 18): one socket per listen address, one message per datagram.
//! An unparseable request is answered (400 with the parser's words as the reason)
//! when its Via can be read; an unparseable response is dropped.

use std::io::ErrorKind;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

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

/// Hands work to the next receive thread of a socket when the one before it falls
/// behind (see [`recv_thread`]).
#[derive(Debug, Default)]
pub(crate) struct Gate {
    open: Mutex<bool>,
    wake: Condvar,
    /// Datagrams the gate's thread has read, and whether it waits (at its gate or for
    /// the socket): the next thread watches both.
    reads: AtomicU64,
    waiting: AtomicBool,
}

impl Gate {
    fn open(&self) {
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        if !*open {
            *open = true;
            self.wake.notify_one();
        }
    }

    /// Wait until the gate is opened (and close it behind), or `timeout`.
    fn pass(&self, timeout: Duration) -> bool {
        let open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        let (mut open, _) = self
            .wake
            .wait_timeout_while(open, timeout, |o| !*o)
            .unwrap_or_else(|e| e.into_inner());
        std::mem::take(&mut *open)
    }
}

/// Datagrams read in a row after which a receive thread wakes the next one. SIPp, like
/// many senders, sends in bursts (one per millisecond tick): with 4, the next thread was
/// woken for nearly every burst and went back to sleep; with 32 it joins for a backlog
/// that lasts (REGISTER with digest at 15 000/s: 58-60 against 54-57 us of server CPU
/// per registration). 32 datagrams wait at most about 0.6 ms for the thread reading.
const BEHIND: usize = 32;

/// Receive thread `index` of [`crate::Transports::bind_dispatching_threads`] on its
/// handle of the (non-blocking) socket, until `stop` is set; each message is handed to
/// `dispatch` on this thread.
///
/// Only thread 0 waits for the socket (in a poll). When every thread of a socket waited
/// in it, each datagram woke one of them: a context switch per datagram, about a tenth
/// of the CPU per REGISTER (measured with `--workers 1` against 2: 25-28 against 31-32
/// us per REGISTER at 25 000/s). A thread reads until the socket is empty; when it
/// reads `BEHIND` datagrams in a row, it is falling behind and opens the gate of the
/// next thread, which reads until the socket is empty and then waits at its gate again.
/// Idle or lightly loaded, one thread works; under load, all of them. A thread at its
/// gate also looks at the one before it every `WATCH`: when that one has read nothing
/// since and is not waiting (busy with one message, or descheduled by a busier process:
/// SIPp at a higher priority did that, and the socket overflowed at 6000 calls/s), it
/// reads the socket itself.
pub(crate) fn recv_thread(
    socket: std::net::UdpSocket,
    limits: Limits,
    dispatch: UdpDispatch,
    stop: Arc<AtomicBool>,
    gates: Arc<[Gate]>,
    index: usize,
) {
    // The stop flag is looked at this often.
    const WAKE: Duration = Duration::from_millis(200);
    // How often a thread waiting at its gate looks at the thread before it.
    const WATCH: Duration = Duration::from_millis(20);
    let mut buf = vec![0u8; limits.udp_datagram.max(1500)];
    let handle = |buf: &[u8], from: SocketAddr| match read_datagram(buf, from, &limits.message) {
        Datagram::Message(msg) => dispatch(Target::new(from, Transport::Udp), msg),
        Datagram::Unparseable(Some(resp)) => {
            let _ = crate::transports::send_datagram(&socket, &resp, from);
        }
        _ => {}
    };
    let mut poll = None;
    if index == 0 {
        let registered = mio::Poll::new().and_then(|p| {
            let mut waiting = mio::net::UdpSocket::from_std(socket.try_clone()?);
            p.registry()
                .register(&mut waiting, mio::Token(0), mio::Interest::READABLE)?;
            Ok((p, waiting, mio::Events::with_capacity(4)))
        });
        match registered {
            Ok(p) => poll = Some(p),
            Err(e) => {
                tracing::error!(error = %e, "cannot wait for the UDP socket; it is read every millisecond");
            }
        }
    }
    let (me, before, next) = (
        gates.get(index),
        index.checked_sub(1).and_then(|i| gates.get(i)),
        gates.get(index + 1),
    );
    let mut seen = 0;
    while !stop.load(Ordering::Relaxed) {
        if let Some(g) = me {
            g.waiting.store(true, Ordering::Relaxed);
        }
        if index == 0 {
            match &mut poll {
                Some((p, _, events)) => {
                    if let Err(e) = p.poll(events, Some(WAKE)) {
                        if e.kind() != ErrorKind::Interrupted {
                            tracing::debug!(error = %e, "UDP poll failed");
                            std::thread::sleep(Duration::from_millis(1));
                        }
                    }
                }
                None => std::thread::sleep(Duration::from_millis(1)),
            }
        } else if !me.is_some_and(|g| g.pass(WATCH)) {
            // The thread before neither waits nor has read for WATCH: it is busy with
            // one message or descheduled, and nobody reads the socket. Read it.
            let Some(b) = before else { continue };
            let reads = b.reads.load(Ordering::Relaxed);
            let stuck = !b.waiting.load(Ordering::Relaxed) && reads == seen;
            seen = reads;
            if !stuck {
                continue;
            }
        }
        if let Some(g) = me {
            g.waiting.store(false, Ordering::Relaxed);
        }
        // Edge-triggered: read until the socket is empty before waiting again.
        let (mut in_a_row, mut errors) = (0, 0);
        loop {
            match socket.recv_from(&mut buf) {
                Ok((n, from)) => {
                    in_a_row += 1;
                    if let Some(g) = me {
                        g.reads.fetch_add(1, Ordering::Relaxed);
                    }
                    // Every BEHIND in a row: the next thread may have emptied the socket
                    // once and gone back to its gate while this one still has a backlog.
                    if in_a_row % BEHIND == 0 {
                        if let Some(g) = next {
                            g.open();
                        }
                    }
                    handle(buf.get(..n).unwrap_or_default(), from);
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) => {
                    // As in `recv_loop`: a failure concerns one peer (an ICMP error
                    // reported on the socket, once); the next read goes on, unless
                    // the failures repeat.
                    tracing::debug!(error = %e, "UDP receive failed");
                    errors += 1;
                    if errors > 8 {
                        std::thread::sleep(Duration::from_millis(1));
                        break;
                    }
                }
            }
        }
    }
}
