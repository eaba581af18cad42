//! `rsp`: GSMA SGP.22 building blocks shared by the card, the LPA and the SM-DP+.
pub mod es10;
pub mod keys;
pub mod pki;
pub mod tlv;
