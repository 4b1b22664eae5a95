"""Demo personas across reloads and demo mode's loopback-only rule (issue 20): each counts only in demo mode."""

from __future__ import annotations

import pytest

from analytics.accounts.identity import DEMO_EMAILS, demo_client_refused, remembered_persona


@pytest.mark.parametrize("email", sorted(DEMO_EMAILS))
def test_a_reload_keeps_a_demo_persona_in_demo_mode_only(email: str) -> None:
    assert remembered_persona("demo", email) == email
    assert remembered_persona("demo", f"  {email.upper()} ") == email
    for mode in ("oidc", "unconfigured", "misconfigured"):
        assert remembered_persona(mode, email) is None  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "value", [None, "", "stranger@evil.example", "analyst@uk.example.evil", "no-email:x"]
)
def test_only_a_persona_is_remembered(value: str | None) -> None:
    assert remembered_persona("demo", value) is None


def test_demo_mode_answers_only_loopback_connections() -> None:
    assert not demo_client_refused("demo", None)  # Streamlit reports loopback peers as None
    assert not demo_client_refused("demo", "127.0.0.1")
    assert not demo_client_refused("demo", "::1")
    # a server listening on all interfaces (dual-stack) sees an IPv4 loopback peer as IPv4-mapped IPv6, and the
    # whole of 127.0.0.0/8 is this machine
    assert not demo_client_refused("demo", "::ffff:127.0.0.1")
    assert not demo_client_refused("demo", "127.0.1.1")
    assert not demo_client_refused("demo", "localhost")
    assert demo_client_refused("demo", "::ffff:192.0.2.2")
    assert demo_client_refused("demo", "not an address")  # anything unreadable is not this machine
    assert demo_client_refused("demo", "192.0.2.2")
    assert demo_client_refused("demo", "10.0.0.7")
    assert demo_client_refused("demo", "fd00::2")
    for mode in ("oidc", "unconfigured", "misconfigured"):
        assert not demo_client_refused(mode, "192.0.2.2")  # type: ignore[arg-type]
