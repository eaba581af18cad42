//! `hil`: talk to an eUICC through PC/SC (virtual or real), a modem's AT port, or in-process.
//! See docs/hil.md.

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};
use hil::client::{iccid_digits, imsi_digits, Client};
use hil::lpa::{self, DownloadParams, HttpsEs9, HttpsOptions, NotificationDelivery, Progress};
use hil::transport::at::{AtModem, AtOptions};
use hil::transport::{self, ApduTransport, InProcess, Pcsc};
use serde_json::json;
use std::path::PathBuf;
use std::time::{Duration, Instant};

#[path = "hil/authz_cli.rs"]
mod authz_cli;

#[derive(Parser, Debug)]
#[command(
    name = "hil",
    version,
    about = "Drive an eUICC over PC/SC, a modem's AT port, or in-process"
)]
struct Cli {
    /// PC/SC reader to use: the first whose name contains this text.
    #[arg(long, global = true, default_value = "")]
    reader: String,
    /// Use the card in this veuicc state directory in-process instead of PC/SC.
    #[arg(long, global = true, conflicts_with = "at")]
    state: Option<PathBuf>,
    /// Reach the eUICC through a modem's AT port instead of PC/SC: a serial device or PTY
    /// path, unix:PATH, unix:@NAME or tcp:HOST:PORT.
    #[arg(long, global = true, value_name = "DEVICE|unix:PATH|tcp:HOST:PORT")]
    at: Option<String>,
    /// With --at: carry APDUs with AT+CCHO/AT+CGLA (cgla) or AT+CSIM with MANAGE CHANNEL (csim).
    #[arg(long, global = true, default_value = "cgla", value_parser = ["cgla", "csim"])]
    at_mode: String,
    /// Use a logical channel for ES10 (as LPAs do) instead of the basic channel.
    #[arg(long, global = true)]
    channel: bool,
    /// JSON output.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// List PC/SC readers.
    Readers,
    /// ATR, EID, EUICCInfo1/2 summary, configured addresses.
    ChipInfo,
    /// List profiles (GetProfilesInfo).
    Profiles,
    /// Enable a profile by ICCID (digits, or EF.ICCID hex).
    Enable {
        iccid: String,
        #[command(flatten)]
        auth: authz_cli::AuthArgs,
    },
    /// Disable a profile by ICCID.
    Disable {
        iccid: String,
        #[command(flatten)]
        auth: authz_cli::AuthArgs,
    },
    /// Delete a profile by ICCID.
    Delete {
        iccid: String,
        #[command(flatten)]
        auth: authz_cli::AuthArgs,
    },
    /// Pending notifications: list (default), or process (send each to its SM-DP+ and remove it).
    Notifications {
        #[command(subcommand)]
        action: Option<NotificationsCmd>,
    },
    /// Remove a notification by sequence number.
    RemoveNotification { seq: i64 },
    /// Download and install a profile from an SM-DP+ (SGP.22 §3.1.3).
    Download(DownloadArgs),
    /// Set a profile's nickname.
    Nickname {
        iccid: String,
        name: String,
        #[command(flatten)]
        auth: authz_cli::AuthArgs,
    },
    /// The device's simulated secure element (human intent, docs/authz.md).
    Se {
        #[command(subcommand)]
        cmd: authz_cli::SeCmd,
    },
    /// Admin-operation authorisation: policy, replay, memory reset, firmware (docs/authz.md).
    Authz {
        #[command(subcommand)]
        cmd: authz_cli::AuthzCmd,
    },
    /// Show the default SM-DP+ address, or set it.
    DefaultDp { address: Option<String> },
    /// Read EF.ICCID and, with a profile enabled, EF.IMSI / EF.AD / EF.SPN of the USIM.
    Sim,
    /// Send raw APDUs (hex) and print the responses.
    Apdu { apdus: Vec<String> },
    /// Scenarios: `hil scenario run FILE|DIR...` (TOML: files, services, steps with
    /// expectations; see docs/hil.md).
    Scenario {
        #[command(subcommand)]
        action: ScenarioCmd,
    },
    /// With --at: send AT commands (e.g. 'AT+CEREG?') and print each answer; exits non-zero
    /// on the first that does not end in OK. IMEI-write commands are never sent.
    At { commands: Vec<String> },
    /// IMEI binding records: from the card (vendor ES10 GetImeiBinding, FF20); with --at, from
    /// the modem (AT+VIMEIBIND) when the card does not keep them.
    ImeiBinding {
        /// Only this profile (ICCID digits).
        #[arg(long)]
        iccid: Option<String>,
    },
}

#[derive(Subcommand, Debug)]
enum ScenarioCmd {
    /// Run scenario files (or directories of *.toml); exits non-zero if any fails.
    Run(ScenarioArgs),
}

#[derive(clap::Args, Debug)]
struct ScenarioArgs {
    /// Scenario files (or directories of *.toml).
    #[arg(required = true)]
    files: Vec<std::path::PathBuf>,
    /// Directory of the project's binaries (default: the directory of this hil).
    #[arg(long)]
    bin: Option<std::path::PathBuf>,
    /// Test data (default: $VEUICC_TESTDATA, else ../shared/testdata).
    #[arg(long)]
    testdata: Option<std::path::PathBuf>,
    /// Keep each scenario's directory.
    #[arg(long)]
    keep: bool,
    /// Print every step's output.
    #[arg(long, short)]
    verbose: bool,
}

#[derive(Subcommand, Debug)]
enum NotificationsCmd {
    /// List pending notifications (ListNotification).
    List,
    /// Send every pending notification to its address (ES9+ handleNotification), then remove it.
    Process(Es9Args),
    /// Remove a notification by sequence number without sending it.
    Remove { seq: i64 },
}

/// How to reach SM-DP+s over HTTPS.
#[derive(clap::Args, Debug, Clone)]
struct Es9Args {
    /// Trust this CA certificate (PEM or DER) for the SM-DP+'s TLS certificate, instead of the
    /// system roots (e.g. the test CI of `testbed smdp`).
    #[arg(long, env = "HIL_CA")]
    ca: Option<PathBuf>,
    /// With --ca: trust the system roots too.
    #[arg(long)]
    also_system_roots: bool,
    /// Resolve HOST to IP instead of asking DNS (HOST=IP, repeatable), e.g. a test SM-DP+ named
    /// testsmdpplus1.example.com on 127.0.0.1.
    #[arg(long, value_name = "HOST=IP")]
    resolve: Vec<String>,
}

#[derive(clap::Args, Debug)]
struct DownloadArgs {
    /// Activation code: LPA:1$SM-DP+ address$matching ID[$OID[$1]].
    #[arg(long, short = 'a', conflicts_with_all = ["smdp", "matching_id"])]
    activation_code: Option<String>,
    /// SM-DP+ address (host[:port]) when no activation code is given.
    #[arg(long, required_unless_present = "activation_code")]
    smdp: Option<String>,
    /// Matching ID (AC_Token) when no activation code is given.
    #[arg(long)]
    matching_id: Option<String>,
    /// Confirmation code, when the operator requires one.
    #[arg(long, short = 'c')]
    confirmation_code: Option<String>,
    /// IMEI sent in deviceInfo (15 or 16 digits; default with --at: the modem's, read with
    /// AT+CGSN=1).
    #[arg(long)]
    imei: Option<String>,
    /// TAC sent in deviceInfo (8 digits; default: from the IMEI).
    #[arg(long)]
    tac: Option<String>,
    #[command(flatten)]
    es9: Es9Args,
    #[command(flatten)]
    auth: authz_cli::AuthArgs,
}

fn https(args: &Es9Args) -> Result<HttpsEs9> {
    let mut opts = HttpsOptions::default();
    if let Some(ca) = &args.ca {
        opts = opts.with_ca_file(ca, !args.also_system_roots)?;
    }
    for r in &args.resolve {
        let (host, ip) = r.split_once('=').context("--resolve takes HOST=IP")?;
        opts.resolve.push((
            host.to_string(),
            ip.parse().context("--resolve: not an IP address")?,
        ));
    }
    Ok(HttpsEs9::new(&opts)?)
}

/// Progress lines on stderr, with the time since the command started.
fn progress_printer(t0: Instant) -> impl FnMut(&Progress) {
    let mut last_segment_line = Instant::now();
    move |p: &Progress| {
        let at = t0.elapsed().as_secs_f64() * 1000.0;
        match p {
            Progress::Started(_) => {}
            Progress::Finished(step, d) => {
                eprintln!("[{at:8.1} ms] {step:<30} {:7.1} ms", d.as_secs_f64() * 1000.0)
            }
            Progress::Profile {
                iccid,
                name,
                service_provider_name,
                class,
            } => eprintln!(
                "[{at:8.1} ms] profile offered: ICCID {iccid}, {name:?} by {service_provider_name:?}, class {}",
                class_name(*class)
            ),
            Progress::Segment { done, total } => {
                if *done == *total || last_segment_line.elapsed() > Duration::from_millis(500) {
                    last_segment_line = Instant::now();
                    eprintln!("[{at:8.1} ms]   segment {done}/{total}");
                }
            }
            Progress::Cancelled { detail } => eprintln!("[{at:8.1} ms] session cancelled: {detail}"),
            Progress::Notification { seq, address, outcome } => {
                eprintln!("[{at:8.1} ms] notification {seq} to {address}: {outcome}")
            }
        }
    }
}

fn class_name(c: i64) -> &'static str {
    match c {
        0 => "test",
        1 => "provisioning",
        2 => "operational",
        _ => "unknown",
    }
}

fn main() -> Result<()> {
    veuicc::logging::init("HIL_LOG", "warn,rustls_platform_verifier=off");
    let cli = Cli::parse();
    if let Cmd::Readers = cli.cmd {
        let r = transport::list_readers()?;
        if cli.json {
            println!("{}", json!(r));
        } else {
            r.iter().for_each(|n| println!("{n}"));
        }
        return Ok(());
    }
    if let Cmd::Scenario {
        action: ScenarioCmd::Run(a),
    } = &cli.cmd
    {
        return run_scenarios(a);
    }
    if let Cmd::Se { cmd } = &cli.cmd {
        if matches!(
            cmd,
            authz_cli::SeCmd::Show { .. } | authz_cli::SeCmd::Init { eid: Some(_), .. }
        ) {
            return authz_cli::run_se(None, cmd);
        }
    }
    if let Cmd::At { commands } = &cli.cmd {
        let Some(spec) = &cli.at else {
            anyhow::bail!("hil at needs --at DEVICE|unix:PATH|tcp:HOST:PORT");
        };
        let mut m = AtModem::connect(spec, AtOptions::default())?;
        for cmd in commands {
            let r = m.raw_command(cmd)?;
            if cli.json {
                println!(
                    "{}",
                    json!({"command": cmd, "lines": r.lines, "final": r.fin.to_string()})
                );
            } else {
                println!("> {cmd}");
                r.lines.iter().for_each(|l| println!("< {l}"));
                println!("< {}", r.fin);
            }
            if r.fin != hil::transport::at::FinalCode::Ok {
                anyhow::bail!("{cmd}: {}", r.summary());
            }
        }
        return Ok(());
    }
    if let (Cmd::ImeiBinding { iccid }, Some(spec)) = (&cli.cmd, &cli.at) {
        return imei_binding_at(&cli, spec, iccid.as_deref());
    }
    let mut modem_imei = None;
    let (t, atr): (Box<dyn ApduTransport>, Vec<u8>) = match (&cli.state, &cli.at) {
        (_, Some(spec)) => {
            let opts = AtOptions::default().with_mode(cli.at_mode.parse()?);
            let mut m = AtModem::connect(spec, opts)?;
            modem_imei = download_imei(&cli.cmd, &mut m)?;
            // A modem does not show the card's ATR.
            (Box::new(m), Vec::new())
        }
        (Some(dir), None) => {
            let card = veuicc::statedir::open(dir)?;
            let atr = veuicc::card::CardCore::atr(&card);
            (Box::new(InProcess::new(card)), atr)
        }
        (None, None) => {
            let p = Pcsc::connect(&cli.reader)?;
            let atr = p.atr()?;
            (Box::new(p), atr)
        }
    };
    let mut c = Client::new(t);
    if let Cmd::Apdu { apdus } = &cli.cmd {
        for a in apdus {
            let raw = hex::decode(a.replace(' ', "")).context("APDU hex")?;
            let r = c.transport().transmit(&raw)?;
            println!("{} -> {}", a, hex::encode_upper(r));
        }
        return Ok(());
    }
    if cli.channel {
        c.open_channel()?;
    }
    let result = run(&mut c, &cli, &atr, modem_imei.as_deref());
    let _ = c.close_channel();
    result
}

/// For a download over a modem without `--imei`: the IMEI the modem reports (`AT+CGSN=1`),
/// sent in DeviceInfo as a device's LPA would.
fn download_imei(cmd: &Cmd, m: &mut AtModem) -> Result<Option<String>> {
    let Cmd::Download(args) = cmd else {
        return Ok(None);
    };
    if args.imei.is_some() {
        return Ok(None);
    }
    let imei = m
        .imei()
        .context("reading the modem's IMEI for DeviceInfo")?;
    eprintln!("IMEI from the modem (AT+CGSN=1): {imei}");
    Ok(Some(imei))
}

/// `imei-binding` over a modem: the card's records, else the modem's.
fn imei_binding_at(cli: &Cli, spec: &str, iccid: Option<&str>) -> Result<()> {
    let ef = iccid.map(parse_iccid).transpose()?;
    let opts = AtOptions::default().with_mode(cli.at_mode.parse()?);
    let mut c = Client::new(AtModem::connect(spec, opts)?);
    if cli.channel {
        c.open_channel()?;
    }
    let from_card = hil::imei_binding::read_card(&mut c, ef.as_deref());
    let _ = c.close_channel();
    let list = match from_card? {
        Some(l) => l,
        None => {
            eprintln!("the card keeps no IMEI binding records: asking the modem (AT+VIMEIBIND)");
            let m = c.transport();
            m.close_session()?;
            hil::imei_binding::read_modem(m, iccid)?
        }
    };
    print_bindings(cli, &list);
    Ok(())
}

fn print_bindings(cli: &Cli, list: &[hil::imei_binding::Binding]) {
    if cli.json {
        println!("{}", json!(list));
    } else {
        print!("{}", hil::imei_binding::render(list));
    }
}

fn parse_iccid(s: &str) -> Result<Vec<u8>> {
    veuicc::euicc::records::parse_iccid(s)
        .context("ICCID: 19–20 digits, or 20 hex digits as in EF.ICCID")
}

fn run(
    c: &mut Client<Box<dyn ApduTransport>>,
    cli: &Cli,
    atr: &[u8],
    modem_imei: Option<&str>,
) -> Result<()> {
    let out = |v: serde_json::Value, text: String| {
        if cli.json {
            println!("{v}");
        } else {
            println!("{text}");
        }
    };
    match &cli.cmd {
        Cmd::Readers | Cmd::Apdu { .. } | Cmd::At { .. } | Cmd::Scenario { .. } => {}
        Cmd::ChipInfo => {
            c.select_isdr()?;
            let eid = hex::encode_upper(c.get_eid()?);
            let i1 = c.euicc_info1()?;
            let i2 = c.euicc_info2()?;
            let addr = c.configured_addresses()?;
            let ci: Vec<String> = i1
                .euicc_ci_pkid_list_for_verification
                .iter()
                .map(hex::encode_upper)
                .collect();
            out(
                json!({"transport": c.transport().describe(), "atr": hex::encode_upper(atr), "eid": eid,
                       "svn": hex::encode_upper(&i2.svn), "profile_version": hex::encode_upper(&i2.profile_version),
                       "ci_pkids": ci, "default_dp_address": addr.default_dp_address,
                       "root_ds_address": addr.root_ds_address, "sas": i2.sas_acreditation_number}),
                format!(
                    "transport   {}\nATR         {}\nEID         {}\nSGP.22 SVN  {}\nCI PKIDs    {}\ndefault DP  {}\nroot DS     {}",
                    c.transport().describe(),
                    hex::encode_upper(atr),
                    eid,
                    hex::encode_upper(&i2.svn),
                    ci.join(", "),
                    addr.default_dp_address.unwrap_or_default(),
                    addr.root_ds_address
                ),
            );
        }
        Cmd::Profiles => {
            c.select_isdr()?;
            let list = c.profiles(None)?;
            let rows: Vec<_> = list
                .iter()
                .map(|p| {
                    let iccid = p.iccid.as_ref().map(|i| i.to_vec()).unwrap_or_default();
                    json!({"iccid": iccid_digits(&iccid), "iccid_hex": hex::encode_upper(&iccid),
                           "state": p.profile_state.map(|s| if s.0 == 1 {"enabled"} else {"disabled"}),
                           "name": p.profile_name, "spn": p.service_provider_name,
                           "nickname": p.profile_nickname, "class": p.profile_class.map(|c| c.0),
                           "isdp_aid": p.isdp_aid.as_ref().map(hex::encode_upper)})
                })
                .collect();
            let text = rows
                .iter()
                .map(|r| format!("{} {} {} {}", r["iccid"], r["state"], r["spn"], r["name"]))
                .collect::<Vec<_>>()
                .join("\n");
            out(
                json!(rows),
                if text.is_empty() {
                    "no profiles".into()
                } else {
                    text
                },
            );
        }
        Cmd::Enable { iccid, auth }
        | Cmd::Disable { iccid, auth }
        | Cmd::Delete { iccid, auth } => {
            use rsp::authz::Operation as O;
            c.select_isdr()?;
            let i = parse_iccid(iccid)?;
            let aop = match &cli.cmd {
                Cmd::Enable { .. } => O::Enable,
                Cmd::Disable { .. } => O::Disable,
                _ => O::Delete,
            };
            let prepared = authz_cli::before(c, aop, Some(&i), auth)?;
            let (op, r) = match aop {
                O::Enable => ("enable", c.enable(&i, true)?),
                O::Disable => ("disable", c.disable(&i, true)?),
                _ => ("delete", c.delete(&i)?),
            };
            out(
                json!({"operation": op, "result": r}),
                format!("{op}: result {r}"),
            );
            if r != 0 {
                return Err(authz_cli::refused(c, aop, Some(&i), r, &prepared));
            }
        }
        Cmd::Se { cmd } => authz_cli::run_se(Some(c), cmd)?,
        Cmd::Authz { cmd } => authz_cli::run_authz(c, cmd, cli.json)?,
        Cmd::Notifications {
            action: Some(NotificationsCmd::Process(args)),
        } => {
            let mut es9 = https(args)?;
            let t0 = Instant::now();
            let mut printer = progress_printer(t0);
            let reports = lpa::process_notifications(c, &mut es9, Some(&mut printer))?;
            let rows: Vec<_> = reports
                .iter()
                .map(|r| {
                    json!({"seq": r.seq, "event": r.event, "address": r.address, "iccid": r.iccid,
                           "delivered": r.delivered, "removed": r.removed, "error": r.error})
                })
                .collect();
            let failed = reports.iter().filter(|r| !r.removed).count();
            out(
                json!(rows),
                format!(
                    "{} notification(s) processed, {} delivered and removed, {failed} left pending",
                    reports.len(),
                    reports.len() - failed
                ),
            );
            if failed > 0 {
                bail!("{failed} notification(s) could not be delivered or removed");
            }
        }
        Cmd::Notifications {
            action: Some(NotificationsCmd::Remove { seq }),
        } => {
            c.select_isdr()?;
            let r = c.remove_notification(*seq)?;
            out(
                json!({"result": r}),
                format!("remove notification {seq}: result {r}"),
            );
        }
        Cmd::Notifications {
            action: None | Some(NotificationsCmd::List),
        } => {
            c.select_isdr()?;
            let l = c.list_notifications()?;
            let rows: Vec<_> = l
                .iter()
                .map(|n| {
                    json!({"seq": n.seq_number, "events": n.profile_management_operation.set_bits(),
                                "address": n.notification_address,
                                "iccid": n.iccid.as_ref().map(|i| iccid_digits(i))})
                })
                .collect();
            let text = rows
                .iter()
                .map(|r| r.to_string())
                .collect::<Vec<_>>()
                .join("\n");
            out(
                json!(rows),
                if text.is_empty() {
                    "no notifications".into()
                } else {
                    text
                },
            );
        }
        Cmd::RemoveNotification { seq } => {
            c.select_isdr()?;
            let r = c.remove_notification(*seq)?;
            out(
                json!({"result": r}),
                format!("remove notification {seq}: result {r}"),
            );
        }
        Cmd::Download(args) => download(c, args, cli.json, modem_imei)?,
        Cmd::ImeiBinding { iccid } => {
            let ef = iccid.as_deref().map(parse_iccid).transpose()?;
            match hil::imei_binding::read_card(c, ef.as_deref())? {
                Some(list) => print_bindings(cli, &list),
                None => bail!(
                    "the card does not keep IMEI binding records (GetImeiBinding FF20 refused)"
                ),
            }
        }
        Cmd::Nickname { iccid, name, auth } => {
            c.select_isdr()?;
            let i = parse_iccid(iccid)?;
            let op = rsp::authz::Operation::Nickname;
            let prepared = authz_cli::before(c, op, Some(&i), auth)?;
            let r = c.set_nickname(&i, name)?;
            out(
                json!({"operation": "nickname", "result": r}),
                format!("nickname: result {r}"),
            );
            if r != 0 {
                return Err(authz_cli::refused(c, op, Some(&i), r, &prepared));
            }
        }
        Cmd::DefaultDp { address } => {
            c.select_isdr()?;
            if let Some(a) = address {
                let r = c.set_default_dp(a)?;
                out(
                    json!({"operation": "default-dp", "result": r}),
                    format!("default SM-DP+ address set to {a:?}: result {r}"),
                );
                if r != 0 {
                    bail!("SetDefaultDpAddress refused with SGP.22 result code {r}");
                }
            } else {
                let a = c.configured_addresses()?;
                out(
                    json!({"default_dp_address": a.default_dp_address, "root_ds_address": a.root_ds_address}),
                    format!(
                        "default DP  {}\nroot DS     {}",
                        a.default_dp_address.unwrap_or_default(),
                        a.root_ds_address
                    ),
                );
            }
        }
        Cmd::Sim => {
            let iccid = c.read_ef(None, &[0x2FE2])?;
            let usim = hex::decode("A0000000871002").unwrap_or_default();
            let imsi = c.read_ef(Some(&usim), &[0x6F07]).ok();
            let ad = c.read_ef(Some(&usim), &[0x6FAD]).ok();
            let spn = c.read_ef(Some(&usim), &[0x6F46]).ok();
            let mnc_len = ad.as_ref().and_then(|a| a.get(3)).map(|b| b & 0x0F);
            let spn_text = spn.as_ref().map(|s| {
                s.iter()
                    .skip(1)
                    .take_while(|b| **b != 0xFF)
                    .map(|b| if *b == 0x11 { '_' } else { *b as char })
                    .collect::<String>()
            });
            let imsi = imsi.as_deref().and_then(imsi_digits);
            out(
                json!({"iccid": iccid_digits(&iccid), "imsi": imsi, "mnc_len": mnc_len, "spn": spn_text}),
                format!(
                    "ICCID  {}\nIMSI   {}\nMNC    {} digits\nSPN    {}",
                    iccid_digits(&iccid),
                    imsi.clone().unwrap_or_default(),
                    mnc_len.map(|m| m.to_string()).unwrap_or_default(),
                    spn_text.clone().unwrap_or_default()
                ),
            );
        }
    }
    Ok(())
}

fn download(
    c: &mut Client<Box<dyn ApduTransport>>,
    args: &DownloadArgs,
    json_out: bool,
    modem_imei: Option<&str>,
) -> Result<()> {
    let mut params = match &args.activation_code {
        Some(ac) => {
            let code: rsp::es9::ActivationCode = ac.parse().context("activation code")?;
            if code.confirmation_code_required && args.confirmation_code.is_none() {
                bail!("this activation code requires a confirmation code (--confirmation-code)");
            }
            DownloadParams::new(&code.smdp_address, &code.matching_id)
        }
        None => DownloadParams::new(
            args.smdp.as_deref().unwrap_or_default(),
            args.matching_id.as_deref().unwrap_or_default(),
        ),
    };
    params.confirmation_code = args.confirmation_code.clone();
    params.imei = args.imei.clone().or(modem_imei.map(str::to_string));
    params.tac = args.tac.clone();
    let mut es9 = https(&args.es9)?;
    let install = rsp::authz::Operation::Install;
    let prepared = if authz_cli::wants_proofs(&args.auth) {
        c.select_isdr()?;
        authz_cli::before(c, install, None, &args.auth)?
    } else {
        authz_cli::Prepared::default()
    };
    let t0 = Instant::now();
    eprintln!(
        "[{:8.1} ms] downloading from {} (card: {}; SM-DP+: {})",
        0.0,
        params.smdp_address,
        c.transport().describe(),
        lpa::Es9Transport::describe(&es9)
    );
    let mut printer = progress_printer(t0);
    let params = params.with_progress(&mut printer);
    let o = match lpa::download(c, &mut es9, params) {
        Ok(o) => o,
        Err(e) => {
            return Err(match e.euicc_code() {
                Some(code) if e.step() == Some(lpa::Step::PrepareDownload) => {
                    let why = authz_cli::refused(c, install, None, code, &prepared);
                    anyhow::anyhow!("{e}; {why}")
                }
                _ => e.into(),
            })
        }
    };
    let notification = match &o.notification {
        NotificationDelivery::Delivered => "delivered and removed".to_string(),
        NotificationDelivery::DeliveredNotRemoved(e) => format!("delivered, not removed: {e}"),
        NotificationDelivery::Pending(e) => format!("pending: {e}"),
    };
    let timings: serde_json::Map<String, serde_json::Value> = o
        .timings
        .iter()
        .map(|(s, d)| (s.name().to_string(), json!(d.as_secs_f64() * 1000.0)))
        .collect();
    if json_out {
        println!(
            "{}",
            json!({"iccid": o.iccid, "isdp_aid": hex::encode_upper(&o.isdp_aid),
                   "name": o.profile_name, "spn": o.service_provider_name,
                   "class": class_name(o.profile_class),
                   "transaction_id": hex::encode_upper(&o.transaction_id),
                   "bpp_bytes": o.bpp_len, "segments": o.segments,
                   "pir": hex::encode_upper(&o.pir), "notification": notification,
                   "timings_ms": timings, "total_ms": o.total.as_secs_f64() * 1000.0})
        );
    } else {
        println!(
            "installed {} ({:?} by {:?}, class {}) in ISD-P {}: {} bytes in {} segments, {:.1} ms; installation result {}",
            o.iccid,
            o.profile_name,
            o.service_provider_name,
            class_name(o.profile_class),
            hex::encode_upper(&o.isdp_aid),
            o.bpp_len,
            o.segments,
            o.total.as_secs_f64() * 1000.0,
            notification
        );
    }
    Ok(())
}

fn run_scenarios(a: &ScenarioArgs) -> Result<()> {
    use hil::scenario;
    let bin = match &a.bin {
        Some(b) => b.clone(),
        None => std::env::current_exe()?
            .parent()
            .map(std::path::Path::to_path_buf)
            .context("the directory of hil")?,
    };
    let testdata = a.testdata.clone().unwrap_or_else(|| {
        std::env::var_os("VEUICC_TESTDATA")
            .map(std::path::PathBuf::from)
            .unwrap_or_else(|| "../shared/testdata".into())
    });
    // Steps run in the scenario's own directory: paths must not be relative.
    let testdata = std::fs::canonicalize(&testdata).unwrap_or(testdata);
    let bin = std::fs::canonicalize(&bin).unwrap_or(bin);
    let opts = scenario::RunOptions {
        bin,
        testdata,
        keep: a.keep,
        verbose: a.verbose,
    };
    let mut files = Vec::new();
    for f in &a.files {
        if f.is_dir() {
            let mut v: Vec<_> = std::fs::read_dir(f)?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "toml"))
                .collect();
            v.sort();
            files.extend(v);
        } else {
            files.push(f.clone());
        }
    }
    let mut failed = Vec::new();
    for f in &files {
        let result = scenario::load(f).and_then(|s| scenario::run(&s, &opts));
        match result {
            Ok(r) => eprintln!(
                "PASS {} ({} steps, {} ms)",
                f.display(),
                r.steps.len(),
                r.elapsed.as_millis()
            ),
            Err(e) => {
                eprintln!("FAIL {}: {e}", f.display());
                failed.push(f.display().to_string());
            }
        }
    }
    if !failed.is_empty() {
        anyhow::bail!(
            "{} of {} scenario(s) failed: {}",
            failed.len(),
            files.len(),
            failed.join(", ")
        );
    }
    eprintln!("{} scenario(s) passed", files.len());
    Ok(())
}
