//! The chart: each environment's release rendered as ecomctl renders it (its values through the
//! real `helm template`), then the Kubernetes policies over the manifests.

use super::super::catalogue::Group;
use super::super::context::Context;
use super::super::model::{Evidence, GroupRun, Outcome};
use super::plans;
use crate::policy::{eval, Domain, Input};
use crate::render::{RenderOptions, Renderer, Stage};
use crate::tools::version::Version;
use std::path::Path;
use std::process::Command;

const ID: &str = "ECOM-DOC-CHART-001";

pub fn run(ctx: &Context) -> GroupRun {
    let loaded = match super::need_config(ctx, Group::Chart) {
        Ok(l) => l,
        Err(skipped) => return skipped,
    };
    let Some(root) = ctx.content_root.clone() else {
        return GroupRun::skipped(
            Group::Chart,
            "charts/platform",
            "no content root (stacks/, charts/, cluster/) found",
        );
    };
    let Some(helm) = ctx.helm.clone() else {
        return GroupRun::skipped(
            Group::Chart,
            "charts/platform",
            "helm not installed (put it on PATH or give --helm / ECOMCTL_HELM)",
        );
    };
    let renderer = match Renderer::new(&root) {
        Ok(r) => r,
        Err(e) => {
            return GroupRun::skipped(
                Group::Chart,
                "charts/platform",
                &format!("error: loading templates: {e}"),
            )
        }
    };
    // Each release is its own `helm template` and policy evaluation: render them side by side,
    // then report in environment order.
    let releases: Vec<_> = std::thread::scope(|s| {
        let handles: Vec<_> = ctx
            .envs
            .iter()
            .map(|env| s.spawn(|| release(ctx, loaded, &renderer, &root, &helm, env)))
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join().unwrap_or_else(|_| {
                    Err("internal error: rendering the release crashed".to_string())
                })
            })
            .collect()
    });
    let mut run = GroupRun::default();
    for (env, result) in ctx.envs.iter().zip(releases) {
        let res = format!("release:{env}");
        match result {
            Err(e) => run.push(Outcome::error(ID, res, e)),
            Ok((values, manifests, findings)) => {
                let v = run.evidence(Evidence::text(format!("chart/{env}/values.yaml"), values));
                let m = run.evidence(Evidence::text(
                    format!("chart/{env}/manifests.yaml"),
                    manifests,
                ));
                let f = run.evidence(Evidence::json(
                    format!("chart/{env}/policy-findings.json"),
                    &crate::policy::report::json(&findings),
                ));
                run.push(
                    plans::verdict(ID, &res, &findings, &[])
                        .with_evidence(&v)
                        .with_evidence(&m)
                        .with_evidence(&f),
                );
            }
        }
    }
    run
}

/// The values, the rendered manifests and the policy findings of one environment's release.
fn release(
    ctx: &Context,
    loaded: &crate::config::Loaded,
    renderer: &Renderer,
    root: &Path,
    helm: &Path,
    env: &str,
) -> Result<(String, String, crate::policy::Findings), String> {
    let opts = RenderOptions {
        env: Some(env.to_string()),
        stage: Some(Stage::Cluster),
        terraform: Version(vec![1, 11]),
        state_dir: ctx.state_dir.clone(),
        aws_endpoint: None,
        assume_roles: ctx.role_mode.assumes(),
    };
    let files = renderer
        .render(loaded, &opts)
        .map_err(|e| format!("rendering: {e}"))?;
    let values = files
        .iter()
        .find(|f| f.path.ends_with("values.yaml"))
        .ok_or("the render produced no values.yaml")?
        .contents
        .clone();
    let tmp = std::env::temp_dir().join(format!("ecomctl-doctor-{}-{env}", std::process::id()));
    std::fs::create_dir_all(&tmp).map_err(|e| format!("creating {}: {e}", tmp.display()))?;
    let result = (|| {
        let values_file = tmp.join("values.yaml");
        std::fs::write(&values_file, &values).map_err(|e| e.to_string())?;
        let out = Command::new(helm)
            .args(["template", "ecommerce"])
            .arg(root.join("charts/platform"))
            .args(["-n", "ecommerce", "-f"])
            .arg(&values_file)
            .output()
            .map_err(|e| format!("running helm: {e}"))?;
        if !out.status.success() {
            let err = String::from_utf8_lossy(&out.stderr);
            return Err(format!("helm template failed: {}", err.trim()));
        }
        let manifests = String::from_utf8_lossy(&out.stdout).to_string();
        let file = tmp.join("manifests.yaml");
        std::fs::write(&file, &manifests).map_err(|e| e.to_string())?;
        let input = Input::manifests(&file).map_err(|e| e.to_string())?;
        let mut findings = eval::check(
            &ctx.bundle,
            Domain::Kubernetes,
            &input,
            &eval::Context::for_env(Some(env)),
        )
        .map_err(|e| e.to_string())?;
        ctx.waivers.apply(&mut findings, ctx.today);
        findings.source = format!("release:{env}");
        Ok((values.clone(), manifests, findings))
    })();
    let _ = std::fs::remove_dir_all(&tmp);
    result
}
