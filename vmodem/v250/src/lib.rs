//! The V.250 engine of one AT port, sans-IO (ITU-T V.250, 3GPP TS 27.007 §4–5).
//!
//! Bytes from the host go into [`Port::feed`]; it assembles lines ([`line`]), tokenizes them
//! ([`token`]), executes basic settings (E, V, Q, X, Z, &C, &D, &F, S-registers) itself, hands
//! every other command to an [`Executor`], and formats echo, information text, the one final
//! result code and queued URCs ([`format`]). Character-set conversion for `+CSCS` is in
//! [`charset`].
//!
//! The data types below are the seam between this engine and the command handlers.

pub mod charset;
pub mod error;
pub mod format;
pub mod line;
pub mod port;
pub mod token;

pub use port::{Port, PortOptions};

use crate::error::CmdError;

/// Character sets of `+CSCS` (TS 27.007 §5.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Charset {
    /// GSM 7-bit default alphabet (TS 23.038), one byte per character on the wire.
    Gsm,
    /// International reference alphabet (ITU-T T.50, i.e. ASCII).
    #[default]
    Ira,
    /// 16-bit UCS-2 as 4 hex digits per character.
    Ucs2,
    /// ISO 8859-1.
    Latin1,
    /// UTF-8 (a common vendor extension).
    Utf8,
    /// Hex of the GSM alphabet bytes.
    Hex,
}

impl Charset {
    /// The name used by `+CSCS` ("GSM", "IRA", "UCS2", "8859-1", "UTF-8", "HEX").
    pub fn name(self) -> &'static str {
        match self {
            Charset::Gsm => "GSM",
            Charset::Ira => "IRA",
            Charset::Ucs2 => "UCS2",
            Charset::Latin1 => "8859-1",
            Charset::Utf8 => "UTF-8",
            Charset::Hex => "HEX",
        }
    }

    /// Parses a `+CSCS` name, case-insensitively.
    pub fn from_name(s: &str) -> Option<Charset> {
        let all = [
            Charset::Gsm,
            Charset::Ira,
            Charset::Ucs2,
            Charset::Latin1,
            Charset::Utf8,
            Charset::Hex,
        ];
        all.into_iter().find(|c| c.name().eq_ignore_ascii_case(s))
    }
}

/// The settings of one port (V.250 §6.2–6.3, TS 27.007 `+CMEE`/`+CSCS`). Restored by `ATZ` /
/// `AT&F` from [`Settings::factory`] of the port's profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// `E`: echo command characters.
    pub echo: bool,
    /// `V`: verbose (`true`, text) or numeric (`false`) result codes.
    pub verbose: bool,
    /// `Q`: suppress result codes.
    pub quiet: bool,
    /// `X`: result code selection (0–4).
    pub x: u8,
    /// `&C`, `&D`: DCD and DTR behaviour (stored; a PTY has no modem-control lines).
    pub amp_c: u8,
    pub amp_d: u8,
    /// `+CMEE`: 0 `ERROR`, 1 numeric, 2 verbose.
    pub cmee: u8,
    /// `+CSCS`.
    pub charset: Charset,
    /// S-registers S0..S12 (S3 line terminator, S4 response formatting, S5 backspace).
    pub s: [u8; 13],
}

impl Settings {
    /// Factory defaults: E1 V1 Q0 X4 &C1 &D2, `+CMEE=0`, IRA, S3=13 S4=10 S5=8 — what pySim and
    /// lpac expect of a modem they have never configured.
    pub fn factory() -> Settings {
        let mut s = [0u8; 13];
        s[2] = b'+';
        s[3] = 13;
        s[4] = 10;
        s[5] = 8;
        s[6] = 2;
        s[7] = 50;
        s[8] = 2;
        s[10] = 14;
        s[12] = 50;
        Settings {
            echo: true,
            verbose: true,
            quiet: false,
            x: 4,
            amp_c: 1,
            amp_d: 2,
            cmee: 0,
            charset: Charset::Ira,
            s,
        }
    }
}

impl Default for Settings {
    fn default() -> Self {
        Settings::factory()
    }
}

/// One parameter of an extended set command, as written on the line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Param {
    /// Nothing between the commas (`AT+CPOL=,2`).
    Omitted,
    /// An unquoted token (decimal number, hex digits, or a bare word), spaces removed, case kept.
    Bare(String),
    /// A quoted string with `\HH` escapes resolved (raw bytes of the current character set).
    Quoted(Vec<u8>),
}

/// The form of an extended command (V.250 §5.4.2–5.4.3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExtOp {
    /// `+NAME=?`
    Test,
    /// `+NAME?`
    Read,
    /// `+NAME=<params>` (also `+NAME=` with no parameters: one `Omitted`).
    Set(Vec<Param>),
    /// `+NAME`
    Exec,
}

/// One command of a command line, fully tokenized.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// A basic command: `name` upper-case with its `&` if any (`"E"`, `"&C"`, `"I"`, `"H"`),
    /// `arg` its decimal argument if given.
    Basic { name: String, arg: Option<u32> },
    /// `Sn?`
    SRead(u8),
    /// `Sn=v`
    SSet(u8, u32),
    /// `D<dial string>`: the rest of the line, as written (a trailing `;` means voice).
    Dial(String),
    /// An extended command: `name` upper-case with its prefix (`"+CGSN"`, `"^SCFG"`, `"%XICCID"`).
    Extended { name: String, op: ExtOp },
}

/// Final result codes (V.250 §5.7.1, TS 27.007 §9.2). Errors are [`CmdError`]s, formatted in
/// [`format`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Final {
    Ok,
    /// `CONNECT` with an optional text (`CONNECT 150000000`); the port enters data mode.
    Connect(Option<String>),
    Ring,
    NoCarrier,
    NoDialtone,
    Busy,
    NoAnswer,
}

/// What an executed command produced: information text lines (already encoded for the port's
/// character set, without CR/LF) and its final result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub info: Vec<String>,
    pub fin: Final,
}

impl Reply {
    /// `OK` with no information text.
    pub fn ok() -> Reply {
        Reply {
            info: Vec::new(),
            fin: Final::Ok,
        }
    }

    /// `OK` after the given lines.
    pub fn lines<I: IntoIterator<Item = String>>(lines: I) -> Reply {
        Reply {
            info: lines.into_iter().collect(),
            fin: Final::Ok,
        }
    }
}

/// Executes the commands the engine does not handle itself: every extended command, `D`, `H`,
/// `O`, `A`, `I`, `S0`-style device registers are the engine's. Implemented by the modem over its
/// device model; by test doubles in unit tests.
pub trait Executor {
    /// Runs one command. `settings` are the port's (commands such as `+CMEE` and `+CSCS` change
    /// them). Returning an error ends the command line (V.250 §5.2.1: later commands are not
    /// executed).
    fn execute(&mut self, settings: &mut Settings, cmd: &Command) -> Result<Reply, CmdError>;

    /// Called when the data call ends — `ATH` (also from the online-command state after the
    /// `+++` escape, which only suspends the call so that `ATO` can resume it) or the client
    /// closing the port — so the device can tear the call down.
    fn data_mode_ended(&mut self) {}
}
