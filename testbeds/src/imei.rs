//! The IMEI assignment server (issue 5, flow 1): hands out IMEIs from configured TAC ranges to
//! devices that ran out of IMEIs for their profiles (the virtual modem's binding engine asks it).
//!
//! - `POST /imei/assign`, `Content-Type: application/json`, `{"device_id": "…", "iccid": "…"}`
//!   → `200 {"imei", "device_id", "iccid", "assigned_at", "new"}`. The same device and ICCID get
//!   the same IMEI again (`new: false`); an IMEI is never given to two devices (nor to two
//!   ICCIDs). IMEIs are TAC ‖ 6-digit serial ‖ Luhn check digit (3GPP TS 23.003 §6.2, Annex B),
//!   serials taken in order through the TAC ranges.
//! - `GET /imei/assignments` → `200 [assignment, …]` in assignment order.
//! - Errors: `400 {"error"}` (bad JSON, a device ID that is not 1–128 printable characters, an
//!   ICCID that is not 18–20 digits), `413` over [`BODY_LIMIT`], `415` without a JSON content
//!   type, `405` another method, `404` another path, `503 {"error"}` every serial used,
//!   `500 {"error"}` the store failed. A refused request changes nothing.
//!
//! State: one sled database (`STATE/imei-db`): `assignments` (device ID ‖ 0 ‖ ICCID →
//! [`Assignment`] JSON, format version 1, golden file `tests/golden/imei_assignment.json`),
//! `imeis` (IMEI → assignment key), `meta` (`next`: the next serial index, u64 BE). Each new
//! assignment is one atomic transaction over the three trees, flushed before the answer.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use axum::Router;
use serde::{Deserialize, Serialize};
use sled::transaction::{ConflictableTransactionError, TransactionError};
use sled::Transactional;

use crate::server::{ServerError, ServerHandle, TlsConfig};

/// Largest request body accepted.
pub const BODY_LIMIT: usize = 4 * 1024;
/// Format version of [`Assignment`].
pub const FORMAT_VERSION: u32 = 1;
/// The assignment path.
pub const PATH_ASSIGN: &str = "/imei/assign";
/// The listing path.
pub const PATH_ASSIGNMENTS: &str = "/imei/assignments";

const SERIALS_PER_TAC: u64 = 1_000_000;

/// Why the server could not start or answer.
#[derive(Debug, thiserror::Error)]
pub enum ImeiError {
    #[error("{0}")]
    BadRequest(String),
    #[error("every IMEI of the TAC ranges has been assigned")]
    Exhausted,
    #[error("store: {0}")]
    Store(String),
    #[error("TAC range {0:?}: 8 digits, or FIRST-LAST with FIRST ≤ LAST")]
    Tac(String),
}

impl From<sled::Error> for ImeiError {
    fn from(e: sled::Error) -> ImeiError {
        ImeiError::Store(e.to_string())
    }
}

/// An inclusive range of TACs (8 digits each).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TacRange {
    pub first: u32,
    pub last: u32,
}

impl std::str::FromStr for TacRange {
    type Err = ImeiError;
    fn from_str(s: &str) -> Result<TacRange, ImeiError> {
        let tac = |t: &str| -> Result<u32, ImeiError> {
            let t = t.trim();
            if t.len() != 8 || !t.bytes().all(|b| b.is_ascii_digit()) {
                return Err(ImeiError::Tac(s.to_string()));
            }
            t.parse().map_err(|_| ImeiError::Tac(s.to_string()))
        };
        let (first, last) = match s.split_once('-') {
            Some((a, b)) => (tac(a)?, tac(b)?),
            None => (tac(s)?, tac(s)?),
        };
        if first > last {
            return Err(ImeiError::Tac(s.to_string()));
        }
        Ok(TacRange { first, last })
    }
}

impl std::fmt::Display for TacRange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.first == self.last {
            write!(f, "{:08}", self.first)
        } else {
            write!(f, "{:08}-{:08}", self.first, self.last)
        }
    }
}

/// The default TAC range: reporting body `35`, an allocation kept for tests of this project.
pub const DEFAULT_TAC: &str = "35999999";

/// One assignment (persisted JSON, format version 1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Assignment {
    pub version: u32,
    pub device_id: String,
    pub iccid: String,
    /// 15 digits.
    pub imei: String,
    /// Unix seconds.
    pub assigned_at: u64,
}

/// The request body of `POST /imei/assign`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AssignRequest {
    pub device_id: String,
    pub iccid: String,
}

/// The answer of `POST /imei/assign`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AssignResponse {
    pub imei: String,
    pub device_id: String,
    pub iccid: String,
    pub assigned_at: u64,
    /// Whether this request made the assignment (false: it existed).
    pub new: bool,
}

/// The Luhn check digit of decimal `digits` (TS 23.003 Annex B).
pub fn luhn(digits: &str) -> u8 {
    let mut sum = 0u32;
    for (i, c) in digits.bytes().rev().enumerate() {
        let d = u32::from(c.wrapping_sub(b'0')) % 10;
        sum += if i % 2 == 0 {
            let x = d * 2;
            x / 10 + x % 10
        } else {
            d
        };
    }
    ((10 - sum % 10) % 10) as u8
}

/// The `n`-th IMEI of the ranges (serials in order through each TAC), if there is one.
pub fn nth_imei(ranges: &[TacRange], mut n: u64) -> Option<String> {
    for r in ranges {
        let tacs = u64::from(r.last - r.first) + 1;
        let size = tacs * SERIALS_PER_TAC;
        if n < size {
            let tac = u64::from(r.first) + n / SERIALS_PER_TAC;
            let body = format!("{tac:08}{:06}", n % SERIALS_PER_TAC);
            let cd = luhn(&body);
            return Some(format!("{body}{cd}"));
        }
        n -= size;
    }
    None
}

fn check_request(r: &AssignRequest) -> Result<(), ImeiError> {
    let id = &r.device_id;
    if id.is_empty() || id.chars().count() > 128 || id.chars().any(char::is_control) {
        return Err(ImeiError::BadRequest(
            "device_id: 1–128 printable characters".into(),
        ));
    }
    if !(18..=20).contains(&r.iccid.len()) || !r.iccid.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ImeiError::BadRequest(format!(
            "iccid: 18–20 digits, not {:?}",
            r.iccid
        )));
    }
    Ok(())
}

fn key(device_id: &str, iccid: &str) -> Vec<u8> {
    let mut k = device_id.as_bytes().to_vec();
    k.push(0);
    k.extend_from_slice(iccid.as_bytes());
    k
}

/// The server's state and rules (no IO besides its sled database).
#[derive(Debug)]
pub struct ImeiServer {
    db: sled::Db,
    assignments: sled::Tree,
    imeis: sled::Tree,
    meta: sled::Tree,
    ranges: Vec<TacRange>,
    /// At most this many IMEIs are ever assigned (`None`: the whole ranges).
    limit: Option<u64>,
    lock: Mutex<()>,
}

impl ImeiServer {
    /// Opens (or creates) `dir/imei-db`.
    pub fn open(dir: &Path, ranges: Vec<TacRange>) -> Result<ImeiServer, ImeiError> {
        Self::from_db(sled::open(dir.join("imei-db"))?, ranges)
    }

    /// A server whose database is removed when dropped (tests).
    pub fn temporary(ranges: Vec<TacRange>) -> Result<ImeiServer, ImeiError> {
        Self::from_db(sled::Config::new().temporary(true).open()?, ranges)
    }

    fn from_db(db: sled::Db, ranges: Vec<TacRange>) -> Result<ImeiServer, ImeiError> {
        if ranges.is_empty() {
            return Err(ImeiError::Tac(String::new()));
        }
        Ok(ImeiServer {
            assignments: db.open_tree("assignments")?,
            imeis: db.open_tree("imeis")?,
            meta: db.open_tree("meta")?,
            db,
            ranges,
            limit: None,
            lock: Mutex::new(()),
        })
    }

    /// Assigns at most `n` IMEIs in all (a small pool for exhaustion tests).
    pub fn with_limit(mut self, n: u64) -> ImeiServer {
        self.limit = Some(n);
        self
    }

    pub fn ranges(&self) -> &[TacRange] {
        &self.ranges
    }

    /// The IMEI of `device_id` for `iccid`: the existing assignment, or a new one (flushed).
    pub fn assign(&self, req: &AssignRequest, now: u64) -> Result<(Assignment, bool), ImeiError> {
        check_request(req)?;
        let _g = self.lock.lock().unwrap_or_else(|p| p.into_inner());
        let k = key(&req.device_id, &req.iccid);
        if let Some(v) = self.assignments.get(&k)? {
            let a: Assignment =
                serde_json::from_slice(&v).map_err(|e| ImeiError::Store(e.to_string()))?;
            return Ok((a, false));
        }
        let mut next = match self.meta.get(b"next")? {
            Some(v) => {
                let b: [u8; 8] = v
                    .as_ref()
                    .try_into()
                    .map_err(|_| ImeiError::Store("corrupt counter".into()))?;
                u64::from_be_bytes(b)
            }
            None => 0,
        };
        // Skip IMEIs given earlier under other ranges (the configuration may change).
        let imei = loop {
            if self.limit.is_some_and(|l| next >= l) {
                return Err(ImeiError::Exhausted);
            }
            let imei = nth_imei(&self.ranges, next).ok_or(ImeiError::Exhausted)?;
            next += 1;
            if !self.imeis.contains_key(imei.as_bytes())? {
                break imei;
            }
        };
        let a = Assignment {
            version: FORMAT_VERSION,
            device_id: req.device_id.clone(),
            iccid: req.iccid.clone(),
            imei,
            assigned_at: now,
        };
        let json = serde_json::to_vec(&a).map_err(|e| ImeiError::Store(e.to_string()))?;
        let r: Result<(), TransactionError<()>> = (&self.assignments, &self.imeis, &self.meta)
            .transaction(|(ta, ti, tm)| {
                ta.insert(k.as_slice(), json.as_slice())?;
                ti.insert(a.imei.as_bytes(), k.as_slice())?;
                tm.insert(b"next".as_slice(), next.to_be_bytes().as_slice())?;
                Ok::<(), ConflictableTransactionError<()>>(())
            });
        r.map_err(|e| ImeiError::Store(format!("{e:?}")))?;
        self.db.flush()?;
        tracing::info!(device_id = %a.device_id, iccid = %a.iccid, imei = %a.imei, "IMEI assigned");
        Ok((a, true))
    }

    /// Every assignment, in assignment order (by IMEI serial).
    pub fn assignments(&self) -> Result<Vec<Assignment>, ImeiError> {
        let mut out: Vec<Assignment> = Vec::new();
        for v in self.assignments.iter().values() {
            let v = v?;
            out.push(serde_json::from_slice(&v).map_err(|e| ImeiError::Store(e.to_string()))?);
        }
        out.sort_by(|a, b| (a.assigned_at, &a.imei).cmp(&(b.assigned_at, &b.imei)));
        Ok(out)
    }

    /// Writes everything to disk.
    pub fn flush(&self) -> Result<(), ImeiError> {
        self.db.flush()?;
        Ok(())
    }

    /// The HTTP routes (without TLS).
    pub fn router(server: Arc<ImeiServer>) -> Router {
        Router::new()
            .route(PATH_ASSIGN, any(assign))
            .route(PATH_ASSIGNMENTS, any(list))
            .fallback(not_found)
            .layer(DefaultBodyLimit::max(BODY_LIMIT))
            .with_state(server)
    }

    /// Binds `addr` (port 0: any free port) and serves HTTPS on the current tokio runtime.
    pub async fn bind(
        addr: SocketAddr,
        server: Arc<ImeiServer>,
        tls: TlsConfig,
    ) -> Result<(SocketAddr, ServerHandle), ServerError> {
        crate::server::serve_tls(addr, Self::router(server), tls, "IMEI assignment server").await
    }
}

fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn error(status: StatusCode, message: impl Into<String>) -> Response {
    let body = serde_json::json!({ "error": message.into() });
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

fn json<T: Serialize>(value: &T) -> Response {
    match serde_json::to_string(value) {
        Ok(body) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/json")],
            body,
        )
            .into_response(),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

type S = State<Arc<ImeiServer>>;

async fn assign(State(s): S, m: Method, h: HeaderMap, body: Bytes) -> Response {
    if m != Method::POST {
        return error(
            StatusCode::METHOD_NOT_ALLOWED,
            format!("{PATH_ASSIGN} takes POST"),
        );
    }
    let ct = h
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if ct.split(';').next().unwrap_or("").trim() != "application/json" {
        return error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!("Content-Type must be application/json, not {ct:?}"),
        );
    }
    let req: AssignRequest = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => return error(StatusCode::BAD_REQUEST, format!("malformed body: {e}")),
    };
    match s.assign(&req, now_secs()) {
        Ok((a, new)) => json(&AssignResponse {
            imei: a.imei,
            device_id: a.device_id,
            iccid: a.iccid,
            assigned_at: a.assigned_at,
            new,
        }),
        Err(e @ ImeiError::BadRequest(_)) => error(StatusCode::BAD_REQUEST, e.to_string()),
        Err(e @ ImeiError::Exhausted) => error(StatusCode::SERVICE_UNAVAILABLE, e.to_string()),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

async fn list(State(s): S, m: Method) -> Response {
    if m != Method::GET {
        return error(
            StatusCode::METHOD_NOT_ALLOWED,
            format!("{PATH_ASSIGNMENTS} takes GET"),
        );
    }
    match s.assignments() {
        Ok(a) => json(&a),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

async fn not_found(m: Method, uri: axum::http::Uri) -> Response {
    error(
        StatusCode::NOT_FOUND,
        format!("nothing at {m} {}", uri.path()),
    )
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn imeis_have_valid_check_digits_and_run_through_the_ranges() {
        let r: Vec<TacRange> = vec!["35999998-35999999".parse().unwrap()];
        assert_eq!(nth_imei(&r, 0).unwrap(), "359999980000004");
        assert_eq!(&nth_imei(&r, 1_000_000).unwrap()[..14], "35999999000000");
        assert!(nth_imei(&r, 2_000_000).is_none());
        // TS 23.003 Annex B example.
        assert_eq!(luhn("49015420323751"), 8);
    }

    #[test]
    fn tac_ranges_parse_strictly() {
        for bad in [
            "3599999",
            "35999999-3599999",
            "35999999-35999998",
            "abcdefgh",
            "",
        ] {
            assert!(bad.parse::<TacRange>().is_err(), "{bad}");
        }
        let r: TacRange = "35999999".parse().unwrap();
        assert_eq!(r.to_string(), "35999999");
    }
}
