import datetime as dt
from zoneinfo import ZoneInfo

from trials.templatetags.audit import audit_value


def test_timestamps_are_shown_in_utc_whatever_the_display_zone():
    madrid = dt.datetime(2026, 7, 1, 10, 30, tzinfo=ZoneInfo("Europe/Madrid"))
    assert audit_value(madrid) == "2026-07-01 08:30:00 UTC"


def test_dates_structures_and_blanks_are_unambiguous():
    assert audit_value(dt.date(2026, 3, 4)) == "2026-03-04"
    assert audit_value({"inr": 1.8}) == '{"inr": 1.8}'
    assert audit_value(None) == "∅"
    assert audit_value("") == "∅"
    assert audit_value(False) == "False"
