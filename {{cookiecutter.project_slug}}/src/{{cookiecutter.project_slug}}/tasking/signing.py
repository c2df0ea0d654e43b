"""Development keys for Celery's message signing (the ``auth`` serializer).

Messages are signed with a private key and checked against certificates in
a store; a worker refuses any message that is unsigned or signed by a key it
does not trust. This creates a key and a self-signed certificate for local
development and tests. Production keys come from your secret store and are
never committed (``keys/`` is git-ignored).

Docs: https://docs.celeryq.dev/en/stable/userguide/security.html#message-signing
"""

from __future__ import annotations

import datetime
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

{% if cookiecutter.framework == 'django' %}
CREATE_KEYS_COMMAND = "python manage.py create_signing_keys"
{% else %}
CREATE_KEYS_COMMAND = "{{ cookiecutter.project_slug | replace('_', '-') }} create-signing-keys"
{% endif %}


class SigningKeysMissing(RuntimeError):
    """The key or certificate message signing needs is not where the environment says."""


def check_signing_files() -> None:
    """Stop with a clear message when a signing file is missing."""
    from {{ cookiecutter.project_slug }}.environment import environment

    env = environment()
    for variable, value in (
        ("CELERY_SIGNING_KEY", env.celery_signing_key),
        ("CELERY_SIGNING_CERT", env.celery_signing_cert),
    ):
        if not Path(value).is_file():
            raise SigningKeysMissing(
                f"message signing needs {variable}={value}, which does not exist: "
                f"create development keys with `{CREATE_KEYS_COMMAND}`, "
                "or point the variable at your production key"
            )


class KeysExist(FileExistsError):
    """Refuses to overwrite keys: replacing them would break every running worker."""


def create_keys(
    key_path: Path,
    cert_path: Path,
    common_name: str = "{{ cookiecutter.project_slug }}",
) -> None:
    """Write a new RSA key and a self-signed certificate valid for a year."""
    for path in (key_path, cert_path):
        if path.exists():
            raise KeysExist(
                f"{path} exists: delete it first if you really mean to replace the keys"
            )
    key = rsa.generate_private_key(public_exponent=65537, key_size=3072)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=365))
        .sign(key, hashes.SHA256())
    )
    key_path.parent.mkdir(parents=True, exist_ok=True)
    cert_path.parent.mkdir(parents=True, exist_ok=True)
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    key_path.chmod(0o600)
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
