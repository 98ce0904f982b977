//! A deterministic stand-in for the `sdp_parse` fuzz target (cargo-fuzz needs a nightly
//! toolchain, which the build machines lack): a few thousand mutations of real SDP bodies
//! from a fixed seed. The parser must not panic, and whatever it accepts must be written and
//! parsed back to the same value.

use strowger_sdp::SessionDescription;

const SEEDS: &[&str] = &[
    "v=0\r\no=jdoe 3724394400 3724394405 IN IP4 198.51.100.1\r\ns=Call to John Smith\r\ni=SDP Offer #1\r\nu=http://www.jdoe.example.com/home.html\r\ne=Jane Doe <jane@jdoe.example.com>\r\np=+1 617 555-6011\r\nc=IN IP4 198.51.100.1\r\nt=0 0\r\nm=audio 49170 RTP/AVP 0\r\nm=audio 49180 RTP/AVP 0\r\nm=video 51372 RTP/AVP 99\r\nc=IN IP6 2001:db8::2\r\na=rtpmap:99 h263-1998/90000\r\n",
    "v=0\no=- 1 2 IN IP4 192.0.2.1\ns=-\nc=IN IP4 233.252.0.1/127/3\nb=AS:64\nt=3034423619 3042462419\nr=7d 1h 0 25h\nz=2882844526 -1h 2898848070 0\nk=prompt\na=recvonly\nm=audio 4000/2 RTP/AVP 111 0 101\na=rtpmap:111 opus/48000/2\na=fmtp:111 minptime=10;useinbandfec=1\na=rtpmap:101 telephone-event/8000\na=fmtp:101 0-16\na=ptime:20\na=maxptime:150\na=rtcp:53020 IN IP6 2001:db8::7\n",
    "v=0\r\no=- 4611731400430051336 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0\r\na=msid-semantic: WMS\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111 0\r\nc=IN IP4 0.0.0.0\r\na=rtcp:9 IN IP4 0.0.0.0\r\na=ice-ufrag:Xw3u\r\na=fingerprint:sha-256 7B:8B:F0\r\na=setup:actpass\r\na=mid:0\r\na=sendrecv\r\na=rtcp-mux\r\na=rtpmap:111 opus/48000/2\r\nm=image 6000 udptl t38\r\na=T38FaxVersion:0\r\n",
    "v=0\r\no=bob 2808844564 2808844564 IN IP4 host.example.com\r\ns=\r\nt=0 0\r\nm=audio 22334 RTP/AVP 0\r\nc=IN IP4 192.0.2.1\r\nm=video 6024 RTP/AVP 107\r\nc=IN IP6 2001:db8::1\r\na=rtpmap:107 H263-1998/90000\r\n",
];

/// Bytes that mean something to the grammar.
const INTERESTING: &[u8] = b"=:/ \t\r\n-0123456789aemvostcbrzkIPN[].*\x00\xff";

/// xorshift64*: small, fixed, good enough to pick mutations.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }

    fn byte(&mut self) -> u8 {
        if self.next().is_multiple_of(2) {
            INTERESTING[self.below(INTERESTING.len())]
        } else {
            self.next() as u8
        }
    }
}

fn mutate(rng: &mut Rng, input: &mut Vec<u8>) {
    let at = rng.below(input.len() + 1);
    match rng.below(7) {
        // Overwrite a byte.
        0 if at < input.len() => input[at] = rng.byte(),
        // Insert a byte.
        1 => input.insert(at, rng.byte()),
        // Delete a run.
        2 if at < input.len() => {
            let end = (at + 1 + rng.below(8)).min(input.len());
            input.drain(at..end);
        }
        // Duplicate a run (a repeated line, a repeated field).
        3 if at < input.len() => {
            let end = (at + 1 + rng.below(40)).min(input.len());
            let run = input[at..end].to_vec();
            let to = rng.below(input.len() + 1);
            input.splice(to..to, run);
        }
        // Truncate.
        4 => input.truncate(at),
        // Replace a digit run by a huge number.
        5 if at < input.len() && input[at].is_ascii_digit() => {
            input.splice(at..at + 1, b"99999999999999999999999".iter().copied());
        }
        // Swap two bytes.
        _ if input.len() > 1 => {
            let other = rng.below(input.len());
            let at = at.min(input.len() - 1);
            input.swap(at, other);
        }
        _ => input.push(rng.byte()),
    }
}

#[test]
fn thousands_of_mutated_bodies_never_panic_and_round_trip() {
    let mut rng = Rng(0x5d0f_2024_8866_3264);
    let mut accepted = 0;
    for round in 0..6_000 {
        let seed = SEEDS[round % SEEDS.len()];
        let mut input = seed.as_bytes().to_vec();
        for _ in 0..=rng.below(4) {
            mutate(&mut rng, &mut input);
        }
        if let Ok(sdp) = SessionDescription::parse(&input) {
            accepted += 1;
            let written = sdp.to_bytes();
            assert_eq!(
                SessionDescription::parse(&written).as_ref(),
                Ok(&sdp),
                "input: {:?}\nwritten: {:?}",
                String::from_utf8_lossy(&input),
                String::from_utf8_lossy(&written)
            );
        }
    }
    // The mutations must leave enough bodies valid to exercise the writer too.
    assert!(accepted > 500, "only {accepted} mutated bodies parsed");
}
