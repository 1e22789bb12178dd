//! The `iam` family: the credential report, the policies attached to each user, and the account
//! password policy.
//!
//! The credential report is generated with `GenerateCredentialReport`, polled with a bounded,
//! doubling wait until IAM says it is complete, read with `GetCredentialReport` and parsed as CSV
//! by column name (`N/A`, `no_information`, `not_supported` and empty values become `None`).
//! User policies are listed per user (attached and inline, every page); the documents of
//! customer-managed policies are read once per policy (`GetPolicy` for the default version, then
//! `GetPolicyVersion`) however many users share them.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::StreamExt;
use kushim_checks::Evidence;
use kushim_checks::evidence::aws::{
    AccountPasswordPolicy, AttachedPolicy, CredentialReport, CredentialReportRow, InlinePolicy, PasswordPolicy,
    UserPolicies, UserPolicySet,
};
use serde_json::Value;

use super::{Acc, Collected, account_scope, to_utc};
use crate::error::{CollectError, FailureKind, PermanentReason};
use crate::ops;
use crate::session::SessionInner;

pub(crate) async fn collect(s: &SessionInner, started: DateTime<Utc>) -> Result<Vec<Collected>, CollectError> {
    Ok(vec![credential_report(s, started).await?, user_policies(s, started).await?, password_policy(s, started).await?])
}

// ---------------------------------------------------------------------------------------------
// Credential report

/// The longest single wait between two polls.
const MAX_POLL: Duration = Duration::from_secs(8);

async fn credential_report(s: &SessionInner, started: DateTime<Utc>) -> Result<Collected, CollectError> {
    let mut acc = Acc::default();
    let iam = s.iam(&s.home_region);
    let deadline = tokio::time::Instant::now() + s.options.report_max_wait;
    let mut wait = s.options.report_first_poll;
    let mut may_generate = true;
    let report = loop {
        let mut ready = true;
        if may_generate {
            match acc.call(ops::IAM_GENERATE_CREDENTIAL_REPORT, iam.generate_credential_report().send()).await? {
                Ok(out) => {
                    ready = matches!(out.state(), Some(aws_sdk_iam::types::ReportStateType::Complete));
                }
                Err(f) if f.kind == FailureKind::Denied => {
                    // An existing report may still be readable.
                    acc.deny(ops::IAM_GENERATE_CREDENTIAL_REPORT, &f.message, None);
                    may_generate = false;
                }
                Err(f) => return Err(f.into_error(ops::IAM_GENERATE_CREDENTIAL_REPORT.api)),
            }
        }
        if ready {
            match acc.call(ops::IAM_GET_CREDENTIAL_REPORT, iam.get_credential_report().send()).await? {
                Ok(out) => {
                    let bytes = out.content().map(|b| b.as_ref()).unwrap_or_default();
                    let text = std::str::from_utf8(bytes).map_err(|_| {
                        CollectError::permanent(
                            PermanentReason::UnexpectedResponse,
                            "the credential report is not UTF-8",
                        )
                    })?;
                    let rows = parse_credential_report(text).map_err(|e| {
                        CollectError::permanent(
                            PermanentReason::UnexpectedResponse,
                            format!("the credential report could not be read: {e}"),
                        )
                    })?;
                    let generated_at = out.generated_time().and_then(to_utc).unwrap_or(started);
                    break CredentialReport { generated_at, rows };
                }
                Err(f) if f.is_code("ReportInProgress") => {}
                Err(f) if (f.is_code("ReportNotPresent") || f.is_code("ReportExpired")) && !may_generate => {
                    // No report, and no permission to make one: the refusal recorded above is the story.
                    break CredentialReport { generated_at: started, rows: Vec::new() };
                }
                Err(f) if f.is_code("ReportNotPresent") || f.is_code("ReportExpired") => {}
                Err(f) if f.kind == FailureKind::Denied => {
                    acc.deny(ops::IAM_GET_CREDENTIAL_REPORT, &f.message, None);
                    break CredentialReport { generated_at: started, rows: Vec::new() };
                }
                Err(f) => return Err(f.into_error(ops::IAM_GET_CREDENTIAL_REPORT.api)),
            }
        }
        if tokio::time::Instant::now() + wait > deadline {
            return Err(CollectError::transient(
                format!(
                    "the IAM credential report was not ready after {} s",
                    s.options.report_max_wait.as_secs_f32().round()
                ),
                Some(Duration::from_secs(60)),
            ));
        }
        tokio::time::sleep(wait).await;
        wait = (wait * 2).min(MAX_POLL);
    };
    Ok(acc.finish(Evidence::AwsCredentialReport(report), account_scope(s), started))
}

/// The columns the evidence needs, by header name.
const COLUMNS: [&str; 13] = [
    "user",
    "arn",
    "user_creation_time",
    "password_enabled",
    "password_last_used",
    "password_last_changed",
    "mfa_active",
    "access_key_1_active",
    "access_key_1_last_rotated",
    "access_key_1_last_used_date",
    "access_key_2_active",
    "access_key_2_last_rotated",
    "access_key_2_last_used_date",
];

/// Parses the credential report CSV. Columns are found by header name, so added or reordered
/// columns do not matter. Quoted fields are understood; an unquoted user name holding commas
/// (IAM allows them) is put back together, since every other column is comma-free.
pub(crate) fn parse_credential_report(csv: &str) -> Result<Vec<CredentialReportRow>, String> {
    let mut lines = csv.lines().filter(|l| !l.trim().is_empty());
    let header = split_csv_line(lines.next().ok_or("the report is empty")?.trim_start_matches('\u{feff}'));
    let index = |name: &str| {
        header.iter().position(|h| h.trim() == name).ok_or_else(|| format!("the report has no `{name}` column"))
    };
    let idx: Vec<usize> = COLUMNS.iter().map(|c| index(c)).collect::<Result<_, _>>()?;
    let mut rows = Vec::new();
    for (n, line) in lines.enumerate() {
        let mut fields = split_csv_line(line);
        // An unquoted comma in a user name appears twice: in `user` and in the ARN after it.
        let extra = fields.len().saturating_sub(header.len());
        if extra > 0 && extra.is_multiple_of(2) && idx[0] == 0 && idx[1] == 1 {
            let half = extra / 2;
            let user = fields[..=half].join(",");
            let arn = fields[half + 1..=extra + 1].join(",");
            fields.splice(..=extra + 1, [user, arn]);
        }
        if fields.len() != header.len() {
            return Err(format!("row {} has {} fields, the header {}", n + 2, fields.len(), header.len()));
        }
        let f = |i: usize| fields[idx[i]].trim();
        let row = n + 2;
        let user = f(0).to_owned();
        rows.push(CredentialReportRow {
            arn: f(1).to_owned(),
            user_creation_time: report_date(f(2), row, COLUMNS[2])?
                .ok_or_else(|| format!("row {row} has no user_creation_time"))?,
            password_enabled: match f(3) {
                "not_supported" => None,
                other => Some(report_bool(other, row, COLUMNS[3])?),
            },
            password_last_used: report_date(f(4), row, COLUMNS[4])?,
            password_last_changed: report_date(f(5), row, COLUMNS[5])?,
            mfa_active: report_bool(f(6), row, COLUMNS[6])?,
            access_key_1_active: report_bool(f(7), row, COLUMNS[7])?,
            access_key_1_last_rotated: report_date(f(8), row, COLUMNS[8])?,
            access_key_1_last_used_date: report_date(f(9), row, COLUMNS[9])?,
            access_key_2_active: report_bool(f(10), row, COLUMNS[10])?,
            access_key_2_last_rotated: report_date(f(11), row, COLUMNS[11])?,
            access_key_2_last_used_date: report_date(f(12), row, COLUMNS[12])?,
            user,
        });
    }
    Ok(rows)
}

/// Splits one CSV line (RFC 4180 quoting: `"a,b"` and `""` for a quote).
fn split_csv_line(line: &str) -> Vec<String> {
    let line = line.trim_end_matches('\r');
    let mut fields = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                field.push('"');
                chars.next();
            }
            ('"', true) => quoted = false,
            ('"', false) if field.is_empty() => quoted = true,
            (',', false) => fields.push(std::mem::take(&mut field)),
            (c, _) => field.push(c),
        }
    }
    fields.push(field);
    fields
}

/// A report date; `N/A`, `no_information`, `not_supported` and empty mean "none".
fn report_date(value: &str, row: usize, column: &str) -> Result<Option<DateTime<Utc>>, String> {
    match value {
        "" | "N/A" | "no_information" | "not_supported" => Ok(None),
        v => DateTime::parse_from_rfc3339(v)
            .map(|d| Some(d.with_timezone(&Utc)))
            .map_err(|_| format!("row {row}: `{column}` is not a date")),
    }
}

fn report_bool(value: &str, row: usize, column: &str) -> Result<bool, String> {
    match value.to_ascii_lowercase().as_str() {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(format!("row {row}: `{column}` is neither true nor false")),
    }
}

// ---------------------------------------------------------------------------------------------
// User policies

/// One user's findings before the shared policy documents are filled in.
struct UserDraft {
    name: String,
    arn: String,
    /// (name, arn) of each attached policy, `None` if unreadable.
    attached: Option<Vec<(String, String)>>,
    inline: Option<Vec<InlinePolicy>>,
}

async fn user_policies(s: &SessionInner, started: DateTime<Utc>) -> Result<Collected, CollectError> {
    let mut acc = Acc::default();
    let iam = s.iam(&s.home_region);

    // Every user, every page.
    let mut users: Vec<(String, String)> = Vec::new();
    let mut marker: Option<String> = None;
    loop {
        let page = acc.call(ops::IAM_LIST_USERS, iam.list_users().set_marker(marker.clone()).send()).await?;
        match page {
            Ok(out) => {
                users.extend(out.users().iter().map(|u| (u.user_name().to_owned(), u.arn().to_owned())));
                match out.marker() {
                    Some(m) if out.is_truncated() => marker = Some(m.to_owned()),
                    _ => break,
                }
            }
            Err(f) if f.kind == FailureKind::Denied => {
                acc.deny(ops::IAM_LIST_USERS, &f.message, None);
                let evidence = Evidence::AwsUserPolicies(UserPolicies { users: Vec::new() });
                return Ok(acc.finish(evidence, account_scope(s), started));
            }
            Err(f) => return Err(f.into_error(ops::IAM_LIST_USERS.api)),
        }
    }

    // Per user: attached policy names and inline documents.
    let drafts: Vec<Result<(UserDraft, Acc), CollectError>> = futures::stream::iter(users)
        .map(|(name, arn)| {
            let iam = iam.clone();
            async move { user_draft(&iam, name, arn).await }
        })
        .buffered(s.options.concurrency)
        .collect()
        .await;
    let mut done = Vec::with_capacity(drafts.len());
    for d in drafts {
        let (draft, sub) = d?;
        acc.merge(sub);
        done.push(draft);
    }

    // Each customer-managed policy document once.
    let customer: BTreeSet<String> = done
        .iter()
        .flat_map(|d| d.attached.iter().flatten())
        .filter(|(_, arn)| !arn.contains(":iam::aws:policy/"))
        .map(|(_, arn)| arn.clone())
        .collect();
    let fetched: Vec<Result<Fetched, CollectError>> = futures::stream::iter(customer)
        .map(|arn| {
            let iam = iam.clone();
            async move {
                let mut sub = Acc::default();
                let doc = policy_document(&iam, &mut sub, &arn).await?;
                Ok((arn, doc, sub))
            }
        })
        .buffered(s.options.concurrency)
        .collect()
        .await;
    let mut documents: BTreeMap<String, Result<Value, Refusal>> = BTreeMap::new();
    for f in fetched {
        let (arn, doc, sub) = f?;
        acc.api_calls.extend(sub.api_calls);
        documents.insert(arn, doc);
    }

    let users = done
        .into_iter()
        .map(|d| {
            let attached = d.attached.map(|list| {
                list.into_iter()
                    .map(|(policy_name, policy_arn)| {
                        let document = match documents.get(&policy_arn) {
                            Some(Ok(doc)) => Some(doc.clone()),
                            Some(Err(Refusal::Denied { op, message })) => {
                                acc.deny(*op, message, Some(&d.arn));
                                None
                            }
                            Some(Err(Refusal::Unreadable)) | None => None,
                        };
                        AttachedPolicy { policy_name, policy_arn, document }
                    })
                    .collect()
            });
            UserPolicySet { user_name: d.name, arn: d.arn, attached_policies: attached, inline_policies: d.inline }
        })
        .collect();
    Ok(acc.finish(Evidence::AwsUserPolicies(UserPolicies { users }), account_scope(s), started))
}

async fn user_draft(iam: &aws_sdk_iam::Client, name: String, arn: String) -> Result<(UserDraft, Acc), CollectError> {
    let mut acc = Acc::default();

    let mut attached = Some(Vec::new());
    let mut marker: Option<String> = None;
    loop {
        let req = iam.list_attached_user_policies().user_name(&name).set_marker(marker.clone()).send();
        match acc.call(ops::IAM_LIST_ATTACHED_USER_POLICIES, req).await? {
            Ok(out) => {
                if let Some(list) = attached.as_mut() {
                    list.extend(
                        out.attached_policies()
                            .iter()
                            .filter_map(|p| Some((p.policy_name()?.to_owned(), p.policy_arn()?.to_owned()))),
                    );
                }
                match out.marker() {
                    Some(m) if out.is_truncated() => marker = Some(m.to_owned()),
                    _ => break,
                }
            }
            Err(f) => {
                acc.unreadable(ops::IAM_LIST_ATTACHED_USER_POLICIES, &f, Some(&arn));
                attached = None;
                break;
            }
        }
    }

    let mut names: Option<Vec<String>> = Some(Vec::new());
    let mut marker: Option<String> = None;
    loop {
        let req = iam.list_user_policies().user_name(&name).set_marker(marker.clone()).send();
        match acc.call(ops::IAM_LIST_USER_POLICIES, req).await? {
            Ok(out) => {
                if let Some(list) = names.as_mut() {
                    list.extend(out.policy_names().iter().cloned());
                }
                match out.marker() {
                    Some(m) if out.is_truncated() => marker = Some(m.to_owned()),
                    _ => break,
                }
            }
            Err(f) => {
                acc.unreadable(ops::IAM_LIST_USER_POLICIES, &f, Some(&arn));
                names = None;
                break;
            }
        }
    }
    let mut inline = names.as_ref().map(|n| Vec::with_capacity(n.len()));
    for policy_name in names.unwrap_or_default() {
        let req = iam.get_user_policy().user_name(&name).policy_name(&policy_name).send();
        match acc.call(ops::IAM_GET_USER_POLICY, req).await? {
            Ok(out) => match decode_policy_document(out.policy_document()) {
                Some(document) => {
                    if let Some(list) = inline.as_mut() {
                        list.push(InlinePolicy { policy_name, document });
                    }
                }
                None => {
                    tracing::warn!(api = ops::IAM_GET_USER_POLICY.api, "an inline policy document is not JSON");
                    inline = None;
                }
            },
            Err(f) => {
                acc.unreadable(ops::IAM_GET_USER_POLICY, &f, Some(&arn));
                inline = None;
            }
        }
    }
    Ok((UserDraft { name, arn, attached, inline }, acc))
}

/// One managed policy's document (or why it is missing) and the calls it took.
type Fetched = (String, Result<Value, Refusal>, Acc);

/// Why a managed policy's document is missing.
enum Refusal {
    Denied { op: ops::Op, message: String },
    Unreadable,
}

async fn policy_document(
    iam: &aws_sdk_iam::Client,
    acc: &mut Acc,
    arn: &str,
) -> Result<Result<Value, Refusal>, CollectError> {
    let refusal = |op: ops::Op, f: &crate::error::Failure| {
        if f.kind == FailureKind::Denied {
            Refusal::Denied { op, message: f.message.clone() }
        } else {
            tracing::warn!(api = op.api, code = f.code.as_deref().unwrap_or("none"), "a managed policy is unreadable");
            Refusal::Unreadable
        }
    };
    let version = match acc.call(ops::IAM_GET_POLICY, iam.get_policy().policy_arn(arn).send()).await? {
        Ok(out) => match out.policy().and_then(|p| p.default_version_id()) {
            Some(v) => v.to_owned(),
            None => return Ok(Err(Refusal::Unreadable)),
        },
        Err(f) => return Ok(Err(refusal(ops::IAM_GET_POLICY, &f))),
    };
    let req = iam.get_policy_version().policy_arn(arn).version_id(version).send();
    Ok(match acc.call(ops::IAM_GET_POLICY_VERSION, req).await? {
        Ok(out) => {
            out.policy_version().and_then(|v| v.document()).and_then(decode_policy_document).ok_or(Refusal::Unreadable)
        }
        Err(f) => Err(refusal(ops::IAM_GET_POLICY_VERSION, &f)),
    })
}

/// IAM returns policy documents URL-encoded (RFC 3986); emulators sometimes do not.
pub(crate) fn decode_policy_document(text: &str) -> Option<Value> {
    let trimmed = text.trim();
    if trimmed.starts_with('{') {
        return serde_json::from_str(trimmed).ok();
    }
    serde_json::from_str(&percent_decode(trimmed)?).ok()
}

fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = text.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

// ---------------------------------------------------------------------------------------------
// Password policy

async fn password_policy(s: &SessionInner, started: DateTime<Utc>) -> Result<Collected, CollectError> {
    let mut acc = Acc::default();
    let iam = s.iam(&s.home_region);
    let policy = match acc.call(ops::IAM_GET_ACCOUNT_PASSWORD_POLICY, iam.get_account_password_policy().send()).await? {
        Ok(out) => out.password_policy().map(|p| PasswordPolicy {
            // IAM always reports the length when a policy exists; 0 can only fail the length check.
            minimum_password_length: p.minimum_password_length().and_then(|n| u32::try_from(n).ok()).unwrap_or(0),
            require_symbols: p.require_symbols(),
            require_numbers: p.require_numbers(),
            require_uppercase_characters: p.require_uppercase_characters(),
            require_lowercase_characters: p.require_lowercase_characters(),
            allow_users_to_change_password: p.allow_users_to_change_password(),
            max_password_age: p.max_password_age().and_then(|n| u32::try_from(n).ok()).filter(|n| *n > 0),
            password_reuse_prevention: p
                .password_reuse_prevention()
                .and_then(|n| u32::try_from(n).ok())
                .filter(|n| *n > 0),
            hard_expiry: p.hard_expiry().unwrap_or(false),
        }),
        // No policy at all: a visible state, which the checks fail.
        Err(f) if f.is_code("NoSuchEntity") => None,
        Err(f) if f.kind == FailureKind::Denied => {
            acc.deny(ops::IAM_GET_ACCOUNT_PASSWORD_POLICY, &f.message, None);
            None
        }
        Err(f) => return Err(f.into_error(ops::IAM_GET_ACCOUNT_PASSWORD_POLICY.api)),
    };
    Ok(acc.finish(Evidence::AwsPasswordPolicy(AccountPasswordPolicy { policy }), account_scope(s), started))
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: &str = "user,arn,user_creation_time,password_enabled,password_last_used,password_last_changed,password_next_rotation,mfa_active,access_key_1_active,access_key_1_last_rotated,access_key_1_last_used_date,access_key_1_last_used_region,access_key_1_last_used_service,access_key_2_active,access_key_2_last_rotated,access_key_2_last_used_date,access_key_2_last_used_region,access_key_2_last_used_service,cert_1_active,cert_1_last_rotated,cert_2_active,cert_2_last_rotated";

    #[test]
    fn the_documented_report_parses_with_its_placeholders() {
        // GIVEN a report shaped like AWS's documentation: the root row (not_supported password),
        // a user who never used the console (no_information), an old key, and a user without any
        // credential (N/A)
        let csv = format!(
            "{HEADER}\n\
<root_account>,arn:aws:iam::111122223333:root,2014-05-12T21:05:23+00:00,not_supported,2024-01-10T08:00:00+00:00,not_supported,not_supported,true,false,N/A,N/A,N/A,N/A,false,N/A,N/A,N/A,N/A,false,N/A,false,N/A\n\
ada,arn:aws:iam::111122223333:user/ada,2020-01-01T00:00:00+00:00,true,no_information,2020-01-02T00:00:00+00:00,N/A,false,true,2020-01-01T00:00:00+00:00,2020-03-01T10:11:12+00:00,us-east-1,s3,true,2023-06-01T00:00:00+00:00,N/A,N/A,N/A,false,N/A,false,N/A\n\
bot,arn:aws:iam::111122223333:user/bot,2021-05-05T05:05:05+00:00,false,N/A,N/A,N/A,false,false,N/A,N/A,N/A,N/A,false,N/A,N/A,N/A,N/A,false,N/A,false,N/A\n"
        );
        // WHEN it is parsed
        let rows = parse_credential_report(&csv).unwrap();
        // THEN placeholders become None and values are typed
        assert_eq!(rows.len(), 3);
        let root = &rows[0];
        assert!(root.is_root());
        assert_eq!(root.password_enabled, None);
        assert!(root.mfa_active);
        assert_eq!(root.password_last_used.unwrap().to_rfc3339(), "2024-01-10T08:00:00+00:00");
        assert_eq!(root.password_last_changed, None);
        let ada = &rows[1];
        assert_eq!(ada.password_enabled, Some(true));
        assert_eq!(ada.password_last_used, None);
        assert!(ada.access_key_1_active && ada.access_key_2_active);
        assert_eq!(ada.access_key_1_last_rotated.unwrap().to_rfc3339(), "2020-01-01T00:00:00+00:00");
        assert_eq!(ada.access_key_1_last_used_date.unwrap().to_rfc3339(), "2020-03-01T10:11:12+00:00");
        assert_eq!(ada.access_key_2_last_used_date, None);
        let bot = &rows[2];
        assert_eq!(bot.password_enabled, Some(false));
        assert_eq!(bot.active_keys().count(), 0);
        assert_eq!(bot.user_creation_time.to_rfc3339(), "2021-05-05T05:05:05+00:00");
    }

    #[test]
    fn columns_are_found_by_name_and_commas_in_user_names_survive() {
        // GIVEN a report with reordered columns and a quoted name, and one with an unquoted comma
        let csv = "arn,user,mfa_active,user_creation_time,password_enabled,password_last_used,password_last_changed,access_key_1_active,access_key_1_last_rotated,access_key_1_last_used_date,access_key_2_active,access_key_2_last_rotated,access_key_2_last_used_date\r\n\
arn:aws:iam::111122223333:user/a,\"a,b\",true,2020-01-01T00:00:00+00:00,true,N/A,N/A,false,N/A,N/A,false,N/A,N/A\r\n";
        let rows = parse_credential_report(csv).unwrap();
        assert_eq!(rows[0].user, "a,b");
        assert!(rows[0].mfa_active);
        let unquoted = format!(
            "{HEADER}\nx,y,arn:aws:iam::111122223333:user/x,y,2020-01-01T00:00:00+00:00,false,N/A,N/A,N/A,false,false,N/A,N/A,N/A,N/A,false,N/A,N/A,N/A,N/A,false,N/A,false,N/A\n"
        );
        let rows = parse_credential_report(&unquoted).unwrap();
        assert_eq!(rows[0].user, "x,y");
        assert_eq!(rows[0].arn, "arn:aws:iam::111122223333:user/x,y");
    }

    #[test]
    fn malformed_reports_are_refused_with_a_reason() {
        assert!(parse_credential_report("").is_err());
        assert!(parse_credential_report("user,arn\nx,y\n").unwrap_err().contains("user_creation_time"));
        let bad_bool = format!(
            "{HEADER}\nx,arn:aws:iam::1:user/x,2020-01-01T00:00:00+00:00,maybe,N/A,N/A,N/A,false,false,N/A,N/A,N/A,N/A,false,N/A,N/A,N/A,N/A,false,N/A,false,N/A\n"
        );
        assert!(parse_credential_report(&bad_bool).unwrap_err().contains("password_enabled"));
        let bad_date = format!(
            "{HEADER}\nx,arn:aws:iam::1:user/x,yesterday,false,N/A,N/A,N/A,false,false,N/A,N/A,N/A,N/A,false,N/A,N/A,N/A,N/A,false,N/A,false,N/A\n"
        );
        assert!(parse_credential_report(&bad_date).unwrap_err().contains("user_creation_time"));
        let short = format!("{HEADER}\nx,arn:aws:iam::1:user/x\n");
        assert!(parse_credential_report(&short).unwrap_err().contains("fields"));
    }

    #[test]
    fn policy_documents_are_url_decoded_when_encoded() {
        let encoded = "%7B%22Version%22%3A%222012-10-17%22%2C%22Statement%22%3A%5B%7B%22Effect%22%3A%22Allow%22%2C%22Action%22%3A%22%2A%22%2C%22Resource%22%3A%22%2A%22%7D%5D%7D";
        let doc = decode_policy_document(encoded).unwrap();
        assert_eq!(doc["Statement"][0]["Action"], "*");
        let plain = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:Get%2A","Resource":"*"}]}"#;
        assert_eq!(decode_policy_document(plain).unwrap()["Statement"][0]["Action"], "s3:Get%2A");
        assert!(decode_policy_document("%7Bnot json").is_none());
        assert!(decode_policy_document("%ZZ").is_none());
    }
}
