//! Arguments of `ecomctl deploy`.

use clap::Args;

use super::{ApproveArgs, RegistryAuthArgs};

pub const DEPLOY_HELP: &str = "\
Examples:
  ecomctl deploy -e nonprod --image login@sha256:4f1c... --image orders@sha256:9b2e... --yes
  ecomctl deploy -e prod --image login@sha256:4f1c...            # CI: prints the plan hash
  ecomctl deploy -e prod --image login@sha256:4f1c... --approve 3f2a9c41d0e7

Sets each named service's image digest in the rendered chart values (services not named keep
the digest of ecomctl.yaml, else its tag), then runs the cluster stage alone, as `ecomctl up`
runs it: plan (a server-side-apply dry run), the policy gate, approval, apply, the rollout
watch. Once the rollout succeeded, each image the release runs gets a deployment record in its
registry (an OCI referrer naming the environment); `ecomctl promote` carries it to prod's
registry with the signature. prod's cluster stage refuses an image that is not signed by
environments.prod.images.verify_key or has no record of a deployment to
environments.prod.images.promoted_from (default nonprod). The digests hold for this run:
`ecomctl up` renders the config's, so pin in ecomctl.yaml what must stay.
See docs/supply-chain.md.";

#[derive(Debug, Args)]
pub struct DeployArgs {
    /// A service's image: SERVICE@sha256:DIGEST (repeatable).
    #[arg(long = "image", value_name = "SERVICE@DIGEST", required = true)]
    pub images: Vec<String>,
    #[command(flatten)]
    pub approval: ApproveArgs,
    #[command(flatten)]
    pub auth: RegistryAuthArgs,
}
