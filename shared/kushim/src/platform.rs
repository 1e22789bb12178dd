//! Starting and stopping the whole local platform: storage, the template's queues, every
//! function's handler with its resolved configuration, the HTTP gateway, the queue consumers and
//! the scheduler.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use kushim_adapters::blob::LockMode;
use kushim_adapters::queue::Queue;
use kushim_adapters::queue::embedded::QueueConfig;
use kushim_lambda::backends::EmbeddedSet;
use kushim_lambda::{Backends, Config};
use kushim_template::Template;
use serde_json::Value;
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::consumers::{self, Consumer};
use crate::env::{ResourceNames, function_env};
use crate::gateway::{self, Gateway};
use crate::permissions::{self, PermissionAudit};
use crate::registry::{self, Handler};
use crate::scheduler::{self, ScheduledTarget};

/// Which adapters the platform runs on.
#[derive(Debug, Clone)]
pub enum BackendChoice {
    /// Files and SQLite in the data directory.
    Embedded,
    /// AWS (or the emulator `AWS_ENDPOINT_URL` names); resources are created from the template
    /// under names starting with `prefix` when missing.
    Aws {
        /// Resource name prefix.
        prefix: String,
        /// SDK configuration to use instead of the environment's (tests point it at moto).
        sdk: Option<Box<kushim_adapters::aws::SdkConfig>>,
    },
}

/// How to start.
#[derive(Debug, Clone)]
pub struct PlatformOptions {
    /// Loopback port for the gateway (0 picks a free one).
    pub port: u16,
    /// Where embedded state lives.
    pub data_dir: PathBuf,
    /// Adapters.
    pub backend: BackendChoice,
    /// Run the template's schedules on their timetable.
    pub schedules: bool,
    /// Browser origins allowed besides the template's (e.g. a local dashboard).
    pub cors_origins: Vec<String>,
    /// Functions whose queues are not polled (like a disabled event source mapping): their
    /// messages wait in the queue. Tests use it to look at what was enqueued.
    pub paused_consumers: Vec<String>,
}

/// Why the platform could not start.
#[derive(Debug, thiserror::Error)]
pub enum PlatformError {
    /// Local storage failed.
    #[error("local storage: {0}")]
    Storage(#[from] kushim_adapters::AdapterError),
    /// A function's configuration is incomplete.
    #[error("function {binary}: {source}")]
    Config {
        /// The function.
        binary: String,
        /// The problem.
        source: kushim_lambda::ConfigError,
    },
    /// The template names a function this build does not have.
    #[error("template function {0} has no handler in this build")]
    UnknownFunction(String),
    /// AWS resources could not be created or reached.
    #[error("AWS: {0}")]
    Aws(String),
    /// The gateway could not listen.
    #[error("cannot listen on 127.0.0.1:{port}: {source}")]
    Listen {
        /// The port.
        port: u16,
        /// The OS error.
        source: std::io::Error,
    },
    /// A schedule in the template is malformed.
    #[error("schedule {0}")]
    Schedule(String),
}

/// A running platform.
pub struct Platform {
    /// The gateway's base URL.
    pub url: String,
    /// The resources' names (queue names or URLs by logical id, …).
    pub names: ResourceNames,
    /// The backends functions use.
    pub backends: Backends,
    /// The embedded adapters, when running embedded.
    pub embedded: Option<EmbeddedSet>,
    /// Calls functions made that their IAM policies in the template do not grant.
    pub permissions: PermissionAudit,
    handlers: Arc<BTreeMap<String, Handler>>,
    schedules: Vec<ScheduledTarget>,
    shutdown: watch::Sender<bool>,
    tasks: JoinSet<()>,
}

/// Creates the secrets the template declares with a generated value (as CloudFormation does at
/// deploy time), unless they exist, so functions find them as they would on AWS.
async fn provision_secrets(template: &Template, backends: &Backends) -> Result<(), PlatformError> {
    let Some(secrets) = &backends.secrets else { return Ok(()) };
    for name in permissions::declared_secrets(template).values() {
        let value = format!("{}{}", uuid::Uuid::new_v4().simple(), uuid::Uuid::new_v4().simple());
        secrets.create_if_absent(name, value.into()).await?;
    }
    Ok(())
}

async fn create_embedded_queues(set: &EmbeddedSet, template: &Template) -> Result<(), PlatformError> {
    // Dead-letter queues first: a queue's redrive policy must point at an existing queue.
    let mut ordered: Vec<_> = template.queues.iter().collect();
    ordered.sort_by_key(|q| q.dead_letter_queue.is_some());
    for q in ordered {
        set.queue
            .create_queue(QueueConfig {
                name: q.logical_id.clone(),
                visibility_timeout: Duration::from_secs(q.visibility_timeout_seconds.into()),
                retention: Duration::from_secs(q.message_retention_seconds.into()),
                delay: Duration::from_secs(q.delay_seconds.into()),
                max_receive_count: q.max_receive_count,
                dead_letter_queue: q.dead_letter_queue.clone(),
            })
            .await?;
    }
    Ok(())
}

/// The physical name of the resource the template's functions know as the variable `var` (a
/// `!Ref` to it), or an empty string when no function has that variable.
fn env_ref(template: &Template, var: &str, names: &BTreeMap<String, String>) -> String {
    template
        .functions
        .iter()
        .find_map(|f| match f.environment.get(var) {
            Some(kushim_template::EnvValue::Ref(id)) => names.get(id).cloned(),
            _ => None,
        })
        .unwrap_or_default()
}

/// The storage the platform runs on, opened (embedded) or created from the template (AWS).
pub struct Opened {
    /// The resources' names by logical id.
    pub names: ResourceNames,
    /// The port adapters.
    pub backends: Backends,
    /// The embedded adapters, when running embedded.
    pub embedded: Option<EmbeddedSet>,
    /// Variables every function gets besides its own.
    pub env: Vec<(String, String)>,
}

/// Opens the embedded storage in `data_dir` with the template's queues, or creates (when missing)
/// the template's AWS resources under the choice's prefix. The CLI's operator commands use it too.
pub async fn open_backends(backend: &BackendChoice, data_dir: &std::path::Path) -> Result<Opened, PlatformError> {
    let template = kushim_template::bundled();
    Ok(match backend {
        BackendChoice::Embedded => {
            let set = EmbeddedSet::open(data_dir)?;
            create_embedded_queues(&set, template).await?;
            if let Some(bucket) = template.buckets.first() {
                set.blobs.set_default_retention(bucket.default_retention.as_ref().map(|(mode, days)| {
                    let mode = if mode == "GOVERNANCE" { LockMode::Governance } else { LockMode::Compliance };
                    (mode, *days)
                }));
            }
            let env = vec![
                ("KUSHIM_BACKEND".to_owned(), "embedded".to_owned()),
                ("KUSHIM_DATA_DIR".to_owned(), data_dir.display().to_string()),
            ];
            Opened { names: ResourceNames::embedded(template), backends: set.backends(), embedded: Some(set), env }
        }
        BackendChoice::Aws { prefix, sdk } => {
            let sdk = match sdk {
                Some(sdk) => {
                    // Connectors reach the same emulator as the platform's own resources.
                    let _ = crate::registry::CONNECTOR_SDK.set((**sdk).clone());
                    (**sdk).clone()
                }
                None => kushim_adapters::aws::load_config().await,
            };
            let p = kushim_provision::provision(&sdk, template, prefix)
                .await
                .map_err(|e| PlatformError::Aws(e.to_string()))?;
            let mut by_logical_id = BTreeMap::new();
            by_logical_id.insert(template.table().logical_id.clone(), p.table_name.clone());
            by_logical_id.extend(p.bucket_names.clone());
            by_logical_id.extend(p.queue_urls.clone());
            if let (Some(id), Some(name)) = (template.event_buses.first(), &p.event_bus_name) {
                by_logical_id.insert(id.clone(), name.clone());
            }
            let mut all = vec![
                ("KUSHIM_BACKEND".to_owned(), "aws".to_owned()),
                ("TABLE_NAME".to_owned(), p.table_name.clone()),
                ("EVIDENCE_BUCKET".to_owned(), p.bucket_name.clone()),
                ("STAGING_BUCKET".to_owned(), env_ref(template, "STAGING_BUCKET", &p.bucket_names)),
                ("JOBS_QUEUE_URL".to_owned(), env_ref(template, "JOBS_QUEUE_URL", &p.queue_urls)),
                ("SECRETS_PREFIX".to_owned(), format!("{prefix}/")),
            ];
            if let Some(bus) = &p.event_bus_name {
                all.push(("EVENT_BUS_NAME".to_owned(), bus.clone()));
            }
            let config = Config::from_lookup(all).map_err(|e| PlatformError::Aws(e.to_string()))?;
            let backends = Backends::aws(&config, &sdk);
            Opened {
                names: ResourceNames { by_logical_id },
                backends,
                embedded: None,
                env: vec![("KUSHIM_BACKEND".to_owned(), "aws".to_owned())],
            }
        }
    })
}

impl Platform {
    /// Starts everything and returns once the gateway is listening.
    pub async fn start(options: PlatformOptions) -> Result<Self, PlatformError> {
        let template = kushim_template::bundled();
        let Opened { names, backends, embedded, env: backend_env } =
            open_backends(&options.backend, &options.data_dir).await?;

        provision_secrets(template, &backends).await?;
        let mut handlers = BTreeMap::new();
        let permissions = PermissionAudit::default();
        for f in &template.functions {
            let env = function_env(template, f, &names, &backend_env);
            let config = Config::from_lookup(env)
                .map_err(|source| PlatformError::Config { binary: f.binary.clone(), source })?;
            // Each function reaches the cloud only through ports that check its IAM policy.
            let own = permissions::audited(&backends, template, f, &names, &permissions);
            let handler = registry::build(&f.binary, &config, &own)
                .map_err(|source| PlatformError::Config { binary: f.binary.clone(), source })?
                .ok_or_else(|| PlatformError::UnknownFunction(f.binary.clone()))?;
            handlers.insert(f.binary.clone(), handler);
        }
        let handlers = Arc::new(handlers);

        let listener = tokio::net::TcpListener::bind(("127.0.0.1", options.port))
            .await
            .map_err(|source| PlatformError::Listen { port: options.port, source })?;
        let addr = listener.local_addr().map_err(|source| PlatformError::Listen { port: options.port, source })?;
        let url = format!("http://{addr}");
        if let Some(set) = &embedded {
            set.blobs.set_public_url(&url);
            set.staging.set_public_url(&url);
        }

        let (shutdown, _) = watch::channel(false);
        let mut tasks = JoinSet::new();
        let app = gateway::router(Gateway {
            template,
            handlers: handlers.clone(),
            blobs: embedded.as_ref().map(|s| vec![s.blobs.clone(), s.staging.clone()]).unwrap_or_default(),
            authorizers: Arc::new(gateway::authorizers(template)),
            cors: Arc::new(gateway::Cors::from_template(template, &options.cors_origins)),
        });
        let mut stop = shutdown.subscribe();
        tasks.spawn(async move {
            let served = axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>())
                .with_graceful_shutdown(async move {
                    let _ = stop.wait_for(|v| *v).await;
                })
                .await;
            if let Err(e) = served {
                tracing::error!(error = %e, "gateway stopped");
            }
        });

        let queue = backends.queue.clone();
        for f in template.functions.iter().filter(|f| !options.paused_consumers.contains(&f.binary)) {
            for source in f.sqs_sources.iter().filter(|s| s.enabled) {
                let (Some(Handler::Sqs(handler)), Some(queue)) = (handlers.get(&f.binary), queue.clone()) else {
                    continue;
                };
                let queue_ref = names.by_logical_id.get(&source.queue).cloned().unwrap_or_else(|| source.queue.clone());
                let consumer = Consumer {
                    binary: f.binary.clone(),
                    queue: queue_ref,
                    queue_arn: format!("arn:aws:sqs:local:000000000000:{}", source.queue),
                    batch_size: source.batch_size as usize,
                    timeout: Duration::from_secs(f.timeout_seconds.into()),
                    handler: handler.clone(),
                };
                let pollers = source.maximum_concurrency.unwrap_or(2).clamp(1, 4);
                for _ in 0..pollers {
                    tasks.spawn(consumers::run(consumer.clone(), queue.clone(), shutdown.subscribe()));
                }
            }
        }

        let mut schedules = Vec::new();
        for f in &template.functions {
            for s in &f.schedules {
                let Some(Handler::Event(handler)) = handlers.get(&f.binary) else { continue };
                let expression = scheduler::parse_expression(&s.expression).map_err(PlatformError::Schedule)?;
                let target = ScheduledTarget {
                    name: s.event_name.clone(),
                    binary: f.binary.clone(),
                    expression,
                    input: s.input.clone().unwrap_or(Value::Object(Default::default())),
                    max_retries: s.max_retry_attempts.unwrap_or(0),
                    dead_letter_queue: s.dead_letter_queue.as_ref().and_then(|q| names.by_logical_id.get(q).cloned()),
                    handler: handler.clone(),
                };
                if options.schedules && s.enabled {
                    tasks.spawn(scheduler::run(target.clone(), queue.clone(), shutdown.subscribe()));
                }
                schedules.push(target);
            }
        }
        Ok(Self { url, names, backends, embedded, permissions, handlers, schedules, shutdown, tasks })
    }

    /// Fires a schedule now (by its event name in the template), as the scheduler would.
    pub async fn fire_schedule(&self, name: &str) -> Result<Value, String> {
        let target =
            self.schedules.iter().find(|s| s.name == name).ok_or_else(|| format!("no schedule named {name}"))?;
        scheduler::fire(target, self.backends.queue.as_deref()).await
    }

    /// Names of the template's schedules.
    pub fn schedule_names(&self) -> Vec<String> {
        self.schedules.iter().map(|s| s.name.clone()).collect()
    }

    /// Handlers by binary (for tests that call a function directly).
    pub fn handler(&self, binary: &str) -> Option<&Handler> {
        self.handlers.get(binary)
    }

    /// The queue port the platform uses.
    pub fn queue(&self) -> Option<Arc<dyn Queue>> {
        self.backends.queue.clone()
    }

    /// Stops accepting requests, lets in-progress batches and requests finish, and returns.
    /// Queued messages stay in the (durable) queue for the next start.
    pub async fn shutdown(mut self) {
        let _ = self.shutdown.send(true);
        let drain = async { while self.tasks.join_next().await.is_some() {} };
        if tokio::time::timeout(Duration::from_secs(30), drain).await.is_err() {
            tracing::warn!("some tasks did not stop within 30 s; aborting them");
            self.tasks.abort_all();
        }
    }
}
