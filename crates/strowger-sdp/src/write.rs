//! Writing an SDP body: the fields in the order RFC 8866 section 5 fixes, each line ended
//! with CRLF. What `parse` reads back from this output equals the value written.

use std::fmt::{self, Display, Formatter};

use crate::attribute::{Attribute, Fmtp, Rtcp, Rtpmap};
use crate::description::{
    AddressType, Bandwidth, Connection, Host, MediaDescription, Origin, Repeat, SessionDescription,
    TimeUnit, TimeZoneAdjustment, Timing, TypedTime,
};

impl Display for SessionDescription {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        f.write_str("v=0\r\n")?;
        write!(f, "o={}\r\n", self.origin)?;
        write!(f, "s={}\r\n", self.session_name)?;
        if let Some(information) = &self.information {
            write!(f, "i={information}\r\n")?;
        }
        if let Some(uri) = &self.uri {
            write!(f, "u={uri}\r\n")?;
        }
        for email in &self.emails {
            write!(f, "e={email}\r\n")?;
        }
        for phone in &self.phones {
            write!(f, "p={phone}\r\n")?;
        }
        if let Some(connection) = &self.connection {
            write!(f, "c={connection}\r\n")?;
        }
        for bandwidth in &self.bandwidths {
            write!(f, "b={bandwidth}\r\n")?;
        }
        for timing in &self.times {
            write!(f, "{timing}")?;
        }
        if !self.time_zones.is_empty() {
            f.write_str("z=")?;
            for (i, adjustment) in self.time_zones.iter().enumerate() {
                if i > 0 {
                    f.write_str(" ")?;
                }
                write!(f, "{adjustment}")?;
            }
            f.write_str("\r\n")?;
        }
        if let Some(key) = &self.key {
            write!(f, "k={key}\r\n")?;
        }
        for attribute in &self.attributes {
            write!(f, "a={attribute}\r\n")?;
        }
        for media in &self.media {
            write!(f, "{media}")?;
        }
        Ok(())
    }
}

impl SessionDescription {
    /// The body as bytes, ready to be a SIP message body (`Content-Type: application/sdp`).
    pub fn to_bytes(&self) -> Vec<u8> {
        self.to_string().into_bytes()
    }
}

impl Display for MediaDescription {
    /// The `m=` line and every line under it, each ended with CRLF.
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(f, "m={} {}", self.media.as_str(), self.port)?;
        if let Some(count) = self.port_count {
            write!(f, "/{count}")?;
        }
        write!(f, " {}", self.proto)?;
        for format in &self.formats {
            write!(f, " {format}")?;
        }
        f.write_str("\r\n")?;
        if let Some(information) = &self.information {
            write!(f, "i={information}\r\n")?;
        }
        for connection in &self.connections {
            write!(f, "c={connection}\r\n")?;
        }
        for bandwidth in &self.bandwidths {
            write!(f, "b={bandwidth}\r\n")?;
        }
        if let Some(key) = &self.key {
            write!(f, "k={key}\r\n")?;
        }
        for attribute in &self.attributes {
            write!(f, "a={attribute}\r\n")?;
        }
        Ok(())
    }
}

impl Display for Origin {
    /// The value of the `o=` line.
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} {} {} {} {}",
            self.username,
            self.session_id,
            self.session_version,
            self.network_type,
            self.address_type,
            self.address
        )
    }
}

impl Display for AddressType {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            AddressType::Ip4 => f.write_str("IP4"),
            AddressType::Ip6 => f.write_str("IP6"),
            AddressType::Other(other) => f.write_str(other),
        }
    }
}

impl Display for Host {
    /// IPv6 without brackets (RFC 5118 section 4.6).
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Host::Ip(ip) => write!(f, "{ip}"),
            Host::Name(name) => f.write_str(name),
        }
    }
}

impl Display for Connection {
    /// The value of the `c=` line.
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} {}",
            self.network_type, self.address_type, self.address
        )?;
        if let Some(ttl) = self.ttl {
            write!(f, "/{ttl}")?;
        }
        if let Some(count) = self.count {
            write!(f, "/{count}")?;
        }
        Ok(())
    }
}

impl Display for Bandwidth {
    /// The value of the `b=` line.
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.bwtype, self.bandwidth)
    }
}

impl Display for Timing {
    /// The `t=` line and its `r=` lines, each ended with CRLF.
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(f, "t={} {}\r\n", self.start, self.stop)?;
        for repeat in &self.repeats {
            write!(f, "r={repeat}\r\n")?;
        }
        Ok(())
    }
}

impl Display for Repeat {
    /// The value of the `r=` line.
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.interval, self.duration)?;
        for offset in &self.offsets {
            write!(f, " {offset}")?;
        }
        Ok(())
    }
}

impl Display for TypedTime {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.amount)?;
        match self.unit {
            None => Ok(()),
            Some(TimeUnit::Days) => f.write_str("d"),
            Some(TimeUnit::Hours) => f.write_str("h"),
            Some(TimeUnit::Minutes) => f.write_str("m"),
            Some(TimeUnit::Seconds) => f.write_str("s"),
        }
    }
}

impl Display for TimeZoneAdjustment {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        let sign = if self.negative { "-" } else { "" };
        write!(f, "{} {sign}{}", self.time, self.offset)
    }
}

impl Display for Attribute {
    /// The value of the `a=` line (what follows `a=`).
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Attribute::Rtpmap(rtpmap) => write!(f, "rtpmap:{rtpmap}"),
            Attribute::Fmtp(fmtp) => write!(f, "fmtp:{fmtp}"),
            Attribute::Ptime(ms) => write!(f, "ptime:{ms}"),
            Attribute::MaxPtime(ms) => write!(f, "maxptime:{ms}"),
            Attribute::Direction(direction) => f.write_str(direction.as_str()),
            Attribute::Rtcp(rtcp) => write!(f, "rtcp:{rtcp}"),
            Attribute::Other { name, value: None } => f.write_str(name),
            Attribute::Other {
                name,
                value: Some(value),
            } => write!(f, "{name}:{value}"),
        }
    }
}

impl Display for Rtpmap {
    /// `<payload type> <encoding name>/<clock rate>[/<channels>]`.
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {}/{}",
            self.payload_type, self.encoding_name, self.clock_rate
        )?;
        if let Some(channels) = self.channels {
            write!(f, "/{channels}")?;
        }
        Ok(())
    }
}

impl Display for Fmtp {
    /// `<format> <format specific parameters>`.
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        f.write_str(&self.format)?;
        if !self.params.is_empty() {
            write!(f, " {}", self.params)?;
        }
        Ok(())
    }
}

impl Display for Rtcp {
    /// `<port> [<nettype> <addrtype> <connection-address>]`.
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.port)?;
        if let Some(address) = &self.address {
            write!(
                f,
                " {} {} {}",
                address.network_type, address.address_type, address.address
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::net::{IpAddr, Ipv4Addr};

    use crate::attribute::Direction;
    use crate::description::MediaType;
    use crate::SessionDescription;

    use super::*;

    #[test]
    fn rfc8866_5_example_is_written_back_byte_for_byte() {
        let text = "v=0\r\n\
            o=jdoe 3724394400 3724394405 IN IP4 198.51.100.1\r\n\
            s=Call to John Smith\r\n\
            i=SDP Offer #1\r\n\
            u=http://www.jdoe.example.com/home.html\r\n\
            e=Jane Doe <jane@jdoe.example.com>\r\n\
            p=+1 617 555-6011\r\n\
            c=IN IP4 198.51.100.1\r\n\
            t=0 0\r\n\
            m=audio 49170 RTP/AVP 0\r\n\
            m=audio 49180 RTP/AVP 0\r\n\
            m=video 51372 RTP/AVP 99\r\n\
            c=IN IP6 2001:db8::2\r\n\
            a=rtpmap:99 h263-1998/90000\r\n";
        let sdp = SessionDescription::parse(text.as_bytes()).unwrap();
        assert_eq!(sdp.to_string(), text);
        assert_eq!(sdp.to_bytes(), text.as_bytes());
    }

    #[test]
    fn lines_are_written_in_the_order_of_rfc8866_5_with_crlf() {
        // Parsed from a body with LF ends and a= before c= and b=; written canonically.
        let sdp = SessionDescription::parse(
            b"v=0\no=- 1 2 IN IP4 192.0.2.1\ns=-\na=tool:x\nt=0 0\nk=prompt\nb=AS:64\nc=IN IP4 192.0.2.1\nz=1 -1h\nr=1d 1h 0\n\
              m=audio 4000 RTP/AVP 0\na=sendonly\nk=clear:x\nb=AS:64\nc=IN IP4 192.0.2.2\ni=voice\n",
        )
        .unwrap();
        assert_eq!(
            sdp.to_string(),
            "v=0\r\no=- 1 2 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nb=AS:64\r\n\
             t=0 0\r\nr=1d 1h 0\r\nz=1 -1h\r\nk=prompt\r\na=tool:x\r\n\
             m=audio 4000 RTP/AVP 0\r\ni=voice\r\nc=IN IP4 192.0.2.2\r\nb=AS:64\r\nk=clear:x\r\na=sendonly\r\n"
        );
    }

    #[test]
    fn typed_attributes_are_written_as_rfc8866_6_spells_them() {
        let mut media = MediaDescription::new(MediaType::Audio, 4000, "RTP/AVP");
        media.formats = vec!["96".into(), "101".into()];
        media.attributes = vec![
            Attribute::Rtpmap(Rtpmap {
                payload_type: 96,
                encoding_name: "opus".into(),
                clock_rate: 48_000,
                channels: Some(2),
            }),
            Attribute::Fmtp(Fmtp {
                format: "96".into(),
                params: String::new(),
            }),
            Attribute::Ptime(20),
            Attribute::MaxPtime(40),
            Attribute::Direction(Direction::Inactive),
            Attribute::Rtcp(Rtcp {
                port: 4001,
                address: Some(crate::RtcpAddress {
                    network_type: "IN".into(),
                    address_type: AddressType::Ip4,
                    address: Host::Ip(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 9))),
                }),
            }),
            Attribute::property("rtcp-mux"),
            Attribute::value("mid", "0"),
        ];
        assert_eq!(
            media.to_string(),
            "m=audio 4000 RTP/AVP 96 101\r\n\
             a=rtpmap:96 opus/48000/2\r\n\
             a=fmtp:96\r\n\
             a=ptime:20\r\n\
             a=maxptime:40\r\n\
             a=inactive\r\n\
             a=rtcp:4001 IN IP4 192.0.2.9\r\n\
             a=rtcp-mux\r\n\
             a=mid:0\r\n"
        );
    }

    #[test]
    fn multicast_connection_is_written_with_ttl_then_count_rfc8866_5_7() {
        let c = Connection {
            network_type: "IN".into(),
            address_type: AddressType::Ip4,
            address: Host::Ip(IpAddr::V4(Ipv4Addr::new(233, 252, 0, 1))),
            ttl: Some(127),
            count: Some(3),
        };
        assert_eq!(c.to_string(), "IN IP4 233.252.0.1/127/3");
    }
}
