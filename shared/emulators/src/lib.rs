//! Emulators of the two ERPs Ledgerlink talks to, faithful to their public APIs (see `../shared/reference/`),
//! so clients — ours and third-party ones — can be tested and demoed without the real systems.
//!
//! - [`server`]: binds an emulator to `127.0.0.1:0` (tests) or a fixed port (local stack), with one accept
//!   loop that can really drop connections, which the fault injector needs.
//! - [`faults`]: per-route fault injection (latency, 5xx, 429 storms, reset before the handler, and
//!   commit-then-drop) and per-route request counters.
//! - `exact` and `vantagepoint`: the two emulators.

pub mod exact;
pub mod faults;
pub mod server;
pub mod vantagepoint;

pub use faults::{FaultInjector, FaultRule, RequestCounters};
pub use server::{RunningServer, serve};
