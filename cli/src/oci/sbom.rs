//! CycloneDX 1.6 JSON for one image: the service's crates as Cargo resolved them (`cargo
//! metadata`: names, versions, licences; SHA-256 checksums from `Cargo.lock`), the base's Debian
//! packages (with the SHA-256 of each `.deb`), and the dependency graph between them.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use anyhow::{Context, Result};
use serde_json::{json, Value};

use super::debian::Lock;
use super::image::{Provenance, Written};
use super::{digest_hex, rfc3339};
use crate::tools::process::{self, Spec};

pub const MEDIA_CYCLONEDX: &str = "application/vnd.cyclonedx+json";

/// `cargo metadata` for the target platform, read once per build.
pub struct CargoGraph {
    metadata: Value,
    checksums: BTreeMap<(String, String), String>,
}

impl CargoGraph {
    pub fn load(root: &Path, target: &str) -> Result<CargoGraph> {
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let mut spec = Spec::new("cargo metadata", std::path::PathBuf::from(cargo)).args([
            "metadata",
            "--format-version",
            "1",
            "--locked",
            "--filter-platform",
            target,
        ]);
        spec.cwd = Some(root.to_path_buf());
        spec.capture_stdout = true;
        let out = process::run(&spec, &mut |_, _| {}).context("reading the dependency graph")?;
        let metadata = serde_json::from_slice(&out.stdout).context("parsing `cargo metadata`")?;
        let lock =
            std::fs::read_to_string(root.join("Cargo.lock")).context("reading Cargo.lock")?;
        Ok(CargoGraph {
            metadata,
            checksums: lock_checksums(&lock),
        })
    }

    fn package(&self, id: &str) -> Option<&Value> {
        self.metadata["packages"]
            .as_array()?
            .iter()
            .find(|p| p["id"] == id)
    }

    /// Package ids the crate `name` links (normal dependencies, transitively), and the edges.
    fn closure(&self, name: &str) -> Option<(String, BTreeMap<String, Vec<String>>)> {
        let root = self.metadata["packages"]
            .as_array()?
            .iter()
            .find(|p| p["name"] == name && p["source"].is_null())?["id"]
            .as_str()?
            .to_string();
        let nodes: BTreeMap<&str, &Value> = self.metadata["resolve"]["nodes"]
            .as_array()?
            .iter()
            .filter_map(|n| Some((n["id"].as_str()?, n)))
            .collect();
        let mut edges = BTreeMap::new();
        let mut todo = vec![root.clone()];
        while let Some(id) = todo.pop() {
            if edges.contains_key(&id) {
                continue;
            }
            let deps: Vec<String> = nodes
                .get(id.as_str())
                .and_then(|n| n["deps"].as_array())
                .map(|deps| {
                    deps.iter()
                        .filter(|d| {
                            d["dep_kinds"]
                                .as_array()
                                .is_some_and(|k| k.iter().any(|k| k["kind"].is_null()))
                        })
                        .filter_map(|d| d["pkg"].as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default();
            todo.extend(deps.iter().cloned());
            edges.insert(id, deps);
        }
        Some((root, edges))
    }
}

/// (name, version) -> SHA-256 from `Cargo.lock` (registry packages carry one).
pub fn lock_checksums(lock: &str) -> BTreeMap<(String, String), String> {
    let mut out = BTreeMap::new();
    for block in lock.split("[[package]]").skip(1) {
        let field = |key: &str| {
            block.lines().find_map(|l| {
                l.strip_prefix(key)
                    .and_then(|r| r.trim().strip_prefix('='))
                    .map(|v| v.trim().trim_matches('"').to_string())
            })
        };
        if let (Some(n), Some(v), Some(c)) = (field("name"), field("version"), field("checksum")) {
            out.insert((n, v), c);
        }
    }
    out
}

/// A purl's version part: `+` is not allowed bare.
fn purl_escape(s: &str) -> String {
    s.replace('%', "%25").replace('+', "%2B")
}

fn crate_ref(name: &str, version: &str) -> String {
    format!("pkg:cargo/{name}@{}", purl_escape(version))
}

/// The deterministic serial number: a UUID (version 5 layout) from the image digest.
fn serial(digest: &str) -> String {
    let h = digest_hex(digest)
        .unwrap_or("0000000000000000000000000000000000000000000000000000000000000000");
    let variant = ["8", "9", "a", "b"][usize::from(h.as_bytes()[16] % 4)];
    format!(
        "urn:uuid:{}-{}-5{}-{variant}{}-{}",
        &h[0..8],
        &h[8..12],
        &h[13..16],
        &h[17..20],
        &h[20..32]
    )
}

fn crate_component(pkg: &Value, checksums: &BTreeMap<(String, String), String>) -> Value {
    let name = pkg["name"].as_str().unwrap_or_default();
    let version = pkg["version"].as_str().unwrap_or_default();
    let mut c = json!({
        "type": "library",
        "bom-ref": crate_ref(name, version),
        "name": name,
        "version": version,
        "purl": crate_ref(name, version),
    });
    if let Some(lic) = pkg["license"].as_str() {
        // Old Cargo manifests write `MIT/Apache-2.0`; the SPDX expression is `MIT OR Apache-2.0`.
        let expression = lic
            .split('/')
            .map(str::trim)
            .collect::<Vec<_>>()
            .join(" OR ");
        c["licenses"] = json!([{ "expression": expression }]);
    }
    if let Some(sum) = checksums.get(&(name.to_string(), version.to_string())) {
        c["hashes"] = json!([{ "alg": "SHA-256", "content": sum }]);
    }
    c
}

fn deb_ref(lock: &Lock, p: &super::debian::Package) -> String {
    format!(
        "pkg:deb/{id}/{}@{}?arch={}&distro={id}-{}",
        p.name,
        purl_escape(&p.version),
        p.arch,
        lock.distro.version_id,
        id = lock.distro.id
    )
}

/// The SBOM of `service`'s image (`crate_name` in the Cargo graph) on the base `lock`.
pub fn document(
    graph: &CargoGraph,
    crate_name: &str,
    service: &str,
    image: &Written,
    lock: &Lock,
    p: &Provenance,
) -> Result<Value> {
    let (root, edges) = graph
        .closure(crate_name)
        .with_context(|| format!("{crate_name} is not a workspace package in `cargo metadata`"))?;
    let image_ref = format!(
        "pkg:oci/{service}@{}",
        image.manifest.digest.replace(':', "%3A")
    );
    let mut components = Vec::new();
    let mut dependencies = Vec::new();
    let mut seen = BTreeSet::new();
    let ref_of = |id: &str| {
        graph.package(id).map(|p| {
            crate_ref(
                p["name"].as_str().unwrap_or_default(),
                p["version"].as_str().unwrap_or_default(),
            )
        })
    };
    for (id, deps) in &edges {
        let Some(pkg) = graph.package(id) else {
            continue;
        };
        let r = ref_of(id).unwrap_or_default();
        if !seen.insert(r.clone()) {
            continue;
        }
        components.push(crate_component(pkg, &graph.checksums));
        let mut on: Vec<String> = deps.iter().filter_map(|d| ref_of(d)).collect();
        on.sort();
        on.dedup();
        dependencies.push(json!({ "ref": r, "dependsOn": on }));
    }
    let mut top = vec![ref_of(&root).unwrap_or_default()];
    for pkg in &lock.packages {
        let r = deb_ref(lock, pkg);
        components.push(json!({
            "type": "library",
            "bom-ref": r,
            "name": pkg.name,
            "version": pkg.version,
            "purl": r,
            "hashes": [{ "alg": "SHA-256", "content": pkg.sha256 }],
        }));
        dependencies.push(json!({ "ref": r, "dependsOn": [] }));
        top.push(r);
    }
    dependencies.push(json!({ "ref": image_ref, "dependsOn": top }));
    let mut component = json!({
        "type": "container",
        "bom-ref": image_ref,
        "name": service,
        "version": p.tag,
        "purl": image_ref,
        "hashes": [{ "alg": "SHA-256", "content": digest_hex(&image.manifest.digest).unwrap_or_default() }],
    });
    if let Some(src) = &p.source {
        component["externalReferences"] =
            json!([{ "type": "vcs", "url": src, "comment": p.revision }]);
    }
    Ok(json!({
        "$schema": "http://cyclonedx.org/schema/bom-1.6.schema.json",
        "bomFormat": "CycloneDX",
        "specVersion": "1.6",
        "serialNumber": serial(&image.manifest.digest),
        "version": 1,
        "metadata": {
            "timestamp": rfc3339(p.created),
            "tools": { "components": [{ "type": "application", "name": "ecomctl", "version": env!("CARGO_PKG_VERSION") }] },
            "component": component,
        },
        "components": components,
        "dependencies": dependencies,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksums_come_from_cargo_lock() {
        let lock = "version = 4\n\n[[package]]\nname = \"serde\"\nversion = \"1.0.1\"\nsource = \"registry+https://github.com/rust-lang/crates.io-index\"\nchecksum = \"abc\"\n\n[[package]]\nname = \"ecom-shared\"\nversion = \"0.1.0\"\n";
        let sums = lock_checksums(lock);
        assert_eq!(
            sums.get(&("serde".into(), "1.0.1".into()))
                .map(String::as_str),
            Some("abc")
        );
        assert_eq!(sums.len(), 1);
    }

    #[test]
    fn serials_are_uuids_and_purls_escape_plus() {
        let s = serial("sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
        assert_eq!(s.len(), "urn:uuid:".len() + 36);
        assert!(s.starts_with("urn:uuid:e3b0c442-98fc-5"));
        assert_eq!(crate_ref("x", "1.0.0+zstd.1"), "pkg:cargo/x@1.0.0%2Bzstd.1");
    }
}
