"""The Chinese recognizers, one module per kind of value (see each module)."""

from governance.pii.recognizers.address import AddressRecognizer
from governance.pii.recognizers.bankcard import BankCardRecognizer
from governance.pii.recognizers.base import Recognizer
from governance.pii.recognizers.idcard import ResidentIdRecognizer
from governance.pii.recognizers.network import EmailRecognizer, IpRecognizer
from governance.pii.recognizers.person import PersonRecognizer
from governance.pii.recognizers.phone import PhoneRecognizer
from governance.pii.recognizers.plate import LicensePlateRecognizer
from governance.pii.recognizers.social import QqRecognizer, WeChatRecognizer
from governance.pii.recognizers.travel import TravelDocumentRecognizer
from governance.pii.recognizers.uscc import UsccRecognizer

__all__ = [
    "AddressRecognizer",
    "BankCardRecognizer",
    "EmailRecognizer",
    "IpRecognizer",
    "LicensePlateRecognizer",
    "PersonRecognizer",
    "PhoneRecognizer",
    "QqRecognizer",
    "Recognizer",
    "ResidentIdRecognizer",
    "TravelDocumentRecognizer",
    "UsccRecognizer",
    "WeChatRecognizer",
    "default_recognizers",
]


def default_recognizers() -> tuple[Recognizer, ...]:
    """One instance of every recognizer, in a fixed order."""
    return (
        PhoneRecognizer(),
        ResidentIdRecognizer(),
        BankCardRecognizer(),
        UsccRecognizer(),
        TravelDocumentRecognizer(),
        LicensePlateRecognizer(),
        EmailRecognizer(),
        IpRecognizer(),
        WeChatRecognizer(),
        QqRecognizer(),
        PersonRecognizer(),
        AddressRecognizer(),
    )
