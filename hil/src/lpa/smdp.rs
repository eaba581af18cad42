//! The in-process SM-DP+: [`testbeds::Smdp`] behind [`Es9Handler`], routed by path exactly as its
//! HTTPS server routes (`testbeds::server`), so [`super::InProcessEs9`] runs a download with no
//! network but with the same JSON on both sides.

use super::es9::{Es9CallError, Es9Handler};
use rsp::es9::{self as wire, path};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;
use testbeds::Smdp;

fn call<Req: DeserializeOwned, Resp: Serialize>(
    p: &str,
    body: &Value,
    f: impl FnOnce(&Req) -> Resp,
) -> Result<Value, Es9CallError> {
    let json_err = |e: serde_json::Error| Es9CallError::Json {
        path: p.into(),
        message: e.to_string(),
    };
    match Req::deserialize(body) {
        Ok(req) => serde_json::to_value(f(&req)).map_err(json_err),
        // As the server: a malformed body is answered 200 with a failed header.
        Err(e) => {
            let mut header =
                wire::ResponseHeader::failed(testbeds::es2::status_codes::MALFORMED_REQUEST);
            if let Some(d) = header.function_execution_status.status_code_data.as_mut() {
                d.message = Some(format!("malformed request body: {e}"));
            }
            serde_json::to_value(serde_json::json!({ "header": header })).map_err(json_err)
        }
    }
}

impl Es9Handler for Smdp {
    fn handle(&self, p: &str, body: &Value) -> Result<Value, Es9CallError> {
        match p {
            path::INITIATE_AUTHENTICATION => call(p, body, |r| self.initiate_authentication(r)),
            path::AUTHENTICATE_CLIENT => call(p, body, |r| self.authenticate_client(r)),
            path::GET_BOUND_PROFILE_PACKAGE => call(p, body, |r| self.get_bound_profile_package(r)),
            path::CANCEL_SESSION => call(p, body, |r| self.cancel_session(r)),
            path::HANDLE_NOTIFICATION => {
                // Ok(()) is HTTP 204 (no body); an error is a header-only JSON body.
                let r = call(p, body, |r: &wire::HandleNotificationRequest| {
                    match self.handle_notification(r) {
                        Ok(()) => Value::Null,
                        Err(e) => serde_json::json!({ "header": e.header() }),
                    }
                })?;
                Ok(r)
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
