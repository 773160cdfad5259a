//! The supply chain against real things: `cargo build --profile image` of a fixture workspace, the base
//! from the real pinned Debian packages, Debian's `docker-registry` on loopback, and `skopeo` as a
//! second, independent client.

mod support;

use support::images::{build, field, ok, skopeo, skopeo_inspect, stderr, Registry, Shop, PASSWORD};

#[test]
fn the_same_commit_builds_the_same_digest_and_skopeo_reads_the_layout() {
    let Some(skopeo) = skopeo() else { return };
    let shop = Shop::new();
    let first = build(&shop, &[]);
    std::fs::remove_dir_all(shop.path().join("target")).unwrap();
    let second = build(&shop, &[]);
    assert_eq!(
        first, second,
        "a clean rebuild of the same commit must give the same digest"
    );
    let other_time = build(&shop, &["--source-date-epoch", "1700000000"]);
    assert_ne!(first, other_time, "the timestamps are part of the image");

    let layout = format!("oci:{}", shop.path().join("target/images/login").display());
    let config = skopeo_inspect(&skopeo, &["--config", &layout]);
    assert_eq!(config["config"]["User"], "65532:65532");
    assert_eq!(
        config["config"]["Entrypoint"][0],
        "/usr/local/bin/ecom-login"
    );
    assert_eq!(config["created"], "2023-11-14T22:13:20Z");
    let labels = &config["config"]["Labels"];
    assert_eq!(
        labels["org.opencontainers.image.source"],
        "https://example.com/shop.git"
    );
    assert_eq!(
        labels["org.opencontainers.image.created"],
        "2023-11-14T22:13:20Z"
    );
    assert_eq!(
        labels["org.opencontainers.image.revision"]
            .as_str()
            .unwrap()
            .len(),
        40
    );
    let raw = skopeo_inspect(&skopeo, &["--raw", &layout]);
    assert_eq!(raw["layers"].as_array().unwrap().len(), 2);
    assert_eq!(
        raw["annotations"]["org.opencontainers.image.created"],
        "2023-11-14T22:13:20Z"
    );

    // The image runs on its own base: its layers unpacked, the entrypoint started in a chroot
    // as the image's user, with the base's libc and loader (nothing from the host).
    let rootfs = shop.path().join("rootfs");
    std::fs::create_dir_all(&rootfs).unwrap();
    for layer in raw["layers"].as_array().unwrap() {
        let hex = layer["digest"]
            .as_str()
            .unwrap()
            .trim_start_matches("sha256:");
        let blob = shop
            .path()
            .join("target/images/login/blobs/sha256")
            .join(hex);
        let st = std::process::Command::new("tar")
            .arg("-xzf")
            .arg(&blob)
            .arg("-C")
            .arg(&rootfs)
            .status()
            .unwrap();
        assert!(st.success());
    }
    let Some(run) = run_in_chroot(&rootfs, "/usr/local/bin/ecom-login") else {
        return;
    };
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&run.stdout).trim(), "login fixture");
}

/// Runs `cmd` chrooted in `root`: as 65532:65532 when the tests run as root, else in a user
/// namespace (`unshare -r`). `None` (skip; a failure under CI=true) when neither is allowed.
fn run_in_chroot(root: &std::path::Path, cmd: &str) -> Option<std::process::Output> {
    let as_root = std::process::Command::new("id")
        .arg("-u")
        .output()
        .unwrap()
        .stdout
        == b"0\n";
    let out = if as_root {
        std::process::Command::new("chroot")
            .arg("--userspec=65532:65532")
            .arg(root)
            .arg(cmd)
            .output()
            .unwrap()
    } else {
        std::process::Command::new("unshare")
            .args(["-r", "chroot"])
            .arg(root)
            .arg(cmd)
            .output()
            .unwrap()
    };
    let denied = String::from_utf8_lossy(&out.stderr).contains("Operation not permitted");
    if denied {
        assert!(
            std::env::var("CI").map_or(true, |v| v != "true"),
            "chroot is not allowed here and CI must not skip: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        eprintln!(
            "skipping the chroot run: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        return None;
    }
    Some(out)
}

#[test]
fn an_unknown_service_is_a_usage_error() {
    let shop = Shop::new();
    let out = shop.run(&["build", "--service", "billing"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("invalid value 'billing'"),
        "{}",
        stderr(&out)
    );
    let out = shop.run(&[
        "promote",
        "billing@sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "--from",
        "127.0.0.1:1/a",
        "--to",
        "127.0.0.1:1/b",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("no service \"billing\""),
        "{}",
        stderr(&out)
    );
}

#[test]
fn build_push_promote_by_digest_against_a_real_registry() {
    let (Some(skopeo), Some(registry)) = (skopeo(), Registry::start(None)) else {
        return;
    };
    let shop = Shop::new();
    let digest = build(&shop, &[]);
    let nonprod = format!("{}/shop/nonprod", registry.host);
    let prod = format!("{}/shop/prod", registry.host);

    let ev = ok(&shop.run(&[
        "push",
        "--to",
        &nonprod,
        "--service",
        "login",
        "--output",
        "json",
    ]));
    assert_eq!(field(&ev, "image_pushed", "digest"), digest.as_str());
    assert_eq!(field(&ev, "image_pushed", "blobs_uploaded"), 3);
    // The base layer (over 4 MiB) went up in chunks: PATCH, PATCH, then the closing PUT.
    assert_eq!(registry.requests("PATCH", "/blobs/uploads/"), 2);
    let tag = field(&ev, "image_pushed", "tag")
        .as_str()
        .unwrap()
        .to_string();
    let seen = skopeo_inspect(&skopeo, &[&format!("docker://{nonprod}/login:{tag}")]);
    assert_eq!(
        seen["Digest"],
        digest.as_str(),
        "skopeo reads what was pushed, by tag"
    );

    let uploads = registry.uploads();
    let ev = ok(&shop.run(&[
        "push",
        "--to",
        &nonprod,
        "--service",
        "login",
        "--output",
        "json",
    ]));
    assert_eq!(field(&ev, "image_pushed", "blobs_uploaded"), 0);
    assert_eq!(field(&ev, "image_pushed", "blobs_skipped"), 3);
    assert_eq!(
        registry.uploads(),
        uploads,
        "a second push starts no upload at the registry"
    );

    // The SBOM went along as a referrer (the fallback tag index; distribution 2.8 has no
    // referrers API).
    let sbom_tag = format!("sha256-{}", digest.trim_start_matches("sha256:"));
    let referrers = skopeo_inspect(
        &skopeo,
        &["--raw", &format!("docker://{nonprod}/login:{sbom_tag}")],
    );
    assert_eq!(
        referrers["manifests"][0]["artifactType"],
        "application/vnd.cyclonedx+json"
    );

    let image = format!("login@{digest}");
    let ev = ok(&shop.run(&[
        "promote", &image, "--from", &nonprod, "--to", &prod, "--output", "json",
    ]));
    assert_eq!(field(&ev, "image_promoted", "digest"), digest.as_str());
    assert_eq!(
        field(&ev, "image_promoted", "attached"),
        1,
        "the SBOM referrer came along"
    );
    // Same registry: every blob mounted from the source repository, none uploaded again.
    assert_eq!(field(&ev, "image_promoted", "blobs_uploaded"), 0);
    assert_eq!(
        field(&ev, "image_promoted", "blobs_mounted"),
        5,
        "image config and 2 layers, SBOM config and layer"
    );
    let referrer = referrers["manifests"][0]["digest"].as_str().unwrap();
    let sbom = skopeo_inspect(
        &skopeo,
        &["--raw", &format!("docker://{prod}/login@{referrer}")],
    );
    assert_eq!(sbom["subject"]["digest"], digest.as_str());
    assert_eq!(
        sbom["layers"][0]["mediaType"],
        "application/vnd.cyclonedx+json"
    );
    let seen = skopeo_inspect(
        &skopeo,
        &["--no-tags", &format!("docker://{prod}/login@{digest}")],
    );
    assert_eq!(
        seen["Digest"],
        digest.as_str(),
        "the promoted image has the same digest"
    );

    // Again, with a tag: nothing left to upload, the tag set on the same digest.
    let ev = ok(&shop.run(&[
        "promote",
        &image,
        "--from",
        &nonprod,
        "--to",
        &prod,
        "--tag",
        "release-1",
        "--output",
        "json",
    ]));
    assert_eq!(field(&ev, "image_promoted", "blobs_uploaded"), 0);
    let seen = skopeo_inspect(&skopeo, &[&format!("docker://{prod}/login:release-1")]);
    assert_eq!(seen["Digest"], digest.as_str());

    // A digest the source does not hold: a clear error, nothing tagged in the destination.
    let missing = "login@sha256:0000000000000000000000000000000000000000000000000000000000000000";
    let out = shop.run(&[
        "promote", missing, "--from", &nonprod, "--to", &prod, "--tag", "never",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("has no manifest sha256:0000"),
        "{}",
        stderr(&out)
    );
    let none = std::process::Command::new(&skopeo)
        .args([
            "inspect",
            "--tls-verify=false",
            &format!("docker://{prod}/login:never"),
        ])
        .output()
        .unwrap();
    assert!(!none.status.success(), "a failed promote must leave no tag");

    // Tags are immutable: a different image under the same tag is refused and the tag stays.
    build(&shop, &["--source-date-epoch", "1700000000", "--tag", &tag]);
    let out = shop.run(&["push", "--to", &nonprod, "--service", "login"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("tags are immutable"),
        "{}",
        stderr(&out)
    );
    let seen = skopeo_inspect(&skopeo, &[&format!("docker://{nonprod}/login:{tag}")]);
    assert_eq!(
        seen["Digest"],
        digest.as_str(),
        "the refused push moved nothing"
    );
}

#[test]
fn an_unreachable_registry_and_a_wrong_password_are_clear_errors() {
    let (Some(skopeo), Some(registry)) = (skopeo(), Registry::start(Some("ci"))) else {
        return;
    };
    let shop = Shop::new();
    build(&shop, &[]);
    let dead = format!("127.0.0.1:{}/shop", support::free_port());
    let out = shop.run(&["push", "--to", &dead, "--service", "login"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("cannot reach the registry"),
        "{}",
        stderr(&out)
    );

    let repo = format!("{}/shop/nonprod", registry.host);
    let out = shop.run(&["push", "--to", &repo, "--service", "login"]);
    assert_eq!(out.status.code(), Some(1), "no login at all");
    assert!(stderr(&out).contains("has none for it"), "{}", stderr(&out));

    shop.login(&registry.host, "ci", "wrong-password");
    let out = shop.run(&["push", "--to", &repo, "--service", "login"]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains("refused the credentials"), "{err}");
    assert!(
        !err.contains("wrong-password"),
        "a password never reaches the output"
    );
    assert_eq!(
        registry.uploads(),
        0,
        "nothing was uploaded with bad credentials"
    );

    shop.login(&registry.host, "ci", PASSWORD);
    let ev = ok(&shop.run(&[
        "push",
        "--to",
        &repo,
        "--service",
        "login",
        "--output",
        "json",
    ]));
    let tag = field(&ev, "image_pushed", "tag");
    let creds = format!("--creds=ci:{PASSWORD}");
    let seen = skopeo_inspect(
        &skopeo,
        &[
            &creds,
            &format!("docker://{repo}/login:{}", tag.as_str().unwrap()),
        ],
    );
    assert_eq!(seen["Digest"], field(&ev, "image_pushed", "digest"));
}

fn validate_cyclonedx(
    python: &std::path::Path,
    schemas: &std::path::Path,
    bom: &std::path::Path,
) -> std::process::Output {
    std::process::Command::new(python)
        .arg(support::repo().join("cli/tests/support/validate_cyclonedx.py"))
        .arg(schemas)
        .arg(bom)
        .output()
        .unwrap()
}

#[test]
fn the_sbom_of_a_real_service_validates_against_cyclonedx_1_6() {
    use ecomctl::oci::{
        debian::Lock,
        image::{Provenance, Written},
        sbom, Descriptor,
    };
    let python = support::repo().join(".tools/venv/bin/python");
    let schemas = support::repo().join(".tools/share/cyclonedx");
    let (Some(python), Some(schemas)) = (
        support::present(python, "run scripts/setup"),
        support::present(
            schemas,
            "run scripts/setup (the @cyclonedx/cyclonedx-library schemas)",
        ),
    ) else {
        return;
    };
    let graph = sbom::CargoGraph::load(&support::repo(), "x86_64-unknown-linux-gnu").unwrap();
    let lock =
        Lock::parse(&std::fs::read_to_string(support::repo().join("images/base.lock")).unwrap())
            .unwrap();
    let image = Written {
        dir: "unused".into(),
        manifest: Descriptor::of("application/vnd.oci.image.manifest.v1+json", b"{}"),
        size: 0,
    };
    let provenance = Provenance {
        created: 1_767_225_600,
        revision: "0".repeat(40),
        source: Some("https://example.com/shop.git".into()),
        tag: "1.0.0".into(),
    };
    let bom = sbom::document(&graph, "ecom-login", "login", &image, &lock, &provenance).unwrap();
    let components = bom["components"].as_array().unwrap();
    let axum = components
        .iter()
        .find(|c| c["name"] == "axum")
        .expect("axum is in login's graph");
    assert_eq!(axum["hashes"][0]["alg"], "SHA-256");
    assert_eq!(axum["hashes"][0]["content"].as_str().unwrap().len(), 64);
    assert!(axum["licenses"][0]["expression"]
        .as_str()
        .unwrap()
        .contains("MIT"));
    assert!(components.iter().any(|c| c["name"] == "libc6"
        && c["purl"]
            .as_str()
            .unwrap()
            .starts_with("pkg:deb/debian/libc6@")));
    assert!(
        !components.iter().any(|c| c["name"] == "insta"),
        "crates outside login's graph (the CLI's) are not in its SBOM"
    );

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("login.cdx.json");
    std::fs::write(&path, serde_json::to_vec_pretty(&bom).unwrap()).unwrap();
    let out = validate_cyclonedx(&python, &schemas, &path);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // The validator can fail: a component of a kind CycloneDX does not know.
    let mut broken = bom.clone();
    broken["components"][0]["type"] = "gadget".into();
    std::fs::write(&path, serde_json::to_vec(&broken).unwrap()).unwrap();
    assert!(!validate_cyclonedx(&python, &schemas, &path)
        .status
        .success());
}
