//! The LPA side of admin-operation authorisation (flow 2, docs/authz.md): before an admin
//! operation, GetAdminNonce → an account assertion from the account server (HTTPS) → the
//! secure element's confirmation and signature → AuthoriseAdminOperation; then the ordinary ES10
//! function, which consumes the one-shot authorisation on the card.
//!
//! ```rust,ignore
//! let proofs = AdminProofs { user: Some((&server, creds)), se: Some(&se), confirm: &mut Confirm::Yes };
//! authz::authorise(&mut card, Operation::Enable, Some(&iccid), proofs)?;
//! let result = card.enable(&iccid, true)?;
//! ```

use std::path::Path;
use std::time::Duration;

use rsp::authz::{
    self as codec, authorise_result as res, AuthoriseRequest, Operation, PolicyAnswer, Requirement,
};
use zeroize::Zeroizing;

use crate::client::{Client, ClientError};
use crate::intent::{Confirmer, IntentError, SecureElement};
use crate::lpa::es9::parse_certificates;
use crate::transport::ApduTransport;

/// Why an authorisation could not be obtained.
#[derive(Debug, thiserror::Error)]
pub enum AuthzError {
    #[error(transparent)]
    Card(#[from] ClientError),
    #[error("the eUICC's answer to {what} is malformed: {source}")]
    Codec {
        what: &'static str,
        source: codec::AuthzCodecError,
    },
    /// AuthoriseAdminOperation answered a result other than ok.
    #[error("AuthoriseAdminOperation refused with result {code} ({}): {}", res::name(*code), explain(*code))]
    Refused { code: i64 },
    /// The account server refused (HTTP status and its message).
    #[error("the account server refused the assertion for {account:?}: HTTP {status}: {message}")]
    Account {
        account: String,
        status: u16,
        message: String,
    },
    #[error("account server {url}: {message}")]
    AccountTransport { url: String, message: String },
    #[error(transparent)]
    Intent(#[from] IntentError),
}

impl AuthzError {
    /// The AuthoriseAdminOperation result, when the card refused.
    pub fn card_code(&self) -> Option<i64> {
        match self {
            AuthzError::Refused { code } => Some(*code),
            _ => None,
        }
    }
}

/// What an AuthoriseAdminOperation result means for the person at the device: which proof was
/// missing or invalid.
pub fn explain(code: i64) -> &'static str {
    match code {
        res::OK => "authorised",
        res::INVALID_NONCE => "the card nonce is unknown or already used (a replayed authorisation)",
        res::NONCE_EXPIRED => "the card nonce expired before the authorisation reached the eUICC",
        res::ASSERTION_MISSING => {
            "the policy requires user authentication and no account assertion was given (--account, --password)"
        }
        res::ASSERTION_INVALID => {
            "the account assertion is not signed by an account server this eUICC trusts"
        }
        res::ASSERTION_EXPIRED => "the account assertion has expired",
        res::ASSERTION_WRONG_EID => "the account assertion is for another eUICC (EID)",
        res::ASSERTION_WRONG_ICCID => "the account assertion is for another profile (ICCID)",
        res::ASSERTION_WRONG_OPERATION => "the account assertion is for another operation",
        res::INTENT_MISSING => {
            "the policy requires human intent and no secure-element signature was given (--intent-key, --confirm)"
        }
        res::INTENT_INVALID => {
            "the intent signature does not verify with a secure element registered on this eUICC"
        }
        res::NOT_CONFIGURED => "a required proof cannot be checked: the eUICC has no key for it",
        res::ACCOUNT_MISMATCH => "the profile is linked to another user account",
        res::INCORRECT_INPUT => "the ICCID does not fit the operation",
        res::ASSERTION_WRONG_NONCE => {
            "the account assertion is bound to another card nonce (a replayed assertion)"
        }
        _ => "undefined error",
    }
}

/// Account credentials. The password is zeroized on drop and never printed.
pub struct Credentials {
    pub account: String,
    pub password: Zeroizing<String>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Credentials({}, <redacted>)", self.account)
    }
}

/// An HTTPS client of the account server (`testbed account-server`).
#[derive(Debug)]
pub struct AccountClient {
    client: reqwest::blocking::Client,
    base: String,
}

impl AccountClient {
    /// A client of the server at `address` (`host:port`, or an `https://` URL), trusting the CA
    /// certificates in `ca` (PEM or DER) only, or the system roots without one.
    pub fn new(address: &str, ca: Option<&Path>) -> Result<AccountClient, AuthzError> {
        let base = if address.starts_with("https://") {
            address.trim_end_matches('/').to_string()
        } else {
            format!("https://{}", address.trim_end_matches('/'))
        };
        let fail = |message: String| AuthzError::AccountTransport {
            url: base.clone(),
            message,
        };
        let mut b = reqwest::blocking::Client::builder()
            .no_proxy()
            .http1_only()
            .timeout(Duration::from_secs(30));
        if let Some(path) = ca {
            let data = std::fs::read(path)
                .map_err(|e| fail(format!("reading {}: {e}", path.display())))?;
            let mut certs = Vec::new();
            for der in
                parse_certificates(&data).map_err(|e| fail(format!("{}: {e}", path.display())))?
            {
                certs.push(
                    reqwest::Certificate::from_der(&der)
                        .map_err(|e| fail(format!("CA certificate: {e}")))?,
                );
            }
            b = b.tls_certs_only(certs);
        }
        let client = b.build().map_err(|e| fail(e.to_string()))?;
        Ok(AccountClient { client, base })
    }

    /// `POST /assertion`: the assertion (`E1` TLV) for these credentials and this request.
    pub fn assertion(
        &self,
        creds: &Credentials,
        eid: &[u8; 16],
        operation: Operation,
        iccid: Option<&[u8]>,
        nonce: Option<&[u8; 16]>,
    ) -> Result<Vec<u8>, AuthzError> {
        let url = format!("{}/assertion", self.base);
        let body = serde_json::json!({
            "account": creds.account,
            "password": creds.password.as_str(),
            "eid": hex::encode_upper(eid),
            "iccid": iccid.map(veuicc::euicc::records::iccid_digits),
            "operation": operation.name(),
            "nonce": nonce.map(hex::encode_upper),
        });
        let fail = |message: String| AuthzError::AccountTransport {
            url: url.clone(),
            message,
        };
        let resp = self
            .client
            .post(&url)
            .json(&body)
            .send()
            .map_err(|e| fail(error_chain(&e)))?;
        let status = resp.status().as_u16();
        let text = resp.text().map_err(|e| fail(e.to_string()))?;
        let v: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
        if status != 200 {
            return Err(AuthzError::Account {
                account: creds.account.clone(),
                status,
                message: v["error"].as_str().unwrap_or("no reason given").to_string(),
            });
        }
        let b64 = v["assertion"]
            .as_str()
            .ok_or_else(|| fail("the answer has no assertion".into()))?;
        rsp::es9::b64_decode(b64).map_err(|e| fail(format!("assertion: {e}")))
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
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

/// User authentication: credentials for the account server, or an assertion obtained
/// beforehand (e.g. by a companion app; it cannot be bound to the card nonce).
#[derive(Debug)]
pub enum UserProof<'a> {
    Server(&'a AccountClient, Credentials),
    Assertion(Vec<u8>),
}

/// The proofs an LPA can bring.
pub struct AdminProofs<'a> {
    /// User authentication.
    pub user: Option<UserProof<'a>>,
    /// Human intent: the secure element and its confirmation step.
    pub se: Option<&'a SecureElement>,
    pub confirm: &'a mut dyn Confirmer,
}

impl std::fmt::Debug for AdminProofs<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdminProofs")
            .field("user", &self.user)
            .field("se", &self.se)
            .finish_non_exhaustive()
    }
}

/// GetAdminNonce.
pub fn get_admin_nonce<T: ApduTransport>(card: &mut Client<T>) -> Result<[u8; 16], AuthzError> {
    let data = card.es10(&codec::get_admin_nonce_request())?;
    codec::parse_admin_nonce_response(&data)
        .map(|(n, _)| n)
        .map_err(|source| AuthzError::Codec {
            what: "GetAdminNonce",
            source,
        })
}

/// Sends an AuthoriseAdminOperation command as it is (e.g. a recorded one) and returns the
/// result code.
pub fn send_authorise<T: ApduTransport>(
    card: &mut Client<T>,
    command: &[u8],
) -> Result<i64, AuthzError> {
    let data = card.es10(command)?;
    codec::parse_result_response(codec::tags::AUTHORISE_ADMIN_OPERATION, &data).map_err(|source| {
        AuthzError::Codec {
            what: "AuthoriseAdminOperation",
            source,
        }
    })
}

/// What the eUICC's policy requires for `op` on `iccid` (GetAdminPolicy); `None` when the card
/// does not implement the extension.
pub fn requirement<T: ApduTransport>(
    card: &mut Client<T>,
    op: Operation,
    iccid: Option<&[u8]>,
) -> Option<Requirement> {
    let data = card
        .es10(&codec::get_admin_policy_request(Some((op, iccid))))
        .ok()?;
    PolicyAnswer::decode(&data).ok()?.requirement
}

/// The whole policy as JSON text (GetAdminPolicy), or the result code refusing it.
pub fn policy<T: ApduTransport>(card: &mut Client<T>) -> Result<Result<String, i64>, AuthzError> {
    let data = card.es10(&codec::get_admin_policy_request(None))?;
    let a = PolicyAnswer::decode(&data).map_err(|source| AuthzError::Codec {
        what: "GetAdminPolicy",
        source,
    })?;
    Ok(a.policy.ok_or(a.result))
}

/// Runs the authorisation flow for `op` on `iccid` (`None` for eUICC-wide operations) and
/// returns the AuthoriseAdminOperation command that was accepted (for a replay test).
/// `progress` gets one line per step.
pub fn authorise<T: ApduTransport>(
    card: &mut Client<T>,
    op: Operation,
    iccid: Option<&[u8]>,
    proofs: AdminProofs<'_>,
    progress: &mut dyn FnMut(&str),
) -> Result<Vec<u8>, AuthzError> {
    let eid: [u8; 16] = card.get_eid()?.try_into().map_err(|_| AuthzError::Codec {
        what: "GetEID",
        source: codec::AuthzCodecError::Value {
            tag: 0x5A,
            reason: "an EID is 16 bytes",
        },
    })?;
    let nonce = get_admin_nonce(card)?;
    progress(&format!("card nonce {}", hex::encode_upper(nonce)));
    let assertion = match &proofs.user {
        Some(UserProof::Server(server, creds)) => {
            let a = server.assertion(creds, &eid, op, iccid, Some(&nonce))?;
            progress(&format!(
                "account assertion for {} ({} bytes)",
                creds.account,
                a.len()
            ));
            Some(a)
        }
        Some(UserProof::Assertion(a)) => {
            progress(&format!("account assertion given ({} bytes)", a.len()));
            Some(a.clone())
        }
        None => None,
    };
    let intent_signature = match proofs.se {
        Some(se) => {
            let s =
                se.confirm_and_sign(&eid, op, iccid.unwrap_or_default(), &nonce, proofs.confirm)?;
            progress("intent confirmed and signed by the secure element");
            Some(s)
        }
        None => None,
    };
    let cmd = AuthoriseRequest {
        operation: op,
        iccid: iccid.map(<[u8]>::to_vec),
        nonce,
        assertion,
        intent_signature,
    }
    .encode();
    match send_authorise(card, &cmd)? {
        res::OK => {
            progress(&format!("authorised {op}"));
            Ok(cmd)
        }
        code => Err(AuthzError::Refused { code }),
    }
}

/// A message for an admin function refused without (valid) authorisation: names what the
/// policy requires and which proofs were not brought.
pub fn refusal_message(
    op: Operation,
    iccid: Option<&[u8]>,
    requirement: Option<Requirement>,
    had_user: bool,
    had_intent: bool,
) -> String {
    let target = iccid
        .map(|i| format!(" of {}", veuicc::euicc::records::iccid_digits(i)))
        .unwrap_or_default();
    let Some(r) = requirement.filter(|r| *r != Requirement::None) else {
        return format!("{op}{target} refused by the eUICC");
    };
    let needs = match r {
        Requirement::User => "user authentication",
        Requirement::Intent => "human-intent verification",
        _ => "user authentication and human-intent verification",
    };
    let mut missing = Vec::new();
    if r.user() && !had_user {
        missing.push("an account assertion (--account, --password, --account-server)");
    }
    if r.intent() && !had_intent {
        missing.push("a secure-element intent signature (--intent-key, --confirm)");
    }
    let detail = if missing.is_empty() {
        "the authorisation was not accepted".to_string()
    } else {
        format!("missing {}", missing.join(" and "))
    };
    format!("{op}{target} disallowed by policy: the eUICC requires {needs}; {detail}")
}
