#![allow(clippy::unwrap_used)]
//! Profile download on the card core, driven through `CardCore::handle` with STORE DATA APDUs
//! exactly as an LPA sends them (segmented BPP), against a compact test-only SM-DP+ built from
//! `rsp` primitives in this file: DPauth/DPpb minted under the card's own CI, real signatures,
//! ECKA, KDF and BSP.
//!
//! Test data: the TS.48 packages in `$VEUICC_TESTDATA` or `../../shared/testdata`; when missing
//! the tests print `SKIPPED` (or fail with `VEUICC_REQUIRE_TESTDATA=1`).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rand_chacha::rand_core::{Rng, SeedableRng};
use rand_chacha::ChaCha20Rng;
use rsp::bsp::{self, BppBuilder, BppParts, BspEncoder};
use rsp::crypto::awslc::AwsLc;
use rsp::crypto::deterministic::Deterministic;
use rsp::crypto::rustcrypto::RustCrypto;
use rsp::crypto::{CryptoProvider, EcPrivateKey};
use rsp::es10::{self, *};
use rsp::pki::{self, DpIdentity, Identity, TestCi};
use veuicc::card::CardCore;
use veuicc::euicc::records::{Event, NotificationRecord, ProfileRecord};
use veuicc::euicc::{Euicc, EuiccState};
use veuicc::isdr::storedata;
use veuicc::profile::saip::parse_package;
use veuicc::store::{MemStore, SledStore, Store, Tree};

// =============================================================================================
// Fixtures
// =============================================================================================

fn testdata() -> Option<PathBuf> {
    let dir = std::env::var_os("VEUICC_TESTDATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/testdata"));
    let ts48 = dir.join("ts48");
    if ts48.join("expected.json").is_file() {
        return Some(ts48);
    }
    assert!(
        std::env::var("VEUICC_REQUIRE_TESTDATA").as_deref() != Ok("1"),
        "testdata not found at {}",
        ts48.display()
    );
    println!("SKIPPED: testdata not found");
    None
}

const PACKAGE: &str = "TS48V2-SAIP2-1-BERTLV-UNIQUE.der";

fn package(name: &str) -> Option<Vec<u8>> {
    Some(std::fs::read(testdata()?.join(name)).unwrap())
}

fn not_before() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_700_000_000)
}

/// The card's identity, its CI (to mint SM-DP+ certificates under) and the SM-DP+.
struct Pki {
    identity: Identity,
    ci: TestCi,
    dp: DpIdentity,
}

fn pki() -> Pki {
    let mut rng = ChaCha20Rng::from_seed([3; 32]);
    let eid = pki::eid_with_check_digits("890490320000000000000000000042").unwrap();
    let (identity, ci) =
        pki::mint_test_pki(eid, &mut rng, not_before(), pki::not_after_no_expiry()).unwrap();
    let dp = pki::mint_dp_certs(
        &ci.ci_key,
        &ci.ci_cert,
        &mut rng,
        not_before(),
        pki::not_after_no_expiry(),
        None,
        "smdp.test",
    )
    .unwrap();
    Pki { identity, ci, dp }
}

fn sw(raw: &[u8]) -> u16 {
    u16::from_be_bytes([raw[raw.len() - 2], raw[raw.len() - 1]])
}

/// The card under test and its store.
struct Card {
    e: Euicc,
    store: Arc<dyn Store>,
}

impl Card {
    fn new(pki: &Pki, store: Arc<dyn Store>, provider: Arc<dyn CryptoProvider>) -> Card {
        let state = EuiccState::open(store.clone(), pki.identity.clone(), [9; 32])
            .unwrap()
            .with_provider(provider);
        let mut c = Card {
            e: Euicc::new(state),
            store,
        };
        c.select_isdr();
        c
    }

    fn mem(pki: &Pki) -> Card {
        Card::new(
            pki,
            Arc::new(MemStore::default()),
            Arc::new(RustCrypto::new()),
        )
    }

    fn select_isdr(&mut self) {
        let mut apdu = vec![0x00, 0xA4, 0x04, 0x00, 0x10];
        apdu.extend_from_slice(&veuicc::euicc::ISDR_AID);
        apdu.push(0x00);
        let r = self.e.handle(&apdu);
        assert_eq!(sw(&r), 0x9000);
    }

    /// Sends one ES10 command in STORE DATA blocks of 255 bytes (fetching long responses with
    /// GET RESPONSE); returns the response data and the final status word.
    fn es10(&mut self, command: &[u8]) -> (Vec<u8>, u16) {
        let blocks = storedata::split(command, 255);
        let n = blocks.len();
        let mut last = Vec::new();
        for (i, (p1, p2, data)) in blocks.into_iter().enumerate() {
            let mut apdu = vec![0x80, 0xE2, p1, p2, data.len() as u8];
            apdu.extend_from_slice(&data);
            last = self.e.handle(&apdu);
            if i + 1 < n {
                assert_eq!(last, vec![0x90, 0x00], "intermediate STORE DATA block");
            }
        }
        let mut data = last[..last.len() - 2].to_vec();
        let mut status = sw(&last);
        while status >> 8 == 0x61 {
            let r = self.e.handle(&[0x00, 0xC0, 0x00, 0x00, status as u8]);
            data.extend_from_slice(&r[..r.len() - 2]);
            status = sw(&r);
        }
        (data, status)
    }

    /// An ES10 command that must answer `9000` with data.
    fn call(&mut self, command: &[u8]) -> Vec<u8> {
        let (data, status) = self.es10(command);
        assert_eq!(status, 0x9000, "ES10 {}", hex::encode_upper(&command[..2]));
        data
    }

    fn challenge(&mut self) -> Vec<u8> {
        let r: GetEuiccChallengeResponse = es10::decode(&self.call(&[0xBF, 0x2E, 0x00])).unwrap();
        r.euicc_challenge.to_vec()
    }

    fn profiles(&mut self) -> Vec<ProfileInfo> {
        match es10::decode(&self.call(&[0xBF, 0x2D, 0x00])).unwrap() {
            ProfileInfoListResponse::ProfileInfoListOk(l) => l,
            other => panic!("{other:?}"),
        }
    }

    fn pending_notifications(&mut self) -> Vec<PendingNotification> {
        match es10::decode(&self.call(&[0xBF, 0x2B, 0x00])).unwrap() {
            RetrieveNotificationsListResponse::NotificationList(l) => l,
            other => panic!("{other:?}"),
        }
    }

    /// Everything a download may change: profile records, packages and notifications, as
    /// persisted and as mirrored in memory.
    fn snapshot(&self) -> Snapshot {
        Snapshot {
            profiles: self.e.state().profiles().cloned().collect(),
            notifications: self.e.state().notifications().cloned().collect(),
            stored_profiles: self.store.scan(Tree::Profiles, b"").unwrap(),
            stored_packages: self.store.scan(Tree::Packages, b"").unwrap(),
            stored_notifications: self.store.scan(Tree::Notifications, b"").unwrap().len(),
        }
    }
}

#[derive(Debug, PartialEq)]
struct Snapshot {
    profiles: Vec<ProfileRecord>,
    notifications: Vec<NotificationRecord>,
    stored_profiles: Vec<(Vec<u8>, Vec<u8>)>,
    stored_packages: Vec<(Vec<u8>, Vec<u8>)>,
    stored_notifications: usize,
}

// =============================================================================================
// A compact test-only SM-DP+
// =============================================================================================

struct Smdp {
    crypto: Arc<dyn CryptoProvider>,
    dp: DpIdentity,
    address: String,
    ci_pkid: Vec<u8>,
    rng: ChaCha20Rng,
}

/// How the SM-DP+ binds the package.
#[derive(Clone)]
struct BindOpts {
    /// Protect the profile with PPKs (an `A2` ReplaceSessionKeys section).
    replace_keys: bool,
    max_segment_len: usize,
    /// The ICCID to announce in StoreMetadata (default: the package's).
    iccid: Option<Vec<u8>>,
    class: es10::ProfileClass,
}

impl Default for BindOpts {
    fn default() -> Self {
        BindOpts {
            replace_keys: false,
            max_segment_len: bsp::MAX_SEGMENT_LEN,
            iccid: None,
            class: es10::ProfileClass::OPERATIONAL,
        }
    }
}

/// What the SM-DP+ keeps between ES9+ calls.
struct Transaction {
    tx_id: Vec<u8>,
    euicc_signature1: Vec<u8>,
}

impl Smdp {
    fn new(pki: &Pki) -> Smdp {
        Smdp {
            crypto: Arc::new(RustCrypto::new()),
            dp: pki.dp.clone(),
            address: "smdp.test".to_string(),
            ci_pkid: pki.identity.ci_ski(),
            rng: ChaCha20Rng::from_seed([42; 32]),
        }
    }

    fn random(&mut self, n: usize) -> Vec<u8> {
        let mut v = vec![0u8; n];
        self.rng.fill_bytes(&mut v);
        v
    }

    fn sign(&self, key: &rsp::keys::EcKey, msg: &[u8]) -> Vec<u8> {
        self.crypto
            .sign(&EcPrivateKey::from(key), msg)
            .unwrap()
            .to_vec()
    }

    fn ctx_params1() -> RawCtxParams1 {
        RawCtxParams1::from_ctx_params(&CtxParams1::CtxParamsForCommonAuthentication(
            CtxParamsForCommonAuthentication {
                matching_id: Some("MATCHING-ID-1".to_string()),
                device_info: DeviceInfo {
                    tac: vec![0x35, 0x29, 0x06, 0x11].into(),
                    device_capabilities: DeviceCapabilities::default(),
                    imei: None,
                },
            },
        ))
    }

    /// ES9+ InitiateAuthentication's output, as the LPA turns it into AuthenticateServer.
    fn authenticate_server(&mut self, euicc_challenge: &[u8]) -> AuthenticateServerRequest {
        let tx_id = self.random(16);
        let server_challenge = self.random(16);
        let signed1 = Verbatim::new(ServerSigned1 {
            transaction_id: tx_id.into(),
            euicc_challenge: euicc_challenge.to_vec().into(),
            server_address: self.address.clone(),
            server_challenge: server_challenge.into(),
        });
        let signature = self.sign(&self.dp.auth_key, signed1.as_bytes());
        AuthenticateServerRequest {
            server_signed1: signed1,
            server_signature1: signature.into(),
            euicc_ci_pkid_to_be_used: self.ci_pkid.clone().into(),
            server_certificate: RawCertificate::new(self.dp.auth_cert.clone()).unwrap(),
            ctx_params1: Smdp::ctx_params1(),
        }
    }

    /// ES9+ AuthenticateClient: checks the eUICC's answer and builds PrepareDownload.
    fn prepare_download(
        &self,
        identity: &Identity,
        ok: &AuthenticateResponseOk,
    ) -> (Transaction, PrepareDownloadRequest) {
        let euicc_pk = pki::cert_public_key(ok.euicc_certificate.as_bytes()).unwrap();
        assert!(
            self.crypto
                .verify(&euicc_pk, ok.euicc_signed1.as_bytes(), &ok.euicc_signature1),
            "euiccSignature1 verifies with CERT.EUICC"
        );
        assert_eq!(ok.euicc_certificate.as_bytes(), identity.euicc_cert);
        assert_eq!(ok.eum_certificate.as_bytes(), identity.eum_cert);
        assert!(ok.euicc_signed1.is_canonical(), "euiccSigned1 is DER");
        assert_eq!(
            ok.euicc_signed1.ctx_params1.as_bytes(),
            Smdp::ctx_params1().as_bytes(),
            "ctxParams1 copied verbatim"
        );
        let tx = Transaction {
            tx_id: ok.euicc_signed1.transaction_id.to_vec(),
            euicc_signature1: ok.euicc_signature1.to_vec(),
        };
        let req = self.prepare_request(&tx, &tx.tx_id, None);
        (tx, req)
    }

    fn prepare_request(
        &self,
        tx: &Transaction,
        tx_id: &[u8],
        bpp_euicc_otpk: Option<Vec<u8>>,
    ) -> PrepareDownloadRequest {
        let signed2 = Verbatim::new(SmdpSigned2 {
            transaction_id: tx_id.to_vec().into(),
            cc_required_flag: false,
            bpp_euicc_otpk: bpp_euicc_otpk.map(Into::into),
        });
        let signature = self.sign(
            &self.dp.pb_key,
            &signed_data::with_signature_tlv(signed2.as_bytes(), &tx.euicc_signature1),
        );
        PrepareDownloadRequest {
            smdp_signed2: signed2,
            smdp_signature2: signature.into(),
            hash_cc: None,
            smdp_certificate: RawCertificate::new(self.dp.pb_cert.clone()).unwrap(),
        }
    }

    /// ES9+ GetBoundProfilePackage: checks euiccSignature2, binds `package` to the eUICC's
    /// one-time key and returns the segments an LPA sends.
    fn bind(
        &self,
        identity: &Identity,
        tx: &Transaction,
        req: &PrepareDownloadRequest,
        ok: &PrepareDownloadResponseOk,
        package: &[u8],
        opts: &BindOpts,
    ) -> Vec<Vec<u8>> {
        let euicc_pk = pki::cert_public_key(&identity.euicc_cert).unwrap();
        assert!(
            self.crypto.verify(
                &euicc_pk,
                &ok.signed_data(&req.smdp_signature2),
                &ok.euicc_signature2
            ),
            "euiccSignature2 verifies with CERT.EUICC"
        );
        let euicc_otpk = ok.euicc_signed2.euicc_otpk.to_vec();
        let (otsk, otpk) = self.crypto.generate_key().unwrap();
        let shs = self.crypto.ecdh(&otsk, &euicc_otpk).unwrap();
        let host_id = b"veuicc-test-dp".to_vec();
        let keys = bsp::derive_session_keys(&*self.crypto, &shs[..], &host_id, &identity.eid);

        let mut isc = InitialiseSecureChannelRequest {
            remote_op_id: remote_op_id::INSTALL_BOUND_PROFILE_PACKAGE,
            transaction_id: tx.tx_id.clone().into(),
            control_ref_template: ControlRefTemplate {
                key_type: vec![control_ref_template::KEY_TYPE_AES].into(),
                key_len: vec![control_ref_template::KEY_LEN_16].into(),
                host_id: host_id.into(),
            },
            smdp_otpk: otpk.to_vec().into(),
            smdp_sign: vec![0u8; 64].into(),
        };
        isc.smdp_sign = self
            .sign(&self.dp.pb_key, &isc.signed_data(&euicc_otpk).unwrap())
            .into();

        let iccid = opts
            .iccid
            .clone()
            .unwrap_or_else(|| parse_package(package).unwrap().iccid_swapped().to_vec());
        let metadata = StoreMetadataRequest {
            iccid: iccid.into(),
            service_provider_name: "Test SPN".to_string(),
            profile_name: "TS.48 Test Profile".to_string(),
            icon_type: None,
            icon: None,
            profile_class: Some(opts.class),
            notification_configuration_info: Some(vec![NotificationConfigurationInformation {
                profile_management_operation: NamedBits::from_bits(&[
                    notification_event::ENABLE,
                    notification_event::DISABLE,
                    notification_event::DELETE,
                ]),
                notification_address: "notify.smdp.test".to_string(),
            }]),
            profile_owner: Some(OperatorId {
                mcc_mnc: vec![0x00, 0xF1, 0x10].into(),
                gid1: None,
                gid2: None,
            }),
            profile_policy_rules: None,
        };
        let configure = es10::encode(&ConfigureIsdpRequest::default());
        let store_metadata = es10::encode(&metadata);
        let ppk = bsp::SessionKeys {
            s_enc: [0x11; 16],
            s_mac: [0x22; 16],
            initial_mcv: [0x33; 16],
        };
        let rsk = bsp::encode_replace_session_keys(&ppk);
        let isc_der = es10::encode(&isc);
        let parts = BppParts {
            initialise_secure_channel: &isc_der,
            configure_isdp: &configure,
            store_metadata: &store_metadata,
            replace_session_keys: opts.replace_keys.then_some(&rsk[..]),
            profile_package: package,
        };
        let mut enc = BspEncoder::new(self.crypto.clone(), &keys);
        let bpp = BppBuilder::new()
            .max_segment_len(opts.max_segment_len)
            .build(&mut enc, &parts)
            .unwrap();
        es10::split_bound_profile_package(&bpp).unwrap()
    }
}

// =============================================================================================
// Flow helpers
// =============================================================================================

fn authenticate(card: &mut Card, req: &AuthenticateServerRequest) -> AuthenticateServerResponse {
    es10::decode(&card.call(&es10::encode(req))).unwrap()
}

fn authenticate_ok(card: &mut Card, smdp: &mut Smdp) -> AuthenticateResponseOk {
    let challenge = card.challenge();
    let req = smdp.authenticate_server(&challenge);
    match authenticate(card, &req) {
        AuthenticateServerResponse::AuthenticateResponseOk(ok) => *ok,
        other => panic!("AuthenticateServer failed: {other:?}"),
    }
}

fn authenticate_error(card: &mut Card, req: &AuthenticateServerRequest) -> i64 {
    match authenticate(card, req) {
        AuthenticateServerResponse::AuthenticateResponseError(e) => {
            assert_eq!(
                e.transaction_id[..],
                req.server_signed1.transaction_id[..],
                "the error names the transaction"
            );
            e.authenticate_error_code
        }
        other => panic!("AuthenticateServer accepted: {other:?}"),
    }
}

fn prepare(card: &mut Card, req: &PrepareDownloadRequest) -> PrepareDownloadResponse {
    es10::decode(&card.call(&es10::encode(req))).unwrap()
}

fn prepare_error(card: &mut Card, req: &PrepareDownloadRequest) -> i64 {
    match prepare(card, req) {
        PrepareDownloadResponse::DownloadResponseError(e) => {
            assert_eq!(e.transaction_id[..], req.smdp_signed2.transaction_id[..]);
            e.download_error_code
        }
        other => panic!("PrepareDownload accepted: {other:?}"),
    }
}

/// Authenticates and prepares; returns the transaction and the BPP segments.
fn to_bpp(
    card: &mut Card,
    smdp: &mut Smdp,
    pki: &Pki,
    package: &[u8],
    opts: &BindOpts,
) -> (Transaction, Vec<Vec<u8>>) {
    let ok1 = authenticate_ok(card, smdp);
    let (tx, req) = smdp.prepare_download(&pki.identity, &ok1);
    let ok2 = match prepare(card, &req) {
        PrepareDownloadResponse::DownloadResponseOk(ok) => ok,
        other => panic!("PrepareDownload failed: {other:?}"),
    };
    assert!(ok2.euicc_signed2.is_canonical());
    assert_eq!(ok2.euicc_signed2.transaction_id[..], tx.tx_id[..]);
    let segments = smdp.bind(&pki.identity, &tx, &req, &ok2, package, opts);
    (tx, segments)
}

/// Sends the segments; every one but the last must answer a bare `9000`. Returns the last
/// response (the `BF37`).
fn load(card: &mut Card, segments: &[Vec<u8>]) -> Vec<u8> {
    let n = segments.len();
    for (i, s) in segments.iter().enumerate() {
        let (data, status) = card.es10(s);
        assert_eq!(status, 0x9000, "segment {i} ({:02X})", s[0]);
        if i + 1 == n {
            return data;
        }
        assert!(data.is_empty(), "segment {i} ({:02X}) answered data", s[0]);
    }
    unreachable!()
}

/// Decodes a PIR and checks its signature with CERT.EUICC; returns the result data.
fn check_pir(identity: &Identity, pir: &[u8]) -> ProfileInstallationResultData {
    let pir: ProfileInstallationResult = es10::decode(pir).unwrap();
    let euicc_pk = pki::cert_public_key(&identity.euicc_cert).unwrap();
    assert!(
        RustCrypto.verify(
            &euicc_pk,
            pir.profile_installation_result_data.as_bytes(),
            &pir.euicc_sign_pir
        ),
        "euiccSignPIR verifies with CERT.EUICC"
    );
    assert!(pir.profile_installation_result_data.is_canonical());
    pir.profile_installation_result_data.value().clone()
}

/// The (bppCommandId, errorReason) of an error PIR.
fn pir_error(identity: &Identity, pir: &[u8]) -> (i64, i64) {
    match check_pir(identity, pir).final_result {
        FinalResult::ErrorResult(e) => (e.bpp_command_id, e.error_reason),
        FinalResult::SuccessResult(s) => panic!("installed: {s:?}"),
    }
}

/// Sends segments until one answers data (the error PIR); returns its index and the PIR.
fn load_until_error(card: &mut Card, segments: &[Vec<u8>]) -> (usize, Vec<u8>) {
    for (i, s) in segments.iter().enumerate() {
        let (data, status) = card.es10(s);
        assert_eq!(status, 0x9000, "segment {i}");
        if !data.is_empty() {
            return (i, data);
        }
    }
    panic!("no segment failed")
}

/// After a failure: the session is closed and further segments are refused.
fn assert_segments_refused(card: &mut Card, segments: &[Vec<u8>]) {
    for s in segments {
        let (data, status) = card.es10(s);
        assert!(data.is_empty());
        assert_ne!(status, 0x9000, "segment {:02X} accepted", s[0]);
    }
}

/// The state after a failed download: the same as before, plus (for BPP errors) exactly one
/// pending notification, the error PIR.
fn assert_unchanged(before: &Snapshot, after: &Snapshot, pir_added: bool) {
    assert_eq!(before.profiles, after.profiles, "profiles changed");
    assert_eq!(before.stored_profiles, after.stored_profiles);
    assert_eq!(
        before.stored_packages, after.stored_packages,
        "packages changed"
    );
    if pir_added {
        assert_eq!(after.notifications.len(), before.notifications.len() + 1);
        assert_eq!(after.stored_notifications, before.stored_notifications + 1);
        assert_eq!(
            after.notifications[..before.notifications.len()],
            before.notifications[..]
        );
        let n = after.notifications.last().unwrap();
        assert_eq!(n.event, Event::Install);
        assert!(n.pending.starts_with(&[0xBF, 0x37]));
    } else {
        assert_eq!(
            before.notifications, after.notifications,
            "notifications changed"
        );
        assert_eq!(before.stored_notifications, after.stored_notifications);
    }
}

fn segment_index(segments: &[Vec<u8>], tag: u8, nth: usize) -> usize {
    segments
        .iter()
        .enumerate()
        .filter(|(_, s)| s[0] == tag)
        .nth(nth)
        .unwrap()
        .0
}

/// Flips a bit in the MAC (the last byte) of a protected segment.
fn tamper_mac(segment: &mut [u8]) {
    let last = segment.len() - 1;
    segment[last] ^= 0x01;
}

// =============================================================================================
// Positive
// =============================================================================================

/// Downloads `package` and checks everything a successful download must leave behind.
fn full_download(card: &mut Card, smdp: &mut Smdp, pki: &Pki, package: &[u8], opts: &BindOpts) {
    let pkg = parse_package(package).unwrap();
    let iccid = pkg.iccid_swapped().to_vec();
    let before = card.snapshot();
    let (tx, segments) = to_bpp(card, smdp, pki, package, opts);
    assert!(segments.len() > 6);
    let pir = load(card, &segments);

    // The PIR: signed, success, for this transaction and SM-DP+.
    let data = check_pir(&pki.identity, &pir);
    assert_eq!(data.transaction_id[..], tx.tx_id[..]);
    let md = &data.notification_metadata;
    assert_eq!(md.notification_address, smdp.address);
    assert!(md
        .profile_management_operation
        .is_set(notification_event::INSTALL));
    assert_eq!(md.iccid.as_deref(), Some(&iccid[..]));
    let FinalResult::SuccessResult(success) = &data.final_result else {
        panic!("{:?}", data.final_result)
    };
    assert_eq!(
        success.sima_response[..],
        [0x30, 0x07, 0xA0, 0x05, 0x30, 0x03, 0x80, 0x01, 0x00]
    );
    // smdpOid = the SM-DP+ OID (DER 06 03 89 37 0A for 2.999.10).
    let der = es10::encode(&data);
    let oid = pki::oid_content_from_dotted(pki::TEST_DP_RID).unwrap();
    let mut oid_tlv = vec![0x06, oid.len() as u8];
    oid_tlv.extend_from_slice(&oid);
    assert!(der.windows(oid_tlv.len()).any(|w| w == oid_tlv));

    // The profile: listed with ICCID, name, class, disabled, ISD-P AID of the PIR.
    let info = card
        .profiles()
        .into_iter()
        .find(|p| p.iccid.as_deref() == Some(&iccid[..]))
        .expect("profile listed");
    assert_eq!(info.profile_name.as_deref(), Some("TS.48 Test Profile"));
    assert_eq!(info.service_provider_name.as_deref(), Some("Test SPN"));
    assert_eq!(info.profile_class, Some(opts.class));
    assert_eq!(info.profile_state, Some(es10::ProfileState::DISABLED));
    assert_eq!(info.isdp_aid.as_deref(), Some(&success.aid[..]));
    assert_eq!(info.profile_owner.unwrap().mcc_mnc[..], [0x00, 0xF1, 0x10]);
    let rec = card
        .e
        .state()
        .profile(&veuicc::euicc::ProfileId::Iccid(iccid.clone()))
        .unwrap()
        .clone();
    assert_eq!(rec.dp_oid.as_deref(), Some(pki::TEST_DP_RID));

    // The PIR is pending, retrievable, and the one the card returned.
    let after = card.snapshot();
    assert_eq!(after.notifications.len(), before.notifications.len() + 1);
    let pending = card.pending_notifications();
    let stored = pending
        .iter()
        .find_map(|p| match p {
            PendingNotification::ProfileInstallationResult(r) if r.as_bytes() == pir => Some(r),
            _ => None,
        })
        .expect("PIR pending");
    check_pir(&pki.identity, stored.as_bytes());

    // Enable works and the UICC shows the profile.
    let enable = es10::encode(&EnableProfileRequest {
        profile_identifier: ProfileIdentifier::Iccid(iccid.clone().into()),
        refresh_flag: Some(false),
    });
    let r: EnableProfileResponse = es10::decode(&card.call(&enable)).unwrap();
    assert_eq!(r.enable_result, enable_result::OK);
    let ef_iccid = card.e.state_mut().read_enabled_ef(None, &[0x2FE2]).unwrap();
    assert_eq!(ef_iccid, iccid);
    assert_eq!(card.e.state().download_phase(), "closed");
}

#[test]
fn full_download_of_a_ts48_profile() {
    let Some(package) = package(PACKAGE) else {
        return;
    };
    let pki = pki();
    let mut card = Card::mem(&pki);
    let mut smdp = Smdp::new(&pki);
    full_download(&mut card, &mut smdp, &pki, &package, &BindOpts::default());

    // The install PIR and the enable notification share one sequence.
    let seqs: Vec<u32> = card.e.state().notifications().map(|n| n.seq).collect();
    assert_eq!(seqs, vec![1, 2]);
    let events: Vec<Event> = card.e.state().notifications().map(|n| n.event).collect();
    assert_eq!(events, vec![Event::Install, Event::Enable]);
    let enable_note = card.e.state().notifications().nth(1).unwrap();
    assert_eq!(enable_note.address, "notify.smdp.test");
}

#[test]
fn download_with_replace_session_keys_oversized_segments_and_aws_lc() {
    let Some(package) = package("TS48V5-SAIP2-3-BERTLV-SUCI-UNIQUE.der") else {
        return;
    };
    let pki = pki();
    let mut card = Card::new(&pki, Arc::new(MemStore::default()), Arc::new(AwsLc::new()));
    let mut smdp = Smdp::new(&pki);
    let opts = BindOpts {
        replace_keys: true,
        // Longer than the specification's 1020, as real SM-DP+s send.
        max_segment_len: 1536,
        class: es10::ProfileClass::TEST,
        ..BindOpts::default()
    };
    full_download(&mut card, &mut smdp, &pki, &package, &opts);
}

#[test]
fn every_ts48_profile_downloads() {
    let Some(dir) = testdata() else { return };
    let pki = pki();
    let mut card = Card::new(&pki, Arc::new(MemStore::default()), Arc::new(AwsLc::new()));
    let mut smdp = Smdp::new(&pki);
    smdp.crypto = Arc::new(AwsLc::new());
    let mut names: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".der"))
        .collect();
    names.sort();
    assert_eq!(names.len(), 18);
    let mut iccids = std::collections::BTreeSet::new();
    for name in &names {
        let package = std::fs::read(dir.join(name)).unwrap();
        let iccid = parse_package(&package).unwrap().iccid_swapped().to_vec();
        if !iccids.insert(iccid.clone()) {
            continue; // two packages with one ICCID: the second would be refused (9)
        }
        let (_, segments) = to_bpp(&mut card, &mut smdp, &pki, &package, &BindOpts::default());
        let pir = load(&mut card, &segments);
        assert!(
            matches!(
                check_pir(&pki.identity, &pir).final_result,
                FinalResult::SuccessResult(_)
            ),
            "{name}"
        );
        assert!(
            card.e.state().profiles().any(|p| p.iccid == iccid),
            "{name}"
        );
    }
}

#[test]
fn deterministic_provider_gives_reproducible_transcripts() {
    let Some(package) = package(PACKAGE) else {
        return;
    };
    let run = || {
        let pki = pki();
        let mut card = Card::new(
            &pki,
            Arc::new(MemStore::default()),
            Arc::new(Deterministic::new([5; 32])),
        );
        let mut smdp = Smdp::new(&pki);
        smdp.crypto = Arc::new(Deterministic::new([6; 32]));
        let (_, segments) = to_bpp(&mut card, &mut smdp, &pki, &package, &BindOpts::default());
        (segments.clone(), load(&mut card, &segments))
    };
    let (seg1, pir1) = run();
    let (seg2, pir2) = run();
    assert_eq!(seg1, seg2, "same bound package");
    assert_eq!(pir1, pir2, "same signed PIR");
}

#[test]
fn retry_reuses_the_one_time_key_named_in_bpp_euicc_otpk() {
    let Some(package) = package(PACKAGE) else {
        return;
    };
    let pki = pki();
    let mut card = Card::mem(&pki);
    let mut smdp = Smdp::new(&pki);
    let opts = BindOpts::default();

    // First attempt: bound to otPK K1, interrupted by a broken MAC at the first 86.
    let ok1 = authenticate_ok(&mut card, &mut smdp);
    let (tx, req) = smdp.prepare_download(&pki.identity, &ok1);
    let PrepareDownloadResponse::DownloadResponseOk(ok2) = prepare(&mut card, &req) else {
        panic!()
    };
    let k1 = ok2.euicc_signed2.euicc_otpk.to_vec();
    let mut segments = smdp.bind(&pki.identity, &tx, &req, &ok2, &package, &opts);
    let i = segment_index(&segments, 0x86, 0);
    tamper_mac(&mut segments[i]);
    let (_, pir) = load_until_error(&mut card, &segments);
    assert_eq!(pir_error(&pki.identity, &pir), (5, 8));

    // Retry: a new session whose smdpSigned2 names K1 gets K1 back, and the package bound to
    // it (with the new transaction) installs.
    let ok1 = authenticate_ok(&mut card, &mut smdp);
    let tx = Transaction {
        tx_id: ok1.euicc_signed1.transaction_id.to_vec(),
        euicc_signature1: ok1.euicc_signature1.to_vec(),
    };
    let req = smdp.prepare_request(&tx, &tx.tx_id, Some(k1.clone()));
    let PrepareDownloadResponse::DownloadResponseOk(ok2) = prepare(&mut card, &req) else {
        panic!()
    };
    assert_eq!(
        ok2.euicc_signed2.euicc_otpk.to_vec(),
        k1,
        "kept otPK reused"
    );
    let segments = smdp.bind(&pki.identity, &tx, &req, &ok2, &package, &opts);
    let pir = load(&mut card, &segments);
    assert!(matches!(
        check_pir(&pki.identity, &pir).final_result,
        FinalResult::SuccessResult(_)
    ));

    // After an installation the key is gone: naming it again gets a fresh one.
    let ok1 = authenticate_ok(&mut card, &mut smdp);
    let tx = Transaction {
        tx_id: ok1.euicc_signed1.transaction_id.to_vec(),
        euicc_signature1: ok1.euicc_signature1.to_vec(),
    };
    let req = smdp.prepare_request(&tx, &tx.tx_id, Some(k1.clone()));
    let PrepareDownloadResponse::DownloadResponseOk(ok2) = prepare(&mut card, &req) else {
        panic!()
    };
    assert_ne!(ok2.euicc_signed2.euicc_otpk.to_vec(), k1);
}

// =============================================================================================
// AuthenticateServer negatives
// =============================================================================================

#[test]
fn authenticate_server_errors() {
    let pki = pki();
    let mut card = Card::mem(&pki);
    let mut smdp = Smdp::new(&pki);
    let before = card.snapshot();

    // Tampered serverSignature1: invalidSignature (2).
    let c = card.challenge();
    let mut req = smdp.authenticate_server(&c);
    let mut sig = req.server_signature1.to_vec();
    sig[10] ^= 0x40;
    req.server_signature1 = sig.into();
    assert_eq!(authenticate_error(&mut card, &req), 2);

    // serverSigned1 changed after signing: invalidSignature (2).
    let c = card.challenge();
    let good = smdp.authenticate_server(&c);
    let mut der = good.server_signed1.as_bytes().to_vec();
    let last = der.len() - 1;
    der[last] ^= 0x01; // inside serverChallenge
    let mut req = good.clone();
    req.server_signed1 = Verbatim::from_der(der).unwrap();
    assert_eq!(authenticate_error(&mut card, &req), 2);

    // Unknown CI: ciPKUnknown (7).
    let c = card.challenge();
    let mut req = smdp.authenticate_server(&c);
    req.euicc_ci_pkid_to_be_used = vec![0x11; 20].into();
    assert_eq!(authenticate_error(&mut card, &req), 7);

    // A DPauth certificate from another CI (announcing ours): ciPKUnknown (7).
    let other = self::pki_other_ci();
    let c = card.challenge();
    let mut other_smdp = Smdp::new(&pki);
    other_smdp.dp = other.dp.clone();
    let req = other_smdp.authenticate_server(&c);
    assert_eq!(authenticate_error(&mut card, &req), 7);

    // Wrong policy (a DPpb certificate as serverCertificate): invalidOid (5).
    let c = card.challenge();
    let mut wrong = Smdp::new(&pki);
    wrong.dp.auth_cert = pki.dp.pb_cert.clone();
    wrong.dp.auth_key = pki.dp.pb_key.clone();
    let req = wrong.authenticate_server(&c);
    let code = authenticate_error(&mut card, &req);
    assert_eq!(code, 5, "wrong-policy certificate");

    // Expired DPauth: invalidCertificate (1).
    let c = card.challenge();
    let mut expired = Smdp::new(&pki);
    expired.dp.auth_cert = mint_dpauth(
        &pki,
        not_before(),
        SystemTime::now() - Duration::from_secs(86_400),
    );
    let req = expired.authenticate_server(&c);
    assert_eq!(authenticate_error(&mut card, &req), 1);

    // Not yet valid DPauth: invalidCertificate (1).
    let c = card.challenge();
    let mut future = Smdp::new(&pki);
    future.dp.auth_cert = mint_dpauth(
        &pki,
        SystemTime::now() + Duration::from_secs(86_400),
        pki::not_after_no_expiry(),
    );
    let req = future.authenticate_server(&c);
    assert_eq!(authenticate_error(&mut card, &req), 1);

    // euiccChallenge mismatch (6).
    let mut c = card.challenge();
    c[0] ^= 0xFF;
    let req = smdp.authenticate_server(&c);
    assert_eq!(authenticate_error(&mut card, &req), 6);

    // No challenge at all (never asked, or already used): 6.
    let req = smdp.authenticate_server(&[0u8; 16]);
    assert_eq!(authenticate_error(&mut card, &req), 6);

    // A failed attempt consumes the challenge: the same, corrected request fails too.
    let c = card.challenge();
    let mut req = smdp.authenticate_server(&c);
    let good_sig = req.server_signature1.clone();
    let mut sig = good_sig.to_vec();
    sig[0] ^= 1;
    req.server_signature1 = sig.into();
    assert_eq!(authenticate_error(&mut card, &req), 2);
    req.server_signature1 = good_sig;
    assert_eq!(authenticate_error(&mut card, &req), 6);

    assert_eq!(card.e.state().download_phase(), "idle");
    assert_unchanged(&before, &card.snapshot(), false);
}

fn mint_dpauth(pki: &Pki, nb: SystemTime, na: SystemTime) -> Vec<u8> {
    let mut rng = ChaCha20Rng::from_seed([8; 32]);
    pki::mint_dp_cert(
        &pki.dp.auth_key.public_key_uncompressed(),
        &pki::DpSpec {
            kind: pki::DpCertKind::Auth,
            organization: pki::TEST_DP_ORG,
            common_name: pki::TEST_DP_CN,
            registered_id: pki::TEST_DP_RID,
            dns_name: None,
        },
        &pki.ci.ci_key,
        &pki.ci.ci_cert,
        &mut rng,
        nb,
        na,
    )
    .unwrap()
}

/// A second, unrelated PKI (another CI and SM-DP+).
fn pki_other_ci() -> Pki {
    let mut rng = ChaCha20Rng::from_seed([77; 32]);
    let eid = pki::eid_with_check_digits("890490320000000000000000000099").unwrap();
    let (identity, ci) =
        pki::mint_test_pki(eid, &mut rng, not_before(), pki::not_after_no_expiry()).unwrap();
    let dp = pki::mint_dp_certs(
        &ci.ci_key,
        &ci.ci_cert,
        &mut rng,
        not_before(),
        pki::not_after_no_expiry(),
        None,
        "other.test",
    )
    .unwrap();
    Pki { identity, ci, dp }
}

#[test]
fn replayed_authenticate_server_is_refused() {
    let pki = pki();
    let mut card = Card::mem(&pki);
    let mut smdp = Smdp::new(&pki);
    let c = card.challenge();
    let req = smdp.authenticate_server(&c);
    assert!(matches!(
        authenticate(&mut card, &req),
        AuthenticateServerResponse::AuthenticateResponseOk(_)
    ));
    let before = card.snapshot();
    // The same request again (the challenge is consumed): euiccChallengeMismatch.
    assert_eq!(authenticate_error(&mut card, &req), 6);
    // Even after a new challenge was drawn.
    card.challenge();
    assert_eq!(authenticate_error(&mut card, &req), 6);
    assert_unchanged(&before, &card.snapshot(), false);
}

// =============================================================================================
// PrepareDownload negatives
// =============================================================================================

#[test]
fn prepare_download_errors() {
    let pki = pki();
    let mut card = Card::mem(&pki);
    let mut smdp = Smdp::new(&pki);
    let before = card.snapshot();

    // No session: noSessionContext (4).
    let tx0 = Transaction {
        tx_id: vec![1; 16],
        euicc_signature1: vec![0; 64],
    };
    let req = smdp.prepare_request(&tx0, &tx0.tx_id, None);
    assert_eq!(prepare_error(&mut card, &req), 4);

    let ok1 = authenticate_ok(&mut card, &mut smdp);
    let (tx, good) = smdp.prepare_download(&pki.identity, &ok1);

    // Wrong transaction ID (properly signed): invalidTransactionId (5).
    let mut other_tx = tx.tx_id.clone();
    other_tx[0] ^= 1;
    let req = smdp.prepare_request(&tx, &other_tx, None);
    assert_eq!(prepare_error(&mut card, &req), 5);

    // smdpSignature2 over other data (smdpSigned2 alone): invalidSignature (2).
    let mut req = good.clone();
    req.smdp_signature2 = smdp
        .sign(&pki.dp.pb_key, req.smdp_signed2.as_bytes())
        .into();
    assert_eq!(prepare_error(&mut card, &req), 2);

    // Signed with the DPauth key instead of DPpb: invalidSignature (2).
    let mut req = good.clone();
    req.smdp_signature2 = smdp
        .sign(
            &pki.dp.auth_key,
            &signed_data::with_signature_tlv(req.smdp_signed2.as_bytes(), &tx.euicc_signature1),
        )
        .into();
    assert_eq!(prepare_error(&mut card, &req), 2);

    // CERT.DPauth as CERT.DPpb (wrong policy): invalidCertificate (1).
    let mut req = good.clone();
    req.smdp_certificate = RawCertificate::new(pki.dp.auth_cert.clone()).unwrap();
    assert_eq!(prepare_error(&mut card, &req), 1);

    // CERT.DPpb of another SM-DP+ OID: invalidCertificate (1).
    let mut rng = ChaCha20Rng::from_seed([12; 32]);
    let other_pb = pki::mint_dp_cert(
        &pki.dp.pb_key.public_key_uncompressed(),
        &pki::DpSpec {
            kind: pki::DpCertKind::Pb,
            organization: pki::TEST_DP_ORG,
            common_name: pki::TEST_DP_CN,
            registered_id: "2.999.11",
            dns_name: None,
        },
        &pki.ci.ci_key,
        &pki.ci.ci_cert,
        &mut rng,
        not_before(),
        pki::not_after_no_expiry(),
    )
    .unwrap();
    let mut req = good.clone();
    req.smdp_certificate = RawCertificate::new(other_pb).unwrap();
    assert_eq!(prepare_error(&mut card, &req), 1);

    // CERT.DPpb of another CI: invalidCertificate (1).
    let other = pki_other_ci();
    let mut req = good.clone();
    req.smdp_certificate = RawCertificate::new(other.dp.pb_cert.clone()).unwrap();
    assert_eq!(prepare_error(&mut card, &req), 1);

    // The failures left the session usable: the good request still works.
    assert_eq!(card.e.state().download_phase(), "authenticated");
    assert!(matches!(
        prepare(&mut card, &good),
        PrepareDownloadResponse::DownloadResponseOk(_)
    ));
    assert_unchanged(&before, &card.snapshot(), false);
}

// =============================================================================================
// LoadBoundProfilePackage negatives
// =============================================================================================

/// Runs a download whose segments `tamper` modifies; expects the error PIR `(cmd, reason)` at
/// segment `at_tag` and nothing installed.
fn bpp_failure(
    tamper: impl FnOnce(&mut Vec<Vec<u8>>),
    opts: &BindOpts,
    expected: (i64, i64),
) -> Option<Card> {
    let package = package(PACKAGE)?;
    let pki = pki();
    let mut card = Card::mem(&pki);
    let mut smdp = Smdp::new(&pki);
    let (_, mut segments) = to_bpp(&mut card, &mut smdp, &pki, &package, opts);
    let before = card.snapshot();
    tamper(&mut segments);
    let (i, pir) = load_until_error(&mut card, &segments);
    assert_eq!(pir_error(&pki.identity, &pir), expected);
    // The error PIR is pending, with the SM-DP+ address.
    let n = card.e.state().notifications().last().unwrap().clone();
    assert_eq!(n.pending, pir);
    assert_eq!(n.address, smdp.address);
    // The session is closed: the rest is refused, and so is a restart.
    assert_eq!(card.e.state().download_phase(), "closed");
    assert_segments_refused(&mut card, &segments[i + 1..]);
    assert_segments_refused(&mut card, &segments[..1]);
    assert_unchanged(&before, &card.snapshot(), true);
    // No trace: the ICCID is free, a clean download installs it.
    let (_, segments) = to_bpp(&mut card, &mut smdp, &pki, &package, &BindOpts::default());
    load(&mut card, &segments);
    assert_eq!(card.e.state().profiles().count(), 1);
    Some(card)
}

#[test]
fn tampered_mac_in_a_88_segment() {
    bpp_failure(
        |s| {
            let i = segment_index(s, 0x88, 0);
            tamper_mac(&mut s[i]);
        },
        &BindOpts::default(),
        (
            bpp_command_id::STORE_METADATA,
            error_reason::SCP03T_SECURITY_ERROR,
        ),
    );
}

#[test]
fn tampered_mac_in_a_86_segment() {
    bpp_failure(
        |s| {
            let i = segment_index(s, 0x86, 3);
            tamper_mac(&mut s[i]);
        },
        &BindOpts::default(),
        (
            bpp_command_id::LOAD_PROFILE_ELEMENTS,
            error_reason::SCP03T_SECURITY_ERROR,
        ),
    );
}

#[test]
fn tampered_ciphertext_in_a_86_segment_after_replace_session_keys() {
    bpp_failure(
        |s| {
            let i = segment_index(s, 0x86, 1);
            s[i][10] ^= 0x80;
        },
        &BindOpts {
            replace_keys: true,
            ..BindOpts::default()
        },
        (
            bpp_command_id::LOAD_PROFILE_ELEMENTS,
            error_reason::SCP03T_SECURITY_ERROR,
        ),
    );
}

#[test]
fn tampered_configure_isdp() {
    bpp_failure(
        |s| {
            let i = segment_index(s, 0xA0, 0);
            tamper_mac(&mut s[i]);
        },
        &BindOpts::default(),
        (
            bpp_command_id::CONFIGURE_ISDP,
            error_reason::SCP03T_SECURITY_ERROR,
        ),
    );
}

#[test]
fn tampered_initialise_secure_channel_signature() {
    bpp_failure(
        |s| {
            // The last byte of the first segment is the end of smdpSign.
            tamper_mac(&mut s[0]);
        },
        &BindOpts::default(),
        (
            bpp_command_id::INITIALISE_SECURE_CHANNEL,
            error_reason::INVALID_SIGNATURE,
        ),
    );
}

#[test]
fn segments_out_of_order() {
    // StoreMetadata before ConfigureISDP: a structure error at configureISDP.
    bpp_failure(
        |s| s.swap(1, 2),
        &BindOpts::default(),
        (
            bpp_command_id::CONFIGURE_ISDP,
            error_reason::SCP03T_STRUCTURE_ERROR,
        ),
    );
    // Two profile segments swapped: the MAC chain breaks.
    bpp_failure(
        |s| {
            let i = segment_index(s, 0x86, 1);
            s.swap(i, i + 1);
        },
        &BindOpts::default(),
        (
            bpp_command_id::LOAD_PROFILE_ELEMENTS,
            error_reason::SCP03T_SECURITY_ERROR,
        ),
    );
    // A profile segment skipped: the counter and MAC chain break.
    bpp_failure(
        |s| {
            let i = segment_index(s, 0x86, 2);
            s.remove(i);
        },
        &BindOpts::default(),
        (
            bpp_command_id::LOAD_PROFILE_ELEMENTS,
            error_reason::SCP03T_SECURITY_ERROR,
        ),
    );
    // The profile header before the metadata is complete.
    bpp_failure(
        |s| {
            let a3 = segment_index(s, 0xA3, 0);
            let h = s.remove(a3);
            let first88 = segment_index(s, 0x88, 0);
            s.insert(first88, h);
        },
        &BindOpts::default(),
        (
            bpp_command_id::STORE_METADATA,
            error_reason::SCP03T_STRUCTURE_ERROR,
        ),
    );
}

#[test]
fn iccid_mismatch_between_metadata_and_package() {
    let other = vec![0x98, 0x10, 0x32, 0x54, 0x76, 0x98, 0x10, 0x32, 0x54, 0xF6];
    bpp_failure(
        |_| {},
        &BindOpts {
            iccid: Some(other),
            ..BindOpts::default()
        },
        (
            bpp_command_id::LOAD_PROFILE_ELEMENTS,
            error_reason::ICCID_MISMATCH,
        ),
    );
}

#[test]
fn broken_profile_package_is_a_pe_processing_error() {
    let Some(full) = package(PACKAGE) else {
        return;
    };
    let pki = pki();
    let mut card = Card::mem(&pki);
    let mut smdp = Smdp::new(&pki);
    let before = card.snapshot();
    // The first 3000 bytes: the header PE and a truncated one.
    let opts = BindOpts {
        iccid: Some(parse_package(&full).unwrap().iccid_swapped().to_vec()),
        ..BindOpts::default()
    };
    let (_, segments) = to_bpp(&mut card, &mut smdp, &pki, &full[..3000], &opts);
    let pir = load(&mut card, &segments);
    assert_eq!(
        pir_error(&pki.identity, &pir),
        (
            bpp_command_id::LOAD_PROFILE_ELEMENTS,
            error_reason::PE_PROCESSING_ERROR
        )
    );
    assert_unchanged(&before, &card.snapshot(), true);
}

#[test]
fn whole_bpp_in_one_command_is_accepted() {
    let Some(package) = package(PACKAGE) else {
        return;
    };
    let pki = pki();
    let mut card = Card::mem(&pki);
    let mut smdp = Smdp::new(&pki);
    let (_, segments) = to_bpp(&mut card, &mut smdp, &pki, &package, &BindOpts::default());
    // Some LPAs send sections whole, or the whole package at once.
    let bpp: Vec<u8> = segments.concat();
    let pir = card.call(&bpp);
    assert!(matches!(
        check_pir(&pki.identity, &pir).final_result,
        FinalResult::SuccessResult(_)
    ));
    assert_eq!(card.e.state().profiles().count(), 1);
}

#[test]
fn provisioning_profile_class_is_refused() {
    bpp_failure(
        |_| {},
        &BindOpts {
            class: es10::ProfileClass::PROVISIONING,
            ..BindOpts::default()
        },
        (
            bpp_command_id::STORE_METADATA,
            error_reason::UNSUPPORTED_PROFILE_CLASS,
        ),
    );
}

#[test]
fn iccid_already_installed() {
    let Some(package) = package(PACKAGE) else {
        return;
    };
    let pki = pki();
    let mut card = Card::mem(&pki);
    let mut smdp = Smdp::new(&pki);
    full_download(&mut card, &mut smdp, &pki, &package, &BindOpts::default());
    let before = card.snapshot();
    let (_, segments) = to_bpp(&mut card, &mut smdp, &pki, &package, &BindOpts::default());
    let (i, pir) = load_until_error(&mut card, &segments);
    assert_eq!(
        segments[i][0], 0x88,
        "refused as soon as the metadata is complete"
    );
    assert_eq!(
        pir_error(&pki.identity, &pir),
        (
            bpp_command_id::STORE_METADATA,
            error_reason::ICCID_ALREADY_EXISTS
        )
    );
    let n = card.e.state().notifications().last().unwrap();
    let iccid = parse_package(&package).unwrap().iccid_swapped().to_vec();
    assert_eq!(n.iccid, iccid, "the error PIR names the ICCID");
    assert_unchanged(&before, &card.snapshot(), true);
    // Sequence numbers keep increasing across PIRs and other notifications.
    let seqs: Vec<u32> = card.e.state().notifications().map(|n| n.seq).collect();
    assert_eq!(seqs, vec![1, 2, 3]);
}

// =============================================================================================
// CancelSession
// =============================================================================================

#[test]
fn cancelled_session_refuses_segments() {
    let Some(package) = package(PACKAGE) else {
        return;
    };
    let pki = pki();
    let mut card = Card::mem(&pki);
    let mut smdp = Smdp::new(&pki);
    let (tx, segments) = to_bpp(&mut card, &mut smdp, &pki, &package, &BindOpts::default());
    let before = card.snapshot();

    // Another transaction ID: invalidTransactionId, the session stays.
    let cancel = |tx_id: &[u8]| {
        es10::encode(&CancelSessionRequest {
            transaction_id: tx_id.to_vec().into(),
            reason: cancel_session_reason::POSTPONED,
        })
    };
    let r: CancelSessionResponse = es10::decode(&card.call(&cancel(&[9; 16]))).unwrap();
    assert_eq!(
        r,
        CancelSessionResponse::CancelSessionResponseError(
            cancel_session_error::INVALID_TRANSACTION_ID
        )
    );
    assert_eq!(card.e.state().download_phase(), "prepared");

    let r: CancelSessionResponse = es10::decode(&card.call(&cancel(&tx.tx_id))).unwrap();
    let CancelSessionResponse::CancelSessionResponseOk(ok) = r else {
        panic!("{r:?}")
    };
    // Signed {80 txId, 81 smdpOid (2.999.10), 82 reason} with SK.EUICC.
    let mut expected = vec![0x30, 0x1A, 0x80, 0x10];
    expected.extend_from_slice(&tx.tx_id);
    expected.extend_from_slice(&[0x81, 0x03, 0x88, 0x37, 0x0A, 0x82, 0x01, 0x01]);
    assert_eq!(ok.euicc_cancel_session_signed.as_bytes(), expected);
    let euicc_pk = pki::cert_public_key(&pki.identity.euicc_cert).unwrap();
    assert!(RustCrypto.verify(
        &euicc_pk,
        ok.euicc_cancel_session_signed.as_bytes(),
        &ok.euicc_cancel_session_signature
    ));

    // The session is gone: every segment is refused, nothing changes.
    assert_segments_refused(&mut card, &segments);
    let r: CancelSessionResponse = es10::decode(&card.call(&cancel(&tx.tx_id))).unwrap();
    assert_eq!(
        r,
        CancelSessionResponse::CancelSessionResponseError(
            cancel_session_error::INVALID_TRANSACTION_ID
        )
    );
    assert_unchanged(&before, &card.snapshot(), false);

    // Cancelling in the middle of the load also ends it without a trace.
    let (tx, segments) = to_bpp(&mut card, &mut smdp, &pki, &package, &BindOpts::default());
    let half = segment_index(&segments, 0x86, 2);
    for s in &segments[..half] {
        assert_eq!(card.es10(s), (Vec::new(), 0x9000));
    }
    assert!(matches!(
        es10::decode(&card.call(&cancel(&tx.tx_id))).unwrap(),
        CancelSessionResponse::CancelSessionResponseOk(_)
    ));
    assert_segments_refused(&mut card, &segments[half..]);
    assert_unchanged(&before, &card.snapshot(), false);
}

// =============================================================================================
// Power loss
// =============================================================================================

#[test]
fn power_off_in_the_middle_of_the_profile_segments() {
    let Some(package) = package(PACKAGE) else {
        return;
    };
    let pki = pki();
    let mut card = Card::mem(&pki);
    let mut smdp = Smdp::new(&pki);
    let before = card.snapshot();
    let (_, segments) = to_bpp(&mut card, &mut smdp, &pki, &package, &BindOpts::default());
    let half = segment_index(&segments, 0x86, 3);
    for s in &segments[..half] {
        assert_eq!(card.es10(s), (Vec::new(), 0x9000));
    }
    card.e.power_off();
    card.e.power_on();
    card.select_isdr();
    assert_eq!(card.e.state().download_phase(), "idle");
    assert_unchanged(&before, &card.snapshot(), false);
    assert!(card.profiles().is_empty());
    // The rest of the old session goes nowhere.
    assert_segments_refused(&mut card, &segments[half..]);
    // A new download works.
    full_download(&mut card, &mut smdp, &pki, &package, &BindOpts::default());
}

#[test]
fn process_killed_in_the_middle_of_the_profile_segments() {
    let Some(package) = package(PACKAGE) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    let pki = pki();
    let mut smdp = Smdp::new(&pki);
    {
        let store: Arc<dyn Store> = Arc::new(SledStore::open(&db).unwrap());
        let mut card = Card::new(&pki, store, Arc::new(RustCrypto::new()));
        let (_, segments) = to_bpp(&mut card, &mut smdp, &pki, &package, &BindOpts::default());
        let stop = segment_index(&segments, 0x86, 5);
        for s in &segments[..stop] {
            assert_eq!(card.es10(s), (Vec::new(), 0x9000));
        }
        // The process dies here: the card and its store go away without any further call.
    }
    let store: Arc<dyn Store> = Arc::new(SledStore::open(&db).unwrap());
    for tree in [
        Tree::Profiles,
        Tree::Packages,
        Tree::Files,
        Tree::Notifications,
    ] {
        assert!(
            store.scan(tree, b"").unwrap().is_empty(),
            "{tree:?} written"
        );
    }
    let mut card = Card::new(&pki, store, Arc::new(RustCrypto::new()));
    assert!(card.profiles().is_empty());
    full_download(&mut card, &mut smdp, &pki, &package, &BindOpts::default());
    drop(card);
    // The installed profile survives a restart.
    let store: Arc<dyn Store> = Arc::new(SledStore::open(&db).unwrap());
    let mut card = Card::new(&pki, store, Arc::new(RustCrypto::new()));
    let iccid = parse_package(&package).unwrap().iccid_swapped().to_vec();
    assert!(card
        .profiles()
        .iter()
        .any(|p| p.iccid.as_deref() == Some(&iccid[..])));
    assert_eq!(card.e.state().enabled_iccid(), Some(&iccid[..]));
    assert!(card
        .e
        .state()
        .notifications()
        .any(|n| n.event == Event::Install));
}
