//! A fixed-delay jitter buffer: packets in by RTP sequence number (RFC 3550 section 5.1,
//! with the 16-bit wrap unrolled as in appendix A.1), one packet out per packet time.
//!
//! Playout starts once `target_ms` of packets are held, so a packet that arrives out of
//! order within that delay still plays in order. A packet missing at its turn is reported
//! [`Playout::Lost`] (the caller conceals it) and dropped if it comes later; a duplicate is
//! dropped; the buffer never holds more than `max_ms` — on overflow the oldest packets are
//! skipped. When the buffer runs dry, it reports [`Playout::Empty`] and waits for
//! `target_ms` again before resuming.

use std::collections::BTreeMap;

/// Sizes of the buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JitterConfig {
    /// Packet time in milliseconds (20 by default).
    pub ptime_ms: u32,
    /// Delay held before playout starts or resumes, in milliseconds (60 by default).
    pub target_ms: u32,
    /// Most delay held, in milliseconds (200 by default).
    pub max_ms: u32,
}

impl Default for JitterConfig {
    fn default() -> Self {
        JitterConfig {
            ptime_ms: 20,
            target_ms: 60,
            max_ms: 200,
        }
    }
}

impl JitterConfig {
    fn packets(self, ms: u32) -> i64 {
        i64::from(ms.div_ceil(self.ptime_ms.max(1)).max(1))
    }
}

/// What became of an inserted packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Inserted {
    /// Held for playout.
    Accepted,
    /// Already held: dropped.
    Duplicate,
    /// Its turn has passed: dropped.
    Late,
}

/// What to play for one packet time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Playout<T> {
    /// The next packet in sequence.
    Packet(T),
    /// The next packet is missing while later ones are held: conceal one packet time.
    Lost,
    /// Filling up to the target delay: play nothing yet.
    Buffering,
    /// Nothing held: the stream paused or ended.
    Empty,
}

/// Counters, for logs and RTCP.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct JitterStats {
    /// Packets accepted.
    pub accepted: u64,
    /// Duplicates dropped.
    pub duplicates: u64,
    /// Packets that came after their turn, dropped.
    pub late: u64,
    /// Packet times concealed.
    pub lost: u64,
    /// Packets skipped because the buffer was over its maximum.
    pub overflowed: u64,
}

/// The jitter buffer; `T` is whatever the caller plays (payload bytes, decoded frames).
#[derive(Debug, Clone)]
pub struct JitterBuffer<T> {
    target_packets: i64,
    max_packets: i64,
    packets: BTreeMap<i64, T>,
    /// Extended sequence number to play next.
    next: Option<i64>,
    /// Highest extended sequence number seen; the reference for unwrapping.
    highest: i64,
    playing: bool,
    played_any: bool,
    stats: JitterStats,
}

impl<T> JitterBuffer<T> {
    /// An empty buffer.
    pub fn new(config: JitterConfig) -> JitterBuffer<T> {
        let max_packets = config.packets(config.max_ms);
        JitterBuffer {
            target_packets: config.packets(config.target_ms).min(max_packets),
            max_packets,
            packets: BTreeMap::new(),
            next: None,
            highest: 0,
            playing: false,
            played_any: false,
            stats: JitterStats::default(),
        }
    }

    /// Counters so far.
    pub fn stats(&self) -> JitterStats {
        self.stats
    }

    /// Packets held.
    pub fn len(&self) -> usize {
        self.packets.len()
    }

    /// Whether nothing is held.
    pub fn is_empty(&self) -> bool {
        self.packets.is_empty()
    }

    /// Forgets everything (a new source, RFC 3550 section 8.2), keeping the counters.
    pub fn reset(&mut self) {
        self.packets.clear();
        self.next = None;
        self.playing = false;
        self.played_any = false;
    }

    fn unwrap_sequence(&self, sequence: u16) -> i64 {
        let delta = sequence.wrapping_sub(self.highest as u16) as i16;
        self.highest + i64::from(delta)
    }

    /// Holds a packet for playout.
    pub fn insert(&mut self, sequence: u16, item: T) -> Inserted {
        let Some(next) = self.next else {
            // 2^20 keeps extended numbers positive for a long while either way.
            let extended = (1 << 20) + i64::from(sequence);
            self.highest = extended;
            self.next = Some(extended);
            self.packets.insert(extended, item);
            self.stats.accepted += 1;
            return Inserted::Accepted;
        };
        let extended = self.unwrap_sequence(sequence);
        if extended < next {
            if self.played_any {
                self.stats.late += 1;
                return Inserted::Late;
            }
            // Nothing played yet: an earlier packet overtaken by a later one still plays.
            if next - extended >= self.max_packets {
                self.stats.late += 1;
                return Inserted::Late;
            }
            self.next = Some(extended);
        }
        if self.packets.contains_key(&extended) {
            self.stats.duplicates += 1;
            return Inserted::Duplicate;
        }
        if extended - self.highest > self.max_packets {
            // A jump far beyond what the buffer can hold: the sender restarted its
            // numbering. Start over from this packet.
            self.stats.overflowed += self.packets.len() as u64;
            self.packets.clear();
            self.next = Some(extended);
            self.playing = false;
            self.played_any = false;
        }
        self.highest = self.highest.max(extended);
        self.packets.insert(extended, item);
        self.stats.accepted += 1;
        self.enforce_bound();
        Inserted::Accepted
    }

    fn enforce_bound(&mut self) {
        while let Some(next) = self.next {
            if self.highest - next < self.max_packets {
                break;
            }
            if self.packets.remove(&next).is_some() {
                self.stats.overflowed += 1;
            }
            self.next = Some(next + 1);
        }
    }

    /// Starts playout now with whatever is held, without waiting for the target delay
    /// (to play out the rest of a stream that ended).
    pub fn play_now(&mut self) {
        if !self.packets.is_empty() {
            self.playing = true;
        }
    }

    /// What to play for this packet time; call once per packet time.
    pub fn pop(&mut self) -> Playout<T> {
        let Some(next) = self.next else {
            return Playout::Empty;
        };
        if self.packets.is_empty() {
            self.playing = false;
            return Playout::Empty;
        }
        if !self.playing {
            if self.highest - next + 1 < self.target_packets {
                return Playout::Buffering;
            }
            self.playing = true;
        }
        self.next = Some(next + 1);
        self.played_any = true;
        match self.packets.remove(&next) {
            Some(item) => Playout::Packet(item),
            None => {
                self.stats.lost += 1;
                Playout::Lost
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn buffer() -> JitterBuffer<u16> {
        JitterBuffer::new(JitterConfig {
            ptime_ms: 20,
            target_ms: 60,
            max_ms: 200,
        })
    }

    fn drain(buffer: &mut JitterBuffer<u16>) -> Vec<Playout<u16>> {
        let mut out = Vec::new();
        loop {
            match buffer.pop() {
                Playout::Empty => return out,
                p => out.push(p),
            }
        }
    }

    #[test]
    fn waits_for_the_target_delay_then_plays_in_order() {
        let mut b = buffer();
        assert_eq!(b.pop(), Playout::Empty);
        b.insert(10, 10);
        assert_eq!(b.pop(), Playout::Buffering);
        b.insert(11, 11);
        assert_eq!(b.pop(), Playout::Buffering);
        b.insert(12, 12);
        assert_eq!(b.pop(), Playout::Packet(10));
        assert_eq!(b.pop(), Playout::Packet(11));
        assert_eq!(b.pop(), Playout::Packet(12));
        assert_eq!(b.pop(), Playout::Empty);
    }

    #[test]
    fn reorders_within_the_delay() {
        let mut b = buffer();
        for s in [3u16, 1, 2, 5, 4, 6] {
            assert_eq!(b.insert(s, s), Inserted::Accepted);
        }
        assert_eq!(
            drain(&mut b),
            (1..=6).map(Playout::Packet).collect::<Vec<_>>()
        );
    }

    #[test]
    fn drops_duplicates() {
        let mut b = buffer();
        assert_eq!(b.insert(7, 7), Inserted::Accepted);
        assert_eq!(b.insert(7, 70), Inserted::Duplicate);
        b.insert(8, 8);
        b.insert(9, 9);
        assert_eq!(b.insert(8, 80), Inserted::Duplicate);
        assert_eq!(drain(&mut b), [7, 8, 9].map(Playout::Packet));
        assert_eq!(b.stats().duplicates, 2);
    }

    #[test]
    fn conceals_a_gap_and_drops_the_packet_arriving_after_its_turn() {
        let mut b = buffer();
        for s in [1u16, 2, 4, 5] {
            b.insert(s, s);
        }
        assert_eq!(b.pop(), Playout::Packet(1));
        assert_eq!(b.pop(), Playout::Packet(2));
        assert_eq!(b.pop(), Playout::Lost);
        assert_eq!(b.insert(3, 3), Inserted::Late);
        assert_eq!(b.insert(1, 1), Inserted::Late);
        assert_eq!(drain(&mut b), [4, 5].map(Playout::Packet));
        assert_eq!((b.stats().lost, b.stats().late), (1, 2));
    }

    #[test]
    fn follows_the_sequence_number_across_the_wrap() {
        let mut b = buffer();
        for s in [65534u16, 0, 65535, 1, 2] {
            assert_eq!(b.insert(s, s), Inserted::Accepted);
        }
        assert_eq!(drain(&mut b), [65534, 65535, 0, 1, 2].map(Playout::Packet));
        // And keeps going after the wrap, with a late packet from before it.
        b.insert(3, 3);
        assert_eq!(b.insert(65535, 65535), Inserted::Late);
    }

    #[test]
    fn never_holds_more_than_the_maximum() {
        let mut b = buffer(); // 200 ms = 10 packets
        for s in 0..25u16 {
            b.insert(s, s);
        }
        assert!(b.len() <= 10);
        assert_eq!(b.stats().overflowed, 15);
        assert_eq!(b.pop(), Playout::Packet(15));
    }

    #[test]
    fn a_far_jump_restarts_the_stream() {
        let mut b = buffer();
        for s in 0..3u16 {
            b.insert(s, s);
        }
        assert_eq!(b.pop(), Playout::Packet(0));
        b.insert(30000, 30000);
        assert_eq!(b.pop(), Playout::Buffering);
        b.insert(30001, 30001);
        b.insert(30002, 30002);
        assert_eq!(drain(&mut b), [30000, 30001, 30002].map(Playout::Packet));
    }

    #[test]
    fn runs_dry_then_rebuffers_and_conceals_what_was_lost_meanwhile() {
        let mut b = buffer();
        for s in 0..3u16 {
            b.insert(s, s);
        }
        assert_eq!(drain(&mut b).len(), 3);
        b.insert(4, 4); // 3 was lost
        assert_eq!(b.pop(), Playout::Buffering);
        b.insert(5, 5);
        assert_eq!(
            drain(&mut b),
            [Playout::Lost, Playout::Packet(4), Playout::Packet(5)]
        );
    }
}
