//! `api-controls`: Kushim's controls as the tenant sees them. The list (filterable by framework,
//! status and area) shows how each control stands; a control's page adds what it asks for, the
//! framework criteria it maps to, the built-in checks behind it, its evaluation and the latest
//! result per resource; its history gives the daily statuses over a window and the operating
//! effectiveness an auditor reads from them. Read-only; the tenant always comes from the verified
//! principal.

use std::collections::BTreeSet;
use std::sync::Arc;

use chrono::{NaiveDate, Utc};
use kushim_adapters::table::Table;
use kushim_api::openapi as problems;
use kushim_api::window::{date_param, window};
use kushim_api::{Access, ApiError, Ctx, Response, Route, dispatch};
use kushim_catalog::{Control, FrameworkId, catalog};
use kushim_checks::{CheckResult, find_check};
use kushim_compliance::{Compliance, ControlFilter, checks_for_control};
use kushim_domain::Permission;
use kushim_engine::ControlEvaluation;
use kushim_engine::ControlStatus;
use kushim_engine::Effectiveness;
use kushim_lambda::problem::json_response;
use kushim_lambda::{Backends, Config, ConfigError};
use lambda_http::Request;
use lambda_http::http::StatusCode;
use serde::Serialize;
use utoipa::{OpenApi, ToSchema};

/// Everything the handlers need, built once per process.
pub struct State {
    compliance: Compliance,
    table: Arc<dyn Table>,
    routes: Vec<Route<State>>,
}

impl State {
    /// Builds the compliance service and the route table.
    pub fn new(_config: &Config, backends: &Backends) -> Result<Self, ConfigError> {
        let table = backends.table()?;
        Ok(Self { compliance: Compliance::new(table.clone()), table, routes: routes() })
    }
}

/// The function's routes (each must also be in `template.yaml`).
pub fn routes() -> Vec<Route<State>> {
    use Access::Requires;
    vec![
        Route {
            method: "GET",
            path: "/v1/controls",
            access: Requires(Permission::ControlsRead),
            handler: |s, c| Box::pin(list(s, c)),
        },
        Route {
            method: "GET",
            path: "/v1/controls/{control_id}",
            access: Requires(Permission::ControlsRead),
            handler: |s, c| Box::pin(get_control(s, c)),
        },
        Route {
            method: "GET",
            path: "/v1/controls/{control_id}/history",
            access: Requires(Permission::ControlsRead),
            handler: |s, c| Box::pin(history(s, c)),
        },
    ]
}

/// The Lambda handler.
pub async fn handle(state: &State, req: Request) -> Result<Response, kushim_lambda::Error> {
    Ok(dispatch(&state.routes, state, req, Some(state.table.as_ref())).await)
}

/// The catalog control named in the path; 404 when there is none.
fn control_in_path(ctx: &Ctx<'_>) -> Result<&'static Control, ApiError> {
    let id = ctx.path_param("control_id")?;
    catalog().control(&id).ok_or(ApiError::NotFound)
}

/// How a control is evaluated.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
enum ControlKind {
    /// Kushim checks evaluate it from AWS, GitHub or Okta evidence.
    Automated,
    /// The customer uploads evidence for it.
    Manual,
    /// Partly checked automatically, partly backed by uploaded evidence.
    Hybrid,
}

impl From<kushim_catalog::ControlKind> for ControlKind {
    fn from(k: kushim_catalog::ControlKind) -> Self {
        match k {
            kushim_catalog::ControlKind::Automated => Self::Automated,
            kushim_catalog::ControlKind::Manual => Self::Manual,
            kushim_catalog::ControlKind::Hybrid => Self::Hybrid,
        }
    }
}

/// A control and how it stands for the tenant.
#[derive(Debug, Serialize, ToSchema)]
struct ControlSummary {
    /// The control's id.
    #[schema(example = "KC-IAM-01")]
    id: String,
    /// Its title.
    title: String,
    /// Its area, such as `identity_access`.
    #[schema(example = "identity_access")]
    area: String,
    /// How it is evaluated.
    kind: ControlKind,
    /// How it stands now.
    status: ControlStatus,
    /// Results failing (and not excepted).
    failed: usize,
    /// The frameworks it maps to.
    frameworks: Vec<String>,
}

/// Controls and their status.
#[derive(Debug, Serialize, ToSchema)]
struct ControlList {
    /// The controls matching the filters, in catalog order.
    items: Vec<ControlSummary>,
}

/// The requirements a control maps to in one framework.
#[derive(Debug, Serialize, ToSchema)]
struct FrameworkMapping {
    /// The framework's id.
    #[schema(example = "soc2")]
    framework: String,
    /// The requirements, with their titles.
    requirements: Vec<MappedRequirement>,
}

/// A framework requirement a control helps satisfy.
#[derive(Debug, Serialize, ToSchema)]
struct MappedRequirement {
    /// The id the publication uses.
    #[schema(example = "CC6.1")]
    id: String,
    /// A short title in Kushim's words.
    title: String,
}

// The same schema as `api-checks` defines: keep the two alike, or the merged document clashes.
/// How much a failure matters.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
enum CheckSeverity {
    Critical,
    High,
    Medium,
    Low,
    Info,
}

impl From<kushim_checks::Severity> for CheckSeverity {
    fn from(s: kushim_checks::Severity) -> Self {
        use kushim_checks::Severity as S;
        match s {
            S::Critical => Self::Critical,
            S::High => Self::High,
            S::Medium => Self::Medium,
            S::Low => Self::Low,
            S::Info => Self::Info,
        }
    }
}

/// A built-in check that supports a control.
#[derive(Debug, Serialize, ToSchema)]
struct SupportingCheck {
    /// The check's id.
    #[schema(example = "aws.iam.user_mfa_console")]
    id: String,
    /// Its title.
    title: String,
    /// How much a failure matters.
    severity: CheckSeverity,
}

/// How a control's manual evidence stands.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
enum ManualEvidenceState {
    /// The control needs none.
    NotRequired,
    /// None uploaded.
    Missing,
    /// The newest is past its freshness.
    Stale,
    /// Current.
    Fresh,
}

impl From<kushim_engine::status::ManualState> for ManualEvidenceState {
    fn from(s: kushim_engine::status::ManualState) -> Self {
        use kushim_engine::status::ManualState as S;
        match s {
            S::NotRequired => Self::NotRequired,
            S::Missing => Self::Missing,
            S::Stale => Self::Stale,
            S::Fresh => Self::Fresh,
        }
    }
}

/// How a control stands, and why.
#[derive(Debug, Serialize, ToSchema)]
struct Evaluation {
    /// Its status.
    status: ControlStatus,
    /// Results that passed.
    passed: usize,
    /// Results that failed and are not excepted.
    failed: usize,
    /// Failed results an active exception covers.
    excepted: usize,
    /// Results that could not be decided.
    inconclusive: usize,
    /// Results that do not apply.
    not_applicable: usize,
    /// How its manual evidence stands.
    manual_evidence: ManualEvidenceState,
    /// Why, in plain sentences (the first ones matter most).
    reasons: Vec<String>,
}

impl From<&ControlEvaluation> for Evaluation {
    fn from(e: &ControlEvaluation) -> Self {
        Self {
            status: e.status,
            passed: e.passed,
            failed: e.failed,
            excepted: e.excepted,
            inconclusive: e.inconclusive,
            not_applicable: e.not_applicable,
            manual_evidence: e.manual.into(),
            reasons: e.reasons.clone(),
        }
    }
}

/// A check's verdict on one resource.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
enum ResultStatus {
    /// The resource complies.
    Pass,
    /// The resource does not comply.
    Fail,
    /// The check could not decide (a refused permission, an API error, ...).
    Inconclusive,
    /// The check does not apply to the resource.
    NotApplicable,
}

/// The latest result of one check on one resource.
#[derive(Debug, Serialize, ToSchema)]
struct LatestResult {
    /// The check.
    #[schema(example = "aws.iam.user_mfa_console")]
    check_id: String,
    /// The resource it judged.
    #[schema(example = "arn:aws:iam::111122223333:user/alice")]
    resource_id: String,
    /// Its verdict.
    status: ResultStatus,
    /// Why an inconclusive result could not be decided (`permission_denied`, `field_not_visible`,
    /// `api_error`, `region_disabled`, `insufficient_data`).
    #[serde(skip_serializing_if = "Option::is_none")]
    inconclusive_cause: Option<String>,
    /// One plain sentence a reader can act on.
    reason: String,
}

impl From<&CheckResult> for LatestResult {
    fn from(r: &CheckResult) -> Self {
        use kushim_checks::Status;
        let (status, cause) = match &r.status {
            Status::Pass => (ResultStatus::Pass, None),
            Status::Fail => (ResultStatus::Fail, None),
            Status::NotApplicable => (ResultStatus::NotApplicable, None),
            Status::Inconclusive(why) => {
                let cause = serde_json::to_value(why).ok().and_then(|v| v["cause"].as_str().map(str::to_owned));
                (ResultStatus::Inconclusive, cause)
            }
        };
        Self {
            check_id: r.check_id.clone(),
            resource_id: r.resource_id.clone(),
            status,
            inconclusive_cause: cause,
            reason: r.reason.clone(),
        }
    }
}

/// A control in detail.
#[derive(Debug, Serialize, ToSchema)]
struct ControlDetail {
    /// The control's id.
    #[schema(example = "KC-IAM-01")]
    id: String,
    /// Its title.
    title: String,
    /// What the customer operates.
    description: String,
    /// Its area, such as `identity_access`.
    area: String,
    /// How it is evaluated.
    kind: ControlKind,
    /// For manual and hybrid controls: what an auditor expects in uploaded evidence.
    evidence_guidance: Option<String>,
    /// For manual and hybrid controls: how many days uploaded evidence stays current.
    evidence_freshness_days: Option<u32>,
    /// The requirements it maps to, framework by framework.
    mappings: Vec<FrameworkMapping>,
    /// The built-in checks that support it (empty for manual controls).
    checks: Vec<SupportingCheck>,
    /// How it stands now, and why.
    evaluation: Evaluation,
    /// The latest result of each supporting check on each resource, by check then resource.
    results: Vec<LatestResult>,
}

/// A control's status on one day.
#[derive(Debug, Serialize, ToSchema)]
struct DailyStatus {
    /// The day (UTC).
    #[schema(value_type = String, format = Date, example = "2025-01-31")]
    date: NaiveDate,
    /// The control's status that day (its last evaluation of the day).
    status: ControlStatus,
}

/// A control's daily statuses over a window and its operating effectiveness.
#[derive(Debug, Serialize, ToSchema)]
struct ControlHistory {
    /// The control's id.
    #[schema(example = "KC-IAM-01")]
    control_id: String,
    /// First day of the window.
    #[schema(value_type = String, format = Date)]
    from: NaiveDate,
    /// Last day of the window (inclusive).
    #[schema(value_type = String, format = Date)]
    to: NaiveDate,
    /// Each day of the window with a recorded status, oldest first.
    days: Vec<DailyStatus>,
    /// The figures for the window.
    effectiveness: Effectiveness,
}

fn frameworks_of(control: &Control) -> Vec<String> {
    control.mappings.iter().filter(|(_, ids)| !ids.is_empty()).map(|(f, _)| f.as_str().to_owned()).collect()
}

/// The list filters, each checked against what exists.
fn filter(ctx: &Ctx<'_>) -> Result<ControlFilter, ApiError> {
    let framework = ctx
        .query("framework")
        .map(|f| f.parse::<FrameworkId>().map_err(|e| ApiError::Validation(format!("framework: {e}"))))
        .transpose()?;
    let status = ctx
        .query("status")
        .map(|s| {
            serde_json::from_value::<kushim_engine::ControlStatus>(serde_json::Value::String(s.clone())).map_err(|_| {
                ApiError::Validation(format!(
                    "unknown status {s:?} (expected passing, failing, needs_evidence, excepted or not_started)"
                ))
            })
        })
        .transpose()?;
    let area = match ctx.query("area") {
        None => None,
        Some(a) => {
            let areas: BTreeSet<&str> = catalog().controls().iter().map(|c| c.area.as_str()).collect();
            if !areas.contains(a.as_str()) {
                let known: Vec<&str> = areas.into_iter().collect();
                return Err(ApiError::Validation(format!("unknown area {a:?} (expected one of {})", known.join(", "))));
            }
            Some(a)
        }
    };
    Ok(ControlFilter { framework, status, area })
}

#[utoipa::path(
    get,
    path = "/v1/controls",
    operation_id = "listControls",
    tag = "controls",
    summary = "List controls and their status",
    description = "Kushim's controls in catalog order, each with how it stands for the tenant. Every filter given \
        must match; an unknown filter value is refused.",
    params(
        ("framework" = Option<String>, Query, description = "Only controls mapped to this framework: `soc2`, `iso27001`, `hipaa` or `nist_csf`."),
        ("status" = Option<String>, Query, description = "Only controls in this status: `passing`, `failing`, `needs_evidence`, `excepted` or `not_started`."),
        ("area" = Option<String>, Query, description = "Only controls of this area, such as `identity_access`."),
    ),
    responses(
        (status = 200, description = "The matching controls.", body = ControlList),
        (status = 400, response = problems::BadRequest),
        (status = 401, response = problems::Unauthorized),
        (status = 403, response = problems::Forbidden),
        (status = 429, response = problems::TooManyRequests),
    ),
    security(("bearer" = []))
)]
async fn list(state: &State, ctx: &Ctx<'_>) -> Result<Response, ApiError> {
    let p = ctx.principal()?;
    let filter = filter(ctx)?;
    let controls = state.compliance.list_controls(&p.tenant_id, &filter, Utc::now()).await.map_err(ApiError::from)?;
    let items = controls
        .iter()
        .map(|(c, e)| ControlSummary {
            id: c.id.clone(),
            title: c.title.clone(),
            area: c.area.clone(),
            kind: c.kind.into(),
            status: e.status,
            failed: e.failed,
            frameworks: frameworks_of(c),
        })
        .collect();
    Ok(json_response(StatusCode::OK, &ControlList { items }))
}

#[utoipa::path(
    get,
    path = "/v1/controls/{control_id}",
    operation_id = "getControl",
    tag = "controls",
    summary = "Get a control with its evaluation and latest results",
    description = "One control: what it asks for (description, kind, evidence guidance and freshness), the \
        requirements it maps to in every framework, the built-in checks that support it, how it stands for the \
        tenant (status, counts, reasons) and the latest result of each check on each resource.",
    params(("control_id" = String, Path, description = "The control's id.", example = "KC-IAM-01")),
    responses(
        (status = 200, description = "The control, its evaluation and its latest results.", body = ControlDetail),
        (status = 401, response = problems::Unauthorized),
        (status = 403, response = problems::Forbidden),
        (status = 404, response = problems::NotFound),
        (status = 429, response = problems::TooManyRequests),
    ),
    security(("bearer" = []))
)]
async fn get_control(state: &State, ctx: &Ctx<'_>) -> Result<Response, ApiError> {
    let p = ctx.principal()?;
    let control = control_in_path(ctx)?;
    let evaluation =
        state.compliance.control_status(&p.tenant_id, &control.id, Utc::now()).await.map_err(ApiError::from)?;
    let results = state.compliance.latest_results(&p.tenant_id, &control.id).await.map_err(ApiError::from)?;
    let mappings = FrameworkId::ALL
        .into_iter()
        .filter(|f| !control.mapped(*f).is_empty())
        .map(|f| FrameworkMapping {
            framework: f.as_str().to_owned(),
            requirements: control
                .mapped(f)
                .iter()
                .map(|id| MappedRequirement {
                    id: id.clone(),
                    title: catalog()
                        .framework(f)
                        .and_then(|fw| fw.requirement(id))
                        .map(|r| r.title.clone())
                        .unwrap_or_default(),
                })
                .collect(),
        })
        .collect();
    let checks = checks_for_control(&control.id)
        .iter()
        .filter_map(|id| find_check(id))
        .map(|c| SupportingCheck {
            id: c.id().to_owned(),
            title: c.def().title.to_owned(),
            severity: c.def().severity.into(),
        })
        .collect();
    let detail = ControlDetail {
        id: control.id.clone(),
        title: control.title.clone(),
        description: control.description.clone(),
        area: control.area.clone(),
        kind: control.kind.into(),
        evidence_guidance: control.evidence_guidance.clone(),
        evidence_freshness_days: control.evidence_freshness_days,
        mappings,
        checks,
        evaluation: Evaluation::from(&evaluation),
        results: results.iter().map(LatestResult::from).collect(),
    };
    Ok(json_response(StatusCode::OK, &detail))
}

#[utoipa::path(
    get,
    path = "/v1/controls/{control_id}/history",
    operation_id = "getControlHistory",
    tag = "controls",
    summary = "Get a control's daily history and effectiveness",
    description = "The control's status on each day of a window that has one, and its operating effectiveness \
        over the window: days observed, passing, failing and excepted, the share passing, the longest failing \
        streak and each failure episode with its fix. The window defaults to the last 90 days and may cover at \
        most 400.",
    params(
        ("control_id" = String, Path, description = "The control's id.", example = "KC-IAM-01"),
        ("from" = Option<String>, Query, description = "First day, as YYYY-MM-DD (default: 89 days before `to`).", format = Date),
        ("to" = Option<String>, Query, description = "Last day, inclusive, as YYYY-MM-DD (default: today, UTC).", format = Date),
    ),
    responses(
        (status = 200, description = "The daily statuses and the effectiveness over the window.", body = ControlHistory),
        (status = 400, response = problems::BadRequest),
        (status = 401, response = problems::Unauthorized),
        (status = 403, response = problems::Forbidden),
        (status = 404, response = problems::NotFound),
        (status = 429, response = problems::TooManyRequests),
    ),
    security(("bearer" = []))
)]
async fn history(state: &State, ctx: &Ctx<'_>) -> Result<Response, ApiError> {
    let p = ctx.principal()?;
    let control = control_in_path(ctx)?;
    let (from, to) = window(date_param(ctx, "from")?, date_param(ctx, "to")?, Utc::now().date_naive())?;
    let days = state.compliance.history(&p.tenant_id, &control.id, from, to).await.map_err(ApiError::from)?;
    let effectiveness = kushim_engine::effectiveness(&days, from, to);
    let body = ControlHistory {
        control_id: control.id.clone(),
        from,
        to,
        days: days.iter().map(|d| DailyStatus { date: d.date, status: d.status }).collect(),
        effectiveness: effectiveness.clone(),
    };
    Ok(json_response(StatusCode::OK, &body))
}

#[derive(OpenApi)]
#[openapi(
    paths(list, get_control, history),
    tags((name = "controls", description = "Kushim's controls: their status for the tenant, mappings, supporting checks, latest results and history."))
)]
struct ApiDoc;

/// This function's OpenAPI document, each operation marked with its route's access.
pub fn openapi() -> utoipa::openapi::OpenApi {
    kushim_api::openapi::document(ApiDoc::openapi(), &routes())
}
