//! `testbed account-server` and `testbed account …` (docs/authz.md).

use std::io::{BufRead, Write};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};
use testbeds::account::{self, files, AccountConfig, AccountServer, AccountStore};
use zeroize::Zeroizing;

#[derive(Parser, Debug)]
pub struct ServerArgs {
    /// State directory: accounts.json, the assertion key, the TLS CI.
    #[arg(long)]
    state: PathBuf,
    /// Address to listen on (port 0: any free port).
    #[arg(long, default_value = "127.0.0.1:8444")]
    listen: SocketAddr,
    /// Host name in the TLS certificate (and in the printed address).
    #[arg(long, default_value = "localhost")]
    host: String,
    /// Lifetime of an assertion, seconds.
    #[arg(long, default_value_t = 120)]
    lifetime: u64,
    /// Consecutive failed logins before an account is locked.
    #[arg(long, default_value_t = 5)]
    max_failures: u32,
    /// How long a lock lasts, seconds.
    #[arg(long, default_value_t = 60)]
    lockout: u64,
}

#[derive(Subcommand, Debug)]
pub enum AccountCmd {
    /// Add an account (or, with --replace, set its password). The password comes from
    /// --password, $TESTBED_ACCOUNT_PASSWORD or, with --password-stdin, the first line of stdin.
    Add {
        #[arg(long)]
        state: PathBuf,
        account: String,
        #[arg(long, env = "TESTBED_ACCOUNT_PASSWORD", hide_env_values = true)]
        password: Option<String>,
        #[arg(long, conflicts_with = "password")]
        password_stdin: bool,
        #[arg(long)]
        replace: bool,
    },
    /// Remove an account.
    Remove {
        #[arg(long)]
        state: PathBuf,
        account: String,
    },
    /// List the accounts (ids only).
    List {
        #[arg(long)]
        state: PathBuf,
    },
    /// Print the assertion key (creating it if needed) and write STATE/assertion-key.pub.
    Key {
        #[arg(long)]
        state: PathBuf,
    },
}

pub async fn run_server(args: ServerArgs) -> Result<()> {
    let provider: Arc<dyn rsp::crypto::CryptoProvider> = Arc::new(rsp::crypto::awslc::AwsLc);
    let key = account::load_or_create_key(&args.state)?;
    let (tls, ca_path) =
        account::tls_config(&args.state, &args.host, &*provider, SystemTime::now())?;
    let store = AccountStore::new(&args.state);
    let count = store.load()?.accounts.len();
    let server = Arc::new(AccountServer::new(
        store,
        &key,
        provider,
        testbeds::smdp::system_clock(),
        AccountConfig {
            lifetime: Duration::from_secs(args.lifetime.max(1)),
            max_failures: args.max_failures.max(1),
            lockout: Duration::from_secs(args.lockout),
        },
    ));
    let (local, handle) = account::bind(args.listen, server.clone(), tls).await?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "account server address {}:{}", args.host, local.port())?;
    writeln!(out, "listening https://{local}")?;
    writeln!(out, "tls ca {}", ca_path.display())?;
    writeln!(
        out,
        "assertion key {} {}",
        args.state.join(files::ASSERTION_PUB).display(),
        hex::encode_upper(server.public_key())
    )?;
    writeln!(out, "accounts {count}")?;
    out.flush()?;
    drop(out);
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .context("installing the SIGTERM handler")?;
    tokio::select! {
        r = tokio::signal::ctrl_c() => r.context("waiting for Ctrl-C")?,
        _ = term.recv() => {},
    }
    handle.shutdown(Duration::from_secs(5)).await?;
    Ok(())
}

pub fn run_account(cmd: AccountCmd) -> Result<()> {
    match cmd {
        AccountCmd::Add {
            state,
            account,
            password,
            password_stdin,
            replace,
        } => {
            let password = Zeroizing::new(match (password, password_stdin) {
                (Some(p), _) => p,
                (None, true) => {
                    let mut line = String::new();
                    std::io::stdin().lock().read_line(&mut line)?;
                    line.trim_end_matches(['\r', '\n']).to_string()
                }
                (None, false) => {
                    bail!("no password: --password, $TESTBED_ACCOUNT_PASSWORD or --password-stdin")
                }
            });
            AccountStore::new(&state).add(&account, &password, replace, SystemTime::now())?;
            println!(
                "account {account} {}",
                if replace { "set" } else { "added" }
            );
        }
        AccountCmd::Remove { state, account } => {
            AccountStore::new(&state).remove(&account)?;
            println!("account {account} removed");
        }
        AccountCmd::List { state } => {
            for a in AccountStore::new(&state).load()?.accounts {
                println!("{}", a.id);
            }
        }
        AccountCmd::Key { state } => {
            let key = account::load_or_create_key(&state)?;
            println!(
                "assertion key {} {}",
                state.join(files::ASSERTION_PUB).display(),
                hex::encode_upper(key.public_key_uncompressed())
            );
        }
    }
    Ok(())
}
