"""``{% row_url %}``: ``{% url %}`` for the rows of a list, which reverse one route per row
with other keys (#16).

``reverse`` matches the route's pattern again on every call (~30 µs): two links a row were a
third of a worklist row's cost. Here a route is reversed once per set of key names (with
marker values) and later URLs are its text with the keys put in. Only for keys that cannot
change the URL's shape: non-negative integers (``<int:…>``) and slugs (``<slug:…>``, and
``<str:…>`` where they fit); anything else, and a route the markers do not fit, goes through
``reverse`` as before, so a wrong key still fails the same way.
"""

from __future__ import annotations

import re
from functools import lru_cache

from django import template
from django.urls import get_script_prefix, get_urlconf, reverse
from django.urls.exceptions import NoReverseMatch

register = template.Library()

_INT_MARK = 900_000_000  # inside the int converter's range, unlike any real key here
_SLUG = re.compile(r"[-a-zA-Z0-9_]+\Z")

Route = tuple[tuple[str, ...], tuple[str, ...], str]  # text pieces, key before each, tail


def _mark(position: int, kind: type) -> int | str:
    return _INT_MARK + position if kind is int else f"zqx{position}mark"


@lru_cache(maxsize=256)
def _route(
    name: str, keys: tuple[tuple[str, type], ...], prefix: str, urlconf: str | None
) -> Route | None:
    """The route's URL around its keys (``prefix``, ``urlconf``: part of what ``reverse``
    reads, so part of the cache key); None when it must be reversed each time."""
    marks = {key: _mark(i, kind) for i, (key, kind) in enumerate(keys)}
    try:
        url = reverse(name, kwargs=marks, urlconf=urlconf)
    except NoReverseMatch:
        return None
    key_of = {str(mark): key for key, mark in marks.items()}
    pieces, order, position = [], [], 0
    for found in re.finditer("|".join(re.escape(m) for m in key_of), url):
        pieces.append(url[position : found.start()])
        order.append(key_of[found.group()])
        position = found.end()
    if sorted(order) != sorted(marks):  # a key written twice, or not at all
        return None
    return tuple(pieces), tuple(order), url[position:]


def _plain(value: object) -> bool:
    if type(value) is int:
        return value >= 0
    return type(value) is str and _SLUG.match(value) is not None


def row_url(name: str, **kwargs: object) -> str:
    """``reverse(name, kwargs=kwargs)``, the same text."""
    if kwargs and all(_plain(v) for v in kwargs.values()):
        keys = tuple(sorted((k, type(v)) for k, v in kwargs.items()))
        route = _route(name, keys, get_script_prefix(), get_urlconf())
        if route is not None:
            pieces, order, tail = route
            return "".join(p + str(kwargs[k]) for p, k in zip(pieces, order, strict=True)) + tail
    return reverse(name, kwargs=kwargs)


@register.simple_tag(name="row_url")
def row_url_tag(name: str, **kwargs: object) -> str:
    return row_url(name, **kwargs)
