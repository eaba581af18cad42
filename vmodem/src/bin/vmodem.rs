//! `vmodem`: run virtual modems (`start`), talk to a running one (`ctl`, `status`).
//! See `docs/vmodem.md`.

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};
use vmodem::config::{Config, ModemConfig};
use vmodem::endpoint::{EndpointOptions, UnixAddr};
use vmodem::server::{Server, ServerOptions, ServerStatus, DEFAULT_RUN_DIR};
use vmodem::transcript::TranscriptOptions;

#[derive(Debug, Parser)]
#[command(
    name = "vmodem",
    version,
    about = "A virtual cellular modem on PTYs and sockets"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Start the modems and run until SIGINT/SIGTERM.
    Start(StartArgs),
    /// Send one control request (a JSON object) and print the answer.
    Ctl {
        /// The control socket (a path or `abstract:<name>`).
        #[arg(long, env = "VMODEM_CONTROL", default_value = "run/control.sock")]
        socket: String,
        /// The request, e.g. '{"op":"set_registration","domain":"eps","stat":5}'.
        request: String,
    },
    /// Where every port is, and the state of every modem (= ctl '{"op":"status"}').
    Status {
        #[arg(long, env = "VMODEM_CONTROL", default_value = "run/control.sock")]
        socket: String,
        /// Only this modem.
        #[arg(long)]
        modem: Option<String>,
    },
}

#[derive(Debug, clap::Args)]
struct StartArgs {
    /// Configuration file (TOML, see docs/vmodem.md); without it one modem `m0` with defaults.
    #[arg(long, short)]
    config: Option<PathBuf>,
    /// Where PTY symlinks, sockets, state and transcripts go (overrides the file; default ./run).
    #[arg(long)]
    run_dir: Option<PathBuf>,
    /// Control socket (overrides the file; default <run dir>/control.sock).
    #[arg(long)]
    control: Option<PathBuf>,
    /// Modems to start: with --config, a selection of its modems; without, default modems with
    /// these names. Repeatable.
    #[arg(long = "modem", value_name = "NAME")]
    modems: Vec<String>,
    /// Quirk profile of every started modem: generic, quectel, simcom, or a TOML file.
    #[arg(long)]
    quirks: Option<String>,
    /// Print where the ports are as one JSON line instead of text.
    #[arg(long)]
    json: bool,
    /// Do not write byte transcripts.
    #[arg(long)]
    no_transcript: bool,
    /// Write PINs and passwords into transcripts instead of masking them.
    #[arg(long)]
    transcript_secrets: bool,
    /// Rotate a transcript when it reaches this many bytes (0 = never).
    #[arg(long, default_value_t = TranscriptOptions::default().max_bytes)]
    transcript_max_bytes: u64,
    /// How often an unopened PTY is checked for a client, in milliseconds.
    #[arg(long, default_value_t = 50)]
    hup_poll_ms: u64,
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let cli = Cli::parse();
    let r = match cli.cmd {
        Cmd::Start(args) => start(args),
        Cmd::Ctl { socket, request } => ctl(&socket, &request),
        Cmd::Status { socket, modem } => {
            let req = match modem {
                Some(m) => serde_json::json!({ "modem": m, "op": "status" }),
                None => serde_json::json!({ "op": "status" }),
            };
            ctl(&socket, &req.to_string())
        }
    };
    match r {
        Ok(code) => code,
        Err(e) => {
            eprintln!("vmodem: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn load_config(args: &StartArgs) -> Result<Config> {
    let mut cfg = match &args.config {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading {}", path.display()))?;
            toml::from_str::<Config>(&text).with_context(|| format!("in {}", path.display()))?
        }
        None => Config::default(),
    };
    if let Some(d) = &args.run_dir {
        cfg.run_dir = Some(d.clone());
    }
    if let Some(c) = &args.control {
        cfg.control = Some(c.clone());
    }
    if !args.modems.is_empty() {
        if args.config.is_some() {
            for name in &args.modems {
                if !cfg.modems.iter().any(|m| &m.name == name) {
                    bail!("no modem {name} in the configuration");
                }
            }
            cfg.modems.retain(|m| args.modems.contains(&m.name));
        } else {
            cfg.modems = args.modems.iter().map(|n| ModemConfig::named(n)).collect();
        }
    }
    if cfg.modems.is_empty() {
        cfg.modems.push(ModemConfig::named("m0"));
    }
    if let Some(q) = &args.quirks {
        for m in &mut cfg.modems {
            m.quirks = q.clone();
        }
    }
    Ok(cfg)
}

fn print_status(st: &ServerStatus, json: bool) -> Result<()> {
    let mut out = std::io::stdout().lock();
    if json {
        writeln!(out, "{}", serde_json::to_string(st)?)?;
    } else {
        writeln!(out, "run dir   {}", st.run_dir.display())?;
        writeln!(out, "control   {}", st.control)?;
        for m in &st.modems {
            for p in &m.ports {
                let mut parts = Vec::new();
                if let (Some(link), Some(pty)) = (&p.symlink, &p.pty) {
                    parts.push(format!("{} -> {}", link.display(), pty.display()));
                }
                if let Some(u) = &p.unix {
                    parts.push(format!("unix {u}"));
                }
                if let Some(t) = &p.tcp {
                    parts.push(format!("tcp {t}"));
                }
                writeln!(out, "{}/{}  {}", m.name, p.name, parts.join("  "))?;
            }
        }
    }
    out.flush()?;
    Ok(())
}

fn start(args: StartArgs) -> Result<ExitCode> {
    let cfg = load_config(&args)?;
    let opts = ServerOptions {
        transcript: TranscriptOptions {
            enabled: !args.no_transcript,
            max_bytes: args.transcript_max_bytes,
            redact: !args.transcript_secrets,
        },
        endpoint: EndpointOptions {
            hup_poll: Duration::from_millis(args.hup_poll_ms.clamp(5, 1000)),
            ..EndpointOptions::default()
        },
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("tokio runtime")?;
    rt.block_on(async {
        let server = Server::start(&cfg, opts).await?;
        print_status(server.status(), args.json)?;
        server.run_until_signal().await?;
        Ok::<_, anyhow::Error>(())
    })?;
    Ok(ExitCode::SUCCESS)
}

fn ctl(socket: &str, request: &str) -> Result<ExitCode> {
    let request = request.trim();
    if request.contains('\n') {
        bail!("the request must be one line of JSON");
    }
    let addr = UnixAddr::parse(socket);
    let stream = addr.connect_std().with_context(|| {
        format!(
            "connecting to {addr} (is `vmodem start` running? default run dir: {DEFAULT_RUN_DIR})"
        )
    })?;
    stream.set_read_timeout(Some(Duration::from_secs(60)))?;
    let mut w = stream.try_clone()?;
    w.write_all(format!("{request}\n").as_bytes())?;
    let mut answer = String::new();
    BufReader::new(stream).read_line(&mut answer)?;
    if answer.is_empty() {
        bail!("no answer from {addr}");
    }
    let v: serde_json::Value = serde_json::from_str(answer.trim()).context("answer")?;
    if std::io::IsTerminal::is_terminal(&std::io::stdout()) {
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        println!("{}", answer.trim());
    }
    Ok(if v.get("ok") == Some(&serde_json::Value::Bool(true)) {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
