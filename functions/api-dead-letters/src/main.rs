//! Lambda entry point for `api-dead-letters`: set up tracing, build the backends once, serve requests.

use kushim_lambda::{Backends, Config};
use lambda_http::{Request, run, service_fn};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    kushim_lambda::telemetry::init_lambda();
    let config = Config::from_env()?;
    let state = api_dead_letters::State::new(&config, &Backends::from_config(&config).await?)?;
    run(service_fn(|req: Request| api_dead_letters::handle(&state, req))).await
}
