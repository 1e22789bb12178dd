//! Kushim's integrations and the daily-runs loop around them, as pure logic on the Table,
//! Secrets, Queue and EventBus ports (no cloud SDK):
//!
//! - [`model`]: the integration record and its settings, typed and validated per kind (AWS,
//!   GitHub, Okta), and [`model::Credentials`], which only ever go to the Secrets port;
//! - [`store`]: connecting, changing, pausing and deleting integrations, the tenant's AWS
//!   ExternalId, and the enabled-regions cache the AWS connector refreshes;
//! - [`health`]: integration health and the per-integration circuit breaker kept in the table;
//! - [`schedule`]: daily, weekly or monthly schedules in the tenant's time zone, with a due-index
//!   so the planner never scans;
//! - [`runs`]: run records with idempotent per-job counting, completion and time-outs;
//! - [`planner`]: slicing integrations into jobs, planning runs and sending jobs in batches;
//! - [`tester`]: the connection test ("permissions doctor") behind a trait;
//! - [`events`]: `run.completed` and `integration.health_changed`.

pub mod error;
pub mod events;
pub mod health;
pub mod jobs;
pub mod model;
pub mod planner;
pub mod runs;
pub mod schedule;
pub mod store;
pub mod tester;

pub use error::{Error, Result};
pub use health::{Admission, Breaker, BreakerConfig, BreakerState, Health, HealthState, HealthTransition};
pub use jobs::{JobMarker, JobOutcome, finished_jobs};
pub use model::{Credentials, Integration, IntegrationKind, IntegrationSettings, IntegrationStatus};
pub use planner::{AwsSlicer, JobQueues, PlanReport, PlannedRun, Planner, RunOptions, Slicer, enqueue, plan_run};
pub use runs::{JobCounts, JobFinished, LockPolicy, Run, RunCounters, RunStatus, Runs, Trigger};
pub use schedule::{Cadence, DueCursor, Schedule, Schedules};
pub use store::{IntegrationPatch, IntegrationStore, NewIntegration};
pub use tester::{ConnectionReport, ConnectionTester, NotWiredTester, TestContext, TestError};
