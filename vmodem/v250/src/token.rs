//! Tokenizer of a command line's body (the characters after `AT`), ITU-T V.250 §5.3–5.4, and
//! parameter accessors for command handlers.
//!
//! Outside double quotes the line is case-insensitive and spaces (and stray control characters)
//! are ignored. Elements:
//! - basic commands: a letter with an optional decimal argument (`E0`, `V1`, `I`, `X4`), or `&`
//!   and a letter (`&C1`, `&F`); one may follow another directly (`ATE0V1`);
//! - S-registers: `Sn?` and `Sn=v` (V.250 §5.3.2);
//! - `D`: the rest of the line is the dial string (V.250 §6.3.1), kept as written except
//!   spaces (case matters in 27.007 dial modifiers: `I` vs `i`);
//! - extended commands (§5.4): a prefix `+ ^ $ # % ! *` and up to 16 name characters
//!   `A-Z 0-9 ! % - . / : _`, then `=?` (test), `?` (read), `=<params>` (set) or nothing
//!   (execute). After an extended command only `;` or the end of the line may follow.
//! - parameters (§5.4.2): comma-separated; empty → [`Param::Omitted`], unquoted →
//!   [`Param::Bare`] (spaces removed, case kept), `"…"` → [`Param::Quoted`] with `\HH` escapes
//!   resolved.
//!
//! [`render`] is the inverse: it writes commands as a line body that parses back equal.

use std::fmt;
use std::ops::RangeInclusive;

use super::{charset, Charset, Command, ExtOp, Param};
use crate::error::{CmdError, CmeError};

/// Longest extended-command name after the prefix (V.250 §5.4.1 recommends at most 16).
pub const MAX_NAME: usize = 16;

/// Prefixes of extended commands: `+` (V.250, 27.007) and the vendor prefixes seen in the wild.
pub const PREFIXES: &[u8] = b"+^$#%!*";

/// A malformed command line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("syntax error at offset {pos}: {what}")]
pub struct SyntaxError {
    /// Byte offset in the body (after `AT`).
    pub pos: usize,
    /// What was expected or wrong.
    pub what: &'static str,
}

impl From<SyntaxError> for CmdError {
    fn from(_: SyntaxError) -> CmdError {
        CmdError::Syntax
    }
}

/// Whether `c` (upper-cased) may appear in an extended command's name (V.250 §5.4.1).
fn is_name_char(c: u8) -> bool {
    c.is_ascii_uppercase() || c.is_ascii_digit() || b"!%-./:_".contains(&c)
}

/// Outside quotes: spaces and control characters are ignored (V.250 §5.2.2, §5.3).
fn is_ignored(c: u8) -> bool {
    c <= b' ' || c == 0x7F
}

/// A cursor over the body with checked takes.
struct Cur<'a> {
    b: &'a [u8],
    i: usize,
}

impl Cur<'_> {
    /// The next significant byte (ignored characters skipped), as written.
    fn peek(&mut self) -> Option<u8> {
        while let Some(&c) = self.b.get(self.i) {
            if is_ignored(c) {
                self.i += 1;
            } else {
                return Some(c);
            }
        }
        None
    }

    /// The next significant byte, upper-cased.
    fn peek_up(&mut self) -> Option<u8> {
        self.peek().map(|c| c.to_ascii_uppercase())
    }

    fn bump(&mut self) {
        self.i += 1;
    }

    fn err(&self, what: &'static str) -> SyntaxError {
        SyntaxError { pos: self.i, what }
    }

    /// An optional decimal number.
    fn number(&mut self) -> Result<Option<u32>, SyntaxError> {
        let mut n: Option<u32> = None;
        while let Some(c) = self.peek().filter(u8::is_ascii_digit) {
            let v = n
                .unwrap_or(0)
                .checked_mul(10)
                .and_then(|v| v.checked_add(u32::from(c - b'0')))
                .ok_or_else(|| self.err("number too large"))?;
            n = Some(v);
            self.bump();
        }
        Ok(n)
    }

    /// A quoted string; the cursor is on the opening quote. Quotes and backslashes inside are
    /// written `\22` and `\5C` (V.250 §5.4.2.2).
    fn quoted(&mut self) -> Result<Vec<u8>, SyntaxError> {
        self.bump();
        let mut out = Vec::new();
        loop {
            let Some(&c) = self.b.get(self.i) else {
                return Err(self.err("unterminated string"));
            };
            self.bump();
            match c {
                b'"' => return Ok(out),
                b'\\' => {
                    let hi = self.b.get(self.i).and_then(|&h| hex_val(h));
                    let lo = self.b.get(self.i + 1).and_then(|&h| hex_val(h));
                    match (hi, lo) {
                        (Some(hi), Some(lo)) => {
                            out.push(hi << 4 | lo);
                            self.i += 2;
                        }
                        _ => return Err(self.err("'\\' must be followed by two hex digits")),
                    }
                }
                _ => out.push(c),
            }
        }
    }

    /// The parameters of a set command, after its `=`.
    fn params(&mut self) -> Result<Vec<Param>, SyntaxError> {
        let mut params = Vec::new();
        loop {
            let p = match self.peek() {
                Some(b'"') => Param::Quoted(self.quoted()?),
                None | Some(b',') | Some(b';') => Param::Omitted,
                Some(_) => {
                    let mut s = String::new();
                    while let Some(c) = self.peek() {
                        if matches!(c, b',' | b';' | b'"') {
                            break;
                        }
                        if !c.is_ascii() {
                            return Err(self.err("non-ASCII character outside quotes"));
                        }
                        s.push(char::from(c));
                        self.bump();
                    }
                    Param::Bare(s)
                }
            };
            params.push(p);
            if self.peek() == Some(b',') {
                self.bump();
            } else {
                return Ok(params);
            }
        }
    }

    /// An extended command; the cursor is on its prefix.
    fn extended(&mut self, prefix: u8) -> Result<Command, SyntaxError> {
        self.bump();
        let mut name = String::from(char::from(prefix));
        while let Some(c) = self.peek_up().filter(|&c| is_name_char(c)) {
            if name.len() > MAX_NAME {
                return Err(self.err("extended command name too long"));
            }
            name.push(char::from(c));
            self.bump();
        }
        if name.len() == 1 {
            return Err(self.err("extended command name expected"));
        }
        let op = match self.peek() {
            Some(b'=') => {
                self.bump();
                if self.peek() == Some(b'?') {
                    self.bump();
                    ExtOp::Test
                } else {
                    ExtOp::Set(self.params()?)
                }
            }
            Some(b'?') => {
                self.bump();
                ExtOp::Read
            }
            _ => ExtOp::Exec,
        };
        Ok(Command::Extended { name, op })
    }

    /// `Sn?` or `Sn=v`; the cursor is after the `S`.
    fn s_register(&mut self) -> Result<Command, SyntaxError> {
        let n = self
            .number()?
            .ok_or_else(|| self.err("S-register number expected"))?;
        let n = u8::try_from(n).map_err(|_| self.err("S-register number too large"))?;
        match self.peek() {
            Some(b'?') => {
                self.bump();
                Ok(Command::SRead(n))
            }
            Some(b'=') => {
                self.bump();
                // V.250 §6.1.x: a missing value is taken as 0.
                Ok(Command::SSet(n, self.number()?.unwrap_or(0)))
            }
            _ => Err(self.err("'?' or '=' expected after an S-register")),
        }
    }

    /// The dial string: the rest of the line, ignored characters removed outside quotes.
    fn dial(&mut self) -> String {
        let rest = self.b.get(self.i..).unwrap_or_default();
        self.i = self.b.len();
        let mut out = Vec::with_capacity(rest.len());
        let mut quoted = false;
        for &c in rest {
            if c == b'"' {
                quoted = !quoted;
            }
            if quoted || !is_ignored(c) {
                out.push(c);
            }
        }
        String::from_utf8_lossy(&out).into_owned()
    }
}

fn hex_val(c: u8) -> Option<u8> {
    char::from(c)
        .to_digit(16)
        .and_then(|d| u8::try_from(d).ok())
}

/// Parses a command line's body (after `AT`, without the terminator) into its commands.
/// An empty body (`AT` alone) gives no commands.
pub fn parse(body: &[u8]) -> Result<Vec<Command>, SyntaxError> {
    let mut cur = Cur { b: body, i: 0 };
    let mut cmds = Vec::new();
    // After an extended command only `;` or the end may follow (V.250 §5.4.1).
    let mut need_sep = false;
    while let Some(c) = cur.peek_up() {
        if c == b';' {
            cur.bump();
            need_sep = false;
            continue;
        }
        if need_sep {
            return Err(cur.err("';' expected after an extended command"));
        }
        match c {
            _ if PREFIXES.contains(&c) => {
                cmds.push(cur.extended(c)?);
                need_sep = true;
            }
            b'D' => {
                cur.bump();
                cmds.push(Command::Dial(cur.dial()));
            }
            b'S' => {
                cur.bump();
                cmds.push(cur.s_register()?);
            }
            b'&' => {
                cur.bump();
                let l = cur
                    .peek_up()
                    .filter(u8::is_ascii_uppercase)
                    .ok_or_else(|| cur.err("letter expected after '&'"))?;
                cur.bump();
                let arg = cur.number()?;
                cmds.push(Command::Basic {
                    name: format!("&{}", char::from(l)),
                    arg,
                });
            }
            b'A'..=b'Z' => {
                cur.bump();
                let arg = cur.number()?;
                cmds.push(Command::Basic {
                    name: char::from(c).to_string(),
                    arg,
                });
            }
            _ => return Err(cur.err("command expected")),
        }
    }
    Ok(cmds)
}

/// Writes commands as a command-line body (without `AT`) that [`parse`] reads back equal:
/// extended commands are followed by `;` when more commands follow; quoted bytes that are not
/// printable ASCII, `"` and `\` are written as `\HH`. A [`Command::Dial`] must be the last.
pub fn render(cmds: &[Command]) -> String {
    let mut out = String::new();
    let mut iter = cmds.iter().peekable();
    while let Some(c) = iter.next() {
        out.push_str(&c.to_string());
        if matches!(c, Command::Extended { .. }) && iter.peek().is_some() {
            out.push(';');
        }
    }
    out
}

impl fmt::Display for Param {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Param::Omitted => Ok(()),
            Param::Bare(s) => f.write_str(s),
            Param::Quoted(bytes) => {
                f.write_str("\"")?;
                for &b in bytes {
                    if (0x20..0x7F).contains(&b) && b != b'"' && b != b'\\' {
                        write!(f, "{}", char::from(b))?;
                    } else {
                        write!(f, "\\{b:02X}")?;
                    }
                }
                f.write_str("\"")
            }
        }
    }
}

impl fmt::Display for Command {
    /// The command as written on a line (without `AT`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Command::Basic { name, arg } => {
                f.write_str(name)?;
                match arg {
                    Some(a) => write!(f, "{a}"),
                    None => Ok(()),
                }
            }
            Command::SRead(n) => write!(f, "S{n}?"),
            Command::SSet(n, v) => write!(f, "S{n}={v}"),
            Command::Dial(s) => write!(f, "D{s}"),
            Command::Extended { name, op } => {
                f.write_str(name)?;
                match op {
                    ExtOp::Test => f.write_str("=?"),
                    ExtOp::Read => f.write_str("?"),
                    ExtOp::Exec => Ok(()),
                    ExtOp::Set(params) => {
                        f.write_str("=")?;
                        for (i, p) in params.iter().enumerate() {
                            if i > 0 {
                                f.write_str(",")?;
                            }
                            write!(f, "{p}")?;
                        }
                        Ok(())
                    }
                }
            }
        }
    }
}

impl Command {
    /// The command's name and form without parameter values (`+CPIN=`, `+CREG?`, `E`, `S3=`,
    /// `D`): what may be logged of any command.
    pub fn label(&self) -> String {
        match self {
            Command::Basic { name, .. } => name.clone(),
            Command::SRead(n) => format!("S{n}?"),
            Command::SSet(n, _) => format!("S{n}="),
            Command::Dial(_) => "D".to_string(),
            Command::Extended { name, op } => {
                let form = match op {
                    ExtOp::Test => "=?",
                    ExtOp::Read => "?",
                    ExtOp::Set(_) => "=",
                    ExtOp::Exec => "",
                };
                format!("{name}{form}")
            }
        }
    }

    /// Whether the command's parameters are secret (PINs, passwords) or write an IMEI, so that
    /// their values must not be logged.
    pub fn is_sensitive(&self) -> bool {
        const SECRET: &[&str] = &[
            "+CPIN",
            "+CPIN2",
            "+CLCK",
            "+CPWD",
            "+EGMR",
            "+SIMEI",
            "%IMEIWRITE",
            "+CSIM",
            "+CGLA",
            "+CRLA",
            "^CPIN",
            "+QPINC",
            "#CGSN",
        ];
        match self {
            Command::Extended { name, .. } => SECRET.contains(&name.as_str()),
            Command::Dial(_) => true,
            _ => false,
        }
    }
}

/// A parameter that is not what the command needs: `+CME ERROR: 50` (incorrect parameters).
fn bad_param() -> CmdError {
    CmdError::Cme(CmeError::IncorrectParameters)
}

/// The `i`-th parameter of a set command, [`Param::Omitted`] beyond the last.
pub fn nth(params: &[Param], i: usize) -> &Param {
    params.get(i).unwrap_or(&Param::Omitted)
}

/// Refuses more than `max` parameters (`+CME ERROR: 50`).
pub fn at_most(params: &[Param], max: usize) -> Result<(), CmdError> {
    if params.len() > max {
        Err(bad_param())
    } else {
        Ok(())
    }
}

/// Accessors for command handlers. Wrong values give `+CME ERROR: 50` (incorrect parameters);
/// text that does not decode in the port's character set gives `+CME ERROR: 25` (invalid
/// characters); formatting per `+CMEE` happens in [`super::format`].
impl Param {
    pub fn is_omitted(&self) -> bool {
        matches!(self, Param::Omitted)
    }

    /// The characters as written (bare or quoted), without character-set conversion.
    fn raw(&self) -> Option<&[u8]> {
        match self {
            Param::Omitted => None,
            Param::Bare(s) => Some(s.as_bytes()),
            Param::Quoted(b) => Some(b),
        }
    }

    /// A decimal number (bare, or quoted digits as some clients send) within `range`.
    pub fn as_u64(&self, range: RangeInclusive<u64>) -> Result<u64, CmdError> {
        let raw = self.raw().ok_or_else(bad_param)?;
        if raw.is_empty() || !raw.iter().all(u8::is_ascii_digit) {
            return Err(bad_param());
        }
        let mut v: u64 = 0;
        for &d in raw {
            v = v
                .checked_mul(10)
                .and_then(|v| v.checked_add(u64::from(d - b'0')))
                .ok_or_else(bad_param)?;
        }
        if range.contains(&v) {
            Ok(v)
        } else {
            Err(bad_param())
        }
    }

    /// A decimal number within `range`.
    pub fn as_u32(&self, range: RangeInclusive<u32>) -> Result<u32, CmdError> {
        let v = self.as_u64(u64::from(*range.start())..=u64::from(*range.end()))?;
        u32::try_from(v).map_err(|_| bad_param())
    }

    /// `None` if omitted, else [`Param::as_u32`].
    pub fn opt_u32(&self, range: RangeInclusive<u32>) -> Result<Option<u32>, CmdError> {
        if self.is_omitted() {
            Ok(None)
        } else {
            self.as_u32(range).map(Some)
        }
    }

    /// A text parameter decoded from the port's character set (`+CSCS`): operator names,
    /// phone-book text, `+CSCS` itself. Bare words are accepted too.
    pub fn as_str(&self, cs: Charset) -> Result<String, CmdError> {
        let raw = self.raw().ok_or_else(bad_param)?;
        charset::decode(cs, raw).map_err(|_| CmdError::Cme(CmeError::InvalidCharacters))
    }

    /// `None` if omitted, else [`Param::as_str`].
    pub fn opt_str(&self, cs: Charset) -> Result<Option<String>, CmdError> {
        if self.is_omitted() {
            Ok(None)
        } else {
            self.as_str(cs).map(Some)
        }
    }

    /// The parameter as written, without character-set conversion (it must be UTF-8): for
    /// values 27.007 does not encode per `+CSCS` — PINs, AIDs, hex data, `<lac>`.
    pub fn as_text(&self) -> Result<String, CmdError> {
        let raw = self.raw().ok_or_else(bad_param)?;
        String::from_utf8(raw.to_vec()).map_err(|_| bad_param())
    }

    /// Hex digits of either case as bytes (`+CSIM`, `+CGLA`, `+CRSM` data); an odd count or a
    /// non-hex character is refused. Empty gives no bytes.
    pub fn as_hex(&self) -> Result<Vec<u8>, CmdError> {
        let raw = self.raw().ok_or_else(bad_param)?;
        if !raw.len().is_multiple_of(2) {
            return Err(bad_param());
        }
        raw.chunks_exact(2)
            .map(|p| {
                match (
                    p.first().and_then(|&c| hex_val(c)),
                    p.get(1).and_then(|&c| hex_val(c)),
                ) {
                    (Some(hi), Some(lo)) => Ok(hi << 4 | lo),
                    _ => Err(bad_param()),
                }
            })
            .collect()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn basic(name: &str, arg: Option<u32>) -> Command {
        Command::Basic {
            name: name.into(),
            arg,
        }
    }

    fn ext(name: &str, op: ExtOp) -> Command {
        Command::Extended {
            name: name.into(),
            op,
        }
    }

    fn bare(s: &str) -> Param {
        Param::Bare(s.into())
    }

    fn p(s: &str) -> Vec<Command> {
        parse(s.as_bytes()).unwrap()
    }

    #[test]
    fn parses_empty_line_as_no_commands() {
        assert_eq!(p(""), vec![]);
        assert_eq!(p("  ;"), vec![]);
    }

    #[test]
    fn parses_concatenated_basic_commands() {
        assert_eq!(p("E0V1"), vec![basic("E", Some(0)), basic("V", Some(1))]);
        assert_eq!(p("x4"), vec![basic("X", Some(4))]);
        assert_eq!(p("&c1"), vec![basic("&C", Some(1))]);
        assert_eq!(p("Z"), vec![basic("Z", None)]);
        assert_eq!(p("I"), vec![basic("I", None)]);
    }

    #[test]
    fn ignores_spaces_and_case_outside_quotes() {
        assert_eq!(
            p(" e 0 ; + c mee = 1 "),
            vec![
                basic("E", Some(0)),
                ext("+CMEE", ExtOp::Set(vec![bare("1")]))
            ]
        );
    }

    #[test]
    fn parses_extended_forms() {
        assert_eq!(p("+CSIM=?"), vec![ext("+CSIM", ExtOp::Test)]);
        assert_eq!(p("+CPIN?"), vec![ext("+CPIN", ExtOp::Read)]);
        assert_eq!(p("+CGMI"), vec![ext("+CGMI", ExtOp::Exec)]);
        assert_eq!(
            p("+CSCS=\"UCS2\""),
            vec![ext(
                "+CSCS",
                ExtOp::Set(vec![Param::Quoted(b"UCS2".to_vec())])
            )]
        );
        assert_eq!(p("+X="), vec![ext("+X", ExtOp::Set(vec![Param::Omitted]))]);
    }

    #[test]
    fn parses_vendor_prefixes() {
        assert_eq!(p("^SCFG?"), vec![ext("^SCFG", ExtOp::Read)]);
        assert_eq!(p("%xiccid"), vec![ext("%XICCID", ExtOp::Exec)]);
        assert_eq!(p("!ICCID?"), vec![ext("!ICCID", ExtOp::Read)]);
        assert_eq!(
            p("*CNTI=2"),
            vec![ext("*CNTI", ExtOp::Set(vec![bare("2")]))]
        );
        assert_eq!(p("#CCID;$QCSIMSTAT?").len(), 2);
    }

    #[test]
    fn parses_omitted_and_bare_params() {
        assert_eq!(
            p("+CPOL=,2"),
            vec![ext("+CPOL", ExtOp::Set(vec![Param::Omitted, bare("2")]))]
        );
        assert_eq!(
            p("+CRSM=176,12258,0,0,10"),
            vec![ext(
                "+CRSM",
                ExtOp::Set(["176", "12258", "0", "0", "10"].map(bare).to_vec())
            )]
        );
        assert_eq!(
            p("+X=1,"),
            vec![ext("+X", ExtOp::Set(vec![bare("1"), Param::Omitted]))]
        );
        assert_eq!(
            p("+X=a b,Cd"),
            vec![ext("+X", ExtOp::Set(vec![bare("ab"), bare("Cd")]))]
        );
    }

    #[test]
    fn keeps_case_and_spaces_inside_quotes() {
        assert_eq!(
            p("+CGLA=1,22,\"81e2 91\""),
            vec![ext(
                "+CGLA",
                ExtOp::Set(vec![
                    bare("1"),
                    bare("22"),
                    Param::Quoted(b"81e2 91".to_vec())
                ])
            )]
        );
    }

    #[test]
    fn resolves_quoted_hex_escapes() {
        assert_eq!(
            p(r#"+X="a\22b\5cc\0D""#),
            vec![ext(
                "+X",
                ExtOp::Set(vec![Param::Quoted(b"a\"b\\c\r".to_vec())])
            )]
        );
    }

    #[test]
    fn rejects_bad_escape_and_unterminated_string() {
        assert!(parse(br#"+X="a\2""#).is_err());
        assert!(parse(br#"+X="a\zz""#).is_err());
        assert!(parse(br#"+X="abc"#).is_err());
        assert!(parse(br#"+X="abc"d"#).is_err());
    }

    #[test]
    fn splits_extended_commands_on_semicolon() {
        assert_eq!(
            p("+CGMI;+CGSN"),
            vec![ext("+CGMI", ExtOp::Exec), ext("+CGSN", ExtOp::Exec)]
        );
        assert_eq!(
            p("+CMEE=1;+CSCS=\"IRA\""),
            vec![
                ext("+CMEE", ExtOp::Set(vec![bare("1")])),
                ext("+CSCS", ExtOp::Set(vec![Param::Quoted(b"IRA".to_vec())]))
            ]
        );
        assert_eq!(
            p("E0;+CGMI"),
            vec![basic("E", Some(0)), ext("+CGMI", ExtOp::Exec)]
        );
        assert_eq!(
            p("&F+CMEE=2"),
            vec![basic("&F", None), ext("+CMEE", ExtOp::Set(vec![bare("2")]))]
        );
    }

    #[test]
    fn rejects_basic_command_right_after_extended() {
        assert!(parse(b"+CREG?E0").is_err());
        assert!(parse(b"+CSIM=?X").is_err());
    }

    #[test]
    fn parses_s_registers() {
        assert_eq!(p("S3?"), vec![Command::SRead(3)]);
        assert_eq!(p("s12=50"), vec![Command::SSet(12, 50)]);
        assert_eq!(p("S0="), vec![Command::SSet(0, 0)]);
        assert_eq!(
            p("S3=13E0"),
            vec![Command::SSet(3, 13), basic("E", Some(0))]
        );
        assert!(parse(b"S3").is_err());
        assert!(parse(b"S?").is_err());
        assert!(parse(b"S256?").is_err());
    }

    #[test]
    fn dial_eats_rest_of_line_keeping_case() {
        assert_eq!(p("D*99***1#"), vec![Command::Dial("*99***1#".into())]);
        assert_eq!(
            p("E0D>SM1i;"),
            vec![basic("E", Some(0)), Command::Dial(">SM1i;".into())]
        );
        assert_eq!(p("D 123 4;+X"), vec![Command::Dial("1234;+X".into())]);
    }

    #[test]
    fn rejects_overlong_extended_name() {
        assert!(parse(b"+ABCDEFGHIJKLMNOP").is_ok());
        assert!(parse(b"+ABCDEFGHIJKLMNOPQ").is_err());
    }

    #[test]
    fn rejects_garbage() {
        for bad in [
            &b"+"[..],
            b"+=1",
            b"&1",
            b"@",
            b"E99999999999",
            b"\xC3\xA9",
            b"+X=\xC3",
        ] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn renders_commands_that_parse_back() {
        let cmds = vec![
            basic("E", Some(0)),
            basic("&C", None),
            Command::SSet(3, 13),
            ext(
                "+X",
                ExtOp::Set(vec![
                    Param::Omitted,
                    bare("1"),
                    Param::Quoted(b"a\"\\\x00\xff".to_vec()),
                ]),
            ),
            ext("+Y", ExtOp::Read),
            Command::Dial("*99#".into()),
        ];
        let line = render(&cmds);
        assert_eq!(line, r#"E0&CS3=13+X=,1,"a\22\5C\00\FF";+Y?;D*99#"#);
        assert_eq!(parse(line.as_bytes()).unwrap(), cmds);
    }

    #[test]
    fn labels_hide_parameter_values() {
        let c = &p("+CPIN=\"1234\"")[0];
        assert_eq!(c.label(), "+CPIN=");
        assert!(c.is_sensitive());
        assert!(!p("+CGMI")[0].is_sensitive());
    }

    #[test]
    fn param_as_u32_checks_range_and_digits() {
        assert_eq!(bare("12").as_u32(0..=20), Ok(12));
        assert_eq!(Param::Quoted(b"7".to_vec()).as_u32(0..=20), Ok(7));
        let e = Err(CmdError::Cme(CmeError::IncorrectParameters));
        assert_eq!(bare("21").as_u32(0..=20), e);
        assert_eq!(bare("-1").as_u32(0..=20), e);
        assert_eq!(bare("").as_u32(0..=20), e);
        assert_eq!(bare("99999999999999999999999").as_u32(0..=20), e);
        assert_eq!(Param::Omitted.as_u32(0..=20), e);
        assert_eq!(Param::Omitted.opt_u32(0..=20), Ok(None));
        assert_eq!(bare("3").opt_u32(0..=20), Ok(Some(3)));
        assert_eq!(bare("4294967296").as_u64(0..=u64::MAX), Ok(4294967296));
    }

    #[test]
    fn param_as_str_decodes_per_charset() {
        let q = Param::Quoted(b"00410042".to_vec());
        assert_eq!(q.as_str(Charset::Ucs2).unwrap(), "AB");
        assert_eq!(q.as_str(Charset::Ira).unwrap(), "00410042");
        assert_eq!(
            Param::Quoted(b"xyz".to_vec()).as_str(Charset::Ucs2),
            Err(CmdError::Cme(CmeError::InvalidCharacters))
        );
        assert_eq!(Param::Omitted.opt_str(Charset::Ira), Ok(None));
    }

    #[test]
    fn param_as_hex_accepts_either_case() {
        assert_eq!(
            Param::Quoted(b"81e2A0".to_vec()).as_hex(),
            Ok(vec![0x81, 0xE2, 0xA0])
        );
        assert!(Param::Quoted(b"81e".to_vec()).as_hex().is_err());
        assert!(Param::Quoted(b"8g".to_vec()).as_hex().is_err());
        assert_eq!(Param::Quoted(Vec::new()).as_hex(), Ok(vec![]));
    }

    #[test]
    fn nth_and_at_most_help_with_optional_params() {
        let ps = vec![bare("1")];
        assert_eq!(nth(&ps, 0), &bare("1"));
        assert_eq!(nth(&ps, 5), &Param::Omitted);
        assert!(at_most(&ps, 1).is_ok());
        assert!(at_most(&ps, 0).is_err());
    }
}
