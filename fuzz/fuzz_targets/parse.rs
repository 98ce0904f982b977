//! Any input: parse, validate, frame and read every typed field without panicking.
#![no_main]
use libfuzzer_sys::fuzz_target;
use strowger_message::{frame, HeaderName, Limits, Message};

fuzz_target!(|data: &[u8]| {
    let _ = frame(data, &Limits::default());
    let Ok(m) = Message::parse(data.to_vec()) else {
        return;
    };
    let _ = m.validate();
    let _ = (m.method(), m.request_uri(), m.status(), m.reason(), m.start_line());
    let _ = (m.top_via(), m.from(), m.to(), m.call_id(), m.cseq(), m.max_forwards());
    let _ = (m.content_type(), m.expires(), m.min_expires(), m.retry_after(), m.timestamp());
    for v in m.vias() {
        let _ = (v.branch(), v.received(), v.rport(), v.ttl(), v.maddr());
    }
    for c in m.contacts() {
        let _ = (c.q(), c.expires());
    }
    for r in m.routes().chain(m.record_routes()) {
        let _ = r.display_name();
        if let Some(s) = r.uri.as_sip() {
            let _ = (s.lr(), s.aor(), s.user_unescaped());
        }
        let _ = r.uri == r.uri;
    }
    for a in m.auth(HeaderName::Authorization) {
        let _ = a.params().count();
    }
    let _ = m.warnings().count();
    let _ = m.to_canonical_bytes();
    assert!(m.as_bytes().len() <= data.len());
});
