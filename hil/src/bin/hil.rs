//! `hil`: talk to an eUICC through PC/SC (virtual or real) or in-process. See docs/hil.md.

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};
use hil::client::{iccid_digits, imsi_digits, Client};
use hil::transport::{self, ApduTransport, InProcess, Pcsc};
use serde_json::json;
use std::path::PathBuf;

#[derive(Parser, Debug)]
#[command(
    name = "hil",
    version,
    about = "Drive an eUICC over PC/SC or in-process"
)]
struct Cli {
    /// PC/SC reader to use: the first whose name contains this text.
    #[arg(long, global = true, default_value = "")]
    reader: String,
    /// Use the card in this veuicc state directory in-process instead of PC/SC.
    #[arg(long, global = true)]
    state: Option<PathBuf>,
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
    Enable { iccid: String },
    /// Disable a profile by ICCID.
    Disable { iccid: String },
    /// Delete a profile by ICCID.
    Delete { iccid: String },
    /// Pending notifications (ListNotification).
    Notifications,
    /// Remove a notification by sequence number.
    RemoveNotification { seq: i64 },
    /// Read EF.ICCID and, with a profile enabled, EF.IMSI / EF.AD / EF.SPN of the USIM.
    Sim,
    /// Send raw APDUs (hex) and print the responses.
    Apdu { apdus: Vec<String> },
}

fn main() -> Result<()> {
    veuicc::logging::init("HIL_LOG", "warn");
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
    let (t, atr): (Box<dyn ApduTransport>, Vec<u8>) = match &cli.state {
        Some(dir) => {
            let card = veuicc::statedir::open(dir)?;
            let atr = veuicc::card::CardCore::atr(&card);
            (Box::new(InProcess::new(card)), atr)
        }
        None => {
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
    let result = run(&mut c, &cli, &atr);
    let _ = c.close_channel();
    result
}

fn parse_iccid(s: &str) -> Result<Vec<u8>> {
    veuicc::euicc::records::parse_iccid(s)
        .context("ICCID: 19–20 digits, or 20 hex digits as in EF.ICCID")
}

fn run(c: &mut Client<Box<dyn ApduTransport>>, cli: &Cli, atr: &[u8]) -> Result<()> {
    let out = |v: serde_json::Value, text: String| {
        if cli.json {
            println!("{v}");
        } else {
            println!("{text}");
        }
    };
    match &cli.cmd {
        Cmd::Readers | Cmd::Apdu { .. } => {}
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
        Cmd::Enable { iccid } | Cmd::Disable { iccid } | Cmd::Delete { iccid } => {
            c.select_isdr()?;
            let i = parse_iccid(iccid)?;
            let (op, r) = match &cli.cmd {
                Cmd::Enable { .. } => ("enable", c.enable(&i, true)?),
                Cmd::Disable { .. } => ("disable", c.disable(&i, true)?),
                _ => ("delete", c.delete(&i)?),
            };
            out(
                json!({"operation": op, "result": r}),
                format!("{op}: result {r}"),
            );
            if r != 0 {
                bail!("{op} refused with SGP.22 result code {r}");
            }
        }
        Cmd::Notifications => {
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
