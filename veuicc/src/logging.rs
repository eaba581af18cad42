//! Logging set-up for the project's binaries (libraries never install a subscriber).

/// Installs a `tracing` subscriber writing to stderr, filtered by the environment variable
/// `var` (`EnvFilter` syntax, e.g. `debug` or `veuicc=trace`), `default` when unset. Colours
/// only when stderr is a terminal.
pub fn init(var: &str, default: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_env(var)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
}
