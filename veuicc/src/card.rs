//! The seam every APDU carrier drives: a card core that answers one command APDU with one
//! response APDU and follows the power state. vpcd, the modem's +CSIM/+CGLA, the LPA's
//! in-process transport, benchmarks and fuzzers all use this trait and nothing else.

/// A smart card as seen by a reader: power events, an ATR, and APDU in → APDU out.
///
/// Implementations must never panic on any input and must always answer (a reader has no
/// time-outs: a card that does not answer hangs it).
pub trait CardCore: Send {
    /// The answer to reset. Available in every power state (vpcd polls it for presence).
    fn atr(&self) -> Vec<u8>;
    /// Cold start: volatile state (selected files, logical channels, sessions) starts afresh.
    fn power_on(&mut self);
    /// Power removed: volatile state is lost; persistent state is untouched.
    fn power_off(&mut self);
    /// Warm reset: same effect on volatile state as a power cycle.
    fn reset(&mut self);
    /// Processes one command APDU (raw bytes) and returns the raw response (data ‖ SW1 SW2).
    fn handle(&mut self, apdu: &[u8]) -> Vec<u8>;
}

/// Our ATR (ISO 7816-3 §8):
///
/// `3B 85 80 31 FE 45 | 80 73 B6 21 5F | TCK`
/// - `3B` direct convention; `T0 = 85`: TD1 present, 5 historical bytes.
/// - `TD1 = 80`: TD2 present, protocol T=0 offered first (lpac connects T=0 only).
/// - `TD2 = 31`: TA3 and TB3 present, protocol T=1; `TA3 = FE` (IFSC 254), `TB3 = 45` (BWI 4, CWI 5).
/// - Historical bytes (ISO 7816-4 §8.1.1): category `80` (compact-TLV follows), then card
///   capabilities `73 B6 21 5F`: selection by full DF name, path, file identifier, short EF id,
///   record number (`B6`); data coding `21`; extended Lc/Le, logical channel assignment by card
///   and by interface device, 8 or more logical channels (`5F`). No status indicator.
/// - `TCK`: XOR of T0 … last historical byte (required because T=1 is offered).
pub fn default_atr() -> Vec<u8> {
    let mut atr = vec![
        0x3B, 0x85, 0x80, 0x31, 0xFE, 0x45, 0x80, 0x73, 0xB6, 0x21, 0x5F,
    ];
    let tck = atr[1..].iter().fold(0u8, |a, b| a ^ b);
    atr.push(tck);
    atr
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atr_checksum_is_valid() {
        let atr = default_atr();
        assert_eq!(atr[1..].iter().fold(0u8, |a, b| a ^ b), 0);
        assert!(atr.len() <= 33);
    }
}
