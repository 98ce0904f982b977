//! DTMF digits as RTP telephone-events (RFC 4733 sections 2.3 and 3.2).
//!
//! Sending: one event is a run of packets that share the event's start timestamp, the first
//! with the marker bit, each carrying the duration so far (growing by one packet time), and
//! the last sent three times with the E bit (section 2.5.1.4). Receiving: an event is known
//! by its timestamp, so the first packet with a new timestamp reports the digit and every
//! repeat, retransmitted end packet or late straggler is ignored.

use std::collections::VecDeque;
use std::fmt;

/// A DTMF digit: RFC 4733 section 3.2 event codes 0-15 (`0`-`9`, `*`, `#`, `A`-`D`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Digit(u8);

impl Digit {
    /// The digit for a character (`a`-`d` as `A`-`D`).
    pub fn from_char(c: char) -> Option<Digit> {
        let code = match c.to_ascii_uppercase() {
            c @ '0'..='9' => c as u8 - b'0',
            '*' => 10,
            '#' => 11,
            c @ 'A'..='D' => c as u8 - b'A' + 12,
            _ => return None,
        };
        Some(Digit(code))
    }

    /// The digit for an event code, if the code is a DTMF digit (0-15).
    pub fn from_code(code: u8) -> Option<Digit> {
        (code <= 15).then_some(Digit(code))
    }

    /// The event code (0-15).
    pub fn code(self) -> u8 {
        self.0
    }

    /// The character: `0`-`9`, `*`, `#`, `A`-`D`.
    pub fn as_char(self) -> char {
        match self.0 {
            c @ 0..=9 => char::from(b'0' + c),
            10 => '*',
            11 => '#',
            c => char::from(b'A' + (c - 12)),
        }
    }
}

impl fmt::Display for Digit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.as_char())
    }
}

/// A telephone-event payload that is not 4 bytes long.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("telephone-event payload is {0} bytes, at least 4 are needed (RFC 4733 section 2.3)")]
pub struct TelephoneEventError(pub usize);

/// The 4-byte telephone-event payload (RFC 4733 section 2.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TelephoneEvent {
    /// Event code.
    pub event: u8,
    /// The E bit: this packet ends the event.
    pub end: bool,
    /// Power level in -dBm0, 0-63.
    pub volume: u8,
    /// Duration so far, in timestamp units.
    pub duration: u16,
}

impl TelephoneEvent {
    /// Parses the first 4 bytes of a payload (more may follow in a redundant payload; they
    /// are ignored).
    pub fn parse(payload: &[u8]) -> Result<TelephoneEvent, TelephoneEventError> {
        match payload {
            [event, flags, d0, d1, ..] => Ok(TelephoneEvent {
                event: *event,
                end: flags & 0x80 != 0,
                volume: flags & 0x3F,
                duration: u16::from_be_bytes([*d0, *d1]),
            }),
            _ => Err(TelephoneEventError(payload.len())),
        }
    }

    /// The payload bytes.
    pub fn to_bytes(self) -> [u8; 4] {
        let [d0, d1] = self.duration.to_be_bytes();
        [
            self.event,
            u8::from(self.end) << 7 | (self.volume & 0x3F),
            d0,
            d1,
        ]
    }
}

/// Times for sending digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DtmfTiming {
    /// How long each tone lasts, in milliseconds (100 by default).
    pub tone_ms: u32,
    /// Pause between digits, in milliseconds (100 by default).
    pub gap_ms: u32,
    /// Power level in -dBm0 (10 by default).
    pub volume: u8,
}

impl Default for DtmfTiming {
    fn default() -> Self {
        DtmfTiming {
            tone_ms: 100,
            gap_ms: 100,
            volume: 10,
        }
    }
}

/// One telephone-event packet to send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DtmfPacket {
    /// The digit.
    pub digit: Digit,
    /// Marker bit: set on the first packet of an event.
    pub marker: bool,
    /// RTP timestamp: the event's start, the same for all its packets.
    pub timestamp: u32,
    /// The payload.
    pub event: TelephoneEvent,
    /// This is the last packet of the event (the third end packet).
    pub last: bool,
}

/// How many times the final packet is sent (RFC 4733 section 2.5.1.4 recommends three).
const END_PACKETS: u32 = 3;

#[derive(Debug, Clone, Copy)]
struct ActiveEvent {
    digit: Digit,
    timestamp: u32,
    packets_sent: u32,
}

/// Turns queued digits into one telephone-event packet per packet time.
#[derive(Debug, Clone)]
pub struct DtmfSender {
    timing: DtmfTiming,
    samples_per_packet: u32,
    tone_packets: u32,
    gap_packets: u32,
    queue: VecDeque<Digit>,
    active: Option<ActiveEvent>,
    gap_left: u32,
}

impl DtmfSender {
    /// A sender for packets of `samples_per_packet` timestamp units each
    /// (ptime * clock rate / 1000).
    pub fn new(timing: DtmfTiming, samples_per_packet: u32, ptime_ms: u32) -> DtmfSender {
        let ptime_ms = ptime_ms.max(1);
        let samples_per_packet = samples_per_packet.max(1);
        // The duration field is 16 bits: cap the tone so the final duration fits.
        let max_packets = u32::from(u16::MAX) / samples_per_packet;
        DtmfSender {
            timing,
            samples_per_packet,
            tone_packets: timing
                .tone_ms
                .div_ceil(ptime_ms)
                .clamp(1, max_packets.max(1)),
            gap_packets: timing.gap_ms.div_ceil(ptime_ms),
            queue: VecDeque::new(),
            active: None,
            gap_left: 0,
        }
    }

    /// Queues a digit.
    pub fn push(&mut self, digit: Digit) {
        self.queue.push_back(digit);
    }

    /// Whether an event is being sent or digits wait.
    pub fn is_busy(&self) -> bool {
        self.active.is_some() || !self.queue.is_empty()
    }

    /// The packet for this packet time, or `None` when audio should be sent instead.
    /// `timestamp` is the RTP timestamp of this packet time.
    pub fn next_packet(&mut self, timestamp: u32) -> Option<DtmfPacket> {
        if self.active.is_none() {
            if self.gap_left > 0 {
                self.gap_left -= 1;
                return None;
            }
            let digit = self.queue.pop_front()?;
            self.active = Some(ActiveEvent {
                digit,
                timestamp,
                packets_sent: 0,
            });
        }
        let active = self.active.as_mut()?;
        let index = active.packets_sent;
        active.packets_sent += 1;
        // Packets 1..tone_packets-1 carry a growing duration; then the final duration is
        // sent END_PACKETS times with the E bit.
        let packets = index + 1;
        let end = packets >= self.tone_packets;
        let duration = packets.min(self.tone_packets) * self.samples_per_packet;
        let last = packets >= self.tone_packets + END_PACKETS - 1;
        let packet = DtmfPacket {
            digit: active.digit,
            marker: index == 0,
            timestamp: active.timestamp,
            event: TelephoneEvent {
                event: active.digit.code(),
                end,
                volume: self.timing.volume,
                duration: u16::try_from(duration).unwrap_or(u16::MAX),
            },
            last,
        };
        if last {
            self.active = None;
            self.gap_left = self.gap_packets;
        }
        Some(packet)
    }
}

/// Reports each received event once.
#[derive(Debug, Clone, Default)]
pub struct DtmfDetector {
    last_timestamp: Option<u32>,
}

impl DtmfDetector {
    /// A detector that has seen nothing.
    pub fn new() -> DtmfDetector {
        DtmfDetector::default()
    }

    /// Feeds one telephone-event packet; returns the digit when it starts a new event.
    /// Packets whose timestamp is not newer than the last event's (RFC 3550 serial number
    /// arithmetic) are repeats or stragglers.
    pub fn on_packet(&mut self, timestamp: u32, event: &TelephoneEvent) -> Option<Digit> {
        if let Some(last) = self.last_timestamp {
            if (timestamp.wrapping_sub(last) as i32) <= 0 {
                return None;
            }
        }
        let digit = Digit::from_code(event.event)?;
        self.last_timestamp = Some(timestamp);
        Some(digit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc4733_3_2_digit_codes() {
        let all = "0123456789*#ABCD";
        for (code, c) in all.chars().enumerate() {
            let digit = Digit::from_char(c).unwrap();
            assert_eq!(usize::from(digit.code()), code);
            assert_eq!(digit.as_char(), c);
            assert_eq!(Digit::from_code(code as u8), Some(digit));
        }
        assert_eq!(Digit::from_char('b'), Digit::from_char('B'));
        assert_eq!(Digit::from_char('E'), None);
        assert_eq!(Digit::from_code(16), None);
    }

    #[test]
    fn rfc4733_2_3_payload_round_trips() {
        let event = TelephoneEvent {
            event: 11,
            end: true,
            volume: 10,
            duration: 800,
        };
        assert_eq!(event.to_bytes(), [11, 0x8A, 0x03, 0x20]);
        assert_eq!(TelephoneEvent::parse(&event.to_bytes()), Ok(event));
        assert_eq!(
            TelephoneEvent::parse(&[1, 2, 3]),
            Err(TelephoneEventError(3))
        );
    }

    #[test]
    fn an_event_grows_by_one_packet_time_then_ends_three_times() {
        let mut sender = DtmfSender::new(DtmfTiming::default(), 160, 20);
        sender.push(Digit::from_char('5').unwrap());
        let packets: Vec<DtmfPacket> = (0..7)
            .map(|i| sender.next_packet(1000 + 160 * i).unwrap())
            .collect();
        let summary: Vec<(bool, u32, bool, u16, bool)> = packets
            .iter()
            .map(|p| (p.marker, p.timestamp, p.event.end, p.event.duration, p.last))
            .collect();
        assert_eq!(
            summary,
            [
                (true, 1000, false, 160, false),
                (false, 1000, false, 320, false),
                (false, 1000, false, 480, false),
                (false, 1000, false, 640, false),
                (false, 1000, true, 800, false),
                (false, 1000, true, 800, false),
                (false, 1000, true, 800, true),
            ]
        );
        // Nothing more queued: audio.
        assert_eq!(sender.next_packet(1000 + 160 * 7), None);
        assert!(!sender.is_busy());
    }

    #[test]
    fn digits_are_separated_by_the_gap() {
        let timing = DtmfTiming {
            tone_ms: 40,
            gap_ms: 40,
            volume: 10,
        };
        let mut sender = DtmfSender::new(timing, 160, 20);
        sender.push(Digit::from_char('1').unwrap());
        sender.push(Digit::from_char('2').unwrap());
        let kinds: Vec<Option<(char, bool)>> = (0..12)
            .map(|i| {
                sender
                    .next_packet(160 * i)
                    .map(|p| (p.digit.as_char(), p.marker))
            })
            .collect();
        let one = Some(('1', false));
        let two = Some(('2', false));
        assert_eq!(
            kinds,
            [
                Some(('1', true)),
                one,
                one,
                one,
                None,
                None,
                Some(('2', true)),
                two,
                two,
                two,
                None,
                None
            ]
        );
    }

    #[test]
    fn detector_reports_each_event_once_despite_repeated_end_packets() {
        let mut detector = DtmfDetector::new();
        let mut sender = DtmfSender::new(DtmfTiming::default(), 160, 20);
        for c in "11#".chars() {
            sender.push(Digit::from_char(c).unwrap());
        }
        let mut got = String::new();
        let mut timestamp = u32::MAX - 2000; // across the wrap
        while sender.is_busy() {
            if let Some(packet) = sender.next_packet(timestamp) {
                if let Some(digit) = detector.on_packet(packet.timestamp, &packet.event) {
                    got.push(digit.as_char());
                }
                // A straggler from the same event, delivered twice.
                assert_eq!(detector.on_packet(packet.timestamp, &packet.event), None);
            }
            timestamp = timestamp.wrapping_add(160);
        }
        assert_eq!(got, "11#");
    }
}
