//! Lambda entry point for `planner`: set up tracing, build the backends once, handle schedule events.

use kushim_lambda::{Backends, Config};
use lambda_runtime::{LambdaEvent, run, service_fn};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    kushim_lambda::telemetry::init_lambda();
    let config = Config::from_env()?;
    let state = planner::State::new(&config, &Backends::from_config(&config).await?)?;
    run(service_fn(|event: LambdaEvent<serde_json::Value>| planner::handle(&state, event))).await
}
