//! What an RTP payload type stands for: `a=rtpmap`, or the static assignments of RFC 3551
//! section 6 (tables 4 and 5), which a peer may use without any `a=rtpmap`.

/// An RTP payload format: a payload type and the codec it is bound to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RtpFormat<'a> {
    /// The payload type number.
    pub payload_type: u8,
    /// The encoding name (compare without regard to case).
    pub encoding_name: &'a str,
    /// The RTP clock rate in Hz.
    pub clock_rate: u32,
    /// The number of channels, if given (audio; absent means one).
    pub channels: Option<u16>,
}

impl RtpFormat<'_> {
    /// Same codec: encoding name without regard to case, clock rate, and channel count
    /// (absent counts as one, RFC 8866 section 6.6).
    pub fn is_same_codec(&self, name: &str, clock_rate: u32, channels: Option<u16>) -> bool {
        self.encoding_name.eq_ignore_ascii_case(name)
            && self.clock_rate == clock_rate
            && self.channels.unwrap_or(1) == channels.unwrap_or(1)
    }

    /// `telephone-event` (RFC 4733) or comfort noise `CN` (RFC 3389): formats that ride
    /// along with a codec but are not one.
    pub fn is_auxiliary(&self) -> bool {
        is_auxiliary(self.encoding_name)
    }
}

pub(crate) fn is_auxiliary(encoding_name: &str) -> bool {
    encoding_name.eq_ignore_ascii_case("telephone-event")
        || encoding_name.eq_ignore_ascii_case("CN")
}

/// RFC 3551 section 6, tables 4 and 5: (payload type, encoding name, clock rate, channels).
const STATIC: &[(u8, &str, u32, Option<u16>)] = &[
    (0, "PCMU", 8_000, Some(1)),
    (3, "GSM", 8_000, Some(1)),
    (4, "G723", 8_000, Some(1)),
    (5, "DVI4", 8_000, Some(1)),
    (6, "DVI4", 16_000, Some(1)),
    (7, "LPC", 8_000, Some(1)),
    (8, "PCMA", 8_000, Some(1)),
    (9, "G722", 8_000, Some(1)),
    (10, "L16", 44_100, Some(2)),
    (11, "L16", 44_100, Some(1)),
    (12, "QCELP", 8_000, Some(1)),
    (13, "CN", 8_000, Some(1)),
    (14, "MPA", 90_000, None),
    (15, "G728", 8_000, Some(1)),
    (16, "DVI4", 11_025, Some(1)),
    (17, "DVI4", 22_050, Some(1)),
    (18, "G729", 8_000, Some(1)),
    (25, "CelB", 90_000, None),
    (26, "JPEG", 90_000, None),
    (28, "nv", 90_000, None),
    (31, "H261", 90_000, None),
    (32, "MPV", 90_000, None),
    (33, "MP2T", 90_000, None),
    (34, "H263", 90_000, None),
];

/// The static assignment of a payload type (RFC 3551 section 6), if it has one.
pub fn static_payload_type(payload_type: u8) -> Option<RtpFormat<'static>> {
    STATIC.iter().find(|(pt, ..)| *pt == payload_type).map(
        |&(payload_type, encoding_name, clock_rate, channels)| RtpFormat {
            payload_type,
            encoding_name,
            clock_rate,
            channels,
        },
    )
}

/// The static payload type for a codec (RFC 3551 section 6), if it has one.
pub fn static_payload_type_for(name: &str, clock_rate: u32, channels: Option<u16>) -> Option<u8> {
    STATIC
        .iter()
        .find(|&&(pt, ..)| {
            static_payload_type(pt).is_some_and(|f| f.is_same_codec(name, clock_rate, channels))
        })
        .map(|(pt, ..)| *pt)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn static_payload_types_of_rfc3551_6_are_known() {
        let pcmu = static_payload_type(0).unwrap();
        assert_eq!((pcmu.encoding_name, pcmu.clock_rate), ("PCMU", 8_000));
        let pcma = static_payload_type(8).unwrap();
        assert_eq!((pcma.encoding_name, pcma.clock_rate), ("PCMA", 8_000));
        // G.722's RTP clock rate is 8000 although it samples at 16 kHz (RFC 3551 4.5.2).
        let g722 = static_payload_type(9).unwrap();
        assert_eq!((g722.encoding_name, g722.clock_rate), ("G722", 8_000));
        let g729 = static_payload_type(18).unwrap();
        assert_eq!((g729.encoding_name, g729.clock_rate), ("G729", 8_000));
        // Unassigned and dynamic numbers have no static meaning.
        assert_eq!(static_payload_type(2), None);
        assert_eq!(static_payload_type(96), None);
    }

    #[test]
    fn static_payload_type_for_codec_ignores_case_and_default_channels_rfc3551_6() {
        assert_eq!(static_payload_type_for("pcmu", 8_000, None), Some(0));
        assert_eq!(static_payload_type_for("PCMA", 8_000, Some(1)), Some(8));
        assert_eq!(static_payload_type_for("L16", 44_100, Some(2)), Some(10));
        assert_eq!(static_payload_type_for("L16", 44_100, None), Some(11));
        assert_eq!(static_payload_type_for("PCMU", 16_000, None), None);
        assert_eq!(static_payload_type_for("opus", 48_000, Some(2)), None);
    }
}
