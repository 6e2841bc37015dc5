"""One fitted task classifier for the data tests (fitting embeds every labelled prompt twice: minutes on 2 cores)."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def embedder():
    from chatrecipe.data.embeddings import Embedder

    return Embedder()


@pytest.fixture(scope="session")
def classify_home(tmp_path_factory):
    """A $CHATRECIPE_HOME whose classify/ cache holds the fit, so CLI tests pointed at it do not fit again."""
    return tmp_path_factory.mktemp("chatrecipe-home")


@pytest.fixture(scope="session")
def classifier(embedder, classify_home):
    from chatrecipe.data.classify import EmbeddingClassifier

    return EmbeddingClassifier.fit(embedder=embedder, cache_dir=classify_home / "classify")
