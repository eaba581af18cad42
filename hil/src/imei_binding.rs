//! Reading IMEI binding records (issue 5, flow 1) from where they are kept:
//!
//! - the card, over any APDU transport: the vendor ES10 function GetImeiBinding (`FF20`,
//!   docs/veuicc.md "Vendor ES10 extensions"); a card that does not know it answers an error
//!   status word ([`read_card`] gives `None`);
//! - the modem, over its AT port: `AT+VIMEIBIND?` and `AT+VIMEIBIND="<iccid>"`
//!   (docs/vmodem.md "IMEI binding"), which also covers pSIMs and cards without the extension.
//!
//! Both give [`Binding`]s: ICCID, policy, status, IMEI, history.

use serde::Serialize;
use veuicc::isdr::vendor::{self, ImeiBindingRecord};

use crate::client::{iccid_digits, Client, ClientError};
use crate::transport::at::{AtError, AtModem};
use crate::transport::ApduTransport;

/// One history entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Entry {
    pub imei: String,
    /// Unix seconds.
    pub time: u64,
    pub event: String,
}

/// A profile's binding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Binding {
    /// ICCID digits.
    pub iccid: String,
    pub policy: String,
    /// bound | unbound | pending (| released: the modem only).
    pub status: String,
    pub imei: Option<String>,
    /// The slot the profile is active in (the modem only; 0: not active).
    pub slot: Option<u8>,
    pub history: Vec<Entry>,
    /// `card` or `modem`.
    pub source: &'static str,
}

impl From<&ImeiBindingRecord> for Binding {
    fn from(r: &ImeiBindingRecord) -> Binding {
        Binding {
            iccid: iccid_digits(&r.iccid),
            policy: r.policy.name().into(),
            status: r.status.name().into(),
            imei: r.imei.clone(),
            slot: None,
            history: r
                .history
                .iter()
                .map(|h| Entry {
                    imei: h.imei.clone(),
                    time: h.time,
                    event: h.event.name().into(),
                })
                .collect(),
            source: "card",
        }
    }
}

/// Why the records could not be read.
#[derive(Debug, thiserror::Error)]
pub enum BindingError {
    #[error(transparent)]
    Card(#[from] ClientError),
    #[error(transparent)]
    At(#[from] AtError),
    #[error("{0}")]
    Invalid(String),
}

/// GetImeiBinding on the ISD-R (SELECT first), optionally for one ICCID (EF.ICCID form).
/// `Ok(None)`: the card answered an error status word (it does not keep binding records).
pub fn read_card<T: ApduTransport>(
    c: &mut Client<T>,
    iccid: Option<&[u8]>,
) -> Result<Option<Vec<Binding>>, BindingError> {
    c.select_isdr()?;
    match c.es10(&vendor::get_request(iccid)) {
        Ok(data) => {
            let records = vendor::decode_get_response(&data)
                .map_err(|e| BindingError::Invalid(format!("GetImeiBinding: {e}")))?;
            Ok(Some(records.iter().map(Binding::from).collect()))
        }
        Err(ClientError::Status { .. }) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// The quoted and bare fields of an AT information line after `prefix` (no commas inside
/// quotes in these lines).
fn fields<'a>(line: &'a str, prefix: &str) -> Option<Vec<&'a str>> {
    let rest = line.strip_prefix(prefix)?.trim();
    Some(
        rest.split(',')
            .map(|f| f.trim().trim_matches('"'))
            .collect(),
    )
}

/// Parses `+VIMEIBIND: "<iccid>",<slot>,"<status>","<policy>","<imei>"`.
pub fn parse_status_line(line: &str) -> Option<Binding> {
    let f = fields(line, "+VIMEIBIND:")?;
    let [iccid, slot, status, policy, imei] = f.as_slice() else {
        return None;
    };
    Some(Binding {
        iccid: (*iccid).to_string(),
        policy: (*policy).to_string(),
        status: (*status).to_string(),
        imei: (!imei.is_empty()).then(|| (*imei).to_string()),
        slot: slot.parse().ok(),
        history: Vec::new(),
        source: "modem",
    })
}

/// Parses `+VIMEIBIND: "<iccid>",<n>,"<imei>",<time>,"<event>"`.
pub fn parse_history_line(line: &str) -> Option<Entry> {
    let f = fields(line, "+VIMEIBIND:")?;
    let [_, _, imei, time, event] = f.as_slice() else {
        return None;
    };
    Some(Entry {
        imei: (*imei).to_string(),
        time: time.parse().ok()?,
        event: (*event).to_string(),
    })
}

/// The modem's records: `AT+VIMEIBIND?`, then the history of each profile (or of `iccid` only).
pub fn read_modem(m: &mut AtModem, iccid: Option<&str>) -> Result<Vec<Binding>, BindingError> {
    let r = m.command("AT+VIMEIBIND?")?;
    let mut out = Vec::new();
    for line in &r.lines {
        let Some(mut b) = parse_status_line(line) else {
            continue;
        };
        if iccid.is_some_and(|i| i != b.iccid) {
            continue;
        }
        let h = m.command(&format!("AT+VIMEIBIND=\"{}\"", b.iccid))?;
        b.history = h
            .lines
            .iter()
            .filter_map(|l| parse_history_line(l))
            .collect();
        out.push(b);
    }
    Ok(out)
}

/// One text block per binding: a summary line, then the history.
pub fn render(bindings: &[Binding]) -> String {
    let mut s = String::new();
    for b in bindings {
        s.push_str(&format!(
            "{} {} {} imei={}{} ({})\n",
            b.iccid,
            b.status,
            b.policy,
            b.imei.as_deref().unwrap_or("-"),
            b.slot
                .filter(|s| *s > 0)
                .map(|s| format!(" active in slot {s}"))
                .unwrap_or_default(),
            b.source
        ));
        for h in &b.history {
            s.push_str(&format!("  {} {} {}\n", h.time, h.imei, h.event));
        }
    }
    if bindings.is_empty() {
        s.push_str("no IMEI bindings\n");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_modems_lines() {
        let b = parse_status_line(
            "+VIMEIBIND: \"8949449999999990023\",2,\"bound\",\"exclusive\",\"352099001761481\"",
        );
        assert_eq!(
            b.as_ref().map(|b| (b.slot, b.imei.as_deref())),
            Some((Some(2), Some("352099001761481")))
        );
        let u = parse_status_line(
            "+VIMEIBIND: \"8949449999999990023\",0,\"unbound\",\"shareable\",\"\"",
        );
        assert_eq!(u.map(|b| b.imei), Some(None));
        let h = parse_history_line(
            "+VIMEIBIND: \"8949449999999990023\",1,\"352099001761481\",1700000000,\"enabled\"",
        );
        assert_eq!(
            h.map(|e| (e.time, e.event)),
            Some((1_700_000_000, "enabled".into()))
        );
        assert!(parse_status_line("+CGSN: 1").is_none());
        assert!(parse_history_line("+VIMEIBIND: \"1\",1,\"2\",x,\"enabled\"").is_none());
    }
}
