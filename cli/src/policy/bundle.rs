//! The rule files: built into the binary (so the gate needs nothing on disk), or read from a
//! policy directory laid out like `policy/` (`terraform/*.rego`, `kubernetes/*.rego`).

use super::metadata::{self, Catalogue};
use super::PolicyError;
use regorus::Engine;
use std::path::{Path, PathBuf};

/// Which rules and which input shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Domain {
    /// `policy/terraform`, over `terraform show -json`.
    Terraform,
    /// `policy/kubernetes`, over `{"manifests": [...]}`.
    Kubernetes,
}

impl Domain {
    pub const ALL: [Domain; 2] = [Domain::Terraform, Domain::Kubernetes];

    /// The directory under the policy root, which is also the first package segment.
    pub fn dir(self) -> &'static str {
        match self {
            Domain::Terraform => "terraform",
            Domain::Kubernetes => "kubernetes",
        }
    }
}

/// One `.rego` file, its path relative to the policy root (`terraform/s3.rego`).
#[derive(Debug, Clone)]
pub struct PolicyFile {
    pub path: String,
    pub text: String,
}

impl PolicyFile {
    pub fn domain(&self) -> Option<Domain> {
        Domain::ALL
            .into_iter()
            .find(|d| self.path.starts_with(&format!("{}/", d.dir())))
    }

    pub fn is_test(&self) -> bool {
        self.path.ends_with("_test.rego")
    }
}

/// A set of rule files and where they came from.
#[derive(Debug, Clone)]
pub struct Bundle {
    /// The directory read, or `None` for the files built into ecomctl.
    pub root: Option<PathBuf>,
    pub files: Vec<PolicyFile>,
}

/// The repository's `policy/` tree at build time.
pub const EMBEDDED: &[(&str, &str)] = &[
    (
        "terraform/alb.rego",
        include_str!("../../../policy/terraform/alb.rego"),
    ),
    (
        "terraform/alb_test.rego",
        include_str!("../../../policy/terraform/alb_test.rego"),
    ),
    (
        "terraform/audit.rego",
        include_str!("../../../policy/terraform/audit.rego"),
    ),
    (
        "terraform/audit_test.rego",
        include_str!("../../../policy/terraform/audit_test.rego"),
    ),
    (
        "terraform/cognito.rego",
        include_str!("../../../policy/terraform/cognito.rego"),
    ),
    (
        "terraform/cognito_test.rego",
        include_str!("../../../policy/terraform/cognito_test.rego"),
    ),
    (
        "terraform/ecr.rego",
        include_str!("../../../policy/terraform/ecr.rego"),
    ),
    (
        "terraform/ecr_test.rego",
        include_str!("../../../policy/terraform/ecr_test.rego"),
    ),
    (
        "terraform/eks.rego",
        include_str!("../../../policy/terraform/eks.rego"),
    ),
    (
        "terraform/eks_test.rego",
        include_str!("../../../policy/terraform/eks_test.rego"),
    ),
    (
        "terraform/encryption.rego",
        include_str!("../../../policy/terraform/encryption.rego"),
    ),
    (
        "terraform/encryption_test.rego",
        include_str!("../../../policy/terraform/encryption_test.rego"),
    ),
    (
        "terraform/iam.rego",
        include_str!("../../../policy/terraform/iam.rego"),
    ),
    (
        "terraform/iam_test.rego",
        include_str!("../../../policy/terraform/iam_test.rego"),
    ),
    (
        "terraform/lib.rego",
        include_str!("../../../policy/terraform/lib.rego"),
    ),
    (
        "terraform/lib_test.rego",
        include_str!("../../../policy/terraform/lib_test.rego"),
    ),
    (
        "terraform/network.rego",
        include_str!("../../../policy/terraform/network.rego"),
    ),
    (
        "terraform/network_test.rego",
        include_str!("../../../policy/terraform/network_test.rego"),
    ),
    (
        "terraform/rds.rego",
        include_str!("../../../policy/terraform/rds.rego"),
    ),
    (
        "terraform/rds_test.rego",
        include_str!("../../../policy/terraform/rds_test.rego"),
    ),
    (
        "terraform/s3.rego",
        include_str!("../../../policy/terraform/s3.rego"),
    ),
    (
        "terraform/s3_test.rego",
        include_str!("../../../policy/terraform/s3_test.rego"),
    ),
    (
        "terraform/tags.rego",
        include_str!("../../../policy/terraform/tags.rego"),
    ),
    (
        "terraform/tags_test.rego",
        include_str!("../../../policy/terraform/tags_test.rego"),
    ),
    (
        "kubernetes/availability.rego",
        include_str!("../../../policy/kubernetes/availability.rego"),
    ),
    (
        "kubernetes/availability_test.rego",
        include_str!("../../../policy/kubernetes/availability_test.rego"),
    ),
    (
        "kubernetes/host.rego",
        include_str!("../../../policy/kubernetes/host.rego"),
    ),
    (
        "kubernetes/host_test.rego",
        include_str!("../../../policy/kubernetes/host_test.rego"),
    ),
    (
        "kubernetes/images.rego",
        include_str!("../../../policy/kubernetes/images.rego"),
    ),
    (
        "kubernetes/images_test.rego",
        include_str!("../../../policy/kubernetes/images_test.rego"),
    ),
    (
        "kubernetes/lib.rego",
        include_str!("../../../policy/kubernetes/lib.rego"),
    ),
    (
        "kubernetes/lib_test.rego",
        include_str!("../../../policy/kubernetes/lib_test.rego"),
    ),
    (
        "kubernetes/namespaces.rego",
        include_str!("../../../policy/kubernetes/namespaces.rego"),
    ),
    (
        "kubernetes/namespaces_test.rego",
        include_str!("../../../policy/kubernetes/namespaces_test.rego"),
    ),
    (
        "kubernetes/network.rego",
        include_str!("../../../policy/kubernetes/network.rego"),
    ),
    (
        "kubernetes/network_test.rego",
        include_str!("../../../policy/kubernetes/network_test.rego"),
    ),
    (
        "kubernetes/resources.rego",
        include_str!("../../../policy/kubernetes/resources.rego"),
    ),
    (
        "kubernetes/resources_test.rego",
        include_str!("../../../policy/kubernetes/resources_test.rego"),
    ),
    (
        "kubernetes/security_context.rego",
        include_str!("../../../policy/kubernetes/security_context.rego"),
    ),
    (
        "kubernetes/security_context_test.rego",
        include_str!("../../../policy/kubernetes/security_context_test.rego"),
    ),
    (
        "kubernetes/serviceaccounts.rego",
        include_str!("../../../policy/kubernetes/serviceaccounts.rego"),
    ),
    (
        "kubernetes/serviceaccounts_test.rego",
        include_str!("../../../policy/kubernetes/serviceaccounts_test.rego"),
    ),
];

impl Bundle {
    /// The rules built into this binary.
    pub fn embedded() -> Bundle {
        Bundle {
            root: None,
            files: EMBEDDED
                .iter()
                .map(|(path, text)| PolicyFile {
                    path: (*path).to_string(),
                    text: (*text).to_string(),
                })
                .collect(),
        }
    }

    /// Every `*.rego` file in `<root>/terraform` and `<root>/kubernetes` (not recursive).
    pub fn from_dir(root: &Path) -> Result<Bundle, PolicyError> {
        let mut files = Vec::new();
        for domain in Domain::ALL {
            let dir = root.join(domain.dir());
            if !dir.is_dir() {
                continue;
            }
            let read = |e| PolicyError::Read {
                path: dir.clone(),
                source: e,
            };
            let mut names = Vec::new();
            for entry in std::fs::read_dir(&dir).map_err(read)? {
                let entry = entry.map_err(read)?;
                let name = entry.file_name().to_string_lossy().into_owned();
                if name.ends_with(".rego") && entry.path().is_file() {
                    names.push(name);
                }
            }
            names.sort();
            for name in names {
                let path = dir.join(&name);
                let text = std::fs::read_to_string(&path).map_err(|e| PolicyError::Read {
                    path: path.clone(),
                    source: e,
                })?;
                files.push(PolicyFile {
                    path: format!("{}/{name}", domain.dir()),
                    text,
                });
            }
        }
        if files.is_empty() {
            return Err(PolicyError::Empty(root.display().to_string()));
        }
        Ok(Bundle {
            root: Some(root.to_path_buf()),
            files,
        })
    }

    /// Where a file is, for messages and SARIF: `policy/terraform/s3.rego` for built-in rules.
    pub fn display_path(&self, rel: &str) -> String {
        match &self.root {
            Some(root) => root.join(rel).display().to_string(),
            None => format!("policy/{rel}"),
        }
    }

    pub fn files_of(&self, domain: Domain) -> impl Iterator<Item = &PolicyFile> {
        self.files
            .iter()
            .filter(move |f| f.domain() == Some(domain))
    }

    /// The rule catalogue read from the METADATA blocks of every rule file.
    pub fn catalogue(&self) -> Result<Catalogue, PolicyError> {
        let mut catalogue = Catalogue::default();
        for file in self.files.iter().filter(|f| !f.is_test()) {
            let Some(domain) = file.domain() else {
                continue;
            };
            for rule in metadata::parse_file(domain, &file.path, &file.text)? {
                catalogue.insert(rule, &self.display_path(&file.path))?;
            }
        }
        Ok(catalogue)
    }

    /// An engine holding the rule files of `domain`, and their tests when `tests` is set.
    pub fn engine(&self, domain: Domain, tests: bool) -> Result<Engine, PolicyError> {
        let mut engine = Engine::new();
        let mut any = false;
        for file in self.files_of(domain).filter(|f| tests || !f.is_test()) {
            engine
                .add_policy(self.display_path(&file.path), file.text.clone())
                .map_err(|e| PolicyError::Rego {
                    file: self.display_path(&file.path),
                    message: e.to_string(),
                })?;
            any = true;
        }
        if !any {
            return Err(PolicyError::Empty(self.display_path(domain.dir())));
        }
        Ok(engine)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_list_matches_the_policy_directory() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../policy");
        let on_disk = Bundle::from_dir(&root).unwrap();
        let disk: Vec<&str> = on_disk.files.iter().map(|f| f.path.as_str()).collect();
        let mut embedded: Vec<&str> = EMBEDDED.iter().map(|(p, _)| *p).collect();
        embedded.sort();
        let mut disk_sorted = disk.clone();
        disk_sorted.sort();
        assert_eq!(
            embedded, disk_sorted,
            "policy/ changed: update EMBEDDED in cli/src/policy/bundle.rs"
        );
    }
}
