"""Fixtures the annotation app tests share: one throwaway PostgreSQL cluster for the whole session."""

from __future__ import annotations

import pytest

from tests.annotate_fixtures import postgres_cluster


@pytest.fixture(scope="session")
def postgres():
    """The base URL of a real PostgreSQL server on 127.0.0.1 (skipped with the reason where it cannot start)."""
    with postgres_cluster() as url:
        yield url
