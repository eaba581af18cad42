//! Response formatting (ITU-T V.250 §5.7, TS 27.007 §9.1–9.2): information text, final result
//! codes, errors per `+CMEE`, and URCs, following `V`, `Q`, S3 and S4 of the port.
//!
//! | | V1 (verbose) | V0 (numeric) |
//! |---|---|---|
//! | information text | `<S3><S4>text<S3><S4>` | `text<S3><S4>` |
//! | basic final result | `<S3><S4>OK<S3><S4>` | `0<S3>` |
//! | `+CME ERROR`/`+CMS ERROR`, URCs | `<S3><S4>line<S3><S4>` | `line<S3><S4>` |
//!
//! `Q1` suppresses final result codes (errors included), not information text or URCs; `X`
//! selects the call-progress results ([`select`]).
//! [`CmdError`] becomes a result code here and nowhere else.

use super::{Final, Settings};
use crate::error::CmdError;

/// V.250 §5.7.1 table 1: the basic result codes with their numeric forms.
fn basic_code(fin: &Final) -> (&'static str, u8) {
    match fin {
        Final::Ok => ("OK", 0),
        Final::Connect(_) => ("CONNECT", 1),
        Final::Ring => ("RING", 2),
        Final::NoCarrier => ("NO CARRIER", 3),
        Final::NoDialtone => ("NO DIALTONE", 6),
        Final::Busy => ("BUSY", 7),
        Final::NoAnswer => ("NO ANSWER", 8),
    }
}

/// `ERROR` is 4 (V.250 §5.7.1).
const ERROR: (&str, u8) = ("ERROR", 4);

/// The verbose text of a final result (`CONNECT 150000000`).
pub fn final_text(fin: &Final) -> String {
    match fin {
        Final::Connect(Some(t)) => format!("CONNECT {t}"),
        other => basic_code(other).0.to_string(),
    }
}

/// How an error is reported, independent of `V` and `Q`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ErrorCode {
    /// A basic result code (`ERROR` = 4), or the vendor's text for unknown commands.
    Basic(String),
    /// An extended result code line (`+CME ERROR: 10`, `+CMS ERROR: 310`).
    Extended(String),
}

/// TS 27.007 §9.1: `+CME ERROR` per `+CMEE` (0 `ERROR`, 1 numeric, 2 verbose); TS 27.005
/// §3.2.5: `+CMS ERROR: <n>`; syntax errors and unknown commands are `ERROR` (or the quirk
/// profile's text for unknown commands, e.g. `COMMAND NOT SUPPORT`).
pub fn error_code(cmee: u8, err: &CmdError, unknown_text: Option<&str>) -> ErrorCode {
    match err {
        CmdError::Cme(e) => match cmee {
            1 => ErrorCode::Extended(format!("+CME ERROR: {}", e.code())),
            2 => ErrorCode::Extended(format!("+CME ERROR: {}", e.text())),
            _ => ErrorCode::Basic(ERROR.0.to_string()),
        },
        CmdError::Cms(n) => ErrorCode::Extended(format!("+CMS ERROR: {n}")),
        CmdError::Syntax => ErrorCode::Basic(ERROR.0.to_string()),
        CmdError::Unknown => ErrorCode::Basic(unknown_text.unwrap_or(ERROR.0).to_string()),
    }
}

/// Appends information text lines (one command's response).
pub fn info(st: &Settings, lines: &[String], out: &mut Vec<u8>) {
    let (cr, lf) = (st.s[3], st.s[4]);
    if lines.is_empty() {
        return;
    }
    if st.verbose {
        out.extend([cr, lf]);
        for (i, l) in lines.iter().enumerate() {
            if i > 0 {
                out.extend([cr, lf]);
            }
            out.extend_from_slice(l.as_bytes());
        }
        out.extend([cr, lf]);
    } else {
        for l in lines {
            out.extend_from_slice(l.as_bytes());
            out.extend([cr, lf]);
        }
    }
}

/// A line framed like an extended result code (URCs, `+CME ERROR`).
fn extended_line(st: &Settings, line: &str, out: &mut Vec<u8>) {
    let (cr, lf) = (st.s[3], st.s[4]);
    if st.verbose {
        out.extend([cr, lf]);
    }
    out.extend_from_slice(line.as_bytes());
    out.extend([cr, lf]);
}

/// A basic result code: verbose text or number.
fn basic_result(st: &Settings, text: &str, num: u8, out: &mut Vec<u8>) {
    let (cr, lf) = (st.s[3], st.s[4]);
    if st.verbose {
        out.extend([cr, lf]);
        out.extend_from_slice(text.as_bytes());
        out.extend([cr, lf]);
    } else {
        out.extend_from_slice(num.to_string().as_bytes());
        out.push(cr);
    }
}

/// V.250 §6.2.7 `X`: which call-progress results are reported. X0 gives `CONNECT` without
/// text and reports busy and no-dial-tone as `NO CARRIER`; X1 adds the `CONNECT` text; X2 adds
/// `NO DIALTONE`; X3 adds `BUSY` (but not `NO DIALTONE`); X4 (the default) reports all.
pub fn select(x: u8, fin: &Final) -> Final {
    match (x, fin) {
        (0, Final::Connect(_)) => Final::Connect(None),
        (0 | 1 | 3, Final::NoDialtone) | (0..=2, Final::Busy) => Final::NoCarrier,
        _ => fin.clone(),
    }
}

/// Appends the final result code of a command line (nothing under `Q1`), as selected by `X`.
pub fn final_result(st: &Settings, fin: &Final, out: &mut Vec<u8>) {
    if st.quiet {
        return;
    }
    let fin = select(st.x, fin);
    basic_result(st, &final_text(&fin), basic_code(&fin).1, out);
}

/// Appends the final result code for an error (nothing under `Q1`).
pub fn error(st: &Settings, err: &CmdError, unknown_text: Option<&str>, out: &mut Vec<u8>) {
    if st.quiet {
        return;
    }
    match error_code(st.cmee, err, unknown_text) {
        ErrorCode::Basic(text) => basic_result(st, &text, ERROR.1, out),
        ErrorCode::Extended(line) => extended_line(st, &line, out),
    }
}

/// Appends the outcome of a command line: its final result or its error.
pub fn outcome(
    st: &Settings,
    res: &Result<Final, CmdError>,
    unknown_text: Option<&str>,
    out: &mut Vec<u8>,
) {
    match res {
        Ok(fin) => final_result(st, fin, out),
        Err(e) => error(st, e, unknown_text, out),
    }
}

/// The outcome as a short text for logs and spans (verbose form, no framing).
pub fn outcome_text(cmee: u8, res: &Result<Final, CmdError>, unknown_text: Option<&str>) -> String {
    match res {
        Ok(fin) => final_text(fin),
        Err(e) => match error_code(cmee, e, unknown_text) {
            ErrorCode::Basic(t) | ErrorCode::Extended(t) => t,
        },
    }
}

/// Appends an unsolicited result code line.
pub fn urc(st: &Settings, line: &str, out: &mut Vec<u8>) {
    extended_line(st, line, out);
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::error::CmeError;

    fn st(verbose: bool, quiet: bool, cmee: u8) -> Settings {
        Settings {
            verbose,
            quiet,
            cmee,
            ..Settings::factory()
        }
    }

    fn fin(s: &Settings, f: Final) -> Vec<u8> {
        let mut out = Vec::new();
        final_result(s, &f, &mut out);
        out
    }

    fn err(s: &Settings, e: CmdError, unknown: Option<&str>) -> Vec<u8> {
        let mut out = Vec::new();
        error(s, &e, unknown, &mut out);
        out
    }

    #[test]
    fn verbose_info_and_ok() {
        let s = st(true, false, 0);
        let mut out = Vec::new();
        info(&s, &["FakeModem Inc.".into()], &mut out);
        final_result(&s, &Final::Ok, &mut out);
        assert_eq!(out, b"\r\nFakeModem Inc.\r\n\r\nOK\r\n");
    }

    #[test]
    fn verbose_multi_line_info_is_framed_once() {
        let mut out = Vec::new();
        info(&st(true, false, 0), &["a".into(), "b".into()], &mut out);
        assert_eq!(out, b"\r\na\r\nb\r\n");
        out.clear();
        info(&st(true, false, 0), &[], &mut out);
        assert_eq!(out, b"");
    }

    #[test]
    fn numeric_results_under_v0() {
        let s = st(false, false, 0);
        let mut out = Vec::new();
        info(&s, &["x".into(), "y".into()], &mut out);
        assert_eq!(out, b"x\r\ny\r\n");
        let codes = [
            (Final::Ok, "0\r"),
            (Final::Connect(Some("150000000".into())), "1\r"),
            (Final::Ring, "2\r"),
            (Final::NoCarrier, "3\r"),
            (Final::NoDialtone, "6\r"),
            (Final::Busy, "7\r"),
            (Final::NoAnswer, "8\r"),
        ];
        for (f, want) in codes {
            assert_eq!(fin(&s, f), want.as_bytes());
        }
        assert_eq!(err(&s, CmdError::Syntax, None), b"4\r");
    }

    #[test]
    fn verbose_final_texts() {
        let s = st(true, false, 0);
        assert_eq!(fin(&s, Final::Connect(None)), b"\r\nCONNECT\r\n");
        assert_eq!(
            fin(&s, Final::Connect(Some("150000000".into()))),
            b"\r\nCONNECT 150000000\r\n"
        );
        assert_eq!(fin(&s, Final::NoCarrier), b"\r\nNO CARRIER\r\n");
        assert_eq!(fin(&s, Final::NoDialtone), b"\r\nNO DIALTONE\r\n");
    }

    #[test]
    fn x_selects_call_progress_results() {
        let mut s = st(true, false, 0);
        let connect = Final::Connect(Some("150000000".into()));
        let want = [
            (0, ["CONNECT", "NO CARRIER", "NO CARRIER"]),
            (1, ["CONNECT 150000000", "NO CARRIER", "NO CARRIER"]),
            (2, ["CONNECT 150000000", "NO DIALTONE", "NO CARRIER"]),
            (3, ["CONNECT 150000000", "NO CARRIER", "BUSY"]),
            (4, ["CONNECT 150000000", "NO DIALTONE", "BUSY"]),
        ];
        for (x, texts) in want {
            s.x = x;
            for (f, t) in [connect.clone(), Final::NoDialtone, Final::Busy]
                .into_iter()
                .zip(texts)
            {
                assert_eq!(fin(&s, f), format!("\r\n{t}\r\n").as_bytes(), "X{x}");
            }
            assert_eq!(fin(&s, Final::NoAnswer), b"\r\nNO ANSWER\r\n");
        }
    }

    #[test]
    fn quiet_suppresses_finals_but_not_info() {
        let s = st(true, true, 1);
        assert_eq!(fin(&s, Final::Ok), b"");
        assert_eq!(err(&s, CmeError::SimBusy.into(), None), b"");
        let mut out = Vec::new();
        info(&s, &["x".into()], &mut out);
        urc(&s, "+CREG: 1", &mut out);
        assert_eq!(out, b"\r\nx\r\n\r\n+CREG: 1\r\n");
    }

    #[test]
    fn cme_error_follows_cmee() {
        let e = CmdError::Cme(CmeError::SimNotInserted);
        assert_eq!(err(&st(true, false, 0), e.clone(), None), b"\r\nERROR\r\n");
        assert_eq!(
            err(&st(true, false, 1), e.clone(), None),
            b"\r\n+CME ERROR: 10\r\n"
        );
        assert_eq!(
            err(&st(true, false, 2), e.clone(), None),
            b"\r\n+CME ERROR: SIM not inserted\r\n"
        );
        assert_eq!(err(&st(false, false, 1), e, None), b"+CME ERROR: 10\r\n");
    }

    #[test]
    fn cms_error_ignores_cmee() {
        assert_eq!(
            err(&st(true, false, 0), CmdError::Cms(310), None),
            b"\r\n+CMS ERROR: 310\r\n"
        );
    }

    #[test]
    fn unknown_command_uses_vendor_text() {
        let s = st(true, false, 1);
        assert_eq!(err(&s, CmdError::Unknown, None), b"\r\nERROR\r\n");
        assert_eq!(
            err(&s, CmdError::Unknown, Some("COMMAND NOT SUPPORT")),
            b"\r\nCOMMAND NOT SUPPORT\r\n"
        );
        assert_eq!(
            err(
                &st(false, false, 1),
                CmdError::Unknown,
                Some("COMMAND NOT SUPPORT")
            ),
            b"4\r"
        );
        assert_eq!(err(&s, CmdError::Syntax, Some("X")), b"\r\nERROR\r\n");
    }

    #[test]
    fn uses_s3_and_s4() {
        let mut s = st(true, false, 0);
        s.s[3] = b'!';
        s.s[4] = b'#';
        assert_eq!(fin(&s, Final::Ok), b"!#OK!#");
        s.verbose = false;
        assert_eq!(fin(&s, Final::Ok), b"0!");
    }

    #[test]
    fn urc_framing_follows_v() {
        let mut out = Vec::new();
        urc(&st(true, false, 0), "RING", &mut out);
        urc(&st(false, false, 0), "+CREG: 1", &mut out);
        assert_eq!(out, b"\r\nRING\r\n+CREG: 1\r\n");
    }

    #[test]
    fn outcome_text_is_verbose_form() {
        assert_eq!(outcome_text(1, &Ok(Final::Ok), None), "OK");
        assert_eq!(
            outcome_text(1, &Err(CmeError::SimBusy.into()), None),
            "+CME ERROR: 14"
        );
        assert_eq!(
            outcome_text(0, &Err(CmeError::SimBusy.into()), None),
            "ERROR"
        );
    }
}
