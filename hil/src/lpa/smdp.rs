//! The in-process SM-DP+: [`testbeds::Smdp`] behind [`Es9Handler`], routed by path exactly as its
//! HTTPS server routes (`testbeds::server`), so [`super::InProcessEs9`] runs a download with no
//! network but with the same JSON on both sides.

use super::es9::{Es9CallError, Es9Handler};
use rsp::es9::{self as wire, path};
use serde::de::DeserializeOwned;
use serde::Serialize;
use testbeds::Smdp;

fn json_err(p: &str) -> impl Fn(serde_json::Error) -> Es9CallError + '_ {
    move |e| Es9CallError::Json {
        path: p.into(),
        message: e.to_string(),
    }
}

/// As the server: a malformed body is answered 200 with a failed header.
fn malformed(p: &str, e: &serde_json::Error) -> Result<Vec<u8>, Es9CallError> {
    let mut header = wire::ResponseHeader::failed(testbeds::es2::status_codes::MALFORMED_REQUEST);
    if let Some(d) = header.function_execution_status.status_code_data.as_mut() {
        d.message = Some(format!("malformed request body: {e}"));
    }
    serde_json::to_vec(&HeaderOnly { header }).map_err(json_err(p))
}

#[derive(Serialize)]
struct HeaderOnly {
    header: wire::ResponseHeader,
}

fn call<Req: DeserializeOwned, Resp: Serialize>(
    p: &str,
    body: &[u8],
    f: impl FnOnce(&Req) -> Resp,
) -> Result<Vec<u8>, Es9CallError> {
    match serde_json::from_slice::<Req>(body) {
        Ok(req) => serde_json::to_vec(&f(&req)).map_err(json_err(p)),
        Err(e) => malformed(p, &e),
    }
}

impl Es9Handler for Smdp {
    fn handle(&self, p: &str, body: &[u8]) -> Result<Vec<u8>, Es9CallError> {
        match p {
            path::INITIATE_AUTHENTICATION => call(p, body, |r| self.initiate_authentication(r)),
            path::AUTHENTICATE_CLIENT => call(p, body, |r| self.authenticate_client(r)),
            path::GET_BOUND_PROFILE_PACKAGE => call(p, body, |r| self.get_bound_profile_package(r)),
            path::CANCEL_SESSION => call(p, body, |r| self.cancel_session(r)),
            path::HANDLE_NOTIFICATION => {
                // Ok(()) is HTTP 204 (no body); an error is a header-only JSON body.
                match serde_json::from_slice::<wire::HandleNotificationRequest>(body) {
                    Ok(req) => match self.handle_notification(&req) {
                        Ok(()) => Ok(Vec::new()),
                        Err(e) => serde_json::to_vec(&HeaderOnly { header: e.header() })
                            .map_err(json_err(p)),
                    },
                    Err(e) => malformed(p, &e),
                }
            }
            other => Err(Es9CallError::Http {
                address: "in-process".into(),
                path: other.into(),
                status: 404,
                body: "no ES9+ function at this path".into(),
            }),
        }
    }
}
