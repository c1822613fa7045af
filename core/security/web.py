"""The monitoring services under the security switch: Prometheus' and Alertmanager's web
configuration files, VictoriaMetrics' TLS and auth flags, and the secured Prometheus config.

Who may call what:

* Prometheus, Alertmanager: users ``prometheus`` (Prometheus itself: self-scrape, alerts)
  and ``operator`` (people, Grafana), over TLS.
* VictoriaMetrics: the one user ``victoriametrics`` it supports (remote_write, queries).
* Exporter shards: basic auth, users ``prometheus`` and ``operator``.
* Processor /metrics: client certificates signed by the stack's authority (Prometheus shows
  its own certificate).
"""

from __future__ import annotations

from typing import Any

from core.security.material import Material
from core.security.tls import hash_password

WEB_USERS = ("prometheus", "operator")
SCRAPER = "prometheus"
VM_USER = "victoriametrics"


def web_config(material: Material, service: str) -> dict[str, Any]:
    """`--web.config.file` content for Prometheus or Alertmanager: TLS and bcrypt basic auth."""
    return {
        "tls_server_config": {
            "cert_file": str(material.cert(service)),
            "key_file": str(material.key(service)),
            "min_version": "TLS12",
        },
        "basic_auth_users": {
            user: hash_password(material.secret("http", user)) for user in WEB_USERS
        },
    }


def victoriametrics_flags(material: Material) -> tuple[list[str], dict[str, str]]:
    """Flags and environment of a TLS VictoriaMetrics with basic auth.

    The password goes through the environment (`-envflag.enable`), not the command line,
    which every local user can read in /proc.
    """
    flags = [
        "-tls",
        f"-tlsCertFile={material.cert('victoriametrics')}",
        f"-tlsKeyFile={material.key('victoriametrics')}",
        f"-httpAuth.username={VM_USER}",
        "-envflag.enable",
    ]
    return flags, {"httpAuth_password": material.secret("http", VM_USER)}


def _basic(material: Material, user: str) -> dict[str, str]:
    return {"username": user, "password_file": str(material.secret_file("http", user))}


def _tls(material: Material, client_cert: bool = False) -> dict[str, str]:
    tls = {"ca_file": str(material.ca_file)}
    if client_cert:
        tls |= {
            "cert_file": str(material.cert("prometheus")),
            "key_file": str(material.key("prometheus")),
        }
    return tls


def secure_prometheus_config(cfg: dict[str, Any], material: Material) -> dict[str, Any]:
    """The (localised) Prometheus config with every scrape, alert and write over TLS and auth."""
    for manager in (cfg.get("alerting") or {}).get("alertmanagers", []):
        manager.update(
            scheme="https", tls_config=_tls(material), basic_auth=_basic(material, SCRAPER)
        )
    for remote in cfg.get("remote_write", []):
        remote["url"] = remote["url"].replace("http://", "https://", 1)
        remote.update(tls_config=_tls(material), basic_auth=_basic(material, VM_USER))
    for job in cfg.get("scrape_configs", []):
        name = job.get("job_name", "")
        job["scheme"] = "https"
        if name == "devmetrics-processors":
            job["tls_config"] = _tls(material, client_cert=True)
        else:
            job["tls_config"] = _tls(material)
            job["basic_auth"] = _basic(material, VM_USER if name == "victoriametrics" else SCRAPER)
    return cfg
