"""Overview: what the signed-in person may see, at a glance."""

import streamlit as st

from analytics import charts, incidents, session
from analytics.access import EVERYONE
from pages.ui import chart, empty_state, marking_banner

viewer = session.require_role(*EVERYONE)
f = session.filters()
today = session.today()

st.title("Overview")
totals = session.query(incidents.store_totals, f, today)
marking_banner(totals.marking, f"{totals.data['total']:,} incidents")
c1, c2, c3 = st.columns(3)
c1.metric("Incidents", f"{totals.data['total']:,}")
c2.metric("Reported by UK", f"{totals.data['UK']:,}")
c3.metric("Reported by AU", f"{totals.data['AU']:,}")

by_cat = session.query(incidents.counts_by_originator_and_category, f, today)
if by_cat.data.empty:
    empty_state("No incidents match these filters.")
else:
    chart(charts.counts_by_originator_and_category(by_cat.data), key="by_category", marking=by_cat.marking)
