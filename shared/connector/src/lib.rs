//! How every connector function (`connector-aws` now, GitHub and Okta later) processes one
//! collection job, so each connector only says how to collect a slice ([`Collector`]).
//!
//! For each job, [`Worker::process`]:
//! 1. acknowledges a job already finished (a `JOB#<idempotency key>` marker) without redoing it;
//! 2. takes the job's lock: a conditional put whose lease ([`LOCK_LEASE`]) outlives the function's
//!    timeout but ends well before the queue's visibility timeout, so a second delivery while the
//!    first is still working waits, and a delivery after a crash can take over;
//! 3. skips jobs of deleted or paused integrations (counted, so their run still completes);
//! 4. asks the integration's circuit breaker (state in the table, shared by every instance);
//!    an open breaker defers the job by returning it to the queue until the cool-down ends;
//! 5. collects; a transient failure (throttling, 5xx, timeouts, the emulator or AWS being away)
//!    returns the message to the queue after an exponential backoff and counts toward the
//!    breaker; a permanent one (access denied, revoked role, missing resource) records an
//!    `inconclusive` result with its reason for each check the slice feeds and is acknowledged;
//! 6. stores each piece of evidence through the ledgered, content-addressed store (identical
//!    content from a redelivery is the same record), evaluates the built-in checks and the
//!    tenant's custom checks, and records the results as one *observation* of the job's scope
//!    (`<integration>/<slice>`): what the scope reported before and no longer does is retired (a
//!    deleted bucket stops failing), unless a refused permission hid it, and a result observed
//!    later is never rolled back by a late job; newly failing and resolved findings are reported;
//! 7. marks the job done, counts it in its run exactly once, and publishes `finding.failed`,
//!    `finding.resolved`, `integration.health_changed` and (for the last job) `run.completed`;
//!    a completed run also does the tenant's daily upkeep: it retires the results of slices the
//!    run no longer planned (a removed account, a region no longer enabled), signs a ledger
//!    checkpoint, re-evaluates every control (the day's snapshots) and sends the evidence expiry
//!    reminders due.

mod findings;
mod worker;

pub use findings::{
    FINDING_FAILED, FINDING_RESOLVED, FINDINGS_SOURCE, FindingOrigin, GONE, finding_events, retire_integration,
};
pub use worker::{
    COLLECT_DEADLINE, CollectFailure, Collected, Collector, LOCK_LEASE, Outcome, SliceScope, Worker, backoff_for,
    handle_batch,
};
