//! `kushim evidence verify`: checks a tenant's evidence ledger, records, blobs and checkpoints on
//! the embedded store in a data directory, or an exported auditor package with nothing but the
//! file, and prints a report that names the first bad entry or file.

use std::path::Path;

use kushim_domain::TenantId;
use kushim_evidence::package::PackageReport;
use kushim_evidence::{Checkpoints, VerifyReport, verify_tenant};
use kushim_lambda::backends::EmbeddedSet;

/// Verifies `tenant` in the embedded store under `data_dir`.
pub async fn verify_embedded(data_dir: &Path, tenant: &str) -> Result<VerifyReport, String> {
    if !data_dir.join("table.db").exists() {
        return Err(format!("{} holds no Kushim data (no table.db)", data_dir.display()));
    }
    let tenant = TenantId::new(tenant).map_err(|e| e.to_string())?;
    let set = EmbeddedSet::open(data_dir).map_err(|e| e.to_string())?;
    let checkpoints = Checkpoints::new(set.table.clone(), set.secrets.clone());
    let key = checkpoints.public_key().await.map_err(|e| e.to_string())?;
    verify_tenant(set.table.as_ref(), set.blobs.as_ref(), &key, &tenant).await.map_err(|e| e.to_string())
}

/// Verifies `tenant` on already opened backends (the AWS adapters, with `--aws`).
pub async fn verify_opened(opened: &crate::platform::Opened, tenant: &str) -> Result<VerifyReport, String> {
    let tenant = TenantId::new(tenant).map_err(|e| e.to_string())?;
    let b = &opened.backends;
    let (table, blobs, secrets) = (
        b.table().map_err(|e| e.to_string())?,
        b.blobs().map_err(|e| e.to_string())?,
        b.secrets().map_err(|e| e.to_string())?,
    );
    let key = Checkpoints::new(table.clone(), secrets).public_key().await.map_err(|e| e.to_string())?;
    verify_tenant(table.as_ref(), blobs.as_ref(), &key, &tenant).await.map_err(|e| e.to_string())
}

/// A human-readable report; the first line says whether the tenant's evidence verifies.
pub fn render(tenant: &str, report: &VerifyReport) -> String {
    let mut out = match &report.first_bad {
        None => format!(
            "OK: tenant {tenant}: {} ledger entries, {} evidence records and {} checkpoints verify\n",
            report.entries, report.evidence, report.checkpoints
        ),
        Some(first) => format!(
            "FAILED: tenant {tenant}: first bad entry {}{}: {}\n",
            first.seq.map(|s| format!("#{s}")).unwrap_or_else(|| "-".into()),
            first.digest.as_deref().map(|d| format!(" (evidence {d})")).unwrap_or_default(),
            first
        ),
    };
    for p in report.problems.iter().skip(1) {
        out.push_str(&format!(
            "  also: {}{}: {p}\n",
            p.seq.map(|s| format!("#{s}")).unwrap_or_else(|| "-".into()),
            p.digest.as_deref().map(|d| format!(" (evidence {d})")).unwrap_or_default()
        ));
    }
    out
}

/// A human-readable package report; the first line says whether the package verifies, and the
/// key it verified with is printed so it can be compared with the published one.
pub fn render_package(file: &str, report: &PackageReport) -> String {
    let mut out = match &report.first_bad {
        None => format!(
            "OK: {file}: {} files, {} ledger entries and {} evidence files verify\n",
            report.files, report.entries, report.evidence
        ),
        Some(first) => format!("FAILED: {file}: first bad: {first}\n"),
    };
    if let Some(m) = &report.manifest {
        out.push_str(&format!("  tenant {}, checkpoint at entry {}\n", m.tenant, m.checkpoint_seq));
        if let Some(about) = m.about.as_object() {
            for (k, v) in about {
                out.push_str(&format!("  {k}: {v}\n"));
            }
        }
    }
    if let Some(key) = &report.public_key {
        out.push_str(&format!(
            "  signed with public key {key}\n  compare it with GET /v1/evidence/public-key of the Kushim that exported it\n"
        ));
    }
    for p in report.problems.iter().skip(1) {
        out.push_str(&format!("  also: {p}\n"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use kushim_adapters::table::Table;
    use kushim_evidence::{EvidenceStore, NewEvidence, RetentionPolicy, Source};

    #[tokio::test]
    async fn given_intact_evidence_it_verifies_and_after_an_edit_it_names_the_entry() {
        let dir = tempfile::tempdir().unwrap();
        let tenant = TenantId::new("acme").unwrap();
        {
            let set = EmbeddedSet::open(dir.path()).unwrap();
            let store = EvidenceStore::new(set.table.clone(), set.blobs.clone());
            let now = chrono::Utc::now();
            for i in 0..3 {
                let doc = serde_json::json!({"report": i});
                store
                    .put(&tenant, NewEvidence::json(doc, Source::default(), now), RetentionPolicy::default(), now)
                    .await
                    .unwrap();
            }
        }
        let report = verify_embedded(dir.path(), "acme").await.unwrap();
        let text = render("acme", &report);
        assert!(text.starts_with("OK: tenant acme: 3 ledger entries, 3 evidence records"), "{text}");

        // Edit one metadata field of the second record behind the store's back.
        let set = EmbeddedSet::open(dir.path()).unwrap();
        let page = set
            .table
            .query(
                kushim_adapters::table::Query::partition(kushim_adapters::keys::tenant_pk(&tenant))
                    .begins_with("EVIDENCE#"),
            )
            .await
            .unwrap();
        let mut item = page.items[1].clone();
        item.attrs.insert("media_type".into(), "text/plain".into());
        set.table.put(item, None).await.unwrap();
        drop(set);
        let report = verify_embedded(dir.path(), "acme").await.unwrap();
        let text = render("acme", &report);
        assert!(text.starts_with("FAILED: tenant acme: first bad entry #"), "{text}");
        assert!(report.first_bad.as_ref().and_then(|p| p.digest.as_ref()).is_some(), "{text}");
        assert!(verify_embedded(&dir.path().join("nowhere"), "acme").await.is_err());
    }

    #[tokio::test]
    async fn given_evidence_on_the_aws_adapters_then_verify_opened_checks_it_there() {
        let moto = kushim_testkit::moto().await;
        let sdk = kushim_testkit::sdk_config(moto).await;
        let dir = tempfile::tempdir().unwrap();
        let choice =
            crate::platform::BackendChoice::Aws { prefix: kushim_testkit::unique_prefix(), sdk: Some(Box::new(sdk)) };
        let opened = crate::platform::open_backends(&choice, dir.path()).await.unwrap();
        let (table, blobs) = (opened.backends.table().unwrap(), opened.backends.blobs().unwrap());
        let store = EvidenceStore::new(table, blobs);
        let tenant = TenantId::new("acme").unwrap();
        let now = chrono::Utc::now();
        for i in 0..2 {
            let doc = serde_json::json!({"on_aws": i});
            store
                .put(&tenant, NewEvidence::json(doc, Source::default(), now), RetentionPolicy::default(), now)
                .await
                .unwrap();
        }
        let report = verify_opened(&opened, "acme").await.unwrap();
        assert!(report.is_ok(), "{:?}", report.problems);
        assert_eq!((report.entries, report.evidence), (2, 2));
    }
}
