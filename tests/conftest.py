"""Fixtures shared by the test modules."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from hubserver import FakeHub  # noqa: E402


@pytest.fixture
def hub(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeHub]:
    """The local fake Hub, started: user ``tester`` (write in ``test-org``) with token ``hf_write``.

    ``HF_ENDPOINT`` points at it and ``HF_TOKEN`` is unset for the test. A module needing more users
    or tokens overrides ``hub`` with a fixture that takes ``hub`` and adds them.
    """
    fake = FakeHub()
    fake.add_user("tester", orgs={"test-org": "write"})
    fake.add_token("hf_write", "tester")
    url = fake.start()
    monkeypatch.setenv("HF_ENDPOINT", url)
    monkeypatch.setenv("HF_HUB_DISABLE_TELEMETRY", "1")
    monkeypatch.delenv("HF_TOKEN", raising=False)
    yield fake
    fake.stop()
