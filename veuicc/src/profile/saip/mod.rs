//! Unprotected SAIP profile packages (TCA "eUICC Profile Package: Interoperable Format",
//! PEDefinitions v3.3.1): a concatenation of DER Profile Elements, header first, End last.
//!
//! [`parse_package`] decodes the PEs a UICC needs — header, file system (templates, see
//! [`templates`], and GenericFileManagement), PIN/PUK codes and AKA parameters — and builds the
//! [`FileSystem`]. PEs the UICC side does not interpret but that an SGP.22 platform handles
//! elsewhere (securityDomain, rfm, cdmaParameter) are recorded by name only. Any other PE marked
//! `mandated` is refused; unknown, non-mandated PEs and unknown trailing components are skipped
//! (EXTENSIBILITY IMPLIED).

pub mod build;
pub mod fcp;
pub mod templates;

use rsp::tlv::{Tag, TlvError, TlvIter};

pub use build::Naa;
use build::{context_tag_number, Builder};
use fcp::{children, oid_to_string, path_fids, uint};

use crate::profile::secret::Secret;
use crate::uicc::fs::{FileSystem, FsError, NodeId};

/// Why a package was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SaipError {
    #[error("malformed TLV in {ctx}: {source}")]
    Malformed {
        ctx: &'static str,
        #[source]
        source: TlvError,
    },
    #[error("{ctx}: {msg}")]
    Invalid {
        ctx: &'static str,
        msg: &'static str,
    },
    #[error("the package does not start with a ProfileHeader PE")]
    MissingHeader,
    #[error("the package has no End PE")]
    MissingEnd,
    #[error("the header ICCID has {0} bytes, expected 10")]
    IccidLength(usize),
    #[error("mandated PE {name} (tag {tag}) is not supported")]
    UnsupportedMandatedPe { name: String, tag: Tag },
    #[error("{pe} PE uses template {oid}, which is not supported")]
    UnsupportedTemplate { pe: &'static str, oid: String },
    #[error("path {} does not exist", fmt_path(path))]
    PathNotFound { path: Vec<u16> },
    #[error("{ctx}: fillFileContent runs past the end of the file")]
    ContentTooLong { ctx: &'static str },
    #[error("file system: {0}")]
    Fs(#[from] FsError),
}

impl SaipError {
    pub(crate) fn invalid(ctx: &'static str, msg: &'static str) -> SaipError {
        SaipError::Invalid { ctx, msg }
    }
}

fn fmt_path(p: &[u16]) -> String {
    if p.is_empty() {
        return "MF".to_string();
    }
    p.iter()
        .map(|f| format!("{f:04X}"))
        .collect::<Vec<_>>()
        .join("/")
}

/// Names of the `ServicesList` flags, by context tag number (PEDefinitions `ServicesList`).
const SERVICE_NAMES: &[&str] = &[
    "contactless",
    "usim",
    "isim",
    "csim",
    "milenage",
    "tuak128",
    "cave",
    "gba-usim",
    "gba-isim",
    "mbms",
    "eap",
    "javacard",
    "multos",
    "multiple-usim",
    "multiple-isim",
    "multiple-csim",
    "tuak256",
    "usim-test-algorithm",
    "ber-tlv",
    "dfLink",
    "cat-tp",
    "get-identity",
    "profile-a-x25519",
    "profile-b-p256",
    "suciCalculatorApi",
    "dns-resolution",
    "scp11ac",
    "scp11c-authorization-mechanism",
    "s16mode",
    "eaka",
];

/// The ProfileHeader PE.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProfileHeader {
    pub major_version: u8,
    pub minor_version: u8,
    /// Free text (e.g. "GSMA Generic eUICC Test Profile"), not the SGP.22 profile class;
    /// empty when the header has none.
    pub profile_type: String,
    /// ICCID in reading order (first digit in the high nibble, F filler).
    pub iccid: [u8; 10],
    pub pol: Option<Vec<u8>>,
    /// `eUICC-Mandatory-services` flags present, by name (unknown ones as `service-N`).
    pub mandatory_services: Vec<String>,
    /// `eUICC-Mandatory-GFSTEList`: template OIDs, dotted.
    pub mandatory_gfste: Vec<String>,
}

/// A PIN of a pinCodes PE and the DF it belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PinDefinition {
    /// The DF context the PE applied to (MF for global PINs, an ADF/DF for local ones).
    pub context: NodeId,
    pub key_ref: u8,
    /// 8 bytes, FF-padded.
    pub value: Secret,
    pub puk_ref: Option<u8>,
    /// SAIP pinAttributes (DEFAULT 7). Read here as b1 = enabled, b2 = change allowed,
    /// b3 = disable allowed — see [`PinDefinition::enabled`].
    pub attributes: u8,
    pub max_attempts: u8,
    pub retries_left: u8,
}

impl PinDefinition {
    /// Whether the PIN starts enabled (verification required): bit b1 of pinAttributes.
    ///
    /// Inferred, not confirmed against the SAIP text: TS.48 codes PIN1 with 6 (a PIN that test
    /// devices must not be asked for, i.e. disabled but disable/enable-able), ADM1/ADM2 with 3
    /// (always enabled, never disabled) and PIN2 with 7 (v1) or 3 (v2+).
    pub fn enabled(&self) -> bool {
        self.attributes & 0x01 != 0
    }

    /// Whether DISABLE PIN is allowed (bit b3).
    pub fn disable_allowed(&self) -> bool {
        self.attributes & 0x04 != 0
    }
}

/// A pinCodes PE that shares the PINs of another DF (`filePath` alternative).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PinShare {
    pub context: NodeId,
    pub shares_with: NodeId,
}

/// A PUK of the pukCodes PE (PUKs are global).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PukDefinition {
    pub key_ref: u8,
    pub value: Secret,
    pub max_attempts: u8,
    pub retries_left: u8,
}

/// The AKA algorithm of an algoParameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AkaAlgorithm {
    Milenage,
    Tuak,
    /// 3GPP TS 34.108 §8.1.2 test algorithm (XOR).
    TestAlgorithm,
    Other(u32),
}

impl AkaAlgorithm {
    /// The PEDefinitions name (`usim-test-algorithm` etc.).
    pub fn name(self) -> String {
        match self {
            AkaAlgorithm::Milenage => "milenage".into(),
            AkaAlgorithm::Tuak => "tuak".into(),
            AkaAlgorithm::TestAlgorithm => "usim-test-algorithm".into(),
            AkaAlgorithm::Other(n) => format!("algorithm-{n}"),
        }
    }
}

/// `algoConfiguration` of an akaParameter PE.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AkaConfig {
    Algorithm {
        algorithm: AkaAlgorithm,
        options: u8,
        k: Secret,
        /// OPc for Milenage, TOPc for TUAK; ignored by the test algorithm.
        opc: Secret,
        /// Milenage r1..r5 (DEFAULT 40 00 20 40 60).
        rotation: Vec<u8>,
        /// Milenage c1..c5 (DEFAULT 0…0, 0…01, 0…02, 0…04, 0…08).
        xoring: Secret,
        auth_counter_max: Option<Vec<u8>>,
        number_of_keccak: u8,
    },
    /// Reuse the credentials of another NAA.
    Mapping { options: u8, source_aid: Vec<u8> },
}

/// An akaParameter PE and the NAA it applies to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AkaParameters {
    /// The NAA of the preceding usim/isim PE.
    pub naa: Option<Naa>,
    pub adf: Option<NodeId>,
    pub aid: Option<Vec<u8>>,
    pub config: AkaConfig,
    pub sqn_options: u8,
    pub sqn_delta: Vec<u8>,
    pub sqn_age_limit: Vec<u8>,
    pub sqn_init: Vec<Vec<u8>>,
}

impl AkaParameters {
    /// The algorithm, when given directly.
    pub fn algorithm(&self) -> Option<AkaAlgorithm> {
        match &self.config {
            AkaConfig::Algorithm { algorithm, .. } => Some(*algorithm),
            AkaConfig::Mapping { .. } => None,
        }
    }
}

/// A decoded profile package.
#[derive(Debug, Clone)]
pub struct ProfilePackage {
    pub header: ProfileHeader,
    /// PE type names in package order (`header`, `mf`, `pukCodes`, …, `end`).
    pub pe_names: Vec<String>,
    /// The built file system.
    pub fs: FileSystem,
    pub pins: Vec<PinDefinition>,
    pub pin_shares: Vec<PinShare>,
    pub puks: Vec<PukDefinition>,
    pub aka: Vec<AkaParameters>,
    pub usim_aid: Option<Vec<u8>>,
    pub isim_aid: Option<Vec<u8>>,
    pub csim_aid: Option<Vec<u8>>,
}

impl ProfilePackage {
    /// The ICCID as in EF.ICCID and SGP.22 `Iccid` (nibble-swapped, TS 102 221 §13.2).
    pub fn iccid_swapped(&self) -> [u8; 10] {
        self.header.iccid.map(|b| b.rotate_left(4))
    }

    /// The ICCID digits (filler F dropped).
    pub fn iccid_digits(&self) -> String {
        let mut s = String::with_capacity(20);
        for b in self.header.iccid {
            for n in [b >> 4, b & 0x0F] {
                if n <= 9 {
                    s.push(char::from(b'0' + n));
                }
            }
        }
        s
    }

    /// The AKA parameters of the NAA with this AID.
    pub fn aka_for(&self, aid: &[u8]) -> Option<&AkaParameters> {
        self.aka.iter().find(|a| a.aid.as_deref() == Some(aid))
    }
}

/// PE name by its CHOICE tag (PEDefinitions `ProfileElement`, automatic tags).
fn pe_name(tag: Tag) -> Option<&'static str> {
    Some(match tag.0 {
        0xA0 => "header",
        0xA1 => "genericFileManagement",
        0xA2 => "pinCodes",
        0xA3 => "pukCodes",
        0xA4 => "akaParameter",
        0xA5 => "cdmaParameter",
        0xA6 => "securityDomain",
        0xA7 => "rfm",
        0xA8 => "application",
        0xA9 => "nonStandard",
        0xAA => "end",
        0xAB => "rfu1",
        0xAC => "rfu2",
        0xAD => "rfu3",
        0xAE => "rfu4",
        0xAF => "rfu5",
        0xB0 => "mf",
        0xB1 => "cd",
        0xB2 => "telecom",
        0xB3 => "usim",
        0xB4 => "opt-usim",
        0xB5 => "isim",
        0xB6 => "opt-isim",
        0xB7 => "phonebook",
        0xB8 => "gsm-access",
        0xB9 => "csim",
        0xBA => "opt-csim",
        0xBB => "eap",
        0xBC => "df-5gs",
        0xBD => "df-saip",
        0xBE => "df-snpn",
        0xBF1F => "df-5gprose",
        0xBF20 => "iot",
        0xBF21 => "opt-iot",
        _ => return None,
    })
}

/// Whether a PE's `PEHeader` (its first component, `A0`) carries `mandated` (`80`).
fn is_mandated(value: &[u8]) -> bool {
    TlvIter::new(value)
        .next()
        .and_then(Result::ok)
        .filter(|t| t.tag.0 == 0xA0)
        .is_some_and(|h| TlvIter::new(h.value).any(|c| c.is_ok_and(|c| c.tag.0 == 0x80)))
}

fn u8_of(v: &[u8], ctx: &'static str) -> Result<u8, SaipError> {
    u8::try_from(uint(v, ctx)?).map_err(|_| SaipError::invalid(ctx, "value above 255"))
}

/// Parses an unprotected profile package.
pub fn parse_package(bytes: &[u8]) -> Result<ProfilePackage, SaipError> {
    let mut iter = TlvIter::new(bytes);
    let first = match iter.next() {
        None => return Err(SaipError::MissingHeader),
        Some(r) => r.map_err(|e| SaipError::Malformed {
            ctx: "ProfileElement",
            source: e,
        })?,
    };
    if first.tag.0 != 0xA0 {
        return Err(SaipError::MissingHeader);
    }
    let header = parse_header(first.value)?;
    let mut pe_names = vec!["header".to_string()];
    let mut b = Builder::new();
    let mut pins = Vec::new();
    let mut pin_shares = Vec::new();
    let mut puks = Vec::new();
    let mut aka = Vec::new();
    let (mut usim_aid, mut isim_aid, mut csim_aid) = (None, None, None);
    let mut saw_mf = false;
    let mut ended = false;
    for pe in iter {
        let pe = pe.map_err(|e| SaipError::Malformed {
            ctx: "ProfileElement",
            source: e,
        })?;
        let Some(name) = pe_name(pe.tag) else {
            if is_mandated(pe.value) {
                return Err(SaipError::UnsupportedMandatedPe {
                    name: "unknown".into(),
                    tag: pe.tag,
                });
            }
            tracing::debug!(tag = %pe.tag, "skipping unknown non-mandated PE");
            continue;
        };
        match name {
            "header" => return Err(SaipError::invalid("header", "second ProfileHeader")),
            "end" => {
                pe_names.push(name.into());
                ended = true;
                break;
            }
            "mf" | "telecom" | "usim" | "opt-usim" | "isim" | "opt-isim" | "gsm-access"
            | "csim" | "opt-csim" | "df-5gs" | "df-saip" => {
                if name != "mf" && !saw_mf {
                    return Err(SaipError::invalid(name, "file-system PE before the mf PE"));
                }
                saw_mf = true;
                b.template_pe(name, pe.value)?;
                let aid = || {
                    b.fs.node(b.current_df)
                        .and_then(|n| n.aid())
                        .map(<[u8]>::to_vec)
                };
                match name {
                    "usim" if usim_aid.is_none() => usim_aid = aid(),
                    "isim" if isim_aid.is_none() => isim_aid = aid(),
                    "csim" if csim_aid.is_none() => csim_aid = aid(),
                    _ => {}
                }
            }
            "genericFileManagement" => b.gfm(pe.value)?,
            "pinCodes" => parse_pins(pe.value, &b, &mut pins, &mut pin_shares)?,
            "pukCodes" => parse_puks(pe.value, &mut puks)?,
            "akaParameter" => aka.push(parse_aka(pe.value, &b)?),
            // Handled by the SGP.22 platform (ISD-P content, RFM, CAVE), not by the UICC model.
            "cdmaParameter" | "securityDomain" | "rfm" => {}
            _ => {
                if is_mandated(pe.value) {
                    return Err(SaipError::UnsupportedMandatedPe {
                        name: name.into(),
                        tag: pe.tag,
                    });
                }
                tracing::debug!(pe = name, "skipping unsupported non-mandated PE");
            }
        }
        pe_names.push(name.into());
    }
    if !ended {
        return Err(SaipError::MissingEnd);
    }
    if !saw_mf {
        return Err(SaipError::invalid("package", "no mf PE"));
    }
    let fs = b.finish()?;
    Ok(ProfilePackage {
        header,
        pe_names,
        fs,
        pins,
        pin_shares,
        puks,
        aka,
        usim_aid,
        isim_aid,
        csim_aid,
    })
}

fn parse_header(value: &[u8]) -> Result<ProfileHeader, SaipError> {
    const CTX: &str = "ProfileHeader";
    let (mut major, mut minor, mut iccid) = (None, None, None);
    let mut h = ProfileHeader {
        major_version: 0,
        minor_version: 0,
        profile_type: String::new(),
        iccid: [0; 10],
        pol: None,
        mandatory_services: Vec::new(),
        mandatory_gfste: Vec::new(),
    };
    for t in children(value, CTX)? {
        match t.tag.0 {
            0x80 => major = Some(u8_of(t.value, "major-version")?),
            0x81 => minor = Some(u8_of(t.value, "minor-version")?),
            0x82 => {
                let s = std::str::from_utf8(t.value)
                    .map_err(|_| SaipError::invalid("profileType", "not UTF-8"))?;
                h.profile_type = s.to_string();
            }
            0x83 => {
                let a: [u8; 10] = t
                    .value
                    .try_into()
                    .map_err(|_| SaipError::IccidLength(t.value.len()))?;
                iccid = Some(a);
            }
            0x84 => h.pol = Some(t.value.to_vec()),
            0xA5 => {
                for s in children(t.value, "eUICC-Mandatory-services")? {
                    let n = context_tag_number(s.tag).unwrap_or(u32::MAX);
                    let name = usize::try_from(n)
                        .ok()
                        .and_then(|i| SERVICE_NAMES.get(i))
                        .map_or_else(|| format!("service-{n}"), |s| (*s).to_string());
                    h.mandatory_services.push(name);
                }
            }
            0xA6 => {
                for o in children(t.value, "eUICC-Mandatory-GFSTEList")? {
                    if o.tag.0 != 0x06 {
                        return Err(SaipError::invalid(CTX, "GFSTE list entry is not an OID"));
                    }
                    h.mandatory_gfste.push(oid_to_string(o.value)?);
                }
            }
            _ => {}
        }
    }
    h.major_version = major.ok_or(SaipError::invalid(CTX, "major-version missing"))?;
    h.minor_version = minor.ok_or(SaipError::invalid(CTX, "minor-version missing"))?;
    h.iccid = iccid.ok_or(SaipError::invalid(CTX, "iccid missing"))?;
    Ok(h)
}

/// Splits `maxNumOfAttemps-retryNumLeft` (high nibble max, low nibble left).
fn tries(v: u8) -> (u8, u8) {
    (v >> 4, (v & 0x0F).min(v >> 4))
}

fn secret8(v: &[u8], ctx: &'static str) -> Result<Secret, SaipError> {
    if v.len() != 8 {
        return Err(SaipError::invalid(ctx, "value must be 8 bytes"));
    }
    Ok(Secret::from(v))
}

fn parse_pins(
    value: &[u8],
    b: &Builder,
    pins: &mut Vec<PinDefinition>,
    shares: &mut Vec<PinShare>,
) -> Result<(), SaipError> {
    const CTX: &str = "pinCodes";
    let choice = children(value, CTX)?
        .into_iter()
        .find(|t| t.tag.0 == 0xA1)
        .ok_or(SaipError::invalid(CTX, "pinCodes missing"))?;
    let alt = children(choice.value, CTX)?
        .into_iter()
        .next()
        .ok_or(SaipError::invalid(CTX, "empty pinCodes choice"))?;
    match alt.tag.0 {
        0xA0 => {
            for cfg in children(alt.value, CTX)? {
                let (mut kr, mut val, mut puk, mut attr, mut tr) = (None, None, None, 7u8, 0x33u8);
                for f in children(cfg.value, "PINConfiguration")? {
                    match f.tag.0 {
                        0x80 => kr = Some(u8_of(f.value, "keyReference")?),
                        0x81 => val = Some(secret8(f.value, "pinValue")?),
                        0x82 => puk = Some(u8_of(f.value, "unblockingPINReference")?),
                        0x83 => attr = u8_of(f.value, "pinAttributes")?,
                        0x84 => tr = u8_of(f.value, "maxNumOfAttemps-retryNumLeft")?,
                        _ => {}
                    }
                }
                let (max_attempts, retries_left) = tries(tr);
                pins.push(PinDefinition {
                    context: b.current_df,
                    key_ref: kr.ok_or(SaipError::invalid(CTX, "keyReference missing"))?,
                    value: val.ok_or(SaipError::invalid(CTX, "pinValue missing"))?,
                    puk_ref: puk,
                    attributes: attr,
                    max_attempts,
                    retries_left,
                });
            }
        }
        0x81 => {
            let path = path_fids(alt.value, "pinCodes filePath")?;
            let target =
                b.fs.resolve_path(NodeId::MF, &path)
                    .ok_or_else(|| SaipError::PathNotFound { path: path.clone() })?;
            shares.push(PinShare {
                context: b.current_df,
                shares_with: target,
            });
        }
        _ => return Err(SaipError::invalid(CTX, "unknown pinCodes alternative")),
    }
    Ok(())
}

fn parse_puks(value: &[u8], puks: &mut Vec<PukDefinition>) -> Result<(), SaipError> {
    const CTX: &str = "pukCodes";
    let list = children(value, CTX)?
        .into_iter()
        .find(|t| t.tag.0 == 0xA1)
        .ok_or(SaipError::invalid(CTX, "pukCodes missing"))?;
    for cfg in children(list.value, CTX)? {
        let (mut kr, mut val, mut tr) = (None, None, 0xAAu8);
        for f in children(cfg.value, "PUKConfiguration")? {
            match f.tag.0 {
                0x80 => kr = Some(u8_of(f.value, "keyReference")?),
                0x81 => val = Some(secret8(f.value, "pukValue")?),
                0x82 => tr = u8_of(f.value, "maxNumOfAttemps-retryNumLeft")?,
                _ => {}
            }
        }
        let (max_attempts, retries_left) = tries(tr);
        puks.push(PukDefinition {
            key_ref: kr.ok_or(SaipError::invalid(CTX, "keyReference missing"))?,
            value: val.ok_or(SaipError::invalid(CTX, "pukValue missing"))?,
            max_attempts,
            retries_left,
        });
    }
    Ok(())
}

const DEFAULT_ROTATION: [u8; 5] = [0x40, 0x00, 0x20, 0x40, 0x60];

fn default_xoring() -> Vec<u8> {
    let mut c = vec![0u8; 80];
    for (i, v) in [(31usize, 1u8), (47, 2), (63, 4), (79, 8)] {
        if let Some(b) = c.get_mut(i) {
            *b = v;
        }
    }
    c
}

fn parse_aka(value: &[u8], b: &Builder) -> Result<AkaParameters, SaipError> {
    const CTX: &str = "akaParameter";
    let mut config = None;
    let mut p = AkaParameters {
        naa: b.last_naa.map(|n| n.0),
        adf: b.last_naa.map(|n| n.1),
        aid: b
            .last_naa
            .and_then(|n| b.fs.node(n.1))
            .and_then(|n| n.aid())
            .map(<[u8]>::to_vec),
        config: AkaConfig::Mapping {
            options: 0,
            source_aid: Vec::new(),
        },
        sqn_options: 0x02,
        sqn_delta: vec![0, 0, 0x10, 0, 0, 0],
        sqn_age_limit: vec![0, 0, 0x10, 0, 0, 0],
        sqn_init: Vec::new(),
    };
    for t in children(value, CTX)? {
        match t.tag.0 {
            0xA1 => {
                let alt = children(t.value, CTX)?
                    .into_iter()
                    .next()
                    .ok_or(SaipError::invalid(CTX, "empty algoConfiguration"))?;
                config = Some(match alt.tag.0 {
                    0xA0 => {
                        let (mut options, mut source) = (0u8, Vec::new());
                        for f in children(alt.value, "mappingParameter")? {
                            match (f.tag.0, f.value) {
                                (0x80, [o]) => options = *o,
                                (0x81, v) => source = v.to_vec(),
                                _ => {}
                            }
                        }
                        AkaConfig::Mapping {
                            options,
                            source_aid: source,
                        }
                    }
                    0xA1 => parse_algo(alt.value)?,
                    _ => return Err(SaipError::invalid(CTX, "unknown algoConfiguration")),
                });
            }
            0x82 => match t.value {
                [o] => p.sqn_options = *o,
                _ => return Err(SaipError::invalid(CTX, "sqnOptions must be 1 byte")),
            },
            0x83 => p.sqn_delta = t.value.to_vec(),
            0x84 => p.sqn_age_limit = t.value.to_vec(),
            0xA5 => {
                p.sqn_init = children(t.value, "sqnInit")?
                    .into_iter()
                    .map(|s| s.value.to_vec())
                    .collect()
            }
            _ => {}
        }
    }
    p.config = config.ok_or(SaipError::invalid(CTX, "algoConfiguration missing"))?;
    Ok(p)
}

fn parse_algo(value: &[u8]) -> Result<AkaConfig, SaipError> {
    const CTX: &str = "algoParameter";
    let (mut id, mut options, mut k, mut opc) = (None, None, None, None);
    let mut rotation = DEFAULT_ROTATION.to_vec();
    let mut xoring = default_xoring();
    let mut counter = None;
    let mut keccak = 1u8;
    for f in children(value, CTX)? {
        match f.tag.0 {
            0x80 => id = Some(uint(f.value, "algorithmID")?),
            0x81 => match f.value {
                [o] => options = Some(*o),
                _ => return Err(SaipError::invalid(CTX, "algorithmOptions must be 1 byte")),
            },
            0x82 => k = Some(Secret::from(f.value)),
            0x83 => opc = Some(Secret::from(f.value)),
            0x84 => rotation = f.value.to_vec(),
            0x85 => xoring = f.value.to_vec(),
            0x86 => counter = Some(f.value.to_vec()),
            0x87 => keccak = u8_of(f.value, "numberOfKeccak")?,
            _ => {}
        }
    }
    let algorithm = match id.ok_or(SaipError::invalid(CTX, "algorithmID missing"))? {
        1 => AkaAlgorithm::Milenage,
        2 => AkaAlgorithm::Tuak,
        3 => AkaAlgorithm::TestAlgorithm,
        n => AkaAlgorithm::Other(n),
    };
    Ok(AkaConfig::Algorithm {
        algorithm,
        options: options.ok_or(SaipError::invalid(CTX, "algorithmOptions missing"))?,
        k: k.ok_or(SaipError::invalid(CTX, "key missing"))?,
        opc: opc.ok_or(SaipError::invalid(CTX, "opc missing"))?,
        rotation,
        xoring: Secret::new(xoring),
        auth_counter_max: counter,
        number_of_keccak: keccak,
    })
}

#[cfg(test)]
pub(crate) mod tests;
