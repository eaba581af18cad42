#![no_main]
//! See `vmodem_fuzz::at_line` for what this target feeds and checks.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| vmodem_fuzz::at_line(data));
