#![no_main]
use libfuzzer_sys::fuzz_target;
use veuicc::isdr::storedata::{Fed, Reassembly, MAX_COMMAND};

// Input: a sequence of blocks, each `p1 p2 len data[len]`.
fuzz_target!(|data: &[u8]| {
    let mut r = Reassembly::default();
    let mut rest = data;
    while rest.len() >= 3 {
        let (p1, p2, n) = (rest[0], rest[1], rest[2] as usize);
        let body = &rest[3..];
        let take = n.min(body.len());
        if let Ok(Fed::Complete(cmd)) = r.feed(p1, p2, &body[..take]) {
            assert!(cmd.len() <= MAX_COMMAND);
        }
        rest = &body[take..];
    }
});
