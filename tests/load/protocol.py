"""A Streamlit session driven at the protocol level: one websocket to a real server, no browser.

It speaks the same protobuf messages as the Streamlit frontend (BackMsg up, ForwardMsg down, over
`/_stcore/stream`), so the server does exactly the work it does for a browser tab: a script run per interaction,
session state, widget state, the result cache, the store. What it does not do is render: times measured here are
"request sent" to "script finished and every delta received", without the browser's layout and Plotly drawing
(the Chromium sessions of the load test measure that part).

Only what the load test needs is modelled: the elements of the last run (by delta path), buttons, multiselects,
metrics, markdown, errors and exceptions, the page list from the navigation message, and the query string.
"""

from __future__ import annotations

import re
import time
import urllib.request
from dataclasses import dataclass, field
from typing import Any

from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from streamlit.proto.WidgetStates_pb2 import WidgetState
from websockets.sync.client import connect
from websockets.typing import Subprotocol


class ProtocolError(RuntimeError):
    """The server did not answer as a Streamlit server should (or the script raised)."""


@dataclass
class RunResult:
    seconds: float
    elements: dict[tuple[int, ...], Any]  # delta path -> Element proto
    status: str


@dataclass
class Page:
    name: str
    script_hash: str
    url_path: str


@dataclass
class ProtocolSession:
    base_url: str  # http://127.0.0.1:PORT
    timeout: float = 120.0
    elements: dict[tuple[int, ...], Any] = field(default_factory=dict)
    pages: list[Page] = field(default_factory=list)
    page_hash: str = ""
    query_string: str = ""
    widget_values: dict[str, WidgetState] = field(default_factory=dict)
    runs: int = 0
    # Sent with the websocket handshake: a proxy's sticky-session cookie (tests/deploy, deploy/nginx).
    cookie: str = ""
    session_id: str = ""  # the server's id for this session (backend operations name it)

    def __post_init__(self) -> None:
        ws_url = re.sub(r"^http", "ws", self.base_url.rstrip("/")) + "/_stcore/stream"
        self._ws = connect(
            ws_url,
            subprotocols=[Subprotocol("streamlit")],
            max_size=None,
            open_timeout=30,
            legacy=True,
            additional_headers={"Cookie": self.cookie} if self.cookie else None,
        )

    # -- sending -------------------------------------------------------------------------------------------

    def rerun(self, *, triggers: list[WidgetState] | None = None, page_hash: str | None = None) -> RunResult:
        """Send one rerun (as the frontend does after an interaction) and read until the run has finished."""
        msg = BackMsg()
        state = msg.rerun_script
        state.query_string = self.query_string
        state.page_script_hash = page_hash if page_hash is not None else self.page_hash
        for ws in self.widget_values.values():
            state.widget_states.widgets.append(ws)
        for ws in triggers or []:
            state.widget_states.widgets.append(ws)
        t0 = time.perf_counter()
        self._ws.send(msg.SerializeToString())
        status = self._read_until_finished()
        self.runs += 1
        return RunResult(time.perf_counter() - t0, dict(self.elements), status)

    def _read_until_finished(self) -> str:
        deadline = time.monotonic() + self.timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise ProtocolError(f"no script_finished within {self.timeout:.0f} s")
            fwd = ForwardMsg()
            fwd.ParseFromString(self._ws.recv(timeout=left))
            kind = fwd.WhichOneof("type")
            if kind == "new_session":
                # A new script run starts (also after st.rerun): the elements of the previous run are replaced.
                self.elements = {}
                self.page_hash = fwd.new_session.page_script_hash or self.page_hash
                self.session_id = fwd.new_session.initialize.session_id or self.session_id
            elif kind == "delta":
                if fwd.delta.WhichOneof("type") == "new_element":
                    self.elements[tuple(fwd.metadata.delta_path)] = fwd.delta.new_element
            elif kind == "navigation":
                self.pages = [
                    Page(p.page_name, p.page_script_hash, p.url_pathname) for p in fwd.navigation.app_pages
                ]
                self.page_hash = fwd.navigation.page_script_hash or self.page_hash
            elif kind == "page_info_changed":
                self.query_string = fwd.page_info_changed.query_string
            elif kind == "script_finished":
                status = ForwardMsg.ScriptFinishedStatus.Name(fwd.script_finished)
                if status == "FINISHED_EARLY_FOR_RERUN":
                    continue  # st.rerun(): the next run follows on its own
                return status

    def close(self) -> None:
        self._ws.close()

    # -- interactions --------------------------------------------------------------------------------------

    def start(self) -> RunResult:
        return self.rerun()

    def click(self, key: str) -> RunResult:
        button = self.widget("button", key)
        return self.rerun(triggers=[WidgetState(id=button.id, trigger_value=True)])

    def select(self, key: str, values: list[str]) -> RunResult:
        """Set a multiselect (by its key) to these option labels, exactly as the frontend sends them."""
        widget = self.widget("multiselect", key)
        missing = [v for v in values if v not in widget.options]
        if missing:
            raise ProtocolError(f"{key}: no option {missing!r}")
        ws = WidgetState(id=widget.id)
        ws.string_array_value.data[:] = values
        self.widget_values[widget.id] = ws
        return self.rerun()

    def download(self, key: str) -> bytes:
        """Press a download button whose file is built on demand (`data=` a callable), as the frontend does: a
        backend operation over the websocket returns the file's URL, then an HTTP GET (with the session's cookie,
        so a proxy sends it to the same replica) fetches the bytes."""
        button = self.widget("download_button", key)
        msg = BackMsg()
        req = msg.backend_operation_request
        req.request_id = f"dl-{self.runs}-{key}"
        req.session_id = self.session_id
        req.deferred_file.file_id = button.deferred_file_id
        self._ws.send(msg.SerializeToString())
        deadline = time.monotonic() + self.timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise ProtocolError(f"{key}: no file within {self.timeout:.0f} s")
            fwd = ForwardMsg()
            fwd.ParseFromString(self._ws.recv(timeout=left))
            if fwd.WhichOneof("type") != "backend_operation_response":
                continue
            resp = fwd.backend_operation_response
            if resp.request_id != req.request_id:
                continue
            if resp.error_msg:
                raise ProtocolError(f"{key}: {resp.error_msg}")
            break
        request = urllib.request.Request(
            self.base_url.rstrip("/") + resp.deferred_file.url,
            headers={"Cookie": self.cookie} if self.cookie else {},
        )
        with urllib.request.urlopen(request, timeout=self.timeout) as r:
            return bytes(r.read())

    def type_text(self, key: str, value: str) -> RunResult:
        """Set a text input (by its key) as the frontend does when the person leaves the field."""
        widget = self.widget("text_input", key)
        ws = WidgetState(id=widget.id, string_value=value)
        self.widget_values[widget.id] = ws
        return self.rerun()

    def switch_page(self, name: str) -> RunResult:
        for p in self.pages:
            if p.name == name:
                return self.rerun(page_hash=p.script_hash)
        raise ProtocolError(f"no page {name!r} among {[p.name for p in self.pages]}")

    # -- reading -------------------------------------------------------------------------------------------

    @property
    def page_name(self) -> str:
        for p in self.pages:
            if p.script_hash == self.page_hash:
                return p.name
        return ""

    def of_type(self, kind: str) -> list[Any]:
        out = []
        for path in sorted(self.elements):
            el = self.elements[path]
            if el.WhichOneof("type") == kind:
                out.append(getattr(el, kind))
        return out

    def widget(self, kind: str, key: str) -> Any:
        for w in self.of_type(kind):
            if w.id.endswith(f"-{key}"):
                return w
        raise ProtocolError(f"no {kind} with key {key!r} in the last run")

    def metrics(self) -> dict[str, str]:
        return {m.label: m.body for m in self.of_type("metric")}

    def markdown(self) -> list[str]:
        return [m.body for m in self.of_type("markdown")]

    def problems(self) -> list[str]:
        """Exceptions and st.error messages shown in the last run."""
        out = [f"exception: {e.type}: {e.message}" for e in self.of_type("exception")]
        out += [f"error: {a.body}" for a in self.of_type("alert") if a.format == 1]  # Alert.Format.ERROR
        return out
