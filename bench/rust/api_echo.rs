//! A bare `lambda_http` function answering every request with `{}`: the floor that `make bench`
//! measures the tenant API's handler against, on the same path (built as the functions are,
//! run behind the same `cargo lambda watch`).

use lambda_http::{Body, Error, Request, Response, run, service_fn};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    run(service_fn(|_: Request| async {
        Ok::<_, Error>(
            Response::builder()
                .status(200)
                .header("content-type", "application/json")
                .body(Body::Text("{}".to_owned()))?,
        )
    }))
    .await
}
