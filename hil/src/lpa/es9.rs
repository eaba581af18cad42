//! ES9+ transports: how the LPA reaches an SM-DP+.
//!
//! [`Es9Transport`] is one JSON POST: `(SM-DP+ address, function path, JSON text) → JSON text`
//! (empty for HTTP 204, as handleNotification answers). Two implementations:
//!
//! - [`HttpsEs9`]: HTTPS with the SGP.22 §6.5.1 headers (`X-Admin-Protocol: gsma/rsp/v2.2.0`,
//!   `User-Agent: gsma-rsp-lpad`, `Content-Type: application/json;charset=UTF-8`), trusting a
//!   given CA (PEM or DER) in addition to, or instead of, the system roots. The connection is
//!   kept alive between calls, so a download does one TLS handshake.
//! - [`InProcessEs9`]: an SM-DP+ in this process behind [`Es9Handler`]. Requests and responses
//!   are the same JSON text as over HTTPS (typed → text → typed on each side, as with HTTPS).
//!
//! The ES9+ status header (`Executed-Success` / `Failed` with subject and reason codes) is not
//! interpreted here: that is the LPA's business (see [`super::download`]).

use rsp::es9::headers;
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::time::Duration;

/// Why an ES9+ call did not produce a response body (the SM-DP+'s own error codes travel in the
/// response header and are not an `Es9CallError`).
#[derive(Debug, thiserror::Error)]
pub enum Es9CallError {
    /// Connection, TLS or I/O failure.
    #[error("cannot reach https://{address}: {message}")]
    Connect { address: String, message: String },
    /// An HTTP status other than 200/204.
    #[error("HTTP {status} from {address}{path}: {body}")]
    Http {
        address: String,
        path: String,
        status: u16,
        body: String,
    },
    /// The body is not JSON.
    #[error("the response of {path} is not JSON: {message}")]
    Json { path: String, message: String },
    /// The transport refuses the call (unknown path, address not served, configuration).
    #[error("{0}")]
    Refused(String),
}

/// One ES9+ function call: POST `body` to `https://<smdp_address><path>`.
pub trait Es9Transport {
    /// Calls the function at `path` (one of [`rsp::es9::path`]) of the SM-DP+ at `smdp_address`
    /// (`host[:port]`) with the JSON text `body`. Returns the response body (JSON text), empty for
    /// an empty (204) answer.
    fn call(
        &mut self,
        smdp_address: &str,
        path: &str,
        body: Vec<u8>,
    ) -> Result<Vec<u8>, Es9CallError>;

    /// A human-readable description, for progress lines.
    fn describe(&self) -> String;
}

impl<T: Es9Transport + ?Sized> Es9Transport for Box<T> {
    fn call(
        &mut self,
        smdp_address: &str,
        path: &str,
        body: Vec<u8>,
    ) -> Result<Vec<u8>, Es9CallError> {
        (**self).call(smdp_address, path, body)
    }
    fn describe(&self) -> String {
        (**self).describe()
    }
}

// =============================================================================================
// HTTPS
// =============================================================================================

/// Which certificates the HTTPS transport trusts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Trust {
    /// The system roots only.
    #[default]
    System,
    /// The given CA certificates in addition to the system roots.
    SystemAndCa,
    /// Only the given CA certificates (a test SM-DP+ whose TLS certificate comes from a test CI).
    CaOnly,
}

/// Options of [`HttpsEs9`].
#[derive(Debug, Clone, Default)]
pub struct HttpsOptions {
    /// CA certificates, DER.
    pub ca_der: Vec<Vec<u8>>,
    /// How to use them.
    pub trust: Trust,
    /// Host names to resolve to fixed addresses instead of asking DNS (the TLS name is still
    /// the host name), e.g. a test SM-DP+ named `testsmdpplus1.example.com` on 127.0.0.1. The
    /// port always comes from the SM-DP+ address.
    pub resolve: Vec<(String, IpAddr)>,
    /// Per-request timeout (default 30 s).
    pub timeout: Option<Duration>,
}

impl HttpsOptions {
    /// Trust the CA certificate(s) in `path` (PEM, possibly several, or one DER certificate)
    /// instead of the system roots.
    pub fn with_ca_file(mut self, path: &Path, exclusive: bool) -> Result<Self, Es9CallError> {
        let data = std::fs::read(path)
            .map_err(|e| Es9CallError::Refused(format!("reading {}: {e}", path.display())))?;
        self.ca_der.extend(
            parse_certificates(&data)
                .map_err(|e| Es9CallError::Refused(format!("{}: {e}", path.display())))?,
        );
        self.trust = if exclusive {
            Trust::CaOnly
        } else {
            Trust::SystemAndCa
        };
        Ok(self)
    }
}

/// Certificates from PEM text (`-----BEGIN CERTIFICATE-----` blocks) or one DER certificate.
pub fn parse_certificates(data: &[u8]) -> Result<Vec<Vec<u8>>, String> {
    let text = std::str::from_utf8(data).ok();
    match text {
        Some(t) if t.contains("-----BEGIN") => {
            let mut out = Vec::new();
            let mut rest = t;
            while let Some(start) = rest.find("-----BEGIN CERTIFICATE-----") {
                let body_start = start + "-----BEGIN CERTIFICATE-----".len();
                let Some(end) = rest[body_start..].find("-----END CERTIFICATE-----") else {
                    return Err("unterminated PEM certificate".into());
                };
                let b64 = &rest[body_start..body_start + end];
                out.push(rsp::es9::b64_decode(b64).map_err(|e| e.to_string())?);
                rest = &rest[body_start + end..];
            }
            if out.is_empty() {
                return Err("no CERTIFICATE block in the PEM file".into());
            }
            Ok(out)
        }
        _ => {
            rsp::tlv::parse_exact(data).map_err(|e| format!("not PEM and not one DER TLV: {e}"))?;
            Ok(vec![data.to_vec()])
        }
    }
}

/// ES9+ over HTTPS (blocking; one keep-alive connection per SM-DP+).
pub struct HttpsEs9 {
    client: reqwest::blocking::Client,
    description: String,
}

impl fmt::Debug for HttpsEs9 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "HttpsEs9({})", self.description)
    }
}

impl HttpsEs9 {
    /// A client with these options.
    pub fn new(options: &HttpsOptions) -> Result<Self, Es9CallError> {
        let mut hdrs = reqwest::header::HeaderMap::new();
        hdrs.insert(
            headers::X_ADMIN_PROTOCOL,
            reqwest::header::HeaderValue::from_static(headers::ADMIN_PROTOCOL_V2_2_0),
        );
        let mut b = reqwest::blocking::Client::builder()
            .user_agent(headers::USER_AGENT_LPAD)
            .default_headers(hdrs)
            .no_proxy()
            .http1_only()
            .tcp_nodelay(true)
            .timeout(options.timeout.unwrap_or(Duration::from_secs(30)))
            .pool_max_idle_per_host(2);
        let mut certs = Vec::new();
        for der in &options.ca_der {
            certs.push(
                reqwest::Certificate::from_der(der)
                    .map_err(|e| Es9CallError::Refused(format!("CA certificate: {e}")))?,
            );
        }
        let trust = match (options.trust, certs.is_empty()) {
            (Trust::CaOnly, false) => {
                b = b.tls_certs_only(certs);
                "trusting the given CA only"
            }
            (Trust::SystemAndCa, false) => {
                b = b.tls_certs_merge(certs);
                "trusting the system roots and the given CA"
            }
            _ => "trusting the system roots",
        };
        let mut description = format!("HTTPS, {trust}");
        for (host, ip) in &options.resolve {
            b = b.resolve(host, SocketAddr::new(*ip, 0));
            description.push_str(&format!(", {host} at {ip}"));
        }
        let client = b
            .build()
            .map_err(|e| Es9CallError::Refused(format!("HTTPS client: {}", error_chain(&e))))?;
        Ok(HttpsEs9 {
            client,
            description,
        })
    }

    /// A client that trusts only the CA certificates in `ca_file` (PEM or DER), or the system
    /// roots when `None`.
    pub fn with_ca(ca_file: Option<&Path>) -> Result<Self, Es9CallError> {
        let opts = match ca_file {
            Some(p) => HttpsOptions::default().with_ca_file(p, true)?,
            None => HttpsOptions::default(),
        };
        Self::new(&opts)
    }
}

/// An error and its sources on one line (reqwest hides the TLS reason in the chain). A
/// top-level "error sending request for url (…)" is dropped: the caller names the URL.
fn error_chain(e: &dyn std::error::Error) -> String {
    let top = e.to_string();
    let (mut s, mut cur) = match e.source() {
        Some(src) if top.starts_with("error sending request") => (src.to_string(), src.source()),
        _ => (top, e.source()),
    };
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

impl Es9Transport for HttpsEs9 {
    fn call(
        &mut self,
        smdp_address: &str,
        path: &str,
        body: Vec<u8>,
    ) -> Result<Vec<u8>, Es9CallError> {
        let url = format!("https://{smdp_address}{path}");
        let resp = self
            .client
            .post(&url)
            .header(headers::CONTENT_TYPE, headers::CONTENT_TYPE_JSON)
            .body(body)
            .send()
            .map_err(|e| Es9CallError::Connect {
                address: smdp_address.into(),
                message: error_chain(&e),
            })?;
        let status = resp.status().as_u16();
        let bytes = resp.bytes().map_err(|e| Es9CallError::Connect {
            address: smdp_address.into(),
            message: error_chain(&e),
        })?;
        match status {
            204 => Ok(Vec::new()),
            200 => Ok(bytes.to_vec()),
            _ => Err(Es9CallError::Http {
                address: smdp_address.into(),
                path: path.into(),
                status,
                body: String::from_utf8_lossy(&bytes[..bytes.len().min(300)]).into_owned(),
            }),
        }
    }

    fn describe(&self) -> String {
        self.description.clone()
    }
}

// =============================================================================================
// In-process
// =============================================================================================

/// An SM-DP+ in this process: one ES9+ function call on JSON text, as its HTTP server would see
/// it.
pub trait Es9Handler {
    /// Handles `body` (the request's JSON text) for the function at `path`; returns the response
    /// body (JSON text), empty for "HTTP 204". An unknown path is an [`Es9CallError`].
    fn handle(&self, path: &str, body: &[u8]) -> Result<Vec<u8>, Es9CallError>;
}

impl<H: Es9Handler + ?Sized> Es9Handler for std::sync::Arc<H> {
    fn handle(&self, path: &str, body: &[u8]) -> Result<Vec<u8>, Es9CallError> {
        (**self).handle(path, body)
    }
}

impl<H: Es9Handler + ?Sized> Es9Handler for &H {
    fn handle(&self, path: &str, body: &[u8]) -> Result<Vec<u8>, Es9CallError> {
        (**self).handle(path, body)
    }
}

/// ES9+ to an in-process SM-DP+. Every request and response is JSON text, so both sides see
/// exactly what HTTPS would carry.
#[derive(Debug)]
pub struct InProcessEs9<H> {
    handler: H,
    /// When set, calls to any other SM-DP+ address are refused (a notification for another
    /// server must not land here).
    pub only_address: Option<String>,
}

impl<H: Es9Handler> InProcessEs9<H> {
    /// Serves every address with `handler`.
    pub fn new(handler: H) -> Self {
        InProcessEs9 {
            handler,
            only_address: None,
        }
    }

    /// The handler.
    pub fn handler(&self) -> &H {
        &self.handler
    }
}

impl<H: Es9Handler> Es9Transport for InProcessEs9<H> {
    fn call(
        &mut self,
        smdp_address: &str,
        path: &str,
        body: Vec<u8>,
    ) -> Result<Vec<u8>, Es9CallError> {
        if let Some(only) = &self.only_address {
            if !only.eq_ignore_ascii_case(smdp_address) {
                return Err(Es9CallError::Refused(format!(
                    "the in-process SM-DP+ serves {only}, not {smdp_address}"
                )));
            }
        }
        self.handler.handle(path, &body)
    }

    fn describe(&self) -> String {
        "in-process SM-DP+".into()
    }
}
