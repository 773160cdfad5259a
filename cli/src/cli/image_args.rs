//! Arguments of the image commands: build, push, promote, sign, verify.

use clap::{Args, ValueEnum};
use std::path::PathBuf;

pub const BUILD_HELP: &str = "\
Examples:
  ecomctl build                              every service, layouts in target/images/<service>/
  ecomctl build --service login --service catalog
  SOURCE_DATE_EPOCH=1767225600 ecomctl build --tag 1.4.0
  skopeo inspect oci:target/images/login     any OCI tool reads the result
  ecomctl build --platform linux/arm64 --binary-dir dist/arm64 --out-dir target/images-arm64
                                             an arm64 image of binaries built elsewhere

No Docker daemon: `cargo build --profile image --locked` of the services (release without debug
info), then each image is written as an OCI image layout: the base from images/base.lock (Debian
packages pinned by SHA-256, fetched once into the cache), a layer with the binary, user 65532 (nonroot), the binary as entrypoint and
the org.opencontainers.image.{created,revision,source} annotations. Entries are sorted, mtimes are
SOURCE_DATE_EPOCH (default: the commit's time) and owners fixed, so the same commit builds the same
digest. --platform builds for linux/amd64 or linux/arm64 (default: this machine's): the base from
that architecture's pinned packages, and the binaries from `cargo build --target <triple>` (needs
the Rust target and a linker for it) unless --binary-dir gives prebuilt ecom-<service> binaries,
whose ELF machine must match. `ecomctl index` joins per-platform layouts into one image index.
See docs/supply-chain.md.";

#[derive(Debug, Args)]
pub struct BuildArgs {
    /// Only these services (repeatable; default: all six).
    #[arg(long = "service", value_enum, value_name = "S")]
    pub services: Vec<crate::dev::Service>,
    /// The tag written into the layouts and pushed (default: the commit's first 12 hex digits).
    #[arg(long)]
    pub tag: Option<String>,
    /// The repository URL for org.opencontainers.image.source (default: git's `origin`).
    #[arg(long, env = "ECOMCTL_IMAGE_SOURCE", value_name = "URL")]
    pub source: Option<String>,
    /// Every timestamp in the images (default: the commit's time).
    #[arg(long, env = "SOURCE_DATE_EPOCH", value_name = "SECONDS")]
    pub source_date_epoch: Option<u64>,
    /// Where downloaded Debian packages are kept (default: $XDG_CACHE_HOME/ecomctl or ~/.cache/ecomctl).
    #[arg(long, env = "ECOMCTL_CACHE_DIR", value_name = "DIR")]
    pub cache_dir: Option<PathBuf>,
    /// A Debian mirror to fetch the locked packages from instead of the lock's.
    #[arg(long, env = "ECOMCTL_DEBIAN_MIRROR", value_name = "URL")]
    pub debian_mirror: Option<String>,
    /// The platform to build for: linux/amd64 or linux/arm64 (default: this machine's).
    #[arg(long, value_name = "OS/ARCH", value_parser = parse_platform)]
    pub platform: Option<crate::oci::platform::Platform>,
    /// Take prebuilt ecom-<service> binaries from DIR instead of running cargo (their ELF
    /// machine must match the platform).
    #[arg(long, value_name = "DIR")]
    pub binary_dir: Option<PathBuf>,
    /// Write the layouts under DIR (DIR/<service>/) instead of target/images.
    #[arg(long, value_name = "DIR")]
    pub out_dir: Option<PathBuf>,
}

fn parse_platform(s: &str) -> Result<crate::oci::platform::Platform, String> {
    crate::oci::platform::Platform::parse(s)
}

pub const PUSH_HELP: &str = "\
Examples:
  ecomctl push --to 127.0.0.1:5000/shop/nonprod                      every built image
  ecomctl push --to 111111111111.dkr.ecr.eu-west-1.amazonaws.com/shop/nonprod --service login
  ecomctl push --to REG/shop/nonprod --sbom-bucket     SBOMs into the bootstrap stage's artifacts bucket too

Each image in target/images/<service> goes to <TO>/<service>: blobs the registry already has are
skipped (HEAD), the rest uploaded, the manifest stored by digest, then tagged (the layout's tag, or
--tag). A tag that already names another digest is never moved: the push fails and nothing is
tagged. The SBOM built beside the image is attached as an OCI referrer, and with --sbom-bucket
also stored in S3 (sbom/<service>/sha256-<hex>.cdx.json, KMS-encrypted). Credentials come from the
Docker config ($DOCKER_CONFIG/config.json or ~/.docker/config.json, `auths`), answered to the
registry's Basic or Bearer challenge; for an ECR registry without such a login, from ECR
GetAuthorizationToken with the ambient AWS credentials (see --registry-auth). Loopback registries
are spoken to over plain HTTP, every other over HTTPS.";

#[derive(Debug, Args)]
pub struct PushArgs {
    /// The repository prefix: each service goes to <TO>/<service>.
    #[arg(long, value_name = "REGISTRY/PATH")]
    pub to: String,
    /// Only these services (repeatable; default: every one built).
    #[arg(long = "service", value_enum, value_name = "S")]
    pub services: Vec<crate::dev::Service>,
    /// Tag instead of the one `ecomctl build` wrote into the layout.
    #[arg(long)]
    pub tag: Option<String>,
    /// Also upload each SBOM to this S3 bucket (sbom/<service>/sha256-<hex>.cdx.json, aws:kms).
    /// Given without a value: the bootstrap stage's artifacts bucket (its artifact_bucket_name
    /// and kms_key_arn outputs; needs the config).
    #[arg(long, value_name = "BUCKET", env = "ECOMCTL_SBOM_BUCKET", num_args = 0..=1, default_missing_value = "")]
    pub sbom_bucket: Option<String>,
    /// The KMS key the SBOM objects are encrypted with (default: the bootstrap stage's
    /// kms_key_arn for its bucket, else the bucket's default key).
    #[arg(long, value_name = "KEY", requires = "sbom_bucket")]
    pub sbom_kms_key: Option<String>,
    #[command(flatten)]
    pub auth: RegistryAuthArgs,
}

pub const INDEX_HELP: &str = "\
Examples:
  ecomctl index login --layout target/images/login --layout arm64/login --to 127.0.0.1:5000/shop/nonprod
  ecomctl index login --layout amd64/login --layout arm64/login --to REG/shop/nonprod --tag 1.4.0

Joins one service's per-platform image layouts (`ecomctl build --platform ...` on an amd64 and an
arm64 runner) into one multi-platform image: each platform's image is pushed to <TO>/<service>
by digest, untagged, with its SBOM (<layout>.cdx.json beside the layout) as its referrer (and
with --sbom-bucket in S3, as for push); then
an OCI image index naming every manifest with its platform (from the image's config) is stored
by digest and tagged (the layouts' tag, or --tag; tags never move). The same layouts give the same
index digest. Sign, verify, promote and deploy the index digest: a client picks its platform's
image from it.";

#[derive(Debug, Args)]
pub struct IndexArgs {
    /// The service the layouts are images of.
    #[arg(value_enum, value_name = "SERVICE")]
    pub service: crate::dev::Service,
    /// A layout of the service for one platform (repeatable; one per platform).
    #[arg(long = "layout", value_name = "DIR", required = true)]
    pub layouts: Vec<PathBuf>,
    /// The repository prefix: the index goes to <TO>/<service>.
    #[arg(long, value_name = "REGISTRY/PATH")]
    pub to: String,
    /// Tag the index with this instead of the layouts' tag.
    #[arg(long)]
    pub tag: Option<String>,
    /// Also upload each platform's SBOM to this S3 bucket, as `push --sbom-bucket` does
    /// (sbom/<service>/sha256-<platform image hex>.cdx.json); without a value the bootstrap
    /// stage's artifacts bucket.
    #[arg(long, value_name = "BUCKET", env = "ECOMCTL_SBOM_BUCKET", num_args = 0..=1, default_missing_value = "")]
    pub sbom_bucket: Option<String>,
    /// The KMS key the SBOM objects are encrypted with (as for push).
    #[arg(long, value_name = "KEY", requires = "sbom_bucket")]
    pub sbom_kms_key: Option<String>,
    #[command(flatten)]
    pub auth: RegistryAuthArgs,
}

pub const PROMOTE_HELP: &str = "\
Examples:
  ecomctl promote login@sha256:4f1c... --from 127.0.0.1:5000/shop/nonprod --to 127.0.0.1:5000/shop/prod
  ecomctl promote login@sha256:4f1c... --from REG/shop/nonprod --to REG/shop/prod --tag 1.4.0

Copies <FROM>/<service>@<digest> to <TO>/<service> by digest: the manifest bytes are the same, so
the digest is the same. Blobs the destination has are skipped. The cosign signature
(sha256-<hex>.sig) and the referrers (SBOM) come along when the source has them. A digest the
source does not hold is an error, and nothing is tagged then.";

#[derive(Debug, Args)]
pub struct PromoteArgs {
    /// The image: <service>@sha256:<digest>.
    #[arg(value_name = "SERVICE@DIGEST")]
    pub image: String,
    /// The source repository prefix (<FROM>/<service>).
    #[arg(long, value_name = "REGISTRY/PATH")]
    pub from: String,
    /// The destination repository prefix (<TO>/<service>).
    #[arg(long, value_name = "REGISTRY/PATH")]
    pub to: String,
    /// Also tag the copy (never moves a tag that names another digest).
    #[arg(long)]
    pub tag: Option<String>,
    #[command(flatten)]
    pub auth: RegistryAuthArgs,
}

pub const SIGN_HELP: &str = "\
Examples:
  ecomctl sign 127.0.0.1:5000/shop/nonprod/login@sha256:4f1c... --key cosign.key
  ECOMCTL_SIGNING_KEY=\"$(cat cosign.key)\" ecomctl sign REG/shop/nonprod/login@sha256:4f1c...
  ecomctl sign --public-key --key cosign.key > cosign.pub
  ecomctl sign REG/shop/nonprod/login@sha256:4f1c... --key awskms:///alias/shop/cosign

The signature is cosign's: the simple-signing payload naming the digest, ECDSA P-256 over
SHA-256, stored as a layer of the manifest tagged sha256-<hex>.sig next to the image (a new
signature is appended to those there). The key is an unencrypted PKCS#8 P-256 PEM (`openssl
genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256`), from --key or the ECOMCTL_SIGNING_KEY
environment variable; or a key that stays in AWS KMS, named as cosign names it
(`--key awskms:///alias/NAME` or `awskms:///arn:aws:kms:...`, an ECC_NIST_P256 SIGN_VERIFY key:
KMS Sign, ECDSA_SHA_256). cosign's own encrypted key files are not read.
The layout is cosign's, so `cosign verify --key cosign.pub --insecure-ignore-tlog` is meant to
accept it (no Rekor entry is made). See docs/supply-chain.md.";

#[derive(Debug, Args)]
pub struct SignArgs {
    /// The image, by digest: REGISTRY/REPOSITORY@sha256:DIGEST.
    #[arg(value_name = "IMAGE", required_unless_present = "public_key")]
    pub image: Option<String>,
    /// The private key file (PEM, PKCS#8, P-256), or a KMS key (awskms:///alias/NAME or
    /// awskms:///KEY-ARN); else the ECOMCTL_SIGNING_KEY variable holds the PEM.
    #[arg(long, env = "ECOMCTL_SIGNING_KEY_FILE", value_name = "FILE")]
    pub key: Option<PathBuf>,
    /// Print the key's public half (PEM) instead of signing.
    #[arg(long, conflicts_with = "image")]
    pub public_key: bool,
    #[command(flatten)]
    pub auth: RegistryAuthArgs,
}

pub const VERIFY_HELP: &str = "\
Examples:
  ecomctl verify 127.0.0.1:5000/shop/prod/login@sha256:4f1c... --key cosign.pub
  ecomctl verify REG/shop/prod/login@sha256:4f1c... --key awskms:///alias/shop/cosign

Exit 0 when at least one signature under sha256-<hex>.sig names this digest and verifies with the
key; exit 1 otherwise (no signature, or none by this key).";

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The image, by digest: REGISTRY/REPOSITORY@sha256:DIGEST.
    #[arg(value_name = "IMAGE")]
    pub image: String,
    /// The public key (PEM `PUBLIC KEY`, P-256), as `ecomctl sign --public-key` prints it, or
    /// a KMS key (awskms:///alias/NAME; its public half from KMS GetPublicKey).
    #[arg(long, value_name = "FILE")]
    pub key: PathBuf,
    #[command(flatten)]
    pub auth: RegistryAuthArgs,
}

/// Where registry credentials come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RegistryAuth {
    /// ECR hosts without a login in the Docker config: GetAuthorizationToken; others: the Docker config.
    Auto,
    /// The Docker config only.
    Docker,
    /// ECR GetAuthorizationToken for every registry named (e.g. ECR behind a VPC endpoint name).
    Ecr,
}

#[derive(Debug, Clone, Args)]
pub struct RegistryAuthArgs {
    /// Where registry credentials come from (ECR uses the ambient AWS credentials and
    /// AWS_ENDPOINT_URL when set).
    #[arg(long, value_enum, env = "ECOMCTL_REGISTRY_AUTH", default_value_t = RegistryAuth::Auto)]
    pub registry_auth: RegistryAuth,
}

pub const MIRROR_HELP: &str = "\
Examples:
  ecomctl mirror -e nonprod                    into the app stage's registry (its ecr_registry output)
  ecomctl mirror --to 127.0.0.1:5000           into any registry

Copies each image of the config's supply_chain.mirror list by digest into
<REGISTRY>/mirrors/<path> (the repositories the app stage creates): the manifest bytes are the
same, so the digest is the same; a multi-platform image (an index) is copied whole, every
platform's manifest with it. Blobs the registry has are skipped, so a second run uploads nothing.
The source's tag is set on the copy too, and never moved once set. A digest the source does not
hold is an error, and nothing is tagged then. Sources are read with the same credentials as
push (the Docker config, ECR tokens; anonymous pulls where the registry allows them).";

#[derive(Debug, Args)]
pub struct MirrorArgs {
    /// The registry to mirror into (HOST[:PORT]); default: the app stage's `ecr_registry`
    /// output of the environment given with -e.
    #[arg(long, value_name = "REGISTRY")]
    pub to: Option<String>,
    #[command(flatten)]
    pub auth: RegistryAuthArgs,
}

pub const SCAN_HELP: &str = "\
Examples:
  ecomctl scan                                 every built image in target/images/
  ecomctl scan --service login --fail-on critical
  ecomctl scan --require                       CI: no scanner installed is a failure

Runs Grype (`grype oci-dir:<layout> -o json`) or, without it, Trivy (`trivy image --input
<layout> --format json`) on each image layout `ecomctl build` wrote, counts the findings per
severity and fails (exit 1) when one is at or above the threshold: --fail-on, else the config's
supply_chain.scan.fail_on, else high. Each scanner's report is kept beside the layout
(target/images/<service>.<scanner>.json). With neither installed every image is reported as
skipped, never as passed: exit 0, or exit 1 with --require.";

#[derive(Debug, Args)]
pub struct ScanArgs {
    /// Only these services (repeatable; default: every one built).
    #[arg(long = "service", value_enum, value_name = "S")]
    pub services: Vec<crate::dev::Service>,
    /// Fail at this severity or above (default: the config's supply_chain.scan.fail_on, else high).
    #[arg(long, value_enum, value_name = "SEVERITY")]
    pub fail_on: Option<crate::config::supply_chain::Severity>,
    /// Fail (exit 1) when neither grype nor trivy is installed, instead of reporting skipped.
    #[arg(long)]
    pub require: bool,
}
