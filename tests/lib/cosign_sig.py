#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""cosign_sig: cosign-format image signatures for limpet's registry tests.

limpet checks the `sha256-<hex>.sig` attachments cosign and containers/image
push beside an image. Debian 12's skopeo cannot make them (its sigstore
signing is patched out) but still copies them from a `dir:` image into a
registry: this makes the signature as containers/image 5.23.1
`signature/sigstore/sign.go signDockerManifest` does, in the file format of
its `dir:` transport (`internal/signature/signature.go Blob`), so that
`skopeo --registries.d D copy dir:X docker://...` pushes it.

  keygen PRIV PUB [--rsa BITS]
      an EC P-256 key pair (or RSA): PRIV as PKCS#8 PEM for `sign`, PUB as a
      SubjectPublicKeyInfo PEM ("BEGIN PUBLIC KEY", the form cosign.pub has
      and limpet's --trust and `trust = [...]` read).
  sign --key PRIV --ref REF (--manifest FILE | --digest sha256:HEX) [--out FILE]
      payload {"critical":{"identity":{"docker-reference":REF},
               "image":{"docker-manifest-digest":D},
               "type":"cosign container image signature"},
               "optional":{"creator":"containers/image 5.23.1","timestamp":T}}
      (Go's json.Marshal of maps: sorted keys, no spaces); D = sha256 of the
      manifest bytes, or --digest (with --manifest too: a signature for
      another image, for refusal tests); signature = ASN.1 DER ECDSA over
      SHA-256(payload) (RSA: PKCS#1 v1.5), standard base64 in the annotation
      dev.cosignproject.cosign/signature. The file written (default
      signature-1 beside the manifest; --append takes the next free
      signature-N) is b"\\0sigstore-json\\n" + {"mimeType":..,"payload":..,
      "annotations":{..}}. --optional-null writes "optional":null as cosign
      itself does; a REF without a tag is signed as given (cosign records
      only the repository).
  verify --pub PUB (--blob FILE | --payload FILE --signature B64)
      check a signature-N file (or a .sig layer's payload and annotation)
      with PUB; print the payload's reference and digest; exit 1 if bad.

/usr/bin/python3 (python3-cryptography).
"""

import argparse
import base64
import hashlib
import json
import os
import sys
import time

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from tlsserver import write_atomic

MIME_TYPE = "application/vnd.dev.cosign.simplesigning.v1+json"
ANNOTATION = "dev.cosignproject.cosign/signature"
SIG_TYPE = "cosign container image signature"
CREATOR = "containers/image 5.23.1"
BLOB_PREFIX = b"\x00sigstore-json\n"


def gojson(obj, sort_keys=True):
    """Go's json.Marshal: no spaces; map keys sorted (structs keep their order)."""
    return json.dumps(obj, separators=(",", ":"), sort_keys=sort_keys, ensure_ascii=False).encode()


def keygen(priv, pub, rsa_bits=None):
    key = (rsa.generate_private_key(65537, rsa_bits) if rsa_bits
           else ec.generate_private_key(ec.SECP256R1()))
    write_atomic(priv, key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()), 0o600)
    write_atomic(pub, key.public_key().public_bytes(serialization.Encoding.PEM,
                                                  serialization.PublicFormat.SubjectPublicKeyInfo))


def payload(ref, digest, optional_null=False, timestamp=None):
    optional = None if optional_null else {
        "creator": CREATOR, "timestamp": int(time.time()) if timestamp is None else timestamp}
    return gojson({"critical": {"identity": {"docker-reference": ref},
                                "image": {"docker-manifest-digest": digest},
                                "type": SIG_TYPE},
                   "optional": optional})


def sign_bytes(key, data):
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return key.sign(data, ec.ECDSA(hashes.SHA256()))
    if isinstance(key, rsa.RSAPrivateKey):
        return key.sign(data, padding.PKCS1v15(), hashes.SHA256())
    raise ValueError("only EC and RSA keys")


def verify_bytes(pub, data, sig):
    if isinstance(pub, ec.EllipticCurvePublicKey):
        pub.verify(sig, data, ec.ECDSA(hashes.SHA256()))
    elif isinstance(pub, rsa.RSAPublicKey):
        pub.verify(sig, data, padding.PKCS1v15(), hashes.SHA256())
    else:
        raise ValueError("only EC and RSA keys")


def signature_blob(key, data):
    sig = base64.b64encode(sign_bytes(key, data)).decode()
    # struct order (mimeType, payload, annotations), as Go marshals the struct
    return BLOB_PREFIX + gojson({"mimeType": MIME_TYPE, "payload": base64.b64encode(data).decode(),
                                 "annotations": {ANNOTATION: sig}}, sort_keys=False)


def next_signature_path(directory):
    n = 1
    while os.path.exists(os.path.join(directory, "signature-%d" % n)):
        n += 1
    return os.path.join(directory, "signature-%d" % n)


def load_private(path):
    with open(path, "rb") as f:
        return serialization.load_pem_private_key(f.read(), None)


def load_public(path):
    with open(path, "rb") as f:
        return serialization.load_pem_public_key(f.read())


def cmd_sign(a):
    if a.manifest is None and a.digest is None:
        raise ValueError("give --manifest or --digest")
    if a.digest is not None:
        d = a.digest
    else:
        with open(a.manifest, "rb") as f:
            d = "sha256:" + hashlib.sha256(f.read()).hexdigest()
    out = a.out
    if out is None:
        if a.manifest is None:
            raise ValueError("--digest without --manifest needs --out")
        directory = os.path.dirname(os.path.abspath(a.manifest))
        out = next_signature_path(directory) if a.append else os.path.join(directory, "signature-1")
    blob = signature_blob(load_private(a.key), payload(a.ref, d, a.optional_null, a.timestamp))
    write_atomic(out, blob)
    print(out)


def cmd_verify(a):
    if a.blob:
        with open(a.blob, "rb") as f:
            blob = f.read()
        if not blob.startswith(BLOB_PREFIX):
            raise ValueError("%s: not a sigstore-json signature blob" % a.blob)
        rep = json.loads(blob[len(BLOB_PREFIX):])
        if rep.get("mimeType") != MIME_TYPE:
            raise ValueError("mimeType %r" % rep.get("mimeType"))
        data = base64.b64decode(rep["payload"])
        sig_b64 = rep["annotations"][ANNOTATION]
    else:
        if not a.payload or not a.signature:
            raise ValueError("give --blob, or --payload and --signature")
        with open(a.payload, "rb") as f:
            data = f.read()
        sig_b64 = a.signature
    try:
        verify_bytes(load_public(a.pub), data, base64.b64decode(sig_b64, validate=True))
    except InvalidSignature:
        print("cosign_sig: signature does not verify with %s" % a.pub, file=sys.stderr)
        return 1
    p = json.loads(data)
    if p["critical"]["type"] != SIG_TYPE:
        raise ValueError("payload type %r" % p["critical"]["type"])
    print(p["critical"]["identity"]["docker-reference"], p["critical"]["image"]["docker-manifest-digest"])
    return 0


def main(argv=None):
    p = argparse.ArgumentParser(prog="cosign_sig.py", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog=__doc__.split("\n\n", 1)[1])
    sub = p.add_subparsers(dest="command", required=True)
    k = sub.add_parser("keygen", help="a key pair: private PKCS#8 PEM, public SPKI PEM")
    k.add_argument("priv")
    k.add_argument("pub")
    k.add_argument("--rsa", type=int, metavar="BITS", help="an RSA key of BITS instead of EC P-256")
    s = sub.add_parser("sign", help="a signature-N file for a dir: image")
    s.add_argument("--key", required=True, help="private key PEM (EC or RSA)")
    s.add_argument("--ref", required=True, help="docker-reference to sign, e.g. localhost:5000/app:1.4")
    s.add_argument("--manifest", help="the manifest whose digest is signed")
    s.add_argument("--digest", help="sign this digest instead (sha256:HEX)")
    s.add_argument("--out", help="signature file (default DIR/signature-1 beside --manifest)")
    s.add_argument("--append", action="store_true", help="default --out: the next free signature-N")
    s.add_argument("--optional-null", action="store_true", help='"optional":null, as cosign writes')
    s.add_argument("--timestamp", type=int, help="optional.timestamp (default now)")
    v = sub.add_parser("verify", help="check a signature with a public key")
    v.add_argument("--pub", required=True)
    v.add_argument("--blob", help="a signature-N file")
    v.add_argument("--payload", help="a .sig layer's payload blob")
    v.add_argument("--signature", help="its dev.cosignproject.cosign/signature annotation")
    a = p.parse_args(argv)
    try:
        if a.command == "keygen":
            keygen(a.priv, a.pub, a.rsa)
        elif a.command == "sign":
            cmd_sign(a)
        else:
            return cmd_verify(a)
    except (OSError, ValueError, KeyError, TypeError) as e:
        print("cosign_sig: %s" % e, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
