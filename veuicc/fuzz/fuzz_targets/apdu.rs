#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(c) = veuicc::apdu::Command::parse(data) {
        // A parsed command re-encodes to a command that parses to the same fields.
        let again = veuicc::apdu::build(c.cla.raw, c.ins, c.p1, c.p2, c.data, c.le);
        let d = veuicc::apdu::Command::parse(&again).expect("re-encoded command parses");
        assert_eq!((d.ins, d.p1, d.p2, d.data, d.le), (c.ins, c.p1, c.p2, c.data, c.le));
    }
});
