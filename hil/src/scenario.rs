//! Data-driven scenarios: a TOML file names the files to write, the services to start (SM-DP+,
//! modem, account or IMEI servers, …) and the steps to run — each a shell command with the
//! expectations its output must meet. The same file runs against the virtual targets in CI and,
//! with other service lines, against real readers and modems.
//!
//! ```toml
//! name = "first enable binds a free IMEI"
//! [[file]]                              # written before the services start
//! path = "{dir}/modem.toml"
//! content = '''…'''
//! [[service]]                           # background processes, started in order
//! name = "modem"
//! run = "vmodem start --config {dir}/modem.toml"
//! ready = 'm0/at0\s+(?P<at0>\S+)'       # a stdout line matching this means ready; groups → vars
//! [[step]]
//! name = "IMEI before"
//! run = "hil --at {at0} at AT+CGSN"
//! expect = ['^< (?P<imei>\d{15})$']     # every regex must match (multi-line); groups → vars
//! reject = ['ERROR']                    # no regex may match
//! fails = false                         # true: the command must exit non-zero
//! retry_ms = 0                          # retry until the step passes or this time is over
//! [[step]]
//! restart = "modem"                     # or kill = "modem" (SIGKILL), stop = "modem",
//!                                       # start = "modem" (after a stop/kill, or `deferred`)
//! ```
//!
//! A service with `deferred = true` is not started with the others but by a `start` step.
//!
//! `{name}` is replaced by a variable (built-ins: `dir`, a fresh directory per run; `testdata`;
//! `bin`, the directory of the project's binaries, which is also first in `PATH`); an unknown
//! `{name}` is an error, while regex repetitions such as `{15}` or `{1,3}` are left alone.
//! Commands run through `sh -c` with a time limit (`timeout_ms`, default 120 s).

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use regex::Regex;
use serde::Deserialize;

/// Why a scenario could not be loaded or did not pass.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    #[error("{path}: {msg}")]
    Load { path: String, msg: String },
    #[error("unknown variable {{{0}}}")]
    UnknownVariable(String),
    #[error("bad regex {pattern:?}: {msg}")]
    Regex { pattern: String, msg: String },
    #[error("service {name}: {msg}")]
    Service { name: String, msg: String },
    #[error("step {index} ({name}): {msg}")]
    Step {
        index: usize,
        name: String,
        msg: String,
    },
    #[error("{0}")]
    Io(String),
}

/// A scenario file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default, rename = "file")]
    pub files: Vec<FileSpec>,
    #[serde(default, rename = "service")]
    pub services: Vec<ServiceSpec>,
    #[serde(default, rename = "step")]
    pub steps: Vec<Step>,
}

/// A file written before the services start.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileSpec {
    pub path: String,
    pub content: String,
}

/// A background process.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceSpec {
    pub name: String,
    pub run: String,
    /// The service is ready once each of these regexes has matched a line of its stdout (a
    /// single string or a list); their named groups become variables. Without it, the service
    /// is ready at once.
    #[serde(default)]
    pub ready: Patterns,
    /// How long to wait for `ready` (default 30 s).
    #[serde(default)]
    pub ready_ms: Option<u64>,
    /// Not started with the others: a `start = "<name>"` step starts it.
    #[serde(default)]
    pub deferred: bool,
}

/// One regex or a list of them.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(untagged)]
pub enum Patterns {
    #[default]
    None,
    One(String),
    Many(Vec<String>),
}

impl Patterns {
    fn list(&self) -> Vec<String> {
        match self {
            Patterns::None => Vec::new(),
            Patterns::One(s) => vec![s.clone()],
            Patterns::Many(v) => v.clone(),
        }
    }
}

/// One step: a command with expectations, or a service action.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Step {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub run: Option<String>,
    #[serde(default)]
    pub expect: Vec<String>,
    #[serde(default)]
    pub reject: Vec<String>,
    #[serde(default)]
    pub fails: bool,
    #[serde(default)]
    pub retry_ms: u64,
    #[serde(default)]
    pub timeout_ms: Option<u64>,
    /// Stop (SIGTERM, SIGKILL after 5 s) and start the service again, waiting until ready.
    #[serde(default)]
    pub restart: Option<String>,
    /// SIGKILL the service (no restart).
    #[serde(default)]
    pub kill: Option<String>,
    /// Stop the service gracefully (SIGTERM, SIGKILL after 5 s).
    #[serde(default)]
    pub stop: Option<String>,
    /// Start a service that was stopped or killed.
    #[serde(default)]
    pub start: Option<String>,
}

impl Step {
    fn label(&self, index: usize) -> String {
        if let Some(n) = &self.name {
            return n.clone();
        }
        for (verb, s) in [
            ("run", &self.run),
            ("restart", &self.restart),
            ("kill", &self.kill),
            ("stop", &self.stop),
            ("start", &self.start),
        ] {
            if let Some(s) = s {
                return format!("{verb} {s}");
            }
        }
        format!("step {index}")
    }
}

/// Loads a scenario file.
pub fn load(path: &Path) -> Result<Scenario, ScenarioError> {
    let text = std::fs::read_to_string(path).map_err(|e| ScenarioError::Load {
        path: path.display().to_string(),
        msg: e.to_string(),
    })?;
    let s: Scenario = toml::from_str(&text).map_err(|e| ScenarioError::Load {
        path: path.display().to_string(),
        msg: e.to_string(),
    })?;
    for (i, st) in s.steps.iter().enumerate() {
        let actions = [&st.run, &st.restart, &st.kill, &st.stop, &st.start]
            .iter()
            .filter(|a| a.is_some())
            .count();
        if actions != 1 {
            return Err(ScenarioError::Load {
                path: path.display().to_string(),
                msg: format!(
                    "step {} ({}): exactly one of run, restart, kill, stop, start",
                    i + 1,
                    st.label(i + 1)
                ),
            });
        }
    }
    Ok(s)
}

/// Where the binaries and test data are.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Directory of the project's binaries (hil, vmodem, testbed, veuicc); first in `PATH`.
    pub bin: PathBuf,
    pub testdata: PathBuf,
    /// Keep the scenario's directory afterwards (its path is in the report).
    pub keep: bool,
    /// Print each step's output, not only on failure.
    pub verbose: bool,
}

/// The outcome of one step.
#[derive(Debug, Clone)]
pub struct StepReport {
    pub name: String,
    pub elapsed: Duration,
    pub attempts: u32,
}

/// A passed scenario.
#[derive(Debug, Clone)]
pub struct Report {
    pub name: String,
    pub steps: Vec<StepReport>,
    pub elapsed: Duration,
    pub dir: PathBuf,
}

/// Replaces `{ident}` with the variable's value; `{` not followed by an identifier and `}` is
/// kept as it is (regex repetitions).
pub fn substitute(s: &str, vars: &HashMap<String, String>) -> Result<String, ScenarioError> {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let ident_len = after
            .char_indices()
            .take_while(|(i, c)| {
                c.is_ascii_alphabetic() || *c == '_' || (*i > 0 && c.is_ascii_digit())
            })
            .count();
        if ident_len > 0 && after[ident_len..].starts_with('}') {
            let name = &after[..ident_len];
            let v = vars
                .get(name)
                .ok_or_else(|| ScenarioError::UnknownVariable(name.to_string()))?;
            out.push_str(v);
            rest = &after[ident_len + 1..];
        } else {
            out.push('{');
            rest = after;
        }
    }
    out.push_str(rest);
    Ok(out)
}

fn compile(pattern: &str) -> Result<Regex, ScenarioError> {
    Regex::new(&format!("(?m){pattern}")).map_err(|e| ScenarioError::Regex {
        pattern: pattern.to_string(),
        msg: e.to_string(),
    })
}

/// Named groups of the first match become variables.
fn capture(re: &Regex, text: &str, vars: &mut HashMap<String, String>) -> bool {
    let Some(c) = re.captures(text) else {
        return false;
    };
    for name in re.capture_names().flatten() {
        if let Some(m) = c.name(name) {
            vars.insert(name.to_string(), m.as_str().to_string());
        }
    }
    true
}

struct Service {
    spec: ServiceSpec,
    child: Option<Child>,
}

fn shell(cmd: &str, opts: &RunOptions, dir: &Path) -> Command {
    let mut c = Command::new("sh");
    c.arg("-c").arg(cmd).current_dir(dir);
    let path = std::env::var_os("PATH").unwrap_or_default();
    let mut paths = vec![opts.bin.clone()];
    paths.extend(std::env::split_paths(&path));
    if let Ok(p) = std::env::join_paths(paths) {
        c.env("PATH", p);
    }
    c
}

impl Service {
    fn start(
        &mut self,
        opts: &RunOptions,
        dir: &Path,
        vars: &mut HashMap<String, String>,
    ) -> Result<(), ScenarioError> {
        let err = |msg: String| ScenarioError::Service {
            name: self.spec.name.clone(),
            msg,
        };
        let cmd = substitute(&self.spec.run, vars)?;
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join(format!("{}.log", self.spec.name)))
            .map_err(|e| err(format!("log file: {e}")))?;
        let mut c = shell(&cmd, opts, dir);
        c.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log));
        // Its own process group, so a stop reaches what `sh -c` started.
        std::os::unix::process::CommandExt::process_group(&mut c, 0);
        let mut child = c.spawn().map_err(|e| err(format!("{cmd}: {e}")))?;
        let stdout = child.stdout.take().ok_or_else(|| err("no stdout".into()))?;
        let (tx, rx) = mpsc::channel::<String>();
        // Reads the service's stdout to its end (so it never blocks on a full pipe).
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let _ = tx.send(line);
            }
        });
        self.child = Some(child);
        let mut pending = Vec::new();
        for p in self.spec.ready.list() {
            pending.push(compile(&substitute(&p, vars)?)?);
        }
        if pending.is_empty() {
            return Ok(());
        }
        let wanted: Vec<String> = pending.iter().map(|r| r.as_str().to_string()).collect();
        let deadline = Instant::now() + Duration::from_millis(self.spec.ready_ms.unwrap_or(30_000));
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left.min(Duration::from_millis(100))) {
                Ok(line) => {
                    pending.retain(|re| !capture(re, &line, vars));
                    if pending.is_empty() {
                        return Ok(());
                    }
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    // Stdout closed: the service exited (or closed it) before being ready.
                    let status = self.child.as_mut().and_then(|c| c.wait().ok());
                    return Err(err(format!(
                        "exited before ready ({}); see {}",
                        status.map(|s| s.to_string()).unwrap_or_default(),
                        dir.join(format!("{}.log", self.spec.name)).display()
                    )));
                }
            }
            if Instant::now() >= deadline {
                return Err(err(format!(
                    "not ready: no stdout line matched {:?} (of {wanted:?})",
                    pending.iter().map(Regex::as_str).collect::<Vec<_>>()
                )));
            }
        }
    }

    fn signal(&self, sig: nix::sys::signal::Signal) {
        if let Some(c) = &self.child {
            if let Ok(pid) = i32::try_from(c.id()) {
                let _ = nix::sys::signal::killpg(nix::unistd::Pid::from_raw(pid), sig);
            }
        }
    }

    fn kill(&mut self) {
        self.signal(nix::sys::signal::Signal::SIGKILL);
        if let Some(mut c) = self.child.take() {
            let _ = c.wait();
        }
    }

    fn stop(&mut self) {
        self.signal(nix::sys::signal::Signal::SIGTERM);
        if let Some(mut c) = self.child.take() {
            let deadline = Instant::now() + Duration::from_secs(5);
            loop {
                match c.try_wait() {
                    Ok(Some(_)) | Err(_) => break,
                    Ok(None) if Instant::now() >= deadline => {
                        self.child = Some(c);
                        self.kill();
                        return;
                    }
                    Ok(None) => std::thread::sleep(Duration::from_millis(20)),
                }
            }
        }
        // Children of `sh -c` that ignored SIGTERM.
        self.signal(nix::sys::signal::Signal::SIGKILL);
    }
}

/// Stops every service when dropped (also on failure).
struct Services(Vec<Service>);

impl Drop for Services {
    fn drop(&mut self) {
        for s in self.0.iter_mut().rev() {
            s.stop();
        }
    }
}

impl Services {
    fn get(&mut self, name: &str) -> Option<&mut Service> {
        self.0.iter_mut().find(|s| s.spec.name == name)
    }
}

struct Output {
    status: Option<i32>,
    text: String,
    timed_out: bool,
}

fn run_command(
    cmd: &str,
    opts: &RunOptions,
    dir: &Path,
    timeout: Duration,
) -> Result<Output, ScenarioError> {
    let mut c = shell(cmd, opts, dir);
    c.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    std::os::unix::process::CommandExt::process_group(&mut c, 0);
    let mut child = c
        .spawn()
        .map_err(|e| ScenarioError::Io(format!("{cmd}: {e}")))?;
    let read_all = |r: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            if let Some(mut r) = r {
                let _ = r.read_to_end(&mut buf);
            }
            buf
        })
    };
    let out = read_all(
        child
            .stdout
            .take()
            .map(|s| Box::new(s) as Box<dyn Read + Send>),
    );
    let err = read_all(
        child
            .stderr
            .take()
            .map(|s| Box::new(s) as Box<dyn Read + Send>),
    );
    let deadline = Instant::now() + timeout;
    let mut timed_out = false;
    let status = loop {
        match child.try_wait() {
            Ok(Some(s)) => break s.code(),
            Ok(None) if Instant::now() >= deadline => {
                timed_out = true;
                if let Ok(pid) = i32::try_from(child.id()) {
                    let _ = nix::sys::signal::killpg(
                        nix::unistd::Pid::from_raw(pid),
                        nix::sys::signal::Signal::SIGKILL,
                    );
                }
                let _ = child.wait();
                break None;
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(5)),
            Err(e) => return Err(ScenarioError::Io(format!("{cmd}: {e}"))),
        }
    };
    let mut text = String::from_utf8_lossy(&out.join().unwrap_or_default()).into_owned();
    let e = String::from_utf8_lossy(&err.join().unwrap_or_default()).into_owned();
    if !e.is_empty() {
        if !text.is_empty() && !text.ends_with('\n') {
            text.push('\n');
        }
        text.push_str(&e);
    }
    Ok(Output {
        status,
        text,
        timed_out,
    })
}

/// Checks one attempt of a command step; on success, its captures are added to `vars`.
fn check(step: &Step, out: &Output, vars: &mut HashMap<String, String>) -> Result<(), String> {
    if out.timed_out {
        return Err("timed out".into());
    }
    let ok = out.status == Some(0);
    if step.fails && ok {
        return Err("exited 0 but the step expects a failure".into());
    }
    if !step.fails && !ok {
        return Err(format!(
            "exited with {}",
            out.status
                .map(|c| c.to_string())
                .unwrap_or("a signal".into())
        ));
    }
    // Later expectations of the step may use what earlier ones captured.
    let mut captured = vars.clone();
    for p in &step.expect {
        let pat = substitute(p, &captured).map_err(|e| e.to_string())?;
        let re = compile(&pat).map_err(|e| e.to_string())?;
        if !capture(&re, &out.text, &mut captured) {
            return Err(format!("expected /{pat}/ in the output"));
        }
    }
    for p in &step.reject {
        let pat = substitute(p, &captured).map_err(|e| e.to_string())?;
        let re = compile(&pat).map_err(|e| e.to_string())?;
        if re.is_match(&out.text) {
            return Err(format!("rejected /{pat}/ found in the output"));
        }
    }
    *vars = captured;
    Ok(())
}

fn indent(text: &str) -> String {
    text.lines()
        .map(|l| format!("      | {l}\n"))
        .collect::<String>()
}

/// Runs a scenario; progress lines go to stderr. On failure the error names the step and
/// carries the command's output.
pub fn run(s: &Scenario, opts: &RunOptions) -> Result<Report, ScenarioError> {
    let t0 = Instant::now();
    static RUNS: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_micros())
        .unwrap_or_default();
    let dir = std::env::temp_dir().join(format!(
        "hil-scenario-{}-{stamp}-{}",
        std::process::id(),
        RUNS.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir)
        .map_err(|e| ScenarioError::Io(format!("{}: {e}", dir.display())))?;
    let result = run_in(s, opts, &dir, t0);
    if !opts.keep && result.is_ok() {
        let _ = std::fs::remove_dir_all(&dir);
    }
    result
}

fn run_in(
    s: &Scenario,
    opts: &RunOptions,
    dir: &Path,
    t0: Instant,
) -> Result<Report, ScenarioError> {
    let mut vars: HashMap<String, String> = HashMap::new();
    vars.insert("dir".into(), dir.display().to_string());
    vars.insert("testdata".into(), opts.testdata.display().to_string());
    vars.insert("bin".into(), opts.bin.display().to_string());
    eprintln!("scenario: {} (in {})", s.name, dir.display());
    for f in &s.files {
        let path = PathBuf::from(substitute(&f.path, &vars)?);
        let content = substitute(&f.content, &vars)?;
        if let Some(p) = path.parent() {
            std::fs::create_dir_all(p).map_err(|e| ScenarioError::Io(e.to_string()))?;
        }
        std::fs::write(&path, content)
            .map_err(|e| ScenarioError::Io(format!("{}: {e}", path.display())))?;
    }
    let mut services = Services(Vec::new());
    for spec in &s.services {
        let t = Instant::now();
        services.0.push(Service {
            spec: spec.clone(),
            child: None,
        });
        if spec.deferred {
            continue;
        }
        if let Some(svc) = services.0.last_mut() {
            svc.start(opts, dir, &mut vars)?;
        }
        eprintln!(
            "  [svc ] {} ready ({} ms)",
            spec.name,
            t.elapsed().as_millis()
        );
    }
    let mut reports = Vec::new();
    for (i, step) in s.steps.iter().enumerate() {
        let index = i + 1;
        let name = step.label(index);
        let fail = |msg: String| ScenarioError::Step {
            index,
            name: name.clone(),
            msg,
        };
        let t = Instant::now();
        let mut attempts = 0;
        if let Some(cmd) = &step.run {
            let cmd = substitute(cmd, &vars)?;
            let deadline = t + Duration::from_millis(step.retry_ms);
            let timeout = Duration::from_millis(step.timeout_ms.unwrap_or(120_000));
            loop {
                attempts += 1;
                let out = run_command(&cmd, opts, dir, timeout)?;
                match check(step, &out, &mut vars) {
                    Ok(()) => {
                        if opts.verbose {
                            eprint!("{}", indent(&out.text));
                        }
                        break;
                    }
                    Err(why) if Instant::now() >= deadline => {
                        return Err(fail(format!(
                            "{why}\n    command: {cmd}\n    output:\n{}",
                            indent(&out.text)
                        )));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(100)),
                }
            }
        } else {
            attempts = 1;
            let target = [&step.restart, &step.kill, &step.stop, &step.start]
                .into_iter()
                .flatten()
                .next()
                .cloned()
                .unwrap_or_default();
            let svc = services
                .get(&target)
                .ok_or_else(|| fail(format!("no service named {target:?}")))?;
            if step.kill.is_some() {
                svc.kill();
            } else if step.stop.is_some() {
                svc.stop();
            } else {
                if step.restart.is_some() {
                    svc.stop();
                }
                svc.start(opts, dir, &mut vars)?;
            }
        }
        eprintln!(
            "  [ ok ] {index:>2}. {name} ({} ms{})",
            t.elapsed().as_millis(),
            if attempts > 1 {
                format!(", {attempts} attempts")
            } else {
                String::new()
            }
        );
        reports.push(StepReport {
            name,
            elapsed: t.elapsed(),
            attempts,
        });
    }
    drop(services);
    Ok(Report {
        name: s.name.clone(),
        steps: reports,
        elapsed: t0.elapsed(),
        dir: dir.to_path_buf(),
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn substitutes_variables_and_keeps_regex_repetitions() {
        let mut v = HashMap::new();
        v.insert("at0".to_string(), "/tmp/x".to_string());
        assert_eq!(
            substitute(r"hil --at {at0} \d{15} {1,3} {} {", &v).unwrap(),
            r"hil --at /tmp/x \d{15} {1,3} {} {"
        );
        assert!(matches!(
            substitute("{nope}", &v),
            Err(ScenarioError::UnknownVariable(n)) if n == "nope"
        ));
    }
}
