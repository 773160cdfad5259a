//! `ecomctl deploy -e ENV --image SERVICE@DIGEST...`: the digests set in the environment's
//! services for this run, the cluster stage alone (as `up` runs it), then a deployment record
//! in the registry for every image the release now runs (`oci::provenance`).

use anyhow::{Context, Result};
use serde_json::json;
use std::collections::BTreeMap;

use super::images::{explain, runtime};
use super::{orchestrate, Settings};
use crate::cli::DeployArgs;
use crate::config::SERVICES;
use crate::exit::{Exit, FAILURE, USAGE};
use crate::oci::access;
use crate::oci::provenance;
use crate::oci::reference::Reference;
use crate::oci::transfer::TransferError;
use crate::render::Stage;
use crate::stages::{Step, Workspace};
use crate::ui::Ui;

/// `SERVICE@sha256:...` flags, checked: a known service, a well-formed digest, each once.
pub fn parse_images(flags: &[String]) -> Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    for flag in flags {
        let bad = |why: String| {
            Exit::new(USAGE, format!("--image {flag:?}: {why}"))
                .hint("write SERVICE@sha256:<64 hex digits>, e.g. login@sha256:4f1c... (`ecomctl push` prints the digests)")
        };
        let (service, digest) = flag
            .split_once('@')
            .ok_or_else(|| bad("no @sha256: digest".into()))?;
        if !SERVICES.contains(&service) {
            return Err(bad(format!(
                "{service:?} is not a service (the services are {})",
                SERVICES.join(", ")
            ))
            .into());
        }
        if crate::oci::digest_hex(digest).is_none() {
            return Err(
                bad("the digest must be sha256: and 64 lowercase hex digits".into()).into(),
            );
        }
        if out
            .insert(service.to_string(), digest.to_string())
            .is_some()
        {
            return Err(bad(format!("{service} is named twice")).into());
        }
    }
    Ok(out)
}

pub fn run(settings: &Settings, args: &DeployArgs, ui: &Ui) -> Result<()> {
    let digests = parse_images(&args.images)?;
    let mut loaded = settings.load_config()?;
    let env = orchestrate::env_in(settings, &loaded, None)?;
    let environment = loaded
        .config
        .environments
        .get_mut(&env)
        .context("the environment vanished from the config")?;
    for (service, digest) in &digests {
        let svc = environment.services.entry(service.clone()).or_default();
        if !svc.enabled {
            return Err(Exit::new(
                USAGE,
                format!("--image {service}@...: {service} is disabled in {env}"),
            )
            .hint(format!(
                "enable environments.{env}.services.{service} in the config first"
            ))
            .into());
        }
        svc.digest = Some(digest.clone());
    }
    let ws = Workspace::open(loaded, orchestrate::options(settings))?;
    let step = ws.deploy(&env, &orchestrate::approval(&args.approval, ui), ui)?;
    record(settings, args, &ws, &env, ui)?;
    ui.event(
        "deployed",
        json!({"env": env, "images": digests, "applied": step == Step::Applied}),
    );
    ui.status(
        "deployed",
        &format!(
            "{env}: {}",
            if step == Step::Applied {
                "the release rolled out"
            } else {
                "already running these images"
            }
        ),
    );
    Ok(())
}

/// A deployment record for each image the release runs now (its outputs say which).
fn record(
    settings: &Settings,
    args: &DeployArgs,
    ws: &Workspace,
    env: &str,
    ui: &Ui,
) -> Result<()> {
    let outputs = ws.outputs(env, Stage::Cluster)?.unwrap_or_default();
    let pinned: Vec<(crate::oci::reference::Repo, String)> = outputs["release_images"]["value"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|v| Reference::parse(v.as_str()?).ok())
        .filter_map(|r| Some((r.repo, r.digest?)))
        .collect();
    if pinned.is_empty() {
        return Ok(());
    }
    let hosts: Vec<&str> = pinned.iter().map(|(r, _)| r.registry.as_str()).collect();
    let source = super::images::source(&args.auth);
    let endpoint = settings
        .run
        .aws_endpoint
        .as_deref()
        .filter(|e| !e.is_empty());
    let rt = runtime()?;
    let client = rt
        .block_on(access::client(&hosts, source, endpoint))
        .map_err(|e| {
            anyhow::Error::new(e).context(
                Exit::new(FAILURE, format!("{env} is deployed, but its deployment records could not be written"))
                    .hint(format!("fix the registry credentials and run the same `ecomctl deploy -e {env}` again (nothing is applied twice)")),
            )
        })?;
    for (repo, digest) in &pinned {
        let recorded = rt
            .block_on(provenance::record_deployment(&client, repo, digest, env))
            .map_err(|e: TransferError| {
                explain(
                    e,
                    format!("{env} is deployed, but recording {repo}@{digest} failed; run the same deploy again"),
                )
            })?;
        ui.event(
            "deployment_recorded",
            json!({"env": env, "image": format!("{repo}@{digest}"), "record": recorded}),
        );
    }
    ui.detail(&format!(
        "{} image(s) recorded as deployed to {env}",
        pinned.len()
    ));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_flags_name_a_service_and_a_digest_once() {
        let d = format!("sha256:{}", "a".repeat(64));
        let ok = parse_images(&[format!("login@{d}"), format!("orders@{d}")]).unwrap();
        assert_eq!(ok.len(), 2);
        for bad in [
            format!("logn@{d}"),
            "login".to_string(),
            "login@sha256:abc".to_string(),
        ] {
            let e = parse_images(std::slice::from_ref(&bad)).unwrap_err();
            assert!(e.to_string().contains(&bad), "{e}");
        }
        assert!(parse_images(&[format!("login@{d}"), format!("login@{d}")]).is_err());
    }
}
