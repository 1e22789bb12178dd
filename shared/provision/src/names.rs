//! How resource names are built: `{prefix}-{logical id in lowercase}`, then checked against each
//! service's naming rules so a bad prefix fails before any call is made, with a message that says
//! which rule it broke.

use crate::ProvisionError;

/// The name of the resource with this logical id under `prefix`.
pub fn resource_name(prefix: &str, logical_id: &str) -> String {
    format!("{prefix}-{}", logical_id.to_lowercase())
}

fn invalid(resource: String, name: &str, reason: &str) -> ProvisionError {
    ProvisionError::InvalidName { resource, name: name.to_owned(), reason: reason.to_owned() }
}

/// The bucket name for a logical id: lowercase, 3 to 63 characters of `a-z`, `0-9`, `-` and `.`,
/// starting and ending with a letter or digit.
pub fn bucket_name(prefix: &str, logical_id: &str) -> Result<String, ProvisionError> {
    let name = resource_name(prefix, logical_id).to_lowercase();
    let resource = format!("bucket {logical_id}");
    if !(3..=63).contains(&name.len()) {
        return Err(invalid(resource, &name, "bucket names are 3 to 63 characters long"));
    }
    if !name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.') {
        return Err(invalid(resource, &name, "bucket names use only a-z, 0-9, '-' and '.'"));
    }
    let edge_ok = |b: Option<u8>| b.is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
    if !edge_ok(name.bytes().next()) || !edge_ok(name.bytes().last()) {
        return Err(invalid(resource, &name, "bucket names start and end with a letter or a digit"));
    }
    if name.contains("..") {
        return Err(invalid(resource, &name, "bucket names have no two adjacent periods"));
    }
    Ok(name)
}

/// The table name for a logical id: 3 to 255 characters of `A-Z a-z 0-9 _ - .`.
pub fn table_name(prefix: &str, logical_id: &str) -> Result<String, ProvisionError> {
    let name = resource_name(prefix, logical_id);
    let resource = format!("table {logical_id}");
    if !(3..=255).contains(&name.len()) {
        return Err(invalid(resource, &name, "table names are 3 to 255 characters long"));
    }
    if !name.bytes().all(|b| b.is_ascii_alphanumeric() || b"_-.".contains(&b)) {
        return Err(invalid(resource, &name, "table names use only letters, digits, '_', '-' and '.'"));
    }
    Ok(name)
}

/// The queue name for a logical id: at most 80 characters of `A-Z a-z 0-9 - _`, plus the `.fifo`
/// suffix for a FIFO queue.
pub fn queue_name(prefix: &str, logical_id: &str, fifo: bool) -> Result<String, ProvisionError> {
    let base = resource_name(prefix, logical_id);
    let name = if fifo { format!("{base}.fifo") } else { base.clone() };
    let resource = format!("queue {logical_id}");
    if name.is_empty() || name.len() > 80 {
        return Err(invalid(resource, &name, "queue names are 1 to 80 characters long"));
    }
    if !base.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
        return Err(invalid(resource, &name, "queue names use only letters, digits, '-' and '_'"));
    }
    Ok(name)
}

/// The event bus name for a logical id: at most 256 characters of `A-Z a-z 0-9 . - _ /`.
pub fn event_bus_name(prefix: &str, logical_id: &str) -> Result<String, ProvisionError> {
    let name = resource_name(prefix, logical_id);
    let resource = format!("event bus {logical_id}");
    if name.is_empty() || name.len() > 256 || name == "default" {
        return Err(invalid(resource, &name, "event bus names are 1 to 256 characters and not `default`"));
    }
    if !name.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-/".contains(&b)) {
        return Err(invalid(resource, &name, "event bus names use only letters, digits, '.', '-', '_' and '/'"));
    }
    Ok(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_prefix_dash_lowercase_logical_id() {
        assert_eq!(resource_name("t0a1b2c3d", "JobsQueue"), "t0a1b2c3d-jobsqueue");
        assert_eq!(table_name("t0a1b2c3d", "Table").unwrap(), "t0a1b2c3d-table");
        assert_eq!(queue_name("kushim", "Jobs", true).unwrap(), "kushim-jobs.fifo");
        assert_eq!(event_bus_name("kushim", "EventBus").unwrap(), "kushim-eventbus");
    }

    #[test]
    fn bucket_names_follow_s3_rules() {
        assert_eq!(bucket_name("t0a1b2c3d", "EvidenceBucket").unwrap(), "t0a1b2c3d-evidencebucket");
        assert_eq!(bucket_name("Prod", "EvidenceBucket").unwrap(), "prod-evidencebucket");
        for (prefix, logical_id) in [("a".repeat(60).as_str(), "Bucket"), ("under_score", "B"), ("-lead", "B")] {
            assert!(
                matches!(bucket_name(prefix, logical_id), Err(ProvisionError::InvalidName { .. })),
                "{prefix}-{logical_id} should be refused"
            );
        }
    }

    #[test]
    fn queue_names_refuse_bad_characters_and_length() {
        assert!(queue_name("has space", "Q", false).is_err());
        assert!(queue_name(&"q".repeat(80), "Q", false).is_err());
        assert!(table_name("ok", "Bad/Id").is_err());
        assert!(event_bus_name("ok", "Bad Id").is_err());
    }
}
