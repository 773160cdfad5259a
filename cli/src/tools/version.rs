//! Tool versions and the constraints the config puts on them (`>= 1.6, < 2.0`).

use std::cmp::Ordering;
use std::fmt;

/// A dotted version; missing parts count as zero (`1.6` == `1.6.0`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Version(pub Vec<u64>);

impl Version {
    /// Reads `1.6.2`, `v1.6.2` or `1.10.0-beta1` (the pre-release part is ignored).
    pub fn parse(text: &str) -> Option<Version> {
        let core = text.trim().trim_start_matches('v');
        let core = core.split(['-', '+']).next()?;
        let parts: Option<Vec<u64>> = core.split('.').map(|p| p.parse().ok()).collect();
        parts.filter(|p| !p.is_empty() && p.len() <= 4).map(Version)
    }

    pub fn at_least(&self, other: &[u64]) -> bool {
        self.cmp(&Version(other.to_vec())) != Ordering::Less
    }
}

impl Ord for Version {
    fn cmp(&self, other: &Self) -> Ordering {
        let n = self.0.len().max(other.0.len());
        (0..n)
            .map(|i| {
                self.0
                    .get(i)
                    .unwrap_or(&0)
                    .cmp(other.0.get(i).unwrap_or(&0))
            })
            .find(|o| *o != Ordering::Equal)
            .unwrap_or(Ordering::Equal)
    }
}

impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self.0.iter().map(u64::to_string).collect();
        f.write_str(&parts.join("."))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Ge,
    Gt,
    Le,
    Lt,
    Eq,
    Ne,
    /// `~> 1.6`: at least 1.6, below 2.0 (the last given part may grow).
    Pessimistic,
}

/// Comma-separated requirements, all of which must hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Constraint(Vec<(Op, Version)>);

impl Constraint {
    pub fn parse(text: &str) -> Result<Constraint, String> {
        let mut reqs = Vec::new();
        for part in text.split(',') {
            let part = part.trim();
            let (op, rest) = [
                (">=", Op::Ge),
                ("<=", Op::Le),
                ("!=", Op::Ne),
                ("~>", Op::Pessimistic),
                (">", Op::Gt),
                ("<", Op::Lt),
                ("=", Op::Eq),
            ]
            .iter()
            .find_map(|(s, op)| part.strip_prefix(s).map(|r| (*op, r)))
            .unwrap_or((Op::Eq, part));
            let version = Version::parse(rest).ok_or_else(|| {
                format!("`{part}` is not a version requirement (like `>= 1.6` or `~> 1.9`)")
            })?;
            reqs.push((op, version));
        }
        Ok(Constraint(reqs))
    }

    /// The lowest version the constraint names with `>=`, `=` or `~>`, if any.
    pub fn floor(&self) -> Option<Version> {
        self.0
            .iter()
            .filter(|(op, _)| matches!(op, Op::Ge | Op::Eq | Op::Pessimistic))
            .map(|(_, v)| v.clone())
            .max()
    }

    pub fn matches(&self, v: &Version) -> bool {
        self.0.iter().all(|(op, want)| match op {
            Op::Ge => v >= want,
            Op::Gt => v > want,
            Op::Le => v <= want,
            Op::Lt => v < want,
            Op::Eq => v == want,
            Op::Ne => v != want,
            Op::Pessimistic => {
                let mut upper = want.0.clone();
                if upper.len() > 1 {
                    upper.pop();
                }
                if let Some(last) = upper.last_mut() {
                    *last += 1;
                }
                v >= want && *v < Version(upper)
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(c: &str, v: &str) -> bool {
        Constraint::parse(c)
            .unwrap()
            .matches(&Version::parse(v).unwrap())
    }

    #[test]
    fn constraints_hold_as_terraform_reads_them() {
        assert!(ok(">= 1.6", "1.9.8"));
        assert!(!ok(">= 1.6", "1.0.3"));
        assert!(ok(">= 1.6, < 2.0", "1.14.0"));
        assert!(!ok(">= 1.6, < 2.0", "2.0.0"));
        assert!(ok("~> 1.6", "1.99"));
        assert!(!ok("~> 1.6", "2.0"));
        assert!(ok("~> 1.6.2", "1.6.9"));
        assert!(!ok("~> 1.6.2", "1.7.0"));
        assert!(ok("1.0.3", "v1.0.3"));
        assert!(Constraint::parse(">= one").is_err());
    }
}
