//! The local scheduler: fires the template's `ScheduleV2` schedules the way EventBridge Scheduler
//! does — `cron(...)` and `rate(...)` expressions in UTC, the schedule's `Input` as the event,
//! retries up to the schedule's `MaximumRetryAttempts`, then the event goes to the schedule's
//! dead-letter queue.

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use kushim_adapters::queue::{OutgoingMessage, Queue};
use lambda_runtime::{Context, LambdaEvent};
use serde_json::Value;
use tokio::sync::watch;

use crate::registry::EventHandler;

/// A parsed schedule expression.
#[derive(Debug, Clone)]
pub enum Expression {
    /// `cron(minutes hours day-of-month month day-of-week year)`.
    Cron(Box<cron::Schedule>),
    /// `rate(n unit)`.
    Rate(Duration),
}

/// Parses an EventBridge Scheduler expression.
pub fn parse_expression(expr: &str) -> Result<Expression, String> {
    let expr = expr.trim();
    if let Some(body) = expr.strip_prefix("cron(").and_then(|s| s.strip_suffix(')')) {
        let fields: Vec<&str> = body.split_whitespace().collect();
        if fields.len() != 6 {
            return Err(format!("cron expressions have 6 fields, {expr:?} has {}", fields.len()));
        }
        // The cron crate wants seconds first; EventBridge fires on the minute.
        let schedule =
            cron::Schedule::from_str(&format!("0 {}", fields.join(" "))).map_err(|e| format!("{expr:?}: {e}"))?;
        return Ok(Expression::Cron(Box::new(schedule)));
    }
    if let Some(body) = expr.strip_prefix("rate(").and_then(|s| s.strip_suffix(')')) {
        let (n, unit) = body.trim().split_once(' ').ok_or_else(|| format!("{expr:?}: expected rate(N unit)"))?;
        let n: u64 = n.parse().map_err(|_| format!("{expr:?}: {n:?} is not a positive number"))?;
        if n == 0 {
            return Err(format!("{expr:?}: the rate must be positive"));
        }
        let secs = match unit.trim() {
            "minute" | "minutes" => 60,
            "hour" | "hours" => 3600,
            "day" | "days" => 86_400,
            other => return Err(format!("{expr:?}: unknown unit {other:?}")),
        };
        return Ok(Expression::Rate(Duration::from_secs(n * secs)));
    }
    Err(format!("{expr:?} is neither cron(...) nor rate(...)"))
}

impl Expression {
    /// The first firing strictly after `after`.
    pub fn next_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        match self {
            Self::Cron(s) => s.after(&after).next(),
            Self::Rate(d) => Some(after + chrono::Duration::from_std(*d).ok()?),
        }
    }
}

/// One schedule bound to its target function.
#[derive(Clone)]
pub struct ScheduledTarget {
    /// The schedule's event name in the template.
    pub name: String,
    /// The target's binary.
    pub binary: String,
    /// When it fires.
    pub expression: Expression,
    /// The event it sends.
    pub input: Value,
    /// Retries after the first attempt.
    pub max_retries: u32,
    /// Where failed events go (queue name or URL), if anywhere.
    pub dead_letter_queue: Option<String>,
    /// The target.
    pub handler: EventHandler,
}

/// Invokes the target with retries; after the last failure the event goes to the DLQ.
pub async fn fire(target: &ScheduledTarget, queue: Option<&dyn Queue>) -> Result<Value, String> {
    let mut last_error = String::new();
    for attempt in 0..=target.max_retries {
        let mut ctx = Context::default();
        ctx.request_id = uuid::Uuid::new_v4().to_string();
        match (target.handler)(LambdaEvent::new(target.input.clone(), ctx)).await {
            Ok(v) => return Ok(v),
            Err(e) => {
                last_error = e.to_string();
                tracing::warn!(schedule = %target.name, attempt, error = %last_error, "scheduled invocation failed");
                if attempt < target.max_retries {
                    tokio::time::sleep(Duration::from_millis(200 << attempt.min(5))).await;
                }
            }
        }
    }
    if let (Some(dlq), Some(queue)) = (&target.dead_letter_queue, queue) {
        let body = serde_json::json!({"schedule": target.name, "input": target.input, "error": last_error}).to_string();
        if let Err(e) = queue.send_all(dlq, vec![OutgoingMessage::new(body)]).await {
            tracing::error!(schedule = %target.name, code = e.code(), "could not dead-letter a failed schedule event");
        }
    }
    Err(last_error)
}

/// Fires the schedule at each of its times until `shutdown`.
pub async fn run(target: ScheduledTarget, queue: Option<Arc<dyn Queue>>, mut shutdown: watch::Receiver<bool>) {
    loop {
        let Some(next) = target.expression.next_after(Utc::now()) else { return };
        let wait = (next - Utc::now()).to_std().unwrap_or_default();
        tracing::debug!(schedule = %target.name, %next, "next firing");
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            _ = shutdown.changed() => return,
        }
        let _ = fire(&target, queue.as_deref()).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn daily_cron_fires_at_two_utc() {
        let e = parse_expression("cron(0 2 * * ? *)").unwrap();
        let after = DateTime::parse_from_rfc3339("2026-11-26T04:00:00Z").unwrap().with_timezone(&Utc);
        assert_eq!(e.next_after(after).unwrap().to_rfc3339(), "2026-11-27T02:00:00+00:00");
    }

    #[test]
    fn rates_and_errors() {
        let e = parse_expression("rate(5 minutes)").unwrap();
        let t = Utc::now();
        assert_eq!(e.next_after(t).unwrap() - t, chrono::Duration::minutes(5));
        for bad in ["cron(0 2 * *)", "rate(0 hours)", "rate(5 fortnights)", "every day"] {
            assert!(parse_expression(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn every_template_schedule_parses() {
        for f in &kushim_template::bundled().functions {
            for s in &f.schedules {
                parse_expression(&s.expression).unwrap_or_else(|e| panic!("{}: {e}", s.event_name));
            }
        }
    }
}
