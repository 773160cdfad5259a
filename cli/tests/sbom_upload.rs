//! `ecomctl push --sbom-bucket`: each image's SBOM into the artifacts bucket (moto's S3, with a
//! KMS key as the bootstrap stack makes it), next to the push to a real loopback registry.

mod support;

use std::process::Command;
use support::images::{build, ok, stderr, Registry, Shop};
use support::{named, repo, show, Moto};

/// Runs boto3 against moto with test credentials; prints what the script prints.
fn boto(moto: &Moto, body: &str) -> String {
    let script = format!(
        "import boto3, json\nkw = dict(endpoint_url={:?}, region_name='us-east-1', aws_access_key_id='testing', aws_secret_access_key='testing')\ns3 = boto3.client('s3', **kw)\nkms = boto3.client('kms', **kw)\n{body}",
        moto.endpoint
    );
    let out = Command::new(repo().join(".tools/venv/bin/python"))
        .arg("-c")
        .arg(script)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

#[test]
fn sboms_go_to_the_bootstrap_artifacts_bucket_encrypted_with_its_key() {
    let (Some(moto), Some(registry)) = (Moto::bare(None), Registry::start(None)) else {
        return;
    };
    let key_arn = boto(
        &moto,
        r#"k = kms.create_key(Description='artifacts')['KeyMetadata']['Arn']
s3.create_bucket(Bucket='shop-artifacts')
s3.put_bucket_encryption(Bucket='shop-artifacts', ServerSideEncryptionConfiguration={'Rules': [
    {'ApplyServerSideEncryptionByDefault': {'SSEAlgorithm': 'aws:kms', 'KMSMasterKeyID': k}}]})
print(k)"#,
    );
    let shop = Shop::new();
    let digest = build(&shop, &[]);
    // The config and what the bootstrap stage stored: the bucket and its key.
    std::fs::copy(
        repo().join("examples/full.yaml"),
        shop.path().join("ecomctl.yaml"),
    )
    .unwrap();
    let outputs = shop.path().join(".ecomctl/global/bootstrap");
    std::fs::create_dir_all(&outputs).unwrap();
    std::fs::write(
        outputs.join("outputs.json"),
        serde_json::json!({
            "artifact_bucket_name": {"value": "shop-artifacts", "type": "string", "sensitive": false},
            "kms_key_arn": {"value": key_arn, "type": "string", "sensitive": false},
        })
        .to_string(),
    )
    .unwrap();
    let to = format!("{}/shop/nonprod", registry.host);
    let push = |extra: &[&str]| {
        let mut args = vec![
            "push",
            "--to",
            &to,
            "--service",
            "login",
            "--output",
            "json",
        ];
        args.extend_from_slice(extra);
        shop.command(&args)
            .env("AWS_ENDPOINT_URL", &moto.endpoint)
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env_remove("AWS_PROFILE")
            .output()
            .unwrap()
    };
    let ev = ok(&push(&["--sbom-bucket"]));
    let pushed = named(&ev, "image_pushed")[0].clone();
    assert_eq!(pushed["digest"], digest.as_str());
    let key = format!(
        "sbom/login/sha256-{}.cdx.json",
        digest.trim_start_matches("sha256:")
    );
    assert_eq!(
        pushed["sbom_object"],
        format!("s3://shop-artifacts/{key}").as_str()
    );
    let head = boto(
        &moto,
        &format!(
            "h = s3.head_object(Bucket='shop-artifacts', Key={key:?})\nb = s3.get_object(Bucket='shop-artifacts', Key={key:?})['Body'].read()\nprint(json.dumps({{'sse': h.get('ServerSideEncryption'), 'kms': h.get('SSEKMSKeyId'), 'type': h.get('ContentType'), 'body': b.decode()}}))"
        ),
    );
    let head: serde_json::Value = serde_json::from_str(&head).unwrap();
    assert_eq!(head["sse"], "aws:kms");
    assert_eq!(head["kms"], key_arn.as_str());
    assert_eq!(head["type"], "application/vnd.cyclonedx+json");
    let local = std::fs::read_to_string(shop.path().join("target/images/login.cdx.json")).unwrap();
    assert_eq!(head["body"], local.as_str(), "the object is the SBOM built");

    // `ecomctl index` stores each platform's SBOM the same way (here an index of one platform).
    let ev = ok(&shop
        .command(&[
            "index",
            "login",
            "--layout",
            "target/images/login",
            "--to",
            &format!("{}/shop/multi", registry.host),
            "--sbom-bucket",
            "--output",
            "json",
        ])
        .env("AWS_ENDPOINT_URL", &moto.endpoint)
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env_remove("AWS_PROFILE")
        .output()
        .unwrap());
    let platform = &named(&ev, "index_pushed")[0]["platforms"][0];
    assert_eq!(platform["digest"], digest.as_str());
    assert_eq!(
        platform["sbom_object"],
        format!("s3://shop-artifacts/{key}").as_str()
    );

    // A bucket that does not exist: exit 1, naming the object.
    let out = push(&["--sbom-bucket", "no-such-bucket"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        show(&out).contains("storing the login SBOM")
            && show(&out).contains("s3://no-such-bucket/sbom/login/"),
        "{}",
        show(&out)
    );
}
