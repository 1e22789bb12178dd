//! Lambda entry point for `api-docs`: set up tracing, render the document once, serve requests.

use kushim_lambda::{Backends, Config};
use lambda_http::{Request, run, service_fn};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    kushim_lambda::telemetry::init_lambda();
    let config = Config::from_env()?;
    // The document is built from code alone: no table, bucket, queue or secret is needed.
    let state = api_docs::State::new(&config, &Backends::default())?;
    run(service_fn(|req: Request| api_docs::handle(&state, req))).await
}
