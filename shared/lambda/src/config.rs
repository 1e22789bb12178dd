//! Function configuration. In Lambda it comes from environment variables the template sets; the
//! local platform builds the same variables from the template and passes them in through
//! [`Config::from_lookup`], so there is one code path for both.

use std::collections::BTreeMap;
use std::path::PathBuf;

use thiserror::Error;

/// Which set of adapters a function uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BackendKind {
    /// DynamoDB, S3, SQS, EventBridge, Secrets Manager (endpoint from `AWS_ENDPOINT_URL` if set).
    Aws,
    /// Files and SQLite under a data directory.
    Embedded {
        /// The data directory.
        data_dir: PathBuf,
    },
}

/// A configuration problem found at start-up.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ConfigError {
    /// A required variable is not set.
    #[error("environment variable {0} is required but not set")]
    Missing(&'static str),
    /// A variable has a value we cannot use.
    #[error("environment variable {name} is invalid: {reason}")]
    Invalid {
        /// The variable.
        name: &'static str,
        /// Why.
        reason: String,
    },
    /// The function was compiled without the adapter the configuration asks for.
    #[error("this binary was built without the {0} AWS adapter")]
    NotCompiled(&'static str),
}

/// Settings every function may read. Optional fields are the resources a function may not use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Adapters to use (`KUSHIM_BACKEND`: `aws` or `embedded`; embedded needs `KUSHIM_DATA_DIR`).
    pub backend: BackendKind,
    /// `TABLE_NAME`.
    pub table_name: Option<String>,
    /// `EVIDENCE_BUCKET`.
    pub evidence_bucket: Option<String>,
    /// `STAGING_BUCKET`: where manual uploads land before they are checked (no Object Lock).
    pub staging_bucket: Option<String>,
    /// `JOBS_QUEUE_URL` (a queue URL on AWS, a queue name locally).
    pub jobs_queue: Option<String>,
    /// `AWS_JOBS_QUEUE_URL`: the queue the AWS connector consumes (URL on AWS, name locally).
    pub aws_jobs_queue: Option<String>,
    /// `EVENT_BUS_NAME`.
    pub event_bus: Option<String>,
    /// `SECRETS_PREFIX`.
    pub secrets_prefix: String,
    /// Every variable, for function-specific settings.
    pub vars: BTreeMap<String, String>,
}

impl Config {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(std::env::vars())
    }

    /// Reads settings from name/value pairs (the local platform's resolved template variables).
    pub fn from_lookup(vars: impl IntoIterator<Item = (String, String)>) -> Result<Self, ConfigError> {
        let vars: BTreeMap<String, String> = vars.into_iter().collect();
        let get = |k: &str| vars.get(k).filter(|v| !v.is_empty()).cloned();
        let backend = match get("KUSHIM_BACKEND").as_deref() {
            None | Some("aws") => BackendKind::Aws,
            Some("embedded") => BackendKind::Embedded {
                data_dir: get("KUSHIM_DATA_DIR").map(PathBuf::from).ok_or(ConfigError::Missing("KUSHIM_DATA_DIR"))?,
            },
            Some(other) => {
                return Err(ConfigError::Invalid {
                    name: "KUSHIM_BACKEND",
                    reason: format!("{other:?} is neither \"aws\" nor \"embedded\""),
                });
            }
        };
        Ok(Self {
            backend,
            table_name: get("TABLE_NAME"),
            evidence_bucket: get("EVIDENCE_BUCKET"),
            staging_bucket: get("STAGING_BUCKET"),
            jobs_queue: get("JOBS_QUEUE_URL"),
            aws_jobs_queue: get("AWS_JOBS_QUEUE_URL"),
            event_bus: get("EVENT_BUS_NAME"),
            secrets_prefix: get("SECRETS_PREFIX").unwrap_or_default(),
            vars,
        })
    }

    /// The jobs queue, or a start-up error naming the variable.
    pub fn require_jobs_queue(&self) -> Result<&str, ConfigError> {
        self.jobs_queue.as_deref().ok_or(ConfigError::Missing("JOBS_QUEUE_URL"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    #[test]
    fn defaults_to_aws_and_reads_resources() {
        let c = Config::from_lookup(vars(&[("TABLE_NAME", "t"), ("JOBS_QUEUE_URL", "q")])).unwrap();
        assert_eq!(c.backend, BackendKind::Aws);
        assert_eq!(c.table_name.as_deref(), Some("t"));
        assert_eq!(c.require_jobs_queue().unwrap(), "q");
        assert_eq!(c.evidence_bucket, None);
        assert_eq!(c.staging_bucket, None);
        let c = Config::from_lookup(vars(&[("STAGING_BUCKET", "stage")])).unwrap();
        assert_eq!(c.staging_bucket.as_deref(), Some("stage"));
        assert_eq!(c.aws_jobs_queue, None);
        let c = Config::from_lookup(vars(&[("AWS_JOBS_QUEUE_URL", "aws-q")])).unwrap();
        assert_eq!(c.aws_jobs_queue.as_deref(), Some("aws-q"));
    }

    #[test]
    fn embedded_needs_a_data_dir_and_bad_backend_is_refused() {
        assert_eq!(
            Config::from_lookup(vars(&[("KUSHIM_BACKEND", "embedded")])).unwrap_err(),
            ConfigError::Missing("KUSHIM_DATA_DIR")
        );
        assert!(matches!(
            Config::from_lookup(vars(&[("KUSHIM_BACKEND", "redis")])).unwrap_err(),
            ConfigError::Invalid { name: "KUSHIM_BACKEND", .. }
        ));
        let c = Config::from_lookup(vars(&[("KUSHIM_BACKEND", "embedded"), ("KUSHIM_DATA_DIR", "/d")])).unwrap();
        assert_eq!(c.backend, BackendKind::Embedded { data_dir: "/d".into() });
    }
}
