//! RTP data packets (RFC 3550 section 5.1): the fixed 12-byte header, the CSRC list, the
//! header extension (section 5.3.1) and padding.
//!
//! [`RtpPacket::parse`] borrows from the datagram and checks every length against the
//! buffer before reading, so any input gives a packet or an [`RtpError`], never a panic.

/// The only RTP version (RFC 3550 section 5.1).
pub const RTP_VERSION: u8 = 2;

/// Length of the fixed RTP header.
pub const RTP_HEADER_LEN: usize = 12;

/// Most CSRC identifiers the 4-bit CC field can count.
pub const MAX_CSRCS: usize = 15;

/// Why a datagram is not an RTP packet, or why a packet cannot be written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RtpError {
    /// Fewer bytes than the fixed header.
    #[error("RTP packet of {len} bytes is shorter than the 12-byte fixed header")]
    TooShort {
        /// Bytes received.
        len: usize,
    },
    /// The version field is not 2.
    #[error("RTP version is {0}, only version 2 exists (RFC 3550 section 5.1)")]
    BadVersion(u8),
    /// The CC field counts more CSRC identifiers than the packet holds.
    #[error("RTP header lists {count} CSRC identifiers but the packet is only {len} bytes")]
    CsrcBeyondEnd {
        /// The CC field.
        count: usize,
        /// Bytes received.
        len: usize,
    },
    /// The X bit is set but the extension header or its data runs past the end.
    #[error("RTP header extension runs past the end of the {len}-byte packet")]
    ExtensionBeyondEnd {
        /// Bytes received.
        len: usize,
    },
    /// The P bit is set but the padding count is zero or larger than what follows the header.
    #[error("RTP padding count {count} is invalid: {available} bytes follow the header")]
    BadPadding {
        /// The last byte of the packet.
        count: u8,
        /// Bytes after the header (payload and padding).
        available: usize,
    },
    /// Writing: more than 15 CSRC identifiers.
    #[error("an RTP header holds at most 15 CSRC identifiers, not {0}")]
    TooManyCsrcs(usize),
    /// Writing: payload type above 127.
    #[error("RTP payload type {0} does not fit in 7 bits")]
    PayloadTypeOutOfRange(u8),
    /// Writing: extension data is not whole 32-bit words or is too long.
    #[error("RTP header extension data of {0} bytes is not a whole number of 32-bit words below 256 KiB")]
    BadExtensionLength(usize),
}

/// A header extension (RFC 3550 section 5.3.1): a profile-defined 16-bit value and data
/// that is a whole number of 32-bit words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RtpExtension<'a> {
    /// The "defined by profile" field.
    pub profile: u16,
    /// The extension data, without its 4-byte header.
    pub data: &'a [u8],
}

/// One RTP packet, borrowing its payload and extension from the datagram.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RtpPacket<'a> {
    /// The M bit.
    pub marker: bool,
    /// The 7-bit payload type.
    pub payload_type: u8,
    /// Sequence number.
    pub sequence: u16,
    /// RTP timestamp, in the payload's clock.
    pub timestamp: u32,
    /// Synchronisation source.
    pub ssrc: u32,
    /// Contributing sources (at most 15).
    pub csrcs: Vec<u32>,
    /// Header extension, when the X bit is set.
    pub extension: Option<RtpExtension<'a>>,
    /// The payload, without padding.
    pub payload: &'a [u8],
    /// Padding bytes after the payload, counting the final count byte; 0 when the P bit is
    /// clear.
    pub padding: u8,
}

fn read_u16(data: &[u8], at: usize) -> Option<u16> {
    let bytes = data.get(at..at.checked_add(2)?)?;
    Some(u16::from_be_bytes([*bytes.first()?, *bytes.get(1)?]))
}

fn read_u32(data: &[u8], at: usize) -> Option<u32> {
    let bytes: [u8; 4] = data.get(at..at.checked_add(4)?)?.try_into().ok()?;
    Some(u32::from_be_bytes(bytes))
}

impl<'a> RtpPacket<'a> {
    /// A packet with no CSRCs, extension or padding.
    pub fn new(
        payload_type: u8,
        sequence: u16,
        timestamp: u32,
        ssrc: u32,
        payload: &'a [u8],
    ) -> RtpPacket<'a> {
        RtpPacket {
            marker: false,
            payload_type,
            sequence,
            timestamp,
            ssrc,
            csrcs: Vec::new(),
            extension: None,
            payload,
            padding: 0,
        }
    }

    /// Parses a datagram as RTP (RFC 3550 section 5.1).
    pub fn parse(data: &'a [u8]) -> Result<RtpPacket<'a>, RtpError> {
        let len = data.len();
        let (first, second) = match data {
            [first, second, ..] if len >= RTP_HEADER_LEN => (*first, *second),
            _ => return Err(RtpError::TooShort { len }),
        };
        let version = first >> 6;
        if version != RTP_VERSION {
            return Err(RtpError::BadVersion(version));
        }
        let has_padding = first & 0x20 != 0;
        let has_extension = first & 0x10 != 0;
        let csrc_count = usize::from(first & 0x0F);
        let short = RtpError::TooShort { len };
        let sequence = read_u16(data, 2).ok_or(short.clone())?;
        let timestamp = read_u32(data, 4).ok_or(short.clone())?;
        let ssrc = read_u32(data, 8).ok_or(short)?;

        let mut at = RTP_HEADER_LEN + 4 * csrc_count;
        if at > len {
            return Err(RtpError::CsrcBeyondEnd {
                count: csrc_count,
                len,
            });
        }
        let csrcs = (0..csrc_count)
            .map(|i| read_u32(data, RTP_HEADER_LEN + 4 * i))
            .collect::<Option<Vec<u32>>>()
            .ok_or(RtpError::CsrcBeyondEnd {
                count: csrc_count,
                len,
            })?;

        let extension = if has_extension {
            let beyond = RtpError::ExtensionBeyondEnd { len };
            let profile = read_u16(data, at).ok_or(beyond.clone())?;
            let words = read_u16(data, at + 2).ok_or(beyond.clone())?;
            let start = at + 4;
            let end = start + 4 * usize::from(words);
            let ext_data = data.get(start..end).ok_or(beyond)?;
            at = end;
            Some(RtpExtension {
                profile,
                data: ext_data,
            })
        } else {
            None
        };

        let rest = data.get(at..).unwrap_or_default();
        let padding = if has_padding {
            let count = rest.last().copied().unwrap_or(0);
            if count == 0 || usize::from(count) > rest.len() {
                return Err(RtpError::BadPadding {
                    count,
                    available: rest.len(),
                });
            }
            count
        } else {
            0
        };
        let payload = rest
            .get(..rest.len() - usize::from(padding))
            .unwrap_or_default();

        Ok(RtpPacket {
            marker: second & 0x80 != 0,
            payload_type: second & 0x7F,
            sequence,
            timestamp,
            ssrc,
            csrcs,
            extension,
            payload,
            padding,
        })
    }

    /// Length of the packet on the wire.
    pub fn wire_len(&self) -> usize {
        RTP_HEADER_LEN
            + 4 * self.csrcs.len()
            + self.extension.map_or(0, |e| 4 + e.data.len())
            + self.payload.len()
            + usize::from(self.padding)
    }

    /// Appends the packet to `out`. Padding is written as zeros followed by the count.
    pub fn write_to(&self, out: &mut Vec<u8>) -> Result<(), RtpError> {
        if self.csrcs.len() > MAX_CSRCS {
            return Err(RtpError::TooManyCsrcs(self.csrcs.len()));
        }
        if self.payload_type > 0x7F {
            return Err(RtpError::PayloadTypeOutOfRange(self.payload_type));
        }
        let extension_words = match self.extension {
            Some(e) => {
                let words = e.data.len() / 4;
                if e.data.len() % 4 != 0 || words > usize::from(u16::MAX) {
                    return Err(RtpError::BadExtensionLength(e.data.len()));
                }
                Some((e, words as u16))
            }
            None => None,
        };
        out.reserve(self.wire_len());
        let mut first = RTP_VERSION << 6 | self.csrcs.len() as u8;
        if self.padding > 0 {
            first |= 0x20;
        }
        if extension_words.is_some() {
            first |= 0x10;
        }
        out.push(first);
        out.push(u8::from(self.marker) << 7 | self.payload_type);
        out.extend_from_slice(&self.sequence.to_be_bytes());
        out.extend_from_slice(&self.timestamp.to_be_bytes());
        out.extend_from_slice(&self.ssrc.to_be_bytes());
        for csrc in &self.csrcs {
            out.extend_from_slice(&csrc.to_be_bytes());
        }
        if let Some((extension, words)) = extension_words {
            out.extend_from_slice(&extension.profile.to_be_bytes());
            out.extend_from_slice(&words.to_be_bytes());
            out.extend_from_slice(extension.data);
        }
        out.extend_from_slice(self.payload);
        if self.padding > 0 {
            out.extend(std::iter::repeat_n(0, usize::from(self.padding) - 1));
            out.push(self.padding);
        }
        Ok(())
    }

    /// The packet as a new buffer.
    pub fn to_bytes(&self) -> Result<Vec<u8>, RtpError> {
        let mut out = Vec::with_capacity(self.wire_len());
        self.write_to(&mut out)?;
        Ok(out)
    }
}

/// RFC 5761 section 4: with RTP and RTCP on one port, a second byte of 192..=223 (RTCP
/// packet types 64..=95 with the marker bit) is RTCP; anything else is RTP.
pub fn is_rtcp(datagram: &[u8]) -> bool {
    matches!(datagram.get(1), Some(192..=223))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn full_packet() -> Vec<u8> {
        let packet = RtpPacket {
            marker: true,
            payload_type: 8,
            sequence: 0xFFFE,
            timestamp: 0xDEAD_BEEF,
            ssrc: 0x1234_5678,
            csrcs: vec![1, 2, 3],
            extension: Some(RtpExtension {
                profile: 0xBEDE,
                data: &[1, 2, 3, 4, 5, 6, 7, 8],
            }),
            payload: b"hello",
            padding: 3,
        };
        packet.to_bytes().unwrap()
    }

    #[test]
    fn rfc3550_5_1_fixed_header_round_trips() {
        let payload = [0xFFu8; 160];
        let packet = RtpPacket::new(0, 1, 160, 0xCAFE_F00D, &payload);
        let bytes = packet.to_bytes().unwrap();
        assert_eq!(
            &bytes[..12],
            &[0x80, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0xA0, 0xCA, 0xFE, 0xF0, 0x0D]
        );
        assert_eq!(bytes.len(), 172);
        assert_eq!(RtpPacket::parse(&bytes).unwrap(), packet);
    }

    #[test]
    fn csrcs_extension_marker_and_padding_round_trip() {
        let bytes = full_packet();
        assert_eq!(bytes[0], 0x80 | 0x20 | 0x10 | 3);
        assert_eq!(bytes[1], 0x80 | 8);
        let parsed = RtpPacket::parse(&bytes).unwrap();
        assert!(parsed.marker);
        assert_eq!(parsed.payload_type, 8);
        assert_eq!(parsed.sequence, 0xFFFE);
        assert_eq!(parsed.timestamp, 0xDEAD_BEEF);
        assert_eq!(parsed.csrcs, vec![1, 2, 3]);
        assert_eq!(
            parsed.extension,
            Some(RtpExtension {
                profile: 0xBEDE,
                data: &[1, 2, 3, 4, 5, 6, 7, 8]
            })
        );
        assert_eq!(parsed.payload, b"hello");
        assert_eq!(parsed.padding, 3);
        assert_eq!(parsed.to_bytes().unwrap(), bytes);
    }

    #[test]
    fn truncated_packets_are_rejected() {
        for len in 0..12 {
            assert_eq!(
                RtpPacket::parse(&[0x80; 12][..len]),
                Err(RtpError::TooShort { len })
            );
        }
    }

    #[test]
    fn version_other_than_2_is_rejected() {
        let mut bytes = RtpPacket::new(0, 1, 2, 3, b"x").to_bytes().unwrap();
        for version in [0u8, 1, 3] {
            bytes[0] = version << 6;
            assert_eq!(RtpPacket::parse(&bytes), Err(RtpError::BadVersion(version)));
        }
    }

    #[test]
    fn csrc_count_beyond_length_is_rejected() {
        let mut bytes = RtpPacket::new(0, 1, 2, 3, b"abcd").to_bytes().unwrap();
        bytes[0] |= 2; // two CSRCs need 8 bytes; only 4 follow
        assert_eq!(
            RtpPacket::parse(&bytes),
            Err(RtpError::CsrcBeyondEnd { count: 2, len: 16 })
        );
    }

    #[test]
    fn extension_beyond_length_is_rejected() {
        let mut bytes = RtpPacket::new(0, 1, 2, 3, &[0, 0, 0, 9])
            .to_bytes()
            .unwrap();
        bytes[0] |= 0x10; // claims 9 words of extension
        assert_eq!(
            RtpPacket::parse(&bytes),
            Err(RtpError::ExtensionBeyondEnd { len: 16 })
        );
        bytes.truncate(14); // not even the extension header
        assert_eq!(
            RtpPacket::parse(&bytes),
            Err(RtpError::ExtensionBeyondEnd { len: 14 })
        );
    }

    #[test]
    fn padding_beyond_length_or_zero_is_rejected() {
        let mut bytes = RtpPacket::new(0, 1, 2, 3, &[1, 2, 3, 9])
            .to_bytes()
            .unwrap();
        bytes[0] |= 0x20;
        assert_eq!(
            RtpPacket::parse(&bytes),
            Err(RtpError::BadPadding {
                count: 9,
                available: 4
            })
        );
        *bytes.last_mut().unwrap() = 0;
        assert_eq!(
            RtpPacket::parse(&bytes),
            Err(RtpError::BadPadding {
                count: 0,
                available: 4
            })
        );
        // Padding with nothing after the header at all.
        bytes.truncate(12);
        assert!(matches!(
            RtpPacket::parse(&bytes),
            Err(RtpError::BadPadding { available: 0, .. })
        ));
        // Padding that takes the whole rest is fine: an empty payload.
        let mut bytes = RtpPacket::new(0, 1, 2, 3, &[0, 0, 0, 4])
            .to_bytes()
            .unwrap();
        bytes[0] |= 0x20;
        assert_eq!(RtpPacket::parse(&bytes).unwrap().payload, b"");
    }

    #[test]
    fn writing_refuses_what_the_header_cannot_hold() {
        let mut packet = RtpPacket::new(128, 1, 2, 3, b"");
        assert_eq!(packet.to_bytes(), Err(RtpError::PayloadTypeOutOfRange(128)));
        packet.payload_type = 0;
        packet.csrcs = vec![0; 16];
        assert_eq!(packet.to_bytes(), Err(RtpError::TooManyCsrcs(16)));
        packet.csrcs.clear();
        packet.extension = Some(RtpExtension {
            profile: 1,
            data: &[1, 2, 3],
        });
        assert_eq!(packet.to_bytes(), Err(RtpError::BadExtensionLength(3)));
    }

    #[test]
    fn every_prefix_and_every_first_byte_parses_or_errs_without_panicking() {
        let bytes = full_packet();
        for len in 0..=bytes.len() {
            let _ = RtpPacket::parse(&bytes[..len]);
        }
        let mut bytes = bytes;
        for first in 0..=255u8 {
            bytes[0] = first;
            for len in 0..=bytes.len() {
                let _ = RtpPacket::parse(&bytes[..len]);
            }
        }
    }

    #[test]
    fn rfc5761_demultiplexes_on_the_second_byte() {
        assert!(is_rtcp(&[0x80, 200, 0, 6])); // SR
        assert!(is_rtcp(&[0x81, 201, 0, 7])); // RR
        assert!(!is_rtcp(&[0x80, 0x00])); // PCMU
        assert!(!is_rtcp(&[0x80, 0x80 | 101])); // telephone-event with marker
        assert!(!is_rtcp(&[0x80]));
    }
}
