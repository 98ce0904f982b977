//! RTCP (RFC 3550 section 6), the part a two-party call needs: sender and receiver
//! reports with reception report blocks (6.4), SDES CNAME (6.5.1), BYE (6.6), and the
//! reception statistics behind report blocks (appendix A.1, A.3, A.8).
//!
//! [`parse_compound`] walks a compound packet by its length fields; packet types it does
//! not know (APP, feedback, XR) come back as [`RtcpPacket::Other`], so a peer's extra
//! reports never make a datagram unreadable.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

const SR: u8 = 200;
const RR: u8 = 201;
const SDES: u8 = 202;
const BYE: u8 = 203;
const CNAME: u8 = 1;

/// Why a datagram is not an RTCP compound packet.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RtcpError {
    /// Less than a 4-byte header (or an SR/RR's sender SSRC) left.
    #[error("RTCP packet at byte {offset} is truncated")]
    Truncated {
        /// Offset of the packet in the datagram.
        offset: usize,
    },
    /// Version is not 2.
    #[error("RTCP packet at byte {offset} has version {version}, not 2")]
    BadVersion {
        /// Offset of the packet in the datagram.
        offset: usize,
        /// The version field.
        version: u8,
    },
    /// The length field runs past the end of the datagram.
    #[error("RTCP packet at byte {offset} claims {claimed} bytes but {available} remain")]
    LengthBeyondEnd {
        /// Offset of the packet in the datagram.
        offset: usize,
        /// Bytes the length field gives.
        claimed: usize,
        /// Bytes left in the datagram.
        available: usize,
    },
    /// More report blocks or sources counted than the packet holds.
    #[error("RTCP packet at byte {offset} counts {count} items that do not fit its length")]
    CountBeyondLength {
        /// Offset of the packet in the datagram.
        offset: usize,
        /// The count field.
        count: u8,
    },
}

/// A reception report block (RFC 3550 section 6.4.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ReportBlock {
    /// The source reported on.
    pub ssrc: u32,
    /// Fraction lost since the last report, in 1/256.
    pub fraction_lost: u8,
    /// Cumulative packets lost (24-bit signed; duplicates can make it negative).
    pub cumulative_lost: i32,
    /// Extended highest sequence number received.
    pub highest_sequence: u32,
    /// Interarrival jitter, in timestamp units.
    pub jitter: u32,
    /// Middle 32 bits of the NTP timestamp of the last SR received from the source.
    pub last_sr: u32,
    /// Delay since that SR, in 1/65536 seconds.
    pub delay_since_last_sr: u32,
}

/// A sender report (RFC 3550 section 6.4.1).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SenderReport {
    /// The sender.
    pub ssrc: u32,
    /// Wall clock time of the report, NTP format.
    pub ntp_timestamp: u64,
    /// The same instant in RTP timestamp units.
    pub rtp_timestamp: u32,
    /// RTP packets sent.
    pub packet_count: u32,
    /// RTP payload octets sent.
    pub octet_count: u32,
    /// Reports on sources this sender receives.
    pub reports: Vec<ReportBlock>,
}

/// One RTCP packet of a compound packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RtcpPacket {
    /// SR, type 200.
    SenderReport(SenderReport),
    /// RR, type 201.
    ReceiverReport {
        /// The reporter.
        ssrc: u32,
        /// Its reports.
        reports: Vec<ReportBlock>,
    },
    /// SDES, type 202: the first chunk's source and CNAME, if any.
    SourceDescription {
        /// The source described.
        ssrc: u32,
        /// Its CNAME.
        cname: Option<String>,
    },
    /// BYE, type 203.
    Goodbye {
        /// The sources leaving.
        sources: Vec<u32>,
        /// Why, if said.
        reason: Option<String>,
    },
    /// Any other type, kept as its type number.
    Other {
        /// The packet type.
        packet_type: u8,
    },
}

fn u32_at(data: &[u8], at: usize) -> Option<u32> {
    let bytes: [u8; 4] = data.get(at..at.checked_add(4)?)?.try_into().ok()?;
    Some(u32::from_be_bytes(bytes))
}

fn report_blocks(body: &[u8], count: u8) -> Option<Vec<ReportBlock>> {
    (0..usize::from(count))
        .map(|i| {
            let b = body.get(i * 24..i * 24 + 24)?;
            let lost = u32_at(b, 4)?;
            // Sign-extend the 24-bit cumulative count.
            let cumulative_lost = ((lost << 8) as i32) >> 8;
            Some(ReportBlock {
                ssrc: u32_at(b, 0)?,
                fraction_lost: (lost >> 24) as u8,
                cumulative_lost,
                highest_sequence: u32_at(b, 8)?,
                jitter: u32_at(b, 12)?,
                last_sr: u32_at(b, 16)?,
                delay_since_last_sr: u32_at(b, 20)?,
            })
        })
        .collect()
}

fn parse_one(
    packet_type: u8,
    count: u8,
    body: &[u8],
    offset: usize,
) -> Result<RtcpPacket, RtcpError> {
    let truncated = RtcpError::Truncated { offset };
    let too_many = RtcpError::CountBeyondLength { offset, count };
    Ok(match packet_type {
        SR => {
            let ssrc = u32_at(body, 0).ok_or(truncated.clone())?;
            let high = u32_at(body, 4).ok_or(truncated.clone())?;
            let low = u32_at(body, 8).ok_or(truncated.clone())?;
            let rtp_timestamp = u32_at(body, 12).ok_or(truncated.clone())?;
            let packet_count = u32_at(body, 16).ok_or(truncated.clone())?;
            let octet_count = u32_at(body, 20).ok_or(truncated)?;
            let reports =
                report_blocks(body.get(24..).unwrap_or_default(), count).ok_or(too_many)?;
            RtcpPacket::SenderReport(SenderReport {
                ssrc,
                ntp_timestamp: u64::from(high) << 32 | u64::from(low),
                rtp_timestamp,
                packet_count,
                octet_count,
                reports,
            })
        }
        RR => RtcpPacket::ReceiverReport {
            ssrc: u32_at(body, 0).ok_or(truncated)?,
            reports: report_blocks(body.get(4..).unwrap_or_default(), count).ok_or(too_many)?,
        },
        SDES if count > 0 => {
            let ssrc = u32_at(body, 0).ok_or(truncated)?;
            let mut cname = None;
            let mut at = 4;
            // Items: type, length, text; a zero type ends the chunk.
            while let (Some(&item), Some(&len)) = (body.get(at), body.get(at + 1)) {
                if item == 0 {
                    break;
                }
                let text = body.get(at + 2..at + 2 + usize::from(len));
                if item == CNAME {
                    cname = text.map(|t| String::from_utf8_lossy(t).into_owned());
                    break;
                }
                at += 2 + usize::from(len);
            }
            RtcpPacket::SourceDescription { ssrc, cname }
        }
        BYE => {
            let sources = (0..usize::from(count))
                .map(|i| u32_at(body, 4 * i))
                .collect::<Option<Vec<u32>>>()
                .ok_or(too_many)?;
            let at = 4 * usize::from(count);
            let reason = body.get(at).and_then(|&len| {
                body.get(at + 1..at + 1 + usize::from(len))
                    .map(|t| String::from_utf8_lossy(t).into_owned())
            });
            RtcpPacket::Goodbye { sources, reason }
        }
        packet_type => RtcpPacket::Other { packet_type },
    })
}

/// Parses a compound RTCP packet (RFC 3550 section 6.1).
pub fn parse_compound(data: &[u8]) -> Result<Vec<RtcpPacket>, RtcpError> {
    let mut packets = Vec::new();
    let mut offset = 0;
    while offset < data.len() {
        let header = data
            .get(offset..offset + 4)
            .ok_or(RtcpError::Truncated { offset })?;
        let (first, packet_type, l0, l1) = match *header {
            [a, b, c, d] => (a, b, c, d),
            _ => return Err(RtcpError::Truncated { offset }),
        };
        let version = first >> 6;
        if version != 2 {
            return Err(RtcpError::BadVersion { offset, version });
        }
        let length = (usize::from(u16::from_be_bytes([l0, l1])) + 1) * 4;
        let available = data.len() - offset;
        let packet = data
            .get(offset..offset + length)
            .ok_or(RtcpError::LengthBeyondEnd {
                offset,
                claimed: length,
                available,
            })?;
        let mut body = packet.get(4..).unwrap_or_default();
        if first & 0x20 != 0 {
            // Padding: the last byte counts it (only the last packet may have any).
            let pad = usize::from(body.last().copied().unwrap_or(0));
            body = body
                .get(..body.len().saturating_sub(pad))
                .unwrap_or_default();
        }
        packets.push(parse_one(packet_type, first & 0x1F, body, offset)?);
        offset += length;
    }
    Ok(packets)
}

fn write_header(out: &mut Vec<u8>, count: u8, packet_type: u8, body_len: usize) {
    out.push(0x80 | (count & 0x1F));
    out.push(packet_type);
    out.extend_from_slice(&((body_len / 4) as u16).to_be_bytes());
}

fn write_blocks(out: &mut Vec<u8>, reports: &[ReportBlock]) {
    for r in reports {
        out.extend_from_slice(&r.ssrc.to_be_bytes());
        let lost = (r.cumulative_lost.clamp(-0x80_0000, 0x7F_FFFF) as u32) & 0x00FF_FFFF;
        out.extend_from_slice(&(u32::from(r.fraction_lost) << 24 | lost).to_be_bytes());
        out.extend_from_slice(&r.highest_sequence.to_be_bytes());
        out.extend_from_slice(&r.jitter.to_be_bytes());
        out.extend_from_slice(&r.last_sr.to_be_bytes());
        out.extend_from_slice(&r.delay_since_last_sr.to_be_bytes());
    }
}

fn text_bytes(text: &str) -> &[u8] {
    let bytes = text.as_bytes();
    bytes.get(..255).unwrap_or(bytes)
}

impl RtcpPacket {
    /// Appends the packet to `out`. At most 31 report blocks or sources are written.
    pub fn write_to(&self, out: &mut Vec<u8>) {
        match self {
            RtcpPacket::SenderReport(sr) => {
                let reports = sr.reports.get(..31).unwrap_or(&sr.reports);
                write_header(out, reports.len() as u8, SR, 24 + 24 * reports.len());
                out.extend_from_slice(&sr.ssrc.to_be_bytes());
                out.extend_from_slice(&sr.ntp_timestamp.to_be_bytes());
                out.extend_from_slice(&sr.rtp_timestamp.to_be_bytes());
                out.extend_from_slice(&sr.packet_count.to_be_bytes());
                out.extend_from_slice(&sr.octet_count.to_be_bytes());
                write_blocks(out, reports);
            }
            RtcpPacket::ReceiverReport { ssrc, reports } => {
                let reports = reports.get(..31).unwrap_or(reports);
                write_header(out, reports.len() as u8, RR, 4 + 24 * reports.len());
                out.extend_from_slice(&ssrc.to_be_bytes());
                write_blocks(out, reports);
            }
            RtcpPacket::SourceDescription { ssrc, cname } => {
                let text = text_bytes(cname.as_deref().unwrap_or(""));
                // SSRC, CNAME item, then at least one zero byte to end the chunk, padded
                // to a 32-bit boundary (section 6.5).
                let items = if cname.is_some() { 2 + text.len() } else { 0 };
                let chunk = (4 + items + 1).div_ceil(4) * 4;
                write_header(out, 1, SDES, chunk);
                out.extend_from_slice(&ssrc.to_be_bytes());
                if cname.is_some() {
                    out.push(CNAME);
                    out.push(text.len() as u8);
                    out.extend_from_slice(text);
                }
                out.extend(std::iter::repeat_n(0, chunk - 4 - items));
            }
            RtcpPacket::Goodbye { sources, reason } => {
                let sources = sources.get(..31).unwrap_or(sources);
                let reason_len = reason.as_deref().map_or(0, |r| 1 + text_bytes(r).len());
                let body = (4 * sources.len() + reason_len).div_ceil(4) * 4;
                write_header(out, sources.len() as u8, BYE, body);
                for s in sources {
                    out.extend_from_slice(&s.to_be_bytes());
                }
                if let Some(reason) = reason {
                    let text = text_bytes(reason);
                    out.push(text.len() as u8);
                    out.extend_from_slice(text);
                }
                out.extend(std::iter::repeat_n(
                    0,
                    body - 4 * sources.len() - reason_len,
                ));
            }
            RtcpPacket::Other { packet_type } => write_header(out, 0, *packet_type, 0),
        }
    }
}

/// Writes packets one after another as a compound packet.
pub fn write_compound(packets: &[RtcpPacket]) -> Vec<u8> {
    let mut out = Vec::new();
    for packet in packets {
        packet.write_to(&mut out);
    }
    out
}

/// Seconds from 1900 (NTP's epoch) to 1970.
const NTP_UNIX_OFFSET: u64 = 2_208_988_800;

/// A wall-clock time in NTP's 64-bit fixed-point format (RFC 3550 section 4).
pub fn ntp_timestamp(time: SystemTime) -> u64 {
    let since = time.duration_since(UNIX_EPOCH).unwrap_or(Duration::ZERO);
    let seconds = since.as_secs().wrapping_add(NTP_UNIX_OFFSET);
    let fraction = (u64::from(since.subsec_nanos()) << 32) / 1_000_000_000;
    seconds << 32 | fraction
}

/// Reception statistics of one source (RFC 3550 appendix A.1, A.3, A.8).
#[derive(Debug, Clone, Default)]
pub struct ReceptionStats {
    started: bool,
    max_seq: u16,
    cycles: u32,
    base_seq: u32,
    received: u32,
    expected_prior: u32,
    received_prior: u32,
    transit: Option<i64>,
    jitter: f64,
}

impl ReceptionStats {
    /// Counts a packet; `arrival` is its arrival time in timestamp units.
    pub fn on_packet(&mut self, sequence: u16, timestamp: u32, arrival: u32) {
        if !self.started {
            self.started = true;
            self.max_seq = sequence;
            self.base_seq = u32::from(sequence);
        } else {
            let delta = sequence.wrapping_sub(self.max_seq);
            if delta < 0x8000 {
                if sequence < self.max_seq {
                    self.cycles = self.cycles.wrapping_add(1 << 16);
                }
                self.max_seq = sequence;
            }
        }
        self.received = self.received.wrapping_add(1);
        let transit = i64::from(arrival.wrapping_sub(timestamp) as i32);
        if let Some(previous) = self.transit {
            let d = (transit - previous).unsigned_abs() as f64;
            self.jitter += (d - self.jitter) / 16.0;
        }
        self.transit = Some(transit);
    }

    /// Packets received.
    pub fn received(&self) -> u32 {
        self.received
    }

    /// The report block for this source, and starts a new reporting interval.
    pub fn report(&mut self, ssrc: u32, last_sr: u32, delay_since_last_sr: u32) -> ReportBlock {
        let extended_max = self.cycles.wrapping_add(u32::from(self.max_seq));
        let expected = extended_max.wrapping_sub(self.base_seq).wrapping_add(1);
        let lost = i64::from(expected) - i64::from(self.received);
        let expected_interval = expected.wrapping_sub(self.expected_prior);
        let received_interval = self.received.wrapping_sub(self.received_prior);
        self.expected_prior = expected;
        self.received_prior = self.received;
        let lost_interval = i64::from(expected_interval) - i64::from(received_interval);
        let fraction_lost = if expected_interval == 0 || lost_interval <= 0 {
            0
        } else {
            ((lost_interval << 8) / i64::from(expected_interval)).min(255) as u8
        };
        ReportBlock {
            ssrc,
            fraction_lost,
            cumulative_lost: lost.clamp(-0x80_0000, 0x7F_FFFF) as i32,
            highest_sequence: extended_max,
            jitter: self.jitter as u32,
            last_sr,
            delay_since_last_sr,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block() -> ReportBlock {
        ReportBlock {
            ssrc: 0xAABB_CCDD,
            fraction_lost: 12,
            cumulative_lost: -3,
            highest_sequence: 0x0001_0005,
            jitter: 40,
            last_sr: 0x1234_5678,
            delay_since_last_sr: 65536,
        }
    }

    #[test]
    fn rfc3550_6_4_compound_report_round_trips() {
        let packets = vec![
            RtcpPacket::SenderReport(SenderReport {
                ssrc: 1,
                ntp_timestamp: 0x0102_0304_0506_0708,
                rtp_timestamp: 160,
                packet_count: 50,
                octet_count: 8000,
                reports: vec![block()],
            }),
            RtcpPacket::SourceDescription {
                ssrc: 1,
                cname: Some("alice@198.51.100.1".into()),
            },
            RtcpPacket::Goodbye {
                sources: vec![1],
                reason: Some("hangup".into()),
            },
        ];
        let bytes = write_compound(&packets);
        assert_eq!(bytes.len() % 4, 0);
        assert_eq!(&bytes[..4], &[0x81, 200, 0, 12]);
        assert_eq!(parse_compound(&bytes).unwrap(), packets);
        let rr = vec![RtcpPacket::ReceiverReport {
            ssrc: 9,
            reports: vec![block(), block()],
        }];
        assert_eq!(parse_compound(&write_compound(&rr)).unwrap(), rr);
    }

    #[test]
    fn malformed_compounds_are_errors_not_panics() {
        let good = write_compound(&[RtcpPacket::ReceiverReport {
            ssrc: 9,
            reports: vec![block()],
        }]);
        for len in 1..good.len() {
            assert!(parse_compound(&good[..len]).is_err(), "prefix {len}");
        }
        let mut bad = good.clone();
        bad[0] = 0x40 | 1;
        assert!(matches!(
            parse_compound(&bad),
            Err(RtcpError::BadVersion { version: 1, .. })
        ));
        let mut bad = good.clone();
        bad[0] = 0x80 | 5; // five blocks in a one-block packet
        assert!(matches!(
            parse_compound(&bad),
            Err(RtcpError::CountBeyondLength { count: 5, .. })
        ));
        for first in 0..=255u8 {
            for second in [200u8, 201, 202, 203, 204, 205] {
                let mut b = good.clone();
                b[0] = first;
                b[1] = second;
                let _ = parse_compound(&b);
            }
        }
    }

    #[test]
    fn unknown_packet_types_are_skipped() {
        let mut bytes = vec![0x80, 204, 0, 1, 0, 0, 0, 0];
        bytes.extend(write_compound(&[RtcpPacket::Goodbye {
            sources: vec![7],
            reason: None,
        }]));
        assert_eq!(
            parse_compound(&bytes).unwrap(),
            [
                RtcpPacket::Other { packet_type: 204 },
                RtcpPacket::Goodbye {
                    sources: vec![7],
                    reason: None
                }
            ]
        );
    }

    #[test]
    fn ntp_timestamp_of_the_unix_epoch() {
        assert_eq!(ntp_timestamp(UNIX_EPOCH), NTP_UNIX_OFFSET << 32);
        assert_eq!(
            ntp_timestamp(UNIX_EPOCH + Duration::from_millis(500)),
            NTP_UNIX_OFFSET << 32 | 0x8000_0000
        );
    }

    #[test]
    fn rfc3550_a3_counts_loss_across_the_wrap() {
        let mut stats = ReceptionStats::default();
        for (i, seq) in [65534u16, 65535, 1, 2].into_iter().enumerate() {
            stats.on_packet(seq, 160 * i as u32, 160 * i as u32 + 50);
        }
        let block = stats.report(5, 0, 0);
        assert_eq!(block.highest_sequence, 0x0001_0002);
        assert_eq!(block.cumulative_lost, 1);
        assert_eq!(block.fraction_lost, (256 / 5) as u8);
        assert_eq!(block.jitter, 0);
        assert_eq!(stats.report(5, 0, 0).fraction_lost, 0);
    }
}
