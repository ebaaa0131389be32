//! With the `schemars` feature, the model types describe themselves as JSON Schema: the
//! generated types, and the hand-written ones progenitor is told to use (the open status,
//! the lenient timestamp and amount). Without it, schemars is not built at all (CI checks
//! the crates with `--no-default-features`).

use schemars::schema::{InstanceType, Schema, SingleOrVec};
use truemed_api::types::QualificationSession;

#[test]
fn a_session_schema_names_its_fields_and_their_types() {
    let root = schemars::schema_for!(QualificationSession);
    let object = root.schema.object.as_ref().expect("an object schema");
    assert!(object.required.contains("qualification_session_id"));
    for field in ["qualification_session_id", "status", "created_at", "eligible_amount"] {
        assert!(object.properties.contains_key(field), "no `{field}`");
    }
    let json = serde_json::to_value(&root).unwrap();
    let definitions = &json["definitions"];
    assert_eq!(definitions["Timestamp"]["format"], "date-time", "{json:#}");
    assert_eq!(definitions["Amount"]["type"], "number", "{json:#}");
    // The status is open: any string decodes, so the schema says string, not an enum.
    let status = root.definitions.get("QualificationSessionStatus").unwrap();
    let Schema::Object(status) = status else { panic!("status: {status:?}") };
    assert_eq!(status.instance_type, Some(SingleOrVec::Single(Box::new(InstanceType::String))));
    assert!(status.enum_values.is_none(), "{status:?}");
}

#[test]
fn the_status_filter_schema_carries_the_specs_pattern() {
    let json = serde_json::to_value(schemars::schema_for!(truemed_api::StatusList)).unwrap();
    assert_eq!(json["type"], "string", "{json:#}");
    assert_eq!(json["pattern"], "^[a-z_]+(,[a-z_]+)*$", "{json:#}");
}
