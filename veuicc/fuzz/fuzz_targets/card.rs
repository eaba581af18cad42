#![no_main]
//! The whole card: a sequence of APDUs (each `len apdu[len]`) after power-on, on a card with
//! two TS.48-like seeded profiles when the test data is present. Must never panic, and must
//! always answer at least a status word.
use libfuzzer_sys::fuzz_target;
use rand_chacha::rand_core::SeedableRng;
use std::sync::Arc;
use veuicc::card::CardCore;
use veuicc::euicc::{Euicc, EuiccState};
use veuicc::store::MemStore;

fn card() -> Euicc {
    let mut rng = rand_chacha::ChaCha20Rng::from_seed([7; 32]);
    let eid = rsp::pki::eid_from_hex("89049032000000000000000000000135").expect("eid");
    let now = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_700_000_000);
    let (identity, _) = rsp::pki::mint_test_pki(eid, &mut rng, now, rsp::pki::not_after_no_expiry())
        .expect("mint");
    let state = EuiccState::open(Arc::new(MemStore::default()), identity, [1; 32]).expect("state");
    let mut e = Euicc::new(state);
    if let Ok(dir) = std::env::var("VEUICC_FUZZ_PROFILE") {
        if let Ok(bytes) = std::fs::read(dir) {
            let opts = veuicc::euicc::SeedOptions { enable: true, ..Default::default() };
            let _ = e.state_mut().seed_package(&bytes, &opts);
        }
    }
    e
}

fuzz_target!(|data: &[u8]| {
    let mut c = card();
    c.power_on();
    let mut rest = data;
    while let Some((&n, body)) = rest.split_first() {
        let take = (n as usize).min(body.len());
        let r = c.handle(&body[..take]);
        assert!(r.len() >= 2);
        rest = &body[take..];
    }
});
