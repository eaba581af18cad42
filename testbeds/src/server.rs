//! The SM-DP+ over HTTPS (axum on rustls): ES9+ at [`rsp::es9::path`], ES2+ at
//! [`crate::es2::path`].
//!
//! Request checks, before the body is looked at (each answered `400` with a JSON
//! `{"header": {"functionExecutionStatus": {"status": "Failed", "statusCodeData": …}}}`):
//! method `POST`; `Content-Type: application/json` (parameters allowed); `X-Admin-Protocol:
//! gsma/rsp/v2.*`. Bodies are limited to [`BODY_LIMIT`] bytes (`413` beyond). A body that is not
//! the function's JSON object is answered `200` with a `Failed` header saying why, as is every
//! refusal of the SM-DP+ itself; handleNotification answers `204` when the notification was
//! verified and recorded. Unknown paths answer `404` with the same JSON shape.
//!
//! Test administration (not SGP.22): `GET` [`ADMIN_ORDERS`] answers every profile of the
//! inventory with its state and order, including the DeviceInfo (TAC, IMEI) of each download
//! (`order.devices`), as a JSON array.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode as HttpStatus};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use axum::Router;
use rsp::es9::{self, headers, ResponseHeader, StatusCode};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::es2::{self, status_codes as c};
use crate::identity::SmdpIdentity;
use crate::smdp::Smdp;

/// Largest request body accepted.
pub const BODY_LIMIT: usize = 256 * 1024;

/// The test administration path listing the inventory and its orders (`GET`).
pub const ADMIN_ORDERS: &str = "/admin/orders";

/// `X-Admin-Protocol` prefix accepted (any SGP.22 v2 version).
pub const ADMIN_PROTOCOL_PREFIX: &str = "gsma/rsp/v2.";

/// Why the server could not start or stop.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// The TLS configuration was refused by rustls.
    #[error("TLS configuration: {0}")]
    Tls(#[from] rustls::Error),
    /// The TLS key could not be encoded.
    #[error("TLS key: {0}")]
    Key(String),
    /// Binding or serving failed.
    #[error("{0}")]
    Io(#[from] io::Error),
    /// The server task failed.
    #[error("server task: {0}")]
    Task(String),
}

/// The TLS server configuration (certificate and key of the SM-DP+'s TLS identity).
#[derive(Debug, Clone)]
pub struct TlsConfig(Arc<rustls::ServerConfig>);

impl TlsConfig {
    /// TLS 1.2/1.3 with the identity's TLS certificate and key (rustls, aws-lc-rs).
    pub fn from_identity(identity: &SmdpIdentity) -> Result<TlsConfig, ServerError> {
        use rustls::pki_types::pem::PemObject;
        use rustls::pki_types::{CertificateDer, PrivateKeyDer};
        let pem = identity
            .tls_key
            .to_pkcs8_pem()
            .map_err(|e| ServerError::Key(e.to_string()))?;
        let key = PrivateKeyDer::from_pem_slice(pem.as_bytes())
            .map_err(|e| ServerError::Key(e.to_string()))?;
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_no_client_auth()
            .with_single_cert(vec![CertificateDer::from(identity.tls_cert.clone())], key)?;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(TlsConfig(Arc::new(config)))
    }
}

/// The HTTPS front of an [`Smdp`].
#[derive(Debug)]
pub struct SmdpServer;

/// A running server: its address, and how to stop it.
#[derive(Debug)]
pub struct ServerHandle {
    handle: axum_server::Handle<SocketAddr>,
    task: tokio::task::JoinHandle<io::Result<()>>,
}

impl ServerHandle {
    /// Stops accepting connections, lets open requests finish for at most `grace`, and waits for
    /// the server to end.
    pub async fn shutdown(self, grace: Duration) -> Result<(), ServerError> {
        self.handle.graceful_shutdown(Some(grace));
        self.wait().await
    }

    /// Asks the server to stop (gracefully, within `grace`) without waiting.
    pub fn begin_shutdown(&self, grace: Duration) {
        self.handle.graceful_shutdown(Some(grace));
    }

    /// Waits until the server ends.
    pub async fn wait(self) -> Result<(), ServerError> {
        match self.task.await {
            Ok(r) => Ok(r?),
            Err(e) => Err(ServerError::Task(e.to_string())),
        }
    }
}

impl SmdpServer {
    /// The routes, without TLS (for embedding or for tests with a plain HTTP client).
    pub fn router(smdp: Arc<Smdp>) -> Router {
        Router::new()
            .route(
                es9::path::INITIATE_AUTHENTICATION,
                any(initiate_authentication),
            )
            .route(es9::path::AUTHENTICATE_CLIENT, any(authenticate_client))
            .route(
                es9::path::GET_BOUND_PROFILE_PACKAGE,
                any(get_bound_profile_package),
            )
            .route(es9::path::HANDLE_NOTIFICATION, any(handle_notification))
            .route(es9::path::CANCEL_SESSION, any(cancel_session))
            .route(es2::path::DOWNLOAD_ORDER, any(download_order))
            .route(es2::path::CONFIRM_ORDER, any(confirm_order))
            .route(es2::path::CANCEL_ORDER, any(cancel_order))
            .route(es2::path::RELEASE_PROFILE, any(release_profile))
            .route(ADMIN_ORDERS, any(admin_orders))
            .fallback(not_found)
            .layer(DefaultBodyLimit::max(BODY_LIMIT))
            .with_state(smdp)
    }

    /// Binds `addr` (port 0 for any free port), starts serving HTTPS on the current tokio
    /// runtime and returns the address it listens on.
    pub async fn bind(
        addr: SocketAddr,
        smdp: Arc<Smdp>,
        tls: TlsConfig,
    ) -> Result<(SocketAddr, ServerHandle), ServerError> {
        let listener = std::net::TcpListener::bind(addr)?;
        let local = listener.local_addr()?;
        let config = axum_server::tls_rustls::RustlsConfig::from_config(tls.0);
        let handle = axum_server::Handle::<SocketAddr>::new();
        let server =
            axum_server::tls_rustls::from_tcp_rustls(listener, config)?.handle(handle.clone());
        let app = Self::router(smdp);
        let task = tokio::spawn(async move { server.serve(app.into_make_service()).await });
        tracing::info!(%local, "SM-DP+ listening (HTTPS)");
        Ok((local, ServerHandle { handle, task }))
    }
}

/// Serves `app` over HTTPS on `addr` (port 0: any free port) on the current tokio runtime, as
/// [`SmdpServer::bind`] does (the other testbed servers use it).
pub async fn serve_tls(
    addr: SocketAddr,
    app: Router,
    tls: TlsConfig,
    what: &str,
) -> Result<(SocketAddr, ServerHandle), ServerError> {
    let listener = std::net::TcpListener::bind(addr)?;
    let local = listener.local_addr()?;
    let config = axum_server::tls_rustls::RustlsConfig::from_config(tls.0);
    let handle = axum_server::Handle::<SocketAddr>::new();
    let server = axum_server::tls_rustls::from_tcp_rustls(listener, config)?.handle(handle.clone());
    let task = tokio::spawn(async move { server.serve(app.into_make_service()).await });
    tracing::info!(%local, "{what} listening (HTTPS)");
    Ok((local, ServerHandle { handle, task }))
}

// --- responses ---------------------------------------------------------------------------------

#[derive(Serialize)]
struct HeaderOnly {
    header: ResponseHeader,
}

fn failed_header(code: StatusCode, message: impl Into<String>) -> ResponseHeader {
    let mut header = ResponseHeader::failed(code);
    if let Some(d) = header.function_execution_status.status_code_data.as_mut() {
        d.message = Some(message.into());
    }
    header
}

fn json_response<T: Serialize>(status: HttpStatus, body: &T) -> Response {
    match serde_json::to_vec(body) {
        Ok(bytes) => {
            let mut resp = (status, bytes).into_response();
            let h = resp.headers_mut();
            h.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static(headers::CONTENT_TYPE_JSON),
            );
            h.insert(
                headers::X_ADMIN_PROTOCOL,
                HeaderValue::from_static(headers::ADMIN_PROTOCOL_V2_2_0),
            );
            resp
        }
        Err(e) => (HttpStatus::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

fn error_response(status: HttpStatus, code: StatusCode, message: impl Into<String>) -> Response {
    json_response(
        status,
        &HeaderOnly {
            header: failed_header(code, message),
        },
    )
}

async fn not_found(method: Method, uri: axum::http::Uri) -> Response {
    error_response(
        HttpStatus::NOT_FOUND,
        c::UNSUPPORTED_FUNCTION,
        format!("no function at {method} {}", uri.path()),
    )
}

/// The transport checks: method, content type, protocol header. `Some` is the refusal.
fn check_request(method: &Method, headers_in: &HeaderMap) -> Option<Response> {
    if method != Method::POST {
        return Some(error_response(
            HttpStatus::BAD_REQUEST,
            c::UNSUPPORTED_FUNCTION,
            format!("method {method} not allowed: RSP functions are called with POST"),
        ));
    }
    let content_type = headers_in
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let media = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    if media != "application/json" {
        return Some(error_response(
            HttpStatus::BAD_REQUEST,
            c::MALFORMED_REQUEST,
            format!("Content-Type must be application/json, not {content_type:?}"),
        ));
    }
    let protocol = headers_in
        .get(headers::X_ADMIN_PROTOCOL)
        .and_then(|v| v.to_str().ok());
    match protocol {
        Some(p)
            if p.trim()
                .to_ascii_lowercase()
                .starts_with(ADMIN_PROTOCOL_PREFIX) =>
        {
            None
        }
        Some(p) => Some(error_response(
            HttpStatus::BAD_REQUEST,
            c::UNSUPPORTED_PROTOCOL,
            format!("X-Admin-Protocol {p:?} is not supported (gsma/rsp/v2.x.y)"),
        )),
        None => Some(error_response(
            HttpStatus::BAD_REQUEST,
            c::UNSUPPORTED_PROTOCOL,
            "the X-Admin-Protocol header is missing (gsma/rsp/v2.x.y)",
        )),
    }
}

/// Checks the request, parses the body as `Req` and answers `f`'s response as JSON.
fn call<Req, Resp>(
    method: &Method,
    headers_in: &HeaderMap,
    body: &[u8],
    f: impl FnOnce(&Req) -> Resp,
) -> Response
where
    Req: DeserializeOwned,
    Resp: Serialize,
{
    if let Some(resp) = check_request(method, headers_in) {
        return resp;
    }
    match serde_json::from_slice::<Req>(body) {
        Ok(req) => json_response(HttpStatus::OK, &f(&req)),
        Err(e) => {
            tracing::warn!(error = %e, "malformed request body");
            error_response(
                HttpStatus::OK,
                c::MALFORMED_REQUEST,
                format!("malformed request body: {e}"),
            )
        }
    }
}

type S = State<Arc<Smdp>>;

async fn initiate_authentication(State(s): S, m: Method, h: HeaderMap, b: Bytes) -> Response {
    call(&m, &h, &b, |r| s.initiate_authentication(r))
}

async fn authenticate_client(State(s): S, m: Method, h: HeaderMap, b: Bytes) -> Response {
    call(&m, &h, &b, |r| s.authenticate_client(r))
}

async fn get_bound_profile_package(State(s): S, m: Method, h: HeaderMap, b: Bytes) -> Response {
    call(&m, &h, &b, |r| s.get_bound_profile_package(r))
}

async fn cancel_session(State(s): S, m: Method, h: HeaderMap, b: Bytes) -> Response {
    call(&m, &h, &b, |r| s.cancel_session(r))
}

async fn handle_notification(State(s): S, m: Method, h: HeaderMap, b: Bytes) -> Response {
    if let Some(resp) = check_request(&m, &h) {
        return resp;
    }
    match serde_json::from_slice::<es9::HandleNotificationRequest>(&b) {
        Ok(req) => match s.handle_notification(&req) {
            Ok(()) => {
                let mut resp = HttpStatus::NO_CONTENT.into_response();
                resp.headers_mut().insert(
                    headers::X_ADMIN_PROTOCOL,
                    HeaderValue::from_static(headers::ADMIN_PROTOCOL_V2_2_0),
                );
                resp
            }
            Err(e) => json_response(HttpStatus::OK, &HeaderOnly { header: e.header() }),
        },
        Err(e) => error_response(
            HttpStatus::OK,
            c::MALFORMED_REQUEST,
            format!("malformed request body: {e}"),
        ),
    }
}

async fn download_order(State(s): S, m: Method, h: HeaderMap, b: Bytes) -> Response {
    call(&m, &h, &b, |r| s.download_order(r))
}

async fn confirm_order(State(s): S, m: Method, h: HeaderMap, b: Bytes) -> Response {
    call(&m, &h, &b, |r| s.confirm_order(r))
}

async fn cancel_order(State(s): S, m: Method, h: HeaderMap, b: Bytes) -> Response {
    call(&m, &h, &b, |r| s.cancel_order(r))
}

async fn release_profile(State(s): S, m: Method, h: HeaderMap, b: Bytes) -> Response {
    call(&m, &h, &b, |r| s.release_profile(r))
}

/// `GET /admin/orders`: the inventory with orders and download devices.
async fn admin_orders(State(s): S, m: Method) -> Response {
    if m != Method::GET {
        return error_response(
            HttpStatus::METHOD_NOT_ALLOWED,
            c::UNSUPPORTED_FUNCTION,
            format!("{ADMIN_ORDERS} is read with GET"),
        );
    }
    match s.store().profiles() {
        Ok(list) => json_response(HttpStatus::OK, &list),
        Err(e) => error_response(
            HttpStatus::INTERNAL_SERVER_ERROR,
            c::UNSUPPORTED_FUNCTION,
            e.to_string(),
        ),
    }
}
