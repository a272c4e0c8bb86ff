//! The integration tests, one binary (one link, one build): each module a part of the flow,
//! run on the local AWS world that `local/aws.sh` starts (`make integration`, in `make test`),
//! one module after another (the Makefile's INTEGRATION_MODULES): the concurrency module
//! saturates the function's instances, which would time out another module's sign-ins.
//! Every test is `#[ignore]`d, so that a plain `cargo test` without the servers skips them.

// Tests and their helpers: a panic is the failure report.
#![allow(clippy::unwrap_used)]

#[path = "../support/mod.rs"]
mod support;

mod audit;
mod concurrency;
mod faults;
mod signup;
