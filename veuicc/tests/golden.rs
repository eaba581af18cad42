//! Golden files for the persisted JSON records (format version 1): what the card writes to its
//! store must stay readable by later versions, so the encodings are frozen here.
//!
//! Each case builds a fixed value, serialises it exactly as the store does
//! (`serde_json::to_vec`, compact) and compares the bytes with `tests/golden/NAME.json`; then it
//! deserialises the golden file and compares it with the value.
//!
//! A missing golden file is written when `UPDATE_GOLDEN=1` is set, and is a failure otherwise.
//! A golden file that no longer matches is always a failure: if the format change is intended,
//! bump `FORMAT_VERSION`, keep reading the old format, and regenerate the file deliberately
//! (delete it and run with `UPDATE_GOLDEN=1`).

#![allow(clippy::unwrap_used)]

use serde::de::DeserializeOwned;
use serde::Serialize;
use std::fmt::Debug;
use std::path::PathBuf;
use veuicc::euicc::records::{
    EuiccConfig, Event, NotificationConfig, NotificationRecord, OperatorId, ProfileClass,
    ProfileRecord, ProfileState, FORMAT_VERSION,
};
use veuicc::profile::secret::Secret;
use veuicc::uicc::fs::FileKey;
use veuicc::uicc::pin::PinRecord;
use veuicc::uicc::UiccChange;

fn golden_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden")
}

/// Checks one value against `tests/golden/{name}.json`; returns a description of the problem.
fn check<T>(name: &str, value: &T) -> Result<(), String>
where
    T: Serialize + DeserializeOwned + PartialEq + Debug,
{
    let path = golden_dir().join(format!("{name}.json"));
    let bytes = serde_json::to_vec(value).unwrap();
    let golden = match std::fs::read(&path) {
        Ok(g) => g,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if std::env::var("UPDATE_GOLDEN").as_deref() == Ok("1") {
                std::fs::create_dir_all(golden_dir()).unwrap();
                std::fs::write(&path, &bytes).unwrap();
                eprintln!("wrote {}", path.display());
                return Ok(());
            }
            return Err(format!(
                "{} is missing; run with UPDATE_GOLDEN=1 to create it",
                path.display()
            ));
        }
        Err(e) => return Err(format!("{}: {e}", path.display())),
    };
    if bytes != golden {
        return Err(format!(
            "{name}: the serialised form changed\n  golden: {}\n  now:    {}",
            String::from_utf8_lossy(&golden),
            String::from_utf8_lossy(&bytes)
        ));
    }
    let back: T = serde_json::from_slice(&golden)
        .map_err(|e| format!("{name}: the golden file no longer deserialises: {e}"))?;
    if &back != value {
        return Err(format!(
            "{name}: deserialised {back:?}\n  expected {value:?}"
        ));
    }
    Ok(())
}

fn check_all(failures: Vec<Result<(), String>>) {
    let failures: Vec<String> = failures.into_iter().filter_map(Result::err).collect();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

fn iccid() -> Vec<u8> {
    // 8949449999999990023, nibble-swapped with the F filler.
    hex::decode("984944999999990920F3").unwrap()
}

fn isdp_aid() -> Vec<u8> {
    hex::decode("A0000005591010FFFFFFFF8900001000").unwrap()
}

fn profile_full() -> ProfileRecord {
    ProfileRecord {
        version: FORMAT_VERSION,
        iccid: iccid(),
        isdp_aid: isdp_aid(),
        state: ProfileState::Enabled,
        nickname: Some("work phone".to_string()),
        service_provider_name: "GSMA_TEST".to_string(),
        profile_name: "GSMA Generic eUICC Test Profile".to_string(),
        class: ProfileClass::Test,
        notifications: vec![
            NotificationConfig {
                events: vec![Event::Install, Event::Delete],
                address: "smdp.veuicc.test".to_string(),
            },
            NotificationConfig {
                events: vec![Event::Enable, Event::Disable],
                address: "notify.example.org".to_string(),
            },
        ],
        owner: Some(OperatorId {
            mcc_mnc: vec![0x00, 0xF1, 0x10],
            gid1: vec![0xAB],
            gid2: vec![0xCD, 0xEF],
        }),
        ppr1: true,
        ppr2: false,
        dp_oid: Some("2.999.10".to_string()),
    }
}

fn profile_minimal() -> ProfileRecord {
    ProfileRecord {
        version: FORMAT_VERSION,
        iccid: iccid(),
        isdp_aid: isdp_aid(),
        state: ProfileState::Disabled,
        nickname: None,
        service_provider_name: String::new(),
        profile_name: "p".to_string(),
        class: ProfileClass::Operational,
        notifications: Vec::new(),
        owner: None,
        ppr1: false,
        ppr2: true,
        dp_oid: None,
    }
}

#[test]
fn profile_record_json_is_frozen() {
    let mut provisioning = profile_minimal();
    provisioning.class = ProfileClass::Provisioning;
    provisioning.owner = Some(OperatorId {
        mcc_mnc: vec![0x13, 0x00, 0x14],
        gid1: Vec::new(),
        gid2: Vec::new(),
    });
    check_all(vec![
        check("profile_record_full", &profile_full()),
        check("profile_record_minimal", &profile_minimal()),
        check("profile_record_provisioning", &provisioning),
    ]);
}

#[test]
fn profile_record_reads_records_without_defaulted_fields() {
    // `ppr1`, `ppr2` and an owner's `gid1`/`gid2` have serde defaults: records written
    // without them (or by a future version that omits them when empty) still load.
    let mut v: serde_json::Value = serde_json::to_value(profile_full()).unwrap();
    let obj = v.as_object_mut().unwrap();
    obj.remove("ppr1");
    obj.remove("ppr2");
    let owner = obj.get_mut("owner").unwrap().as_object_mut().unwrap();
    owner.remove("gid1");
    owner.remove("gid2");
    let r: ProfileRecord = serde_json::from_value(v).unwrap();
    let mut want = profile_full();
    want.ppr1 = false;
    want.ppr2 = false;
    want.owner = Some(OperatorId {
        mcc_mnc: vec![0x00, 0xF1, 0x10],
        gid1: Vec::new(),
        gid2: Vec::new(),
    });
    assert_eq!(r, want);
}

#[test]
fn notification_record_json_is_frozen() {
    let enable = NotificationRecord {
        version: FORMAT_VERSION,
        seq: 7,
        event: Event::Enable,
        address: "smdp.veuicc.test".to_string(),
        iccid: iccid(),
        // BF2F{80 seq, 81 {enable}, 0C address, 5A iccid}
        metadata: hex::decode(
            "BF2F25800107810206400C10736D64702E7665756963632E746573745A0A984944999999990920F3",
        )
        .unwrap(),
        pending: hex::decode("3003020100").unwrap(),
    };
    let mut install = enable.clone();
    install.seq = 4_000_000_000;
    install.event = Event::Install;
    install.pending = hex::decode("BF3703800100").unwrap();
    let mut delete = enable.clone();
    delete.event = Event::Delete;
    delete.address = String::new();
    delete.metadata = Vec::new();
    check_all(vec![
        check("notification_record_enable", &enable),
        check("notification_record_install", &install),
        check("notification_record_delete", &delete),
    ]);
}

#[test]
fn euicc_config_json_is_frozen() {
    let custom = EuiccConfig {
        version: FORMAT_VERSION,
        default_dp_address: Some("smdp.example.org".to_string()),
        root_ds_address: "ds.example.org".to_string(),
        notification_seq: 42,
    };
    check_all(vec![
        check("euicc_config_default", &EuiccConfig::default()),
        check("euicc_config_custom", &custom),
    ]);
}

#[test]
fn uicc_change_json_is_frozen() {
    let usim = hex::decode("A0000000871002FF49FF0589").unwrap();
    let cases = [
        (
            "uicc_change_file_mf",
            UiccChange::FileContent {
                file: FileKey {
                    aid: None,
                    path: vec![0x2FE2],
                },
                content: iccid(),
            },
        ),
        (
            "uicc_change_file_adf",
            UiccChange::FileContent {
                file: FileKey {
                    aid: Some(usim.clone()),
                    path: vec![0x5F3B, 0x4F20],
                },
                content: vec![0x11, 0x22, 0x33, 0x44, 0xFF],
            },
        ),
        (
            "uicc_change_file_empty",
            UiccChange::FileContent {
                file: FileKey {
                    aid: Some(usim.clone()),
                    path: Vec::new(),
                },
                content: Vec::new(),
            },
        ),
        (
            "uicc_change_pin",
            UiccChange::Pin {
                context: FileKey {
                    aid: None,
                    path: Vec::new(),
                },
                key_ref: 0x01,
                state: PinRecord {
                    value: Secret::new(b"1234\xFF\xFF\xFF\xFF".to_vec()),
                    enabled: true,
                    retries_left: 2,
                },
            },
        ),
        (
            "uicc_change_pin_local",
            UiccChange::Pin {
                context: FileKey {
                    aid: Some(usim.clone()),
                    path: Vec::new(),
                },
                key_ref: 0x81,
                state: PinRecord {
                    value: Secret::new(b"5678\xFF\xFF\xFF\xFF".to_vec()),
                    enabled: false,
                    retries_left: 0,
                },
            },
        ),
        (
            "uicc_change_puk",
            UiccChange::Puk {
                key_ref: 0x01,
                retries_left: 9,
            },
        ),
        (
            "uicc_change_sqn",
            UiccChange::Sqn {
                aid: usim,
                sqn: hex::decode("000000000020").unwrap(),
            },
        ),
    ];
    check_all(cases.iter().map(|(n, v)| check(n, v)).collect());
}

#[test]
fn uicc_change_slots_are_frozen() {
    // The slot is part of the store key (ICCID ‖ slot): changing it orphans persisted records.
    let usim = hex::decode("A0000000871002FF49FF0589").unwrap();
    let file = UiccChange::FileContent {
        file: FileKey {
            aid: Some(usim.clone()),
            path: vec![0x6F7E],
        },
        content: vec![1],
    };
    assert_eq!(
        file.slot(),
        r#"file:{"aid":"A0000000871002FF49FF0589","path":[28542]}"#
    );
    let mf = UiccChange::FileContent {
        file: FileKey {
            aid: None,
            path: vec![0x2FE2],
        },
        content: vec![1],
    };
    assert_eq!(mf.slot(), r#"file:{"path":[12258]}"#);
    let pin = UiccChange::Pin {
        context: FileKey {
            aid: Some(usim.clone()),
            path: Vec::new(),
        },
        key_ref: 0x81,
        state: PinRecord {
            value: Secret::new(vec![0x30; 8]),
            enabled: true,
            retries_left: 3,
        },
    };
    assert_eq!(
        pin.slot(),
        r#"pin:{"aid":"A0000000871002FF49FF0589","path":[]}:81"#
    );
    let puk = UiccChange::Puk {
        key_ref: 0x02,
        retries_left: 10,
    };
    assert_eq!(puk.slot(), "puk:02");
    let sqn = UiccChange::Sqn {
        aid: usim,
        sqn: vec![0; 6],
    };
    assert_eq!(sqn.slot(), "sqn:A0000000871002FF49FF0589");
}
