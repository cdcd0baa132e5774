"""Fixtures of the exports tests: a world of both arms with CRFs, and feed visibility."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django.db import connection


@pytest.fixture(autouse=True)
def _fresh_throttles():
    """Rate-limit counters live in the cache; each test starts with none."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def feed_visible(db):
    """On PostgreSQL, event ids are drawn at COMMIT and a test transaction never commits:
    fire the commit-time trigger at once for this test's own inserts instead."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS exports_changeevent_seq_at_commit IMMEDIATE")
