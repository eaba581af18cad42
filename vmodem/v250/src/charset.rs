//! Character sets of `+CSCS` (3GPP TS 27.007 §5.5): text in information responses is encoded
//! with [`encode`], quoted text parameters are decoded with [`decode`].
//!
//! - GSM: the GSM 7-bit default alphabet (TS 23.038 §6.2.1) one character per byte, with the
//!   default extension table (§6.2.1.1) reached by the escape 0x1B.
//! - IRA: ITU-T T.50 (ASCII).
//! - UCS2: four upper-case hex digits per UTF-16 code unit (27.007 §5.5: "0041" is `A`).
//! - 8859-1: ISO 8859-1. [`encode`] returns a `String`, which cannot hold the single bytes
//!   0x80–0xFF; it writes `?` for those characters (use [`encode_bytes`] for the exact bytes).
//! - UTF-8: as is.
//! - HEX: the GSM alphabet bytes as two hex digits each (the seam's definition; 27.007 leaves
//!   the underlying set to the manufacturer).
//!
//! Characters a set cannot represent are written as `?`.

use super::Charset;

/// A parameter does not decode in the port's character set.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CharsetError {
    #[error("byte {0:#04x} is not a character of this set")]
    BadByte(u8),
    #[error("invalid hex digits")]
    BadHex,
    #[error("length is not a multiple of {0}")]
    BadLength(usize),
    #[error("unpaired UTF-16 surrogate")]
    BadSurrogate,
    #[error("invalid UTF-8")]
    BadUtf8,
    #[error("escape 0x1B at the end of GSM text")]
    DanglingEscape,
}

/// TS 23.038 §6.2.1: the GSM 7-bit default alphabet; 0x1B is the escape to the extension table
/// (shown here as NBSP, which is never encoded to or decoded from 0x1B).
const GSM_BASIC: [char; 128] = [
    '@', '£', '$', '¥', 'è', 'é', 'ù', 'ì', 'ò', 'Ç', '\n', 'Ø', 'ø', '\r', 'Å', 'å', //
    'Δ', '_', 'Φ', 'Γ', 'Λ', 'Ω', 'Π', 'Ψ', 'Σ', 'Θ', 'Ξ', '\u{A0}', 'Æ', 'æ', 'ß', 'É', //
    ' ', '!', '"', '#', '¤', '%', '&', '\'', '(', ')', '*', '+', ',', '-', '.', '/', //
    '0', '1', '2', '3', '4', '5', '6', '7', '8', '9', ':', ';', '<', '=', '>', '?', //
    '¡', 'A', 'B', 'C', 'D', 'E', 'F', 'G', 'H', 'I', 'J', 'K', 'L', 'M', 'N', 'O', //
    'P', 'Q', 'R', 'S', 'T', 'U', 'V', 'W', 'X', 'Y', 'Z', 'Ä', 'Ö', 'Ñ', 'Ü', '§', //
    '¿', 'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'k', 'l', 'm', 'n', 'o', //
    'p', 'q', 'r', 's', 't', 'u', 'v', 'w', 'x', 'y', 'z', 'ä', 'ö', 'ñ', 'ü', 'à', //
];

/// The escape to the extension table (TS 23.038 §6.2.1).
const GSM_ESC: u8 = 0x1B;

/// TS 23.038 §6.2.1.1: the default alphabet extension table (after 0x1B).
const GSM_EXT: [(u8, char); 10] = [
    (0x0A, '\u{0C}'),
    (0x14, '^'),
    (0x28, '{'),
    (0x29, '}'),
    (0x2F, '\\'),
    (0x3C, '['),
    (0x3D, '~'),
    (0x3E, ']'),
    (0x40, '|'),
    (0x65, '€'),
];

/// The GSM bytes of one character (one, or escape + one), `?` if it has none.
fn gsm_char(c: char, out: &mut Vec<u8>) {
    if let Some(i) = GSM_BASIC
        .iter()
        .position(|&g| g == c)
        .filter(|&i| i != usize::from(GSM_ESC))
        .and_then(|i| u8::try_from(i).ok())
    {
        out.push(i);
    } else if let Some((b, _)) = GSM_EXT.iter().find(|(_, g)| *g == c) {
        out.extend([GSM_ESC, *b]);
    } else {
        out.push(b'?');
    }
}

/// `s` in the GSM 7-bit default alphabet, one byte per septet.
pub fn gsm_encode(s: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len());
    for c in s.chars() {
        gsm_char(c, &mut out);
    }
    out
}

/// GSM default alphabet bytes as text.
pub fn gsm_decode(bytes: &[u8]) -> Result<String, CharsetError> {
    let mut out = String::with_capacity(bytes.len());
    let mut it = bytes.iter().copied();
    while let Some(b) = it.next() {
        if b == GSM_ESC {
            let e = it.next().ok_or(CharsetError::DanglingEscape)?;
            match GSM_EXT.iter().find(|(x, _)| *x == e) {
                Some((_, c)) => out.push(*c),
                // §6.2.1.1: an undefined extension code shows the main table's character.
                None => out.push(basic(e)?),
            }
        } else {
            out.push(basic(b)?);
        }
    }
    Ok(out)
}

fn basic(b: u8) -> Result<char, CharsetError> {
    match GSM_BASIC.get(usize::from(b)) {
        Some(&c) if b != GSM_ESC => Ok(c),
        _ => Err(CharsetError::BadByte(b)),
    }
}

fn hex_upper(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push_str(&format!("{b:02X}"));
    }
    s
}

fn hex_digit(c: u8) -> Result<u16, CharsetError> {
    char::from(c)
        .to_digit(16)
        .and_then(|d| u16::try_from(d).ok())
        .ok_or(CharsetError::BadHex)
}

fn unhex(bytes: &[u8]) -> Result<Vec<u8>, CharsetError> {
    if !bytes.len().is_multiple_of(2) {
        return Err(CharsetError::BadLength(2));
    }
    bytes
        .chunks_exact(2)
        .map(|p| {
            let v = p
                .iter()
                .try_fold(0u16, |acc, &c| Ok(acc << 4 | hex_digit(c)?))?;
            u8::try_from(v).map_err(|_| CharsetError::BadHex)
        })
        .collect()
}

/// `s` as the exact bytes of `cs` (unrepresentable characters as `?`).
pub fn encode_bytes(cs: Charset, s: &str) -> Vec<u8> {
    match cs {
        Charset::Latin1 => s
            .chars()
            .map(|c| u8::try_from(u32::from(c)).unwrap_or(b'?'))
            .collect(),
        _ => encode(cs, s).into_bytes(),
    }
}

/// `s` as information text in `cs`. For 8859-1, characters above 0x7F become `?` (a `String`
/// cannot carry them as single bytes; see [`encode_bytes`]).
pub fn encode(cs: Charset, s: &str) -> String {
    match cs {
        Charset::Gsm => gsm_encode(s).into_iter().map(char::from).collect(),
        Charset::Ira | Charset::Latin1 => s
            .chars()
            .map(|c| if c.is_ascii() { c } else { '?' })
            .collect(),
        Charset::Ucs2 => {
            let mut out = String::with_capacity(s.len() * 4);
            for u in s.encode_utf16() {
                out.push_str(&format!("{u:04X}"));
            }
            out
        }
        Charset::Utf8 => s.to_string(),
        Charset::Hex => hex_upper(&gsm_encode(s)),
    }
}

/// A quoted parameter's bytes (escapes already resolved) as text, per `cs`.
pub fn decode(cs: Charset, bytes: &[u8]) -> Result<String, CharsetError> {
    match cs {
        Charset::Gsm => gsm_decode(bytes),
        Charset::Ira => bytes
            .iter()
            .map(|&b| {
                if b.is_ascii() {
                    Ok(char::from(b))
                } else {
                    Err(CharsetError::BadByte(b))
                }
            })
            .collect(),
        Charset::Latin1 => Ok(bytes.iter().map(|&b| char::from(b)).collect()),
        Charset::Utf8 => String::from_utf8(bytes.to_vec()).map_err(|_| CharsetError::BadUtf8),
        Charset::Ucs2 => {
            if !bytes.len().is_multiple_of(4) {
                return Err(CharsetError::BadLength(4));
            }
            let units = bytes
                .chunks_exact(4)
                .map(|q| {
                    q.iter()
                        .try_fold(0u16, |acc, &c| Ok(acc << 4 | hex_digit(c)?))
                })
                .collect::<Result<Vec<u16>, CharsetError>>()?;
            char::decode_utf16(units)
                .collect::<Result<String, _>>()
                .map_err(|_| CharsetError::BadSurrogate)
        }
        Charset::Hex => gsm_decode(&unhex(bytes)?),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn gsm_table_maps_spec_positions() {
        // TS 23.038 §6.2.1 spot checks.
        assert_eq!(gsm_encode("@£$¥"), vec![0x00, 0x01, 0x02, 0x03]);
        assert_eq!(gsm_encode("Δ_ΦΓ"), vec![0x10, 0x11, 0x12, 0x13]);
        assert_eq!(gsm_encode("¤¡§¿à"), vec![0x24, 0x40, 0x5F, 0x60, 0x7F]);
        assert_eq!(gsm_encode("Az09 "), b"Az09 ".to_vec());
    }

    #[test]
    fn gsm_extension_characters_use_escape() {
        assert_eq!(gsm_encode("€"), vec![0x1B, 0x65]);
        assert_eq!(
            gsm_encode("[\\]^{|}~"),
            vec![
                0x1B, 0x3C, 0x1B, 0x2F, 0x1B, 0x3E, 0x1B, 0x14, 0x1B, 0x28, 0x1B, 0x40, 0x1B, 0x29,
                0x1B, 0x3D
            ]
        );
        assert_eq!(gsm_decode(&[0x1B, 0x65, b'x']).unwrap(), "€x");
    }

    #[test]
    fn gsm_undefined_extension_shows_main_table_character() {
        assert_eq!(gsm_decode(&[0x1B, b'A']).unwrap(), "A");
    }

    #[test]
    fn gsm_rejects_high_bytes_and_dangling_escape() {
        assert_eq!(gsm_decode(&[0x80]), Err(CharsetError::BadByte(0x80)));
        assert_eq!(gsm_decode(&[b'a', 0x1B]), Err(CharsetError::DanglingEscape));
    }

    #[test]
    fn unencodable_characters_become_question_marks() {
        assert_eq!(encode(Charset::Gsm, "a漢"), "a?");
        assert_eq!(encode(Charset::Ira, "é"), "?");
        assert_eq!(encode(Charset::Latin1, "é"), "?");
        assert_eq!(encode_bytes(Charset::Latin1, "é漢"), vec![0xE9, b'?']);
    }

    #[test]
    fn ucs2_is_four_upper_hex_digits_per_unit() {
        assert_eq!(encode(Charset::Ucs2, "Fake"), "00460061006B0065");
        assert_eq!(encode(Charset::Ucs2, "😀"), "D83DDE00");
        assert_eq!(decode(Charset::Ucs2, b"0046006b").unwrap(), "Fk");
        assert_eq!(decode(Charset::Ucs2, b"D83DDE00").unwrap(), "😀");
        assert_eq!(
            decode(Charset::Ucs2, b"004"),
            Err(CharsetError::BadLength(4))
        );
        assert_eq!(decode(Charset::Ucs2, b"00G1"), Err(CharsetError::BadHex));
        assert_eq!(
            decode(Charset::Ucs2, b"D83D"),
            Err(CharsetError::BadSurrogate)
        );
    }

    #[test]
    fn hex_is_gsm_bytes_in_hex() {
        assert_eq!(encode(Charset::Hex, "@A€"), "00411B65");
        assert_eq!(decode(Charset::Hex, b"00411b65").unwrap(), "@A€");
        assert!(decode(Charset::Hex, b"0").is_err());
        assert!(decode(Charset::Hex, b"+1").is_err());
    }

    #[test]
    fn ira_latin1_utf8_decode() {
        assert_eq!(decode(Charset::Ira, b"IRA").unwrap(), "IRA");
        assert!(decode(Charset::Ira, &[0xE9]).is_err());
        assert_eq!(decode(Charset::Latin1, &[0xE9]).unwrap(), "é");
        assert_eq!(decode(Charset::Utf8, "é".as_bytes()).unwrap(), "é");
        assert!(decode(Charset::Utf8, &[0xE9]).is_err());
    }

    const ALL: [Charset; 6] = [
        Charset::Gsm,
        Charset::Ira,
        Charset::Ucs2,
        Charset::Latin1,
        Charset::Utf8,
        Charset::Hex,
    ];

    proptest! {
        #[test]
        fn decode_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..64), i in 0usize..6) {
            let cs = ALL[i];
            let _ = decode(cs, &bytes);
        }

        #[test]
        fn representable_text_round_trips(s in "[ -~€£éÄ\n]{0,32}", i in 0usize..6) {
            let cs = ALL[i];
            // '`' is not in the GSM alphabet; IRA and (through a String) 8859-1 carry ASCII only.
            let representable = match cs {
                Charset::Ira | Charset::Latin1 => s.is_ascii(),
                Charset::Gsm | Charset::Hex => !s.contains('`'),
                _ => true,
            };
            if representable {
                prop_assert_eq!(decode(cs, encode(cs, &s).as_bytes()).unwrap(), s);
            }
        }

        #[test]
        fn any_unicode_round_trips_in_ucs2_and_utf8(s in "\\PC{0,16}") {
            prop_assert_eq!(decode(Charset::Ucs2, encode(Charset::Ucs2, &s).as_bytes()).unwrap(), s.clone());
            prop_assert_eq!(decode(Charset::Utf8, encode(Charset::Utf8, &s).as_bytes()).unwrap(), s);
        }
    }
}
