//! Runs a [`Config`]: opens every modem, starts its endpoints (PTYs with stable symlinks, Unix
//! sockets, loopback TCP), one timer task per modem, and the control socket; reports where every
//! port is; shuts everything down (symlinks and socket files removed).
//!
//! The control socket speaks JSON lines: each line is an [`Envelope`] (`{"modem":"m0","op":…}`),
//! each answer one line, `{"ok":true,"result":…}` or `{"ok":false,"error":"…"}`. A line that is
//! not a request gets an error line and the connection stays open. Blank lines are ignored.
//! `status` is answered here (endpoints, clients, and the modem's own status under `state`);
//! every other request goes to the modem ([`ModemHub::control`]).
//!
//! [`Server`] is also the in-process handle tests use: start it on a tokio runtime, read the
//! paths from [`Server::status`], drive the ports, [`Server::shutdown`].

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Serialize;
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};
use tokio::task::{JoinHandle, JoinSet};

use crate::config::{Config, ModemConfig};
use crate::control::{ControlError, ControlRequest, Envelope};
use crate::endpoint::{
    bind_tcp, bind_unix, shutdown_pair, spawn_pty, spawn_tcp, spawn_timer, spawn_unix,
    EndpointOptions, ModemCore, ModemHub, Shutdown, ShutdownTrigger, SocketFile, UnixAddr,
};
use crate::modem::Modem;
use crate::pty::{Pty, PtyError};
use crate::transcript::{Transcript, TranscriptOptions};

/// The longest control line accepted (a request is small; this bounds memory per client).
const MAX_CONTROL_LINE: u64 = 1024 * 1024;

/// Default run directory when the configuration names none.
pub const DEFAULT_RUN_DIR: &str = "run";

/// Options that are not part of the configuration file.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ServerOptions {
    pub transcript: TranscriptOptions,
    pub endpoint: EndpointOptions,
}

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("configuration: {0}")]
    Config(String),
    #[error("modem {modem}: {message}")]
    Modem { modem: String, message: String },
    #[error("modem {modem} port {port}: {source}")]
    Pty {
        modem: String,
        port: String,
        #[source]
        source: PtyError,
    },
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: io::Error,
    },
}

fn io_err(what: impl fmt::Display) -> impl FnOnce(io::Error) -> ServerError {
    let what = what.to_string();
    move |source| ServerError::Io { what, source }
}

/// Where everything is.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ServerStatus {
    pub run_dir: PathBuf,
    /// The control socket (a path or `abstract:<name>`).
    pub control: String,
    pub modems: Vec<ModemStatus>,
}

/// Where a modem's ports are.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ModemStatus {
    pub name: String,
    pub ports: Vec<PortStatus>,
}

/// Where one AT port is reachable.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct PortStatus {
    pub name: String,
    /// The PTY slave (`/dev/pts/N`).
    pub pty: Option<PathBuf>,
    /// The stable symlink to it (`<run_dir>/<modem>/<port>`).
    pub symlink: Option<PathBuf>,
    /// The Unix socket (a path or `abstract:<name>`).
    pub unix: Option<String>,
    /// The bound TCP address (the real port when `:0` was asked).
    pub tcp: Option<SocketAddr>,
    /// The transcript file, when transcripts are on.
    pub transcript: Option<PathBuf>,
}

#[derive(Debug)]
struct Shared<C> {
    status: ServerStatus,
    hubs: Vec<Arc<ModemHub<C>>>,
}

/// A running set of modems.
#[derive(Debug)]
pub struct Server<C: ModemCore = Modem> {
    shared: Arc<Shared<C>>,
    trigger: ShutdownTrigger,
    tasks: Vec<JoinHandle<()>>,
}

impl Server<Modem> {
    /// Starts `cfg` with the real modem core. Must run inside a tokio runtime (multi-threaded
    /// recommended: the modem lock is a `std::sync::Mutex` held for one `input` at a time).
    pub async fn start(cfg: &Config, opts: ServerOptions) -> Result<Server<Modem>, ServerError> {
        Server::start_with(cfg, opts, Modem::open).await
    }
}

/// The run directory, control address and modems of `cfg`, with defaults filled in: the run
/// directory made absolute, one modem `m0` when none is configured, `state_dir` defaulting to
/// `<run_dir>/<modem>/state`. Checks names (they become path components) and endpoints.
pub fn resolve(cfg: &Config) -> Result<(PathBuf, UnixAddr, Vec<ModemConfig>), ServerError> {
    let run_dir = cfg
        .run_dir
        .clone()
        .unwrap_or_else(|| PathBuf::from(DEFAULT_RUN_DIR));
    let run_dir = std::path::absolute(&run_dir).map_err(io_err("run directory"))?;
    let control = match &cfg.control {
        Some(p) => match p.to_str().and_then(|s| s.strip_prefix("abstract:")) {
            Some(name) => UnixAddr::Abstract(name.to_string()),
            None => UnixAddr::Path(p.clone()),
        },
        None => UnixAddr::Path(run_dir.join("control.sock")),
    };
    let mut modems = cfg.modems.clone();
    if modems.is_empty() {
        modems.push(ModemConfig::named("m0"));
    }
    let mut seen = std::collections::HashSet::new();
    for m in &mut modems {
        check_name("modem", &m.name)?;
        if !seen.insert(m.name.clone()) {
            return Err(ServerError::Config(format!("modem {} twice", m.name)));
        }
        if m.ports.is_empty() {
            return Err(ServerError::Config(format!("modem {} has no port", m.name)));
        }
        let mut ports = std::collections::HashSet::new();
        for p in &m.ports {
            check_name("port", &p.name)?;
            if !ports.insert(p.name.clone()) {
                return Err(ServerError::Config(format!(
                    "modem {}: port {} twice",
                    m.name, p.name
                )));
            }
            if !p.pty && p.unix.is_none() && p.tcp.is_none() {
                return Err(ServerError::Config(format!(
                    "modem {} port {}: no endpoint (pty, unix or tcp)",
                    m.name, p.name
                )));
            }
        }
        if m.state_dir.is_none() {
            m.state_dir = Some(run_dir.join(&m.name).join("state"));
        }
    }
    Ok((run_dir, control, modems))
}

fn check_name(what: &str, name: &str) -> Result<(), ServerError> {
    let ok = !name.is_empty()
        && name != "."
        && name != ".."
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(ServerError::Config(format!(
            "{what} name {name:?}: use 1–64 of A-Z a-z 0-9 - _ ."
        )))
    }
}

impl<C: ModemCore> Server<C> {
    /// Starts `cfg` with modems made by `open` (tests pass a fake core here).
    pub async fn start_with<F, E>(
        cfg: &Config,
        opts: ServerOptions,
        mut open: F,
    ) -> Result<Server<C>, ServerError>
    where
        F: FnMut(&ModemConfig) -> Result<C, E>,
        E: fmt::Display,
    {
        let (run_dir, control, modems) = resolve(cfg)?;
        std::fs::create_dir_all(&run_dir).map_err(io_err(run_dir.display()))?;
        let (trigger, shutdown) = shutdown_pair();
        let mut tasks = Vec::new();
        let built = build(
            &run_dir, &control, &modems, opts, &mut open, &shutdown, &mut tasks,
        );
        let (status, hubs, control_listener) = match built {
            Ok(b) => b,
            Err(e) => {
                trigger.trigger();
                for t in tasks {
                    let _ = t.await;
                }
                return Err(e);
            }
        };
        let shared = Arc::new(Shared { status, hubs });
        let (listener, file) = control_listener;
        tasks.push(tokio::spawn(control_loop(
            shared.clone(),
            listener,
            file,
            shutdown,
        )));
        tracing::info!(modems = shared.hubs.len(), control = %shared.status.control, "vmodem running");
        Ok(Server {
            shared,
            trigger,
            tasks,
        })
    }

    /// Where every port is.
    pub fn status(&self) -> &ServerStatus {
        &self.shared.status
    }

    /// One port's endpoints.
    pub fn port(&self, modem: &str, port: &str) -> Option<&PortStatus> {
        self.shared
            .status
            .modems
            .iter()
            .find(|m| m.name == modem)?
            .ports
            .iter()
            .find(|p| p.name == port)
    }

    /// The control socket address (a path or `abstract:<name>`).
    pub fn control_addr(&self) -> UnixAddr {
        UnixAddr::parse(&self.shared.status.control)
    }

    /// A running modem, to drive or inspect it in-process.
    pub fn hub(&self, modem: &str) -> Option<&Arc<ModemHub<C>>> {
        self.shared.hubs.iter().find(|h| h.name() == modem)
    }

    /// A control request, exactly as the control socket runs it.
    pub fn control(&self, env: &Envelope) -> Result<Value, ControlError> {
        self.shared.control(env)
    }

    /// One control line in, one answer line out (without the newline).
    pub fn control_line(&self, line: &str) -> String {
        self.shared.control_line(line)
    }

    /// Stops every task, waits for them, and removes symlinks and socket files.
    pub async fn shutdown(self) {
        self.trigger.trigger();
        for t in self.tasks {
            if let Err(e) = t.await {
                tracing::warn!(error = %e, "endpoint task failed");
            }
        }
        tracing::info!("vmodem stopped");
    }

    /// Runs until SIGINT or SIGTERM, then shuts down.
    pub async fn run_until_signal(self) -> io::Result<()> {
        use tokio::signal::unix::{signal, SignalKind};
        let mut int = signal(SignalKind::interrupt())?;
        let mut term = signal(SignalKind::terminate())?;
        tokio::select! {
            _ = int.recv() => tracing::info!("SIGINT"),
            _ = term.recv() => tracing::info!("SIGTERM"),
        }
        self.shutdown().await;
        Ok(())
    }
}

type Built<C> = (
    ServerStatus,
    Vec<Arc<ModemHub<C>>>,
    (UnixListener, Option<SocketFile>),
);

fn build<C, F, E>(
    run_dir: &Path,
    control: &UnixAddr,
    modems: &[ModemConfig],
    opts: ServerOptions,
    open: &mut F,
    shutdown: &Shutdown,
    tasks: &mut Vec<JoinHandle<()>>,
) -> Result<Built<C>, ServerError>
where
    C: ModemCore,
    F: FnMut(&ModemConfig) -> Result<C, E>,
    E: fmt::Display,
{
    let mut status = ServerStatus {
        run_dir: run_dir.to_path_buf(),
        control: control.to_string(),
        modems: Vec::new(),
    };
    let mut hubs = Vec::new();
    for mc in modems {
        let dir = run_dir.join(&mc.name);
        std::fs::create_dir_all(&dir).map_err(io_err(dir.display()))?;
        let core = open(mc).map_err(|e| ServerError::Modem {
            modem: mc.name.clone(),
            message: e.to_string(),
        })?;
        let mut ports = Vec::new();
        let mut port_status = Vec::new();
        for pc in &mc.ports {
            let transcript = if opts.transcript.enabled {
                let path = dir.join(format!("{}.transcript", pc.name));
                let t =
                    Transcript::open(&path, &format!("{}/{}", mc.name, pc.name), &opts.transcript)
                        .map_err(io_err(path.display()))?;
                Some(t)
            } else {
                None
            };
            port_status.push(PortStatus {
                name: pc.name.clone(),
                pty: None,
                symlink: None,
                unix: None,
                tcp: None,
                transcript: transcript.as_ref().map(|t| t.path().to_path_buf()),
            });
            ports.push((pc.name.clone(), transcript));
        }
        let hub = ModemHub::new(&mc.name, core, ports);
        for (id, (pc, ps)) in mc.ports.iter().zip(port_status.iter_mut()).enumerate() {
            let pty_err = |source| ServerError::Pty {
                modem: mc.name.clone(),
                port: pc.name.clone(),
                source,
            };
            if pc.pty {
                let mut pty = Pty::open().map_err(pty_err)?;
                let link = dir.join(&pc.name);
                pty.link(&link).map_err(pty_err)?;
                ps.pty = Some(pty.slave_path().to_path_buf());
                ps.symlink = Some(link);
                tasks.push(spawn_pty(
                    hub.clone(),
                    id,
                    pty,
                    opts.endpoint,
                    shutdown.clone(),
                ));
            }
            if let Some(unix) = &pc.unix {
                let addr = match UnixAddr::parse(unix) {
                    UnixAddr::Path(p) => UnixAddr::Path(
                        std::path::absolute(&p).map_err(io_err(format!("unix socket {unix}")))?,
                    ),
                    a => a,
                };
                let (listener, file) =
                    bind_unix(&addr).map_err(io_err(format!("unix socket {addr}")))?;
                ps.unix = Some(addr.to_string());
                tasks.push(spawn_unix(
                    hub.clone(),
                    id,
                    listener,
                    file,
                    opts.endpoint,
                    shutdown.clone(),
                ));
            }
            if let Some(tcp) = &pc.tcp {
                let listener = bind_tcp(tcp).map_err(io_err(format!("tcp {tcp}")))?;
                ps.tcp = Some(listener.local_addr().map_err(io_err("tcp address"))?);
                tasks.push(spawn_tcp(
                    hub.clone(),
                    id,
                    listener,
                    opts.endpoint,
                    shutdown.clone(),
                ));
            }
        }
        tasks.push(spawn_timer(hub.clone(), shutdown.clone()));
        status.modems.push(ModemStatus {
            name: mc.name.clone(),
            ports: port_status,
        });
        hubs.push(hub);
    }
    let control_listener =
        bind_unix(control).map_err(io_err(format!("control socket {control}")))?;
    if let Some(f) = &control_listener.1 {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(f.path(), std::fs::Permissions::from_mode(0o600))
            .map_err(io_err("control socket mode"))?;
    }
    Ok((status, hubs, control_listener))
}

impl<C: ModemCore> Shared<C> {
    fn hub_for(&self, modem: Option<&str>) -> Result<Option<&Arc<ModemHub<C>>>, ControlError> {
        match modem {
            Some(name) => self
                .hubs
                .iter()
                .find(|h| h.name() == name)
                .map(Some)
                .ok_or_else(|| ControlError::NoSuchModem(name.to_string())),
            None if self.hubs.len() == 1 => Ok(self.hubs.first()),
            None => Ok(None),
        }
    }

    fn modem_status(&self, i: usize) -> Value {
        let (Some(hub), Some(ms)) = (self.hubs.get(i), self.status.modems.get(i)) else {
            return Value::Null;
        };
        let ports: Vec<Value> = ms
            .ports
            .iter()
            .enumerate()
            .map(|(id, p)| {
                let mut v = serde_json::to_value(p).unwrap_or(Value::Null);
                if let Value::Object(o) = &mut v {
                    o.insert("clients".into(), json!(hub.clients(id)));
                }
                v
            })
            .collect();
        let mut v = json!({ "name": ms.name, "ports": ports });
        if let Value::Object(o) = &mut v {
            match hub.control(&ControlRequest::Status) {
                Ok(state) => {
                    o.insert("state".into(), state);
                }
                Err(e) => {
                    o.insert("state".into(), Value::Null);
                    o.insert("state_error".into(), json!(e.to_string()));
                }
            }
        }
        v
    }

    fn control(&self, env: &Envelope) -> Result<Value, ControlError> {
        let hub = self.hub_for(env.modem.as_deref())?;
        match (&env.request, hub) {
            (ControlRequest::Status, _) if env.modem.is_none() => Ok(json!({
                "run_dir": self.status.run_dir,
                "control": self.status.control,
                "modems": (0..self.hubs.len()).map(|i| self.modem_status(i)).collect::<Vec<_>>(),
            })),
            (ControlRequest::Status, Some(hub)) => {
                let i = self
                    .hubs
                    .iter()
                    .position(|h| Arc::ptr_eq(h, hub))
                    .unwrap_or(0);
                Ok(self.modem_status(i))
            }
            (req, Some(hub)) => hub.control(req),
            (_, None) => Err(ControlError::BadRequest(
                "several modems run: name one with \"modem\"".into(),
            )),
        }
    }

    fn control_line(&self, line: &str) -> String {
        let answer = match serde_json::from_str::<Envelope>(line.trim()) {
            Ok(env) => {
                let op = serde_json::to_value(&env.request)
                    .ok()
                    .and_then(|v| v.get("op").and_then(Value::as_str).map(str::to_string))
                    .unwrap_or_default();
                let r = self.control(&env);
                tracing::debug!(modem = ?env.modem, %op, ok = r.is_ok(), "control request");
                match r {
                    Ok(result) => Answer::ok(result),
                    Err(e) => Answer::err(e.to_string()),
                }
            }
            Err(e) => Answer::err(format!("bad request: {e}")),
        };
        answer.line()
    }
}

/// One answer line: `{"ok":true,"result":…}` or `{"ok":false,"error":"…"}` (in that key order).
#[derive(Debug, Serialize)]
struct Answer {
    ok: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    result: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

impl Answer {
    fn ok(result: Value) -> Answer {
        Answer {
            ok: true,
            result: Some(result),
            error: None,
        }
    }

    fn err(error: String) -> Answer {
        Answer {
            ok: false,
            result: None,
            error: Some(error),
        }
    }

    fn line(&self) -> String {
        serde_json::to_string(self)
            .unwrap_or_else(|_| r#"{"ok":false,"error":"unserializable answer"}"#.to_string())
    }
}

async fn control_loop<C: ModemCore>(
    shared: Arc<Shared<C>>,
    listener: UnixListener,
    file: Option<SocketFile>,
    mut shutdown: Shutdown,
) {
    let mut conns = JoinSet::new();
    loop {
        tokio::select! {
            _ = shutdown.wait() => break,
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
            r = listener.accept() => match r {
                Ok((stream, _)) => {
                    conns.spawn(control_conn(shared.clone(), stream, shutdown.clone()));
                }
                Err(e) => {
                    tracing::warn!(error = %e, "control accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                }
            },
        }
    }
    while conns.join_next().await.is_some() {}
    if let Some(f) = file {
        f.remove();
    }
}

async fn control_conn<C: ModemCore>(
    shared: Arc<Shared<C>>,
    stream: UnixStream,
    mut shutdown: Shutdown,
) {
    let (r, mut w) = stream.into_split();
    let mut r = BufReader::new(r);
    let mut line = Vec::new();
    loop {
        line.clear();
        let mut limited = (&mut r).take(MAX_CONTROL_LINE);
        let n = tokio::select! {
            _ = shutdown.wait() => return,
            n = limited.read_until(b'\n', &mut line) => n,
        };
        let answer = match n {
            Ok(0) | Err(_) => return,
            Ok(_) if !line.ends_with(b"\n") && line.len() as u64 >= MAX_CONTROL_LINE => {
                let a = Answer::err("bad request: line too long".into()).line();
                let _ = w.write_all(format!("{a}\n").as_bytes()).await;
                return;
            }
            Ok(_) => match std::str::from_utf8(&line) {
                Ok(s) if s.trim().is_empty() => continue,
                Ok(s) => shared.control_line(s),
                Err(_) => Answer::err("bad request: not UTF-8".into()).line(),
            },
        };
        if w.write_all(format!("{answer}\n").as_bytes()).await.is_err() {
            return;
        }
    }
}
