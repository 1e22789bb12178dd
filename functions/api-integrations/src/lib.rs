//! `api-integrations`: the tenant's integrations (AWS accounts, GitHub, Okta). Owners and admins
//! connect, change, pause, resume, test and delete them and set their schedules; members read
//! them. Credentials go only to the Secrets port and never come back in a response; the
//! integration shows only whether it has some. AWS integrations take no credentials: the
//! customer's role trusts Kushim with the tenant's ExternalId (`GET /v1/integrations/aws/external-id`).

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, SecondsFormat, Utc};
use kushim_adapters::bus::EventBus;
use kushim_adapters::table::Table;
use kushim_api::audit;
use kushim_api::idempotency;
use kushim_api::openapi as problems;
use kushim_api::paging::PageBody;
use kushim_api::{Access, ApiError, Ctx, Response, Route, body, dispatch};
use kushim_compliance::Compliance;
use kushim_domain::{IntegrationId, Permission};
use kushim_integrations::health::{BreakerState, Health, HealthState, HealthTransition};
use kushim_integrations::model::IntegrationKind;
use kushim_integrations::schedule::Cadence;
use kushim_integrations::{
    Breaker, ConnectionTester, Credentials, Integration, IntegrationPatch, IntegrationSettings, IntegrationStatus,
    IntegrationStore, NewIntegration, NotWiredTester, Schedule, Schedules, TestContext, TestError,
};
use kushim_lambda::problem::json_response;
use kushim_lambda::{Backends, Config, ConfigError, Problem};
use lambda_http::http::StatusCode;
use lambda_http::{Body, Request};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{OpenApi, ToSchema};

/// Everything the handlers need, built once per process.
pub struct State {
    table: Arc<dyn Table>,
    store: IntegrationStore,
    compliance: Compliance,
    /// Where `integration.health_changed` and the resolved findings of a deleted integration go
    /// (none when no bus is configured).
    bus: Option<Arc<dyn EventBus>>,
    schedules: Schedules,
    breaker: Breaker,
    tester: Arc<dyn ConnectionTester>,
    routes: Vec<Route<State>>,
}

impl State {
    /// Picks the ports and builds the route table. The connection tester is "not wired" until a
    /// real one is plugged in with [`State::with_tester`].
    pub fn new(_config: &Config, backends: &Backends) -> Result<Self, ConfigError> {
        let table = backends.table()?;
        Ok(Self {
            store: IntegrationStore::new(table.clone(), backends.secrets()?),
            schedules: Schedules::new(table.clone()),
            breaker: Breaker::new(table.clone()),
            compliance: Compliance::new(table.clone()),
            bus: backends.bus().ok(),
            table,
            tester: Arc::new(NotWiredTester),
            routes: routes(),
        })
    }

    /// Uses `tester` for `POST /v1/integrations/{id}/test` (builder style).
    pub fn with_tester(mut self, tester: Arc<dyn ConnectionTester>) -> Self {
        self.tester = tester;
        self
    }
}

/// The function's routes (each must also be in `template.yaml`).
pub fn routes() -> Vec<Route<State>> {
    use Access::Requires;
    use Permission::{IntegrationsManage as Manage, IntegrationsRead as Read, SchedulesManage};
    vec![
        Route { method: "GET", path: "/v1/integrations", access: Requires(Read), handler: |s, c| Box::pin(list(s, c)) },
        Route {
            method: "POST",
            path: "/v1/integrations",
            access: Requires(Manage),
            handler: |s, c| Box::pin(connect(s, c)),
        },
        Route {
            method: "GET",
            path: "/v1/integrations/aws/external-id",
            access: Requires(Manage),
            handler: |s, c| Box::pin(external_id(s, c)),
        },
        Route {
            method: "GET",
            path: "/v1/integrations/{integration_id}",
            access: Requires(Read),
            handler: |s, c| Box::pin(get(s, c)),
        },
        Route {
            method: "PATCH",
            path: "/v1/integrations/{integration_id}",
            access: Requires(Manage),
            handler: |s, c| Box::pin(update(s, c)),
        },
        Route {
            method: "DELETE",
            path: "/v1/integrations/{integration_id}",
            access: Requires(Manage),
            handler: |s, c| Box::pin(delete(s, c)),
        },
        Route {
            method: "POST",
            path: "/v1/integrations/{integration_id}/pause",
            access: Requires(Manage),
            handler: |s, c| Box::pin(pause(s, c)),
        },
        Route {
            method: "POST",
            path: "/v1/integrations/{integration_id}/resume",
            access: Requires(Manage),
            handler: |s, c| Box::pin(resume(s, c)),
        },
        Route {
            method: "POST",
            path: "/v1/integrations/{integration_id}/test",
            access: Requires(Manage),
            handler: |s, c| Box::pin(test(s, c)),
        },
        Route {
            method: "GET",
            path: "/v1/integrations/{integration_id}/schedule",
            access: Requires(Read),
            handler: |s, c| Box::pin(get_schedule(s, c)),
        },
        Route {
            method: "PUT",
            path: "/v1/integrations/{integration_id}/schedule",
            access: Requires(SchedulesManage),
            handler: |s, c| Box::pin(put_schedule(s, c)),
        },
    ]
}

/// The Lambda handler.
pub async fn handle(state: &State, req: Request) -> Result<Response, kushim_lambda::Error> {
    Ok(dispatch(&state.routes, state, req, Some(state.table.as_ref())).await)
}

/// How an integrations failure is shown to the caller.
fn api_error(e: kushim_integrations::Error) -> ApiError {
    use kushim_integrations::Error as E;
    match e {
        E::Invalid(m) => ApiError::Validation(m),
        E::NotFound => ApiError::NotFound,
        E::Conflict(m) | E::NothingToRun(m) => ApiError::Conflict(m),
        E::Busy(_) => ApiError::Conflict("a run is already in progress".into()),
        E::Contention(_) | E::Enqueue(_) => ApiError::Unavailable,
        E::Storage(e) => e.into(),
    }
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn integration_id(ctx: &Ctx<'_>) -> Result<IntegrationId, ApiError> {
    IntegrationId::new(ctx.path_param("integration_id")?).map_err(|_| ApiError::NotFound)
}

/// The kind of system an integration connects.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
enum IntegrationKindName {
    /// AWS accounts, through a cross-account role and the tenant's ExternalId.
    Aws,
    /// A GitHub organisation, through a read-only token.
    Github,
    /// An Okta org, through a read-only API token.
    Okta,
}

impl From<IntegrationKindName> for IntegrationKind {
    fn from(k: IntegrationKindName) -> Self {
        match k {
            IntegrationKindName::Aws => Self::Aws,
            IntegrationKindName::Github => Self::Github,
            IntegrationKindName::Okta => Self::Okta,
        }
    }
}

impl From<IntegrationKind> for IntegrationKindName {
    fn from(k: IntegrationKind) -> Self {
        match k {
            IntegrationKind::Aws => Self::Aws,
            IntegrationKind::Github => Self::Github,
            IntegrationKind::Okta => Self::Okta,
        }
    }
}

/// Whether an integration is collected.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
enum IntegrationStatusName {
    /// Collected on schedule and on demand.
    Active,
    /// Not collected until resumed.
    Paused,
}

/// An integration's health.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
enum IntegrationHealthName {
    /// The last collection succeeded (or none ran yet).
    Healthy,
    /// Recent collections failed, fewer than five in a row.
    Degraded,
    /// Collection keeps failing; the circuit breaker is open or probing.
    Failing,
    /// The integration is paused.
    Paused,
}

/// The circuit breaker's position.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
enum CircuitBreakerState {
    /// Jobs run.
    Closed,
    /// Jobs wait until `open_until`.
    Open,
    /// One probe job runs; its outcome closes or re-opens the breaker.
    HalfOpen,
}

/// A day of the week.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
#[allow(dead_code)]
enum ScheduleWeekday {
    Monday,
    Tuesday,
    Wednesday,
    Thursday,
    Friday,
    Saturday,
    Sunday,
}

/// When an integration is collected, at a wall-clock time (`HH:MM`) in the tenant's time zone.
#[derive(Debug, Serialize, ToSchema)]
#[serde(tag = "frequency", rename_all = "snake_case")]
#[allow(dead_code)]
enum ScheduleCadence {
    /// Every day.
    Daily {
        /// Local time, `HH:MM`.
        #[schema(example = "02:00", pattern = "^([01][0-9]|2[0-3]):[0-5][0-9]$")]
        time: String,
    },
    /// Every week.
    Weekly {
        /// Day of the week.
        weekday: ScheduleWeekday,
        /// Local time, `HH:MM`.
        #[schema(example = "02:00", pattern = "^([01][0-9]|2[0-3]):[0-5][0-9]$")]
        time: String,
    },
    /// Every month.
    Monthly {
        /// Day of the month (1-28, so every month has it).
        #[schema(minimum = 1, maximum = 28)]
        day: u8,
        /// Local time, `HH:MM`.
        #[schema(example = "02:00", pattern = "^([01][0-9]|2[0-3]):[0-5][0-9]$")]
        time: String,
    },
    /// Only on demand.
    Off,
}

/// An integration's schedule.
#[derive(Debug, Serialize, ToSchema)]
struct IntegrationSchedule {
    /// When it runs.
    #[schema(value_type = ScheduleCadence)]
    cadence: Cadence,
    /// The IANA time zone the time is in (the tenant's).
    #[schema(example = "Europe/Berlin")]
    time_zone: String,
    /// The next scheduled run (RFC 3339, UTC); absent when off.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(format = DateTime)]
    next_due: Option<String>,
    /// When the schedule last started a run.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(format = DateTime)]
    last_fired_at: Option<String>,
}

impl From<&Schedule> for IntegrationSchedule {
    fn from(s: &Schedule) -> Self {
        Self {
            cadence: s.cadence,
            time_zone: s.time_zone.clone(),
            next_due: s.next_due.map(rfc3339),
            last_fired_at: s.last_fired_at.map(rfc3339),
        }
    }
}

/// The circuit breaker of an integration.
#[derive(Debug, Serialize, ToSchema)]
struct CircuitBreaker {
    /// Position.
    state: CircuitBreakerState,
    /// While open: when the next probe may run.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(format = DateTime)]
    open_until: Option<String>,
}

/// An integration's health.
#[derive(Debug, Serialize, ToSchema)]
struct IntegrationHealth {
    /// Health.
    state: IntegrationHealthName,
    /// Failed collections in a row.
    consecutive_failures: u32,
    /// Last successful collection.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(format = DateTime)]
    last_success_at: Option<String>,
    /// Last failed collection.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(format = DateTime)]
    last_failure_at: Option<String>,
    /// The last error, sanitized (no keys, tokens or signatures; at most 300 characters).
    #[serde(skip_serializing_if = "Option::is_none")]
    last_error: Option<String>,
    /// The circuit breaker.
    breaker: CircuitBreaker,
}

impl IntegrationHealth {
    fn of(h: &Health, paused: bool) -> Self {
        Self {
            state: match h.effective(paused) {
                HealthState::Healthy => IntegrationHealthName::Healthy,
                HealthState::Degraded => IntegrationHealthName::Degraded,
                HealthState::Failing => IntegrationHealthName::Failing,
                HealthState::Paused => IntegrationHealthName::Paused,
            },
            consecutive_failures: h.consecutive_failures,
            last_success_at: h.last_success_at.map(rfc3339),
            last_failure_at: h.last_failure_at.map(rfc3339),
            last_error: h.last_error.clone(),
            breaker: CircuitBreaker {
                state: match h.breaker {
                    BreakerState::Closed => CircuitBreakerState::Closed,
                    BreakerState::Open => CircuitBreakerState::Open,
                    BreakerState::HalfOpen => CircuitBreakerState::HalfOpen,
                },
                open_until: h.open_until.map(rfc3339),
            },
        }
    }
}

/// The regions an AWS account has enabled, as last discovered.
#[derive(Debug, Serialize, ToSchema)]
struct EnabledRegions {
    /// Region names.
    regions: Vec<String>,
    /// When they were discovered.
    #[schema(format = DateTime)]
    refreshed_at: String,
}

/// An integration. Credentials are never shown; `has_credentials` says whether some are stored.
#[derive(Debug, Serialize, ToSchema)]
struct IntegrationDetail {
    /// Id.
    id: String,
    /// IntegrationKindName.
    kind: IntegrationKindName,
    /// Display name.
    #[schema(example = "Production AWS")]
    display_name: String,
    /// Settings of the kind (AWS: `accounts` with `account_id` and `role_arn`, optional `regions`;
    /// GitHub: `organization`; Okta: `domain`).
    #[schema(value_type = Object)]
    settings: Value,
    /// Active or paused.
    status: IntegrationStatusName,
    /// Whether credentials are stored (GitHub and Okta tokens; AWS has none).
    has_credentials: bool,
    /// Health and circuit breaker.
    health: IntegrationHealth,
    /// Schedule.
    #[serde(skip_serializing_if = "Option::is_none")]
    schedule: Option<IntegrationSchedule>,
    /// AWS: per account id, the enabled regions the connector discovered.
    enabled_regions: BTreeMap<String, EnabledRegions>,
    /// Created (RFC 3339).
    #[schema(format = DateTime)]
    created_at: String,
    /// Last changed (RFC 3339).
    #[schema(format = DateTime)]
    updated_at: String,
}

fn view(i: &Integration, health: &Health, schedule: Option<&Schedule>) -> IntegrationDetail {
    let paused = i.status == IntegrationStatus::Paused;
    IntegrationDetail {
        id: i.id.to_string(),
        kind: i.kind().into(),
        display_name: i.display_name.clone(),
        settings: i.settings.to_json(),
        status: if paused { IntegrationStatusName::Paused } else { IntegrationStatusName::Active },
        has_credentials: i.has_credentials,
        health: IntegrationHealth::of(health, paused),
        schedule: schedule.map(IntegrationSchedule::from),
        enabled_regions: i
            .enabled_regions
            .iter()
            .map(|(acct, e)| {
                (acct.clone(), EnabledRegions { regions: e.regions.clone(), refreshed_at: rfc3339(e.refreshed_at) })
            })
            .collect(),
        created_at: rfc3339(i.created_at),
        updated_at: rfc3339(i.updated_at),
    }
}

async fn full_view(state: &State, i: &Integration) -> Result<IntegrationDetail, ApiError> {
    let (health, schedule) =
        futures::join!(state.breaker.health(&i.tenant_id, &i.id), state.schedules.get(&i.tenant_id, &i.id));
    let (health, schedule) = (health.map_err(api_error)?, schedule.map_err(api_error)?);
    Ok(view(i, &health, schedule.as_ref()))
}

#[utoipa::path(
    get,
    path = "/v1/integrations",
    operation_id = "listIntegrations",
    tag = "integrations",
    summary = "List the tenant's integrations",
    description = "Every integration of the tenant (at most 25, so one page holds them all), oldest first, with \
        its health and schedule. Credentials are never included.",
    responses(
        (status = 200, description = "The tenant's integrations.", body = PageBody<IntegrationDetail>),
        (status = 401, response = problems::Unauthorized),
        (status = 403, response = problems::Forbidden),
        (status = 429, response = problems::TooManyRequests),
    ),
    security(("bearer" = []))
)]
async fn list(state: &State, ctx: &Ctx<'_>) -> Result<Response, ApiError> {
    let p = ctx.principal()?;
    let integrations = state.store.list(&p.tenant_id).await.map_err(api_error)?;
    let views = futures::future::try_join_all(integrations.iter().map(|i| full_view(state, i))).await?;
    Ok(json_response(StatusCode::OK, &PageBody { items: views, next_cursor: None }))
}

/// A request to connect an integration.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct ConnectIntegrationRequest {
    /// IntegrationKindName.
    kind: IntegrationKindName,
    /// Display name, 1-100 characters.
    #[schema(example = "Production AWS")]
    display_name: String,
    /// Settings of the kind. AWS: `{"accounts": [{"account_id": "123456789012", "role_arn":
    /// "arn:aws:iam::123456789012:role/KushimReadOnly"}], "regions": ["eu-west-1"]}` (1-50 accounts;
    /// `regions` optional). GitHub: `{"organization": "acme"}`. Okta: `{"domain": "acme.okta.com"}`.
    #[schema(value_type = Object)]
    settings: Value,
    /// Credentials of the kind, stored only in the secrets store. GitHub: `{"token": "…"}`; Okta:
    /// `{"api_token": "…"}`; AWS: none (the role trusts the tenant's ExternalId).
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    credentials: Option<Value>,
    /// Schedule; daily at 02:00 in the tenant's time zone when absent.
    #[serde(default)]
    #[schema(value_type = Option<ScheduleCadence>)]
    schedule: Option<Cadence>,
}

/// A connected integration.
#[derive(Debug, Serialize, ToSchema)]
struct ConnectedIntegration {
    /// The integration.
    integration: IntegrationDetail,
    /// AWS: the tenant's ExternalId, for the `sts:ExternalId` condition of the role's trust policy.
    #[serde(skip_serializing_if = "Option::is_none")]
    external_id: Option<String>,
}

#[utoipa::path(
    post,
    path = "/v1/integrations",
    operation_id = "connectIntegration",
    tag = "integrations",
    summary = "Connect an integration",
    description = "Connects an AWS account set (through the customer's read-only role, which must trust Kushim \
        with the tenant's ExternalId, returned here), a GitHub organisation or an Okta org. Settings are checked \
        strictly per kind; credentials go only to the secrets store and are never returned. A daily schedule at \
        02:00 in the tenant's time zone is set unless another is given. A tenant may connect 25 integrations. \
        Retries are safe with an Idempotency-Key.",
    params(("Idempotency-Key" = Option<String>, Header, nullable = false, min_length = 1, max_length = 255, description = "Makes retries safe: the same key and body replay the first response for 24 hours.")),
    request_body(content = ConnectIntegrationRequest, content_type = "application/json"),
    responses(
        (status = 201, description = "The connected integration.", body = ConnectedIntegration),
        (status = 400, response = problems::BadRequest),
        (status = 401, response = problems::Unauthorized),
        (status = 403, response = problems::Forbidden),
        (status = 409, response = problems::Conflict),
        (status = 413, response = problems::PayloadTooLarge),
        (status = 415, response = problems::UnsupportedMediaType),
        (status = 422, response = problems::IdempotencyKeyReused),
        (status = 429, response = problems::TooManyRequests),
    ),
    security(("bearer" = []))
)]
async fn connect(state: &State, ctx: &Ctx<'_>) -> Result<Response, ApiError> {
    let p = ctx.principal()?;
    let input: ConnectIntegrationRequest = body::json(ctx.req)?;
    let kind: IntegrationKind = input.kind.into();
    let settings = IntegrationSettings::parse(kind, input.settings).map_err(api_error)?;
    let credentials = input.credentials.map(|c| Credentials::parse(kind, c)).transpose().map_err(api_error)?;
    if input.schedule.is_some() && !p.allows(Permission::SchedulesManage) {
        return Err(ApiError::Forbidden);
    }
    let new = NewIntegration { display_name: input.display_name, settings, credentials, cadence: input.schedule };
    idempotency::once(state.table.as_ref(), ctx, || async {
        let now = Utc::now();
        let connected = state.store.connect(&p.tenant_id, new.clone(), now).await.map_err(api_error)?;
        let i = &connected.integration;
        audit::record_success(state.table.as_ref(), ctx, "integration.connect", format!("integration:{}", i.id)).await;
        let integration = view(i, &Health::default(), Some(&connected.schedule));
        Ok(json_response(
            StatusCode::CREATED,
            &ConnectedIntegration { integration, external_id: connected.external_id },
        ))
    })
    .await
}

/// The tenant's AWS ExternalId.
#[derive(Debug, Serialize, ToSchema)]
struct AwsExternalId {
    /// Put it in the `sts:ExternalId` condition of the role Kushim assumes; it is the same for every AWS
    /// integration of the tenant.
    #[schema(example = "kushim-3hQ9sWm2Lr7XkPz0aBcDeFgHiJkLmNoPqRsTuVwX")]
    external_id: String,
}

#[utoipa::path(
    get,
    path = "/v1/integrations/aws/external-id",
    operation_id = "getAwsExternalId",
    tag = "integrations",
    summary = "Get the tenant's AWS ExternalId",
    description = "The ExternalId the customer's read-only role must require (`sts:ExternalId`) before Kushim \
        can assume it. Generated once per tenant, the first time it is asked for; owners and admins only.",
    responses(
        (status = 200, description = "The ExternalId.", body = AwsExternalId),
        (status = 401, response = problems::Unauthorized),
        (status = 403, response = problems::Forbidden),
        (status = 429, response = problems::TooManyRequests),
    ),
    security(("bearer" = []))
)]
async fn external_id(state: &State, ctx: &Ctx<'_>) -> Result<Response, ApiError> {
    let p = ctx.principal()?;
    let external_id = state.store.external_id(&p.tenant_id, Utc::now()).await.map_err(api_error)?;
    Ok(json_response(StatusCode::OK, &AwsExternalId { external_id }))
}

#[utoipa::path(
    get,
    path = "/v1/integrations/{integration_id}",
    operation_id = "getIntegration",
    tag = "integrations",
    summary = "Get an integration",
    description = "One integration with its health (state, last success, last sanitized error, circuit breaker) \
        and schedule.",
    params(("integration_id" = String, Path, description = "The integration's id.")),
    responses(
        (status = 200, description = "The integration.", body = IntegrationDetail),
        (status = 401, response = problems::Unauthorized),
        (status = 403, response = problems::Forbidden),
        (status = 404, response = problems::NotFound),
        (status = 429, response = problems::TooManyRequests),
    ),
    security(("bearer" = []))
)]
async fn get(state: &State, ctx: &Ctx<'_>) -> Result<Response, ApiError> {
    let p = ctx.principal()?;
    let i = state.store.get(&p.tenant_id, &integration_id(ctx)?).await.map_err(api_error)?;
    Ok(json_response(StatusCode::OK, &full_view(state, &i).await?))
}

/// A change to an integration; absent fields stay as they are.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct UpdateIntegrationRequest {
    /// New display name.
    #[serde(default)]
    display_name: Option<String>,
    /// New settings of the same kind (replaces the old ones).
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    settings: Option<Value>,
    /// New credentials (rotation); never returned.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    credentials: Option<Value>,
    /// New schedule (needs `schedules:manage`).
    #[serde(default)]
    #[schema(value_type = Option<ScheduleCadence>)]
    schedule: Option<Cadence>,
}

#[utoipa::path(
    patch,
    path = "/v1/integrations/{integration_id}",
    operation_id = "updateIntegration",
    tag = "integrations",
    summary = "Change an integration",
    description = "Changes the display name, replaces the settings (same kind, checked as strictly as when \
        connecting), rotates the credentials, or sets the schedule. Fields left out stay as they are.",
    params(("integration_id" = String, Path, description = "The integration's id.")),
    request_body(content = UpdateIntegrationRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "The changed integration.", body = IntegrationDetail),
        (status = 400, response = problems::BadRequest),
        (status = 401, response = problems::Unauthorized),
        (status = 403, response = problems::Forbidden),
        (status = 404, response = problems::NotFound),
        (status = 413, response = problems::PayloadTooLarge),
        (status = 415, response = problems::UnsupportedMediaType),
        (status = 429, response = problems::TooManyRequests),
    ),
    security(("bearer" = []))
)]
async fn update(state: &State, ctx: &Ctx<'_>) -> Result<Response, ApiError> {
    let p = ctx.principal()?;
    let id = integration_id(ctx)?;
    let input: UpdateIntegrationRequest = body::json(ctx.req)?;
    if input.display_name.is_none()
        && input.settings.is_none()
        && input.credentials.is_none()
        && input.schedule.is_none()
    {
        return Err(ApiError::Validation("nothing to change".into()));
    }
    if input.schedule.is_some() && !p.allows(Permission::SchedulesManage) {
        return Err(ApiError::Forbidden);
    }
    let current = state.store.get(&p.tenant_id, &id).await.map_err(api_error)?;
    let kind = current.kind();
    let patch = IntegrationPatch {
        display_name: input.display_name,
        settings: input.settings.map(|s| IntegrationSettings::parse(kind, s)).transpose().map_err(api_error)?,
        credentials: input.credentials.map(|c| Credentials::parse(kind, c)).transpose().map_err(api_error)?,
    };
    let now = Utc::now();
    let rotated = patch.credentials.is_some();
    let changed_fields = patch.display_name.is_some() || patch.settings.is_some() || rotated;
    let mut updated = current;
    if changed_fields {
        updated = state.store.update(&p.tenant_id, &id, patch, now).await.map_err(api_error)?;
        audit::record_success(state.table.as_ref(), ctx, "integration.update", format!("integration:{id}")).await;
    }
    if rotated {
        audit::record_success(state.table.as_ref(), ctx, "integration.credentials.rotate", format!("integration:{id}"))
            .await;
    }
    if let Some(cadence) = input.schedule {
        state.schedules.set(&p.tenant_id, &id, cadence, now).await.map_err(api_error)?;
        audit::record_success(state.table.as_ref(), ctx, "integration.schedule", format!("integration:{id}")).await;
    }
    Ok(json_response(StatusCode::OK, &full_view(state, &updated).await?))
}

#[utoipa::path(
    delete,
    path = "/v1/integrations/{integration_id}",
    operation_id = "deleteIntegration",
    tag = "integrations",
    summary = "Delete an integration",
    description = "Deletes the integration, its schedule, its health record and its stored credentials. The \
        check results its collections produced are retired (their controls are evaluated again, and each failing \
        finding is published as resolved with status `gone`). Jobs already queued for it are skipped; evidence \
        already collected stays in the ledger.",
    params(("integration_id" = String, Path, description = "The integration's id.")),
    responses(
        (status = 204, description = "Deleted."),
        (status = 401, response = problems::Unauthorized),
        (status = 403, response = problems::Forbidden),
        (status = 404, response = problems::NotFound),
        (status = 429, response = problems::TooManyRequests),
    ),
    security(("bearer" = []))
)]
async fn delete(state: &State, ctx: &Ctx<'_>) -> Result<Response, ApiError> {
    let p = ctx.principal()?;
    let id = integration_id(ctx)?;
    state.store.delete(&p.tenant_id, &id).await.map_err(api_error)?;
    audit::record_success(state.table.as_ref(), ctx, "integration.delete", format!("integration:{id}")).await;
    // The integration is gone whatever happens next; a failure here leaves results a repeated
    // delete (404) cannot reach, so it is logged loudly rather than failing the request.
    let bus = state.bus.as_deref();
    if let Err(e) = kushim_connector::retire_integration(&state.compliance, bus, &p.tenant_id, &id, Utc::now()).await {
        tracing::error!(error = %e, integration = %id, "could not retire the deleted integration's results");
    }
    let mut resp = Response::new(Body::Empty);
    *resp.status_mut() = StatusCode::NO_CONTENT;
    Ok(resp)
}

async fn set_status(
    state: &State,
    ctx: &Ctx<'_>,
    status: IntegrationStatus,
    action: &str,
) -> Result<Response, ApiError> {
    let p = ctx.principal()?;
    let id = integration_id(ctx)?;
    let now = Utc::now();
    let (i, changed) = state.store.set_status(&p.tenant_id, &id, status, now).await.map_err(api_error)?;
    audit::record_success(state.table.as_ref(), ctx, action, format!("integration:{id}")).await;
    if changed && let Some(bus) = &state.bus {
        let health = state.breaker.health(&p.tenant_id, &id).await.map_err(api_error)?;
        let paused = status == IntegrationStatus::Paused;
        let transition = HealthTransition {
            tenant_id: p.tenant_id.clone(),
            integration_id: id.clone(),
            from: health.effective(!paused),
            to: health.effective(paused),
            breaker: health.breaker,
            last_error: health.last_error.clone(),
            at: now,
        };
        let event = kushim_integrations::events::health_changed(&transition);
        if let Err(e) = kushim_integrations::events::publish(bus.as_ref(), vec![event]).await {
            tracing::warn!(error = %e, "could not publish the integration's health change");
        }
    }
    Ok(json_response(StatusCode::OK, &full_view(state, &i).await?))
}

#[utoipa::path(
    post,
    path = "/v1/integrations/{integration_id}/pause",
    operation_id = "pauseIntegration",
    tag = "integrations",
    summary = "Pause an integration",
    description = "Stops collecting the integration: its schedule is skipped and on-demand runs refuse it until \
        it is resumed. Its health reads `paused`. Pausing a paused integration is harmless.",
    params(("integration_id" = String, Path, description = "The integration's id.")),
    responses(
        (status = 200, description = "The paused integration.", body = IntegrationDetail),
        (status = 401, response = problems::Unauthorized),
        (status = 403, response = problems::Forbidden),
        (status = 404, response = problems::NotFound),
        (status = 429, response = problems::TooManyRequests),
    ),
    security(("bearer" = []))
)]
async fn pause(state: &State, ctx: &Ctx<'_>) -> Result<Response, ApiError> {
    set_status(state, ctx, IntegrationStatus::Paused, "integration.pause").await
}

#[utoipa::path(
    post,
    path = "/v1/integrations/{integration_id}/resume",
    operation_id = "resumeIntegration",
    tag = "integrations",
    summary = "Resume an integration",
    description = "Collects a paused integration again, on its schedule and on demand. Resuming an active \
        integration is harmless.",
    params(("integration_id" = String, Path, description = "The integration's id.")),
    responses(
        (status = 200, description = "The resumed integration.", body = IntegrationDetail),
        (status = 401, response = problems::Unauthorized),
        (status = 403, response = problems::Forbidden),
        (status = 404, response = problems::NotFound),
        (status = 429, response = problems::TooManyRequests),
    ),
    security(("bearer" = []))
)]
async fn resume(state: &State, ctx: &Ctx<'_>) -> Result<Response, ApiError> {
    set_status(state, ctx, IntegrationStatus::Active, "integration.resume").await
}

/// What the connection test found.
#[derive(Debug, Serialize, ToSchema)]
struct ConnectionTestReport {
    /// Whether Kushim can collect everything the integration's checks declare.
    ok: bool,
    /// Declared permissions the credentials lack.
    #[schema(example = json!(["iam:GenerateCredentialReport"]))]
    missing_permissions: Vec<String>,
    /// Every permission that was checked.
    checked: Vec<String>,
    /// Why the test could not connect at all (sanitized).
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

#[utoipa::path(
    post,
    path = "/v1/integrations/{integration_id}/test",
    operation_id = "testIntegration",
    tag = "integrations",
    summary = "Test an integration's connection and permissions",
    description = "The permissions doctor: connects with the integration's settings (and, for AWS, the tenant's \
        ExternalId) and checks every permission its checks declare, reporting the missing ones. A customer-side \
        problem is a 200 with `ok: false`; 501 means no tester is wired for this kind of integration yet.",
    params(("integration_id" = String, Path, description = "The integration's id.")),
    responses(
        (status = 200, description = "What the test found.", body = ConnectionTestReport),
        (status = 401, response = problems::Unauthorized),
        (status = 403, response = problems::Forbidden),
        (status = 404, response = problems::NotFound),
        (status = 429, response = problems::TooManyRequests),
        (status = 501, description = "Connection tests are not available for this kind of integration yet.", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The tester is temporarily unavailable; retry later.", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
async fn test(state: &State, ctx: &Ctx<'_>) -> Result<Response, ApiError> {
    let p = ctx.principal()?;
    let id = integration_id(ctx)?;
    let i = state.store.get(&p.tenant_id, &id).await.map_err(api_error)?;
    let now = Utc::now();
    let context = TestContext {
        external_id: match i.kind() {
            IntegrationKind::Aws => Some(state.store.external_id(&p.tenant_id, now).await.map_err(api_error)?),
            _ => None,
        },
        credentials: state.store.credentials(&p.tenant_id, &id).await.map_err(api_error)?,
    };
    let report = match state.tester.test(&i, &context).await {
        Ok(r) => r,
        Err(e @ TestError::NotWired(_)) => {
            let problem =
                Problem::new(StatusCode::NOT_IMPLEMENTED, "connection-test-not-wired", "Connection test not available")
                    .detail(e.to_string());
            return Ok(problem.for_request(ctx.req));
        }
        Err(TestError::Unavailable(reason)) => {
            tracing::warn!(integration = %id, reason = %kushim_integrations::health::sanitize_error(&reason), "connection test unavailable");
            return Err(ApiError::Unavailable);
        }
    };
    audit::record_success(state.table.as_ref(), ctx, "integration.test", format!("integration:{id}")).await;
    let error = report.error.as_deref().map(kushim_integrations::health::sanitize_error);
    let view = ConnectionTestReport {
        ok: report.ok,
        missing_permissions: report.missing_permissions,
        checked: report.checked,
        error,
    };
    Ok(json_response(StatusCode::OK, &view))
}

#[utoipa::path(
    get,
    path = "/v1/integrations/{integration_id}/schedule",
    operation_id = "getIntegrationSchedule",
    tag = "integrations",
    summary = "Get an integration's schedule",
    description = "When the integration is collected, in the tenant's time zone, and when it next runs.",
    params(("integration_id" = String, Path, description = "The integration's id.")),
    responses(
        (status = 200, description = "The schedule.", body = IntegrationSchedule),
        (status = 401, response = problems::Unauthorized),
        (status = 403, response = problems::Forbidden),
        (status = 404, response = problems::NotFound),
        (status = 429, response = problems::TooManyRequests),
    ),
    security(("bearer" = []))
)]
async fn get_schedule(state: &State, ctx: &Ctx<'_>) -> Result<Response, ApiError> {
    let p = ctx.principal()?;
    let id = integration_id(ctx)?;
    state.store.get(&p.tenant_id, &id).await.map_err(api_error)?;
    let s = state.schedules.get(&p.tenant_id, &id).await.map_err(api_error)?.ok_or(ApiError::NotFound)?;
    Ok(json_response(StatusCode::OK, &IntegrationSchedule::from(&s)))
}

#[utoipa::path(
    put,
    path = "/v1/integrations/{integration_id}/schedule",
    operation_id = "setIntegrationSchedule",
    tag = "integrations",
    summary = "Set an integration's schedule",
    description = "Daily, weekly (weekday and time) or monthly (day 1-28 and time) at a wall-clock time in the \
        tenant's time zone, or `off` (on demand only). The next run is computed at once; across daylight-saving \
        changes a time that does not exist runs an hour later, and one that occurs twice runs once.",
    params(("integration_id" = String, Path, description = "The integration's id.")),
    request_body(content = ScheduleCadence, content_type = "application/json"),
    responses(
        (status = 200, description = "The schedule.", body = IntegrationSchedule),
        (status = 400, response = problems::BadRequest),
        (status = 401, response = problems::Unauthorized),
        (status = 403, response = problems::Forbidden),
        (status = 404, response = problems::NotFound),
        (status = 413, response = problems::PayloadTooLarge),
        (status = 415, response = problems::UnsupportedMediaType),
        (status = 429, response = problems::TooManyRequests),
    ),
    security(("bearer" = []))
)]
async fn put_schedule(state: &State, ctx: &Ctx<'_>) -> Result<Response, ApiError> {
    let p = ctx.principal()?;
    let id = integration_id(ctx)?;
    let cadence: Cadence = body::json(ctx.req)?;
    state.store.get(&p.tenant_id, &id).await.map_err(api_error)?;
    let s = state.schedules.set(&p.tenant_id, &id, cadence, Utc::now()).await.map_err(api_error)?;
    audit::record_success(state.table.as_ref(), ctx, "integration.schedule", format!("integration:{id}")).await;
    Ok(json_response(StatusCode::OK, &IntegrationSchedule::from(&s)))
}

#[derive(OpenApi)]
#[openapi(
    paths(list, connect, external_id, get, update, delete, pause, resume, test, get_schedule, put_schedule),
    tags((name = "integrations", description = "Connected systems (AWS, GitHub, Okta): connect, test, pause, schedule and delete them."))
)]
struct ApiDoc;

/// This function's OpenAPI document, each operation marked with its route's access.
pub fn openapi() -> utoipa::openapi::OpenApi {
    kushim_api::openapi::document(ApiDoc::openapi(), &routes())
}

#[cfg(test)]
mod tests;
