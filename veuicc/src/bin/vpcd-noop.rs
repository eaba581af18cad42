//! `vpcd-noop`: a card with no behaviour (fixed ATR, `9000` to every APDU) on the same vpcd
//! transport as the eUICC. The baseline of the PC/SC benchmarks, and a quick way to check that
//! a pcscd + vpcd stack works (`pcsc_scan -r`, `opensc-tool -a`).

use std::io::IsTerminal;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use anyhow::Context as _;
use clap::Parser;
use tracing_subscriber::EnvFilter;
use veuicc::vpcd::{self, CardSlot, NoopCard, SharedCard, VpcdOptions};

#[derive(Debug, Parser)]
#[command(
    version,
    about = "A no-op smart card for vsmartcard's vpcd (ATR + 9000)"
)]
struct Args {
    /// vpcd address of the first card (vpcd listens on PORT and PORT+1).
    #[arg(long, env = "VPCD_ADDR", default_value_t = vpcd::DEFAULT_ADDR)]
    addr: SocketAddr,
    /// Number of cards, on consecutive ports starting at --addr.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=16))]
    cards: u16,
    /// Return when the first vpcd session ends instead of reconnecting.
    #[arg(long)]
    once: bool,
}

fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
    let args = Args::parse();
    // One thread: each exchange is a few µs of work, and cross-thread wake-ups only add latency.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("building the tokio runtime")?;
    runtime.block_on(run(args))
}

async fn run(args: Args) -> anyhow::Result<()> {
    let slots = (0..args.cards).map(|i| {
        let mut addr = args.addr;
        addr.set_port(args.addr.port().wrapping_add(i));
        let card: SharedCard = Arc::new(Mutex::new(NoopCard::new()));
        CardSlot { addr, card }
    });
    let opts = VpcdOptions {
        reconnect: !args.once,
        ..VpcdOptions::default()
    };
    let (trigger, shutdown) = vpcd::shutdown_channel();
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .context("installing the SIGTERM handler")?;
    let serving = vpcd::serve_many(slots, opts, shutdown);
    tokio::pin!(serving);
    tokio::select! {
        result = &mut serving => return result.context("serving the cards"),
        _ = tokio::signal::ctrl_c() => {}
        _ = terminate.recv() => {}
    }
    tracing::info!("shutting down");
    trigger.trigger();
    serving.await.context("serving the cards")
}
