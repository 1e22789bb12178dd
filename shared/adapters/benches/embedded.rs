//! Benchmark of the embedded Table and Queue adapters (the local platform's storage). Prints
//! figures; run with `cargo bench -p kushim-adapters --bench embedded`. Every write is a durable
//! SQLite commit (WAL, synchronous=FULL), so the figures include an fsync per operation unless
//! a batch is used.

use std::time::{Duration, Instant};

use kushim_adapters::queue::embedded::{EmbeddedQueue, QueueConfig};
use kushim_adapters::queue::{OutgoingMessage, Queue};
use kushim_adapters::table::embedded::EmbeddedTable;
use kushim_adapters::table::{BatchOp, Item, Key, Query, Table};

fn rate(n: usize, d: Duration) -> String {
    format!("{:>10.0}/s  ({n} in {:.2?})", n as f64 / d.as_secs_f64(), d)
}

fn item(i: usize) -> Item {
    Item::new(Key::new("TENANT#bench", format!("ITEM#{i:08}")))
        .with("title", format!("evidence record {i}"))
        .with("count", i as i64)
        .with("tags", serde_json::json!(["soc2", "cc6.1"]))
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let dir = tempfile::tempdir().expect("temp dir");
    let table = EmbeddedTable::open(dir.path()).expect("table");

    const PUTS: usize = 2_000;
    let start = Instant::now();
    for i in 0..PUTS {
        table.put(item(i), None).await.expect("put");
    }
    println!("table put (one durable commit each)    {}", rate(PUTS, start.elapsed()));

    const BATCHED: usize = 20_000;
    let start = Instant::now();
    let ops: Vec<BatchOp> = (PUTS..PUTS + BATCHED).map(|i| BatchOp::Put(item(i))).collect();
    table.batch_write(ops).await.expect("batch");
    println!("table batch_write (25 per commit)      {}", rate(BATCHED, start.elapsed()));

    const GETS: usize = 20_000;
    let start = Instant::now();
    for i in 0..GETS {
        let key = Key::new("TENANT#bench", format!("ITEM#{:08}", (i * 7919) % (PUTS + BATCHED)));
        assert!(table.get(&key).await.expect("get").is_some());
    }
    println!("table point get                        {}", rate(GETS, start.elapsed()));

    const QUERIES: usize = 200;
    let start = Instant::now();
    for _ in 0..QUERIES {
        let page = table.query(Query::partition("TENANT#bench").begins_with("ITEM#").limit(1000)).await.expect("query");
        assert_eq!(page.items.len(), 1000);
    }
    let d = start.elapsed();
    println!(
        "table query of 1,000 items             {:>10.2} ms per query ({QUERIES} queries)",
        d.as_secs_f64() * 1000.0 / QUERIES as f64
    );

    let queue = EmbeddedQueue::open(dir.path()).expect("queue");
    queue.create_queue(QueueConfig::new("bench")).await.expect("create");
    const MESSAGES: usize = 5_000;
    let start = Instant::now();
    for chunk in 0..MESSAGES / 10 {
        let batch = (0..10).map(|i| OutgoingMessage::new(format!("{{\"n\":{}}}", chunk * 10 + i))).collect();
        queue.send_batch("bench", batch).await.expect("send");
    }
    let sent = start.elapsed();
    let mut received = 0;
    while received < MESSAGES {
        let msgs = queue.receive("bench", 10, Duration::ZERO, None).await.expect("receive");
        for m in &msgs {
            queue.delete("bench", &m.receipt_handle).await.expect("delete");
        }
        received += msgs.len();
    }
    let total = start.elapsed();
    println!("queue send (batches of 10)             {}", rate(MESSAGES, sent));
    println!("queue send+receive+delete, end to end  {}", rate(MESSAGES, total));
}
