//! The verified caller. The authorizer function puts these fields into the API Gateway request
//! context (`requestContext.authorizer.lambda`); handlers read them back with
//! [`Principal::from_request`]. Nothing else in a request is trusted to name a tenant.

use std::collections::HashMap;

use kushim_domain::{Grant, Permission, Role, TenantId};
use lambda_http::request::RequestContext;
use lambda_http::{Request, RequestExt};
use serde_json::Value;

pub use kushim_auth::PrincipalKind;

/// A verified caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The tenant the credential belongs to.
    pub tenant_id: TenantId,
    /// The user id or API key id.
    pub id: String,
    /// User or API key.
    pub kind: PrincipalKind,
    /// Role and optional scopes.
    pub grant: Grant,
}

/// Authorizer context keys.
pub const CTX_TENANT: &str = "tenant_id";
/// Authorizer context key of the principal id.
pub const CTX_PRINCIPAL: &str = "principal";
/// Authorizer context key of the principal kind.
pub const CTX_KIND: &str = "principal_kind";
/// Authorizer context key of the role.
pub const CTX_ROLE: &str = "role";
/// Authorizer context key of the tenant's per-minute request budget.
pub const CTX_RATE_LIMIT: &str = "rate_limit";
/// Authorizer context key of the scopes (space-separated; absent means the whole role).
pub const CTX_SCOPES: &str = "scopes";

impl Principal {
    /// Whether the caller may do `permission`.
    pub fn allows(&self, permission: Permission) -> bool {
        self.grant.allows(permission)
    }

    /// The context the authorizer returns for this principal (string values only, as API
    /// Gateway passes them through).
    pub fn to_context(&self) -> HashMap<String, Value> {
        let mut ctx = HashMap::from([
            (CTX_TENANT.to_owned(), Value::from(self.tenant_id.as_str())),
            (CTX_PRINCIPAL.to_owned(), Value::from(self.id.clone())),
            (CTX_KIND.to_owned(), serde_json::to_value(self.kind).unwrap_or_default()),
            (CTX_ROLE.to_owned(), Value::from(self.grant.role.as_str())),
        ]);
        if let Some(scopes) = &self.grant.scopes {
            let joined: Vec<&str> = scopes.iter().map(|p| p.as_scope()).collect();
            ctx.insert(CTX_SCOPES.to_owned(), Value::from(joined.join(" ")));
        }
        ctx
    }

    /// Reads the principal from an authorizer context; `None` if anything is missing or
    /// malformed (the caller is then treated as unauthenticated).
    pub fn from_context(ctx: &HashMap<String, Value>) -> Option<Self> {
        let get = |k: &str| ctx.get(k).and_then(Value::as_str);
        let tenant_id = TenantId::new(get(CTX_TENANT)?).ok()?;
        let id = get(CTX_PRINCIPAL)?.to_owned();
        if id.is_empty() {
            return None;
        }
        let kind: PrincipalKind = serde_json::from_value(ctx.get(CTX_KIND)?.clone()).ok()?;
        let role: Role = get(CTX_ROLE)?.parse().ok()?;
        let scopes = match get(CTX_SCOPES) {
            None => None,
            Some(s) => Some(s.split_whitespace().map(str::parse).collect::<Result<Vec<Permission>, _>>().ok()?),
        };
        Some(Self { tenant_id, id, kind, grant: Grant { role, scopes } })
    }

    /// The principal of an API Gateway request, if its authorizer verified one.
    pub fn from_request(req: &Request) -> Option<Self> {
        match req.request_context_ref()? {
            RequestContext::ApiGatewayV2(ctx) => Self::from_context(&ctx.authorizer.as_ref()?.fields),
            #[allow(unreachable_patterns)]
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn principal(scopes: Option<Vec<Permission>>) -> Principal {
        Principal {
            tenant_id: TenantId::new("acme").unwrap(),
            id: "u1".into(),
            kind: PrincipalKind::ApiKey,
            grant: Grant { role: Role::Member, scopes },
        }
    }

    #[test]
    fn context_round_trip_with_and_without_scopes() {
        for p in [principal(None), principal(Some(vec![Permission::ControlsRead, Permission::EvidenceRead]))] {
            assert_eq!(Principal::from_context(&p.to_context()), Some(p));
        }
    }

    #[test]
    fn malformed_contexts_give_no_principal() {
        let good = principal(None).to_context();
        for (k, v) in [(CTX_TENANT, "T#1"), (CTX_ROLE, "root"), (CTX_KIND, "robot"), (CTX_SCOPES, "users:read nope")] {
            let mut ctx = good.clone();
            ctx.insert(k.to_owned(), Value::from(v));
            assert_eq!(Principal::from_context(&ctx), None, "{k}={v}");
        }
        let mut ctx = good;
        ctx.remove(CTX_PRINCIPAL);
        assert_eq!(Principal::from_context(&ctx), None);
    }
}
