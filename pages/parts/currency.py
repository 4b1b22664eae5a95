"""The line under every page title saying what its data runs to, how late incidents are reported, and which
calendar day "today" is (issue 15): a reader of "last 30 days" must know whether the data reaches today.

One call per page (`currency_line()` for incident pages, `currency_line("evaluations")` for evaluation results).
The figures are analytics.incidents.currency's and analytics.evals.currency's, read through the viewer's
markings; the text they return may name a stored source key, so it is rendered inert.
"""

from typing import Literal

import streamlit as st

from analytics import session
from analytics.evals.currency import evaluation_currency
from analytics.incidents.currency import Currency, data_currency
from pages.ui import inert_markdown


def incident_currency() -> Currency:
    """What the incidents this viewer may see run to (cached per viewer and store generation)."""
    return session.query(data_currency, session.today())


def currency_line(
    kind: Literal["incidents", "evaluations"] = "incidents", known: Currency | None = None
) -> None:
    """The line under a page title; `known` is the incident currency when the page has read it already."""
    today = session.today()
    if kind == "evaluations":
        text = session.query(evaluation_currency, today).describe()
    else:
        text = (known or incident_currency()).describe()
    st.caption(f"{inert_markdown(text)} {inert_markdown(session.today_note())}")
