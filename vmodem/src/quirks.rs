//! Vendor behaviour as data: quirk profiles (`vmodem/quirks/*.toml`, embedded; or any TOML file
//! with the same fields). Every field has the generic default, so a profile lists only what
//! differs. The command handlers read these values; nothing vendor-specific is hard-coded
//! elsewhere except the handlers of vendor commands, which a profile enables by name.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use serde::Deserialize;

use crate::v250::{PortOptions, Settings};

/// Built-in profiles: name → TOML.
pub const BUILTIN: &[(&str, &str)] = &[
    ("generic", include_str!("../quirks/generic.toml")),
    ("quectel", include_str!("../quirks/quectel.toml")),
    ("simcom", include_str!("../quirks/simcom.toml")),
];

/// Why a profile could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum QuirksError {
    #[error("quirk profile {0}: {1}")]
    Parse(String, String),
    #[error("quirk profile {0:?} is neither built in ({1}) nor a readable file: {2}")]
    NotFound(String, String, String),
}

/// One vendor profile.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Quirks {
    pub name: String,
    pub manufacturer: String,
    pub model: String,
    pub revision: String,
    /// `ATI` lines with `{manufacturer}`, `{model}`, `{revision}`, `{imei}` placeholders.
    pub ati: Vec<String>,
    /// The `+GCAP` line.
    pub gcap: String,
    /// `+WS46=?` values.
    pub ws46: Vec<u8>,
    /// `+CCHO: <id>` instead of a bare `<id>`.
    pub ccho_prefix: bool,
    /// A `+CCHC` line before `OK`.
    pub cchc_line: bool,
    /// `+CGSN: "<imei>"` instead of `+CGSN: <imei>`.
    pub cgsn_quoted: bool,
    /// Information text of `+CSIM=?` (empty: none).
    pub csim_test_info: String,
    /// GET RESPONSE for `61xx` inside the modem on `+CSIM`/`+CGLA`.
    pub auto_get_response: bool,
    /// `+CSIM` as a T=0 link: a SELECT without Le answers `61xx`, its FCP follows with GET
    /// RESPONSE (what pySim sees from real modems).
    pub csim_t0_select: bool,
    /// Final result text for unknown commands (empty: `ERROR`).
    pub unknown_command_text: String,
    /// Factory `E` setting.
    pub echo: bool,
    /// Factory `+CMEE`.
    pub cmee: u8,
    pub urc_sim_ready: Vec<String>,
    pub urc_sim_not_ready: Vec<String>,
    pub urc_sim_removed: Vec<String>,
    /// Vendor commands answered (`+QCCID`, `+EGMR`, `+QSIMSTAT`, `+CICCID`, `+SIMEI`, `+CCID`).
    pub vendor_commands: Vec<String>,
    /// Extra latency per command name (`+CGLA`) in ms.
    pub latency_ms: BTreeMap<String, u64>,
}

impl Default for Quirks {
    fn default() -> Quirks {
        Quirks {
            name: "generic".into(),
            manufacturer: "Virtual Modem Inc.".into(),
            model: "VM-1000".into(),
            revision: "VM1000_1.0.0".into(),
            ati: vec![
                "{manufacturer}".into(),
                "{model}".into(),
                "Revision: {revision}".into(),
            ],
            gcap: "+GCAP: +CGSM,+DS,+ES".into(),
            ws46: vec![12, 22, 25, 28, 29, 30, 31],
            ccho_prefix: true,
            cchc_line: false,
            cgsn_quoted: false,
            csim_test_info: String::new(),
            auto_get_response: false,
            csim_t0_select: true,
            unknown_command_text: String::new(),
            echo: true,
            cmee: 0,
            urc_sim_ready: vec!["+CPIN: READY".into()],
            urc_sim_not_ready: vec!["+CPIN: NOT READY".into()],
            urc_sim_removed: vec!["+CPIN: NOT READY".into()],
            vendor_commands: vec!["+CCID".into()],
            latency_ms: BTreeMap::new(),
        }
    }
}

impl Quirks {
    /// Parses a profile from TOML text (`what` names it in errors).
    pub fn parse(what: &str, text: &str) -> Result<Quirks, QuirksError> {
        toml::from_str(text).map_err(|e| QuirksError::Parse(what.to_string(), e.to_string()))
    }

    /// A built-in profile by name.
    pub fn builtin(name: &str) -> Option<Result<Quirks, QuirksError>> {
        BUILTIN
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(n, t)| Quirks::parse(n, t))
    }

    /// A built-in profile by name, or a TOML file by path.
    pub fn load(name_or_path: &str) -> Result<Quirks, QuirksError> {
        if let Some(q) = Quirks::builtin(name_or_path) {
            return q;
        }
        let path = Path::new(name_or_path);
        match std::fs::read_to_string(path) {
            Ok(t) => Quirks::parse(name_or_path, &t),
            Err(e) => Err(QuirksError::NotFound(
                name_or_path.to_string(),
                BUILTIN
                    .iter()
                    .map(|(n, _)| *n)
                    .collect::<Vec<_>>()
                    .join(", "),
                e.to_string(),
            )),
        }
    }

    /// Whether the profile answers a vendor command (`+QCCID`).
    pub fn has_command(&self, name: &str) -> bool {
        self.vendor_commands
            .iter()
            .any(|c| c.eq_ignore_ascii_case(name))
    }

    /// The latency of a command by name.
    pub fn latency(&self, name: &str) -> Duration {
        self.latency_ms
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map_or(Duration::ZERO, |(_, ms)| {
                Duration::from_millis((*ms).min(600_000))
            })
    }

    /// The factory settings of a port of this vendor.
    pub fn factory_settings(&self) -> Settings {
        let mut s = Settings::factory();
        s.echo = self.echo;
        s.cmee = self.cmee.min(2);
        s
    }

    /// The engine options of a port named `name`.
    pub fn port_options(&self, name: &str) -> PortOptions {
        let mut o = PortOptions::named(name);
        o.factory = self.factory_settings();
        o.unknown_command_text =
            (!self.unknown_command_text.is_empty()).then(|| self.unknown_command_text.clone());
        o
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn builtin_profiles_parse() {
        for (name, _) in BUILTIN {
            let q = Quirks::builtin(name).unwrap().unwrap();
            assert_eq!(q.name, *name);
        }
    }

    #[test]
    fn generic_file_matches_default() {
        assert_eq!(
            Quirks::builtin("generic").unwrap().unwrap(),
            Quirks::default()
        );
    }

    #[test]
    fn vendor_profiles_inherit_defaults() {
        let q = Quirks::builtin("quectel").unwrap().unwrap();
        assert!(q.ccho_prefix);
        assert!(q.has_command("+qccid"));
        assert!(!q.has_command("+SIMEI"));
        assert_eq!(q.manufacturer, "Quectel");
    }

    #[test]
    fn refuses_unknown_fields() {
        assert!(Quirks::parse("x", "colour = 1").is_err());
    }

    #[test]
    fn loads_a_profile_from_a_path() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("v.toml");
        std::fs::write(
            &p,
            "name = \"v\"\nmodel = \"X1\"\nunknown_command_text = \"COMMAND NOT SUPPORT\"\n",
        )
        .unwrap();
        let q = Quirks::load(p.to_str().unwrap()).unwrap();
        assert_eq!(q.model, "X1");
        assert_eq!(
            q.port_options("at0").unknown_command_text.as_deref(),
            Some("COMMAND NOT SUPPORT")
        );
        assert!(matches!(
            Quirks::load("/nonexistent/q.toml"),
            Err(QuirksError::NotFound(..))
        ));
    }
}
