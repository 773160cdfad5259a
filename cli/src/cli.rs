//! Command-line definitions only. Parsing happens here; `commands` does the work.

use crate::render::Stage;
use crate::ui::OutputFormat;
use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

mod deploy_args;
mod image_args;
mod run_args;
pub use deploy_args::{DeployArgs, DEPLOY_HELP};
pub use image_args::*;
pub use run_args::{ClusterAccess, RunArgs};

const EXAMPLES: &str = "\
Examples:
  ecomctl init                              write a commented starter ecomctl.yaml
  ecomctl validate -c examples/full.yaml    check a config; every problem with file:line:col
  ecomctl render --out build/               render every stage's inputs for every environment
  ecomctl render -e prod --stage foundation render one stage of one environment
  ecomctl render --check                    exit 4 when files on disk differ (GitOps drift check)
  ecomctl up -e nonprod                     plan and apply every stage of nonprod in order
  ecomctl plan -e prod --stage foundation   plan one stage; apply it with `ecomctl apply --approve HASH`
  ecomctl status                            last apply and pending input changes per stage
  ecomctl rollback -e nonprod --to 3        re-apply revision 3 of the nonprod release
  ecomctl dev                               run the whole shop locally (storefront on :8080)
  ecomctl doctor -e prod --format sarif     audit tools, identity, state, IaC, chart, cluster (PCI DSS / SOC 2)
  ecomctl build --service login             an OCI image, no Docker daemon (target/images/login)
  ecomctl push --to 127.0.0.1:5000/shop/nonprod   by digest; tags never move
  ecomctl promote login@sha256:4f1c... --from REG/shop/nonprod --to REG/shop/prod
  ecomctl scan --require                    Grype or Trivy over the built images, the config's threshold
  ecomctl mirror -e nonprod                 the config's base and add-on images into mirrors/, by digest
  ecomctl config schema > ecomctl.schema.json
  ecomctl completions bash > /etc/bash_completion.d/ecomctl

Exit codes: 0 ok, 1 failure, 2 usage or config error, 3 policy or doctor findings, 4 changes pending,
130 interrupted.";

/// One config file to a secure, compliant ecommerce platform on AWS.
///
/// ecomctl reads ecomctl.yaml, validates it, and renders the inputs of every stage (bootstrap,
/// foundation, app, cluster) for every environment: Terraform variables and backend settings,
/// Helm values and cluster priming manifests.
#[derive(Debug, Parser)]
#[command(name = "ecomctl", version, after_long_help = EXAMPLES, after_help = "Run `ecomctl --help` for examples.")]
pub struct Cli {
    /// The config file.
    #[arg(
        short = 'c',
        long,
        global = true,
        env = "ECOMCTL_CONFIG",
        default_value = "ecomctl.yaml"
    )]
    pub config: PathBuf,

    /// Only this environment.
    #[arg(short = 'e', long = "env", global = true, env = "ECOMCTL_ENV")]
    pub env: Option<String>,

    /// `json` prints one JSON event per line on stdout, for CI.
    #[arg(long, global = true, value_enum, default_value_t = OutputFormat::Human)]
    pub output: OutputFormat,

    /// Print only errors.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,

    /// More detail (repeat for more).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,

    #[command(flatten)]
    pub run: RunArgs,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Write a commented starter ecomctl.yaml (never overwrites).
    #[command(after_help = "Example:\n  ecomctl init -c shop.yaml")]
    Init,
    /// Check the config: every problem at once, with file, line, column and field.
    #[command(after_help = "Example:\n  ecomctl validate -c examples/full.yaml --output json")]
    Validate,
    /// Render every stage's inputs (tfvars, backend, Helm values, priming manifests).
    #[command(
        after_help = "Examples:\n  ecomctl render --out build/\n  ecomctl render -e prod --stage cluster\n  ecomctl render --check   # exit 4 on drift"
    )]
    Render(RenderArgs),
    /// Plan one stage: render, terraform init, plan, and a summary of what would change.
    #[command(
        after_help = "Examples:\n  ecomctl plan -e nonprod --stage foundation\n  ecomctl plan -e prod --stage app --output json --detailed-exitcode   # exit 4: changes pending"
    )]
    Plan(PlanArgs),
    /// Apply the saved plan of one stage (only if made from the current inputs).
    #[command(
        after_help = "Examples:\n  ecomctl apply -e nonprod --stage foundation --yes\n  ecomctl apply -e prod --stage app --approve 3f2a9c41d0e7   # the hash `plan` printed"
    )]
    Apply(ApplyArgs),
    /// Plan and apply every stage of an environment in order, skipping unchanged ones.
    #[command(
        after_help = "Examples:\n  ecomctl up -e nonprod            # asks before applying (on a terminal)\n  ecomctl up -e nonprod --yes      # CI, nonprod\n  ecomctl up -e prod                    # CI: stops at the first stage with changes, prints its plan hash\n  ecomctl up -e prod --approve 3f2a9c41d0e7   # applies that saved plan, goes on to the next stage\n  ecomctl up -e nonprod --stage foundation --yes   # bootstrap and foundation only\n  ECOMCTL_ASSUME_ROLE=false ecomctl up -e nonprod --yes   # CI already holds the account's role (OIDC)\n\nBefore any stage runs, STS must confirm the credentials are in the config's account for each\nstage, and S3 that the state bucket has versioning, KMS encryption and Object Lock.\nSee docs/orchestrator.md."
    )]
    Up(UpArgs),
    /// Destroy an environment's stages in reverse order (app, then foundation).
    #[command(
        after_help = "Examples:\n  ecomctl down -e nonprod                       # type the env name for each stage (terminal)\n  ecomctl down -e nonprod --approve 5d1e0c9a7b3f --approve 0e4b...   # CI: one destroy-plan hash per stage\n  ecomctl down -e nonprod --include-bootstrap   # last env: then the state bucket and KMS key too"
    )]
    Down(DownArgs),
    /// Re-apply an earlier revision of an environment's release (kept in the cluster).
    #[command(
        after_help = "Examples:\n  ecomctl rollback -e nonprod --list          # the revisions kept\n  ecomctl rollback -e nonprod                 # back to the revision before the current one\n  ecomctl rollback -e prod --to 4 --rollout-timeout 900\n  KUBECONFIG=~/.kube/shop ecomctl rollback -e nonprod --context shop-nonprod"
    )]
    Rollback(RollbackArgs),
    /// Release a Terraform state lock that a killed run left behind (asks first).
    #[command(
        after_help = "Examples:\n  ecomctl unlock -e nonprod --stage app           # says who holds it, asks for the env name\n  ecomctl unlock -e nonprod --stage app --force   # CI: no prompt\n\nThe lock is the one Terraform last refused a run for (recorded by that run). A lock whose\nTerraform still runs on this host is never released."
    )]
    Unlock(UnlockArgs),
    /// Per environment and stage: last apply, whether inputs changed since, whether outputs exist.
    #[command(after_help = "Examples:\n  ecomctl status\n  ecomctl status -e prod --output json")]
    Status,
    /// Print a stage's stored outputs (all, or one by name).
    #[command(
        after_help = "Examples:\n  ecomctl output -e nonprod --stage foundation\n  ecomctl output -e nonprod --stage app db_endpoint"
    )]
    Output(OutputArgs),
    /// Audit the platform from the operator's tools to the running cluster, mapped to PCI DSS
    /// 4.0 and SOC 2, with evidence; exit 3 when a finding reaches --fail-on.
    #[command(after_help = DOCTOR_HELP)]
    Doctor(DoctorArgs),
    /// Policy as code: run the Rego rules' tests, or check a plan or rendered manifests.
    Policy {
        #[command(subcommand)]
        command: PolicyCommand,
    },
    /// Things about the config format itself.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
    /// Run the whole shop on this machine: six services on loopback, PostgreSQL, demo data.
    #[command(
        after_help = "Examples:\n  cargo run -p ecomctl -- dev          # build, start, print http://127.0.0.1:8080/\n  ecomctl dev --service catalog --service frontend\n  ecomctl dev --port 9080              # storefront on 9080, services on 9081..9085\n  ecomctl dev --reset                  # drop the dev databases and start from the demo data\n\nPostgreSQL comes from DATABASE_URL, else the server on 127.0.0.1:5432, else a private cluster\nin .ecomctl/dev/postgres (initdb + pg_ctl, not as root). Ctrl-C stops every service (exit 0).\nSee docs/dev.md."
    )]
    Dev(DevArgs),
    /// Build one OCI image per service with no Docker daemon (layouts in target/images/).
    #[command(after_help = BUILD_HELP)]
    Build(BuildArgs),
    /// Push built images to a registry by digest (blobs it has are skipped; tags never move).
    #[command(after_help = PUSH_HELP)]
    Push(PushArgs),
    /// Push one service's per-platform layouts as one multi-platform image index.
    #[command(after_help = INDEX_HELP)]
    Index(IndexArgs),
    /// Copy an image by digest from one repository to another, with its signature and SBOM.
    #[command(after_help = PROMOTE_HELP)]
    Promote(PromoteArgs),
    /// Sign an image by digest, cosign-compatible (ECDSA P-256, the sha256-<hex>.sig tag).
    #[command(after_help = SIGN_HELP)]
    Sign(SignArgs),
    /// Check an image's cosign signatures against a public key.
    #[command(after_help = VERIFY_HELP)]
    Verify(VerifyArgs),
    /// Deploy images by digest to an environment: the cluster stage with these digests.
    #[command(after_help = DEPLOY_HELP)]
    Deploy(DeployArgs),
    /// Copy the config's base and add-on images by digest into <registry>/mirrors/.
    #[command(after_help = MIRROR_HELP)]
    Mirror(MirrorArgs),
    /// Scan the built images with Grype or Trivy; fail at the config's severity threshold.
    #[command(after_help = SCAN_HELP)]
    Scan(ScanArgs),
    /// Print a shell completion script.
    #[command(after_help = "Example:\n  ecomctl completions zsh > ~/.zfunc/_ecomctl")]
    Completions { shell: clap_complete::Shell },
}

#[derive(Debug, Args)]
pub struct DevArgs {
    /// Only these services (repeatable); the others are expected on their usual ports.
    #[arg(long = "service", value_enum, value_name = "S")]
    pub services: Vec<crate::dev::Service>,
    /// The storefront's port; login, catalog, inventory, orders and payments take the next five.
    #[arg(long, value_name = "BASE", default_value_t = 8080)]
    pub port: u16,
    /// Drop the dev databases (and make new dev secrets) before starting.
    #[arg(long)]
    pub reset: bool,
    /// Use the binaries already in target/ instead of running `cargo build` first.
    #[arg(long)]
    pub no_build: bool,
    /// Build and run release binaries.
    #[arg(long)]
    pub release: bool,
    /// Name of this local shop: databases `ecom_<NAME>_<service>`, state in `.ecomctl/<NAME>/`.
    #[arg(long, env = "ECOMCTL_DEV_NAME", default_value = "dev")]
    pub name: String,
}

#[derive(Debug, Args)]
pub struct PlanArgs {
    /// The stage to plan (bootstrap is shared by every environment).
    #[arg(long, value_enum)]
    pub stage: Stage,

    /// Exit 4 when the plan has changes (0 when it has none).
    #[arg(long)]
    pub detailed_exitcode: bool,
}

#[derive(Debug, Args)]
pub struct ApproveArgs {
    /// Approve nonprod changes without a prompt (never enough for prod or for deleting
    /// stateful resources).
    #[arg(short = 'y', long)]
    pub yes: bool,

    /// Approve the plan with this hash (as printed by `plan`; at least 12 characters).
    #[arg(long, value_name = "PLAN_HASH")]
    pub approve: Vec<String>,
}

#[derive(Debug, Args)]
pub struct UpArgs {
    /// Stop after this stage: the stages before it are walked as usual, the ones after it are
    /// left alone.
    #[arg(long, value_enum, value_name = "STAGE")]
    pub stage: Option<Stage>,

    #[command(flatten)]
    pub approval: ApproveArgs,
}

#[derive(Debug, Args)]
pub struct DownArgs {
    /// Approve the destroy plan with this hash (at least 12 characters). `--yes` never
    /// destroys anything.
    #[arg(long, value_name = "PLAN_HASH")]
    pub approve: Vec<String>,

    /// Also destroy the shared bootstrap stage (state bucket, KMS key): every environment
    /// must be down first.
    #[arg(long)]
    pub include_bootstrap: bool,
}

#[derive(Debug, Args)]
pub struct UnlockArgs {
    /// The stage whose state lock to release.
    #[arg(long, value_enum)]
    pub stage: Stage,

    /// Release without asking (needed without a terminal).
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct ApplyArgs {
    /// The stage to apply.
    #[arg(long, value_enum)]
    pub stage: Stage,

    #[command(flatten)]
    pub approval: ApproveArgs,
}

#[derive(Debug, Args)]
pub struct RollbackArgs {
    /// The revision to go back to (default: the one before the current).
    #[arg(long, value_name = "N")]
    pub to: Option<u32>,

    /// Print the revisions kept (revision, status, time, what made it) and change nothing.
    #[arg(long, conflicts_with = "to")]
    pub list: bool,
}

#[derive(Debug, Args)]
pub struct OutputArgs {
    /// The stage whose outputs to print.
    #[arg(long, value_enum)]
    pub stage: Stage,

    /// Only this output (strings print raw).
    pub name: Option<String>,
}

#[derive(Debug, Args)]
pub struct RenderArgs {
    /// Only this stage.
    #[arg(long, value_enum)]
    pub stage: Option<Stage>,

    /// Where to write (default: `.ecomctl/` beside the config file).
    #[arg(long)]
    pub out: Option<PathBuf>,

    /// Write nothing; exit 4 if any file on disk differs from what would be rendered.
    #[arg(long)]
    pub check: bool,

    /// Render backend settings for this Terraform version instead of the one found on PATH.
    #[arg(long, value_name = "VERSION")]
    pub terraform_version: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum PolicyCommand {
    /// Run every `test_*` rule of the policies; exit 1 on any failure.
    #[command(
        after_help = "Examples:\n  ecomctl policy test\n  ecomctl policy test --policy policy/ -v   # list passes too"
    )]
    Test(PolicyTestArgs),
    /// Check a plan (`terraform show -json`) or rendered manifests; exit 3 on a deny.
    #[command(
        after_help = "Examples:\n  terraform show -json tfplan > plan.json && ecomctl policy check --plan plan.json -e prod\n  ecomctl policy check --manifests .ecomctl/prod/cluster/ -e prod\n  ecomctl policy check --plan plan.json --format sarif --out policy.sarif"
    )]
    Check(PolicyCheckArgs),
    /// Checkov over the stacks and rendered manifests, with the Rego rules over plans and
    /// manifests, in one report; exit 3 on any finding.
    #[command(
        after_help = "Examples:\n  ecomctl policy scan                                   # checkov over stacks/\n  ecomctl policy scan --manifests .ecomctl/prod/cluster/ --plan plan.json -e prod --format sarif --out scan.sarif"
    )]
    Scan(PolicyScanArgs),
}

#[derive(Debug, Args)]
pub struct PolicyScanArgs {
    /// Terraform to scan with checkov (default: `stacks/` beside the config file).
    #[arg(long, value_name = "DIR")]
    pub stacks: Option<PathBuf>,

    /// Rendered manifests (a directory of YAML files): the Rego rules, and checkov.
    #[arg(long, value_name = "PATH")]
    pub manifests: Option<PathBuf>,

    /// Plans (`terraform show -json`) for the Rego rules; repeat for several stages.
    #[arg(long, value_name = "FILE")]
    pub plan: Vec<PathBuf>,

    /// How to write the findings (human, json or sarif).
    #[arg(long, value_enum, default_value_t = FindingsFormat::Human)]
    pub format: FindingsFormat,

    /// Write the findings to this file instead of stdout.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,

    #[command(flatten)]
    pub source: PolicySourceArgs,
}

/// Where the rules and waivers come from.
#[derive(Debug, Args)]
pub struct PolicySourceArgs {
    /// Policy directory (`terraform/`, `kubernetes/`, `waivers.yaml`); default: `policy/` beside
    /// the config file if present, else the rules built into ecomctl.
    #[arg(long, value_name = "DIR")]
    pub policy: Option<PathBuf>,

    /// Waivers file (default: `waivers.yaml` in the policy directory).
    #[arg(long, value_name = "FILE")]
    pub waivers: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct PolicyTestArgs {
    #[command(flatten)]
    pub source: PolicySourceArgs,
}

#[derive(Debug, Args)]
pub struct PolicyCheckArgs {
    /// A plan as `terraform show -json PLANFILE` writes it (format 0.x or 1.x).
    #[arg(
        long,
        value_name = "FILE",
        conflicts_with = "manifests",
        required_unless_present = "manifests"
    )]
    pub plan: Option<PathBuf>,

    /// Rendered manifests: a directory of YAML files, one YAML file, or `{"manifests": [...]}` JSON.
    #[arg(long, value_name = "PATH")]
    pub manifests: Option<PathBuf>,

    /// The stack directory the plan was made from: findings then point at the `.tf` file and
    /// line of their resource (module calls with local sources are followed).
    #[arg(long, value_name = "DIR", requires = "plan")]
    pub stack: Option<PathBuf>,

    /// How to write the findings.
    #[arg(long, value_enum, default_value_t = FindingsFormat::Human)]
    pub format: FindingsFormat,

    /// Write the findings to this file instead of stdout.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,

    #[command(flatten)]
    pub source: PolicySourceArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum FindingsFormat {
    /// A table.
    Human,
    /// One JSON document.
    Json,
    /// SARIF 2.1.0 (code scanning).
    Sarif,
    /// JUnit XML (CI test reports).
    Junit,
}

impl FindingsFormat {
    pub fn name(self) -> &'static str {
        match self {
            FindingsFormat::Human => "human",
            FindingsFormat::Json => "json",
            FindingsFormat::Sarif => "sarif",
            FindingsFormat::Junit => "junit",
        }
    }
}

const DOCTOR_HELP: &str = "\
Groups: tools, config, local-state, identity, state, iac, chart, cluster, edge
(identity, state and cluster need the network; --offline skips them and says so).

Examples:
  ecomctl doctor                                   every group, every environment
  ecomctl doctor -e prod --offline                 no network, no AWS credentials
  ecomctl doctor -e prod --only state,identity --format json
  ecomctl doctor -e prod --format sarif --out doctor.sarif --fail-on high
  ecomctl doctor -e prod --evidence audit-2026-q4/ # then: cd audit-2026-q4 && sha256sum -c SHA256SUMS
  ecomctl doctor --compliance-docs > docs/compliance.md

Waivers come from policy/waivers.yaml (shared with `ecomctl policy`): an expired one fails the run,
an unused one is listed. See docs/doctor.md for the checks and the JSON shape.";

#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// Run without network or AWS credentials: the identity, state and cluster groups are
    /// skipped (and named as skipped).
    #[arg(long)]
    pub offline: bool,

    /// How to write the report.
    #[arg(long, value_enum, default_value_t = DoctorFormat::Human)]
    pub format: DoctorFormat,

    /// Exit 3 when a failed (unwaived) check has at least this severity.
    #[arg(long, value_enum, value_name = "SEVERITY", default_value_t = crate::policy::Severity::Medium)]
    pub fail_on: crate::policy::Severity,

    /// Write every raw input, the results and a SHA-256 manifest (SHA256SUMS) into this new
    /// directory.
    #[arg(long, value_name = "DIR")]
    pub evidence: Option<PathBuf>,

    /// Only these groups (repeat, or separate with commas).
    #[arg(long, value_enum, value_name = "GROUP", value_delimiter = ',')]
    pub only: Vec<crate::doctor::Group>,

    /// Write the report to this file instead of stdout.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,

    /// Seconds each group may take before it is reported as timed out.
    #[arg(
        long,
        value_name = "SECS",
        env = "ECOMCTL_DOCTOR_TIMEOUT",
        default_value_t = 300
    )]
    pub timeout: u64,

    /// Print docs/compliance.md (generated from the check catalogue and the policy metadata)
    /// and exit.
    #[arg(long)]
    pub compliance_docs: bool,

    #[command(flatten)]
    pub source: PolicySourceArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum DoctorFormat {
    /// `[✓] [!] [✗]` per group, then a summary.
    Human,
    /// One JSON document (`schema: ecomctl.doctor/v1`, see docs/doctor.md).
    Json,
    /// SARIF 2.1.0 (code scanning).
    Sarif,
    /// JUnit XML (CI test reports).
    Junit,
    /// Markdown with the compliance view, for an assessor's file.
    Markdown,
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Print the JSON Schema of ecomctl.yaml (for editors and CI).
    #[command(
        after_help = "Example (VS Code YAML extension):\n  ecomctl config schema > .vscode/ecomctl.schema.json"
    )]
    Schema,
    /// Print the config reference (Markdown) generated from the schema.
    #[command(after_help = "Example:\n  ecomctl config docs > docs/reference/config.md")]
    Docs,
}
