//! Finding or starting the moto server for AWS-adapter tests.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use tokio::sync::OnceCell;

/// A running moto server.
#[derive(Debug, Clone)]
pub struct Moto {
    /// Base URL, e.g. `http://127.0.0.1:5123`.
    pub endpoint: String,
}

const HOW_TO: &str = "The AWS-adapter tests need the moto emulator. Run the project's test command \
`infra/dev/test` (it installs moto into ~/.cache/kushim/venv and starts it), or start one yourself \
with `infra/dev/moto start` and export the KUSHIM_MOTO_ENDPOINT it prints.";

static MOTO: OnceCell<Moto> = OnceCell::const_new();

/// The process-wide moto server: the one named by `KUSHIM_MOTO_ENDPOINT`, else one started from
/// the project venv (or `moto_server` on PATH) that stops when this test process exits.
///
/// # Panics
/// When no emulator can be found or started, with a message saying how to set one up.
pub async fn moto() -> &'static Moto {
    MOTO.get_or_init(|| async {
        if let Ok(endpoint) = std::env::var("KUSHIM_MOTO_ENDPOINT") {
            wait_until_up(&endpoint, Duration::from_secs(20))
                .await
                .unwrap_or_else(|e| panic!("KUSHIM_MOTO_ENDPOINT={endpoint} does not answer ({e}). {HOW_TO}"));
            return Moto { endpoint };
        }
        let server = find_moto_server().unwrap_or_else(|| panic!("moto_server was not found. {HOW_TO}"));
        let port = free_port();
        // A small watchdog shell keeps moto alive exactly as long as this test process.
        let script = format!(
            "\"{}\" -H 127.0.0.1 -p {port} >/dev/null 2>&1 & m=$!; while kill -0 {pid} 2>/dev/null; do sleep 1; done; kill $m",
            server.display(),
            pid = std::process::id()
        );
        Command::new("sh")
            .arg("-c")
            .arg(script)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("could not start moto_server: {e}. {HOW_TO}"));
        let endpoint = format!("http://127.0.0.1:{port}");
        wait_until_up(&endpoint, Duration::from_secs(60))
            .await
            .unwrap_or_else(|e| panic!("moto_server started but never answered on {endpoint} ({e}). {HOW_TO}"));
        Moto { endpoint }
    })
    .await
}

/// The emulator to start: `KUSHIM_MOTO_SERVER`, else the repository's `infra/dev/moto-server`
/// (moto with DynamoDB requests serialised, as DynamoDB's transactions are), found from the
/// directory the tests run in, else plain `moto_server` from the venv or PATH.
fn find_moto_server() -> Option<PathBuf> {
    if let Ok(p) = std::env::var("KUSHIM_MOTO_SERVER") {
        return Some(PathBuf::from(p));
    }
    let cwd = std::env::current_dir().ok()?;
    if let Some(script) = cwd.ancestors().map(|d| d.join("infra/dev/moto-server")).find(|p| p.exists()) {
        return Some(script);
    }
    let cache = std::env::var("KUSHIM_CACHE_DIR")
        .map(PathBuf::from)
        .ok()
        .or_else(|| std::env::var("HOME").ok().map(|h| PathBuf::from(h).join(".cache").join("kushim")))?;
    let venv = cache.join("venv").join("bin").join("moto_server");
    if venv.exists() {
        return Some(venv);
    }
    std::env::var_os("PATH")?.to_str()?.split(':').map(|d| PathBuf::from(d).join("moto_server")).find(|p| p.exists())
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("a free loopback port")
}

async fn wait_until_up(endpoint: &str, timeout: Duration) -> Result<(), String> {
    let addr = endpoint.trim_start_matches("http://").trim_end_matches('/').to_owned();
    let start = Instant::now();
    loop {
        match tokio::net::TcpStream::connect(&addr).await {
            Ok(_) => return Ok(()),
            Err(e) if start.elapsed() > timeout => return Err(e.to_string()),
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}

/// SDK configuration pointing at moto, with test credentials and a fixed region.
pub async fn sdk_config(moto: &Moto) -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(&moto.endpoint)
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
            "testing",
            "testing",
            None,
            None,
            "kushim-tests",
        ))
        .load()
        .await
}

/// A moto server of one test's own, which the test may kill and start again on the same port
/// (to take the emulator away in the middle of a run). It stops when dropped.
#[derive(Debug)]
pub struct OwnMoto {
    /// Base URL, e.g. `http://127.0.0.1:5123`.
    pub endpoint: String,
    port: u16,
    child: Option<std::process::Child>,
}

impl OwnMoto {
    /// Starts a fresh moto server on a free port.
    ///
    /// # Panics
    /// When moto cannot be found or started, with a message saying how to set it up.
    pub async fn start() -> Self {
        let mut own = OwnMoto { endpoint: String::new(), port: free_port(), child: None };
        own.endpoint = format!("http://127.0.0.1:{}", own.port);
        own.up().await;
        own
    }

    async fn up(&mut self) {
        let server = find_moto_server().unwrap_or_else(|| panic!("moto_server was not found. {HOW_TO}"));
        let child = Command::new(server)
            .args(["-H", "127.0.0.1", "-p", &self.port.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("could not start moto_server: {e}. {HOW_TO}"));
        self.child = Some(child);
        wait_until_up(&self.endpoint, Duration::from_secs(60))
            .await
            .unwrap_or_else(|e| panic!("moto_server never answered on {} ({e}). {HOW_TO}", self.endpoint));
    }

    /// Kills the server (its state is lost) and waits until the port no longer answers.
    pub async fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        let addr = self.endpoint.trim_start_matches("http://").to_owned();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        while tokio::net::TcpStream::connect(&addr).await.is_ok() {
            assert!(tokio::time::Instant::now() < deadline, "moto on {addr} still answers 5 s after being killed");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Starts the server again on the same port, empty.
    pub async fn restart(&mut self) {
        self.kill().await;
        self.up().await;
    }
}

impl Drop for OwnMoto {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
