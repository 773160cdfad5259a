//! `ecomctl mirror` against two real registries (Debian's `docker-registry` on loopback): an
//! "upstream" one seeded by skopeo with a two-platform image, and the platform's registry.

mod support;

use sha2::{Digest as _, Sha256};
use std::io::Write as _;
use std::path::Path;
use std::process::{Command, Output};
use support::images::{ok, skopeo, skopeo_inspect, stderr, Registry};
use support::{events, named, repo};

fn sha(bytes: &[u8]) -> String {
    format!("sha256:{:x}", Sha256::digest(bytes))
}

fn put_blob(layout: &Path, bytes: &[u8]) -> serde_json::Value {
    let d = sha(bytes);
    let dir = layout.join("blobs/sha256");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(d.trim_start_matches("sha256:")), bytes).unwrap();
    serde_json::json!({"digest": d, "size": bytes.len()})
}

/// A gzip'd tar with one file, as a layer.
fn layer(name: &str, body: &[u8]) -> Vec<u8> {
    let mut tar = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_size(body.len() as u64);
    h.set_mode(0o644);
    h.set_mtime(0);
    h.set_cksum();
    tar.append_data(&mut h, name, body).unwrap();
    let tar = tar.into_inner().unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&tar).unwrap();
    gz.finish().unwrap()
}

/// An OCI layout holding a two-platform image (an index over amd64 and arm64) tagged `tag`;
/// returns the index digest.
fn two_platform_layout(layout: &Path, tag: &str) -> String {
    let mut children = Vec::new();
    for arch in ["amd64", "arm64"] {
        let l = layer("operator", format!("operator for {arch}").as_bytes());
        let diff = {
            let mut d = flate2::read::GzDecoder::new(&l[..]);
            let mut raw = Vec::new();
            std::io::Read::read_to_end(&mut d, &mut raw).unwrap();
            sha(&raw)
        };
        let config = serde_json::json!({
            "architecture": arch, "os": "linux",
            "config": {"Entrypoint": ["/operator"]},
            "rootfs": {"type": "layers", "diff_ids": [diff]}
        });
        let mut c = put_blob(layout, &serde_json::to_vec(&config).unwrap());
        c["mediaType"] = "application/vnd.oci.image.config.v1+json".into();
        let mut ld = put_blob(layout, &l);
        ld["mediaType"] = "application/vnd.oci.image.layer.v1.tar+gzip".into();
        let manifest = serde_json::json!({
            "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": c, "layers": [ld]
        });
        let mut m = put_blob(layout, &serde_json::to_vec(&manifest).unwrap());
        m["mediaType"] = "application/vnd.oci.image.manifest.v1+json".into();
        m["platform"] = serde_json::json!({"architecture": arch, "os": "linux"});
        children.push(m);
    }
    let index = serde_json::json!({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": children
    });
    let bytes = serde_json::to_vec(&index).unwrap();
    let mut top = put_blob(layout, &bytes);
    top["mediaType"] = "application/vnd.oci.image.index.v1+json".into();
    top["annotations"] = serde_json::json!({"org.opencontainers.image.ref.name": tag});
    std::fs::write(
        layout.join("index.json"),
        serde_json::to_vec(&serde_json::json!({"schemaVersion": 2, "manifests": [top]})).unwrap(),
    )
    .unwrap();
    std::fs::write(
        layout.join("oci-layout"),
        br#"{"imageLayoutVersion":"1.0.0"}"#,
    )
    .unwrap();
    sha(&bytes)
}

/// `examples/full.yaml` with a `supply_chain` section, in `dir`.
fn config(dir: &Path, supply_chain: &str) -> std::path::PathBuf {
    let text = std::fs::read_to_string(repo().join("examples/full.yaml")).unwrap();
    let path = dir.join("ecomctl.yaml");
    std::fs::write(&path, format!("{text}\nsupply_chain:\n{supply_chain}")).unwrap();
    path
}

fn ecomctl(cfg: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ecomctl"))
        .arg("-c")
        .arg(cfg)
        .args(args)
        .env("DOCKER_CONFIG", cfg.parent().unwrap().join(".docker"))
        .env("NO_COLOR", "1")
        .env_remove("ECOMCTL_ENV")
        .output()
        .unwrap()
}

#[test]
fn mirror_copies_a_multi_platform_image_by_digest_and_a_rerun_uploads_nothing() {
    let (Some(skopeo), Some(upstream), Some(platform)) =
        (skopeo(), Registry::start(None), Registry::start(None))
    else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let layout = dir.path().join("layout");
    let digest = two_platform_layout(&layout, "v1.38.6");
    let src = format!("{}/tigera/operator", upstream.host);
    let st = Command::new(&skopeo)
        .args([
            "copy",
            "--all",
            "--preserve-digests",
            "--dest-tls-verify=false",
        ])
        .arg(format!("oci:{}:v1.38.6", layout.display()))
        .arg(format!("docker://{src}:v1.38.6"))
        .output()
        .unwrap();
    assert!(st.status.success(), "{}", stderr(&st));

    let cfg = config(
        dir.path(),
        &format!("  mirror:\n    - source: {src}:v1.38.6@{digest}\n"),
    );
    // The registry from the app stage's outputs of -e nonprod.
    let outputs = dir.path().join(".ecomctl/nonprod/app");
    std::fs::create_dir_all(&outputs).unwrap();
    std::fs::write(
        outputs.join("outputs.json"),
        format!(
            r#"{{"ecr_registry": {{"value": "{}", "type": "string", "sensitive": false}}}}"#,
            platform.host
        ),
    )
    .unwrap();
    let first = std::time::Instant::now();
    let ev = ok(&ecomctl(
        &cfg,
        &["mirror", "-e", "nonprod", "--output", "json"],
    ));
    let took = first.elapsed();
    let m = named(&ev, "image_mirrored")[0].clone();
    let target = format!("{}/mirrors/tigera/operator", platform.host);
    assert_eq!(m["digest"], digest.as_str());
    assert_eq!(m["target"], target.as_str());
    assert_eq!(m["manifests"], 3, "the index and both platforms' manifests");
    assert_eq!(m["blobs_uploaded"], 4, "two configs and two layers");
    eprintln!("mirror of a two-platform image: {took:?}");

    // skopeo, a second client, reads the copy: the same index bytes, and each platform.
    let raw = Command::new(&skopeo)
        .args(["inspect", "--raw", "--tls-verify=false"])
        .arg(format!("docker://{target}@{digest}"))
        .output()
        .unwrap();
    assert!(raw.status.success(), "{}", stderr(&raw));
    assert_eq!(sha(&raw.stdout), digest, "the digest is unchanged");
    for arch in ["amd64", "arm64"] {
        let img = skopeo_inspect(
            &skopeo,
            &[
                "--override-arch",
                arch,
                "--config",
                &format!("docker://{target}:v1.38.6"),
            ],
        );
        assert_eq!(img["architecture"], arch);
    }

    // A second run uploads no blob (the registry's access log).
    let before = platform.uploads();
    let ev = ok(&ecomctl(
        &cfg,
        &["mirror", "--to", &platform.host, "--output", "json"],
    ));
    assert_eq!(field0(&ev, "blobs_uploaded"), 0);
    assert_eq!(field0(&ev, "blobs_skipped"), 4);
    assert_eq!(platform.uploads(), before, "a re-run starts no upload");

    // A digest the source does not hold: exit 1, clear, and nothing tagged.
    let missing = format!("sha256:{}", "0".repeat(64));
    let cfg = config(
        dir.path(),
        &format!(
            "  mirror:\n    - source: {}/calico/node:v3.30.3@{missing}\n",
            upstream.host
        ),
    );
    let out = ecomctl(&cfg, &["mirror", "--to", &platform.host]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("has no manifest") && err.contains(&missing),
        "{err}"
    );
    assert!(err.contains("nothing was tagged"), "{err}");
    let tagged = Command::new(&skopeo)
        .args(["inspect", "--raw", "--tls-verify=false"])
        .arg(format!(
            "docker://{}/mirrors/calico/node:v3.30.3",
            platform.host
        ))
        .output()
        .unwrap();
    assert!(!tagged.status.success(), "the tag must not exist");
}

fn field0(events: &[serde_json::Value], key: &str) -> serde_json::Value {
    named(events, "image_mirrored")[0][key].clone()
}

#[test]
fn an_unpinned_source_is_refused_by_validate_naming_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(
        dir.path(),
        "  mirror:\n    - source: quay.io/tigera/operator:v1.38.6\n",
    );
    for args in [&["validate"][..], &["mirror", "--to", "127.0.0.1:9"][..]] {
        let out = ecomctl(&cfg, args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        let err = stderr(&out);
        assert!(
            err.contains("supply_chain.mirror[0].source") && err.contains("not pinned by digest"),
            "{err}"
        );
        assert!(
            err.contains("ecomctl.yaml:"),
            "names the file and line: {err}"
        );
    }
    // Nothing to mirror, or no registry named: usage errors.
    let cfg = config(dir.path(), "  scan:\n    fail_on: critical\n");
    let out = ecomctl(&cfg, &["mirror", "--to", "127.0.0.1:9"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("no image to mirror"),
        "{}",
        stderr(&out)
    );
    let _ = events(&out);
}
