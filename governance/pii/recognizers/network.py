"""E-mail addresses and IP addresses (IPv4 and IPv6).

E-mail: a local part and a dotted domain ending in a letter TLD (0.9). IPv4:
four decimal octets, not preceded by a version word (``v``, ``version``,
版本), not part of a longer dotted number (0.85). IPv6: a run of hex groups and
colons that `ipaddress` accepts, with at least two non-empty groups (0.9), so
times (``12:30:45``) and MAC addresses never match.
"""

import ipaddress
import re
from collections.abc import Iterator

from governance.pii.context import not_personal
from governance.pii.recognizers.base import Recognizer
from governance.pii.types import Entity, EntityType

_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9\-]{0,61}[A-Za-z0-9])?"
_EMAIL = re.compile(
    rf"(?<![A-Za-z0-9._%+\-@])[A-Za-z0-9][A-Za-z0-9._%+\-]{{0,63}}"
    rf"@(?:{_LABEL}\.)+[A-Za-z]{{2,24}}(?![A-Za-z0-9\-])"
)
_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])"
_IPV4 = re.compile(
    rf"(?<![0-9A-Za-z.])(?:{_OCTET}\.){{3}}{_OCTET}(?![0-9A-Za-z]|\.[0-9])"
)
_AT = re.compile("@")
_IP_CUE = re.compile(r"[0-9]\.[0-9]|::|[0-9A-Fa-f]:[0-9A-Fa-f]")
_IPV6 = re.compile(
    r"(?<![0-9A-Za-z.])(?:[0-9A-Fa-f]{0,4}:){2,7}"
    r"(?:[0-9]{1,3}(?:\.[0-9]{1,3}){3}|[0-9A-Fa-f]{1,4})?(?![0-9A-Za-z:])"
)


class EmailRecognizer(Recognizer):
    """E-mail addresses."""

    entity_types = (EntityType.EMAIL_ADDRESS,)
    cue = _AT

    def find(self, text: str) -> Iterator[Entity]:
        """Yield addresses."""
        for match in _EMAIL.finditer(text):
            yield Entity(EntityType.EMAIL_ADDRESS, match.start(), match.end(), 0.9)


class IpRecognizer(Recognizer):
    """IPv4 and IPv6 addresses."""

    entity_types = (EntityType.IP_ADDRESS,)
    cue = _IP_CUE

    def find(self, text: str) -> Iterator[Entity]:
        """Yield addresses."""
        if "." in text:
            for match in _IPV4.finditer(text):
                if not not_personal(text, match.start()):
                    yield Entity(
                        EntityType.IP_ADDRESS, match.start(), match.end(), 0.85
                    )
        if "::" in text or text.count(":") >= 7:
            for match in _IPV6.finditer(text):
                start, candidate = match.start(), match.group()
                if candidate.startswith(":") and not candidate.startswith("::"):
                    start, candidate = start + 1, candidate[1:]  # a label's colon
                if _is_ipv6(candidate):
                    yield Entity(EntityType.IP_ADDRESS, start, match.end(), 0.9)


def _is_ipv6(candidate: str) -> bool:
    groups = [g for g in candidate.split(":") if g]
    if len(groups) < 2:
        return False
    try:
        ipaddress.IPv6Address(candidate)
    except ValueError:
        return False
    return True
