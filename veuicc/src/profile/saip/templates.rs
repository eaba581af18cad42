//! File structure templates (SAIP Annex A) for the template OIDs TS.48 uses.
//!
//! Each template lists its files **in the order of the fields of the matching PE type** in
//! PEDefinitions, so the context tag number of a PE field is `index + 2` (field 0 is the PE
//! header, field 1 the template OID). Facts (FID, structure, record count × length or size, ARR
//! record, SFI, default content) follow SAIP Annex A as transcribed in public models (osmocom
//! pySim `saip/templates.py`), with its typos fixed (DF.TELECOM 7F10, DF.5GS 5FC0, DF.SAIP 5FD0,
//! EF.MMSSMODE 4F22, EF.EXT7 6FCC, EF.ICCID 2FE2). The CSIM tables are not in that model: their
//! FIDs and sizes come from 3GPP2 C.S0065 and are marked approximate; TS.48 gives FIDs for
//! every CSIM file, and where neither package nor table gives a size, the builder sizes the file
//! to its content.
//!
//! Default content notation: `""` none (all FF), hex = exact bytes, `"AA...BB"` = prefix, filler
//! (last byte of the prefix, or first of the suffix), suffix; `"*XX"` = `XX` repeated. For
//! record files the default applies to each record.

/// Structure of a template file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Mf,
    Df,
    Adf,
    /// Transparent EF.
    Tr,
    /// Linear fixed EF.
    Lf,
    /// Cyclic EF.
    Cy,
    /// BER-TLV EF.
    Bt,
}

/// One file of a template.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TemplateFile {
    /// PE field name (PEDefinitions).
    pub field: &'static str,
    /// FID (`None`: given by the package, e.g. the temporary FID of an ADF).
    pub fid: Option<u16>,
    pub kind: Kind,
    /// Number of records (record EFs), if fixed by the template.
    pub records: Option<u16>,
    /// File size (transparent/BER-TLV) or record length (record EFs), if fixed by the template.
    pub size: Option<u16>,
    /// Record of the implicit EF.ARR (SAIP §8.3.2).
    pub arr: u8,
    pub sfi: Option<u8>,
    /// Default content (see the module notation); empty = none.
    pub default: &'static str,
    /// Size taken from 3GPP2 C.S0065 rather than Annex A (CSIM): a larger content grows it.
    pub approximate: bool,
}

/// A template: an OID and its files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Template {
    pub oid: &'static str,
    /// Name of the PE type that uses it (as in `ProfilePackage::pe_names`).
    pub pe: &'static str,
    /// "Created by default": every file exists unless `doNotCreate` (SAIP §8.3.3).
    pub created_by_default: bool,
    /// The first file is the template's own MF/DF/ADF (false for the optional-files templates,
    /// whose files go into the ADF of the preceding NAA PE).
    pub has_root: bool,
    pub files: &'static [TemplateFile],
}

impl Template {
    /// The file for a PE field tag number (`field index + 2`).
    pub fn file_for_tag(&self, tag_number: u32) -> Option<(usize, &TemplateFile)> {
        let idx = usize::try_from(tag_number.checked_sub(2)?).ok()?;
        self.files.get(idx).map(|f| (idx, f))
    }
}

const fn n16(v: u16) -> Option<u16> {
    if v == 0 {
        None
    } else {
        Some(v)
    }
}

const fn n8(v: u8) -> Option<u8> {
    if v == 0 {
        None
    } else {
        Some(v)
    }
}

/// An EF: field, FID, kind, records (0 = unspecified), size or record length (0 = unspecified),
/// ARR record, SFI (0 = none), default. (Positional on purpose: one table row per line.)
#[allow(clippy::too_many_arguments)]
const fn ef(
    field: &'static str,
    fid: u16,
    kind: Kind,
    records: u16,
    size: u16,
    arr: u8,
    sfi: u8,
    default: &'static str,
) -> TemplateFile {
    TemplateFile {
        field,
        fid: n16(fid),
        kind,
        records: n16(records),
        size: n16(size),
        arr,
        sfi: n8(sfi),
        default,
        approximate: false,
    }
}

/// A CSIM EF whose size is approximate (see module docs).
const fn cs(
    field: &'static str,
    fid: u16,
    kind: Kind,
    records: u16,
    size: u16,
    arr: u8,
) -> TemplateFile {
    TemplateFile {
        field,
        fid: n16(fid),
        kind,
        records: n16(records),
        size: n16(size),
        arr,
        sfi: None,
        default: "",
        approximate: true,
    }
}

const fn dir(field: &'static str, fid: u16, kind: Kind) -> TemplateFile {
    TemplateFile {
        field,
        fid: n16(fid),
        kind,
        records: None,
        size: None,
        arr: 14,
        sfi: None,
        default: "",
        approximate: false,
    }
}

use Kind::{Bt, Cy, Lf, Tr};

/// 2.23.143.1.2.1 — files at the MF (Annex A.1).
pub const MF: Template = Template {
    oid: "2.23.143.1.2.1",
    pe: "mf",
    created_by_default: true,
    has_root: true,
    files: &[
        dir("mf", 0x3F00, Kind::Mf),
        ef("ef-pl", 0x2F05, Tr, 0, 2, 1, 0x05, "FF...FF"),
        ef("ef-iccid", 0x2FE2, Tr, 0, 10, 11, 0x02, ""),
        ef("ef-dir", 0x2F00, Lf, 0, 0, 10, 0x1E, ""),
        ef("ef-arr", 0x2F06, Lf, 0, 0, 10, 0x06, ""),
        ef("ef-umpc", 0x2F08, Tr, 0, 5, 10, 0x08, ""),
    ],
};

/// 2.23.143.1.2.3 — DF.TELECOM (Annex A.3). Nested DFs own the fields after them.
pub const TELECOM: Template = Template {
    oid: "2.23.143.1.2.3",
    pe: "telecom",
    created_by_default: false,
    has_root: true,
    files: &[
        dir("df-telecom", 0x7F10, Kind::Df),
        ef("ef-arr", 0x6F06, Lf, 0, 0, 10, 0, ""),
        ef("ef-rma", 0x6F53, Lf, 0, 0, 3, 0, ""),
        ef("ef-sume", 0x6F54, Tr, 0, 22, 3, 0, ""),
        ef("ef-ice-dn", 0x6FE0, Lf, 50, 24, 9, 0, "FF...FF"),
        ef("ef-ice-ff", 0x6FE1, Lf, 0, 0, 9, 0, "FF...FF"),
        ef("ef-psismsc", 0x6FE5, Lf, 0, 0, 5, 0, ""),
        dir("df-graphics", 0x5F50, Kind::Df),
        ef("ef-img", 0x4F20, Lf, 0, 0, 2, 0, "00FF...FF"),
        ef("ef-iidf", 0x4F40, Tr, 0, 0, 2, 0, "FF...FF"),
        ef("ef-ice-graphics", 0x4F21, Bt, 0, 0, 9, 0, ""),
        ef("ef-launch-scws", 0x4F01, Tr, 0, 0, 10, 0, ""),
        ef("ef-icon", 0x4F80, Tr, 0, 0, 10, 0, ""),
        dir("df-phonebook", 0x5F3A, Kind::Df),
        ef("ef-pbr", 0x4F30, Lf, 0, 0, 2, 0, ""),
        ef("ef-ext1", 0x4F38, Lf, 0, 13, 5, 0, "00FF...FF"),
        ef("ef-aas", 0x4F40, Lf, 0, 0, 5, 0, "FF...FF"),
        ef("ef-gas", 0x4F48, Lf, 0, 0, 5, 0, "FF...FF"),
        ef("ef-psc", 0x4F22, Tr, 0, 4, 5, 0, "00000000"),
        ef("ef-cc", 0x4F23, Tr, 0, 2, 5, 0, "0000"),
        ef("ef-puid", 0x4F24, Tr, 0, 2, 5, 0, "0000"),
        ef("ef-iap", 0x4F50, Lf, 0, 0, 5, 0, "FF...FF"),
        ef("ef-adn", 0x4F58, Lf, 0, 0, 5, 0, "FF...FF"),
        ef("ef-pbc", 0x4F60, Lf, 0, 2, 5, 0, "00...00"),
        ef("ef-anr", 0x4F68, Lf, 0, 0, 5, 0, "FF...FF"),
        ef("ef-puri", 0x4F70, Lf, 0, 0, 5, 0, ""),
        ef("ef-email", 0x4F78, Lf, 0, 0, 5, 0, "FF...FF"),
        ef("ef-sne", 0x4F80, Lf, 0, 0, 5, 0, "FF...FF"),
        ef("ef-uid", 0x4F88, Lf, 0, 2, 5, 0, "0000"),
        ef("ef-grp", 0x4F90, Lf, 0, 0, 5, 0, "00...00"),
        ef("ef-ccp1", 0x4F98, Lf, 0, 0, 5, 0, "FF...FF"),
        dir("df-multimedia", 0x5F3B, Kind::Df),
        ef("ef-mml", 0x4F47, Bt, 0, 0, 5, 0, ""),
        ef("ef-mmdf", 0x4F48, Bt, 0, 0, 5, 0, ""),
        dir("df-mmss", 0x5F3C, Kind::Df),
        ef("ef-mlpl", 0x4F20, Tr, 0, 0, 2, 0x01, ""),
        ef("ef-mspl", 0x4F21, Tr, 0, 0, 2, 0x02, ""),
        ef("ef-mmssmode", 0x4F22, Tr, 0, 1, 2, 0x03, ""),
        dir("df-mcs", 0x5F3D, Kind::Df),
        ef("ef-mst", 0x4F01, Tr, 0, 0, 2, 0x01, ""),
        ef("ef-mcs-config", 0x4F02, Bt, 0, 0, 2, 0x02, ""),
        dir("df-v2x", 0x5F3E, Kind::Df),
        ef("ef-vst", 0x4F01, Tr, 0, 0, 2, 0x01, ""),
        ef("ef-v2x-config", 0x4F02, Bt, 0, 0, 2, 0x02, ""),
        ef("ef-v2xp-pc5", 0x4F03, Tr, 0, 0, 2, 0, ""),
        ef("ef-v2xp-Uu", 0x4F04, Tr, 0, 0, 2, 0, ""),
    ],
};

/// 2.23.143.1.2.4 — ADF.USIM, created by default (Annex A.4).
pub const USIM: Template = Template {
    oid: "2.23.143.1.2.4",
    pe: "usim",
    created_by_default: true,
    has_root: true,
    files: &[
        dir("adf-usim", 0, Kind::Adf),
        ef("ef-imsi", 0x6F07, Tr, 0, 9, 2, 0x07, ""),
        ef("ef-arr", 0x6F06, Lf, 0, 0, 10, 0x17, ""),
        ef("ef-keys", 0x6F08, Tr, 0, 33, 5, 0x08, "07FF...FF"),
        ef("ef-keysPS", 0x6F09, Tr, 0, 33, 5, 0x09, "07FF...FF"),
        ef("ef-hpplmn", 0x6F31, Tr, 0, 1, 2, 0x12, "0A"),
        ef("ef-ust", 0x6F38, Tr, 0, 14, 2, 0x04, ""),
        ef("ef-fdn", 0x6F3B, Lf, 20, 26, 8, 0, "FF...FF"),
        ef("ef-sms", 0x6F3C, Lf, 10, 176, 5, 0, "00FF...FF"),
        ef("ef-smsp", 0x6F42, Lf, 1, 38, 5, 0, "FF...FF"),
        ef("ef-smss", 0x6F43, Tr, 0, 2, 5, 0, "FFFF"),
        ef("ef-spn", 0x6F46, Tr, 0, 17, 10, 0, ""),
        ef("ef-est", 0x6F56, Tr, 0, 1, 8, 0x05, ""),
        ef("ef-start-hfn", 0x6F5B, Tr, 0, 6, 5, 0x0F, "F00000F00000"),
        ef("ef-threshold", 0x6F5C, Tr, 0, 3, 2, 0x10, "FFFFFF"),
        ef(
            "ef-psloci",
            0x6F73,
            Tr,
            0,
            14,
            5,
            0x0C,
            "FFFFFFFFFFFFFFFFFFFF0000FF01",
        ),
        ef("ef-acc", 0x6F78, Tr, 0, 2, 2, 0x06, ""),
        ef("ef-fplmn", 0x6F7B, Tr, 0, 12, 5, 0x0D, "FF...FF"),
        ef(
            "ef-loci",
            0x6F7E,
            Tr,
            0,
            11,
            5,
            0x0B,
            "FFFFFFFFFFFFFF0000FF01",
        ),
        ef("ef-ad", 0x6FAD, Tr, 0, 4, 10, 0x03, "00000002"),
        ef("ef-ecc", 0x6FB7, Lf, 1, 4, 10, 0x01, ""),
        ef("ef-netpar", 0x6FC4, Tr, 0, 128, 5, 0, "FF...FF"),
        ef(
            "ef-epsloci",
            0x6FE3,
            Tr,
            0,
            18,
            5,
            0x1E,
            "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFF000001",
        ),
        ef("ef-epsnsc", 0x6FE4, Lf, 1, 80, 5, 0x18, "FF...FF"),
    ],
};

/// 2.23.143.1.2.5 — optional USIM files, not created by default (Annex A.5).
pub const OPT_USIM: Template = Template {
    oid: "2.23.143.1.2.5",
    pe: "opt-usim",
    created_by_default: false,
    has_root: false,
    files: &[
        ef("ef-li", 0x6F05, Tr, 0, 6, 1, 0x02, "FF...FF"),
        ef("ef-acmax", 0x6F37, Tr, 0, 3, 5, 0, "000000"),
        ef("ef-acm", 0x6F39, Cy, 1, 3, 7, 0, "000000"),
        ef("ef-gid1", 0x6F3E, Tr, 0, 8, 2, 0, ""),
        ef("ef-gid2", 0x6F3F, Tr, 0, 8, 2, 0, ""),
        ef("ef-msisdn", 0x6F40, Lf, 1, 24, 2, 0, "FF...FF"),
        ef("ef-puct", 0x6F41, Tr, 0, 5, 5, 0, "FFFFFF0000"),
        ef("ef-cbmi", 0x6F45, Tr, 0, 10, 5, 0, "FF...FF"),
        ef("ef-cbmid", 0x6F48, Tr, 0, 10, 2, 0x0E, "FF...FF"),
        ef("ef-sdn", 0x6F49, Lf, 10, 24, 2, 0, "FF...FF"),
        ef("ef-ext2", 0x6F4B, Lf, 10, 13, 8, 0, "00FF...FF"),
        ef("ef-ext3", 0x6F4C, Lf, 10, 13, 2, 0, "00FF...FF"),
        ef("ef-cbmir", 0x6F50, Tr, 0, 20, 5, 0, "FF...FF"),
        ef("ef-plmnwact", 0x6F60, Tr, 0, 40, 5, 0x0A, "*FFFFFF0000"),
        ef("ef-oplmnwact", 0x6F61, Tr, 0, 40, 2, 0x11, "*FFFFFF0000"),
        ef("ef-hplmnwact", 0x6F62, Tr, 0, 5, 2, 0x13, "FFFFFF0000"),
        ef("ef-dck", 0x6F2C, Tr, 0, 16, 5, 0, "FF...FF"),
        ef("ef-cnl", 0x6F32, Tr, 0, 30, 2, 0, "FF...FF"),
        ef("ef-smsr", 0x6F47, Lf, 10, 30, 5, 0, "00FF...FF"),
        ef("ef-bdn", 0x6F4D, Lf, 10, 25, 8, 0, "FF...FF"),
        ef("ef-ext5", 0x6F4E, Lf, 10, 13, 5, 0, "00FF...FF"),
        ef("ef-ccp2", 0x6F4F, Lf, 5, 15, 5, 0x16, "FF...FF"),
        ef("ef-ext4", 0x6F55, Lf, 10, 13, 8, 0, "00FF...FF"),
        ef("ef-acl", 0x6F57, Tr, 0, 101, 8, 0, "00FF...FF"),
        ef("ef-cmi", 0x6F58, Lf, 10, 11, 2, 0, "FF...FF"),
        ef(
            "ef-ici",
            0x6F80,
            Cy,
            20,
            38,
            5,
            0x14,
            "FF...FF0000000001FFFF",
        ),
        ef("ef-oci", 0x6F81, Cy, 20, 37, 5, 0x15, "FF...FF00000001FFFF"),
        ef("ef-ict", 0x6F82, Cy, 1, 3, 7, 0, "000000"),
        ef("ef-oct", 0x6F83, Cy, 1, 3, 7, 0, "000000"),
        ef("ef-vgcs", 0x6FB1, Tr, 0, 20, 2, 0, ""),
        ef("ef-vgcss", 0x6FB2, Tr, 0, 7, 5, 0, ""),
        ef("ef-vbs", 0x6FB3, Tr, 0, 20, 2, 0, ""),
        ef("ef-vbss", 0x6FB4, Tr, 0, 7, 5, 0, ""),
        ef("ef-emlpp", 0x6FB5, Tr, 0, 2, 2, 0, ""),
        ef("ef-aaem", 0x6FB6, Tr, 0, 1, 5, 0, "00"),
        ef("ef-hiddenkey", 0x6FC3, Tr, 0, 4, 5, 0, "FF...FF"),
        ef("ef-pnn", 0x6FC5, Lf, 10, 16, 10, 0x19, ""),
        ef("ef-opl", 0x6FC6, Lf, 5, 8, 10, 0x1A, ""),
        ef("ef-mbdn", 0x6FC7, Lf, 3, 24, 5, 0, ""),
        ef("ef-ext6", 0x6FC8, Lf, 10, 13, 5, 0, "00FF...FF"),
        ef("ef-mbi", 0x6FC9, Lf, 10, 5, 5, 0, ""),
        ef("ef-mwis", 0x6FCA, Lf, 10, 6, 5, 0, "00...00"),
        ef("ef-cfis", 0x6FCB, Lf, 10, 16, 5, 0, "0100FF...FF"),
        ef("ef-ext7", 0x6FCC, Lf, 10, 13, 5, 0, "00FF...FF"),
        ef("ef-spdi", 0x6FCD, Tr, 0, 17, 2, 0x1B, ""),
        ef("ef-mmsn", 0x6FCE, Lf, 10, 6, 5, 0, "000000FF...FF"),
        ef("ef-ext8", 0x6FCF, Lf, 10, 13, 5, 0, "00FF...FF"),
        ef("ef-mmsicp", 0x6FD0, Tr, 0, 100, 2, 0, "FF...FF"),
        ef("ef-mmsup", 0x6FD1, Lf, 0, 0, 5, 0, "FF...FF"),
        ef("ef-mmsucp", 0x6FD2, Tr, 0, 100, 5, 0, "FF...FF"),
        ef("ef-nia", 0x6FD3, Lf, 5, 11, 2, 0, "FF...FF"),
        ef("ef-vgcsca", 0x6FD4, Tr, 0, 0, 2, 0, "00...00"),
        ef("ef-vbsca", 0x6FD5, Tr, 0, 0, 2, 0, "00...00"),
        ef("ef-gbabp", 0x6FD6, Tr, 0, 0, 5, 0, "FF...FF"),
        ef("ef-msk", 0x6FD7, Lf, 0, 0, 2, 0, "FF...FF"),
        ef("ef-muk", 0x6FD8, Lf, 0, 0, 2, 0, "FF...FF"),
        ef("ef-ehplmn", 0x6FD9, Tr, 0, 15, 2, 0x1D, "FF...FF"),
        ef("ef-gbanl", 0x6FDA, Lf, 0, 0, 2, 0, "FF...FF"),
        ef("ef-ehplmnpi", 0x6FDB, Tr, 0, 1, 2, 0, "00"),
        ef("ef-lrplmnsi", 0x6FDC, Tr, 0, 1, 2, 0, "00"),
        ef("ef-nafkca", 0x6FDD, Lf, 0, 0, 2, 0, "FF...FF"),
        ef("ef-spni", 0x6FDE, Tr, 0, 0, 10, 0, "00FF...FF"),
        ef("ef-pnni", 0x6FDF, Lf, 0, 0, 10, 0, "00FF...FF"),
        ef("ef-ncp-ip", 0x6FE2, Lf, 0, 0, 2, 0, ""),
        ef(
            "ef-ufc",
            0x6FE6,
            Tr,
            0,
            30,
            10,
            0,
            "801E60C01E900080040000000000000000F0000000004000000000000080",
        ),
        ef("ef-nasconfig", 0x6FE8, Tr, 0, 18, 2, 0, ""),
        ef("ef-uicciari", 0x6FE7, Lf, 0, 0, 2, 0, ""),
        ef("ef-pws", 0x6FEC, Tr, 0, 0, 10, 0, ""),
        ef("ef-fdnuri", 0x6FED, Lf, 0, 0, 8, 0, "FF...FF"),
        ef("ef-bdnuri", 0x6FEE, Lf, 0, 0, 8, 0, "FF...FF"),
        ef("ef-sdnuri", 0x6FEF, Lf, 0, 0, 2, 0, "FF...FF"),
        ef("ef-ial", 0x6FF0, Lf, 0, 0, 3, 0, "FF...FF"),
        ef("ef-ips", 0x6FF1, Cy, 0, 4, 10, 0, "FF...FF"),
        ef("ef-ipd", 0x6FF2, Lf, 0, 0, 3, 0, "FF...FF"),
        ef("ef-epdgid", 0x6FF3, Tr, 0, 0, 2, 0, ""),
        ef("ef-epdgselection", 0x6FF4, Tr, 0, 0, 2, 0, ""),
        ef("ef-epdgidem", 0x6FF5, Tr, 0, 0, 2, 0, ""),
        ef("ef-epdgselectionem", 0x6FF6, Tr, 0, 0, 2, 0, ""),
        ef("ef-frompreferred", 0x6FF7, Tr, 0, 1, 2, 0, "00"),
        ef("ef-imsconfigdata", 0x6FF8, Bt, 0, 0, 2, 0, ""),
        ef("ef-3gpppsdataoff", 0x6FF9, Tr, 0, 4, 2, 0, ""),
        ef("ef-3gpppsdataoffservicelist", 0x6FFA, Lf, 0, 0, 2, 0, ""),
        ef("ef-xcapconfigdata", 0x6FFC, Bt, 0, 0, 2, 0, ""),
        ef("ef-earfcnlist", 0x6FFD, Tr, 0, 0, 10, 0, ""),
        ef("ef-mudmidconfigdata", 0x6FFE, Bt, 0, 0, 2, 0, ""),
        ef("ef-eaka", 0, Tr, 0, 0, 2, 0, ""),
    ],
};

/// 2.23.143.1.2.7 — DF.GSM-ACCESS in ADF.USIM (Annex A.7).
pub const GSM_ACCESS: Template = Template {
    oid: "2.23.143.1.2.7",
    pe: "gsm-access",
    created_by_default: false,
    has_root: true,
    files: &[
        dir("df-gsm-access", 0x5F3B, Kind::Df),
        ef("ef-kc", 0x4F20, Tr, 0, 9, 5, 0x01, "FF...FF07"),
        ef("ef-kcgprs", 0x4F52, Tr, 0, 9, 5, 0x02, "FF...FF07"),
        ef("ef-cpbcch", 0x4F63, Tr, 0, 10, 5, 0, "FF...FF"),
        ef("ef-invscan", 0x4F64, Tr, 0, 1, 2, 0, "00"),
    ],
};

/// 2.23.143.1.2.8 — ADF.ISIM, created by default (Annex A.8).
pub const ISIM: Template = Template {
    oid: "2.23.143.1.2.8",
    pe: "isim",
    created_by_default: true,
    has_root: true,
    files: &[
        dir("adf-isim", 0, Kind::Adf),
        ef("ef-impi", 0x6F02, Tr, 0, 0, 2, 0x02, ""),
        ef("ef-impu", 0x6F04, Lf, 1, 0, 2, 0x04, ""),
        ef("ef-domain", 0x6F03, Tr, 0, 0, 2, 0x05, ""),
        ef("ef-ist", 0x6F07, Tr, 0, 14, 2, 0x07, ""),
        ef("ef-ad", 0x6FAD, Tr, 0, 3, 10, 0x03, "000000"),
        ef("ef-arr", 0x6F06, Lf, 0, 0, 10, 0x06, ""),
    ],
};

/// 2.23.143.1.2.9 — optional ISIM files (Annex A.9).
pub const OPT_ISIM: Template = Template {
    oid: "2.23.143.1.2.9",
    pe: "opt-isim",
    created_by_default: false,
    has_root: false,
    files: &[
        ef("ef-pcscf", 0x6F09, Lf, 1, 0, 2, 0, ""),
        ef("ef-sms", 0x6F3C, Lf, 10, 176, 5, 0, "00FF...FF"),
        ef("ef-smsp", 0x6F42, Lf, 1, 38, 5, 0, "FF...FF"),
        ef("ef-smss", 0x6F43, Tr, 0, 2, 5, 0, "FFFF"),
        ef("ef-smsr", 0x6F47, Lf, 10, 30, 5, 0, "00FF...FF"),
        ef("ef-gbabp", 0x6FD5, Tr, 0, 0, 5, 0, "FF...FF"),
        ef("ef-gbanl", 0x6FD7, Lf, 0, 0, 2, 0, "FF...FF"),
        ef("ef-nafkca", 0x6FDD, Lf, 0, 0, 2, 0, "FF...FF"),
        ef("ef-uicciari", 0x6FE7, Lf, 0, 0, 2, 0, ""),
        ef("ef-frompreferred", 0x6FF7, Tr, 0, 1, 2, 0, "00"),
        ef("ef-imsconfigdata", 0x6FF8, Bt, 0, 0, 2, 0, ""),
        ef("ef-xcapconfigdata", 0x6FFC, Bt, 0, 0, 2, 0, ""),
        ef("ef-webrtcuri", 0x6FFA, Lf, 0, 0, 2, 0, ""),
        ef("ef-mudmidconfigdata", 0x6FFE, Bt, 0, 0, 2, 0, ""),
    ],
};

/// 2.23.143.1.2.10 — ADF.CSIM, created by default (approximate sizes, see module docs).
pub const CSIM: Template = Template {
    oid: "2.23.143.1.2.10",
    pe: "csim",
    created_by_default: true,
    has_root: true,
    files: &[
        dir("adf-csim", 0, Kind::Adf),
        ef("ef-arr", 0x6F06, Lf, 0, 0, 10, 0, ""),
        cs("ef-call-count", 0x6F21, Cy, 1, 2, 2),
        cs("ef-imsi-m", 0x6F22, Tr, 0, 10, 2),
        cs("ef-imsi-t", 0x6F23, Tr, 0, 10, 2),
        cs("ef-tmsi", 0x6F24, Tr, 0, 16, 5),
        cs("ef-ah", 0x6F25, Tr, 0, 2, 2),
        cs("ef-aop", 0x6F26, Tr, 0, 1, 2),
        cs("ef-aloc", 0x6F27, Tr, 0, 7, 5),
        cs("ef-cdmahome", 0x6F28, Lf, 0, 5, 2),
        cs("ef-znregi", 0x6F29, Lf, 0, 7, 5),
        cs("ef-snregi", 0x6F2A, Tr, 0, 7, 5),
        cs("ef-distregi", 0x6F2B, Tr, 0, 7, 5),
        cs("ef-accolc", 0x6F2C, Tr, 0, 1, 2),
        cs("ef-term", 0x6F2D, Tr, 0, 1, 2),
        cs("ef-acp", 0x6F2F, Tr, 0, 7, 2),
        cs("ef-prl", 0x6F30, Tr, 0, 0, 2),
        cs("ef-ruimid", 0x6F31, Tr, 0, 8, 2),
        cs("ef-csim-st", 0x6F32, Tr, 0, 0, 2),
        cs("ef-spc", 0x6F33, Tr, 0, 3, 2),
        cs("ef-otapaspc", 0x6F34, Tr, 0, 1, 2),
        cs("ef-namlock", 0x6F35, Tr, 0, 1, 2),
        cs("ef-ota", 0x6F36, Tr, 0, 0, 2),
        cs("ef-sp", 0x6F37, Tr, 0, 1, 2),
        cs("ef-esn-meid-me", 0x6F38, Tr, 0, 8, 2),
        cs("ef-li", 0x6F3A, Tr, 0, 0, 2),
        cs("ef-usgind", 0x6F42, Tr, 0, 1, 2),
        cs("ef-ad", 0x6F43, Tr, 0, 3, 2),
        cs("ef-max-prl", 0x6F45, Tr, 0, 4, 2),
        cs("ef-spcs", 0x6F46, Tr, 0, 1, 2),
        cs("ef-mecrp", 0x6F55, Tr, 0, 3, 2),
        cs("ef-home-tag", 0, Tr, 0, 0, 2),
        cs("ef-group-tag", 0, Tr, 0, 0, 2),
        cs("ef-specific-tag", 0, Tr, 0, 0, 2),
        cs("ef-call-prompt", 0, Tr, 0, 0, 2),
    ],
};

/// 2.23.143.1.2.11 — optional CSIM files (FIDs from C.S0065; sizes from the package or content).
pub const OPT_CSIM: Template = Template {
    oid: "2.23.143.1.2.11",
    pe: "opt-csim",
    created_by_default: false,
    has_root: false,
    files: &[
        cs("ef-ssci", 0x6F2E, Tr, 0, 1, 2),
        cs("ef-fdn", 0x6F3B, Lf, 0, 0, 2),
        cs("ef-sms", 0x6F3C, Lf, 0, 0, 2),
        cs("ef-smsp", 0x6F3D, Lf, 0, 0, 2),
        cs("ef-smss", 0x6F3E, Tr, 0, 0, 2),
        cs("ef-ssfc", 0x6F3F, Tr, 0, 0, 2),
        cs("ef-spn", 0x6F41, Tr, 0, 35, 2),
        cs("ef-mdn", 0x6F44, Lf, 0, 0, 2),
        cs("ef-ecc", 0x6F47, Tr, 0, 0, 2),
        cs("ef-me3gpdopc", 0x6F48, Tr, 0, 1, 2),
        cs("ef-3gpdopm", 0x6F49, Tr, 0, 1, 2),
        cs("ef-sipcap", 0x6F4A, Tr, 0, 4, 2),
        cs("ef-mipcap", 0x6F4B, Tr, 0, 5, 2),
        cs("ef-sipupp", 0x6F4C, Tr, 0, 0, 2),
        cs("ef-mipupp", 0x6F4D, Tr, 0, 0, 2),
        cs("ef-sipsp", 0x6F4E, Tr, 0, 1, 2),
        cs("ef-mipsp", 0x6F4F, Tr, 0, 0, 2),
        cs("ef-sippapss", 0x6F50, Tr, 0, 0, 2),
        cs("ef-puzl", 0x6F53, Tr, 0, 0, 2),
        cs("ef-maxpuzl", 0x6F54, Tr, 0, 0, 2),
        cs("ef-hrpdcap", 0x6F56, Tr, 0, 3, 2),
        cs("ef-hrpdupp", 0x6F57, Tr, 0, 0, 2),
        cs("ef-csspr", 0x6F58, Tr, 0, 1, 2),
        cs("ef-atc", 0x6F59, Tr, 0, 1, 2),
        cs("ef-eprl", 0x6F5A, Tr, 0, 0, 2),
        cs("ef-bcsmscfg", 0x6F5B, Tr, 0, 0, 2),
        cs("ef-bcsmspref", 0x6F5C, Tr, 0, 0, 2),
        cs("ef-bcsmstable", 0x6F5D, Lf, 0, 0, 2),
        cs("ef-bcsmsp", 0x6F5E, Lf, 0, 0, 2),
        cs("ef-bakpara", 0x6F63, Lf, 0, 0, 2),
        cs("ef-upbakpara", 0x6F64, Lf, 0, 0, 2),
        cs("ef-mmsn", 0x6F65, Lf, 0, 0, 2),
        cs("ef-ext8", 0x6F66, Lf, 0, 0, 2),
        cs("ef-mmsicp", 0x6F67, Tr, 0, 0, 2),
        cs("ef-mmsup", 0x6F68, Lf, 0, 0, 2),
        cs("ef-mmsucp", 0x6F69, Tr, 0, 0, 2),
        cs("ef-auth-capability", 0x6F6A, Tr, 0, 0, 2),
        cs("ef-3gcik", 0x6F6B, Tr, 0, 0, 2),
        cs("ef-dck", 0x6F6C, Tr, 0, 0, 2),
        cs("ef-gid1", 0x6F6D, Tr, 0, 0, 2),
        cs("ef-gid2", 0x6F6E, Tr, 0, 0, 2),
        cs("ef-cdmacnl", 0x6F6F, Tr, 0, 0, 2),
        cs("ef-sf-euimid", 0x6F74, Tr, 0, 0, 2),
        cs("ef-est", 0x6F75, Tr, 0, 0, 2),
        cs("ef-hidden-key", 0x6F76, Tr, 0, 0, 2),
        cs("ef-lcsver", 0x6F77, Tr, 0, 0, 2),
        cs("ef-lcscp", 0x6F78, Tr, 0, 0, 2),
        cs("ef-sdn", 0x6F79, Lf, 0, 0, 2),
        cs("ef-ext2", 0x6F7A, Lf, 0, 0, 2),
        cs("ef-ext3", 0x6F7B, Lf, 0, 0, 2),
        cs("ef-ici", 0x6F7C, Cy, 0, 0, 2),
        cs("ef-oci", 0x6F7D, Cy, 0, 0, 2),
        cs("ef-ext5", 0x6F7E, Lf, 0, 0, 2),
        cs("ef-ccp2", 0x6F7F, Lf, 0, 0, 2),
        cs("ef-applabels", 0x6F80, Tr, 0, 0, 2),
        cs("ef-model", 0x6F81, Tr, 0, 126, 2),
        cs("ef-rc", 0x6F82, Tr, 0, 0, 2),
        cs("ef-smscap", 0x6F83, Tr, 0, 0, 2),
        cs("ef-mipflags", 0x6F84, Tr, 0, 0, 2),
        cs("ef-3gpduppext", 0x6F85, Tr, 0, 0, 2),
        cs("ef-ipv6cap", 0x6F87, Tr, 0, 0, 2),
        cs("ef-tcpconfig", 0x6F88, Tr, 0, 0, 2),
        cs("ef-dgc", 0x6F89, Tr, 0, 0, 2),
        cs("ef-wapbrowsercp", 0x6F8A, Tr, 0, 0, 2),
        cs("ef-wapbrowserbm", 0x6F8B, Tr, 0, 0, 2),
        cs("ef-mmsconfig", 0x6F8C, Tr, 0, 0, 2),
        cs("ef-jdl", 0x6F8D, Tr, 0, 0, 2),
    ],
};

/// 2.23.143.1.2.13 — DF.5GS in ADF.USIM (Annex A.13).
pub const DF_5GS: Template = Template {
    oid: "2.23.143.1.2.13",
    pe: "df-5gs",
    created_by_default: false,
    has_root: true,
    files: &[
        dir("df-df-5gs", 0x5FC0, Kind::Df),
        ef(
            "ef-5gs3gpploci",
            0x4F01,
            Tr,
            0,
            20,
            5,
            0x01,
            "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF00000001",
        ),
        ef(
            "ef-5gsn3gpploci",
            0x4F02,
            Tr,
            0,
            20,
            5,
            0x02,
            "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF00000001",
        ),
        ef("ef-5gs3gppnsc", 0x4F03, Lf, 1, 57, 5, 0x03, "FF...FF"),
        ef("ef-5gsn3gppnsc", 0x4F04, Lf, 1, 57, 5, 0x04, "FF...FF"),
        ef("ef-5gauthkeys", 0x4F05, Tr, 0, 110, 5, 0x05, ""),
        ef("ef-uac-aic", 0x4F06, Tr, 0, 4, 2, 0x06, ""),
        ef("ef-suci-calc-info", 0x4F07, Tr, 0, 0, 2, 0x07, "FF...FF"),
        ef("ef-opl5g", 0x4F08, Lf, 0, 10, 10, 0x08, "FF...FF"),
        ef("ef-supinai", 0x4F09, Tr, 0, 0, 2, 0x09, ""),
        ef(
            "ef-routing-indicator",
            0x4F0A,
            Tr,
            0,
            4,
            2,
            0x0A,
            "F0FFFFFF",
        ),
        ef("ef-ursp", 0x4F0B, Bt, 0, 0, 2, 0, ""),
        ef("ef-tn3gppsnn", 0x4F0C, Tr, 0, 1, 2, 0x0C, "00"),
    ],
};

/// 2.23.143.1.2.14 — DF.SAIP in ADF.USIM (Annex A.14).
pub const DF_SAIP: Template = Template {
    oid: "2.23.143.1.2.14",
    pe: "df-saip",
    created_by_default: false,
    has_root: true,
    files: &[
        dir("df-df-saip", 0x5FD0, Kind::Df),
        ef("ef-suci-calc-info-usim", 0x4F01, Tr, 0, 0, 3, 0, "FF...FF"),
    ],
};

/// Every template this eUICC accepts.
pub const ALL: &[&Template] = &[
    &MF,
    &TELECOM,
    &USIM,
    &OPT_USIM,
    &GSM_ACCESS,
    &ISIM,
    &OPT_ISIM,
    &CSIM,
    &OPT_CSIM,
    &DF_5GS,
    &DF_SAIP,
];

/// The template with this OID (dotted form).
pub fn by_oid(oid: &str) -> Option<&'static Template> {
    ALL.iter().copied().find(|t| t.oid == oid)
}

/// The template with this OID, given as its arcs (as [`by_oid`] with the dotted form of `arcs`).
pub(crate) fn by_arcs(arcs: &[u64]) -> Option<&'static Template> {
    static ARCS: std::sync::OnceLock<Vec<Option<Vec<u64>>>> = std::sync::OnceLock::new();
    // Each template's OID as arcs, read once from its dotted form (`None` if it were not
    // canonical, which would never match: then the dotted form is compared instead).
    let parsed = ARCS.get_or_init(|| {
        ALL.iter()
            .map(|t| {
                let arcs: Option<Vec<u64>> = t.oid.split('.').map(|p| p.parse().ok()).collect();
                arcs.filter(|a| super::fcp::arcs_match_dotted(a, t.oid))
            })
            .collect()
    });
    ALL.iter()
        .zip(parsed)
        .find(|(t, p)| match p {
            Some(p) => p.as_slice() == arcs,
            None => super::fcp::arcs_match_dotted(arcs, t.oid),
        })
        .map(|(t, _)| *t)
}

fn nibble(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// The bytes of hex text, or `None` when it is not hex (odd length, a non-hex digit), as
/// `hex::decode` decides, without allocating.
fn hex_bytes(s: &str) -> Option<impl Iterator<Item = u8> + Clone + '_> {
    let b = s.as_bytes();
    if !b.len().is_multiple_of(2) || !b.iter().all(|c| nibble(*c).is_some()) {
        return None;
    }
    Some(b.chunks_exact(2).map(|p| {
        let hi = p.first().copied().and_then(nibble).unwrap_or(0);
        let lo = p.get(1).copied().and_then(nibble).unwrap_or(0);
        (hi << 4) | lo
    }))
}

/// Expands a default-content notation to `len` bytes (`None` if the notation is empty).
pub fn expand_default(notation: &str, len: usize) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(len);
    expand_default_into(notation, len, &mut out).then_some(out)
}

/// [`expand_default`] appending to `out`; false (and `out` untouched) where it gives `None`.
/// The expansion is `len` bytes, except for an empty `*` pattern, which expands to nothing.
pub(crate) fn expand_default_into(notation: &str, len: usize, out: &mut Vec<u8>) -> bool {
    if notation.is_empty() {
        return false;
    }
    if let Some(rep) = notation.strip_prefix('*') {
        let Some(pat) = hex_bytes(rep) else {
            return false;
        };
        out.extend(pat.cycle().take(len));
        return true;
    }
    if let Some(pos) = notation.as_bytes().windows(2).position(|w| w == b"..") {
        let (Some(l), Some(r)) = (notation.get(..pos), notation.get(pos..)) else {
            return false;
        };
        let (l, r) = (l.trim_end_matches('.'), r.trim_start_matches('.'));
        let (Some(left), Some(right)) = (hex_bytes(l), hex_bytes(r)) else {
            return false;
        };
        let right_len = r.len() / 2;
        let filler = left.clone().last().or(right.clone().next()).unwrap_or(0xFF);
        let start = out.len();
        out.extend(left.take(len));
        let taken = out.len() - start;
        let tail = right_len.min(len.saturating_sub(taken));
        out.resize(start + len - tail, filler);
        out.extend(right.skip(right_len - tail));
        return true;
    }
    let Some(exact) = hex_bytes(notation) else {
        return false;
    };
    let start = out.len();
    out.extend(exact.take(len));
    out.resize(start + len, 0xFF);
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expands_default_notations() {
        assert_eq!(expand_default("FF...FF", 3), Some(vec![0xFF; 3]));
        assert_eq!(
            expand_default("00FF...FF", 4),
            Some(vec![0, 0xFF, 0xFF, 0xFF])
        );
        assert_eq!(
            expand_default("FF...FF07", 4),
            Some(vec![0xFF, 0xFF, 0xFF, 0x07])
        );
        assert_eq!(expand_default("00...00", 2), Some(vec![0, 0]));
        assert_eq!(expand_default("0A", 1), Some(vec![0x0A]));
        assert_eq!(
            expand_default("*FFFF00", 5),
            Some(vec![0xFF, 0xFF, 0, 0xFF, 0xFF])
        );
        assert_eq!(
            expand_default("FF...FF0000000001FFFF", 10),
            Some(
                hex::decode("FFFF0000000001FFFF")
                    .map(|v| [vec![0xFF], v].concat())
                    .unwrap()
            )
        );
        assert_eq!(expand_default("", 3), None);
        assert_eq!(expand_default("FF..FF", 2), Some(vec![0xFF, 0xFF]));
    }

    #[test]
    fn every_template_notation_is_valid() {
        for t in ALL {
            for f in t.files {
                if !f.default.is_empty() {
                    assert!(
                        expand_default(f.default, 40).is_some(),
                        "{} {}",
                        t.oid,
                        f.field
                    );
                }
            }
            assert!(by_oid(t.oid).is_some());
        }
        assert_eq!(USIM.file_for_tag(3).map(|f| f.1.field), Some("ef-imsi"));
        assert_eq!(TELECOM.file_for_tag(36).map(|f| f.1.field), Some("df-mmss"));
        assert_eq!(CSIM.file_for_tag(17).map(|f| f.1.fid), Some(Some(0x6F2F)));
        assert_eq!(
            OPT_CSIM.file_for_tag(57).map(|f| f.1.fid),
            Some(Some(0x6F81))
        );
        assert_eq!(
            OPT_USIM.file_for_tag(60).map(|f| f.1.fid),
            Some(Some(0x6FDB))
        );
        assert_eq!(DF_5GS.file_for_tag(12).map(|f| f.1.fid), Some(Some(0x4F0A)));
    }
}
