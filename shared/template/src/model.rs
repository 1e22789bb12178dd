//! The typed views of a template: functions with their routes, queue sources and schedules, and the
//! table, buckets and queues they use. These are what the local platform and the tests build from.

use std::collections::BTreeMap;

use serde_json::Value;

/// A parsed `template.yaml`: typed views of the resources Kushim runs, plus the whole document.
#[derive(Debug, Clone, PartialEq)]
pub struct Template {
    /// Every `AWS::Serverless::Function`, in file order.
    pub functions: Vec<Function>,
    /// Every `AWS::DynamoDB::Table`, in file order.
    pub tables: Vec<TableDef>,
    /// Every `AWS::S3::Bucket`, in file order.
    pub buckets: Vec<BucketDef>,
    /// Every `AWS::SQS::Queue`, in file order.
    pub queues: Vec<QueueDef>,
    /// Logical ids of every `AWS::Events::EventBus`, in file order.
    pub event_buses: Vec<String>,
    /// Each template parameter that declares a `Default`, with that default.
    pub parameter_defaults: BTreeMap<String, Value>,
    /// The whole template as JSON, short-form intrinsics rewritten to long form.
    pub raw: Value,
}

/// One `AWS::Serverless::Function`, with `Globals.Function` applied.
#[derive(Debug, Clone, PartialEq)]
pub struct Function {
    /// Logical id, e.g. `ApiHealthFunction`.
    pub logical_id: String,
    /// The cargo binary that implements it (`Metadata.BuildProperties.Binary`).
    pub binary: String,
    /// `Timeout`, from the function or Globals; SAM's default is 3.
    pub timeout_seconds: u32,
    /// `MemorySize`, from the function or Globals; SAM's default is 128.
    pub memory_mb: u32,
    /// `Environment.Variables`: Globals merged with the function's own, the function's winning.
    pub environment: BTreeMap<String, EnvValue>,
    /// `HttpApi` (and `Api`) events.
    pub routes: Vec<Route>,
    /// `SQS` events.
    pub sqs_sources: Vec<SqsSource>,
    /// `ScheduleV2` (and `Schedule`) events.
    pub schedules: Vec<Schedule>,
}

/// The value of one environment variable as the template writes it; references stay unresolved.
#[derive(Debug, Clone, PartialEq)]
pub enum EnvValue {
    /// A plain value (numbers and booleans are turned into their text).
    Literal(String),
    /// `!Ref Name`: a resource or a parameter (see [`Template::parameter_defaults`]).
    Ref(String),
    /// `!GetAtt Resource.Attribute`.
    GetAtt {
        /// Logical id.
        resource: String,
        /// Attribute name, e.g. `Arn`.
        attribute: String,
    },
    /// Any other intrinsic (`!Sub`, `!Join`, ...), as long-form JSON.
    Other(Value),
}

/// One HTTP route: an `HttpApi` (or `Api`) event of a function.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    /// The event's name under `Events`.
    pub event_name: String,
    /// Upper-case method, or `ANY`.
    pub method: String,
    /// Path template such as `/v1/items/{id}` or `/v1/{proxy+}`; `$default` for an `HttpApi` event
    /// with neither `Path` nor `Method`, which catches every request no other route takes.
    pub path: String,
    /// The authorizer guarding the route: the event's `Auth.Authorizer`, else the API's
    /// `Auth.DefaultAuthorizer`; `None` when there is none or it is `NONE`.
    pub auth: Option<String>,
}

/// One `SQS` event: a queue feeding a function.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SqsSource {
    /// The event's name under `Events`.
    pub event_name: String,
    /// Logical id of the queue (from `Queue: !GetAtt Q.Arn`).
    pub queue: String,
    /// `BatchSize`, default 10.
    pub batch_size: u32,
    /// `MaximumBatchingWindowInSeconds`, default 0.
    pub max_batching_window_seconds: u32,
    /// Whether `FunctionResponseTypes` includes `ReportBatchItemFailures`.
    pub report_batch_item_failures: bool,
    /// `ScalingConfig.MaximumConcurrency`.
    pub maximum_concurrency: Option<u32>,
    /// `Enabled`, default true.
    pub enabled: bool,
}

/// One schedule that invokes a function.
#[derive(Debug, Clone, PartialEq)]
pub struct Schedule {
    /// The event's name under `Events`.
    pub event_name: String,
    /// `cron(...)`, `rate(...)` or `at(...)`.
    pub expression: String,
    /// `ScheduleExpressionTimezone`; `None` means UTC.
    pub timezone: Option<String>,
    /// The event the function receives, parsed from the `Input` JSON string.
    pub input: Option<Value>,
    /// False when `State` is `DISABLED` (or, for `Schedule`, `Enabled` is false).
    pub enabled: bool,
    /// `RetryPolicy.MaximumRetryAttempts`.
    pub max_retry_attempts: Option<u32>,
    /// `RetryPolicy.MaximumEventAgeInSeconds`.
    pub max_event_age_seconds: Option<u32>,
    /// Logical id of the queue in `DeadLetterConfig.Arn` (`None` if absent or not in this template).
    pub dead_letter_queue: Option<String>,
}

/// An `AWS::DynamoDB::Table`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableDef {
    /// Logical id.
    pub logical_id: String,
    /// `AttributeDefinitions` as (name, type), type being `S`, `N` or `B`.
    pub attributes: Vec<(String, String)>,
    /// The HASH key attribute.
    pub hash_key: String,
    /// The RANGE key attribute, if any.
    pub range_key: Option<String>,
    /// `GlobalSecondaryIndexes`.
    pub gsis: Vec<GsiDef>,
    /// The TTL attribute, when `TimeToLiveSpecification` is enabled.
    pub ttl_attribute: Option<String>,
    /// `BillingMode`, default `PROVISIONED`.
    pub billing_mode: String,
    /// `PointInTimeRecoverySpecification.PointInTimeRecoveryEnabled`.
    pub point_in_time_recovery: bool,
}

/// One global secondary index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GsiDef {
    /// `IndexName`.
    pub name: String,
    /// The HASH key attribute.
    pub hash_key: String,
    /// The RANGE key attribute, if any.
    pub range_key: Option<String>,
    /// `Projection.ProjectionType`: `ALL`, `KEYS_ONLY` (the default) or `INCLUDE`.
    pub projection: String,
    /// `Projection.NonKeyAttributes` (for `INCLUDE`).
    pub non_key_attributes: Vec<String>,
}

/// An `AWS::S3::Bucket`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BucketDef {
    /// Logical id.
    pub logical_id: String,
    /// `ObjectLockEnabled`.
    pub object_lock_enabled: bool,
    /// `VersioningConfiguration.Status` is `Enabled`.
    pub versioning: bool,
    /// `ObjectLockConfiguration.Rule.DefaultRetention` as (mode, days). A `!Ref` to a parameter is
    /// resolved from the parameter's `Default`; `Years` counts as 365 days each.
    pub default_retention: Option<(String, u32)>,
    /// Default encryption is SSE-KMS (`aws:kms` or `aws:kms:dsse`).
    pub kms_encrypted: bool,
    /// All four `PublicAccessBlockConfiguration` switches are on.
    pub public_access_blocked: bool,
}

/// An `AWS::SQS::Queue`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueDef {
    /// Logical id.
    pub logical_id: String,
    /// `VisibilityTimeout`, default 30.
    pub visibility_timeout_seconds: u32,
    /// `MessageRetentionPeriod`, default 345600 (4 days).
    pub message_retention_seconds: u32,
    /// `DelaySeconds`, default 0.
    pub delay_seconds: u32,
    /// `ReceiveMessageWaitTimeSeconds`, default 0.
    pub receive_wait_seconds: u32,
    /// `RedrivePolicy.maxReceiveCount`.
    pub max_receive_count: Option<u32>,
    /// Logical id of the queue in `RedrivePolicy.deadLetterTargetArn`.
    pub dead_letter_queue: Option<String>,
    /// `FifoQueue`.
    pub fifo: bool,
}

/// The route that serves a request, found by [`Template::match_route`].
#[derive(Debug, Clone, PartialEq)]
pub struct RouteMatch<'t> {
    /// The function behind the route.
    pub function: &'t Function,
    /// The route itself.
    pub route: &'t Route,
    /// Path parameters by name (`{id}` gives `id`; `{proxy+}` gives `proxy`).
    pub params: BTreeMap<String, String>,
}

impl Template {
    /// The function built from the cargo binary `binary`.
    pub fn function_by_binary(&self, binary: &str) -> Option<&Function> {
        self.functions.iter().find(|f| f.binary == binary)
    }

    /// The function with logical id `logical_id`.
    pub fn function(&self, logical_id: &str) -> Option<&Function> {
        self.functions.iter().find(|f| f.logical_id == logical_id)
    }

    /// The queue with logical id `logical_id`.
    pub fn queue(&self, logical_id: &str) -> Option<&QueueDef> {
        self.queues.iter().find(|q| q.logical_id == logical_id)
    }

    /// The bucket with logical id `logical_id`.
    pub fn bucket(&self, logical_id: &str) -> Option<&BucketDef> {
        self.buckets.iter().find(|b| b.logical_id == logical_id)
    }

    /// The table. Kushim is single-table by design.
    ///
    /// # Panics
    ///
    /// If the template declares no table, or more than one.
    pub fn table(&self) -> &TableDef {
        match self.tables.as_slice() {
            [table] => table,
            [] => panic!("template.yaml declares no AWS::DynamoDB::Table; Kushim needs exactly one"),
            many => panic!(
                "template.yaml declares {} AWS::DynamoDB::Table resources ({}); Kushim needs exactly one",
                many.len(),
                many.iter().map(|t| t.logical_id.as_str()).collect::<Vec<_>>().join(", ")
            ),
        }
    }

    /// Every HTTP route with the function that serves it, in file order.
    pub fn routes(&self) -> Vec<(&Function, &Route)> {
        self.functions.iter().flat_map(|f| f.routes.iter().map(move |r| (f, r))).collect()
    }

    /// The route API Gateway would pick for a request: the most specific path wins (literal segments
    /// over `{param}` over `{proxy+}`, compared left to right), then a named method over `ANY`, then
    /// file order; `$default` only when nothing else matches.
    pub fn match_route(&self, method: &str, path: &str) -> Option<RouteMatch<'_>> {
        self.routes()
            .into_iter()
            .filter_map(|(function, route)| {
                route.matches(method, path).map(|params| RouteMatch { function, route, params })
            })
            .min_by(|a, b| b.route.specificity().cmp(&a.route.specificity()))
    }
}
