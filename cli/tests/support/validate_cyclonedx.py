"""Validates a CycloneDX JSON document against the official schema (as shipped in the npm package
@cyclonedx/cyclonedx-library, res/schema/), with the spdx and jsf schemas it refers to.

Usage: validate_cyclonedx.py SCHEMA_DIR BOM_JSON
Exit 0 and "valid" when it validates; exit 1 with every error otherwise.
"""
import json
import pathlib
import sys

from jsonschema import Draft7Validator
from referencing import Registry, Resource

schemas = pathlib.Path(sys.argv[1])
bom = json.loads(pathlib.Path(sys.argv[2]).read_text())
registry = Registry()
for name in ("bom-1.6.SNAPSHOT.schema.json", "spdx.SNAPSHOT.schema.json", "jsf-0.82.SNAPSHOT.schema.json"):
    doc = json.loads((schemas / name).read_text())
    resource = Resource.from_contents(doc)
    registry = registry.with_resource(doc.get("$id", name), resource)
    registry = registry.with_resource("http://cyclonedx.org/schema/" + name, resource)
schema = json.loads((schemas / "bom-1.6.SNAPSHOT.schema.json").read_text())
validator = Draft7Validator(schema, registry=registry, format_checker=Draft7Validator.FORMAT_CHECKER)
errors = sorted(validator.iter_errors(bom), key=lambda e: list(e.absolute_path))
for e in errors[:20]:
    print("/".join(map(str, e.absolute_path)), e.message[:300], file=sys.stderr)
if errors:
    sys.exit(1)
print("valid")
