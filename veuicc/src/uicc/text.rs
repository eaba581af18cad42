//! Alpha identifiers of EFs such as EF.SPN (ETSI TS 102 221 Annex A): the GSM 7-bit default
//! alphabet unpacked one character per byte (3GPP TS 23.038 §6.2.1), or UCS2 forms 80/81/82.

/// TS 23.038 default alphabet (0x1B, the escape to the extension table, is shown as a space).
const GSM7: [char; 128] = [
    '@', '£', '$', '¥', 'è', 'é', 'ù', 'ì', 'ò', 'Ç', '\n', 'Ø', 'ø', '\r', 'Å', 'å', //
    'Δ', '_', 'Φ', 'Γ', 'Λ', 'Ω', 'Π', 'Ψ', 'Σ', 'Θ', 'Ξ', ' ', 'Æ', 'æ', 'ß', 'É', //
    ' ', '!', '"', '#', '¤', '%', '&', '\'', '(', ')', '*', '+', ',', '-', '.', '/', //
    '0', '1', '2', '3', '4', '5', '6', '7', '8', '9', ':', ';', '<', '=', '>', '?', //
    '¡', 'A', 'B', 'C', 'D', 'E', 'F', 'G', 'H', 'I', 'J', 'K', 'L', 'M', 'N', 'O', //
    'P', 'Q', 'R', 'S', 'T', 'U', 'V', 'W', 'X', 'Y', 'Z', 'Ä', 'Ö', 'Ñ', 'Ü', '§', //
    '¿', 'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'k', 'l', 'm', 'n', 'o', //
    'p', 'q', 'r', 's', 't', 'u', 'v', 'w', 'x', 'y', 'z', 'ä', 'ö', 'ñ', 'ü', 'à', //
];

/// Decodes an alpha identifier; trailing FF padding ends it.
pub fn decode_alpha(b: &[u8]) -> String {
    match b.first() {
        Some(0x80) => {
            let units: Vec<u16> = b
                .get(1..)
                .unwrap_or_default()
                .chunks_exact(2)
                .map(|c| {
                    u16::from_be_bytes([
                        c.first().copied().unwrap_or(0),
                        c.get(1).copied().unwrap_or(0),
                    ])
                })
                .take_while(|u| *u != 0xFFFF)
                .collect();
            String::from_utf16_lossy(&units)
        }
        Some(0x81) | Some(0x82) => {
            // Length, base pointer (one byte half-page or two bytes), then 7-bit or UCS2 offsets.
            let (n, base, rest) = if b.first() == Some(&0x81) {
                let n = usize::from(b.get(1).copied().unwrap_or(0));
                let base = u32::from(b.get(2).copied().unwrap_or(0)) << 7;
                (n, base, b.get(3..).unwrap_or_default())
            } else {
                let n = usize::from(b.get(1).copied().unwrap_or(0));
                let base = u32::from(u16::from_be_bytes([
                    b.get(2).copied().unwrap_or(0),
                    b.get(3).copied().unwrap_or(0),
                ]));
                (n, base, b.get(4..).unwrap_or_default())
            };
            rest.iter()
                .take(n)
                .map(|c| {
                    if c & 0x80 != 0 {
                        char::from_u32(base + u32::from(c & 0x7F)).unwrap_or('?')
                    } else {
                        GSM7.get(usize::from(*c)).copied().unwrap_or('?')
                    }
                })
                .collect()
        }
        _ => b
            .iter()
            .take_while(|c| **c != 0xFF)
            .map(|c| GSM7.get(usize::from(*c & 0x7F)).copied().unwrap_or('?'))
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_ts48_spn() {
        let spn = hex::decode("47534D411154455354FFFFFFFFFFFFFF").unwrap();
        assert_eq!(decode_alpha(&spn), "GSMA_TEST");
        assert_eq!(decode_alpha(&[0x80, 0x00, 0x41, 0xFF, 0xFF]), "A");
        assert_eq!(decode_alpha(&[]), "");
    }
}
