//! The `kushim` command: operator and developer CLI.

use std::path::PathBuf;

use clap::{Parser, Subcommand};
use kushim::{BackendChoice, Platform, PlatformOptions};

/// Kushim: open compliance automation.
#[derive(Debug, Parser)]
#[command(name = "kushim", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the whole platform locally: HTTP gateway, queue consumers and scheduler.
    Up {
        /// Loopback port for the HTTP gateway.
        #[arg(long, default_value_t = 3000, env = "KUSHIM_PORT")]
        port: u16,
        /// Where embedded state lives (default: the user's data directory).
        #[arg(long, env = "KUSHIM_DATA_DIR")]
        data_dir: Option<PathBuf>,
        /// Use the AWS adapters (against AWS_ENDPOINT_URL, e.g. moto) instead of embedded storage.
        #[arg(long)]
        aws: bool,
        /// With --aws: prefix of the resource names created from the template.
        #[arg(long, default_value = "kushim-local")]
        prefix: String,
        /// Do not run the template's schedules on their timetable.
        #[arg(long)]
        no_schedules: bool,
        /// Also allow this browser origin (CORS), e.g. http://localhost:5173; repeatable.
        #[arg(long = "cors-origin")]
        cors_origins: Vec<String>,
    },
    /// List the HTTP routes the template declares and the function serving each.
    Routes,
    /// Evidence commands.
    Evidence {
        #[command(subcommand)]
        command: EvidenceCommand,
    },
    /// Collect one tenant's integrations now, in the foreground; exit code 3 when any check fails.
    Run {
        /// The tenant id.
        #[arg(long)]
        tenant: String,
        /// Only this integration (repeatable; default: every active one).
        #[arg(long = "integration")]
        integrations: Vec<String>,
        /// Where embedded state lives (default: the user's data directory).
        #[arg(long, env = "KUSHIM_DATA_DIR")]
        data_dir: Option<PathBuf>,
        /// Use the AWS adapters (against AWS_ENDPOINT_URL, e.g. moto) instead of embedded storage.
        #[arg(long)]
        aws: bool,
        /// With --aws: prefix of the resource names created from the template.
        #[arg(long, default_value = "kushim-local")]
        prefix: String,
        /// No progress bar (for logs and scripts).
        #[arg(long)]
        quiet: bool,
    },
    /// Developer helpers for the local emulator.
    Dev {
        #[command(subcommand)]
        command: DevCommand,
    },
    /// Dead-letter queues: list dead jobs with their last error, show one, redrive them.
    Dlq {
        #[command(subcommand)]
        command: DlqCommand,
        /// Where embedded state lives (default: the user's data directory).
        #[arg(long, env = "KUSHIM_DATA_DIR", global = true)]
        data_dir: Option<PathBuf>,
        /// Use the AWS adapters (against AWS_ENDPOINT_URL, e.g. moto) instead of embedded storage.
        #[arg(long, global = true)]
        aws: bool,
        /// With --aws: prefix of the resource names created from the template.
        #[arg(long, default_value = "kushim-local", global = true)]
        prefix: String,
    },
}

#[derive(Debug, Subcommand)]
enum DevCommand {
    /// Seed the emulator (AWS_ENDPOINT_URL) with the demo AWS account and print how to connect it.
    SeedAws,
}

#[derive(Debug, Subcommand)]
enum DlqCommand {
    /// One line per dead message, oldest first.
    List {
        /// Only this queue (its logical id, e.g. AwsJobsQueue).
        #[arg(long)]
        queue: Option<String>,
        /// Only this tenant's jobs.
        #[arg(long)]
        tenant: Option<String>,
    },
    /// Everything about one dead message, as JSON.
    Show {
        /// The message id.
        message_id: String,
    },
    /// Send dead messages back to their source queue, unchanged (same idempotency key).
    Redrive {
        /// Only this queue (its logical id).
        #[arg(long)]
        queue: Option<String>,
        /// Only this tenant's jobs.
        #[arg(long)]
        tenant: Option<String>,
        /// Only these message ids (repeatable).
        #[arg(long = "id")]
        ids: Vec<String>,
        /// Redrive everything selected by --queue/--tenant (required when no --id is given).
        #[arg(long)]
        all: bool,
    },
}

#[derive(Debug, Subcommand)]
enum EvidenceCommand {
    /// Recompute every hash of a tenant's evidence ledger, records and blobs and check every
    /// checkpoint signature, or verify an exported auditor package offline (--package); exits with
    /// 1 and names the first bad entry or file when anything is wrong.
    Verify {
        /// The tenant id (verifies the tenant's stored evidence).
        #[arg(long, required_unless_present = "package", conflicts_with = "package")]
        tenant: Option<String>,
        /// An auditor package (ZIP) to verify with nothing but the file.
        #[arg(long, value_name = "FILE")]
        package: Option<PathBuf>,
        /// The data directory of `kushim up` (default: the user's data directory).
        #[arg(long, env = "KUSHIM_DATA_DIR")]
        data_dir: Option<PathBuf>,
        /// Verify the tenant on the AWS adapters (against AWS_ENDPOINT_URL, e.g. moto).
        #[arg(long, conflicts_with = "package")]
        aws: bool,
        /// With --aws: prefix of the resource names created from the template.
        #[arg(long, default_value = "kushim-local")]
        prefix: String,
    },
}

fn default_data_dir() -> PathBuf {
    directories::ProjectDirs::from("dev", "kushim", "kushim")
        .map(|d| d.data_dir().to_path_buf())
        .unwrap_or_else(|| PathBuf::from(".kushim"))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    kushim_lambda::telemetry::init_local("info");
    match Cli::parse().command {
        Command::Up { port, data_dir, aws, prefix, no_schedules, cors_origins } => {
            let data_dir = data_dir.unwrap_or_else(default_data_dir);
            let backend = if aws { BackendChoice::Aws { prefix, sdk: None } } else { BackendChoice::Embedded };
            let platform = Platform::start(PlatformOptions {
                port,
                data_dir: data_dir.clone(),
                backend,
                schedules: !no_schedules,
                cors_origins,
                paused_consumers: Vec::new(),
            })
            .await?;
            println!("Kushim is running at {} (data: {}). Press Ctrl-C to stop.", platform.url, data_dir.display());
            for (logical_id, name) in &platform.names.by_logical_id {
                println!("  {logical_id:<28} {name}");
            }
            tokio::signal::ctrl_c().await?;
            println!("Stopping: finishing work in progress; queued messages are kept.");
            platform.shutdown().await;
        }
        Command::Evidence { command: EvidenceCommand::Verify { package: Some(file), .. } } => {
            let bytes = std::fs::read(&file).map_err(|e| format!("cannot read {}: {e}", file.display()))?;
            let report = kushim_evidence::package::verify_package(&bytes);
            print!("{}", kushim::evidence_cli::render_package(&file.display().to_string(), &report));
            if !report.is_ok() {
                std::process::exit(1);
            }
        }
        Command::Evidence { command: EvidenceCommand::Verify { tenant, data_dir, aws, prefix, .. } } => {
            let tenant = tenant.unwrap_or_default();
            let data_dir = data_dir.unwrap_or_else(default_data_dir);
            let report = if aws {
                let opened =
                    kushim::platform::open_backends(&BackendChoice::Aws { prefix, sdk: None }, &data_dir).await?;
                kushim::evidence_cli::verify_opened(&opened, &tenant).await?
            } else {
                kushim::evidence_cli::verify_embedded(&data_dir, &tenant).await?
            };
            print!("{}", kushim::evidence_cli::render(&tenant, &report));
            if report.first_bad.is_some() {
                std::process::exit(1);
            }
        }
        Command::Run { tenant, integrations, data_dir, aws, prefix, quiet } => {
            let data_dir = data_dir.unwrap_or_else(default_data_dir);
            let backend = if aws { BackendChoice::Aws { prefix, sdk: None } } else { BackendChoice::Embedded };
            let opened = kushim::platform::open_backends(&backend, &data_dir).await?;
            let tenant = kushim_domain::TenantId::new(tenant)?;
            let only = if integrations.is_empty() {
                None
            } else {
                Some(integrations.into_iter().map(kushim_domain::IntegrationId::new).collect::<Result<Vec<_>, _>>()?)
            };
            let summary = kushim::run_cli::run_tenant(&opened, &tenant, only, !quiet).await?;
            print!("{}", kushim::run_cli::render(&summary));
            std::process::exit(summary.exit_code());
        }
        Command::Dev { command: DevCommand::SeedAws } => {
            if std::env::var_os("AWS_ENDPOINT_URL").is_none() {
                eprintln!(
                    "refusing to seed a real AWS account: set AWS_ENDPOINT_URL to an emulator (infra/dev/moto start)"
                );
                std::process::exit(2);
            }
            let sdk = kushim_adapters::aws::load_config().await;
            let seeded = kushim_aws::seed::seed_demo_account(&sdk).await?;
            println!("Seeded the demo account {} in the emulator.", seeded.account_id);
            println!("  role ARN:     {}", seeded.role_arn);
            println!("  regions:      {} (primary), {}", seeded.primary_region, seeded.secondary_region);
            println!("Connect it (as an owner or admin):");
            println!(
                "  curl -s localhost:3000/v1/integrations -H \"authorization: Bearer $TOKEN\" -H 'content-type: application/json' \\\n    -d '{{\"kind\":\"aws\",\"display_name\":\"Demo\",\"settings\":{{\"accounts\":[{{\"account_id\":\"{}\",\"role_arn\":\"{}\"}}]}}}}'",
                seeded.account_id, seeded.role_arn
            );
        }
        Command::Dlq { command, data_dir, aws, prefix } => {
            let data_dir = data_dir.unwrap_or_else(default_data_dir);
            let backend = if aws { BackendChoice::Aws { prefix, sdk: None } } else { BackendChoice::Embedded };
            let opened = kushim::platform::open_backends(&backend, &data_dir).await?;
            let tenant_id = |t: Option<String>| t.map(kushim_domain::TenantId::new).transpose();
            match command {
                DlqCommand::List { queue, tenant } => {
                    let tenant = tenant_id(tenant)?;
                    let items = kushim::dlq_cli::list(&opened, queue.as_deref(), tenant.as_ref()).await?;
                    print!("{}", kushim::dlq_cli::render_list(&items));
                }
                DlqCommand::Show { message_id } => {
                    let items = kushim::dlq_cli::list(&opened, None, None).await?;
                    let Some((pair, d)) = items.into_iter().find(|(_, d)| d.message_id == message_id) else {
                        eprintln!("no dead message {message_id}");
                        std::process::exit(1);
                    };
                    let shown =
                        serde_json::json!({ "queue": pair.source_id, "dead_letter_queue": pair.dlq_id, "message": d });
                    println!("{}", serde_json::to_string_pretty(&shown)?);
                }
                DlqCommand::Redrive { queue, tenant, ids, all } => {
                    if ids.is_empty() && !all {
                        eprintln!("say which messages: --id MESSAGE_ID (repeatable), or --all");
                        std::process::exit(2);
                    }
                    let selection = kushim::dlq_cli::selection(tenant_id(tenant)?, ids);
                    let report = kushim::dlq_cli::redrive(&opened, queue.as_deref(), &selection).await?;
                    println!("moved {}, left {} unselected, {} refused", report.moved, report.skipped, report.failed);
                    if report.failed > 0 {
                        std::process::exit(1);
                    }
                }
            }
        }
        Command::Routes => {
            for (f, r) in kushim_template::bundled().routes() {
                println!("{:<7} {:<40} {}", r.method, r.path, f.binary);
            }
        }
    }
    Ok(())
}
