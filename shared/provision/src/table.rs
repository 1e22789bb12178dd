//! Creating the template's DynamoDB table: attribute definitions, key schema, global secondary
//! indexes with their projections, on-demand billing, then time to live and point-in-time recovery
//! as the template declares them. An existing table with the same name is reused once its key
//! schema is checked against the template.

use std::time::{Duration, Instant};

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::operation::create_table::CreateTableError;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, IndexStatus, KeySchemaElement, KeyType,
    PointInTimeRecoverySpecification, Projection, ProjectionType, ScalarAttributeType, TableDescription, TableStatus,
    TimeToLiveSpecification, TimeToLiveStatus,
};
use kushim_template::{GsiDef, TableDef};

use crate::ProvisionError;

/// How long to wait for a new table (and its indexes) to become `ACTIVE`.
const ACTIVE_TIMEOUT: Duration = Duration::from_secs(600);

fn unsupported(def: &TableDef, message: impl Into<String>) -> ProvisionError {
    ProvisionError::Unsupported { resource: format!("table {}", def.logical_id), message: message.into() }
}

fn key_schema(def: &TableDef, hash: &str, range: Option<&str>) -> Result<Vec<KeySchemaElement>, ProvisionError> {
    let mut schema = vec![(hash, KeyType::Hash)];
    schema.extend(range.map(|r| (r, KeyType::Range)));
    schema
        .into_iter()
        .map(|(name, kind)| {
            KeySchemaElement::builder()
                .attribute_name(name)
                .key_type(kind)
                .build()
                .map_err(|e| unsupported(def, e.to_string()))
        })
        .collect()
}

fn projection(def: &TableDef, gsi: &GsiDef) -> Result<Projection, ProvisionError> {
    let kind = match gsi.projection.as_str() {
        "ALL" => ProjectionType::All,
        "KEYS_ONLY" => ProjectionType::KeysOnly,
        "INCLUDE" => ProjectionType::Include,
        other => return Err(unsupported(def, format!("index {} has projection type {other:?}", gsi.name))),
    };
    let non_key = (kind == ProjectionType::Include).then(|| gsi.non_key_attributes.clone());
    Ok(Projection::builder().projection_type(kind).set_non_key_attributes(non_key).build())
}

/// The `CreateTable` pieces the template defines: attribute definitions, key schema and indexes.
type TableShape = (Vec<AttributeDefinition>, Vec<KeySchemaElement>, Vec<GlobalSecondaryIndex>);

/// Builds the [`TableShape`] of `def`.
fn table_shape(def: &TableDef) -> Result<TableShape, ProvisionError> {
    if def.billing_mode != "PAY_PER_REQUEST" {
        return Err(unsupported(
            def,
            format!("billing mode {} is not supported; only PAY_PER_REQUEST tables are created", def.billing_mode),
        ));
    }
    let attributes = def
        .attributes
        .iter()
        .map(|(name, kind)| {
            AttributeDefinition::builder()
                .attribute_name(name)
                .attribute_type(ScalarAttributeType::from(kind.as_str()))
                .build()
                .map_err(|e| unsupported(def, e.to_string()))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let keys = key_schema(def, &def.hash_key, def.range_key.as_deref())?;
    let gsis = def
        .gsis
        .iter()
        .map(|gsi| {
            GlobalSecondaryIndex::builder()
                .index_name(&gsi.name)
                .set_key_schema(Some(key_schema(def, &gsi.hash_key, gsi.range_key.as_deref())?))
                .projection(projection(def, gsi)?)
                .build()
                .map_err(|e| unsupported(def, e.to_string()))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok((attributes, keys, gsis))
}

/// Creates the table `name` as `def` describes (or reuses an existing one with the same key
/// schema), waits until it and its indexes are `ACTIVE`, then enables time to live on
/// `def.ttl_attribute` and point-in-time recovery when the template asks for them.
pub async fn create_table(client: &Client, def: &TableDef, name: &str) -> Result<(), ProvisionError> {
    let resource = format!("table {name}");
    let (attributes, keys, gsis) = table_shape(def)?;
    let created = client
        .create_table()
        .table_name(name)
        .set_attribute_definitions(Some(attributes))
        .set_key_schema(Some(keys.clone()))
        .set_global_secondary_indexes((!gsis.is_empty()).then_some(gsis))
        .billing_mode(BillingMode::PayPerRequest)
        .send()
        .await;
    match created {
        Ok(_) => tracing::info!(table = name, "created table"),
        Err(err) if matches!(err.as_service_error(), Some(CreateTableError::ResourceInUseException(_))) => {
            tracing::debug!(table = name, "table exists; reusing it");
        }
        Err(err) => return Err(ProvisionError::call(&resource, "CreateTable", err)),
    }
    let description = wait_until_active(client, name).await?;
    check_existing(def, name, &description, &keys)?;
    if let Some(ttl) = &def.ttl_attribute {
        enable_ttl(client, name, ttl).await?;
    }
    if def.point_in_time_recovery {
        let spec = PointInTimeRecoverySpecification::builder()
            .point_in_time_recovery_enabled(true)
            .build()
            .map_err(|e| unsupported(def, e.to_string()))?;
        client
            .update_continuous_backups()
            .table_name(name)
            .point_in_time_recovery_specification(spec)
            .send()
            .await
            .map_err(|e| ProvisionError::call(&resource, "UpdateContinuousBackups", e))?;
    }
    Ok(())
}

/// Polls `DescribeTable` until the table and every index are `ACTIVE`.
async fn wait_until_active(client: &Client, name: &str) -> Result<TableDescription, ProvisionError> {
    let resource = format!("table {name}");
    let start = Instant::now();
    let mut pause = Duration::from_millis(100);
    loop {
        let out = client
            .describe_table()
            .table_name(name)
            .send()
            .await
            .map_err(|e| ProvisionError::call(&resource, "DescribeTable", e))?;
        let table = out.table.ok_or_else(|| ProvisionError::Call {
            resource: resource.clone(),
            call: "DescribeTable",
            message: "the response has no table description".into(),
        })?;
        let status = table.table_status.clone();
        let indexes_active =
            table.global_secondary_indexes().iter().all(|i| i.index_status.as_ref() == Some(&IndexStatus::Active));
        if status == Some(TableStatus::Active) && indexes_active {
            return Ok(table);
        }
        if start.elapsed() > ACTIVE_TIMEOUT {
            return Err(ProvisionError::Timeout {
                resource,
                seconds: ACTIVE_TIMEOUT.as_secs(),
                status: status.map_or_else(|| "unknown".into(), |s| s.as_str().to_owned()),
            });
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_secs(5));
    }
}

/// An existing table is reused only if its primary key and index keys are the template's.
fn check_existing(
    def: &TableDef,
    name: &str,
    table: &TableDescription,
    keys: &[KeySchemaElement],
) -> Result<(), ProvisionError> {
    let mismatch = |message: String| ProvisionError::Mismatch { resource: format!("table {name}"), message };
    if table.key_schema() != keys {
        return Err(mismatch(format!("key schema is {:?}, the template wants {keys:?}", table.key_schema())));
    }
    for gsi in &def.gsis {
        let found = table.global_secondary_indexes().iter().find(|i| i.index_name() == Some(gsi.name.as_str()));
        let wanted = key_schema(def, &gsi.hash_key, gsi.range_key.as_deref())?;
        match found {
            Some(index) if index.key_schema() == wanted.as_slice() => {}
            Some(index) => {
                return Err(mismatch(format!(
                    "index {} has key schema {:?}, the template wants {wanted:?}",
                    gsi.name,
                    index.key_schema()
                )));
            }
            None => return Err(mismatch(format!("index {} is missing", gsi.name))),
        }
    }
    Ok(())
}

/// Turns time to live on for `attribute`, unless it already is (DynamoDB refuses to enable it
/// twice).
async fn enable_ttl(client: &Client, name: &str, attribute: &str) -> Result<(), ProvisionError> {
    let resource = format!("table {name}");
    let current = client
        .describe_time_to_live()
        .table_name(name)
        .send()
        .await
        .map_err(|e| ProvisionError::call(&resource, "DescribeTimeToLive", e))?;
    if let Some(d) = current.time_to_live_description {
        let on = matches!(d.time_to_live_status, Some(TimeToLiveStatus::Enabled | TimeToLiveStatus::Enabling));
        match d.attribute_name.as_deref() {
            Some(a) if on && a == attribute => return Ok(()),
            Some(a) if on => {
                return Err(ProvisionError::Mismatch {
                    resource,
                    message: format!("time to live is on attribute {a}, the template wants {attribute}"),
                });
            }
            _ => {}
        }
    }
    let spec = TimeToLiveSpecification::builder()
        .attribute_name(attribute)
        .enabled(true)
        .build()
        .map_err(|e| ProvisionError::Unsupported { resource: resource.clone(), message: e.to_string() })?;
    client
        .update_time_to_live()
        .table_name(name)
        .time_to_live_specification(spec)
        .send()
        .await
        .map_err(|e| ProvisionError::call(&resource, "UpdateTimeToLive", e))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bundled_table() -> &'static TableDef {
        kushim_template::bundled().table()
    }

    #[test]
    fn shape_mirrors_the_template() {
        let def = bundled_table();
        let (attributes, keys, gsis) = table_shape(def).unwrap();
        assert_eq!(attributes.len(), def.attributes.len());
        assert_eq!(keys[0].attribute_name(), def.hash_key);
        assert_eq!(keys[0].key_type(), &KeyType::Hash);
        assert_eq!(keys.get(1).map(KeySchemaElement::attribute_name), def.range_key.as_deref());
        assert_eq!(gsis.len(), def.gsis.len());
        for (built, wanted) in gsis.iter().zip(&def.gsis) {
            assert_eq!(built.index_name(), wanted.name);
            assert_eq!(
                built.projection().and_then(|p| p.projection_type()).map(|p| p.as_str()),
                Some(wanted.projection.as_str())
            );
        }
    }

    #[test]
    fn provisioned_billing_is_refused() {
        let mut def = bundled_table().clone();
        def.billing_mode = "PROVISIONED".into();
        assert!(matches!(table_shape(&def), Err(ProvisionError::Unsupported { .. })));
    }

    #[test]
    fn include_projection_carries_its_attributes() {
        let mut def = bundled_table().clone();
        let gsi = GsiDef {
            name: "G".into(),
            hash_key: "GSI1PK".into(),
            range_key: None,
            projection: "INCLUDE".into(),
            non_key_attributes: vec!["state".into()],
        };
        def.gsis = vec![gsi.clone()];
        let p = projection(&def, &gsi).unwrap();
        assert_eq!(p.non_key_attributes(), ["state".to_owned()]);
        let unknown = GsiDef { projection: "SOME".into(), ..gsi };
        assert!(projection(&def, &unknown).is_err());
    }
}
