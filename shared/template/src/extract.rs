//! Builds the typed views from the template's JSON form: it walks `Resources`, applies
//! `Globals.Function`, resolves `!Ref`s to parameters through their defaults where a number or flag is
//! needed, and checks that the references it follows (queues, dead-letter queues, key attributes) exist.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value};

use crate::error::TemplateError;
use crate::model::{BucketDef, EnvValue, Function, GsiDef, QueueDef, Route, Schedule, SqsSource, TableDef, Template};
use crate::routes::DEFAULT_ROUTE;

const FUNCTION: &str = "AWS::Serverless::Function";
const TABLE: &str = "AWS::DynamoDB::Table";
const BUCKET: &str = "AWS::S3::Bucket";
const QUEUE: &str = "AWS::SQS::Queue";
const EVENT_BUS: &str = "AWS::Events::EventBus";
const GLOBALS_FUNCTION: &str = "Globals.Function";

/// SAM's defaults when neither the function nor Globals say.
const DEFAULT_TIMEOUT_SECONDS: u32 = 3;
const DEFAULT_MEMORY_MB: u32 = 128;

type Result<T> = std::result::Result<T, TemplateError>;

/// Builds the [`Template`] from the JSON document; `order` lists resource ids in file order.
pub(crate) fn build(raw: Value, order: Vec<String>) -> Result<Template> {
    let cx = Cx::new(&raw)?;
    let mut ids: Vec<&str> = order.iter().map(String::as_str).filter(|id| cx.resources.contains_key(*id)).collect();
    if ids.len() != cx.resources.len() {
        ids = cx.resources.keys().map(String::as_str).collect();
    }

    let (mut functions, mut tables, mut buckets, mut queues, mut event_buses) =
        (vec![], vec![], vec![], vec![], vec![]);
    for id in ids {
        let resource = &cx.resources[id];
        if !resource.is_object() {
            return Err(TemplateError::invalid(id, "(resource)", "must be a mapping with a `Type`"));
        }
        let kind = field(resource, "Type").ok_or_else(|| TemplateError::missing(id, "Type"))?;
        let kind = kind.as_str().ok_or_else(|| TemplateError::invalid(id, "Type", "must be a string"))?;
        match kind {
            FUNCTION => functions.push(cx.function(id, resource)?),
            TABLE => tables.push(cx.table(id, resource)?),
            BUCKET => buckets.push(cx.bucket(id, resource)?),
            QUEUE => queues.push(cx.queue(id, resource)?),
            EVENT_BUS => event_buses.push(id.to_owned()),
            _ => {}
        }
    }
    let parameter_defaults = cx.params.iter().map(|(name, value)| ((*name).to_owned(), (*value).clone())).collect();
    Ok(Template { functions, tables, buckets, queues, event_buses, parameter_defaults, raw })
}

/// Read-only context over the document while building.
struct Cx<'a> {
    resources: &'a Map<String, Value>,
    /// Parameters with a `Default`, by name.
    params: BTreeMap<&'a str, &'a Value>,
    /// Every declared parameter name, defaulted or not.
    param_names: BTreeSet<&'a str>,
    globals: Option<&'a Value>,
    globals_function: Option<&'a Value>,
}

impl<'a> Cx<'a> {
    fn new(raw: &'a Value) -> Result<Self> {
        if !raw.is_object() {
            return Err(TemplateError::NotAMapping("(document)".to_owned()));
        }
        let resources = field(raw, "Resources").ok_or_else(|| TemplateError::MissingSection("Resources".to_owned()))?;
        let resources = resources.as_object().ok_or_else(|| TemplateError::NotAMapping("Resources".to_owned()))?;

        let mut params = BTreeMap::new();
        let mut param_names = BTreeSet::new();
        if let Some(parameters) = field(raw, "Parameters") {
            let parameters =
                parameters.as_object().ok_or_else(|| TemplateError::NotAMapping("Parameters".to_owned()))?;
            for (name, parameter) in parameters {
                param_names.insert(name.as_str());
                if let Some(default) = field(parameter, "Default") {
                    params.insert(name.as_str(), default);
                }
            }
        }

        let globals = field(raw, "Globals");
        if globals.is_some_and(|g| !g.is_object()) {
            return Err(TemplateError::NotAMapping("Globals".to_owned()));
        }
        let globals_function = globals.and_then(|g| field(g, "Function"));
        if globals_function.is_some_and(|g| !g.is_object()) {
            return Err(TemplateError::NotAMapping(GLOBALS_FUNCTION.to_owned()));
        }
        Ok(Self { resources, params, param_names, globals, globals_function })
    }

    // ------------------------------------------------------------------ functions

    fn function(&self, id: &str, resource: &'a Value) -> Result<Function> {
        let props = field(resource, "Properties");

        let binary_path = "Metadata.BuildProperties.Binary";
        let binary = field(resource, "Metadata")
            .and_then(|m| field(m, "BuildProperties"))
            .and_then(|b| field(b, "Binary"))
            .ok_or_else(|| TemplateError::missing(id, binary_path))?;
        let binary = self.string(id, binary_path, binary)?;
        if binary.trim().is_empty() {
            return Err(TemplateError::invalid(id, binary_path, "is empty"));
        }

        let timeout_seconds = self.function_setting(id, props, "Timeout")?.unwrap_or(DEFAULT_TIMEOUT_SECONDS);
        let memory_mb = self.function_setting(id, props, "MemorySize")?.unwrap_or(DEFAULT_MEMORY_MB);

        let mut environment = BTreeMap::new();
        let sources = [
            (GLOBALS_FUNCTION, "Environment.Variables", self.globals_function),
            (id, "Properties.Environment.Variables", props),
        ];
        for (owner, path, section) in sources {
            let variables = section.and_then(|s| field(s, "Environment")).and_then(|e| field(e, "Variables"));
            if let Some(variables) = variables {
                let variables =
                    variables.as_object().ok_or_else(|| TemplateError::invalid(owner, path, "must be a mapping"))?;
                for (name, value) in variables {
                    environment.insert(name.clone(), env_value(value));
                }
            }
        }

        let (mut routes, mut sqs_sources, mut schedules) = (vec![], vec![], vec![]);
        if let Some(events) = props.and_then(|p| field(p, "Events")) {
            let events = events
                .as_object()
                .ok_or_else(|| TemplateError::invalid(id, "Properties.Events", "must be a mapping"))?;
            for (name, event) in events {
                let path = format!("Properties.Events.{name}");
                let kind = field(event, "Type").ok_or_else(|| TemplateError::missing(id, &format!("{path}.Type")))?;
                let kind = kind
                    .as_str()
                    .ok_or_else(|| TemplateError::invalid(id, &format!("{path}.Type"), "must be a string"))?;
                let event_props = field(event, "Properties");
                let event = Event { function: id, name, path: &path, props: event_props };
                match kind {
                    "HttpApi" => routes.push(self.route(&event, ApiKind::Http)?),
                    "Api" => routes.push(self.route(&event, ApiKind::Rest)?),
                    "SQS" => sqs_sources.push(self.sqs_source(&event)?),
                    "ScheduleV2" => schedules.push(self.schedule(&event, ScheduleKind::Scheduler)?),
                    "Schedule" => schedules.push(self.schedule(&event, ScheduleKind::EventBridgeRule)?),
                    _ => {}
                }
            }
        }

        Ok(Function {
            logical_id: id.to_owned(),
            binary,
            timeout_seconds,
            memory_mb,
            environment,
            routes,
            sqs_sources,
            schedules,
        })
    }

    /// A numeric setting from the function, else from `Globals.Function`.
    fn function_setting(&self, id: &str, props: Option<&'a Value>, key: &str) -> Result<Option<u32>> {
        if let Some(value) = props.and_then(|p| field(p, key)) {
            return self.number(id, &format!("Properties.{key}"), value).map(Some);
        }
        match self.globals_function.and_then(|g| field(g, key)) {
            Some(value) => self.number(GLOBALS_FUNCTION, key, value).map(Some),
            None => Ok(None),
        }
    }

    fn route(&self, event: &Event<'a, '_>, kind: ApiKind) -> Result<Route> {
        let (api_key, globals_key) = match kind {
            ApiKind::Http => ("ApiId", "HttpApi"),
            ApiKind::Rest => ("RestApiId", "Api"),
        };
        let method = event.get("Method");
        let path = event.get("Path");
        let (method, path) = match (method, path) {
            (None, None) if kind == ApiKind::Http => ("ANY".to_owned(), DEFAULT_ROUTE.to_owned()),
            (Some(method), Some(path)) => {
                let method = self.string(event.function, &event.prop("Method"), method)?.to_ascii_uppercase();
                let method = if method == "X-AMAZON-APIGATEWAY-ANY-METHOD" { "ANY".to_owned() } else { method };
                (method, self.string(event.function, &event.prop("Path"), path)?)
            }
            (None, _) => return Err(TemplateError::missing(event.function, &event.prop("Method"))),
            (_, None) => return Err(TemplateError::missing(event.function, &event.prop("Path"))),
        };
        if path != DEFAULT_ROUTE && !path.starts_with('/') {
            return Err(TemplateError::invalid(
                event.function,
                &event.prop("Path"),
                format!("must start with `/`, found `{path}`"),
            ));
        }

        let declared = event.get("Auth").and_then(|a| field(a, "Authorizer"));
        let auth = match declared {
            Some(name) => Some(self.string(event.function, &event.prop("Auth.Authorizer"), name)?),
            None => {
                let api = event.get(api_key).and_then(ref_target).and_then(|api| self.resources.get(api));
                let from_api = api.and_then(|a| field(a, "Properties")).and_then(|p| field(p, "Auth"));
                let from_globals = self.globals.and_then(|g| field(g, globals_key)).and_then(|g| field(g, "Auth"));
                match from_api.or(from_globals).and_then(|a| field(a, "DefaultAuthorizer")) {
                    Some(name) => Some(self.string(event.function, &event.prop("Auth.Authorizer"), name)?),
                    None => None,
                }
            }
        };
        let auth = auth.filter(|name| name != "NONE");

        Ok(Route { event_name: event.name.to_owned(), method, path, auth })
    }

    fn sqs_source(&self, event: &Event<'a, '_>) -> Result<SqsSource> {
        let id = event.function;
        let queue = event.get("Queue").ok_or_else(|| TemplateError::missing(id, &event.prop("Queue")))?;
        let queue = self.queue_reference(id, &event.prop("Queue"), queue)?.ok_or_else(|| {
            TemplateError::invalid(id, &event.prop("Queue"), format!("must be `!GetAtt <Queue>.Arn`, found {queue}"))
        })?;
        let report_batch_item_failures = match event.get("FunctionResponseTypes") {
            None => false,
            Some(Value::Array(types)) => types.iter().any(|t| t.as_str() == Some("ReportBatchItemFailures")),
            Some(_) => {
                return Err(TemplateError::invalid(id, &event.prop("FunctionResponseTypes"), "must be a list"));
            }
        };
        let maximum_concurrency = match event.get("ScalingConfig") {
            Some(scaling) => self.opt_number(id, &event.prop("ScalingConfig"), scaling, "MaximumConcurrency")?,
            None => None,
        };
        Ok(SqsSource {
            event_name: event.name.to_owned(),
            queue,
            batch_size: self.event_number(event, "BatchSize")?.unwrap_or(10),
            max_batching_window_seconds: self.event_number(event, "MaximumBatchingWindowInSeconds")?.unwrap_or(0),
            report_batch_item_failures,
            maximum_concurrency,
            enabled: self.event_flag(event, "Enabled")?.unwrap_or(true),
        })
    }

    fn schedule(&self, event: &Event<'a, '_>, kind: ScheduleKind) -> Result<Schedule> {
        let id = event.function;
        let expression_key = match kind {
            ScheduleKind::Scheduler => "ScheduleExpression",
            ScheduleKind::EventBridgeRule => "Schedule",
        };
        let expression =
            event.get(expression_key).ok_or_else(|| TemplateError::missing(id, &event.prop(expression_key)))?;
        let expression = self.string(id, &event.prop(expression_key), expression)?;
        let timezone = match event.get("ScheduleExpressionTimezone") {
            Some(tz) => Some(self.string(id, &event.prop("ScheduleExpressionTimezone"), tz)?),
            None => None,
        };
        let input = match event.get("Input") {
            None => None,
            Some(Value::String(text)) => Some(serde_json::from_str(text).map_err(|e| {
                TemplateError::invalid(id, &event.prop("Input"), format!("is not valid JSON ({e}): {text}"))
            })?),
            Some(other) => {
                return Err(TemplateError::invalid(
                    id,
                    &event.prop("Input"),
                    format!("must be a JSON string, found {other}"),
                ));
            }
        };
        let enabled = match event.get("State") {
            Some(state) => self.string(id, &event.prop("State"), state)? != "DISABLED",
            None => self.event_flag(event, "Enabled")?.unwrap_or(true),
        };
        let (max_retry_attempts, max_event_age_seconds) = match event.get("RetryPolicy") {
            Some(retry) => {
                let path = event.prop("RetryPolicy");
                (
                    self.opt_number(id, &path, retry, "MaximumRetryAttempts")?,
                    self.opt_number(id, &path, retry, "MaximumEventAgeInSeconds")?,
                )
            }
            None => (None, None),
        };
        let dead_letter_queue = match event.get("DeadLetterConfig").and_then(|d| field(d, "Arn")) {
            Some(arn) => self.queue_reference(id, &event.prop("DeadLetterConfig.Arn"), arn)?,
            None => None,
        };
        Ok(Schedule {
            event_name: event.name.to_owned(),
            expression,
            timezone,
            input,
            enabled,
            max_retry_attempts,
            max_event_age_seconds,
            dead_letter_queue,
        })
    }

    fn event_number(&self, event: &Event<'a, '_>, key: &str) -> Result<Option<u32>> {
        event.get(key).map(|v| self.number(event.function, &event.prop(key), v)).transpose()
    }

    fn event_flag(&self, event: &Event<'a, '_>, key: &str) -> Result<Option<bool>> {
        event.get(key).map(|v| self.flag(event.function, &event.prop(key), v)).transpose()
    }

    // ---------------------------------------------------------------- resources

    fn table(&self, id: &str, resource: &'a Value) -> Result<TableDef> {
        let props = field(resource, "Properties").ok_or_else(|| TemplateError::missing(id, "Properties"))?;
        let definitions = list(id, "Properties.AttributeDefinitions", field(props, "AttributeDefinitions"))?;
        let mut attributes = Vec::with_capacity(definitions.len());
        for (index, definition) in definitions.iter().enumerate() {
            let path = format!("Properties.AttributeDefinitions[{index}]");
            attributes.push((
                self.required_string(id, &path, definition, "AttributeName")?,
                self.required_string(id, &path, definition, "AttributeType")?,
            ));
        }
        let defined = |name: &str| attributes.iter().any(|(n, _)| n == name);

        let (hash_key, range_key) = self.key_schema(id, "Properties.KeySchema", field(props, "KeySchema"))?;
        let mut gsis = Vec::new();
        let indexes = field(props, "GlobalSecondaryIndexes");
        if indexes.is_some() {
            for (index, gsi) in list(id, "Properties.GlobalSecondaryIndexes", indexes)?.iter().enumerate() {
                let path = format!("Properties.GlobalSecondaryIndexes[{index}]");
                let name = self.required_string(id, &path, gsi, "IndexName")?;
                let (hash_key, range_key) =
                    self.key_schema(id, &format!("{path}.KeySchema"), field(gsi, "KeySchema"))?;
                let projection = field(gsi, "Projection");
                let projection_type = match projection.and_then(|p| field(p, "ProjectionType")) {
                    Some(t) => self.string(id, &format!("{path}.Projection.ProjectionType"), t)?,
                    None => "KEYS_ONLY".to_owned(),
                };
                let non_key_path = format!("{path}.Projection.NonKeyAttributes");
                let non_key_attributes = match projection.and_then(|p| field(p, "NonKeyAttributes")) {
                    Some(attrs) => list(id, &non_key_path, Some(attrs))?
                        .iter()
                        .map(|a| self.string(id, &non_key_path, a))
                        .collect::<Result<_>>()?,
                    None => Vec::new(),
                };
                gsis.push(GsiDef { name, hash_key, range_key, projection: projection_type, non_key_attributes });
            }
        }

        let keys = std::iter::once((&hash_key, &range_key, "Properties.KeySchema".to_owned())).chain(
            gsis.iter()
                .enumerate()
                .map(|(i, g)| (&g.hash_key, &g.range_key, format!("Properties.GlobalSecondaryIndexes[{i}].KeySchema"))),
        );
        for (hash, range, path) in keys {
            for key in std::iter::once(hash).chain(range) {
                if !defined(key) {
                    return Err(TemplateError::invalid(
                        id,
                        &path,
                        format!("uses `{key}`, which is not in Properties.AttributeDefinitions"),
                    ));
                }
            }
        }

        let ttl_attribute = match field(props, "TimeToLiveSpecification") {
            Some(ttl) if self.opt_flag(id, "Properties.TimeToLiveSpecification", ttl, "Enabled")? == Some(true) => {
                Some(self.required_string(id, "Properties.TimeToLiveSpecification", ttl, "AttributeName")?)
            }
            _ => None,
        };
        let billing_mode = match field(props, "BillingMode") {
            Some(mode) => self.string(id, "Properties.BillingMode", mode)?,
            None => "PROVISIONED".to_owned(),
        };
        let point_in_time_recovery = match field(props, "PointInTimeRecoverySpecification") {
            Some(pitr) => self
                .opt_flag(id, "Properties.PointInTimeRecoverySpecification", pitr, "PointInTimeRecoveryEnabled")?
                .unwrap_or(false),
            None => false,
        };

        Ok(TableDef {
            logical_id: id.to_owned(),
            attributes,
            hash_key,
            range_key,
            gsis,
            ttl_attribute,
            billing_mode,
            point_in_time_recovery,
        })
    }

    /// (HASH, RANGE) from a `KeySchema` list.
    fn key_schema(&self, id: &str, path: &str, schema: Option<&'a Value>) -> Result<(String, Option<String>)> {
        let (mut hash, mut range) = (None, None);
        for (index, key) in list(id, path, schema)?.iter().enumerate() {
            let key_path = format!("{path}[{index}]");
            let name = self.required_string(id, &key_path, key, "AttributeName")?;
            match self.required_string(id, &key_path, key, "KeyType")?.as_str() {
                "HASH" => hash = Some(name),
                "RANGE" => range = Some(name),
                other => {
                    return Err(TemplateError::invalid(
                        id,
                        &format!("{key_path}.KeyType"),
                        format!("must be HASH or RANGE, found `{other}`"),
                    ));
                }
            }
        }
        let hash = hash.ok_or_else(|| TemplateError::invalid(id, path, "has no HASH key"))?;
        Ok((hash, range))
    }

    fn bucket(&self, id: &str, resource: &'a Value) -> Result<BucketDef> {
        let empty = Value::Object(Map::new());
        let props = field(resource, "Properties").unwrap_or(&empty);

        let object_lock_enabled = self.opt_flag(id, "Properties", props, "ObjectLockEnabled")?.unwrap_or(false);
        let versioning = match field(props, "VersioningConfiguration").and_then(|v| field(v, "Status")) {
            Some(status) => self.string(id, "Properties.VersioningConfiguration.Status", status)? == "Enabled",
            None => false,
        };

        let retention_path = "Properties.ObjectLockConfiguration.Rule.DefaultRetention";
        let retention = field(props, "ObjectLockConfiguration")
            .and_then(|c| field(c, "Rule"))
            .and_then(|r| field(r, "DefaultRetention"));
        let default_retention = match retention {
            None => None,
            Some(retention) => {
                let mode = self.required_string(id, retention_path, retention, "Mode")?;
                let days = match (field(retention, "Days"), field(retention, "Years")) {
                    (Some(days), _) => self.number(id, &format!("{retention_path}.Days"), days)?,
                    (None, Some(years)) => {
                        let years = self.number(id, &format!("{retention_path}.Years"), years)?;
                        years.checked_mul(365).ok_or_else(|| {
                            TemplateError::invalid(id, &format!("{retention_path}.Years"), "is too large")
                        })?
                    }
                    (None, None) => {
                        return Err(TemplateError::missing(id, &format!("{retention_path}.Days")));
                    }
                };
                Some((mode, days))
            }
        };

        let mut kms_encrypted = false;
        let rules = field(props, "BucketEncryption").and_then(|e| field(e, "ServerSideEncryptionConfiguration"));
        if rules.is_some() {
            let path = "Properties.BucketEncryption.ServerSideEncryptionConfiguration";
            for (index, rule) in list(id, path, rules)?.iter().enumerate() {
                if let Some(algorithm) =
                    field(rule, "ServerSideEncryptionByDefault").and_then(|d| field(d, "SSEAlgorithm"))
                {
                    let algorithm = self.string(
                        id,
                        &format!("{path}[{index}].ServerSideEncryptionByDefault.SSEAlgorithm"),
                        algorithm,
                    )?;
                    kms_encrypted |= algorithm.starts_with("aws:kms");
                }
            }
        }

        let public_access_blocked = match field(props, "PublicAccessBlockConfiguration") {
            None => false,
            Some(block) => {
                let path = "Properties.PublicAccessBlockConfiguration";
                let mut all = true;
                for key in ["BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets"] {
                    all &= self.opt_flag(id, path, block, key)?.unwrap_or(false);
                }
                all
            }
        };

        Ok(BucketDef {
            logical_id: id.to_owned(),
            object_lock_enabled,
            versioning,
            default_retention,
            kms_encrypted,
            public_access_blocked,
        })
    }

    fn queue(&self, id: &str, resource: &'a Value) -> Result<QueueDef> {
        let empty = Value::Object(Map::new());
        let props = field(resource, "Properties").unwrap_or(&empty);
        let setting = |key: &str, default: u32| -> Result<u32> {
            Ok(self.opt_number(id, "Properties", props, key)?.unwrap_or(default))
        };

        let (mut max_receive_count, mut dead_letter_queue) = (None, None);
        if let Some(redrive) = field(props, "RedrivePolicy") {
            let path = "Properties.RedrivePolicy";
            // CloudFormation accepts the policy as an object or as a JSON string.
            let parsed;
            let redrive: &Value = match redrive {
                Value::String(text) => {
                    parsed = serde_json::from_str::<Value>(text)
                        .map_err(|e| TemplateError::invalid(id, path, format!("is not valid JSON ({e})")))?;
                    &parsed
                }
                other => other,
            };
            if !redrive.is_object() {
                return Err(TemplateError::invalid(id, path, "must be a mapping"));
            }
            max_receive_count = match field(redrive, "maxReceiveCount") {
                Some(count) => Some(self.plain_number(id, &format!("{path}.maxReceiveCount"), count)?),
                None => None,
            };
            dead_letter_queue = match field(redrive, "deadLetterTargetArn") {
                Some(arn) => self.queue_reference(id, &format!("{path}.deadLetterTargetArn"), arn)?,
                None => None,
            };
        }

        Ok(QueueDef {
            logical_id: id.to_owned(),
            visibility_timeout_seconds: setting("VisibilityTimeout", 30)?,
            message_retention_seconds: setting("MessageRetentionPeriod", 345_600)?,
            delay_seconds: setting("DelaySeconds", 0)?,
            receive_wait_seconds: setting("ReceiveMessageWaitTimeSeconds", 0)?,
            max_receive_count,
            dead_letter_queue,
            fifo: self.opt_flag(id, "Properties", props, "FifoQueue")?.unwrap_or(false),
        })
    }

    // ------------------------------------------------------------------ scalars

    /// Follows `{"Ref": P}` to parameter P's `Default`; anything else is returned as is.
    fn resolve(&self, resource: &str, property: &str, value: &'a Value) -> Result<&'a Value> {
        match ref_target(value) {
            Some(name) => match self.params.get(name) {
                Some(default) => Ok(default),
                None if self.param_names.contains(name) => Err(TemplateError::invalid(
                    resource,
                    property,
                    format!("refers to parameter `{name}`, which has no Default"),
                )),
                None => Ok(value),
            },
            None => Ok(value),
        }
    }

    /// A whole number (int or numeric string, or a parameter whose default is one) that fits in u32.
    fn number(&self, resource: &str, property: &str, value: &'a Value) -> Result<u32> {
        let resolved = self.resolve(resource, property, value)?;
        self.plain_number(resource, property, resolved)
    }

    fn plain_number(&self, resource: &str, property: &str, value: &Value) -> Result<u32> {
        let parsed = match value {
            Value::Number(n) => n.as_u64(),
            Value::String(s) => s.trim().parse::<u64>().ok(),
            _ => None,
        };
        parsed.and_then(|n| u32::try_from(n).ok()).ok_or_else(|| {
            TemplateError::invalid(
                resource,
                property,
                format!("must be a whole number from 0 to {}, found {value}", u32::MAX),
            )
        })
    }

    fn opt_number(&self, resource: &str, path: &str, object: &'a Value, key: &str) -> Result<Option<u32>> {
        field(object, key).map(|v| self.number(resource, &format!("{path}.{key}"), v)).transpose()
    }

    /// `true`/`false`, as a boolean or a string.
    fn flag(&self, resource: &str, property: &str, value: &'a Value) -> Result<bool> {
        match self.resolve(resource, property, value)? {
            Value::Bool(b) => Ok(*b),
            Value::String(s) if s.eq_ignore_ascii_case("true") => Ok(true),
            Value::String(s) if s.eq_ignore_ascii_case("false") => Ok(false),
            other => Err(TemplateError::invalid(resource, property, format!("must be true or false, found {other}"))),
        }
    }

    fn opt_flag(&self, resource: &str, path: &str, object: &'a Value, key: &str) -> Result<Option<bool>> {
        field(object, key).map(|v| self.flag(resource, &format!("{path}.{key}"), v)).transpose()
    }

    /// A string (numbers and booleans are accepted as their text).
    fn string(&self, resource: &str, property: &str, value: &'a Value) -> Result<String> {
        match self.resolve(resource, property, value)? {
            Value::String(s) => Ok(s.clone()),
            Value::Number(n) => Ok(n.to_string()),
            Value::Bool(b) => Ok(b.to_string()),
            other => Err(TemplateError::invalid(resource, property, format!("must be a string, found {other}"))),
        }
    }

    fn required_string(&self, resource: &str, path: &str, object: &'a Value, key: &str) -> Result<String> {
        let property = format!("{path}.{key}");
        let value = field(object, key).ok_or_else(|| TemplateError::missing(resource, &property))?;
        self.string(resource, &property, value)
    }

    /// The queue named by `!GetAtt Q.Arn`: `Some(Q)` after checking Q is a queue in this template,
    /// `None` when the value is not such a reference (a literal ARN, say).
    fn queue_reference(&self, resource: &str, property: &str, value: &Value) -> Result<Option<String>> {
        let Some((target, "Arn")) = getatt(value) else {
            return Ok(None);
        };
        let kind = self.resources.get(target).and_then(|r| field(r, "Type")).and_then(Value::as_str);
        if kind != Some(QUEUE) {
            return Err(TemplateError::invalid(
                resource,
                property,
                format!("names `{target}`, which is not an {QUEUE} in this template"),
            ));
        }
        Ok(Some(target.to_owned()))
    }
}

/// One function event being read, for error paths.
struct Event<'a, 'p> {
    function: &'p str,
    name: &'p str,
    path: &'p str,
    props: Option<&'a Value>,
}

impl<'a> Event<'a, '_> {
    fn get(&self, key: &str) -> Option<&'a Value> {
        self.props.and_then(|p| field(p, key))
    }

    fn prop(&self, key: &str) -> String {
        format!("{}.Properties.{key}", self.path)
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum ApiKind {
    Http,
    Rest,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum ScheduleKind {
    Scheduler,
    EventBridgeRule,
}

/// A key of a mapping, treating an explicit YAML null (`Key:` with nothing after it) as absent.
fn field<'v>(object: &'v Value, key: &str) -> Option<&'v Value> {
    object.get(key).filter(|v| !v.is_null())
}

fn list<'v>(resource: &str, property: &str, value: Option<&'v Value>) -> Result<&'v Vec<Value>> {
    match value {
        Some(Value::Array(items)) => Ok(items),
        Some(other) => Err(TemplateError::invalid(resource, property, format!("must be a list, found {other}"))),
        None => Err(TemplateError::missing(resource, property)),
    }
}

/// `X` from `{"Ref": "X"}`.
fn ref_target(value: &Value) -> Option<&str> {
    let object = value.as_object().filter(|o| o.len() == 1)?;
    object.get("Ref")?.as_str()
}

/// `(resource, attribute)` from `{"Fn::GetAtt": [resource, attribute]}` or `{"Fn::GetAtt": "resource.attribute"}`.
fn getatt(value: &Value) -> Option<(&str, &str)> {
    let object = value.as_object().filter(|o| o.len() == 1)?;
    match object.get("Fn::GetAtt")? {
        Value::Array(parts) => match parts.as_slice() {
            [Value::String(resource), Value::String(attribute)] => Some((resource, attribute)),
            _ => None,
        },
        Value::String(dotted) => dotted.split_once('.'),
        _ => None,
    }
}

fn env_value(value: &Value) -> EnvValue {
    match value {
        Value::String(s) => EnvValue::Literal(s.clone()),
        Value::Number(n) => EnvValue::Literal(n.to_string()),
        Value::Bool(b) => EnvValue::Literal(b.to_string()),
        other => {
            if let Some(target) = ref_target(other) {
                EnvValue::Ref(target.to_owned())
            } else if let Some((resource, attribute)) = getatt(other) {
                EnvValue::GetAtt { resource: resource.to_owned(), attribute: attribute.to_owned() }
            } else {
                EnvValue::Other(other.clone())
            }
        }
    }
}
