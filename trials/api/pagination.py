"""Keyset (cursor) paging of the list endpoints (#16).

Page-number paging counts every row and skips ``OFFSET`` rows on each page: the last page of
10,000 patients sorted them all (4× the time of 400 patients). A cursor page reads the next
rows after the last one seen, in the order of an index, so every page costs the same; the
response has ``next``/``previous`` links (opaque cursors) and no ``count``.
"""

from __future__ import annotations

from rest_framework.pagination import CursorPagination


class ScreeningNumberCursorPagination(CursorPagination):
    """Patients in screening-number order (site code first): index ``patient_screening_number``."""

    page_size = 50
    ordering = ("screening_number", "pk")


class RandomizationNumberCursorPagination(CursorPagination):
    """Randomized patients in randomization-number order: index ``patient_subject_id``."""

    page_size = 25
    ordering = ("subject_id", "pk")
