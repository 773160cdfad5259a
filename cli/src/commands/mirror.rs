//! `ecomctl mirror`: the config's `supply_chain.mirror` images copied by digest into the
//! platform's registry, with `oci::transfer::copy` (the same copy as `promote`).

use anyhow::Result;
use serde_json::{json, Value};

use super::images::{client, explain, runtime};
use super::{orchestrate, Settings};
use crate::cli::MirrorArgs;
use crate::exit::{Exit, FAILURE, USAGE};
use crate::oci::reference::Repo;
use crate::oci::transfer::{self, TransferError};
use crate::render::Stage;
use crate::stages;
use crate::ui::Ui;

/// `host[:port]`, with nothing after it.
fn registry_host(value: &str) -> Option<&str> {
    let v = value.trim_end_matches('/');
    let hostlike = v.contains('.') || v.contains(':') || v == "localhost";
    (hostlike && !v.is_empty() && !v.contains('/') && !v.contains('@')).then_some(v)
}

/// The registry to mirror into: `--to`, else the app stage's `ecr_registry` output of `-e`.
fn destination(
    settings: &Settings,
    args: &MirrorArgs,
    loaded: &crate::config::Loaded,
) -> Result<String> {
    if let Some(to) = &args.to {
        return registry_host(to).map(str::to_string).ok_or_else(|| {
            Exit::new(
                USAGE,
                format!("--to {to:?}: expected a registry host (HOST[:PORT])"),
            )
            .hint("e.g. --to 111111111111.dkr.ecr.eu-west-1.amazonaws.com; images go to <REGISTRY>/mirrors/<path>")
            .into()
        });
    }
    if settings.env.is_none() {
        return Err(
            Exit::new(USAGE, "which registry? pass --to REGISTRY or -e ENV")
                .hint("with -e ENV the registry is the app stage's `ecr_registry` output")
                .into(),
        );
    }
    let env = orchestrate::env_in(settings, loaded, Some(Stage::App))?;
    let target = stages::Target::new(&env, Stage::App);
    let outputs = stages::stored_outputs(&stages::state_dir(loaded)?, &target)
        .map_err(|e| Exit::new(FAILURE, format!("{e:#}")))?;
    outputs
        .as_ref()
        .and_then(|o| o["ecr_registry"]["value"].as_str())
        .map(str::to_string)
        .ok_or_else(|| {
            Exit::new(
                FAILURE,
                format!("{} has no `ecr_registry` output", target.label()),
            )
            .hint(format!(
                "apply the app stage first (`ecomctl up -e {env}`), or pass --to REGISTRY"
            ))
            .into()
        })
}

pub fn run(settings: &Settings, args: &MirrorArgs, ui: &Ui) -> Result<()> {
    let loaded = settings.load_config()?;
    let images = &loaded.config.supply_chain.mirror;
    if images.is_empty() {
        return Err(
            Exit::new(USAGE, "the config lists no image to mirror (supply_chain.mirror)")
                .hint("add `supply_chain: {mirror: [{source: REGISTRY/PATH:TAG@sha256:DIGEST}]}` (docs/supply-chain.md)")
                .into(),
        );
    }
    let registry = destination(settings, args, &loaded)?;
    // Validation already refused what does not resolve or is not pinned.
    let mut work = Vec::new();
    for image in images {
        let Some((source, target)) = image.resolve() else {
            continue;
        };
        let Some(digest) = source.digest.clone() else {
            continue;
        };
        let dst = Repo {
            registry: registry.clone(),
            path: target,
        };
        work.push((source, dst, digest));
    }
    // ECR tokens (--registry-auth) for the destination and for sources that are ECR; other
    // upstream registries get the Docker config's logins, or none.
    let mut hosts: Vec<&str> = work
        .iter()
        .map(|(s, _, _)| s.repo.registry.as_str())
        .filter(|h| crate::oci::ecr::ecr_host(h).is_some())
        .collect();
    hosts.push(&registry);
    hosts.sort_unstable();
    hosts.dedup();
    let client = client(settings, &args.auth, &hosts)?;
    let rt = runtime()?;
    let mut uploaded = 0;
    for (source, dst, digest) in &work {
        ui.status("mirroring", &format!("{}@{digest} to {dst}", source.repo));
        let report = rt
            .block_on(transfer::copy(
                &client,
                &source.repo,
                dst,
                digest,
                source.tag.as_deref(),
            ))
            .map_err(|e| explain_mirror(e, &source.repo, dst))?;
        uploaded += report.uploaded;
        ui.status(
            "mirrored",
            &format!(
                "{dst}@{digest}: {} manifest(s), {} blob(s) uploaded, {} already there",
                report.manifests, report.uploaded, report.skipped
            ),
        );
        ui.data(&format!("{dst}@{digest}"));
        ui.event(
            "image_mirrored",
            json!({"source": source.repo.to_string(), "target": dst.to_string(), "digest": digest,
                   "tag": source.tag.as_ref().map_or(Value::Null, |t| Value::String(t.clone())),
                   "manifests": report.manifests, "blobs_uploaded": report.uploaded,
                   "blobs_skipped": report.skipped, "blobs_mounted": report.mounted,
                   "attached": report.attached}),
        );
    }
    ui.event(
        "mirror_finished",
        json!({"registry": registry, "images": work.len(), "blobs_uploaded": uploaded}),
    );
    Ok(())
}

fn explain_mirror(err: TransferError, src: &Repo, dst: &Repo) -> anyhow::Error {
    let doing = format!("mirroring {src} to {dst}");
    match err {
        TransferError::NotInSource { .. } => anyhow::Error::new(err).context(
            Exit::new(FAILURE, doing).hint(
                "check the digest in supply_chain.mirror (`skopeo inspect --raw docker://IMAGE | sha256sum`); nothing was tagged",
            ),
        ),
        other => explain(other, doing),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_destination_is_a_registry_host() {
        assert_eq!(registry_host("127.0.0.1:5000"), Some("127.0.0.1:5000"));
        assert_eq!(
            registry_host("111111111111.dkr.ecr.eu-west-1.amazonaws.com/"),
            Some("111111111111.dkr.ecr.eu-west-1.amazonaws.com")
        );
        assert_eq!(registry_host("127.0.0.1:5000/mirrors"), None);
        assert_eq!(registry_host("shop"), None);
    }
}
