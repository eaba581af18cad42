#![allow(clippy::unwrap_used)]
//! PTY endpoints over real PTYs: stable symlinks, client open/close seen as attach/detach, no
//! stale bytes across clients, URC delivery; with a fake core (the IO alone) and with the real
//! modem (`AT` → echo + `OK`).

mod io_common;

use std::io::Write;
use std::time::Duration;

use io_common::*;
use vmodem::config::PortConfig;
use vmodem::control::{ControlRequest, Envelope};
use vmodem::pty::PtyClient;

fn client(path: &std::path::Path) -> PtyClient {
    let mut c = PtyClient::open(path).unwrap();
    c.set_read_timeout(Some(Duration::from_millis(50)));
    c
}

#[test]
fn symlink_points_at_the_slave_and_a_client_gets_answers() {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime();
    let server = start_fake(
        &rt,
        &config(dir.path(), vec![PortConfig::pty("at0")]),
        false,
    );
    let port = server.port("m0", "at0").unwrap().clone();
    let link = port.symlink.unwrap();
    assert_eq!(link, dir.path().join("run/m0/at0"));
    assert_eq!(std::fs::read_link(&link).unwrap(), port.pty.unwrap());
    let mut c = client(&link);
    assert_at_ok(&mut c);
    assert_at_ok(&mut c);
    drop(c);
    rt.block_on(server.shutdown());
    assert!(std::fs::symlink_metadata(&link).is_err(), "symlink removed");
}

#[test]
fn open_and_close_are_attach_and_detach() {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime();
    let server = start_fake(
        &rt,
        &config(dir.path(), vec![PortConfig::pty("at0")]),
        false,
    );
    let hub = server.hub("m0").unwrap().clone();
    let link = server.port("m0", "at0").unwrap().symlink.clone().unwrap();
    assert!(!hub.lock().ports[0].attached);
    let c = client(&link);
    wait_for("attach", || hub.lock().ports[0].attached);
    assert_eq!(hub.clients(0), 1);
    drop(c);
    wait_for("detach", || !hub.lock().ports[0].attached);
    assert_eq!(hub.clients(0), 0);
    let c = client(&link);
    wait_for("second attach", || hub.lock().ports[0].attaches == 2);
    drop(c);
    wait_for("second detach", || hub.lock().ports[0].detaches == 2);
    rt.block_on(server.shutdown());
}

#[test]
fn response_to_a_client_that_closed_is_not_delivered_to_the_next() {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime();
    let server = start_fake(
        &rt,
        &config(dir.path(), vec![PortConfig::pty("at0")]),
        false,
    );
    let hub = server.hub("m0").unwrap().clone();
    let link = server.port("m0", "at0").unwrap().symlink.clone().unwrap();
    let mut c = client(&link);
    wait_for("attach", || hub.lock().ports[0].attached);
    // The fake answers ATSLOW after 300 ms; the client is gone by then.
    c.write_all(b"ATSLOW\r").unwrap();
    wait_for("ATSLOW seen", || !hub.lock().lines.is_empty());
    drop(c);
    std::thread::sleep(Duration::from_millis(500));
    let mut c = client(&link);
    let stale = read_until(&mut c, &[], Duration::from_millis(300));
    assert_eq!(String::from_utf8_lossy(&stale), "", "stale bytes delivered");
    assert_at_ok(&mut c);
    drop(c);
    rt.block_on(server.shutdown());
}

#[test]
fn command_of_a_client_that_left_before_being_seen_still_runs() {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime();
    let server = start_fake(
        &rt,
        &config(dir.path(), vec![PortConfig::pty("at0")]),
        false,
    );
    let hub = server.hub("m0").unwrap().clone();
    let link = server.port("m0", "at0").unwrap().symlink.clone().unwrap();
    {
        let mut c = client(&link);
        c.write_all(b"AT+CFUN=0\r").unwrap();
    }
    wait_for("the line", || {
        hub.lock().lines.iter().any(|(_, l)| l == "AT+CFUN=0")
    });
    wait_for("detach", || !hub.lock().ports[0].attached);
    let mut c = client(&link);
    let stale = read_until(&mut c, &[], Duration::from_millis(200));
    assert_eq!(
        String::from_utf8_lossy(&stale),
        "",
        "its answer is not delivered"
    );
    assert_at_ok(&mut c);
    drop(c);
    rt.block_on(server.shutdown());
}

#[test]
fn urc_reaches_an_attached_client() {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime();
    let server = start_fake(
        &rt,
        &config(dir.path(), vec![PortConfig::pty("at0")]),
        false,
    );
    let hub = server.hub("m0").unwrap().clone();
    let link = server.port("m0", "at0").unwrap().symlink.clone().unwrap();
    let mut c = client(&link);
    wait_for("attach", || hub.lock().ports[0].attached);
    let env = Envelope {
        modem: None,
        request: ControlRequest::InjectUrc {
            line: "+CREG: 1".into(),
            port: None,
        },
    };
    server.control(&env).unwrap();
    let got = read_until(&mut c, &[b"+CREG: 1\r\n"], T);
    assert_eq!(String::from_utf8_lossy(&got), "\r\n+CREG: 1\r\n");
    drop(c);
    rt.block_on(server.shutdown());
}

#[test]
fn stale_symlink_is_replaced_and_a_regular_file_is_not() {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime();
    let cfg = config(dir.path(), vec![PortConfig::pty("at0")]);
    let link = dir.path().join("run/m0/at0");
    std::fs::create_dir_all(link.parent().unwrap()).unwrap();
    std::os::unix::fs::symlink("/dev/pts/does-not-exist", &link).unwrap();
    let server = start_fake(&rt, &cfg, false);
    let pty = server.port("m0", "at0").unwrap().pty.clone().unwrap();
    assert_eq!(std::fs::read_link(&link).unwrap(), pty);
    rt.block_on(server.shutdown());

    std::fs::write(&link, b"not a link").unwrap();
    let r = rt.block_on(vmodem::server::Server::start_with(
        &cfg,
        opts(false),
        |mc| Ok::<_, String>(Fake::new(mc)),
    ));
    assert!(r.is_err(), "a regular file is not replaced");
    assert_eq!(std::fs::read(&link).unwrap(), b"not a link");
}

#[test]
fn ports_of_several_modems_are_independent() {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime();
    let mut cfg = config(
        dir.path(),
        vec![PortConfig::pty("at0"), PortConfig::pty("at1")],
    );
    let mut m1 = cfg.modems[0].clone();
    m1.name = "m1".into();
    cfg.modems.push(m1);
    let server = start_fake(&rt, &cfg, false);
    let mut clients: Vec<PtyClient> = ["m0", "m1"]
        .iter()
        .flat_map(|m| ["at0", "at1"].map(|p| (m.to_string(), p)))
        .map(|(m, p)| client(server.port(&m, p).unwrap().symlink.as_ref().unwrap()))
        .collect();
    for c in &mut clients {
        assert_at_ok(c);
    }
    let m1 = server.hub("m1").unwrap().clone();
    assert_eq!(m1.lock().lines.len(), 2);
    drop(clients);
    rt.block_on(server.shutdown());
}

// ---- with the real modem core (pass once the core answers AT) ----

#[test]
fn real_modem_answers_at_with_echo_and_ok_over_a_pty() {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime();
    let server = start_real(&rt, &config(dir.path(), vec![PortConfig::pty("at0")]));
    let link = server.port("m0", "at0").unwrap().symlink.clone().unwrap();
    let mut c = client(&link);
    assert_at_ok(&mut c);
    drop(c);
    rt.block_on(server.shutdown());
}

#[test]
fn real_modem_drops_a_urc_injected_while_the_port_is_closed() {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime();
    let server = start_real(&rt, &config(dir.path(), vec![PortConfig::pty("at0")]));
    let hub = server.hub("m0").unwrap().clone();
    let link = server.port("m0", "at0").unwrap().symlink.clone().unwrap();
    let mut c = client(&link);
    assert_at_ok(&mut c);
    drop(c);
    wait_for("detach", || hub.clients(0) == 0);
    let env = Envelope {
        modem: None,
        request: ControlRequest::InjectUrc {
            line: "+CREG: 5".into(),
            port: Some("at0".into()),
        },
    };
    server.control(&env).unwrap();
    std::thread::sleep(Duration::from_millis(100));
    let mut c = client(&link);
    let stale = read_until(&mut c, &[], Duration::from_millis(300));
    assert_eq!(String::from_utf8_lossy(&stale), "", "URC from while closed");
    assert_at_ok(&mut c);
    drop(c);
    rt.block_on(server.shutdown());
}
