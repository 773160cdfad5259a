//! SARIF 2.1.0: one run, the whole doctor catalogue as rules (stable ruleIndex), one result per
//! outcome that is not a pass or a skip; waived ones carry an accepted suppression.

use super::super::catalogue;
use super::super::model::Status;
use super::Report;
use crate::policy::report::{security_severity, SARIF_SCHEMA, SARIF_VERSION};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

fn rule(c: &catalogue::CheckDef) -> Value {
    let mut tags = vec![
        "security".to_string(),
        "compliance".to_string(),
        format!("doctor:{}", c.group),
    ];
    tags.extend(c.pci_dss.iter().map(|x| format!("PCI-DSS-4.0:{x}")));
    tags.extend(c.soc2.iter().map(|x| format!("SOC2:{x}")));
    json!({
        "id": c.id,
        "name": c.id.replace('-', ""),
        "shortDescription": { "text": c.title },
        "fullDescription": { "text": c.title },
        "help": { "text": c.remediation },
        "defaultConfiguration": { "level": "error" },
        "properties": {
            "tags": tags,
            "security-severity": security_severity(c.severity),
            "severity": c.severity.as_str(),
            "group": c.group.name(),
            "pci_dss": c.pci_dss,
            "soc2": c.soc2,
        },
    })
}

pub fn sarif(r: &Report) -> Value {
    let all = catalogue::all();
    let results: Vec<Value> = r
        .outcomes
        .iter()
        .filter(|o| !matches!(o.status, Status::Pass | Status::Skip))
        .map(|o| {
            let index = all.iter().position(|c| c.id == o.id).unwrap_or(0);
            let level = match o.status {
                Status::Warn => "warning",
                _ => "error",
            };
            let mut h = Sha256::new();
            h.update(format!("{}\0{}", o.id, o.resource).as_bytes());
            let fp: String = h.finalize().iter().take(16).map(|b| format!("{b:02x}")).collect();
            let mut result = json!({
                "ruleId": o.id,
                "ruleIndex": index,
                "level": level,
                "message": { "text": format!("{}: {}", o.resource, o.message) },
                "locations": [{
                    "logicalLocations": [{ "name": o.resource, "kind": "resource" }]
                }],
                "partialFingerprints": { "ecomctlDoctor/v1": fp },
                "properties": { "status": o.status.as_str(), "resource": o.resource, "evidence": o.evidence },
            });
            if let Some(w) = &o.waived {
                result["suppressions"] = json!([{
                    "kind": "external",
                    "status": "accepted",
                    "justification": format!("{} (owner {}, ticket {}, until {})", w.reason, w.owner, w.ticket, w.expires),
                }]);
            }
            result
        })
        .collect();
    json!({
        "$schema": SARIF_SCHEMA,
        "version": SARIF_VERSION,
        "runs": [{
            "tool": { "driver": {
                "name": "ecomctl doctor",
                "version": env!("CARGO_PKG_VERSION"),
                "informationUri": "https://github.com/ecomctl/ecomctl/blob/main/docs/doctor.md",
                "rules": all.iter().map(rule).collect::<Vec<_>>(),
            }},
            "invocations": [{ "executionSuccessful": true, "endTimeUtc": r.generated_at }],
            "results": results,
        }],
    })
}
