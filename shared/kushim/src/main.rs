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
}

#[derive(Debug, Subcommand)]
enum EvidenceCommand {
    /// Recompute every hash of a tenant's evidence ledger, records and blobs, and check every
    /// checkpoint signature; exits with 1 and names the first bad entry when anything is wrong.
    Verify {
        /// The tenant id.
        #[arg(long)]
        tenant: String,
        /// The data directory of `kushim up` (default: the user's data directory).
        #[arg(long, env = "KUSHIM_DATA_DIR")]
        data_dir: Option<PathBuf>,
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
        Command::Evidence { command: EvidenceCommand::Verify { tenant, data_dir } } => {
            let data_dir = data_dir.unwrap_or_else(default_data_dir);
            let report = kushim::evidence_cli::verify_embedded(&data_dir, &tenant).await?;
            print!("{}", kushim::evidence_cli::render(&tenant, &report));
            if report.first_bad.is_some() {
                std::process::exit(1);
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
