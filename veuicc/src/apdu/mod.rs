//! ISO/IEC 7816-4 command and response APDUs: parsing (cases 1–4, short and extended),
//! status words, and class-byte decoding (basic and further interindustry CLA, logical channels).

pub mod sw;

use std::fmt;

pub use sw::Sw;

/// Why a command APDU could not be parsed. Each maps to one status word in [`ApduError::sw`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApduError {
    #[error("command shorter than the 4-byte header")]
    TooShort,
    #[error("Lc/Le encoding does not match the command length")]
    WrongLength,
    #[error("class byte {0:02X} is not valid")]
    InvalidClass(u8),
}

impl ApduError {
    /// ISO 7816-4 §5.6: wrong length → 6700; invalid CLA → 6E00.
    pub fn sw(&self) -> Sw {
        match self {
            ApduError::TooShort | ApduError::WrongLength => Sw::WRONG_LENGTH,
            ApduError::InvalidClass(_) => Sw::CLA_NOT_SUPPORTED,
        }
    }
}

/// How the class byte is coded (ISO 7816-4 §5.4.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Class {
    /// The raw CLA byte.
    pub raw: u8,
    /// Logical channel number 0–19.
    pub channel: u8,
    /// Proprietary class (b8 set: `8x`, `Cx`, `Ex`), used by GlobalPlatform and ETSI TS 102 221.
    pub proprietary: bool,
    /// Command chaining bit (b5 in the first interindustry CLA encoding, b5 in the further one).
    pub chaining: bool,
}

impl Class {
    /// Decodes a CLA byte. `FF` is reserved (PPS) and refused.
    pub fn parse(raw: u8) -> Result<Class, ApduError> {
        if raw == 0xFF {
            return Err(ApduError::InvalidClass(raw));
        }
        // Table 2/3: b7 = 0 → first interindustry (channels 0–3, b2..b1), b7 = 1 → further
        // interindustry (channels 4–19, b4..b1 + 4). b8 marks proprietary classes which reuse the
        // same channel coding in GP and ETSI TS 102 221 §10.1.1.
        let further = raw & 0x40 != 0;
        let (channel, chaining) = if further {
            ((raw & 0x0F) + 4, raw & 0x10 != 0)
        } else {
            (raw & 0x03, raw & 0x10 != 0)
        };
        Ok(Class {
            raw,
            channel,
            proprietary: raw & 0x80 != 0,
            chaining,
        })
    }

    /// Encodes a class byte for `channel` with the given proprietary bit (for clients and tests).
    pub fn encode(channel: u8, proprietary: bool) -> u8 {
        let base = if proprietary { 0x80 } else { 0x00 };
        if channel < 4 {
            base | channel
        } else {
            base | 0x40 | ((channel - 4) & 0x0F)
        }
    }
}

/// A parsed command APDU borrowing its data field.
#[derive(Clone, PartialEq, Eq)]
pub struct Command<'a> {
    pub cla: Class,
    pub ins: u8,
    pub p1: u8,
    pub p2: u8,
    /// Command data (empty for cases 1 and 2).
    pub data: &'a [u8],
    /// Expected response length: `None` when absent (cases 1 and 3); `Some(256)` or
    /// `Some(65536)` for an `00` Le.
    pub le: Option<usize>,
    /// Whether Lc/Le used the extended (3-byte / 2-byte) form.
    pub extended: bool,
}

impl fmt::Debug for Command<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Data is not printed: it may carry PINs or keys.
        write!(
            f,
            "Command {{ cla: {:02X}, ins: {:02X}, p1: {:02X}, p2: {:02X}, lc: {}, le: {:?} }}",
            self.cla.raw,
            self.ins,
            self.p1,
            self.p2,
            self.data.len(),
            self.le
        )
    }
}

impl<'a> Command<'a> {
    /// Parses a command APDU (ISO 7816-4 §5.1). Trailing or missing bytes are an error.
    pub fn parse(apdu: &'a [u8]) -> Result<Command<'a>, ApduError> {
        if apdu.len() < 4 {
            return Err(ApduError::TooShort);
        }
        let cla = Class::parse(apdu[0])?;
        let (ins, p1, p2) = (apdu[1], apdu[2], apdu[3]);
        let body = &apdu[4..];
        let mk = |data, le, extended| Command {
            cla,
            ins,
            p1,
            p2,
            data,
            le,
            extended,
        };
        let short_le = |b: u8| if b == 0 { 256 } else { b as usize };
        let ext_le = |hi: u8, lo: u8| {
            let v = u16::from_be_bytes([hi, lo]) as usize;
            if v == 0 {
                65536
            } else {
                v
            }
        };
        match body.len() {
            0 => Ok(mk(&[], None, false)),                    // case 1
            1 => Ok(mk(&[], Some(short_le(body[0])), false)), // case 2S
            _ if body[0] != 0 => {
                // case 3S / 4S
                let lc = body[0] as usize;
                match body.len() - 1 {
                    n if n == lc => Ok(mk(&body[1..], None, false)),
                    n if n == lc + 1 => {
                        Ok(mk(&body[1..1 + lc], Some(short_le(body[1 + lc])), false))
                    }
                    _ => Err(ApduError::WrongLength),
                }
            }
            3 => Ok(mk(&[], Some(ext_le(body[1], body[2])), true)), // case 2E
            n if n >= 3 => {
                // case 3E / 4E
                let lc = u16::from_be_bytes([body[1], body[2]]) as usize;
                if lc == 0 {
                    return Err(ApduError::WrongLength);
                }
                match n - 3 {
                    m if m == lc => Ok(mk(&body[3..], None, true)),
                    m if m == lc + 2 => Ok(mk(
                        &body[3..3 + lc],
                        Some(ext_le(body[3 + lc], body[4 + lc])),
                        true,
                    )),
                    _ => Err(ApduError::WrongLength),
                }
            }
            _ => Err(ApduError::WrongLength),
        }
    }
}

/// Builds a command APDU, choosing the short form when it fits (for clients and tests).
pub fn build(cla: u8, ins: u8, p1: u8, p2: u8, data: &[u8], le: Option<usize>) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() + 9);
    out.extend_from_slice(&[cla, ins, p1, p2]);
    let extended = data.len() > 255 || le.is_some_and(|l| l > 256);
    if extended {
        out.push(0);
        if !data.is_empty() {
            out.extend_from_slice(&(data.len() as u16).to_be_bytes());
            out.extend_from_slice(data);
        }
        if let Some(le) = le {
            out.extend_from_slice(&((le % 65536) as u16).to_be_bytes());
        }
    } else {
        if !data.is_empty() {
            out.push(data.len() as u8);
            out.extend_from_slice(data);
        }
        if let Some(le) = le {
            out.push((le % 256) as u8);
        }
    }
    out
}

/// A response APDU: data and status word.
#[derive(Clone, PartialEq, Eq)]
pub struct Response {
    pub data: Vec<u8>,
    pub sw: Sw,
}

impl fmt::Debug for Response {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Response {{ len: {}, sw: {} }}",
            self.data.len(),
            self.sw
        )
    }
}

impl Response {
    pub fn ok(data: Vec<u8>) -> Response {
        Response { data, sw: Sw::OK }
    }
    pub fn sw(sw: Sw) -> Response {
        Response {
            data: Vec::new(),
            sw,
        }
    }
    /// The wire form: data then SW1 SW2.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.data.len() + 2);
        out.extend_from_slice(&self.data);
        out.extend_from_slice(&self.sw.0.to_be_bytes());
        out
    }
    /// Splits a wire response; `None` if it is shorter than 2 bytes.
    pub fn from_bytes(raw: &[u8]) -> Option<Response> {
        if raw.len() < 2 {
            return None;
        }
        let n = raw.len() - 2;
        Some(Response {
            data: raw[..n].to_vec(),
            sw: Sw(u16::from_be_bytes([raw[n], raw[n + 1]])),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_all_short_cases() {
        let c1 = Command::parse(&[0x00, 0x70, 0x80, 0x01]).unwrap();
        assert!(c1.data.is_empty() && c1.le.is_none());
        let c2 = Command::parse(&[0x00, 0xC0, 0x00, 0x00, 0x00]).unwrap();
        assert_eq!(c2.le, Some(256));
        let c3 = Command::parse(&[0x00, 0xA4, 0x00, 0x04, 0x02, 0x3F, 0x00]).unwrap();
        assert_eq!(c3.data, &[0x3F, 0x00]);
        assert_eq!(c3.le, None);
        let c4 = Command::parse(&[0x00, 0xA4, 0x04, 0x00, 0x02, 0xA0, 0x00, 0x10]).unwrap();
        assert_eq!(c4.le, Some(16));
    }

    #[test]
    fn parses_extended_cases() {
        let c2 = Command::parse(&[0x00, 0xB0, 0x00, 0x00, 0x00, 0x01, 0x00]).unwrap();
        assert_eq!((c2.le, c2.extended), (Some(256), true));
        let mut c3 = vec![0x80, 0xE2, 0x91, 0x00, 0x00, 0x01, 0x00];
        c3.extend(vec![0x55; 256]);
        let p = Command::parse(&c3).unwrap();
        assert_eq!((p.data.len(), p.le), (256, None));
        c3.extend([0x00, 0x00]);
        assert_eq!(Command::parse(&c3).unwrap().le, Some(65536));
    }

    #[test]
    fn rejects_wrong_lc() {
        assert_eq!(
            Command::parse(&[0x00, 0xA4, 0x00, 0x04, 0x03, 0x3F, 0x00]),
            Err(ApduError::WrongLength)
        );
        assert_eq!(
            Command::parse(&[0x00, 0xA4, 0x00]),
            Err(ApduError::TooShort)
        );
        assert_eq!(
            Command::parse(&[0x00, 0xA4, 0x00, 0x04, 0x02, 0x3F, 0x00, 0x00, 0x00]),
            Err(ApduError::WrongLength)
        );
        assert_eq!(
            Command::parse(&[0x00, 0xB0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00]),
            Err(ApduError::WrongLength)
        );
    }

    #[test]
    fn decodes_logical_channels() {
        assert_eq!(Class::parse(0x83).unwrap().channel, 3);
        assert_eq!(Class::parse(0x40).unwrap().channel, 4);
        assert_eq!(Class::parse(0x4F).unwrap().channel, 19);
        assert_eq!(Class::parse(0xCF).unwrap().channel, 19);
        assert!(Class::parse(0xC5).unwrap().proprietary);
        assert!(Class::parse(0xFF).is_err());
        for ch in 0..20 {
            for prop in [false, true] {
                let c = Class::parse(Class::encode(ch, prop)).unwrap();
                assert_eq!((c.channel, c.proprietary), (ch, prop));
            }
        }
    }

    proptest! {
        #[test]
        fn build_then_parse_round_trips(
            cla in prop_oneof![0u8..0x80, 0x80u8..0xFF], ins: u8, p1: u8, p2: u8,
            data in proptest::collection::vec(any::<u8>(), 0..600),
            le in proptest::option::of(1usize..=65536),
        ) {
            let raw = build(cla, ins, p1, p2, &data, le);
            let c = Command::parse(&raw).unwrap();
            prop_assert_eq!(c.data, &data[..]);
            prop_assert_eq!((c.ins, c.p1, c.p2), (ins, p1, p2));
            // A short Le of 256 and an extended Le of 65536 are both sent as zero.
            prop_assert_eq!(c.le, le);
        }

        #[test]
        fn parse_never_panics(raw in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = Command::parse(&raw);
        }
    }
}
