//! `vmodem`: a virtual cellular modem that host software cannot tell from a USB modem at the AT
//! level.
//!
//! Layers (see `docs/ARCHITECTURE.md` and `docs/vmodem.md`):
//! - [`v250`]: sans-IO V.250 engine per port — line assembly, tokenizer, result formatting
//!   (E/V/Q/`+CMEE`), character sets, URC queue, data mode. Executes basic settings itself and
//!   hands every other command to an [`v250::Executor`].
//! - [`commands`]: 27.007 / 27.005 / vendor command handlers over the [`device`] model.
//! - [`device`]: SIM slots (virtual eUICC, plain UICC, PC/SC card, empty), IMEIs, network.
//! - [`modem`]: one modem = one device + its ports; the sans-IO entry point the endpoints drive.
//! - [`pty`], [`endpoint`], [`control`], [`transcript`]: the IO (PTYs, sockets, control socket,
//!   byte-level transcripts).

pub mod commands;
pub mod config;
pub mod control;
pub mod device;
pub mod endpoint;
pub mod modem;
pub mod pty;
pub mod quirks;
pub mod server;
pub mod transcript;

/// The V.250 engine (crate `vmodem-v250`, kept separate so its fuzz targets build in seconds).
pub use v250;
/// Command errors and their one mapping to `+CME ERROR` codes (re-exported from `v250`).
pub use v250::error;
