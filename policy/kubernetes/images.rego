# Images: a real tag everywhere, an immutable digest in prod.
package kubernetes.images

import rego.v1

images contains [m, c, image] if {
	some m in data.kubernetes.lib.workloads
	some c in data.kubernetes.lib.containers(m)
	image := c.image
	is_string(image)
}

has_digest(image) if contains(image, "@sha256:")

# The tag: what follows the last ":" of the last path segment ("" when there is none).
tag(image) := t if {
	segments := split(split(image, "@")[0], "/")
	last := segments[count(segments) - 1]
	parts := split(last, ":")
	count(parts) == 2
	t := parts[1]
} else := ""

# METADATA
# title: Images are not untagged or latest
# description: Every image names a tag other than latest, or a digest.
# scope: rule
# custom:
#   id: ECOM-K8S-IMG-001
#   severity: medium
#   controls:
#     pci_dss: ["6.5.1", "6.3.2"]
#     soc2: ["CC8.1"]
#   remediation: Reference images by an explicit version tag (the release version or commit sha), and by digest in prod.
deny contains finding if {
	some x in images
	[m, c, image] := x
	not has_digest(image)
	tag(image) in {"", "latest"}
	finding := data.kubernetes.lib.finding("ECOM-K8S-IMG-001", m, sprintf("container %s of %s uses image %s without a fixed tag", [c.name, data.kubernetes.lib.id(m), image]))
}

# METADATA
# title: Production images are pinned by digest
# description: When data.ecomctl.environment is prod every image reference carries @sha256:.
# scope: rule
# custom:
#   id: ECOM-K8S-IMG-002
#   severity: high
#   controls:
#     pci_dss: ["6.5.1", "6.3.2"]
#     soc2: ["CC8.1", "CC7.1"]
#   remediation: Deploy with image references of the form registry/repo:tag@sha256:<digest>; ecomctl fills the digest from the registry after the push.
deny contains finding if {
	data.kubernetes.lib.is_prod
	some x in images
	[m, c, image] := x
	not has_digest(image)
	finding := data.kubernetes.lib.finding("ECOM-K8S-IMG-002", m, sprintf("container %s of %s uses image %s without a digest in prod", [c.name, data.kubernetes.lib.id(m), image]))
}
