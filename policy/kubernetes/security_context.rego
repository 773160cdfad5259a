# Container security context: non-root, no capabilities, seccomp, read-only root, no escalation.
package kubernetes.security_context

import rego.v1

# Every container with the pod spec around it.
containers contains [m, spec, c] if {
	some m in data.kubernetes.lib.workloads
	spec := data.kubernetes.lib.pod_spec(m)
	some c in data.kubernetes.lib.containers(m)
}

runs_as_root(spec, c) if data.kubernetes.lib.effective(spec, c, "runAsUser") == 0

non_root(spec, c) if {
	data.kubernetes.lib.effective(spec, c, "runAsNonRoot") == true
	not runs_as_root(spec, c)
}

# METADATA
# title: Containers run as a non-root user
# scope: rule
# custom:
#   id: ECOM-K8S-SC-001
#   severity: high
#   controls:
#     pci_dss: ["2.2.1", "2.2.6"]
#     soc2: ["CC6.1", "CC6.8"]
#   remediation: Set securityContext.runAsNonRoot = true (pod or container) and a non-zero runAsUser; build images with a numeric USER.
deny contains finding if {
	some x in containers
	[m, spec, c] := x
	not non_root(spec, c)
	finding := data.kubernetes.lib.finding("ECOM-K8S-SC-001", m, sprintf("container %s of %s may run as root (runAsNonRoot is not true)", [c.name, data.kubernetes.lib.id(m)]))
}

drops_all(c) if {
	some cap in data.kubernetes.lib.list(c.securityContext.capabilities.drop)
	upper(cap) == "ALL"
}

# Capabilities the restricted Pod Security Standard allows to be added back.
addable := {"NET_BIND_SERVICE"}

# METADATA
# title: Containers drop all Linux capabilities
# description: capabilities.drop contains ALL and nothing but NET_BIND_SERVICE is added back.
# scope: rule
# custom:
#   id: ECOM-K8S-SC-002
#   severity: medium
#   controls:
#     pci_dss: ["2.2.1", "2.2.6"]
#     soc2: ["CC6.8"]
#   remediation: Set securityContext.capabilities.drop = ["ALL"] and add back only NET_BIND_SERVICE if the process binds a low port.
deny contains finding if {
	some x in containers
	[m, _, c] := x
	not drops_all(c)
	finding := data.kubernetes.lib.finding("ECOM-K8S-SC-002", m, sprintf("container %s of %s does not drop ALL capabilities", [c.name, data.kubernetes.lib.id(m)]))
}

deny contains finding if {
	some x in containers
	[m, _, c] := x
	some cap in data.kubernetes.lib.list(c.securityContext.capabilities.add)
	not upper(cap) in addable
	finding := data.kubernetes.lib.finding("ECOM-K8S-SC-002", m, sprintf("container %s of %s adds capability %s", [c.name, data.kubernetes.lib.id(m), cap]))
}

seccomp_ok(spec, c) if data.kubernetes.lib.effective(spec, c, "seccompProfile").type in {"RuntimeDefault", "Localhost"}

# METADATA
# title: Containers use the RuntimeDefault seccomp profile
# description: seccompProfile.type is RuntimeDefault (or a Localhost profile) at pod or container level.
# scope: rule
# custom:
#   id: ECOM-K8S-SC-003
#   severity: medium
#   controls:
#     pci_dss: ["2.2.1", "2.2.6"]
#     soc2: ["CC6.8"]
#   remediation: Set spec.securityContext.seccompProfile.type = RuntimeDefault in the pod template.
deny contains finding if {
	some x in containers
	[m, spec, c] := x
	not seccomp_ok(spec, c)
	finding := data.kubernetes.lib.finding("ECOM-K8S-SC-003", m, sprintf("container %s of %s has no RuntimeDefault seccomp profile", [c.name, data.kubernetes.lib.id(m)]))
}

# METADATA
# title: Containers have a read-only root filesystem
# scope: rule
# custom:
#   id: ECOM-K8S-SC-004
#   severity: medium
#   controls:
#     pci_dss: ["2.2.6", "11.5.2"]
#     soc2: ["CC6.8"]
#   remediation: Set securityContext.readOnlyRootFilesystem = true and mount an emptyDir where the process must write.
deny contains finding if {
	some x in containers
	[m, _, c] := x
	not read_only_root(c)
	finding := data.kubernetes.lib.finding("ECOM-K8S-SC-004", m, sprintf("container %s of %s has a writable root filesystem", [c.name, data.kubernetes.lib.id(m)]))
}

read_only_root(c) if c.securityContext.readOnlyRootFilesystem == true

# METADATA
# title: No privileged containers
# scope: rule
# custom:
#   id: ECOM-K8S-SC-005
#   severity: high
#   controls:
#     pci_dss: ["2.2.1", "7.2.2"]
#     soc2: ["CC6.1", "CC6.8"]
#   remediation: Remove securityContext.privileged or set it to false.
deny contains finding if {
	some x in containers
	[m, _, c] := x
	c.securityContext.privileged == true
	finding := data.kubernetes.lib.finding("ECOM-K8S-SC-005", m, sprintf("container %s of %s is privileged", [c.name, data.kubernetes.lib.id(m)]))
}

# METADATA
# title: Containers cannot escalate privileges
# scope: rule
# custom:
#   id: ECOM-K8S-SC-006
#   severity: high
#   controls:
#     pci_dss: ["2.2.1", "7.2.2"]
#     soc2: ["CC6.1", "CC6.8"]
#   remediation: Set securityContext.allowPrivilegeEscalation = false on every container.
deny contains finding if {
	some x in containers
	[m, _, c] := x
	not no_escalation(c)
	finding := data.kubernetes.lib.finding("ECOM-K8S-SC-006", m, sprintf("container %s of %s allows privilege escalation (allowPrivilegeEscalation is not false)", [c.name, data.kubernetes.lib.id(m)]))
}

no_escalation(c) if c.securityContext.allowPrivilegeEscalation == false
