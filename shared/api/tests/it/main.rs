//! Router tests: the axum Router driven with `tower::ServiceExt::oneshot` over an embedded store in a temp
//! dir (no network). Modules by area; helpers spawn the app with two tenants.
#![allow(clippy::unwrap_used)]

mod attacks;
mod auth;
mod consent;
mod conventions;
mod errors;
mod fuzz;
mod helpers;
mod inputs;
mod jobs;
mod objects;
mod openapi;
mod replays;
mod roles;
mod settings;
mod throttling;
mod webhooks;
