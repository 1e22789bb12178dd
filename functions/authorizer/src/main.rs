//! Lambda entry point for `authorizer`: set up tracing, build the backends once, authorize requests.

use aws_lambda_events::apigw::ApiGatewayV2CustomAuthorizerV2Request;
use kushim_lambda::{Backends, Config};
use lambda_runtime::{LambdaEvent, run, service_fn};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    kushim_lambda::telemetry::init_lambda();
    let config = Config::from_env()?;
    let state = authorizer::State::new(&config, &Backends::from_config(&config).await?)?;
    run(service_fn(|event: LambdaEvent<ApiGatewayV2CustomAuthorizerV2Request>| authorizer::handle(&state, event))).await
}
