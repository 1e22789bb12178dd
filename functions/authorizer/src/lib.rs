//! `authorizer`: the HTTP API's Lambda REQUEST authorizer (payload 2.0, simple responses). It
//! verifies the `Authorization: Bearer …` credential — an access token or an API key — with the
//! identity service and, when valid, passes the principal (tenant, id, kind, role, scopes) and the
//! tenant's request budget to the route's handler in the request context. Handlers take the tenant
//! only from there.
//!
//! A request without valid credentials is let through with an empty context: every handler's
//! dispatcher then refuses it with an RFC 9457 problem (401, or 403 for a missing permission),
//! which API Gateway's own bare denial could not give. No principal, no access: the context is the
//! only place a principal can come from, and only this function writes it. Why a credential was
//! refused is logged as a code, never with the credential.

use std::collections::HashMap;

use aws_lambda_events::apigw::{ApiGatewayV2CustomAuthorizerSimpleResponse, ApiGatewayV2CustomAuthorizerV2Request};
use kushim_api::Principal;
use kushim_api::principal::CTX_RATE_LIMIT;
use kushim_api::router::DEFAULT_RATE_LIMIT;
use kushim_identity::Identity;
use kushim_lambda::{Backends, Config, ConfigError};
use lambda_runtime::LambdaEvent;
use serde_json::Value;

/// Everything the handler needs, built once per process.
#[derive(Clone)]
pub struct State {
    identity: Identity,
}

impl State {
    /// Builds the identity service.
    pub fn new(config: &Config, backends: &Backends) -> Result<Self, ConfigError> {
        Ok(Self { identity: kushim_identity::wiring::identity(config, backends)? })
    }
}

/// The bearer credential of an `Authorization` header value.
pub fn bearer(header: &str) -> Option<&str> {
    let (scheme, value) = header.trim().split_once(' ')?;
    let value = value.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !value.is_empty() && value.len() <= 4096).then_some(value)
}

/// Verifies the credential; the principal and the tenant's budget when valid.
pub async fn authorize(state: &State, authorization: Option<&str>, now: i64) -> Option<(Principal, u32)> {
    let token = bearer(authorization?)?;
    let principal = match state.identity.authenticate(token, now).await {
        Ok(p) => p,
        Err(e) => {
            tracing::info!(reason = %e, "credential refused");
            return None;
        }
    };
    let budget = match state.identity.tenant(&principal.tenant_id).await {
        Ok(t) => t.settings.rate_limit_per_minute,
        Err(_) => DEFAULT_RATE_LIMIT,
    };
    Some((principal, budget))
}

/// The context handed to handlers for a principal.
pub fn context(principal: &Principal, budget: u32) -> HashMap<String, Value> {
    let mut ctx = principal.to_context();
    ctx.insert(CTX_RATE_LIMIT.to_owned(), Value::from(budget.to_string()));
    ctx
}

/// The Lambda handler.
pub async fn handle(
    state: &State,
    event: LambdaEvent<ApiGatewayV2CustomAuthorizerV2Request>,
) -> Result<ApiGatewayV2CustomAuthorizerSimpleResponse<HashMap<String, Value>>, kushim_lambda::Error> {
    let header = event.payload.headers.get("authorization").and_then(|v| v.to_str().ok());
    let mut resp = ApiGatewayV2CustomAuthorizerSimpleResponse::default();
    resp.is_authorized = true;
    resp.context = match authorize(state, header, chrono::Utc::now().timestamp()).await {
        Some((principal, budget)) => context(&principal, budget),
        None => HashMap::new(),
    };
    Ok(resp)
}

#[cfg(test)]
mod tests {
    use super::*;
    use kushim_lambda::backends::EmbeddedSet;
    use secrecy::SecretString;

    #[test]
    fn bearer_parsing() {
        assert_eq!(bearer("Bearer abc"), Some("abc"));
        assert_eq!(bearer("bearer   abc "), Some("abc"));
        for bad in ["Basic abc", "Bearer", "Bearer ", "abc", ""] {
            assert_eq!(bearer(bad), None, "{bad:?}");
        }
    }

    #[tokio::test]
    async fn given_a_fresh_session_then_its_token_authorizes_and_garbage_does_not() {
        let dir = tempfile::tempdir().unwrap();
        let set = EmbeddedSet::open(dir.path()).unwrap();
        let state = State::new(&Config::from_lookup([]).unwrap(), &set.backends()).unwrap();
        let now = chrono::Utc::now().timestamp();
        let session = state
            .identity
            .signup(
                kushim_identity::SignupInput {
                    tenant_name: "Acme".into(),
                    email: "ada@acme.test".into(),
                    name: "Ada".into(),
                    password: SecretString::from("correct horse battery staple"),
                },
                now,
            )
            .await
            .unwrap();
        let header = format!("Bearer {}", session.access_token);
        let (principal, budget) = authorize(&state, Some(&header), now).await.expect("authorized");
        assert_eq!(principal.tenant_id, session.tenant_id);
        assert_eq!(budget, 600);
        let ctx = context(&principal, budget);
        assert_eq!(Principal::from_context(&ctx), Some(principal));
        assert!(authorize(&state, Some("Bearer not-a-token"), now).await.is_none());
        assert!(authorize(&state, None, now).await.is_none());
        let mut tampered = session.access_token.clone();
        tampered.pop();
        assert!(authorize(&state, Some(&format!("Bearer {tampered}")), now).await.is_none());
    }
}
