//! Audio media for Strowger's user agent: RTP and RTCP (RFC 3550), G.711 PCMU and PCMA,
//! DTMF as RTP telephone-events (RFC 4733), a jitter buffer, and WAV files as sources and
//! sinks.
//!
//! Sans-I/O like `strowger-core`: a [`MediaSession`] takes datagrams
//! ([`handle_datagram`](MediaSession::handle_datagram)) and time
//! ([`handle_timeout`](MediaSession::handle_timeout)), and gives datagrams
//! ([`poll_transmit`](MediaSession::poll_transmit)), events
//! ([`poll_event`](MediaSession::poll_event)) and its next deadline
//! ([`poll_timeout`](MediaSession::poll_timeout)). [`run_media`] is the thin tokio loop
//! around it.
//!
//! # Example
//!
//! Two sessions joined by hand, with a virtual clock: one plays a tone and a digit, the
//! other hears them.
//!
//! ```
//! use std::net::SocketAddr;
//! use std::time::{Duration, Instant};
//! use strowger_media::{
//!     Digit, G711, MediaConfig, MediaEvent, MediaSession, MemorySink, RandomStart, Tone,
//! };
//!
//! let (a_addr, b_addr): (SocketAddr, SocketAddr) =
//!     ("127.0.0.1:40000".parse()?, "127.0.0.1:40002".parse()?);
//! let mut config = MediaConfig::new(b_addr, G711::Pcmu);
//! config.telephone_event = Some(101);
//! let start = Instant::now();
//! let mut a = MediaSession::new(config.clone(), RandomStart::from_seed(1), start)?
//!     .with_source(Tone::new(440.0, 0.5, 8000).with_samples(8000));
//! config.remote_rtp = a_addr;
//! let heard = MemorySink::new();
//! let mut b = MediaSession::new(config, RandomStart::from_seed(2), start)?
//!     .with_sink(heard.clone());
//! a.send_dtmf("5")?;
//!
//! let mut digits = Vec::new();
//! let mut now = start;
//! while now < start + Duration::from_millis(1500) {
//!     a.handle_timeout(now);
//!     b.handle_timeout(now);
//!     while let Some(t) = a.poll_transmit() {
//!         b.handle_datagram(now, a_addr, &t.contents);
//!     }
//!     while let Some(event) = b.poll_event() {
//!         if let MediaEvent::DtmfReceived(digit) = event {
//!             digits.push(digit);
//!         }
//!     }
//!     now += Duration::from_millis(20);
//! }
//! assert_eq!(digits, [Digit::from_char('5').unwrap()]);
//! // One second of audio sent, one second played (the digit's packets as silence).
//! assert_eq!(heard.samples().len(), 8000);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![deny(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]
#![cfg_attr(
    test,
    allow(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::indexing_slicing,
        clippy::panic
    )
)]

pub mod audio;
pub mod dtmf;
pub mod g711;
pub mod jitter;
pub mod rtcp;
pub mod rtp;
mod runner;
mod session;
pub mod wav;

pub use audio::{echo, AudioSink, AudioSource, MemorySink, NullSink, SampleSource, Silence, Tone};
pub use dtmf::{Digit, DtmfTiming, TelephoneEvent};
pub use g711::G711;
pub use jitter::{JitterBuffer, JitterConfig, JitterStats, Playout};
pub use rtp::{RtpError, RtpPacket};
pub use runner::{run_media, MediaCommand, MediaSockets, RunOptions};
pub use session::{
    Channel, Concealment, MediaConfig, MediaError, MediaEvent, MediaSession, MediaStats,
    RandomStart, Transmit,
};
pub use wav::{WavError, WavSink, WavSource};
