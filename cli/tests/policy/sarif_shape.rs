//! The SARIF 2.1.0 schema's constraints on what ecomctl writes, checked by hand.

use super::*;

/// The SARIF 2.1.0 schema's constraints on the objects ecomctl writes: required properties,
/// enumerations, and (as the schema's `additionalProperties: false` demands) no property the
/// schema does not define. Checked by hand because the schema cannot be fetched here.
pub(crate) fn assert_sarif_2_1_0(log: &Value) {
    fn keys(v: &Value, what: &str, allowed: &[&str], required: &[&str]) {
        let obj = v
            .as_object()
            .unwrap_or_else(|| panic!("{what} is not an object: {v}"));
        for k in obj.keys() {
            assert!(
                allowed.contains(&k.as_str()),
                "{what}: property {k} is not in SARIF 2.1.0"
            );
        }
        for r in required {
            assert!(
                obj.contains_key(*r),
                "{what}: required property {r} missing"
            );
        }
    }
    fn message(v: &Value, what: &str) {
        keys(
            v,
            what,
            &["text", "markdown", "id", "arguments", "properties"],
            &[],
        );
        assert!(
            v.get("text").is_some_and(Value::is_string) || v.get("id").is_some(),
            "{what} needs text or id"
        );
    }
    fn level(v: &Value, what: &str) {
        let l = v
            .as_str()
            .unwrap_or_else(|| panic!("{what} level not a string"));
        assert!(
            ["none", "note", "warning", "error"].contains(&l),
            "{what}: level {l}"
        );
    }
    fn artifact_location(v: &Value, what: &str) {
        keys(
            v,
            what,
            &["uri", "uriBaseId", "index", "description", "properties"],
            &[],
        );
        let uri = v["uri"].as_str().expect("uri is a string");
        assert!(
            !uri.is_empty() && !uri.contains('\\') && !uri.contains(' '),
            "{what}: uri {uri}"
        );
    }

    keys(
        log,
        "sarifLog",
        &[
            "$schema",
            "version",
            "runs",
            "inlineExternalProperties",
            "properties",
        ],
        &["version", "runs"],
    );
    assert_eq!(log["version"], "2.1.0");
    let schema = log["$schema"].as_str().expect("$schema");
    assert!(schema.starts_with("https://") && schema.contains("sarif") && schema.contains("2.1.0"));
    let runs = log["runs"].as_array().expect("runs is an array");
    assert!(!runs.is_empty());
    for run in runs {
        keys(
            run,
            "run",
            &[
                "tool",
                "invocations",
                "conversion",
                "language",
                "versionControlProvenance",
                "originalUriBaseIds",
                "artifacts",
                "logicalLocations",
                "graphs",
                "results",
                "automationDetails",
                "runAggregates",
                "baselineGuid",
                "redactionTokens",
                "defaultEncoding",
                "defaultSourceLanguage",
                "newlineSequences",
                "columnKind",
                "externalPropertyFileReferences",
                "threadFlowLocations",
                "taxonomies",
                "addresses",
                "translations",
                "policies",
                "webRequests",
                "webResponses",
                "specialLocations",
                "properties",
            ],
            &["tool"],
        );
        assert!(["utf16CodeUnits", "unicodeCodePoints"]
            .contains(&run["columnKind"].as_str().unwrap_or("utf16CodeUnits")));
        keys(
            &run["tool"],
            "tool",
            &["driver", "extensions", "properties"],
            &["driver"],
        );
        let driver = &run["tool"]["driver"];
        keys(
            driver,
            "toolComponent",
            &[
                "guid",
                "name",
                "organization",
                "product",
                "productSuite",
                "shortDescription",
                "fullDescription",
                "fullName",
                "version",
                "semanticVersion",
                "dottedQuadFileVersion",
                "releaseDateUtc",
                "downloadUri",
                "informationUri",
                "globalMessageStrings",
                "notifications",
                "rules",
                "taxa",
                "locations",
                "language",
                "contents",
                "isComprehensive",
                "localizedDataSemanticVersion",
                "minimumRequiredLocalizedDataSemanticVersion",
                "associatedComponent",
                "translationMetadata",
                "supportedTaxonomies",
                "properties",
            ],
            &["name"],
        );
        let tool = driver["name"].as_str().unwrap();
        assert!(tool == "ecomctl" || tool == "checkov", "{tool}");
        let rules = driver["rules"].as_array().expect("rules");
        let mut ids = std::collections::BTreeSet::new();
        for rule in rules {
            keys(
                rule,
                "reportingDescriptor",
                &[
                    "id",
                    "deprecatedIds",
                    "guid",
                    "deprecatedGuids",
                    "name",
                    "deprecatedNames",
                    "shortDescription",
                    "fullDescription",
                    "messageStrings",
                    "defaultConfiguration",
                    "helpUri",
                    "help",
                    "relationships",
                    "properties",
                ],
                &["id"],
            );
            let id = rule["id"].as_str().expect("rule id");
            assert!(ids.insert(id.to_string()), "duplicate rule {id}");
            if tool == "ecomctl" {
                assert!(id.starts_with("ECOM-"), "{id}");
            }
            for m in ["shortDescription", "fullDescription", "help"] {
                message(&rule[m], m);
            }
            keys(
                &rule["defaultConfiguration"],
                "reportingConfiguration",
                &["enabled", "level", "rank", "parameters", "properties"],
                &[],
            );
            level(&rule["defaultConfiguration"]["level"], id);
            let props = &rule["properties"];
            assert!(props["tags"]
                .as_array()
                .is_some_and(|t| t.iter().all(Value::is_string)));
            assert!(props["security-severity"]
                .as_str()
                .unwrap()
                .parse::<f64>()
                .is_ok());
        }
        for result in run["results"].as_array().expect("results") {
            keys(
                result,
                "result",
                &[
                    "ruleId",
                    "ruleIndex",
                    "rule",
                    "kind",
                    "level",
                    "message",
                    "analysisTarget",
                    "locations",
                    "guid",
                    "correlationGuid",
                    "occurrenceCount",
                    "partialFingerprints",
                    "fingerprints",
                    "stacks",
                    "codeFlows",
                    "graphs",
                    "graphTraversals",
                    "relatedLocations",
                    "suppressions",
                    "baselineState",
                    "rank",
                    "attachments",
                    "hostedViewerUri",
                    "workItemUris",
                    "provenance",
                    "fixes",
                    "taxa",
                    "webRequest",
                    "webResponse",
                    "properties",
                ],
                &["message"],
            );
            let rule_id = result["ruleId"].as_str().expect("ruleId");
            let index = result["ruleIndex"].as_u64().expect("ruleIndex") as usize;
            assert_eq!(rules[index]["id"], rule_id, "ruleIndex points at the rule");
            level(&result["level"], rule_id);
            message(&result["message"], "result.message");
            let locations = result["locations"].as_array().expect("locations");
            assert!(!locations.is_empty());
            for loc in locations {
                keys(
                    loc,
                    "location",
                    &[
                        "id",
                        "physicalLocation",
                        "logicalLocations",
                        "message",
                        "annotations",
                        "relationships",
                        "properties",
                    ],
                    &[],
                );
                let phys = &loc["physicalLocation"];
                keys(
                    phys,
                    "physicalLocation",
                    &[
                        "address",
                        "artifactLocation",
                        "region",
                        "contextRegion",
                        "properties",
                    ],
                    &[],
                );
                artifact_location(&phys["artifactLocation"], "artifactLocation");
                if let Some(region) = phys.get("region") {
                    keys(
                        region,
                        "region",
                        &[
                            "startLine",
                            "startColumn",
                            "endLine",
                            "endColumn",
                            "charOffset",
                            "charLength",
                            "byteOffset",
                            "byteLength",
                            "snippet",
                            "message",
                            "sourceLanguage",
                            "properties",
                        ],
                        &[],
                    );
                    assert!(region["startLine"].as_u64().unwrap() >= 1);
                }
                for l in loc["logicalLocations"]
                    .as_array()
                    .expect("logicalLocations")
                {
                    keys(
                        l,
                        "logicalLocation",
                        &[
                            "name",
                            "index",
                            "fullyQualifiedName",
                            "decoratedName",
                            "parentIndex",
                            "kind",
                            "properties",
                        ],
                        &[],
                    );
                }
            }
            for (_, v) in result["partialFingerprints"]
                .as_object()
                .expect("fingerprints")
            {
                assert!(v.is_string());
            }
            for s in result
                .get("suppressions")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                keys(
                    s,
                    "suppression",
                    &[
                        "guid",
                        "kind",
                        "status",
                        "justification",
                        "location",
                        "properties",
                    ],
                    &["kind"],
                );
                assert!(["inSource", "external"].contains(&s["kind"].as_str().unwrap()));
                assert!(["accepted", "underReview", "rejected"]
                    .contains(&s["status"].as_str().unwrap()));
            }
        }
    }
}
