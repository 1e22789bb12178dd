//! Building the port adapters a function needs, once per process (in Lambda's init phase, or once
//! for the whole local platform). Functions receive `Arc<dyn Port>`s and never know which adapter
//! is behind them.

use std::path::Path;
use std::sync::Arc;

use kushim_adapters::AdapterError;
use kushim_adapters::blob::BlobStore;
use kushim_adapters::blob::embedded::EmbeddedBlobs;
use kushim_adapters::bus::EventBus;
use kushim_adapters::bus::embedded::EmbeddedBus;
use kushim_adapters::queue::Queue;
use kushim_adapters::queue::embedded::EmbeddedQueue;
use kushim_adapters::secrets::Secrets;
use kushim_adapters::secrets::embedded::EmbeddedSecrets;
use kushim_adapters::table::Table;
use kushim_adapters::table::embedded::EmbeddedTable;

use crate::config::{BackendKind, Config, ConfigError};

/// The adapters available to a function. A `None` is a resource this function is not configured
/// (or not compiled) to use; the accessors turn that into a start-up error naming it.
#[derive(Clone, Default)]
pub struct Backends {
    /// Table port.
    pub table: Option<Arc<dyn Table>>,
    /// BlobStore port.
    pub blobs: Option<Arc<dyn BlobStore>>,
    /// BlobStore port over the upload staging bucket (no Object Lock).
    pub staging: Option<Arc<dyn BlobStore>>,
    /// Queue port.
    pub queue: Option<Arc<dyn Queue>>,
    /// EventBus port.
    pub bus: Option<Arc<dyn EventBus>>,
    /// Secrets port.
    pub secrets: Option<Arc<dyn Secrets>>,
}

/// The embedded adapters with their concrete types, for the local platform that also manages them
/// (creating queues, serving presigned URLs, subscribing to the bus).
#[derive(Clone)]
pub struct EmbeddedSet {
    /// Table.
    pub table: Arc<EmbeddedTable>,
    /// Blobs.
    pub blobs: Arc<EmbeddedBlobs>,
    /// Upload staging blobs (under `staging/` in the data directory; no default retention).
    pub staging: Arc<EmbeddedBlobs>,
    /// Queues.
    pub queue: Arc<EmbeddedQueue>,
    /// Event bus.
    pub bus: Arc<EmbeddedBus>,
    /// Secrets.
    pub secrets: Arc<EmbeddedSecrets>,
}

impl EmbeddedSet {
    /// Opens every embedded adapter under `data_dir`.
    pub fn open(data_dir: &Path) -> Result<Self, AdapterError> {
        Ok(Self {
            table: Arc::new(EmbeddedTable::open(data_dir)?),
            blobs: Arc::new(EmbeddedBlobs::open(data_dir)?),
            staging: Arc::new(EmbeddedBlobs::open(&data_dir.join("staging"))?),
            queue: Arc::new(EmbeddedQueue::open(data_dir)?),
            bus: Arc::new(EmbeddedBus::new()),
            secrets: Arc::new(EmbeddedSecrets::open(&data_dir.join("secrets"))?),
        })
    }

    /// The same adapters as ports.
    pub fn backends(&self) -> Backends {
        Backends {
            table: Some(self.table.clone()),
            blobs: Some(self.blobs.clone()),
            staging: Some(self.staging.clone()),
            queue: Some(self.queue.clone()),
            bus: Some(self.bus.clone()),
            secrets: Some(self.secrets.clone()),
        }
    }
}

/// Why the adapters could not be built.
#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    /// Bad or missing configuration.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// An embedded store could not be opened.
    #[error("could not open local storage: {0}")]
    Storage(#[from] AdapterError),
}

impl Backends {
    /// Builds the adapters the configuration names. On AWS only the resources with a configured
    /// name are built (and only those whose adapter this binary was compiled with).
    pub async fn from_config(config: &Config) -> Result<Self, BackendError> {
        match &config.backend {
            BackendKind::Embedded { data_dir } => Ok(EmbeddedSet::open(data_dir)?.backends()),
            #[cfg(any(
                feature = "aws-table",
                feature = "aws-blob",
                feature = "aws-queue",
                feature = "aws-bus",
                feature = "aws-secrets"
            ))]
            BackendKind::Aws => Ok(Self::aws(config, &kushim_adapters::aws::load_config().await)),
            #[cfg(not(any(
                feature = "aws-table",
                feature = "aws-blob",
                feature = "aws-queue",
                feature = "aws-bus",
                feature = "aws-secrets"
            )))]
            BackendKind::Aws => Err(ConfigError::NotCompiled("any").into()),
        }
    }

    /// Builds the AWS adapters the configuration names, with an explicit SDK configuration (the
    /// local platform and tests use this to point at an emulator).
    #[cfg(any(
        feature = "aws-table",
        feature = "aws-blob",
        feature = "aws-queue",
        feature = "aws-bus",
        feature = "aws-secrets"
    ))]
    #[allow(unused_mut)]
    pub fn aws(config: &Config, sdk: &kushim_adapters::aws::SdkConfig) -> Self {
        let mut out = Self::default();
        #[cfg(feature = "aws-table")]
        if let Some(name) = &config.table_name {
            let client = kushim_adapters::aws::sdk::dynamodb::Client::new(sdk);
            out.table = Some(Arc::new(kushim_adapters::table::dynamo::DynamoTable::new(client, name)));
        }
        #[cfg(feature = "aws-blob")]
        if let Some(bucket) = &config.evidence_bucket {
            let client = kushim_adapters::blob::s3::S3Blobs::client_from(sdk);
            out.blobs = Some(Arc::new(kushim_adapters::blob::s3::S3Blobs::new(client, bucket)));
        }
        #[cfg(feature = "aws-blob")]
        if let Some(bucket) = &config.staging_bucket {
            let client = kushim_adapters::blob::s3::S3Blobs::client_from(sdk);
            out.staging = Some(Arc::new(kushim_adapters::blob::s3::S3Blobs::new(client, bucket)));
        }
        #[cfg(feature = "aws-queue")]
        if config.jobs_queue.is_some() || config.aws_jobs_queue.is_some() {
            let client = kushim_adapters::aws::sdk::sqs::Client::new(sdk);
            out.queue = Some(Arc::new(kushim_adapters::queue::sqs::SqsQueue::new(client)));
        }
        #[cfg(feature = "aws-bus")]
        if let Some(bus) = &config.event_bus {
            let client = kushim_adapters::aws::sdk::eventbridge::Client::new(sdk);
            out.bus = Some(Arc::new(kushim_adapters::bus::eventbridge::EventBridgeBus::new(client, bus)));
        }
        #[cfg(feature = "aws-secrets")]
        {
            let client = kushim_adapters::aws::sdk::secretsmanager::Client::new(sdk);
            out.secrets = Some(Arc::new(kushim_adapters::secrets::secretsmanager::SecretsManagerSecrets::new(
                client,
                config.secrets_prefix.clone(),
            )));
        }
        out
    }

    /// The Table port, or an error naming what is missing.
    pub fn table(&self) -> Result<Arc<dyn Table>, ConfigError> {
        self.table.clone().ok_or(ConfigError::Missing("TABLE_NAME"))
    }

    /// The BlobStore port, or an error naming what is missing.
    pub fn blobs(&self) -> Result<Arc<dyn BlobStore>, ConfigError> {
        self.blobs.clone().ok_or(ConfigError::Missing("EVIDENCE_BUCKET"))
    }

    /// The BlobStore port over the upload staging bucket, or an error naming what is missing.
    pub fn staging(&self) -> Result<Arc<dyn BlobStore>, ConfigError> {
        self.staging.clone().ok_or(ConfigError::Missing("STAGING_BUCKET"))
    }

    /// The Queue port, or an error naming what is missing.
    pub fn queue(&self) -> Result<Arc<dyn Queue>, ConfigError> {
        self.queue.clone().ok_or(ConfigError::Missing("JOBS_QUEUE_URL"))
    }

    /// The EventBus port, or an error naming what is missing.
    pub fn bus(&self) -> Result<Arc<dyn EventBus>, ConfigError> {
        self.bus.clone().ok_or(ConfigError::Missing("EVENT_BUS_NAME"))
    }

    /// The Secrets port, or an error naming what is missing.
    pub fn secrets(&self) -> Result<Arc<dyn Secrets>, ConfigError> {
        self.secrets.clone().ok_or(ConfigError::NotCompiled("Secrets Manager"))
    }
}
