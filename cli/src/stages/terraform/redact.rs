//! What ecomctl keeps of a plan or of outputs never holds a secret: every value Terraform marks
//! sensitive (variables declared `sensitive`, `*_sensitive` masks of resource and output
//! changes, sensitive outputs) and every secret ecomctl itself handed Terraform is replaced by
//! `(sensitive)` wherever it appears in the document.

use serde_json::Value;

pub const REDACTED: &str = "(sensitive)";

/// Collects the leaves of `value` that `mask` marks sensitive (`true`, or a structure of the
/// same shape with `true` leaves).
fn masked(value: &Value, mask: &Value, out: &mut Vec<String>) {
    match (value, mask) {
        (_, Value::Bool(true)) => leaves(value, out),
        (Value::Object(v), Value::Object(m)) => {
            for (k, mk) in m {
                if let Some(vk) = v.get(k) {
                    masked(vk, mk, out);
                }
            }
        }
        (Value::Array(v), Value::Array(m)) => {
            for (vk, mk) in v.iter().zip(m) {
                masked(vk, mk, out);
            }
        }
        _ => {}
    }
}

fn leaves(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::String(s) => out.push(s.clone()),
        Value::Number(n) => out.push(n.to_string()),
        Value::Array(a) => a.iter().for_each(|v| leaves(v, out)),
        Value::Object(o) => o.values().for_each(|v| leaves(v, out)),
        _ => {}
    }
}

/// The sensitive values a `terraform show -json` plan document carries.
fn plan_secrets(doc: &Value, out: &mut Vec<String>) {
    if let Some(vars) = doc
        .pointer("/configuration/root_module/variables")
        .and_then(Value::as_object)
    {
        for (name, decl) in vars {
            if decl["sensitive"] == true {
                leaves(&doc["variables"][name]["value"], out);
            }
        }
    }
    let changes = doc["resource_changes"].as_array().into_iter().flatten();
    for change in changes.chain(
        doc["output_changes"]
            .as_object()
            .into_iter()
            .flat_map(|o| o.values()),
    ) {
        let c = change.get("change").unwrap_or(change);
        masked(&c["before"], &c["before_sensitive"], out);
        masked(&c["after"], &c["after_sensitive"], out);
    }
    for outputs in [
        doc.pointer("/planned_values/outputs"),
        doc.pointer("/prior_state/values/outputs"),
    ]
    .into_iter()
    .flatten()
    {
        outputs_secrets(outputs, out);
    }
}

/// The values of outputs marked sensitive (`terraform output -json` or state shape).
fn outputs_secrets(outputs: &Value, out: &mut Vec<String>) {
    for o in outputs.as_object().into_iter().flat_map(|o| o.values()) {
        if o["sensitive"] == true {
            leaves(&o["value"], out);
        }
    }
}

/// Replaces every string holding one of `secrets` (each at least 4 characters: shorter ones
/// would blank out ordinary words) by [`REDACTED`].
fn scrub(value: &mut Value, secrets: &[String]) {
    match value {
        Value::String(s) if secrets.iter().any(|x| s.contains(x.as_str())) => {
            *s = REDACTED.to_string();
        }
        Value::Array(a) => a.iter_mut().for_each(|v| scrub(v, secrets)),
        Value::Object(o) => o.values_mut().for_each(|v| scrub(v, secrets)),
        _ => {}
    }
}

fn usable(mut secrets: Vec<String>) -> Vec<String> {
    secrets.retain(|s| s.len() >= 4);
    secrets.sort();
    secrets.dedup();
    secrets
}

/// A plan document without its secrets; `known` are values ecomctl passed in itself.
pub fn plan(doc: &mut Value, known: &[String]) {
    let mut secrets = known.to_vec();
    plan_secrets(doc, &mut secrets);
    scrub(doc, &usable(secrets));
}

/// Outputs (`terraform output -json`) with every sensitive value replaced.
pub fn outputs(doc: &mut Value, known: &[String]) {
    let mut secrets = known.to_vec();
    outputs_secrets(doc, &mut secrets);
    let secrets = usable(secrets);
    if let Some(o) = doc.as_object_mut() {
        for output in o.values_mut() {
            if output["sensitive"] == true {
                output["value"] = Value::String(REDACTED.into());
            }
        }
    }
    scrub(doc, &secrets);
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn sensitive_values_are_gone_wherever_they_appear() {
        let mut doc = json!({
            "variables": {"pw": {"value": "hunter2-very-secret"}, "name": {"value": "shop"}},
            "configuration": {"root_module": {"variables": {"pw": {"sensitive": true}, "name": {}}}},
            "resource_changes": [{"change": {
                "after": {"password": "db-pass-123", "tags": {"Name": "shop"}, "note": "uses hunter2-very-secret"},
                "after_sensitive": {"password": true}}}],
            "output_changes": {"token": {"after": "tok-abcdef", "after_sensitive": true}},
        });
        plan(&mut doc, &["env-given-secret".into()]);
        let text = doc.to_string();
        for secret in ["hunter2-very-secret", "db-pass-123", "tok-abcdef"] {
            assert!(!text.contains(secret), "{secret} left in {text}");
        }
        assert_eq!(doc["variables"]["name"]["value"], "shop");
        assert_eq!(
            doc["resource_changes"][0]["change"]["after"]["tags"]["Name"],
            "shop"
        );
    }

    #[test]
    fn sensitive_outputs_are_kept_without_their_value() {
        let mut doc = json!({
            "endpoint": {"sensitive": false, "type": "string", "value": "db.example"},
            "password": {"sensitive": true, "type": "string", "value": "s3cr3t-pw"},
        });
        outputs(&mut doc, &[]);
        assert_eq!(doc["password"]["value"], REDACTED);
        assert_eq!(doc["endpoint"]["value"], "db.example");
    }
}
