//! Lambda entry point for `api-integrations`: set up tracing, build the backends once, serve requests.

use kushim_lambda::{Backends, Config};
use lambda_http::{Request, run, service_fn};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    kushim_lambda::telemetry::init_lambda();
    let config = Config::from_env()?;
    let sdk = kushim_adapters::aws::load_config().await;
    let tester = std::sync::Arc::new(connector_aws::AwsTester::new(Some(sdk)));
    let state = api_integrations::State::new(&config, &Backends::from_config(&config).await?)?.with_tester(tester);
    run(service_fn(|req: Request| api_integrations::handle(&state, req))).await
}
