#![allow(clippy::unwrap_used)]
//! The scenario runner itself, with plain shell commands as services and steps.

use hil::scenario::{self, RunOptions, ScenarioError};
use std::path::PathBuf;

fn opts() -> RunOptions {
    RunOptions {
        bin: PathBuf::from(env!("CARGO_BIN_EXE_hil"))
            .parent()
            .unwrap()
            .to_path_buf(),
        testdata: PathBuf::from("/nonexistent"),
        keep: false,
        verbose: false,
    }
}

fn parse(text: &str) -> Result<scenario::Scenario, ScenarioError> {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("s.toml");
    std::fs::write(&p, text).unwrap();
    scenario::load(&p)
}

#[test]
fn runs_services_steps_captures_retries_and_restarts() {
    let s = parse(
        r#"
name = "self test"
[[file]]
path = "{dir}/greeting"
content = "hello {testdata}"
[[service]]
name = "svc"
run = "echo starting; echo port=4$((1+1)) at $(date +%s%N); sleep 60"
ready = 'port=(?P<port>\d+) at (?P<started>\d+)'
[[step]]
name = "variables and files"
run = "cat {dir}/greeting; echo; echo port {port}"
expect = ['^hello /nonexistent$', '^port 42$']
reject = ['ERROR']
[[step]]
run = "echo imei=123456789012345"
expect = ['imei=(?P<imei>\d{15})']
[[step]]
run = "echo again {imei}"
expect = ['^again 123456789012345$']
[[step]]
name = "a failure is expected"
run = "echo nope >&2; exit 3"
fails = true
expect = ['nope']
[[step]]
name = "background touch"
run = "(sleep 0.3; touch {dir}/flag) >/dev/null 2>&1 &"
[[step]]
name = "retried until the file exists"
run = "test -f {dir}/flag"
retry_ms = 5000
[[step]]
run = "echo before {started}"
expect = ['before (?P<first>\d+)']
[[step]]
restart = "svc"
[[step]]
name = "the restart re-read the ready line"
run = "test {started} != {first} && echo restarted"
expect = ['restarted']
[[step]]
kill = "svc"
"#,
    )
    .unwrap();
    let r = scenario::run(&s, &opts()).unwrap();
    assert_eq!(r.steps.len(), 10);
    assert!(r.steps[5].attempts > 1, "the retry step needed attempts");
    assert!(
        !r.dir.exists(),
        "the scenario directory is removed after a pass"
    );
}

#[test]
fn a_missing_expectation_fails_naming_the_step_and_the_output() {
    let s = parse(
        r#"
name = "x"
[[step]]
run = "echo ok"
[[step]]
name = "wants more"
run = "echo +CEREG: 0,2"
expect = ['\+CEREG: 0,1']
"#,
    )
    .unwrap();
    match scenario::run(&s, &opts()) {
        Err(ScenarioError::Step { index, name, msg }) => {
            assert_eq!(index, 2);
            assert_eq!(name, "wants more");
            assert!(msg.contains("+CEREG: 0,2"), "{msg}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn rejected_output_exit_status_and_unknown_variables_fail() {
    for (text, what) in [
        (
            "[[step]]\nrun = \"echo ERROR\"\nreject = ['ERROR']",
            "rejected",
        ),
        ("[[step]]\nrun = \"exit 1\"", "exited with 1"),
        (
            "[[step]]\nrun = \"true\"\nfails = true",
            "expects a failure",
        ),
        ("[[step]]\nrun = \"echo {nosuch}\"", "unknown variable"),
        ("[[step]]\nrun = \"sleep 5\"\ntimeout_ms = 200", "timed out"),
    ] {
        let s = parse(&format!("name = \"n\"\n{text}")).unwrap();
        let e = scenario::run(&s, &opts()).unwrap_err().to_string();
        assert!(e.contains(what), "{text}: {e}");
    }
}

#[test]
fn a_service_that_exits_before_ready_fails_and_bad_files_are_refused() {
    let s = parse(
        "name = \"n\"\n[[service]]\nname = \"dies\"\nrun = \"echo bye; exit 2\"\nready = 'never'",
    )
    .unwrap();
    let e = scenario::run(&s, &opts()).unwrap_err().to_string();
    assert!(
        e.contains("dies") && e.contains("exited before ready"),
        "{e}"
    );

    assert!(parse("name = \"n\"\n[[step]]\nrun = \"true\"\nkill = \"x\"").is_err());
    assert!(parse("name = \"n\"\n[[step]]\nname = \"nothing\"").is_err());
    assert!(parse("name = \"n\"\n[[step]]\nrun = \"true\"\nbogus = 1").is_err());
    assert!(parse("not toml [").is_err());
}
