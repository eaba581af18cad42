//! Control-plane requests (JSON lines on the control socket, one request per line, one response
//! per line): script network events, SIM changes, IMEIs, fault injection, snapshots.
//!
//! Request: `{"modem":"m0","op":"set_registration","domain":"eps","stat":5}`; the `modem` field
//! may be omitted when only one modem runs. Response: `{"ok":true,"result":{…}}` or
//! `{"ok":false,"error":"…"}`.

use serde::{Deserialize, Serialize};

/// Registration domain (27.007 `+CREG` CS, `+CGREG` PS, `+CEREG` EPS, `+C5GREG` 5GS).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Domain {
    Cs,
    Ps,
    Eps,
    #[serde(rename = "5gs")]
    FiveGs,
}

/// One control request. The `modem` selector is outside this enum (see [`Envelope`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case", deny_unknown_fields)]
pub enum ControlRequest {
    /// The state of the modem: identity, IMEIs, slots, SIM state, network, ports.
    Status,
    /// Sets the registration state (27.007 `<stat>`) of one domain, or of all when omitted;
    /// optional location and access technology. Emits the URCs enabled on each port.
    SetRegistration {
        #[serde(default)]
        domain: Option<Domain>,
        stat: u8,
        #[serde(default)]
        tac: Option<String>,
        #[serde(default)]
        ci: Option<String>,
        #[serde(default)]
        act: Option<u8>,
    },
    /// Sets the signal: `+CSQ` rssi (0..31, 99 unknown) and optionally ber; `+CESQ` and
    /// `+CIND` follow.
    SetSignal {
        rssi: u8,
        #[serde(default)]
        ber: Option<u8>,
    },
    /// Sets the operator name shown by `+COPS`.
    SetOperator { name: String },
    /// Sends an arbitrary URC line to one port (by name) or to every port.
    InjectUrc {
        line: String,
        #[serde(default)]
        port: Option<String>,
    },
    /// Removes the card from a slot (1-based).
    RemoveSim { slot: u8 },
    /// Inserts a card: a plain UICC from a SAIP package, the virtual eUICC, or a PC/SC reader.
    InsertSim {
        slot: u8,
        card: crate::config::SlotConfig,
    },
    /// Makes `slot` the active one (the MT stack uses it from now on).
    SelectSlot { slot: u8 },
    /// Enables a profile on the eUICC (by ICCID digits) as an LPA would, with SIM refresh.
    EnableProfile { iccid: String },
    /// Disables the enabled profile of the eUICC.
    DisableProfile {
        #[serde(default)]
        iccid: Option<String>,
    },
    /// Sets IMEI `index` (1 or 2); 15 digits with a valid check digit, or 14 and it is computed.
    SetImei { index: u8, imei: String },
    /// Adds a delay before every response of commands matching `command` (a prefix such as
    /// `+CGLA`, or `*` for all), in milliseconds; 0 removes it.
    SetLatency { command: String, ms: u64 },
    /// Makes the next `count` commands matching `command` fail with `+CME ERROR: <cme>` (or a
    /// plain `ERROR` without `cme`).
    InjectError {
        command: String,
        #[serde(default = "one")]
        count: u32,
        #[serde(default)]
        cme: Option<u16>,
    },
    /// Everything persistent and volatile of the modem as JSON (for assertions and bug reports).
    Snapshot,
    /// Sets the credentials the simulated network's HSS holds for an IMSI (replacing the ones
    /// provisioned from the cards' SAIP packages), e.g. to make them mismatch the card. Keys are
    /// hex; give `opc`, or `op_key` (OP) to have OPc derived (Milenage). Persisted.
    SetSubscriber {
        imsi: String,
        k: String,
        #[serde(default)]
        opc: Option<String>,
        #[serde(default)]
        op_key: Option<String>,
        /// `milenage` or `test_algorithm` (default: the TS 34.108 test algorithm).
        #[serde(default)]
        algorithm: Option<crate::device::aka::Algorithm>,
        /// The HSS's current SQN (48 bits; default 0).
        #[serde(default)]
        sqn: Option<u64>,
    },
    /// Removes an IMSI from the HSS (until the next restart re-provisions it from the cards'
    /// packages): the network then treats the SIM as unknown, as it does a real card's.
    DeleteSubscriber { imsi: String },
    /// Installs a profile from an unprotected SAIP package file on the virtual eUICC (test
    /// seeding without an SM-DP+); the HSS learns its credentials. `enable` enables it as an
    /// LPA would (with SIM refresh when the eUICC is in the active slot).
    AddProfile {
        package: std::path::PathBuf,
        #[serde(default)]
        enable: bool,
    },
    /// Network behaviour: roaming (`<stat>` 5), registration of IMSIs the HSS does not know
    /// (`accept_unknown`, e.g. real cards in PC/SC readers), automatic registration, the
    /// serving PLMN (empty: the SIM's home PLMN), and the delays of the procedure in ms.
    SetNetwork {
        #[serde(default)]
        roaming: Option<bool>,
        #[serde(default)]
        accept_unknown: Option<bool>,
        #[serde(default)]
        auto_register: Option<bool>,
        #[serde(default)]
        plmn: Option<String>,
        #[serde(default)]
        search_ms: Option<u64>,
        #[serde(default)]
        register_ms: Option<u64>,
        #[serde(default)]
        sim_ready_ms: Option<u64>,
    },
    /// Detaches and registers again (a fresh AKA run), e.g. after `set_subscriber`.
    Reregister,
    /// The IMEI binding policy of a profile (by ICCID digits; it need not be installed yet):
    /// `exclusive` or `shareable`, or omitted/null to fall back to the configuration.
    /// Persisted; an installed profile whose binding now conflicts is re-bound.
    SetBindingPolicy {
        iccid: String,
        #[serde(default)]
        policy: Option<crate::config::BindingPolicy>,
    },
    /// The IMEI bindings: pool, slots, every profile (or one) with status, policy, IMEI and
    /// history.
    ImeiBinding {
        #[serde(default)]
        iccid: Option<String>,
    },
    /// The IMEI assignment server (`https://host:port`) and the CA to trust for it; without
    /// `url`, none. Persisted (wins over the configuration).
    SetAssignmentServer {
        #[serde(default)]
        url: Option<String>,
        #[serde(default)]
        ca: Option<std::path::PathBuf>,
    },
}

fn one() -> u32 {
    1
}

/// A request line: the target modem and the request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Envelope {
    #[serde(default)]
    pub modem: Option<String>,
    #[serde(flatten)]
    pub request: ControlRequest,
}

/// Why a control request failed (reported as `{"ok":false,"error":"…"}`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ControlError {
    #[error("bad request: {0}")]
    BadRequest(String),
    #[error("no such modem: {0}")]
    NoSuchModem(String),
    #[error("{0}")]
    Refused(String),
}
