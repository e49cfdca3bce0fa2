"""Personal data in free text: find it (`scan`) and mask it in place (`redact`).

```python
from governance.pii import redact, scan

scan("联系人：张伟，电话 138-1234-5678")
# [Entity(type=PERSON, start=4, end=6, score=0.85),
#  Entity(type=CN_MOBILE, start=10, end=23, score=0.9)]
redact("联系人：张伟，电话 138-1234-5678").text
# '联系人：张*，电话 138****5678'
```

Spans index the original text (Unicode code points); an `Entity` never holds
the value. `governance.pii.presidio.build_analyzer()` registers the same
recognizers with a Presidio `AnalyzerEngine` that needs no NLP model.
"""

from governance.pii.scanner import Redaction, Scanner, TextMasker, redact, scan
from governance.pii.types import Entity, EntityType

__all__ = [
    "Entity",
    "EntityType",
    "Redaction",
    "Scanner",
    "TextMasker",
    "redact",
    "scan",
]
