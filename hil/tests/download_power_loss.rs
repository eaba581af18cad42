//! Power loss in the middle of a profile download, for real: the card runs as its own
//! `veuicc serve` process (sled state on disk) behind pcscd + vpcd, the LPA (`hil::lpa`) drives a
//! download over PC/SC from an in-process SM-DP+, and the card process gets SIGKILL while the
//! `86` segments of LoadBoundProfilePackage are arriving (after some of them, in the middle of a
//! segment's STORE DATA blocks). `veuicc serve` is then started again on the same state
//! directory: the card must show no trace of the profile (GetProfilesInfo, ListNotification),
//! and a fresh download of the same profile must succeed.
//!
//! Runs only inside `scripts/pcsc-isolated` (a private pcscd), signalled by `VEUICC_PCSC_TEST=1`;
//! `scripts/test` does that. Without it the test says SKIPPED, unless `VEUICC_REQUIRE_PCSC=1`
//! makes the absence a failure.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use hil::client::{iccid_digits, Client};
use hil::lpa::{self, DownloadParams, InProcessEs9, LpaError, NotificationDelivery};
use hil::transport::{self, ApduTransport, Pcsc, TransportError};
use rsp::crypto::CryptoProvider;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};
use testbeds::es2::{ConfirmOrderRequest, DownloadOrderRequest};
use testbeds::{ProfileClassKind, ProfileMeta, ProfileState, Smdp, SmdpConfig, SmdpIdentity};

const ADDRESS: &str = "smdp.power-loss.test";
const PACKAGE: &str = "TS48V5-SAIP2-3-NOBERTLV-UNIQUE.der";
/// STORE DATA blocks of `86` segments the card takes before the power goes.
const KILL_AFTER_86_BLOCKS: usize = 23;

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn testdata() -> PathBuf {
    let p = std::env::var_os("VEUICC_TESTDATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("../shared/testdata"));
    assert!(
        p.join("ts48").is_dir(),
        "testdata not found: set VEUICC_TESTDATA"
    );
    p
}

/// A binary built beside this test (`cargo build --workspace --bins` first).
fn bin(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    exe.parent()
        .and_then(|d| d.parent())
        .map(|d| d.join(name))
        .expect("target directory")
}

fn enabled() -> bool {
    if std::env::var("VEUICC_PCSC_TEST").as_deref() == Ok("1") {
        return true;
    }
    if std::env::var("VEUICC_REQUIRE_PCSC").as_deref() == Ok("1") {
        panic!("VEUICC_REQUIRE_PCSC=1 but not running inside scripts/pcsc-isolated");
    }
    eprintln!("SKIPPED: PC/SC stack tests run inside scripts/pcsc-isolated (VEUICC_PCSC_TEST=1)");
    false
}

fn vpcd_port() -> u16 {
    std::env::var("VPCD_PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(35963)
}

/// A running `veuicc serve`; SIGKILLed and reaped on drop if still running.
struct Served(Option<Child>);

impl Served {
    fn start(state: &Path) -> Served {
        let spec = format!("{}@127.0.0.1:{}", state.display(), vpcd_port());
        let child = Command::new(bin("veuicc"))
            .args(["serve", "--card", &spec])
            .env("VEUICC_LOG", "warn")
            .stdout(Stdio::null())
            .spawn()
            .expect("start veuicc serve");
        Served(Some(child))
    }

    /// SIGKILL (`Child::kill` on Unix), then waits until the process is gone.
    fn kill(&mut self) {
        if let Some(mut c) = self.0.take() {
            c.kill().expect("SIGKILL veuicc serve");
            let status = c.wait().expect("reap veuicc serve");
            assert!(!status.success(), "veuicc serve exited by itself: {status}");
        }
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        if let Some(mut c) = self.0.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Whether a reader ending in `suffix` shows a card.
fn card_present(suffix: &str) -> bool {
    let Ok(ctx) = pcsc::Context::establish(pcsc::Scope::User) else {
        return false;
    };
    let Ok(readers) = transport::list_readers() else {
        return false;
    };
    let Some(name) = readers.into_iter().find(|r| r.ends_with(suffix)) else {
        return false;
    };
    let Ok(name) = std::ffi::CString::new(name) else {
        return false;
    };
    let mut rs = [pcsc::ReaderState::new(name, pcsc::State::UNAWARE)];
    ctx.get_status_change(Duration::from_millis(0), &mut rs)
        .is_ok_and(|()| rs[0].event_state().contains(pcsc::State::PRESENT))
}

fn wait_card(present: bool) {
    let deadline = Instant::now() + Duration::from_secs(15);
    while card_present(" 00 00") != present {
        assert!(
            Instant::now() < deadline,
            "the vpcd reader did not show present={present}"
        );
        std::thread::sleep(Duration::from_millis(25));
    }
}

fn connect_when_present() -> Pcsc {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        if let Ok(readers) = transport::list_readers() {
            if let Some(r) = readers.iter().find(|r| r.ends_with(" 00 00")) {
                if let Ok(p) = Pcsc::connect(r) {
                    return p;
                }
            }
        }
        assert!(
            Instant::now() < deadline,
            "no card appeared in the vpcd reader"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The card transport of the LPA: counts the STORE DATA blocks that carry `86` segments (from
/// the block that starts the first one) and, with `kill_after = Some(n)`, cuts the power (SIGKILL
/// of `veuicc serve`) once the card has answered `n` of them, before the next one goes out.
struct PowerCut<'a, T> {
    inner: T,
    card: &'a mut Served,
    kill_after: Option<usize>,
    /// STORE DATA blocks sent since the first `86` segment began.
    blocks_86: usize,
    /// `86` segments begun (first blocks seen).
    segments_86: usize,
    killed: bool,
}

impl<'a, T> PowerCut<'a, T> {
    fn new(inner: T, card: &'a mut Served, kill_after: Option<usize>) -> Self {
        PowerCut {
            inner,
            card,
            kill_after,
            blocks_86: 0,
            segments_86: 0,
            killed: false,
        }
    }
}

impl<T: ApduTransport> ApduTransport for PowerCut<'_, T> {
    fn transmit(&mut self, apdu: &[u8]) -> Result<Vec<u8>, TransportError> {
        // STORE DATA: CLA 80/8x/Cx, INS E2; P2 = block number, data from byte 5 (short Lc).
        let store_data = apdu.len() > 5 && apdu[1] == 0xE2;
        if store_data {
            if apdu[3] == 0 && apdu[5] == 0x86 {
                self.segments_86 += 1;
            }
            if self.segments_86 > 0 {
                if self.kill_after == Some(self.blocks_86) && !self.killed {
                    self.card.kill();
                    self.killed = true;
                }
                self.blocks_86 += 1;
            }
        }
        self.inner.transmit(apdu)
    }

    fn describe(&self) -> String {
        format!("{} (power cut)", self.inner.describe())
    }
}

#[test]
fn power_loss_in_the_middle_of_the_86_segments_leaves_no_trace() {
    if !enabled() {
        return;
    }
    let td = testdata();
    let package = std::fs::read(td.join("ts48").join(PACKAGE)).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let card_state = dir.path().join("card");
    let out = Command::new(bin("veuicc"))
        .args(["init", "--state"])
        .arg(&card_state)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "veuicc init: {}",
        String::from_utf8_lossy(&out.stderr)
    );

    // The SM-DP+ in this process, under the card's CI, with the profile ordered and released.
    let provider: Arc<dyn CryptoProvider> = Arc::new(rsp::crypto::awslc::AwsLc);
    let idir = card_state.join("identity");
    let ci_key = rsp::keys::EcKey::read_pem_file(idir.join("ci-key.pem")).unwrap();
    let ci_cert = std::fs::read(idir.join("ci.der")).unwrap();
    let dp = SmdpIdentity::under_ci(
        &ci_key,
        &ci_cert,
        ADDRESS,
        provider.as_ref(),
        SystemTime::now(),
    )
    .unwrap();
    let smdp = Smdp::new(
        dp,
        testbeds::store::Store::memory(),
        provider,
        testbeds::smdp::system_clock(),
        SmdpConfig::default(),
    )
    .unwrap();
    let iccid = smdp
        .add_profile(
            package,
            ProfileMeta {
                service_provider_name: "GSMA Test".into(),
                profile_name: "power loss".into(),
                class: ProfileClassKind::Operational,
                profile_type: "power-loss".into(),
            },
        )
        .unwrap();
    let r = smdp.download_order(&DownloadOrderRequest {
        iccid: Some(iccid.clone()),
        ..Default::default()
    });
    assert!(r.header.is_success(), "{:?}", r.header);
    let r = smdp.confirm_order(&ConfirmOrderRequest {
        iccid: iccid.clone(),
        release_flag: true,
        ..Default::default()
    });
    assert!(r.header.is_success(), "{:?}", r.header);
    let matching_id = r.matching_id.unwrap();
    let mut es9 = InProcessEs9::new(&smdp);

    // 1. The download, and the power cut in the middle of the 86 segments.
    let mut card = Served::start(&card_state);
    let mut pcsc = connect_when_present();
    let eid = {
        let mut c = Client::new(&mut pcsc);
        c.select_isdr().unwrap();
        c.get_eid().unwrap()
    };
    let err = {
        let mut cut = PowerCut::new(&mut pcsc, &mut card, Some(KILL_AFTER_86_BLOCKS));
        let mut c = Client::new(&mut cut);
        c.open_channel().unwrap();
        let err = lpa::download(&mut c, &mut es9, DownloadParams::new(ADDRESS, &matching_id))
            .expect_err("the download must fail when the card loses power");
        assert!(cut.killed, "the card was never killed: {err}");
        assert!(
            cut.segments_86 >= 2,
            "the power went before the second 86 segment: {} begun",
            cut.segments_86
        );
        err
    };
    assert!(
        matches!(&err, LpaError::Segment { tag, .. } if tag == "86"),
        "expected a failed 86 segment, got: {err}"
    );
    drop(pcsc);
    // The SM-DP+ delivered the BPP and heard nothing since.
    assert_eq!(
        smdp.profile(&iccid).unwrap().unwrap().state,
        ProfileState::Downloaded
    );
    wait_card(false);

    // 2. Power back: the same state directory, no trace of the profile.
    let mut card = Served::start(&card_state);
    let mut pcsc = connect_when_present();
    {
        let mut c = Client::new(&mut pcsc);
        c.open_channel().unwrap();
        c.select_isdr().unwrap();
        assert_eq!(c.get_eid().unwrap(), eid, "not the same card state");
        let profiles = c.profiles(None).unwrap();
        assert!(
            profiles.is_empty(),
            "profiles after the power loss: {:?}",
            profiles
                .iter()
                .map(|p| p.iccid.as_ref().map(|i| iccid_digits(i)))
                .collect::<Vec<_>>()
        );
        let notes = c.list_notifications().unwrap();
        assert!(
            notes.is_empty(),
            "notifications after the power loss: {notes:?}"
        );
        c.close_channel().unwrap();
    }

    // 3. A fresh download of the same profile (same order) succeeds.
    let (outcome, blocks_86) = {
        let mut count = PowerCut::new(&mut pcsc, &mut card, None);
        let mut c = Client::new(&mut count);
        c.open_channel().unwrap();
        let o = lpa::download(&mut c, &mut es9, DownloadParams::new(ADDRESS, &matching_id))
            .unwrap_or_else(|e| panic!("the download after the power loss failed: {e}"));
        (o, count.blocks_86)
    };
    assert_eq!(outcome.iccid, iccid);
    assert_eq!(outcome.notification, NotificationDelivery::Delivered);
    // The cut came in the middle: well after the first 86 block, well before the last.
    assert!(
        KILL_AFTER_86_BLOCKS * 4 > blocks_86 && KILL_AFTER_86_BLOCKS * 4 < blocks_86 * 3,
        "{KILL_AFTER_86_BLOCKS} of {blocks_86} 86 blocks is not the middle"
    );
    assert_eq!(
        smdp.profile(&iccid).unwrap().unwrap().state,
        ProfileState::Installed
    );
    let mut c = Client::new(&mut pcsc);
    c.open_channel().unwrap();
    c.select_isdr().unwrap();
    let profiles = c.profiles(None).unwrap();
    assert_eq!(profiles.len(), 1);
    assert_eq!(
        profiles[0].iccid.as_ref().map(|i| iccid_digits(i)),
        Some(iccid.clone())
    );
    assert!(c.list_notifications().unwrap().is_empty());
    eprintln!(
        "power cut after {KILL_AFTER_86_BLOCKS} of {blocks_86} STORE DATA blocks of 86 segments; \
         no trace after the restart; the download again: {:.1} ms",
        outcome.total.as_secs_f64() * 1e3
    );
}
