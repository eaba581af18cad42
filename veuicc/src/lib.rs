//! `veuicc`: a software GSMA SGP.22 eUICC.
//!
//! The card is a sans-IO core ([`card::CardCore`]) that answers one command APDU with one
//! response APDU; [`vpcd`] carries it to pcscd through vsmartcard's vpcd driver, and other
//! carriers (the virtual modem, the LPA's in-process transport, fuzzers) drive the same core.
//!
//! Layers: [`apdu`] (ISO 7816-4 codec) → [`card`] (the seam) → [`euicc`] (channels, chaining,
//! dispatch to applications) → [`uicc`] (file system and PINs of the enabled profile) and
//! [`isdr`] (ES10 functions) → [`profile`] (SAIP packages, installed profiles) → [`store`].

pub mod apdu;
pub mod card;
pub mod euicc;
pub mod isdr;
pub mod logging;
pub mod profile;
pub mod statedir;
pub mod store;
pub mod uicc;
pub mod vpcd;
