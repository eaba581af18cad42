#![allow(clippy::unwrap_used)]
//! The engine's tracing: one `at{port, cmd}` span per executed command recording its result,
//! and no parameter values of PIN, password or IMEI-write commands at any level.

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use tracing_subscriber::fmt::format::FmtSpan;
use tracing_subscriber::fmt::MakeWriter;
use vmodem::error::{CmdError, CmeError};
use vmodem::v250::{Command, Executor, Port, PortOptions, Reply, Settings};

#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Capture {
    type Writer = Capture;

    fn make_writer(&'a self) -> Capture {
        self.clone()
    }
}

struct Pins;

impl Executor for Pins {
    fn execute(&mut self, st: &mut Settings, cmd: &Command) -> Result<Reply, CmdError> {
        match cmd {
            Command::Extended { name, .. } if name == "+CMEE" => {
                st.cmee = 1;
                Ok(Reply::ok())
            }
            Command::Extended { name, .. } if name == "+CPIN" => {
                Err(CmeError::IncorrectPassword.into())
            }
            _ => Ok(Reply::ok()),
        }
    }
}

/// Runs `lines` on a port with a TRACE-level subscriber and returns the log.
fn logged(lines: &[u8]) -> String {
    let cap = Capture::default();
    let sub = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_span_events(FmtSpan::CLOSE)
        .with_ansi(false)
        .with_writer(cap.clone())
        .finish();
    tracing::subscriber::with_default(sub, || {
        let mut p = Port::new(PortOptions::named("at0"));
        p.feed(lines, Instant::now(), &mut Pins);
    });
    let out = cap.0.lock().unwrap().clone();
    String::from_utf8(out).unwrap()
}

#[test]
fn span_per_command_records_result() {
    let log = logged(b"AT+CMEE=1;+CPIN=\"4321\"\r");
    assert!(log.contains("at{port=at0 cmd=+CMEE= result=OK}"), "{log}");
    assert!(
        log.contains("at{port=at0 cmd=+CPIN= result=+CME ERROR: 16}"),
        "{log}"
    );
}

#[test]
fn never_logs_pin_password_or_imei_values() {
    let log = logged(
        b"AT+CPIN=\"4321\"\rAT+CPIN=\"87654321\",\"4321\"\rAT+CLCK=\"SC\",0,\"4321\"\r\
          AT+CPWD=\"SC\",\"4321\",\"8765\"\rAT+EGMR=1,7,\"490154203237518\"\r\
          AT%IMEIWRITE=0,\"490154203237518\"\rAT+SIMEI=490154203237518\r",
    );
    for secret in ["4321", "8765", "490154203237518"] {
        assert!(!log.contains(secret), "{secret} logged: {log}");
    }
    assert!(log.contains("cmd=+CPWD="), "{log}");
}

#[test]
fn logs_other_commands_at_trace_level() {
    let log = logged(b"AT+COPS=3,2\r");
    assert!(log.contains("+COPS=3,2"), "{log}");
}
