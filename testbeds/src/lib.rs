//! `testbeds`: network-side servers for GSMA SGP.22 remote provisioning tests.
//!
//! - [`smdp`]: a sans-IO SM-DP+ core ([`smdp::Smdp`]): ES9+ for the LPA, ES2+ for the operator,
//!   with the crypto provider, clock and store passed in; callable in-process.
//! - [`server`]: the same core over HTTPS (axum + rustls) at the SGP.22 paths.
//! - [`es2`]: the ES2+ JSON bodies (the ES9+ ones are in [`rsp::es9`]).
//! - [`identity`]: the SM-DP+'s certificates (self-minted CI, a given CI, or SGP.26).
//! - [`store`]: the sled database (profiles, orders, sessions, notifications).
//! - [`imei`]: the IMEI assignment server (IMEI binding, issue 5).
//! - [`account`]: the account server of admin-operation authorisation (passwords, signed
//!   assertions) and its HTTPS front.

pub mod account;
pub mod es2;
pub mod identity;
pub mod imei;
pub mod server;
pub mod smdp;
pub mod store;

pub use identity::SmdpIdentity;
pub use smdp::{Smdp, SmdpConfig, SmdpError};
pub use store::{ProfileClassKind, ProfileMeta, ProfileState};
