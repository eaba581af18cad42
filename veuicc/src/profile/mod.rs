//! SAIP profile packages and installed profiles (filled in by the SAIP work).
