//! Multi-platform images against real things: an amd64 image of the fixture service (a real
//! cargo build) and an arm64 image of a stand-in binary compiled by Debian's
//! `aarch64-linux-gnu-gcc` (the Rust toolchain here has only the host's target), both on bases
//! of the real pinned Debian packages, pushed as one image index to Debian's `docker-registry`
//! on loopback and read back by `skopeo`.

mod support;

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;
use support::images::{build, field, ok, python_key_pair, skopeo, stderr, Registry, Shop};

/// A tiny arm64 program standing in for `ecom-login` (only its ELF header and libc matter here).
fn arm64_stand_in(gcc: &Path, dir: &Path) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    let src = dir.join("main.c");
    std::fs::write(
        &src,
        "#include <stdio.h>\nint main(void) { puts(\"login\"); return 0; }\n",
    )
    .unwrap();
    let bin = dir.join("ecom-login");
    let out = Command::new(gcc)
        .args(["-O2", "-s", "-o"])
        .arg(&bin)
        .arg(&src)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::remove_file(src).unwrap();
    bin
}

fn skopeo_raw(skopeo: &Path, reference: &str) -> Vec<u8> {
    let out = Command::new(skopeo)
        .args(["inspect", "--tls-verify=false", "--raw", reference])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "skopeo inspect --raw {reference}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

fn sha256(bytes: &[u8]) -> String {
    use sha2::Digest as _;
    let d = sha2::Sha256::digest(bytes);
    format!(
        "sha256:{}",
        d.iter().map(|b| format!("{b:02x}")).collect::<String>()
    )
}

#[test]
fn amd64_and_arm64_layouts_become_one_index_that_skopeo_reads_per_platform_and_promote_keeps() {
    let gcc = support::present(
        PathBuf::from("/usr/bin/aarch64-linux-gnu-gcc"),
        "apt-get install gcc-aarch64-linux-gnu (scripts/setup)",
    );
    let python = support::present(
        support::repo().join(".tools/venv/bin/python"),
        "run scripts/setup",
    );
    let (Some(gcc), Some(python), Some(skopeo), Some(registry)) =
        (gcc, python, skopeo(), Registry::start(None))
    else {
        return;
    };
    let shop = Shop::new();
    let amd64 = build(&shop, &[]);
    let bins = shop.path().join("dist/arm64");
    arm64_stand_in(&gcc, &bins);
    let arm_out = shop.path().join("target/images-arm64");
    let arm_out_s = arm_out.to_str().unwrap();
    let arm64 = build(
        &shop,
        &[
            "--platform",
            "linux/arm64",
            "--binary-dir",
            bins.to_str().unwrap(),
            "--out-dir",
            arm_out_s,
        ],
    );
    assert_ne!(amd64, arm64);
    // The arm64 layout: its config says arm64/v8, its base holds arm64 libc6.
    let arm_layout = format!("oci:{}/login", arm_out.display());
    let config = support::images::skopeo_inspect(&skopeo, &["--config", &arm_layout]);
    assert_eq!(
        (config["architecture"].as_str(), config["variant"].as_str()),
        (Some("arm64"), Some("v8"))
    );
    let sbom: Value =
        serde_json::from_slice(&std::fs::read(arm_out.join("login.cdx.json")).unwrap()).unwrap();
    let purls: Vec<&str> = sbom["components"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["purl"].as_str())
        .collect();
    assert!(
        purls
            .iter()
            .any(|p| p.starts_with("pkg:deb/debian/libc6@") && p.contains("arch=arm64")),
        "{purls:?}"
    );
    assert!(!purls.iter().any(|p| p.contains("arch=amd64")), "{purls:?}");

    // A binary of the wrong architecture is refused, and no layout is written.
    let wrong = shop.path().join("dist/wrong");
    std::fs::create_dir_all(&wrong).unwrap();
    std::fs::copy(
        shop.path().join("target/image/ecom-login"),
        wrong.join("ecom-login"),
    )
    .unwrap();
    let refused_out = shop.path().join("target/images-wrong");
    let out = shop.run(&[
        "build",
        "--service",
        "login",
        "--platform",
        "linux/arm64",
        "--binary-dir",
        wrong.to_str().unwrap(),
        "--out-dir",
        refused_out.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("cannot go into a linux/arm64 image")
            && stderr(&out).contains("x86-64"),
        "{}",
        stderr(&out)
    );
    assert!(!refused_out.join("login").exists());
    // Without --binary-dir the other platform is cross-built with `cargo build --target`; where
    // the Rust target (or its linker) is missing, as here, that fails saying what it needs.
    let cross_out = shop.path().join("target/images-cross");
    let out = shop.run(&[
        "build",
        "--service",
        "login",
        "--platform",
        "linux/arm64",
        "--out-dir",
        cross_out.to_str().unwrap(),
    ]);
    if out.status.success() {
        let layout = format!("oci:{}/login", cross_out.display());
        let cfg = support::images::skopeo_inspect(&skopeo, &["--config", &layout]);
        assert_eq!(cfg["architecture"], "arm64");
    } else {
        assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
        assert!(
            stderr(&out).contains("building the services for aarch64-unknown-linux-gnu")
                && stderr(&out).contains("rustup target add aarch64-unknown-linux-gnu"),
            "{}",
            stderr(&out)
        );
        assert!(!cross_out.join("login").exists());
    }
    // An unknown platform is a usage error.
    assert_eq!(
        shop.run(&["build", "--platform", "linux/s390x"])
            .status
            .code(),
        Some(2)
    );

    // One index of both.
    let nonprod = format!("{}/shop/nonprod", registry.host);
    let amd_layout = shop.path().join("target/images/login");
    let arm_layout_dir = arm_out.join("login");
    let index = |layouts: [&Path; 2], to: &str| {
        let ev = ok(&shop.run(&[
            "index",
            "login",
            "--layout",
            layouts[0].to_str().unwrap(),
            "--layout",
            layouts[1].to_str().unwrap(),
            "--to",
            to,
            "--output",
            "json",
        ]));
        let platforms = field(&ev, "index_pushed", "platforms");
        (
            field(&ev, "index_pushed", "digest")
                .as_str()
                .unwrap()
                .to_string(),
            platforms,
        )
    };
    let (digest, platforms) = index([&amd_layout, &arm_layout_dir], &nonprod);
    for (i, (p, d)) in [("linux/amd64", &amd64), ("linux/arm64/v8", &arm64)]
        .into_iter()
        .enumerate()
    {
        assert_eq!(platforms[i]["platform"], p);
        assert_eq!(platforms[i]["digest"].as_str(), Some(d.as_str()));
        assert!(
            platforms[i]["sbom"]
                .as_str()
                .is_some_and(|s| s.starts_with("sha256:")),
            "{platforms}"
        );
    }
    let tag_ref = format!("docker://{nonprod}/login:{}", tag_of(&amd_layout));
    let raw = skopeo_raw(&skopeo, &tag_ref);
    assert_eq!(sha256(&raw), digest, "the tag names the index");
    let idx: Value = serde_json::from_slice(&raw).unwrap();
    assert_eq!(idx["mediaType"], "application/vnd.oci.image.index.v1+json");
    let listed: Vec<(String, String)> = idx["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["platform"]["architecture"].as_str().unwrap().to_string(),
                m["digest"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        listed,
        [
            ("amd64".to_string(), amd64.clone()),
            ("arm64".to_string(), arm64.clone())
        ]
    );
    // skopeo picks each platform's image from the index.
    let by_digest = format!("docker://{nonprod}/login@{digest}");
    let arm_cfg = support::images::skopeo_inspect(
        &skopeo,
        &["--override-arch", "arm64", "--config", &by_digest],
    );
    assert_eq!(arm_cfg["architecture"], "arm64");
    let arm_img =
        support::images::skopeo_inspect(&skopeo, &["--override-arch", "arm64", &by_digest]);
    let amd_img =
        support::images::skopeo_inspect(&skopeo, &["--override-arch", "amd64", &by_digest]);
    // skopeo's `Digest` names what was asked for (the index); the layers are each platform's.
    assert_eq!(arm_img["Digest"].as_str(), Some(digest.as_str()));
    assert_eq!(arm_img["Architecture"], "arm64");
    assert_eq!(amd_img["Architecture"], "amd64");
    assert_ne!(
        arm_img["Layers"][0], amd_img["Layers"][0],
        "each platform its own base"
    );

    // Stable: pushed again (the layouts in the other order) it is the same index, nothing uploaded.
    let uploads = registry.uploads();
    let (again, _) = index([&arm_layout_dir, &amd_layout], &nonprod);
    assert_eq!(again, digest);
    assert_eq!(registry.uploads(), uploads, "a second push uploads no blob");
    // Two layouts of one platform are refused.
    let out = shop.run(&[
        "index",
        "login",
        "--layout",
        amd_layout.to_str().unwrap(),
        "--layout",
        amd_layout.to_str().unwrap(),
        "--to",
        &nonprod,
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("one layout per platform"),
        "{}",
        stderr(&out)
    );

    // The index digest is what is signed, verified and promoted.
    let (private, public) = python_key_pair(&python);
    std::fs::write(shop.path().join("cosign.key"), private).unwrap();
    std::fs::write(shop.path().join("cosign.pub"), public).unwrap();
    ok(&shop.run(&[
        "sign",
        &format!("{nonprod}/login@{digest}"),
        "--key",
        "cosign.key",
    ]));
    let prod = format!("{}/shop/prod", registry.host);
    let ev = ok(&shop.run(&[
        "promote",
        &format!("login@{digest}"),
        "--from",
        &nonprod,
        "--to",
        &prod,
        "--output",
        "json",
    ]));
    assert_eq!(
        field(&ev, "image_promoted", "digest").as_str(),
        Some(digest.as_str())
    );
    let raw_prod = skopeo_raw(&skopeo, &format!("docker://{prod}/login@{digest}"));
    assert_eq!(raw_prod, raw, "the same index bytes in prod");
    ok(&shop.run(&[
        "verify",
        &format!("{prod}/login@{digest}"),
        "--key",
        "cosign.pub",
    ]));
    // Each platform's SBOM came along (the referrers fallback tag of each manifest).
    for d in [&amd64, &arm64] {
        let tag = d.replace("sha256:", "sha256-");
        let refs: Value = serde_json::from_slice(&skopeo_raw(
            &skopeo,
            &format!("docker://{prod}/login:{tag}"),
        ))
        .unwrap();
        assert_eq!(
            refs["manifests"][0]["artifactType"], "application/vnd.cyclonedx+json",
            "{refs}"
        );
    }
    let prod_arm = support::images::skopeo_inspect(
        &skopeo,
        &[
            "--override-arch",
            "arm64",
            "--config",
            &format!("docker://{prod}/login@{digest}"),
        ],
    );
    assert_eq!(prod_arm["architecture"], "arm64");
}

fn tag_of(layout: &Path) -> String {
    let index: Value =
        serde_json::from_slice(&std::fs::read(layout.join("index.json")).unwrap()).unwrap();
    index["manifests"][0]["annotations"]["org.opencontainers.image.ref.name"]
        .as_str()
        .unwrap()
        .to_string()
}
