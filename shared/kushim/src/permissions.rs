//! The permission audit: on the local platform every call a function makes through its ports is
//! translated into the IAM action (and resource) it needs on AWS and checked against that
//! function's policy in `template.yaml`. The emulator never enforces IAM, so without this a
//! function could use an action its deployed role lacks and every local test would still pass.
//!
//! What the audit knows about each port call (the actions the AWS adapters' SDK calls need):
//!
//! | port call | action (resource) |
//! |---|---|
//! | `Table::get` / `put` / `update` / `delete` | `dynamodb:GetItem` / `PutItem` / `UpdateItem` / `DeleteItem` (table) |
//! | `Table::query` | `dynamodb:Query` (table, or `<table>/index/<name>` for GSI1) |
//! | `Table::transact_write` | per operation: `PutItem`, `UpdateItem`, `DeleteItem`, `ConditionCheckItem` |
//! | `Table::batch_write` / `probe` | `dynamodb:BatchWriteItem` / `DescribeTable` |
//! | `BlobStore::put`, `presign_put` | `s3:PutObject` (+ `PutObjectRetention` with a retention; `kms:GenerateDataKey` on a KMS bucket) |
//! | `BlobStore::get`, `presign_get` | `s3:GetObject` (+ `GetObjectVersion` for a version; `kms:Decrypt` on a KMS bucket) |
//! | `BlobStore::head` / `delete` / `list` / `probe` | `s3:GetObject` / `DeleteObject` / `ListBucket` / `ListBucket` |
//! | `Queue::send_batch` / `receive` / `delete` / `change_visibility` / `counts` | `sqs:SendMessage` / `ReceiveMessage` / `DeleteMessage` / `ChangeMessageVisibility` / `GetQueueAttributes` |
//! | `EventBus::publish` | `events:PutEvents` |
//! | `Secrets::get` / `put` / `create_if_absent` / `delete` | `secretsmanager:GetSecretValue` / `PutSecretValue` / `CreateSecret` / `DeleteSecret` |
//!
//! A call the policy does not grant is logged once as a warning and kept in
//! [`PermissionAudit::violations`]; the end-to-end tests fail on any.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use kushim_adapters::Result;
use kushim_adapters::blob::{Blob, BlobMeta, BlobStore, KeyPage, PresignedRequest, PutOptions};
use kushim_adapters::bus::{Event, EventBus, PublishOutcome};
use kushim_adapters::queue::{OutgoingMessage, Queue, QueueCounts, ReceivedMessage, SendOutcome};
use kushim_adapters::secrets::{SecretString, Secrets};
use kushim_adapters::table::{BatchOp, Condition, Index, Item, Key, Page, Query, Table, TxOp, Update};
use kushim_domain::Sha256Digest;
use kushim_lambda::Backends;
use kushim_template::{Function, Template};
use serde_json::Value;

use crate::env::ResourceNames;

/// Most violations kept (each distinct one is also logged once).
const MAX_VIOLATIONS: usize = 1000;

/// The calls functions made that their policies do not grant, shared by every function.
#[derive(Clone, Default)]
pub struct PermissionAudit {
    violations: Arc<Mutex<BTreeSet<String>>>,
}

impl PermissionAudit {
    /// Each ungranted call, as `<binary>: <action> on <resource>`, sorted.
    pub fn violations(&self) -> Vec<String> {
        self.violations.lock().map(|v| v.iter().cloned().collect()).unwrap_or_default()
    }

    fn record(&self, violation: String) {
        let Ok(mut v) = self.violations.lock() else { return };
        if v.len() < MAX_VIOLATIONS && v.insert(violation.clone()) {
            tracing::warn!(%violation, "a function used an action its policy in template.yaml does not grant");
        }
    }
}

/// One `Allow` statement: its actions and its resources as (logical id or `*`, path pattern).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Statement {
    actions: Vec<String>,
    resources: Vec<(String, String)>,
}

/// A function's policy, as far as the audit understands it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionPolicy {
    binary: String,
    statements: Vec<Statement>,
}

impl FunctionPolicy {
    /// The inline `Allow` statements of a function in the template.
    pub fn of(template: &Template, function: &Function) -> Self {
        let secrets = declared_secrets(template);
        let resource = |v: &Value| match v.get("Ref").and_then(Value::as_str).and_then(|r| secrets.get(r)) {
            Some(name) => ("Secrets".to_owned(), name.clone()),
            None => resource(v),
        };
        let policies = &template.raw["Resources"][&function.logical_id]["Properties"]["Policies"];
        let statements = as_list(policies)
            .iter()
            .flat_map(|p| as_list(&p["Statement"]))
            .filter(|s| s["Effect"] == "Allow")
            .map(|s| Statement {
                actions: as_list(&s["Action"]).iter().filter_map(|a| a.as_str().map(str::to_owned)).collect(),
                resources: as_list(&s["Resource"]).iter().map(resource).collect(),
            })
            .collect();
        Self { binary: function.binary.clone(), statements }
    }

    /// Whether the policy allows `action` on the resource `logical` at `path` (`""` for the
    /// resource itself, `/<key>` for an object, `/index/<name>` for an index, a secret's name).
    pub fn allows(&self, action: &str, logical: &str, path: &str) -> bool {
        self.statements.iter().any(|s| {
            s.actions.iter().any(|a| glob(a, action))
                && s.resources.iter().any(|(l, p)| (l == "*" || l == logical) && glob(p, path))
        })
    }
}

/// The Secrets Manager secrets the template declares (`AWS::SecretsManager::Secret` named
/// `kushim/${AWS::StackName}/<name>`): logical id → the name functions use through the port.
pub fn declared_secrets(template: &Template) -> BTreeMap<String, String> {
    let Some(resources) = template.raw["Resources"].as_object() else { return BTreeMap::new() };
    resources
        .iter()
        .filter(|(_, r)| r["Type"] == "AWS::SecretsManager::Secret")
        .filter_map(|(id, r)| {
            let name = r["Properties"]["Name"]["Fn::Sub"].as_str()?.strip_prefix("kushim/${AWS::StackName}/")?;
            Some((id.clone(), name.to_owned()))
        })
        .collect()
}

/// A value that may be one item or a list of them.
fn as_list(v: &Value) -> Vec<Value> {
    match v {
        Value::Array(items) => items.clone(),
        Value::Null => Vec::new(),
        other => vec![other.clone()],
    }
}

/// A statement resource as (logical id, path pattern): `!GetAtt X.Arn` and `!Ref X` are X itself,
/// `!Sub "${X.Arn}/rest"` is X at `/rest`, a Secrets Manager ARN under the stack's prefix is
/// `Secrets` at the name pattern after it, `*` is everything; anything else matches nothing.
fn resource(v: &Value) -> (String, String) {
    let unknown = || ("?".to_owned(), String::new());
    match v {
        Value::String(s) if s == "*" => ("*".to_owned(), "*".to_owned()),
        Value::Object(m) => {
            if let Some(att) = m.get("Fn::GetAtt") {
                let target = match att {
                    Value::Array(parts) => parts.first().and_then(Value::as_str).unwrap_or_default().to_owned(),
                    Value::String(s) => s.split('.').next().unwrap_or_default().to_owned(),
                    _ => return unknown(),
                };
                return (target, String::new());
            }
            if let Some(Value::String(r)) = m.get("Ref") {
                return (r.clone(), String::new());
            }
            let sub = match m.get("Fn::Sub") {
                Some(Value::String(s)) => s.clone(),
                Some(Value::Array(parts)) => parts.first().and_then(Value::as_str).unwrap_or_default().to_owned(),
                _ => return unknown(),
            };
            if let Some(rest) = sub.strip_prefix("${")
                && let Some((target, path)) = rest.split_once(".Arn}")
            {
                return (target.to_owned(), path.to_owned());
            }
            match sub.split_once(":secret:kushim/${AWS::StackName}/") {
                Some((_, name)) => ("Secrets".to_owned(), name.to_owned()),
                None => unknown(),
            }
        }
        _ => unknown(),
    }
}

/// Whether `text` matches `pattern`, where `*` stands for any run of characters.
fn glob(pattern: &str, text: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == text,
        Some((head, tail)) => {
            let Some(rest) = text.strip_prefix(head) else { return false };
            (0..=rest.len()).filter(|i| rest.is_char_boundary(*i)).any(|i| glob(tail, &rest[i..]))
        }
    }
}

/// Checks one function's calls.
#[derive(Clone)]
struct Auditor {
    policy: Arc<FunctionPolicy>,
    audit: PermissionAudit,
}

impl Auditor {
    fn check(&self, action: &str, logical: &str, path: &str) {
        if !self.policy.allows(action, logical, path) {
            let on = match path {
                "" => logical.to_owned(),
                p if p.starts_with('/') => format!("{logical}{p}"),
                p => format!("{logical}/{p}"),
            };
            self.audit.record(format!("{}: {action} on {on}", self.policy.binary));
        }
    }
}

/// The function's ports, each checking its calls against the function's policy.
pub fn audited(
    backends: &Backends,
    template: &Template,
    function: &Function,
    names: &ResourceNames,
    audit: &PermissionAudit,
) -> Backends {
    let auditor = Auditor { policy: Arc::new(FunctionPolicy::of(template, function)), audit: audit.clone() };
    let table = template.tables.first().map_or_else(|| "Table".to_owned(), |t| t.logical_id.clone());
    let bucket = |logical: &str| AuditedBlobs::new(auditor.clone(), template, logical);
    let queues = names.by_logical_id.iter().map(|(logical, name)| (name.clone(), logical.clone())).collect();
    Backends {
        table: backends.table.clone().map(|inner| {
            Arc::new(AuditedTable { inner, auditor: auditor.clone(), table: table.clone() }) as Arc<dyn Table>
        }),
        blobs: backends.blobs.clone().map(|inner| Arc::new(bucket("EvidenceBucket").wrap(inner)) as Arc<dyn BlobStore>),
        staging: backends
            .staging
            .clone()
            .map(|inner| Arc::new(bucket("UploadStagingBucket").wrap(inner)) as Arc<dyn BlobStore>),
        queue: backends.queue.clone().map(|inner| {
            Arc::new(AuditedQueue { inner, auditor: auditor.clone(), queues: Arc::new(queues) }) as Arc<dyn Queue>
        }),
        bus: backends.bus.clone().map(|inner| {
            let bus = template.event_buses.first().cloned().unwrap_or_else(|| "EventBus".to_owned());
            Arc::new(AuditedBus { inner, auditor: auditor.clone(), bus }) as Arc<dyn EventBus>
        }),
        secrets: backends
            .secrets
            .clone()
            .map(|inner| Arc::new(AuditedSecrets { inner, auditor: auditor.clone() }) as Arc<dyn Secrets>),
    }
}

struct AuditedTable {
    inner: Arc<dyn Table>,
    auditor: Auditor,
    table: String,
}

impl AuditedTable {
    fn check(&self, action: &str) {
        self.auditor.check(action, &self.table, "");
    }
}

#[async_trait]
impl Table for AuditedTable {
    async fn get(&self, key: &Key) -> Result<Option<Item>> {
        self.check("dynamodb:GetItem");
        self.inner.get(key).await
    }
    async fn put(&self, item: Item, condition: Option<Condition>) -> Result<()> {
        self.check("dynamodb:PutItem");
        self.inner.put(item, condition).await
    }
    async fn update(&self, key: &Key, update: Update, condition: Option<Condition>) -> Result<Item> {
        self.check("dynamodb:UpdateItem");
        self.inner.update(key, update, condition).await
    }
    async fn delete(&self, key: &Key, condition: Option<Condition>) -> Result<bool> {
        self.check("dynamodb:DeleteItem");
        self.inner.delete(key, condition).await
    }
    async fn query(&self, query: Query) -> Result<Page> {
        match query.index {
            Index::Primary => self.check("dynamodb:Query"),
            Index::Gsi1 => self.auditor.check("dynamodb:Query", &self.table, "/index/GSI1"),
        }
        self.inner.query(query).await
    }
    async fn transact_write(&self, ops: Vec<TxOp>) -> Result<()> {
        for op in &ops {
            self.check(match op {
                TxOp::Put { .. } => "dynamodb:PutItem",
                TxOp::Update { .. } => "dynamodb:UpdateItem",
                TxOp::Delete { .. } => "dynamodb:DeleteItem",
                TxOp::Check { .. } => "dynamodb:ConditionCheckItem",
            });
        }
        self.inner.transact_write(ops).await
    }
    async fn batch_write(&self, ops: Vec<BatchOp>) -> Result<()> {
        self.check("dynamodb:BatchWriteItem");
        self.inner.batch_write(ops).await
    }
    async fn probe(&self) -> Result<()> {
        self.check("dynamodb:DescribeTable");
        self.inner.probe().await
    }
}

/// What a bucket's calls are checked against: the bucket and, for SSE-KMS, its key.
struct AuditedBlobs {
    inner: Option<Arc<dyn BlobStore>>,
    auditor: Auditor,
    bucket: String,
    kms_key: Option<String>,
}

impl AuditedBlobs {
    fn new(auditor: Auditor, template: &Template, bucket: &str) -> Self {
        let encryption = &template.raw["Resources"][bucket]["Properties"]["BucketEncryption"]["ServerSideEncryptionConfiguration"]
            [0]["ServerSideEncryptionByDefault"];
        let kms_key = match resource(&encryption["KMSMasterKeyID"]) {
            (key, _) if key != "?" => Some(key),
            _ => None,
        };
        Self { inner: None, auditor, bucket: bucket.to_owned(), kms_key }
    }

    fn wrap(mut self, inner: Arc<dyn BlobStore>) -> Self {
        self.inner = Some(inner);
        self
    }

    fn inner(&self) -> &dyn BlobStore {
        self.inner.as_deref().expect("wrapped")
    }

    fn object(&self, action: &str, key: &str) {
        self.auditor.check(action, &self.bucket, &format!("/{key}"));
    }

    fn kms(&self, action: &str) {
        if let Some(key) = &self.kms_key {
            self.auditor.check(action, key, "");
        }
    }

    fn read(&self, key: &str, version_id: Option<&str>) {
        self.object("s3:GetObject", key);
        if version_id.is_some() {
            self.object("s3:GetObjectVersion", key);
        }
    }
}

#[async_trait]
impl BlobStore for AuditedBlobs {
    async fn put(&self, key: &str, bytes: Bytes, options: PutOptions) -> Result<BlobMeta> {
        self.object("s3:PutObject", key);
        if options.retention.is_some() {
            self.object("s3:PutObjectRetention", key);
        }
        self.kms("kms:GenerateDataKey");
        self.inner().put(key, bytes, options).await
    }
    async fn get(&self, key: &str, version_id: Option<&str>) -> Result<Blob> {
        self.read(key, version_id);
        self.kms("kms:Decrypt");
        self.inner().get(key, version_id).await
    }
    async fn head(&self, key: &str, version_id: Option<&str>) -> Result<BlobMeta> {
        self.read(key, version_id);
        self.inner().head(key, version_id).await
    }
    async fn delete(&self, key: &str, version_id: Option<&str>) -> Result<()> {
        self.object(if version_id.is_some() { "s3:DeleteObjectVersion" } else { "s3:DeleteObject" }, key);
        self.inner().delete(key, version_id).await
    }
    async fn list(&self, prefix: &str, continuation: Option<String>, limit: u32) -> Result<KeyPage> {
        self.auditor.check("s3:ListBucket", &self.bucket, "");
        self.inner().list(prefix, continuation, limit).await
    }
    async fn presign_get(&self, key: &str, version_id: Option<&str>, expires_in: Duration) -> Result<PresignedRequest> {
        self.read(key, version_id);
        self.kms("kms:Decrypt");
        self.inner().presign_get(key, version_id, expires_in).await
    }
    async fn presign_put(
        &self,
        key: &str,
        sha256: Sha256Digest,
        content_type: &str,
        expires_in: Duration,
    ) -> Result<PresignedRequest> {
        self.object("s3:PutObject", key);
        self.kms("kms:GenerateDataKey");
        self.inner().presign_put(key, sha256, content_type, expires_in).await
    }
    async fn probe(&self) -> Result<()> {
        self.auditor.check("s3:ListBucket", &self.bucket, "");
        self.inner().probe().await
    }
}

struct AuditedQueue {
    inner: Arc<dyn Queue>,
    auditor: Auditor,
    /// Queue name or URL → logical id.
    queues: Arc<BTreeMap<String, String>>,
}

impl AuditedQueue {
    fn check(&self, action: &str, queue: &str) {
        let logical = self.queues.get(queue).map_or(queue, String::as_str);
        self.auditor.check(action, logical, "");
    }
}

#[async_trait]
impl Queue for AuditedQueue {
    async fn send_batch(&self, queue: &str, messages: Vec<OutgoingMessage>) -> Result<Vec<SendOutcome>> {
        self.check("sqs:SendMessage", queue);
        self.inner.send_batch(queue, messages).await
    }
    async fn receive(
        &self,
        queue: &str,
        max: usize,
        wait: Duration,
        visibility: Option<Duration>,
    ) -> Result<Vec<ReceivedMessage>> {
        self.check("sqs:ReceiveMessage", queue);
        self.inner.receive(queue, max, wait, visibility).await
    }
    async fn delete(&self, queue: &str, receipt_handle: &str) -> Result<()> {
        self.check("sqs:DeleteMessage", queue);
        self.inner.delete(queue, receipt_handle).await
    }
    async fn change_visibility(&self, queue: &str, receipt_handle: &str, timeout: Duration) -> Result<()> {
        self.check("sqs:ChangeMessageVisibility", queue);
        self.inner.change_visibility(queue, receipt_handle, timeout).await
    }
    async fn counts(&self, queue: &str) -> Result<QueueCounts> {
        self.check("sqs:GetQueueAttributes", queue);
        self.inner.counts(queue).await
    }
}

struct AuditedBus {
    inner: Arc<dyn EventBus>,
    auditor: Auditor,
    bus: String,
}

#[async_trait]
impl EventBus for AuditedBus {
    async fn publish(&self, events: Vec<Event>) -> Result<Vec<PublishOutcome>> {
        self.auditor.check("events:PutEvents", &self.bus, "");
        self.inner.publish(events).await
    }
}

struct AuditedSecrets {
    inner: Arc<dyn Secrets>,
    auditor: Auditor,
}

#[async_trait]
impl Secrets for AuditedSecrets {
    async fn get(&self, name: &str) -> Result<SecretString> {
        self.auditor.check("secretsmanager:GetSecretValue", "Secrets", name);
        self.inner.get(name).await
    }
    async fn put(&self, name: &str, value: SecretString) -> Result<()> {
        self.auditor.check("secretsmanager:PutSecretValue", "Secrets", name);
        self.inner.put(name, value).await
    }
    async fn create_if_absent(&self, name: &str, value: SecretString) -> Result<bool> {
        self.auditor.check("secretsmanager:CreateSecret", "Secrets", name);
        self.inner.create_if_absent(name, value).await
    }
    async fn delete(&self, name: &str) -> Result<()> {
        self.auditor.check("secretsmanager:DeleteSecret", "Secrets", name);
        self.inner.delete(name).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy_of(binary: &str) -> FunctionPolicy {
        let template = kushim_template::bundled();
        let f = template.functions.iter().find(|f| f.binary == binary).unwrap();
        FunctionPolicy::of(template, f)
    }

    #[test]
    fn globs_match_as_iam_does() {
        assert!(glob("/tenants/*", "/tenants/acme/evidence/ab12"));
        assert!(glob("*", ""));
        assert!(glob("", ""));
        assert!(!glob("", "/x"));
        assert!(glob("s3:Get*", "s3:GetObject"));
        assert!(!glob("/tenants/*", "/exports/x"));
        assert!(glob("a*c*e", "abcde") && !glob("a*c*e", "abcdf"));
    }

    #[test]
    fn policies_are_read_from_the_template() {
        let connector = policy_of("connector-aws");
        assert!(connector.allows("dynamodb:BatchWriteItem", "Table", ""));
        assert!(connector.allows("s3:PutObject", "EvidenceBucket", "/tenants/acme/evidence/ab"));
        assert!(!connector.allows("s3:PutObject", "EvidenceBucket", "/elsewhere"), "only under tenants/");
        assert!(!connector.allows("dynamodb:Query", "Table", "/index/GSI1"), "the connector never reads GSI1");
        assert!(connector.allows("secretsmanager:GetSecretValue", "Secrets", "tenants/acme/integrations/i1"));
        let planner = policy_of("planner");
        assert!(planner.allows("dynamodb:Query", "Table", "/index/GSI1"));
        assert!(planner.allows("sqs:SendMessage", "AwsJobsQueue", ""));
        assert!(!planner.allows("sqs:SendMessage", "JobsQueue", ""));
        let integrations = policy_of("api-integrations");
        assert!(integrations.allows("secretsmanager:DeleteSecret", "Secrets", "tenants/acme/integrations/i1"));
        assert!(!integrations.allows("secretsmanager:DeleteSecret", "Secrets", "evidence-signing-key"));
        // `!Ref CursorKeySecret` is the secret the template declares, by the name the port uses.
        assert_eq!(declared_secrets(kushim_template::bundled())["CursorKeySecret"], "cursor-key");
        let exports = policy_of("api-exports");
        assert!(exports.allows("secretsmanager:GetSecretValue", "Secrets", "cursor-key"));
        assert!(!exports.allows("secretsmanager:GetSecretValue", "Secrets", "evidence-signing-key"));
    }

    #[tokio::test]
    async fn an_ungranted_call_is_recorded_once_and_still_made() {
        use kushim_adapters::table::embedded::EmbeddedTable;
        let dir = tempfile::tempdir().unwrap();
        let template = kushim_template::bundled();
        let health = template.functions.iter().find(|f| f.binary == "api-health").unwrap();
        let backends =
            Backends { table: Some(Arc::new(EmbeddedTable::open(dir.path()).unwrap())), ..Backends::default() };
        let audit = PermissionAudit::default();
        let audited = audited(&backends, template, health, &ResourceNames::embedded(template), &audit);
        let table = audited.table.unwrap();
        table.probe().await.unwrap();
        assert!(audit.violations().is_empty(), "{:?}", audit.violations());
        for _ in 0..2 {
            table.put(Item::new(Key::new("P", "S")), None).await.unwrap();
        }
        assert_eq!(audit.violations(), vec!["api-health: dynamodb:PutItem on Table".to_owned()]);
        assert!(table.get(&Key::new("P", "S")).await.unwrap().is_some(), "the call itself went through");
    }
}
