//! The integration record and its settings, typed per kind and validated strictly. Settings hold
//! only what is not secret (AWS account ids and role ARNs, a GitHub organisation, an Okta domain);
//! credentials are a separate type that only ever travels to the Secrets port.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use chrono::{DateTime, Utc};
use kushim_adapters::secrets::{ExposeSecret, SecretString};
use kushim_domain::{IntegrationId, TenantId};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::{Error, Result};

/// Most AWS accounts one integration may hold.
pub const MAX_AWS_ACCOUNTS: usize = 50;
/// Longest display name.
pub const MAX_DISPLAY_NAME: usize = 100;

/// What kind of system an integration connects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IntegrationKind {
    /// AWS accounts, through a cross-account role.
    Aws,
    /// A GitHub organisation, through a token.
    Github,
    /// An Okta org, through an API token.
    Okta,
}

impl IntegrationKind {
    /// The name the API uses.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Aws => "aws",
            Self::Github => "github",
            Self::Okta => "okta",
        }
    }
}

impl fmt::Display for IntegrationKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Whether the integration is collected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IntegrationStatus {
    /// Collected on schedule and on demand.
    Active,
    /// Skipped by the planner and refused for on-demand runs until resumed.
    Paused,
}

/// One AWS account and the read-only role Kushim assumes in it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AwsAccount {
    /// The 12-digit account id.
    pub account_id: String,
    /// `arn:aws:iam::<account_id>:role/<name>` (or the aws-cn / aws-us-gov partition).
    pub role_arn: String,
}

/// Settings of an AWS integration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AwsSettings {
    /// 1 to 50 accounts, each at most once.
    pub accounts: Vec<AwsAccount>,
    /// Only collect these regions (an allow-list); absent means every enabled region.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub regions: Option<Vec<String>>,
}

/// Settings of a GitHub integration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GithubSettings {
    /// The organisation's login.
    pub organization: String,
}

/// Settings of an Okta integration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OktaSettings {
    /// The org's domain, e.g. `acme.okta.com`.
    pub domain: String,
}

/// Settings, by kind.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "config", rename_all = "snake_case")]
pub enum IntegrationSettings {
    /// AWS.
    Aws(AwsSettings),
    /// GitHub.
    Github(GithubSettings),
    /// Okta.
    Okta(OktaSettings),
}

impl IntegrationSettings {
    /// Parses and validates the settings of `kind` (unknown fields are refused).
    pub fn parse(kind: IntegrationKind, value: Value) -> Result<Self> {
        let bad = |e: serde_json::Error| Error::Invalid(format!("settings: {e}"));
        let settings = match kind {
            IntegrationKind::Aws => Self::Aws(serde_json::from_value(value).map_err(bad)?),
            IntegrationKind::Github => Self::Github(serde_json::from_value(value).map_err(bad)?),
            IntegrationKind::Okta => Self::Okta(serde_json::from_value(value).map_err(bad)?),
        };
        settings.validate()?;
        Ok(settings)
    }

    /// The kind these settings belong to.
    pub fn kind(&self) -> IntegrationKind {
        match self {
            Self::Aws(_) => IntegrationKind::Aws,
            Self::Github(_) => IntegrationKind::Github,
            Self::Okta(_) => IntegrationKind::Okta,
        }
    }

    /// The settings alone, as the API shows them.
    pub fn to_json(&self) -> Value {
        match self {
            Self::Aws(s) => serde_json::to_value(s),
            Self::Github(s) => serde_json::to_value(s),
            Self::Okta(s) => serde_json::to_value(s),
        }
        .unwrap_or(Value::Null)
    }

    /// Checks every rule of the kind's settings.
    pub fn validate(&self) -> Result<()> {
        match self {
            Self::Aws(s) => validate_aws(s),
            Self::Github(s) => {
                let o = &s.organization;
                let ok = !o.is_empty()
                    && o.len() <= 39
                    && o.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                    && !o.starts_with('-');
                if ok { Ok(()) } else { Err(Error::Invalid("organization must be a GitHub organisation login".into())) }
            }
            Self::Okta(s) => {
                let d = &s.domain;
                let labels: Vec<&str> = d.split('.').collect();
                let ok = d.len() <= 253
                    && labels.len() >= 3
                    && labels.iter().all(|l| {
                        !l.is_empty()
                            && l.len() <= 63
                            && l.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                    });
                if ok {
                    Ok(())
                } else {
                    Err(Error::Invalid("domain must be the Okta org's host name, e.g. acme.okta.com".into()))
                }
            }
        }
    }
}

/// Whether `s` is a 12-digit AWS account id.
pub fn is_account_id(s: &str) -> bool {
    s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit())
}

/// Whether `s` looks like an AWS region name (`us-east-1`, `us-gov-west-1`, `ap-southeast-2`).
pub fn is_region(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    s.len() <= 25
        && parts.len() >= 3
        && parts.last().is_some_and(|n| !n.is_empty() && n.len() <= 2 && n.bytes().all(|b| b.is_ascii_digit()))
        && parts[..parts.len() - 1].iter().all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase()))
}

fn valid_role_arn(arn: &str, account_id: &str) -> bool {
    let Some(rest) =
        ["arn:aws:iam::", "arn:aws-cn:iam::", "arn:aws-us-gov:iam::"].iter().find_map(|p| arn.strip_prefix(p))
    else {
        return false;
    };
    let Some(resource) = rest.strip_prefix(account_id).and_then(|r| r.strip_prefix(":role/")) else { return false };
    let name = resource.rsplit('/').next().unwrap_or_default();
    let allowed = |b: u8| b.is_ascii_alphanumeric() || b"+=,.@_-".contains(&b);
    arn.len() <= 2048
        && !name.is_empty()
        && name.len() <= 64
        && resource.split('/').all(|seg| !seg.is_empty() && seg.bytes().all(allowed))
}

fn validate_aws(s: &AwsSettings) -> Result<()> {
    if s.accounts.is_empty() || s.accounts.len() > MAX_AWS_ACCOUNTS {
        return Err(Error::Invalid(format!("accounts must hold 1 to {MAX_AWS_ACCOUNTS} AWS accounts")));
    }
    let mut seen = BTreeSet::new();
    for a in &s.accounts {
        if !is_account_id(&a.account_id) {
            return Err(Error::Invalid("account_id must be 12 digits".into()));
        }
        if !seen.insert(a.account_id.as_str()) {
            return Err(Error::Invalid(format!("account {} is listed twice", a.account_id)));
        }
        if !valid_role_arn(&a.role_arn, &a.account_id) {
            return Err(Error::Invalid(format!(
                "role_arn of account {} must be arn:aws:iam::{}:role/<name>",
                a.account_id, a.account_id
            )));
        }
    }
    if let Some(regions) = &s.regions {
        if regions.is_empty() || regions.len() > 40 {
            return Err(Error::Invalid("regions, when given, must list 1 to 40 regions".into()));
        }
        let mut seen = BTreeSet::new();
        for r in regions {
            if !is_region(r) {
                return Err(Error::Invalid(format!("{r:?} is not an AWS region name")));
            }
            if !seen.insert(r) {
                return Err(Error::Invalid(format!("region {r} is listed twice")));
            }
        }
    }
    Ok(())
}

/// Checks a display name: 1-100 characters, no control characters, not only spaces.
pub fn validate_display_name(name: &str) -> Result<()> {
    let n = name.chars().count();
    if n == 0 || n > MAX_DISPLAY_NAME || name.trim().is_empty() || name.chars().any(char::is_control) {
        return Err(Error::Invalid(format!("display_name must be 1-{MAX_DISPLAY_NAME} printable characters")));
    }
    Ok(())
}

/// The credentials of an integration. They only ever go to the Secrets port; `Debug` never
/// prints them.
#[derive(Clone)]
pub enum Credentials {
    /// A GitHub token (fine-grained or classic, read-only scopes).
    Github {
        /// The token.
        token: SecretString,
    },
    /// An Okta API token (read-only admin).
    Okta {
        /// The token.
        api_token: SecretString,
    },
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Github { .. } => f.write_str("Credentials::Github([redacted])"),
            Self::Okta { .. } => f.write_str("Credentials::Okta([redacted])"),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct GithubCredentialsInput {
    token: SecretString,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OktaCredentialsInput {
    api_token: SecretString,
}

fn valid_token(t: &SecretString) -> bool {
    let t = t.expose_secret();
    (8..=4096).contains(&t.len()) && t.bytes().all(|b| (0x21..=0x7e).contains(&b))
}

impl Credentials {
    /// Parses the credentials of `kind` from the API's JSON (unknown fields refused). AWS
    /// integrations take none: Kushim assumes the customer's role with the tenant's ExternalId.
    /// Error messages never echo the value.
    pub fn parse(kind: IntegrationKind, value: Value) -> Result<Self> {
        let bad = |what: &str| Error::Invalid(format!("credentials must be {what}"));
        match kind {
            IntegrationKind::Aws => Err(Error::Invalid(
                "AWS integrations take no credentials: Kushim assumes the role with the tenant's ExternalId".into(),
            )),
            IntegrationKind::Github => {
                let c: GithubCredentialsInput = serde_json::from_value(value).map_err(|_| bad("{\"token\": \"…\"}"))?;
                if !valid_token(&c.token) {
                    return Err(bad("a token of 8-4096 visible ASCII characters"));
                }
                Ok(Self::Github { token: c.token })
            }
            IntegrationKind::Okta => {
                let c: OktaCredentialsInput =
                    serde_json::from_value(value).map_err(|_| bad("{\"api_token\": \"…\"}"))?;
                if !valid_token(&c.api_token) {
                    return Err(bad("an api_token of 8-4096 visible ASCII characters"));
                }
                Ok(Self::Okta { api_token: c.api_token })
            }
        }
    }

    /// The kind they belong to.
    pub fn kind(&self) -> IntegrationKind {
        match self {
            Self::Github { .. } => IntegrationKind::Github,
            Self::Okta { .. } => IntegrationKind::Okta,
        }
    }

    /// The secret value as stored (a small JSON document).
    pub(crate) fn to_secret(&self) -> SecretString {
        let doc = match self {
            Self::Github { token } => serde_json::json!({"kind": "github", "token": token.expose_secret()}),
            Self::Okta { api_token } => serde_json::json!({"kind": "okta", "api_token": api_token.expose_secret()}),
        };
        SecretString::from(doc.to_string())
    }

    /// Reads a stored secret value back.
    pub(crate) fn from_secret(secret: &SecretString) -> Result<Self> {
        let v: Value = serde_json::from_str(secret.expose_secret())
            .map_err(|_| Error::Invalid("stored credentials are not readable".into()))?;
        let s = |k: &str| v.get(k).and_then(Value::as_str).map(|t| SecretString::from(t.to_owned()));
        match v.get("kind").and_then(Value::as_str) {
            Some("github") => s("token").map(|token| Self::Github { token }),
            Some("okta") => s("api_token").map(|api_token| Self::Okta { api_token }),
            _ => None,
        }
        .ok_or_else(|| Error::Invalid("stored credentials are not readable".into()))
    }
}

/// The regions an AWS account has enabled, as the connector last saw them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnabledRegions {
    /// Region names.
    pub regions: Vec<String>,
    /// When the connector refreshed them.
    pub refreshed_at: DateTime<Utc>,
}

/// A connected system of a tenant, as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Integration {
    /// Id.
    pub id: IntegrationId,
    /// Owner.
    pub tenant_id: TenantId,
    /// Display name.
    pub display_name: String,
    /// Settings (their kind is the integration's kind).
    pub settings: IntegrationSettings,
    /// Active or paused.
    pub status: IntegrationStatus,
    /// Whether credentials are stored in the Secrets port (never the credentials themselves).
    pub has_credentials: bool,
    /// Per AWS account id: its enabled regions (refreshed by the connector).
    #[serde(default)]
    pub enabled_regions: BTreeMap<String, EnabledRegions>,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Last changed by a person.
    pub updated_at: DateTime<Utc>,
    /// Optimistic-locking version.
    pub version: u64,
}

impl Integration {
    /// The integration's kind.
    pub fn kind(&self) -> IntegrationKind {
        self.settings.kind()
    }

    /// The AWS settings, if this is an AWS integration.
    pub fn aws(&self) -> Option<&AwsSettings> {
        match &self.settings {
            IntegrationSettings::Aws(s) => Some(s),
            _ => None,
        }
    }

    /// Whether the planner and on-demand runs collect it.
    pub fn is_active(&self) -> bool {
        self.status == IntegrationStatus::Active
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn aws(v: Value) -> Result<IntegrationSettings> {
        IntegrationSettings::parse(IntegrationKind::Aws, v)
    }

    #[test]
    fn aws_settings_accept_well_formed_accounts_and_regions() {
        let s = aws(json!({"accounts": [
            {"account_id": "123456789012", "role_arn": "arn:aws:iam::123456789012:role/KushimReadOnly"},
            {"account_id": "210987654321", "role_arn": "arn:aws-us-gov:iam::210987654321:role/path/to/Kushim"}
        ], "regions": ["eu-west-1", "us-gov-west-1"]}))
        .unwrap();
        assert_eq!(s.kind(), IntegrationKind::Aws);
        assert_eq!(s.to_json()["accounts"][1]["account_id"], "210987654321");
    }

    #[test]
    fn aws_settings_refuse_each_broken_rule() {
        let acct = |id: &str, arn: &str| json!({"account_id": id, "role_arn": arn});
        let cases = [
            json!({"accounts": []}),
            json!({"accounts": [acct("12345678901", "arn:aws:iam::12345678901:role/K")]}),
            json!({"accounts": [acct("123456789012", "arn:aws:iam::999999999999:role/K")]}),
            json!({"accounts": [acct("123456789012", "arn:aws:iam::123456789012:user/K")]}),
            json!({"accounts": [acct("123456789012", "arn:aws:iam::123456789012:role/")]}),
            json!({"accounts": [acct("123456789012", "arn:aws:iam::123456789012:role/a b")]}),
            json!({"accounts": [acct("123456789012", "arn:aws:iam::123456789012:role/K"), acct("123456789012", "arn:aws:iam::123456789012:role/K")]}),
            json!({"accounts": [acct("123456789012", "arn:aws:iam::123456789012:role/K")], "regions": []}),
            json!({"accounts": [acct("123456789012", "arn:aws:iam::123456789012:role/K")], "regions": ["EU-west-1"]}),
            json!({"accounts": [acct("123456789012", "arn:aws:iam::123456789012:role/K")], "regions": ["eu-west-1", "eu-west-1"]}),
            json!({"accounts": [acct("123456789012", "arn:aws:iam::123456789012:role/K")], "extra": 1}),
            json!({"accounts": [{"account_id": "123456789012", "role_arn": "arn:aws:iam::123456789012:role/K", "x": 1}]}),
        ];
        for c in cases {
            assert!(matches!(aws(c.clone()), Err(Error::Invalid(_))), "{c} should be refused");
        }
        let many: Vec<Value> =
            (0..51).map(|i| acct(&format!("{i:012}"), &format!("arn:aws:iam::{i:012}:role/K"))).collect();
        assert!(aws(json!({ "accounts": many })).is_err(), "51 accounts");
    }

    #[test]
    fn region_names_and_other_kinds_are_checked() {
        for ok in ["us-east-1", "ap-southeast-2", "us-gov-west-1", "eu-central-2"] {
            assert!(is_region(ok), "{ok}");
        }
        for bad in ["us-east", "useast1", "us-east-x", "-east-1", "us--1"] {
            assert!(!is_region(bad), "{bad}");
        }
        assert!(IntegrationSettings::parse(IntegrationKind::Github, json!({"organization": "acme-corp"})).is_ok());
        assert!(IntegrationSettings::parse(IntegrationKind::Github, json!({"organization": "-x"})).is_err());
        assert!(IntegrationSettings::parse(IntegrationKind::Okta, json!({"domain": "acme.okta.com"})).is_ok());
        assert!(IntegrationSettings::parse(IntegrationKind::Okta, json!({"domain": "https://acme.okta.com"})).is_err());
    }

    #[test]
    fn credentials_are_typed_per_kind_and_never_printed() {
        assert!(Credentials::parse(IntegrationKind::Aws, json!({"token": "abcdefghij"})).is_err());
        let c = Credentials::parse(IntegrationKind::Github, json!({"token": "ghp_s3cr3tvalue123"})).unwrap();
        assert!(!format!("{c:?}").contains("s3cr3t"));
        let err = Credentials::parse(IntegrationKind::Github, json!({"tokn": "ghp_s3cr3tvalue123"})).unwrap_err();
        assert!(!err.to_string().contains("s3cr3t"), "{err}");
        let back = Credentials::from_secret(&c.to_secret()).unwrap();
        let Credentials::Github { token } = back else { panic!("github credentials expected") };
        assert_eq!(token.expose_secret(), "ghp_s3cr3tvalue123");
        assert!(Credentials::parse(IntegrationKind::Okta, json!({"api_token": "short"})).is_err());
    }

    #[test]
    fn stored_settings_round_trip_with_their_kind() {
        let s = IntegrationSettings::Okta(OktaSettings { domain: "acme.okta.com".into() });
        let v = serde_json::to_value(&s).unwrap();
        assert_eq!(v, json!({"kind": "okta", "config": {"domain": "acme.okta.com"}}));
        assert_eq!(serde_json::from_value::<IntegrationSettings>(v).unwrap(), s);
    }
}
