//! The SM-DP+ over real HTTPS on 127.0.0.1:0 with reqwest (rustls, trusting only the CI that
//! issued the TLS certificate): transport checks, malformed bodies, ES2+ and a whole ES9+
//! download with the minimal eUICC.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use common::*;
use rsp::es9::{
    self, headers, status_codes as sc, AuthenticateClientRequest, AuthenticateClientResponse,
    Base64, GetBoundProfilePackageRequest, GetBoundProfilePackageResponse,
    HandleNotificationRequest, InitiateAuthenticationResponse,
};
use serde::de::DeserializeOwned;
use serde::Serialize;
use testbeds::es2::{self, ConfirmOrderRequest, ConfirmOrderResponse, DownloadOrderRequest};
use testbeds::server::{ServerHandle, SmdpServer, TlsConfig};
use testbeds::smdp::iccid_to_swapped;
use testbeds::store::ProfileState;

struct Running {
    f: Fixture,
    client: reqwest::Client,
    base: String,
    handle: ServerHandle,
}

async fn start() -> Option<Running> {
    let f = Fixture::new()?;
    let tls = TlsConfig::from_identity(f.smdp.identity()).unwrap();
    let (addr, handle) = SmdpServer::bind("127.0.0.1:0".parse().unwrap(), f.smdp.clone(), tls)
        .await
        .unwrap();
    let host = f.smdp.identity().host().to_owned();
    let client = reqwest::Client::builder()
        .tls_certs_only([reqwest::Certificate::from_der(&f.smdp.identity().tls_ca).unwrap()])
        .resolve(&host, SocketAddr::new(addr.ip(), addr.port()))
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap();
    let base = format!("https://{host}:{}", addr.port());
    Some(Running {
        f,
        client,
        base,
        handle,
    })
}

impl Running {
    fn request(&self, path: &str) -> reqwest::RequestBuilder {
        self.client
            .post(format!("{}{path}", self.base))
            .header(headers::X_ADMIN_PROTOCOL, headers::ADMIN_PROTOCOL_V2_2_0)
            .header(headers::CONTENT_TYPE, headers::CONTENT_TYPE_JSON)
    }

    async fn call<Req: Serialize, Resp: DeserializeOwned>(&self, path: &str, body: &Req) -> Resp {
        let resp = self.request(path).json(body).send().await.unwrap();
        assert_eq!(resp.status(), 200, "{path}");
        assert!(resp
            .headers()
            .get(headers::X_ADMIN_PROTOCOL)
            .is_some_and(|v| v.to_str().unwrap().starts_with("gsma/rsp/v2")));
        resp.json().await.unwrap()
    }
}

/// The `header` of a JSON error body.
async fn header_of(resp: reqwest::Response) -> es9::ResponseHeader {
    let v: serde_json::Value = resp.json().await.unwrap();
    serde_json::from_value(v["header"].clone()).unwrap()
}

#[tokio::test]
async fn transport_checks() {
    let Some(r) = start().await else { return };
    let url = format!("{}{}", r.base, es9::path::INITIATE_AUTHENTICATION);
    // GET.
    let resp = r
        .client
        .get(&url)
        .header(headers::X_ADMIN_PROTOCOL, headers::ADMIN_PROTOCOL_V2_2_0)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    assert_eq!(code(&header_of(resp).await).unwrap().0, "1.6");
    // No X-Admin-Protocol.
    let resp = r
        .client
        .post(&url)
        .header(headers::CONTENT_TYPE, "application/json")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    let h = header_of(resp).await;
    assert_eq!(code(&h).unwrap(), ("1.3.2".into(), "3.1".into()));
    // Another protocol.
    let resp = r
        .client
        .post(&url)
        .header(headers::X_ADMIN_PROTOCOL, "gsma/rsp/v3.0.0")
        .header(headers::CONTENT_TYPE, "application/json")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    // Any v2 version is fine; a wrong content type is not.
    let resp = r
        .client
        .post(&url)
        .header(headers::X_ADMIN_PROTOCOL, "gsma/rsp/v2.1.0")
        .header(headers::CONTENT_TYPE, "text/plain")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    assert_eq!(code(&header_of(resp).await).unwrap().0, "1.3.1");
    // Unknown path.
    let resp = r
        .request("/gsma/rsp2/es9plus/nothing")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
    // Malformed bodies: a Failed header, HTTP 200.
    for body in [
        "{bad",
        "[]",
        "{}",
        r#"{"euiccChallenge": "!!", "euiccInfo1": "", "smdpAddress": "x"}"#,
    ] {
        let resp = r
            .request(es9::path::INITIATE_AUTHENTICATION)
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200, "{body}");
        let h = header_of(resp).await;
        assert_eq!(code(&h).unwrap(), ("1.3.1".into(), "2.1".into()), "{body}");
        let msg = h
            .function_execution_status
            .status_code_data
            .unwrap()
            .message
            .unwrap();
        assert!(msg.contains("malformed request body"), "{msg}");
    }
    // Too large.
    let big = format!("{{\"x\": \"{}\"}}", "A".repeat(300 * 1024));
    let resp = r
        .request(es9::path::INITIATE_AUTHENTICATION)
        .body(big)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 413);
    // handleNotification with garbage: refused, not 204.
    let resp = r
        .request(es9::path::HANDLE_NOTIFICATION)
        .json(&HandleNotificationRequest {
            pending_notification: Base64(vec![0x30, 0x00]),
        })
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert!(!header_of(resp).await.is_success());
    r.handle.shutdown(Duration::from_secs(2)).await.unwrap();
}

#[tokio::test]
async fn initiate_authentication_over_https() {
    let Some(r) = start().await else { return };
    let mut euicc = r.f.euicc("890490320000000000000000000001");
    let address = r.f.smdp.address();
    let resp: InitiateAuthenticationResponse = r
        .call(
            es9::path::INITIATE_AUTHENTICATION,
            &euicc.initiate_request(&address),
        )
        .await;
    assert!(resp.header.is_success(), "{:?}", resp.header);
    // The eUICC's checks pass (serverSignature1 with CERT.DPauth, challenge, CI).
    let _ = euicc.authenticate_server(&resp, Some("X"));

    // Unknown CI.
    let mut req = euicc.initiate_request(&address);
    req.euicc_info1 = Base64(rsp::es10::encode(&rsp::es10::EuiccInfo1 {
        svn: os(&[2, 2, 0]),
        euicc_ci_pkid_list_for_verification: vec![os(&[0x11; 20])],
        euicc_ci_pkid_list_for_signing: vec![os(&[0x11; 20])],
    }));
    let resp: InitiateAuthenticationResponse =
        r.call(es9::path::INITIATE_AUTHENTICATION, &req).await;
    assert_code(&resp.header, sc::CI_PKID_NOT_SUPPORTED);
    assert!(resp.transaction_id.is_none() && resp.server_signed1.is_none());
    // Wrong address.
    let resp: InitiateAuthenticationResponse = r
        .call(
            es9::path::INITIATE_AUTHENTICATION,
            &euicc.initiate_request("elsewhere.example"),
        )
        .await;
    assert_code(&resp.header, sc::INVALID_SMDP_ADDRESS);
    r.handle.shutdown(Duration::from_secs(2)).await.unwrap();
}

#[tokio::test]
async fn order_and_download_over_https() {
    let Some(r) = start().await else { return };
    let mut euicc = r.f.euicc("890490320000000000000000000001");
    let d: es2::DownloadOrderResponse = r
        .call(
            es2::path::DOWNLOAD_ORDER,
            &DownloadOrderRequest {
                profile_type: Some("ts48".into()),
                ..Default::default()
            },
        )
        .await;
    assert!(d.header.is_success(), "{:?}", d.header);
    let iccid = d.iccid.unwrap();
    let c: ConfirmOrderResponse = r
        .call(
            es2::path::CONFIRM_ORDER,
            &ConfirmOrderRequest {
                iccid: iccid.clone(),
                release_flag: true,
                ..Default::default()
            },
        )
        .await;
    assert!(c.header.is_success(), "{:?}", c.header);
    let address = c.smdp_address.unwrap();
    let mid = c.matching_id.unwrap();

    let init: InitiateAuthenticationResponse = r
        .call(
            es9::path::INITIATE_AUTHENTICATION,
            &euicc.initiate_request(&address),
        )
        .await;
    let tx = init.transaction_id.clone().unwrap();
    let asr = euicc.authenticate_server(&init, Some(&mid));
    let auth: AuthenticateClientResponse = r
        .call(
            es9::path::AUTHENTICATE_CLIENT,
            &AuthenticateClientRequest {
                transaction_id: tx.clone(),
                authenticate_server_response: Base64(asr),
            },
        )
        .await;
    assert!(auth.header.is_success(), "{:?}", auth.header);
    let pdr = euicc.prepare_download(&auth, None);
    let bpp: GetBoundProfilePackageResponse = r
        .call(
            es9::path::GET_BOUND_PROFILE_PACKAGE,
            &GetBoundProfilePackageRequest {
                transaction_id: tx.clone(),
                prepare_download_response: Base64(pdr),
            },
        )
        .await;
    assert!(bpp.header.is_success(), "{:?}", bpp.header);
    let (_, package) = euicc.open_bpp(
        bpp.bound_profile_package.as_ref().unwrap().as_bytes(),
        auth.smdp_certificate.as_ref().unwrap().as_bytes(),
    );
    assert_eq!(package, ts48(PKG_A).unwrap());

    let pir = euicc.pir(
        tx.as_bytes(),
        &iccid_to_swapped(&iccid).unwrap(),
        &r.f.smdp.identity().dp_oid,
        true,
    );
    let resp = r
        .request(es9::path::HANDLE_NOTIFICATION)
        .json(&HandleNotificationRequest {
            pending_notification: Base64(pir),
        })
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 204);
    assert_eq!(
        r.f.smdp.profile(&iccid).unwrap().unwrap().state,
        ProfileState::Installed
    );
    let Running {
        handle,
        client,
        base,
        ..
    } = r;
    handle.shutdown(Duration::from_secs(2)).await.unwrap();
    // Stopped: no more connections.
    assert!(client
        .post(format!("{base}{}", es2::path::DOWNLOAD_ORDER))
        .body("{}")
        .send()
        .await
        .is_err());
}
