"""The error box never offers "Ask Google" / "Ask ChatGPT": those links invite pasting marked material into outside
services. Streamlit shows them on localhost by default (`client.showErrorLinks = "auto"`); the shipped config turns
them off everywhere, and this reads the config the way the server does."""

from __future__ import annotations

import pytest
from streamlit import config
from streamlit.proto.NewSession_pb2 import Config
from streamlit.runtime import app_session

from tests.conftest import ROOT


def test_error_box_links_to_outside_services_are_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)  # Streamlit reads .streamlit/config.toml from the directory it is started in
    try:
        config.get_config_options(force_reparse=True)
        assert config.get_option("client.showErrorLinks") == "false"
        # what the server sends the browser with every new session
        assert app_session._get_show_error_links() == Config.ShowErrorLinks.SHOW_ERROR_LINKS_FALSE
    finally:
        monkeypatch.undo()
        config.get_config_options(force_reparse=True)
