//! `veuicc authz-policy`: show or change a card's admin-operation authorisation policy
//! (docs/authz.md).

use anyhow::{bail, Context, Result};
use rsp::authz::{Operation, Requirement};
use serde_json::json;
use std::path::PathBuf;
use veuicc::euicc::records::{iccid_digits, parse_iccid};
use veuicc::isdr::authz::policy::{parse_public_key, AuthzPolicy};
use veuicc::statedir;

#[derive(clap::Args, Debug)]
pub struct Args {
    #[arg(long, env = "VEUICC_STATE", default_value = "state/card0")]
    state: PathBuf,
    /// What an operation needs: OP=none|user|intent|both (OP: install, nickname, enable,
    /// disable, delete, export, memory-reset, firmware, policy, or all). Repeatable.
    #[arg(long, value_name = "OP=REQ")]
    require: Vec<String>,
    /// A per-profile rule: ICCID:OP=REQ. Repeatable.
    #[arg(long, value_name = "ICCID:OP=REQ")]
    profile: Vec<String>,
    /// Mark a profile as an emergency profile (enable/disable exempt). Repeatable.
    #[arg(long, value_name = "ICCID")]
    emergency: Vec<String>,
    /// Remove a profile from the emergency list. Repeatable.
    #[arg(long, value_name = "ICCID")]
    no_emergency: Vec<String>,
    /// Whether enabling/disabling provisioning profiles is exempt.
    #[arg(long, value_name = "BOOL")]
    exempt_provisioning: Option<bool>,
    /// Trust an account server's assertion key: 130 hex digits (04…), or a file holding them
    /// (`testbed account-server` writes STATE/assertion-key.pub). Repeatable.
    #[arg(long, value_name = "HEX|FILE")]
    account_key: Vec<String>,
    /// Register a secure element's key for this eUICC: hex or a file (`hil se init` writes
    /// KEY.pub). Repeatable.
    #[arg(long, value_name = "HEX|FILE")]
    intent_key: Vec<String>,
    /// Forget every account and secure-element key first.
    #[arg(long)]
    clear_keys: bool,
    /// Longest accepted assertion lifetime, seconds.
    #[arg(long, value_name = "SECONDS")]
    max_lifetime: Option<u64>,
    /// How many ES10 commands a nonce stays valid.
    #[arg(long, value_name = "N")]
    nonce_lifetime: Option<u32>,
    /// Whether GetAdminPolicy may return the whole policy.
    #[arg(long, value_name = "BOOL")]
    readable: Option<bool>,
    /// Whether SetAdminPolicy may replace the policy through ES10.
    #[arg(long, value_name = "BOOL")]
    es10_writable: Option<bool>,
    /// Replace the whole policy with this JSON file first.
    #[arg(long, value_name = "FILE")]
    from_file: Option<PathBuf>,
    /// Start from the open policy (nothing required, no keys).
    #[arg(long)]
    reset: bool,
    /// Link a profile to an account: ICCID=ACCOUNT. Repeatable.
    #[arg(long, value_name = "ICCID=ACCOUNT")]
    link: Vec<String>,
    /// Remove a profile's account link. Repeatable.
    #[arg(long, value_name = "ICCID")]
    unlink: Vec<String>,
}

fn iccid(s: &str) -> Result<Vec<u8>> {
    parse_iccid(s).with_context(|| format!("{s:?} is not an ICCID (19–20 digits)"))
}

/// A public key given as hex or as a file holding hex.
fn key(arg: &str) -> Result<String> {
    if let Some(k) = parse_public_key(arg) {
        return Ok(hex::encode_upper(k));
    }
    let text = std::fs::read_to_string(arg)
        .with_context(|| format!("{arg:?} is neither a hex public key nor a readable file"))?;
    let token = text
        .split_whitespace()
        .find(|t| parse_public_key(t).is_some());
    match token.and_then(parse_public_key) {
        Some(k) => Ok(hex::encode_upper(k)),
        None => bail!("{arg}: no uncompressed P-256 public key (130 hex digits, 04…) in it"),
    }
}

fn op_req(s: &str) -> Result<(Vec<Operation>, Requirement)> {
    let (op, req) = s
        .split_once('=')
        .with_context(|| format!("{s:?}: expected OP=REQUIREMENT"))?;
    let req: Requirement = req.parse().map_err(anyhow::Error::msg)?;
    let ops = if op.trim().eq_ignore_ascii_case("all") {
        Operation::ALL.to_vec()
    } else {
        vec![op.parse::<Operation>().map_err(anyhow::Error::msg)?]
    };
    Ok((ops, req))
}

fn edit(mut p: AuthzPolicy, a: &Args) -> Result<AuthzPolicy> {
    if a.reset {
        p = AuthzPolicy::default();
    }
    if let Some(f) = &a.from_file {
        let text = std::fs::read(f).with_context(|| format!("reading {}", f.display()))?;
        p = AuthzPolicy::from_json(&text).with_context(|| f.display().to_string())?;
    }
    for r in &a.require {
        let (ops, req) = op_req(r)?;
        for op in ops {
            p.rules.insert(op, req);
        }
    }
    for r in &a.profile {
        let (i, rest) = r
            .split_once(':')
            .with_context(|| format!("{r:?}: expected ICCID:OP=REQUIREMENT"))?;
        let digits = iccid_digits(&iccid(i)?);
        let (ops, req) = op_req(rest)?;
        let m = p.profiles.entry(digits).or_default();
        for op in ops {
            m.insert(op, req);
        }
    }
    for e in &a.emergency {
        let d = iccid_digits(&iccid(e)?);
        if !p.emergency_iccids.contains(&d) {
            p.emergency_iccids.push(d);
        }
    }
    for e in &a.no_emergency {
        let d = iccid_digits(&iccid(e)?);
        p.emergency_iccids.retain(|x| *x != d);
    }
    if a.clear_keys {
        p.account_keys.clear();
        p.intent_keys.clear();
    }
    for k in &a.account_key {
        let k = key(k)?;
        if !p.account_keys.contains(&k) {
            p.account_keys.push(k);
        }
    }
    for k in &a.intent_key {
        let k = key(k)?;
        if !p.intent_keys.contains(&k) {
            p.intent_keys.push(k);
        }
    }
    if let Some(v) = a.exempt_provisioning {
        p.exempt_provisioning = v;
    }
    if let Some(v) = a.max_lifetime {
        p.max_assertion_lifetime_s = v;
    }
    if let Some(v) = a.nonce_lifetime {
        p.nonce_lifetime = v;
    }
    if let Some(v) = a.readable {
        p.readable = v;
    }
    if let Some(v) = a.es10_writable {
        p.es10_writable = v;
    }
    Ok(p)
}

pub fn run(a: Args, json_out: bool) -> Result<()> {
    let mut card = statedir::open(&a.state)?;
    let s = card.state_mut();
    let before = s.authz().policy().clone();
    let after = edit(before.clone(), &a)?;
    if after != before {
        s.authz_mut().set_policy(after)?;
    }
    for l in &a.link {
        let (i, account) = l
            .split_once('=')
            .with_context(|| format!("{l:?}: expected ICCID=ACCOUNT"))?;
        s.authz_mut().set_link(&iccid(i)?, Some(account))?;
    }
    for i in &a.unlink {
        s.authz_mut().set_link(&iccid(i)?, None)?;
    }
    let p = s.authz().policy().clone();
    let mut links = Vec::new();
    for prof in s.profiles() {
        if let Some(l) = s.authz().link(&prof.iccid)? {
            links.push((iccid_digits(&prof.iccid), l.account));
        }
    }
    if json_out {
        let v = json!({
            "state": a.state,
            "eid": s.identity().eid_string(),
            "policy": serde_json::to_value(&p)?,
            "links": links.iter().map(|(i, acc)| json!({"iccid": i, "account": acc})).collect::<Vec<_>>(),
            "last_time": s.authz().last_time(),
        });
        println!("{v}");
        return Ok(());
    }
    println!(
        "authz policy of {} (EID {})",
        a.state.display(),
        s.identity().eid_string()
    );
    for op in Operation::ALL {
        println!("  {:<13} {}", op.name(), p.rule(op));
    }
    for (i, m) in &p.profiles {
        for (op, r) in m {
            println!("  profile {i} {op} {r}");
        }
    }
    println!(
        "exempt provisioning {}",
        if p.exempt_provisioning { "yes" } else { "no" }
    );
    println!("emergency profiles  {}", p.emergency_iccids.join(" "));
    println!("account keys        {}", p.account_keys.len());
    println!("intent keys         {}", p.intent_keys.len());
    println!(
        "max assertion lifetime {} s; nonce lifetime {} ES10 commands; readable {}; ES10 writable {}",
        p.max_assertion_lifetime_s, p.nonce_lifetime, p.readable, p.es10_writable
    );
    for (i, acc) in &links {
        println!("link {i} {acc}");
    }
    Ok(())
}
