//! Command errors and their one mapping to `+CME ERROR` codes (3GPP TS 27.007 §9.2).

/// Mobile termination error (TS 27.007 §9.2.1 / §9.2.2). `code()` and `text()` give the
/// numeric and verbose forms used by `+CMEE=1` and `+CMEE=2`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmeError {
    PhoneFailure,
    NoConnection,
    OperationNotAllowed,
    OperationNotSupported,
    PhSimPinRequired,
    SimNotInserted,
    SimPinRequired,
    SimPukRequired,
    SimFailure,
    SimBusy,
    SimWrong,
    IncorrectPassword,
    SimPin2Required,
    SimPuk2Required,
    MemoryFull,
    InvalidIndex,
    NotFound,
    MemoryFailure,
    TextTooLong,
    InvalidCharacters,
    DialStringTooLong,
    InvalidDialString,
    NoNetworkService,
    NetworkTimeout,
    NetworkNotAllowedEmergencyOnly,
    IncorrectParameters,
    CommandDisabled,
    Aborted,
    UnexpectedDataValue,
    SystemFailure,
    DataMissing,
    Unknown,
    ImeiNotAccepted,
    IllegalMe,
    PsServicesNotAllowed,
    PlmnNotAllowed,
    MissingOrUnknownApn,
    ServiceOptionNotSubscribed,
    UnspecifiedGprsError,
    PdpAuthenticationFailure,
}

impl CmeError {
    /// The numeric code (TS 27.007 §9.2).
    pub fn code(self) -> u16 {
        use CmeError::*;
        match self {
            PhoneFailure => 0,
            NoConnection => 1,
            OperationNotAllowed => 3,
            OperationNotSupported => 4,
            PhSimPinRequired => 5,
            SimNotInserted => 10,
            SimPinRequired => 11,
            SimPukRequired => 12,
            SimFailure => 13,
            SimBusy => 14,
            SimWrong => 15,
            IncorrectPassword => 16,
            SimPin2Required => 17,
            SimPuk2Required => 18,
            MemoryFull => 20,
            InvalidIndex => 21,
            NotFound => 22,
            MemoryFailure => 23,
            TextTooLong => 24,
            InvalidCharacters => 25,
            DialStringTooLong => 26,
            InvalidDialString => 27,
            NoNetworkService => 30,
            NetworkTimeout => 31,
            NetworkNotAllowedEmergencyOnly => 32,
            IncorrectParameters => 50,
            CommandDisabled => 51,
            Aborted => 52,
            UnexpectedDataValue => 59,
            SystemFailure => 60,
            DataMissing => 61,
            Unknown => 100,
            ImeiNotAccepted => 105,
            IllegalMe => 106,
            PsServicesNotAllowed => 107,
            PlmnNotAllowed => 111,
            MissingOrUnknownApn => 127,
            ServiceOptionNotSubscribed => 133,
            UnspecifiedGprsError => 148,
            PdpAuthenticationFailure => 149,
        }
    }

    /// The verbose text (TS 27.007 §9.2).
    pub fn text(self) -> &'static str {
        use CmeError::*;
        match self {
            PhoneFailure => "phone failure",
            NoConnection => "no connection to phone",
            OperationNotAllowed => "operation not allowed",
            OperationNotSupported => "operation not supported",
            PhSimPinRequired => "PH-SIM PIN required",
            SimNotInserted => "SIM not inserted",
            SimPinRequired => "SIM PIN required",
            SimPukRequired => "SIM PUK required",
            SimFailure => "SIM failure",
            SimBusy => "SIM busy",
            SimWrong => "SIM wrong",
            IncorrectPassword => "incorrect password",
            SimPin2Required => "SIM PIN2 required",
            SimPuk2Required => "SIM PUK2 required",
            MemoryFull => "memory full",
            InvalidIndex => "invalid index",
            NotFound => "not found",
            MemoryFailure => "memory failure",
            TextTooLong => "text string too long",
            InvalidCharacters => "invalid characters in text string",
            DialStringTooLong => "dial string too long",
            InvalidDialString => "invalid characters in dial string",
            NoNetworkService => "no network service",
            NetworkTimeout => "network timeout",
            NetworkNotAllowedEmergencyOnly => "network not allowed - emergency calls only",
            IncorrectParameters => "incorrect parameters",
            CommandDisabled => "command implemented but currently disabled",
            Aborted => "command aborted by user",
            UnexpectedDataValue => "unexpected data value",
            SystemFailure => "system failure",
            DataMissing => "data missing",
            Unknown => "unknown",
            ImeiNotAccepted => "IMEI not accepted",
            IllegalMe => "Illegal ME",
            PsServicesNotAllowed => "GPRS services not allowed",
            PlmnNotAllowed => "PLMN not allowed",
            MissingOrUnknownApn => "missing or unknown APN",
            ServiceOptionNotSubscribed => "requested service option not subscribed",
            UnspecifiedGprsError => "unspecified GPRS error",
            PdpAuthenticationFailure => "PDP authentication failure",
        }
    }
}

impl CmeError {
    /// Every code, for lookups by number.
    pub const ALL: [CmeError; 40] = {
        use CmeError::*;
        [
            PhoneFailure,
            NoConnection,
            OperationNotAllowed,
            OperationNotSupported,
            PhSimPinRequired,
            SimNotInserted,
            SimPinRequired,
            SimPukRequired,
            SimFailure,
            SimBusy,
            SimWrong,
            IncorrectPassword,
            SimPin2Required,
            SimPuk2Required,
            MemoryFull,
            InvalidIndex,
            NotFound,
            MemoryFailure,
            TextTooLong,
            InvalidCharacters,
            DialStringTooLong,
            InvalidDialString,
            NoNetworkService,
            NetworkTimeout,
            NetworkNotAllowedEmergencyOnly,
            IncorrectParameters,
            CommandDisabled,
            Aborted,
            UnexpectedDataValue,
            SystemFailure,
            DataMissing,
            Unknown,
            ImeiNotAccepted,
            IllegalMe,
            PsServicesNotAllowed,
            PlmnNotAllowed,
            MissingOrUnknownApn,
            ServiceOptionNotSubscribed,
            UnspecifiedGprsError,
            PdpAuthenticationFailure,
        ]
    };

    /// The error with numeric code `code`, if this modem knows it.
    pub fn from_code(code: u16) -> Option<CmeError> {
        CmeError::ALL.into_iter().find(|e| e.code() == code)
    }
}

/// Why a command failed. Mapped to the final result code in exactly one place
/// ([`crate::format`]): `Cme` follows `+CMEE` (0 → `ERROR`, 1 → `+CME ERROR: <n>`,
/// 2 → `+CME ERROR: <text>`), `Cms` is always `+CMS ERROR: <n>` (TS 27.005 §3.2.5), and
/// `Syntax`/`Unknown` are a plain `ERROR` (or the quirk profile's text for unknown commands).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CmdError {
    #[error("+CME ERROR: {}", .0.code())]
    Cme(CmeError),
    #[error("+CMS ERROR: {0}")]
    Cms(u16),
    /// Malformed parameters or a form the command does not have.
    #[error("syntax error")]
    Syntax,
    /// A command this modem does not implement.
    #[error("unknown command")]
    Unknown,
}

impl From<CmeError> for CmdError {
    fn from(e: CmeError) -> Self {
        CmdError::Cme(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn from_code_finds_every_listed_error() {
        for e in CmeError::ALL {
            assert_eq!(CmeError::from_code(e.code()), Some(e));
        }
        assert_eq!(CmeError::from_code(9999), None);
    }
}
