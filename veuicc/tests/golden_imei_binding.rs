//! Golden file of the card's vendor IMEI binding record (`isdr::vendor::ImeiBindingRecord`,
//! persisted as JSON under `Meta/vendor/imei-binding/<ICCID>`, format version 1). Same rules as
//! `tests/golden.rs`: a missing file is written with `UPDATE_GOLDEN=1`, a changed encoding is a
//! failure.

#![allow(clippy::unwrap_used)]

use std::path::PathBuf;
use veuicc::euicc::records::FORMAT_VERSION;
use veuicc::isdr::vendor::{
    BindingEntry, BindingEvent, BindingPolicy, BindingStatus, ImeiBindingRecord,
};

fn golden(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(format!("tests/golden/{name}.json"))
}

fn check(name: &str, value: &ImeiBindingRecord) {
    let path = golden(name);
    let bytes = serde_json::to_vec(value).unwrap();
    let Ok(stored) = std::fs::read(&path) else {
        assert_eq!(
            std::env::var("UPDATE_GOLDEN").as_deref(),
            Ok("1"),
            "{} is missing; run with UPDATE_GOLDEN=1 to create it",
            path.display()
        );
        std::fs::write(&path, &bytes).unwrap();
        return;
    };
    assert_eq!(
        String::from_utf8_lossy(&stored),
        String::from_utf8_lossy(&bytes),
        "{name}: the serialised form changed"
    );
    let back: ImeiBindingRecord = serde_json::from_slice(&stored).unwrap();
    assert_eq!(&back, value);
}

#[test]
fn imei_binding_record_encoding_is_frozen() {
    let iccid = hex::decode("984944999999990920F3").unwrap();
    check(
        "imei_binding_record_bound",
        &ImeiBindingRecord {
            version: FORMAT_VERSION,
            iccid: iccid.clone(),
            policy: BindingPolicy::Exclusive,
            status: BindingStatus::Bound,
            imei: Some("490154203237518".into()),
            history: vec![
                BindingEntry {
                    imei: "490154203237518".into(),
                    time: 1_700_000_000,
                    event: BindingEvent::Installed,
                },
                BindingEntry {
                    imei: "490154203237518".into(),
                    time: 1_700_000_060,
                    event: BindingEvent::Enabled,
                },
                BindingEntry {
                    imei: "490154203237518".into(),
                    time: 1_700_000_120,
                    event: BindingEvent::Disabled,
                },
                BindingEntry {
                    imei: "356938035643809".into(),
                    time: 1_700_000_180,
                    event: BindingEvent::Assigned,
                },
                BindingEntry {
                    imei: "356938035643809".into(),
                    time: 1_700_000_240,
                    event: BindingEvent::Deleted,
                },
            ],
        },
    );
    check(
        "imei_binding_record_pending",
        &ImeiBindingRecord {
            version: FORMAT_VERSION,
            iccid,
            policy: BindingPolicy::Shareable,
            status: BindingStatus::Pending,
            imei: None,
            history: Vec::new(),
        },
    );
}
