//! Apply, prune, rollback and removal of a release, recorded in its inventory.

use super::inventory::{Inventory, RevisionStatus};
use super::manifest::{Manifest, ObjectRef};
use super::plan::load_inventory;
use super::watch::{self, RolloutFailure, WatchOptions, WorkloadStatus};
use super::{Cluster, ClusterError};
use std::time::{Duration, Instant};

/// How an apply goes.
pub struct ApplyOptions {
    /// Take fields other managers own (`--force-conflicts`).
    pub force_conflicts: bool,
    pub watch: WatchOptions,
    /// `apply`, `rollback to 3`, ...
    pub description: String,
    /// How long to wait for a CRD to be established.
    pub crd_timeout: Duration,
}

impl Default for ApplyOptions {
    fn default() -> Self {
        ApplyOptions {
            force_conflicts: false,
            watch: WatchOptions::default(),
            description: "apply".into(),
            crd_timeout: Duration::from_secs(60),
        }
    }
}

/// What happened.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ApplyReport {
    pub revision: u32,
    pub applied: usize,
    pub pruned: Vec<ObjectRef>,
    /// The revision re-applied after a failed rollout (atomic).
    pub rolled_back_to: Option<u32>,
}

#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    #[error(transparent)]
    Cluster(#[from] ClusterError),
    #[error("{failure}")]
    Rollout {
        failure: RolloutFailure,
        revision: u32,
        /// The revision re-applied, if there was one to go back to.
        rolled_back_to: Option<u32>,
    },
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

async fn save(cluster: &Cluster, inv: &Inventory) -> Result<(), ClusterError> {
    let m = super::manifest::parse("inventory", &inv.to_object().to_string(), None)?;
    cluster.apply(&m[0], true, false).await.map(|_| ())
}

async fn wait_established(
    cluster: &Cluster,
    id: &ObjectRef,
    timeout: Duration,
) -> Result<(), ClusterError> {
    let started = Instant::now();
    loop {
        if let Some(crd) = cluster.get(id).await? {
            let established = crd["status"]["conditions"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|c| c["type"] == "Established" && c["status"] == "True");
            if established {
                return Ok(());
            }
        }
        if started.elapsed() > timeout {
            return Err(ClusterError::Timeout {
                secs: timeout.as_secs(),
                what: format!("{id} to be established"),
            });
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Applies manifests (already in apply order), phase by phase; CRDs are waited for before
/// anything that may use them.
pub async fn apply_all(
    cluster: &Cluster,
    manifests: &[Manifest],
    force: bool,
    crd_timeout: Duration,
) -> Result<usize, ClusterError> {
    let mut crds = Vec::new();
    for m in manifests {
        if m.id.phase() > 0 && !crds.is_empty() {
            for id in crds.drain(..) {
                wait_established(cluster, &id, crd_timeout).await?;
            }
            cluster.forget_kinds();
        }
        cluster.apply(m, force, false).await?;
        if m.id.kind == "CustomResourceDefinition" {
            crds.push(m.id.clone());
        }
    }
    for id in crds {
        wait_established(cluster, &id, crd_timeout).await?;
    }
    Ok(manifests.len())
}

/// Deletes what `old` had and neither `keep` nor `retained` has, in reverse apply order.
async fn prune(
    cluster: &Cluster,
    old: &[ObjectRef],
    keep: &[Manifest],
    retained: &[ObjectRef],
) -> Result<Vec<ObjectRef>, ClusterError> {
    let mut gone: Vec<ObjectRef> = old
        .iter()
        .filter(|id| !keep.iter().any(|m| &m.id == *id) && !retained.contains(id))
        .cloned()
        .collect();
    gone.sort_by(|a, b| (b.phase(), b).cmp(&(a.phase(), a)));
    for id in &gone {
        cluster.delete(id).await?;
    }
    Ok(gone)
}

/// Applies a release: records a pending revision, applies, prunes, watches every rollout. A
/// failed rollout re-applies the previous revision and is reported as failed. `retained` are
/// objects the release keeps without applying them now (synced Secrets on a rollback).
pub async fn release(
    cluster: &Cluster,
    release: &str,
    manifests: &[Manifest],
    retained: &[ObjectRef],
    opts: &ApplyOptions,
    on_status: &mut dyn FnMut(&WorkloadStatus),
) -> Result<ApplyReport, ApplyError> {
    let mut inv = load_inventory(cluster, release).await?;
    let previous = inv.current().cloned();
    let n = inv.push(&opts.description, manifests, retained, unix_now());
    save(cluster, &inv).await?;
    let applied = apply_all(cluster, manifests, opts.force_conflicts, opts.crd_timeout).await?;
    let pruned = match &previous {
        Some(p) => prune(cluster, &p.objects, manifests, retained).await?,
        None => Vec::new(),
    };
    match watch::rollouts(cluster, manifests, &opts.watch, on_status).await {
        Ok(()) => {
            inv.set_status(n, RevisionStatus::Deployed);
            save(cluster, &inv).await?;
            Ok(ApplyReport {
                revision: n,
                applied,
                pruned,
                rolled_back_to: None,
            })
        }
        Err(watch::WatchError::Cluster(e)) => Err(e.into()),
        Err(watch::WatchError::Failed(failure)) => {
            inv.set_status(n, RevisionStatus::Failed);
            let mut rolled_back_to = None;
            if let Some(p) = &previous {
                let back = p.manifests();
                apply_all(cluster, &back, true, opts.crd_timeout).await?;
                prune(
                    cluster,
                    &inv.get(n).map(|r| r.objects.clone()).unwrap_or_default(),
                    &back,
                    &p.unstored(),
                )
                .await?;
                inv.set_status(p.revision, RevisionStatus::Deployed);
                rolled_back_to = Some(p.revision);
            }
            save(cluster, &inv).await?;
            Err(ApplyError::Rollout {
                failure,
                revision: n,
                rolled_back_to,
            })
        }
    }
}

/// Re-applies revision `to` (default: the one before the current) as a new revision.
pub async fn rollback(
    cluster: &Cluster,
    release_name: &str,
    to: Option<u32>,
    opts: &ApplyOptions,
    on_status: &mut dyn FnMut(&WorkloadStatus),
) -> Result<ApplyReport, ApplyError> {
    let inv = load_inventory(cluster, release_name).await?;
    let known = || {
        inv.revisions
            .iter()
            .map(|r| r.revision.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let target = match to {
        Some(n) => inv.get(n).ok_or_else(|| {
            ClusterError::Inventory(format!(
                "release {release_name} has no revision {n} (kept: {})",
                known()
            ))
        })?,
        None => inv.previous().ok_or_else(|| {
            ClusterError::Inventory(format!(
                "release {release_name} has no earlier revision to roll back to (kept: {})",
                known()
            ))
        })?,
    };
    let manifests = target.manifests();
    let opts = ApplyOptions {
        force_conflicts: opts.force_conflicts,
        watch: opts.watch.clone(),
        description: format!("rollback to {}", target.revision),
        crd_timeout: opts.crd_timeout,
    };
    release(
        cluster,
        release_name,
        &manifests,
        &target.unstored(),
        &opts,
        on_status,
    )
    .await
}

/// Removes everything the current revision applied (reverse order) and the inventory.
pub async fn remove(cluster: &Cluster, release_name: &str) -> Result<Vec<ObjectRef>, ClusterError> {
    let inv = load_inventory(cluster, release_name).await?;
    let objects: Vec<ObjectRef> = inv
        .revisions
        .iter()
        .flat_map(|r| r.objects.clone())
        .collect();
    let mut unique: Vec<ObjectRef> = Vec::new();
    for id in objects {
        if !unique.contains(&id) {
            unique.push(id);
        }
    }
    let removed = prune(cluster, &unique, &[], &[]).await?;
    let inv_id = ObjectRef {
        api_version: "v1".into(),
        kind: "ConfigMap".into(),
        namespace: Some(super::inventory::NAMESPACE.into()),
        name: super::inventory::object_name(release_name),
    };
    cluster.delete(&inv_id).await?;
    Ok(removed)
}
