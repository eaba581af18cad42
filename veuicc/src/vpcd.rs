//! vpcd transport.
