"""Display formats for British English (issue 17): human-readable, with the time zone.

Only what is shown changes; form inputs keep ISO values (``type=date``) and Django's own
input formats, and values are stored the same."""

SHORT_DATE_FORMAT = "j M Y"  # 26 Nov 2026
SHORT_DATETIME_FORMAT = "j M Y, H:i T"  # 26 Nov 2026, 14:05 CET
DATETIME_FORMAT = "j M Y, H:i:s T"  # 26 Nov 2026, 14:05:09 CET (audit trail, signatures)
