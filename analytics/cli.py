"""Command line: `python -m analytics <command>`. Every command reports errors as one clear line, exit 2."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from analytics.store import StoreError, db_path_from_env, open_store


def _demo(args: argparse.Namespace) -> int:
    from analytics.demo import build_demo

    path = Path(args.db) if args.db else db_path_from_env()
    if path.exists() and not args.force:
        print(f"{path} exists; leaving it untouched (use --force to rebuild)")
        return 0
    if path.exists() and args.force:
        path.unlink()
        Path(str(path) + ".wal").unlink(missing_ok=True)
    store = open_store(path)
    counts = build_demo(
        store, incidents=args.incidents, evals=args.evals, samples=args.samples, seed=args.seed
    )
    print(json.dumps({"db": str(path), **counts}))
    return 0


def _bench(args: argparse.Namespace) -> int:
    from analytics import bench

    sizes = [int(s) for s in args.sizes.split(",") if s]
    return bench.run(sizes, json_path=args.json, runs=args.runs, markdown=args.markdown)


def _import(args: argparse.Namespace) -> int:
    from analytics.ingest import ImportRefused, available_importers
    from analytics.markings import normalise_tlp, parse_releasable

    importers = available_importers()
    if args.kind not in importers:
        raise ValueError(f"unknown import kind {args.kind!r}; available: {', '.join(sorted(importers))}")
    path = Path(args.path)
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist")
    store = open_store(Path(args.db) if args.db else db_path_from_env())
    try:
        report = importers[args.kind](
            store,
            path,
            actor=args.actor,
            institute=args.institute,
            tlp=normalise_tlp(args.tlp) if args.tlp else None,
            releasable=parse_releasable(args.releasable) if args.releasable else None,
        )
    except ImportRefused as e:
        print(f"refused: {e}", file=sys.stderr)
        print("nothing was written", file=sys.stderr)
        return 2
    print(report.summary())
    for w in report.warnings[:50]:
        print(f"warning: {w}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m analytics", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)

    d = sub.add_parser("demo", help="build a deterministic demo store")
    d.add_argument("--db", help="store path (default: THREAT_DB or data/threats.duckdb)")
    d.add_argument("--incidents", type=int, default=5000)
    d.add_argument("--evals", type=int, default=None, help="number of eval runs (default ~300)")
    d.add_argument("--samples", type=int, default=None, help="total eval samples (default: natural sizes)")
    d.add_argument("--seed", type=int, default=7)
    d.add_argument("--force", action="store_true", help="replace an existing file")
    d.set_defaults(fn=_demo)

    i = sub.add_parser("import", help="import a file or folder into the store (one transaction)")
    i.add_argument("kind", help="inspect, epoch, atlas, aiid, csv, json, jsonl, stix")
    i.add_argument("path")
    i.add_argument("--db", help="store path (default: THREAT_DB or data/threats.duckdb)")
    i.add_argument(
        "--as", dest="institute", choices=["UK", "AU"], help="originating institute (not for public sources)"
    )
    i.add_argument("--tlp", help="TLP marking for records that carry none (never lowers a marking)")
    i.add_argument("--releasable", help="releasability, e.g. UK,AU")
    i.add_argument("--actor", default="cli", help="who is importing, for the audit log")
    i.set_defaults(fn=_import)

    b = sub.add_parser("bench", help="time the store's read paths on synthetic stores")
    b.add_argument("--sizes", default="100000,1000000")
    b.add_argument("--runs", type=int, default=7)
    b.add_argument("--json", help="write records to this file")
    b.add_argument("--markdown", help="write a results table to this file")
    b.set_defaults(fn=_bench)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.fn(args))
    except (StoreError, ValueError, FileNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
