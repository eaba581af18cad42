//! Golden file of the modem's IMEI binding record (`device::binding::BindingRecord`, persisted
//! as JSON under `Meta/imei-binding` in the modem's sled store, format version 1). A missing
//! file is written with `UPDATE_GOLDEN=1`; a changed encoding is a failure: bump
//! `BINDING_FORMAT_VERSION`, keep reading the old format, and regenerate deliberately.

#![allow(clippy::unwrap_used)]

use std::path::PathBuf;
use vmodem::device::binding::{
    BindingEvent, BindingPolicy, BindingRecord, Entry, ProfileBinding, ServerSetting,
};
use vmodem::device::imei::Imei;

fn check(name: &str, value: &BindingRecord) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(format!("tests/golden/{name}.json"));
    let bytes = serde_json::to_vec(value).unwrap();
    let Ok(stored) = std::fs::read(&path) else {
        assert_eq!(
            std::env::var("UPDATE_GOLDEN").as_deref(),
            Ok("1"),
            "{} is missing; run with UPDATE_GOLDEN=1 to create it",
            path.display()
        );
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &bytes).unwrap();
        return;
    };
    assert_eq!(
        String::from_utf8_lossy(&stored),
        String::from_utf8_lossy(&bytes),
        "{name}: the serialised form changed"
    );
    let back: BindingRecord = serde_json::from_slice(&stored).unwrap();
    assert_eq!(&back, value);
}

#[test]
fn binding_record_encoding_is_frozen() {
    let i1 = Imei::parse("352099001761481").unwrap();
    let i3 = Imei::parse("35999999000001").unwrap();
    let mut r = BindingRecord::new("dev-42");
    r.profiles.insert(
        "8949449999999990023".into(),
        ProfileBinding {
            imei: Some(i1.clone()),
            installed: true,
            slot: Some(2),
            spn: Some("GSMA_TEST".into()),
            history: vec![
                Entry {
                    imei: i1.clone(),
                    time: 1_700_000_000,
                    event: BindingEvent::Installed,
                },
                Entry {
                    imei: i1.clone(),
                    time: 1_700_000_001,
                    event: BindingEvent::Enabled,
                },
                Entry {
                    imei: i1,
                    time: 1_700_000_002,
                    event: BindingEvent::Disabled,
                },
            ],
        },
    );
    r.profiles.insert(
        "8949449999999990031".into(),
        ProfileBinding {
            imei: None,
            installed: false,
            slot: Some(2),
            spn: None,
            history: vec![
                Entry {
                    imei: i3.clone(),
                    time: 1_700_000_003,
                    event: BindingEvent::Assigned,
                },
                Entry {
                    imei: i3.clone(),
                    time: 1_700_000_004,
                    event: BindingEvent::Deleted,
                },
            ],
        },
    );
    r.assigned.push(i3);
    r.policies
        .insert("8949449999999990031".into(), BindingPolicy::Exclusive);
    r.server = Some(ServerSetting {
        url: "https://localhost:8444".into(),
        ca: Some("imei/tls-ca.pem".into()),
    });
    check("imei_binding_record", &r);
    check(
        "imei_binding_record_empty",
        &BindingRecord::new("352099001761481"),
    );
}
