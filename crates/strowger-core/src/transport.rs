//! Transport-layer rules of RFC 3261 section 18, without I/O.
//!
//! - Servers, on receiving a request (18.2.1): [`stamp_received`] adds `received` when
//!   the top Via sent-by host is not the source IP, and fills in a valueless `rport`
//!   (RFC 3581 section 4, which also makes `received` mandatory then).
//! - Servers, sending a response (18.2.2, RFC 3581 section 4):
//!   [`response_destination`] says where it goes.
//! - Clients, sending a request (18.1.1): [`push_via`] writes the top Via with the
//!   sent-by and a fresh `z9hG4bK` branch; [`select_transport`] applies the rule that a
//!   large request goes over a congestion-controlled transport; [`prepare_request`]
//!   does both.
//!
//! The runtime owns sockets and connections; here a destination is a [`Target`].

use std::fmt;
use std::net::{IpAddr, SocketAddr};

use bytes::Bytes;
use strowger_message::{new_branch_suffix, HeaderName, Message, ParseError, Via, MAGIC_COOKIE};

/// The transports of a Via (section 18, RFC 7118 for WebSocket).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Transport {
    Udp,
    Tcp,
    Tls,
    Ws,
    Wss,
}

impl Transport {
    /// Reliable transports need no retransmissions and zero the timers that absorb
    /// them (section 17, timers D, I, J, K).
    pub fn is_reliable(self) -> bool {
        !matches!(self, Transport::Udp)
    }

    /// The token written in a Via (`SIP/2.0/UDP`).
    pub fn as_str(self) -> &'static str {
        match self {
            Transport::Udp => "UDP",
            Transport::Tcp => "TCP",
            Transport::Tls => "TLS",
            Transport::Ws => "WS",
            Transport::Wss => "WSS",
        }
    }

    /// Read a Via transport token (case-insensitive).
    pub fn from_via(token: &str) -> Option<Transport> {
        [
            Transport::Udp,
            Transport::Tcp,
            Transport::Tls,
            Transport::Ws,
            Transport::Wss,
        ]
        .into_iter()
        .find(|t| t.as_str().eq_ignore_ascii_case(token))
    }

    /// The port used when a sent-by or URI gives none (sections 18.2.2, 19.1.2;
    /// RFC 7118 for WebSocket).
    pub fn default_port(self) -> u16 {
        match self {
            Transport::Udp | Transport::Tcp => 5060,
            Transport::Tls => 5061,
            Transport::Ws => 80,
            Transport::Wss => 443,
        }
    }
}

impl fmt::Display for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where to send: an address and a transport, and for a reliable transport the
/// connection the runtime already has (its own identifier), if any.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Target {
    pub addr: SocketAddr,
    pub transport: Transport,
    /// The runtime's connection to reuse (section 18.2.2: a response goes back over
    /// the connection the request came on).
    pub conn: Option<u64>,
}

impl Target {
    pub fn new(addr: SocketAddr, transport: Transport) -> Target {
        Target {
            addr,
            transport,
            conn: None,
        }
    }
}

/// Bytes to write, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transmit {
    pub dest: SocketAddr,
    pub transport: Transport,
    /// The connection to write on, when the message must reuse one.
    pub conn: Option<u64>,
    pub bytes: Bytes,
}

impl Transmit {
    pub(crate) fn to(target: &Target, bytes: Bytes) -> Transmit {
        Transmit {
            dest: target.addr,
            transport: target.transport,
            conn: target.conn,
            bytes,
        }
    }

    /// The destination as a [`Target`].
    pub fn target(&self) -> Target {
        Target {
            addr: self.dest,
            transport: self.transport,
            conn: self.conn,
        }
    }
}

/// Where a response goes (section 18.2.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResponseDestination {
    /// An address (or the connection the request came on).
    Target(Target),
    /// A host name (a `maddr`, or a sent-by that is a name with no `received`) that the
    /// runtime must resolve (RFC 3263 section 5) before sending.
    Resolve {
        host: String,
        port: u16,
        transport: Transport,
    },
}

/// The span of the top Via value (first list element of the first Via line) within
/// `msg.as_bytes()`.
fn top_via_span(msg: &Message) -> Option<(usize, usize)> {
    let whole = msg.as_bytes();
    let first = msg.values(HeaderName::Via).next()?;
    // The value borrows from the message's buffer: its offset is a pointer difference.
    let start = (first.as_ptr() as usize).checked_sub(whole.as_ptr() as usize)?;
    let end = start.checked_add(first.len())?;
    (end <= whole.len()).then_some((start, end))
}

/// Split header parameters (the text after the first `;`) at `;` outside quotes.
fn split_params(raw: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut quoted = false;
    let mut escaped = false;
    let mut from = 0;
    for (i, c) in raw.char_indices() {
        if escaped {
            escaped = false;
            continue;
        }
        match c {
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            ';' if !quoted => {
                out.push(&raw[from..i]);
                from = i + 1;
            }
            _ => {}
        }
    }
    out.push(&raw[from..]);
    out.into_iter()
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .collect()
}

fn param_name(p: &str) -> &str {
    p.split('=').next().unwrap_or("").trim()
}

/// Section 18.2.1 and RFC 3581 section 4: stamp the top Via of a request received from
/// `source`. `received` is added when the sent-by host is not the source IP, or when
/// the Via has `rport` (which is then set to the source port). A message that needs no
/// change is returned as it is; otherwise the top Via value is rewritten (other
/// parameters kept, `received` and `rport` written last) and the message reparsed.
///
/// ```
/// use strowger_message::Message;
/// use strowger_core::transport::stamp_received;
/// let req = Message::parse(&b"OPTIONS sip:bob@example.com SIP/2.0\r\n\
///     Via: SIP/2.0/UDP pc33.example.com;branch=z9hG4bK776asdhds;rport\r\n\
///     To: <sip:bob@example.com>\r\nFrom: <sip:alice@example.com>;tag=1\r\n\
///     Call-ID: a84b4c76e66710\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"[..])?;
/// let stamped = stamp_received(req, "192.0.2.7:5062".parse().unwrap());
/// let via = stamped.top_via().unwrap();
/// assert_eq!(via.received(), Some("192.0.2.7"));
/// assert_eq!(via.rport(), Some(Some(5062)));
/// # Ok::<(), strowger_message::ParseError>(())
/// ```
pub fn stamp_received(msg: Message, source: SocketAddr) -> Message {
    let rewritten = msg
        .top_via()
        .and_then(|via| stamped_bytes(&msg, &via, source));
    rewritten.and_then(parse_stamped).unwrap_or(msg)
}

/// [`stamp_received`] for a request whose top Via the caller has parsed already (a
/// server parses it once per request): the request rewritten if it needs the stamp
/// (`None`: it is sent up as it is), and where its response goes
/// ([`response_destination`]; the source when that needs resolving, which the
/// transaction layer cannot do).
pub fn stamp_received_via(
    msg: &Message,
    via: &Via<'_>,
    source: &Target,
) -> (Option<Message>, Target) {
    let Some(bytes) = stamped_bytes(msg, via, source.addr) else {
        return (None, destination_or_source(via, source));
    };
    match parse_stamped(bytes) {
        Some(m) => {
            let dest = m
                .top_via()
                .map_or(*source, |v| destination_or_source(&v, source));
            (Some(m), dest)
        }
        None => (None, destination_or_source(via, source)),
    }
}

fn destination_or_source(via: &Via<'_>, source: &Target) -> Target {
    match response_destination(via, source) {
        ResponseDestination::Target(t) => t,
        ResponseDestination::Resolve { .. } => *source,
    }
}

/// The stamped request, or `None` (logged) when it does not parse: the caller keeps the
/// original.
fn parse_stamped(bytes: Vec<u8>) -> Option<Message> {
    Message::parse(bytes)
        .map_err(
            |e| tracing::warn!(error = %e, "rewritten top Via does not parse; kept the original"),
        )
        .ok()
}

/// The request with `received`/`rport` stamped on its top Via `via`, or `None` when it
/// needs no change.
fn stamped_bytes(msg: &Message, via: &Via<'_>, source: SocketAddr) -> Option<Vec<u8>> {
    if !msg.is_request() {
        return None;
    }
    let rport = via.rport();
    let host_is_source = via.host.ip() == Some(source.ip());
    let has_rport = rport.is_some();
    let needs_received = !host_is_source || has_rport;
    // Compared as addresses: formatting the source for every request cost more than
    // the rest of this check.
    let received_ok = !needs_received
        || via.received().is_some_and(|r| {
            r.trim_matches(['[', ']']).parse::<std::net::IpAddr>().ok() == Some(source.ip())
        });
    let rport_ok = match rport {
        None => true,
        Some(p) => p == Some(source.port()),
    };
    if received_ok && rport_ok {
        return None;
    }
    let (start, end) = top_via_span(msg)?;
    let whole = msg.as_bytes();
    let element = std::str::from_utf8(whole.get(start..end)?).ok()?;
    // The parameters start where the Via's Params view starts (it borrows from the
    // same text); without parameters there is nothing to keep after the sent-by.
    let raw_params = via.params.as_str();
    let params_at = if raw_params.is_empty() {
        element.len()
    } else {
        (raw_params.as_ptr() as usize).checked_sub(element.as_ptr() as usize)?
    };
    let head = element
        .get(..params_at)?
        .trim_end_matches(|c: char| c == ';' || c.is_ascii_whitespace());
    let mut value = String::with_capacity(element.len() + 40);
    value.push_str(head);
    for p in split_params(raw_params) {
        let name = param_name(p);
        if name.eq_ignore_ascii_case("received") || name.eq_ignore_ascii_case("rport") {
            continue;
        }
        value.push(';');
        value.push_str(p);
    }
    if needs_received {
        value.push_str(";received=");
        value.push_str(&source.ip().to_string());
    }
    if has_rport {
        value.push_str(&format!(";rport={}", source.port()));
    }
    let mut out = Vec::with_capacity(whole.len() + 40);
    out.extend_from_slice(whole.get(..start)?);
    out.extend_from_slice(value.as_bytes());
    out.extend_from_slice(whole.get(end..)?);
    Some(out)
}

/// Section 18.2.2 with RFC 3581 section 4: where a response to a request whose top Via
/// is `via`, received on `source`, is sent.
///
/// - Reliable transport: back over the connection the request came on (`source`).
/// - `maddr`: to that address, at the sent-by port (default 5060).
/// - `received`: to that address, at the `rport` value when there is one, otherwise at
///   the sent-by port.
/// - Otherwise the sent-by itself.
pub fn response_destination(via: &Via<'_>, source: &Target) -> ResponseDestination {
    let transport = source.transport;
    if transport.is_reliable() {
        return ResponseDestination::Target(*source);
    }
    let port = via.port.unwrap_or_else(|| transport.default_port());
    let to = |ip: IpAddr, port: u16| {
        ResponseDestination::Target(Target {
            addr: SocketAddr::new(ip, port),
            transport,
            conn: None,
        })
    };
    if let Some(maddr) = via.maddr() {
        return match parse_ip(maddr) {
            Some(ip) => to(ip, port),
            None => ResponseDestination::Resolve {
                host: maddr.to_string(),
                port,
                transport,
            },
        };
    }
    if let Some(ip) = via.received().and_then(parse_ip) {
        let port = match via.rport() {
            Some(Some(p)) => p,
            _ => port,
        };
        return to(ip, port);
    }
    match via.host.ip() {
        Some(ip) => to(ip, port),
        None => ResponseDestination::Resolve {
            host: via.host.to_string(),
            port,
            transport,
        },
    }
}

fn parse_ip(s: &str) -> Option<IpAddr> {
    let s = s
        .strip_prefix('[')
        .and_then(|x| x.strip_suffix(']'))
        .unwrap_or(s);
    s.parse().ok()
}

/// A fresh RFC 3261 branch: the magic cookie and 64 random bits (section 8.1.1.7).
pub fn new_branch() -> String {
    format!("{MAGIC_COOKIE}{}", new_branch_suffix())
}

/// Section 18.1.1: put a new top Via on a request, with `sent_by` (`host[:port]`), a
/// fresh branch, and `rport` when asked (RFC 3581). Returns the new message.
pub fn push_via(
    msg: &Message,
    transport: Transport,
    sent_by: &str,
    rport: bool,
) -> Result<Message, ParseError> {
    let branch = new_branch();
    with_top_via(msg, transport, sent_by, &branch, rport)
}

fn with_top_via(
    msg: &Message,
    transport: Transport,
    sent_by: &str,
    branch: &str,
    rport: bool,
) -> Result<Message, ParseError> {
    let whole = msg.as_bytes();
    let line_end = whole
        .windows(2)
        .position(|w| w == b"\r\n")
        .map_or(whole.len(), |i| i + 2);
    let sent_by: String = sent_by.chars().filter(|c| !c.is_ascii_control()).collect();
    let rport = if rport { ";rport" } else { "" };
    let via = format!("Via: SIP/2.0/{transport} {sent_by};branch={branch}{rport}\r\n");
    let mut out = Vec::with_capacity(whole.len() + via.len());
    out.extend_from_slice(whole.get(..line_end).unwrap_or_default());
    out.extend_from_slice(via.as_bytes());
    out.extend_from_slice(whole.get(line_end..).unwrap_or_default());
    Message::parse(out)
}

/// The largest request sent over UDP when the path MTU is unknown (section 18.1.1).
pub const UDP_SIZE_LIMIT: usize = 1300;

/// Section 18.1.1: the transport for a request of `size` bytes that would go over
/// `preferred`. Over UDP, a request within 200 bytes of the path MTU, or larger than
/// 1300 bytes when the MTU is not known, must go over a congestion-controlled
/// transport: TCP.
///
/// ```
/// use strowger_core::transport::{select_transport, Transport};
/// assert_eq!(select_transport(Transport::Udp, 1200, None), Transport::Udp);
/// assert_eq!(select_transport(Transport::Udp, 1301, None), Transport::Tcp);
/// assert_eq!(select_transport(Transport::Udp, 1250, Some(1500)), Transport::Udp);
/// assert_eq!(select_transport(Transport::Udp, 1301, Some(1500)), Transport::Tcp);
/// assert_eq!(select_transport(Transport::Tls, 9000, None), Transport::Tls);
/// ```
pub fn select_transport(preferred: Transport, size: usize, path_mtu: Option<usize>) -> Transport {
    if preferred != Transport::Udp {
        return preferred;
    }
    let too_big = match path_mtu {
        Some(mtu) => size.saturating_add(200) > mtu,
        None => size > UDP_SIZE_LIMIT,
    };
    if too_big {
        Transport::Tcp
    } else {
        Transport::Udp
    }
}

/// Section 18.1.1 in one call: push the top Via (fresh branch) for `preferred`, and if
/// the result is too large for UDP, write it again for TCP, so the Via names the
/// transport the request really uses. Returns the request and its transport.
pub fn prepare_request(
    msg: &Message,
    preferred: Transport,
    sent_by: &str,
    rport: bool,
    path_mtu: Option<usize>,
) -> Result<(Message, Transport), ParseError> {
    let branch = new_branch();
    let first = with_top_via(msg, preferred, sent_by, &branch, rport)?;
    let chosen = select_transport(preferred, first.as_bytes().len(), path_mtu);
    if chosen == preferred {
        return Ok((first, preferred));
    }
    Ok((with_top_via(msg, chosen, sent_by, &branch, rport)?, chosen))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(via: &str) -> Message {
        let text = format!(
            "INVITE sip:bob@example.com SIP/2.0\r\nVia: {via}\r\nVia: SIP/2.0/UDP proxy.example.com;branch=z9hG4bKold\r\n\
             Max-Forwards: 70\r\nTo: <sip:bob@example.com>\r\nFrom: <sip:alice@example.com>;tag=1\r\n\
             Call-ID: c1\r\nCSeq: 1 INVITE\r\nContent-Length: 4\r\n\r\nbody"
        );
        Message::parse(text.into_bytes()).unwrap()
    }

    fn addr(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn received_is_added_when_sent_by_is_a_name_rfc3261_18_2_1() {
        let m = stamp_received(
            request("SIP/2.0/UDP pc33.example.com;branch=z9hG4bK1"),
            addr("192.0.2.1:5060"),
        );
        let v = m.top_via().unwrap();
        assert_eq!(v.received(), Some("192.0.2.1"));
        assert_eq!(v.branch(), Some("z9hG4bK1"));
        assert_eq!(v.rport(), None);
        // Only the top Via value changes; the body and the other Via stay.
        assert_eq!(m.body(), b"body");
        assert_eq!(m.vias().count(), 2);
        assert_eq!(m.vias().nth(1).unwrap().branch(), Some("z9hG4bKold"));
    }

    #[test]
    fn received_is_not_added_when_sent_by_is_the_source_ip_rfc3261_18_2_1() {
        let original = request("SIP/2.0/UDP 192.0.2.1:5070;branch=z9hG4bK1");
        let m = stamp_received(original.clone(), addr("192.0.2.1:5070"));
        assert_eq!(m.as_bytes(), original.as_bytes());
    }

    #[test]
    fn received_is_replaced_when_wrong() {
        let m = stamp_received(
            request("SIP/2.0/UDP host.example;received=10.0.0.1;branch=z9hG4bK1"),
            addr("192.0.2.9:5060"),
        );
        let v = m.top_via().unwrap();
        assert_eq!(v.received(), Some("192.0.2.9"));
        assert_eq!(v.params.iter().filter(|p| p.name == "received").count(), 1);
    }

    #[test]
    fn rport_is_filled_and_received_always_added_rfc3581_4() {
        let m = stamp_received(
            request("SIP/2.0/UDP 192.0.2.1:5060;rport;branch=z9hG4bK1"),
            addr("192.0.2.1:61000"),
        );
        let v = m.top_via().unwrap();
        assert_eq!(v.rport(), Some(Some(61000)));
        assert_eq!(v.received(), Some("192.0.2.1"));
        assert_eq!(v.branch(), Some("z9hG4bK1"));
    }

    #[test]
    fn a_via_line_with_two_values_keeps_the_second_rfc3261_7_3_1() {
        let m = stamp_received(
            request("SIP/2.0/UDP a.example;branch=z9hG4bKa, SIP/2.0/UDP b.example;branch=z9hG4bKb"),
            addr("[2001:db8::1]:5060"),
        );
        let vias: Vec<_> = m.vias().map(|v| v.branch().unwrap().to_string()).collect();
        assert_eq!(vias, ["z9hG4bKa", "z9hG4bKb", "z9hG4bKold"]);
        assert_eq!(m.top_via().unwrap().received(), Some("2001:db8::1"));
    }

    #[test]
    fn responses_are_not_stamped() {
        let req = request("SIP/2.0/UDP a.example;branch=z9hG4bKa");
        let resp = strowger_message::ResponseBuilder::new(&req, 200)
            .build()
            .unwrap();
        let out = stamp_received(resp.clone(), addr("192.0.2.1:5060"));
        assert_eq!(out.as_bytes(), resp.as_bytes());
    }

    fn dest(via: &str, source: Target) -> ResponseDestination {
        let v = Via::parse(via).unwrap();
        response_destination(&v, &source)
    }

    #[test]
    fn response_over_reliable_transport_reuses_the_connection_rfc3261_18_2_2() {
        let source = Target {
            addr: addr("192.0.2.1:40000"),
            transport: Transport::Tcp,
            conn: Some(7),
        };
        assert_eq!(
            dest(
                "SIP/2.0/TCP a.example;branch=z9hG4bK1;received=192.0.2.1",
                source
            ),
            ResponseDestination::Target(source)
        );
    }

    #[test]
    fn response_over_udp_goes_to_received_and_sent_by_port_rfc3261_18_2_2() {
        let source = Target::new(addr("192.0.2.1:40000"), Transport::Udp);
        let expect = |s: &str| ResponseDestination::Target(Target::new(addr(s), Transport::Udp));
        assert_eq!(
            dest(
                "SIP/2.0/UDP a.example;branch=z9hG4bK1;received=192.0.2.1",
                source
            ),
            expect("192.0.2.1:5060")
        );
        assert_eq!(
            dest(
                "SIP/2.0/UDP a.example:5080;branch=z9hG4bK1;received=192.0.2.1",
                source
            ),
            expect("192.0.2.1:5080")
        );
        // RFC 3581: rport wins over the sent-by port.
        assert_eq!(
            dest(
                "SIP/2.0/UDP a.example:5080;branch=z9hG4bK1;received=192.0.2.1;rport=40000",
                source
            ),
            expect("192.0.2.1:40000")
        );
        assert_eq!(
            dest("SIP/2.0/UDP 192.0.2.5;branch=z9hG4bK1", source),
            expect("192.0.2.5:5060")
        );
        assert_eq!(
            dest(
                "SIP/2.0/UDP a.example:5070;maddr=239.255.255.1;branch=z9hG4bK1",
                source
            ),
            expect("239.255.255.1:5070")
        );
        assert_eq!(
            dest(
                "SIP/2.0/UDP a.example;maddr=mcast.example;branch=z9hG4bK1",
                source
            ),
            ResponseDestination::Resolve {
                host: "mcast.example".into(),
                port: 5060,
                transport: Transport::Udp
            }
        );
    }

    #[test]
    fn push_via_adds_a_fresh_cookie_branch_on_top_rfc3261_8_1_1_7() {
        let req = request("SIP/2.0/UDP a.example;branch=z9hG4bKa");
        let m = push_via(&req, Transport::Tcp, "192.0.2.2:5060", true).unwrap();
        let v = m.top_via().unwrap();
        assert!(v.has_magic_cookie());
        assert_eq!(v.transport, "TCP");
        assert_eq!(v.port, Some(5060));
        assert_eq!(v.rport(), Some(None));
        assert_eq!(m.vias().count(), 3);
        let again = push_via(&req, Transport::Tcp, "192.0.2.2:5060", true).unwrap();
        assert_ne!(again.top_via().unwrap().branch(), v.branch());
    }

    #[test]
    fn a_large_udp_request_goes_over_tcp_with_a_tcp_via_rfc3261_18_1_1() {
        let req = RequestBuilderExt::big(1400);
        let (m, t) = prepare_request(&req, Transport::Udp, "192.0.2.2", false, None).unwrap();
        assert_eq!(t, Transport::Tcp);
        assert_eq!(m.top_via().unwrap().transport, "TCP");
        let small = RequestBuilderExt::big(100);
        let (m, t) = prepare_request(&small, Transport::Udp, "192.0.2.2", false, None).unwrap();
        assert_eq!(t, Transport::Udp);
        assert_eq!(m.top_via().unwrap().transport, "UDP");
        assert_eq!(select_transport(Transport::Udp, 1300, None), Transport::Udp);
        assert_eq!(select_transport(Transport::Udp, 1301, None), Transport::Tcp);
        assert_eq!(
            select_transport(Transport::Udp, 1000, Some(1100)),
            Transport::Tcp
        );
    }

    struct RequestBuilderExt;
    impl RequestBuilderExt {
        fn big(body: usize) -> Message {
            strowger_message::RequestBuilder::new(
                strowger_message::Method::Message,
                "sip:bob@example.com",
            )
            .from("<sip:alice@example.com>", "1")
            .to("<sip:bob@example.com>")
            .call_id("c")
            .cseq(1)
            .body("text/plain", vec![b'x'; body])
            .build()
            .unwrap()
        }
    }

    #[test]
    fn transport_tokens_round_trip() {
        for t in [
            Transport::Udp,
            Transport::Tcp,
            Transport::Tls,
            Transport::Ws,
            Transport::Wss,
        ] {
            assert_eq!(Transport::from_via(&t.as_str().to_lowercase()), Some(t));
        }
        assert!(!Transport::Udp.is_reliable());
        assert!(Transport::Ws.is_reliable());
    }
}
