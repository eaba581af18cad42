//! The engine of one AT port. (Stub with the final API; the implementation is being written.)

use std::time::Instant;

use super::{Executor, Settings};

/// Options of one port, from the modem's quirk profile.
#[derive(Debug, Clone)]
pub struct PortOptions {
    /// Port name, for tracing spans and transcripts.
    pub name: String,
    /// The settings `ATZ` / `AT&F` restore (and the initial ones).
    pub factory: Settings,
    /// Longest accepted command line after `AT` (at least 2048; default 4096). Longer → `ERROR`.
    pub max_line: usize,
    /// Final result text for [`crate::error::CmdError::Unknown`] instead of `ERROR`
    /// (e.g. `COMMAND NOT SUPPORT`), if the vendor profile says so.
    pub unknown_command_text: Option<String>,
    /// URC lines kept while the port is busy; the oldest are dropped beyond this.
    pub urc_queue_limit: usize,
}

impl PortOptions {
    pub fn named(name: &str) -> PortOptions {
        PortOptions {
            name: name.to_string(),
            factory: Settings::factory(),
            max_line: 4096,
            unknown_command_text: None,
            urc_queue_limit: 64,
        }
    }
}

/// One AT port's engine: line assembly, tokenizing, basic commands, formatting, URC queue,
/// data mode.
#[derive(Debug)]
pub struct Port {
    opts: PortOptions,
    settings: Settings,
}

impl Port {
    pub fn new(opts: PortOptions) -> Port {
        let settings = opts.factory.clone();
        Port { opts, settings }
    }

    pub fn name(&self) -> &str {
        &self.opts.name
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    pub fn settings_mut(&mut self) -> &mut Settings {
        &mut self.settings
    }

    /// Bytes from the host. Returns the bytes to send back: echo, and for each completed line
    /// its information text and one final result code, then any URCs queued meanwhile.
    /// Commands run synchronously through `exec`.
    pub fn feed(&mut self, input: &[u8], now: Instant, exec: &mut dyn Executor) -> Vec<u8> {
        let _ = (input, now, exec);
        Vec::new()
    }

    /// An unsolicited result code line (without CR/LF). Returns the bytes to send now if the
    /// port is idle; otherwise queues it for after the current command line's final result.
    pub fn urc(&mut self, line: &str) -> Vec<u8> {
        let _ = line;
        Vec::new()
    }

    /// Queued URCs, if the port is idle now (empty otherwise).
    pub fn take_urcs(&mut self) -> Vec<u8> {
        Vec::new()
    }

    /// No partial command line and not in data mode.
    pub fn is_idle(&self) -> bool {
        true
    }

    pub fn in_data_mode(&self) -> bool {
        false
    }

    /// The client closed the port (DTR drop): the partial line is dropped, data mode ends
    /// (`exec.data_mode_ended()`), queued URCs are discarded, settings are kept.
    pub fn hangup(&mut self, exec: &mut dyn Executor) {
        let _ = exec;
    }

    /// Timers (the `+++` escape guard time). Returns bytes to send (e.g. `OK` after an escape).
    pub fn poll(&mut self, now: Instant, exec: &mut dyn Executor) -> Vec<u8> {
        let _ = (now, exec);
        Vec::new()
    }

    /// When [`Port::poll`] must be called next, if a timer runs.
    pub fn next_deadline(&self) -> Option<Instant> {
        None
    }
}
