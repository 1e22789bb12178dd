//! Slices: the unit of work of the AWS connector. A daily run plans one job per slice, written
//! `"<account_id>/<region|global>/<family>"`; a job collects exactly that slice.
//!
//! Global families (`regions`, `iam`, `s3`, `cloudtrail`) are collected once per account; regional
//! families (`config`, `kms`, `guardduty`, `ebs`) once per enabled region.

use std::fmt;
use std::str::FromStr;

use crate::error::{CollectError, PermanentReason};

/// A group of AWS APIs collected together, producing one or more evidence kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Family {
    /// `aws.account.regions` (global).
    Regions,
    /// `aws.iam.credential_report`, `aws.iam.user_policies`, `aws.iam.password_policy` (global).
    Iam,
    /// `aws.s3.buckets` (global: every bucket, whatever its region).
    S3,
    /// `aws.cloudtrail.trails` (global: every trail visible from any enabled region).
    Cloudtrail,
    /// `aws.config.recorders` and `aws.config.rule_compliance` (regional).
    Config,
    /// `aws.kms.keys` (regional).
    Kms,
    /// `aws.guardduty.detectors` (regional).
    Guardduty,
    /// `aws.ec2.ebs_default_encryption` (regional).
    Ebs,
}

impl Family {
    /// Every family, global ones first.
    pub const ALL: [Family; 8] = [
        Family::Regions,
        Family::Iam,
        Family::S3,
        Family::Cloudtrail,
        Family::Config,
        Family::Kms,
        Family::Guardduty,
        Family::Ebs,
    ];

    /// The name used in slice strings.
    pub fn as_str(self) -> &'static str {
        match self {
            Family::Regions => "regions",
            Family::Iam => "iam",
            Family::S3 => "s3",
            Family::Cloudtrail => "cloudtrail",
            Family::Config => "config",
            Family::Kms => "kms",
            Family::Guardduty => "guardduty",
            Family::Ebs => "ebs",
        }
    }

    /// True for families collected once per account rather than once per region.
    pub fn is_global(self) -> bool {
        matches!(self, Family::Regions | Family::Iam | Family::S3 | Family::Cloudtrail)
    }

    /// The evidence kinds a slice of this family produces, in the order `collect` returns them.
    pub fn evidence_kinds(self) -> &'static [&'static str] {
        use kushim_checks::evidence::kinds;
        match self {
            Family::Regions => &[kinds::AWS_ACCOUNT_REGIONS],
            Family::Iam => {
                &[kinds::AWS_IAM_CREDENTIAL_REPORT, kinds::AWS_IAM_USER_POLICIES, kinds::AWS_IAM_PASSWORD_POLICY]
            }
            Family::S3 => &[kinds::AWS_S3_BUCKETS],
            Family::Cloudtrail => &[kinds::AWS_CLOUDTRAIL_TRAILS],
            Family::Config => &[kinds::AWS_CONFIG_RECORDERS, kinds::AWS_CONFIG_RULE_COMPLIANCE],
            Family::Kms => &[kinds::AWS_KMS_KEYS],
            Family::Guardduty => &[kinds::AWS_GUARDDUTY_DETECTORS],
            Family::Ebs => &[kinds::AWS_EC2_EBS_DEFAULT_ENCRYPTION],
        }
    }
}

impl fmt::Display for Family {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Family {
    type Err = CollectError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Family::ALL
            .into_iter()
            .find(|f| f.as_str() == s)
            .ok_or_else(|| invalid(format!("unknown AWS collection family `{}`", clip(s))))
    }
}

/// One parsed slice.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Slice {
    pub account_id: String,
    /// `None` for global families.
    pub region: Option<String>,
    pub family: Family,
}

impl Slice {
    /// A global slice.
    pub fn global(account_id: impl Into<String>, family: Family) -> Self {
        Slice { account_id: account_id.into(), region: None, family }
    }

    /// A regional slice.
    pub fn regional(account_id: impl Into<String>, region: impl Into<String>, family: Family) -> Self {
        Slice { account_id: account_id.into(), region: Some(region.into()), family }
    }
}

impl fmt::Display for Slice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}/{}", self.account_id, self.region.as_deref().unwrap_or("global"), self.family)
    }
}

impl FromStr for Slice {
    type Err = CollectError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse_slice(s)
    }
}

/// Every slice of an account: the global families once, the regional families once per enabled
/// region. Sorted and free of duplicates, so two planners given the same input plan the same jobs.
pub fn slices(account_id: &str, enabled_regions: &[String]) -> Vec<String> {
    let mut out: Vec<String> =
        Family::ALL.into_iter().filter(|f| f.is_global()).map(|f| Slice::global(account_id, f).to_string()).collect();
    for region in enabled_regions {
        for family in Family::ALL.into_iter().filter(|f| !f.is_global()) {
            out.push(Slice::regional(account_id, region.clone(), family).to_string());
        }
    }
    out.sort();
    out.dedup();
    out
}

/// Parses `"<account_id>/<region|global>/<family>"`, checking the account id (12 digits), the region
/// code and that the family's scope matches (a global family with `global`, a regional one with a
/// region).
pub fn parse_slice(s: &str) -> Result<Slice, CollectError> {
    let parts: Vec<&str> = s.split('/').collect();
    let [account_id, scope, family] = parts.as_slice() else {
        return Err(invalid(format!("slice `{}` is not `<account_id>/<region|global>/<family>`", clip(s))));
    };
    if !is_account_id(account_id) {
        return Err(invalid(format!("slice `{}` does not start with a 12-digit account id", clip(s))));
    }
    let family: Family = family.parse()?;
    let region = match (*scope, family.is_global()) {
        ("global", true) => None,
        ("global", false) => return Err(invalid(format!("family `{family}` is regional; slice `{}`", clip(s)))),
        (_, true) => return Err(invalid(format!("family `{family}` is global; slice `{}`", clip(s)))),
        (region, false) if is_region(region) => Some((*region).to_owned()),
        (_, false) => return Err(invalid(format!("slice `{}` does not name a valid region", clip(s)))),
    };
    Ok(Slice { account_id: (*account_id).to_owned(), region, family })
}

/// True for a 12-digit AWS account id.
pub fn is_account_id(s: &str) -> bool {
    s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit())
}

/// True for a region code such as `us-east-1`, `ap-southeast-3` or `us-gov-west-1`.
pub fn is_region(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    parts.len() >= 3
        && s.len() <= 32
        && parts[..parts.len() - 1].iter().all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase()))
        && parts.last().is_some_and(|n| !n.is_empty() && n.len() <= 2 && n.bytes().all(|b| b.is_ascii_digit()))
}

fn invalid(message: String) -> CollectError {
    CollectError::Permanent { reason: PermanentReason::InvalidConfig, message }
}

/// Input echoed in an error message is cut short so a hostile slice cannot flood the logs.
fn clip(s: &str) -> String {
    s.chars().take(80).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_planner_slices_exactly_what_the_connector_collects() {
        // The planner cannot depend on this crate (it would pull the AWS SDK into every function
        // that plans), so it keeps its own slice layout; this keeps the two the same.
        let regions: Vec<String> = kushim_domain::aws::DEFAULT_REGIONS.iter().map(|r| (*r).to_owned()).collect();
        let mut planned = kushim_integrations::planner::builtin_aws_slices("123456789012", &regions);
        planned.sort();
        assert_eq!(planned, slices("123456789012", &regions));
        assert!(planned.iter().all(|s| parse_slice(s).is_ok()), "{planned:?}");
    }

    #[test]
    fn slices_cover_global_families_once_and_regional_ones_per_region_sorted() {
        // GIVEN an account with two enabled regions given out of order and once repeated
        let regions = vec!["us-east-1".to_owned(), "eu-west-1".to_owned(), "us-east-1".to_owned()];
        // WHEN the slices are planned
        let s = slices("111122223333", &regions);
        // THEN there are 4 global + 2 × 4 regional slices, sorted, without duplicates
        assert_eq!(s.len(), 12);
        let mut sorted = s.clone();
        sorted.sort();
        assert_eq!(s, sorted);
        assert!(s.contains(&"111122223333/global/iam".to_owned()));
        assert!(s.contains(&"111122223333/eu-west-1/kms".to_owned()));
        assert!(!s.iter().any(|x| x.contains("/global/kms") || x.contains("us-east-1/iam")));
        // AND every slice parses back to itself
        for x in &s {
            assert_eq!(&parse_slice(x).unwrap().to_string(), x);
        }
    }

    #[test]
    fn slices_without_regions_are_only_the_global_ones() {
        assert_eq!(
            slices("111122223333", &[]),
            vec![
                "111122223333/global/cloudtrail",
                "111122223333/global/iam",
                "111122223333/global/regions",
                "111122223333/global/s3"
            ]
        );
    }

    #[test]
    fn parse_slice_accepts_well_formed_slices() {
        let s = parse_slice("111122223333/ap-southeast-3/guardduty").unwrap();
        assert_eq!(s, Slice::regional("111122223333", "ap-southeast-3", Family::Guardduty));
        let g = parse_slice("111122223333/global/s3").unwrap();
        assert_eq!(g.region, None);
        assert_eq!(parse_slice("111122223333/us-gov-west-1/ebs").unwrap().region.as_deref(), Some("us-gov-west-1"));
    }

    #[test]
    fn parse_slice_refuses_malformed_slices_as_invalid_config() {
        for bad in [
            "",
            "111122223333/global",
            "11112222333/global/iam",
            "1111222233334/global/iam",
            "abcdabcdabcd/global/iam",
            "111122223333/global/kms",
            "111122223333/us-east-1/iam",
            "111122223333/US-EAST-1/kms",
            "111122223333/us-east/kms",
            "111122223333/../kms",
            "111122223333/us-east-1/lambda",
            "111122223333/us-east-1/kms/extra",
        ] {
            let err = parse_slice(bad).unwrap_err();
            assert!(
                matches!(err, CollectError::Permanent { reason: PermanentReason::InvalidConfig, .. }),
                "{bad}: {err:?}"
            );
            assert!(!err.is_transient());
        }
    }

    #[test]
    fn every_family_names_the_evidence_kinds_it_produces() {
        let mut all: Vec<&str> = Family::ALL.iter().flat_map(|f| f.evidence_kinds().iter().copied()).collect();
        let mut aws_kinds: Vec<&str> =
            kushim_checks::evidence::kinds::ALL.iter().copied().filter(|k| k.starts_with("aws.")).collect();
        all.sort();
        aws_kinds.sort();
        // Every AWS kind comes from exactly one family.
        assert_eq!(all, aws_kinds);
    }
}
