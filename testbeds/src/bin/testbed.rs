//! `testbed`: network-side test servers.
//!
//! - `testbed smdp --state DIR …` runs the SM-DP+ over HTTPS (ES9+ and ES2+).
//! - `testbed order --server URL --ca FILE --profile-type T …` places an ES2+ order
//!   (downloadOrder + confirmOrder with releaseFlag) and prints the activation code.

use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand, ValueEnum};
use rsp::crypto::CryptoProvider;
use rsp::es9::{headers, ActivationCode};
use testbeds::es2::{self, ConfirmOrderRequest, ConfirmOrderResponse, DownloadOrderRequest};
use testbeds::identity::{files, SmdpIdentity};
use testbeds::server::{SmdpServer, TlsConfig};
use testbeds::smdp::{self, Smdp, SmdpConfig};
use testbeds::store::{ProfileClassKind, Store};

#[path = "testbed/account_cli.rs"]
mod account_cli;

#[derive(Parser, Debug)]
#[command(
    name = "testbed",
    version,
    about = "GSMA SGP.22 test servers: an SM-DP+ over HTTPS"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the SM-DP+ (ES9+ for LPAs, ES2+ for operators) over HTTPS.
    Smdp(SmdpArgs),
    /// Place a download order (downloadOrder + confirmOrder, released) and print the
    /// activation code.
    Order(OrderArgs),
    /// Run the IMEI assignment server (IMEI binding) over HTTPS.
    ImeiServer(ImeiServerArgs),
    /// GET a JSON resource of a testbed server (e.g. https://localhost:8443/admin/orders or
    /// https://localhost:8444/imei/assignments) and print it, one array element per line.
    Get(GetArgs),
    /// Run the account server of admin-operation authorisation over HTTPS (docs/authz.md).
    AccountServer(account_cli::ServerArgs),
    /// Manage the account server's accounts.
    Account {
        #[command(subcommand)]
        cmd: account_cli::AccountCmd,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum ProviderKind {
    /// RustCrypto (p256, aes, cmac, sha2).
    Rustcrypto,
    /// aws-lc-rs.
    AwsLcRs,
}

#[derive(Parser, Debug)]
struct SmdpArgs {
    /// State directory: sled database, self-minted CI, TLS CA file.
    #[arg(long)]
    state: PathBuf,
    /// Address to listen on (port 0: any free port).
    #[arg(long, default_value = "127.0.0.1:8443")]
    listen: SocketAddr,
    /// Host name of the SM-DP+ (TLS certificate and SM-DP+ address).
    #[arg(long, default_value = "localhost")]
    host: String,
    /// CI certificate (DER) to mint DPauth/DPpb/TLS under (with --ci-key).
    #[arg(long, requires = "ci_key", conflicts_with = "sgp26")]
    ci_cert: Option<PathBuf>,
    /// CI private key (PEM) to mint under (with --ci-cert).
    #[arg(long, requires = "ci_cert", conflicts_with = "sgp26")]
    ci_key: Option<PathBuf>,
    /// Use the GSMA SGP.26 test SM-DP+ certificates in this directory.
    #[arg(long)]
    sgp26: Option<PathBuf>,
    /// Also trust eUICC chains ending at this CI certificate (DER or PEM); repeatable.
    #[arg(long = "trust-ci")]
    trust_ci: Vec<PathBuf>,
    /// Profile packages (unprotected SAIP DER): files or directories of *.der. Default: the
    /// TS.48 profiles of the shared test data, if found.
    #[arg(long, num_args = 1..)]
    profiles: Vec<PathBuf>,
    /// Profile type for every package loaded (default: each file's name without extension).
    #[arg(long)]
    profile_type: Option<String>,
    /// Profile class announced in the metadata.
    #[arg(long, default_value = "operational")]
    class: ProfileClassKind,
    /// Crypto provider.
    #[arg(long, value_enum, default_value = "aws-lc-rs")]
    provider: ProviderKind,
}

#[derive(Parser, Debug)]
struct ImeiServerArgs {
    /// State directory: sled database (imei-db), self-minted CI, TLS CA file (tls-ca.pem).
    #[arg(long)]
    state: PathBuf,
    /// Address to listen on (port 0: any free port).
    #[arg(long, default_value = "127.0.0.1:8444")]
    listen: SocketAddr,
    /// Host name in the TLS certificate and the printed URL.
    #[arg(long, default_value = "localhost")]
    host: String,
    /// TAC range to assign from: 8 digits, or FIRST-LAST (repeatable; in order).
    #[arg(long = "tac", default_value = testbeds::imei::DEFAULT_TAC)]
    tacs: Vec<testbeds::imei::TacRange>,
    /// Assign at most this many IMEIs in all (then 503).
    #[arg(long)]
    limit: Option<u64>,
}

#[derive(Parser, Debug)]
struct GetArgs {
    /// The URL.
    url: String,
    /// The CA certificate to trust (PEM or DER).
    #[arg(long)]
    ca: PathBuf,
}

#[derive(Parser, Debug)]
struct OrderArgs {
    /// The SM-DP+ base URL, e.g. https://localhost:8443.
    #[arg(long)]
    server: String,
    /// The CA certificate to trust for its TLS certificate (PEM or DER).
    #[arg(long)]
    ca: PathBuf,
    /// Profile type to order.
    #[arg(long, required_unless_present = "iccid")]
    profile_type: Option<String>,
    /// A specific profile instead.
    #[arg(long)]
    iccid: Option<String>,
    /// Bind the order to this EID.
    #[arg(long)]
    eid: Option<String>,
    /// Matching ID (default: generated by the SM-DP+).
    #[arg(long)]
    matching_id: Option<String>,
    /// Confirmation code the user will have to enter.
    #[arg(long)]
    confirmation_code: Option<String>,
}

fn main() -> Result<()> {
    veuicc::logging::init("TESTBED_LOG", "info");
    let cli = Cli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the tokio runtime")?;
    match cli.command {
        Command::Smdp(args) => runtime.block_on(run_smdp(args)),
        Command::Order(args) => runtime.block_on(run_order(args)),
        Command::ImeiServer(args) => runtime.block_on(run_imei_server(args)),
        Command::Get(args) => runtime.block_on(run_get(args)),
        Command::AccountServer(args) => runtime.block_on(account_cli::run_server(args)),
        Command::Account { cmd } => account_cli::run_account(cmd),
    }
}

fn provider(kind: ProviderKind) -> Arc<dyn CryptoProvider> {
    match kind {
        ProviderKind::Rustcrypto => Arc::new(rsp::crypto::rustcrypto::RustCrypto),
        ProviderKind::AwsLcRs => Arc::new(rsp::crypto::awslc::AwsLc),
    }
}

/// A certificate file, DER or PEM.
fn read_cert(path: &Path) -> Result<Vec<u8>> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    if !bytes.starts_with(b"-----BEGIN") {
        return Ok(bytes);
    }
    let text = String::from_utf8_lossy(&bytes);
    let body: String = text
        .lines()
        .skip_while(|l| !l.starts_with("-----BEGIN CERTIFICATE"))
        .skip(1)
        .take_while(|l| !l.starts_with("-----END"))
        .collect();
    rsp::es9::b64_decode(&body).with_context(|| format!("{}: bad PEM", path.display()))
}

/// The profile files named on the command line, or the shared TS.48 profiles.
fn profile_files(args: &SmdpArgs) -> Result<Vec<PathBuf>> {
    let mut roots = args.profiles.clone();
    if roots.is_empty() {
        let candidates = [
            std::env::var_os("VEUICC_TESTDATA").map(|d| PathBuf::from(d).join("ts48")),
            Some(PathBuf::from("../shared/testdata/ts48")),
        ];
        roots.extend(
            candidates
                .into_iter()
                .flatten()
                .filter(|p| p.is_dir())
                .take(1),
        );
    }
    let mut files = Vec::new();
    for root in roots {
        if root.is_dir() {
            let mut found: Vec<PathBuf> = std::fs::read_dir(&root)
                .with_context(|| format!("reading {}", root.display()))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x.eq_ignore_ascii_case("der")))
                .collect();
            found.sort();
            files.extend(found);
        } else {
            files.push(root);
        }
    }
    Ok(files)
}

async fn run_smdp(args: SmdpArgs) -> Result<()> {
    let provider = provider(args.provider);
    let now = SystemTime::now();
    std::fs::create_dir_all(&args.state)
        .with_context(|| format!("creating {}", args.state.display()))?;
    let address = match args.listen.port() {
        443 => args.host.clone(),
        port => format!("{}:{port}", args.host),
    };
    let mut identity = if let (Some(cert), Some(key)) = (&args.ci_cert, &args.ci_key) {
        let ci_cert = read_cert(cert)?;
        let ci_key = rsp::keys::EcKey::read_pem_file(key)?;
        SmdpIdentity::under_ci(&ci_key, &ci_cert, &address, &*provider, now)?
    } else if let Some(dir) = &args.sgp26 {
        SmdpIdentity::from_sgp26(dir, &address, &*provider, now)?
    } else {
        SmdpIdentity::self_minted(&args.state, &address, &*provider, now)?
    };
    for path in &args.trust_ci {
        identity.trust_ci(read_cert(path)?)?;
    }
    let ca_path = args.state.join(files::TLS_CA);
    identity.write_tls_ca(&ca_path)?;
    let tls = TlsConfig::from_identity(&identity)?;
    let dp_oid = identity.dp_oid.clone();

    let store = Store::open(&args.state).with_context(|| {
        format!(
            "opening {} (is another SM-DP+ running on it?)",
            args.state.join("db").display()
        )
    })?;
    let smdp = Arc::new(Smdp::new(
        identity,
        store,
        provider.clone(),
        smdp::system_clock(),
        SmdpConfig::default(),
    )?);

    let mut loaded = Vec::new();
    for file in profile_files(&args)? {
        let package =
            std::fs::read(&file).with_context(|| format!("reading {}", file.display()))?;
        let stem = file
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "profile".into());
        let mut meta = smdp::default_meta(&package, &stem);
        meta.class = args.class;
        if let Some(t) = &args.profile_type {
            meta.profile_type = t.clone();
        }
        let profile_type = meta.profile_type.clone();
        let iccid = smdp
            .add_profile(package, meta)
            .with_context(|| format!("adding {}", file.display()))?;
        loaded.push((iccid, profile_type));
    }

    let (local, handle) = SmdpServer::bind(args.listen, smdp.clone(), tls).await?;
    let address = match local.port() {
        443 => args.host.clone(),
        port => format!("{}:{port}", args.host),
    };
    smdp.set_address(&address);

    let mut out = std::io::stdout().lock();
    writeln!(out, "listening https://{local}")?;
    writeln!(out, "smdp address {address}")?;
    writeln!(out, "tls ca {}", ca_path.display())?;
    writeln!(out, "dp oid {dp_oid}")?;
    writeln!(out, "provider {}", provider.name())?;
    if args.ci_cert.is_none() && args.sgp26.is_none() {
        writeln!(
            out,
            "ci {} (key {})",
            args.state.join(files::CI_CERT).display(),
            args.state.join(files::CI_KEY).display()
        )?;
    }
    let inventory = smdp.profiles()?;
    writeln!(
        out,
        "profiles {} ({} loaded now)",
        inventory.len(),
        loaded.len()
    )?;
    for p in &inventory {
        writeln!(
            out,
            "  {} {:?} type={} name={:?}",
            p.iccid, p.state, p.meta.profile_type, p.meta.profile_name
        )?;
    }
    out.flush()?;
    drop(out);

    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .context("installing the SIGTERM handler")?;
    tokio::select! {
        r = tokio::signal::ctrl_c() => r.context("waiting for Ctrl-C")?,
        _ = term.recv() => {},
    }
    tracing::info!("shutting down");
    handle.shutdown(Duration::from_secs(5)).await?;
    smdp.store().flush()?;
    Ok(())
}

async fn post<Req: serde::Serialize, Resp: serde::de::DeserializeOwned>(
    client: &reqwest::Client,
    base: &str,
    path: &str,
    body: &Req,
) -> Result<Resp> {
    let url = format!("{}{path}", base.trim_end_matches('/'));
    let resp = client
        .post(&url)
        .header(headers::X_ADMIN_PROTOCOL, headers::ADMIN_PROTOCOL_V2_2_0)
        .header(headers::CONTENT_TYPE, headers::CONTENT_TYPE_JSON)
        .json(body)
        .send()
        .await
        .with_context(|| format!("POST {url}"))?;
    let status = resp.status();
    let text = resp
        .text()
        .await
        .with_context(|| format!("reading {url}"))?;
    if !status.is_success() {
        bail!("POST {url}: HTTP {status}: {text}");
    }
    serde_json::from_str(&text).with_context(|| format!("POST {url}: unexpected answer {text}"))
}

fn check(header: &rsp::es9::ResponseHeader, function: &str) -> Result<()> {
    if header.is_success() {
        return Ok(());
    }
    match &header.function_execution_status.status_code_data {
        Some(d) => bail!(
            "{function} failed: {} / {}: {}",
            d.subject_code,
            d.reason_code,
            d.message.as_deref().unwrap_or("")
        ),
        None => bail!(
            "{function} failed: {}",
            header.function_execution_status.status.as_str()
        ),
    }
}

async fn run_order(args: OrderArgs) -> Result<()> {
    let ca = std::fs::read(&args.ca).with_context(|| format!("reading {}", args.ca.display()))?;
    let cert = if ca.starts_with(b"-----BEGIN") {
        reqwest::Certificate::from_pem(&ca)
    } else {
        reqwest::Certificate::from_der(&ca)
    }
    .with_context(|| format!("{} is not a certificate", args.ca.display()))?;
    let client = reqwest::Client::builder()
        .tls_certs_only([cert])
        .timeout(Duration::from_secs(30))
        .build()
        .context("building the HTTPS client")?;

    let ordered: es2::DownloadOrderResponse = post(
        &client,
        &args.server,
        es2::path::DOWNLOAD_ORDER,
        &DownloadOrderRequest {
            header: None,
            eid: args.eid.clone(),
            iccid: args.iccid.clone(),
            profile_type: args.profile_type.clone(),
        },
    )
    .await?;
    check(&ordered.header, "downloadOrder")?;
    let Some(iccid) = ordered.iccid else {
        bail!("downloadOrder answered no ICCID");
    };
    let confirmed: ConfirmOrderResponse = post(
        &client,
        &args.server,
        es2::path::CONFIRM_ORDER,
        &ConfirmOrderRequest {
            header: None,
            iccid: iccid.clone(),
            eid: args.eid.clone(),
            matching_id: args.matching_id.clone(),
            confirmation_code: args.confirmation_code.clone(),
            smds_address: None,
            release_flag: true,
        },
    )
    .await?;
    check(&confirmed.header, "confirmOrder")?;
    let (Some(address), Some(matching_id)) = (confirmed.smdp_address, confirmed.matching_id) else {
        bail!("confirmOrder answered no SM-DP+ address or matching ID");
    };
    let code = ActivationCode {
        smdp_address: address,
        matching_id,
        smdp_oid: None,
        confirmation_code_required: args.confirmation_code.is_some(),
    };
    eprintln!("ordered profile {iccid}");
    println!("{}", code.to_qr_string());
    Ok(())
}

async fn run_imei_server(args: ImeiServerArgs) -> Result<()> {
    std::fs::create_dir_all(&args.state)
        .with_context(|| format!("creating {}", args.state.display()))?;
    let provider = provider(ProviderKind::AwsLcRs);
    // The TLS identity is minted like the SM-DP+'s: a CI of its own in the state directory.
    let identity =
        SmdpIdentity::self_minted(&args.state, &args.host, &*provider, SystemTime::now())?;
    let ca_path = args.state.join(files::TLS_CA);
    identity.write_tls_ca(&ca_path)?;
    let tls = TlsConfig::from_identity(&identity)?;
    let mut server = testbeds::imei::ImeiServer::open(&args.state, args.tacs.clone())
        .with_context(|| {
            format!(
                "opening {} (is another IMEI server running on it?)",
                args.state.join("imei-db").display()
            )
        })?;
    if let Some(n) = args.limit {
        server = server.with_limit(n);
    }
    let server = Arc::new(server);
    let (local, handle) =
        testbeds::imei::ImeiServer::bind(args.listen, server.clone(), tls).await?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "listening https://{local}")?;
    writeln!(out, "imei server https://{}:{}", args.host, local.port())?;
    writeln!(out, "tls ca {}", ca_path.display())?;
    let ranges: Vec<String> = server.ranges().iter().map(|r| r.to_string()).collect();
    writeln!(out, "tac {}", ranges.join(" "))?;
    writeln!(out, "assignments {}", server.assignments()?.len())?;
    out.flush()?;
    drop(out);
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .context("installing the SIGTERM handler")?;
    tokio::select! {
        r = tokio::signal::ctrl_c() => r.context("waiting for Ctrl-C")?,
        _ = term.recv() => {},
    }
    handle.shutdown(Duration::from_secs(5)).await?;
    server.flush()?;
    Ok(())
}

async fn run_get(args: GetArgs) -> Result<()> {
    let ca = std::fs::read(&args.ca).with_context(|| format!("reading {}", args.ca.display()))?;
    let cert = if ca.starts_with(b"-----BEGIN") {
        reqwest::Certificate::from_pem(&ca)
    } else {
        reqwest::Certificate::from_der(&ca)
    }
    .with_context(|| format!("{} is not a certificate", args.ca.display()))?;
    let client = reqwest::Client::builder()
        .tls_certs_only([cert])
        .timeout(Duration::from_secs(30))
        .build()
        .context("building the HTTPS client")?;
    let resp = client
        .get(&args.url)
        .send()
        .await
        .with_context(|| format!("GET {}", args.url))?;
    let status = resp.status();
    let text = resp
        .text()
        .await
        .with_context(|| format!("reading {}", args.url))?;
    if !status.is_success() {
        bail!("GET {}: HTTP {status}: {text}", args.url);
    }
    let v: serde_json::Value = serde_json::from_str(&text)
        .with_context(|| format!("GET {}: not JSON: {text}", args.url))?;
    match v.as_array() {
        Some(items) => {
            for i in items {
                println!("{i}");
            }
        }
        None => println!("{v}"),
    }
    Ok(())
}
