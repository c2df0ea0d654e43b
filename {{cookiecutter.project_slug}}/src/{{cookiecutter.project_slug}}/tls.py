{% set rabbitmq = cookiecutter.broker == 'rabbitmq' %}
{% set redis = cookiecutter.__needs_redis == 'yes' %}
{% if rabbitmq and redis %}
{% set schemes = '``rediss://`` or ``amqps://`` URL' %}
{% set services = 'RabbitMQ and Redis' %}
{% elif rabbitmq %}
{% set schemes = '``amqps://`` URL' %}
{% set services = 'RabbitMQ' %}
{% else %}
{% set schemes = '``rediss://`` URL' %}
{% set services = 'Redis' %}
{% endif %}
"""TLS for every connection to {{ services }}, verified.

A {{ schemes }} turns TLS on, and the server's certificate
and host name are then always checked: against ``TLS_CA_FILE`` when it is set
(a private or managed service's certificate authority), else against the
system's trust store. ``TLS_CERT_FILE`` and ``TLS_KEY_FILE`` add a client
certificate. The same settings may be given per URL, as query parameters
(``ssl_ca_certs``, ``ssl_certfile``, ``ssl_keyfile``); ``ssl_cert_reqs=none``
turns verification off, which only development accepts (environment.py).

https://docs.celeryq.dev/en/stable/userguide/configuration.html#broker-use-ssl
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

{% if rabbitmq and redis %}
TLS_SCHEMES = {"rediss", "amqps"}
{% elif rabbitmq %}
TLS_SCHEMES = {"amqps"}
{% else %}
TLS_SCHEMES = {"rediss"}
{% endif %}
{% if rabbitmq %}
# Query parameters this module reads; they are taken off the URL, so that no
# client sees a parameter it does not know (py-amqp dies on them).
{% else %}
# Query parameters this module reads; they are taken off the URL and given to
# the client as options.
{% endif %}
URL_PARAMETERS = {"ssl_cert_reqs", "ssl_ca_certs", "ssl_certfile", "ssl_keyfile"}
# ssl_cert_reqs values, also accepted as CERT_REQUIRED, CERT_OPTIONAL, CERT_NONE.
CERT_REQS = {"required": ssl.CERT_REQUIRED, "optional": ssl.CERT_OPTIONAL, "none": ssl.CERT_NONE}


class TLSError(ValueError):
    """A TLS setting that cannot be used; the message names it."""


@dataclass(frozen=True)
class Endpoint:
    """One connection URL, split into the URL the client gets and its TLS settings."""

    url: str
    tls: bool
    cert_reqs: str = "required"
    ca_file: str | None = None
    cert_file: str | None = None
    key_file: str | None = None

    @property
    def verified(self) -> bool:
        return not self.tls or CERT_REQS[self.cert_reqs] == ssl.CERT_REQUIRED

{% if redis %}
    def redis_options(self) -> dict | None:
        """Keyword arguments of a redis-py client (and of Celery's Redis settings)."""
        if not self.tls:
            return None
        options = {"ssl_cert_reqs": CERT_REQS[self.cert_reqs], "ssl_ca_certs": self.ca_file}
        if self.cert_file:
            options |= {"ssl_certfile": self.cert_file, "ssl_keyfile": self.key_file}
        return options
{% endif %}
{% if rabbitmq and redis %}

{% endif %}
{% if rabbitmq %}
    def amqp_options(self) -> dict | None:
        """``broker_use_ssl`` for py-amqp; Kombu fills in the host name to check."""
        if not self.tls:
            return None
        if CERT_REQS[self.cert_reqs] == ssl.CERT_NONE:
            return {"cert_reqs": ssl.CERT_NONE}
        if not (self.ca_file or self.cert_file):
            # The system's trust store, as a managed service with a public CA needs.
            return {"context": {"check_hostname": True}, "server_hostname": None}
        options = {
            "cert_reqs": CERT_REQS[self.cert_reqs],
            "ca_certs": self.ca_file or ssl.get_default_verify_paths().openssl_cafile,
            "server_hostname": None,
        }
        if self.cert_file:
            options |= {"certfile": self.cert_file, "keyfile": self.key_file}
        return options
{% endif %}


def endpoint(
    url: str,
    ca_file: str | None = None,
    cert_file: str | None = None,
    key_file: str | None = None,
) -> Endpoint:
    """``url`` without its TLS parameters, and the TLS settings: the URL's, else the given ones."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    foreign = sorted({key for key, _ in query if key.startswith("ssl")} - URL_PARAMETERS)
    if foreign:
        # Kombu would hand these to the client instead of the verified settings
        # below (ssl_check_hostname=false turned every check off).
        raise TLSError(
            f"{', '.join(foreign)} is not a TLS parameter this project reads: remove it "
            "(the certificate and host name are always checked; it reads "
            f"{', '.join(sorted(URL_PARAMETERS))})"
        )
    given = {key: value for key, value in query if key in URL_PARAMETERS}
    rest = [(key, value) for key, value in query if key not in URL_PARAMETERS]
    plain = urlunsplit(parts._replace(query=urlencode(rest)))
    if parts.scheme not in TLS_SCHEMES:
        if given:
            raise TLSError(f"{', '.join(sorted(given))} needs {{ ' or '.join(([ 'rediss://'] if redis else []) + (['amqps://'] if rabbitmq else [])) }}")
        return Endpoint(url=plain, tls=False)
    cert_reqs = given.get("ssl_cert_reqs", "required").lower().removeprefix("cert_")
    if cert_reqs not in CERT_REQS:
        raise TLSError(f"ssl_cert_reqs={given['ssl_cert_reqs']} is not required, optional or none")
    found = Endpoint(
        url=plain,
        tls=True,
        cert_reqs=cert_reqs,
        ca_file=given.get("ssl_ca_certs", ca_file),
        cert_file=given.get("ssl_certfile", cert_file),
        key_file=given.get("ssl_keyfile", key_file),
    )
    if bool(found.cert_file) != bool(found.key_file):
        raise TLSError("a client certificate needs both TLS_CERT_FILE and TLS_KEY_FILE")
    return found
