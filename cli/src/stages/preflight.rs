//! Before a tool touches a stage: the credentials must be in the account the config names and,
//! where the stage keeps its state in the bucket, the bucket must exist with versioning, KMS
//! encryption and Object Lock. Each is asked once per run; `up` asks everything at once, on a
//! thread started while the rest of the workspace opens ([`Prefetch`]).

use super::dir::StageDir;
use super::events::Event;
use super::workspace::{Workspace, WorkspaceOptions};
use super::{state_dir, Target};
use crate::aws::{AccountCheck, Aws, AwsError, BucketCheck, BucketFacts, Identity};
use crate::config::Loaded;
use crate::exit::{Exit, FAILURE};
use crate::render::{Stage, GLOBAL_SCOPE};
use crate::ui::Ui;
use anyhow::{Context, Result};
use std::path::Path;

/// The account a target runs in, and how errors name it.
fn account_of(loaded: &Loaded, t: &Target) -> (String, crate::config::model::Account) {
    let c = &loaded.config;
    match c.environments.get(&t.scope) {
        Some(env) if !t.stage.is_global() => {
            (format!("environment {}", t.scope), env.account.clone())
        }
        _ => (
            "the shared-services account".to_string(),
            c.shared_services.account(),
        ),
    }
}

fn session_name(loaded: &Loaded, scope: &str) -> String {
    let mut name = format!("ecomctl-{}-{scope}", loaded.config.project.name);
    name.truncate(64);
    name
}

fn account_check(loaded: &Loaded, t: &Target) -> AccountCheck {
    let (what, account) = account_of(loaded, t);
    AccountCheck {
        what,
        account: account.account_id,
        role_arn: account.role_arn,
        session: session_name(loaded, &t.scope),
    }
}

fn bucket_check(loaded: &Loaded) -> BucketCheck {
    BucketCheck {
        bucket: loaded.config.state.bucket.clone(),
        role_arn: loaded.config.shared_services.role_arn.clone(),
        session: session_name(loaded, GLOBAL_SCOPE),
    }
}

/// What `up -e env` checks first: the account of bootstrap and of the environment and, once
/// bootstrap's state is in the bucket, the bucket.
fn up_checks(
    loaded: &Loaded,
    state_dir: &Path,
    env: &str,
) -> Result<(Vec<Target>, Vec<AccountCheck>, Option<BucketCheck>)> {
    let bootstrap = Target::new(env, Stage::Bootstrap);
    let state = StageDir::new(state_dir, &bootstrap).state()?;
    let bucket = (state.backend.as_deref() == Some("s3")).then(|| bucket_check(loaded));
    let targets = vec![bootstrap, Target::new(env, Stage::Foundation)];
    let checks = targets.iter().map(|t| account_check(loaded, t)).collect();
    Ok((targets, checks, bucket))
}

struct Prefetched {
    /// The session the checks ran in, kept for the rest of the run.
    aws: Option<Aws>,
    targets: Vec<Target>,
    checks: Vec<AccountCheck>,
    ids: Vec<std::result::Result<Identity, AwsError>>,
    bucket: Option<(BucketCheck, std::result::Result<BucketFacts, AwsError>)>,
}

/// `up`'s AWS checks started on a thread as soon as the config is loaded, so their round trips
/// overlap loading templates, policies and Terraform's version; `up` waits for the answers
/// before the first stage, as if it had asked then.
pub struct Prefetch {
    env: String,
    handle: std::thread::JoinHandle<Result<Prefetched>>,
}

impl Prefetch {
    pub fn start(loaded: &Loaded, env: &str, opts: &WorkspaceOptions) -> Result<Prefetch> {
        let (targets, checks, bucket) = up_checks(loaded, &state_dir(loaded)?, env)?;
        let region = loaded.config.regions.primary.clone();
        let (endpoint, mode) = (opts.aws_endpoint.clone(), opts.role_mode);
        let handle = std::thread::Builder::new()
            .name("aws-checks".into())
            .spawn(move || {
                let aws = Aws::new(&region, endpoint, mode)?;
                let (ids, facts) = aws.check_all(&checks, bucket.as_ref());
                Ok(Prefetched {
                    aws: Some(aws),
                    targets,
                    checks,
                    ids,
                    bucket: bucket.zip(facts),
                })
            })
            .context("starting the AWS checks")?;
        Ok(Prefetch {
            env: env.to_string(),
            handle,
        })
    }

    /// The answers; `None` if the thread died (the checks are then asked again).
    fn join(self) -> Option<Result<Prefetched>> {
        self.handle.join().ok()
    }
}

/// An AWS answer that stops the run, with what to do about it.
fn aws_refusal(e: AwsError) -> anyhow::Error {
    let hint = match &e {
        AwsError::WrongAccount { .. } => {
            "check which credentials are in use (AWS_PROFILE, AWS_ACCESS_KEY_ID, the CI role) and the account_id in the config; nothing was changed"
        }
        AwsError::Identity { .. } => {
            "AWS credentials are needed (environment, profile, SSO or web identity) that may assume the role; with ECOMCTL_ASSUME_ROLE=false they must already be that role"
        }
        AwsError::BucketUnreachable { .. } => {
            "apply the bootstrap stage first (`ecomctl up` runs it), or check state.bucket in the config"
        }
        AwsError::BucketUnfit { .. } => {
            "the bootstrap stack makes the bucket with all of these; Object Lock can only be turned on for a bucket made with it, so a hand-made bucket must be replaced"
        }
        AwsError::Runtime(_) => "",
    };
    let exit = Exit::new(FAILURE, e.to_string());
    if hint.is_empty() {
        exit.into()
    } else {
        exit.hint(hint).into()
    }
}

impl Workspace {
    pub(super) fn aws(&self) -> Result<&Aws> {
        if let Some(aws) = self.aws.get() {
            return Ok(aws);
        }
        let aws = Aws::new(
            &self.loaded.config.regions.primary,
            self.aws_endpoint.clone(),
            self.role_mode,
        )?;
        Ok(self.aws.get_or_init(|| aws))
    }

    fn is_checked(&self, key: &str) -> bool {
        self.checked.borrow().contains(key)
    }

    fn record_account(&self, t: &Target, check: &AccountCheck, id: Identity, ui: &Ui) {
        ui.emit(&Event::AccountChecked {
            target: t,
            account: &id.account,
            arn: &id.arn,
            assumed_role: self.role_mode.assumes(),
        });
        ui.detail(&format!(
            "{}: running as {} ({})",
            check.what, id.arn, id.account
        ));
        self.checked
            .borrow_mut()
            .insert(format!("account:{}", check.account));
    }

    fn record_bucket(&self, check: &BucketCheck, facts: BucketFacts, ui: &Ui) {
        ui.detail(&format!(
            "state bucket {}: versioning {}, {} encryption, Object Lock {}",
            check.bucket, facts.versioning, facts.encryption, facts.object_lock
        ));
        ui.emit(&Event::StateBucketChecked {
            bucket: &check.bucket,
            facts: &facts,
        });
        self.checked
            .borrow_mut()
            .insert(format!("bucket:{}", check.bucket));
    }

    /// The account of `t` and, with `bucket` (the stage keeps its state there), the bucket.
    pub fn preflight(&self, t: &Target, bucket: bool, ui: &Ui) -> Result<()> {
        let check = account_check(&self.loaded, t);
        if !self.is_checked(&format!("account:{}", check.account)) {
            ui.status("checking", &format!("AWS account of {}", check.what));
            let id = self.aws()?.verify_account(&check).map_err(aws_refusal)?;
            self.record_account(t, &check, id, ui);
        }
        if bucket {
            self.check_state_bucket(ui)?;
        }
        Ok(())
    }

    pub fn check_state_bucket(&self, ui: &Ui) -> Result<()> {
        let check = bucket_check(&self.loaded);
        if self.is_checked(&format!("bucket:{}", check.bucket)) {
            return Ok(());
        }
        let facts = self
            .aws()?
            .check_state_bucket(&check)
            .map_err(aws_refusal)?;
        self.record_bucket(&check, facts, ui);
        Ok(())
    }

    /// `up` asks everything it will need at once, before the first stage: both accounts and,
    /// once bootstrap's state lives there, the bucket. A wrong account stops the run before
    /// any stage is touched. The questions usually went out already (see [`Prefetch`]).
    pub(super) fn preflight_up(&self, env: &str, ui: &Ui) -> Result<()> {
        let prefetched = match self.prefetch.borrow_mut().take() {
            Some(p) if p.env == env => p.join(),
            _ => None,
        };
        let done = match prefetched {
            Some(done) => done?,
            None => {
                let (targets, checks, bucket) = up_checks(&self.loaded, &self.state_dir, env)?;
                let (ids, facts) = self.aws()?.check_all(&checks, bucket.as_ref());
                Prefetched {
                    aws: None,
                    targets,
                    checks,
                    ids,
                    bucket: bucket.zip(facts),
                }
            }
        };
        if let Some(aws) = done.aws {
            let _ = self.aws.set(aws);
        }
        ui.status(
            "checked",
            &format!(
                "AWS accounts{}",
                if done.bucket.is_some() {
                    " and the state bucket"
                } else {
                    ""
                }
            ),
        );
        for ((t, check), id) in done.targets.iter().zip(&done.checks).zip(done.ids) {
            let id = id.map_err(aws_refusal)?;
            self.record_account(t, check, id, ui);
        }
        if let Some((check, facts)) = done.bucket {
            self.record_bucket(&check, facts.map_err(aws_refusal)?, ui);
        }
        Ok(())
    }

    /// The state object of `t` in the state bucket (read with the shared-services role);
    /// `None` when the bucket or the object does not exist.
    pub(super) fn remote_state(&self, t: &Target) -> Result<Option<Vec<u8>>> {
        let key =
            crate::render::context::state_key(&self.loaded.config.project.name, &t.scope, t.stage);
        self.aws()?
            .state_object(&bucket_check(&self.loaded), &key)
            .map_err(aws_refusal)
    }

    /// Hands `up` the checks started by [`Prefetch::start`].
    pub fn adopt(&self, prefetch: Prefetch) {
        *self.prefetch.borrow_mut() = Some(prefetch);
    }
}
