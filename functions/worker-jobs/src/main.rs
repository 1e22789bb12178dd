//! Lambda entry point for `worker-jobs`: set up tracing, build the backends once, consume batches.

use aws_lambda_events::event::sqs::SqsEvent;
use kushim_lambda::{Backends, Config};
use lambda_runtime::{LambdaEvent, run, service_fn};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    kushim_lambda::telemetry::init_lambda();
    let config = Config::from_env()?;
    let state = worker_jobs::State::new(&config, &Backends::from_config(&config).await?)?;
    run(service_fn(|event: LambdaEvent<SqsEvent>| worker_jobs::handle(&state, event))).await
}
