use super::*;
use crate::uicc::fs::{EfStructure, NodeKind};

/// The TS.48 packages, if the shared test data is present.
pub(crate) fn ts48_files() -> Vec<(String, Vec<u8>)> {
    let dir = std::env::var("VEUICC_TESTDATA")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| {
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/testdata")
        })
        .join("ts48");
    let Ok(rd) = std::fs::read_dir(&dir) else {
        eprintln!("SKIPPED: testdata not found at {}", dir.display());
        return Vec::new();
    };
    let mut out: Vec<(String, Vec<u8>)> = rd
        .filter_map(Result::ok)
        .filter(|e| e.path().extension().is_some_and(|x| x == "der"))
        .map(|e| {
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect();
    out.sort();
    out
}

fn h(s: &str) -> Vec<u8> {
    hex::decode(s.replace(' ', "")).unwrap()
}

#[test]
fn parses_every_ts48_package() {
    for (name, bytes) in ts48_files() {
        let p = parse_package(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(
            p.pe_names.first().map(String::as_str),
            Some("header"),
            "{name}"
        );
        assert_eq!(p.pe_names.last().map(String::as_str), Some("end"), "{name}");
        assert_eq!(p.header.profile_type, "GSMA Generic eUICC Test Profile");
        assert_eq!(
            p.fs.read_path(&[0x2FE2]).unwrap(),
            p.iccid_swapped().to_vec(),
            "{name}"
        );
        // EF.IMSI, EF.AD, EF.SPN through the template sizes.
        let usim = [0x7FD0];
        assert_eq!(
            p.fs.read_path(&[usim[0], 0x6F07]).unwrap(),
            h("080910101032540636")
        );
        assert_eq!(p.fs.read_path(&[usim[0], 0x6FAD]).unwrap(), h("80000002"));
        let spn = p.fs.read_path(&[usim[0], 0x6F46]).unwrap();
        assert_eq!(spn.len(), 17);
        assert_eq!(&spn[..10], &h("0147534D411154455354")[..]);
        assert!(spn[10..].iter().all(|b| *b == 0xFF));
        // GID1/GID2: 2 bytes of FF (TS.48 sizes).
        assert!(p.usim_aid.is_some() && p.isim_aid.is_some() && p.csim_aid.is_some());
        let aka = p.aka_for(p.usim_aid.as_deref().unwrap()).unwrap();
        assert_eq!(aka.algorithm(), Some(AkaAlgorithm::TestAlgorithm));
        // PINs: PIN1 disabled, ADM enabled, PUKs 01/81.
        let pin1 = p.pins.iter().find(|x| x.key_ref == 1).unwrap();
        assert!(!pin1.enabled(), "{name}");
        assert_eq!(pin1.value.expose(), b"0000\xFF\xFF\xFF\xFF");
        assert_eq!((pin1.max_attempts, pin1.retries_left), (3, 3));
        assert!(p.pins.iter().find(|x| x.key_ref == 0x0A).unwrap().enabled());
        assert_eq!(p.puks.len(), 2);
        assert_eq!(p.puks[0].max_attempts, 10);
        // Every EF's content matches its declared size.
        for id in p.fs.ids() {
            if let Some(NodeKind::Ef {
                structure,
                size,
                content,
            }) = p.fs.node(id).map(|n| &n.kind)
            {
                if *structure != EfStructure::BerTlv {
                    assert_eq!(*size, content.len(), "{name} {:?}", p.fs.file_key(id));
                }
            }
        }
    }
}

#[test]
fn template_defaults_fill_unlisted_content() {
    let Some((_, bytes)) = ts48_files().into_iter().next() else {
        return;
    };
    let p = parse_package(&bytes).unwrap();
    // EF.FPLMN: template default FF…FF, 12 bytes.
    assert_eq!(p.fs.read_path(&[0x7FD0, 0x6F7B]).unwrap(), vec![0xFF; 12]);
    // EF.SMS: records 00 FF…FF (fillPattern 00FF in TS.48 or template default).
    let sms = p.fs.read_path(&[0x7FD0, 0x6F3C]).unwrap();
    assert_eq!(sms.len() % 176, 0);
    assert!(sms
        .chunks(176)
        .all(|r| r[0] == 0 && r[1..].iter().all(|b| *b == 0xFF)));
    // EF.DIR: 4 records of 33 bytes, record 1 is the USIM.
    let dir = p.fs.read_path(&[0x2F00]).unwrap();
    assert_eq!(dir.len(), 132);
    assert_eq!(
        &dir[..22],
        &h("61144F0CA0000000871002FF49FF058950045553494D")[..]
    );
    assert!(dir[22..33].iter().all(|b| *b == 0xFF));
}

#[test]
fn iccid_forms() {
    let Some((_, bytes)) = ts48_files().into_iter().next() else {
        return;
    };
    let p = parse_package(&bytes).unwrap();
    assert_eq!(
        p.header.iccid,
        <[u8; 10]>::try_from(h("8949449999999990023F")).unwrap()
    );
    assert_eq!(p.iccid_swapped().to_vec(), h("989444999999990920F3"));
    assert_eq!(p.iccid_digits(), "8949449999999990023");
}

fn minimal_package(extra_before_end: &[u8]) -> Vec<u8> {
    // header: 80 02, 81 03, 83 iccid, A5 {81}, A6 {06 MF OID}
    let mut hdr = Vec::new();
    hdr.extend(h("800102 810103"));
    hdr.extend(rsp::tlv::tlv(0x83, &h("8949449999999990023F")));
    hdr.extend(h("A5028100 A608 0606 67810F010201"));
    let mut out = rsp::tlv::tlv(0xA0, &hdr);
    // mf PE: header, OID, mf { fcp {C6 01} }, ef-iccid { fill }, ef-dir { fcp size }, ef-arr
    let mut mf = h("A0058000810101 810667810F010201");
    mf.extend(rsp::tlv::tlv(
        0xA2,
        &rsp::tlv::tlv(0xA1, &h("8B032F0601 C601 01")),
    ));
    mf.extend(rsp::tlv::tlv(
        0xA4,
        &rsp::tlv::tlv(0x83, &h("989444999999990920F3")),
    ));
    mf.extend(rsp::tlv::tlv(
        0xA5,
        &rsp::tlv::tlv(0xA1, &h("820442210021 800142 8B032F0602")),
    ));
    mf.extend(rsp::tlv::tlv(
        0xA6,
        &[
            rsp::tlv::tlv(0xA1, &h("82044221000A 800114 8B032F0602")),
            rsp::tlv::tlv(0x83, &h("80010190008001029000")),
        ]
        .concat(),
    ));
    out.extend(rsp::tlv::tlv(0xB0, &mf));
    out.extend_from_slice(extra_before_end);
    out.extend(rsp::tlv::tlv(0xAA, &h("A00581008101 05")));
    out
}

#[test]
fn accepts_a_minimal_package_and_skips_unknown_non_mandated_pes() {
    let p = parse_package(&minimal_package(&[])).unwrap();
    assert_eq!(p.pe_names, vec!["header", "mf", "end"]);
    assert_eq!(p.fs.read_path(&[0x2F05]).unwrap(), vec![0xFF, 0xFF]); // EF.PL created by default
                                                                      // Unknown PE tag (private class) without mandated: skipped.
    let unknown = rsp::tlv::tlv(0xBF30, &h("A0038101 09"));
    let p = parse_package(&minimal_package(&unknown)).unwrap();
    assert_eq!(p.pe_names, vec!["header", "mf", "end"]);
}

#[test]
fn rejects_unknown_mandated_pes() {
    let unknown = rsp::tlv::tlv(0xBF30, &h("A00580008101 09"));
    assert!(matches!(
        parse_package(&minimal_package(&unknown)),
        Err(SaipError::UnsupportedMandatedPe { .. })
    ));
    let nonstd = rsp::tlv::tlv(0xA9, &h("A00580008101 09"));
    assert!(matches!(
        parse_package(&minimal_package(&nonstd)),
        Err(SaipError::UnsupportedMandatedPe { .. })
    ));
}

#[test]
fn rejects_malformed_packages_without_panicking() {
    let good = minimal_package(&[]);
    assert_eq!(parse_package(&[]).unwrap_err(), SaipError::MissingHeader);
    // Header missing: starts with the mf PE.
    let hdr_len = rsp::tlv::read_tlv(&good).unwrap().0.raw.len();
    assert_eq!(
        parse_package(&good[hdr_len..]).unwrap_err(),
        SaipError::MissingHeader
    );
    // End missing.
    let end_len = 9;
    assert_eq!(
        parse_package(&good[..good.len() - end_len]).unwrap_err(),
        SaipError::MissingEnd
    );
    // Truncated anywhere: an error, never a panic.
    for n in 0..good.len() {
        assert!(parse_package(&good[..n]).is_err(), "prefix {n}");
    }
    // Garbage.
    assert!(parse_package(&[0xFF; 64]).is_err());
    assert!(parse_package(&[0xA0, 0x84, 0xFF, 0xFF, 0xFF, 0xFF]).is_err());
    // ICCID of 9 bytes.
    let bad = [
        rsp::tlv::tlv(0xA0, &h("800102 810103 8309 894944999999999002")),
        good[hdr_len..].to_vec(),
    ]
    .concat();
    assert_eq!(parse_package(&bad).unwrap_err(), SaipError::IccidLength(9));
}

#[test]
fn ts48_telecom_pin_context_differs_between_a_and_b_variants() {
    let files = ts48_files();
    let get = |n: &str| {
        files
            .iter()
            .find(|f| f.0 == n)
            .map(|f| parse_package(&f.1).unwrap())
    };
    let (Some(a), Some(b)) = (get("TS48V1-A-UNIQUE.der"), get("TS48V1-B-UNIQUE.der")) else {
        return;
    };
    let ctx = |p: &ProfilePackage| {
        p.pins
            .iter()
            .filter(|x| x.key_ref == 0x81)
            .map(|x| p.fs.file_key(x.context).path)
            .collect::<Vec<_>>()
    };
    assert!(
        ctx(&a).contains(&vec![0x7F10, 0x5F3C]),
        "A: PIN2 context is DF.MMSS"
    );
    assert!(
        ctx(&b).contains(&vec![0x7F10]),
        "B: PIN2 context is DF.TELECOM"
    );
}

mod prop {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]
        #[test]
        fn random_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..2048)) {
            let _ = parse_package(&data);
            let mut v = minimal_package(&[]);
            v.truncate(data.len() % (v.len() + 1));
            let _ = parse_package(&v);
        }
    }
}
