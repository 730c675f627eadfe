//! Validation of simulator responses against Microsoft's schemas in
//! `shared/pim-api/specs` (Graph: JSON Schema 2020-12 derived from the CSDL; ARM:
//! Swagger 2.0 definitions treated as draft-04, nulls stripped, `x-ms-*` ignored).

use std::path::PathBuf;

use jsonschema::{Draft, Retrieve, Uri, Validator};
use serde_json::{Value, json};

const GRAPH_ID: &str = "urn:pim-api:graph-v1.0-pim.schema.json";
const ARM_BASE: &str = "https://specs.pim-api.invalid/arm-2020-10-01/";

/// The specs folder: `$CARGO_MANIFEST_DIR/../../../shared/pim-api/specs`, else `$PIM_SPECS_DIR`.
pub fn specs_dir() -> PathBuf {
    let beside = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/pim-api/specs");
    if beside.join("graph-v1.0").is_dir() {
        return beside;
    }
    if let Ok(p) = std::env::var("PIM_SPECS_DIR") {
        let p = PathBuf::from(p);
        if p.join("graph-v1.0").is_dir() {
            return p;
        }
    }
    panic!(
        "PIM API specs not found: expected {} (shared/ beside the repository clone) or a PIM_SPECS_DIR environment variable pointing at shared/pim-api/specs",
        beside.display()
    );
}

fn read(rel: &str) -> Value {
    let p = specs_dir().join(rel);
    let text =
        std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("cannot read {}: {e}", p.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{} is not JSON: {e}", p.display()))
}

/// Drops `x-ms-*` keys (Swagger extensions) recursively.
fn strip_extensions(v: &mut Value) {
    match v {
        Value::Object(o) => {
            o.retain(|k, _| !k.starts_with("x-ms-"));
            o.values_mut().for_each(strip_extensions);
        }
        Value::Array(a) => a.iter_mut().for_each(strip_extensions),
        _ => {}
    }
}

/// Drops `null`-valued members recursively (Swagger 2.0 has no `nullable`).
pub fn strip_nulls(v: &Value) -> Value {
    match v {
        Value::Object(o) => Value::Object(
            o.iter()
                .filter(|(_, x)| !x.is_null())
                .map(|(k, x)| (k.clone(), strip_nulls(x)))
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(strip_nulls).collect()),
        other => other.clone(),
    }
}

struct SpecRetriever;

impl Retrieve for SpecRetriever {
    fn retrieve(
        &self,
        uri: &Uri<String>,
    ) -> Result<Value, Box<dyn std::error::Error + Send + Sync>> {
        let s = uri.as_str();
        if s == GRAPH_ID {
            return Ok(read("graph-v1.0/graph-v1.0-pim.schema.json"));
        }
        if let Some(name) = s.strip_prefix(ARM_BASE) {
            let mut doc = read(&format!("arm-2020-10-01/{name}"));
            strip_extensions(&mut doc);
            if let Some(o) = doc.as_object_mut() {
                o.insert(
                    "$schema".into(),
                    json!("http://json-schema.org/draft-04/schema#"),
                );
            }
            return Ok(doc);
        }
        Err(format!("unknown schema {s}").into())
    }
}

/// Validator for `#/$defs/microsoft.graph.<type>`.
pub fn graph(type_name: &str) -> Validator {
    let schema = json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$ref": format!("{GRAPH_ID}#/$defs/microsoft.graph.{type_name}"),
    });
    jsonschema::options()
        .with_draft(Draft::Draft202012)
        .with_retriever(SpecRetriever)
        .build(&schema)
        .unwrap_or_else(|e| panic!("graph schema {type_name}: {e}"))
}

/// Validator for an ARM definition in a spec file.
pub fn arm(file: &str, definition: &str) -> Validator {
    let schema = json!({
        "$schema": "http://json-schema.org/draft-04/schema#",
        "$ref": format!("{ARM_BASE}{file}#/definitions/{definition}"),
    });
    jsonschema::options()
        .with_draft(Draft::Draft4)
        .with_retriever(SpecRetriever)
        .build(&schema)
        .unwrap_or_else(|e| panic!("arm schema {file}#{definition}: {e}"))
}

pub fn errors(v: &Validator, instance: &Value) -> Vec<String> {
    v.iter_errors(instance)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect()
}

/// Asserts a Graph entity validates.
pub fn assert_graph(type_name: &str, instance: &Value) {
    let v = graph(type_name);
    let errs = errors(&v, instance);
    assert!(
        errs.is_empty(),
        "{type_name} invalid: {errs:?}\n{instance:#}"
    );
}

/// Asserts a Graph collection (`value` array of the type) validates, and is non-empty.
pub fn assert_graph_collection(type_name: &str, body: &Value) {
    assert!(
        body["@odata.context"].is_string(),
        "collection has @odata.context: {body}"
    );
    let items = body["value"]
        .as_array()
        .unwrap_or_else(|| panic!("collection has value: {body}"));
    assert!(!items.is_empty(), "{type_name}: empty collection");
    let v = graph(type_name);
    for i in items {
        let errs = errors(&v, i);
        assert!(errs.is_empty(), "{type_name} invalid: {errs:?}\n{i:#}");
    }
}

/// Asserts an ARM resource validates (nulls stripped first).
pub fn assert_arm(file: &str, definition: &str, instance: &Value) {
    let v = arm(file, definition);
    let stripped = strip_nulls(instance);
    let errs = errors(&v, &stripped);
    assert!(
        errs.is_empty(),
        "{definition} invalid: {errs:?}\n{stripped:#}"
    );
}

/// Validates each policy rule against the definition named by its `ruleType`.
pub fn assert_arm_rules(file: &str, rules: &Value) {
    let rules = rules.as_array().expect("rules array");
    assert_eq!(rules.len(), 17, "all 17 rules");
    for r in rules {
        let t = r["ruleType"].as_str().expect("ruleType");
        assert_arm(file, t, r);
    }
}

// ---------- sanity of the validator itself ----------

#[test]
fn arm_examples_validate() {
    let put = read("arm-2020-10-01/examples/PutRoleAssignmentScheduleRequest.json");
    assert_arm(
        "RoleAssignmentScheduleRequest.json",
        "RoleAssignmentScheduleRequest",
        &put["responses"]["201"]["body"],
    );
    let elig = read("arm-2020-10-01/examples/GetRoleEligibilityScheduleInstancesByScope.json");
    assert_arm(
        "RoleEligibilityScheduleInstance.json",
        "RoleEligibilityScheduleInstanceListResult",
        &elig["responses"]["200"]["body"],
    );
    let asg = read("arm-2020-10-01/examples/GetRoleAssignmentScheduleInstancesByScope.json");
    assert_arm(
        "RoleAssignmentScheduleInstance.json",
        "RoleAssignmentScheduleInstanceListResult",
        &asg["responses"]["200"]["body"],
    );
}

#[test]
fn validators_reject_wrong_shapes() {
    let v = arm(
        "RoleAssignmentScheduleRequest.json",
        "RoleAssignmentScheduleRequest",
    );
    let bad = json!({"properties": {"principalId": 5, "roleDefinitionId": "x", "requestType": "SelfActivate"}});
    assert!(
        !errors(&v, &bad).is_empty(),
        "a number principalId is rejected"
    );
    let g = graph("unifiedRoleAssignmentScheduleRequest");
    assert!(
        !errors(&g, &json!({"action": "SelfActivate"})).is_empty(),
        "PascalCase action is not a Graph response value"
    );
    assert!(errors(&g, &json!({"action": "selfActivate"})).is_empty());
    assert!(
        !errors(&g, &json!({"createdDateTime": "yesterday"})).is_empty(),
        "date pattern enforced"
    );
    let r = arm("common-types.json", "RoleManagementPolicyExpirationRule");
    assert!(
        !errors(&r, &json!({"id": "x"})).is_empty(),
        "ruleType is required"
    );
}

#[test]
fn missing_specs_message_names_the_env_var() {
    // the resolution itself must succeed here (shared/ is beside the repo in dev and CI)
    assert!(specs_dir().join("arm-2020-10-01").is_dir());
}
