"""Where each partner's TAXII 2.1 server is, and the credentials for it.

Why a module of its own: credentials come from outside the store and never enter it, the audit log or any output;
this is the one place that reads them. Each setting comes from the environment (`THREAT_TAXII_<PARTNER>_<KEY>`,
for the command line and services) or else from the `[taxii.<PARTNER>]` section of the Streamlit secrets file
(`.streamlit/secrets.toml`, or the file `THREAT_SECRETS` names), read with tomllib: analytics never imports
Streamlit outside session.py. Keys (docs/exchange.md): api_root, pull_collection, push_collection, user,
password, and optionally verify_tls.

Credentials travel only over HTTPS, except to this machine itself (127.0.0.1, ::1, localhost), where the tests and
a local relay run.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from analytics.export.partners import check_partner

ROOT = Path(__file__).resolve().parent.parent.parent
DEFAULT_SECRETS = ROOT / ".streamlit" / "secrets.toml"
REQUIRED = ("api_root", "pull_collection", "push_collection")
KEYS = (*REQUIRED, "user", "password", "verify_tls")
_LOOPBACK = {"127.0.0.1", "::1", "localhost"}


@dataclass(frozen=True)
class PartnerTaxii:
    """One partner's TAXII 2.1 API root, the collection we read from (theirs to us) and the one we write to
    (ours to them), and the Basic-auth credentials (never shown: repr leaves the password out)."""

    partner: str
    api_root: str
    pull_collection: str
    push_collection: str
    user: str | None = None
    password: str | None = field(default=None, repr=False)
    verify_tls: bool = True

    def collection_url(self, collection_id: str) -> str:
        return f"{self.api_root.rstrip('/')}/collections/{collection_id}/"


def env_name(partner: str, key: str) -> str:
    return f"THREAT_TAXII_{partner}_{key.upper()}"


def _secrets_section(partner: str, path: Path) -> Mapping[str, Any]:
    if not path.exists():
        return {}
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as e:
        raise ValueError(f"{path}: cannot read the secrets file ({e})") from None
    section = (doc.get("taxii") or {}).get(partner) or {}
    if not isinstance(section, Mapping):
        raise ValueError(f"{path}: [taxii.{partner}] must be a table")
    return section


def partner_config(
    partner: str, *, env: Mapping[str, str] | None = None, secrets_path: Path | None = None
) -> PartnerTaxii:
    """`partner`'s TAXII settings: each key from the environment, else from the secrets file. A missing setting
    or a non-HTTPS server is refused with one line naming what to set."""
    p = check_partner(partner)
    env = os.environ if env is None else env
    path = secrets_path or Path(env.get("THREAT_SECRETS") or DEFAULT_SECRETS)
    section = _secrets_section(p, path)
    values: dict[str, Any] = {}
    for key in KEYS:
        value = env.get(env_name(p, key))
        values[key] = value if value not in (None, "") else section.get(key)
    missing = [k for k in REQUIRED if not values[k]]
    if missing:
        raise ValueError(
            f"TAXII sync with {p} is not configured: set {', '.join(missing)} in [taxii.{p}] of {path} "
            f"or {', '.join(env_name(p, k) for k in missing)}"
        )
    url = urlsplit(str(values["api_root"]))
    if url.scheme != "https" and not (url.scheme == "http" and url.hostname in _LOOPBACK):
        raise ValueError(f"TAXII api_root for {p} must be https:// (credentials are sent to it)")
    verify = values["verify_tls"]
    return PartnerTaxii(
        partner=p,
        api_root=str(values["api_root"]),
        pull_collection=str(values["pull_collection"]),
        push_collection=str(values["push_collection"]),
        user=str(values["user"]) if values["user"] else None,
        password=str(values["password"]) if values["password"] else None,
        verify_tls=verify if isinstance(verify, bool) else str(verify or "true").lower() != "false",
    )
