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
# Each pattern starts with a character class and looks behind only after it,
# so the regex engine can skip to the characters that may start a match.
_EMAIL = re.compile(
    r"[A-Za-z0-9](?<![A-Za-z0-9._%+\-@].)[A-Za-z0-9._%+\-]{0,63}"
    rf"@(?:{_LABEL}\.)+[A-Za-z]{{2,24}}(?![A-Za-z0-9\-])"
)
_IPV4 = re.compile(
    r"[0-9](?<![0-9A-Za-z.].)[0-9]{0,2}(?:\.[0-9]{1,3}){3}(?![0-9A-Za-z]|\.[0-9])"
)
_IPV6 = re.compile(
    r"[0-9A-Fa-f:](?<![0-9A-Za-z.].)[0-9A-Fa-f]{0,3}:[0-9A-Fa-f:.]*(?![0-9A-Za-z])"
)


class EmailRecognizer(Recognizer):
    """E-mail addresses."""

    entity_types = (EntityType.EMAIL_ADDRESS,)
    cue_chars = frozenset("@")

    def find(self, text: str) -> Iterator[Entity]:
        """Yield addresses."""
        for match in _EMAIL.finditer(text):
            yield Entity(EntityType.EMAIL_ADDRESS, match.start(), match.end(), 0.9)


class IpRecognizer(Recognizer):
    """IPv4 and IPv6 addresses."""

    entity_types = (EntityType.IP_ADDRESS,)
    cue_chars = frozenset(".:")

    def find(self, text: str) -> Iterator[Entity]:
        """Yield addresses."""
        if text.count(".") >= 3:  # an IPv4 address has three
            for match in _IPV4.finditer(text):
                if _is_ipv4(match.group()) and not not_personal(text, match.start()):
                    yield Entity(
                        EntityType.IP_ADDRESS, match.start(), match.end(), 0.85
                    )
        if "::" in text or text.count(":") >= 7:
            for match in _IPV6.finditer(text):
                start, candidate = match.start(), match.group().rstrip(".")
                if candidate.startswith(":") and not candidate.startswith("::"):
                    start, candidate = start + 1, candidate[1:]  # a label's colon
                if _is_ipv6(candidate):
                    end = start + len(candidate)
                    yield Entity(EntityType.IP_ADDRESS, start, end, 0.9)


def _is_ipv4(candidate: str) -> bool:
    """Four decimal octets of at most 255, without leading zeros."""
    return all(
        int(octet) <= 255 and (octet == "0" or not octet.startswith("0"))
        for octet in candidate.split(".")
    )


def _is_ipv6(candidate: str) -> bool:
    groups = [g for g in candidate.split(":") if g]
    if len(groups) < 2 or candidate.count(":") < 2:
        return False
    try:
        ipaddress.IPv6Address(candidate)
    except ValueError:
        return False
    return True
