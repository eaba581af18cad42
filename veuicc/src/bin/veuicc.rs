//! `veuicc`: run and administer software eUICCs. See docs/veuicc.md.

use anyhow::{Context, Result};
use clap::{Parser, Subcommand, ValueEnum};
use serde_json::json;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use tracing::info;
use veuicc::euicc::records::{self, iccid_digits, ProfileClass};
use veuicc::euicc::{Euicc, ProfileId, SeedOptions};
use veuicc::statedir::{self, IdentitySource};
use veuicc::vpcd::{self, CardSlot, SharedCard, VpcdOptions};

#[path = "veuicc/authz_cli.rs"]
mod authz_cli;

#[derive(Parser, Debug)]
#[command(
    name = "veuicc",
    version,
    about = "A software GSMA SGP.22 eUICC for PC/SC (vsmartcard vpcd)"
)]
struct Cli {
    /// Print results as JSON.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// Create a card: EID, CERT.EUICC and its key, CERT.EUM, CERT.CI.
    Init {
        /// The card's state directory.
        #[arg(long, env = "VEUICC_STATE", default_value = "state/card0")]
        state: PathBuf,
        /// EID: 32 digits, or a 30-digit prefix to which the check digits are added.
        #[arg(long, default_value = statedir::DEFAULT_EID_PREFIX)]
        eid: String,
        /// Issue CERT.EUICC with the GSMA SGP.26 test EUM in this directory instead of minting
        /// a fresh CI and EUM (the EID must start with 89049032).
        #[arg(long, conflicts_with_all = ["ci_cert", "ci_key"])]
        sgp26: Option<PathBuf>,
        /// Mint the EUM and eUICC under this CI certificate (DER) instead of a fresh CI, e.g.
        /// the CI of a test SM-DP+ (`testbed smdp` writes STATE/ci.der).
        #[arg(long, requires = "ci_key")]
        ci_cert: Option<PathBuf>,
        /// The CI's private key (PEM), with --ci-cert.
        #[arg(long, requires = "ci_cert")]
        ci_key: Option<PathBuf>,
    },
    /// Install unprotected SAIP profile packages (e.g. TS.48 test profiles) without a download.
    LoadProfile {
        #[arg(long, env = "VEUICC_STATE", default_value = "state/card0")]
        state: PathBuf,
        /// Package files (DER).
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Enable the (last) profile after installing it.
        #[arg(long)]
        enable: bool,
        #[arg(long, value_enum, default_value_t = Class::Operational)]
        class: Class,
        /// ProfileInfo profileName (default: the package header's profileType).
        #[arg(long)]
        name: Option<String>,
        /// ProfileInfo serviceProviderName (default: EF.SPN of the package).
        #[arg(long)]
        spn: Option<String>,
        #[arg(long)]
        nickname: Option<String>,
        /// Notification address for install/enable/disable/delete ("" for none).
        #[arg(long, default_value = "smdp.veuicc.test")]
        notify: String,
    },
    /// Enable, disable or delete a profile (as ES10c would), by ICCID (EF.ICCID hex or digits).
    Profile {
        #[arg(long, env = "VEUICC_STATE", default_value = "state/card0")]
        state: PathBuf,
        #[arg(value_enum)]
        action: Action,
        iccid: String,
    },
    /// Show identity, profiles and pending notifications.
    List {
        #[arg(long, env = "VEUICC_STATE", default_value = "state/card0")]
        state: PathBuf,
    },
    /// Serve cards to pcscd through vpcd. Each `--card DIR[@HOST:PORT]` is one card; ports
    /// default to 35963, 35964, … in order.
    Serve {
        /// Card state directories, optionally with the vpcd address: `DIR@127.0.0.1:35963`.
        #[arg(
            long = "card",
            env = "VEUICC_CARDS",
            value_delimiter = ',',
            default_value = "state/card0"
        )]
        cards: Vec<String>,
        /// First vpcd port for cards without an explicit address.
        #[arg(long, default_value_t = vpcd::DEFAULT_PORT)]
        port: u16,
        /// Initialise missing card directories with a minted identity.
        #[arg(long)]
        init: bool,
    },
    /// Show or change the admin-operation authorisation policy (docs/authz.md).
    AuthzPolicy(authz_cli::Args),
    /// Return a card to a clean initial state.
    Reset {
        #[arg(long, env = "VEUICC_STATE", default_value = "state/card0")]
        state: PathBuf,
        /// Also delete the identity (the whole state directory).
        #[arg(long)]
        all: bool,
    },
}

#[derive(ValueEnum, Clone, Copy, Debug)]
enum Class {
    Test,
    Provisioning,
    Operational,
}

#[derive(ValueEnum, Clone, Copy, Debug)]
enum Action {
    Enable,
    Disable,
    Delete,
}

fn main() -> Result<()> {
    veuicc::logging::init("VEUICC_LOG", "info");
    let cli = Cli::parse();
    match cli.cmd {
        Cmd::Init {
            state,
            eid,
            sgp26,
            ci_cert,
            ci_key,
        } => {
            let eid = statedir::parse_eid(&eid)?;
            let source = match (sgp26, ci_cert, ci_key) {
                (Some(p), _, _) => IdentitySource::Sgp26(p),
                (None, Some(cert), Some(key)) => IdentitySource::UnderCi { cert, key },
                _ => IdentitySource::Mint,
            };
            let id = statedir::init(&state, eid, &source)?;
            emit(
                cli.json,
                json!({"state": state, "eid": id.eid_string(), "ci_ski": hex::encode_upper(id.ci_ski())}),
                &format!(
                    "initialised {} with EID {}",
                    state.display(),
                    id.eid_string()
                ),
            );
        }
        Cmd::LoadProfile {
            state,
            files,
            enable,
            class,
            name,
            spn,
            nickname,
            notify,
        } => {
            let mut card = statedir::open(&state)?;
            let mut out = Vec::new();
            let n = files.len();
            for (i, f) in files.iter().enumerate() {
                let bytes = std::fs::read(f).with_context(|| format!("reading {}", f.display()))?;
                let opts = SeedOptions {
                    service_provider_name: spn.clone(),
                    profile_name: name.clone(),
                    class: match class {
                        Class::Test => ProfileClass::Test,
                        Class::Provisioning => ProfileClass::Provisioning,
                        Class::Operational => ProfileClass::Operational,
                    },
                    nickname: nickname.clone(),
                    notification_address: (!notify.is_empty()).then(|| notify.clone()),
                    enable: enable && i + 1 == n,
                };
                let iccid = card
                    .state_mut()
                    .seed_package(&bytes, &opts)
                    .with_context(|| format!("loading {}", f.display()))?;
                out.push(json!({"file": f, "iccid": iccid_digits(&iccid)}));
                if !cli.json {
                    println!("installed {} from {}", iccid_digits(&iccid), f.display());
                }
            }
            if cli.json {
                println!("{}", serde_json::Value::Array(out));
            }
        }
        Cmd::Profile {
            state,
            action,
            iccid,
        } => {
            let mut card = statedir::open(&state)?;
            let id = ProfileId::Iccid(parse_iccid(&iccid)?);
            let s = card.state_mut();
            match action {
                Action::Enable => s.enable(&id)?,
                Action::Disable => s.disable(&id)?,
                Action::Delete => s.delete(&id)?,
            }
            emit(
                cli.json,
                json!({"ok": true}),
                &format!("{action:?}d {iccid}").to_lowercase(),
            );
        }
        Cmd::List { state } => {
            let card = statedir::open(&state)?;
            list(&card, &state, cli.json);
        }
        Cmd::Serve { cards, port, init } => serve(cards, port, init)?,
        Cmd::AuthzPolicy(args) => authz_cli::run(args, cli.json)?,
        Cmd::Reset { state, all } => {
            if all {
                if state.exists() {
                    std::fs::remove_dir_all(&state)
                        .with_context(|| format!("removing {}", state.display()))?;
                }
            } else {
                statedir::open(&state)?.state_mut().factory_reset()?;
            }
            emit(
                cli.json,
                json!({"ok": true}),
                &format!("reset {}", state.display()),
            );
        }
    }
    Ok(())
}

fn emit(json_out: bool, v: serde_json::Value, text: &str) {
    if json_out {
        println!("{v}");
    } else {
        println!("{text}");
    }
}

fn parse_iccid(s: &str) -> Result<Vec<u8>> {
    records::parse_iccid(s).ok_or_else(|| {
        anyhow::anyhow!("an ICCID has 19 or 20 digits (or 20 hex digits as in EF.ICCID)")
    })
}

fn list(card: &Euicc, dir: &Path, json_out: bool) {
    let s = card.state();
    let profiles: Vec<_> = s
        .profiles()
        .map(|p| {
            json!({
                "iccid": iccid_digits(&p.iccid),
                "isdp_aid": hex::encode_upper(&p.isdp_aid),
                "state": p.state,
                "class": p.class,
                "name": p.profile_name,
                "spn": p.service_provider_name,
                "nickname": p.nickname,
            })
        })
        .collect();
    let notes: Vec<_> = s
        .notifications()
        .map(|n| json!({"seq": n.seq, "event": n.event, "iccid": iccid_digits(&n.iccid), "address": n.address}))
        .collect();
    let v = json!({
        "state": dir,
        "eid": s.identity().eid_string(),
        "ci_ski": hex::encode_upper(s.identity().ci_ski()),
        "default_dp_address": s.config().default_dp_address,
        "profiles": profiles,
        "notifications": notes,
    });
    if json_out {
        println!("{v}");
        return;
    }
    println!("state     {}", dir.display());
    println!("EID       {}", s.identity().eid_string());
    println!("CI SKI    {}", hex::encode_upper(s.identity().ci_ski()));
    println!("profiles  {}", profiles.len());
    for p in s.profiles() {
        println!(
            "  {} {:<8} {:<11} {} / {}{}",
            iccid_digits(&p.iccid),
            format!("{:?}", p.state).to_lowercase(),
            format!("{:?}", p.class).to_lowercase(),
            p.service_provider_name,
            p.profile_name,
            p.nickname
                .as_ref()
                .map(|n| format!(" ({n})"))
                .unwrap_or_default()
        );
    }
    println!("notifications pending {}", notes.len());
    for n in s.notifications() {
        println!(
            "  #{} {:?} {} → {}",
            n.seq,
            n.event,
            iccid_digits(&n.iccid),
            n.address
        );
    }
}

fn serve(cards: Vec<String>, port: u16, init: bool) -> Result<()> {
    let mut slots = Vec::new();
    for (i, spec) in cards.iter().enumerate() {
        let (dir, addr) = match spec.rsplit_once('@') {
            Some((d, a)) => (
                PathBuf::from(d),
                a.parse::<SocketAddr>()
                    .with_context(|| format!("address in {spec}"))?,
            ),
            None => (
                PathBuf::from(spec),
                SocketAddr::from(([127, 0, 0, 1], port.wrapping_add(i as u16))),
            ),
        };
        if init && !statedir::is_initialised(&dir) {
            let eid_prefix = format!(
                "{}{:02}",
                &statedir::DEFAULT_EID_PREFIX[..28],
                (i + 1) % 100
            );
            let id = statedir::init(
                &dir,
                statedir::parse_eid(&eid_prefix)?,
                &IdentitySource::Mint,
            )?;
            info!(state = %dir.display(), eid = %id.eid_string(), "initialised card");
        }
        let card = statedir::open(&dir)?;
        info!(
            state = %dir.display(),
            %addr,
            eid = %card.state().identity().eid_string(),
            profiles = card.state().profiles().count(),
            "serving card"
        );
        let card: SharedCard = Arc::new(Mutex::new(card));
        slots.push(CardSlot { addr, card });
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let (trigger, shutdown) = vpcd::shutdown_channel();
        tokio::spawn(async move {
            let mut term =
                match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                    Ok(s) => s,
                    Err(_) => return,
                };
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {},
                _ = term.recv() => {},
            }
            info!("shutting down");
            trigger.trigger();
        });
        vpcd::serve_many(slots, VpcdOptions::default(), shutdown).await
    })?;
    Ok(())
}
