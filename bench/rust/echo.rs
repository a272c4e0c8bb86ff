//! The floor: a bare `lambda_runtime` function answering every event with itself. What it
//! costs to start and to take an invocation is what any Rust function on this runtime pays.

use lambda_runtime::{Error, LambdaEvent, run, service_fn};
use serde_json::Value;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    run(service_fn(|event: LambdaEvent<Value>| async {
        Ok::<_, Error>(event.payload)
    }))
    .await
}
