//! PTY endpoints (Linux): one pseudo-terminal per AT port, its slave symlinked at a stable path.
//!
//! Facts this module relies on (verified on Linux, see `docs/vmodem.md`):
//! - The slave is **not** kept open by the simulator, so the master reports `POLLHUP` (and `read`
//!   returns `EIO`) while no client has the slave open. That is how a client's open and close are
//!   seen. `POLLHUP` is level-triggered, so while hung up the endpoint polls on a timer instead of
//!   waiting on epoll (which would spin). tokio keeps "read closed" sticky, so every attached
//!   period gets a fresh registration ([`Pty::stream`]) that is dropped at the hang-up.
//! - Data the last client wrote before closing is still readable from the master before `EIO`.
//! - Bytes written to the master while nobody has the slave open are buffered and delivered to the
//!   next client. The endpoint therefore never writes while hung up ([`PtyStream`] checks before
//!   every write), and after every hang-up [`Pty::reset_slave`] opens the slave briefly,
//!   discards its input queue (`tcflush(TCIFLUSH)`) and restores raw mode.
//! - Termios settings of the slave persist across client opens while the master stays open; raw
//!   mode is set when the PTY is created and again after every client.
//! - A PTY has no modem-control lines (`TIOCMGET` gives `ENOTTY`): a close is the DTR drop.

use std::fs::OpenOptions;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use nix::errno::Errno;
use nix::fcntl::{fcntl, FcntlArg, OFlag};
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::pty::{grantpt, posix_openpt, ptsname_r, unlockpt, PtyMaster};
use nix::sys::termios::{cfmakeraw, tcflush, tcgetattr, tcsetattr, FlushArg, SetArg};
use tokio::io::unix::AsyncFd;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Why a PTY could not be created or linked.
#[derive(Debug, thiserror::Error)]
pub enum PtyError {
    #[error("{op}: {source}")]
    Sys {
        op: &'static str,
        #[source]
        source: io::Error,
    },
    #[error("{0} exists and is not a symlink; refusing to replace it")]
    NotASymlink(PathBuf),
}

fn sys(op: &'static str) -> impl FnOnce(Errno) -> PtyError {
    move |e| PtyError::Sys {
        op,
        source: io::Error::from(e),
    }
}

fn sys_io(op: &'static str) -> impl FnOnce(io::Error) -> PtyError {
    move |source| PtyError::Sys { op, source }
}

/// Whether a client has the slave open, as seen from the master.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SlaveState {
    /// No client has the slave open.
    HungUp,
    /// No client has the slave open, but the last one left bytes to read (they are its input).
    HungUpWithData,
    /// A client has the slave open.
    Open,
}

/// One pseudo-terminal: the master (non-blocking, owned by the simulator) and the slave's path.
#[derive(Debug)]
pub struct Pty {
    master: PtyMaster,
    slave: PathBuf,
    link: Option<PathBuf>,
}

impl Pty {
    /// Creates a PTY (`posix_openpt`, `grantpt`, `unlockpt`, `ptsname_r`), puts its slave in raw
    /// mode and its master in non-blocking mode. The slave is not kept open.
    pub fn open() -> Result<Pty, PtyError> {
        let master = posix_openpt(OFlag::O_RDWR | OFlag::O_NOCTTY | OFlag::O_CLOEXEC)
            .map_err(sys("posix_openpt"))?;
        grantpt(&master).map_err(sys("grantpt"))?;
        unlockpt(&master).map_err(sys("unlockpt"))?;
        let slave = PathBuf::from(ptsname_r(&master).map_err(sys("ptsname_r"))?);
        let flags = fcntl(&master, FcntlArg::F_GETFL).map_err(sys("fcntl(F_GETFL)"))?;
        let flags = OFlag::from_bits_truncate(flags) | OFlag::O_NONBLOCK;
        fcntl(&master, FcntlArg::F_SETFL(flags)).map_err(sys("fcntl(F_SETFL)"))?;
        let pty = Pty {
            master,
            slave,
            link: None,
        };
        pty.reset_slave()?;
        Ok(pty)
    }

    /// The slave device, e.g. `/dev/pts/3`.
    pub fn slave_path(&self) -> &Path {
        &self.slave
    }

    /// The stable symlink, once [`Pty::link`] made it.
    pub fn link_path(&self) -> Option<&Path> {
        self.link.as_deref()
    }

    /// Makes `link` a symlink to the slave, replacing a stale symlink (never a regular file).
    /// The symlink is removed when the `Pty` is dropped.
    pub fn link(&mut self, link: &Path) -> Result<(), PtyError> {
        match std::fs::symlink_metadata(link) {
            Ok(meta) if meta.file_type().is_symlink() => {
                std::fs::remove_file(link).map_err(sys_io("remove stale symlink"))?;
            }
            Ok(_) => return Err(PtyError::NotASymlink(link.to_path_buf())),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(sys_io("stat symlink")(e)),
        }
        std::os::unix::fs::symlink(&self.slave, link).map_err(sys_io("symlink"))?;
        self.link = Some(link.to_path_buf());
        Ok(())
    }

    /// Removes the symlink if it still points at this PTY's slave.
    pub fn unlink(&mut self) {
        if let Some(link) = self.link.take() {
            if std::fs::read_link(&link).ok().as_deref() == Some(self.slave.as_path()) {
                if let Err(e) = std::fs::remove_file(&link) {
                    tracing::warn!(link = %link.display(), error = %e, "cannot remove PTY symlink");
                }
            }
        }
    }

    /// Polls the master without blocking: is a client there?
    pub fn slave_state(&self) -> io::Result<SlaveState> {
        slave_state(&self.master)
    }

    /// Opens the slave for a moment (while no client is expected to have it), discards bytes
    /// queued for the client (`TCIFLUSH` on the slave) and sets raw mode (`cfmakeraw`). Called
    /// at creation and after every client, so the next client starts clean.
    pub fn reset_slave(&self) -> Result<(), PtyError> {
        self.reset_slave_with(true)
    }

    /// [`Pty::reset_slave`], optionally leaving the termios alone (when a new client may already
    /// have set its own).
    pub fn reset_slave_with(&self, raw_termios: bool) -> Result<(), PtyError> {
        let slave = OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(nix::libc::O_NOCTTY | nix::libc::O_NONBLOCK)
            .open(&self.slave)
            .map_err(sys_io("open slave"))?;
        tcflush(&slave, FlushArg::TCIFLUSH).map_err(sys("tcflush(slave)"))?;
        if raw_termios {
            let mut t = tcgetattr(&slave).map_err(sys("tcgetattr(slave)"))?;
            cfmakeraw(&mut t);
            tcsetattr(&slave, SetArg::TCSANOW, &t).map_err(sys("tcsetattr(slave)"))?;
        }
        Ok(())
    }

    /// An async stream over the master for one attached period: a new epoll registration on a
    /// duplicate of the master fd (dropped at the hang-up, see the module doc).
    pub fn stream(&self) -> io::Result<PtyStream> {
        let fd = self.master.as_fd().try_clone_to_owned()?;
        // `AsyncFd::register` is `unsafe` (forbidden here) and its safe twin `new` is deprecated
        // since tokio 1.54 because a general `T: AsRawFd` may close or swap its fd. `MasterFd`
        // owns its `OwnedFd`, never exposes it mutably and never replaces it, which is exactly the
        // contract `register` asks for.
        #[allow(deprecated)]
        let fd = AsyncFd::new(MasterFd(fd))?;
        Ok(PtyStream { fd })
    }
}

impl Drop for Pty {
    fn drop(&mut self) {
        self.unlink();
    }
}

fn slave_state(fd: &impl AsFd) -> io::Result<SlaveState> {
    let mut fds = [PollFd::new(fd.as_fd(), PollFlags::POLLIN)];
    poll(&mut fds, PollTimeout::ZERO).map_err(io::Error::from)?;
    let revents = fds[0].revents().unwrap_or(PollFlags::empty());
    Ok(if !revents.contains(PollFlags::POLLHUP) {
        SlaveState::Open
    } else if revents.contains(PollFlags::POLLIN) {
        SlaveState::HungUpWithData
    } else {
        SlaveState::HungUp
    })
}

/// A duplicate of the master fd (so [`AsyncFd`] can own it).
#[derive(Debug)]
struct MasterFd(OwnedFd);

impl AsRawFd for MasterFd {
    fn as_raw_fd(&self) -> RawFd {
        self.0.as_raw_fd()
    }
}

/// The master of an attached PTY as a tokio stream. Reads end (`Ok(0)`) when the client hangs
/// up (`EIO`); writes fail with `BrokenPipe` instead of queueing bytes while nobody is attached.
#[derive(Debug)]
pub struct PtyStream {
    fd: AsyncFd<MasterFd>,
}

impl PtyStream {
    /// Whether the client has closed the slave.
    pub fn hung_up(&self) -> bool {
        !matches!(slave_state(&self.fd.get_ref().0), Ok(SlaveState::Open))
    }
}

fn eio_is_eof(r: io::Result<usize>) -> io::Result<usize> {
    match r {
        Err(e) if e.raw_os_error() == Some(nix::libc::EIO) => Ok(0),
        other => other,
    }
}

impl AsyncRead for PtyStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        loop {
            let mut guard = ready!(self.fd.poll_read_ready(cx))?;
            let unfilled = buf.initialize_unfilled();
            match guard.try_io(|inner| eio_is_eof(read_fd(&inner.get_ref().0, unfilled))) {
                Ok(Ok(n)) => {
                    buf.advance(n);
                    return Poll::Ready(Ok(()));
                }
                Ok(Err(e)) => return Poll::Ready(Err(e)),
                Err(_would_block) => continue,
            }
        }
    }
}

impl AsyncWrite for PtyStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        loop {
            if self.hung_up() {
                return Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::BrokenPipe,
                    "PTY client closed",
                )));
            }
            let mut guard = ready!(self.fd.poll_write_ready(cx))?;
            match guard.try_io(|inner| write_fd(&inner.get_ref().0, buf)) {
                Ok(Err(e)) if e.raw_os_error() == Some(nix::libc::EIO) => {
                    return Poll::Ready(Err(io::Error::new(
                        io::ErrorKind::BrokenPipe,
                        "PTY client closed",
                    )))
                }
                Ok(r) => return Poll::Ready(r),
                Err(_would_block) => continue,
            }
        }
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

fn read_fd(fd: &OwnedFd, buf: &mut [u8]) -> io::Result<usize> {
    nix::unistd::read(fd, buf).map_err(io::Error::from)
}

fn write_fd(fd: &OwnedFd, buf: &[u8]) -> io::Result<usize> {
    nix::unistd::write(fd, buf).map_err(io::Error::from)
}

/// A blocking client of a PTY slave in raw mode (tests, benches and tools use the same steps a
/// real client does: open with `O_NOCTTY`, `cfmakeraw`). Reads honour an optional timeout
/// ([`PtyClient::set_read_timeout`], `TimedOut` when it passes).
#[derive(Debug)]
pub struct PtyClient {
    file: std::fs::File,
    timeout: Option<std::time::Duration>,
}

impl PtyClient {
    /// Opens `path` (the slave or its symlink) read/write, blocking, in raw mode.
    pub fn open(path: &Path) -> io::Result<PtyClient> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(nix::libc::O_NOCTTY)
            .open(path)?;
        let mut t = tcgetattr(&file).map_err(io::Error::from)?;
        cfmakeraw(&mut t);
        tcsetattr(&file, SetArg::TCSANOW, &t).map_err(io::Error::from)?;
        Ok(PtyClient {
            file,
            timeout: None,
        })
    }

    /// `None` blocks; `Some(d)` makes a read fail with `TimedOut` after `d` without data.
    pub fn set_read_timeout(&mut self, timeout: Option<std::time::Duration>) {
        self.timeout = timeout;
    }

    /// Reads until the bytes read end with one of `ends` (any of them; none = until the timeout)
    /// or `timeout` passes; returns what was read.
    pub fn read_until(
        &mut self,
        ends: &[&[u8]],
        timeout: std::time::Duration,
    ) -> io::Result<Vec<u8>> {
        let deadline = std::time::Instant::now() + timeout;
        let mut out = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            if ends.iter().any(|e| out.ends_with(e)) {
                return Ok(out);
            }
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            if left.is_zero() {
                return Ok(out);
            }
            if !self.wait_readable(left)? {
                continue;
            }
            let got = self.file.read(&mut buf)?;
            if got == 0 {
                return Ok(out);
            }
            out.extend_from_slice(buf.get(..got).unwrap_or_default());
        }
    }

    fn wait_readable(&self, left: std::time::Duration) -> io::Result<bool> {
        let ms = u16::try_from(left.as_millis().clamp(1, 10_000)).unwrap_or(10_000);
        let mut fds = [PollFd::new(self.file.as_fd(), PollFlags::POLLIN)];
        let n = poll(&mut fds, PollTimeout::from(ms)).map_err(io::Error::from)?;
        Ok(n > 0)
    }
}

impl Read for PtyClient {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if let Some(t) = self.timeout {
            let deadline = std::time::Instant::now() + t;
            loop {
                let left = deadline.saturating_duration_since(std::time::Instant::now());
                if left.is_zero() {
                    return Err(io::Error::new(io::ErrorKind::TimedOut, "PTY read timeout"));
                }
                if self.wait_readable(left)? {
                    break;
                }
            }
        }
        self.file.read(buf)
    }
}

impl Write for PtyClient {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.file.write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}
