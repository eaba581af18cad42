#![allow(clippy::unwrap_used)]
//! The control socket (JSON lines) and transcripts.

mod io_common;

use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use io_common::*;
use serde_json::Value;
use vmodem::config::PortConfig;
use vmodem::pty::PtyClient;
use vmodem::transcript::{parse_line, Direction, Record};

struct Ctl {
    r: BufReader<std::os::unix::net::UnixStream>,
    w: std::os::unix::net::UnixStream,
}

impl Ctl {
    fn connect(path: &std::path::Path) -> Ctl {
        let w = std::os::unix::net::UnixStream::connect(path).unwrap();
        w.set_read_timeout(Some(T)).unwrap();
        Ctl {
            r: BufReader::new(w.try_clone().unwrap()),
            w,
        }
    }

    fn ask(&mut self, line: &str) -> Value {
        self.w.write_all(format!("{line}\n").as_bytes()).unwrap();
        let mut answer = String::new();
        self.r.read_line(&mut answer).unwrap();
        assert!(answer.ends_with('\n'), "one line: {answer:?}");
        serde_json::from_str(&answer).unwrap()
    }
}

#[test]
fn status_over_the_control_socket_says_where_every_port_is() {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime();
    let cfg = config(
        dir.path(),
        vec![PortConfig::pty("at0"), PortConfig::pty("at1")],
    );
    let server = start_fake(&rt, &cfg, false);
    let control = dir.path().join("run/control.sock");
    assert_eq!(server.status().control, control.display().to_string());
    let mode = std::fs::metadata(&control).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let mut ctl = Ctl::connect(&control);
    let v = ctl.ask(r#"{"op":"status"}"#);
    assert_eq!(v["ok"], true, "{v}");
    let m0 = &v["result"]["modems"][0];
    assert_eq!(m0["name"], "m0");
    assert_eq!(m0["state"]["fake"], true);
    for (i, p) in ["at0", "at1"].iter().enumerate() {
        let port = &m0["ports"][i];
        assert_eq!(port["name"], *p);
        let st = server.port("m0", p).unwrap();
        assert_eq!(port["pty"], st.pty.as_ref().unwrap().display().to_string());
        assert_eq!(
            port["symlink"],
            dir.path().join("run/m0").join(p).display().to_string()
        );
        assert_eq!(port["clients"], 0);
    }
    // Per modem.
    let v = ctl.ask(r#"{"modem":"m0","op":"status"}"#);
    assert_eq!(v["result"]["name"], "m0", "{v}");
    rt.block_on(server.shutdown());
    assert!(!control.exists(), "control socket removed");
}

#[test]
fn bad_json_gets_an_error_line_and_the_connection_stays() {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime();
    let server = start_fake(
        &rt,
        &config(dir.path(), vec![PortConfig::pty("at0")]),
        false,
    );
    let mut ctl = Ctl::connect(&dir.path().join("run/control.sock"));
    for bad in [
        "{not json",
        r#"{"op":"no_such_op"}"#,
        r#"{"op":"set_signal"}"#,
        "42",
    ] {
        let v = ctl.ask(bad);
        assert_eq!(v["ok"], false, "{bad}: {v}");
        assert!(
            v["error"].as_str().unwrap().starts_with("bad request"),
            "{v}"
        );
    }
    let v = ctl.ask(r#"{"modem":"nope","op":"status"}"#);
    assert_eq!(v["ok"], false);
    assert_eq!(v["error"], "no such modem: nope");
    // Refusals of the core come back as errors too.
    let v = ctl.ask(r#"{"op":"snapshot"}"#);
    assert_eq!(v["ok"], false);
    // Still alive; a request in several writes and an empty line are fine.
    ctl.w.write_all(b"\n{\"op\":").unwrap();
    std::thread::sleep(Duration::from_millis(20));
    let v = ctl.ask(r#""status"}"#);
    assert_eq!(v["ok"], true, "{v}");
    rt.block_on(server.shutdown());
}

#[test]
fn requests_name_the_modem_when_several_run() {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime();
    let mut cfg = config(dir.path(), vec![PortConfig::pty("at0")]);
    let mut m1 = cfg.modems[0].clone();
    m1.name = "m1".into();
    cfg.modems.push(m1);
    let server = start_fake(&rt, &cfg, false);
    let mut ctl = Ctl::connect(&dir.path().join("run/control.sock"));
    let v = ctl.ask(r#"{"op":"inject_urc","line":"RING"}"#);
    assert_eq!(v["ok"], false, "{v}");
    let v = ctl.ask(r#"{"modem":"m1","op":"inject_urc","line":"RING"}"#);
    assert_eq!(v["ok"], true, "{v}");
    let v = ctl.ask(r#"{"op":"status"}"#);
    assert_eq!(v["result"]["modems"].as_array().unwrap().len(), 2);
    rt.block_on(server.shutdown());
}

#[test]
fn transcript_has_both_directions_and_open_close() {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime();
    let server = start_fake(&rt, &config(dir.path(), vec![PortConfig::pty("at0")]), true);
    let hub = server.hub("m0").unwrap().clone();
    let st = server.port("m0", "at0").unwrap().clone();
    let path = st.transcript.unwrap();
    assert_eq!(path, dir.path().join("run/m0/at0.transcript"));
    let mut c = PtyClient::open(st.symlink.as_ref().unwrap()).unwrap();
    c.set_read_timeout(Some(Duration::from_millis(50)));
    assert_at_ok(&mut c);
    drop(c);
    wait_for("detach", || hub.clients(0) == 0);
    rt.block_on(server.shutdown());
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.starts_with("# vmodem transcript m0/at0"), "{text}");
    let records: Vec<Record> = text.lines().filter_map(parse_line).collect();
    let shape: Vec<String> = records
        .iter()
        .map(|r| match r {
            Record::Event { endpoint, what, .. } => format!("{endpoint} {what}"),
            Record::Data {
                endpoint,
                dir,
                bytes,
                ..
            } => format!(
                "{endpoint} {} {}",
                dir.marker(),
                String::from_utf8_lossy(bytes)
            ),
        })
        .collect();
    assert_eq!(
        shape,
        vec![
            "pty open".to_string(),
            "pty > AT\r".to_string(),
            "pty < AT\r\r\nOK\r\n".to_string(),
            "pty close".to_string(),
        ],
        "{text}"
    );
    assert!(text.contains(" pty > AT\\r\n"), "escaped: {text}");
    assert!(matches!(
        records[1],
        Record::Data {
            dir: Direction::HostToModem,
            ..
        }
    ));
}

#[test]
fn transcripts_can_be_switched_off() {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime();
    let server = start_fake(
        &rt,
        &config(dir.path(), vec![PortConfig::pty("at0")]),
        false,
    );
    let st = server.port("m0", "at0").unwrap().clone();
    assert!(st.transcript.is_none());
    let mut c = PtyClient::open(st.symlink.as_ref().unwrap()).unwrap();
    c.set_read_timeout(Some(Duration::from_millis(50)));
    assert_at_ok(&mut c);
    drop(c);
    rt.block_on(server.shutdown());
    assert!(!dir.path().join("run/m0/at0.transcript").exists());
}

#[test]
fn real_modem_status_and_transcript() {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime();
    let server = start_real(&rt, &config(dir.path(), vec![PortConfig::pty("at0")]));
    let mut ctl = Ctl::connect(&dir.path().join("run/control.sock"));
    let v = ctl.ask(r#"{"op":"status"}"#);
    assert_eq!(v["ok"], true, "{v}");
    assert!(v["result"]["modems"][0]["state"].is_object(), "{v}");
    let st = server.port("m0", "at0").unwrap().clone();
    let mut c = PtyClient::open(st.symlink.as_ref().unwrap()).unwrap();
    c.set_read_timeout(Some(Duration::from_millis(50)));
    assert_at_ok(&mut c);
    drop(c);
    rt.block_on(server.shutdown());
    let text = std::fs::read_to_string(st.transcript.unwrap()).unwrap();
    assert!(text.contains(" pty > AT\\r\n"), "{text}");
    assert!(text.contains(" pty < AT\\r\\r\\nOK\\r\\n\n"), "{text}");
}
