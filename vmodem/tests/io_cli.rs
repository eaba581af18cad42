#![allow(clippy::unwrap_used)]
//! The `vmodem` binary: `start` prints where the ports are and runs until SIGTERM (then removes
//! its symlinks and sockets); `status` and `ctl` talk to it.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_vmodem");

fn ctl(socket: &std::path::Path, args: &[&str]) -> (bool, serde_json::Value) {
    let out = Command::new(BIN)
        .args(args)
        .arg("--socket")
        .arg(socket)
        .output()
        .unwrap();
    let v = serde_json::from_slice(&out.stdout).unwrap_or(serde_json::Value::Null);
    (out.status.success(), v)
}

#[test]
fn start_prints_ports_serves_ctl_and_cleans_up_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    let mut child = Command::new(BIN)
        .args([
            "start",
            "--json",
            "--modem",
            "a",
            "--modem",
            "b",
            "--run-dir",
        ])
        .arg(&run)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let st: serde_json::Value = serde_json::from_str(&line).unwrap();
    let names: Vec<&str> = st["modems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["a", "b"]);
    let link = run.join("a/at0");
    assert_eq!(
        st["modems"][0]["ports"][0]["symlink"],
        link.display().to_string()
    );
    assert!(std::fs::read_link(&link).unwrap().starts_with("/dev/pts"));
    let socket = run.join("control.sock");

    let (ok, v) = ctl(&socket, &["status"]);
    assert!(ok, "{v}");
    assert_eq!(v["ok"], true);
    assert_eq!(v["result"]["modems"][1]["ports"][1]["name"], "at1");
    let (ok, v) = ctl(&socket, &["ctl", "{not json"]);
    assert!(!ok);
    assert_eq!(v["ok"], false);
    let (ok, v) = ctl(&socket, &["ctl", r#"{"op":"set_signal","rssi":20}"#]);
    assert!(!ok, "two modems and none named: {v}");

    let kill = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(Instant::now() < deadline, "vmodem did not stop on SIGTERM");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success());
    assert!(std::fs::symlink_metadata(&link).is_err(), "symlink removed");
    assert!(!socket.exists(), "control socket removed");
}

#[test]
fn start_refuses_an_unknown_modem_of_the_config() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("modems.toml");
    std::fs::write(&cfg, "[[modem]]\nname = \"x\"\n").unwrap();
    let out = Command::new(BIN)
        .args(["start", "--modem", "y", "--config"])
        .arg(&cfg)
        .arg("--run-dir")
        .arg(dir.path().join("run"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no modem y"));
}
