//! `api-frameworks`: the compliance frameworks Kushim covers (SOC 2, ISO/IEC 27001, HIPAA, NIST
//! CSF), each with its requirements, the Kushim controls mapped to them and how ready the tenant
//! is: how many of the framework's controls stand in each status. Read-only; the tenant always
//! comes from the verified principal.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::Utc;
use kushim_adapters::table::Table;
use kushim_api::openapi as problems;
use kushim_api::{Access, ApiError, Ctx, Response, Route, dispatch};
use kushim_catalog::{Framework, FrameworkId, catalog};
use kushim_compliance::{Compliance, ControlFilter};
use kushim_domain::Permission;
use kushim_engine::ControlEvaluation;
use kushim_engine::ControlStatus;
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
            path: "/v1/frameworks",
            access: Requires(Permission::ControlsRead),
            handler: |s, c| Box::pin(list(s, c)),
        },
        Route {
            method: "GET",
            path: "/v1/frameworks/{framework_id}",
            access: Requires(Permission::ControlsRead),
            handler: |s, c| Box::pin(get_framework(s, c)),
        },
    ]
}

/// The Lambda handler.
pub async fn handle(state: &State, req: Request) -> Result<Response, kushim_lambda::Error> {
    Ok(dispatch(&state.routes, state, req, Some(state.table.as_ref())).await)
}

/// How many controls stand in each status.
#[derive(Debug, Default, Serialize, ToSchema)]
struct StatusCounts {
    /// Controls passing.
    passing: usize,
    /// Controls failing.
    failing: usize,
    /// Controls needing evidence.
    needs_evidence: usize,
    /// Controls whose failures are all excepted.
    excepted: usize,
    /// Controls with nothing collected yet.
    not_started: usize,
}

/// How ready the tenant is for a framework: how its controls stand.
#[derive(Debug, Serialize, ToSchema)]
struct Readiness {
    /// Controls mapped to the framework.
    controls: usize,
    /// How many of them stand in each status.
    by_status: StatusCounts,
    /// Share of them passing, 0.0-1.0.
    #[schema(minimum = 0.0, maximum = 1.0, example = 0.42)]
    share_passing: f64,
}

impl From<&kushim_engine::Readiness> for Readiness {
    fn from(r: &kushim_engine::Readiness) -> Self {
        let mut by_status = StatusCounts::default();
        for (status, n) in &r.by_status {
            let slot = match *status {
                ControlStatus::Passing => &mut by_status.passing,
                ControlStatus::Failing => &mut by_status.failing,
                ControlStatus::NeedsEvidence => &mut by_status.needs_evidence,
                ControlStatus::Excepted => &mut by_status.excepted,
                ControlStatus::NotStarted => &mut by_status.not_started,
            };
            *slot += n;
        }
        Self { controls: r.controls, by_status, share_passing: r.share_passing }
    }
}

/// A framework, its size and the tenant's readiness.
#[derive(Debug, Serialize, ToSchema)]
struct FrameworkSummary {
    /// The framework's id: `soc2`, `iso27001`, `hipaa` or `nist_csf`.
    #[schema(example = "soc2")]
    id: String,
    /// Display name.
    #[schema(example = "SOC 2")]
    name: String,
    /// The edition its ids and counts follow.
    version: String,
    /// Every requirement (criteria, controls, standards, specifications, functions, categories,
    /// subcategories).
    requirements: usize,
    /// Requirements by kind (`criterion`, `control`, `standard`, `implementation_spec`,
    /// `function`, `category`, `subcategory`).
    requirements_by_kind: BTreeMap<String, usize>,
    /// Requirements at least one Kushim control maps to.
    requirements_covered: usize,
    /// How ready the tenant is.
    readiness: Readiness,
}

/// The frameworks Kushim covers.
#[derive(Debug, Serialize, ToSchema)]
struct FrameworkList {
    /// Every framework, in catalog order.
    items: Vec<FrameworkSummary>,
}

/// A control mapped to a requirement, and how it stands for the tenant.
#[derive(Debug, Serialize, ToSchema)]
struct MappedControl {
    /// The control's id.
    #[schema(example = "KC-IAM-01")]
    id: String,
    /// Its title.
    title: String,
    /// How it stands now.
    status: ControlStatus,
}

/// One requirement of a framework, with the controls mapped to it.
#[derive(Debug, Serialize, ToSchema)]
struct RequirementStatus {
    /// The id the publication uses.
    #[schema(example = "CC6.1")]
    id: String,
    /// A short title in Kushim's words.
    title: String,
    /// What it is within its framework (`criterion`, `control`, `standard`,
    /// `implementation_spec`, `function`, `category`, `subcategory`).
    #[schema(example = "criterion")]
    kind: String,
    /// The enclosing requirement, if any.
    parent: Option<String>,
    /// The controls mapped to it (empty for groupings and uncovered requirements).
    controls: Vec<MappedControl>,
}

/// A framework in detail: its requirements, the controls behind them and the tenant's readiness.
#[derive(Debug, Serialize, ToSchema)]
struct FrameworkDetail {
    /// The framework's id.
    #[schema(example = "soc2")]
    id: String,
    /// Display name.
    name: String,
    /// The edition its ids and counts follow.
    version: String,
    /// Where the ids come from.
    source: String,
    /// How ready the tenant is.
    readiness: Readiness,
    /// Every requirement, parents before their children.
    requirements: Vec<RequirementStatus>,
}

fn summary(framework: &Framework, evaluations: &BTreeMap<String, ControlEvaluation>) -> FrameworkSummary {
    let mut by_kind = BTreeMap::new();
    for r in &framework.requirements {
        *by_kind.entry(r.kind.as_str().to_owned()).or_insert(0) += 1;
    }
    let readiness = kushim_engine::readiness(catalog(), framework.id, evaluations);
    FrameworkSummary {
        id: framework.id.as_str().to_owned(),
        name: framework.name.clone(),
        version: framework.version.clone(),
        requirements: framework.requirements.len(),
        requirements_by_kind: by_kind,
        requirements_covered: catalog().requirements_covered(framework.id).len(),
        readiness: Readiness::from(&readiness),
    }
}

#[utoipa::path(
    get,
    path = "/v1/frameworks",
    operation_id = "listFrameworks",
    tag = "frameworks",
    summary = "List the frameworks and the tenant's readiness",
    description = "The four frameworks Kushim covers (SOC 2, ISO/IEC 27001, HIPAA Security Rule, NIST CSF), each \
        with its requirement counts and how ready the tenant is: how many of its controls are passing, failing, \
        need evidence, are excepted or not started, and the share passing.",
    responses(
        (status = 200, description = "Every framework with the tenant's readiness.", body = FrameworkList),
        (status = 401, response = problems::Unauthorized),
        (status = 403, response = problems::Forbidden),
        (status = 429, response = problems::TooManyRequests),
    ),
    security(("bearer" = []))
)]
async fn list(state: &State, ctx: &Ctx<'_>) -> Result<Response, ApiError> {
    let p = ctx.principal()?;
    let controls = state
        .compliance
        .list_controls(&p.tenant_id, &ControlFilter::default(), Utc::now())
        .await
        .map_err(ApiError::from)?;
    let evaluations: BTreeMap<String, ControlEvaluation> = controls.into_iter().map(|(c, e)| (c.id, e)).collect();
    let items = catalog().frameworks.iter().map(|f| summary(f, &evaluations)).collect();
    Ok(json_response(StatusCode::OK, &FrameworkList { items }))
}

#[utoipa::path(
    get,
    path = "/v1/frameworks/{framework_id}",
    operation_id = "getFramework",
    tag = "frameworks",
    summary = "Get a framework with its requirements",
    description = "One framework in detail: every requirement (id, title, kind, parent) with the Kushim controls \
        mapped to it and how each stands for the tenant, and the tenant's readiness for the framework.",
    params(("framework_id" = String, Path, description = "`soc2`, `iso27001`, `hipaa` or `nist_csf`.", example = "soc2")),
    responses(
        (status = 200, description = "The framework, its requirements and the tenant's readiness.", body = FrameworkDetail),
        (status = 401, response = problems::Unauthorized),
        (status = 403, response = problems::Forbidden),
        (status = 404, response = problems::NotFound),
        (status = 429, response = problems::TooManyRequests),
    ),
    security(("bearer" = []))
)]
async fn get_framework(state: &State, ctx: &Ctx<'_>) -> Result<Response, ApiError> {
    let p = ctx.principal()?;
    let id: FrameworkId = ctx.path_param("framework_id")?.parse().map_err(|_| ApiError::NotFound)?;
    let framework = catalog().framework(id).ok_or(ApiError::NotFound)?;
    let filter = ControlFilter { framework: Some(id), ..ControlFilter::default() };
    let controls = state.compliance.list_controls(&p.tenant_id, &filter, Utc::now()).await.map_err(ApiError::from)?;
    let evaluations: BTreeMap<String, ControlEvaluation> = controls.into_iter().map(|(c, e)| (c.id, e)).collect();
    let status_of = |control_id: &str| evaluations.get(control_id).map_or(ControlStatus::NotStarted, |e| e.status);
    let requirements = framework
        .requirements
        .iter()
        .map(|r| RequirementStatus {
            id: r.id.clone(),
            title: r.title.clone(),
            kind: r.kind.as_str().to_owned(),
            parent: r.parent.clone(),
            controls: catalog()
                .controls_for(id, &r.id)
                .into_iter()
                .map(|c| MappedControl { id: c.id.clone(), title: c.title.clone(), status: status_of(&c.id) })
                .collect(),
        })
        .collect();
    let readiness = kushim_engine::readiness(catalog(), id, &evaluations);
    let detail = FrameworkDetail {
        id: id.as_str().to_owned(),
        name: framework.name.clone(),
        version: framework.version.clone(),
        source: framework.source.clone(),
        readiness: Readiness::from(&readiness),
        requirements,
    };
    Ok(json_response(StatusCode::OK, &detail))
}

#[derive(OpenApi)]
#[openapi(
    paths(list, get_framework),
    tags((name = "frameworks", description = "The compliance frameworks Kushim covers, their requirements and the tenant's readiness."))
)]
struct ApiDoc;

/// This function's OpenAPI document, each operation marked with its route's access.
pub fn openapi() -> utoipa::openapi::OpenApi {
    kushim_api::openapi::document(ApiDoc::openapi(), &routes())
}
