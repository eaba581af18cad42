use super::fs::{ArrRef, EfStructure, FileNode, FileSystem, NodeKind};
use super::*;
use crate::apdu::build;
use crate::profile::saip::{
    AkaAlgorithm, AkaConfig, AkaParameters, Naa, PinDefinition, ProfileHeader, ProfilePackage,
    PukDefinition,
};
use crate::profile::secret::Secret;

const USIM_AID: &str = "A0000000871002FF49FF0589";

fn h(s: &str) -> Vec<u8> {
    hex::decode(s.replace(' ', "")).unwrap()
}

fn ef(fid: u16, structure: EfStructure, content: Vec<u8>, arr: u8, sfi: Option<u8>) -> FileNode {
    let mut n = FileNode::new(
        fid,
        NodeKind::Ef {
            structure,
            size: content.len(),
            content,
        },
    );
    n.arr = Some(ArrRef {
        arr_fid: None,
        record: arr,
    });
    n.sfi = sfi;
    n
}

fn arr_records() -> Vec<u8> {
    // 1: read always, update ADM1; 2: read PIN1, update ADM1; 3: read+update always;
    // 4: never; 5: read PIN2 (81).
    let recs = [
        "8001019000 800102A40683010A950108",
        "800101A406830101950108 800102A40683010A950108",
        "8001019000 8001029000",
        "8001039700",
        "800101A406830181950108",
    ];
    recs.iter()
        .flat_map(|r| {
            let mut v = h(r);
            v.resize(24, 0xFF);
            v
        })
        .collect()
}

struct Ids {
    adf: NodeId,
}

/// A small profile: MF (ICCID, DIR, ARR), ADF.USIM (ARR, IMSI, ECC, ACM cyclic, UST, AD,
/// a never-readable EF, a PIN2 EF, DF.GSM-ACCESS 5F3B with EF.Kc), PINs and the test algorithm.
fn package(pin1_enabled: bool) -> (ProfilePackage, Ids) {
    let mut fs = FileSystem::new();
    {
        let mf = fs.node_mut(NodeId::MF).unwrap();
        mf.arr = Some(ArrRef {
            arr_fid: None,
            record: 1,
        });
        mf.pin_template = vec![0x01, 0x0A];
    }
    let lf = |rl| EfStructure::LinearFixed { record_len: rl };
    fs.add_child(NodeId::MF, ef(0x2F06, lf(24), arr_records(), 1, None))
        .unwrap();
    fs.add_child(
        NodeId::MF,
        ef(
            0x2FE2,
            EfStructure::Transparent,
            h("989444999999990920F3"),
            1,
            Some(2),
        ),
    )
    .unwrap();
    let mut dir = h(&format!("61144F0C{USIM_AID}5004 5553494D"));
    dir.resize(33, 0xFF);
    dir.extend([0xFF; 33]);
    fs.add_child(NodeId::MF, ef(0x2F00, lf(33), dir, 3, Some(0x1E)))
        .unwrap();
    let mut adf = FileNode::new(0x7FD0, NodeKind::Adf { aid: h(USIM_AID) });
    adf.arr = Some(ArrRef {
        arr_fid: None,
        record: 1,
    });
    adf.pin_template = vec![0x81, 0x01, 0x0A];
    let adf = fs.add_child(NodeId::MF, adf).unwrap();
    fs.add_child(adf, ef(0x6F06, lf(24), arr_records(), 1, Some(0x17)))
        .unwrap();
    fs.add_child(
        adf,
        ef(
            0x6F07,
            EfStructure::Transparent,
            h("080910101032540636"),
            2,
            Some(7),
        ),
    )
    .unwrap();
    fs.add_child(
        adf,
        ef(0x6FB7, lf(4), h("11223344 55667788 FFFFFFFF"), 3, Some(1)),
    )
    .unwrap();
    fs.add_child(
        adf,
        ef(
            0x6F39,
            EfStructure::Cyclic { record_len: 3 },
            h("000001 000002 000003"),
            3,
            None,
        ),
    )
    .unwrap();
    fs.add_child(
        adf,
        ef(0x6F38, EfStructure::Transparent, h("9EFFBF1D"), 1, Some(4)),
    )
    .unwrap();
    fs.add_child(
        adf,
        ef(0x6FAD, EfStructure::Transparent, h("80000002"), 1, Some(3)),
    )
    .unwrap();
    fs.add_child(adf, ef(0x6F99, EfStructure::Transparent, h("00"), 4, None))
        .unwrap();
    fs.add_child(adf, ef(0x6F98, EfStructure::Transparent, h("42"), 5, None))
        .unwrap();
    let mut gsm = FileNode::new(0x5F3B, NodeKind::Df);
    gsm.arr = Some(ArrRef {
        arr_fid: None,
        record: 1,
    });
    let gsm = fs.add_child(adf, gsm).unwrap();
    fs.add_child(
        gsm,
        ef(
            0x4F20,
            EfStructure::Transparent,
            h("FFFFFFFFFFFFFFFF07"),
            3,
            Some(1),
        ),
    )
    .unwrap();
    let pin = |context, key_ref, v: &[u8], puk, attributes, tries: u8| PinDefinition {
        context,
        key_ref,
        value: Secret::from(v),
        puk_ref: puk,
        attributes,
        max_attempts: tries,
        retries_left: tries,
    };
    let pins = vec![
        pin(
            NodeId::MF,
            0x01,
            b"1234\xFF\xFF\xFF\xFF",
            Some(0x01),
            if pin1_enabled { 7 } else { 6 },
            3,
        ),
        pin(NodeId::MF, 0x0A, b"55555555", None, 3, 10),
        pin(adf, 0x81, b"9999\xFF\xFF\xFF\xFF", Some(0x81), 3, 3),
    ];
    let puk = |key_ref, v: &[u8]| PukDefinition {
        key_ref,
        value: Secret::from(v),
        max_attempts: 10,
        retries_left: 10,
    };
    let aka = AkaParameters {
        naa: Some(Naa::Usim),
        adf: Some(adf),
        aid: Some(h(USIM_AID)),
        config: AkaConfig::Algorithm {
            algorithm: AkaAlgorithm::TestAlgorithm,
            options: 0x02,
            k: Secret::new(h("000102030405060708090A0B0C0D0E0F")),
            opc: Secret::new(vec![0; 16]),
            rotation: vec![0x40, 0, 0x20, 0x40, 0x60],
            xoring: Secret::new(vec![0; 80]),
            auth_counter_max: None,
            number_of_keccak: 1,
        },
        sqn_options: 2,
        sqn_delta: vec![],
        sqn_age_limit: vec![],
        sqn_init: vec![],
    };
    let p = ProfilePackage {
        header: ProfileHeader {
            major_version: 2,
            minor_version: 3,
            profile_type: "test".into(),
            iccid: h("8949449999999990023F").try_into().unwrap(),
            pol: None,
            mandatory_services: vec![],
            mandatory_gfste: vec![],
        },
        pe_names: vec!["header".into(), "end".into()],
        fs,
        pins,
        pin_shares: vec![],
        puks: vec![puk(0x01, b"11111111"), puk(0x81, b"22222222")],
        aka: vec![aka],
        usim_aid: Some(h(USIM_AID)),
        isim_aid: None,
        csim_aid: None,
    };
    (p, Ids { adf })
}

fn uicc(pin1_enabled: bool) -> (Uicc, UiccChannel, Ids) {
    let (p, ids) = package(pin1_enabled);
    (Uicc::from_package(&p).unwrap(), UiccChannel::default(), ids)
}

#[allow(clippy::too_many_arguments)]
fn send(
    u: &mut Uicc,
    ch: &mut UiccChannel,
    cla: u8,
    ins: u8,
    p1: u8,
    p2: u8,
    data: &[u8],
    le: Option<usize>,
) -> Response {
    let raw = build(cla, ins, p1, p2, data, le);
    let cmd = Command::parse(&raw).unwrap();
    u.handle(ch, &cmd)
}

fn sel(u: &mut Uicc, ch: &mut UiccChannel, p1: u8, data: &[u8]) -> Response {
    send(u, ch, 0x00, 0xA4, p1, 0x04, data, Some(256))
}

fn read(u: &mut Uicc, ch: &mut UiccChannel, off: u16, le: usize) -> Response {
    send(
        u,
        ch,
        0x00,
        0xB0,
        (off >> 8) as u8,
        off as u8,
        &[],
        Some(le),
    )
}

fn tlv_find(fcp: &[u8], tag: u32) -> Option<Vec<u8>> {
    let outer = rsp::tlv::parse_tagged(fcp, 0x62).ok()?;
    outer.find(tag).ok()?.map(|t| t.value.to_vec())
}

#[test]
fn select_mf_returns_fcp_with_pin_status_template() {
    let (mut u, mut ch, _) = uicc(false);
    let r = sel(&mut u, &mut ch, 0x00, &[0x3F, 0x00]);
    assert_eq!(r.sw, Sw::OK);
    assert_eq!(tlv_find(&r.data, 0x82), Some(vec![0x78, 0x21]));
    assert_eq!(tlv_find(&r.data, 0x83), Some(vec![0x3F, 0x00]));
    assert_eq!(tlv_find(&r.data, 0x8A), Some(vec![0x05]));
    assert_eq!(tlv_find(&r.data, 0x8B), Some(vec![0x2F, 0x06, 0x01]));
    // PIN1 disabled, ADM1 enabled: PS_DO 0100 0000.
    assert_eq!(tlv_find(&r.data, 0xC6), Some(h("9001 40 830101 83010A")));
    assert!(tlv_find(&r.data, 0xA5).is_some() && tlv_find(&r.data, 0x81).is_some());
    // P2 0C: no data; empty data: MF.
    let r = send(&mut u, &mut ch, 0x00, 0xA4, 0x00, 0x0C, &[0x3F, 0x00], None);
    assert_eq!((r.sw, r.data.len()), (Sw::OK, 0));
}

#[test]
fn select_ef_fcp_has_structure_size_and_sfi() {
    let (mut u, mut ch, _) = uicc(false);
    let r = sel(&mut u, &mut ch, 0x00, &[0x2F, 0x00]);
    assert_eq!(r.sw, Sw::OK);
    assert_eq!(tlv_find(&r.data, 0x82), Some(h("42210021 02")));
    assert_eq!(tlv_find(&r.data, 0x80), Some(vec![0x00, 66]));
    assert_eq!(tlv_find(&r.data, 0x88), Some(vec![0xF0]));
    assert_eq!(tlv_find(&r.data, 0x8B), Some(h("2F0603")));
    let r = sel(&mut u, &mut ch, 0x00, &[0x2F, 0xE2]);
    assert_eq!(tlv_find(&r.data, 0x82), Some(h("4121")));
    assert_eq!(tlv_find(&r.data, 0x80), Some(h("000A")));
}

#[test]
fn select_by_aid_partial_and_status() {
    let (mut u, mut ch, ids) = uicc(false);
    let r = sel(&mut u, &mut ch, 0x04, &h("A0000000871002"));
    assert_eq!(r.sw, Sw::OK);
    assert_eq!(tlv_find(&r.data, 0x84), Some(h(USIM_AID)));
    assert_eq!(tlv_find(&r.data, 0x83), Some(h("7FFF")));
    assert_eq!(
        tlv_find(&r.data, 0xC6),
        Some(h("9001 C0 830181 830101 83010A")).map(|mut v| {
            // 81 enabled, 01 disabled, 0A enabled → 1010 0000.
            v[2] = 0xA0;
            v
        })
    );
    assert_eq!(ch.current_adf(), Some(ids.adf));
    // Next occurrence: there is only one.
    let r = send(
        &mut u,
        &mut ch,
        0x00,
        0xA4,
        0x04,
        0x02,
        &h("A0000000871002"),
        Some(256),
    );
    assert_eq!(r.sw, Sw::FILE_NOT_FOUND);
    let r = sel(&mut u, &mut ch, 0x04, &h("A0000000871004"));
    assert_eq!(r.sw, Sw::FILE_NOT_FOUND);
    // STATUS: FCP of the current DF, the AID, or nothing.
    let r = send(&mut u, &mut ch, 0x80, 0xF2, 0x00, 0x00, &[], Some(256));
    assert_eq!(tlv_find(&r.data, 0x84), Some(h(USIM_AID)));
    let r = send(&mut u, &mut ch, 0x80, 0xF2, 0x00, 0x01, &[], Some(256));
    assert_eq!(r.data, rsp::tlv::tlv(0x84, &h(USIM_AID)));
    let r = send(&mut u, &mut ch, 0x80, 0xF2, 0x01, 0x0C, &[], None);
    assert_eq!((r.sw, r.data.len()), (Sw::OK, 0));
    assert_eq!(
        send(&mut u, &mut ch, 0x80, 0xF2, 0x03, 0x00, &[], None).sw,
        Sw::INCORRECT_P1P2
    );
}

#[test]
fn select_by_fid_follows_parent_child_rules_and_paths() {
    let (mut u, mut ch, _) = uicc(false);
    // ADF is not selectable by its temporary FID.
    assert_eq!(
        sel(&mut u, &mut ch, 0x00, &h("7FD0")).sw,
        Sw::FILE_NOT_FOUND
    );
    // 7FFF without an application: not found.
    assert_eq!(
        sel(&mut u, &mut ch, 0x00, &h("7FFF")).sw,
        Sw::FILE_NOT_FOUND
    );
    sel(&mut u, &mut ch, 0x04, &h(USIM_AID));
    assert_eq!(sel(&mut u, &mut ch, 0x00, &h("6F07")).sw, Sw::OK);
    // A sibling EF of the current EF (child of the current DF).
    assert_eq!(sel(&mut u, &mut ch, 0x00, &h("6FAD")).sw, Sw::OK);
    assert_eq!(sel(&mut u, &mut ch, 0x00, &h("5F3B")).sw, Sw::OK);
    assert_eq!(sel(&mut u, &mut ch, 0x00, &h("4F20")).sw, Sw::OK);
    // EF of the ADF is not visible from DF.GSM-ACCESS, but 7FFF and the MF are.
    assert_eq!(
        sel(&mut u, &mut ch, 0x00, &h("6F07")).sw,
        Sw::FILE_NOT_FOUND
    );
    assert_eq!(sel(&mut u, &mut ch, 0x00, &h("7FFF")).sw, Sw::OK);
    assert_eq!(sel(&mut u, &mut ch, 0x00, &h("3F00")).sw, Sw::OK);
    assert_eq!(sel(&mut u, &mut ch, 0x00, &h("2FE2")).sw, Sw::OK);
    // Paths: from the MF (with or without 3F00) and from the current DF, 7FFF first.
    assert_eq!(sel(&mut u, &mut ch, 0x08, &h("2FE2")).sw, Sw::OK);
    assert_eq!(sel(&mut u, &mut ch, 0x08, &h("3F002F00")).sw, Sw::OK);
    assert_eq!(sel(&mut u, &mut ch, 0x09, &h("7FFF5F3B4F20")).sw, Sw::OK);
    assert_eq!(sel(&mut u, &mut ch, 0x08, &h("7FFF6F07")).sw, Sw::OK);
    assert_eq!(
        sel(&mut u, &mut ch, 0x08, &h("7FD06F07")).sw,
        Sw::FILE_NOT_FOUND
    );
    // Errors.
    assert_eq!(sel(&mut u, &mut ch, 0x00, &h("3F")).sw, Sw::WRONG_LENGTH);
    assert_eq!(
        sel(&mut u, &mut ch, 0x00, &h("3F002F00")).sw,
        Sw::WRONG_LENGTH
    );
    assert_eq!(
        sel(&mut u, &mut ch, 0x02, &h("2F00")).sw,
        Sw::INCORRECT_P1P2
    );
    assert_eq!(
        send(&mut u, &mut ch, 0x00, 0xA4, 0x00, 0x08, &h("3F00"), None).sw,
        Sw::INCORRECT_P1P2
    );
}

#[test]
fn read_and_update_binary_with_offsets_sfi_and_errors() {
    let (mut u, mut ch, _) = uicc(false);
    assert_eq!(
        read(&mut u, &mut ch, 0, 256).sw,
        Sw::COMMAND_NOT_ALLOWED_NO_EF
    );
    sel(&mut u, &mut ch, 0x00, &h("2FE2"));
    assert_eq!(
        read(&mut u, &mut ch, 0, 256).data,
        h("989444999999990920F3")
    );
    assert_eq!(read(&mut u, &mut ch, 8, 2).data, h("20F3"));
    let r = read(&mut u, &mut ch, 8, 4);
    assert_eq!((r.data, r.sw), (h("20F3"), SW_EOF));
    assert_eq!(read(&mut u, &mut ch, 10, 1).sw, Sw::WRONG_P1P2);
    // SFI 02 from the MF.
    let mut ch2 = UiccChannel::default();
    let r = send(&mut u, &mut ch2, 0x00, 0xB0, 0x82, 0x01, &[], Some(2));
    assert_eq!(r.data, h("9444"));
    assert_eq!(
        send(&mut u, &mut ch2, 0x00, 0xB0, 0x9D, 0x00, &[], Some(1)).sw,
        Sw::FILE_NOT_FOUND
    );
    // Record EF: incompatible structure.
    sel(&mut u, &mut ch, 0x00, &h("2F00"));
    assert_eq!(read(&mut u, &mut ch, 0, 1).sw, Sw::COMMAND_INCOMPATIBLE);
    // Update needs ADM1.
    sel(&mut u, &mut ch, 0x00, &h("2FE2"));
    let upd =
        |u: &mut Uicc, ch: &mut UiccChannel| send(u, ch, 0x00, 0xD6, 0x00, 0x08, &h("1234"), None);
    assert_eq!(upd(&mut u, &mut ch).sw, Sw::SECURITY_NOT_SATISFIED);
    assert!(u.drain_changes().is_empty());
    assert_eq!(
        send(&mut u, &mut ch, 0x00, 0x20, 0x00, 0x0A, b"55555555", None).sw,
        Sw::OK
    );
    assert_eq!(upd(&mut u, &mut ch).sw, Sw::OK);
    assert_eq!(read(&mut u, &mut ch, 8, 2).data, h("1234"));
    assert_eq!(
        send(&mut u, &mut ch, 0x00, 0xD6, 0x00, 0x09, &h("1234"), None).sw,
        Sw::WRONG_LENGTH
    );
    let changes = u.drain_changes();
    assert_eq!(
        changes,
        vec![UiccChange::FileContent {
            file: FileKey {
                aid: None,
                path: vec![0x2FE2]
            },
            content: h("98944499999999091234"),
        }]
    );
}

#[test]
fn records_absolute_next_previous_and_cyclic() {
    let (mut u, mut ch, _) = uicc(false);
    sel(&mut u, &mut ch, 0x04, &h(USIM_AID));
    let rr = |u: &mut Uicc, ch: &mut UiccChannel, p1, p2, le| {
        send(u, ch, 0x00, 0xB2, p1, p2, &[], Some(le))
    };
    // EF.ECC by SFI 1, absolute.
    assert_eq!(rr(&mut u, &mut ch, 2, 0x0C, 4).data, h("55667788"));
    assert_eq!(rr(&mut u, &mut ch, 4, 0x0C, 4).sw, Sw::RECORD_NOT_FOUND);
    assert_eq!(rr(&mut u, &mut ch, 1, 0x04, 3).sw, Sw::wrong_le(4));
    // Next / previous.
    assert_eq!(rr(&mut u, &mut ch, 0, 0x02, 4).data, h("11223344"));
    assert_eq!(rr(&mut u, &mut ch, 0, 0x02, 4).data, h("55667788"));
    assert_eq!(rr(&mut u, &mut ch, 0, 0x04, 4).data, h("55667788"));
    assert_eq!(rr(&mut u, &mut ch, 0, 0x02, 4).data, h("FFFFFFFF"));
    assert_eq!(rr(&mut u, &mut ch, 0, 0x02, 4).sw, Sw::RECORD_NOT_FOUND);
    assert_eq!(rr(&mut u, &mut ch, 0, 0x03, 4).data, h("55667788"));
    // Update record absolute and next.
    let ur = |u: &mut Uicc, ch: &mut UiccChannel, p1, p2, d: &str| {
        send(u, ch, 0x00, 0xDC, p1, p2, &h(d), None)
    };
    assert_eq!(ur(&mut u, &mut ch, 3, 0x04, "01020304").sw, Sw::OK);
    assert_eq!(ur(&mut u, &mut ch, 3, 0x04, "010203").sw, Sw::WRONG_LENGTH);
    assert_eq!(rr(&mut u, &mut ch, 3, 0x04, 256).data, h("01020304"));
    // Search: records starting with 5566.
    let r = send(&mut u, &mut ch, 0x00, 0xA2, 0x01, 0x04, &h("5566"), None);
    assert_eq!((r.sw, r.data), (Sw::OK, vec![2]));
    // Cyclic EF.ACM: only PREVIOUS updates; the oldest record becomes record 1.
    sel(&mut u, &mut ch, 0x00, &h("6F39"));
    assert_eq!(
        ur(&mut u, &mut ch, 0, 0x04, "000009").sw,
        Sw::INCORRECT_P1P2
    );
    assert_eq!(ur(&mut u, &mut ch, 0, 0x03, "000009").sw, Sw::OK);
    assert_eq!(rr(&mut u, &mut ch, 1, 0x04, 3).data, h("000009"));
    assert_eq!(rr(&mut u, &mut ch, 3, 0x04, 3).data, h("000002"));
    // Cyclic NEXT wraps around.
    assert_eq!(rr(&mut u, &mut ch, 0, 0x02, 3).data, h("000001"));
    assert_eq!(rr(&mut u, &mut ch, 0, 0x02, 3).data, h("000002"));
    assert_eq!(rr(&mut u, &mut ch, 0, 0x02, 3).data, h("000009"));
    // Binary command on a record EF and record command on a transparent EF.
    sel(&mut u, &mut ch, 0x00, &h("6FAD"));
    assert_eq!(rr(&mut u, &mut ch, 1, 0x04, 4).sw, Sw::COMMAND_INCOMPATIBLE);
    assert_eq!(u.drain_changes().len(), 2);
}

#[test]
fn pin_retries_blocking_and_unblock() {
    let (mut u, mut ch, _) = uicc(true);
    let v = |u: &mut Uicc, ch: &mut UiccChannel, d: &[u8]| {
        send(u, ch, 0x00, 0x20, 0x00, 0x01, d, None).sw
    };
    assert_eq!(v(&mut u, &mut ch, &[]), Sw(0x63C3));
    assert_eq!(v(&mut u, &mut ch, b"0000\xFF\xFF\xFF\xFF"), Sw(0x63C2));
    assert_eq!(v(&mut u, &mut ch, b"1234\xFF\xFF\xFF\xFF"), Sw::OK);
    assert_eq!(v(&mut u, &mut ch, &[]), Sw::OK);
    for left in [2u16, 1, 0] {
        assert_eq!(
            v(&mut u, &mut ch, b"0000\xFF\xFF\xFF\xFF"),
            Sw(0x63C0 | left)
        );
    }
    assert_eq!(
        v(&mut u, &mut ch, b"1234\xFF\xFF\xFF\xFF"),
        Sw::AUTH_METHOD_BLOCKED
    );
    assert_eq!(v(&mut u, &mut ch, &[]), Sw::AUTH_METHOD_BLOCKED);
    assert_eq!(v(&mut u, &mut ch, b"12"), Sw::WRONG_LENGTH);
    // UNBLOCK: status, wrong PUK, right PUK with a new PIN.
    let ub = |u: &mut Uicc, ch: &mut UiccChannel, d: &[u8]| {
        send(u, ch, 0x00, 0x2C, 0x00, 0x01, d, None).sw
    };
    assert_eq!(ub(&mut u, &mut ch, &[]), Sw(0x63CA));
    assert_eq!(
        ub(&mut u, &mut ch, b"1111111X4321\xFF\xFF\xFF\xFF"),
        Sw(0x63C9)
    );
    assert_eq!(ub(&mut u, &mut ch, b"111111114321\xFF\xFF\xFF\xFF"), Sw::OK);
    assert_eq!(v(&mut u, &mut ch, &[]), Sw::OK);
    assert_eq!(ub(&mut u, &mut ch, &[]), Sw(0x63CA));
    // CHANGE, DISABLE, ENABLE.
    let c = send(
        &mut u,
        &mut ch,
        0x00,
        0x24,
        0x00,
        0x01,
        b"4321\xFF\xFF\xFF\xFF5678\xFF\xFF\xFF\xFF",
        None,
    );
    assert_eq!(c.sw, Sw::OK);
    let c = send(
        &mut u,
        &mut ch,
        0x00,
        0x24,
        0x00,
        0x01,
        b"5678\xFF\xFF\xFF\xFF12\xFF\xFF\xFF\xFF\xFF\xFF",
        None,
    );
    assert_eq!(c.sw, Sw::WRONG_DATA);
    assert_eq!(
        send(
            &mut u,
            &mut ch,
            0x00,
            0x26,
            0x00,
            0x01,
            b"5678\xFF\xFF\xFF\xFF",
            None
        )
        .sw,
        Sw::OK
    );
    assert_eq!(
        send(
            &mut u,
            &mut ch,
            0x00,
            0x26,
            0x00,
            0x01,
            b"5678\xFF\xFF\xFF\xFF",
            None
        )
        .sw,
        Sw::CONDITIONS_NOT_SATISFIED
    );
    assert_eq!(
        send(
            &mut u,
            &mut ch,
            0x00,
            0x28,
            0x00,
            0x01,
            b"5678\xFF\xFF\xFF\xFF",
            None
        )
        .sw,
        Sw::OK
    );
    // ADM cannot be disabled; unknown key reference; wrong P1.
    assert_eq!(
        send(&mut u, &mut ch, 0x00, 0x26, 0x00, 0x0A, b"55555555", None).sw,
        Sw::CONDITIONS_NOT_SATISFIED
    );
    assert_eq!(
        send(&mut u, &mut ch, 0x00, 0x20, 0x00, 0x02, &[], None).sw,
        Sw::REFERENCE_NOT_FOUND
    );
    assert_eq!(
        send(&mut u, &mut ch, 0x00, 0x20, 0x01, 0x01, &[], None).sw,
        Sw::INCORRECT_P1P2
    );
    // PIN2 (81) is local to ADF.USIM: not found at the MF.
    assert_eq!(
        send(&mut u, &mut ch, 0x00, 0x20, 0x00, 0x81, &[], None).sw,
        Sw::REFERENCE_NOT_FOUND
    );
    sel(&mut u, &mut ch, 0x04, &h(USIM_AID));
    assert_eq!(
        send(&mut u, &mut ch, 0x00, 0x20, 0x00, 0x81, &[], None).sw,
        Sw(0x63C3)
    );

    // Replay: a rebuilt UICC with the drained changes has the new PIN and counters.
    let changes = u.drain_changes();
    assert!(changes.iter().any(|c| matches!(
        c,
        UiccChange::Puk {
            key_ref: 1,
            retries_left: 10
        }
    )));
    let json = serde_json::to_string(&changes).unwrap();
    assert!(!json.contains("REDACTED"));
    let back: Vec<UiccChange> = serde_json::from_str(&json).unwrap();
    let (p, _) = package(true);
    let mut u2 = Uicc::from_package(&p).unwrap();
    for c in &back {
        u2.apply_change(c).unwrap();
    }
    let mut ch2 = UiccChannel::default();
    assert_eq!(
        send(
            &mut u2,
            &mut ch2,
            0x00,
            0x20,
            0x00,
            0x01,
            b"5678\xFF\xFF\xFF\xFF",
            None
        )
        .sw,
        Sw::OK
    );
    assert!(format!("{changes:?}").contains("REDACTED"));
}

#[test]
fn arr_gates_imsi_on_pin1_only_when_pin1_is_enabled() {
    for enabled in [false, true] {
        let (mut u, mut ch, _) = uicc(enabled);
        sel(&mut u, &mut ch, 0x04, &h(USIM_AID));
        assert_eq!(sel(&mut u, &mut ch, 0x00, &h("6F07")).sw, Sw::OK);
        let r = read(&mut u, &mut ch, 0, 9);
        if enabled {
            assert_eq!(r.sw, Sw::SECURITY_NOT_SATISFIED);
            assert_eq!(
                send(
                    &mut u,
                    &mut ch,
                    0x00,
                    0x20,
                    0x00,
                    0x01,
                    b"1234\xFF\xFF\xFF\xFF",
                    None
                )
                .sw,
                Sw::OK
            );
            assert_eq!(read(&mut u, &mut ch, 0, 9).data, h("080910101032540636"));
            u.reset();
            assert_eq!(read(&mut u, &mut ch, 0, 9).sw, Sw::SECURITY_NOT_SATISFIED);
        } else {
            assert_eq!(r.data, h("080910101032540636"));
        }
        // Never-readable EF; PIN2-protected EF.
        sel(&mut u, &mut ch, 0x00, &h("6F99"));
        assert_eq!(read(&mut u, &mut ch, 0, 1).sw, Sw::SECURITY_NOT_SATISFIED);
        sel(&mut u, &mut ch, 0x00, &h("6F98"));
        assert_eq!(read(&mut u, &mut ch, 0, 1).sw, Sw::SECURITY_NOT_SATISFIED);
        assert_eq!(
            send(
                &mut u,
                &mut ch,
                0x00,
                0x20,
                0x00,
                0x81,
                b"9999\xFF\xFF\xFF\xFF",
                None
            )
            .sw,
            Sw::OK
        );
        assert_eq!(read(&mut u, &mut ch, 0, 1).data, h("42"));
    }
}

#[test]
fn authenticate_3g_and_gsm_with_the_test_algorithm() {
    let (mut u, mut ch, _) = uicc(false);
    let data = h("10 0123456789ABCDEF0123456789ABCDEF 10 648DAECBE8298000012247648D8E4BE8");
    assert_eq!(
        send(&mut u, &mut ch, 0x00, 0x88, 0x00, 0x81, &data, Some(256)).sw,
        Sw::CONDITIONS_NOT_SATISFIED
    );
    sel(&mut u, &mut ch, 0x04, &h(USIM_AID));
    let r = send(&mut u, &mut ch, 0x00, 0x88, 0x00, 0x81, &data, Some(256));
    assert_eq!(r.sw, Sw::OK);
    let res = "012247648DAECBE8092A4F6C85A6C3E0";
    let ck = "2247648DAECBE8092A4F6C85A6C3E001";
    let ik = "47648DAECBE8092A4F6C85A6C3E00122";
    let kc = auth::c3(&h(ck).try_into().unwrap(), &h(ik).try_into().unwrap());
    let want = [h(&format!("DB 10 {res} 10 {ck} 10 {ik} 08")), kc.to_vec()].concat();
    assert_eq!(r.data, want);
    // Bad MAC.
    let mut bad = data.clone();
    bad[33] ^= 0x01;
    assert_eq!(
        send(&mut u, &mut ch, 0x00, 0x88, 0x00, 0x81, &bad, Some(256)).sw,
        SW_AUTH_MAC
    );
    // GSM context: SRES = c2(RES), Kc = c3.
    let r = send(
        &mut u,
        &mut ch,
        0x00,
        0x88,
        0x00,
        0x80,
        &data[..17],
        Some(256),
    );
    let sres = auth::c2(&h(res));
    assert_eq!(
        r.data,
        [vec![0x04], sres.to_vec(), vec![0x08], kc.to_vec()].concat()
    );
    // Wrong P2 and lengths.
    assert_eq!(
        send(&mut u, &mut ch, 0x00, 0x88, 0x00, 0x82, &data, None).sw,
        Sw::INCORRECT_P1P2
    );
    assert_eq!(
        send(&mut u, &mut ch, 0x00, 0x88, 0x00, 0x81, &data[..20], None).sw,
        Sw::WRONG_LENGTH
    );
}

#[test]
fn authenticate_requires_pin1_when_enabled() {
    let (mut u, mut ch, _) = uicc(true);
    sel(&mut u, &mut ch, 0x04, &h(USIM_AID));
    let data = h("10 0123456789ABCDEF0123456789ABCDEF 10 648DAECBE8298000012247648D8E4BE8");
    assert_eq!(
        send(&mut u, &mut ch, 0x00, 0x88, 0x00, 0x81, &data, None).sw,
        Sw::SECURITY_NOT_SATISFIED
    );
}

#[test]
fn unknown_instruction_and_accessors() {
    let (mut u, mut ch, _) = uicc(false);
    assert_eq!(
        send(&mut u, &mut ch, 0x00, 0xCA, 0x00, 0x00, &[], None).sw,
        Sw::INS_NOT_SUPPORTED
    );
    assert_eq!(u.usim_aid(), Some(&h(USIM_AID)[..]));
    assert!(u.has_aid_prefix(&h("A000000087")));
    let apps = u.ef_dir_apps();
    assert_eq!(apps.len(), 1);
    assert_eq!(apps[0].label.as_deref(), Some("USIM"));
    assert_eq!(u.read_file_by_path(&[0x7FD0, 0x6FAD]), Some(h("80000002")));
    assert_eq!(
        u.read_ef(Some(&h(USIM_AID)), &[0x6FB7]),
        Some(h("11223344 55667788 FFFFFFFF"))
    );
    assert_eq!(u.read_ef(None, &[0x2FE2]), Some(h("989444999999990920F3")));
    assert!(u
        .apply_change(&UiccChange::FileContent {
            file: FileKey {
                aid: None,
                path: vec![0x2FE2]
            },
            content: vec![1]
        })
        .is_err());
    assert!(u
        .apply_change(&UiccChange::Puk {
            key_ref: 0x99,
            retries_left: 1
        })
        .is_err());
}

#[test]
fn ef_dir_gets_a_record_for_an_unlisted_adf() {
    let (mut p, _) = package(false);
    let isim = h("A0000000871004FF49FF0589");
    p.fs.add_child(
        NodeId::MF,
        FileNode::new(0x7FB0, NodeKind::Adf { aid: isim.clone() }),
    )
    .unwrap();
    let u = Uicc::from_package(&p).unwrap();
    let aids: Vec<Vec<u8>> = u.ef_dir_apps().into_iter().map(|a| a.aid).collect();
    assert_eq!(aids, vec![h(USIM_AID), isim]);
}

mod prop {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]
        #[test]
        fn random_commands_never_panic(cmds in proptest::collection::vec(
            (any::<u8>(), prop_oneof![Just(0xA4u8), Just(0xB0), Just(0xD6), Just(0xB2), Just(0xDC), Just(0xA2), Just(0xF2), Just(0x20), Just(0x2C), Just(0x88), any::<u8>()],
             any::<u8>(), any::<u8>(), proptest::collection::vec(any::<u8>(), 0..40)), 1..20)) {
            let (mut u, mut ch, _) = uicc(true);
            for (cla, ins, p1, p2, data) in cmds {
                let raw = build(cla & 0x83, ins, p1, p2, &data, Some(256));
                if let Ok(c) = Command::parse(&raw) {
                    let _ = u.handle(&mut ch, &c);
                }
            }
        }
    }
}

#[test]
fn ts48_links_dir_and_pin_state() {
    use crate::profile::saip::{parse_package, tests::ts48_files};
    for (name, bytes) in ts48_files() {
        let p = parse_package(&bytes).unwrap();
        let mut u = Uicc::from_package(&p).unwrap();
        let labels: Vec<String> = u
            .ef_dir_apps()
            .into_iter()
            .filter_map(|a| a.label)
            .collect();
        assert_eq!(labels, vec!["USIM", "ISIM", "CSIM"], "{name}");
        // DF.TELECOM/6F3B is a link to ADF.USIM/EF.FDN: same content, writes go to the target.
        let via_link = u.read_file_by_path(&[0x7F10, 0x6F3B]).unwrap();
        assert_eq!(
            Some(via_link),
            u.read_file_by_path(&[0x7FD0, 0x6F3B]),
            "{name}"
        );
        let mut ch = UiccChannel::default();
        // EF.FDN via DF.TELECOM: update needs PIN2, the USIM's local PIN when DF.TELECOM
        // defines none (A variants attach the telecom PIN2 to DF.MMSS).
        assert_eq!(
            sel(&mut u, &mut ch, 0x08, &h("7F106F3B")).sw,
            Sw::OK,
            "{name}"
        );
        let r = send(&mut u, &mut ch, 0x00, 0xDC, 0x01, 0x04, &[0x41; 28], None);
        assert_eq!(r.sw, Sw::SECURITY_NOT_SATISFIED, "{name}");
        assert_eq!(
            sel(&mut u, &mut ch, 0x04, p.usim_aid.as_deref().unwrap()).sw,
            Sw::OK
        );
        let fcp = sel(&mut u, &mut ch, 0x08, &h("7F106F3B")).data;
        let pin2 = b"9999\xFF\xFF\xFF\xFF";
        assert_eq!(
            send(&mut u, &mut ch, 0x00, 0x20, 0x00, 0x81, pin2, None).sw,
            Sw::OK,
            "{name}"
        );
        let rl = usize::from(tlv_find(&fcp, 0x82).unwrap()[3]);
        let rec = vec![0x41; rl];
        let r = send(&mut u, &mut ch, 0x00, 0xDC, 0x01, 0x04, &rec, None);
        assert_eq!(r.sw, Sw::OK, "{name}");
        assert_eq!(
            &u.read_file_by_path(&[0x7FD0, 0x6F3B]).unwrap()[..rl],
            &rec[..],
            "{name}"
        );
        let ch = u.drain_changes();
        assert!(
            matches!(&ch[..], [UiccChange::FileContent { file, .. }]
            if file.aid.as_deref() == p.usim_aid.as_deref() && file.path == vec![0x6F3B]),
            "{name}: {ch:?}"
        );
        // PIN1 starts disabled (pinAttributes 6): MF FCP PS_DO has PIN1's bit clear.
        let mut ch = UiccChannel::default();
        let r = sel(&mut u, &mut ch, 0x00, &h("3F00"));
        let c6 = tlv_find(&r.data, 0xC6).unwrap();
        assert_eq!(
            (c6[0], c6[1], c6[2] & 0xC0, &c6[3..6]),
            (0x90, 0x01, 0x40, &[0x83, 0x01, 0x01][..]),
            "{name}"
        );
    }
}
