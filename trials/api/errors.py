"""A service's ValidationError as a 400 body with field names (shared by every API)."""

from django.core.exceptions import ValidationError


def validation_error_detail(exc: ValidationError) -> dict[str, list[str]]:
    if hasattr(exc, "error_dict"):
        return exc.message_dict
    return {"non_field_errors": exc.messages}
