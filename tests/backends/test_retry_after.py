"""Retry-After, honoured within a cap: a server asking for an hour (or forever) gets max_retry_wait seconds,
the wait is said on stderr and counted in the usage ledger, and the request still completes."""

from __future__ import annotations

import email.utils
import math
import time

import pytest

from chatrecipe.backends import load_backend
from chatrecipe.backends.base import GenerationParams
from chatrecipe.backends.ledger import Ledger
from chatrecipe.backends.openai_client import OpenAIBackend
from tests.servers import fault_injecting_app, running


@pytest.mark.timeout(300)  # before the cap, "3600" slept an hour and "inf" forever: fail, don't hang the suite
@pytest.mark.parametrize("asked, told", [("3600", "3600 s"), ("inf", "forever")])
def test_a_long_retry_after_is_capped_said_and_counted(asked, told, monkeypatch, capsys):
    monkeypatch.setenv("CHATRECIPE_MAX_RETRY_WAIT", "0.2")  # the setting, from the environment (default 60 s)
    app = fault_injecting_app(lambda body, n: ("status", 429, {"Retry-After": asked}) if n == 1 else ("ok", "fine"))
    ledger = Ledger()
    with running(app) as url:
        backend = load_backend("openai:judge", base_url=f"{url}/v1", ledger=ledger)
        started = time.monotonic()
        result = backend.chat([[{"role": "user", "content": "x"}]], GenerationParams(max_new_tokens=4))[0]
        waited = time.monotonic() - started
    assert result.ok and result.text == "fine" and len(app.state.log) == 2
    assert waited >= 0.2  # the cap is a wait, not a skip
    err = capsys.readouterr().err
    assert f"HTTP 429; the server asks to wait {told} (Retry-After), waiting 0.2 s (capped by max_retry_wait" in err
    usage = ledger.usage["judge"]
    assert usage["retries"] == 1 and usage["retry_after_waits"] == 1 and usage["retry_after_capped"] == 1
    assert usage["retry_wait_seconds"] == pytest.approx(0.2)


def test_short_retry_after_is_honoured_quietly_and_counted(capsys):
    app = fault_injecting_app(lambda body, n: ("status", 503, {"Retry-After": "0.05"}) if n < 3 else ("ok", "fine"))
    with running(app) as url:
        backend = OpenAIBackend("judge", base_url=f"{url}/v1", backoff=0.001)
        assert backend.chat([[{"role": "user", "content": "x"}]])[0].text == "fine"
    assert "Retry-After" not in capsys.readouterr().err  # sub-second waits are counted, not printed
    usage = backend.ledger.usage["judge"]
    assert usage["retries"] == 2 and usage["retry_after_waits"] == 2 and usage["retry_after_capped"] == 0
    assert usage["retry_wait_seconds"] >= 0.1


def test_retry_after_forms():
    from chatrecipe.backends.openai_client import retry_after_seconds

    soon = email.utils.formatdate(time.time() + 30, usegmt=True)
    assert retry_after_seconds({"retry-after": "7"}) == 7.0
    assert retry_after_seconds({"retry-after-ms": "250", "retry-after": "9"}) == 0.25  # the OpenAI header first
    assert 20 < retry_after_seconds({"retry-after": soon}) <= 30  # an HTTP date
    assert math.isinf(retry_after_seconds({"retry-after": "inf"}))  # the caller caps it
    assert retry_after_seconds({"retry-after": "-5"}) == 0.0
    assert retry_after_seconds({"retry-after": "nan"}) is None and retry_after_seconds({"retry-after": "soon"}) is None
    assert retry_after_seconds({}) is None and retry_after_seconds(None) is None


def test_bad_settings_are_refused_with_their_name(monkeypatch):
    monkeypatch.setenv("CHATRECIPE_MAX_RETRY_WAIT", "an hour")
    with pytest.raises(ValueError, match="CHATRECIPE_MAX_RETRY_WAIT='an hour': expected a number"):
        OpenAIBackend("judge", base_url="http://127.0.0.1:9/v1")
    monkeypatch.delenv("CHATRECIPE_MAX_RETRY_WAIT")
    with pytest.raises(ValueError, match="0: expected a number .int. of at least 1"):
        OpenAIBackend("judge", base_url="http://127.0.0.1:9/v1", max_concurrency=0)
    monkeypatch.setenv("CHATRECIPE_MAX_CONCURRENCY", "3")
    assert OpenAIBackend("judge", base_url="http://127.0.0.1:9/v1").max_concurrency == 3
