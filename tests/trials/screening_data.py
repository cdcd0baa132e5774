"""Screening data as an HTML form posts it (tests only)."""

from __future__ import annotations

import datetime as dt

from liveradvance.demo import eligible_screening_data  # noqa: F401  (re-exported for tests)


def as_post(data: dict) -> dict:
    """The same data as an HTML form would post it."""
    post = {}
    for key, value in data.items():
        if value is None:
            post[key] = ""
        elif isinstance(value, bool):
            post[key] = "True" if value else "False"
        elif isinstance(value, dt.date):
            post[key] = value.isoformat()
        else:
            post[key] = str(value)
    # Checkbox fields post "on" or nothing.
    for key in ("aclf_grade_confirmed",):
        if data.get(key):
            post[key] = "on"
        else:
            post.pop(key, None)
    return post
