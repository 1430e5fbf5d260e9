//! Contract suites: one per port, run by every adapter's tests against its own implementation.
//!
//! Each suite is a set of `pub async fn` taking the port (and whatever fresh, empty instance the adapter's
//! test gives it) and panicking with a clear message when the adapter breaks the contract.
