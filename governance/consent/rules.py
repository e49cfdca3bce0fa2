"""What counts as valid consent evidence (PIPL Art. 14; C-02, C-04).

Consent must be an affirmative act. Pre-ticked boxes, bundled consent, silence
or mere continued use are not consent, so those methods are refused by name.
"""

from governance.errors import InvalidRequest

AFFIRMATIVE_METHODS = frozenset(
    {
        "click",
        "checkbox",
        "signature",
        "sms_reply",
        "voice_recorded",
        "import",
        "user_request",
    }
)
REFUSED_METHODS = frozenset(
    {"pre_ticked", "bundled", "implied", "silence", "continued_use"}
)
CHANNELS = frozenset(
    {
        "app",
        "mini_program",
        "web",
        "h5",
        "sms",
        "store",
        "call_center",
        "wecom",
        "api",
        "import",
    }
)


def check_evidence(method: str, channel: str) -> None:
    """Raise `InvalidRequest` unless `method` is an affirmative act and `channel` known."""
    if method in REFUSED_METHODS:
        raise InvalidRequest(f"method '{method}' is not an affirmative act of consent")
    if method not in AFFIRMATIVE_METHODS:
        raise InvalidRequest(
            f"method must be one of: {', '.join(sorted(AFFIRMATIVE_METHODS))}"
        )
    if channel not in CHANNELS:
        raise InvalidRequest(f"channel must be one of: {', '.join(sorted(CHANNELS))}")
