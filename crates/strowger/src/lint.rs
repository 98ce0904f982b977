//! `strowger parse`: read one SIP message, print its structure, and say whether an
//! element may act on it (syntax of RFC 3261 section 25, plus the checks of
//! [`Message::validate`]: SIP/2.0, the mandatory header fields of section 8.1.1, single
//! values, the CSeq method, one Content-Length that fits the body).

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use serde_json::{json, Map, Value};
use strowger_message::headers::{parse_route, split_list, unquote};
use strowger_message::{
    Auth, CSeq, Contact, HeaderName, Host, Message, NameAddr, ParseError, Uri, Via,
};

#[derive(clap::Args, Debug)]
pub struct ParseArgs {
    /// The file holding the message; `-` or nothing reads standard input.
    pub file: Option<PathBuf>,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: &ParseArgs) -> ExitCode {
    let (label, bytes) = match read_input(args.file.as_ref()) {
        Ok(x) => x,
        Err(e) => {
            eprintln!("strowger parse: {e}");
            return ExitCode::from(2);
        }
    };
    let parsed = Message::parse(bytes.clone());
    let verdict = match &parsed {
        Ok(m) => m.validate(),
        Err(e) => Err(e.clone()),
    };
    let mut out = std::io::stdout().lock();
    let printed = if args.json {
        let v = to_json(parsed.as_ref().ok(), verdict.as_ref().err());
        writeln!(
            out,
            "{}",
            serde_json::to_string_pretty(&v).unwrap_or_default()
        )
    } else {
        match &parsed {
            Ok(m) => print_text(&mut out, m),
            Err(_) => Ok(()),
        }
    };
    // A closed pipe (`| head`) is not an error of the message.
    let _ = printed;
    match verdict {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!(
                "strowger parse: {label}: {e} (a server answers {})",
                e.status_code()
            );
            ExitCode::from(1)
        }
    }
}

fn read_input(file: Option<&PathBuf>) -> Result<(String, Vec<u8>), String> {
    let mut buf = Vec::new();
    match file {
        Some(p) if p.as_os_str() != "-" => {
            std::fs::File::open(p)
                .and_then(|mut f| f.read_to_end(&mut buf))
                .map_err(|e| format!("cannot read {}: {e}", p.display()))?;
            Ok((p.display().to_string(), buf))
        }
        _ => {
            std::io::stdin()
                .read_to_end(&mut buf)
                .map_err(|e| format!("cannot read standard input: {e}"))?;
            Ok(("<stdin>".to_string(), buf))
        }
    }
}

fn print_text(out: &mut impl Write, m: &Message) -> std::io::Result<()> {
    if let Some(method) = m.method() {
        writeln!(
            out,
            "Request  {method}  {}  {}",
            m.request_uri_str().unwrap_or(""),
            m.version()
        )?;
        if let Some(u) = m.request_uri() {
            writeln!(out, "  Request-URI  {}", describe_uri(&u))?;
        }
    } else {
        writeln!(
            out,
            "Response  {}  {:?}  {}",
            m.status().unwrap_or(0),
            m.reason().unwrap_or(""),
            m.version()
        )?;
    }
    writeln!(out, "Headers ({})", m.headers().count())?;
    for h in m.headers() {
        let name = if h.name == HeaderName::Other {
            h.raw_name.to_string()
        } else {
            h.name.as_str().to_string()
        };
        let shown = h.value.replace("\r\n", " ").replace('\n', " ");
        writeln!(out, "  {name}: {shown}")?;
        for d in describe_header(h.name, h.value) {
            writeln!(out, "      {d}")?;
        }
    }
    let ct = m
        .content_type()
        .map(|c| format!(" ({}/{})", c.kind, c.subtype))
        .unwrap_or_default();
    writeln!(out, "Body  {} bytes{ct}", m.body().len())?;
    Ok(())
}

fn describe_uri(u: &Uri<'_>) -> String {
    match u {
        Uri::Sip(s) => {
            let mut d = format!("{}:", if s.secure { "sips" } else { "sip" });
            if let Some(user) = s.user {
                d.push_str(&format!(" user={user:?}"));
            }
            d.push_str(&format!(" host={}", host_str(&s.host)));
            if let Some(p) = s.port {
                d.push_str(&format!(" port={p}"));
            }
            for p in s.params.iter() {
                match p.value {
                    Some(v) => d.push_str(&format!(" ;{}={}", p.name, v)),
                    None => d.push_str(&format!(" ;{}", p.name)),
                }
            }
            if let Some(h) = s.headers {
                d.push_str(&format!(" ?{h}"));
            }
            d
        }
        Uri::Tel(t) => format!("tel: number={} ", t.digits()),
        Uri::Other { scheme, .. } => format!("{scheme}: (other scheme, kept as written)"),
    }
}

fn host_str(h: &Host<'_>) -> String {
    match h {
        Host::Name(n) => n.to_string(),
        Host::V4(a) => a.to_string(),
        Host::V6(a, _) => format!("[{a}]"),
    }
}

fn params_str(p: strowger_message::Params<'_>) -> String {
    p.iter()
        .map(|p| match p.value {
            Some(v) => format!(";{}={}", p.name, v),
            None => format!(";{}", p.name),
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn describe_addr(a: &NameAddr<'_>) -> String {
    let mut d = String::new();
    if let Some(n) = a.display_name() {
        d.push_str(&format!("display={n:?} "));
    }
    d.push_str(&describe_uri(&a.uri));
    let p = params_str(a.params);
    if !p.is_empty() {
        d.push_str("  header-params: ");
        d.push_str(&p);
    }
    d
}

fn elements(v: &str) -> Vec<&str> {
    split_list(v).collect()
}

fn describe_header(name: HeaderName, v: &str) -> Vec<String> {
    use HeaderName as H;
    match name {
        H::Via => elements(v)
            .into_iter()
            .filter_map(|e| Via::parse(e).ok())
            .map(|via| {
                format!(
                    "-> {}/{}/{} host={}{} {}",
                    via.protocol,
                    via.version,
                    via.transport,
                    host_str(&via.host),
                    via.port.map(|p| format!(" port={p}")).unwrap_or_default(),
                    params_str(via.params)
                )
            })
            .collect(),
        H::From | H::To => NameAddr::parse(v)
            .map(|a| vec![format!("-> {}", describe_addr(&a))])
            .unwrap_or_default(),
        H::Contact => elements(v)
            .into_iter()
            .filter_map(|e| Contact::parse(e).ok())
            .map(|c| match c {
                Contact::Star => "-> * (all bindings)".to_string(),
                Contact::Addr(a) => format!("-> {}", describe_addr(&a)),
            })
            .collect(),
        H::Route | H::RecordRoute | H::Path => elements(v)
            .into_iter()
            .filter_map(|e| parse_route(e).ok())
            .map(|a| format!("-> {}", describe_addr(&a)))
            .collect(),
        H::CSeq => CSeq::parse(v)
            .map(|c| vec![format!("-> seq={} method={}", c.seq, c.method)])
            .unwrap_or_default(),
        H::Authorization | H::ProxyAuthorization | H::WwwAuthenticate | H::ProxyAuthenticate => {
            Auth::parse(v)
                .map(|a| {
                    let ps: Vec<String> = a.params().map(|(n, v)| format!("{n}={v:?}")).collect();
                    vec![format!("-> scheme={} {}", a.scheme, ps.join(" "))]
                })
                .unwrap_or_default()
        }
        _ => Vec::new(),
    }
}

fn uri_json(u: &Uri<'_>) -> Value {
    match u {
        Uri::Sip(s) => {
            let params: Map<String, Value> = s
                .params
                .iter()
                .map(|p| {
                    (
                        p.name.to_string(),
                        p.value.map_or(Value::Null, |v| json!(v)),
                    )
                })
                .collect();
            json!({
                "scheme": if s.secure { "sips" } else { "sip" },
                "user": s.user,
                "password": s.password,
                "host": host_str(&s.host),
                "port": s.port,
                "params": params,
                "headers": s.headers,
                "text": s.as_str(),
            })
        }
        Uri::Tel(t) => {
            json!({"scheme": "tel", "number": t.number, "global": t.is_global(), "text": t.as_str()})
        }
        Uri::Other { scheme, raw } => json!({"scheme": scheme, "text": raw}),
    }
}

fn params_json(p: strowger_message::Params<'_>) -> Value {
    Value::Object(
        p.iter()
            .map(|p| {
                (
                    p.name.to_string(),
                    p.value.map_or(Value::Null, |v| json!(v)),
                )
            })
            .collect(),
    )
}

fn addr_json(a: &NameAddr<'_>) -> Value {
    json!({
        "display_name": a.display.map(|d| unquote(d).into_owned()),
        "uri": uri_json(&a.uri),
        "params": params_json(a.params),
    })
}

fn parsed_json(name: HeaderName, v: &str) -> Value {
    use HeaderName as H;
    match name {
        H::Via => Value::Array(
            elements(v)
                .into_iter()
                .filter_map(|e| Via::parse(e).ok())
                .map(|via| {
                    json!({
                        "protocol": via.protocol, "version": via.version,
                        "transport": via.transport, "host": host_str(&via.host),
                        "port": via.port, "params": params_json(via.params),
                    })
                })
                .collect(),
        ),
        H::From | H::To => NameAddr::parse(v).map_or(Value::Null, |a| addr_json(&a)),
        H::Contact => Value::Array(
            elements(v)
                .into_iter()
                .filter_map(|e| Contact::parse(e).ok())
                .map(|c| match c {
                    Contact::Star => json!("*"),
                    Contact::Addr(a) => addr_json(&a),
                })
                .collect(),
        ),
        H::Route | H::RecordRoute | H::Path => Value::Array(
            elements(v)
                .into_iter()
                .filter_map(|e| parse_route(e).ok())
                .map(|a| addr_json(&a))
                .collect(),
        ),
        H::CSeq => CSeq::parse(v).map_or(
            Value::Null,
            |c| json!({"seq": c.seq, "method": c.method.as_str()}),
        ),
        _ => Value::Null,
    }
}

fn to_json(m: Option<&Message>, err: Option<&ParseError>) -> Value {
    let mut o = Map::new();
    o.insert("valid".into(), json!(err.is_none()));
    if let Some(e) = err {
        o.insert("error".into(), json!(e.to_string()));
        o.insert("status_code".into(), json!(e.status_code()));
    }
    if let Some(m) = m {
        if let Some(method) = m.method() {
            o.insert("kind".into(), json!("request"));
            o.insert("method".into(), json!(method.as_str()));
            o.insert(
                "request_uri".into(),
                m.request_uri().map_or(Value::Null, |u| uri_json(&u)),
            );
        } else {
            o.insert("kind".into(), json!("response"));
            o.insert("status".into(), json!(m.status()));
            o.insert("reason".into(), json!(m.reason()));
        }
        o.insert("version".into(), json!(m.version()));
        let headers: Vec<Value> = m
            .headers()
            .map(|h| {
                json!({
                    "name": if h.name == HeaderName::Other { h.raw_name } else { h.name.as_str() },
                    "raw_name": h.raw_name,
                    "value": h.value,
                    "parsed": parsed_json(h.name, h.value),
                })
            })
            .collect();
        o.insert("headers".into(), Value::Array(headers));
        o.insert("body_length".into(), json!(m.body().len()));
        o.insert(
            "body".into(),
            json!(String::from_utf8_lossy(m.body()).into_owned()),
        );
    }
    Value::Object(o)
}
