//! The local stack: every Ledgerlink flow on the embedded store (SQLite + a data folder) against the
//! built-in emulators of Exact Online and Vantagepoint, with the HTTP API and the operator page — no cloud,
//! no Docker. `cargo run --release` starts it; `--once` runs one full round and exits.
//!
//! Modules:
//! - [`cli`]: the command-line options.
//! - [`admin`]: `ledgerlink admin ...`: tenants and their API keys, in the data dir or a deployed stack.
//! - [`stack`]: starts the parts in order (data dir, store, emulators, demo tenant, API) and stops them.
//! - [`demo`]: the demo tenant: its record, connections, first Exact consent, lookups and the API key; the
//!   payments a bookkeeper registers in Exact after the first invoice round.
//! - [`epoch`]: the demo epoch, so a restart on the same data dir does not look like new work.
//! - [`rounds`]: one round (discover + drain every flow, in dependency order), the schedules and the
//!   queue workers of the long-running mode.
//! - [`summary`]: what was synced where, from the status store and the emulators' inspection surface.
//! - [`logging`]: tracing to a file in the data dir (or stderr with `RUST_LOG`), so the console shows the
//!   progress lines only.

pub mod admin;
pub mod cli;
pub mod demo;
pub mod epoch;
pub mod exports;
pub mod logging;
pub mod rounds;
pub mod stack;
pub mod summary;

pub use cli::Options;
pub use stack::Stack;
