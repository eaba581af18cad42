//! `hil`: the device-side harness.
//!
//! - [`transport`]: the APDU transport seam ([`transport::ApduTransport`]) with an in-process card
//!   and any PC/SC reader (a vpcd virtual card, or a real eUICC in a real reader).
//! - [`client`]: an ES10 client (the LPA's card side): logical channels, STORE DATA, GET
//!   RESPONSE, typed ES10a/b/c calls, and UICC file reads.
//! - [`lpa`]: the LPA: profile download (SGP.22 §3.1.3) and notifications over ES9+ (HTTPS or an
//!   in-process SM-DP+), on top of the client.
//!
//! - [`authz`], [`intent`]: admin-operation authorisation (flow 2): the account-server client,
//!   the simulated secure element and the authorisation flow before an admin operation.
//!
//! Everything here is written against the transport trait only, so the same code drives a
//! virtual card or a real one.

pub mod authz;
pub mod client;
pub mod imei_binding;
pub mod intent;
pub mod lpa;
pub mod scenario;
pub mod transport;
