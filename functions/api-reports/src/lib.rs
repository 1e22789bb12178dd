//! `api-reports`: the reports that leave the product as files, as JSON or as CSV downloads:
//! framework coverage (which requirements Kushim judges automatically, only through uploaded
//! evidence, or not at all) and operating effectiveness of a framework's controls over an audit
//! window. Read-only; the tenant always comes from the verified principal.

use std::sync::Arc;

use chrono::{NaiveDate, Utc};
use kushim_adapters::table::Table;
use kushim_api::openapi as problems;
use kushim_api::window::{date_param, window};
use kushim_api::{Access, ApiError, Ctx, Response, Route, dispatch};
use kushim_catalog::{FrameworkId, catalog};
use kushim_compliance::{Compliance, coverage, coverage_to_csv, effectiveness_to_csv};
use kushim_domain::Permission;
use kushim_engine::Effectiveness;
use kushim_lambda::problem::json_response;
use kushim_lambda::{Backends, Config, ConfigError};
use lambda_http::http::{HeaderValue, StatusCode, header};
use lambda_http::{Body, Request};
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
            path: "/v1/reports/coverage",
            access: Requires(Permission::ReportsRead),
            handler: |s, c| Box::pin(coverage_report(s, c)),
        },
        Route {
            method: "GET",
            path: "/v1/reports/effectiveness",
            access: Requires(Permission::ReportsRead),
            handler: |s, c| Box::pin(effectiveness_report(s, c)),
        },
    ]
}

/// The Lambda handler.
pub async fn handle(state: &State, req: Request) -> Result<Response, kushim_lambda::Error> {
    Ok(dispatch(&state.routes, state, req, Some(state.table.as_ref())).await)
}

/// How a report is returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Json,
    Csv,
}

fn format(ctx: &Ctx<'_>) -> Result<Format, ApiError> {
    match ctx.query("format").as_deref() {
        None | Some("json") => Ok(Format::Json),
        Some("csv") => Ok(Format::Csv),
        Some(other) => Err(ApiError::Validation(format!("unknown format {other:?} (expected json or csv)"))),
    }
}

/// The required `framework` query parameter.
fn framework(ctx: &Ctx<'_>) -> Result<FrameworkId, ApiError> {
    let raw = ctx
        .query("framework")
        .ok_or_else(|| ApiError::Validation("framework is required: soc2, iso27001, hipaa or nist_csf".into()))?;
    raw.parse().map_err(|e| ApiError::Validation(format!("framework: {e}")))
}

/// A CSV download: `text/csv; charset=utf-8`, saved as `filename`.
fn csv_response(filename: &str, body: String) -> Result<Response, ApiError> {
    let disposition =
        HeaderValue::from_str(&format!("attachment; filename=\"{filename}\"")).map_err(|_| ApiError::Internal)?;
    let mut resp = Response::new(Body::Text(body));
    *resp.status_mut() = StatusCode::OK;
    let headers = resp.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/csv; charset=utf-8"));
    headers.insert(header::CONTENT_DISPOSITION, disposition);
    Ok(resp)
}

/// How Kushim covers a requirement.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
enum CoverageKind {
    /// At least one mapped control is supported by a built-in check.
    Automated,
    /// Mapped controls exist, none checked automatically: uploaded evidence covers it.
    ManualOnly,
    /// No control maps to it.
    Uncovered,
}

/// One requirement's coverage.
#[derive(Debug, Serialize, ToSchema)]
struct RequirementCoverage {
    /// The id the publication uses.
    #[schema(example = "CC6.1")]
    id: String,
    /// A short title in Kushim's words.
    title: String,
    /// How Kushim covers it.
    coverage: CoverageKind,
    /// The controls mapped to it.
    controls: Vec<String>,
}

/// Coverage of a framework by Kushim's controls and built-in checks.
#[derive(Debug, Serialize, ToSchema)]
struct CoverageReport {
    /// The framework's id.
    #[schema(example = "soc2")]
    framework: String,
    /// Its display name.
    name: String,
    /// The edition its ids follow.
    version: String,
    /// Requirements controls can map to.
    requirements: usize,
    /// Of those, covered automatically.
    automated: usize,
    /// Of those, covered only through uploaded evidence.
    manual_only: usize,
    /// Of those, not covered.
    uncovered: usize,
    /// Each requirement: automated first, then manual only, then uncovered (the CSV's row order).
    items: Vec<RequirementCoverage>,
}

/// One control's effectiveness in a framework report.
#[derive(Debug, Serialize, ToSchema)]
struct ControlEffectiveness {
    /// The control's id.
    #[schema(example = "KC-IAM-01")]
    control_id: String,
    /// Its title.
    title: String,
    /// Its figures.
    effectiveness: Effectiveness,
}

/// Operating effectiveness of a framework's controls over a window, and the figures summed over
/// them (a control-day is one control on one day).
#[derive(Debug, Serialize, ToSchema)]
struct EffectivenessReport {
    /// The framework's id.
    #[schema(example = "soc2")]
    framework: String,
    /// First day of the window.
    #[schema(value_type = String, format = Date)]
    from: NaiveDate,
    /// Last day of the window (inclusive).
    #[schema(value_type = String, format = Date)]
    to: NaiveDate,
    /// Each control mapped to the framework, in catalog order.
    controls: Vec<ControlEffectiveness>,
    /// Control-days with a recorded status.
    control_days_observed: i64,
    /// Control-days passing.
    control_days_passing: i64,
    /// Control-days failing.
    control_days_failing: i64,
    /// Control-days excepted.
    control_days_excepted: i64,
    /// Share of observed control-days passing, 0.0-1.0 (0 when nothing was observed).
    #[schema(minimum = 0.0, maximum = 1.0)]
    share_passing: f64,
    /// The longest run of failing days of any one control.
    longest_failing_streak: i64,
    /// The control with that run, if any control failed.
    longest_failing_control: Option<String>,
    /// Failure episodes fixed within the window.
    remediated_failures: usize,
    /// Failure episodes still open at the end of the window.
    open_failures: usize,
    /// Mean days from first failing day to the fix, over every control's fixed episodes.
    mean_days_to_remediate: Option<f64>,
}

#[utoipa::path(
    get,
    path = "/v1/reports/coverage",
    operation_id = "getCoverageReport",
    tag = "reports",
    summary = "Framework coverage report",
    description = "Which requirements of a framework Kushim judges automatically (a mapped control is supported by \
        a built-in check), only through uploaded evidence, or not at all, with the controls mapped to each. As \
        JSON, or as a CSV download with `format=csv` (RFC 4180: a header row, one row per requirement).",
    params(
        ("framework" = String, Query, description = "The framework: `soc2`, `iso27001`, `hipaa` or `nist_csf`."),
        ("format" = Option<String>, Query, description = "`json` (default) or `csv`."),
    ),
    responses(
        (status = 200, description = "The coverage report; as CSV it comes as an attachment (content-disposition).",
            content((CoverageReport = "application/json"), (String = "text/csv"))),
        (status = 400, response = problems::BadRequest),
        (status = 401, response = problems::Unauthorized),
        (status = 403, response = problems::Forbidden),
        (status = 429, response = problems::TooManyRequests),
    ),
    security(("bearer" = []))
)]
async fn coverage_report(_state: &State, ctx: &Ctx<'_>) -> Result<Response, ApiError> {
    ctx.principal()?;
    let id = framework(ctx)?;
    let format = format(ctx)?;
    let covered = coverage(id);
    if format == Format::Csv {
        return csv_response(&format!("kushim-coverage-{id}.csv"), coverage_to_csv(&covered));
    }
    let fw = catalog().framework(id).ok_or(ApiError::NotFound)?;
    let groups = [
        (CoverageKind::Automated, &covered.automated),
        (CoverageKind::ManualOnly, &covered.manual_only),
        (CoverageKind::Uncovered, &covered.uncovered),
    ];
    let items = groups
        .into_iter()
        .flat_map(|(kind, ids)| {
            ids.iter().map(move |r| RequirementCoverage {
                id: r.clone(),
                title: fw.requirement(r).map(|r| r.title.clone()).unwrap_or_default(),
                coverage: kind,
                controls: catalog().controls_for(id, r).iter().map(|c| c.id.clone()).collect(),
            })
        })
        .collect();
    let report = CoverageReport {
        framework: id.as_str().to_owned(),
        name: fw.name.clone(),
        version: fw.version.clone(),
        requirements: covered.automated.len() + covered.manual_only.len() + covered.uncovered.len(),
        automated: covered.automated.len(),
        manual_only: covered.manual_only.len(),
        uncovered: covered.uncovered.len(),
        items,
    };
    Ok(json_response(StatusCode::OK, &report))
}

#[utoipa::path(
    get,
    path = "/v1/reports/effectiveness",
    operation_id = "getEffectivenessReport",
    tag = "reports",
    summary = "Operating effectiveness report",
    description = "How each control of a framework operated over a window, from the tenant's daily statuses: days \
        observed, passing, failing and excepted, the share passing, failing streaks and failure episodes, and the \
        figures summed over control-days. The window defaults to the last 90 days and may cover at most 400. As \
        JSON, or as a CSV download with `format=csv` (one row per control, then an `ALL` row).",
    params(
        ("framework" = String, Query, description = "The framework: `soc2`, `iso27001`, `hipaa` or `nist_csf`."),
        ("from" = Option<String>, Query, description = "First day, as YYYY-MM-DD (default: 89 days before `to`).", format = Date),
        ("to" = Option<String>, Query, description = "Last day, inclusive, as YYYY-MM-DD (default: today, UTC).", format = Date),
        ("format" = Option<String>, Query, description = "`json` (default) or `csv`."),
    ),
    responses(
        (status = 200, description = "The effectiveness report; as CSV it comes as an attachment (content-disposition).",
            content((EffectivenessReport = "application/json"), (String = "text/csv"))),
        (status = 400, response = problems::BadRequest),
        (status = 401, response = problems::Unauthorized),
        (status = 403, response = problems::Forbidden),
        (status = 429, response = problems::TooManyRequests),
    ),
    security(("bearer" = []))
)]
async fn effectiveness_report(state: &State, ctx: &Ctx<'_>) -> Result<Response, ApiError> {
    let p = ctx.principal()?;
    let id = framework(ctx)?;
    let format = format(ctx)?;
    let (from, to) = window(date_param(ctx, "from")?, date_param(ctx, "to")?, Utc::now().date_naive())?;
    let report = state.compliance.framework_effectiveness(&p.tenant_id, id, from, to).await.map_err(ApiError::from)?;
    if format == Format::Csv {
        return csv_response(&format!("kushim-effectiveness-{id}-{from}-{to}.csv"), effectiveness_to_csv(&report));
    }
    let body = EffectivenessReport {
        framework: id.as_str().to_owned(),
        from,
        to,
        controls: report
            .controls
            .iter()
            .map(|c| ControlEffectiveness {
                control_id: c.control_id.clone(),
                title: c.title.clone(),
                effectiveness: c.effectiveness.clone(),
            })
            .collect(),
        control_days_observed: report.control_days_observed,
        control_days_passing: report.control_days_passing,
        control_days_failing: report.control_days_failing,
        control_days_excepted: report.control_days_excepted,
        share_passing: report.share_passing,
        longest_failing_streak: report.longest_failing_streak,
        longest_failing_control: report.longest_failing_control.clone(),
        remediated_failures: report.remediated_failures,
        open_failures: report.open_failures,
        mean_days_to_remediate: report.mean_days_to_remediate,
    };
    Ok(json_response(StatusCode::OK, &body))
}

#[derive(OpenApi)]
#[openapi(
    paths(coverage_report, effectiveness_report),
    tags((name = "reports", description = "Reports as JSON or CSV downloads: framework coverage and operating effectiveness over an audit window."))
)]
struct ApiDoc;

/// This function's OpenAPI document, each operation marked with its route's access.
pub fn openapi() -> utoipa::openapi::OpenApi {
    kushim_api::openapi::document(ApiDoc::openapi(), &routes())
}
