//! G.711 (ITU-T G.711): PCMU (mu-law, RTP payload type 0) and PCMA (A-law, payload type 8),
//! 8 kHz, one byte per sample (RFC 3551 section 4.5.14).
//!
//! Encoding takes 16-bit linear PCM; mu-law uses its top 14 bits and A-law its top 13, as
//! the recommendation does. Decoding gives the centre of each quantisation interval.

const MULAW_BIAS: i32 = 0x84;
const MULAW_CLIP: i32 = 32635;

/// Encodes one 16-bit sample as mu-law.
pub fn mulaw_encode(sample: i16) -> u8 {
    let mut value = i32::from(sample);
    let sign = if value < 0 {
        value = -value;
        0x80
    } else {
        0
    };
    value = value.min(MULAW_CLIP) + MULAW_BIAS;
    // Segment = position of the highest set bit above bit 7 (value is in 0x84..=0x7FFF).
    let exponent = (31 - (value as u32).leading_zeros())
        .saturating_sub(7)
        .min(7) as i32;
    let mantissa = (value >> (exponent + 3)) & 0x0F;
    !(sign | (exponent << 4) as u8 | mantissa as u8)
}

/// Decodes one mu-law byte.
pub fn mulaw_decode(code: u8) -> i16 {
    let code = !code;
    let exponent = i32::from((code >> 4) & 0x07);
    let mantissa = i32::from(code & 0x0F);
    let magnitude = (((mantissa << 3) + MULAW_BIAS) << exponent) - MULAW_BIAS;
    (if code & 0x80 != 0 {
        -magnitude
    } else {
        magnitude
    }) as i16
}

/// Encodes one 16-bit sample as A-law.
pub fn alaw_encode(sample: i16) -> u8 {
    let value = i32::from(sample) >> 3; // 13-bit
    let (sign, magnitude) = if value >= 0 {
        (0x80u8, value)
    } else {
        (0x00u8, -value - 1)
    };
    let code = if magnitude < 32 {
        (magnitude >> 1) as u8
    } else {
        // Segment 1 holds 32..=63, 2 holds 64..=127, ... 7 holds 2048..=4095.
        let segment = (31 - (magnitude as u32).leading_zeros()).saturating_sub(4);
        if segment > 7 {
            0x7F
        } else {
            (segment << 4) as u8 | ((magnitude >> segment) & 0x0F) as u8
        }
    };
    (sign | code) ^ 0x55
}

/// Decodes one A-law byte.
pub fn alaw_decode(code: u8) -> i16 {
    let code = code ^ 0x55;
    let segment = i32::from((code >> 4) & 0x07);
    let mantissa = i32::from(code & 0x0F);
    let magnitude = match segment {
        0 => (mantissa << 4) + 8,
        _ => ((mantissa << 4) + 0x108) << (segment - 1),
    };
    (if code & 0x80 != 0 {
        magnitude
    } else {
        -magnitude
    }) as i16
}

/// A G.711 law.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum G711 {
    /// mu-law, PCMU, static payload type 0.
    Pcmu,
    /// A-law, PCMA, static payload type 8.
    Pcma,
}

impl G711 {
    /// The law for a static payload type (RFC 3551 table 4).
    pub fn from_payload_type(payload_type: u8) -> Option<G711> {
        match payload_type {
            0 => Some(G711::Pcmu),
            8 => Some(G711::Pcma),
            _ => None,
        }
    }

    /// The law for an encoding name as in `a=rtpmap` (case-insensitive).
    pub fn from_encoding_name(name: &str) -> Option<G711> {
        if name.eq_ignore_ascii_case("PCMU") {
            Some(G711::Pcmu)
        } else if name.eq_ignore_ascii_case("PCMA") {
            Some(G711::Pcma)
        } else {
            None
        }
    }

    /// The static payload type.
    pub fn payload_type(self) -> u8 {
        match self {
            G711::Pcmu => 0,
            G711::Pcma => 8,
        }
    }

    /// Encodes `samples`, appending one byte per sample to `out`.
    pub fn encode(self, samples: &[i16], out: &mut Vec<u8>) {
        match self {
            G711::Pcmu => out.extend(samples.iter().map(|&s| mulaw_encode(s))),
            G711::Pcma => out.extend(samples.iter().map(|&s| alaw_encode(s))),
        }
    }

    /// Decodes `codes`, appending one sample per byte to `out`.
    pub fn decode(self, codes: &[u8], out: &mut Vec<i16>) {
        match self {
            G711::Pcmu => out.extend(codes.iter().map(|&c| mulaw_decode(c))),
            G711::Pcma => out.extend(codes.iter().map(|&c| alaw_decode(c))),
        }
    }

    /// The code for silence: what 0 encodes to.
    pub fn silence(self) -> u8 {
        match self {
            G711::Pcmu => 0xFF,
            G711::Pcma => 0xD5,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_encodes_to_the_silence_codes() {
        assert_eq!(mulaw_encode(0), 0xFF);
        assert_eq!(alaw_encode(0), 0xD5);
        assert_eq!(G711::Pcmu.silence(), 0xFF);
        assert_eq!(G711::Pcma.silence(), 0xD5);
    }

    #[test]
    fn known_values_from_the_reference_implementation() {
        // The values of the widely used Sun/CCITT g711.c.
        assert_eq!(mulaw_decode(0x00), -32124);
        assert_eq!(mulaw_decode(0x80), 32124);
        assert_eq!(mulaw_decode(0xFF), 0);
        assert_eq!(mulaw_decode(0x7F), 0);
        assert_eq!(mulaw_decode(0xFE), 8);
        assert_eq!(mulaw_decode(0xF0), 120);
        assert_eq!(mulaw_encode(i16::MAX), 0x80);
        assert_eq!(mulaw_encode(i16::MIN), 0x00);
        assert_eq!(mulaw_encode(-1), 0x7F);
        assert_eq!(alaw_decode(0xD5), 8);
        assert_eq!(alaw_decode(0x55), -8);
        assert_eq!(alaw_decode(0xAA), 32256);
        assert_eq!(alaw_decode(0x2A), -32256);
        assert_eq!(alaw_encode(i16::MAX), 0xAA);
        assert_eq!(alaw_encode(i16::MIN), 0x2A);
        assert_eq!(alaw_encode(-1), 0x55);
        assert_eq!(alaw_encode(1000), 0xFA);
        assert_eq!(alaw_decode(0xFA), 1008);
    }

    #[test]
    fn decode_tables_are_odd_symmetric_over_all_256_codes() {
        for code in 0..=255u8 {
            assert_eq!(
                mulaw_decode(code),
                -mulaw_decode(code ^ 0x80),
                "mu {code:#x}"
            );
            assert_eq!(alaw_decode(code), -alaw_decode(code ^ 0x80), "A {code:#x}");
        }
    }

    #[test]
    fn decoded_values_are_distinct_and_re_encode_to_their_code() {
        for code in 0..=255u8 {
            // mu-law has two zeros, 0xFF and 0x7F; 0 encodes as 0xFF.
            let expected = if code == 0x7F { 0xFF } else { code };
            assert_eq!(mulaw_encode(mulaw_decode(code)), expected, "mu {code:#x}");
            assert_eq!(alaw_encode(alaw_decode(code)), code, "A {code:#x}");
        }
        let mut alaw: Vec<i16> = (0..=255).map(alaw_decode).collect();
        alaw.sort_unstable();
        alaw.dedup();
        assert_eq!(alaw.len(), 256);
        let mut mulaw: Vec<i16> = (0..=255).map(mulaw_decode).collect();
        mulaw.sort_unstable();
        mulaw.dedup();
        assert_eq!(mulaw.len(), 255);
    }

    #[test]
    fn encoding_is_monotonic_and_round_trip_error_is_within_half_a_step() {
        let mut previous_mu = mulaw_decode(mulaw_encode(i16::MIN));
        let mut previous_a = alaw_decode(alaw_encode(i16::MIN));
        for sample in i16::MIN..=i16::MAX {
            let mu = mulaw_decode(mulaw_encode(sample));
            let a = alaw_decode(alaw_encode(sample));
            assert!(
                mu >= previous_mu && a >= previous_a,
                "monotonic at {sample}"
            );
            previous_mu = mu;
            previous_a = a;
            let magnitude = i32::from(sample).abs().min(32635);
            // Step sizes double per segment: 1/16 of the magnitude bounds half a step,
            // plus the smallest step near zero; clipping adds a little at full scale.
            let bound = magnitude / 16 + 8;
            let mu_error = (i32::from(mu) - i32::from(sample)).abs();
            let a_error = (i32::from(a) - i32::from(sample)).abs();
            assert!(
                mu_error <= bound + 700 * i32::from(magnitude == 32635),
                "mu {sample}: {mu}"
            );
            assert!(
                a_error <= bound + 700 * i32::from(magnitude == 32635),
                "A {sample}: {a}"
            );
        }
    }
}
