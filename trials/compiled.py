"""Hot reads compiled to SQL once per process, then run with fresh key values (#16).

Django compiles a queryset to SQL on every evaluation; on the write paths that every eCRF
save takes (the visit lock with its subqueries, the lock check, the patient course) that
compilation cost more Python time than the database spent running the queries.
``CompiledQuery`` builds its queryset once per database alias with a marker value for each
parameter, compiles it, and afterwards only puts the values in the marker's places among the
SQL parameters; the results are built the way the queryset would build them (instances with
their ``select_related`` rows and annotations, or ``values_list`` rows).

Only for querysets whose SQL depends on nothing but the parameters: no value read from the
clock, the language or the user when the queryset is built, and a shape (which filters are
present) fixed for one ``CompiledQuery``. Parameters are primary or foreign keys (``int``)
or codes (``str``).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from django.db import connections
from django.db.models import Model, QuerySet
from django.db.models.query import (
    FlatValuesListIterable,
    ModelIterable,
    ValuesListIterable,
    get_related_populators,
)
from django.db.transaction import TransactionManagementError

M = TypeVar("M", bound=Model)

# Marker values, to find each parameter's place among the compiled SQL parameters: inside
# every integer key's range (an out-of-range value drops its condition from the SQL).
_INT_MARK = 2_147_480_000


def _mark(position: int, kind: type) -> int | str:
    return _INT_MARK + position if kind is int else f"<compiled parameter {position}>"


@dataclass(frozen=True)
class _Compiled:
    sql: str
    params: tuple
    slots: dict[str, tuple[int, ...]]
    iterable: type
    select: list
    klass_info: dict | None
    annotation_col_map: dict
    col_count: int


class CompiledQuery(Generic[M]):
    """``build(**params)`` compiled once per alias; ``list(**params)`` runs it.

    ``params`` name each parameter with its type (``int`` or ``str``); every one must reach
    the SQL as a parameter of its own (checked when compiling).
    """

    def __init__(self, build: Callable[..., QuerySet[M]], **params: type):
        if any(kind not in (int, str) for kind in params.values()):
            raise TypeError("CompiledQuery parameters are int or str.")
        self._build = build
        self._params = params
        self._compiled: dict[str, _Compiled] = {}
        self._lock = threading.Lock()

    def queryset(self, **values: Any) -> QuerySet[M]:
        """The queryset itself, for these values (what ``list`` returns the rows of)."""
        return self._build(**values)

    def _compile(self, db: str) -> _Compiled:
        queryset = self._template
        marks = self._marks()
        iterable = queryset._iterable_class
        if iterable not in (ModelIterable, ValuesListIterable, FlatValuesListIterable):
            raise TypeError("CompiledQuery runs model and values_list querysets only.")
        if queryset._known_related_objects:  # a related manager's: build from the model's
            raise TypeError("CompiledQuery runs querysets of a model's default manager.")
        if queryset._prefetch_related_lookups:  # later queries it would not run
            raise TypeError("CompiledQuery runs querysets without prefetch_related.")
        query = queryset.query
        if iterable is not ModelIterable and (query.extra_select or query.annotation_select):
            raise TypeError("CompiledQuery runs values_list of plain fields only.")
        compiler = query.get_compiler(using=db)
        sql, params = compiler.as_sql()
        slots = {
            name: tuple(i for i, value in enumerate(params) if value == mark)
            for name, mark in marks.items()
        }
        if not all(slots.values()):
            raise ValueError(f"CompiledQuery: a parameter is not in the SQL ({slots}).")
        return _Compiled(
            sql=sql,
            params=tuple(params),
            slots=slots,
            iterable=iterable,
            select=compiler.select,
            klass_info=compiler.klass_info,
            annotation_col_map=compiler.annotation_col_map or {},
            col_count=compiler.col_count,
        )

    def _prepared(self, db: str) -> _Compiled:
        compiled = self._compiled.get(db)
        if compiled is None:
            with self._lock:
                compiled = self._compiled.get(db) or self._compile(db)
                self._compiled[db] = compiled
        return compiled

    def list(self, **values: Any) -> list:
        """What ``list(self.queryset(**values))`` returns, without compiling it again."""
        if values.keys() != self._params.keys():
            raise TypeError(f"CompiledQuery expects {sorted(self._params)}.")
        db = self._template.db
        connection = connections[db]
        compiled = self._prepared(db)
        if self._template.query.select_for_update and connection.get_autocommit():
            raise TransactionManagementError(
                "select_for_update cannot be used outside of a transaction."
            )
        params = list(compiled.params)
        for name, value in values.items():
            kind = self._params[name]
            if not isinstance(value, kind) or isinstance(value, bool):  # a flag is no key
                raise TypeError(f"CompiledQuery parameter {name} must be {self._params[name]}.")
            for slot in compiled.slots[name]:
                params[slot] = value
        with connection.cursor() as cursor:
            cursor.execute(compiled.sql, params)
            raw = cursor.fetchall()
        if not raw:
            return []
        compiler = self._template.query.get_compiler(using=db)  # for its converters only
        compiler.select, compiler.col_count = compiled.select, compiled.col_count
        rows = compiler.results_iter(results=[[r[: compiled.col_count] for r in raw]])
        if compiled.iterable is FlatValuesListIterable:
            return [row[0] for row in rows]
        if compiled.iterable is ValuesListIterable:
            return [tuple(row) for row in rows]
        return [self._instance(compiled, db, row) for row in rows]

    def _marks(self) -> dict[str, int | str]:
        return {name: _mark(i, kind) for i, (name, kind) in enumerate(self._params.items())}

    @property
    def _template(self) -> QuerySet[M]:
        """The queryset built once with the markers: its model, alias and locking (built on
        first use, once the apps are loaded)."""
        template = self.__dict__.get("_built")
        if template is None:
            template = self.__dict__["_built"] = self._build(**self._marks())
        return template

    @staticmethod
    def _instance(compiled: _Compiled, db: str, row: list) -> Model:
        """One instance from one row, as ``ModelIterable`` builds it."""
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


class CompiledGet(Generic[M]):
    """``queryset.get(pk=pk)`` with the SQL compiled once (``CompiledQuery``)."""

    def __init__(self, queryset: QuerySet[M]):
        self._queryset = queryset
        self._query = CompiledQuery(lambda pk: queryset.filter(pk=pk), pk=int)

    def get(self, pk: int) -> M:
        found = self._query.list(pk=pk)
        model = self._queryset.model
        if not found:
            raise model.DoesNotExist(f"{model._meta.object_name} matching query does not exist.")
        if len(found) > 1:  # cannot happen on the primary key; as ``get`` would say
            raise model.MultipleObjectsReturned("get() returned more than one row.")
        return found[0]
