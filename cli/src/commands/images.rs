//! `ecomctl build`, `push`, `promote`, `sign`, `verify`: flags to options, then `oci`.

use anyhow::{Context, Result};
use serde_json::json;

use super::Settings;
use crate::cli::{BuildArgs, PromoteArgs, PushArgs, RegistryAuth, RegistryAuthArgs};
use crate::dev::Service;
use crate::exit::{Exit, FAILURE, USAGE};
use crate::oci::access::{self, AccessError, Source};
use crate::oci::artifacts::{self, SbomBucket};
use crate::oci::build::{self, BuildOptions, Built};
use crate::oci::digest_hex;
use crate::oci::ecr;
use crate::oci::layout::Layout;
use crate::oci::reference::{valid_tag, Repo};
use crate::oci::registry::{Client, RegistryError};
use crate::oci::transfer::{self, TransferError};
use crate::ui::Ui;

pub(super) fn selected(services: &[Service]) -> Vec<Service> {
    Service::ALL
        .into_iter()
        .filter(|s| services.is_empty() || services.contains(s))
        .collect()
}

pub fn build_options(args: &BuildArgs) -> Result<BuildOptions> {
    let root = crate::dev::workspace_root()?;
    if let Some(t) = args.tag.as_deref().filter(|t| !valid_tag(t)) {
        return Err(Exit::new(
            USAGE,
            format!("--tag {t:?}: use letters, digits, '.', '_' and '-'"),
        )
        .into());
    }
    if let Some(d) = args.binary_dir.as_ref().filter(|d| !d.is_dir()) {
        return Err(Exit::new(
            USAGE,
            format!("--binary-dir {}: not a directory", d.display()),
        )
        .into());
    }
    Ok(BuildOptions {
        out: args.out_dir.clone().unwrap_or_else(|| images_dir(&root)),
        root,
        platform: args.platform,
        binary_dir: args.binary_dir.clone(),
        services: selected(&args.services),
        cache: build::default_cache(args.cache_dir.clone()),
        mirror: args.debian_mirror.clone(),
        source: args.source.clone(),
        tag: args.tag.clone(),
        source_date_epoch: args.source_date_epoch,
    })
}

pub(super) fn images_dir(root: &std::path::Path) -> std::path::PathBuf {
    crate::dev::target_dir(root).join("images")
}

pub fn build(args: &BuildArgs, ui: &Ui) -> Result<Vec<Built>> {
    build::build(&build_options(args)?, ui)
}

pub(super) fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")
}

pub(super) fn repo_arg(flag: &str, value: &str) -> Result<Repo> {
    Repo::parse(value).map_err(|e| Exit::new(USAGE, format!("{flag}: {e}")).into())
}

/// Where `--registry-auth` says credentials come from.
pub(super) fn source(auth: &RegistryAuthArgs) -> Source {
    match auth.registry_auth {
        RegistryAuth::Auto => Source::Auto,
        RegistryAuth::Docker => Source::Docker,
        RegistryAuth::Ecr => Source::Ecr,
    }
}

/// The registry client for `hosts`: Docker-config logins, plus ECR tokens where `auth` says so.
pub(super) fn client(
    settings: &Settings,
    auth: &RegistryAuthArgs,
    hosts: &[&str],
) -> Result<Client> {
    let endpoint = settings.run.aws_endpoint.as_deref();
    runtime()?
        .block_on(access::client(hosts, source(auth), endpoint))
        .map_err(|e| match e {
            AccessError::Ecr { ref host, .. } => {
                let host = host.clone();
                anyhow::Error::new(e).context(
                    Exit::new(FAILURE, format!("getting registry credentials for {host} from ECR"))
                        .hint("check the AWS credentials (aws sts get-caller-identity) and ecr:GetAuthorizationToken"),
                )
            }
            AccessError::DockerConfig(e) => anyhow::Error::new(e)
                .context("reading the Docker config for registry credentials"),
            AccessError::Registry(e) => e.into(),
        })
}

/// The built layouts of the services asked for (all built ones when none is named): a named
/// service that is not built is a usage error, and so is finding none at all.
pub(super) fn built_layouts(
    root: &std::path::Path,
    services: &[Service],
) -> Result<Vec<(Service, std::path::PathBuf, Layout)>> {
    let dir = images_dir(root);
    let mut out = Vec::new();
    for s in selected(services) {
        let path = dir.join(s.name());
        if !path.join("index.json").is_file() {
            if services.is_empty() {
                continue;
            }
            return Err(Exit::new(
                USAGE,
                format!(
                    "{} is not built ({} has no image layout)",
                    s.name(),
                    path.display()
                ),
            )
            .hint(format!("ecomctl build --service {}", s.name()))
            .into());
        }
        let layout =
            Layout::open(&path).with_context(|| format!("reading the {} image", s.name()))?;
        out.push((s, path, layout));
    }
    if out.is_empty() {
        return Err(
            Exit::new(USAGE, format!("no image is built in {}", dir.display()))
                .hint("ecomctl build")
                .into(),
        );
    }
    Ok(out)
}

/// A transfer error with the exit code and the hint that fits it.
pub(super) fn explain(err: TransferError, doing: String) -> anyhow::Error {
    let hint = match &err {
        TransferError::Registry(RegistryError::Unauthorized { registry, .. }) => Some(format!(
            "log in to {registry} (an `auths` entry in $DOCKER_CONFIG/config.json or ~/.docker/config.json)"
        )),
        TransferError::Registry(RegistryError::Unreachable { .. }) => {
            Some("check the registry address and that it is up".to_string())
        }
        TransferError::TagMoved { .. } => {
            Some("build with a new --tag (a new commit gets one by default); pushes by digest need no tag".to_string())
        }
        TransferError::NotInSource { .. } => {
            Some("push it there first, or check the digest (`ecomctl push` prints it)".to_string())
        }
        _ => None,
    };
    let mut exit = Exit::new(FAILURE, doing);
    if let Some(h) = hint {
        exit = exit.hint(h);
    }
    anyhow::Error::new(err).context(exit)
}

pub fn push(settings: &Settings, args: &PushArgs, ui: &Ui) -> Result<()> {
    let root = crate::dev::workspace_root()?;
    let to = repo_arg("--to", &args.to)?;
    if let Some(t) = args.tag.as_deref().filter(|t| !valid_tag(t)) {
        return Err(Exit::new(
            USAGE,
            format!("--tag {t:?}: use letters, digits, '.', '_' and '-'"),
        )
        .into());
    }
    let dir = images_dir(&root);
    let mut work = Vec::new();
    for (s, _, layout) in built_layouts(&root, &args.services)? {
        let tag = args.tag.clone().or_else(|| layout.tag()).ok_or_else(|| {
            Exit::new(USAGE, format!("{} has no tag in its layout", s.name()))
                .hint("give one with --tag")
        })?;
        work.push((s, layout, tag));
    }
    let sbom_to = sbom_bucket(
        settings,
        args.sbom_bucket.as_ref(),
        args.sbom_kms_key.as_ref(),
    )?;
    let client = client(settings, &args.auth, &[&to.registry])?;
    let rt = runtime()?;
    let s3 = sbom_s3(settings, &rt, sbom_to.as_ref());
    for (s, layout, tag) in work {
        let repo = to.child(s.name());
        ui.status("pushing", &format!("{} to {repo}:{tag}", s.name()));
        let report = rt
            .block_on(transfer::push_layout(&client, &layout, &repo, &tag))
            .map_err(|e| explain(e, format!("pushing {} to {repo}", s.name())))?;
        let sbom_file = crate::oci::build::sbom_path(&dir, s);
        let sbom = attach_sbom(&client, &rt, &layout, &sbom_file, s, &repo)
            .with_context(|| format!("attaching the {} SBOM", s.name()))?;
        let sbom_object = match (&sbom_to, &s3) {
            (Some((bucket, _)), Some(s3)) => Some(upload_sbom(
                &rt,
                s3,
                bucket,
                &sbom_file,
                s,
                &report.digest,
                sbom.is_some(),
            )?),
            _ => None,
        };
        ui.status(
            "pushed",
            &format!(
                "{} {} uploaded, {} already there",
                s.name(),
                report.uploaded,
                report.skipped
            ),
        );
        ui.data(&format!("{repo}@{}", report.digest));
        ui.event(
            "image_pushed",
            json!({"service": s.name(), "repository": repo.to_string(), "tag": tag, "digest": report.digest,
                   "blobs_uploaded": report.uploaded, "blobs_skipped": report.skipped, "sbom": sbom,
                   "sbom_object": sbom_object}),
        );
    }
    Ok(())
}

/// The S3 client for `--sbom-bucket`'s bucket, in its region (none without the flag).
pub(super) fn sbom_s3(
    settings: &Settings,
    rt: &tokio::runtime::Runtime,
    sbom_to: Option<&(SbomBucket, String)>,
) -> Option<aws_sdk_s3::Client> {
    sbom_to.map(|(_, region)| {
        let endpoint = settings.run.aws_endpoint.as_deref();
        let config = rt.block_on(ecr::sdk_config(region.clone(), endpoint));
        artifacts::s3_client(&config, endpoint)
    })
}

/// Where `--sbom-bucket` sends the SBOMs, and the region of the S3 calls: the flag's bucket, or
/// (given without a value) the bootstrap stage's `artifact_bucket_name` and `kms_key_arn`.
pub(super) fn sbom_bucket(
    settings: &Settings,
    flag: Option<&String>,
    kms: Option<&String>,
) -> Result<Option<(SbomBucket, String)>> {
    let Some(flag) = flag else {
        return Ok(None);
    };
    let loaded = if settings.config.exists() || flag.is_empty() {
        Some(settings.load_config()?)
    } else {
        None
    };
    let region = match &loaded {
        Some(l) => l.config.regions.primary.clone(),
        None => std::env::var("AWS_REGION")
            .or_else(|_| std::env::var("AWS_DEFAULT_REGION"))
            .map_err(|_| {
                Exit::new(
                    USAGE,
                    "--sbom-bucket: no AWS region (no config, AWS_REGION unset)",
                )
                .hint("set AWS_REGION, or run with the config (-c ecomctl.yaml)")
            })?,
    };
    if !flag.is_empty() {
        let bucket = SbomBucket {
            bucket: flag.clone(),
            kms_key: kms.cloned(),
        };
        return Ok(Some((bucket, region)));
    }
    let loaded = loaded.context("the config is needed for the bootstrap stage's outputs")?;
    let target = crate::stages::Target::new("", crate::render::Stage::Bootstrap);
    let outputs = crate::stages::stored_outputs(&crate::stages::state_dir(&loaded)?, &target)
        .map_err(|e| Exit::new(FAILURE, format!("{e:#}")))?;
    let value = |name: &str| {
        outputs
            .as_ref()
            .and_then(|o| o[name]["value"].as_str())
            .map(str::to_string)
    };
    let bucket = value("artifact_bucket_name").ok_or_else(|| {
        Exit::new(
            FAILURE,
            format!("{} has no `artifact_bucket_name` output", target.label()),
        )
        .hint("apply the bootstrap stage first (`ecomctl up`), or name the bucket: --sbom-bucket BUCKET")
    })?;
    let kms_key = kms.cloned().or_else(|| value("kms_key_arn"));
    Ok(Some((SbomBucket { bucket, kms_key }, region)))
}

/// Uploads the SBOM file `path` (`<images>/<service>.cdx.json`, already checked to describe `digest` when
/// `attached`); returns the object's `s3://` URL.
pub(super) fn upload_sbom(
    rt: &tokio::runtime::Runtime,
    s3: &aws_sdk_s3::Client,
    to: &SbomBucket,
    path: &std::path::Path,
    s: Service,
    digest: &str,
    attached: bool,
) -> Result<String> {
    if !attached {
        return Err(Exit::new(
            FAILURE,
            format!(
                "--sbom-bucket: {} has no SBOM ({})",
                s.name(),
                path.display()
            ),
        )
        .hint(format!("ecomctl build --service {}", s.name()))
        .into());
    }
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let key = artifacts::sbom_key(s.name(), digest);
    rt.block_on(artifacts::upload(s3, to, &key, bytes))
        .map_err(|e| {
            anyhow::Error::new(e).context(
                Exit::new(FAILURE, format!("storing the {} SBOM", s.name()))
                    .hint("the pushing role needs s3:PutObject on the bucket and kms:GenerateDataKey on its key"),
            )
        })?;
    Ok(format!("s3://{}/{key}", to.bucket))
}

/// Attaches the SBOM file `path` (`<images>/<service>.cdx.json`) as a referrer of the pushed
/// image, when it was built for this image (its metadata names the image's digest). Returns the
/// referrer's digest.
pub(super) fn attach_sbom(
    client: &Client,
    rt: &tokio::runtime::Runtime,
    layout: &Layout,
    path: &std::path::Path,
    s: Service,
    repo: &Repo,
) -> Result<Option<String>> {
    let Ok(bytes) = std::fs::read(path) else {
        return Ok(None);
    };
    let (desc, _, _) = layout.image()?;
    let bom: serde_json::Value =
        serde_json::from_slice(&bytes).with_context(|| format!("reading {}", path.display()))?;
    let names =
        bom["metadata"]["component"]["hashes"][0]["content"].as_str() == digest_hex(&desc.digest);
    if !names {
        return Err(Exit::new(
            FAILURE,
            format!(
                "{} describes another build than {}",
                path.display(),
                layout.dir.display()
            ),
        )
        .hint(format!("ecomctl build --service {}", s.name()))
        .into());
    }
    let mut annotations = serde_json::Map::new();
    if let Some(created) = bom["metadata"]["timestamp"].as_str() {
        annotations.insert("org.opencontainers.image.created".into(), created.into());
    }
    let digest = rt
        .block_on(crate::oci::referrers::attach(
            client,
            repo,
            &desc,
            crate::oci::sbom::MEDIA_CYCLONEDX,
            bytes,
            annotations,
        ))
        .map_err(|e| explain(e, format!("attaching the SBOM to {repo}@{}", desc.digest)))?;
    Ok(Some(digest))
}

/// `login@sha256:...` -> (service, digest).
fn service_at_digest(image: &str) -> Result<(Service, String)> {
    let usage =
        |why: String| -> anyhow::Error { Exit::new(USAGE, format!("{image:?}: {why}")).into() };
    let (name, digest) = image
        .split_once('@')
        .ok_or_else(|| usage("expected SERVICE@sha256:DIGEST".into()))?;
    let service = Service::ALL
        .into_iter()
        .find(|s| s.name() == name)
        .ok_or_else(|| {
            let names: Vec<&str> = Service::ALL.iter().map(|s| s.name()).collect();
            usage(format!(
                "no service {name:?} (services: {})",
                names.join(", ")
            ))
        })?;
    if digest_hex(digest).is_none() {
        return Err(usage(
            "the digest must be sha256: and 64 lowercase hex digits".into(),
        ));
    }
    Ok((service, digest.to_string()))
}

pub fn promote(settings: &Settings, args: &PromoteArgs, ui: &Ui) -> Result<()> {
    let (service, digest) = service_at_digest(&args.image)?;
    let from = repo_arg("--from", &args.from)?.child(service.name());
    let to = repo_arg("--to", &args.to)?.child(service.name());
    if let Some(t) = args.tag.as_deref().filter(|t| !valid_tag(t)) {
        return Err(Exit::new(
            USAGE,
            format!("--tag {t:?}: use letters, digits, '.', '_' and '-'"),
        )
        .into());
    }
    let client = client(settings, &args.auth, &[&from.registry, &to.registry])?;
    ui.status("promoting", &format!("{from}@{digest} to {to}"));
    let report = runtime()?
        .block_on(transfer::copy(
            &client,
            &from,
            &to,
            &digest,
            args.tag.as_deref(),
        ))
        .map_err(|e| {
            explain(
                e,
                format!("promoting {} from {from} to {to}", service.name()),
            )
        })?;
    ui.status(
        "promoted",
        &format!(
            "{} {} uploaded, {} already there, {} signature/referrer manifest(s)",
            service.name(),
            report.uploaded,
            report.skipped,
            report.attached
        ),
    );
    ui.data(&format!("{to}@{digest}"));
    ui.event(
        "image_promoted",
        json!({"service": service.name(), "from": from.to_string(), "to": to.to_string(), "digest": digest,
               "blobs_uploaded": report.uploaded, "blobs_skipped": report.skipped, "blobs_mounted": report.mounted,
               "attached": report.attached}),
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn images_are_named_by_service_and_digest() {
        let d = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
        assert_eq!(
            service_at_digest(&format!("login@{d}")).unwrap().0,
            Service::Login
        );
        let unknown = service_at_digest(&format!("billing@{d}")).unwrap_err();
        assert_eq!(crate::exit::code_for(&unknown), USAGE);
        assert!(unknown.to_string().contains("services: login"));
        assert!(service_at_digest("login@sha256:12").is_err());
        assert!(service_at_digest("login").is_err());
    }
}
