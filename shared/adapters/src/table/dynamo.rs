//! The DynamoDB Table adapter: translates the port's typed operations into DynamoDB expressions
//! (always with `#name` / `:value` placeholders, never by pasting user data into expressions) and
//! DynamoDB's errors back into [`AdapterError`]s.

use std::collections::HashMap;
use std::time::Duration;

use async_trait::async_trait;
pub use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{
    AttributeValue, ConditionCheck, Delete, DeleteRequest, Put, PutRequest, ReturnValue,
    ReturnValuesOnConditionCheckFailure, TransactWriteItem, Update as DdbUpdate, WriteRequest,
};
use serde_json::{Map, Value};

use super::{
    BatchOp, Condition, Cursor, Direction, GSI1, Index, Item, Key, LastKey, MAX_BATCH_WRITE, Page, Query, SortKey,
    TTL_ATTR, Table, TxOp, Update, validate_key, validate_transaction,
};
use crate::aws::{classify, classify_code};
use crate::error::CancelReason;
use crate::{AdapterError, Result};

/// DynamoDB-backed table.
#[derive(Clone, Debug)]
pub struct DynamoTable {
    client: Client,
    table: String,
}

type AttrMap = HashMap<String, AttributeValue>;

fn s(v: &str) -> AttributeValue {
    AttributeValue::S(v.to_owned())
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

impl DynamoTable {
    /// Wraps a client and a table name.
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self { client, table: table.into() }
    }

    /// The table's name.
    pub fn table_name(&self) -> &str {
        &self.table
    }

    /// Removes the item at `key` if its TTL has passed (DynamoDB removes expired items only
    /// eventually). A concurrent rewrite makes the condition fail, which is fine: then there is
    /// nothing expired left to remove.
    async fn remove_expired(&self, key: &Key) -> Result<()> {
        let mut e = Expr::default();
        let ttl = e.name(TTL_ATTR);
        let nowv = e.value(AttributeValue::N(now().to_string()));
        let res = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key_map(key)))
            .condition_expression(format!("attribute_exists({ttl}) AND {ttl} <= {nowv}"))
            .set_expression_attribute_names(e.names())
            .set_expression_attribute_values(e.values())
            .send()
            .await;
        match res {
            Ok(_) => Ok(()),
            Err(err) if err.as_service_error().is_some_and(is_conditional_failure) => Ok(()),
            Err(err) => Err(classify(&err)),
        }
    }
}

fn key_map(key: &Key) -> AttrMap {
    HashMap::from([("PK".to_owned(), s(&key.pk)), ("SK".to_owned(), s(&key.sk))])
}

fn to_attr_map(item: &Item) -> Result<AttrMap> {
    let mut map: AttrMap = serde_dynamo::to_item(Value::Object(item.attrs.clone()))
        .map_err(|e| AdapterError::Invalid(format!("item cannot be stored: {e}")))?;
    map.extend(key_map(&item.key));
    if let Some(g) = &item.gsi1 {
        map.insert("GSI1PK".into(), s(&g.pk));
        map.insert("GSI1SK".into(), s(&g.sk));
    }
    if let Some(t) = item.expires_at {
        map.insert(TTL_ATTR.into(), AttributeValue::N(t.to_string()));
    }
    Ok(map)
}

fn take_s(map: &mut AttrMap, name: &str) -> Option<String> {
    match map.remove(name) {
        Some(AttributeValue::S(v)) => Some(v),
        _ => None,
    }
}

fn from_attr_map(mut map: AttrMap) -> Result<Item> {
    let pk = take_s(&mut map, "PK").ok_or_else(|| AdapterError::Storage("item without PK".into()))?;
    let sk = take_s(&mut map, "SK").ok_or_else(|| AdapterError::Storage("item without SK".into()))?;
    let gsi1 = take_s(&mut map, "GSI1PK").zip(take_s(&mut map, "GSI1SK")).map(|(pk, sk)| Key { pk, sk });
    let expires_at = match map.remove(TTL_ATTR) {
        Some(AttributeValue::N(n)) => n.parse().ok(),
        _ => None,
    };
    let attrs: Map<String, Value> =
        serde_dynamo::from_item(map).map_err(|e| AdapterError::Storage(format!("unreadable item {pk}/{sk}: {e}")))?;
    Ok(Item { key: Key { pk, sk }, gsi1, expires_at, attrs })
}

/// Placeholder bookkeeping for one expression.
#[derive(Default)]
struct Expr {
    names: HashMap<String, String>,
    values: AttrMap,
}

impl Expr {
    fn name(&mut self, n: &str) -> String {
        let ph = format!("#n{}", self.names.len());
        if let Some((k, _)) = self.names.iter().find(|(_, v)| v.as_str() == n) {
            return k.clone();
        }
        self.names.insert(ph.clone(), n.to_owned());
        ph
    }

    fn value(&mut self, v: AttributeValue) -> String {
        let ph = format!(":v{}", self.values.len());
        self.values.insert(ph.clone(), v);
        ph
    }

    fn json(&mut self, v: &Value) -> Result<String> {
        let av = serde_dynamo::to_attribute_value(v).map_err(|e| AdapterError::Invalid(e.to_string()))?;
        Ok(self.value(av))
    }

    fn names(&self) -> Option<HashMap<String, String>> {
        (!self.names.is_empty()).then(|| self.names.clone())
    }

    fn values(&self) -> Option<AttrMap> {
        (!self.values.is_empty()).then(|| self.values.clone())
    }

    /// No item, or an unexpired one. Guards updates: DynamoDB would otherwise merge the update into
    /// an expired item it has not removed yet, keeping its old attributes and its past TTL.
    fn live_or_absent(&mut self) -> String {
        let (pk, ttl) = (self.name("PK"), self.name(TTL_ATTR));
        let now = self.value(AttributeValue::N(now().to_string()));
        format!("(attribute_not_exists({pk}) OR attribute_not_exists({ttl}) OR {ttl} > {now})")
    }

    /// The update's condition: the caller's, if any, and [`Expr::live_or_absent`].
    fn update_condition(&mut self, c: Option<&Condition>) -> Result<String> {
        let guard = self.live_or_absent();
        Ok(match c {
            None => guard,
            // Every condition's top-level OR is already parenthesised (and DynamoDB refuses
            // redundant parentheses).
            Some(c) => format!("{guard} AND {}", self.condition(c)?),
        })
    }

    /// An unexpired item exists.
    fn live(&mut self) -> String {
        let (pk, ttl) = (self.name("PK"), self.name(TTL_ATTR));
        let now = self.value(AttributeValue::N(now().to_string()));
        format!("(attribute_exists({pk}) AND (attribute_not_exists({ttl}) OR {ttl} > {now}))")
    }

    fn condition(&mut self, c: &Condition) -> Result<String> {
        Ok(match c {
            Condition::NotExists => {
                let (pk, ttl) = (self.name("PK"), self.name(TTL_ATTR));
                let now = self.value(AttributeValue::N(now().to_string()));
                format!("(attribute_not_exists({pk}) OR {ttl} <= {now})")
            }
            Condition::Exists => self.live(),
            Condition::VersionEquals(v) => {
                let live = self.live();
                let (n, val) = (self.name(super::VERSION_ATTR), self.value(AttributeValue::N(v.to_string())));
                format!("{live} AND {n} = {val}")
            }
            Condition::AttributeEquals(name, value) => {
                let live = self.live();
                let (n, val) = (self.name(name), self.json(value)?);
                format!("{live} AND {n} = {val}")
            }
        })
    }

    fn update(&mut self, u: &Update) -> Result<String> {
        let mut sets = Vec::new();
        for (name, value) in &u.set {
            let (n, v) = (self.name(name), self.json(value)?);
            sets.push(format!("{n} = {v}"));
        }
        if let Some(g) = &u.gsi1 {
            let (a, b) = (self.name("GSI1PK"), self.value(s(&g.pk)));
            sets.push(format!("{a} = {b}"));
            let (a, b) = (self.name("GSI1SK"), self.value(s(&g.sk)));
            sets.push(format!("{a} = {b}"));
        }
        if let Some(t) = u.expires_at {
            let (a, b) = (self.name(TTL_ATTR), self.value(AttributeValue::N(t.to_string())));
            sets.push(format!("{a} = {b}"));
        }
        let mut expr = String::new();
        if !sets.is_empty() {
            expr.push_str(&format!("SET {}", sets.join(", ")));
        }
        if !u.remove.is_empty() {
            let names: Vec<String> = u.remove.iter().map(|n| self.name(n)).collect();
            expr.push_str(&format!(" REMOVE {}", names.join(", ")));
        }
        if !u.add.is_empty() {
            let adds: Vec<String> = u
                .add
                .iter()
                .map(|(n, d)| {
                    let (n, v) = (self.name(n), self.value(AttributeValue::N(d.to_string())));
                    format!("{n} {v}")
                })
                .collect();
            expr.push_str(&format!(" ADD {}", adds.join(", ")));
        }
        Ok(expr.trim().to_owned())
    }
}

fn sort_condition(e: &mut Expr, column: &str, sort: &SortKey) -> Option<String> {
    let mut bin = |op: &str, v: &str| {
        let n = e.name(column);
        let v = e.value(s(v));
        format!("{n} {op} {v}")
    };
    Some(match sort {
        SortKey::Any => return None,
        SortKey::Eq(v) => bin("=", v),
        SortKey::Gt(v) => bin(">", v),
        SortKey::Ge(v) => bin(">=", v),
        SortKey::Lt(v) => bin("<", v),
        SortKey::Le(v) => bin("<=", v),
        SortKey::BeginsWith(p) => {
            let n = e.name(column);
            let v = e.value(s(p));
            format!("begins_with({n}, {v})")
        }
        SortKey::Between(a, b) => {
            let n = e.name(column);
            let (a, b) = (e.value(s(a)), e.value(s(b)));
            format!("{n} BETWEEN {a} AND {b}")
        }
    })
}

fn cancel_reasons(
    err: &aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError,
) -> Option<Vec<CancelReason>> {
    use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError as E;
    let E::TransactionCanceledException(ex) = err else { return None };
    Some(
        ex.cancellation_reasons()
            .iter()
            .map(|r| match r.code() {
                None | Some("None") => CancelReason::None,
                Some("ConditionalCheckFailed") => CancelReason::ConditionFailed,
                Some("TransactionConflict") => CancelReason::Conflict,
                Some(other) => CancelReason::Other(other.to_owned()),
            })
            .collect(),
    )
}

/// Keys of expired (not yet removed) items a cancelled transaction's guards tripped on.
fn expired_blockers(err: &aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError) -> Vec<Key> {
    use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError as E;
    let E::TransactionCanceledException(ex) = err else { return Vec::new() };
    ex.cancellation_reasons()
        .iter()
        .filter(|r| r.code() == Some("ConditionalCheckFailed"))
        .filter_map(|r| from_attr_map(r.item()?.clone()).ok())
        .filter(|old| old.is_expired(now()))
        .map(|old| old.key)
        .collect()
}

/// How often an update retries after removing an expired item that stood in its way.
const EXPIRED_RETRIES: usize = 3;

fn build_tx_item(table: &str, op: &TxOp) -> Result<TransactWriteItem> {
    let mut e = Expr::default();
    let built = match op {
        TxOp::Put { item, condition } => {
            let cond = condition.as_ref().map(|c| e.condition(c)).transpose()?;
            let put = Put::builder()
                .table_name(table)
                .set_item(Some(to_attr_map(item)?))
                .set_condition_expression(cond)
                .set_expression_attribute_names(e.names())
                .set_expression_attribute_values(e.values())
                .build()
                .map_err(|err| AdapterError::Invalid(err.to_string()))?;
            TransactWriteItem::builder().put(put).build()
        }
        TxOp::Update { key, update, condition } => {
            let expr = e.update(update)?;
            let cond = e.update_condition(condition.as_ref())?;
            let upd = DdbUpdate::builder()
                .table_name(table)
                .set_key(Some(key_map(key)))
                .update_expression(expr)
                .condition_expression(cond)
                .set_expression_attribute_names(e.names())
                .set_expression_attribute_values(e.values())
                .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
                .build()
                .map_err(|err| AdapterError::Invalid(err.to_string()))?;
            TransactWriteItem::builder().update(upd).build()
        }
        TxOp::Delete { key, condition } => {
            let cond = condition.as_ref().map(|c| e.condition(c)).transpose()?;
            let del = Delete::builder()
                .table_name(table)
                .set_key(Some(key_map(key)))
                .set_condition_expression(cond)
                .set_expression_attribute_names(e.names())
                .set_expression_attribute_values(e.values())
                .build()
                .map_err(|err| AdapterError::Invalid(err.to_string()))?;
            TransactWriteItem::builder().delete(del).build()
        }
        TxOp::Check { key, condition } => {
            let cond = e.condition(condition)?;
            let chk = ConditionCheck::builder()
                .table_name(table)
                .set_key(Some(key_map(key)))
                .condition_expression(cond)
                .set_expression_attribute_names(e.names())
                .set_expression_attribute_values(e.values())
                .build()
                .map_err(|err| AdapterError::Invalid(err.to_string()))?;
            TransactWriteItem::builder().condition_check(chk).build()
        }
    };
    Ok(built)
}

fn is_conditional_failure<E: aws_smithy_types::error::metadata::ProvideErrorMetadata>(e: &E) -> bool {
    e.code() == Some("ConditionalCheckFailedException")
}

#[async_trait]
impl Table for DynamoTable {
    async fn get(&self, key: &Key) -> Result<Option<Item>> {
        validate_key(key)?;
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key_map(key)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| classify(&e))?;
        match out.item {
            None => Ok(None),
            Some(map) => Ok(Some(from_attr_map(map)?).filter(|i| !i.is_expired(now()))),
        }
    }

    async fn put(&self, item: Item, condition: Option<Condition>) -> Result<()> {
        item.validate()?;
        let mut e = Expr::default();
        let cond = condition.as_ref().map(|c| e.condition(c)).transpose()?;
        let res = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(to_attr_map(&item)?))
            .set_condition_expression(cond)
            .set_expression_attribute_names(e.names())
            .set_expression_attribute_values(e.values())
            .send()
            .await;
        match res {
            Ok(_) => Ok(()),
            Err(err) if err.as_service_error().is_some_and(is_conditional_failure) => {
                Err(AdapterError::ConditionFailed)
            }
            Err(err) => Err(classify(&err)),
        }
    }

    async fn update(&self, key: &Key, update: Update, condition: Option<Condition>) -> Result<Item> {
        use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
        validate_key(key)?;
        update.validate()?;
        for attempt in 1..=EXPIRED_RETRIES {
            let mut e = Expr::default();
            let expr = e.update(&update)?;
            let cond = e.update_condition(condition.as_ref())?;
            let res = self
                .client
                .update_item()
                .table_name(&self.table)
                .set_key(Some(key_map(key)))
                .update_expression(expr)
                .condition_expression(cond)
                .set_expression_attribute_names(e.names())
                .set_expression_attribute_values(e.values())
                .return_values(ReturnValue::AllNew)
                .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
                .send()
                .await;
            match res {
                Ok(out) => return from_attr_map(out.attributes.unwrap_or_default()),
                Err(err) => match err.as_service_error() {
                    Some(UpdateItemError::ConditionalCheckFailedException(ex)) => {
                        // An expired item counts as absent: remove it, then update as if it never was.
                        let old = ex.item().cloned().map(from_attr_map).transpose()?;
                        if attempt < EXPIRED_RETRIES && old.is_some_and(|o| o.is_expired(now())) {
                            self.remove_expired(key).await?;
                            continue;
                        }
                        return Err(AdapterError::ConditionFailed);
                    }
                    _ => return Err(classify(&err)),
                },
            }
        }
        Err(AdapterError::ConditionFailed)
    }

    async fn delete(&self, key: &Key, condition: Option<Condition>) -> Result<bool> {
        validate_key(key)?;
        let mut e = Expr::default();
        let cond = condition.as_ref().map(|c| e.condition(c)).transpose()?;
        let res = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key_map(key)))
            .set_condition_expression(cond)
            .set_expression_attribute_names(e.names())
            .set_expression_attribute_values(e.values())
            .return_values(ReturnValue::AllOld)
            .send()
            .await;
        match res {
            Ok(out) => Ok(out.attributes.map(from_attr_map).transpose()?.is_some_and(|old| !old.is_expired(now()))),
            Err(err) if err.as_service_error().is_some_and(is_conditional_failure) => {
                Err(AdapterError::ConditionFailed)
            }
            Err(err) => Err(classify(&err)),
        }
    }

    async fn query(&self, query: Query) -> Result<Page> {
        if query.partition.is_empty() {
            return Err(AdapterError::Invalid("query partition must not be empty".into()));
        }
        let limit = query.effective_limit()?;
        let (pk_col, sk_col, index) = match query.index {
            Index::Primary => ("PK", "SK", None),
            Index::Gsi1 => ("GSI1PK", "GSI1SK", Some(GSI1)),
        };
        let mut e = Expr::default();
        let pk = e.name(pk_col);
        let pv = e.value(s(&query.partition));
        let mut key_cond = format!("{pk} = {pv}");
        if let Some(sc) = sort_condition(&mut e, sk_col, &query.sort) {
            key_cond.push_str(&format!(" AND {sc}"));
        }
        let ttl = e.name(TTL_ATTR);
        let nowv = e.value(AttributeValue::N(now().to_string()));
        let filter = format!("attribute_not_exists({ttl}) OR {ttl} > {nowv}");
        let start = match &query.cursor {
            None => None,
            Some(c) => {
                let last = c.decode()?;
                let mut m = key_map(&Key { pk: last.pk, sk: last.sk });
                if index.is_some() {
                    let (gpk, gsk) =
                        last.gsi1pk.zip(last.gsi1sk).ok_or_else(|| AdapterError::Invalid("malformed cursor".into()))?;
                    m.insert("GSI1PK".into(), s(&gpk));
                    m.insert("GSI1SK".into(), s(&gsk));
                }
                Some(m)
            }
        };
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .set_index_name(index.map(str::to_owned))
            .key_condition_expression(key_cond)
            .filter_expression(filter)
            .set_expression_attribute_names(e.names())
            .set_expression_attribute_values(e.values())
            .limit(limit as i32)
            .scan_index_forward(query.direction == Direction::Forward)
            .set_exclusive_start_key(start)
            .set_consistent_read(index.is_none().then_some(true))
            .send()
            .await
            .map_err(|e| classify(&e))?;
        let items = out.items.unwrap_or_default().into_iter().map(from_attr_map).collect::<Result<Vec<_>>>()?;
        let cursor = out.last_evaluated_key.map(|mut m| {
            Cursor::encode(&LastKey {
                pk: take_s(&mut m, "PK").unwrap_or_default(),
                sk: take_s(&mut m, "SK").unwrap_or_default(),
                gsi1pk: take_s(&mut m, "GSI1PK"),
                gsi1sk: take_s(&mut m, "GSI1SK"),
            })
        });
        Ok(Page { items, cursor })
    }

    async fn transact_write(&self, ops: Vec<TxOp>) -> Result<()> {
        validate_transaction(&ops)?;
        let items = ops.iter().map(|op| build_tx_item(&self.table, op)).collect::<Result<Vec<_>>>()?;
        for attempt in 1..=EXPIRED_RETRIES {
            match self.client.transact_write_items().set_transact_items(Some(items.clone())).send().await {
                Ok(_) => return Ok(()),
                Err(err) => {
                    // Updates refuse to merge into expired items; remove those and try again.
                    let expired = err.as_service_error().map(expired_blockers).unwrap_or_default();
                    if attempt < EXPIRED_RETRIES && !expired.is_empty() {
                        for key in &expired {
                            self.remove_expired(key).await?;
                        }
                        continue;
                    }
                    return match err.as_service_error().and_then(cancel_reasons) {
                        Some(reasons) => Err(AdapterError::TransactionCanceled { reasons }),
                        None => Err(classify(&err)),
                    };
                }
            }
        }
        Err(AdapterError::Unavailable("transaction kept meeting expired items".into()))
    }

    async fn batch_write(&self, ops: Vec<BatchOp>) -> Result<()> {
        let mut requests = Vec::with_capacity(ops.len());
        for op in &ops {
            requests.push(match op {
                BatchOp::Put(item) => {
                    item.validate()?;
                    let put = PutRequest::builder()
                        .set_item(Some(to_attr_map(item)?))
                        .build()
                        .map_err(|e| AdapterError::Invalid(e.to_string()))?;
                    WriteRequest::builder().put_request(put).build()
                }
                BatchOp::Delete(key) => {
                    validate_key(key)?;
                    let del = DeleteRequest::builder()
                        .set_key(Some(key_map(key)))
                        .build()
                        .map_err(|e| AdapterError::Invalid(e.to_string()))?;
                    WriteRequest::builder().delete_request(del).build()
                }
            });
        }
        for chunk in requests.chunks(MAX_BATCH_WRITE) {
            let mut pending = chunk.to_vec();
            let mut attempt = 0u32;
            while !pending.is_empty() {
                let out = self
                    .client
                    .batch_write_item()
                    .request_items(&self.table, pending)
                    .send()
                    .await
                    .map_err(|e| classify(&e))?;
                pending = out.unprocessed_items.and_then(|mut m| m.remove(&self.table)).unwrap_or_default();
                attempt += 1;
                if !pending.is_empty() {
                    if attempt >= 8 {
                        return Err(classify_code(
                            Some("ProvisionedThroughputExceededException"),
                            Some(&format!("{} items unprocessed after {attempt} attempts", pending.len())),
                            None,
                        ));
                    }
                    tokio::time::sleep(Duration::from_millis(50 << attempt.min(6))).await;
                }
            }
        }
        Ok(())
    }

    async fn probe(&self) -> Result<()> {
        self.client.describe_table().table_name(&self.table).send().await.map_err(|e| classify(&e))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attribute_map_round_trip_keeps_reserved_fields_apart() {
        let item = Item::new(Key::new("P", "S"))
            .with("name", "x")
            .with("count", 3)
            .with("nested", serde_json::json!({"a": [1, "b", true, null]}))
            .indexed(Key::new("G", "H"))
            .expiring_at(1_900_000_000);
        let map = to_attr_map(&item).unwrap();
        assert_eq!(map.get("GSI1PK"), Some(&s("G")));
        assert_eq!(map.get(TTL_ATTR), Some(&AttributeValue::N("1900000000".into())));
        assert_eq!(from_attr_map(map).unwrap(), item);
    }

    #[test]
    fn expressions_use_placeholders_only() {
        let mut e = Expr::default();
        let c = e.condition(&Condition::AttributeEquals("state; DROP".into(), Value::from("x"))).unwrap();
        assert!(!c.contains("DROP"), "{c}");
        let u = e.update(&Update::default().set("a", 1).add("n", 2).remove("r")).unwrap();
        assert!(u.starts_with("SET ") && u.contains(" REMOVE ") && u.contains(" ADD "), "{u}");
    }
}
