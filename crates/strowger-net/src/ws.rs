//! SIP over WebSocket (RFC 7118): the handshake negotiates the subprotocol `sip`; each
//! text or binary message carries exactly one SIP message (section 5.2), so no
//! Content-Length framing is needed.

use std::net::SocketAddr;

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::http::{self, HeaderValue, StatusCode};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{self, Message as WsMessage, Utf8Bytes};
use tokio_tungstenite::WebSocketStream;

use crate::config::Limits;
use crate::conn::{finish, Activity, Conn, Link, Outgoing};

pub(crate) type WsStream<S> = WebSocketStream<S>;

/// Why a client handshake failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ConnectError {
    #[error("WebSocket: {0}")]
    Ws(#[from] tungstenite::Error),
    #[error("the server did not accept the WebSocket subprotocol sip")]
    NoSip,
}

const PROTOCOL_HEADER: &str = "sec-websocket-protocol";

pub(crate) fn config(limits: &Limits) -> WebSocketConfig {
    let max = Some(limits.message.max_message_size);
    WebSocketConfig::default()
        .max_message_size(max)
        .max_frame_size(max)
}

fn offers_sip(values: http::header::GetAll<'_, HeaderValue>) -> bool {
    values
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|p| p.trim() == "sip")
}

/// Server handshake: refuse (400) a client that does not offer `sip`.
// The callback's error type is tungstenite's HTTP response.
#[allow(clippy::result_large_err)]
pub(crate) async fn accept<S>(
    stream: S,
    config: WebSocketConfig,
) -> Result<WsStream<S>, tungstenite::Error>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let callback = |req: &Request, mut resp: Response| -> Result<Response, ErrorResponse> {
        if !offers_sip(req.headers().get_all(PROTOCOL_HEADER)) {
            let mut refusal = ErrorResponse::new(Some(
                "the WebSocket subprotocol \"sip\" is required (RFC 7118)".to_string(),
            ));
            *refusal.status_mut() = StatusCode::BAD_REQUEST;
            return Err(refusal);
        }
        resp.headers_mut()
            .insert(PROTOCOL_HEADER, HeaderValue::from_static("sip"));
        Ok(resp)
    };
    tokio_tungstenite::accept_hdr_async_with_config(stream, callback, Some(config)).await
}

/// Client handshake offering `sip`, over a stream already connected to `peer` (and
/// already wrapped in TLS for `wss`).
pub(crate) async fn connect<S>(
    stream: S,
    peer: SocketAddr,
    secure: bool,
    config: WebSocketConfig,
) -> Result<WsStream<S>, ConnectError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let scheme = if secure { "wss" } else { "ws" };
    let mut request = format!("{scheme}://{peer}/").into_client_request()?;
    request
        .headers_mut()
        .insert(PROTOCOL_HEADER, HeaderValue::from_static("sip"));
    let (ws, response) =
        tokio_tungstenite::client_async_with_config(request, stream, Some(config)).await?;
    if !offers_sip(response.headers().get_all(PROTOCOL_HEADER)) {
        return Err(ConnectError::NoSip);
    }
    Ok(ws)
}

/// Serve one WebSocket connection; see [`crate::stream::run`].
pub(crate) async fn run<S>(ws: WsStream<S>, conn: &mut Conn) -> Vec<Bytes>
where
    S: AsyncRead + AsyncWrite + Send + Unpin + 'static,
{
    let (sink, stream) = ws.split();
    let activity = Activity::new();
    let failed = {
        let reader = read(stream, &conn.link, &activity);
        let writer = write(sink, &mut conn.rx, &activity);
        tokio::select! {
            () = reader => None,
            failed = writer => failed,
            _ = &mut conn.kill => None,
        }
    };
    tracing::debug!(id = conn.link.id, peer = %conn.link.peer, "WebSocket connection closed");
    finish(conn, failed)
}

async fn read<R>(mut stream: R, conn: &Link, activity: &Activity)
where
    R: futures_util::Stream<Item = Result<WsMessage, tungstenite::Error>> + Unpin,
{
    let idle = conn.shared.limits.idle_timeout;
    let source = conn.source();
    loop {
        let next = tokio::time::timeout_at(activity.deadline(idle), stream.next()).await;
        let msg = match next {
            Err(_) => {
                if activity.deadline(idle) <= tokio::time::Instant::now() {
                    tracing::debug!(id = conn.id, peer = %conn.peer, "idle WebSocket closed");
                    return;
                }
                continue;
            }
            Ok(None) => return,
            Ok(Some(Err(e))) => {
                tracing::debug!(id = conn.id, peer = %conn.peer, error = %e, "WebSocket read failed");
                return;
            }
            Ok(Some(Ok(m))) => m,
        };
        activity.touch();
        let bytes: Bytes = match msg {
            WsMessage::Text(t) => t.into(),
            WsMessage::Binary(b) => b,
            WsMessage::Close(_) => return,
            WsMessage::Ping(_) | WsMessage::Pong(_) | WsMessage::Frame(_) => continue,
        };
        // Some clients send CRLF keep-alives as messages of their own.
        if bytes.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        if !conn.shared.deliver(source, bytes, &conn.tx).await {
            return;
        }
    }
}

async fn write<W>(
    mut sink: W,
    rx: &mut mpsc::Receiver<Outgoing>,
    activity: &Activity,
) -> Option<Bytes>
where
    W: futures_util::Sink<WsMessage, Error = tungstenite::Error> + Unpin,
{
    while let Some(out) = rx.recv().await {
        match out {
            Outgoing::Data(bytes) => {
                let msg = match Utf8Bytes::try_from(bytes.clone()) {
                    Ok(text) => WsMessage::Text(text),
                    Err(_) => WsMessage::Binary(bytes.clone()),
                };
                if let Err(e) = sink.send(msg).await {
                    tracing::debug!(error = %e, "WebSocket write failed");
                    return Some(bytes);
                }
                activity.touch();
            }
            Outgoing::Close => {
                let _ = sink.close().await;
                return None;
            }
        }
    }
    None
}
