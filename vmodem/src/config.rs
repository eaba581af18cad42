//! Modem configuration: a TOML file (`vmodem start --config modems.toml`) or CLI flags; every
//! field has a default, so an empty file gives one working modem.
//!
//! ```toml
//! [[modem]]
//! name = "m0"
//! quirks = "quectel"              # vmodem/quirks/<name>.toml (embedded) or a path
//! state_dir = "run/m0"            # sled + eUICC identity; default: <run dir>/<name>
//! imei = ["350000000000006", "350000000000014"]
//! [[modem.port]]
//! name = "at0"                    # PTY symlinked at <run dir>/<name>/at0
//! [[modem.port]]
//! name = "at1"
//! unix = "run/m0-at1.sock"        # also (or instead) a Unix socket
//! tcp = "127.0.0.1:7001"          # and/or loopback TCP
//! pty = false
//! [[modem.slot]]
//! kind = "uicc"                   # empty | uicc | euicc | pcsc
//! package = "shared/testdata/ts48/TS48V5-SAIP2-3-NOBERTLV-UNIQUE.der"
//! [[modem.slot]]
//! kind = "euicc"
//! ```

use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// The whole file: one or more modems.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Where PTY symlinks, sockets and transcripts go (default `./run`).
    #[serde(default)]
    pub run_dir: Option<PathBuf>,
    /// Control socket path (JSON lines; default `<run_dir>/control.sock`).
    #[serde(default)]
    pub control: Option<PathBuf>,
    #[serde(default, rename = "modem")]
    pub modems: Vec<ModemConfig>,
}

/// One modem.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModemConfig {
    pub name: String,
    /// Quirk profile: an embedded name (`generic`, `quectel`, `simcom`) or a TOML file path.
    #[serde(default = "default_quirks")]
    pub quirks: String,
    /// sled state and the eUICC's state directory; default `<run_dir>/<name>/state`.
    #[serde(default)]
    pub state_dir: Option<PathBuf>,
    /// IMEI1 and IMEI2 (15 digits with a valid Luhn check digit, or 14 digits and the check
    /// digit is computed). Default: derived from the modem name under a test TAC. Used only the
    /// first time: afterwards the persisted IMEIs win (they can be changed at run time).
    #[serde(default)]
    pub imei: Vec<String>,
    /// Software version number (2 digits) for IMEISV.
    #[serde(default)]
    pub svn: Option<String>,
    /// Identity overrides (else from the quirk profile).
    #[serde(default)]
    pub manufacturer: Option<String>,
    #[serde(default)]
    pub model: Option<String>,
    #[serde(default)]
    pub revision: Option<String>,
    #[serde(default = "default_ports", rename = "port")]
    pub ports: Vec<PortConfig>,
    /// SIM slots in order (slot 1 first). Default: slot 1 empty, slot 2 the virtual eUICC.
    #[serde(default = "default_slots", rename = "slot")]
    pub slots: Vec<SlotConfig>,
    /// The initial network (changeable at run time through the control socket).
    #[serde(default)]
    pub network: NetworkConfig,
}

fn default_quirks() -> String {
    "generic".into()
}

fn default_ports() -> Vec<PortConfig> {
    vec![PortConfig::pty("at0"), PortConfig::pty("at1")]
}

fn default_slots() -> Vec<SlotConfig> {
    vec![SlotConfig::Empty, SlotConfig::Euicc { state_dir: None }]
}

impl ModemConfig {
    /// A modem with every default and the given name.
    pub fn named(name: &str) -> ModemConfig {
        ModemConfig {
            name: name.to_string(),
            quirks: default_quirks(),
            state_dir: None,
            imei: Vec::new(),
            svn: None,
            manufacturer: None,
            model: None,
            revision: None,
            ports: default_ports(),
            slots: default_slots(),
            network: NetworkConfig::default(),
        }
    }
}

/// One AT port and where it is reachable. At least one of `pty`, `unix`, `tcp`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PortConfig {
    pub name: String,
    /// A PTY whose slave is symlinked at `<run_dir>/<modem>/<name>` (default true).
    #[serde(default = "yes")]
    pub pty: bool,
    /// A Unix socket path (`abstract:<name>` for the abstract namespace).
    #[serde(default)]
    pub unix: Option<String>,
    /// A TCP listen address (loopback unless explicitly otherwise).
    #[serde(default)]
    pub tcp: Option<String>,
}

fn yes() -> bool {
    true
}

impl PortConfig {
    pub fn pty(name: &str) -> PortConfig {
        PortConfig {
            name: name.to_string(),
            pty: true,
            unix: None,
            tcp: None,
        }
    }
}

/// What a SIM slot holds at start (hot insert/remove at run time through the control socket).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
pub enum SlotConfig {
    Empty,
    /// A plain UICC holding one profile from an unprotected SAIP package.
    Uicc {
        package: PathBuf,
    },
    /// The in-process virtual eUICC (state in `state_dir`, default `<modem state>/euicc`).
    Euicc {
        #[serde(default)]
        state_dir: Option<PathBuf>,
    },
    /// Any card in a PC/SC reader (a real card, or a vpcd card); `reader` is a substring of the
    /// reader name.
    Pcsc {
        reader: String,
    },
}

/// The simulated network at start.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct NetworkConfig {
    /// Register automatically when a SIM with valid credentials is ready (default true).
    #[serde(default = "yes")]
    pub auto_register: bool,
    /// Access technology (27.007 `<AcT>`, default 7 = E-UTRAN).
    #[serde(default = "default_act")]
    pub act: u8,
    /// Tracking/location area code and cell id (hex strings as in `+CEREG`).
    #[serde(default = "default_tac")]
    pub tac: String,
    #[serde(default = "default_ci")]
    pub ci: String,
    /// `+CSQ` RSSI 0..31 (default 20).
    #[serde(default = "default_rssi")]
    pub rssi: u8,
    /// Operator name shown by `+COPS` (default: from the profile's SPN, else "Test Network").
    #[serde(default)]
    pub operator_name: Option<String>,
    /// Register as roaming (stat 5) instead of home (1).
    #[serde(default)]
    pub roaming: bool,
}

fn default_act() -> u8 {
    7
}
fn default_tac() -> String {
    "00C3".into()
}
fn default_ci() -> String {
    "0001A2B5".into()
}
fn default_rssi() -> u8 {
    20
}

impl Default for NetworkConfig {
    fn default() -> Self {
        NetworkConfig {
            auto_register: true,
            act: default_act(),
            tac: default_tac(),
            ci: default_ci(),
            rssi: default_rssi(),
            operator_name: None,
            roaming: false,
        }
    }
}
