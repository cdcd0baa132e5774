"""Display formats for Spanish (Spain) (issue 17): human-readable, with the time zone.

Only what is shown changes; form inputs keep ISO values (``type=date``) and Django's own
input formats, and values are stored the same."""

SHORT_DATE_FORMAT = "j b Y"  # 26 nov 2026
SHORT_DATETIME_FORMAT = "j b Y, H:i T"  # 26 nov 2026, 14:05 CET
DATETIME_FORMAT = "j b Y, H:i:s T"  # 26 nov 2026, 14:05:09 CET (audit trail, signatures)
