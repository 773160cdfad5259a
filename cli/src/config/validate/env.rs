//! Checks of one environment: network, cluster, database, registry and edge, namespaces and
//! services.

use super::*;

fn quantity_millis(cpu: &str) -> Option<f64> {
    match cpu.strip_suffix('m') {
        Some(m) => m.parse::<f64>().ok(),
        None => cpu.parse::<f64>().ok().map(|c| c * 1000.0),
    }
}

fn quantity_bytes(mem: &str) -> Option<f64> {
    let split = mem
        .find(|ch: char| !ch.is_ascii_digit())
        .unwrap_or(mem.len());
    let (n, unit) = mem.split_at(split);
    let n: f64 = n.parse().ok()?;
    let mult = match unit {
        "" => 1.0,
        "k" => 1e3,
        "M" => 1e6,
        "G" => 1e9,
        "T" => 1e12,
        "Ki" => 1024.0,
        "Mi" => 1024.0 * 1024.0,
        "Gi" => 1024.0_f64.powi(3),
        "Ti" => 1024.0_f64.powi(4),
        _ => return None,
    };
    Some(n * mult)
}

/// Checks one environment; returns its VPC network when the CIDR is usable.
pub(super) fn environment(
    o: &mut Out,
    c: &Config,
    name: &str,
    env: &Environment,
    p: &str,
) -> Option<Ipv4Net> {
    let prod = Environment::is_prod(name);
    account(o, &format!("{p}.account"), &env.account);
    if env.account.account_id == c.shared_services.account_id {
        o.hint(
            format!("{p}.account.account_id"),
            "is the shared-services account",
            "each environment belongs in its own account",
        );
    }
    if let Some(r) = &env.region {
        region(o, &format!("{p}.region"), r);
    }
    if prod && env.deletion_protection == Some(false) {
        o.err(format!("{p}.deletion_protection"), "must be true in prod");
    }
    let net = network(o, env, p, prod);
    cluster(o, env, p, prod);
    database(o, c, env, p, prod);
    registry_and_edge(o, c, name, env, p);
    namespaces(o, env, p);
    services(o, &env.services, p);
    net
}

/// The VPC: one usable /16, 2 or 3 AZs (3 and a NAT gateway per AZ in prod).
fn network(o: &mut Out, env: &Environment, p: &str, prod: bool) -> Option<Ipv4Net> {
    let vp = format!("{p}.vpc");
    let net = match env.vpc.cidr.parse::<Ipv4Net>() {
        Err(_) => {
            o.hint(
                format!("{vp}.cidr"),
                format!("\"{}\" is not an IPv4 CIDR", env.vpc.cidr),
                "write it like 10.20.0.0/16",
            );
            None
        }
        Ok(n) if n.prefix_len() != 16 => {
            o.hint(
                format!("{vp}.cidr"),
                format!("{n} is a /{}, not a /16", n.prefix_len()),
                "the subnet plan splits exactly one /16 per environment",
            );
            None
        }
        Ok(n) if n.addr() != n.network() => {
            o.hint(
                format!("{vp}.cidr"),
                format!("{n} has host bits set"),
                format!("did you mean {}?", n.trunc()),
            );
            None
        }
        Ok(n) => Some(n),
    };
    if !(2..=3).contains(&env.vpc.az_count) {
        o.err(
            format!("{vp}.az_count"),
            format!("must be 2 or 3, found {}", env.vpc.az_count),
        );
    } else if prod && env.vpc.az_count < 3 {
        o.hint(
            format!("{vp}.az_count"),
            "prod must span 3 availability zones",
            "set az_count: 3",
        );
    }
    if prod && env.vpc.single_nat_gateway == Some(true) {
        o.hint(
            format!("{vp}.single_nat_gateway"),
            "prod needs a NAT gateway per AZ",
            "remove single_nat_gateway in prod",
        );
    }
    if let Some(t) = &env.vpc.transit_gateway_id {
        o.pattern(
            &format!("{vp}.transit_gateway_id"),
            t,
            &TGW_ID,
            "a Transit Gateway id (tgw-…)",
        );
    }
    net
}

/// EKS: version, API access, node groups (Graviton in prod), Fargate profiles.
fn cluster(o: &mut Out, env: &Environment, p: &str, prod: bool) {
    let ep = format!("{p}.eks");
    o.pattern(
        &format!("{ep}.version"),
        &env.eks.version,
        &EKS_VERSION,
        "a Kubernetes minor version (like 1.33)",
    );
    for (i, cidr) in env.eks.public_access_cidrs.iter().enumerate() {
        let f = format!("{ep}.public_access_cidrs[{i}]");
        match cidr.parse::<ipnet::IpNet>() {
            Err(_) => o.err(f, format!("\"{cidr}\" is not a CIDR")),
            Ok(n) if n.prefix_len() == 0 => o.hint(
                f,
                "opens the cluster API to the whole internet",
                "list your office or VPN ranges, or leave the list empty for a private endpoint",
            ),
            Ok(_) => {}
        }
    }
    if env.eks.node_groups.is_empty() {
        o.err(format!("{ep}.node_groups"), "needs at least one node group");
    }
    for (ng_name, ng) in &env.eks.node_groups {
        let f = format!("{ep}.node_groups.{ng_name}");
        if ng.max_size < 1 {
            o.err(format!("{f}.max_size"), "must be at least 1");
        }
        if ng.min_size > ng.desired_size || ng.desired_size > ng.max_size {
            o.hint(
                format!("{f}.desired_size"),
                format!(
                    "must lie between min_size ({}) and max_size ({}), found {}",
                    ng.min_size, ng.max_size, ng.desired_size
                ),
                "min_size <= desired_size <= max_size",
            );
        }
        if ng.instance_types.is_empty() {
            o.err(
                format!("{f}.instance_types"),
                "needs at least one instance type",
            );
        }
        for (i, t) in ng.instance_types.iter().enumerate() {
            let tf = format!("{f}.instance_types[{i}]");
            match INSTANCE_TYPE.captures(t) {
                None => o.err(
                    tf,
                    format!("\"{t}\" is not an EC2 instance type (like m7g.large)"),
                ),
                Some(caps) => {
                    let graviton = caps[3].contains('g');
                    if graviton != (ng.architecture == Architecture::Arm64) {
                        let arch = if graviton {
                            "arm64 (Graviton)"
                        } else {
                            "x86_64"
                        };
                        o.hint(
                            tf,
                            format!(
                                "{t} is an {arch} type but the node group's architecture is {:?}",
                                ng.architecture
                            )
                            .to_lowercase(),
                            "match instance_types to architecture",
                        );
                    }
                }
            }
        }
        if prod && ng.architecture != Architecture::Arm64 {
            o.hint(
                format!("{f}.architecture"),
                "prod node groups run on Graviton",
                "set architecture: arm64",
            );
        }
        if ng.disk_size_gib < 20 {
            o.err(format!("{f}.disk_size_gib"), "must be at least 20");
        }
    }
    for (fp_name, fp) in &env.eks.fargate_profiles {
        let f = format!("{ep}.fargate_profiles.{fp_name}.namespaces");
        if fp.namespaces.is_empty() || fp.namespaces.len() > 5 {
            o.err(f, "needs 1 to 5 namespaces");
        }
    }
}

/// RDS: class, storage, backups (7 days and Multi-AZ in prod), a DR region for a replica.
fn database(o: &mut Out, c: &Config, env: &Environment, p: &str, prod: bool) {
    let rp = format!("{p}.rds");
    o.pattern(
        &format!("{rp}.instance_class"),
        &env.rds.instance_class,
        &DB_CLASS,
        "an RDS instance class (like db.t4g.medium)",
    );
    if env.rds.allocated_storage_gib < 20 {
        o.err(format!("{rp}.allocated_storage_gib"), "must be at least 20");
    }
    if let Some(max) = env.rds.max_allocated_storage_gib {
        if max < env.rds.allocated_storage_gib {
            o.err(
                format!("{rp}.max_allocated_storage_gib"),
                format!(
                    "must be at least allocated_storage_gib ({})",
                    env.rds.allocated_storage_gib
                ),
            );
        }
    }
    if !(1..=35).contains(&env.rds.backup_retention_days) {
        o.err(
            format!("{rp}.backup_retention_days"),
            format!("must be 1 to 35, found {}", env.rds.backup_retention_days),
        );
    } else if prod && env.rds.backup_retention_days < 7 {
        o.hint(
            format!("{rp}.backup_retention_days"),
            "prod keeps at least 7 days of backups",
            "set 7 or more",
        );
    }
    if prod && !env.rds.multi_az {
        o.hint(
            format!("{rp}.multi_az"),
            "must be true in prod",
            "a single-AZ database is a single point of failure",
        );
    }
    if env.rds.cross_region_replica && c.regions.dr.is_none() {
        o.hint(
            format!("{rp}.cross_region_replica"),
            "needs a DR region",
            "set regions.dr",
        );
    }
}

/// ECR repositories, log retention, budget, WAF and the images an environment deploys.
fn registry_and_edge(o: &mut Out, c: &Config, name: &str, env: &Environment, p: &str) {
    let mut seen = Vec::new();
    for (i, r) in env.ecr.repositories.iter().enumerate() {
        let f = format!("{p}.ecr.repositories[{i}]");
        if o.pattern(&f, r, &ECR_NAME, "an ECR repository name") && seen.contains(&r) {
            o.err(f, format!("\"{r}\" is listed twice"));
        }
        seen.push(r);
    }
    if !LOG_RETENTION_DAYS.contains(&env.observability.log_retention_days) {
        let near = LOG_RETENTION_DAYS
            .iter()
            .min_by_key(|d| d.abs_diff(env.observability.log_retention_days))
            .copied()
            .unwrap_or(365);
        o.hint(
            format!("{p}.observability.log_retention_days"),
            format!(
                "CloudWatch does not accept {} days",
                env.observability.log_retention_days
            ),
            format!("the nearest it accepts is {near}"),
        );
    }
    if env.guardrails.monthly_budget_usd == 0 {
        o.err(
            format!("{p}.guardrails.monthly_budget_usd"),
            "must be at least 1 (USD per month)",
        );
    }
    if env.waf.rate_limit < 100 {
        o.err(
            format!("{p}.waf.rate_limit"),
            "must be at least 100 requests per 5 minutes",
        );
    }
    if let Some(tag) = &env.images.tag {
        if tag == "latest" {
            o.hint(
                format!("{p}.images.tag"),
                "`latest` is not a release",
                "deploy a versioned tag or per-service digests",
            );
        } else {
            o.pattern(&format!("{p}.images.tag"), tag, &IMAGE_TAG, "an image tag");
        }
    }

    if let Some(from) = &env.images.promoted_from {
        if from == name || !c.environments.contains_key(from) {
            o.err(
                format!("{p}.images.promoted_from"),
                format!("\"{from}\" is not another environment of this config"),
            );
        }
    }
}

/// Namespace quotas.
fn namespaces(o: &mut Out, env: &Environment, p: &str) {
    for (ns, q) in &env.namespaces {
        let f = format!("{p}.namespaces.{ns}");
        o.pattern(
            &format!("{f}.cpu"),
            &q.cpu,
            &CPU,
            "a CPU quantity (like 4 or 500m)",
        );
        o.pattern(
            &format!("{f}.memory"),
            &q.memory,
            &MEMORY,
            "a memory quantity (like 8Gi)",
        );
        if q.pods < 1 {
            o.err(format!("{f}.pods"), "must be at least 1");
        }
    }
}

fn services(o: &mut Out, services: &BTreeMap<String, Service>, p: &str) {
    for (name, s) in services {
        let f = format!("{p}.services.{name}");
        if !SERVICES.contains(&name.as_str()) {
            let hint = nearest(name, SERVICES)
                .map(|n| format!("did you mean `{n}`?"))
                .unwrap_or_else(|| format!("the services are {}", SERVICES.join(", ")));
            o.hint(&f, format!("there is no service `{name}`"), hint);
            continue;
        }
        let r = &s.resources;
        let cpu_ok = o.pattern(
            &format!("{f}.resources.cpu_request"),
            &r.cpu_request,
            &CPU,
            "a CPU quantity",
        ) & o.pattern(
            &format!("{f}.resources.cpu_limit"),
            &r.cpu_limit,
            &CPU,
            "a CPU quantity",
        );
        if cpu_ok && quantity_millis(&r.cpu_request) > quantity_millis(&r.cpu_limit) {
            o.err(
                format!("{f}.resources.cpu_request"),
                format!("{} is above the limit {}", r.cpu_request, r.cpu_limit),
            );
        }
        let mem_ok = o.pattern(
            &format!("{f}.resources.memory_request"),
            &r.memory_request,
            &MEMORY,
            "a memory quantity",
        ) & o.pattern(
            &format!("{f}.resources.memory_limit"),
            &r.memory_limit,
            &MEMORY,
            "a memory quantity",
        );
        if mem_ok && quantity_bytes(&r.memory_request) > quantity_bytes(&r.memory_limit) {
            o.err(
                format!("{f}.resources.memory_request"),
                format!("{} is above the limit {}", r.memory_request, r.memory_limit),
            );
        }
        let floor = s.pdb.as_ref().map(|pdb| pdb.min_available + 1);
        if let Some(floor) = floor {
            if s.replicas < floor {
                o.hint(
                    format!("{f}.replicas"),
                    format!(
                        "{} replica(s) with a PDB minAvailable of {} blocks every drain",
                        s.replicas,
                        floor - 1
                    ),
                    format!("run at least {floor} replicas or lower pdb.min_available"),
                );
            }
        }
        if let Some(h) = &s.hpa {
            if h.min_replicas < 1 || h.min_replicas > h.max_replicas {
                o.err(
                    format!("{f}.hpa.min_replicas"),
                    format!("must be between 1 and max_replicas ({})", h.max_replicas),
                );
            } else if let Some(floor) = floor.filter(|fl| h.min_replicas < *fl) {
                o.hint(
                    format!("{f}.hpa.min_replicas"),
                    "is below what the PDB needs",
                    format!("at least {floor}"),
                );
            }
            if !(1..=100).contains(&h.target_cpu_percent) {
                o.err(format!("{f}.hpa.target_cpu_percent"), "must be 1 to 100");
            }
        }
        if let Some(d) = &s.digest {
            o.pattern(
                &format!("{f}.digest"),
                d,
                &DIGEST,
                "an image digest (sha256: and 64 hex digits)",
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantities_compare_across_units() {
        assert!(quantity_millis("250m") < quantity_millis("1"));
        assert!(quantity_bytes("512Mi") < quantity_bytes("1Gi"));
        assert_eq!(quantity_bytes("1k"), Some(1000.0));
    }
}
