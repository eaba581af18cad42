#![allow(clippy::unwrap_used)]
//! Unix-socket (path and abstract) and loopback TCP endpoints: same loop as the PTY, shared
//! port state, URCs to every client of the port, socket files cleaned up; with the fake core
//! and with the real modem.

mod io_common;

use std::io::Write;
use std::time::Duration;

use io_common::*;
use vmodem::config::PortConfig;
use vmodem::control::{ControlRequest, Envelope};
use vmodem::endpoint::UnixAddr;
use vmodem::pty::PtyClient;

fn port(name: &str, unix: Option<String>, tcp: Option<&str>, pty: bool) -> PortConfig {
    PortConfig {
        name: name.into(),
        pty,
        unix,
        tcp: tcp.map(str::to_string),
    }
}

#[test]
fn unix_socket_answers_and_is_removed_at_shutdown() {
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("at0.sock");
    let rt = runtime();
    let cfg = config(
        dir.path(),
        vec![port("at0", Some(sock.display().to_string()), None, false)],
    );
    let server = start_fake(&rt, &cfg, false);
    let st = server.port("m0", "at0").unwrap().clone();
    assert_eq!(st.unix.as_deref(), Some(sock.to_str().unwrap()));
    assert!(st.pty.is_none());
    let mut c = unix_client(&sock);
    assert_at_ok(&mut c);
    drop(c);
    rt.block_on(server.shutdown());
    assert!(!sock.exists(), "socket file removed");
}

#[test]
fn abstract_unix_socket_answers() {
    let dir = tempfile::tempdir().unwrap();
    let name = format!("vmodem-test-{}", std::process::id());
    let rt = runtime();
    let cfg = config(
        dir.path(),
        vec![port("at0", Some(format!("abstract:{name}")), None, false)],
    );
    let server = start_fake(&rt, &cfg, false);
    let addr = UnixAddr::parse(server.port("m0", "at0").unwrap().unix.as_ref().unwrap());
    assert_eq!(addr, UnixAddr::Abstract(name));
    let mut c = addr.connect_std().unwrap();
    c.set_read_timeout(Some(Duration::from_millis(50))).unwrap();
    assert_at_ok(&mut c);
    drop(c);
    rt.block_on(server.shutdown());
}

#[test]
fn tcp_listens_on_loopback_and_answers() {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime();
    let cfg = config(dir.path(), vec![port("at0", None, Some("0"), false)]);
    let server = start_fake(&rt, &cfg, false);
    let addr = server.port("m0", "at0").unwrap().tcp.unwrap();
    assert!(addr.ip().is_loopback());
    assert_ne!(addr.port(), 0);
    let mut c = tcp_client(addr);
    assert_at_ok(&mut c);
    assert_at_ok(&mut c);
    drop(c);
    rt.block_on(server.shutdown());
}

#[test]
fn stale_socket_file_is_replaced_and_a_live_one_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("at0.sock");
    // A socket file nobody listens on (left by a crashed run).
    drop(std::os::unix::net::UnixListener::bind(&sock).unwrap());
    assert!(sock.exists());
    let rt = runtime();
    let cfg = config(
        dir.path(),
        vec![port("at0", Some(sock.display().to_string()), None, false)],
    );
    let server = start_fake(&rt, &cfg, false);
    let mut c = unix_client(&sock);
    assert_at_ok(&mut c);
    // A second server on the same live socket must not steal it.
    let mut cfg2 = cfg.clone();
    cfg2.run_dir = Some(dir.path().join("run2"));
    let r = rt.block_on(vmodem::server::Server::start_with(
        &cfg2,
        opts(false),
        |mc| Ok::<_, String>(Fake::new(mc)),
    ));
    assert!(r.is_err());
    assert_at_ok(&mut c);
    drop(c);
    rt.block_on(server.shutdown());
}

#[test]
fn a_port_is_one_port_over_all_its_endpoints() {
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("at0.sock");
    let rt = runtime();
    let cfg = config(
        dir.path(),
        vec![port(
            "at0",
            Some(sock.display().to_string()),
            Some("127.0.0.1:0"),
            true,
        )],
    );
    let server = start_fake(&rt, &cfg, false);
    let hub = server.hub("m0").unwrap().clone();
    let st = server.port("m0", "at0").unwrap().clone();
    let mut p = PtyClient::open(st.symlink.as_ref().unwrap()).unwrap();
    p.set_read_timeout(Some(Duration::from_millis(50)));
    let mut u = unix_client(&sock);
    let mut t = tcp_client(st.tcp.unwrap());
    wait_for("three clients", || hub.clients(0) == 3);
    assert_eq!(hub.lock().ports[0].attaches, 1, "attached once for all");
    assert_at_ok(&mut u);
    assert_at_ok(&mut t);
    assert_at_ok(&mut p);
    // A URC of the port goes to every client of the port.
    let env = Envelope {
        modem: Some("m0".into()),
        request: ControlRequest::InjectUrc {
            line: "RING".into(),
            port: None,
        },
    };
    server.control(&env).unwrap();
    for got in [
        read_until(&mut p, &[b"RING\r\n"], T),
        read_until(&mut u, &[b"RING\r\n"], T),
        read_until(&mut t, &[b"RING\r\n"], T),
    ] {
        assert_eq!(got, b"\r\nRING\r\n");
    }
    drop(u);
    drop(t);
    wait_for("one client", || hub.clients(0) == 1);
    assert!(
        hub.lock().ports[0].attached,
        "still attached: the PTY client is there"
    );
    drop(p);
    wait_for("detached", || !hub.lock().ports[0].attached);
    rt.block_on(server.shutdown());
}

#[test]
fn bytes_split_across_writes_form_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime();
    let cfg = config(dir.path(), vec![port("at0", None, Some("0"), false)]);
    let server = start_fake(&rt, &cfg, false);
    let hub = server.hub("m0").unwrap().clone();
    let mut c = tcp_client(server.port("m0", "at0").unwrap().tcp.unwrap());
    for b in b"AT+CGSN\r" {
        c.write_all(&[*b]).unwrap();
        std::thread::sleep(Duration::from_millis(2));
    }
    let got = read_until(&mut c, &[b"OK\r\n"], T);
    assert_eq!(got, b"AT+CGSN\r\r\nOK\r\n");
    assert_eq!(hub.lock().lines, vec![(0, "AT+CGSN".to_string())]);
    drop(c);
    rt.block_on(server.shutdown());
}

// ---- with the real modem core ----

#[test]
fn real_modem_answers_at_over_unix_and_tcp() {
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("at0.sock");
    let rt = runtime();
    let cfg = config(
        dir.path(),
        vec![port(
            "at0",
            Some(sock.display().to_string()),
            Some("127.0.0.1:0"),
            false,
        )],
    );
    let server = start_real(&rt, &cfg);
    let mut u = unix_client(&sock);
    assert_at_ok(&mut u);
    drop(u);
    let mut t = tcp_client(server.port("m0", "at0").unwrap().tcp.unwrap());
    assert_at_ok(&mut t);
    drop(t);
    rt.block_on(server.shutdown());
}
