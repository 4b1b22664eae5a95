"""Fill in deploy/nginx/replicas.conf: one `server` line per app replica, the address nginx listens on and a
folder for its pid, logs and temporary files. Used by the tests and `make load`; an operator can run it too:
`python deploy/nginx/render.py --listen 127.0.0.1:8080 --prefix /var/lib/threat-nginx 127.0.0.1:8501 127.0.0.1:8502`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

TEMPLATE = Path(__file__).with_name("replicas.conf")


def render(replicas: list[str], *, listen: str, prefix: Path) -> str:
    servers = "\n".join(f"        server {addr} max_fails=1 fail_timeout=10s;" for addr in replicas)
    out = TEMPLATE.read_text()
    for key, value in {"@REPLICAS@": servers, "@LISTEN@": listen, "@PREFIX@": str(prefix)}.items():
        out = out.replace(key, value)
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--listen", required=True)
    p.add_argument("--prefix", type=Path, required=True)
    p.add_argument("replicas", nargs="+", help="HOST:PORT of each app replica")
    a = p.parse_args(argv)
    sys.stdout.write(render(a.replicas, listen=a.listen, prefix=a.prefix))
    return 0


if __name__ == "__main__":
    sys.exit(main())
