#![no_main]
use libfuzzer_sys::fuzz_target;
use rsp::tlv::{check_depth, Node, MAX_DEPTH};

fuzz_target!(|data: &[u8]| {
    let _ = check_depth(data, MAX_DEPTH);
    if let Ok(nodes) = Node::parse(data) {
        // Re-encoding with minimal lengths gives a tree that parses back identically.
        let mut enc = Vec::new();
        for n in &nodes {
            n.encode(&mut enc);
        }
        assert_eq!(Node::parse(&enc).expect("re-encoded tree parses"), nodes);
    }
});
