//! What each fuzz target checks, in one place. The libFuzzer targets (`fuzz_targets/*.rs`) call
//! these functions, and the stable replay test `veuicc/tests/fuzz_regressions.rs` includes this
//! file by path, so a committed regression input runs through exactly the target's logic.
//!
//! No function may panic on any input; the `assert!`s are the targets' invariants.

use std::sync::{Arc, OnceLock};

use rand_chacha::rand_core::SeedableRng;
use rsp::tlv::{check_depth, Node, MAX_DEPTH};
use veuicc::apdu::{build, Command, Response, Sw};
use veuicc::card::CardCore;
use veuicc::euicc::{Euicc, EuiccState, SeedOptions};
use veuicc::isdr::storedata::{Fed, Reassembly, MAX_COMMAND};
use veuicc::profile::saip::parse_package;
use veuicc::store::{Batch, MemStore, Store, Tree};
use veuicc::uicc::fs::{EfStructure, NodeId};
use veuicc::uicc::{Uicc, UiccChannel};

/// The fuzz targets, as named in `Cargo.toml` and under `corpus/` and `regressions/`.
pub const TARGETS: &[&str] = &["apdu", "card", "es10", "saip", "store_data", "tlv"];

/// Runs `data` through the checks of `target`; false when there is no such target.
pub fn run(target: &str, data: &[u8]) -> bool {
    match target {
        "apdu" => apdu(data),
        "card" => card(data),
        "es10" => es10(data),
        "saip" => saip(data),
        "store_data" => store_data(data),
        "tlv" => tlv(data),
        _ => return false,
    }
    true
}

/// Whether SW1 is one ISO 7816-4 / TS 102 221 allow (61–6F, 90–9F; 60 is a procedure byte).
fn valid_sw(sw: u16) -> bool {
    matches!(sw >> 8, 0x61..=0x6F | 0x90..=0x9F)
}

/// `apdu`: a parsed command re-encodes to a command that parses to the same fields.
pub fn apdu(data: &[u8]) {
    if let Ok(c) = Command::parse(data) {
        let again = build(c.cla.raw, c.ins, c.p1, c.p2, c.data, c.le);
        let d = Command::parse(&again).expect("re-encoded command parses");
        assert_eq!(
            (d.ins, d.p1, d.p2, d.data, d.le),
            (c.ins, c.p1, c.p2, c.data, c.le)
        );
    }
}

/// `tlv`: the depth check never panics, and a parsed tree re-encoded with minimal lengths parses
/// back identically.
pub fn tlv(data: &[u8]) {
    let _ = check_depth(data, MAX_DEPTH);
    if let Ok(nodes) = Node::parse(data) {
        let mut enc = Vec::new();
        for n in &nodes {
            n.encode(&mut enc);
        }
        assert_eq!(Node::parse(&enc).expect("re-encoded tree parses"), nodes);
    }
}

/// `es10`: decoding an ES10 request never panics.
pub fn es10(data: &[u8]) {
    let _ = rsp::es10::decode_request(data);
}

/// `store_data`: a sequence of STORE DATA blocks, each `p1 p2 len data[len]`; a reassembled
/// command never exceeds [`MAX_COMMAND`].
pub fn store_data(data: &[u8]) {
    let mut r = Reassembly::default();
    let mut rest = data;
    while let [p1, p2, n, body @ ..] = rest {
        let take = usize::from(*n).min(body.len());
        let (block, tail) = body.split_at(take);
        if let Ok(Fed::Complete(cmd)) = r.feed(*p1, *p2, block) {
            assert!(cmd.len() <= MAX_COMMAND);
        }
        rest = tail;
    }
}

/// The profile the `card` target seeds and enables when `VEUICC_FUZZ_PROFILE` does not name a
/// readable package: the TS.48 v1 generic test profile, so the UICC side is always reachable.
static EMBEDDED_PROFILE: &[u8] = include_bytes!("../profiles/ts48v1-a.der");

/// The card's identity, minted once (key generation and signing dominate a fresh card).
fn identity() -> rsp::pki::Identity {
    static ID: OnceLock<rsp::pki::Identity> = OnceLock::new();
    ID.get_or_init(|| {
        let mut rng = rand_chacha::ChaCha20Rng::from_seed([7; 32]);
        let eid = rsp::pki::eid_from_hex("89049032000000000000000000000135").expect("eid");
        let now = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_700_000_000);
        let (identity, _) =
            rsp::pki::mint_test_pki(eid, &mut rng, now, rsp::pki::not_after_no_expiry())
                .expect("mint");
        identity
    })
    .clone()
}

/// A fresh card with one enabled profile (and its enable notification pending), and its store.
/// Seeding parses, builds and signs, so it runs once; each card then opens a copy of the seeded
/// store.
fn fresh_card() -> (Euicc, Arc<MemStore>) {
    static SEEDED: OnceLock<Batch> = OnceLock::new();
    let seeded = SEEDED.get_or_init(|| {
        let store = Arc::new(MemStore::default());
        let state = EuiccState::open(store.clone(), identity(), [1; 32]).expect("state");
        let mut e = Euicc::new(state);
        let opts = SeedOptions {
            enable: true,
            ..Default::default()
        };
        match std::env::var_os("VEUICC_FUZZ_PROFILE").and_then(|p| std::fs::read(p).ok()) {
            // A package of the user's choice may well be refused; the card then has no profile.
            Some(p) => {
                let _ = e.state_mut().seed_package(&p, &opts);
            }
            None => {
                e.state_mut()
                    .seed_package(EMBEDDED_PROFILE, &opts)
                    .expect("embedded profile seeds");
            }
        }
        let mut b = Batch::new();
        for tree in [
            Tree::Meta,
            Tree::Profiles,
            Tree::Packages,
            Tree::Files,
            Tree::Notifications,
        ] {
            for (k, v) in store.scan(tree, b"").expect("scan") {
                b.put(tree, k, v);
            }
        }
        b
    });
    let store = Arc::new(MemStore::default());
    store.commit(seeded.clone()).expect("commit");
    let state = EuiccState::open(store.clone(), identity(), [1; 32]).expect("state");
    (Euicc::new(state), store)
}

/// `card`: the whole card, a sequence of APDUs (each `len apdu[len]`; `len` 0 is a card reset)
/// after power-on. Every command gets a response ending in a valid status word; after a power
/// off, the state reopened from the store equals the card's in-memory state (everything was
/// persisted before answering).
pub fn card(data: &[u8]) {
    let (mut c, store) = fresh_card();
    c.power_on();
    let mut rest = data;
    while let Some((&n, body)) = rest.split_first() {
        if n == 0 {
            c.reset();
            rest = body;
            continue;
        }
        let take = usize::from(n).min(body.len());
        let (apdu, tail) = body.split_at(take);
        let r = c.handle(apdu);
        let [.., sw1, sw2] = r[..] else {
            panic!("no status word in {r:02X?}");
        };
        assert!(
            valid_sw(u16::from_be_bytes([sw1, sw2])),
            "bad status word {sw1:02X}{sw2:02X}"
        );
        rest = tail;
    }
    // Power off clears the volatile state (PIN verification included) the store does not hold.
    c.power_off();
    let mut again = EuiccState::open(store, identity(), [1; 32]).expect("the store reopens");
    let mem = c.state_mut();
    assert!(mem.profiles().eq(again.profiles()), "profiles persisted");
    assert!(
        mem.notifications().eq(again.notifications()),
        "notifications persisted"
    );
    assert_eq!(
        mem.enabled_iccid(),
        again.enabled_iccid(),
        "enabled profile"
    );
    assert_eq!(mem.config(), again.config(), "configuration persisted");
    // Files a terminal may update (ICCID, and in the USIM: IMSI, SPN, LOCI, PLMNwAcT).
    for (aid, path) in [
        (None, &[0x2FE2][..]),
        (Some(USIM_AID_PREFIX), &[0x6F07][..]),
        (Some(USIM_AID_PREFIX), &[0x6F46][..]),
        (Some(USIM_AID_PREFIX), &[0x6F7E][..]),
        (Some(USIM_AID_PREFIX), &[0x6F60][..]),
    ] {
        assert_eq!(
            mem.read_enabled_ef(aid, path),
            again.read_enabled_ef(aid, path),
            "file {path:04X?} persisted"
        );
    }
}

/// The USIM application (ETSI TS 101 220), as a partial AID.
const USIM_AID_PREFIX: &[u8] = &[0xA0, 0x00, 0x00, 0x00, 0x87, 0x10, 0x02];

/// Files walked per package (TS.48 profiles have about 150 nodes).
const MAX_WALK: usize = 256;

/// One command to the UICC on `ch`; its status word must be valid.
fn uicc_cmd(
    u: &mut Uicc,
    ch: &mut UiccChannel,
    (ins, p1, p2): (u8, u8, u8),
    data: &[u8],
    le: Option<usize>,
) -> Response {
    let raw = build(0x00, ins, p1, p2, data, le);
    let cmd = Command::parse(&raw).expect("built APDU parses");
    let r = u.handle(ch, &cmd);
    assert!(
        valid_sw(r.sw.0),
        "bad status word {} for INS {ins:02X}",
        r.sw
    );
    r
}

/// `saip`: a profile package. When it parses and a UICC builds from it, every file (up to
/// [`MAX_WALK`]) is selected the way a terminal would (ADF by AID, then path), read, written
/// back changed and read again; ADFs get AUTHENTICATE. Invariants: valid status words, FCPs
/// are `62` templates, reads return the stored content, writes read back, and the persistent
/// changes replay onto a fresh build of the same package giving the same file system.
pub fn saip(data: &[u8]) {
    let Ok(pkg) = parse_package(data) else {
        return;
    };
    let Ok(mut u) = Uicc::from_package(&pkg) else {
        return;
    };
    let _ = u.service_provider_name();
    let _ = u.ef_dir_apps();
    if let Some(aid) = pkg.usim_aid.clone() {
        let _ = u.read_ef(Some(&aid), &[0x6F07]);
    }
    let _ = u.read_ef(None, &[0x3F00, 0x2FE2]);
    let ids: Vec<NodeId> = u.fs().ids().take(MAX_WALK).collect();
    for id in ids {
        walk(&mut u, id);
    }
    let changes = u.drain_changes();
    let mut fresh = Uicc::from_package(&pkg).expect("a package that built once builds again");
    for c in &changes {
        if let Err(e) = fresh.apply_change(c) {
            panic!("a change the card made does not replay on a rebuild: {e}");
        }
    }
    assert!(
        fresh.fs() == u.fs(),
        "replayed changes give the same file system"
    );
}

/// Selects `id` on a fresh channel and exercises it.
fn walk(u: &mut Uicc, id: NodeId) {
    let fs = u.fs();
    let mut chain = fs.ancestors(id);
    chain.reverse();
    let fids = |ids: &[NodeId]| -> Vec<u8> {
        ids.iter()
            .filter_map(|i| fs.node(*i))
            .flat_map(|n| n.fid.to_be_bytes())
            .collect()
    };
    let adf = chain
        .iter()
        .rposition(|a| fs.node(*a).is_some_and(|n| n.is_adf()));
    // (AID of the ADF to select first, path below it or below the MF)
    let (aid, path) = match adf {
        Some(p) => (
            fs.node(chain[p]).and_then(|n| n.aid()).map(<[u8]>::to_vec),
            fids(&chain[p + 1..]),
        ),
        None => (None, fids(chain.get(1..).unwrap_or_default())),
    };
    let is_adf = fs.node(id).is_some_and(|n| n.is_adf());
    let mut ch = UiccChannel::default();
    let select = match aid {
        Some(aid) => {
            let r = uicc_cmd(u, &mut ch, (0xA4, 0x04, 0x04), &aid, Some(256));
            if r.sw != Sw::OK || path.is_empty() {
                r
            } else {
                uicc_cmd(u, &mut ch, (0xA4, 0x09, 0x04), &path, Some(256))
            }
        }
        None if path.is_empty() => uicc_cmd(u, &mut ch, (0xA4, 0x00, 0x04), &[0x3F, 0x00], None),
        None => uicc_cmd(u, &mut ch, (0xA4, 0x08, 0x04), &path, Some(256)),
    };
    if select.sw != Sw::OK {
        return;
    }
    assert!(
        rsp::tlv::parse_tagged(&select.data, 0x62).is_ok(),
        "SELECT returns an FCP template"
    );
    uicc_cmd(u, &mut ch, (0xF2, 0x00, 0x00), &[], Some(256));
    uicc_cmd(u, &mut ch, (0xF2, 0x00, 0x01), &[], Some(256));
    if is_adf {
        authenticate(u, &mut ch);
    }
    if ch.current_ef() == Some(id) {
        exercise_ef(u, &mut ch, id);
    }
}

/// AUTHENTICATE in 3G and GSM context with a fixed RAND and AUTN.
fn authenticate(u: &mut Uicc, ch: &mut UiccChannel) {
    let mut data = vec![16];
    data.extend_from_slice(&[0x11; 16]);
    data.push(16);
    data.extend_from_slice(&[0x22; 16]);
    uicc_cmd(u, ch, (0x88, 0x00, 0x81), &data, Some(256));
    uicc_cmd(u, ch, (0x88, 0x00, 0x80), &data[..17], Some(256));
}

/// Reads the selected EF, writes it back changed and reads it again.
fn exercise_ef(u: &mut Uicc, ch: &mut UiccChannel, id: NodeId) {
    let Some((structure, size, content)) = u.fs().ef(id) else {
        return;
    };
    let content = content.to_vec();
    if structure != EfStructure::BerTlv {
        assert_eq!(content.len(), size, "EF content has the allocated size");
    }
    match structure {
        EfStructure::BerTlv => {}
        EfStructure::Transparent => {
            let r = uicc_cmd(u, ch, (0xB0, 0x00, 0x00), &[], Some(256));
            if r.sw != Sw::OK {
                return;
            }
            assert_eq!(r.data[..], content[..size.min(256)], "READ BINARY");
            let new: Vec<u8> = r.data.iter().take(64).map(|b| !b).collect();
            if new.is_empty() {
                return;
            }
            let w = uicc_cmd(u, ch, (0xD6, 0x00, 0x00), &new, None);
            if w.sw == Sw::OK {
                assert_eq!(
                    stored(u, id, size).get(..new.len()),
                    Some(&new[..]),
                    "UPDATE BINARY"
                );
                // The update may have changed an access rule (EF.ARR), so the read may be refused.
                let again = uicc_cmd(u, ch, (0xB0, 0x00, 0x00), &[], Some(new.len()));
                assert!(
                    again.sw != Sw::OK || again.data == new,
                    "UPDATE BINARY reads back"
                );
            }
        }
        EfStructure::LinearFixed { record_len } | EfStructure::Cyclic { record_len } => {
            let r = uicc_cmd(u, ch, (0xB2, 0x01, 0x04), &[], None);
            if r.sw != Sw::OK {
                return;
            }
            assert_eq!(r.data.len(), record_len, "READ RECORD returns one record");
            assert_eq!(r.data[..], content[..record_len], "READ RECORD 1");
            let new: Vec<u8> = r.data.iter().map(|b| !b).collect();
            let mode = if matches!(structure, EfStructure::Cyclic { .. }) {
                0x03
            } else {
                0x04
            };
            let p1 = if mode == 0x03 { 0x00 } else { 0x01 };
            let first = new.first().copied().unwrap_or_default();
            uicc_cmd(u, ch, (0xA2, 0x01, 0x04), &[first], None);
            let w = uicc_cmd(u, ch, (0xDC, p1, mode), &new, None);
            if w.sw == Sw::OK {
                // Record 1 is the one written (cyclic: the oldest record became record 1).
                let stored = stored(u, id, size);
                assert_eq!(stored.get(..record_len), Some(&new[..]), "UPDATE RECORD");
                let again = uicc_cmd(u, ch, (0xB2, 0x01, 0x04), &[], None);
                assert!(
                    again.sw != Sw::OK || again.data == new,
                    "UPDATE RECORD reads back"
                );
            }
        }
    }
}

/// The content of EF `id` after a write, which keeps the allocated size.
fn stored(u: &Uicc, id: NodeId, size: usize) -> Vec<u8> {
    let content = u.fs().ef(id).map(|e| e.2.to_vec()).unwrap_or_default();
    assert_eq!(content.len(), size, "a write keeps the EF's allocated size");
    content
}
