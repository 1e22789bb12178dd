//! The embedded Table adapter: one SQLite file (WAL journal, `synchronous=FULL`, so every commit is
//! durable and a crash never leaves a half-applied write). It evaluates the port's typed conditions,
//! updates and queries itself, with the same limits and TTL semantics as the DynamoDB adapter.

use std::path::Path;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension, Transaction, params, params_from_iter};
use serde_json::{Map, Value};

use super::{
    BatchOp, Condition, Cursor, Direction, Index, Item, Key, LastKey, MAX_BATCH_WRITE, Page, Query, SortKey, Table,
    TxOp, Update, validate_key, validate_transaction,
};
use crate::error::CancelReason;
use crate::{AdapterError, Result};

/// SQLite-backed table.
#[derive(Clone)]
pub struct EmbeddedTable {
    conn: Arc<Mutex<Connection>>,
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

const SCHEMA: &str = "
PRAGMA journal_mode = WAL;
PRAGMA synchronous = FULL;
CREATE TABLE IF NOT EXISTS items (
    pk TEXT NOT NULL,
    sk TEXT NOT NULL,
    gsi1pk TEXT,
    gsi1sk TEXT,
    expires_at INTEGER,
    body TEXT NOT NULL,
    PRIMARY KEY (pk, sk)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS items_gsi1 ON items (gsi1pk, gsi1sk, pk, sk) WHERE gsi1pk IS NOT NULL;
CREATE INDEX IF NOT EXISTS items_ttl ON items (expires_at) WHERE expires_at IS NOT NULL;
";

impl EmbeddedTable {
    /// Opens (creating if needed) the table file `table.db` in `dir`.
    pub fn open(dir: &Path) -> Result<Self> {
        std::fs::create_dir_all(dir)?;
        let conn = Connection::open(dir.join("table.db"))?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        conn.execute_batch(SCHEMA)?;
        conn.execute("DELETE FROM items WHERE expires_at IS NOT NULL AND expires_at <= ?1", [now()])?;
        Ok(Self { conn: Arc::new(Mutex::new(conn)) })
    }

    async fn with_conn<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let conn = self.conn.clone();
        tokio::task::spawn_blocking(move || {
            let mut guard = conn.lock().map_err(|_| AdapterError::Storage("table lock poisoned".into()))?;
            f(&mut guard)
        })
        .await?
    }

    /// Physically removes expired items (reads already ignore them).
    pub async fn purge_expired(&self) -> Result<usize> {
        self.with_conn(|c| {
            Ok(c.execute("DELETE FROM items WHERE expires_at IS NOT NULL AND expires_at <= ?1", [now()])?)
        })
        .await
    }
}

fn row_to_item(row: &rusqlite::Row<'_>) -> rusqlite::Result<Item> {
    let body: String = row.get(5)?;
    let attrs: Map<String, Value> = serde_json::from_str(&body).unwrap_or_default();
    let gsi1pk: Option<String> = row.get(2)?;
    let gsi1sk: Option<String> = row.get(3)?;
    Ok(Item {
        key: Key { pk: row.get(0)?, sk: row.get(1)? },
        gsi1: gsi1pk.zip(gsi1sk).map(|(pk, sk)| Key { pk, sk }),
        expires_at: row.get(4)?,
        attrs,
    })
}

const COLUMNS: &str = "pk, sk, gsi1pk, gsi1sk, expires_at, body";

fn load(tx: &Transaction<'_>, key: &Key) -> Result<Option<Item>> {
    let item = tx
        .query_row(
            &format!("SELECT {COLUMNS} FROM items WHERE pk = ?1 AND sk = ?2"),
            params![key.pk, key.sk],
            row_to_item,
        )
        .optional()?;
    Ok(item.filter(|i| !i.is_expired(now())))
}

fn store(tx: &Transaction<'_>, item: &Item) -> Result<()> {
    let body = serde_json::to_string(&item.attrs).map_err(|e| AdapterError::Invalid(e.to_string()))?;
    tx.execute(
        "INSERT OR REPLACE INTO items (pk, sk, gsi1pk, gsi1sk, expires_at, body) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![
            item.key.pk,
            item.key.sk,
            item.gsi1.as_ref().map(|g| &g.pk),
            item.gsi1.as_ref().map(|g| &g.sk),
            item.expires_at,
            body
        ],
    )?;
    Ok(())
}

fn remove(tx: &Transaction<'_>, key: &Key) -> Result<bool> {
    Ok(tx.execute("DELETE FROM items WHERE pk = ?1 AND sk = ?2", params![key.pk, key.sk])? > 0)
}

/// Whether `condition` holds for the current (unexpired) item.
pub(crate) fn condition_holds(condition: &Condition, current: Option<&Item>) -> bool {
    match (condition, current) {
        (Condition::NotExists, current) => current.is_none(),
        (Condition::Exists, current) => current.is_some(),
        (Condition::VersionEquals(v), Some(item)) => item.version() == Some(*v),
        (Condition::AttributeEquals(name, value), Some(item)) => item.attrs.get(name) == Some(value),
        (_, None) => false,
    }
}

/// Applies an update to the current item (or a fresh one), as DynamoDB's `UpdateItem` would.
pub(crate) fn apply_update(key: &Key, current: Option<Item>, update: &Update) -> Result<Item> {
    let mut item = current.unwrap_or_else(|| Item::new(key.clone()));
    for (name, value) in &update.set {
        item.attrs.insert(name.clone(), value.clone());
    }
    for name in &update.remove {
        item.attrs.remove(name);
    }
    for (name, delta) in &update.add {
        let base = match item.attrs.get(name) {
            None => 0,
            Some(v) => {
                v.as_i64().ok_or_else(|| AdapterError::Invalid(format!("attribute {name} is not an integer")))?
            }
        };
        let sum =
            base.checked_add(*delta).ok_or_else(|| AdapterError::Invalid(format!("attribute {name} overflows")))?;
        item.attrs.insert(name.clone(), Value::from(sum));
    }
    if let Some(g) = &update.gsi1 {
        item.gsi1 = Some(g.clone());
    }
    if let Some(t) = update.expires_at {
        item.expires_at = Some(t);
    }
    item.validate()?;
    Ok(item)
}

fn check(condition: Option<&Condition>, current: Option<&Item>) -> Result<()> {
    match condition {
        Some(c) if !condition_holds(c, current) => Err(AdapterError::ConditionFailed),
        _ => Ok(()),
    }
}

fn apply_op(tx: &Transaction<'_>, op: &TxOp) -> Result<()> {
    match op {
        TxOp::Put { item, .. } => store(tx, item),
        TxOp::Update { key, update, .. } => {
            let next = apply_update(key, load(tx, key)?, update)?;
            store(tx, &next)
        }
        TxOp::Delete { key, .. } => remove(tx, key).map(|_| ()),
        TxOp::Check { .. } => Ok(()),
    }
}

fn op_condition(op: &TxOp) -> Option<&Condition> {
    match op {
        TxOp::Put { condition, .. } | TxOp::Update { condition, .. } | TxOp::Delete { condition, .. } => {
            condition.as_ref()
        }
        TxOp::Check { condition, .. } => Some(condition),
    }
}

fn sort_clause(column: &str, sort: &SortKey, args: &mut Vec<String>) -> String {
    let mut push = |v: &str| {
        args.push(v.to_owned());
        format!("?{}", args.len())
    };
    match sort {
        SortKey::Any => String::new(),
        SortKey::Eq(v) => format!(" AND {column} = {}", push(v)),
        SortKey::BeginsWith(p) => {
            let a = push(p);
            format!(" AND {column} >= {a} AND substr({column}, 1, length({a})) = {a}")
        }
        SortKey::Between(a, b) => {
            let (a, b) = (push(a), push(b));
            format!(" AND {column} BETWEEN {a} AND {b}")
        }
        SortKey::Gt(v) => format!(" AND {column} > {}", push(v)),
        SortKey::Ge(v) => format!(" AND {column} >= {}", push(v)),
        SortKey::Lt(v) => format!(" AND {column} < {}", push(v)),
        SortKey::Le(v) => format!(" AND {column} <= {}", push(v)),
    }
}

fn run_query(conn: &Connection, q: &Query) -> Result<Page> {
    let limit = q.effective_limit()?;
    let last = q.cursor.as_ref().map(Cursor::decode).transpose()?;
    let mut args: Vec<String> = vec![q.partition.clone()];
    let (order_op, order) = match q.direction {
        Direction::Forward => (">", "ASC"),
        Direction::Backward => ("<", "DESC"),
    };
    let sql = match q.index {
        Index::Primary => {
            let mut sql = format!("SELECT {COLUMNS} FROM items WHERE pk = ?1{}", sort_clause("sk", &q.sort, &mut args));
            if let Some(last) = &last {
                args.push(last.sk.clone());
                sql.push_str(&format!(" AND sk {order_op} ?{}", args.len()));
            }
            sql + &format!(" AND (expires_at IS NULL OR expires_at > {}) ORDER BY sk {order}", now())
        }
        Index::Gsi1 => {
            let mut sql =
                format!("SELECT {COLUMNS} FROM items WHERE gsi1pk = ?1{}", sort_clause("gsi1sk", &q.sort, &mut args));
            if let Some(last) = &last {
                let gsk = last.gsi1sk.clone().ok_or_else(|| AdapterError::Invalid("malformed cursor".into()))?;
                args.extend([gsk, last.pk.clone(), last.sk.clone()]);
                let n = args.len();
                sql.push_str(&format!(" AND (gsi1sk, pk, sk) {order_op} (?{}, ?{}, ?{n})", n - 2, n - 1));
            }
            sql + &format!(
                " AND (expires_at IS NULL OR expires_at > {}) ORDER BY gsi1sk {order}, pk {order}, sk {order}",
                now()
            )
        }
    };
    let sql = format!("{sql} LIMIT {}", limit + 1);
    let mut stmt = conn.prepare_cached(&sql)?;
    let mut items: Vec<Item> =
        stmt.query_map(params_from_iter(args.iter()), row_to_item)?.collect::<rusqlite::Result<_>>()?;
    let more = items.len() > limit as usize;
    items.truncate(limit as usize);
    let cursor = if more {
        items.last().map(|i| {
            Cursor::encode(&LastKey {
                pk: i.key.pk.clone(),
                sk: i.key.sk.clone(),
                gsi1pk: i.gsi1.as_ref().map(|g| g.pk.clone()),
                gsi1sk: i.gsi1.as_ref().map(|g| g.sk.clone()),
            })
        })
    } else {
        None
    };
    Ok(Page { items, cursor })
}

#[async_trait]
impl Table for EmbeddedTable {
    async fn get(&self, key: &Key) -> Result<Option<Item>> {
        validate_key(key)?;
        let key = key.clone();
        self.with_conn(move |c| {
            let tx = c.transaction()?;
            load(&tx, &key)
        })
        .await
    }

    async fn put(&self, item: Item, condition: Option<Condition>) -> Result<()> {
        item.validate()?;
        self.with_conn(move |c| {
            let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            check(condition.as_ref(), load(&tx, &item.key)?.as_ref())?;
            store(&tx, &item)?;
            tx.commit()?;
            Ok(())
        })
        .await
    }

    async fn update(&self, key: &Key, update: Update, condition: Option<Condition>) -> Result<Item> {
        validate_key(key)?;
        update.validate()?;
        let key = key.clone();
        self.with_conn(move |c| {
            let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            let current = load(&tx, &key)?;
            check(condition.as_ref(), current.as_ref())?;
            let next = apply_update(&key, current, &update)?;
            store(&tx, &next)?;
            tx.commit()?;
            Ok(next)
        })
        .await
    }

    async fn delete(&self, key: &Key, condition: Option<Condition>) -> Result<bool> {
        validate_key(key)?;
        let key = key.clone();
        self.with_conn(move |c| {
            let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            let current = load(&tx, &key)?;
            check(condition.as_ref(), current.as_ref())?;
            remove(&tx, &key)?;
            tx.commit()?;
            Ok(current.is_some())
        })
        .await
    }

    async fn query(&self, query: Query) -> Result<Page> {
        if query.partition.is_empty() {
            return Err(AdapterError::Invalid("query partition must not be empty".into()));
        }
        self.with_conn(move |c| run_query(c, &query)).await
    }

    async fn transact_write(&self, ops: Vec<TxOp>) -> Result<()> {
        validate_transaction(&ops)?;
        self.with_conn(move |c| {
            let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            let mut reasons = Vec::with_capacity(ops.len());
            for op in &ops {
                let current = load(&tx, op.key())?;
                let ok = op_condition(op).is_none_or(|cond| condition_holds(cond, current.as_ref()));
                reasons.push(if ok { CancelReason::None } else { CancelReason::ConditionFailed });
            }
            if reasons.iter().any(|r| *r != CancelReason::None) {
                return Err(AdapterError::TransactionCanceled { reasons });
            }
            for op in &ops {
                apply_op(&tx, op)?;
            }
            tx.commit()?;
            Ok(())
        })
        .await
    }

    async fn batch_write(&self, ops: Vec<BatchOp>) -> Result<()> {
        for op in &ops {
            match op {
                BatchOp::Put(item) => item.validate()?,
                BatchOp::Delete(key) => validate_key(key)?,
            }
        }
        for chunk in ops.chunks(MAX_BATCH_WRITE) {
            let mut seen = std::collections::HashSet::new();
            for op in chunk {
                let key = match op {
                    BatchOp::Put(i) => &i.key,
                    BatchOp::Delete(k) => k,
                };
                if !seen.insert(key.clone()) {
                    return Err(AdapterError::Invalid(format!("a batch may touch {}/{} only once", key.pk, key.sk)));
                }
            }
        }
        self.with_conn(move |c| {
            for chunk in ops.chunks(MAX_BATCH_WRITE) {
                let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
                for op in chunk {
                    match op {
                        BatchOp::Put(item) => store(&tx, item)?,
                        BatchOp::Delete(key) => {
                            remove(&tx, key)?;
                        }
                    }
                }
                tx.commit()?;
            }
            Ok(())
        })
        .await
    }

    async fn probe(&self) -> Result<()> {
        self.with_conn(|c| {
            c.query_row("SELECT count(*) FROM items WHERE pk = 'SYSTEM' AND sk = 'HEALTH'", [], |r| {
                r.get::<_, i64>(0)
            })?;
            Ok(())
        })
        .await
    }
}
