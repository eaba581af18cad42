#![no_main]
//! See `veuicc_fuzz::card` for what this target feeds and checks.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| veuicc_fuzz::card(data));
