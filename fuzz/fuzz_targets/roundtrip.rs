//! parse -> write -> parse: the bytes written back are the bytes parsed, and the
//! canonical form (long names, folds unfolded) parses to the same fields.
#![no_main]
use libfuzzer_sys::fuzz_target;
use strowger_message::{unfold, Message};

fuzz_target!(|data: &[u8]| {
    let Ok(first) = Message::parse(data.to_vec()) else {
        return;
    };
    let again = Message::parse(first.to_bytes()).expect("re-parsing the written bytes failed");
    assert_eq!(first, again);
    assert_eq!(first.as_bytes(), again.as_bytes());

    let canon = first.to_canonical_bytes();
    let c = match Message::parse(canon.clone()) {
        Ok(c) => c,
        Err(e) => panic!(
            "canonical form does not parse: {e}\n{}",
            String::from_utf8_lossy(&canon)
        ),
    };
    assert_eq!(first.method(), c.method());
    assert_eq!(first.request_uri_str(), c.request_uri_str());
    assert_eq!(first.status(), c.status());
    assert_eq!(first.body(), c.body());
    let a: Vec<_> = first.headers().map(|h| (h.name, unfold(h.value).into_owned())).collect();
    let b: Vec<_> = c.headers().map(|h| (h.name, h.value.to_string())).collect();
    assert_eq!(a, b);
    let via = |m: &Message| {
        m.top_via()
            .map(|v| (v.branch().map(str::to_owned), v.transport.to_owned(), v.host.to_string(), v.port))
    };
    assert_eq!(via(&first), via(&c));
    let addr = |a: Option<strowger_message::NameAddr<'_>>| {
        a.map(|a| (a.tag().map(str::to_owned), a.uri.as_str().to_owned()))
    };
    assert_eq!(addr(first.from()), addr(c.from()));
    assert_eq!(addr(first.to()), addr(c.to()));
    assert_eq!(first.cseq(), c.cseq());
    assert_eq!(first.call_id(), c.call_id());
    assert_eq!(first.validate().is_ok(), c.validate().is_ok());
});
