//! `ecomctl index`: one service's per-platform layouts pushed as one image index.

use anyhow::{Context, Result};
use serde_json::json;

use super::images::{
    attach_sbom, client, explain, repo_arg, runtime, sbom_bucket, sbom_s3, upload_sbom,
};
use super::Settings;
use crate::cli::IndexArgs;
use crate::exit::{Exit, USAGE};
use crate::oci::layout::Layout;
use crate::oci::multiarch::{self, PlatformImage};
use crate::oci::reference::valid_tag;
use crate::ui::Ui;

/// `<dir>.cdx.json`: where `ecomctl build` writes the SBOM of the layout `<dir>`.
fn sbom_beside(dir: &std::path::Path) -> std::path::PathBuf {
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    dir.with_file_name(format!("{name}.cdx.json"))
}

pub fn index(settings: &Settings, args: &IndexArgs, ui: &Ui) -> Result<()> {
    let service = args.service;
    let repo = repo_arg("--to", &args.to)?.child(service.name());
    if let Some(t) = args.tag.as_deref().filter(|t| !valid_tag(t)) {
        return Err(Exit::new(
            USAGE,
            format!("--tag {t:?}: use letters, digits, '.', '_' and '-'"),
        )
        .into());
    }
    let mut images = Vec::new();
    for dir in &args.layouts {
        let layout = Layout::open(dir)
            .map_err(|e| Exit::new(USAGE, format!("--layout {}: {e}", dir.display())))?;
        let tag = layout.tag();
        let image = PlatformImage::read(layout)
            .map_err(|e| Exit::new(USAGE, format!("--layout {}: {e}", dir.display())))?;
        if image.title() != Some(service.name()) {
            return Err(Exit::new(
                USAGE,
                format!(
                    "--layout {}: an image of {}, not of {}",
                    dir.display(),
                    image.title().unwrap_or("an unnamed service"),
                    service.name()
                ),
            )
            .into());
        }
        images.push((image, tag));
    }
    let tag = match &args.tag {
        Some(t) => t.clone(),
        None => {
            let mut tags: Vec<Option<String>> = images.iter().map(|(_, t)| t.clone()).collect();
            tags.dedup();
            match tags.as_slice() {
                [Some(t)] => t.clone(),
                _ => {
                    return Err(Exit::new(
                        USAGE,
                        "the layouts carry different tags (or none); they were built from different commits",
                    )
                    .hint("build every platform from the same commit, or name the index's tag with --tag")
                    .into())
                }
            }
        }
    };
    let images: Vec<PlatformImage> = images.into_iter().map(|(i, _)| i).collect();
    let bytes = multiarch::index_bytes(&images).map_err(|why| Exit::new(USAGE, why))?;
    let sbom_to = sbom_bucket(
        settings,
        args.sbom_bucket.as_ref(),
        args.sbom_kms_key.as_ref(),
    )?;
    let client = client(settings, &args.auth, &[&repo.registry])?;
    let rt = runtime()?;
    let s3 = sbom_s3(settings, &rt, sbom_to.as_ref());
    let platforms: Vec<String> = images.iter().map(|i| i.platform()).collect();
    ui.status(
        "pushing",
        &format!(
            "{} ({}) to {repo}:{tag}",
            service.name(),
            platforms.join(", ")
        ),
    );
    let report = rt
        .block_on(multiarch::push_index(&client, &images, &bytes, &repo, &tag))
        .map_err(|e| explain(e, format!("pushing the {} index to {repo}", service.name())))?;
    let mut entries = Vec::new();
    for (image, (platform, r)) in images.iter().zip(&report.platforms) {
        let sbom_file = sbom_beside(&image.layout.dir);
        let sbom = attach_sbom(&client, &rt, &image.layout, &sbom_file, service, &repo)
            .with_context(|| format!("attaching the {} {platform} SBOM", service.name()))?;
        let sbom_object = match (&sbom_to, &s3) {
            (Some((bucket, _)), Some(s3)) => Some(upload_sbom(
                &rt,
                s3,
                bucket,
                &sbom_file,
                service,
                &r.digest,
                sbom.is_some(),
            )?),
            _ => None,
        };
        entries.push(
            json!({"platform": platform, "digest": r.digest, "sbom": sbom,
                            "sbom_object": sbom_object,
                            "blobs_uploaded": r.uploaded, "blobs_skipped": r.skipped}),
        );
    }
    let digest = &report.index.digest;
    ui.status(
        "pushed",
        &format!(
            "{} index of {} platform(s), {} blob(s) uploaded, {} already there",
            service.name(),
            images.len(),
            report.index.uploaded,
            report.index.skipped
        ),
    );
    ui.data(&format!("{repo}@{digest}"));
    ui.event(
        "index_pushed",
        json!({"service": service.name(), "repository": repo.to_string(), "tag": tag,
               "digest": digest, "platforms": entries,
               "blobs_uploaded": report.index.uploaded, "blobs_skipped": report.index.skipped}),
    );
    Ok(())
}
