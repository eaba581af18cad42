//! Test fixtures: an SM-DP+ on a temporary store with a movable clock and a deterministic
//! provider, and a minimal eUICC built from `rsp` types that performs the eUICC's side of the
//! download (signing, verifying the SM-DP+'s signatures, opening the BPP).

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha20Rng;
use rasn::types::{ObjectIdentifier, OctetString};
use rsp::bsp::{derive_session_keys, segments, BspDecoder};
use rsp::crypto::deterministic::Deterministic;
use rsp::crypto::{CryptoProvider, EcPrivateKey};
use rsp::es10::*;
use rsp::es9::{
    AuthenticateClientRequest, AuthenticateClientResponse, Base64, GetBoundProfilePackageRequest,
    HexBytes, InitiateAuthenticationRequest, InitiateAuthenticationResponse,
};
use rsp::keys::EcKey;
use rsp::pki;
use rsp::tlv;
use testbeds::identity::{mint_ci, SmdpIdentity};
use testbeds::smdp::{Clock, Smdp, SmdpConfig};
use testbeds::store::{ProfileClassKind, ProfileMeta, Store};

pub const ADDRESS: &str = "smdp.test:8443";

/// Where the shared test data is (`VEUICC_TESTDATA` or `../shared/testdata` from the workspace).
pub fn testdata() -> Option<PathBuf> {
    let dir = std::env::var_os("VEUICC_TESTDATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/testdata"));
    dir.join("ts48").is_dir().then_some(dir)
}

/// One TS.48 package (skips the test with a message when the test data is absent).
pub fn ts48(name: &str) -> Option<Vec<u8>> {
    let Some(dir) = testdata() else {
        eprintln!("SKIPPED: shared test data not found (set VEUICC_TESTDATA)");
        return None;
    };
    Some(std::fs::read(dir.join("ts48").join(name)).unwrap())
}

pub const PKG_A: &str = "TS48V1-A-UNIQUE.der";
pub const PKG_B: &str = "TS48V1-B-UNIQUE.der";
pub const ICCID_A: &str = "8949449999999990023";
pub const ICCID_B: &str = "8949449999999990031";

/// A clock the test moves forward.
#[derive(Clone)]
pub struct TestClock {
    base: SystemTime,
    offset: Arc<AtomicU64>,
}

impl TestClock {
    pub fn new() -> Self {
        Self {
            base: SystemTime::now(),
            offset: Arc::new(AtomicU64::new(0)),
        }
    }
    pub fn advance(&self, d: Duration) {
        self.offset.fetch_add(d.as_secs(), Ordering::SeqCst);
    }
    pub fn now(&self) -> SystemTime {
        self.base + Duration::from_secs(self.offset.load(Ordering::SeqCst))
    }
    pub fn clock(&self) -> Clock {
        let c = self.clone();
        Arc::new(move || c.now())
    }
}

pub struct Fixture {
    pub smdp: Arc<Smdp>,
    pub ci_key: EcKey,
    pub ci_cert: Vec<u8>,
    pub clock: TestClock,
    pub provider: Arc<dyn CryptoProvider>,
}

pub fn meta(profile_type: &str) -> ProfileMeta {
    ProfileMeta {
        service_provider_name: "GSMA_TEST".into(),
        profile_name: "TS.48 test profile".into(),
        class: ProfileClassKind::Operational,
        profile_type: profile_type.into(),
    }
}

impl Fixture {
    /// An SM-DP+ under a fresh CI, on a temporary store, with TS.48 A and B added as type
    /// `ts48` (None when the test data is absent).
    pub fn new() -> Option<Fixture> {
        Self::with_store(Store::temporary().unwrap())
    }

    pub fn with_store(store: Store) -> Option<Fixture> {
        let a = ts48(PKG_A)?;
        let b = ts48(PKG_B)?;
        let provider: Arc<dyn CryptoProvider> = Arc::new(Deterministic::new([7; 32]));
        let clock = TestClock::new();
        let (ci_key, ci_cert) = mint_ci(&*provider, clock.now()).unwrap();
        let identity =
            SmdpIdentity::under_ci(&ci_key, &ci_cert, ADDRESS, &*provider, clock.now()).unwrap();
        let smdp = Smdp::new(
            identity,
            store,
            provider.clone(),
            clock.clock(),
            SmdpConfig::default(),
        )
        .unwrap();
        smdp.add_profile(a, meta("ts48")).unwrap();
        smdp.add_profile(b, meta("ts48")).unwrap();
        Some(Fixture {
            smdp: Arc::new(smdp),
            ci_key,
            ci_cert,
            clock,
            provider,
        })
    }

    /// An eUICC minted under this SM-DP+'s CI.
    pub fn euicc(&self, eid_prefix30: &str) -> TestEuicc {
        TestEuicc::under_ci(&self.ci_key, &self.ci_cert, eid_prefix30, self.clock.now())
    }
}

/// What the eUICC keeps across the download.
pub struct TestEuicc {
    pub eid: [u8; 16],
    pub key: EcKey,
    pub cert: Vec<u8>,
    pub eum_cert: Vec<u8>,
    pub ci_cert: Vec<u8>,
    pub provider: Arc<dyn CryptoProvider>,
    pub challenge: [u8; 16],
    pub euicc_signature1: Vec<u8>,
    pub otsk: Option<EcPrivateKey>,
    pub otpk: Option<[u8; 65]>,
}

pub fn os(v: &[u8]) -> OctetString {
    OctetString::from(v.to_vec())
}

impl TestEuicc {
    pub fn under_ci(ci_key: &EcKey, ci_cert: &[u8], eid_prefix30: &str, now: SystemTime) -> Self {
        let eid = pki::eid_with_check_digits(eid_prefix30).unwrap();
        let mut rng = ChaCha20Rng::from_seed([3; 32]);
        let (identity, _eum_key) = pki::mint_under_ci(
            ci_key,
            ci_cert,
            eid,
            &mut rng,
            now - Duration::from_secs(3600),
            pki::not_after_no_expiry(),
        )
        .unwrap();
        TestEuicc {
            eid,
            key: identity.euicc_key,
            cert: identity.euicc_cert,
            eum_cert: identity.eum_cert,
            ci_cert: identity.ci_cert,
            provider: Arc::new(Deterministic::new([9; 32])),
            challenge: [0x5A; 16],
            euicc_signature1: Vec::new(),
            otsk: None,
            otpk: None,
        }
    }

    pub fn eid_string(&self) -> String {
        hex::encode_upper(self.eid)
    }

    pub fn ci_ski(&self) -> Vec<u8> {
        pki::cert_ski(&self.ci_cert).unwrap()
    }

    pub fn info1(&self) -> Vec<u8> {
        encode(&EuiccInfo1 {
            svn: os(&[2, 2, 0]),
            euicc_ci_pkid_list_for_verification: vec![os(&self.ci_ski())],
            euicc_ci_pkid_list_for_signing: vec![os(&self.ci_ski())],
        })
    }

    pub fn initiate_request(&self, address: &str) -> InitiateAuthenticationRequest {
        InitiateAuthenticationRequest {
            euicc_challenge: Base64(self.challenge.to_vec()),
            euicc_info1: Base64(self.info1()),
            smdp_address: address.into(),
        }
    }

    fn info2(&self) -> EuiccInfo2 {
        EuiccInfo2 {
            profile_version: os(&[2, 3, 1]),
            svn: os(&[2, 2, 0]),
            euicc_firmware_ver: os(&[1, 0, 0]),
            ext_card_resource: os(&[0x81, 0x01, 0x00]),
            uicc_capability: NamedBits::from_bits(&[uicc_capability::USIM_SUPPORT]),
            ts102241_version: None,
            globalplatform_version: None,
            rsp_capability: NamedBits::from_bits(&[rsp_capability::ADDITIONAL_PROFILE]),
            euicc_ci_pkid_list_for_verification: vec![os(&self.ci_ski())],
            euicc_ci_pkid_list_for_signing: vec![os(&self.ci_ski())],
            euicc_category: None,
            forbidden_profile_policy_rules: None,
            pp_version: os(&[1, 0, 0]),
            sas_acreditation_number: "TEST".into(),
            certification_data_object: None,
        }
    }

    /// The eUICC's AuthenticateServer: checks what the eUICC checks, answers `BF38`.
    pub fn authenticate_server(
        &mut self,
        resp: &InitiateAuthenticationResponse,
        matching_id: Option<&str>,
    ) -> Vec<u8> {
        assert!(resp.header.is_success(), "{:?}", resp.header);
        let dpauth = resp.server_certificate.as_ref().unwrap().as_bytes();
        let signed1 = resp.server_signed1.as_ref().unwrap().as_bytes();
        let sig_tlv = resp.server_signature1.as_ref().unwrap().as_bytes();
        let sig = tlv::parse_tagged(sig_tlv, 0x5F37).unwrap().value;
        let dp_pk = pki::cert_public_key(dpauth).unwrap();
        assert!(
            self.provider.verify(&dp_pk, signed1, sig),
            "serverSignature1 must verify"
        );
        let s1: Verbatim<ServerSigned1> = Verbatim::from_der(signed1.to_vec()).unwrap();
        assert_eq!(s1.euicc_challenge.as_ref(), &self.challenge);
        assert_eq!(
            resp.euicc_ci_pkid_to_be_used.as_ref().unwrap().as_bytes(),
            tlv::tlv(0x04, &self.ci_ski()).as_slice()
        );
        let ctx = CtxParams1::CtxParamsForCommonAuthentication(CtxParamsForCommonAuthentication {
            matching_id: matching_id.map(str::to_owned),
            device_info: DeviceInfo {
                tac: os(&[0x35, 0x29, 0x06, 0x11]),
                device_capabilities: DeviceCapabilities::default(),
                imei: None,
            },
        });
        let signed = Verbatim::new(EuiccSigned1 {
            transaction_id: s1.transaction_id.clone(),
            server_address: s1.server_address.clone(),
            server_challenge: s1.server_challenge.clone(),
            euicc_info2: self.info2(),
            ctx_params1: RawCtxParams1::from_ctx_params(&ctx),
        });
        let sk = EcPrivateKey::from(&self.key);
        let signature = self.provider.sign(&sk, signed.as_bytes()).unwrap();
        self.euicc_signature1 = signature.to_vec();
        encode(&AuthenticateServerResponse::AuthenticateResponseOk(
            Box::new(AuthenticateResponseOk {
                euicc_signed1: signed,
                euicc_signature1: os(&signature),
                euicc_certificate: RawCertificate::new(self.cert.clone()).unwrap(),
                eum_certificate: RawCertificate::new(self.eum_cert.clone()).unwrap(),
            }),
        ))
    }

    /// The eUICC's PrepareDownload: verifies smdpSignature2 with CERT.DPpb, answers `BF21`.
    pub fn prepare_download(
        &mut self,
        resp: &AuthenticateClientResponse,
        confirmation_code: Option<&str>,
    ) -> Vec<u8> {
        assert!(resp.header.is_success(), "{:?}", resp.header);
        let dppb = resp.smdp_certificate.as_ref().unwrap().as_bytes();
        let signed2 = resp.smdp_signed2.as_ref().unwrap().as_bytes();
        let sig2 = tlv::parse_tagged(resp.smdp_signature2.as_ref().unwrap().as_bytes(), 0x5F37)
            .unwrap()
            .value
            .to_vec();
        let pb_pk = pki::cert_public_key(dppb).unwrap();
        let data = signed_data::with_signature_tlv(signed2, &self.euicc_signature1);
        assert!(
            self.provider.verify(&pb_pk, &data, &sig2),
            "smdpSignature2 must verify"
        );
        let s2: Verbatim<SmdpSigned2> = Verbatim::from_der(signed2.to_vec()).unwrap();
        // Reuse the one-time key when the SM-DP+ names it (retry), else a fresh one.
        let reuse = s2
            .bpp_euicc_otpk
            .as_ref()
            .is_some_and(|k| self.otpk.is_some_and(|mine| k.as_ref() == mine.as_slice()));
        if !reuse {
            let (sk, pk) = self.provider.generate_key().unwrap();
            self.otsk = Some(sk);
            self.otpk = Some(pk);
        }
        let tx = s2.transaction_id.clone();
        let hash_cc = confirmation_code.map(|cc| {
            let mut input = self.provider.sha256(cc.as_bytes()).to_vec();
            input.extend_from_slice(&tx);
            os(&self.provider.sha256(&input))
        });
        let signed = Verbatim::new(EuiccSigned2 {
            transaction_id: tx,
            euicc_otpk: os(&self.otpk.unwrap()),
            hash_cc,
        });
        let sk = EcPrivateKey::from(&self.key);
        let data = signed_data::with_signature_tlv(signed.as_bytes(), &sig2);
        let signature = self.provider.sign(&sk, &data).unwrap();
        encode(&PrepareDownloadResponse::DownloadResponseOk(
            PrepareDownloadResponseOk {
                euicc_signed2: signed,
                euicc_signature2: os(&signature),
            },
        ))
    }

    /// Opens a Bound Profile Package as the eUICC would: checks the InitialiseSecureChannel
    /// signature with CERT.DPpb, derives the keys, checks every MAC and decrypts. Returns the
    /// StoreMetadata (`BF25`) and the profile package.
    pub fn open_bpp(&self, bpp: &[u8], dppb_cert: &[u8]) -> (Vec<u8>, Vec<u8>) {
        let segs = segments(bpp).unwrap();
        let first = tlv::read_tlv(
            &segs[0][{
                let (_, tl) = tlv::read_tag(&segs[0]).unwrap();
                let (_, ll) = tlv::read_len(&segs[0][tl..]).unwrap();
                tl + ll
            }..],
        )
        .unwrap()
        .0;
        assert_eq!(first.tag.0, 0xBF23);
        let isc: InitialiseSecureChannelRequest = decode(first.raw).unwrap();
        let otpk = self.otpk.unwrap();
        let data = signed_data::initialise_secure_channel(first.raw, &otpk).unwrap();
        let pb_pk = pki::cert_public_key(dppb_cert).unwrap();
        assert!(
            self.provider.verify(&pb_pk, &data, &isc.smdp_sign),
            "smdpSign must verify"
        );
        assert_eq!(isc.remote_op_id, 1);
        let z = self
            .provider
            .ecdh(self.otsk.as_ref().unwrap(), &isc.smdp_otpk)
            .unwrap();
        let keys = derive_session_keys(
            &*self.provider,
            &z[..],
            &isc.control_ref_template.host_id,
            &self.eid,
        );
        let mut dec = BspDecoder::new(self.provider.clone(), &keys);
        let outer = tlv::parse_tagged(bpp, 0xBF36).unwrap();
        let mut metadata = Vec::new();
        let mut package = Vec::new();
        for section in outer.children().skip(1) {
            let section = section.unwrap();
            for seg in section.children() {
                let seg = seg.unwrap();
                let plain = dec.open(seg.raw).unwrap();
                match section.tag.0 {
                    0xA0 => assert_eq!(plain.as_slice(), &[0xBF, 0x24, 0x00]),
                    0xA1 => metadata.extend_from_slice(&plain),
                    0xA3 => package.extend_from_slice(&plain),
                    other => panic!("unexpected section {other:X}"),
                }
            }
        }
        (metadata, package)
    }

    fn sign(&self, data: &[u8]) -> [u8; 64] {
        self.provider
            .sign(&EcPrivateKey::from(&self.key), data)
            .unwrap()
    }

    /// A signed ProfileInstallationResult (`BF37`).
    pub fn pir(&self, tx: &[u8], iccid: &[u8], dp_oid: &str, ok: bool) -> Vec<u8> {
        let data = Verbatim::new(ProfileInstallationResultData {
            transaction_id: os(tx),
            notification_metadata: NotificationMetadata {
                seq_number: 1,
                profile_management_operation: notification_event::single(
                    notification_event::INSTALL,
                ),
                notification_address: ADDRESS.into(),
                iccid: Some(os(iccid)),
            },
            smdp_oid: Some(oid(dp_oid)),
            final_result: if ok {
                FinalResult::SuccessResult(SuccessResult {
                    aid: os(&hex::decode("A0000005591010FFFFFFFF8900001000").unwrap()),
                    sima_response: os(&[0x30, 0x07, 0xA0, 0x05, 0x30, 0x03, 0x80, 0x01, 0x00]),
                })
            } else {
                FinalResult::ErrorResult(ErrorResult {
                    bpp_command_id: bpp_command_id::LOAD_PROFILE_ELEMENTS,
                    error_reason: error_reason::PE_PROCESSING_ERROR,
                    sima_response: None,
                })
            },
        });
        let signature = self.sign(data.as_bytes());
        encode(&ProfileInstallationResult {
            profile_installation_result_data: data,
            euicc_sign_pir: os(&signature),
        })
    }

    /// A signed OtherSignedNotification (`30`).
    pub fn other_notification(&self, event: usize, iccid: &[u8], seq: i64) -> Vec<u8> {
        let meta = NotificationMetadata {
            seq_number: seq,
            profile_management_operation: notification_event::single(event),
            notification_address: ADDRESS.into(),
            iccid: Some(os(iccid)),
        };
        let signature = self.sign(&encode(&meta));
        encode(&OtherSignedNotification {
            tbs_other_notification: meta,
            euicc_notification_signature: os(&signature),
            euicc_certificate: RawCertificate::new(self.cert.clone()).unwrap(),
            eum_certificate: RawCertificate::new(self.eum_cert.clone()).unwrap(),
        })
    }

    /// A signed CancelSessionResponse (`BF41`).
    pub fn cancel(&self, tx: &[u8], dp_oid: &str, reason: i64) -> Vec<u8> {
        let signed = Verbatim::new(EuiccCancelSessionSigned {
            transaction_id: os(tx),
            smdp_oid: oid(dp_oid),
            reason,
        });
        let signature = self.sign(signed.as_bytes());
        encode(&CancelSessionResponse::CancelSessionResponseOk(
            CancelSessionResponseOk {
                euicc_cancel_session_signed: signed,
                euicc_cancel_session_signature: os(&signature),
            },
        ))
    }
}

pub fn oid(dotted: &str) -> ObjectIdentifier {
    let arcs: Vec<u32> = dotted.split('.').map(|a| a.parse().unwrap()).collect();
    ObjectIdentifier::new(arcs).unwrap()
}

/// The outcome of a download run up to getBoundProfilePackage.
pub struct Run {
    pub tx: HexBytes,
    pub auth: AuthenticateClientResponse,
    pub bpp: rsp::es9::GetBoundProfilePackageResponse,
}

/// initiateAuthentication + authenticateClient; panics unless both succeed.
pub fn authenticate(
    smdp: &Smdp,
    euicc: &mut TestEuicc,
    matching_id: Option<&str>,
) -> (HexBytes, AuthenticateClientResponse) {
    let init = smdp.initiate_authentication(&euicc.initiate_request(ADDRESS));
    let tx = init.transaction_id.clone().expect("transaction ID");
    let asr = euicc.authenticate_server(&init, matching_id);
    let auth = smdp.authenticate_client(&AuthenticateClientRequest {
        transaction_id: tx.clone(),
        authenticate_server_response: Base64(asr),
    });
    (tx, auth)
}

/// A whole download up to the BPP.
pub fn download(
    smdp: &Smdp,
    euicc: &mut TestEuicc,
    matching_id: Option<&str>,
    cc: Option<&str>,
) -> Run {
    let (tx, auth) = authenticate(smdp, euicc, matching_id);
    let pdr = euicc.prepare_download(&auth, cc);
    let bpp = smdp.get_bound_profile_package(&GetBoundProfilePackageRequest {
        transaction_id: tx.clone(),
        prepare_download_response: Base64(pdr),
    });
    Run { tx, auth, bpp }
}

/// The status code pair of a response header, or None on success.
pub fn code(h: &rsp::es9::ResponseHeader) -> Option<(String, String)> {
    h.function_execution_status
        .status_code_data
        .as_ref()
        .map(|d| (d.subject_code.clone(), d.reason_code.clone()))
}

/// Asserts `h` failed with `c`.
#[track_caller]
pub fn assert_code(h: &rsp::es9::ResponseHeader, c: rsp::es9::StatusCode) {
    assert!(!h.is_success(), "expected {c:?}, got success");
    let d = h
        .function_execution_status
        .status_code_data
        .as_ref()
        .unwrap();
    assert!(
        d.is(c),
        "expected {} / {}, got {} / {}: {:?}",
        c.subject_code,
        c.reason_code,
        d.subject_code,
        d.reason_code,
        d.message
    );
}
