//! Signatures and registry credentials against real things: keys made and signatures checked by
//! Python `cryptography`, payloads fetched with `skopeo`, ECR tokens from moto.

mod support;

use serde_json::Value;
use support::images::{build, field, ok, python_key_pair, skopeo, stderr, Registry, Shop};

#[test]
fn a_signature_verifies_with_an_independent_implementation_and_follows_promotion() {
    let python = support::repo().join(".tools/venv/bin/python");
    let (Some(skopeo), Some(python), Some(registry)) = (
        skopeo(),
        support::present(python, "run scripts/setup"),
        Registry::start(None),
    ) else {
        return;
    };
    let shop = Shop::new();
    let digest = build(&shop, &[]);
    let nonprod = format!("{}/shop/nonprod", registry.host);
    ok(&shop.run(&["push", "--to", &nonprod, "--service", "login"]));
    let (private, public) = python_key_pair(&python);
    let keys = shop.path().join("keys");
    std::fs::create_dir_all(&keys).unwrap();
    std::fs::write(keys.join("cosign.key"), &private).unwrap();
    std::fs::write(keys.join("cosign.pub"), &public).unwrap();
    let image = format!("{nonprod}/login@{digest}");

    // Unsigned: verify fails.
    let out = shop.run(&["verify", &image, "--key", "keys/cosign.pub"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("has no signature"),
        "{}",
        stderr(&out)
    );

    ok(&shop.run(&["sign", &image, "--key", "keys/cosign.key"]));
    // The key from the environment: a second signature, appended.
    let out = shop
        .command(&["sign", &image])
        .env("ECOMCTL_SIGNING_KEY", &private)
        .output()
        .unwrap();
    ok(&out);
    let pem = shop.run(&["sign", "--public-key", "--key", "keys/cosign.key"]);
    assert_eq!(
        String::from_utf8_lossy(&ok_stdout(&pem)).trim(),
        public.trim(),
        "the same public key as cryptography's"
    );

    // Fetched by skopeo, checked by Python cryptography.
    let hex = digest.trim_start_matches("sha256:");
    let dir = shop.path().join("sig");
    let copy = std::process::Command::new(&skopeo)
        .args([
            "copy",
            "--src-tls-verify=false",
            &format!("docker://{nonprod}/login:sha256-{hex}.sig"),
            &format!("dir:{}", dir.display()),
        ])
        .output()
        .unwrap();
    assert!(
        copy.status.success(),
        "{}",
        String::from_utf8_lossy(&copy.stderr)
    );
    let check = std::process::Command::new(&python)
        .arg(support::repo().join("cli/tests/support/verify_cosign.py"))
        .arg(keys.join("cosign.pub"))
        .arg(&dir)
        .arg(&digest)
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stderr)
    );
    let result: Value = serde_json::from_slice(&check.stdout).unwrap();
    assert_eq!(
        result,
        serde_json::json!({"valid": 2, "tampered_rejected": 2, "layers": 2})
    );

    ok(&shop.run(&["verify", &image, "--key", "keys/cosign.pub"]));
    let (_, stranger) = python_key_pair(&python);
    std::fs::write(keys.join("other.pub"), stranger).unwrap();
    let out = shop.run(&["verify", &image, "--key", "keys/other.pub"]);
    assert_eq!(out.status.code(), Some(1), "another key's check fails");
    assert!(
        stderr(&out).contains("none of its 2 signature(s)"),
        "{}",
        stderr(&out)
    );

    // Promotion carries the signature; it still verifies in prod.
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
        field(&ev, "image_promoted", "attached"),
        2,
        "the signature and the SBOM"
    );
    ok(&shop.run(&[
        "verify",
        &format!("{prod}/login@{digest}"),
        "--key",
        "keys/cosign.pub",
    ]));
}

fn ok_stdout(out: &std::process::Output) -> Vec<u8> {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout.clone()
}

#[test]
fn ecr_credentials_come_from_get_authorization_token() {
    // moto answers GetAuthorizationToken with base64("AWS:123456789012-auth-token"); the
    // registry's htpasswd holds exactly that login (bcrypt made once with libxcrypt).
    let login = (
        "AWS",
        "$2b$10$jZMtLpCfiRWRtV6t3FYSKO4LFdy/QYuOV/8pmjNXIxYwdTZBeYvra",
    );
    let (Some(moto), Some(registry)) =
        (support::Moto::bare(None), Registry::start_with(Some(login)))
    else {
        return;
    };
    let shop = Shop::new();
    build(&shop, &[]);
    let repo = format!("{}/shop/nonprod", registry.host);
    let push = |auth: &str| {
        shop.command(&[
            "push",
            "--to",
            &repo,
            "--service",
            "login",
            "--registry-auth",
            auth,
            "--output",
            "json",
        ])
        .env("AWS_ENDPOINT_URL", &moto.endpoint)
        .env("AWS_REGION", "eu-west-1")
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env_remove("AWS_PROFILE")
        .output()
        .unwrap()
    };
    let out = push("docker");
    assert_eq!(
        out.status.code(),
        Some(1),
        "without ECR the registry refuses"
    );
    let ev = ok(&push("ecr"));
    assert_eq!(field(&ev, "image_pushed", "blobs_uploaded"), 3);
}

#[test]
fn a_kms_key_signs_and_the_signature_verifies_independently() {
    let python = support::repo().join(".tools/venv/bin/python");
    let (Some(skopeo), Some(python), Some(moto), Some(registry)) = (
        skopeo(),
        support::present(python, "run scripts/setup"),
        support::Moto::bare(None),
        Registry::start(None),
    ) else {
        return;
    };
    // An ECC_NIST_P256 SIGN_VERIFY key behind an alias, and its public half as KMS gives it
    // (DER from GetPublicKey, turned into PEM by Python cryptography).
    let setup = std::process::Command::new(&python)
        .arg("-c")
        .arg(format!(
            "import boto3\nfrom cryptography.hazmat.primitives import serialization as s\nk = boto3.client('kms', endpoint_url={:?}, region_name='eu-west-1', aws_access_key_id='testing', aws_secret_access_key='testing')\nkid = k.create_key(KeySpec='ECC_NIST_P256', KeyUsage='SIGN_VERIFY')['KeyMetadata']['KeyId']\nk.create_alias(AliasName='alias/shop/cosign', TargetKeyId=kid)\nder = k.get_public_key(KeyId=kid)['PublicKey']\nprint(s.load_der_public_key(der).public_bytes(s.Encoding.PEM, s.PublicFormat.SubjectPublicKeyInfo).decode())",
            moto.endpoint
        ))
        .output()
        .unwrap();
    assert!(setup.status.success(), "{}", stderr(&setup));
    let public = String::from_utf8_lossy(&setup.stdout).trim().to_string() + "\n";
    let shop = Shop::new();
    let digest = build(&shop, &[]);
    let nonprod = format!("{}/shop/nonprod", registry.host);
    ok(&shop.run(&["push", "--to", &nonprod, "--service", "login"]));
    let image = format!("{nonprod}/login@{digest}");
    let kms = |args: &[&str]| {
        shop.command(args)
            .env("AWS_ENDPOINT_URL", &moto.endpoint)
            .env("AWS_REGION", "eu-west-1")
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env_remove("AWS_PROFILE")
            .output()
            .unwrap()
    };
    let key = "awskms:///alias/shop/cosign";
    let ev = ok(&kms(&["sign", &image, "--key", key, "--output", "json"]));
    assert_eq!(
        field(&ev, "image_signed", "digest"),
        digest.as_str(),
        "signed by digest"
    );
    let pem = kms(&["sign", "--public-key", "--key", key]);
    assert_eq!(
        String::from_utf8_lossy(&ok_stdout(&pem)),
        public,
        "the public half KMS holds"
    );
    let keys = shop.path().join("keys");
    std::fs::create_dir_all(&keys).unwrap();
    std::fs::write(keys.join("kms.pub"), &public).unwrap();

    // The signature, fetched by skopeo, checked by Python cryptography against KMS's key.
    let hex = digest.trim_start_matches("sha256:");
    let dir = shop.path().join("sig");
    let copy = std::process::Command::new(&skopeo)
        .args([
            "copy",
            "--src-tls-verify=false",
            &format!("docker://{nonprod}/login:sha256-{hex}.sig"),
            &format!("dir:{}", dir.display()),
        ])
        .output()
        .unwrap();
    assert!(copy.status.success(), "{}", stderr(&copy));
    let check = std::process::Command::new(&python)
        .arg(support::repo().join("cli/tests/support/verify_cosign.py"))
        .arg(keys.join("kms.pub"))
        .arg(&dir)
        .arg(&digest)
        .output()
        .unwrap();
    assert!(check.status.success(), "{}", stderr(&check));
    let result: Value = serde_json::from_slice(&check.stdout).unwrap();
    assert_eq!(
        result,
        serde_json::json!({"valid": 1, "tampered_rejected": 1, "layers": 1})
    );
    // ecomctl verifies with the KMS key itself, and with its public half as a file.
    ok(&kms(&["verify", &image, "--key", key]));
    ok(&shop.run(&["verify", &image, "--key", "keys/kms.pub"]));
    // An alias that does not exist: exit 1, naming the key.
    let out = kms(&["sign", &image, "--key", "awskms:///alias/shop/nope"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("alias/shop/nope"), "{}", stderr(&out));
    let out = kms(&["sign", &image, "--key", "awskms://kms.example/alias/x"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
}
