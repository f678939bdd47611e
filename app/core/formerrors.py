"""Japanese (translatable) messages for schema errors shown on forms."""
from __future__ import annotations

import datetime as dt

from flask_babel import gettext as _
from pydantic import ValidationError

from app.core.errors import ValidationFailed
from app.core.timeutil import display_zone

_MESSAGES = {
    "missing": lambda: _("入力してください。"),
    "string_too_short": lambda: _("入力してください。"),
    "string_too_long": lambda: _("長すぎます。"),
    "int_parsing": lambda: _("数値で入力してください。"),
    "greater_than_equal": lambda: _("0以上の数値で入力してください。"),
    "less_than_equal": lambda: _("大きすぎます。"),
    "enum": lambda: _("選択肢から選んでください。"),
    "literal_error": lambda: _("選択肢から選んでください。"),
    "datetime_type": lambda: _("日時を入力してください。"),
    "timezone_aware": lambda: _("日時を入力してください。"),
    "extra_forbidden": lambda: _("不明な項目です。"),
    "date_parsing": lambda: _("日付を入力してください。"),
    "date_from_datetime_parsing": lambda: _("日付を入力してください。"),
}


def form_messages(exc: ValidationError) -> dict[str, str]:
    messages: dict[str, str] = {}
    for error in exc.errors():
        field = str(error["loc"][0]) if error["loc"] else "form"
        factory = _MESSAGES.get(error["type"])
        messages.setdefault(field, factory() if factory else _("入力内容が正しくありません。"))
    return messages


def parse_form_datetime(value: str | None, field: str) -> dt.datetime | None:
    """A `datetime-local` form value, meant in the display zone (Asia/Tokyo); blank is None."""
    value = (value or "").strip()
    if not value:
        return None
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        raise ValidationFailed(_("入力内容に誤りがあります。"), {field: _("日時を入力してください。")}) from None
    if not 1970 <= parsed.year <= 2999:
        raise ValidationFailed(_("入力内容に誤りがあります。"), {field: _("日時を入力してください。")})
    return parsed.replace(tzinfo=display_zone()) if parsed.tzinfo is None else parsed
