"""Keyset ("cursor") paging of the HTML lists (#16), on DRF's ``CursorPagination``.

Page-number paging counts every row and skips ``OFFSET`` rows: a late page sorts and walks
all rows before it. A cursor page filters on the position of the last row seen, in the order
of an index, so every page costs the same. The APIs page the same way
(``trials.api.pagination``); here the page carries relative next/previous links that keep
every other query parameter (the filters) and drop the page's own.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest
from rest_framework.exceptions import NotFound
from rest_framework.pagination import CursorPagination
from rest_framework.request import Request

CURSOR_PARAM = "cursor"


@dataclass
class KeysetPage:
    """One page: its rows, relative links to its neighbours, and a count if one was asked."""

    object_list: list[Any]
    next_url: str | None
    previous_url: str | None
    count: int | None = None

    def __iter__(self) -> Iterator[Any]:
        return iter(self.object_list)

    def __len__(self) -> int:
        return len(self.object_list)

    @property
    def has_other_pages(self) -> bool:
        return bool(self.next_url or self.previous_url)


def _relative(url: str | None) -> str | None:
    if url is None:
        return None
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}" if parts.query else parts.path


def keyset_page(
    request: HttpRequest,
    queryset: QuerySet,
    *,
    ordering: Sequence[str],
    page_size: int,
    count: bool = False,
) -> KeysetPage:
    """The page of ``queryset`` the request's cursor points at (the first without one).

    ``ordering`` must end in a unique column and should match an index; its first column is
    the cursor's position (ties on it are skipped by an offset, capped by DRF). An invalid or
    stale cursor shows the first page. ``count`` adds the number of rows (one ``COUNT``: ask
    only where it is cheap, e.g. a filtered or site-scoped list).
    """
    paginator = CursorPagination()
    paginator.page_size = page_size
    paginator.ordering = tuple(ordering)
    paginator.cursor_query_param = CURSOR_PARAM
    drf_request = Request(request)
    try:
        rows = paginator.paginate_queryset(queryset, drf_request)
    except (NotFound, ValidationError, ValueError, TypeError):  # a forged or stale cursor
        request.GET = request.GET.copy()
        request.GET.pop(CURSOR_PARAM, None)
        return keyset_page(request, queryset, ordering=ordering, page_size=page_size, count=count)
    return KeysetPage(
        object_list=list(rows),
        next_url=_relative(paginator.get_next_link()),
        previous_url=_relative(paginator.get_previous_link()),
        count=queryset.count() if count else None,
    )
