//! Asking the IMEI assignment server (`testbed imei-server`) for a new IMEI.
//!
//! The modem's command path runs inside a tokio task that holds the modem's std mutex, so it
//! must never block on the network (and `reqwest::blocking` must not run inside the runtime).
//! [`HttpsSource`] therefore owns a worker thread of its own: [`ImeiSource::request`] only
//! queues a job on a channel; the worker (outside any runtime) builds its blocking HTTPS client
//! once, POSTs `{device_id, iccid}` to `<url>/imei/assign` and sends the answer back;
//! [`ImeiSource::take_results`] collects answers without waiting. The device polls for them on
//! its timer (every [`POLL_INTERVAL`] while a request is in flight) and the engine binds the
//! profile then. Dropping the source closes the job channel; the worker ends after its current
//! request (it is never joined, so a drop never blocks).

use std::fmt;
use std::path::PathBuf;
use std::sync::mpsc::{channel, Receiver, Sender};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::device::imei::Imei;

/// How often the device looks for answers while a request is in flight.
pub const POLL_INTERVAL: Duration = Duration::from_millis(20);

/// Time allowed for one request.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// An answer: the ICCID asked for, and the IMEI or why there is none.
pub type Answer = (String, Result<Imei, String>);

/// Where new IMEIs come from.
pub trait ImeiSource: Send + fmt::Debug {
    /// Queues a request for `iccid` (never blocks).
    fn request(&mut self, device_id: &str, iccid: &str);
    /// Answers that arrived since the last call (never blocks).
    fn take_results(&mut self) -> Vec<Answer>;
    /// Whether a request is still unanswered.
    fn in_flight(&self) -> bool;
}

/// The request body of `POST /imei/assign`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AssignRequest {
    pub device_id: String,
    pub iccid: String,
}

/// The part of the answer the modem uses.
#[derive(Debug, Clone, Deserialize)]
struct AssignAnswer {
    imei: String,
}

#[derive(Debug)]
struct Job {
    device_id: String,
    iccid: String,
}

/// The HTTPS client of the assignment server, on its own thread.
pub struct HttpsSource {
    url: String,
    jobs: Sender<Job>,
    answers: Receiver<Answer>,
    in_flight: usize,
}

impl fmt::Debug for HttpsSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "HttpsSource({}, {} in flight)", self.url, self.in_flight)
    }
}

impl HttpsSource {
    /// A client of the server at `url` (`https://host:port`), trusting the CA certificates in
    /// `ca` (PEM or DER) instead of the system roots when given. Nothing is contacted yet.
    pub fn new(url: &str, ca: Option<PathBuf>) -> Result<HttpsSource, String> {
        let url = url.trim().trim_end_matches('/').to_string();
        if !url.starts_with("https://") {
            return Err(format!(
                "the IMEI assignment server must be an https:// URL, not {url:?}"
            ));
        }
        let (jobs, job_rx) = channel::<Job>();
        let (answer_tx, answers) = channel::<Answer>();
        let endpoint = format!("{url}/imei/assign");
        std::thread::Builder::new()
            .name("imei-assign".into())
            .spawn(move || worker(&endpoint, ca, &job_rx, &answer_tx))
            .map_err(|e| format!("starting the IMEI assignment thread: {e}"))?;
        Ok(HttpsSource {
            url,
            jobs,
            answers,
            in_flight: 0,
        })
    }

    pub fn url(&self) -> &str {
        &self.url
    }
}

impl ImeiSource for HttpsSource {
    fn request(&mut self, device_id: &str, iccid: &str) {
        let job = Job {
            device_id: device_id.to_string(),
            iccid: iccid.to_string(),
        };
        if self.jobs.send(job).is_ok() {
            self.in_flight += 1;
        }
    }

    fn take_results(&mut self) -> Vec<Answer> {
        let got: Vec<Answer> = self.answers.try_iter().collect();
        self.in_flight = self.in_flight.saturating_sub(got.len());
        got
    }

    fn in_flight(&self) -> bool {
        self.in_flight > 0
    }
}

fn client(ca: Option<PathBuf>) -> Result<reqwest::blocking::Client, String> {
    let mut b = reqwest::blocking::Client::builder()
        .no_proxy()
        .http1_only()
        .timeout(REQUEST_TIMEOUT)
        .user_agent(concat!("vmodem/", env!("CARGO_PKG_VERSION")));
    if let Some(path) = ca {
        let bytes = std::fs::read(&path)
            .map_err(|e| format!("reading the CA file {}: {e}", path.display()))?;
        let certs = if bytes.starts_with(b"-----BEGIN") {
            reqwest::Certificate::from_pem_bundle(&bytes)
        } else {
            reqwest::Certificate::from_der(&bytes).map(|c| vec![c])
        }
        .map_err(|e| format!("the CA file {}: {e}", path.display()))?;
        b = b.tls_certs_only(certs);
    }
    b.build().map_err(|e| format!("HTTPS client: {e}"))
}

fn worker(endpoint: &str, ca: Option<PathBuf>, jobs: &Receiver<Job>, answers: &Sender<Answer>) {
    let client = client(ca);
    for job in jobs.iter() {
        let result = match &client {
            Ok(c) => assign(c, endpoint, &job),
            Err(e) => Err(e.clone()),
        };
        if let Err(e) = &result {
            tracing::warn!(iccid = %job.iccid, error = %e, "IMEI assignment failed");
        }
        if answers.send((job.iccid, result)).is_err() {
            break;
        }
    }
}

/// An error and its sources on one line.
fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        let t = c.to_string();
        if !s.contains(&t) {
            s.push_str(": ");
            s.push_str(&t);
        }
        cur = c.source();
    }
    s
}

fn assign(client: &reqwest::blocking::Client, endpoint: &str, job: &Job) -> Result<Imei, String> {
    let body = AssignRequest {
        device_id: job.device_id.clone(),
        iccid: job.iccid.clone(),
    };
    let resp = client
        .post(endpoint)
        .json(&body)
        .send()
        .map_err(|e| format!("POST {endpoint}: {}", chain(&e)))?;
    let status = resp.status();
    let text = resp
        .text()
        .map_err(|e| format!("POST {endpoint}: {}", chain(&e)))?;
    if !status.is_success() {
        return Err(format!("POST {endpoint}: HTTP {status}: {text}"));
    }
    let a: AssignAnswer = serde_json::from_str(&text)
        .map_err(|e| format!("POST {endpoint}: unexpected answer {text:?}: {e}"))?;
    Imei::parse(&a.imei).map_err(|e| format!("POST {endpoint}: {e}"))
}
