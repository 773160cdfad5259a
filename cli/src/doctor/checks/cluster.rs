//! The running cluster, when reachable: PSS labels on every namespace, default-deny
//! NetworkPolicies and an engine that enforces them, PDBs, non-root pods, images from the env's
//! registry by digest, no automounted service account tokens.
//!
//! The decisions are plain functions over a [`Snapshot`] of k8s-openapi objects; [`ClusterView`]
//! is the seam: [`KubeView`] lists them with kube-rs from the current kubeconfig context, tests
//! hand in objects. Image signatures are not verified here (no cosign on these machines).

use super::super::catalogue::Group;
use super::super::context::Context;
use super::super::model::{Evidence, GroupRun, Outcome};
use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, StatefulSet};
use k8s_openapi::api::core::v1::{Namespace, Pod, PodSpec, ServiceAccount};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use serde::Serialize;
use std::collections::BTreeMap;

/// Everything the checks read, listed once.
#[derive(Debug, Default, Clone, Serialize)]
pub struct Snapshot {
    pub namespaces: Vec<Namespace>,
    pub pods: Vec<Pod>,
    pub network_policies: Vec<NetworkPolicy>,
    pub pdbs: Vec<PodDisruptionBudget>,
    pub deployments: Vec<Deployment>,
    pub statefulsets: Vec<StatefulSet>,
    pub daemonsets: Vec<DaemonSet>,
    pub service_accounts: Vec<ServiceAccount>,
}

/// Where the objects come from.
pub trait ClusterView {
    fn snapshot(&self) -> Result<Snapshot, String>;
}

/// What the environment expects of its cluster.
#[derive(Debug, Clone)]
pub struct Expect {
    /// Image references must start with this (`<account>.dkr.ecr.<region>.amazonaws.com/`).
    pub registry: String,
}

const SYSTEM: [&str; 7] = [
    "kube-system",
    "kube-public",
    "kube-node-lease",
    "calico-system",
    "calico-apiserver",
    "tigera-operator",
    "amazon-cloudwatch",
];

/// Namespaces the platform's workloads live in (everything but the system ones).
pub fn is_app_namespace(ns: &str) -> bool {
    !SYSTEM.contains(&ns) && !ns.starts_with("kube-")
}

fn name_of(meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta) -> (String, String) {
    (
        meta.namespace.clone().unwrap_or_default(),
        meta.name.clone().unwrap_or_default(),
    )
}

/// One fail per offender, or one pass naming how many were looked at.
fn outcomes(
    id: &str,
    looked_at: usize,
    what: &str,
    failures: Vec<(String, String)>,
) -> Vec<Outcome> {
    if failures.is_empty() {
        return vec![Outcome::pass(
            id,
            "cluster",
            format!("{looked_at} {what} checked"),
        )];
    }
    failures
        .into_iter()
        .map(|(res, msg)| Outcome::fail(id, res, msg))
        .collect()
}

pub fn pss_labels(s: &Snapshot) -> Vec<Outcome> {
    let bad = s
        .namespaces
        .iter()
        .filter_map(|ns| {
            let (_, name) = name_of(&ns.metadata);
            let labels = ns.metadata.labels.clone().unwrap_or_default();
            match labels.get("pod-security.kubernetes.io/enforce") {
                Some(_) => None,
                None => Some((
                    format!("Namespace/{name}"),
                    "no pod-security.kubernetes.io/enforce label".to_string(),
                )),
            }
        })
        .collect();
    outcomes("ECOM-DOC-CL-001", s.namespaces.len(), "namespaces", bad)
}

fn is_default_deny(np: &NetworkPolicy) -> bool {
    let Some(spec) = &np.spec else { return false };
    let selects_all = spec
        .pod_selector
        .match_labels
        .as_ref()
        .is_none_or(BTreeMap::is_empty)
        && spec
            .pod_selector
            .match_expressions
            .as_ref()
            .is_none_or(Vec::is_empty);
    let types = spec.policy_types.clone().unwrap_or_default();
    let ingress =
        types.iter().any(|t| t == "Ingress") && spec.ingress.as_ref().is_none_or(Vec::is_empty);
    let egress =
        types.iter().any(|t| t == "Egress") && spec.egress.as_ref().is_none_or(Vec::is_empty);
    selects_all && ingress && egress
}

pub fn default_deny(s: &Snapshot) -> Vec<Outcome> {
    let apps: Vec<String> = s
        .namespaces
        .iter()
        .filter_map(|n| n.metadata.name.clone())
        .filter(|n| is_app_namespace(n))
        .collect();
    let bad = apps
        .iter()
        .filter(|ns| {
            !s.network_policies.iter().any(|np| {
                np.metadata.namespace.as_deref() == Some(ns.as_str()) && is_default_deny(np)
            })
        })
        .map(|ns| {
            (
                format!("Namespace/{ns}"),
                "no default-deny NetworkPolicy (empty podSelector, Ingress and Egress, no rules)"
                    .to_string(),
            )
        })
        .collect();
    outcomes("ECOM-DOC-CL-002", apps.len(), "application namespaces", bad)
}

pub fn policy_engine(s: &Snapshot) -> Vec<Outcome> {
    let engine = s.daemonsets.iter().find(|ds| {
        let name = ds.metadata.name.clone().unwrap_or_default();
        let containers = ds
            .spec
            .as_ref()
            .and_then(|sp| sp.template.spec.as_ref())
            .map(|p| p.containers.clone())
            .unwrap_or_default();
        let ready = ds.status.as_ref().is_some_and(|st| st.number_ready > 0);
        ready
            && (name == "calico-node"
                || name == "cilium"
                || containers
                    .iter()
                    .any(|c| c.name == "aws-network-policy-agent"))
    });
    vec![match engine {
        Some(ds) => {
            let (ns, name) = name_of(&ds.metadata);
            Outcome::pass(
                "ECOM-DOC-CL-003",
                format!("DaemonSet/{ns}/{name}"),
                "a network policy engine is running",
            )
        }
        None => Outcome::fail(
            "ECOM-DOC-CL-003",
            "cluster",
            "no ready calico-node, cilium or aws-network-policy-agent DaemonSet",
        ),
    }]
}

pub fn pdbs(s: &Snapshot) -> Vec<Outcome> {
    let mut workloads: Vec<(String, String, i32, BTreeMap<String, String>)> = Vec::new();
    for d in &s.deployments {
        let (ns, name) = name_of(&d.metadata);
        let sp = d.spec.clone().unwrap_or_default();
        let labels = sp
            .template
            .metadata
            .and_then(|m| m.labels)
            .unwrap_or_default();
        workloads.push((
            format!("Deployment/{ns}/{name}"),
            ns,
            sp.replicas.unwrap_or(1),
            labels,
        ));
    }
    for st in &s.statefulsets {
        let (ns, name) = name_of(&st.metadata);
        let sp = st.spec.clone().unwrap_or_default();
        let labels = sp
            .template
            .metadata
            .and_then(|m| m.labels)
            .unwrap_or_default();
        workloads.push((
            format!("StatefulSet/{ns}/{name}"),
            ns,
            sp.replicas.unwrap_or(1),
            labels,
        ));
    }
    let replicated: Vec<_> = workloads
        .into_iter()
        .filter(|w| w.2 > 1 && is_app_namespace(&w.1))
        .collect();
    let bad = replicated
        .iter()
        .filter(|(_, ns, _, labels)| {
            !s.pdbs.iter().any(|p| {
                p.metadata.namespace.as_deref() == Some(ns.as_str())
                    && p.spec
                        .as_ref()
                        .and_then(|sp| sp.selector.as_ref())
                        .and_then(|sel| sel.match_labels.as_ref())
                        .is_some_and(|m| {
                            !m.is_empty() && m.iter().all(|(k, v)| labels.get(k) == Some(v))
                        })
            })
        })
        .map(|(res, _, n, _)| {
            (
                res.clone(),
                format!("{n} replicas and no PodDisruptionBudget selects them"),
            )
        })
        .collect();
    outcomes(
        "ECOM-DOC-CL-004",
        replicated.len(),
        "replicated workloads",
        bad,
    )
}

/// Whether every container of the pod is kept from running as root.
pub fn runs_as_non_root(spec: &PodSpec) -> bool {
    let pod = spec.security_context.clone().unwrap_or_default();
    spec.containers
        .iter()
        .chain(spec.init_containers.iter().flatten())
        .all(|c| {
            let sc = c.security_context.clone().unwrap_or_default();
            let user = sc.run_as_user.or(pod.run_as_user);
            let non_root = sc.run_as_non_root.or(pod.run_as_non_root);
            match user {
                Some(0) => false,
                Some(_) => true,
                None => non_root == Some(true),
            }
        })
}

fn app_pods(s: &Snapshot) -> impl Iterator<Item = (String, &Pod, &PodSpec)> {
    s.pods.iter().filter_map(|p| {
        let (ns, name) = name_of(&p.metadata);
        let spec = p.spec.as_ref()?;
        is_app_namespace(&ns).then(|| (format!("Pod/{ns}/{name}"), p, spec))
    })
}

pub fn non_root(s: &Snapshot) -> Vec<Outcome> {
    let pods: Vec<_> = app_pods(s).collect();
    let bad = pods
        .iter()
        .filter(|(_, _, spec)| !runs_as_non_root(spec))
        .map(|(res, _, _)| (res.clone(), "a container may run as root (runAsUser 0, or neither runAsNonRoot nor a non-zero runAsUser)".to_string()))
        .collect();
    outcomes("ECOM-DOC-CL-005", pods.len(), "pods", bad)
}

pub fn images(s: &Snapshot, expect: &Expect) -> Vec<Outcome> {
    let pods: Vec<_> = app_pods(s).collect();
    let bad = pods
        .iter()
        .filter_map(|(res, _, spec)| {
            let wrong: Vec<String> = spec
                .containers
                .iter()
                .chain(spec.init_containers.iter().flatten())
                .filter_map(|c| c.image.clone())
                .filter(|i| !i.starts_with(&expect.registry) || !i.contains("@sha256:"))
                .collect();
            (!wrong.is_empty()).then(|| {
                (
                    res.clone(),
                    format!(
                        "not from {} by digest: {}",
                        expect.registry,
                        wrong.join(", ")
                    ),
                )
            })
        })
        .collect();
    outcomes("ECOM-DOC-CL-006", pods.len(), "pods", bad)
}

pub fn automount(s: &Snapshot) -> Vec<Outcome> {
    let pods: Vec<_> = app_pods(s).collect();
    let bad = pods
        .iter()
        .filter(|(_, p, spec)| {
            let sa_name = spec
                .service_account_name
                .clone()
                .unwrap_or_else(|| "default".into());
            let sa = s.service_accounts.iter().find(|sa| {
                sa.metadata.name.as_deref() == Some(sa_name.as_str())
                    && sa.metadata.namespace == p.metadata.namespace
            });
            let sa_mounts = sa
                .and_then(|sa| sa.automount_service_account_token)
                .unwrap_or(true);
            spec.automount_service_account_token.unwrap_or(sa_mounts)
        })
        .map(|(res, _, _)| {
            (
                res.clone(),
                "the service account token is mounted".to_string(),
            )
        })
        .collect();
    outcomes("ECOM-DOC-CL-007", pods.len(), "pods", bad)
}

/// Every cluster outcome for one snapshot.
pub fn judge(s: &Snapshot, expect: &Expect) -> Vec<Outcome> {
    let mut out = pss_labels(s);
    out.extend(default_deny(s));
    out.extend(policy_engine(s));
    out.extend(pdbs(s));
    out.extend(non_root(s));
    out.extend(images(s, expect));
    out.extend(automount(s));
    out
}

/// The cluster of the current kubeconfig context, through kube-rs.
pub struct KubeView {
    pub timeout: std::time::Duration,
}

impl ClusterView for KubeView {
    fn snapshot(&self) -> Result<Snapshot, String> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| e.to_string())?;
        rt.block_on(async {
            let mut config = kube::Config::infer()
                .await
                .map_err(|e| format!("no cluster configured: {e}"))?;
            config.connect_timeout = Some(self.timeout);
            config.read_timeout = Some(self.timeout);
            let client = kube::Client::try_from(config).map_err(|e| e.to_string())?;
            list_all(client).await
        })
    }
}

async fn list<K>(client: &kube::Client) -> Result<Vec<K>, String>
where
    K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope>
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug,
    K::DynamicType: Default,
{
    let api: kube::Api<K> = kube::Api::all(client.clone());
    api.list(&Default::default())
        .await
        .map(|l| l.items)
        .map_err(|e| e.to_string())
}

async fn list_all(client: kube::Client) -> Result<Snapshot, String> {
    let ns_api: kube::Api<Namespace> = kube::Api::all(client.clone());
    let namespaces = ns_api
        .list(&Default::default())
        .await
        .map_err(|e| format!("cluster not reachable: {e}"))?
        .items;
    Ok(Snapshot {
        namespaces,
        pods: list(&client).await?,
        network_policies: list(&client).await?,
        pdbs: list(&client).await?,
        deployments: list(&client).await?,
        statefulsets: list(&client).await?,
        daemonsets: list(&client).await?,
        service_accounts: list(&client).await?,
    })
}

/// The registry an environment's images must come from.
pub fn expect_for(ctx: &Context, env: &str) -> Option<Expect> {
    let c = &ctx.loaded()?.config;
    let e = c.environments.get(env)?;
    let region = e
        .region
        .clone()
        .unwrap_or_else(|| c.regions.primary.clone());
    Some(Expect {
        registry: format!("{}.dkr.ecr.{region}.amazonaws.com/", e.account.account_id),
    })
}

/// Runs the group against `view` (the kube-rs one from [`run`]; a fake in tests).
pub fn run_with(ctx: &Context, view: &dyn ClusterView) -> GroupRun {
    let Some(env) = ctx.envs.first().filter(|_| ctx.envs.len() == 1) else {
        return GroupRun::skipped(
            Group::Cluster,
            "cluster",
            "skipped: name the environment whose cluster the kubeconfig points at (-e ENV)",
        );
    };
    let Some(expect) = expect_for(ctx, env) else {
        return GroupRun::skipped(
            Group::Cluster,
            "cluster",
            "skipped: the config does not load",
        );
    };
    match view.snapshot() {
        Err(e) => GroupRun::skipped(Group::Cluster, "cluster", &format!("skipped: {e}")),
        Ok(s) => {
            let mut run = GroupRun::default();
            let ev = run.evidence(Evidence::json(format!("cluster/{env}/objects.json"), &s));
            for o in judge(&s, &expect) {
                run.push(o.with_evidence(&ev));
            }
            run
        }
    }
}

pub fn run(ctx: &Context) -> GroupRun {
    run_with(
        ctx,
        &KubeView {
            timeout: std::time::Duration::from_secs(5),
        },
    )
}

#[cfg(test)]
#[path = "cluster_tests.rs"]
mod tests;
