//! Contract suite for the Table port. Every assertion function runs twice: against the embedded
//! adapter (SQLite in a temporary directory) and against DynamoDB in moto (a table of its own,
//! provisioned from the template by `kushim_testkit::fresh_stack`). Test names read
//! `embedded::<case>` and `dynamo::<case>`, so a failure names the adapter.

mod common;

use std::collections::HashSet;

use common::{assert_condition_failed, assert_invalid};
use kushim_adapters::AdapterError;
use kushim_adapters::error::CancelReason;
use kushim_adapters::table::{
    BatchOp, Condition, Item, Key, MAX_ITEM_BYTES, MAX_TRANSACT_ITEMS, Query, SortKey, Table, TxOp, Update,
};
use serde_json::{Value, json};

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

fn key(pk: &str, sk: &str) -> Key {
    Key::new(pk, sk)
}

async fn get(table: &dyn Table, k: &Key) -> Option<Item> {
    table.get(k).await.unwrap_or_else(|e| panic!("get {}/{}: {e}", k.pk, k.sk))
}

/// Follows cursors until the last page; returns every item's sort key and the number of pages.
async fn collect_pages(table: &dyn Table, query: Query) -> (Vec<String>, usize) {
    let mut sort_keys = Vec::new();
    let mut cursor = None;
    let mut pages = 0;
    loop {
        let page = table.query(query.clone().after(cursor)).await.unwrap();
        pages += 1;
        assert!(pages <= 50, "pagination does not end");
        if let Some(limit) = query.limit {
            assert!(page.items.len() <= limit as usize, "a page holds at most `limit` items");
        }
        sort_keys.extend(page.items.iter().map(|i| i.key.sk.clone()));
        match page.cursor {
            Some(c) => cursor = Some(c),
            None => return (sort_keys, pages),
        }
    }
}

async fn sort_keys(table: &dyn Table, query: Query) -> Vec<String> {
    table.query(query).await.unwrap().items.into_iter().map(|i| i.key.sk).collect()
}

// ---- Shared contract: each runs against both adapters. ----

async fn round_trip_keeps_every_attribute(table: &dyn Table) {
    // GIVEN an item with nested JSON, numbers, booleans, null, GSI keys and a future TTL
    let expires = now() + 3600;
    let item = Item::new(key("TENANT#acme", "RUN#0001"))
        .with("name", "quarterly ünïcødé ✓")
        .with("count", 42)
        .with("negative", -7)
        .with("ratio", 1.5)
        .with("flag", false)
        .with("on", true)
        .with("nothing", Value::Null)
        .with("nested", json!({"a": [1, "two", true, null, {"deep": -3}], "b": {"c": "d"}}))
        .indexed(key("STATE#open", "2026-01-01T00:00:00Z"))
        .expiring_at(expires);
    // WHEN it is written and read back
    table.put(item.clone(), None).await.unwrap();
    let read = get(table, &item.key).await.expect("the item just written");
    // THEN it is exactly what was written
    assert_eq!(read, item);
    assert_eq!(read.expires_at, Some(expires));
    assert_eq!(read.gsi1, Some(key("STATE#open", "2026-01-01T00:00:00Z")));
    // AND a parse into a typed record sees the numbers as numbers
    #[derive(serde::Deserialize)]
    struct Typed {
        count: u32,
        ratio: f64,
        flag: bool,
    }
    let typed: Typed = read.parse().unwrap();
    assert_eq!((typed.count, typed.ratio, typed.flag), (42, 1.5, false));
    // AND another key is still absent
    assert_eq!(get(table, &key("TENANT#acme", "RUN#0002")).await, None);
    table.probe().await.unwrap();
}

async fn put_replaces_the_whole_item(table: &dyn Table) {
    // GIVEN an item with two attributes and a GSI key
    let k = key("P", "replace");
    table.put(Item::new(k.clone()).with("a", 1).with("b", 2).indexed(key("G", "1")), None).await.unwrap();
    // WHEN it is put again with one attribute and no index key
    table.put(Item::new(k.clone()).with("a", 10), None).await.unwrap();
    // THEN only the new item remains
    assert_eq!(get(table, &k).await, Some(Item::new(k.clone()).with("a", 10)));
    assert!(table.query(Query::gsi1("G")).await.unwrap().items.is_empty(), "the old index entry is gone");
}

async fn not_exists_refuses_a_second_put(table: &dyn Table) {
    // GIVEN an item written with NotExists
    let k = key("P", "once");
    table.put(Item::new(k.clone()).with("n", 1), Some(Condition::NotExists)).await.unwrap();
    // WHEN a second put with NotExists is attempted
    let second = table.put(Item::new(k.clone()).with("n", 2), Some(Condition::NotExists)).await;
    // THEN it is refused and the first item is untouched
    assert_condition_failed(second);
    assert_eq!(get(table, &k).await.unwrap().attrs["n"], json!(1));
    // AND NotExists on an update is refused too
    assert_condition_failed(table.update(&k, Update::default().set("n", 3), Some(Condition::NotExists)).await);
    assert_eq!(get(table, &k).await.unwrap().attrs["n"], json!(1));
}

async fn version_equals_is_optimistic_locking(table: &dyn Table) {
    // GIVEN an item at version 1
    let k = key("P", "versioned");
    table
        .put(Item::new(k.clone()).with("version", 1).with("state", "draft"), Some(Condition::NotExists))
        .await
        .unwrap();
    // WHEN a writer that read version 1 updates it and bumps the version
    let after = table
        .update(&k, Update::default().set("state", "final").add("version", 1), Some(Condition::VersionEquals(1)))
        .await
        .unwrap();
    // THEN the update returns the new item at version 2
    assert_eq!(after.version(), Some(2));
    assert_eq!(after.attrs["state"], json!("final"));
    // AND a second writer that also read version 1 is refused, leaving version 2 alone
    let stale = table
        .update(&k, Update::default().set("state", "stale").add("version", 1), Some(Condition::VersionEquals(1)))
        .await;
    assert_condition_failed(stale);
    let stored = get(table, &k).await.unwrap();
    assert_eq!((stored.version(), stored.attrs["state"].clone()), (Some(2), json!("final")));
    // AND a whole-item put guarded by the current version succeeds
    table
        .put(Item::new(k.clone()).with("version", 3).with("state", "rewritten"), Some(Condition::VersionEquals(2)))
        .await
        .unwrap();
    assert_eq!(get(table, &k).await.unwrap().version(), Some(3));
    // AND VersionEquals on a missing item fails without creating it
    let missing = key("P", "no-such-version");
    assert_condition_failed(
        table.update(&missing, Update::default().set("x", 1), Some(Condition::VersionEquals(0))).await,
    );
    assert_eq!(get(table, &missing).await, None);
}

async fn attribute_equals_guards_writes(table: &dyn Table) {
    // GIVEN an open item
    let k = key("P", "attr");
    table.put(Item::new(k.clone()).with("state", "open").with("attempts", 2), None).await.unwrap();
    // WHEN a write requires another state
    let wrong = table
        .update(
            &k,
            Update::default().set("state", "closed"),
            Some(Condition::AttributeEquals("state".into(), json!("closed"))),
        )
        .await;
    // THEN it is refused
    assert_condition_failed(wrong);
    // AND a numeric attribute of the wrong value is refused too
    let wrong_number = table
        .update(
            &k,
            Update::default().set("state", "closed"),
            Some(Condition::AttributeEquals("attempts".into(), json!(3))),
        )
        .await;
    assert_condition_failed(wrong_number);
    assert_eq!(get(table, &k).await.unwrap().attrs["state"], json!("open"));
    // WHEN the condition names the current values
    table
        .update(
            &k,
            Update::default().set("state", "closed"),
            Some(Condition::AttributeEquals("state".into(), json!("open"))),
        )
        .await
        .unwrap();
    // THEN the write happens
    assert_eq!(get(table, &k).await.unwrap().attrs["state"], json!("closed"));
    // AND a missing attribute equals no value
    assert_condition_failed(
        table.put(Item::new(k.clone()), Some(Condition::AttributeEquals("absent".into(), json!("open")))).await,
    );
    assert_eq!(get(table, &k).await.unwrap().attrs["state"], json!("closed"));
}

async fn exists_fails_on_a_missing_item(table: &dyn Table) {
    let k = key("P", "ghost");
    // WHEN each kind of write requires a missing item to exist
    assert_condition_failed(table.put(Item::new(k.clone()).with("a", 1), Some(Condition::Exists)).await);
    assert_condition_failed(table.update(&k, Update::default().set("a", 1), Some(Condition::Exists)).await);
    assert_condition_failed(table.delete(&k, Some(Condition::Exists)).await);
    // THEN nothing was created
    assert_eq!(get(table, &k).await, None);
    // AND once the item exists, Exists holds
    table.put(Item::new(k.clone()).with("a", 1), None).await.unwrap();
    table.put(Item::new(k.clone()).with("a", 2), Some(Condition::Exists)).await.unwrap();
    assert_eq!(get(table, &k).await.unwrap().attrs["a"], json!(2));
}

async fn delete_honours_its_condition(table: &dyn Table) {
    // GIVEN a running item
    let k = key("P", "deletable");
    table.put(Item::new(k.clone()).with("state", "running"), None).await.unwrap();
    // WHEN a delete requires it to be done
    let refused = table.delete(&k, Some(Condition::AttributeEquals("state".into(), json!("done")))).await;
    // THEN it is refused and the item stays
    assert_condition_failed(refused);
    assert!(get(table, &k).await.is_some());
    // WHEN the condition holds
    let deleted = table.delete(&k, Some(Condition::AttributeEquals("state".into(), json!("running")))).await.unwrap();
    // THEN the item is gone and the delete says one was there
    assert!(deleted);
    assert_eq!(get(table, &k).await, None);
    // AND deleting it again says nothing was there
    assert!(!table.delete(&k, None).await.unwrap());
}

async fn update_creates_adds_and_removes(table: &dyn Table) {
    let k = key("P", "counter");
    // WHEN a missing item is updated
    let created =
        table.update(&k, Update::default().set("label", "jobs").set("tmp", "x").add("count", 5), None).await.unwrap();
    // THEN it is created with the set values and the added count (missing counts as 0)
    assert_eq!(created.attrs["count"], json!(5));
    assert_eq!(created.attrs["label"], json!("jobs"));
    // WHEN the counter is added to twice, once negatively, and an attribute is removed
    table.update(&k, Update::default().add("count", 10), None).await.unwrap();
    let after = table.update(&k, Update::default().add("count", -3).remove("tmp"), None).await.unwrap();
    // THEN the returned item and the stored item agree on the result
    assert_eq!(after.attrs["count"], json!(12));
    assert!(!after.attrs.contains_key("tmp"));
    let stored = get(table, &k).await.unwrap();
    assert_eq!(stored, after);
    assert_eq!(stored.attrs.get("label"), Some(&json!("jobs")), "untouched attributes stay");
    // AND an update can set index keys and a TTL
    let expires = now() + 600;
    let update = Update { gsi1: Some(key("G", "counter")), expires_at: Some(expires), ..Update::default() };
    let indexed = table.update(&k, update, None).await.unwrap();
    assert_eq!((indexed.gsi1.clone(), indexed.expires_at), (Some(key("G", "counter")), Some(expires)));
    assert_eq!(sort_keys(table, Query::gsi1("G")).await, ["counter"]);
    // AND an update that changes nothing, or names an attribute twice, is refused
    assert_invalid(table.update(&k, Update::default(), None).await);
    assert_invalid(table.update(&k, Update::default().set("a", 1).remove("a"), None).await);
}

async fn expired_items_are_invisible(table: &dyn Table) {
    // GIVEN an item whose TTL has passed (the backend has not removed it yet) and a live one
    let expired = Item::new(key("TTL", "old")).with("v", "stale").indexed(key("GTTL", "old")).expiring_at(now() - 60);
    let live =
        Item::new(key("TTL", "young")).with("v", "fresh").indexed(key("GTTL", "young")).expiring_at(now() + 3600);
    table.put(expired.clone(), None).await.unwrap();
    table.put(live.clone(), None).await.unwrap();
    // THEN get does not see the expired one
    assert_eq!(get(table, &expired.key).await, None);
    assert_eq!(get(table, &live.key).await, Some(live.clone()));
    // AND neither do queries, on either index
    assert_eq!(sort_keys(table, Query::partition("TTL")).await, ["young"]);
    assert_eq!(sort_keys(table, Query::gsi1("GTTL")).await, ["young"]);
    // AND conditions treat it as absent
    assert_condition_failed(table.update(&expired.key, Update::default().set("v", 1), Some(Condition::Exists)).await);
    assert!(!table.delete(&expired.key, Some(Condition::NotExists)).await.unwrap(), "nothing live was deleted");
    table.put(expired.clone(), None).await.unwrap();
    table.put(Item::new(expired.key.clone()).with("v", "reborn"), Some(Condition::NotExists)).await.unwrap();
    assert_eq!(get(table, &expired.key).await.unwrap().attrs["v"], json!("reborn"));
}

async fn update_of_an_expired_item_starts_afresh(table: &dyn Table) {
    // GIVEN an expired item with an attribute
    let k = key("TTL", "recycled");
    table.put(Item::new(k.clone()).with("old", 1).expiring_at(now() - 60), None).await.unwrap();
    // WHEN it is updated (which creates a missing item)
    let updated = table.update(&k, Update::default().set("new", 2).add("count", 1), None).await.unwrap();
    // THEN the result is a fresh, visible item: nothing of the expired one shows through
    assert_eq!(updated, Item::new(k.clone()).with("new", 2).with("count", 1));
    assert_eq!(get(table, &k).await, Some(updated));
    // AND a conditional update sees it as absent: Exists fails, NotExists holds
    let k2 = key("TTL", "recycled-2");
    table.put(Item::new(k2.clone()).with("old", 1).expiring_at(now() - 60), None).await.unwrap();
    assert_condition_failed(table.update(&k2, Update::default().set("new", 2), Some(Condition::Exists)).await);
    let fresh = table.update(&k2, Update::default().set("new", 3), Some(Condition::NotExists)).await.unwrap();
    assert_eq!(fresh, Item::new(k2.clone()).with("new", 3));
    // AND an update inside a transaction starts afresh too
    let k3 = key("TTL", "recycled-3");
    table.put(Item::new(k3.clone()).with("old", 1).expiring_at(now() - 60), None).await.unwrap();
    table
        .transact_write(vec![
            TxOp::Update { key: k3.clone(), update: Update::default().add("count", 1), condition: None },
            TxOp::Put { item: Item::new(key("TTL", "other")), condition: Some(Condition::NotExists) },
        ])
        .await
        .unwrap();
    assert_eq!(get(table, &k3).await, Some(Item::new(k3.clone()).with("count", 1)));
}

async fn query_narrows_and_orders_by_sort_key(table: &dyn Table) {
    // GIVEN a partition with two kinds of items, written out of order, and a neighbour partition
    let sks = ["B#02", "A#03", "A#01", "B#01", "A#05", "A#02", "A#04"];
    for sk in sks {
        table.put(Item::new(key("Q", sk)).with("sk", sk), None).await.unwrap();
    }
    table.put(Item::new(key("Q2", "A#01")), None).await.unwrap();
    // THEN begins_with lists one kind in ascending order
    assert_eq!(
        sort_keys(table, Query::partition("Q").begins_with("A#")).await,
        ["A#01", "A#02", "A#03", "A#04", "A#05"]
    );
    // AND backward reverses it
    assert_eq!(
        sort_keys(table, Query::partition("Q").begins_with("A#").backward()).await,
        ["A#05", "A#04", "A#03", "A#02", "A#01"]
    );
    // AND between is inclusive at both ends
    let between = Query { sort: SortKey::Between("A#02".into(), "A#04".into()), ..Query::partition("Q") };
    assert_eq!(sort_keys(table, between).await, ["A#02", "A#03", "A#04"]);
    // AND the comparison operators cut where they should
    let cases: [(SortKey, &[&str]); 5] = [
        (SortKey::Eq("A#03".into()), &["A#03"]),
        (SortKey::Gt("A#05".into()), &["B#01", "B#02"]),
        (SortKey::Ge("B#02".into()), &["B#02"]),
        (SortKey::Lt("A#02".into()), &["A#01"]),
        (SortKey::Le("A#02".into()), &["A#01", "A#02"]),
    ];
    for (sort, wanted) in cases {
        let got = sort_keys(table, Query { sort: sort.clone(), ..Query::partition("Q") }).await;
        assert_eq!(got, wanted, "{sort:?}");
    }
    // AND the whole partition comes back in order, without the neighbour's items
    let all = sort_keys(table, Query::partition("Q")).await;
    let mut sorted = sks.to_vec();
    sorted.sort_unstable();
    assert_eq!(all, sorted);
    // AND an empty partition name or a bad limit is refused
    assert_invalid(table.query(Query::partition("")).await);
    assert_invalid(table.query(Query::partition("Q").limit(0)).await);
    assert_invalid(table.query(Query::partition("Q").limit(1001)).await);
}

async fn query_pages_cover_everything_once(table: &dyn Table) {
    // GIVEN 25 items in one partition
    let wanted: Vec<String> = (0..25).map(|i| format!("ITEM#{i:03}")).collect();
    let ops = wanted.iter().map(|sk| BatchOp::Put(Item::new(key("PAGED", sk)).with("i", sk.as_str()))).collect();
    table.batch_write(ops).await.unwrap();
    // WHEN they are read 7 at a time
    let (got, pages) = collect_pages(table, Query::partition("PAGED").limit(7)).await;
    // THEN every item comes exactly once, in order, in 4 pages (a 5th, empty one is allowed)
    assert_eq!(got, wanted);
    assert!((4..=5).contains(&pages), "{pages} pages");
    // AND backwards too
    let (back, _) = collect_pages(table, Query::partition("PAGED").limit(7).backward()).await;
    assert_eq!(back, wanted.iter().rev().cloned().collect::<Vec<_>>());
    // AND a narrowed query pages within its range only
    let (some, _) = collect_pages(table, Query::partition("PAGED").begins_with("ITEM#01").limit(3)).await;
    assert_eq!(some, wanted[10..20].to_vec());
    // AND a page size that divides the count exactly still ends
    let (exact, _) = collect_pages(table, Query::partition("PAGED").limit(5)).await;
    assert_eq!(exact.len(), 25);
    assert_eq!(exact.iter().collect::<HashSet<_>>().len(), 25, "no duplicates");
}

async fn gsi1_query_pages_in_index_order(table: &dyn Table) {
    // GIVEN 12 items in different partitions indexed under one GSI1 partition, and 3 under another
    for i in 0..12 {
        let item = Item::new(key(&format!("TENANT#{}", i % 3), &format!("RUN#{i:02}")))
            .with("i", i)
            .indexed(key("STATE#open", &format!("2026-01-{:02}", 12 - i)));
        table.put(item, None).await.unwrap();
    }
    for i in 0..3 {
        table
            .put(Item::new(key("TENANT#x", &format!("DONE#{i}"))).indexed(key("STATE#done", &format!("{i}"))), None)
            .await
            .unwrap();
    }
    // WHEN the open ones are read 5 at a time from GSI1
    let mut seen = Vec::new();
    let mut cursor = None;
    let mut pages = 0;
    loop {
        let page = table.query(Query::gsi1("STATE#open").limit(5).after(cursor)).await.unwrap();
        pages += 1;
        assert!(pages <= 10, "pagination does not end");
        seen.extend(page.items.iter().map(|i| (i.gsi1.clone().unwrap().sk, i.key.clone())));
        cursor = page.cursor;
        if cursor.is_none() {
            break;
        }
    }
    // THEN all 12 come once, ordered by GSI1SK, with their primary keys
    let index_keys: Vec<String> = seen.iter().map(|(gsk, _)| gsk.clone()).collect();
    let wanted: Vec<String> = (1..=12).map(|d| format!("2026-01-{d:02}")).collect();
    assert_eq!(index_keys, wanted);
    assert_eq!(seen[0].1, key("TENANT#2", "RUN#11"));
    assert_eq!(seen.iter().map(|(_, k)| k).collect::<HashSet<_>>().len(), 12);
    // AND the index can be read backwards with a sort-key range
    let range = Query {
        sort: SortKey::Between("2026-01-03".into(), "2026-01-05".into()),
        ..Query::gsi1("STATE#open").backward()
    };
    let got: Vec<String> = table.query(range).await.unwrap().items.into_iter().map(|i| i.gsi1.unwrap().sk).collect();
    assert_eq!(got, ["2026-01-05", "2026-01-04", "2026-01-03"]);
}

async fn transaction_applies_every_operation(table: &dyn Table) {
    // GIVEN an item to update, one to delete and one to check
    table.put(Item::new(key("TX", "update")).with("n", 1).with("version", 1), None).await.unwrap();
    table.put(Item::new(key("TX", "delete")), None).await.unwrap();
    table.put(Item::new(key("TX", "check")).with("state", "ok"), None).await.unwrap();
    // WHEN one transaction puts, updates, deletes and checks
    table
        .transact_write(vec![
            TxOp::Put { item: Item::new(key("TX", "put")).with("n", 9), condition: Some(Condition::NotExists) },
            TxOp::Update {
                key: key("TX", "update"),
                update: Update::default().add("n", 1).add("version", 1),
                condition: Some(Condition::VersionEquals(1)),
            },
            TxOp::Delete { key: key("TX", "delete"), condition: Some(Condition::Exists) },
            TxOp::Check { key: key("TX", "check"), condition: Condition::AttributeEquals("state".into(), json!("ok")) },
        ])
        .await
        .unwrap();
    // THEN every write is visible
    assert_eq!(get(table, &key("TX", "put")).await.unwrap().attrs["n"], json!(9));
    let updated = get(table, &key("TX", "update")).await.unwrap();
    assert_eq!((updated.attrs["n"].clone(), updated.version()), (json!(2), Some(2)));
    assert_eq!(get(table, &key("TX", "delete")).await, None);
    assert!(get(table, &key("TX", "check")).await.is_some());
}

async fn cancelled_transaction_writes_nothing(table: &dyn Table) {
    // GIVEN an item at version 1 and one to delete
    table.put(Item::new(key("TX", "b")).with("version", 1), None).await.unwrap();
    table.put(Item::new(key("TX", "c")).with("keep", true), None).await.unwrap();
    // WHEN a transaction's second of three operations has a failing condition
    let result = table
        .transact_write(vec![
            TxOp::Put { item: Item::new(key("TX", "a")).with("new", true), condition: Some(Condition::NotExists) },
            TxOp::Update {
                key: key("TX", "b"),
                update: Update::default().add("version", 1),
                condition: Some(Condition::VersionEquals(9)),
            },
            TxOp::Delete { key: key("TX", "c"), condition: None },
        ])
        .await;
    // THEN it is cancelled with one reason per operation
    match result {
        Err(AdapterError::TransactionCanceled { reasons }) => {
            assert_eq!(reasons, [CancelReason::None, CancelReason::ConditionFailed, CancelReason::None]);
        }
        other => panic!("expected TransactionCanceled, got {other:?}"),
    }
    // AND nothing was written
    assert_eq!(get(table, &key("TX", "a")).await, None);
    assert_eq!(get(table, &key("TX", "b")).await.unwrap().version(), Some(1));
    assert!(get(table, &key("TX", "c")).await.is_some());
}

async fn transaction_limits_are_enforced(table: &dyn Table) {
    // WHEN a transaction touches one key twice
    let twice = table
        .transact_write(vec![
            TxOp::Put { item: Item::new(key("TX", "same")), condition: None },
            TxOp::Update { key: key("TX", "same"), update: Update::default().set("a", 1), condition: None },
        ])
        .await;
    // THEN it is refused as invalid and nothing is written
    assert_invalid(twice);
    assert_eq!(get(table, &key("TX", "same")).await, None);
    // AND more than the maximum number of operations is refused too
    let too_many = (0..=MAX_TRANSACT_ITEMS)
        .map(|i| TxOp::Put { item: Item::new(key("TXMANY", &format!("{i:03}"))), condition: None })
        .collect();
    assert_invalid(table.transact_write(too_many).await);
    assert!(table.query(Query::partition("TXMANY")).await.unwrap().items.is_empty());
    // AND so is an empty transaction
    assert_invalid(table.transact_write(Vec::new()).await);
    // AND exactly the maximum is accepted
    let max = (0..MAX_TRANSACT_ITEMS)
        .map(|i| TxOp::Put { item: Item::new(key("TXMAX", &format!("{i:03}"))), condition: None })
        .collect();
    table.transact_write(max).await.unwrap();
    assert_eq!(table.query(Query::partition("TXMAX").limit(1000)).await.unwrap().items.len(), MAX_TRANSACT_ITEMS);
}

async fn batch_write_crosses_the_request_limit(table: &dyn Table) {
    // WHEN 60 items are written in one batch (more than 25, DynamoDB's limit per request)
    let puts = (0..60).map(|i| BatchOp::Put(Item::new(key("BATCH", &format!("{i:02}"))).with("i", i))).collect();
    table.batch_write(puts).await.unwrap();
    // THEN all 60 are stored
    let stored = table.query(Query::partition("BATCH").limit(1000)).await.unwrap().items;
    assert_eq!(stored.len(), 60);
    assert_eq!(stored[59].attrs["i"], json!(59));
    // WHEN all 60 are deleted in one batch
    let deletes = (0..60).map(|i| BatchOp::Delete(key("BATCH", &format!("{i:02}")))).collect();
    table.batch_write(deletes).await.unwrap();
    // THEN none is left
    assert!(table.query(Query::partition("BATCH")).await.unwrap().items.is_empty());
}

async fn reserved_attribute_names_are_refused(table: &dyn Table) {
    let k = key("P", "reserved");
    // WHEN an item or an update uses an attribute name the port owns
    for name in ["PK", "SK", "GSI1PK", "GSI1SK", "expires_at"] {
        assert_invalid(table.put(Item::new(k.clone()).with(name, "x"), None).await);
        assert_invalid(table.update(&k, Update::default().set(name, "x"), None).await);
        assert_invalid(table.update(&k, Update::default().remove(name), None).await);
        assert_invalid(table.update(&k, Update::default().add(name, 1), None).await);
        assert_invalid(
            table.transact_write(vec![TxOp::Put { item: Item::new(k.clone()).with(name, "x"), condition: None }]).await,
        );
        assert_invalid(table.batch_write(vec![BatchOp::Put(Item::new(k.clone()).with(name, "x"))]).await);
    }
    // AND empty keys are refused
    assert_invalid(table.put(Item::new(key("", "s")), None).await);
    assert_invalid(table.get(&key("p", "")).await);
    // THEN nothing was written
    assert_eq!(get(table, &k).await, None);
}

async fn oversized_items_are_refused(table: &dyn Table) {
    let k = key("P", "big");
    // WHEN an item larger than 400 KiB is written
    let huge = "x".repeat(MAX_ITEM_BYTES + 1);
    assert_invalid(table.put(Item::new(k.clone()).with("blob", huge.as_str()), None).await);
    // THEN it is refused and nothing is stored
    assert_eq!(get(table, &k).await, None);
    // AND a large item within the limit is stored whole
    let large = "y".repeat(300 * 1024);
    table.put(Item::new(k.clone()).with("blob", large.as_str()).with("n", 1), None).await.unwrap();
    assert_eq!(get(table, &k).await.unwrap().attrs["blob"].as_str().map(str::len), Some(large.len()));
    // WHEN an update would make it larger than 400 KiB
    let more = "z".repeat(150 * 1024);
    assert_invalid(table.update(&k, Update::default().set("more", more.as_str()).add("n", 1), None).await);
    // THEN it is refused and the item is unchanged
    let stored = get(table, &k).await.unwrap();
    assert!(!stored.attrs.contains_key("more"));
    assert_eq!(stored.attrs["n"], json!(1));
}

/// Runs each shared assertion against a fresh embedded table and a fresh DynamoDB table in moto.
macro_rules! contract {
    ($($case:ident),* $(,)?) => {
        mod embedded {
            $(
                #[tokio::test]
                async fn $case() {
                    let dir = tempfile::tempdir().unwrap();
                    let table = kushim_adapters::table::embedded::EmbeddedTable::open(dir.path()).unwrap();
                    super::$case(&table).await;
                }
            )*
        }
        mod dynamo {
            $(
                #[tokio::test]
                async fn $case() {
                    super::$case(&super::common::dynamo_table().await).await;
                }
            )*
        }
    };
}

contract!(
    round_trip_keeps_every_attribute,
    put_replaces_the_whole_item,
    not_exists_refuses_a_second_put,
    version_equals_is_optimistic_locking,
    attribute_equals_guards_writes,
    exists_fails_on_a_missing_item,
    delete_honours_its_condition,
    update_creates_adds_and_removes,
    expired_items_are_invisible,
    update_of_an_expired_item_starts_afresh,
    query_narrows_and_orders_by_sort_key,
    query_pages_cover_everything_once,
    gsi1_query_pages_in_index_order,
    transaction_applies_every_operation,
    cancelled_transaction_writes_nothing,
    transaction_limits_are_enforced,
    batch_write_crosses_the_request_limit,
    reserved_attribute_names_are_refused,
    oversized_items_are_refused,
);

// ---- Embedded only. ----

#[tokio::test]
async fn embedded_reopen_keeps_items_and_purges_expired_ones() {
    use kushim_adapters::table::embedded::EmbeddedTable;
    // GIVEN a table with a live item and an expired one
    let dir = tempfile::tempdir().unwrap();
    {
        let table = EmbeddedTable::open(dir.path()).unwrap();
        table.put(Item::new(key("P", "live")).with("v", 1), None).await.unwrap();
        table.put(Item::new(key("P", "dead")).expiring_at(now() - 1), None).await.unwrap();
        // THEN purge removes exactly the expired one
        assert_eq!(table.purge_expired().await.unwrap(), 1);
    }
    // WHEN the file is opened again
    let table = EmbeddedTable::open(dir.path()).unwrap();
    // THEN the live item is still there
    assert_eq!(get(&table, &key("P", "live")).await.unwrap().attrs["v"], json!(1));
}
