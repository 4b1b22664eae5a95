"""Command line: `python -m analytics <command>`. Every command reports errors as one clear line, exit 2."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from analytics.store.database import StoreError, StoreLocked, db_path_from_env, is_served, open_store
from analytics.wording import counted


def _demo(args: argparse.Namespace) -> int:
    from analytics.demo.generator import build_demo
    from analytics.store.backup import set_aside
    from analytics.store.database import exclusive

    path = Path(args.db) if args.db else db_path_from_env()
    wal = Path(f"{path}.wal")
    if (path.exists() or wal.exists()) and not args.force:
        print(f"{path} exists; leaving it untouched (use --force to rebuild)")
        return 0
    if args.public and not args.showcase:
        raise ValueError("demo --public DIR needs --showcase (the public sets are part of the showcase)")
    replaced = None
    if args.force:
        # Refused (one line, exit 2) while any process holds the store; the old file is kept, never deleted.
        with exclusive(path, purpose="replacing it with a demo store"):
            replaced = set_aside(path)
    store = open_store(path)
    counts = build_demo(
        store,
        incidents=args.incidents,
        evals=args.evals,
        samples=args.samples,
        seed=args.seed,
        sample_text=not args.no_sample_text,
    )
    extra: dict[str, object] = {}
    if args.showcase:
        from analytics.demo.showcase import build_showcase
        from analytics.demo.world import DEMO_END

        shown = build_showcase(store, Path(args.public) if args.public else None, DEMO_END)
        extra = {
            "public": list(shown.public_sets),
            "approved_assessment_id": shown.approved,
            "in_review_assessment_id": shown.in_review,
        }
    print(json.dumps({"db": str(path), **counts, **extra, "replaced": replaced}))
    return 0


def _bench(args: argparse.Namespace) -> int:
    from analytics.bench import harness as bench

    sizes = [int(s) for s in args.sizes.split(",") if s]
    return bench.run(
        sizes,
        json_path=args.json,
        runs=args.runs,
        markdown=args.markdown,
        details=args.details,
        only=[c for c in (args.cases or "").split(",") if c] or None,
        pages=not args.no_pages,
        page_runs_n=args.page_runs,
        store_dir=args.store_dir,
        pandas_max_size=args.pandas_max_size,
        merge=args.merge,
    )


def _serve(args: argparse.Namespace) -> int:
    from analytics.store.served import serve

    db = Path(args.db) if args.db else db_path_from_env()
    if is_served(db):
        raise ValueError(f"serve --db {db}: give the store file to serve, not a quack: address")
    return serve(db, args.listen, secrets=Path(args.secrets) if args.secrets else None)


def existing_store(args: argparse.Namespace) -> Path:
    """The store `--db` (or THREAT_DB) names, refused if no store is there: a mistyped path must not leave an
    empty store behind, nor answer 'nothing to undo' or 'no history' from one. Only `demo` and `import --create`
    make new stores."""
    db = Path(args.db) if args.db else db_path_from_env()
    if is_served(db):  # a store server (quack:HOST:PORT): it holds the file; the client checks on connect
        return db
    if not db.exists() and not Path(f"{db}.wal").exists():
        raise FileNotFoundError(f"store {db} does not exist (check --db or THREAT_DB)")
    return db


def _backup(args: argparse.Namespace) -> int:
    from analytics.store import backup

    path = Path(args.db) if args.db else db_path_from_env()
    out = Path(args.out) if args.out else path.resolve().parent / "backups"
    try:
        result = backup.backup_offline(path, out, actor=args.actor)
    except StoreLocked:
        # The running dashboard holds the store: hand the request to it (analytics/store/backup.py explains why).
        print(f"{path} is in use; asking the process that holds it to make the backup", file=sys.stderr)
        result = backup.request_backup(path, out, actor=args.actor, timeout_s=args.timeout)
    print(json.dumps(result.to_json()))
    return 0


def _restore(args: argparse.Namespace) -> int:
    from analytics.store import backup

    path = Path(args.db) if args.db else db_path_from_env()
    result = backup.restore(Path(args.backup), path, actor=args.actor, force=args.force)
    print(
        json.dumps(
            {
                "restored": result.path,
                "from": result.source,
                "schema_version": result.schema_version,
                "tables": result.tables,
                "replaced": result.replaced,
            }
        )
    )
    return 0


def _import(args: argparse.Namespace) -> int:
    from analytics.access.markings import normalise_tlp, parse_releasable
    from analytics.ingest import ImportRefused, available_importers, refuse_unknown_options
    from analytics.store.database import StoreLocked

    importers = available_importers()
    if args.kind not in importers:
        raise ValueError(f"unknown import kind {args.kind!r}; available: {', '.join(sorted(importers))}")
    path = Path(args.path)
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist")
    db = Path(args.db) if args.db else db_path_from_env()
    tlp = normalise_tlp(args.tlp) if args.tlp else None
    releasable = parse_releasable(args.releasable) if args.releasable else None
    try:
        extra = import_options(args)
        refuse_unknown_options(args.kind, importers[args.kind], extra)
    except ImportRefused as e:
        print(f"refused: {e}", file=sys.stderr)
        return 2
    if not args.create and not is_served(db) and not db.exists() and not Path(f"{db}.wal").exists():
        # A mistyped --db must not leave an empty store behind (and an import into it would write nowhere useful).
        raise FileNotFoundError(f"store {db} does not exist; give --create to make a new store there")
    try:
        if args.inbox:
            raise StoreLocked("hand-over requested with --inbox")
        store = open_store(db)
    except StoreLocked:
        if args.no_inbox:
            raise
        return _hand_over(args, db, path, tlp, releasable)
    try:
        report = importers[args.kind](
            store, path, actor=args.actor, institute=args.institute, tlp=tlp, releasable=releasable, **extra
        )
    except ImportRefused as e:
        print(f"refused: {e}", file=sys.stderr)
        print("nothing was written", file=sys.stderr)
        return 2
    print(report.summary())
    print(f"batch: {report.batch_id} (undo with `python -m analytics undo {report.batch_id}`)")
    for w in report.warnings[:50]:
        print(f"warning: {w}")
    return 0


def _pairs(flag: str, values: list[str] | None) -> dict[str, str]:
    """NAME=VALUE flags (--map SOURCE=FIELD, --set FIELD=VALUE) as a dict, refusing a malformed one or a name
    given twice in one line naming it."""
    from analytics.ingest import ImportRefused

    out: dict[str, str] = {}
    for raw in values or []:
        name, sep, value = raw.rpartition("=") if flag == "--map" else raw.partition("=")
        if not sep or not name.strip() or not value.strip():
            what = "SOURCE=FIELD" if flag == "--map" else "FIELD=VALUE"
            raise ImportRefused(f"{flag} {raw}: expected {what}")
        if name.strip() in out:
            raise ImportRefused(f"{flag} {raw}: {name.strip()!r} is given twice")
        out[name.strip()] = value.strip()
    return out


def import_options(args: argparse.Namespace) -> dict[str, object]:
    """The importer's options (ingest.IMPORT_OPTIONS) from the CLI's, built once and only those given: the
    direct import and the hand-over to the running dashboard both use this, so the dashboard imports with every
    option the CLI was given (tests/security/test_inbox_privacy.py checks them against the parser). A mapping
    file (--mapping) comes first; --map, --set, --records and --source given on the command line win over it."""
    from analytics.ingest import ImportRefused
    from analytics.ingest.tabular.mapping import read_mapping_file

    spec = read_mapping_file(args.mapping) if args.mapping else None
    mapping = {**(spec.mapping if spec else {}), **_pairs("--map", args.map)}
    constants = {**(spec.constants if spec else {}), **_pairs("--set", args.set)}
    recipients = [r.strip().lower() for r in (args.recipients or "").split(",") if r.strip()]
    if args.recipients is not None and not recipients:
        raise ImportRefused("--recipients: give the named recipients' emails, comma-separated")
    options: dict[str, object] = {
        "target": args.records or (spec.target if spec else None),
        "source_key": args.source or (spec.source if spec else None),
        "mapping": mapping,
        "constants": constants,
        "recipients": recipients,
        "only_valid": bool(args.only_valid),
        "update": bool(args.update),
    }
    return {k: v for k, v in options.items() if v}


def _hand_over(
    args: argparse.Namespace, db: Path, path: Path, tlp: str | None, releasable: tuple[str, ...] | None
) -> int:
    """The store is held by the running dashboard: check the file here, then leave it in the dashboard's inbox."""
    from analytics.ingest import ImportRefused, inbox

    try:
        _precheck(args.kind, path, args, tlp, releasable)
    except ImportRefused as e:
        print(f"refused: {e}", file=sys.stderr)
        print("nothing was handed over", file=sys.stderr)
        return 2
    manifest = inbox.hand_over(
        db,
        path,
        kind=args.kind,
        actor=args.actor,
        institute=args.institute,
        tlp=tlp,
        releasable=releasable,
        options=import_options(args),
    )
    print(
        f"{db} is in use by the running dashboard, so {path.name} was handed over to its inbox "
        f"({manifest.parent}). The dashboard imports it on its next page load (all or nothing) and shows the "
        f"outcome to {args.actor} only, when they next use the dashboard, and in their inbox log on the Data "
        "page; `python -m analytics inbox` lists what is waiting."
    )
    return 0


def _precheck(
    kind: str, path: Path, args: argparse.Namespace, tlp: str | None, releasable: tuple[str, ...] | None
) -> None:
    """What can be checked without the store (it is locked): the file itself, its mapping and markings."""
    if kind in ("csv", "json", "jsonl"):
        from analytics.ingest import ImportRefused
        from analytics.ingest.tabular.commit import plan_file, refusal_text
        from analytics.store.database import Store

        options = import_options(args)
        options.pop("only_valid", None)
        scratch = Store(":memory:")  # an empty store with the schema, for the id checks
        try:
            plan = plan_file(
                scratch.cursor(),
                path,
                institute=args.institute,
                tlp=tlp,
                releasable=releasable,
                **options,  # type: ignore[arg-type]
            )
        finally:
            scratch.close()
        if plan.file_level_problems or (plan.problems and not args.only_valid):
            raise ImportRefused(refusal_text(plan))
    elif kind == "stix":
        from analytics.ingest import ImportRefused
        from analytics.ingest.stix.check import check_bundle

        check = check_bundle(path.name, path.read_bytes())
        # references to records already in the store cannot be checked here; the dashboard checks them
        reasons = [r for r in check.reasons if "is not in the bundle" not in r]
        if reasons:
            raise ImportRefused(
                "\n".join([f"{path.name}: refused, {counted(len(reasons), 'problem')}", *reasons[:40]])
            )


def _export_stix(args: argparse.Namespace) -> int:
    from analytics.export import partners
    from analytics.export.stix import export_for_partner

    store = open_store(existing_store(args))
    if args.person:  # TLP:RED for one named person, never a partner's bundle (analytics/export/partners.py)
        export = partners.export_for_person(store, args.person, actor=args.actor)
    else:
        export = export_for_partner(store, args.partner, actor=args.actor)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".part")
    tmp.write_bytes(export.to_bytes())
    tmp.replace(out)
    to = args.person.strip().lower() if args.person else export.partner
    print(f"{out}: {counted(export.counts['incidents'], 'incident')} for {to}, marked {export.marking.label}")
    if export.withheld is not None and export.withheld.total:
        print("withheld: " + "; ".join(export.withheld.lines()))
    return 0


def _export_ceiling(args: argparse.Namespace) -> int:
    from analytics.export import partners

    store = open_store(existing_store(args))
    if args.partner and args.tlp:
        partners.set_ceiling(store, args.partner, args.tlp, actor=args.actor)
    elif args.partner or args.tlp:
        raise ValueError("give both --for and --tlp to set a ceiling, or neither to list them")
    for c in partners.ceilings(store.cursor()):
        who = f"set by {c.set_by} at {c.set_at:%Y-%m-%d %H:%M}" if c.set_by else "(default)"
        print(f"{c.partner}: TLP:{c.max_tlp} {who}")
    return 0


def _sync(args: argparse.Namespace) -> int:
    from analytics.sync.taxii import sync_partner

    store = open_store(existing_store(args))
    report = sync_partner(store, args.partner, actor=args.actor)
    for line in report.lines():
        print(line)
    return 0


def _inbox(args: argparse.Namespace) -> int:
    from analytics.ingest import inbox
    from analytics.store.database import StoreLocked

    db = Path(args.db) if args.db else db_path_from_env()
    waiting = inbox.pending(db)
    try:
        store = open_store(db)
    except StoreLocked:
        print(
            f"{counted(len(waiting), 'file')} waiting in {inbox.inbox_dir(db)}; the running dashboard imports them"
        )
        for m in waiting:
            print(f"  {m.submitted_at}  {m.kind:6} {m.original_name} (by {m.actor})")
        return 0
    results = inbox.process_inbox(store)
    if not results:
        print(f"nothing waiting in {inbox.inbox_dir(db)}")
    for r in results:
        print(r.describe())
    return 0 if all(r.outcome == "imported" for r in results) else 2


def _undo(args: argparse.Namespace) -> int:
    from analytics.ingest.history import UndoRefused, undo_batch

    store = open_store(existing_store(args))
    try:
        print(undo_batch(store, args.batch, actor=args.actor).summary())
    except UndoRefused as e:
        print(f"refused: {e}", file=sys.stderr)
        return 2
    return 0


def _history(args: argparse.Namespace) -> int:
    from analytics.ingest.history import history

    store = open_store(existing_store(args))
    df = history(store.cursor(), None, limit=args.limit)
    if df.empty:
        print("no imports yet")
    for r in df.to_dict("records"):
        undone = f"  UNDONE {r['undone_at']:%Y-%m-%d %H:%M} by {r['undone_by']}" if r["undone_by"] else ""
        print(
            f"{r['at']:%Y-%m-%d %H:%M}  {r['batch_id']}  {r['kind']:6} {r['source']}  by {r['imported_by']}  "
            f"+{r['added']} ~{r['updated']} ={r['unchanged']} x{r['rejected']}  {counted(r['n_warnings'], 'warning')}{undone}"
        )
    return 0


def _check_judgement(args: argparse.Namespace) -> int:
    """The checker's text checks on one judgement written anywhere: one JSON object per finding, exit 1 if any."""
    from analytics.assessments.checker import check_text

    text = sys.stdin.read() if args.text == ["-"] else " ".join(args.text)
    if not text.strip():
        raise ValueError("TEXT is empty: give the judgement to check (or - to read it from standard input)")
    findings = check_text(text, args.term, args.confidence)
    for f in findings:
        print(json.dumps({"kind": f.kind, "message": f.message, "span": list(f.span or (0, len(text)))}))
    return 1 if findings else 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m analytics", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)

    d = sub.add_parser("demo", help="build a deterministic demo store")
    d.add_argument("--db", help="store path (default: THREAT_DB or data/threats.duckdb)")
    d.add_argument("--incidents", type=int, default=5000)
    d.add_argument("--evals", type=int, default=None, help="number of eval runs (default ~300)")
    d.add_argument("--samples", type=int, default=None, help="total eval samples (default: natural sizes)")
    d.add_argument("--seed", type=int, default=7)
    d.add_argument(
        "--showcase",
        action="store_true",
        help="also add an approved and an in-review joint assessment, and the public sets under --public "
        "(what `make run` builds)",
    )
    d.add_argument(
        "--public",
        metavar="DIR",
        help="with --showcase: the shared data folder (ATLAS, AIID, Epoch if present)",
    )
    d.add_argument(
        "--no-sample-text",
        action="store_true",
        help="scores only: no prompts, outputs or transcripts in the samples (the store before issue 19)",
    )
    d.add_argument(
        "--force",
        action="store_true",
        help="replace an existing store nobody is using (kept as .replaced-<time>)",
    )
    d.set_defaults(fn=_demo)

    i = sub.add_parser("import", help="import a file or folder into the store (one transaction)")
    i.add_argument(
        "kind", help="inspect, epoch, atlas, aiid, avid, garak, jailbreakbench, csv, json, jsonl, stix"
    )
    i.add_argument("path")
    i.add_argument("--db", help="store path (default: THREAT_DB or data/threats.duckdb)")
    i.add_argument(
        "--as", dest="institute", choices=["UK", "AU"], help="originating institute (not for public sources)"
    )
    i.add_argument("--tlp", help="TLP marking for records that carry none (never lowers a marking)")
    i.add_argument("--releasable", help="releasability, e.g. UK,AU")
    i.add_argument(
        "--actor",
        default="cli",
        help="who is importing (their email): the audit log names them, and when the file is handed over to "
        "the running dashboard its outcome is shown to that person only",
    )
    i.add_argument(
        "--records", choices=["incidents", "eval_runs"], help="csv/json: what the rows are (default: guess)"
    )
    i.add_argument(
        "--source",
        metavar="NAME",
        help="where the records come from: stored as their source (csv/json: default 'spreadsheet') and the "
        "name the column mapping is remembered under. A public source key (atlas, aiid, epoch, avid, garak, "
        "jailbreakbench) makes the records PUBLIC, whoever imports them: TLP:CLEAR unless --tlp raises it, "
        "never AMBER+STRICT or RED",
    )
    i.add_argument(
        "--map",
        action="append",
        metavar="SOURCE=FIELD",
        help="csv/json: take FIELD from the column SOURCE, or from a path into nested JSON "
        "(impact.avid.risk_domain, metrics[0].detection); repeat for each field. Wins over the saved mapping",
    )
    i.add_argument(
        "--mapping",
        metavar="FILE",
        help="csv/json: a mapping file as the Data page saves it (Column mapping > Download); --map, --set, "
        "--records and --source given here win over it",
    )
    i.add_argument(
        "--set",
        action="append",
        metavar="FIELD=VALUE",
        help="a constant for every record (e.g. --set category=Jailbreak --set severity=3); csv/json: any "
        "field no column gives",
    )
    i.add_argument(
        "--recipients",
        metavar="EMAILS",
        help="named recipients (comma-separated emails) for TLP:RED records that name none",
    )
    i.add_argument(
        "--only-valid", action="store_true", help="csv/json: import the valid rows, reject the rest"
    )
    i.add_argument(
        "--update",
        action="store_true",
        help="refresh: a record already stored (same id, same originator) is replaced when it changed, "
        "including its marking (audited, the old version kept for undo); reports added/updated/unchanged. "
        "Without it, a stored id is refused (csv/json) or left as it is (inspect, epoch), and a different "
        "marking is reported",
    )
    i.add_argument(
        "--create",
        action="store_true",
        help="make a new store at --db if there is none (without it, a store that does not exist is refused)",
    )
    i.add_argument("--inbox", action="store_true", help="hand the file to the running dashboard's inbox")
    i.add_argument(
        "--no-inbox", action="store_true", help="fail instead of handing over when the store is in use"
    )
    i.set_defaults(fn=_import)

    x = sub.add_parser("export-stix", help="write a STIX 2.1 bundle of the records releasable to a partner")
    to = x.add_mutually_exclusive_group(required=True)
    to.add_argument("--for", dest="partner", choices=["UK", "AU"], help="the receiving institute")
    to.add_argument(
        "--for-person", dest="person", help="one named person (email): the TLP:RED records naming them"
    )
    x.add_argument("--out", required=True, help="bundle file to write")
    x.add_argument("--db", help="store path (default: THREAT_DB or data/threats.duckdb)")
    x.add_argument("--actor", default="cli", help="who is exporting, for the audit log")
    x.set_defaults(fn=_export_stix)

    xc = sub.add_parser(
        "export-ceiling", help="list, or set, the highest TLP that may leave in a bundle for each partner"
    )
    xc.add_argument("--for", dest="partner", help="the receiving institute (UK or AU)")
    xc.add_argument("--tlp", help="CLEAR, GREEN or AMBER (RED and AMBER+STRICT never leave in a bundle)")
    xc.add_argument("--db", help="store path (default: THREAT_DB or data/threats.duckdb)")
    xc.add_argument("--actor", default="cli", help="who is setting it, for the audit log")
    xc.set_defaults(fn=_export_ceiling)

    sy = sub.add_parser(
        "sync", help="TAXII 2.1 with a partner: pull their new objects, push ours (docs/exchange.md)"
    )
    sy.add_argument("--partner", required=True, choices=["UK", "AU"], help="the partner institute")
    sy.add_argument("--db", help="store path (default: THREAT_DB or data/threats.duckdb)")
    sy.add_argument("--actor", default="cli", help="who is syncing, for the audit log")
    sy.set_defaults(fn=_sync)

    sv = sub.add_parser(
        "serve",
        help="hold the store and serve it to app replicas and the CLI over Quack (docs/deployment.md)",
    )
    sv.add_argument("--db", help="the store file (default THREAT_DB)")
    sv.add_argument("--listen", default="quack:127.0.0.1:9494", help="quack:HOST:PORT to listen on")
    sv.add_argument(
        "--secrets", help="TOML file with [store] token (default THREAT_SECRETS or .streamlit/secrets.toml)"
    )
    sv.set_defaults(fn=_serve)
    ib = sub.add_parser(
        "inbox", help="import files handed over to the inbox (or list them while the app runs)"
    )
    ib.add_argument("--db", help="store path (default: THREAT_DB or data/threats.duckdb)")
    ib.set_defaults(fn=_inbox)

    u = sub.add_parser("undo", help="undo a whole import batch (audited)")
    u.add_argument("batch", help="batch id, as printed by import or listed by history")
    u.add_argument("--db", help="store path (default: THREAT_DB or data/threats.duckdb)")
    u.add_argument("--actor", default="cli", help="who is undoing, for the audit log")
    u.set_defaults(fn=_undo)

    h = sub.add_parser("history", help="list import batches, newest first")
    h.add_argument("--db", help="store path (default: THREAT_DB or data/threats.duckdb)")
    h.add_argument("--limit", type=int, default=50)
    h.set_defaults(fn=_history)

    b = sub.add_parser("bench", help="time the store's read paths on synthetic stores")
    b.add_argument("--sizes", default="100000,1000000")
    b.add_argument("--runs", type=int, default=7)
    b.add_argument("--json", help="write records to this file")
    b.add_argument("--markdown", help="write a results table to this file")
    b.add_argument(
        "--details", help="write every measurement and the machine description (JSON) to this file"
    )
    b.add_argument("--cases", help="only these cases (comma-separated names or patterns, e.g. 'matrix.*')")
    b.add_argument("--no-pages", action="store_true", help="skip the AppTest page runs")
    b.add_argument("--page-runs", type=int, default=5, help="filter changes timed per page in AppTest")
    b.add_argument("--store-dir", help="keep built stores here and reuse them (a 10M store takes minutes)")
    b.add_argument(
        "--pandas-max-size",
        type=int,
        default=1_000_000,
        help="skip the naive pandas versions above this size",
    )
    b.add_argument("--merge", action="store_true", help="keep other sizes' figures from the --details file")
    b.set_defaults(fn=_bench)

    bk = sub.add_parser("backup", help="copy the store to a verified backup file (works while the app runs)")
    bk.add_argument("--db", help="store path (default: THREAT_DB or data/threats.duckdb)")
    bk.add_argument("--out", help="folder for backups (default: backups/ beside the store)")
    bk.add_argument("--actor", default="cli", help="who is backing up, for the audit log")
    bk.add_argument("--timeout", type=float, default=600.0, help="seconds to wait for a running app")
    bk.set_defaults(fn=_backup)

    rs = sub.add_parser("restore", help="put a backup in place as the store (the app must be stopped)")
    rs.add_argument("backup", help="a backup file written by `backup`")
    rs.add_argument("--db", required=True, help="store path to restore to")
    rs.add_argument(
        "--force", action="store_true", help="replace an existing store (kept as .replaced-<time>)"
    )
    rs.add_argument("--actor", default="cli", help="who is restoring, for the audit log")
    rs.set_defaults(fn=_restore)

    # usage=SUPPRESS: a bad argument is refused in one line (argparse would print the usage first)
    cj = sub.add_parser(
        "check-judgement",
        usage=argparse.SUPPRESS,
        help="check one judgement's wording against its PHIA term and confidence (JSON line per finding; "
        "exit 1 if any)",
    )
    cj.add_argument("--term", required=True, help="the PHIA yardstick term chosen, e.g. 'likely'")
    cj.add_argument("--confidence", help="the confidence level chosen: high, moderate or low")
    cj.add_argument(
        "text", nargs="+", metavar="TEXT", help="the judgement (words are joined by one space; - reads stdin)"
    )
    cj.set_defaults(fn=_check_judgement)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.fn(args))
    except (StoreError, ValueError, FileNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
