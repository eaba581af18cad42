//! `hil`: device-side harness (APDU transports, LPA, scenarios).
