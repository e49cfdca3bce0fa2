"""Facts about a subject that the policy needs: minority from the birth date.

PIPL Art. 28/31 treat a person under 14 as a minor whose data needs guardian
consent. Age is counted in whole years on `today` (China Standard Time).
"""

from datetime import date, datetime, timedelta, timezone
from typing import Any

MINOR_AGE = 14
CHINA_TZ = timezone(timedelta(hours=8), "Asia/Shanghai")


def today_in_china() -> date:
    """Today's date in China Standard Time."""
    return datetime.now(CHINA_TZ).date()


def age_on(birth: date, today: date) -> int:
    """Whole years from `birth` to `today`."""
    return (
        today.year - birth.year - ((today.month, today.day) < (birth.month, birth.day))
    )


def is_minor(birth_value: Any, today: date) -> bool | None:
    """Whether the subject is under 14; None when the birth date is missing or unreadable."""
    birth = _as_date(birth_value)
    return None if birth is None else age_on(birth, today) < MINOR_AGE


def _as_date(value: Any) -> date | None:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value[:10])
        except ValueError:
            return None
    return None
