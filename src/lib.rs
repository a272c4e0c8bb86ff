//! Every confirmed user of a multi-tenant SaaS gets exactly one organisation, and every ID token
//! names it. Three binaries share this library:
//! - `provision-tenant`, the Lambda function for Cognito's PostConfirmation and pre token
//!   generation triggers ([`triggers`]);
//! - `tenantctl`, the operator's audit and repair command ([`audit`]);
//! - `tenant-api`, the Lambda function behind the tenant API's GET routes ([`api`]).
//!
//! # Layout
//!
//! | layer | modules |
//! |---|---|
//! | the domain: ids, the user, what an invocation did | [`domain`], [`outcome`] |
//! | the one provisioning code path (triggers and audit) | [`provision`] |
//! | the entry points' logic: one dispatch, one module per trigger; the audit; the API | [`triggers`], [`audit`], [`api`] |
//! | adapters: the Cognito event in, the table, the user pool, the metrics line out | [`event`], [`store`], [`user_pool`], [`metrics`] |
//! | settings and the time budget | [`config`] |
//!
//! The domain depends on nothing else here; the adapters translate AWS's shapes to and from it.
//! The binaries in `src/bin` build the clients once and call into this library.

pub mod api;
pub mod audit;
pub mod config;
pub mod domain;
pub mod event;
pub mod metrics;
pub mod outcome;
pub mod provision;
pub mod store;
pub mod triggers;
pub mod user_pool;

#[cfg(test)]
mod fixtures;
