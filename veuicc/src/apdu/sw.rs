//! Status words (ISO/IEC 7816-4 §5.6, ETSI TS 102 221 §10.2.1).

use std::fmt;

/// A status word SW1 SW2.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Sw(pub u16);

impl Sw {
    pub const OK: Sw = Sw(0x9000);
    /// TS 102 221: memory problem.
    pub const MEMORY_PROBLEM: Sw = Sw(0x6581);
    pub const WRONG_LENGTH: Sw = Sw(0x6700);
    /// Logical channel not supported.
    pub const CHANNEL_NOT_SUPPORTED: Sw = Sw(0x6881);
    pub const SECURE_MESSAGING_NOT_SUPPORTED: Sw = Sw(0x6882);
    /// Last command of the chain expected.
    pub const LAST_COMMAND_EXPECTED: Sw = Sw(0x6883);
    pub const CHAINING_NOT_SUPPORTED: Sw = Sw(0x6884);
    pub const COMMAND_INCOMPATIBLE: Sw = Sw(0x6981);
    pub const SECURITY_NOT_SATISFIED: Sw = Sw(0x6982);
    pub const AUTH_METHOD_BLOCKED: Sw = Sw(0x6983);
    pub const REFERENCE_DATA_INVALIDATED: Sw = Sw(0x6984);
    pub const CONDITIONS_NOT_SATISFIED: Sw = Sw(0x6985);
    pub const COMMAND_NOT_ALLOWED_NO_EF: Sw = Sw(0x6986);
    pub const WRONG_DATA: Sw = Sw(0x6A80);
    pub const FUNCTION_NOT_SUPPORTED: Sw = Sw(0x6A81);
    pub const FILE_NOT_FOUND: Sw = Sw(0x6A82);
    pub const RECORD_NOT_FOUND: Sw = Sw(0x6A83);
    pub const NOT_ENOUGH_MEMORY: Sw = Sw(0x6A84);
    pub const INCORRECT_P1P2: Sw = Sw(0x6A86);
    pub const REFERENCE_NOT_FOUND: Sw = Sw(0x6A88);
    pub const WRONG_P1P2: Sw = Sw(0x6B00);
    pub const INS_NOT_SUPPORTED: Sw = Sw(0x6D00);
    pub const CLA_NOT_SUPPORTED: Sw = Sw(0x6E00);
    pub const NO_PRECISE_DIAGNOSIS: Sw = Sw(0x6F00);
    /// TS 102 221 / ISO 7816-4: the selected file is terminated / state warning.
    pub const SELECTED_FILE_INVALIDATED: Sw = Sw(0x6283);

    /// `61xx`: xx more bytes available with GET RESPONSE (00 = 256 or more).
    pub fn bytes_remaining(n: usize) -> Sw {
        Sw(0x6100 | (n.min(256) % 256) as u16)
    }
    /// `6Cxx`: wrong Le, xx is the exact length.
    pub fn wrong_le(n: usize) -> Sw {
        Sw(0x6C00 | (n % 256) as u16)
    }
    /// `63Cx`: verification failed / x retries left.
    pub fn retries_left(n: u8) -> Sw {
        Sw(0x63C0 | (n.min(15)) as u16)
    }
    pub fn sw1(self) -> u8 {
        (self.0 >> 8) as u8
    }
    pub fn sw2(self) -> u8 {
        self.0 as u8
    }
    /// Normal processing (`9000`, `61xx`, `91xx`, `92xx`).
    pub fn is_success(self) -> bool {
        matches!(self.sw1(), 0x90 | 0x61 | 0x91 | 0x92)
    }
}

impl fmt::Display for Sw {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04X}", self.0)
    }
}

impl fmt::Debug for Sw {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Sw({:04X})", self.0)
    }
}
