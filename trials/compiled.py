"""Hot single-row reads compiled to SQL once per process, then run with a fresh primary key.

Django compiles a queryset to SQL on every evaluation; for a read with many subqueries (the
crf save's visit lock) that compilation costs more Python time than the database spends
running it (#16). ``CompiledGet`` compiles ``queryset.filter(pk=...)`` once per database
alias and afterwards only swaps the primary key in the parameters, building the instance
(select_related objects and annotations included) the way ``QuerySet.get`` would.

Only for querysets whose SQL depends on nothing but the primary key: no values read from the
clock, the language or the user at build time.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from django.db import connections
from django.db.models import Model, QuerySet
from django.db.models.query import get_related_populators
from django.db.transaction import TransactionManagementError

M = TypeVar("M", bound=Model)

# A value no primary key takes, to find the primary key's slot among the compiled parameters.
_SLOT = -987_654_321


@dataclass(frozen=True)
class _Compiled:
    sql: str
    params: tuple
    slot: int
    select: list
    klass_info: dict
    annotation_col_map: dict
    col_count: int


class CompiledGet(Generic[M]):
    """``queryset.get(pk=pk)`` with the SQL compiled on the first call (per alias)."""

    def __init__(self, queryset: QuerySet[M]):
        self._queryset = queryset
        self._compiled: dict[str, _Compiled] = {}
        self._lock = threading.Lock()

    def _compile(self, db: str) -> _Compiled:
        query = self._queryset.filter(pk=_SLOT).query
        compiler = query.get_compiler(using=db)
        sql, params = compiler.as_sql()
        slots = [i for i, value in enumerate(params) if value == _SLOT]
        if len(slots) != 1:  # the key must be the only parameter taking this value
            raise ValueError("CompiledGet: the primary key is not a single parameter.")
        return _Compiled(
            sql=sql,
            params=tuple(params),
            slot=slots[0],
            select=compiler.select,
            klass_info=compiler.klass_info,
            annotation_col_map=compiler.annotation_col_map or {},
            col_count=compiler.col_count,
        )

    def get(self, pk: Any) -> M:
        queryset = self._queryset
        db = queryset.db
        connection = connections[db]
        if queryset.query.select_for_update and connection.get_autocommit():
            raise TransactionManagementError(
                "select_for_update cannot be used outside of a transaction."
            )
        compiled = self._compiled.get(db)
        if compiled is None:
            with self._lock:
                compiled = self._compiled.get(db) or self._compile(db)
                self._compiled[db] = compiled
        params = list(compiled.params)
        params[compiled.slot] = queryset.model._meta.pk.get_prep_value(pk)
        with connection.cursor() as cursor:
            cursor.execute(compiled.sql, params)
            rows = cursor.fetchmany(2)
        if not rows:
            raise queryset.model.DoesNotExist(
                f"{queryset.model._meta.object_name} matching query does not exist."
            )
        if len(rows) > 1:  # cannot happen on the primary key; as ``get`` would say
            raise queryset.model.MultipleObjectsReturned("get() returned more than one row.")
        return self._instance(compiled, db, rows[0])

    def _instance(self, compiled: _Compiled, db: str, raw: tuple) -> M:
        """The instance from one row, as ``ModelIterable`` builds it."""
        compiler = self._queryset.query.get_compiler(using=db)  # no compilation: converters
        compiler.select, compiler.col_count = compiled.select, compiled.col_count
        (row,) = compiler.results_iter(results=[[raw[: compiled.col_count]]])
        info = compiled.klass_info
        fields = info["select_fields"]
        start, end = fields[0], fields[-1] + 1
        init_list = [f[0].target.attname for f in compiled.select[start:end]]
        obj = info["model"].from_db(db, init_list, row[start:end])
        for populator in get_related_populators(info, compiled.select, db):
            populator.populate(row, obj)
        for name, position in compiled.annotation_col_map.items():
            setattr(obj, name, row[position])
        return obj
