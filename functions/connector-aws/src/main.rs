//! Lambda entry point for `connector-aws`: set up tracing, build the backends and the AWS connector
//! once, consume batches.

use aws_lambda_events::event::sqs::SqsEvent;
use kushim_lambda::{Backends, Config};
use lambda_runtime::{LambdaEvent, run, service_fn};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    kushim_lambda::telemetry::init_lambda();
    let config = Config::from_env()?;
    let sdk = kushim_adapters::aws::load_config().await;
    let state = connector_aws::State::new(&config, &Backends::from_config(&config).await?, Some(sdk))?;
    run(service_fn(|event: LambdaEvent<SqsEvent>| connector_aws::handle(&state, event))).await
}
