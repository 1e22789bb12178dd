//! Creating the template's resources in moto for one test: [`fresh_stack`] provisions the bundled
//! template with `kushim-provision` under a prefix no other test uses, so tests never share a
//! table, bucket or queue and can run in parallel.

use kushim_provision::Provisioned;

/// A prefix no other test uses: `t` and 8 hex digits of a random UUID (short enough that every
/// bucket name stays within S3's 63 characters).
pub fn unique_prefix() -> String {
    format!("t{}", &uuid::Uuid::new_v4().simple().to_string()[..8])
}

/// Finds or starts moto and creates the bundled template's table, bucket, queues and event bus in it
/// under a fresh [`unique_prefix`]. Returns the SDK configuration pointing at moto and what was
/// created.
///
/// # Panics
/// When moto cannot be found or started (with instructions), or when provisioning fails (with the
/// resource and the call that failed).
pub async fn fresh_stack() -> (aws_config::SdkConfig, Provisioned) {
    let moto = crate::moto().await;
    let sdk = crate::sdk_config(moto).await;
    let prefix = unique_prefix();
    let provisioned = kushim_provision::provision(&sdk, kushim_template::bundled(), &prefix)
        .await
        .unwrap_or_else(|e| panic!("provisioning the template in moto ({}) failed: {e}", moto.endpoint));
    (sdk, provisioned)
}
