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
use std::collections::BTreeMap;
use std::path::PathBuf;
pub use veuicc::isdr::vendor::BindingPolicy;

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
    /// IMEI binding to profiles (`[modem.binding]`, docs/vmodem.md "IMEI binding").
    #[serde(default)]
    pub binding: BindingConfig,
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
            binding: BindingConfig::default(),
        }
    }
}

/// `[modem.binding]`: the IMEI binding engine (docs/vmodem.md "IMEI binding").
///
/// ```toml
/// [modem.binding]
/// enabled = true                      # false: +CGSN reports IMEI1/IMEI2 per slot, as before
/// default_policy = "shareable"        # exclusive | shareable
/// exclusive_scope = "installed"       # installed | active
/// policies = { "8949449999999990023" = "exclusive" }   # by ICCID
/// spn_policies = { "GSMA_TEST" = "exclusive" }         # by service provider name
/// pool = ["356938035643809"]          # IMEIs of the device beyond IMEI1 / IMEI2
/// assignment_server = "https://localhost:8444"         # testbed imei-server
/// ca = "imei/tls-ca.pem"              # trust this CA for it (else the system roots)
/// device_id = "dev-42"                # who the device is to the server (default: IMEI1)
/// ```
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct BindingConfig {
    #[serde(default = "yes")]
    pub enabled: bool,
    /// The policy of profiles no other rule names (default shareable).
    #[serde(default)]
    pub default_policy: Option<BindingPolicy>,
    /// Whom an exclusive binding excludes: every installed profile (default) or active ones.
    #[serde(default)]
    pub exclusive_scope: crate::device::binding::ExclusiveScope,
    /// Policies by ICCID (digits).
    #[serde(default)]
    pub policies: BTreeMap<String, BindingPolicy>,
    /// Policies by the profile's service provider name (profile metadata, or EF.SPN).
    #[serde(default)]
    pub spn_policies: BTreeMap<String, BindingPolicy>,
    /// Extra IMEIs of the device (15 digits with Luhn, or 14).
    #[serde(default)]
    pub pool: Vec<String>,
    /// Base URL of the IMEI assignment server (`https://host:port`).
    #[serde(default)]
    pub assignment_server: Option<String>,
    /// CA certificate (PEM or DER) to trust for the assignment server.
    #[serde(default)]
    pub ca: Option<PathBuf>,
    /// The device's identity at the assignment server (default: IMEI1 when first started).
    #[serde(default)]
    pub device_id: Option<String>,
}

impl Default for BindingConfig {
    fn default() -> Self {
        BindingConfig {
            enabled: true,
            default_policy: None,
            exclusive_scope: crate::device::binding::ExclusiveScope::default(),
            policies: BTreeMap::new(),
            spn_policies: BTreeMap::new(),
            pool: Vec::new(),
            assignment_server: None,
            ca: None,
            device_id: None,
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
