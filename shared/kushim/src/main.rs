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
        Command::Routes => {
            for (f, r) in kushim_template::bundled().routes() {
                println!("{:<7} {:<40} {}", r.method, r.path, f.binary);
            }
        }
    }
    Ok(())
}
