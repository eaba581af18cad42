//! IMEIs (3GPP TS 23.003 §6.2): IMEI = TAC (8 digits) ‖ SNR (6) ‖ CD (1, Luhn check digit
//! over the 14 digits, Annex B); IMEISV = TAC ‖ SNR ‖ SVN (2).

use serde::{Deserialize, Serialize};

/// Why an IMEI or SVN was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ImeiError {
    #[error("an IMEI has 15 digits (or 14 without the check digit), not {0:?}")]
    Format(String),
    #[error("IMEI {0} has a wrong check digit (expected {1})")]
    CheckDigit(String, u8),
    #[error("an SVN has 2 digits, not {0:?}")]
    Svn(String),
}

/// A valid 15-digit IMEI.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Imei(String);

/// The Luhn check digit of `digits` (TS 23.003 Annex B): from the right, every second digit
/// (starting with the rightmost) is doubled and its digits summed; the check digit brings the
/// total to a multiple of 10. `None` if a character is not a decimal digit.
pub fn luhn_check_digit(digits: &str) -> Option<u8> {
    let mut sum = 0u32;
    for (i, c) in digits.chars().rev().enumerate() {
        let d = c.to_digit(10)?;
        sum += if i % 2 == 0 {
            let x = d * 2;
            x / 10 + x % 10
        } else {
            d
        };
    }
    Some(((10 - sum % 10) % 10) as u8)
}

impl Imei {
    /// Parses 15 digits with a valid check digit, or 14 digits (the check digit is computed).
    pub fn parse(s: &str) -> Result<Imei, ImeiError> {
        let s = s.trim();
        if !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ImeiError::Format(s.to_string()));
        }
        match s.len() {
            14 => {
                let cd = luhn_check_digit(s).ok_or_else(|| ImeiError::Format(s.to_string()))?;
                Ok(Imei(format!("{s}{cd}")))
            }
            15 => {
                let (body, cd) = s.split_at(14);
                let want =
                    luhn_check_digit(body).ok_or_else(|| ImeiError::Format(s.to_string()))?;
                if cd != want.to_string() {
                    return Err(ImeiError::CheckDigit(s.to_string(), want));
                }
                Ok(Imei(s.to_string()))
            }
            _ => Err(ImeiError::Format(s.to_string())),
        }
    }

    /// A test IMEI for modem `name`, slot `index` (1-based): TAC `00440100` (reporting body 00
    /// is reserved for test IMEIs), SNR from a hash of the name and index.
    pub fn derived(name: &str, index: u8) -> Imei {
        // FNV-1a: stable across runs and platforms.
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in name.bytes().chain([0, index]) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
        let body = format!("00440100{:06}", h % 1_000_000);
        let cd = luhn_check_digit(&body).unwrap_or(0);
        Imei(format!("{body}{cd}"))
    }

    /// The 15 digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Type allocation code (8 digits).
    pub fn tac(&self) -> &str {
        self.0.get(..8).unwrap_or("")
    }

    /// Serial number (6 digits).
    pub fn snr(&self) -> &str {
        self.0.get(8..14).unwrap_or("")
    }

    /// IMEISV with software version `svn` (16 digits).
    pub fn imeisv(&self, svn: &Svn) -> String {
        format!("{}{}{}", self.tac(), self.snr(), svn.as_str())
    }
}

impl TryFrom<String> for Imei {
    type Error = ImeiError;
    fn try_from(s: String) -> Result<Imei, ImeiError> {
        Imei::parse(&s)
    }
}

impl From<Imei> for String {
    fn from(i: Imei) -> String {
        i.0
    }
}

impl std::fmt::Display for Imei {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A software version number (2 digits; TS 23.003 §6.2.2; 99 is reserved).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Svn(String);

impl Svn {
    pub fn parse(s: &str) -> Result<Svn, ImeiError> {
        let s = s.trim();
        if s.len() != 2 || !s.bytes().all(|b| b.is_ascii_digit()) || s == "99" {
            return Err(ImeiError::Svn(s.to_string()));
        }
        Ok(Svn(s.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Default for Svn {
    fn default() -> Svn {
        Svn("01".into())
    }
}

impl TryFrom<String> for Svn {
    type Error = ImeiError;
    fn try_from(s: String) -> Result<Svn, ImeiError> {
        Svn::parse(&s)
    }
}

impl From<Svn> for String {
    fn from(s: Svn) -> String {
        s.0
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn computes_ts23003_annex_b_check_digit() {
        // TS 23.003 Annex B example: IMEI 49015420323751 → check digit 8.
        assert_eq!(luhn_check_digit("49015420323751"), Some(8));
        assert_eq!(
            Imei::parse("49015420323751").unwrap().as_str(),
            "490154203237518"
        );
    }

    #[test]
    fn rejects_wrong_check_digit() {
        assert_eq!(
            Imei::parse("490154203237519"),
            Err(ImeiError::CheckDigit("490154203237519".into(), 8))
        );
    }

    #[test]
    fn rejects_non_digits_and_wrong_lengths() {
        for bad in [
            "",
            "12345",
            "4901542032375x8",
            "4901542032375180",
            "49015420 323751",
        ] {
            assert!(Imei::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn imeisv_replaces_check_digit_with_svn() {
        let i = Imei::parse("490154203237518").unwrap();
        assert_eq!(i.tac(), "49015420");
        assert_eq!(i.snr(), "323751");
        assert_eq!(i.imeisv(&Svn::parse("07").unwrap()), "4901542032375107");
    }

    #[test]
    fn derived_imeis_are_valid_and_distinct() {
        let a = Imei::derived("m0", 1);
        let b = Imei::derived("m0", 2);
        assert_ne!(a, b);
        for i in [&a, &b] {
            assert_eq!(Imei::parse(i.as_str()).as_ref(), Ok(i));
        }
    }

    #[test]
    fn svn_99_is_reserved() {
        assert!(Svn::parse("99").is_err());
        assert!(Svn::parse("1").is_err());
        assert_eq!(Svn::parse("42").unwrap().as_str(), "42");
    }
}
