//! Endpoints: where host software reaches an AT port — a PTY ([`crate::pty`]), a Unix socket
//! (a path, or `abstract:<name>` in the Linux abstract namespace) and a loopback TCP listener.
//!
//! All endpoint kinds run the same client loop ([`serve_client`]): read bytes → lock the modem →
//! [`ModemCore::input`] (then, under the same lock, [`ModemCore::poll`] and the port's own
//! [`ModemCore::take_output`]) → wait [`ModemCore::response_delay`] → write it all in one write.
//! After an input the client tasks of the modem's *other* ports are woken to flush their
//! [`ModemCore::take_output`] (a command on one port may cause URCs on another); after a control
//! request or a timer run every client task is ([`ModemHub::wake`]). One timer task per modem runs
//! [`ModemCore::poll`] on its deadlines ([`spawn_timer`]); an input that brings a deadline forward
//! wakes it.
//!
//! A port may have clients on several endpoints at once (its PTY, its socket, its TCP listener,
//! and several socket connections): they share the port's V.250 state, as two programs opening
//! the same tty would. The modem sees [`ModemCore::attach`] when the first client of a port
//! arrives and [`ModemCore::detach`] when the last one leaves; URCs of the port go to every
//! client of the port.

use std::fmt;
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, UnixListener};
use tokio::sync::{broadcast, watch, Notify};
use tokio::task::{JoinHandle, JoinSet};

use crate::control::{ControlError, ControlRequest};
use crate::modem::{Modem, PortId};
use crate::pty::{Pty, SlaveState};
use crate::transcript::{Direction, Transcript};

/// What the endpoints drive: the sans-IO modem ([`Modem`]), or a test double.
pub trait ModemCore: Send + 'static {
    /// Bytes from the host on `port`; returns the bytes to send back now. Output for `port` that
    /// this input makes ready is either returned here or left for [`ModemCore::take_output`],
    /// which the endpoint calls right after (other ports are woken to call it).
    fn input(&mut self, port: PortId, bytes: &[u8], now: Instant) -> Vec<u8>;
    /// The first client of `port` arrived.
    fn attach(&mut self, port: PortId);
    /// The last client of `port` left.
    fn detach(&mut self, port: PortId);
    /// URC bytes ready for an idle, attached `port`.
    fn take_output(&mut self, port: PortId) -> Vec<u8>;
    /// Runs timers due at `now`; returns when to call again.
    fn poll(&mut self, now: Instant) -> Option<Duration>;
    /// Delay before writing the response to the last input on `port`.
    fn response_delay(&self, port: PortId) -> Duration;
    /// A control-plane request.
    fn control(
        &mut self,
        req: &ControlRequest,
        now: Instant,
    ) -> Result<serde_json::Value, ControlError>;
}

impl ModemCore for Modem {
    fn input(&mut self, port: PortId, bytes: &[u8], now: Instant) -> Vec<u8> {
        Modem::input(self, port, bytes, now)
    }
    fn attach(&mut self, port: PortId) {
        Modem::attach(self, port)
    }
    fn detach(&mut self, port: PortId) {
        Modem::detach(self, port)
    }
    fn take_output(&mut self, port: PortId) -> Vec<u8> {
        Modem::take_output(self, port)
    }
    fn poll(&mut self, now: Instant) -> Option<Duration> {
        Modem::poll(self, now)
    }
    fn response_delay(&self, port: PortId) -> Duration {
        Modem::response_delay(self, port)
    }
    fn control(
        &mut self,
        req: &ControlRequest,
        now: Instant,
    ) -> Result<serde_json::Value, ControlError> {
        Modem::control(self, req, now)
    }
}

/// Endpoint tuning.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EndpointOptions {
    /// How often a hung-up PTY is checked for a new client.
    pub hup_poll: Duration,
    /// Concurrent clients per socket listener (more are closed at once).
    pub max_clients: usize,
}

impl Default for EndpointOptions {
    fn default() -> Self {
        EndpointOptions {
            hup_poll: Duration::from_millis(50),
            max_clients: 8,
        }
    }
}

/// The shutdown signal every endpoint task watches.
#[derive(Debug, Clone)]
pub struct Shutdown(watch::Receiver<bool>);

/// Sets the [`Shutdown`] signal.
#[derive(Debug)]
pub struct ShutdownTrigger(watch::Sender<bool>);

/// A new shutdown signal and its trigger.
pub fn shutdown_pair() -> (ShutdownTrigger, Shutdown) {
    let (tx, rx) = watch::channel(false);
    (ShutdownTrigger(tx), Shutdown(rx))
}

impl ShutdownTrigger {
    pub fn trigger(&self) {
        self.0.send_replace(true);
    }
}

impl Shutdown {
    /// Resolves once shutdown is triggered (or the trigger is gone).
    pub async fn wait(&mut self) {
        let _ = self.0.wait_for(|v| *v).await;
    }

    pub fn is_set(&self) -> bool {
        *self.0.borrow() || self.0.has_changed().is_err()
    }
}

/// One port of a [`ModemHub`].
#[derive(Debug)]
pub struct PortHub {
    name: String,
    clients: AtomicUsize,
    urc: broadcast::Sender<Arc<[u8]>>,
    /// Bumped to make the port's client tasks call `take_output`.
    wake: watch::Sender<u64>,
    transcript: Option<Transcript>,
}

impl PortHub {
    fn wake(&self) {
        self.wake.send_modify(|g| *g = g.wrapping_add(1));
    }
}

impl PortHub {
    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn transcript(&self) -> Option<&Transcript> {
        self.transcript.as_ref()
    }
}

/// A modem shared by its endpoint tasks and the control socket.
#[derive(Debug)]
pub struct ModemHub<C> {
    name: String,
    core: Mutex<C>,
    timer: Notify,
    /// When the timer task will next run `poll`, in ns after `epoch` (`u64::MAX`: not planned).
    /// Read and written only with the core locked.
    planned: AtomicU64,
    epoch: Instant,
    ports: Vec<PortHub>,
}

impl<C: ModemCore> ModemHub<C> {
    /// A hub for `core` with the given ports (in [`PortId`] order), each with an optional
    /// transcript.
    pub fn new(name: &str, core: C, ports: Vec<(String, Option<Transcript>)>) -> Arc<Self> {
        Arc::new(ModemHub {
            name: name.to_string(),
            core: Mutex::new(core),
            timer: Notify::new(),
            planned: AtomicU64::new(u64::MAX),
            epoch: Instant::now(),
            ports: ports
                .into_iter()
                .map(|(name, transcript)| PortHub {
                    name,
                    clients: AtomicUsize::new(0),
                    urc: broadcast::channel(256).0,
                    wake: watch::channel(0u64).0,
                    transcript,
                })
                .collect(),
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn ports(&self) -> &[PortHub] {
        &self.ports
    }

    pub fn port_id(&self, name: &str) -> Option<PortId> {
        self.ports.iter().position(|p| p.name == name)
    }

    /// Clients currently attached to `port` over all its endpoints.
    pub fn clients(&self, port: PortId) -> usize {
        self.ports
            .get(port)
            .map_or(0, |p| p.clients.load(Ordering::Relaxed))
    }

    /// The modem, locked (a poisoned lock is taken over: the core's state is still the best
    /// there is).
    pub fn lock(&self) -> MutexGuard<'_, C> {
        self.core.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Wakes every client task (to flush URCs) and the timer task (to re-plan `poll`).
    pub fn wake(&self) {
        self.wake_clients();
        self.timer.notify_one();
    }

    fn wake_clients(&self) {
        for p in &self.ports {
            p.wake();
        }
    }

    fn wake_others(&self, port: PortId) {
        for (i, p) in self.ports.iter().enumerate() {
            if i != port {
                p.wake();
            }
        }
    }

    fn nanos_since_epoch(&self, t: Instant) -> u64 {
        u64::try_from(t.saturating_duration_since(self.epoch).as_nanos()).unwrap_or(u64::MAX - 1)
    }

    /// With the core locked: the timer task will run `poll` after `next` from `now`.
    fn set_planned(&self, now: Instant, next: Option<Duration>) {
        let at = next.map_or(u64::MAX, |d| self.nanos_since_epoch(now + d));
        self.planned.store(at, Ordering::Relaxed);
    }

    /// With the core locked, after an inline `poll`: wakes the timer task if `next` is sooner
    /// than what it planned.
    fn replan(&self, now: Instant, next: Option<Duration>) {
        if let Some(d) = next {
            let at = self.nanos_since_epoch(now + d);
            if at < self.planned.load(Ordering::Relaxed) {
                self.planned.store(at, Ordering::Relaxed);
                self.timer.notify_one();
            }
        }
    }

    /// One input on `port`, with the inline `poll` and the port's pending output; returns the
    /// bytes to write and the delay before writing them. Wakes the other ports.
    fn input(&self, port: PortId, bytes: &[u8]) -> (Vec<u8>, Duration) {
        let r = {
            let mut core = self.lock();
            let now = Instant::now();
            let mut out = core.input(port, bytes, now);
            let next = core.poll(now);
            self.replan(now, next);
            out.extend(core.take_output(port));
            (out, core.response_delay(port))
        };
        self.wake_others(port);
        r
    }

    /// A control request, then a wake-up.
    pub fn control(&self, req: &ControlRequest) -> Result<serde_json::Value, ControlError> {
        let r = self.lock().control(req, Instant::now());
        self.wake();
        r
    }

    fn attach(&self, port: PortId, label: &str) {
        let Some(p) = self.ports.get(port) else {
            return;
        };
        {
            let mut core = self.lock();
            if p.clients.fetch_add(1, Ordering::Relaxed) == 0 {
                core.attach(port);
            }
        }
        if let Some(t) = &p.transcript {
            t.event(label, "open");
        }
        tracing::info!(modem = %self.name, port = %p.name, endpoint = label, "client attached");
        self.wake();
    }

    fn detach(&self, port: PortId, label: &str) {
        let Some(p) = self.ports.get(port) else {
            return;
        };
        {
            let mut core = self.lock();
            if p.clients.fetch_sub(1, Ordering::Relaxed) == 1 {
                core.detach(port);
            }
        }
        if let Some(t) = &p.transcript {
            t.event(label, "close");
        }
        tracing::info!(modem = %self.name, port = %p.name, endpoint = label, "client detached");
        self.wake();
    }
}

fn is_disconnect(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::BrokenPipe
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::UnexpectedEof
    )
}

async fn write_out<S: AsyncWrite + Unpin>(
    io: &mut S,
    port: &PortHub,
    label: &str,
    bytes: &[u8],
) -> io::Result<()> {
    if bytes.is_empty() {
        return Ok(());
    }
    io.write_all(bytes).await?;
    io.flush().await?;
    if let Some(t) = &port.transcript {
        t.data(label, Direction::ModemToHost, bytes);
    }
    Ok(())
}

/// Serves one client of `port` on `io` until it closes (read end), a write fails, or shutdown.
/// Attaches the port before and detaches it after. A disconnect is a normal end (`Ok`).
pub async fn serve_client<S, C>(
    hub: &ModemHub<C>,
    port: PortId,
    label: &str,
    io: &mut S,
    shutdown: &mut Shutdown,
) -> io::Result<()>
where
    S: AsyncRead + AsyncWrite + Unpin,
    C: ModemCore,
{
    let Some(p) = hub.ports.get(port) else {
        return Err(io::Error::new(io::ErrorKind::NotFound, "no such port"));
    };
    let mut urc_rx = p.urc.subscribe();
    let mut wake_rx = p.wake.subscribe();
    hub.attach(port, label);
    wake_rx.mark_changed();
    let mut buf = vec![0u8; 4096];
    let result: io::Result<()> = loop {
        tokio::select! {
            biased;
            _ = shutdown.wait() => break Ok(()),
            r = io.read(&mut buf) => match r {
                Ok(0) => break Ok(()),
                Ok(n) => {
                    let bytes = buf.get(..n).unwrap_or_default();
                    if let Some(t) = &p.transcript {
                        t.data(label, Direction::HostToModem, bytes);
                    }
                    let (out, delay) = hub.input(port, bytes);
                    if !delay.is_zero() {
                        tokio::time::sleep(delay).await;
                    }
                    if let Err(e) = write_out(io, p, label, &out).await {
                        break Err(e);
                    }
                }
                Err(e) => break Err(e),
            },
            m = urc_rx.recv() => match m {
                Ok(bytes) => {
                    if let Err(e) = write_out(io, p, label, &bytes).await {
                        break Err(e);
                    }
                }
                Err(broadcast::error::RecvError::Lagged(n)) => {
                    tracing::warn!(modem = %hub.name, port = %p.name, endpoint = label, lost = n, "client too slow: URCs dropped");
                }
                Err(broadcast::error::RecvError::Closed) => break Ok(()),
            },
            r = wake_rx.changed() => {
                if r.is_err() {
                    break Ok(());
                }
                let out = hub.lock().take_output(port);
                if !out.is_empty() {
                    // Every client of the port (this one included) writes it.
                    let _ = p.urc.send(Arc::from(out));
                }
            }
        }
    };
    hub.detach(port, label);
    match result {
        Err(e) if is_disconnect(&e) => Ok(()),
        other => other,
    }
}

/// Runs [`ModemCore::poll`] on its deadlines and after every wake-up; wakes the clients after
/// each run so timer-made URCs go out.
pub fn spawn_timer<C: ModemCore>(hub: Arc<ModemHub<C>>, mut shutdown: Shutdown) -> JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            let next = {
                let mut core = hub.lock();
                let now = Instant::now();
                let next = core.poll(now);
                hub.set_planned(now, next);
                next
            };
            hub.wake_clients();
            let sleep = async {
                match next {
                    Some(d) => tokio::time::sleep(d).await,
                    None => std::future::pending::<()>().await,
                }
            };
            tokio::select! {
                _ = shutdown.wait() => break,
                _ = sleep => {}
                _ = hub.timer.notified() => {}
            }
        }
    })
}

/// Serves `port` on `pty` until shutdown: waits (polling every `hup_poll`) while no client has
/// the slave open, serves the client while it has, then resets the slave (stale bytes dropped,
/// raw mode). The PTY and its symlink go away when the task ends.
pub fn spawn_pty<C: ModemCore>(
    hub: Arc<ModemHub<C>>,
    port: PortId,
    pty: Pty,
    opts: EndpointOptions,
    mut shutdown: Shutdown,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let pty = pty;
        let port_name = hub
            .ports
            .get(port)
            .map(|p| p.name.clone())
            .unwrap_or_default();
        loop {
            // Detached: no epoll registration (HUP would fire continuously); check on a timer.
            loop {
                match pty.slave_state() {
                    Ok(SlaveState::HungUp) => {}
                    Ok(_) => break,
                    Err(e) => {
                        tracing::warn!(modem = %hub.name, port = %port_name, error = %e, "PTY poll failed");
                    }
                }
                tokio::select! {
                    _ = shutdown.wait() => return,
                    _ = tokio::time::sleep(opts.hup_poll) => {}
                }
            }
            match pty.stream() {
                Ok(mut stream) => {
                    if let Err(e) =
                        serve_client(&hub, port, "pty", &mut stream, &mut shutdown).await
                    {
                        tracing::warn!(modem = %hub.name, port = %port_name, error = %e, "PTY client ended with an error");
                    }
                }
                Err(e) => {
                    tracing::warn!(modem = %hub.name, port = %port_name, error = %e, "cannot register the PTY master");
                    tokio::select! {
                        _ = shutdown.wait() => return,
                        _ = tokio::time::sleep(opts.hup_poll) => {}
                    }
                }
            }
            if shutdown.is_set() {
                return;
            }
            // A new client may already be there: then only drop stale bytes, keep its termios.
            let termios = !matches!(pty.slave_state(), Ok(SlaveState::Open));
            if let Err(e) = pty.reset_slave_with(termios) {
                tracing::debug!(modem = %hub.name, port = %port_name, error = %e, "PTY slave reset failed");
            }
        }
    })
}

/// A Unix socket address: a filesystem path, or `abstract:<name>` (Linux abstract namespace).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UnixAddr {
    Path(PathBuf),
    Abstract(String),
}

impl UnixAddr {
    pub fn parse(s: &str) -> UnixAddr {
        match s.strip_prefix("abstract:") {
            Some(name) => UnixAddr::Abstract(name.to_string()),
            None => UnixAddr::Path(PathBuf::from(s)),
        }
    }

    /// Connects a blocking client (tools, tests).
    pub fn connect_std(&self) -> io::Result<std::os::unix::net::UnixStream> {
        match self {
            UnixAddr::Path(p) => std::os::unix::net::UnixStream::connect(p),
            UnixAddr::Abstract(name) => {
                use std::os::linux::net::SocketAddrExt;
                let addr = std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes())?;
                std::os::unix::net::UnixStream::connect_addr(&addr)
            }
        }
    }
}

impl fmt::Display for UnixAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UnixAddr::Path(p) => write!(f, "{}", p.display()),
            UnixAddr::Abstract(n) => write!(f, "abstract:{n}"),
        }
    }
}

/// A socket file this process created; removed by [`SocketFile::remove`] only if it is still
/// the same inode (another process may have replaced it).
#[derive(Debug)]
pub struct SocketFile {
    path: PathBuf,
    dev: u64,
    ino: u64,
}

impl SocketFile {
    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn remove(&self) {
        if let Ok(meta) = std::fs::symlink_metadata(&self.path) {
            if meta.dev() == self.dev && meta.ino() == self.ino {
                if let Err(e) = std::fs::remove_file(&self.path) {
                    tracing::warn!(path = %self.path.display(), error = %e, "cannot remove socket");
                }
            }
        }
    }
}

/// Binds a Unix listener (in a tokio runtime). A stale socket file (nobody accepting) is
/// replaced; a live one, or a file that is not a socket, is an error.
pub fn bind_unix(addr: &UnixAddr) -> io::Result<(UnixListener, Option<SocketFile>)> {
    match addr {
        UnixAddr::Path(path) => {
            use std::os::unix::fs::FileTypeExt;
            match std::fs::symlink_metadata(path) {
                Ok(meta) if meta.file_type().is_socket() => {
                    if std::os::unix::net::UnixStream::connect(path).is_ok() {
                        return Err(io::Error::new(
                            io::ErrorKind::AddrInUse,
                            format!("{} is in use by another process", path.display()),
                        ));
                    }
                    std::fs::remove_file(path)?;
                }
                Ok(_) => {
                    return Err(io::Error::new(
                        io::ErrorKind::AlreadyExists,
                        format!("{} exists and is not a socket", path.display()),
                    ))
                }
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
            let listener = UnixListener::bind(path)?;
            let meta = std::fs::symlink_metadata(path)?;
            Ok((
                listener,
                Some(SocketFile {
                    path: path.clone(),
                    dev: meta.dev(),
                    ino: meta.ino(),
                }),
            ))
        }
        UnixAddr::Abstract(name) => {
            use std::os::linux::net::SocketAddrExt;
            let addr = std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes())?;
            let std_listener = std::os::unix::net::UnixListener::bind_addr(&addr)?;
            std_listener.set_nonblocking(true)?;
            Ok((UnixListener::from_std(std_listener)?, None))
        }
    }
}

/// Binds a TCP listener (in a tokio runtime): `PORT` alone means `127.0.0.1:PORT`; an explicit
/// non-loopback address is honoured with a warning.
pub fn bind_tcp(spec: &str) -> io::Result<TcpListener> {
    let spec = spec.trim();
    let std_listener = match spec.parse::<u16>() {
        Ok(port) => std::net::TcpListener::bind((std::net::Ipv4Addr::LOCALHOST, port))?,
        Err(_) => std::net::TcpListener::bind(spec)?,
    };
    let local = std_listener.local_addr()?;
    if !local.ip().is_loopback() {
        tracing::warn!(addr = %local, "AT port listening beyond loopback: anyone who can reach it controls the modem");
    }
    std_listener.set_nonblocking(true)?;
    TcpListener::from_std(std_listener)
}

/// Accepts clients of `port` on a Unix listener until shutdown; removes `file` at the end.
pub fn spawn_unix<C: ModemCore>(
    hub: Arc<ModemHub<C>>,
    port: PortId,
    listener: UnixListener,
    file: Option<SocketFile>,
    opts: EndpointOptions,
    mut shutdown: Shutdown,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut conns = JoinSet::new();
        let mut serial = 0u64;
        loop {
            tokio::select! {
                _ = shutdown.wait() => break,
                Some(_) = conns.join_next(), if !conns.is_empty() => {}
                r = listener.accept() => match r {
                    Ok((mut stream, _)) => {
                        if conns.len() >= opts.max_clients {
                            tracing::warn!(modem = %hub.name, port, "too many clients on the Unix socket; closing the new one");
                            continue;
                        }
                        serial += 1;
                        let label = format!("unix:{serial}");
                        let hub = hub.clone();
                        let mut shutdown = shutdown.clone();
                        conns.spawn(async move {
                            if let Err(e) = serve_client(&hub, port, &label, &mut stream, &mut shutdown).await {
                                tracing::warn!(modem = %hub.name, endpoint = %label, error = %e, "client ended with an error");
                            }
                        });
                    }
                    Err(e) => {
                        tracing::warn!(modem = %hub.name, error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                },
            }
        }
        while conns.join_next().await.is_some() {}
        if let Some(f) = file {
            f.remove();
        }
    })
}

/// Accepts clients of `port` on a TCP listener (with `TCP_NODELAY`) until shutdown.
pub fn spawn_tcp<C: ModemCore>(
    hub: Arc<ModemHub<C>>,
    port: PortId,
    listener: TcpListener,
    opts: EndpointOptions,
    mut shutdown: Shutdown,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut conns = JoinSet::new();
        loop {
            tokio::select! {
                _ = shutdown.wait() => break,
                Some(_) = conns.join_next(), if !conns.is_empty() => {}
                r = listener.accept() => match r {
                    Ok((mut stream, peer)) => {
                        if conns.len() >= opts.max_clients {
                            tracing::warn!(modem = %hub.name, port, %peer, "too many TCP clients; closing the new one");
                            continue;
                        }
                        if let Err(e) = stream.set_nodelay(true) {
                            tracing::debug!(error = %e, "TCP_NODELAY");
                        }
                        let label = format!("tcp:{peer}");
                        let hub = hub.clone();
                        let mut shutdown = shutdown.clone();
                        conns.spawn(async move {
                            if let Err(e) = serve_client(&hub, port, &label, &mut stream, &mut shutdown).await {
                                tracing::warn!(modem = %hub.name, endpoint = %label, error = %e, "client ended with an error");
                            }
                        });
                    }
                    Err(e) => {
                        tracing::warn!(modem = %hub.name, error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                },
            }
        }
        while conns.join_next().await.is_some() {}
    })
}
