"""Data exchange: partners' spreadsheets and STIX bundles in, STIX bundles out, import history with undo, and
what the command line handed over through the inbox. Thin: widgets in, analytics.ingest / stix_export /
imports / inbox out. Uploaded content is shown only through st.dataframe and st.text, never as markdown.

`main()` draws the page: the inbox outcomes, the STIX export box, then one function per tab."""

from functools import partial
from typing import Any

import streamlit as st

from analytics import session
from analytics.access.markings import INSTITUTES, TLP_LEVELS
from analytics.access.roles import RECORD_READERS
from analytics.access.viewer import AccessDenied, Viewer
from analytics.export import partners as partner_policy
from analytics.export import stix as stix_export
from analytics.export import table as table_export
from analytics.ingest import ImportRefused, inbox, public_origin, source_name
from analytics.ingest import history as imports
from analytics.ingest.stix.check import check_bundle
from analytics.ingest.stix.commit import existing_stix_ids, import_stix_bytes
from analytics.ingest.tabular.commit import commit
from analytics.ingest.tabular.convert import DATE_FORMATS_HELP
from analytics.ingest.tabular.fields import TARGETS, Target, as_target, field_names, required_fields
from analytics.ingest.tabular.mapping import (
    detect_target,
    mapping_file_bytes,
    parse_mapping_file,
    source_key_for,
    suggest_mapping,
)
from analytics.ingest.tabular.plan import ImportPlan
from analytics.ingest.tabular.read import MAX_ROWS, TabularFile, read_tabular
from analytics.ingest.tabular.validate import validate
from analytics.store.database import Store
from analytics.wording import counted
from pages.ui import empty_state, inert_markdown, marking_banner

TLP_CHOICES = ["(from the file)", *TLP_LEVELS]
HISTORY_COLUMNS: dict[str, Any] = {
    "at": st.column_config.DatetimeColumn("When", format="YYYY-MM-DD HH:mm"),
    "source": "File",
    "kind": "Kind",
    "imported_by": "By",
    "added": "Added",
    "updated": "Updated",
    "unchanged": "Unchanged",
    "rejected": "Rejected",
    "n_warnings": "Warnings",
    "undone_at": st.column_config.DatetimeColumn("Undone", format="YYYY-MM-DD HH:mm"),
    "batch_id": "Batch",
}


def main() -> None:
    viewer = session.require_role(*RECORD_READERS)
    store = session.store()
    st.title("Data exchange")
    st.caption(
        "Bring in partners' spreadsheets (CSV, JSON, JSONL) and STIX 2.1 bundles from MISP, OpenCTI or the "
        "partner institute; send the partner a STIX bundle of what is releasable to them. Every import is one "
        "transaction and can be undone as a whole from the history."
    )
    inbox_outcomes(store, viewer)
    stix_export_box(
        store, viewer
    )  # first on the page: what can leave, and how it is marked, is always in view
    tab_file, tab_stix, tab_history, tab_inbox = st.tabs(
        ["Import a spreadsheet", "Import STIX", "Import history", "Inbox"]
    )
    with tab_file:
        spreadsheet_tab(store, viewer)
    with tab_stix:
        stix_tab(store, viewer)
    with tab_history:
        history_tab(store, viewer)
    with tab_inbox:
        inbox_tab(store, viewer)


def refused(e: Exception) -> None:
    """A refusal quotes file content (cell values, names), so its text goes through st.code, never markdown."""
    st.error("Refused — nothing was written.", icon=":material/block:")
    st.code(str(e), language=None, wrap_lines=True)


def table_height(rows: int, most: int) -> int:
    """Height in pixels for a table of `rows` rows, showing at most `most` before it scrolls."""
    return 38 + 35 * max(1, min(rows, most))


def show_done(key: str, icon: str) -> None:
    """The outcome of the previous run's action (kept across the rerun that cleared its upload)."""
    done = st.session_state.pop(key, None)
    if done:
        st.success(inert_markdown(done), icon=icon)


def inbox_outcomes(store: Store, viewer: Viewer) -> None:
    inbox.process_inbox(store)
    for result in inbox.outcomes_for(store.path, viewer):  # only this person's own hand-overs
        (st.success if result.outcome == "imported" else st.warning)(
            "Inbox: "
            + ("imported " if result.outcome == "imported" else "refused ")
            + inert_markdown(result.file),
            icon=":material/inbox:",
        )


def stix_export_box(store: Store, viewer: Viewer) -> None:
    with st.container(border=True):
        partners = list(INSTITUTES)
        default_partner = next((p for p in partners if p != viewer.institute), partners[0])
        c1, c2 = st.columns([1, 3], vertical_alignment="center")
        partner = c1.radio(
            "Send to partner",
            partners,
            index=partners.index(default_partner),
            horizontal=True,
            key="dx_partner",
            help="Exactly the records releasable to them, up to their export ceiling (Administration page); "
            "TLP:RED and TLP:AMBER+STRICT never. Limited to what you may see yourself.",
        )
        marking = session.query(stix_export.export_marking, partner)
        withheld = session.query(partner_policy.withheld, partner)
        with c2:
            marking_banner(marking, f"{counted(marking.rows, 'incident')} releasable to {partner}")
            if withheld.total:
                st.caption("Withheld: " + "; ".join(withheld.lines()))
            if marking.rows == 0:
                st.caption(f"Nothing you can see is releasable to {partner}.")
                return
            st.download_button(
                f"STIX bundle for {partner}",
                data=partial(stix_export.export_bytes, store, partner, viewer),
                file_name=stix_export.export_file_name(partner, marking),
                mime="application/json",
                on_click="ignore",
                type="primary",
                icon=":material/download:",
                key="dx_export",
                help="STIX 2.1: incidents with TLP 2.0 marking definitions, both institutes' identities and ATLAS "
                "attack patterns. Every export is audited. Evaluation results have no STIX type and stay here.",
            )


def marking_defaults(viewer: Viewer, prefix: str) -> tuple[str | None, str | None, list[str] | None]:
    """Originating institute, default TLP and releasability: the file's own markings win when higher."""
    c1, c2, c3 = st.columns(3)
    own_institute = viewer.institute if viewer.institute in INSTITUTES else None
    if own_institute:
        institute: str | None = own_institute
        c1.text_input("Originating institute", value=own_institute, disabled=True, key=f"{prefix}_inst_fixed")
    else:
        institute = c1.selectbox("Originating institute", list(INSTITUTES), key=f"{prefix}_inst")
    picked = c2.selectbox(
        "Default TLP",
        TLP_CHOICES,
        key=f"{prefix}_tlp",
        help="For records the file leaves unmarked, and a floor for the rest: a marking is raised, never lowered.",
    )
    rel = c3.multiselect(
        "Default releasability",
        list(INSTITUTES),
        default=list(INSTITUTES),
        key=f"{prefix}_rel",
        help="Narrows what the file says; never widens it.",
    )
    return institute, (None if picked == TLP_CHOICES[0] else picked), (rel or None)


# -- spreadsheets -----------------------------------------------------------------------------------------------


def spreadsheet_tab(store: Store, viewer: Viewer) -> None:
    st.session_state.setdefault("dx_upload_n", 0)
    show_done("dx_file_done", ":material/task_alt:")
    upload = st.file_uploader(
        f"Spreadsheet or JSON (at most {MAX_ROWS:,} rows)",
        type=["csv", "tsv", "txt", "json", "jsonl", "ndjson"],
        key=f"dx_upload_{st.session_state['dx_upload_n']}",
    )
    if upload is None:
        st.caption(
            "Columns are matched to fields by name; a file that already uses the field names needs no mapping. "
            f"Dates: {DATE_FORMATS_HELP}. Lists: 'a; b' or a JSON list."
        )
        return
    try:
        tf = read_tabular(upload.name, upload.getvalue())
    except ImportRefused as e:
        refused(e)
        st.stop()
    st.caption(
        f"{inert_markdown(tf.name)}: {counted(len(tf.rows), 'row')}, {counted(len(tf.columns), 'column')}, "
        f"{tf.format.upper()}, {tf.encoding}"
    )
    key = tf.sha256[:10]
    s1, s2 = st.columns([1, 2])
    picked_target = s1.selectbox(
        "The rows are",
        list(TARGETS),
        index=list(TARGETS).index(detect_target(tf.columns)),
        format_func=TARGETS.__getitem__,
        key=f"dx_target_{key}",
    )
    target = as_target(picked_target)
    source_key = s2.text_input(
        "Source (stored with the records; the column mapping is remembered per source)",
        value=source_key_for(tf.name),
        key=f"dx_source_{key}",
        max_chars=100,
    )
    try:
        source = source_name(source_key)
    except ImportRefused as e:
        refused(e)
        st.stop()
    public = public_origin(source)
    if public is not None:
        st.info(
            f"{inert_markdown(public.name)} is a public source: these records are PUBLIC whoever imports them, "
            "TLP:CLEAR unless a higher default is chosen, never AMBER+STRICT or RED.",
            icon=":material/public:",
        )
    institute, default_tlp, default_rel = marking_defaults(viewer, f"dx_{key}")
    mapping = column_mapping(tf, target, key, source or "unnamed", institute)
    plan = validate(
        session.cursor(),
        tf,
        target=target,
        mapping=mapping,
        institute=institute,
        tlp=default_tlp,
        releasable=default_rel,
        source_key=source,
        viewer=viewer,
        source=source,
    )
    show_plan(tf, plan)
    import_buttons(store, viewer, tf, plan)


def column_mapping(
    tf: TabularFile, target: Target, key: str, source_key: str, institute: str | None
) -> dict[str, str]:
    """One selectbox per file column, preset to the saved or name-matched field; the mapping chosen."""
    suggested, origin = suggest_mapping(session.cursor(), tf, target, source_key, institute or "")
    choices = ["", *field_names(target)]
    unmapped = set(required_fields(target)) - set(suggested.values())
    mapping: dict[str, str] = {}
    with st.expander(f"Column mapping ({origin})", expanded=bool(unmapped)):
        st.caption("Required: " + ", ".join(required_fields(target)) + ". Leave a column blank to skip it.")
        upload_mapping(tf, target, key)
        grid = st.columns(3)
        for k, col in enumerate(tf.columns):
            sample = ", ".join(str(r[k])[:30] for r in tf.rows[:3] if r[k] not in (None, ""))
            choice = grid[k % 3].selectbox(
                inert_markdown(col),
                choices,
                index=choices.index(suggested.get(col, "")),
                key=f"dx_map_{key}_{target}_{k}",
                format_func=lambda f: f or "(skip)",
                help=f"e.g. {inert_markdown(sample)}" if sample else "empty in the first rows",
            )
            if choice:
                mapping[col] = choice
        st.download_button(
            "Download this mapping",
            data=mapping_file_bytes(target, source_key, mapping),
            file_name=f"{source_key.replace(' ', '-') or 'mapping'}.mapping.json",
            mime="application/json",
            on_click="ignore",
            icon=":material/download:",
            key=f"dx_map_download_{key}",
            help="The same file `python -m analytics import csv FILE --mapping THIS.json` reads (holds column "
            "and field names only, no record content).",
        )
    return mapping


def upload_mapping(tf: TabularFile, target: Target, key: str) -> None:
    """A mapping file (as downloaded here, or written for the CLI) presets the column choices once per upload."""
    upload = st.file_uploader("Apply a mapping file", type=["json"], key=f"dx_map_upload_{key}")
    if upload is None:
        return
    data = upload.getvalue()
    marker = f"dx_map_applied_{key}_{target}"
    if st.session_state.get(marker) == (upload.name, len(data)):
        return
    try:
        spec = parse_mapping_file(upload.name, data)
    except ImportRefused as e:
        refused(e)
        return
    fields = set(field_names(target))
    for k, col in enumerate(tf.columns):
        st.session_state[f"dx_map_{key}_{target}_{k}"] = (
            spec.mapping[col] if spec.mapping.get(col) in fields else ""
        )
    st.session_state[marker] = (upload.name, len(data))
    skipped = [c for c in spec.mapping if c not in tf.columns]
    if skipped:
        st.caption(
            f"{counted(len(skipped), 'column')} of the mapping file are not in this file; the command line can map "
            "paths into nested JSON and constants (--map, --set)."
        )


def show_plan(tf: TabularFile, plan: ImportPlan) -> None:
    marking_banner(plan.marking, f"{counted(plan.rows.num_rows, 'valid row')} as they would be marked")
    st.dataframe(tf.preview(), width="stretch", hide_index=True, height=table_height(len(tf.rows), 8))
    if plan.ok:
        st.success(f"All {counted(len(tf.rows), 'row')} pass validation.", icon=":material/check_circle:")
    else:
        st.error(
            f"{counted(len(plan.problems), 'problem')} in {len(plan.rejected_rows):,} of {counted(len(tf.rows), 'row')}"
            + (" and in the file as a whole" if plan.file_level_problems else "")
            + ". Nothing is written unless every row passes, or you choose to import only the valid rows.",
            icon=":material/rule:",
        )
        st.dataframe(
            plan.problem_table(),
            width="stretch",
            hide_index=True,
            height=table_height(len(plan.problems), 12),
            column_config={
                "row": st.column_config.NumberColumn(width="small"),
                "problem": st.column_config.TextColumn(width="large"),
            },
        )
    for w in plan.warnings:
        st.warning(inert_markdown(w), icon=":material/warning:")


def import_buttons(store: Store, viewer: Viewer, tf: TabularFile, plan: ImportPlan) -> None:
    """Import all rows when every row passes; otherwise the rejected rows as a CSV and an explicit choice to
    import only the valid ones."""

    def write(only_valid: bool) -> None:
        try:
            report = commit(store, plan, actor=viewer.email, viewer=viewer, only_valid=only_valid)
        except (ImportRefused, AccessDenied) as e:
            refused(e)
            return
        st.session_state["dx_file_done"] = report.summary() + f" — batch {report.batch_id}"
        st.session_state["dx_upload_n"] += 1
        st.rerun()

    if plan.ok:
        if st.button(f"Import {counted(plan.rows.num_rows, 'row')}", type="primary", key="dx_commit"):
            write(only_valid=False)
        return
    if plan.file_level_problems or not plan.rows.num_rows:
        return
    c1, c2 = st.columns(2)
    c1.download_button(
        f"Rejected rows ({len(plan.rejected_rows):,}) as CSV",
        # built (formulas escaped, marked) and audited only when clicked, like every export
        data=partial(
            table_export.export_csv,
            store,
            viewer,
            plan.rejected_rows_frame(),
            plan.marking,
            header=[table_export.marking_comment(plan.marking, ["rows this import refused"])],
            obj="table:rejected-rows",
        ),
        file_name=f"{tf.name.rsplit('.', 1)[0]}-rejected.csv",
        mime="text/csv",
        on_click="ignore",
        icon=":material/download:",
        key="dx_rejected",
    )
    confirm = c2.checkbox(
        f"Import only the {counted(plan.rows.num_rows, 'valid row')} and leave the {len(plan.rejected_rows):,} "
        "rejected rows out",
        key="dx_only_valid",
    )
    if c2.button("Import valid rows", disabled=not confirm, key="dx_commit_valid"):
        write(only_valid=True)


# -- STIX in ----------------------------------------------------------------------------------------------------


def stix_tab(store: Store, viewer: Viewer) -> None:
    show_done("dx_stix_done", ":material/task_alt:")
    st.session_state.setdefault("dx_stix_n", 0)
    bundle = st.file_uploader(
        "STIX 2.1 bundle (JSON)", type=["json"], key=f"dx_stix_{st.session_state['dx_stix_n']}"
    )
    if bundle is None:
        st.caption(
            "Incidents, reports, ATLAS attack patterns, identities and notes become incidents with techniques. "
            "TLP 2.0 markings are kept and TLP 1.0 mapped (WHITE → CLEAR); unknown markings, unresolved "
            "references, bad ids or timestamps refuse the whole bundle."
        )
        return
    data = bundle.getvalue()
    try:
        check = check_bundle(bundle.name, data, known_ids=existing_stix_ids(session.cursor(), viewer))
    except ImportRefused as e:
        refused(e)
        st.stop()
    st.text(check.summary())
    if not check.ok:
        st.error(
            f"This bundle would be refused: {counted(len(check.reasons), 'problem')}.",
            icon=":material/block:",
        )
        st.dataframe({"problem": check.reasons}, width="stretch", hide_index=True)
        return
    inst, default_tlp, default_rel = marking_defaults(viewer, "dx_stix")
    for w in check.warnings:
        st.warning(inert_markdown(w), icon=":material/warning:")
    if not st.button("Import bundle", type="primary", key="dx_stix_commit"):
        return
    try:
        report = import_stix_bytes(
            store,
            bundle.name,
            data,
            actor=viewer.email,
            institute=inst,
            tlp=default_tlp,
            releasable=default_rel,
            viewer=viewer,
        )
    except (ImportRefused, AccessDenied) as e:
        refused(e)
    else:
        st.session_state["dx_stix_done"] = report.summary() + f" — batch {report.batch_id}"
        st.session_state["dx_stix_n"] += 1
        st.rerun()


# -- history and undo -------------------------------------------------------------------------------------------


def history_tab(store: Store, viewer: Viewer) -> None:
    show_done("dx_undo_done", ":material/undo:")
    batches = session.query(imports.history)
    if batches.empty:
        empty_state("No imports yet that you may see.")
        return
    st.dataframe(
        batches,
        width="stretch",
        hide_index=True,
        height=table_height(len(batches), 10),
        column_order=list(HISTORY_COLUMNS),
        column_config=HISTORY_COLUMNS,
    )
    live = batches[batches["undone_at"].isna()]
    if live.empty:
        return
    labels = {
        r["batch_id"]: f"{r['batch_id']} · {r['source']} · {r['added']} added, {r['updated']} updated"
        for r in live.to_dict("records")
    }
    st.markdown("#### Undo an import")
    picked = st.selectbox("Batch", list(labels), format_func=labels.__getitem__, key="dx_undo_batch")
    warnings = live.loc[live["batch_id"] == picked, "warnings"].iloc[0]
    if len(warnings):
        with st.expander(f"Warnings of this batch ({len(warnings)})"):
            st.dataframe({"warning": list(warnings)}, width="stretch", hide_index=True)
    sure = st.checkbox(
        "Remove every record this batch added and restore every record it replaced", key="dx_undo_sure"
    )
    if st.button("Undo batch", disabled=not sure, key="dx_undo", icon=":material/undo:"):
        try:
            st.session_state["dx_undo_done"] = imports.undo_batch(
                store, picked, actor=viewer.email, viewer=viewer
            ).summary()
            st.rerun()
        except (imports.UndoRefused, AccessDenied) as e:
            st.error(inert_markdown(str(e)), icon=":material/block:")


# -- inbox ------------------------------------------------------------------------------------------------------


def inbox_tab(store: Store, viewer: Viewer) -> None:
    st.caption(
        "While the dashboard runs it holds the store, so `python -m analytics import ...` hands files over to "
        "the inbox folder next to the store, and the dashboard imports them on its next page load."
    )
    waiting = inbox.pending_for(store.path, viewer)
    c1, c2 = st.columns([3, 1])
    c1.metric("Waiting in the inbox", len(waiting))
    if c2.button("Check the inbox now", key="dx_inbox_now", icon=":material/refresh:"):
        st.rerun()
    if waiting:
        st.dataframe(
            [
                {"submitted": m.submitted_at, "file": m.original_name, "kind": m.kind, "by": m.actor}
                for m in waiting
            ],
            width="stretch",
            hide_index=True,
        )
    log = session.query(inbox.inbox_log)
    if log.empty:
        empty_state("Nothing has been handed over yet.")
        return
    st.dataframe(
        log,
        width="stretch",
        hide_index=True,
        column_config={
            "processed_at": st.column_config.DatetimeColumn("Processed", format="YYYY-MM-DD HH:mm")
        },
    )


main()
