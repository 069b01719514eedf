"""C2PA Content Credentials: sign what talkcli writes, read what a file carries (c2pa-python).

The manifest says, in the standard vocabulary, that the picture was made by talkcli:
a `c2pa.created` action whose IPTC digital source type is `compositeSynthetic` (why that
one: talkcli's pixels are the captured portrait's own pixels, moved by a procedural,
audio-driven deformation and composited with a synthesised mouth interior and eyes. No
trained generative model makes pixels, so `trainedAlgorithmicMedia` would overstate it;
but the picture is built on a real photograph, so `algorithmicMedia`, "created purely by
an algorithm", would hide that a real person's image is in it. `compositeSynthetic` is
"a mix or composite of several elements, at least one of which is synthetic"), the tool
and its version, the render id that the pixel watermark also carries, and the inputs as
ingredients by SHA-256 only (name, format, size: never their content or a thumbnail).

Signing: the user's key and certificate chain (`--sign-key`/`--sign-cert`, or
TALKCLI_SIGN_KEY/TALKCLI_SIGN_CERT), else a key and certificate that talkcli makes once per
user in $XDG_CONFIG_HOME/talkcli (key 0600). That local certificate is issued by a one-off
local CA whose key is thrown away (C2PA does not accept a self-signed end-entity
certificate): it proves only that the file was not changed since it was signed, not who
signed it, and `verify` says it is not trusted.
"""

from __future__ import annotations

import datetime
import fcntl
import hashlib
import io
import json
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from talkcli import __version__
from talkcli.errors import EnvironmentProblem, InvalidInputError

IPTC = "http://cv.iptc.org/newscodes/digitalsourcetype/"
SOURCE_VIDEO = IPTC + "compositeSynthetic"  # a real photo warped and composited (see above)
SOURCE_OVERLAY = IPTC + "compositeSynthetic"  # the photo with drawn landmarks
SOURCE_PLOT = IPTC + "algorithmicMedia"  # a chart drawn from audio analysis
LOCAL_ISSUER = "talkcli local signer (untrusted)"
ASSERTION_LABEL = "org.talkcli.render"
MIME = {".mp4": "video/mp4", ".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg"}
UNTRUSTED = "signingCredential.untrusted"
ENV_KEY = "TALKCLI_SIGN_KEY"
ENV_CERT = "TALKCLI_SIGN_CERT"


@dataclass(frozen=True)
class Ingredient:
    role: str  # "portrait", "audio", "transcript", "motion"
    name: str  # file name only (no folders)
    format: str
    sha256: str
    size: int

    @classmethod
    def of(cls, role: str, path: Path) -> Ingredient:
        try:
            digest = hashlib.sha256()
            with open(path, "rb") as fh:
                for block in iter(lambda: fh.read(1 << 20), b""):
                    digest.update(block)
        except OSError as exc:
            raise InvalidInputError(f"cannot read {role} {path}: {exc}") from None
        fmt = MIME.get(path.suffix.lower(), f"application/{path.suffix.lower().lstrip('.')}")
        if role == "audio" and path.suffix.lower() in (".wav", ".flac", ".mp3", ".ogg"):
            fmt = f"audio/{path.suffix.lower().lstrip('.')}"
        return cls(role, path.name, fmt, digest.hexdigest(), path.stat().st_size)


@dataclass(frozen=True)
class SignerFiles:
    key: Path
    cert: Path
    source: str  # "option", "environment" or "local" (talkcli's own, untrusted)


# --------------------------------------------------------------------------- signer files
def config_dir() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "talkcli"


def resolve_signer(key: Path | None = None, cert: Path | None = None) -> SignerFiles:
    """The key + certificate chain to sign with: options, else environment, else local."""
    if (key is None) != (cert is None):
        raise InvalidInputError("--sign-key and --sign-cert must be given together")
    if key is not None and cert is not None:
        return _checked(SignerFiles(key, cert, "option"))
    env_key, env_cert = os.environ.get(ENV_KEY), os.environ.get(ENV_CERT)
    if bool(env_key) != bool(env_cert):
        raise InvalidInputError(f"{ENV_KEY} and {ENV_CERT} must be set together")
    if env_key and env_cert:
        return _checked(SignerFiles(Path(env_key), Path(env_cert), "environment"))
    return ensure_local_signer()


def _checked(files: SignerFiles) -> SignerFiles:
    for what, path in (("signing key", files.key), ("signing certificate", files.cert)):
        if not path.is_file():
            raise InvalidInputError(f"{what} not found: {path}")
    _load_signer(files)  # fail before rendering, not after
    return files


def ensure_local_signer(folder: Path | None = None) -> SignerFiles:
    """talkcli's per-user key and certificate, made on first use (key readable by the
    user only)."""
    folder = config_dir() if folder is None else folder
    key_path, cert_path = folder / "c2pa-signing-key.pem", folder / "c2pa-signing-chain.pem"
    if key_path.is_file() and cert_path.is_file():
        return SignerFiles(key_path, cert_path, "local")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with open(folder / ".signer.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # two first renders at once make one key
            if not (key_path.is_file() and cert_path.is_file()):
                key_pem, chain_pem = _make_local_certificate()
                fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
                with os.fdopen(fd, "wb") as fh:
                    fh.write(key_pem)
                os.chmod(key_path, stat.S_IRUSR | stat.S_IWUSR)
                cert_path.write_bytes(chain_pem)
    except OSError as exc:
        raise EnvironmentProblem(f"cannot create the signing key in {folder}: {exc}") from None
    return SignerFiles(key_path, cert_path, "local")


def _make_local_certificate() -> tuple[bytes, bytes]:
    """(PKCS#8 key PEM, leaf + CA chain PEM): ES256, leaf for document signing."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    def name(cn: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn),
                          x509.NameAttribute(NameOID.ORGANIZATION_NAME, LOCAL_ISSUER)])

    now = datetime.datetime.now(datetime.UTC)
    until = now + datetime.timedelta(days=3650)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    usage = dict(content_commitment=False, key_encipherment=False, data_encipherment=False,
                 key_agreement=False, encipher_only=False, decipher_only=False)
    ca = (x509.CertificateBuilder().subject_name(name("talkcli local CA"))
          .issuer_name(name("talkcli local CA")).public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number())
          .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(until)
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=False, key_cert_sign=True,
                                       crl_sign=True, **usage), critical=True)
          .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()),
                         critical=False)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = (x509.CertificateBuilder().subject_name(name("talkcli user"))
            .issuer_name(ca.subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(until)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=False,
                                         crl_sign=False, **usage), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]),
                           critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
                ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))
    pem = serialization.Encoding.PEM
    key_pem = key.private_bytes(pem, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    return key_pem, leaf.public_bytes(pem) + ca.public_bytes(pem)


def _load_signer(files: SignerFiles) -> Any:
    import c2pa
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

    try:
        key_pem = files.key.read_bytes()
        cert_pem = files.cert.read_bytes()
        key = serialization.load_pem_private_key(key_pem, password=None)
    except (OSError, ValueError, TypeError) as exc:
        raise InvalidInputError(f"cannot read signing key {files.key}: {exc}") from None
    if isinstance(key, ec.EllipticCurvePrivateKey):
        alg = {256: c2pa.C2paSigningAlg.ES256, 384: c2pa.C2paSigningAlg.ES384,
               521: c2pa.C2paSigningAlg.ES512}.get(key.curve.key_size)
    elif isinstance(key, ed25519.Ed25519PrivateKey):
        alg = c2pa.C2paSigningAlg.ED25519
    elif isinstance(key, rsa.RSAPrivateKey):
        alg = c2pa.C2paSigningAlg.PS256
    else:
        alg = None
    if alg is None:
        raise InvalidInputError(f"unsupported signing key type in {files.key}")
    try:
        return c2pa.Signer.from_info(c2pa.C2paSignerInfo(alg, cert_pem, key_pem, None))
    except (c2pa.C2paError, ValueError) as exc:
        raise InvalidInputError(f"cannot use signing key/certificate: {exc}") from None


# --------------------------------------------------------------------------- signing
def manifest_definition(title: str, source_type: str, render_id: str | None,
                        ingredients: list[Ingredient], kind: str) -> dict[str, Any]:
    params: dict[str, Any] = {"description": f"talkcli {kind}"}
    if render_id is not None:
        params["render_id"] = render_id
    return {
        "claim_generator_info": [{"name": "talkcli", "version": __version__}],
        "title": title,
        "assertions": [
            {"label": "c2pa.actions", "data": {"actions": [{
                "action": "c2pa.created",
                "digitalSourceType": source_type,
                "softwareAgent": {"name": "talkcli", "version": __version__},
                "parameters": params,
            }]}},
            {"label": ASSERTION_LABEL, "data": {
                "kind": kind,
                "render_id": render_id,
                "inputs": [{"role": i.role, "name": i.name, "format": i.format,
                            "sha256": i.sha256, "size": i.size} for i in ingredients],
            }},
        ],
        "ingredients": [{"title": i.name, "format": i.format, "relationship": "inputTo",
                         "instance_id": f"sha256:{i.sha256}"} for i in ingredients],
    }


def sign_in_place(path: Path, mime: str, definition: dict[str, Any],
                  signer_files: SignerFiles) -> None:
    """Embed a signed manifest into `path` (written next to it, then renamed over it)."""
    import c2pa

    signer = _load_signer(signer_files)
    signed = path.with_name(path.name + ".c2pa")
    try:
        with c2pa.Builder(json.dumps(definition)) as builder, open(path, "rb") as src, \
                open(signed, "w+b") as dst:
            builder.sign(signer, mime, src, dst)
        os.replace(signed, path)
    except c2pa.C2paError as exc:
        raise EnvironmentProblem(f"C2PA signing failed: {exc}") from None
    finally:
        signed.unlink(missing_ok=True)
        signer.close()


# --------------------------------------------------------------------------- reading
def read_credentials(path: Path) -> dict[str, Any]:
    """What the file's C2PA manifest says (found, valid, signer, trusted, claims)."""
    import c2pa

    mime = MIME.get(path.suffix.lower())
    if mime is None:
        head = path.read_bytes()[:16]
        mime = ("image/png" if head.startswith(b"\x89PNG") else
                "image/jpeg" if head.startswith(b"\xff\xd8") else "video/mp4")
    try:
        with open(path, "rb") as fh:
            data = fh.read()
        reader = c2pa.Reader(mime, io.BytesIO(data))
    except c2pa.C2paError as exc:
        text = str(exc)
        if "ManifestNotFound" in type(exc).__name__ or "not found" in text.lower() \
                or "JumbfNotFound" in text:
            return {"found": False}
        return {"found": False, "error": text}
    with reader:
        manifest = reader.get_active_manifest() or {}
        state = reader.get_validation_state()
        results = reader.get_validation_results() or {}
    return summarise(manifest, state, results)


def summarise(manifest: dict[str, Any], state: str | None,
              results: dict[str, Any]) -> dict[str, Any]:
    sig = manifest.get("signature_info") or {}
    actions: list[dict[str, Any]] = []
    custom: dict[str, Any] = {}
    for assertion in manifest.get("assertions", []):
        label = assertion.get("label", "")
        if label.startswith("c2pa.actions"):
            actions += assertion.get("data", {}).get("actions", [])
        elif label == ASSERTION_LABEL:
            custom = assertion.get("data", {})
    failures = [f.get("code") for f in
                (results.get("activeManifest") or {}).get("failure", [])]
    generator = [f"{g.get('name')} {g.get('version', '')}".strip()
                 for g in manifest.get("claim_generator_info", [])]
    issuer = sig.get("issuer")
    # An untrusted signer is not a broken manifest: the signature and hashes can all check
    # out while the certificate chains to no anchor on the trust list.
    broken = [f for f in failures if f != UNTRUSTED]
    return {
        "found": True,
        "valid": not broken and state is not None and state != "Invalid",
        "validation_state": state,
        "failures": failures,
        "trusted": state == "Trusted" and UNTRUSTED not in failures,
        "signer": {"issuer": issuer, "common_name": sig.get("common_name"),
                   "alg": sig.get("alg"), "talkcli_local": issuer == LOCAL_ISSUER},
        "claim_generator": generator,
        "actions": [{"action": a.get("action"),
                     "digital_source_type": a.get("digitalSourceType")} for a in actions],
        "render_id": custom.get("render_id"),
        "ingredients": custom.get("inputs", []),
        "talkcli": any(g.startswith("talkcli") for g in generator),
    }
