//! `ecomctl build`: release builds of the services, the base assembled once, then one OCI image
//! layout per service under `<target>/images/<service>/`, with its SBOM beside it.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result};
use serde_json::json;

use super::base;
use super::debian::Lock;
use super::image::{self, ImageSpec, Provenance, Written};
use super::platform::Platform;
use super::sbom::{self, CargoGraph};
use crate::dev::Service;
use crate::exit::{Exit, FAILURE, USAGE};
use crate::tools::process::{self, Spec};
use crate::ui::Ui;

/// `ecomctl build`'s settings, resolved once.
#[derive(Debug, Clone)]
pub struct BuildOptions {
    pub root: PathBuf,
    pub services: Vec<Service>,
    /// `<target>/images`.
    pub out: PathBuf,
    /// Downloaded `.deb` files, by SHA-256.
    pub cache: PathBuf,
    pub mirror: Option<String>,
    pub source: Option<String>,
    pub tag: Option<String>,
    pub source_date_epoch: Option<u64>,
    /// The platform built for (default: this machine's).
    pub platform: Option<Platform>,
    /// Prebuilt `ecom-<service>` binaries to take instead of building them.
    pub binary_dir: Option<PathBuf>,
}

/// One image built.
#[derive(Debug, Clone)]
pub struct Built {
    pub service: Service,
    pub image: Written,
    pub tag: String,
    pub binary_size: u64,
}

/// The cache for downloads: `ECOMCTL_CACHE_DIR`, else `$XDG_CACHE_HOME/ecomctl`, else
/// `~/.cache/ecomctl`.
pub fn default_cache(explicit: Option<PathBuf>) -> PathBuf {
    explicit
        .or_else(|| std::env::var_os("XDG_CACHE_HOME").map(|d| PathBuf::from(d).join("ecomctl")))
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/ecomctl")))
        .unwrap_or_else(|| PathBuf::from(".ecomctl/cache"))
}

fn git(root: &Path, args: &[&str]) -> Option<String> {
    let mut spec = Spec::new(format!("git {}", args.join(" ")), "git").args(args.iter().copied());
    spec.cwd = Some(root.to_path_buf());
    spec.capture_stdout = true;
    let out = process::run(&spec, &mut |_, _| {}).ok()?;
    let s = String::from_utf8_lossy(&out.stdout).trim().to_string();
    (!s.is_empty()).then_some(s)
}

/// Revision, time and source from git unless given.
pub fn provenance(opts: &BuildOptions) -> Result<Provenance> {
    let revision = git(&opts.root, &["rev-parse", "HEAD"]).ok_or_else(|| {
        Exit::new(USAGE, format!("{} is not a git checkout with a commit", opts.root.display()))
            .hint("images carry the commit they were built from (org.opencontainers.image.revision); commit first")
    })?;
    let created = match opts.source_date_epoch {
        Some(t) => t,
        None => git(&opts.root, &["log", "-1", "--format=%ct"])
            .and_then(|t| t.parse().ok())
            .context("reading the commit time for SOURCE_DATE_EPOCH")?,
    };
    let source = opts
        .source
        .clone()
        .or_else(|| git(&opts.root, &["remote", "get-url", "origin"]));
    let tag = opts
        .tag
        .clone()
        .unwrap_or_else(|| revision[..12.min(revision.len())].to_string());
    Ok(Provenance {
        created,
        revision,
        source,
        tag,
    })
}

/// The Cargo profile images are built with: release without debug info (the workspace's
/// `[profile.image]`).
pub const PROFILE: &str = "image";

/// `cargo build` of the services for `cross` (a target triple other than the host's) or the host;
/// returns the directory the binaries land in.
fn cargo_build(root: &Path, services: &[Service], cross: Option<&str>, ui: &Ui) -> Result<PathBuf> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut spec = Spec::new("cargo build --profile image", PathBuf::from(cargo)).args([
        "build",
        "--profile",
        PROFILE,
        "--locked",
        "--bins",
    ]);
    for s in services {
        spec = spec.arg("-p").arg(s.crate_name());
    }
    if let Some(triple) = cross {
        spec = spec.arg("--target").arg(triple);
    }
    spec.cwd = Some(root.to_path_buf());
    ui.status(
        "building",
        &format!(
            "{} service(s), release{}",
            services.len(),
            cross.map(|t| format!(" for {t}")).unwrap_or_default()
        ),
    );
    process::run(&spec, &mut |_, line| {
        ui.tool_line("build", "cargo", true, line)
    })
    .map_err(|e| match cross {
        Some(triple) => anyhow::Error::new(e).context(
            Exit::new(FAILURE, format!("building the services for {triple}")).hint(format!(
                "a cross build needs the Rust target (`rustup target add {triple}`) and a linker for it \
                 (CARGO_TARGET_<TRIPLE>_LINKER); or build on a runner of that architecture, or give \
                 prebuilt binaries with --binary-dir"
            )),
        ),
        None => anyhow::Error::new(e).context("building the services"),
    })?;
    let target = crate::dev::target_dir(root);
    Ok(match cross {
        Some(triple) => target.join(triple).join(PROFILE),
        None => target.join(PROFILE),
    })
}

/// Where the SBOM of a service's image is written: beside its layout.
pub fn sbom_path(out: &Path, service: Service) -> PathBuf {
    out.join(format!("{}.cdx.json", service.name()))
}

/// The highest `GLIBC_2.N` symbol version a binary asks for.
pub fn glibc_needed(binary: &[u8]) -> Option<(u32, u32)> {
    let needle = b"GLIBC_2.";
    let mut best = None;
    let mut i = 0;
    while let Some(pos) = binary[i..].windows(needle.len()).position(|w| w == needle) {
        let start = i + pos + needle.len();
        let minor: String = binary[start..]
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .map(|&b| b as char)
            .collect();
        if let Ok(m) = minor.parse::<u32>() {
            best = best.max(Some((2, m)));
        }
        i = start;
    }
    best
}

/// The glibc version the base's libc6 package carries (`2.36-9+deb12u14` -> (2, 36)).
fn base_glibc(lock: &Lock) -> Option<(u32, u32)> {
    let libc = lock.packages.iter().find(|p| p.name == "libc6")?;
    let mut it = libc.version.split(['.', '-']);
    Some((it.next()?.parse().ok()?, it.next()?.parse().ok()?))
}

pub fn build(opts: &BuildOptions, ui: &Ui) -> Result<Vec<Built>> {
    let host = Platform::host();
    let platform = opts.platform.or(host).ok_or_else(|| {
        Exit::new(
            USAGE,
            format!(
                "images are linux binaries; this is {}/{}",
                std::env::consts::OS,
                std::env::consts::ARCH
            ),
        )
        .hint("name the platform (--platform linux/amd64) and give its binaries (--binary-dir), or run on Linux (CI does)")
    })?;
    let (arch, triple) = (platform.arch(), platform.triple());
    let provenance = provenance(opts)?;
    let lock_path = opts.root.join("images/base.lock");
    let lock_text = std::fs::read_to_string(&lock_path)
        .with_context(|| format!("reading the base image lock {}", lock_path.display()))?;
    let lock = Lock::parse(&lock_text)
        .map_err(|(line, why)| Exit::new(USAGE, format!("{}:{line}: {why}", lock_path.display())))?
        .for_arch(arch)
        .map_err(|why| {
            Exit::new(USAGE, format!("{}: {why}", lock_path.display())).hint(
                "pin the architecture's packages (docs/supply-chain.md, \"Updating the base\")",
            )
        })?;
    let started = Instant::now();
    let bins = match &opts.binary_dir {
        Some(dir) => dir.clone(),
        None => {
            let cross = (Some(platform) != host).then_some(triple);
            cargo_build(&opts.root, &opts.services, cross, ui)?
        }
    };
    ui.status(
        "assembling",
        &format!("the {platform} base from images/base.lock"),
    );
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let base_layer = rt
        .block_on(base::layer(&lock, opts.mirror.as_deref(), &opts.cache))
        .context("assembling the base image")?;
    let description = format!(
        "ecomctl base: {}",
        lock.packages
            .iter()
            .map(|p| format!("{}={}", p.name, p.version))
            .collect::<Vec<_>>()
            .join(" ")
    );
    let graph = CargoGraph::load(&opts.root, triple)?;
    let mut built = Vec::new();
    for &service in &opts.services {
        let name = service.crate_name();
        let path = bins.join(&name);
        let binary = std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
        if let Some(why) = platform.refuses(&binary) {
            return Err(Exit::new(
                FAILURE,
                format!("{} cannot go into a {platform} image: {why}", path.display()),
            )
            .hint(format!("build it for {triple} (on a runner of that architecture, or with --platform {platform} and a cross toolchain)"))
            .into());
        }
        if let (Some(need), Some(have)) = (glibc_needed(&binary), base_glibc(&lock)) {
            if need > have {
                return Err(Exit::new(
                    FAILURE,
                    format!("{name} needs glibc {}.{}; the base has {}.{}", need.0, need.1, have.0, have.1),
                )
                .hint("build on a machine with the base's glibc or older (CI), or move the lock to a newer Debian")
                .into());
            }
        }
        let binary_size = binary.len() as u64;
        let spec = ImageSpec {
            service: service.name(),
            binary_name: &name,
            binary,
            architecture: arch,
            variant: platform.variant(),
            base: &base_layer,
            base_description: &description,
            provenance: &provenance,
        };
        let dest = opts.out.join(service.name());
        let image = image::write(&spec, &dest)
            .with_context(|| format!("writing the {} image", service.name()))?;
        let bom = sbom::document(&graph, &name, service.name(), &image, &lock, &provenance)?;
        let bom_path = sbom_path(&opts.out, service);
        std::fs::write(
            &bom_path,
            serde_json::to_vec_pretty(&bom).unwrap_or_default(),
        )
        .with_context(|| format!("writing {}", bom_path.display()))?;
        ui.status(
            "built",
            &format!(
                "{} ({platform})  {}  {:.1} MB  {}",
                service.name(),
                image.manifest.digest,
                image.size as f64 / 1e6,
                image.dir.display()
            ),
        );
        ui.event(
            "image_built",
            json!({
                "service": service.name(),
                "digest": image.manifest.digest,
                "tag": provenance.tag,
                "platform": platform.to_string(),
                "size": image.size,
                "binary_size": binary_size,
                "layout": image.dir,
                "sbom": bom_path,
            }),
        );
        built.push(Built {
            service,
            image,
            tag: provenance.tag.clone(),
            binary_size,
        });
    }
    ui.detail(&format!(
        "built in {:.1} s",
        started.elapsed().as_secs_f64()
    ));
    Ok(built)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_highest_glibc_version_is_found() {
        let bin = b"\0GLIBC_2.2.5\0GLIBC_2.34\0GLIBC_2.17\0GLIBC_PRIVATE\0";
        assert_eq!(glibc_needed(bin), Some((2, 34)));
        assert_eq!(glibc_needed(b"nothing"), None);
    }
}
