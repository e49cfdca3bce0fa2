"""Facts about a subject that the policy needs: minority from the birth dates it holds.

PIPL Art. 28/31 treat a person under 14 as a minor whose data needs guardian
consent. Age is counted in whole years on `today` (China Standard Time).
"""

from collections.abc import Mapping
from datetime import date, datetime, timedelta, timezone
from typing import Any

from stdnum.cn import ric
from stdnum.exceptions import ValidationError

from governance.catalog import Dataset

MINOR_AGE = 14
CHINA_TZ = timezone(timedelta(hours=8), "Asia/Shanghai")


def china_date(moment: datetime) -> date:
    """The calendar date of `moment` in China Standard Time."""
    return moment.astimezone(CHINA_TZ).date()


def minor_of(row: Mapping[str, Any], dataset: Dataset, today: date) -> bool | None:
    """Minority from every age signal the row holds: its birth date and its
    resident ID's birth date (M-01, M-02).

    Under 14 by either is a minor: a child's ID next to an adult's birth date is
    the "minor signal" M-01 protects, whichever of the two is wrong. Adult by
    one and silent (empty, unreadable) by the other is an adult; None when
    neither tells, which the policy refuses wherever age matters.
    """
    signals = []
    if dataset.birth_date_field:
        signals.append(is_minor(row.get(dataset.birth_date_field), today))
    if dataset.id_card_field and row.get(dataset.id_card_field):
        birth = _id_birth_date(str(row[dataset.id_card_field]))
        signals.append(is_minor(birth, today))
    if True in signals:
        return True
    return False if False in signals else None


def _id_birth_date(number: str) -> date | None:
    try:
        birth: date = ric.get_birth_date(ric.compact(number))
    except (ValidationError, ValueError):
        return None
    return birth


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
