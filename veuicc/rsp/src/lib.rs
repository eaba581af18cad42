//! `rsp`: GSMA SGP.22 building blocks shared by the card, the LPA and the SM-DP+.
pub mod authz;
pub mod bsp;
pub mod cert;
pub mod crypto;
pub mod es10;
pub mod es9;
pub mod keys;
pub mod pki;
pub mod tlv;
