//! The cluster stage's driver (kube-rs, see `crate::cluster`): inputs are the rendered priming
//! manifests and chart values; a plan is the server-side-apply dry-run diff of everything the
//! stage applies, saved with the manifests it was made from; apply re-applies exactly those,
//! prunes, watches every rollout and rolls back on failure; destroy removes the release.
//!
//! How it reaches the cluster and applies is read from the environment once:
//! `ECOMCTL_KUBECONFIG`/`KUBECONFIG` (else the EKS cluster of the foundation outputs),
//! `ECOMCTL_KUBE_CONTEXT`, `ECOMCTL_FORCE_CONFLICTS=true`, `ECOMCTL_ROLLOUT_TIMEOUT` (seconds,
//! default 600).

use super::driver::{Blocked, Cx, Inputs, Planned, StageDriver, StateHome};
use super::summary::PlanSummary;
use super::{record, PlanOutcome};
use crate::cli::ClusterAccess;
use crate::cluster::addons;
use crate::cluster::apply::{self, ApplyError, ApplyOptions};
use crate::cluster::connect::Connection;
use crate::cluster::fetch::ReleaseCache;
use crate::cluster::manifest::{Manifest, ObjectRef};
use crate::cluster::plan::{self, Action};
use crate::cluster::provenance::{self, GateError, Verdict};
use crate::cluster::secrets::{self, SecretSource, SyncedSecret};
use crate::cluster::{source, stage, ClusterError};
use crate::config::model::Environment;
use crate::exit::{Exit, FAILURE};
use crate::oci::access;
use crate::oci::reference::Reference;
use crate::render;
use anyhow::{Context, Result};
use serde_json::{json, Value};
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct ClusterDriver {
    pub helm: Option<PathBuf>,
    pub flags: stage::ConnectFlags,
    pub access: ClusterAccess,
    pub force_conflicts: bool,
    pub timeout: Duration,
}

impl ClusterDriver {
    /// Whether the walk can run the stage for `env`, or why not: a kubeconfig is given, or
    /// (`--cluster-access auto`) the env's foundation outputs name its EKS cluster.
    pub fn reachable(&self, state_dir: &std::path::Path, env: &str) -> Result<(), &'static str> {
        match self.access {
            ClusterAccess::Off => Err(crate::stages::CLUSTER_OFF),
            _ if self.flags.kubeconfig.is_some() => Ok(()),
            ClusterAccess::Kubeconfig => Err(crate::stages::CLUSTER_NEEDS_KUBECONFIG),
            ClusterAccess::Auto => {
                let outputs = std::fs::read(state_dir.join(env).join("foundation/outputs.json"))
                    .ok()
                    .and_then(|b| serde_json::from_slice::<Value>(&b).ok());
                match outputs
                    .as_ref()
                    .and_then(crate::cluster::connect::eks_from_outputs)
                {
                    Some(_) => Ok(()),
                    None => Err(crate::stages::CLUSTER_NOT_YET),
                }
            }
        }
    }

    fn rt() -> Result<tokio::runtime::Runtime> {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("starting the async runtime")
    }

    async fn connect(&self, cx: &Cx<'_>) -> Result<Connection, crate::cluster::ClusterError> {
        let env = &cx.ws.loaded.config.environments[cx.env];
        let region = env
            .region
            .clone()
            .unwrap_or_else(|| cx.ws.loaded.config.regions.primary.clone());
        let target = stage::target(&self.flags, &cx.ws.state_dir, cx.env, &region).await?;
        Ok(Connection::new(target))
    }

    fn rendered(&self, cx: &Cx) -> Result<Vec<render::RenderedFile>> {
        let t = cx.target;
        Ok(cx
            .ws
            .renderer
            .render(&cx.ws.loaded, &cx.ws.render_opts(cx.env, t.stage))
            .with_context(|| format!("rendering the inputs of {}", t.label()))?
            .into_iter()
            .filter(|f| f.scope == t.scope && f.stage == t.stage)
            .collect())
    }

    /// The AWS configuration of the env's region (Secrets Manager for the synced Secrets).
    async fn sdk(&self, cx: &Cx<'_>) -> aws_config::SdkConfig {
        let env = &cx.ws.loaded.config.environments[cx.env];
        let region = env
            .region
            .clone()
            .unwrap_or_else(|| cx.ws.loaded.config.regions.primary.clone());
        let endpoint = self.flags.aws_endpoint.as_deref().filter(|e| !e.is_empty());
        stage::sdk_config(&region, endpoint).await
    }

    /// The saved plan document.
    fn saved_plan(cx: &Cx) -> Result<Value> {
        let path = cx.dir.plan_file();
        serde_json::from_slice(
            &std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?,
        )
        .with_context(|| format!("{} is damaged; plan again", path.display()))
    }

    /// The Secrets the saved plan syncs (where from; never their data).
    fn saved_synced(cx: &Cx, doc: &Value) -> Result<Vec<SyncedSecret>> {
        let path = cx.dir.plan_file();
        match doc.get("synced_secrets") {
            None => Ok(Vec::new()),
            Some(v) => serde_json::from_value(v.clone())
                .with_context(|| format!("{} is damaged; plan again", path.display())),
        }
    }

    /// prod only: the release's images, each signed by `images.verify_key` and deployed to
    /// `images.promoted_from` before (`cluster::provenance`); refuses the plan otherwise.
    fn provenance(
        &self,
        cx: &Cx,
        rt: &tokio::runtime::Runtime,
        manifests: &[Manifest],
    ) -> Result<Option<Vec<Verdict>>> {
        if !Environment::is_prod(cx.env) {
            return Ok(None);
        }
        let label = cx.target.label();
        let images = &cx.ws.loaded.config.environments[cx.env].images;
        let key = provenance::verify_key(&cx.ws.loaded, cx.env).map_err(|e| {
            anyhow::Error::new(
                Exit::new(FAILURE, format!("cannot plan {label}: {e}")).hint(format!(
                    "set environments.{}.images.verify_key to the signing key's public half \
                     (`ecomctl sign --public-key --key KEY > cosign.pub`)",
                    cx.env
                )),
            )
        })?;
        let from = images.promoted_from.as_deref().unwrap_or("nonprod");
        let pinned = provenance::images(manifests, source::RELEASE_NAMESPACE);
        let hosts: Vec<String> = pinned
            .iter()
            .filter_map(|p| Reference::parse(&p.image).ok().map(|r| r.repo.registry))
            .collect();
        let hosts: Vec<&str> = hosts.iter().map(String::as_str).collect();
        let endpoint = self.flags.aws_endpoint.as_deref().filter(|e| !e.is_empty());
        let verdicts = rt.block_on(async {
            let client = access::client(&hosts, access::Source::Auto, endpoint).await?;
            provenance::check(&client, &pinned, &key, cx.env, from)
                .await
                .map_err(anyhow::Error::from)
        });
        verdicts.map(Some).map_err(|e| {
            let hint = match e.downcast_ref::<GateError>() {
                Some(g) => g.hint(from),
                None => "check the Docker config or the AWS credentials for the registry".into(),
            };
            e.context(Exit::new(FAILURE, format!("cannot plan {label}")).hint(hint))
        })
    }

    fn saved_manifests(doc: &Value) -> (Vec<Manifest>, bool) {
        let manifests = doc["manifests"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|v| {
                let id: ObjectRef = serde_json::from_value(json!({"apiVersion": v["apiVersion"],
                    "kind": v["kind"], "namespace": v["metadata"]["namespace"],
                    "name": v["metadata"]["name"]}))
                .ok()?;
                Some(Manifest {
                    id,
                    value: v.clone(),
                })
            })
            .collect();
        (manifests, doc["destroy"] == true)
    }
}

fn address(id: &ObjectRef) -> String {
    match &id.namespace {
        Some(ns) => format!("{}/{ns}/{}", id.kind, id.name),
        None => format!("{}/{}", id.kind, id.name),
    }
}

impl StageDriver for ClusterDriver {
    fn inputs(&self, cx: &Cx, write: bool) -> Result<Inputs> {
        let files = self.rendered(cx)?;
        if write {
            render::write(&files, &cx.ws.state_dir)?;
        }
        let named: Vec<(String, &[u8])> = files
            .iter()
            .map(|f| (f.path.display().to_string(), f.contents.as_bytes()))
            .collect();
        let named: Vec<(&str, &[u8])> = named.iter().map(|(n, b)| (n.as_str(), *b)).collect();
        let hash = record::inputs_hash(&named, &cx.ws.renderer.root().join("charts/platform"))?;
        let waits: Vec<String> = files
            .iter()
            .flat_map(|f| source::pending_markers(&f.contents))
            .collect();
        let blocked = (!waits.is_empty()).then(|| Blocked {
            message: format!(
                "cannot plan {}: it waits on {}, not applied yet",
                cx.target.label(),
                waits.join(", ")
            ),
            hint: "apply the foundation and app stages first (`ecomctl up` runs them in order)"
                .into(),
        });
        Ok(Inputs { hash, blocked })
    }

    fn state_home(&self, _cx: &Cx) -> Result<StateHome> {
        Ok(StateHome::None)
    }

    fn plan(&self, cx: &Cx, _inputs: &Inputs, destroy: bool) -> Result<Planned> {
        let t = cx.target;
        let helm = self
            .helm
            .clone()
            .ok_or(crate::tools::helm::HelmError::Missing)?;
        let rt = Self::rt()?;
        let (manifests, synced) = if destroy {
            (Vec::new(), Vec::new())
        } else {
            let cache = ReleaseCache::under(&cx.ws.state_dir);
            let fetched = rt
                .block_on(addons::fetch(&cx.ws.loaded.config, cx.env, &cache))
                .map_err(|e| {
                    let mut exit = Exit::new(FAILURE, format!("cannot plan {}: {e}", t.label()));
                    if let Some(h) = e.hint() {
                        exit = exit.hint(h);
                    }
                    anyhow::Error::new(exit)
                })?;
            let manifests = stage::manifests(
                &cx.ws.loaded,
                &cx.ws.renderer,
                &cx.ws.render_opts(cx.env, t.stage),
                &helm,
                cx.dir.path(),
                &fetched,
            )
            .map_err(|e| {
                let hint = e.hint();
                let err = anyhow::Error::new(e);
                match hint {
                    Some(h) => err
                        .context(Exit::new(FAILURE, format!("cannot plan {}", t.label())).hint(h)),
                    None => err.context(format!("building the manifests of {}", t.label())),
                }
            })?;
            let synced = secrets::wanted(&cx.ws.state_dir, cx.env, source::RELEASE_NAMESPACE);
            (manifests, synced)
        };
        let verdicts = if destroy {
            None
        } else {
            self.provenance(cx, &rt, &manifests)?
        };
        let p = rt.block_on(async {
            let mut conn = self.connect(cx).await?;
            let cluster = conn.cluster().await?;
            let mut synced_changes = Vec::new();
            if !synced.is_empty() {
                let src = SecretSource::new(&self.sdk(cx).await);
                for s in &synced {
                    synced_changes.push(src.plan(cluster, s).await.map_err(|e| match e {
                        secrets::PlanError::Cluster(c) => c,
                        secrets::PlanError::Secret(e) => ClusterError::Sync(e.to_string()),
                    })?);
                }
            }
            plan::plan(
                cluster,
                cx.env,
                &manifests,
                &synced_changes,
                self.force_conflicts,
            )
            .await
        });
        let p = p.map_err(|e| {
            let hint = e.hint();
            let mut exit = Exit::new(FAILURE, format!("planning {}: {e}", t.label()));
            if let Some(h) = hint {
                exit = exit.hint(h);
            }
            anyhow::Error::new(exit)
        })?;
        let changes: Vec<Value> = p
            .changes
            .iter()
            .map(|c| {
                let action = match c.action {
                    Action::Create => "create",
                    Action::Update => "update",
                    Action::Delete => "delete",
                    Action::Unchanged => "no-op",
                };
                json!({"address": address(&c.object), "type": c.object.kind,
                    "change": {"actions": [action], "fields": c.fields}})
            })
            .collect();
        let document = json!({
            "format_version": "ecomctl-cluster-1",
            "destroy": destroy,
            "revision": p.revision,
            "resource_changes": changes,
            "manifests": manifests.iter().map(|m| &m.value).collect::<Vec<_>>(),
            "synced_secrets": synced,
            "images": verdicts,
        });
        let bytes = serde_json::to_vec(&document)?;
        record::write_atomic(&cx.dir.plan_file(), &bytes)?;
        record::restrict(&cx.dir.plan_file())?;
        Ok(Planned {
            summary: PlanSummary::from_plan(&document),
            document,
            plan_hash: record::sha256_hex(&bytes),
        })
    }

    fn apply(&self, cx: &Cx, _plan: &PlanOutcome) -> Result<()> {
        let t = cx.target;
        let doc = Self::saved_plan(cx)?;
        let (mut manifests, _) = Self::saved_manifests(&doc);
        let synced = Self::saved_synced(cx, &doc)?;
        let mut opts = ApplyOptions {
            force_conflicts: self.force_conflicts,
            ..ApplyOptions::default()
        };
        opts.watch.timeout = self.timeout;
        let rt = Self::rt()?;
        let result = rt.block_on(async {
            let mut conn = self.connect(cx).await?;
            let cluster = conn.cluster().await?;
            if !synced.is_empty() {
                let src = SecretSource::new(&self.sdk(cx).await);
                for s in &synced {
                    let m = src
                        .manifest(s)
                        .await
                        .with_context(|| format!("syncing {} for {}", s.id(), t.label()))?;
                    manifests.push(m);
                }
                crate::cluster::manifest::sort(&mut manifests);
            }
            let mut on_status = |s: &crate::cluster::watch::WorkloadStatus| {
                cx.ui.detail(&format!(
                    "{}: {}: {}/{} updated, {} ready, {} available{}",
                    t.label(),
                    s.workload,
                    s.updated,
                    s.desired,
                    s.ready,
                    s.available,
                    if s.done { " (done)" } else { "" }
                ));
            };
            Ok::<_, anyhow::Error>(
                apply::release(cluster, cx.env, &manifests, &[], &opts, &mut on_status).await,
            )
        })?;
        match result {
            Ok(r) => {
                cx.ui.detail(&format!(
                    "{}: revision {} ({} objects, {} pruned)",
                    t.label(),
                    r.revision,
                    r.applied,
                    r.pruned.len()
                ));
                Ok(())
            }
            Err(ApplyError::Rollout {
                failure,
                revision,
                rolled_back_to,
            }) => {
                let again = rolled_back_to
                    .map(|n| format!("; revision {n} was re-applied (atomic)"))
                    .unwrap_or_default();
                Err(Exit::new(
                    FAILURE,
                    format!("{}: revision {revision}: {failure}{again}", t.label()),
                )
                .into())
            }
            Err(ApplyError::Cluster(e)) => {
                let mut exit = Exit::new(FAILURE, format!("applying {}: {e}", t.label()));
                if let Some(h) = e.hint() {
                    exit = exit.hint(h);
                }
                Err(exit.into())
            }
        }
    }

    fn destroy(&self, cx: &Cx, _plan: &PlanOutcome) -> Result<()> {
        let rt = Self::rt()?;
        rt.block_on(async {
            let mut conn = self.connect(cx).await?;
            let cluster = conn.cluster().await?;
            apply::remove(cluster, cx.env).await?;
            Ok(())
        })
    }

    fn outputs(&self, cx: &Cx) -> Result<Value> {
        let rt = Self::rt()?;
        let inv = rt.block_on(async {
            let mut conn = self.connect(cx).await?;
            let cluster = conn.cluster().await?;
            Ok::<_, anyhow::Error>(plan::load_inventory(cluster, cx.env).await?)
        })?;
        let revision = inv.current().map(|r| r.revision).unwrap_or(0);
        // The images the current revision runs (what `ecomctl deploy` records as deployed).
        let images: Vec<String> = inv
            .current()
            .map(|r| provenance::images(&r.manifests(), source::RELEASE_NAMESPACE))
            .unwrap_or_default()
            .into_iter()
            .map(|p| p.image)
            .collect();
        Ok(json!({
            "release_revision": {"value": revision, "type": "number", "sensitive": false},
            "release_images": {"value": images, "type": ["list", "string"], "sensitive": false},
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn driver(access: ClusterAccess, kubeconfig: bool) -> ClusterDriver {
        ClusterDriver {
            helm: None,
            flags: stage::ConnectFlags {
                kubeconfig: kubeconfig.then(|| PathBuf::from("kubeconfig")),
                ..Default::default()
            },
            access,
            force_conflicts: false,
            timeout: Duration::from_secs(1),
        }
    }

    #[test]
    fn the_walk_reaches_the_cluster_by_kubeconfig_or_by_the_foundation_outputs() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path();
        let no = |d: ClusterDriver| d.reachable(state, "nonprod").unwrap_err();
        assert_eq!(
            no(driver(ClusterAccess::Off, true)),
            crate::stages::CLUSTER_OFF
        );
        assert_eq!(
            no(driver(ClusterAccess::Kubeconfig, false)),
            crate::stages::CLUSTER_NEEDS_KUBECONFIG
        );
        assert_eq!(
            no(driver(ClusterAccess::Auto, false)),
            crate::stages::CLUSTER_NOT_YET
        );
        assert!(driver(ClusterAccess::Kubeconfig, true)
            .reachable(state, "nonprod")
            .is_ok());
        let f = state.join("nonprod/foundation");
        std::fs::create_dir_all(&f).unwrap();
        std::fs::write(
            f.join("outputs.json"),
            r#"{"cluster_name": {"value": "shop-nonprod"},
                "cluster_endpoint": {"value": "https://x.eks.amazonaws.com"},
                "cluster_certificate_authority_data": {"value": "Zm9v"}}"#,
        )
        .unwrap();
        assert!(driver(ClusterAccess::Auto, false)
            .reachable(state, "nonprod")
            .is_ok());
        assert_eq!(
            no(driver(ClusterAccess::Kubeconfig, false)),
            crate::stages::CLUSTER_NEEDS_KUBECONFIG
        );
    }
}
