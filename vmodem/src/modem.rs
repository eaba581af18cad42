//! One modem: its device model and its AT ports, behind one sans-IO entry point per event.
//! The endpoints (PTY, Unix socket, TCP) and the control socket drive it; tests drive it
//! directly.

use std::time::{Duration, Instant};

use crate::config::ModemConfig;
use crate::control::{ControlError, ControlRequest};

/// Index of a port in the modem's configuration order.
pub type PortId = usize;

/// Why a modem could not be built or opened.
#[derive(Debug, thiserror::Error)]
pub enum ModemError {
    #[error("configuration: {0}")]
    Config(String),
    #[error("state: {0}")]
    State(String),
    #[error("SIM: {0}")]
    Sim(String),
}

/// A virtual modem.
#[derive(Debug)]
pub struct Modem {
    name: String,
    port_names: Vec<String>,
}

impl Modem {
    /// Builds the modem of `cfg`, opening (or creating) its persistent state.
    pub fn open(cfg: &ModemConfig) -> Result<Modem, ModemError> {
        Ok(Modem {
            name: cfg.name.clone(),
            port_names: cfg.ports.iter().map(|p| p.name.clone()).collect(),
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Port names in configuration order (a [`PortId`] indexes this list).
    pub fn port_names(&self) -> &[String] {
        &self.port_names
    }

    /// Bytes from the host on `port`; returns the bytes to send back now (echo, responses, and
    /// URCs that may be delivered after the final result).
    pub fn input(&mut self, port: PortId, bytes: &[u8], now: Instant) -> Vec<u8> {
        let _ = (port, bytes, now);
        Vec::new()
    }

    /// A client opened `port`.
    pub fn attach(&mut self, port: PortId) {
        let _ = port;
    }

    /// The client closed `port` (treated as DTR drop: data mode ends, partial line dropped,
    /// URCs are no longer queued for it).
    pub fn detach(&mut self, port: PortId) {
        let _ = port;
    }

    /// URC bytes ready for an idle, attached `port`.
    pub fn take_output(&mut self, port: PortId) -> Vec<u8> {
        let _ = port;
        Vec::new()
    }

    /// Runs timers due at `now` (registration steps, `+++` guard time); returns when to call
    /// again, if anything is scheduled.
    pub fn poll(&mut self, now: Instant) -> Option<Duration> {
        let _ = now;
        None
    }

    /// The delay the endpoint must wait before sending the response to the last line on `port`
    /// (latency injection; zero normally).
    pub fn response_delay(&self, port: PortId) -> Duration {
        let _ = port;
        Duration::ZERO
    }

    /// A control-plane request.
    pub fn control(
        &mut self,
        req: &ControlRequest,
        now: Instant,
    ) -> Result<serde_json::Value, ControlError> {
        let _ = (req, now);
        Err(ControlError::Refused("not implemented yet".into()))
    }
}
