//! The Table port: a single-table key-value store with a primary key (`PK`, `SK`), one global
//! secondary index (`GSI1PK`, `GSI1SK`) and a TTL attribute, spoken through typed operations.
//! Callers never write expression strings; the DynamoDB adapter translates these types into
//! expressions and the embedded adapter evaluates them directly.
//!
//! Semantics both adapters share (the contract suite checks them):
//! - an item whose TTL (`expires_at`, epoch seconds) is in the past is invisible to reads and counts
//!   as absent for conditions, even before the backend has physically removed it;
//! - `update` creates the item when it is missing (unless its condition says otherwise);
//! - queries return items in sort-key order; a page may be shorter than `limit`, and the last page
//!   may be empty; the cursor is opaque;
//! - a transaction holds at most [`MAX_TRANSACT_ITEMS`] operations, never two on the same key, and
//!   is all-or-nothing;
//! - items are at most [`MAX_ITEM_BYTES`] bytes.

#[cfg(feature = "aws-table")]
pub mod dynamo;
pub mod embedded;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::{AdapterError, Result};

/// Attribute names the port owns; user attributes may not use them.
pub const RESERVED_ATTRS: [&str; 5] = ["PK", "SK", "GSI1PK", "GSI1SK", TTL_ATTR];
/// The TTL attribute (epoch seconds), as declared in the template.
pub const TTL_ATTR: &str = "expires_at";
/// The optimistic-locking attribute [`Condition::VersionEquals`] reads.
pub const VERSION_ATTR: &str = "version";
/// Largest transaction DynamoDB accepts.
pub const MAX_TRANSACT_ITEMS: usize = 100;
/// Largest batch-write request DynamoDB accepts (the adapters split bigger batches).
pub const MAX_BATCH_WRITE: usize = 25;
/// Largest item DynamoDB stores.
pub const MAX_ITEM_BYTES: usize = 400 * 1024;
/// Largest page a query returns.
pub const MAX_QUERY_LIMIT: u32 = 1000;
/// The name of the one global secondary index.
pub const GSI1: &str = "GSI1";

/// A primary key.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Key {
    /// Partition key (`PK`).
    pub pk: String,
    /// Sort key (`SK`).
    pub sk: String,
}

impl Key {
    /// Builds a key. Use the builders in [`crate::keys`] rather than formatting strings by hand.
    pub fn new(pk: impl Into<String>, sk: impl Into<String>) -> Self {
        Self { pk: pk.into(), sk: sk.into() }
    }
}

/// One stored item: its keys, optional index keys and TTL, and its other attributes as JSON.
#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    /// Primary key.
    pub key: Key,
    /// Keys in GSI1, if the item is indexed there.
    pub gsi1: Option<Key>,
    /// Expiry as epoch seconds, if the item is temporary.
    pub expires_at: Option<i64>,
    /// All other attributes. Must not use the [`RESERVED_ATTRS`].
    pub attrs: Map<String, Value>,
}

impl Item {
    /// An item with only a key.
    pub fn new(key: Key) -> Self {
        Self { key, gsi1: None, expires_at: None, attrs: Map::new() }
    }

    /// Sets one attribute (builder style).
    pub fn with(mut self, name: &str, value: impl Into<Value>) -> Self {
        self.attrs.insert(name.to_owned(), value.into());
        self
    }

    /// Indexes the item in GSI1 (builder style).
    pub fn indexed(mut self, gsi1: Key) -> Self {
        self.gsi1 = Some(gsi1);
        self
    }

    /// Gives the item a TTL (builder style).
    pub fn expiring_at(mut self, epoch_seconds: i64) -> Self {
        self.expires_at = Some(epoch_seconds);
        self
    }

    /// The item's optimistic-locking version, if it has one.
    pub fn version(&self) -> Option<u64> {
        self.attrs.get(VERSION_ATTR).and_then(Value::as_u64)
    }

    /// Deserialises the attributes into a typed record.
    pub fn parse<T: serde::de::DeserializeOwned>(&self) -> Result<T> {
        serde_json::from_value(Value::Object(self.attrs.clone())).map_err(|e| {
            AdapterError::Storage(format!("item {}/{} has an unexpected shape: {e}", self.key.pk, self.key.sk))
        })
    }

    /// Size estimate in bytes, the way DynamoDB counts it (names plus values).
    pub fn approximate_size(&self) -> usize {
        let keys = self.key.pk.len() + self.key.sk.len() + 4;
        let gsi = self.gsi1.as_ref().map_or(0, |k| k.pk.len() + k.sk.len() + 12);
        let attrs: usize = self.attrs.iter().map(|(k, v)| k.len() + v.to_string().len()).sum();
        keys + gsi + attrs + if self.expires_at.is_some() { 20 } else { 0 }
    }

    /// Checks the rules every write must satisfy.
    pub fn validate(&self) -> Result<()> {
        validate_key(&self.key)?;
        if let Some(g) = &self.gsi1
            && (g.pk.is_empty() || g.sk.is_empty())
        {
            {
                return Err(AdapterError::Invalid("GSI1 keys must not be empty".into()));
            }
        }
        validate_attr_names(self.attrs.keys())?;
        if self.approximate_size() > MAX_ITEM_BYTES {
            return Err(AdapterError::Invalid(format!("item {}/{} is larger than 400 KiB", self.key.pk, self.key.sk)));
        }
        Ok(())
    }

    /// Whether the TTL has passed at `now` (epoch seconds).
    pub fn is_expired(&self, now: i64) -> bool {
        self.expires_at.is_some_and(|t| t <= now)
    }
}

pub(crate) fn validate_key(key: &Key) -> Result<()> {
    if key.pk.is_empty() || key.sk.is_empty() {
        return Err(AdapterError::Invalid("PK and SK must not be empty".into()));
    }
    if key.pk.len() > 2048 || key.sk.len() > 1024 {
        return Err(AdapterError::Invalid("key too long (PK ≤ 2048, SK ≤ 1024 bytes)".into()));
    }
    Ok(())
}

pub(crate) fn validate_attr_names<'a>(names: impl IntoIterator<Item = &'a String>) -> Result<()> {
    for name in names {
        if RESERVED_ATTRS.contains(&name.as_str()) {
            return Err(AdapterError::Invalid(format!("attribute name {name} is reserved")));
        }
        if name.is_empty() || name.len() > 255 {
            return Err(AdapterError::Invalid("attribute names must be 1-255 bytes".into()));
        }
    }
    Ok(())
}

/// A condition a write requires to hold on the item's current state.
#[derive(Debug, Clone, PartialEq)]
pub enum Condition {
    /// No (unexpired) item with this key exists.
    NotExists,
    /// An (unexpired) item with this key exists.
    Exists,
    /// The item exists and its `version` attribute equals the value.
    VersionEquals(u64),
    /// The item exists and the attribute equals the value.
    AttributeEquals(String, Value),
}

/// A partial update. Applied as one atomic step; creates the item when missing.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Update {
    /// Attributes to set (overwrite).
    pub set: Map<String, Value>,
    /// Attributes to remove.
    pub remove: Vec<String>,
    /// Numeric attributes to add to (missing counts as 0).
    pub add: Vec<(String, i64)>,
    /// New GSI1 keys.
    pub gsi1: Option<Key>,
    /// New TTL.
    pub expires_at: Option<i64>,
}

impl Update {
    /// Sets one attribute (builder style).
    pub fn set(mut self, name: &str, value: impl Into<Value>) -> Self {
        self.set.insert(name.to_owned(), value.into());
        self
    }

    /// Adds to a numeric attribute (builder style).
    pub fn add(mut self, name: &str, delta: i64) -> Self {
        self.add.push((name.to_owned(), delta));
        self
    }

    /// Removes an attribute (builder style).
    pub fn remove(mut self, name: &str) -> Self {
        self.remove.push(name.to_owned());
        self
    }

    pub(crate) fn validate(&self) -> Result<()> {
        validate_attr_names(self.set.keys().chain(self.remove.iter()).chain(self.add.iter().map(|(n, _)| n)))?;
        let mut seen = std::collections::HashSet::new();
        for name in self.set.keys().chain(self.remove.iter()).chain(self.add.iter().map(|(n, _)| n)) {
            if !seen.insert(name) {
                return Err(AdapterError::Invalid(format!("attribute {name} appears twice in one update")));
            }
        }
        if self.set.is_empty()
            && self.remove.is_empty()
            && self.add.is_empty()
            && self.gsi1.is_none()
            && self.expires_at.is_none()
        {
            return Err(AdapterError::Invalid("an update must change something".into()));
        }
        Ok(())
    }
}

/// Which index a query reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Index {
    /// The table's primary key.
    #[default]
    Primary,
    /// GSI1 (`GSI1PK`, `GSI1SK`).
    Gsi1,
}

/// How a query narrows the sort key.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum SortKey {
    /// Every sort key in the partition.
    #[default]
    Any,
    /// Exactly this sort key.
    Eq(String),
    /// Sort keys starting with the prefix.
    BeginsWith(String),
    /// Sort keys in the inclusive range.
    Between(String, String),
    /// Strictly greater.
    Gt(String),
    /// Greater or equal.
    Ge(String),
    /// Strictly less.
    Lt(String),
    /// Less or equal.
    Le(String),
}

/// Direction of a query.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Direction {
    /// Ascending sort keys.
    #[default]
    Forward,
    /// Descending sort keys.
    Backward,
}

/// A query over one partition of an index.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Query {
    /// Index to read.
    pub index: Index,
    /// Partition key value (`PK` or `GSI1PK`).
    pub partition: String,
    /// Sort-key narrowing.
    pub sort: SortKey,
    /// Page size, 1..=[`MAX_QUERY_LIMIT`] (default 100).
    pub limit: Option<u32>,
    /// Where the previous page stopped.
    pub cursor: Option<Cursor>,
    /// Order.
    pub direction: Direction,
}

impl Query {
    /// A forward query over the whole partition of the primary index.
    pub fn partition(pk: impl Into<String>) -> Self {
        Self { partition: pk.into(), ..Self::default() }
    }

    /// A forward query over a GSI1 partition.
    pub fn gsi1(pk: impl Into<String>) -> Self {
        Self { index: Index::Gsi1, partition: pk.into(), ..Self::default() }
    }

    /// Narrows to sort keys with the prefix (builder style).
    pub fn begins_with(mut self, prefix: impl Into<String>) -> Self {
        self.sort = SortKey::BeginsWith(prefix.into());
        self
    }

    /// Sets the page size (builder style).
    pub fn limit(mut self, limit: u32) -> Self {
        self.limit = Some(limit);
        self
    }

    /// Reads backwards (builder style).
    pub fn backward(mut self) -> Self {
        self.direction = Direction::Backward;
        self
    }

    /// Continues after a cursor (builder style).
    pub fn after(mut self, cursor: Option<Cursor>) -> Self {
        self.cursor = cursor;
        self
    }

    pub(crate) fn effective_limit(&self) -> Result<u32> {
        match self.limit {
            None => Ok(100),
            Some(n) if (1..=MAX_QUERY_LIMIT).contains(&n) => Ok(n),
            Some(n) => Err(AdapterError::Invalid(format!("limit {n} is outside 1..={MAX_QUERY_LIMIT}"))),
        }
    }
}

/// An opaque position in a query. Its content is the last key read; callers must treat it as a
/// token (the HTTP layer additionally signs it before handing it to clients).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cursor(pub(crate) String);

impl Cursor {
    /// The token as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Rebuilds a cursor from text produced by [`Cursor::as_str`].
    pub fn from_token(token: impl Into<String>) -> Self {
        Self(token.into())
    }

    pub(crate) fn encode(last: &LastKey) -> Self {
        use base64::Engine;
        let json = serde_json::to_vec(last).expect("keys serialise");
        Self(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(json))
    }

    pub(crate) fn decode(&self) -> Result<LastKey> {
        use base64::Engine;
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(&self.0)
            .map_err(|_| AdapterError::Invalid("malformed cursor".into()))?;
        serde_json::from_slice(&bytes).map_err(|_| AdapterError::Invalid("malformed cursor".into()))
    }
}

/// The key of the last item a page returned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct LastKey {
    pub pk: String,
    pub sk: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gsi1pk: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gsi1sk: Option<String>,
}

/// One page of query results.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Page {
    /// Items in order.
    pub items: Vec<Item>,
    /// Where to continue, if there may be more.
    pub cursor: Option<Cursor>,
}

/// One operation of a transaction.
#[derive(Debug, Clone, PartialEq)]
pub enum TxOp {
    /// Write a whole item.
    Put {
        /// The item.
        item: Item,
        /// Required state before the write.
        condition: Option<Condition>,
    },
    /// Apply a partial update.
    Update {
        /// The item's key.
        key: Key,
        /// The change.
        update: Update,
        /// Required state before the write.
        condition: Option<Condition>,
    },
    /// Delete an item.
    Delete {
        /// The item's key.
        key: Key,
        /// Required state before the delete.
        condition: Option<Condition>,
    },
    /// Only check a condition on another item.
    Check {
        /// The item's key.
        key: Key,
        /// The condition.
        condition: Condition,
    },
}

impl TxOp {
    pub(crate) fn key(&self) -> &Key {
        match self {
            Self::Put { item, .. } => &item.key,
            Self::Update { key, .. } | Self::Delete { key, .. } | Self::Check { key, .. } => key,
        }
    }

    pub(crate) fn validate(&self) -> Result<()> {
        match self {
            Self::Put { item, .. } => item.validate(),
            Self::Update { key, update, .. } => {
                validate_key(key)?;
                update.validate()
            }
            Self::Delete { key, .. } | Self::Check { key, .. } => validate_key(key),
        }
    }
}

pub(crate) fn validate_transaction(ops: &[TxOp]) -> Result<()> {
    if ops.is_empty() || ops.len() > MAX_TRANSACT_ITEMS {
        return Err(AdapterError::Invalid(format!("a transaction holds 1..={MAX_TRANSACT_ITEMS} operations")));
    }
    let mut keys = std::collections::HashSet::new();
    for op in ops {
        op.validate()?;
        if !keys.insert(op.key()) {
            return Err(AdapterError::Invalid(format!(
                "a transaction may touch each item once; {}/{} appears twice",
                op.key().pk,
                op.key().sk
            )));
        }
    }
    Ok(())
}

/// One operation of a batch write (no conditions, not atomic across items).
#[derive(Debug, Clone, PartialEq)]
pub enum BatchOp {
    /// Write a whole item.
    Put(Item),
    /// Delete an item.
    Delete(Key),
}

/// Every item a query matches, read page by page at the largest page size (for lists known to be
/// bounded, such as one run's jobs; stream page by page where they are not).
pub async fn query_all(table: &dyn Table, query: Query) -> Result<Vec<Item>> {
    let mut items = Vec::new();
    let mut cursor = None;
    loop {
        let page = table.query(query.clone().limit(MAX_QUERY_LIMIT).after(cursor)).await?;
        items.extend(page.items);
        match page.cursor {
            Some(next) => cursor = Some(next),
            None => return Ok(items),
        }
    }
}

/// The Table port.
#[async_trait]
pub trait Table: Send + Sync + 'static {
    /// Reads one item; `None` when absent or expired.
    async fn get(&self, key: &Key) -> Result<Option<Item>>;
    /// Writes a whole item, replacing any existing one, when the condition holds.
    async fn put(&self, item: Item, condition: Option<Condition>) -> Result<()>;
    /// Applies a partial update (creating the item if missing) when the condition holds; returns
    /// the item as it is afterwards.
    async fn update(&self, key: &Key, update: Update, condition: Option<Condition>) -> Result<Item>;
    /// Deletes an item when the condition holds; returns whether one was there.
    async fn delete(&self, key: &Key, condition: Option<Condition>) -> Result<bool>;
    /// Reads one page of a partition.
    async fn query(&self, query: Query) -> Result<Page>;
    /// Applies every operation or none.
    async fn transact_write(&self, ops: Vec<TxOp>) -> Result<()>;
    /// Writes many items without conditions, retrying what the backend leaves unprocessed.
    async fn batch_write(&self, ops: Vec<BatchOp>) -> Result<()>;
    /// Cheap round trip proving the table answers (used by the health check).
    async fn probe(&self) -> Result<()>;
}
