//! Property test of the command handlers: any command this modem knows, in any form, with any
//! parameters, gets exactly one final result code and never panics; the modem keeps working.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::cell::RefCell;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use vmodem::config::{ModemConfig, SlotConfig};
use vmodem::control::ControlRequest;
use vmodem::device::network::Timing;
use vmodem::modem::{Modem, ModemOptions};

const NAMES: &[&str] = &[
    "+CGMI",
    "+CGMM",
    "+CGMR",
    "+CGSN",
    "+GSN",
    "+GCAP",
    "+CFUN",
    "+CMEE",
    "+CSCS",
    "+WS46",
    "+IFC",
    "+CTZU",
    "+CTZR",
    "+CPAS",
    "+CPIN",
    "+CIMI",
    "+CSIM",
    "+CRSM",
    "+CCHO",
    "+CCHC",
    "+CGLA",
    "+CLCK",
    "+CPWD",
    "+CNUM",
    "+CPLS",
    "+CPOL",
    "+CREG",
    "+CGREG",
    "+CEREG",
    "+C5GREG",
    "+COPS",
    "+CSQ",
    "+CESQ",
    "+CIND",
    "+CMER",
    "+CEMODE",
    "+CUSD",
    "+CMGF",
    "+CPMS",
    "+CNMI",
    "+CMGL",
    "+CSMS",
    "+CSCA",
    "+CMGR",
    "+CMGD",
    "+CMGS",
    "+CGDCONT",
    "+CGACT",
    "+CGATT",
    "+CGEREP",
    "+CGPADDR",
    "+CGDATA",
    "+CEER",
    "+QCCID",
    "+EGMR",
    "+QSIMSTAT",
    "+CICCID",
    "+SIMEI",
    "+CCID",
    "+XYZ",
];

fn param() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        (0u32..300).prop_map(|n| n.to_string()),
        any::<u32>().prop_map(|n| n.to_string()),
        "[0-9A-Fa-f]{0,40}".prop_map(|h| format!("\"{h}\"")),
        "[ -~&&[^\"\\\\]]{0,12}".prop_map(|t| format!("\"{t}\"")),
        Just("\"A0000005591010FFFFFFFF8900000100\"".to_string()),
        Just("\"00A40004023F00\"".to_string()),
        Just("\"SM\"".to_string()),
    ]
}

fn command() -> impl Strategy<Value = String> {
    (
        proptest::sample::select(NAMES),
        0u8..4,
        proptest::collection::vec(param(), 0..6),
    )
        .prop_map(|(name, form, params)| match form {
            0 => format!("AT{name}=?"),
            1 => format!("AT{name}?"),
            2 => format!("AT{name}"),
            _ => format!("AT{name}={}", params.join(",")),
        })
}

fn is_final(l: &str) -> bool {
    matches!(l, "OK" | "ERROR" | "CONNECT" | "NO CARRIER")
        || l.starts_with("+CME ERROR: ")
        || l.starts_with("+CMS ERROR: ")
}

#[test]
fn every_command_gets_one_final_result() {
    let td = std::env::var_os("VEUICC_TESTDATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/testdata"))
        .join("ts48");
    if !td.is_dir() {
        eprintln!("SKIPPED: shared test data not found (set VEUICC_TESTDATA)");
        return;
    }
    let mut cfg = ModemConfig::named("props");
    cfg.quirks = "quectel".into();
    cfg.slots = vec![
        SlotConfig::Uicc {
            package: td.join("TS48V1-A-UNIQUE.der"),
        },
        SlotConfig::Euicc { state_dir: None },
    ];
    let modem = Modem::open_with(
        &cfg,
        &ModemOptions {
            timing: Timing::immediate(),
            seed: Some([3; 32]),
        },
    )
    .unwrap();
    let cell = RefCell::new((modem, Instant::now()));
    {
        let (m, now) = &mut *cell.borrow_mut();
        m.input(0, b"ATE0\r", *now);
        m.control(
            &ControlRequest::AddProfile {
                package: td.join("TS48V1-B-UNIQUE.der"),
                enable: true,
            },
            *now,
        )
        .unwrap();
    }
    let mut runner = TestRunner::new(Config {
        cases: 400,
        failure_persistence: None,
        ..Config::default()
    });
    runner
        .run(&command(), |line| {
            let (m, now) = &mut *cell.borrow_mut();
            *now += Duration::from_millis(5);
            m.poll(*now);
            let _ = m.take_output(0);
            let out = m.input(0, format!("{line}\r").as_bytes(), *now);
            let text = String::from_utf8_lossy(&out);
            let finals = text.split("\r\n").filter(|l| is_final(l)).count();
            prop_assert!(finals >= 1, "{line} → {text:?}");
            if text.contains("CONNECT") {
                // Data mode: the client hangs up (DTR drop).
                m.detach(0);
                m.attach(0);
            }
            // Put back what a command may have changed that the next ones need.
            m.input(0, b"ATE0\r", *now);
            Ok(())
        })
        .unwrap();
    let (m, now) = &mut *cell.borrow_mut();
    m.input(0, b"AT+CFUN=1\r", *now);
    let out = m.input(0, b"AT+CGMI\r", *now);
    assert!(String::from_utf8_lossy(&out).contains("Quectel"));
}
