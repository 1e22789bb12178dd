//! Contract suite for the Secrets port. Every assertion function runs twice: against the embedded
//! adapter (in a temporary directory) and against Secrets Manager in moto (under a unique prefix).
//! Embedded-only checks (encryption at rest, key file handling) follow the shared ones.

use std::path::Path;

use kushim_adapters::AdapterError;
use kushim_adapters::secrets::embedded::{EmbeddedSecrets, KEY_FILE, SECRETS_FILE};
use kushim_adapters::secrets::secretsmanager::SecretsManagerSecrets;
use kushim_adapters::secrets::{ExposeSecret, MAX_SECRET_BYTES, SecretString, Secrets};
use serde_json::Value;

fn secret(value: &str) -> SecretString {
    SecretString::from(value.to_owned())
}

async fn read(store: &dyn Secrets, name: &str) -> String {
    store.get(name).await.unwrap_or_else(|e| panic!("get {name}: {e}")).expose_secret().to_owned()
}

#[track_caller]
fn assert_not_found<T: std::fmt::Debug>(result: Result<T, AdapterError>) {
    assert!(matches!(result, Err(AdapterError::NotFound(_))), "expected NotFound, got {result:?}");
}

#[track_caller]
fn assert_invalid<T: std::fmt::Debug>(result: Result<T, AdapterError>) {
    assert!(matches!(result, Err(AdapterError::Invalid(_))), "expected Invalid, got {result:?}");
}

// ---- Shared contract: each runs against both adapters. ----

async fn put_get_round_trip(store: &dyn Secrets) {
    store.put("db/password", secret("hunter2")).await.unwrap();
    assert_eq!(read(store, "db/password").await, "hunter2");
    let structured = "{\"user\": \"kushim\",\n \"token\": \"ünïcødé ✓\"}";
    store.put("api.token@vendor", secret(structured)).await.unwrap();
    assert_eq!(read(store, "api.token@vendor").await, structured);
    // Secrets are independent of each other.
    assert_eq!(read(store, "db/password").await, "hunter2");
}

async fn overwrite_replaces(store: &dyn Secrets) {
    store.put("signing-key", secret("v1")).await.unwrap();
    store.put("signing-key", secret("v2")).await.unwrap();
    assert_eq!(read(store, "signing-key").await, "v2");
}

async fn get_missing_is_not_found(store: &dyn Secrets) {
    assert_not_found(store.get("never-written").await);
    assert_not_found(store.delete("never-written").await);
}

async fn delete_then_not_found(store: &dyn Secrets) {
    store.put("short-lived", secret("x")).await.unwrap();
    store.delete("short-lived").await.unwrap();
    assert_not_found(store.get("short-lived").await);
    assert_not_found(store.delete("short-lived").await);
    // Writing it again brings it back.
    store.put("short-lived", secret("y")).await.unwrap();
    assert_eq!(read(store, "short-lived").await, "y");
}

async fn invalid_names_refused(store: &dyn Secrets) {
    let too_long = "a".repeat(513);
    for name in ["", "has space", "semi;colon", "ünicode", "star*", too_long.as_str()] {
        assert_invalid(store.get(name).await);
        assert_invalid(store.put(name, secret("v")).await);
        assert_invalid(store.delete(name).await);
    }
}

async fn oversized_value_refused(store: &dyn Secrets) {
    assert_invalid(store.put("big", secret(&"x".repeat(MAX_SECRET_BYTES + 1))).await);
    assert_not_found(store.get("big").await);
}

async fn create_if_absent_creates_only_once(store: &dyn Secrets) {
    // GIVEN no secret, WHEN it is created if absent, THEN this call created it.
    assert!(store.create_if_absent("signing/key", secret("first")).await.unwrap());
    assert_eq!(read(store, "signing/key").await, "first");
    // WHEN it is created if absent again, THEN nothing changes and the caller is told so.
    assert!(!store.create_if_absent("signing/key", secret("second")).await.unwrap());
    assert_eq!(read(store, "signing/key").await, "first");
    // A secret written by `put` counts as present too.
    store.put("written", secret("by put")).await.unwrap();
    assert!(!store.create_if_absent("written", secret("other")).await.unwrap());
    assert_eq!(read(store, "written").await, "by put");
}

async fn create_if_absent_after_delete_creates_again(store: &dyn Secrets) {
    store.put("recreated", secret("old")).await.unwrap();
    store.delete("recreated").await.unwrap();
    // GIVEN a deleted secret (on Secrets Manager: scheduled for deletion), THEN it counts as absent.
    assert!(store.create_if_absent("recreated", secret("new")).await.unwrap());
    assert_eq!(read(store, "recreated").await, "new");
    assert!(!store.create_if_absent("recreated", secret("newer")).await.unwrap());
    assert_eq!(read(store, "recreated").await, "new");
}

async fn create_if_absent_refuses_what_put_refuses(store: &dyn Secrets) {
    assert_invalid(store.create_if_absent("has space", secret("v")).await);
    assert_invalid(store.create_if_absent("big", secret(&"x".repeat(MAX_SECRET_BYTES + 1))).await);
    assert_not_found(store.get("big").await);
}

async fn racing_creators_have_exactly_one_winner(store: &dyn Secrets) {
    // GIVEN eight callers creating the same secret at once, each with its own value.
    let results = futures::future::join_all((0..8).map(|i| async move {
        let won = store.create_if_absent("race", secret(&format!("value-{i}"))).await.unwrap();
        (i, won)
    }))
    .await;
    // THEN exactly one won, and the stored value is the winner's.
    let winners: Vec<usize> = results.iter().filter(|(_, won)| *won).map(|(i, _)| *i).collect();
    assert_eq!(winners.len(), 1, "{results:?}");
    assert_eq!(read(store, "race").await, format!("value-{}", winners[0]));
}

/// Runs each shared assertion against a fresh embedded store and a fresh Secrets Manager prefix.
macro_rules! contract {
    ($($case:ident),* $(,)?) => {
        mod embedded {
            $(
                #[tokio::test]
                async fn $case() {
                    let dir = tempfile::tempdir().unwrap();
                    let store = kushim_adapters::secrets::embedded::EmbeddedSecrets::open(dir.path()).unwrap();
                    super::$case(&store).await;
                }
            )*
        }
        mod secrets_manager {
            $(
                #[tokio::test]
                async fn $case() {
                    let store = super::secrets_manager().await.with_force_delete(true);
                    super::$case(&store).await;
                }
            )*
        }
    };
}

contract!(
    put_get_round_trip,
    overwrite_replaces,
    get_missing_is_not_found,
    delete_then_not_found,
    invalid_names_refused,
    oversized_value_refused,
    create_if_absent_creates_only_once,
    create_if_absent_after_delete_creates_again,
    create_if_absent_refuses_what_put_refuses,
    racing_creators_have_exactly_one_winner,
);

async fn secrets_manager_client() -> aws_sdk_secretsmanager::Client {
    let moto = kushim_testkit::moto().await;
    aws_sdk_secretsmanager::Client::new(&kushim_testkit::sdk_config(moto).await)
}

fn unique_prefix() -> String {
    format!("kushim-test-{}/", uuid::Uuid::new_v4())
}

async fn secrets_manager() -> SecretsManagerSecrets {
    SecretsManagerSecrets::new(secrets_manager_client().await, unique_prefix())
}

// ---- Secrets Manager only. ----

#[tokio::test]
async fn secrets_manager_names_are_prefixed() {
    let client = secrets_manager_client().await;
    let prefix = unique_prefix();
    let store = SecretsManagerSecrets::new(client.clone(), prefix.clone());
    store.put("db/password", secret("hunter2")).await.unwrap();
    let raw = client.get_secret_value().secret_id(format!("{prefix}db/password")).send().await.unwrap();
    assert_eq!(raw.secret_string(), Some("hunter2"));
    assert!(client.describe_secret().secret_id("db/password").send().await.is_err());
}

#[tokio::test]
async fn secrets_manager_default_delete_keeps_a_recovery_window() {
    let client = secrets_manager_client().await;
    let prefix = unique_prefix();
    let store = SecretsManagerSecrets::new(client.clone(), prefix.clone());
    store.put("recoverable", secret("v")).await.unwrap();
    store.delete("recoverable").await.unwrap();
    assert_not_found(store.get("recoverable").await);
    assert_not_found(store.delete("recoverable").await);
    // Still there, scheduled for deletion, and restorable by an operator.
    let id = format!("{prefix}recoverable");
    let described = client.describe_secret().secret_id(&id).send().await.unwrap();
    assert!(described.deleted_date().is_some(), "the secret should be pending deletion, not gone");
    client.restore_secret().secret_id(&id).send().await.unwrap();
    assert_eq!(read(&store, "recoverable").await, "v");
}

#[tokio::test]
async fn secrets_manager_create_if_absent_restores_a_secret_pending_deletion_once() {
    // GIVEN a secret scheduled for deletion (the default delete keeps a recovery window).
    let store = secrets_manager().await;
    store.put("pending", secret("old")).await.unwrap();
    store.delete("pending").await.unwrap();
    assert_not_found(store.get("pending").await);
    // WHEN several callers create it if absent at once.
    let results = futures::future::join_all((0..4).map(|i| {
        let store = &store;
        async move { (i, store.create_if_absent("pending", secret(&format!("new-{i}"))).await.unwrap()) }
    }))
    .await;
    // THEN exactly one restored it with its value; the old value is gone.
    let winners: Vec<usize> = results.iter().filter(|(_, won)| *won).map(|(i, _)| *i).collect();
    assert_eq!(winners.len(), 1, "{results:?}");
    assert_eq!(read(&store, "pending").await, format!("new-{}", winners[0]));
}

// ---- Embedded only. ----

fn sealed_file(dir: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(dir.join(SECRETS_FILE)).unwrap()).unwrap()
}

fn write_sealed_file(dir: &Path, file: &Value) {
    std::fs::write(dir.join(SECRETS_FILE), serde_json::to_vec(file).unwrap()).unwrap();
}

#[tokio::test]
async fn embedded_values_are_not_stored_in_plaintext() {
    let dir = tempfile::tempdir().unwrap();
    let store = EmbeddedSecrets::open(dir.path()).unwrap();
    let value = "correct-horse-battery-staple";
    store.put("plain", secret(value)).await.unwrap();
    for file in [SECRETS_FILE, KEY_FILE] {
        let bytes = std::fs::read(dir.path().join(file)).unwrap();
        assert!(!bytes.windows(value.len()).any(|w| w == value.as_bytes()), "{file} holds the plaintext");
    }
    // A fresh nonce per write: the same value sealed twice looks different.
    let first = sealed_file(dir.path())["secrets"]["plain"].clone();
    store.put("plain", secret(value)).await.unwrap();
    let second = sealed_file(dir.path())["secrets"]["plain"].clone();
    assert_ne!(first["nonce"], second["nonce"]);
    assert_ne!(first["ciphertext"], second["ciphertext"]);
}

#[tokio::test]
async fn embedded_tampering_fails_authentication() {
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD;

    let dir = tempfile::tempdir().unwrap();
    let store = EmbeddedSecrets::open(dir.path()).unwrap();
    store.put("victim", secret("value")).await.unwrap();
    let mut file = sealed_file(dir.path());
    let sealed = &mut file["secrets"]["victim"]["ciphertext"];
    let mut bytes = STANDARD.decode(sealed.as_str().unwrap()).unwrap();
    bytes[0] ^= 0x01;
    *sealed = Value::String(STANDARD.encode(bytes));
    write_sealed_file(dir.path(), &file);

    match store.get("victim").await {
        Err(AdapterError::Storage(msg)) => assert_eq!(msg, "secret victim failed authentication"),
        other => panic!("expected a Storage error, got {other:?}"),
    }
}

#[tokio::test]
async fn embedded_ciphertext_is_bound_to_its_name() {
    let dir = tempfile::tempdir().unwrap();
    let store = EmbeddedSecrets::open(dir.path()).unwrap();
    store.put("admin-password", secret("root")).await.unwrap();
    store.put("guest-password", secret("guest")).await.unwrap();
    let mut file = sealed_file(dir.path());
    file["secrets"]["guest-password"] = file["secrets"]["admin-password"].clone();
    write_sealed_file(dir.path(), &file);
    assert!(matches!(store.get("guest-password").await, Err(AdapterError::Storage(_))));
    assert_eq!(read(&store, "admin-password").await, "root");
}

#[cfg(unix)]
#[tokio::test]
async fn embedded_key_file_is_owner_only() {
    use std::os::unix::fs::PermissionsExt;

    let dir = tempfile::tempdir().unwrap();
    let store = EmbeddedSecrets::open(dir.path()).unwrap();
    store.put("any", secret("v")).await.unwrap();
    let key = std::fs::metadata(dir.path().join(KEY_FILE)).unwrap();
    assert_eq!(key.permissions().mode() & 0o777, 0o600);
    assert_eq!(key.len(), 32);
    let secrets = std::fs::metadata(dir.path().join(SECRETS_FILE)).unwrap();
    assert_eq!(secrets.permissions().mode() & 0o777, 0o600);
}

#[tokio::test]
async fn embedded_reopen_keeps_data() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = EmbeddedSecrets::open(dir.path()).unwrap();
        store.put("kept", secret("still here")).await.unwrap();
    }
    let key_before = std::fs::read(dir.path().join(KEY_FILE)).unwrap();
    let store = EmbeddedSecrets::open(dir.path()).unwrap();
    assert_eq!(read(&store, "kept").await, "still here");
    assert_eq!(std::fs::read(dir.path().join(KEY_FILE)).unwrap(), key_before, "reopening must not replace the key");
}

#[tokio::test]
async fn embedded_refuses_a_key_of_the_wrong_length() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join(KEY_FILE), [7u8; 16]).unwrap();
    match EmbeddedSecrets::open(dir.path()) {
        Err(AdapterError::Storage(msg)) => assert!(msg.contains("expected 32"), "{msg}"),
        other => panic!("expected a Storage error, got {other:?}"),
    }
    // The bad key is left alone for the operator to fix.
    assert_eq!(std::fs::read(dir.path().join(KEY_FILE)).unwrap().len(), 16);
}

#[tokio::test]
async fn embedded_another_key_cannot_read() {
    let dir = tempfile::tempdir().unwrap();
    EmbeddedSecrets::open(dir.path()).unwrap().put("s", secret("v")).await.unwrap();
    std::fs::remove_file(dir.path().join(KEY_FILE)).unwrap();
    let store = EmbeddedSecrets::open(dir.path()).unwrap();
    assert!(matches!(store.get("s").await, Err(AdapterError::Storage(_))));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn embedded_create_if_absent_is_atomic_across_adapters_on_one_directory() {
    // GIVEN several adapters over the same directory (as separate processes would open it).
    let dir = tempfile::tempdir().unwrap();
    let stores: Vec<EmbeddedSecrets> = (0..6).map(|_| EmbeddedSecrets::open(dir.path()).unwrap()).collect();
    // WHEN each creates the same secret at once from its own thread.
    let tasks: Vec<_> = stores
        .into_iter()
        .enumerate()
        .map(|(i, store)| {
            tokio::spawn(async move { (i, store.create_if_absent("key", secret(&format!("v{i}"))).await.unwrap()) })
        })
        .collect();
    let mut winners = Vec::new();
    for task in tasks {
        let (i, won) = task.await.unwrap();
        if won {
            winners.push(i);
        }
    }
    // THEN exactly one created it, and every adapter reads the winner's value.
    assert_eq!(winners.len(), 1, "{winners:?}");
    let store = EmbeddedSecrets::open(dir.path()).unwrap();
    assert_eq!(read(&store, "key").await, format!("v{}", winners[0]));
}

#[tokio::test]
async fn embedded_concurrent_writes_are_all_kept() {
    let dir = tempfile::tempdir().unwrap();
    let store = EmbeddedSecrets::open(dir.path()).unwrap();
    let writes = (0..20).map(|i| {
        let store = store.clone();
        tokio::spawn(async move { store.put(&format!("s{i}"), secret(&format!("v{i}"))).await })
    });
    for write in writes.collect::<Vec<_>>() {
        write.await.unwrap().unwrap();
    }
    for i in 0..20 {
        assert_eq!(read(&store, &format!("s{i}")).await, format!("v{i}"));
    }
}
