"""``trials.audit.inserts_gathered``: the append-only rows of one write in one INSERT (#16)."""

from __future__ import annotations

import pytest
from django.utils import timezone

from exports.models import ChangeEvent
from trials import audit

pytestmark = pytest.mark.django_db


def _event(object_id: int) -> ChangeEvent:
    return ChangeEvent(
        at=timezone.now(),
        kind=ChangeEvent.Kind.VISIT,
        model="crf.visit",
        object_id=object_id,
        history_id=object_id,
        change=ChangeEvent.Change.CHANGED,
    )


def test_rows_are_inserted_together_at_the_end_of_the_block(django_assert_num_queries):
    with django_assert_num_queries(1), audit.inserts_gathered():
        audit.insert(_event(1))
        with audit.inserts_gathered():  # nested: the outer block inserts
            audit.insert(_event(2))
    assert sorted(ChangeEvent.objects.values_list("object_id", flat=True)) == [1, 2]


def _failing_write() -> None:
    with audit.inserts_gathered():
        audit.insert(_event(1))
        raise RuntimeError("the write failed")


def test_nothing_is_inserted_when_the_block_fails():
    with pytest.raises(RuntimeError, match="the write failed"):
        _failing_write()
    assert not ChangeEvent.objects.exists()


def test_outside_a_block_a_row_is_inserted_at_once():
    audit.insert(_event(3))
    assert ChangeEvent.objects.filter(object_id=3).exists()
