"""JSON input that cannot be stored is refused at the door (issue 11).

JSON may escape a lone UTF-16 surrogate (``"\\ud800"``); Python decodes it into a string that
cannot be encoded as UTF-8, so it failed later, in a choice field's error message or in the
database, as a 500. The parser answers 400 instead, naming the field.
"""

from __future__ import annotations

from typing import Any

from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser


def _bad_path(value: Any, path: str = "") -> str | None:
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return path or "body"
        return None
    if isinstance(value, dict):
        for key, item in value.items():
            found = _bad_path(str(key), path) or _bad_path(item, f"{path}.{key}" if path else key)
            if found:
                return found
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found = _bad_path(item, f"{path}[{index}]")
            if found:
                return found
    return None


class StrictJSONParser(JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        data = super().parse(stream, media_type, parser_context)
        bad = _bad_path(data)
        if bad:
            raise ParseError(f"{bad}: the text contains an invalid character (lone surrogate).")
        return data
