//! `hil` admin-operation authorisation (docs/authz.md): the proof flags of the admin commands,
//! `hil se …` (the simulated secure element) and `hil authz …`.

use anyhow::{bail, Context, Result};
use hil::authz::{self, AccountClient, AdminProofs, AuthzError, Credentials, UserProof};
use hil::client::Client;
use hil::intent::{pub_path, Confirm, SecureElement};
use hil::transport::ApduTransport;
use rsp::authz::{self as codec, Operation};
use std::path::PathBuf;
use zeroize::Zeroizing;

type Card = Client<Box<dyn ApduTransport>>;

/// Proofs for an admin operation. Without any of --account / --intent-key the operation is sent
/// as plain SGP.22.
#[derive(clap::Args, Debug, Clone)]
pub struct AuthArgs {
    /// User account at the account server (user authentication).
    #[arg(long, env = "HIL_ACCOUNT")]
    account: Option<String>,
    /// The account's password (better: $HIL_ACCOUNT_PASSWORD).
    #[arg(long, env = "HIL_ACCOUNT_PASSWORD", hide_env_values = true)]
    password: Option<String>,
    /// The account server: HOST:PORT or an https:// URL (`testbed account-server` prints it).
    #[arg(long, env = "HIL_ACCOUNT_SERVER")]
    account_server: Option<String>,
    /// CA certificate (PEM or DER) of the account server's TLS certificate
    /// (STATE/tls-ca.pem of `testbed account-server`); default: the system roots.
    #[arg(long, env = "HIL_ACCOUNT_CA")]
    account_ca: Option<PathBuf>,
    /// Present this account assertion (base64, from `hil authz assertion`) instead of asking
    /// the account server.
    #[arg(long, value_name = "FILE", conflicts_with = "account")]
    assertion: Option<PathBuf>,
    /// The device's secure element key file (`hil se init`), for human intent.
    #[arg(long, env = "HIL_INTENT_KEY")]
    intent_key: Option<PathBuf>,
    /// The secure element's confirmation step: yes, no (scripted) or ask (terminal).
    #[arg(long, default_value = "ask")]
    confirm: Confirm,
    /// Write the accepted AuthoriseAdminOperation command (hex) to this file.
    #[arg(long, value_name = "FILE")]
    save_authorisation: Option<PathBuf>,
}

impl AuthArgs {
    fn any(&self) -> bool {
        self.account.is_some() || self.intent_key.is_some() || self.assertion.is_some()
    }
}

/// Whether proofs were given (the authorisation flow runs before the operation).
pub fn wants_proofs(a: &AuthArgs) -> bool {
    a.any()
}

/// What happened before the operation.
#[derive(Debug, Default)]
pub struct Prepared {
    had_user: bool,
    had_intent: bool,
    error: Option<String>,
}

/// Runs the authorisation flow when proofs are given. A failure is reported (stderr) and kept:
/// the operation is still sent, so the card's own refusal shows as well.
pub fn before(c: &mut Card, op: Operation, iccid: Option<&[u8]>, a: &AuthArgs) -> Result<Prepared> {
    let mut p = Prepared::default();
    if !a.any() {
        return Ok(p);
    }
    let server = match (&a.account, &a.account_server) {
        (Some(_), Some(addr)) => Some(AccountClient::new(addr, a.account_ca.as_deref())?),
        (Some(_), None) => bail!("--account needs --account-server (or $HIL_ACCOUNT_SERVER)"),
        _ => None,
    };
    let user = match (&a.account, &server) {
        _ if a.assertion.is_some() => {
            let f = a.assertion.as_deref().unwrap_or(std::path::Path::new(""));
            let text =
                std::fs::read_to_string(f).with_context(|| format!("reading {}", f.display()))?;
            Some(UserProof::Assertion(
                rsp::es9::b64_decode(text.trim())
                    .with_context(|| format!("{}: not base64", f.display()))?,
            ))
        }
        (Some(account), Some(s)) => {
            let password = a
                .password
                .clone()
                .context("--account needs --password (or $HIL_ACCOUNT_PASSWORD)")?;
            Some(UserProof::Server(
                s,
                Credentials {
                    account: account.clone(),
                    password: Zeroizing::new(password),
                },
            ))
        }
        _ => None,
    };
    let se = a
        .intent_key
        .as_deref()
        .map(SecureElement::open)
        .transpose()?;
    p.had_user = user.is_some();
    p.had_intent = se.is_some();
    let mut confirm = a.confirm;
    let proofs = AdminProofs {
        user,
        se: se.as_ref(),
        confirm: &mut confirm,
    };
    let mut progress = |l: &str| eprintln!("authorisation: {l}");
    match authz::authorise(c, op, iccid, proofs, &mut progress) {
        Ok(cmd) => {
            if let Some(f) = &a.save_authorisation {
                std::fs::write(f, hex::encode_upper(&cmd))
                    .with_context(|| format!("writing {}", f.display()))?;
            }
        }
        Err(e) => {
            if let AuthzError::Refused { code } = &e {
                eprintln!(
                    "authorisation: result {code} ({})",
                    codec::authorise_result::name(*code)
                );
            }
            eprintln!("authorisation failed: {e}");
            p.error = Some(e.to_string());
        }
    }
    Ok(p)
}

/// The error for an operation the card refused: what the policy requires and what was missing.
pub fn refused(
    c: &mut Card,
    op: Operation,
    iccid: Option<&[u8]>,
    result: i64,
    p: &Prepared,
) -> anyhow::Error {
    let req = authz::requirement(c, op, iccid);
    let mut msg = format!("{op} refused with SGP.22 result code {result}");
    if req.is_some_and(|r| r != rsp::authz::Requirement::None) {
        msg.push_str(": ");
        msg.push_str(&authz::refusal_message(
            op,
            iccid,
            req,
            p.had_user,
            p.had_intent,
        ));
        if let Some(e) = &p.error {
            msg.push_str(&format!(" ({e})"));
        }
    }
    anyhow::anyhow!(msg)
}

#[derive(clap::Subcommand, Debug)]
pub enum SeCmd {
    /// Create (or open) the device's secure-element key, bound to the card's EID (or --eid);
    /// writes KEY (0600) and KEY.pub (hex, for `veuicc authz-policy --intent-key`).
    Init {
        #[arg(long)]
        intent_key: PathBuf,
        /// EID (32 hex digits) instead of asking the card.
        #[arg(long)]
        eid: Option<String>,
    },
    /// Show the key file's EID and public key.
    Show {
        #[arg(long)]
        intent_key: PathBuf,
    },
}

#[derive(clap::Subcommand, Debug)]
pub enum AuthzCmd {
    /// What the eUICC's policy requires (GetAdminPolicy): the whole policy, or one operation.
    Policy {
        #[arg(long)]
        operation: Option<Operation>,
        #[arg(long, requires = "operation")]
        iccid: Option<String>,
    },
    /// Get an account assertion from the account server (base64 to --out or stdout), for any
    /// EID / ICCID / operation: the card checks what it is for.
    Assertion {
        #[arg(long)]
        eid: Option<String>,
        #[arg(long)]
        iccid: Option<String>,
        #[arg(long)]
        operation: Operation,
        /// Bind it to this card nonce (32 hex digits).
        #[arg(long)]
        nonce: Option<String>,
        #[arg(long)]
        out: Option<PathBuf>,
        #[command(flatten)]
        auth: AuthArgs,
    },
    /// Send a recorded AuthoriseAdminOperation (from --save-authorisation) again.
    Replay { file: PathBuf },
    /// eUICCMemoryReset (ES10c), after authorisation when proofs are given.
    MemoryReset {
        #[arg(long)]
        operational: bool,
        #[arg(long)]
        test: bool,
        #[arg(long)]
        default_dp: bool,
        #[command(flatten)]
        auth: AuthArgs,
    },
    /// The vendor FirmwareUpdate (a no-op standing for firmware operations).
    Firmware {
        #[arg(long)]
        digest: Option<String>,
        #[command(flatten)]
        auth: AuthArgs,
    },
    /// Replace the policy through ES10 (SetAdminPolicy) with this JSON file.
    SetPolicy {
        file: PathBuf,
        #[command(flatten)]
        auth: AuthArgs,
    },
}

fn needs_isdr(c: &mut Card) -> Result<()> {
    c.select_isdr()?;
    Ok(())
}

pub fn run_se(c: Option<&mut Card>, cmd: &SeCmd) -> Result<()> {
    match cmd {
        SeCmd::Init { intent_key, eid } => {
            let eid: [u8; 16] = match (eid, c) {
                (Some(e), _) => rsp::pki::eid_from_hex(e)?,
                (None, Some(c)) => {
                    needs_isdr(c)?;
                    c.get_eid()?
                        .try_into()
                        .map_err(|_| anyhow::anyhow!("the card's EID is not 16 bytes"))?
                }
                (None, None) => bail!("hil se init needs --eid or a card"),
            };
            let se = SecureElement::create(intent_key, eid)?;
            println!(
                "intent key {} bound to EID {}",
                intent_key.display(),
                hex::encode_upper(se.eid())
            );
            println!(
                "intent public key {} {}",
                pub_path(intent_key).display(),
                hex::encode_upper(se.public_key())
            );
        }
        SeCmd::Show { intent_key } => {
            let se = SecureElement::open(intent_key)?;
            println!("EID {}", hex::encode_upper(se.eid()));
            println!("intent public key {}", hex::encode_upper(se.public_key()));
        }
    }
    Ok(())
}

fn result_line(what: &str, r: i64) {
    println!("{what}: result {r}");
}

pub fn run_authz(c: &mut Card, cmd: &AuthzCmd, json: bool) -> Result<()> {
    needs_isdr(c)?;
    match cmd {
        AuthzCmd::Policy { operation, iccid } => match operation {
            Some(op) => {
                let i = iccid.as_deref().map(parse_iccid).transpose()?;
                let r = authz::requirement(c, *op, i.as_deref())
                    .context("the eUICC does not answer GetAdminPolicy")?;
                if json {
                    println!(
                        "{}",
                        serde_json::json!({"operation": op.name(), "requirement": r.name()})
                    );
                } else {
                    println!("{op} requires {r}");
                }
            }
            None => match authz::policy(c)? {
                Ok(p) => println!("{p}"),
                Err(code) => {
                    bail!("GetAdminPolicy refused with result {code} (the policy is not readable)")
                }
            },
        },
        AuthzCmd::Assertion {
            eid,
            iccid,
            operation,
            nonce,
            out,
            auth,
        } => {
            let (Some(account), Some(addr)) = (&auth.account, &auth.account_server) else {
                bail!("hil authz assertion needs --account and --account-server");
            };
            let password = auth
                .password
                .clone()
                .context("--account needs --password (or $HIL_ACCOUNT_PASSWORD)")?;
            let eid: [u8; 16] = match eid {
                Some(e) => rsp::pki::eid_from_hex(e)?,
                None => c
                    .get_eid()?
                    .try_into()
                    .map_err(|_| anyhow::anyhow!("the card's EID is not 16 bytes"))?,
            };
            let i = iccid.as_deref().map(parse_iccid).transpose()?;
            let n: Option<[u8; 16]> = nonce
                .as_deref()
                .map(|n| {
                    hex::decode(n)
                        .ok()
                        .and_then(|b| b.try_into().ok())
                        .context("--nonce: 32 hex digits")
                })
                .transpose()?;
            let server = AccountClient::new(addr, auth.account_ca.as_deref())?;
            let creds = Credentials {
                account: account.clone(),
                password: Zeroizing::new(password),
            };
            let a = server.assertion(&creds, &eid, *operation, i.as_deref(), n.as_ref())?;
            let b64 = rsp::es9::b64_encode(&a);
            match out {
                Some(f) => {
                    std::fs::write(f, format!("{b64}\n"))
                        .with_context(|| format!("writing {}", f.display()))?;
                    println!(
                        "assertion for {account} ({operation}) written to {}",
                        f.display()
                    );
                }
                None => println!("{b64}"),
            }
        }
        AuthzCmd::Replay { file } => {
            let text = std::fs::read_to_string(file)
                .with_context(|| format!("reading {}", file.display()))?;
            let cmd = hex::decode(text.trim()).context("the file holds no hex command")?;
            let r = authz::send_authorise(c, &cmd)?;
            println!(
                "AuthoriseAdminOperation: result {r} ({})",
                codec::authorise_result::name(r)
            );
            if r != 0 {
                bail!(
                    "the replayed authorisation was refused: {}",
                    authz::explain(r)
                );
            }
        }
        AuthzCmd::MemoryReset {
            operational,
            test,
            default_dp,
            auth,
        } => {
            let p = before(c, Operation::MemoryReset, None, auth)?;
            use rsp::es10::{reset_options as o, *};
            let mut bits = Vec::new();
            if *operational {
                bits.push(o::DELETE_OPERATIONAL_PROFILES);
            }
            if *test {
                bits.push(o::DELETE_FIELD_LOADED_TEST_PROFILES);
            }
            if *default_dp {
                bits.push(o::RESET_DEFAULT_SMDP_ADDRESS);
            }
            let data = c.es10(&rsp::es10::encode(&EuiccMemoryResetRequest {
                reset_options: NamedBits::from_bits(&bits),
            }))?;
            let r: EuiccMemoryResetResponse =
                rsp::es10::decode(&data).context("eUICCMemoryReset answer")?;
            result_line("memory-reset", r.reset_result);
            if r.reset_result != 0 {
                return Err(refused(c, Operation::MemoryReset, None, r.reset_result, &p));
            }
        }
        AuthzCmd::Firmware { digest, auth } => {
            let p = before(c, Operation::Firmware, None, auth)?;
            let d = digest.as_deref().map(hex::decode).transpose()?;
            let data = c.es10(&codec::firmware_update_request(d.as_deref()))?;
            let r = codec::parse_result_response(codec::tags::FIRMWARE_UPDATE, &data)?;
            result_line("firmware", r);
            if r != 0 {
                return Err(refused(c, Operation::Firmware, None, r, &p));
            }
        }
        AuthzCmd::SetPolicy { file, auth } => {
            let text = std::fs::read_to_string(file)
                .with_context(|| format!("reading {}", file.display()))?;
            let p = before(c, Operation::Policy, None, auth)?;
            let data = c.es10(&codec::set_admin_policy_request(&text))?;
            let r = codec::parse_result_response(codec::tags::SET_ADMIN_POLICY, &data)?;
            result_line("set-policy", r);
            if r != 0 {
                return Err(refused(c, Operation::Policy, None, r, &p));
            }
        }
    }
    Ok(())
}

fn parse_iccid(s: &str) -> Result<Vec<u8>> {
    veuicc::euicc::records::parse_iccid(s)
        .context("ICCID: 19–20 digits, or 20 hex digits as in EF.ICCID")
}
