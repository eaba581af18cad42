//! SAIP profile packages and installed profiles.
//!
//! [`saip`] reads an unprotected TCA/SIMalliance eUICC Profile Package (the plain DER that
//! SGP.22 delivers after decryption) and builds the UICC file system, PINs and NAA credentials
//! from it; [`crate::uicc`] then runs the profile.

pub mod saip;
pub mod secret;
