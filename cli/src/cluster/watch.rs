//! Watching rollouts: a live status per workload, done only when the controller has seen the
//! newest spec and every replica is updated and available; a failure is reported as soon as a
//! pod shows it, with the workload, the pod, the reason, and what helps to fix it (exit code
//! and last log lines of a crashing container, the scheduler's message, recent events).

use super::manifest::{Manifest, ObjectRef};
use super::{Cluster, ClusterError};
use kube::api::{Api, ListParams, LogParams};
use serde_json::Value;
use std::fmt;
use std::time::{Duration, Instant};

#[derive(Debug, Clone)]
pub struct WatchOptions {
    pub timeout: Duration,
    pub poll: Duration,
    /// An init container running longer than this is stuck.
    pub init_limit: Duration,
    /// Log lines shown for a crashing container.
    pub log_lines: i64,
}

impl Default for WatchOptions {
    fn default() -> Self {
        WatchOptions {
            timeout: Duration::from_secs(600),
            poll: Duration::from_millis(500),
            init_limit: Duration::from_secs(300),
            log_lines: 20,
        }
    }
}

/// One workload's progress (the live line).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct WorkloadStatus {
    pub workload: String,
    pub desired: i64,
    pub updated: i64,
    pub ready: i64,
    pub available: i64,
    pub done: bool,
}

/// Why a rollout failed, with what the user needs to fix it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct RolloutFailure {
    pub workload: String,
    pub pod: Option<String>,
    pub reason: String,
    pub message: String,
    pub exit_code: Option<i64>,
    pub logs: Vec<String>,
    pub events: Vec<String>,
}

impl fmt::Display for RolloutFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} failed to roll out", self.workload)?;
        if let Some(p) = &self.pod {
            write!(f, ": pod {p}")?;
        }
        write!(f, ": {}", self.reason)?;
        if !self.message.is_empty() {
            write!(f, ": {}", self.message)?;
        }
        if let Some(c) = self.exit_code {
            write!(f, " (exit code {c})")?;
        }
        if !self.logs.is_empty() {
            write!(f, "\nlast log lines:")?;
            for l in &self.logs {
                write!(f, "\n  {l}")?;
            }
        }
        if !self.events.is_empty() {
            write!(f, "\nrecent events:")?;
            for e in &self.events {
                write!(f, "\n  {e}")?;
            }
        }
        Ok(())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum WatchError {
    #[error(transparent)]
    Cluster(#[from] ClusterError),
    #[error("{0}")]
    Failed(RolloutFailure),
}

const FATAL_WAITING: &[&str] = &[
    "ImagePullBackOff",
    "ErrImagePull",
    "CrashLoopBackOff",
    "CreateContainerConfigError",
    "CreateContainerError",
    "InvalidImageName",
    "RunContainerError",
];

fn int(v: &Value) -> i64 {
    v.as_i64().unwrap_or(0)
}

/// The progress of a Deployment or StatefulSet from its live object.
pub fn status_of(workload: &str, obj: &Value) -> WorkloadStatus {
    let spec = &obj["spec"];
    let st = &obj["status"];
    let desired = spec["replicas"].as_i64().unwrap_or(1);
    let observed = int(&st["observedGeneration"]) >= int(&obj["metadata"]["generation"]);
    let updated = int(&st["updatedReplicas"]);
    let ready = int(&st["readyReplicas"]);
    let available = if obj["kind"] == "StatefulSet" {
        st["availableReplicas"].as_i64().unwrap_or(ready)
    } else {
        int(&st["availableReplicas"])
    };
    let done = if obj["kind"] == "StatefulSet" {
        // Pods below the partition keep the old revision by design.
        let partition = int(&spec["updateStrategy"]["rollingUpdate"]["partition"]);
        let revisions_match = partition > 0 || st["currentRevision"] == st["updateRevision"];
        observed && updated >= desired - partition && ready >= desired && revisions_match
    } else {
        observed && updated >= desired && available >= desired && int(&st["replicas"]) <= desired
    };
    WorkloadStatus {
        workload: workload.into(),
        desired,
        updated,
        ready,
        available,
        done,
    }
}

/// The first fatal condition of a pod, as (reason, message, container, exit code).
pub fn pod_problem(
    pod: &Value,
    now: Instant,
    first_seen: Instant,
    init_limit: Duration,
) -> Option<(String, String, Option<String>, Option<i64>)> {
    let st = &pod["status"];
    for key in ["initContainerStatuses", "containerStatuses"] {
        for c in st[key].as_array().into_iter().flatten() {
            let name = c["name"].as_str().map(String::from);
            let waiting = &c["state"]["waiting"];
            if let Some(reason) = waiting["reason"]
                .as_str()
                .filter(|r| FATAL_WAITING.contains(r))
            {
                let exit = c["lastState"]["terminated"]["exitCode"].as_i64();
                let msg = waiting["message"].as_str().unwrap_or_default().to_string();
                let what = if key == "initContainerStatuses" {
                    format!("init container {}", name.clone().unwrap_or_default())
                } else {
                    format!("container {}", name.clone().unwrap_or_default())
                };
                let msg = if msg.is_empty() {
                    what
                } else {
                    format!("{what}: {msg}")
                };
                return Some((reason.into(), msg, name, exit));
            }
            if key == "initContainerStatuses"
                && c["state"]["running"].is_object()
                && now.duration_since(first_seen) > init_limit
            {
                return Some((
                    "InitContainerStuck".into(),
                    format!(
                        "init container {} has been running for more than {} s",
                        name.clone().unwrap_or_default(),
                        init_limit.as_secs()
                    ),
                    name,
                    None,
                ));
            }
        }
    }
    for cond in st["conditions"].as_array().into_iter().flatten() {
        if cond["type"] == "PodScheduled"
            && cond["status"] == "False"
            && cond["reason"] == "Unschedulable"
        {
            return Some((
                "Unschedulable".into(),
                cond["message"].as_str().unwrap_or_default().into(),
                None,
                None,
            ));
        }
    }
    None
}

async fn events_of(cluster: &Cluster, ns: &str, kind: &str, name: &str) -> Vec<String> {
    let api: Api<k8s_openapi::api::core::v1::Event> = Api::namespaced(cluster.client.clone(), ns);
    let lp = ListParams::default().fields(&format!(
        "involvedObject.kind={kind},involvedObject.name={name}"
    ));
    let mut events = api.list(&lp).await.map(|l| l.items).unwrap_or_default();
    events.sort_by_key(|e| e.last_timestamp.clone().map(|t| t.0));
    events
        .iter()
        .rev()
        .take(5)
        .rev()
        .map(|e| {
            format!(
                "{} {}: {}",
                e.type_.clone().unwrap_or_default(),
                e.reason.clone().unwrap_or_default(),
                e.message.clone().unwrap_or_default()
            )
        })
        .collect()
}

/// A Pending PVC of the pod that has a warning event (provisioning failed), as (pvc, message).
async fn pending_pvc(cluster: &Cluster, ns: &str, pod: &Value) -> Option<(String, Vec<String>)> {
    if pod["status"]["phase"] != "Pending" {
        return None;
    }
    let api: Api<k8s_openapi::api::core::v1::PersistentVolumeClaim> =
        Api::namespaced(cluster.client.clone(), ns);
    for v in pod["spec"]["volumes"].as_array().into_iter().flatten() {
        let Some(claim) = v["persistentVolumeClaim"]["claimName"].as_str() else {
            continue;
        };
        let Ok(Some(pvc)) = api.get_opt(claim).await else {
            continue;
        };
        if pvc.status.and_then(|s| s.phase).as_deref() == Some("Pending") {
            let events = events_of(cluster, ns, "PersistentVolumeClaim", claim).await;
            if events.iter().any(|e| e.starts_with("Warning")) {
                return Some((claim.to_string(), events));
            }
        }
    }
    None
}

async fn check_pods(
    cluster: &Cluster,
    w: &Manifest,
    first_seen: Instant,
    opts: &WatchOptions,
) -> Result<Option<RolloutFailure>, ClusterError> {
    let ns = w.id.namespace.clone().unwrap_or_else(|| "default".into());
    let labels = w.value["spec"]["selector"]["matchLabels"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    let selector = labels
        .iter()
        .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default()))
        .collect::<Vec<_>>()
        .join(",");
    let pods: Api<k8s_openapi::api::core::v1::Pod> = Api::namespaced(cluster.client.clone(), &ns);
    let list = pods
        .list(&ListParams::default().labels(&selector))
        .await
        .map_err(|e| ClusterError::Api {
            action: "listing pods of",
            object: w.id.to_string(),
            message: e.to_string(),
        })?;
    let workload = format!("{}/{}", w.id.kind, w.id.name);
    for pod in list.items {
        let name = pod.metadata.name.clone().unwrap_or_default();
        let v = serde_json::to_value(&pod).unwrap_or(Value::Null);
        if let Some((reason, message, container, exit_code)) =
            pod_problem(&v, Instant::now(), first_seen, opts.init_limit)
        {
            let mut logs = Vec::new();
            if reason == "CrashLoopBackOff" {
                let lp = LogParams {
                    container,
                    tail_lines: Some(opts.log_lines),
                    previous: true,
                    ..LogParams::default()
                };
                if let Ok(text) = pods.logs(&name, &lp).await {
                    logs = text.lines().map(String::from).collect();
                }
            }
            let events = events_of(cluster, &ns, "Pod", &name).await;
            return Ok(Some(RolloutFailure {
                workload,
                pod: Some(name),
                reason,
                message,
                exit_code,
                logs,
                events,
            }));
        }
        if let Some((pvc, events)) = pending_pvc(cluster, &ns, &v).await {
            return Ok(Some(RolloutFailure {
                workload,
                pod: Some(name),
                reason: "PersistentVolumeClaimPending".into(),
                message: format!("PVC {pvc} is Pending"),
                exit_code: None,
                logs: Vec::new(),
                events,
            }));
        }
    }
    Ok(None)
}

fn workloads(manifests: &[Manifest]) -> Vec<&Manifest> {
    manifests
        .iter()
        .filter(|m| matches!(m.id.kind.as_str(), "Deployment" | "StatefulSet"))
        .collect()
}

/// Watches every Deployment and StatefulSet in `manifests` until all are rolled out, one fails,
/// or the timeout passes.
pub async fn rollouts(
    cluster: &Cluster,
    manifests: &[Manifest],
    opts: &WatchOptions,
    on_status: &mut dyn FnMut(&WorkloadStatus),
) -> Result<(), WatchError> {
    let started = Instant::now();
    let mut pending: Vec<&Manifest> = workloads(manifests);
    let mut last: Vec<(ObjectRef, WorkloadStatus)> = Vec::new();
    while !pending.is_empty() {
        let mut still = Vec::new();
        for w in pending {
            let live = cluster.get(&w.id).await?.unwrap_or(Value::Null);
            let status = status_of(&format!("{}/{}", w.id.kind, w.id.name), &live);
            if !last.iter().any(|(id, s)| id == &w.id && s == &status) {
                on_status(&status);
                last.retain(|(id, _)| id != &w.id);
                last.push((w.id.clone(), status.clone()));
            }
            if status.done {
                continue;
            }
            if let Some(f) = check_pods(cluster, w, started, opts).await? {
                return Err(WatchError::Failed(f));
            }
            still.push(w);
        }
        pending = still;
        if pending.is_empty() {
            break;
        }
        if started.elapsed() > opts.timeout {
            let names: Vec<String> = pending.iter().map(|w| w.id.to_string()).collect();
            return Err(WatchError::Failed(RolloutFailure {
                workload: names.join(", "),
                pod: None,
                reason: "Timeout".into(),
                message: format!(
                    "not rolled out after {} s (no pod reported a failure)",
                    opts.timeout.as_secs()
                ),
                exit_code: None,
                logs: Vec::new(),
                events: Vec::new(),
            }));
        }
        tokio::time::sleep(opts.poll).await;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn done_needs_the_newest_generation_observed_and_all_replicas_updated_and_available() {
        let mut d = json!({"kind": "Deployment", "metadata": {"generation": 3}, "spec": {"replicas": 2},
            "status": {"observedGeneration": 2, "replicas": 2, "updatedReplicas": 2, "availableReplicas": 2}});
        assert!(!status_of("d", &d).done, "old generation");
        d["status"]["observedGeneration"] = json!(3);
        assert!(status_of("d", &d).done);
        d["status"]["replicas"] = json!(3);
        assert!(!status_of("d", &d).done, "an old pod is still there");
        let s = json!({"kind": "StatefulSet", "metadata": {"generation": 1},
            "spec": {"replicas": 3, "updateStrategy": {"rollingUpdate": {"partition": 2}}},
            "status": {"observedGeneration": 1, "updatedReplicas": 1, "readyReplicas": 3,
                "currentRevision": "a", "updateRevision": "b"}});
        assert!(
            status_of("s", &s).done,
            "partition 2 of 3: one pod updated is done"
        );
    }

    #[test]
    fn stuck_init_container_and_unschedulable_are_problems() {
        let t0 = Instant::now();
        let init = json!({"status": {"initContainerStatuses": [{"name": "migrate", "state": {"running": {}}}]}});
        assert!(pod_problem(&init, t0, t0, Duration::from_secs(1)).is_none());
        let later = t0 + Duration::from_secs(5);
        assert_eq!(
            pod_problem(&init, later, t0, Duration::from_secs(1))
                .unwrap()
                .0,
            "InitContainerStuck"
        );
        let uns = json!({"status": {"conditions": [{"type": "PodScheduled", "status": "False", "reason": "Unschedulable", "message": "0/3 nodes are available"}]}});
        let p = pod_problem(&uns, t0, t0, Duration::from_secs(1)).unwrap();
        assert_eq!(
            (p.0.as_str(), p.1.as_str()),
            ("Unschedulable", "0/3 nodes are available")
        );
    }
}
