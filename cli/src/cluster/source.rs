//! Everything the cluster stage applies, from the rendered files of (env, cluster): the priming
//! manifests, and the platform chart rendered by the real Helm with the rendered values.
//! Refuses while any value still waits on an upstream stage.

use super::manifest::{self, Manifest};
use super::ClusterError;
use crate::render::RenderedFile;
use crate::tools::helm;
use std::path::Path;

pub const RELEASE_NAME: &str = "ecommerce";
pub const RELEASE_NAMESPACE: &str = "ecommerce";

#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("{file} still waits on upstream outputs: {}", .markers.join(", "))]
    Pending { file: String, markers: Vec<String> },
    #[error("rendering the cluster stage: {0}")]
    Render(String),
    #[error("the rendered files have no cluster values.yaml")]
    NoValues,
    #[error("cannot write {path}")]
    Write {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Helm(#[from] helm::HelmError),
    #[error(transparent)]
    Cluster(#[from] ClusterError),
}

impl SourceError {
    pub fn hint(&self) -> Option<String> {
        match self {
            SourceError::Pending { .. } => Some(
                "apply the foundation and app stages first (`ecomctl up -e ENV` walks them in order)"
                    .into(),
            ),
            _ => None,
        }
    }
}

/// The `<pending: stage.output>` markers in a rendered file.
pub fn pending_markers(text: &str) -> Vec<String> {
    let mut out: Vec<String> = text
        .match_indices("<pending: ")
        .filter_map(|(at, _)| {
            let rest = &text[at + "<pending: ".len()..];
            rest.find('>').map(|end| rest[..end].to_string())
        })
        .collect();
    out.sort();
    out.dedup();
    out
}

/// The manifests of one environment's cluster stage, in apply order. `work` receives the values
/// file Helm reads (it holds no secret).
pub fn manifests(
    files: &[RenderedFile],
    chart: &Path,
    helm_bin: &Path,
    kube_version: Option<&str>,
    work: &Path,
) -> Result<Vec<Manifest>, SourceError> {
    for f in files {
        let markers = pending_markers(&f.contents);
        if !markers.is_empty() {
            return Err(SourceError::Pending {
                file: f.path.display().to_string(),
                markers,
            });
        }
    }
    let mut out = Vec::new();
    let mut values = None;
    for f in files {
        if f.path.ends_with("values.yaml") {
            values = Some(f);
        } else if f.path.components().any(|c| c.as_os_str() == "priming") {
            out.extend(
                manifest::parse(&f.path.display().to_string(), &f.contents, None)
                    .map_err(ClusterError::from)?,
            );
        }
    }
    let values = values.ok_or(SourceError::NoValues)?;
    std::fs::create_dir_all(work).map_err(|source| SourceError::Write {
        path: work.display().to_string(),
        source,
    })?;
    let values_path = work.join("values.yaml");
    std::fs::write(&values_path, &values.contents).map_err(|source| SourceError::Write {
        path: values_path.display().to_string(),
        source,
    })?;
    let text = helm::template(
        helm_bin,
        &helm::Template {
            release: RELEASE_NAME,
            namespace: RELEASE_NAMESPACE,
            chart,
            values: &values_path,
            kube_version,
            include_crds: false,
        },
    )?;
    out.extend(
        manifest::parse("helm template", &text, Some(RELEASE_NAMESPACE))
            .map_err(ClusterError::from)?,
    );
    manifest::sort(&mut out);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pending_markers_are_listed_once_each() {
        let text = "# <pending: app.db_endpoint>\nhost: \"\"\n# <pending: foundation.vpc_cidr>\nx: <pending: app.db_endpoint>";
        assert_eq!(
            pending_markers(text),
            ["app.db_endpoint", "foundation.vpc_cidr"]
        );
    }
}
