//! `strowger options URI` (RFC 3261 section 11) and `strowger message URI TEXT`
//! (RFC 3428): one request outside a dialog, its final response printed.

use std::time::Duration;

use clap::Args;
use strowger_core::ua::{Body, Event, RequestHandle};
use strowger_message::{HeaderName, Message};
use tokio::time::Instant;

use super::{fail, locate, status_line, uri_domain, CommonArgs, Failure, Setup, Shutdown, Sip};
use crate::say;

#[derive(Args, Debug)]
pub struct OptionsArgs {
    /// Whom to ask, e.g. sip:example.com or sip:bob@192.0.2.4:5060.
    pub uri: String,
    /// Send it through this proxy (a SIP URI).
    #[arg(long, value_name = "URI")]
    pub proxy: Option<String>,
    #[command(flatten)]
    pub common: CommonArgs,
}

#[derive(Args, Debug)]
pub struct MessageArgs {
    /// The recipient, e.g. sip:bob@example.com.
    pub uri: String,
    /// The text (sent as text/plain).
    pub text: String,
    /// Send it through this proxy (a SIP URI).
    #[arg(long, value_name = "URI")]
    pub proxy: Option<String>,
    #[command(flatten)]
    pub common: CommonArgs,
}

async fn setup(common: &CommonArgs, uri: &str, proxy: Option<&str>) -> Result<Sip, Failure> {
    let (target, outbound) = locate(uri, proxy).await?;
    Setup {
        common,
        target: Some(target),
        outbound,
        default_aor_domain: uri_domain(uri).or_else(|| proxy.and_then(uri_domain)),
    }
    .build()
    .await
}

/// Wait for the final response of `request` (the core gives up after 32 s with 408).
async fn final_response(
    sip: &mut Sip,
    request: RequestHandle,
) -> Result<(u16, Option<Message>), Failure> {
    let mut shutdown = Shutdown::install()?;
    loop {
        tokio::select! {
            ev = sip.next_event() => match ev {
                Some(Event::RequestResult { request: r, code, response }) if r == request => {
                    return Ok((code, response));
                }
                Some(_) => {}
                None => return fail("the sockets closed"),
            },
            () = shutdown.recv() => return fail("interrupted"),
        }
    }
}

fn explain(sip: &Sip, code: u16, response: Option<&Message>, uri: &str, what: &str) -> String {
    let line = match response {
        Some(r) => format!("{code} {}", r.reason().unwrap_or_default()),
        None => status_line(code),
    };
    match (code, response) {
        (408, None) => format!("no answer: the {what} to {uri} timed out after 32 s"),
        (503, None) => format!("cannot reach {uri}: the {what} could not be sent"),
        (401 | 407, _) => sip.auth_refused(code),
        _ => format!("{line}: {uri} refused the {what}"),
    }
}

pub async fn options(args: OptionsArgs) -> Result<(), Failure> {
    let mut sip = setup(&args.common, &args.uri, args.proxy.as_deref()).await?;
    let sent = Instant::now();
    let h = sip
        .ua
        .options(super::now(), &args.uri)
        .map_err(|e| Failure(format!("cannot send OPTIONS to {}: {e}", args.uri)))?;
    let (code, response) = final_response(&mut sip, h).await?;
    let rtt = sent.elapsed();
    if let Some(r) = &response {
        say!("SIP/2.0 {code} {}", r.reason().unwrap_or_default());
        for name in [HeaderName::Allow, HeaderName::Supported, HeaderName::Server] {
            let values: Vec<&str> = r.get(name).collect();
            if !values.is_empty() {
                say!("{}: {}", name.as_str(), values.join(", "));
            }
        }
        if let Some(ua) = r.header("User-Agent") {
            say!("User-Agent: {ua}");
        }
        say!("round trip: {:.1} ms", rtt.as_secs_f64() * 1000.0);
    }
    sip.linger(Duration::ZERO, |_| {}).await;
    if (200..300).contains(&code) {
        Ok(())
    } else {
        fail(explain(&sip, code, response.as_ref(), &args.uri, "OPTIONS"))
    }
}

pub async fn message(args: MessageArgs) -> Result<(), Failure> {
    let mut sip = setup(&args.common, &args.uri, args.proxy.as_deref()).await?;
    let h = sip
        .ua
        .message(
            super::now(),
            &args.uri,
            Body::new("text/plain;charset=UTF-8", args.text.as_bytes()),
        )
        .map_err(|e| Failure(format!("cannot send MESSAGE to {}: {e}", args.uri)))?;
    let (code, response) = final_response(&mut sip, h).await?;
    sip.linger(Duration::ZERO, |_| {}).await;
    if (200..300).contains(&code) {
        let reason = response
            .as_ref()
            .and_then(|r| r.reason().map(str::to_string))
            .unwrap_or_default();
        say!("{code} {reason}: delivered to {}", args.uri);
        Ok(())
    } else {
        fail(explain(&sip, code, response.as_ref(), &args.uri, "MESSAGE"))
    }
}
