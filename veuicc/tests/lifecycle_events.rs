#![allow(clippy::unwrap_used)]
//! The events seam: every committed lifecycle change is reported once, in order, and a refused
//! operation reports nothing.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha20Rng;
use rsp::pki;
use veuicc::euicc::{EuiccState, LifecycleEvent, ProfileId, SeedOptions};
use veuicc::store::MemStore;

fn package(name: &str) -> Option<Vec<u8>> {
    let dir = std::env::var_os("VEUICC_TESTDATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/testdata"));
    let p = dir.join("ts48").join(name);
    if !p.is_file() {
        assert!(
            std::env::var("VEUICC_REQUIRE_TESTDATA").as_deref() != Ok("1"),
            "testdata not found at {}",
            p.display()
        );
        println!("SKIPPED: testdata not found");
        return None;
    }
    Some(std::fs::read(p).unwrap())
}

#[test]
fn lifecycle_changes_are_reported_once_in_order() {
    let (Some(a), Some(b)) = (
        package("TS48V2-SAIP2-1-BERTLV-UNIQUE.der"),
        package("TS48V5-SAIP2-3-NOBERTLV-UNIQUE.der"),
    ) else {
        return;
    };
    let mut rng = ChaCha20Rng::from_seed([3; 32]);
    let eid = pki::eid_with_check_digits("890490320000000000000000000042").unwrap();
    let (identity, _ci) = pki::mint_test_pki(
        eid,
        &mut rng,
        UNIX_EPOCH + Duration::from_secs(1_700_000_000),
        pki::not_after_no_expiry(),
    )
    .unwrap();
    let mut s = EuiccState::open(Arc::new(MemStore::default()), identity, [1; 32]).unwrap();
    let ia = s.seed_package(&a, &SeedOptions::default()).unwrap();
    let ib = s.seed_package(&b, &SeedOptions::default()).unwrap();
    assert_eq!(
        s.take_events(),
        vec![
            LifecycleEvent::Installed { iccid: ia.clone() },
            LifecycleEvent::Installed { iccid: ib.clone() }
        ]
    );
    assert!(s.take_events().is_empty(), "events are drained");

    s.enable(&ProfileId::Iccid(ia.clone())).unwrap();
    s.enable(&ProfileId::Iccid(ib.clone())).unwrap();
    assert_eq!(
        s.take_events(),
        vec![
            LifecycleEvent::Enabled { iccid: ia.clone() },
            LifecycleEvent::Disabled { iccid: ia.clone() },
            LifecycleEvent::Enabled { iccid: ib.clone() },
        ]
    );

    // Refused: deleting the enabled profile changes nothing and reports nothing.
    assert!(s.delete(&ProfileId::Iccid(ib.clone())).is_err());
    assert!(s.take_events().is_empty());

    s.disable(&ProfileId::Iccid(ib.clone())).unwrap();
    s.delete(&ProfileId::Iccid(ia.clone())).unwrap();
    assert_eq!(
        s.take_events(),
        vec![
            LifecycleEvent::Disabled { iccid: ib.clone() },
            LifecycleEvent::Deleted { iccid: ia },
        ]
    );
    s.enable(&ProfileId::Iccid(ib.clone())).unwrap();
    s.factory_reset().unwrap();
    assert_eq!(
        s.take_events(),
        vec![
            LifecycleEvent::Enabled { iccid: ib.clone() },
            LifecycleEvent::Disabled { iccid: ib.clone() },
            LifecycleEvent::Deleted { iccid: ib },
        ]
    );
}
