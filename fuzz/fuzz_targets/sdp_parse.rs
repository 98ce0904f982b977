//! Fuzz target for the SDP parser (strowger-sdp): no input may panic, and whatever parses
//! must be written and parsed back to an equal value.
#![no_main]

use libfuzzer_sys::fuzz_target;
use strowger_sdp::SessionDescription;

fuzz_target!(|data: &[u8]| {
    if let Ok(sdp) = SessionDescription::parse(data) {
        let written = sdp.to_bytes();
        let again = SessionDescription::parse(&written).expect("the writer's output must parse");
        assert_eq!(again, sdp, "parse -> write -> parse changed the value");
    }
});
