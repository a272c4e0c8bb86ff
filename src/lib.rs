//! Every confirmed user of a multi-tenant SaaS gets exactly one organisation, and every ID token
//! names it. Three binaries share this library:
//! - `provision-tenant`, the Lambda function for Cognito's PostConfirmation and pre token
//!   generation triggers ([`triggers`]);
//! - `tenantctl`, the operator's audit and repair command ([`audit`]);
//! - `tenant-api`, the Lambda function behind the tenant API's GET routes ([`api`]).
//!
//! Both reach the table through [`store`] and the user pool through [`user_pool`], and both
//! provision through the one code path in [`provision`].

pub mod api;
pub mod audit;
pub mod config;
pub mod event;
pub mod ids;
pub mod metrics;
pub mod provision;
pub mod store;
pub mod triggers;
pub mod user_pool;

#[cfg(test)]
mod fixtures;
