"""An independent check of a cosign signature (Python `cryptography`, not ecomctl's code).

Usage: verify_cosign.py PUBLIC_KEY_PEM SKOPEO_DIR IMAGE_DIGEST

SKOPEO_DIR is what `skopeo copy docker://REPO:sha256-<hex>.sig dir:SKOPEO_DIR` wrote: manifest.json
and each blob under its hex digest. For every simple-signing layer: the payload's SHA-256 must be
the layer digest, the payload must name IMAGE_DIGEST, and the ECDSA P-256/SHA-256 signature in the
cosign annotation must verify over the payload; the same payload with one byte changed must not.
Prints {"valid": N, "tampered_rejected": M, "layers": L} as JSON.
"""
import base64
import hashlib
import json
import pathlib
import sys

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

key = serialization.load_pem_public_key(pathlib.Path(sys.argv[1]).read_bytes())
assert isinstance(key, ec.EllipticCurvePublicKey) and key.curve.name == "secp256r1"
blobs = pathlib.Path(sys.argv[2])
digest = sys.argv[3]
manifest = json.loads((blobs / "manifest.json").read_text())


def verifies(payload: bytes, sig: bytes) -> bool:
    try:
        key.verify(sig, payload, ec.ECDSA(hashes.SHA256()))
        return True
    except InvalidSignature:
        return False


valid = tampered_rejected = layers = 0
for layer in manifest["layers"]:
    if layer["mediaType"] != "application/vnd.dev.cosign.simplesigning.v1+json":
        continue
    layers += 1
    hexd = layer["digest"].split(":", 1)[1]
    payload = (blobs / hexd).read_bytes()
    assert hashlib.sha256(payload).hexdigest() == hexd, "payload does not match its digest"
    sig = base64.b64decode(layer["annotations"]["dev.cosignproject.cosign/signature"])
    names = json.loads(payload)["critical"]["image"]["docker-manifest-digest"] == digest
    if names and verifies(payload, sig):
        valid += 1
    tampered = payload.replace(digest.encode(), digest[:-1].encode() + (b"0" if digest[-1] != "0" else b"1"))
    assert tampered != payload
    if not verifies(tampered, sig):
        tampered_rejected += 1
print(json.dumps({"valid": valid, "tampered_rejected": tampered_rejected, "layers": layers}))
