"""The Chinese recognizers inside Presidio, for tools that speak Presidio.

`build_analyzer()` returns a Presidio `AnalyzerEngine` with every recognizer
of `governance.pii.recognizers` registered (as `ChineseRecognizer` wrappers)
and a `NoOpNlpEngine`: no spaCy model is loaded or downloaded, ever. Results
are Presidio's `RecognizerResult`s with spans in the original text; overlaps
are left to Presidio (or to `presidio-anonymizer`), repetitions are not added.

The proxy itself calls `governance.pii.scan`/`redact` directly: the same
recognizers without Presidio's per-call work (`bench/RESULTS.md` has the
figures). Importing this module imports Presidio and spaCy (about two seconds),
so nothing on the request path imports it.
"""

from presidio_analyzer import AnalyzerEngine, EntityRecognizer, RecognizerResult
from presidio_analyzer.nlp_engine import NlpArtifacts, NoOpNlpEngine
from presidio_analyzer.recognizer_registry import RecognizerRegistry

from governance.pii.normalise import normalise
from governance.pii.recognizers import Recognizer, default_recognizers

LANGUAGE = "zh"


class ChineseRecognizer(EntityRecognizer):
    """One of our recognizers as a Presidio `EntityRecognizer` (normalises first)."""

    COUNTRY_CODE = "cn"

    def __init__(self, recognizer: Recognizer, language: str = LANGUAGE) -> None:
        self.recognizer = recognizer
        super().__init__(
            supported_entities=[t.value for t in recognizer.entity_types],
            name=type(recognizer).__name__,
            supported_language=language,
        )

    def load(self) -> None:
        """Nothing to load: patterns are compiled at import."""

    def analyze(
        self,
        text: str,
        entities: list[str],
        nlp_artifacts: NlpArtifacts | None = None,
    ) -> list[RecognizerResult]:
        """Entities of the requested types, with spans in `text`."""
        del nlp_artifacts  # the recognizers need no NLP
        normalised = normalise(text)
        results = []
        for entity in self.recognizer.find(normalised.text):
            if entity.type.value in entities:
                start, end = normalised.to_original(entity.start, entity.end)
                results.append(
                    RecognizerResult(entity.type.value, start, end, entity.score)
                )
        return results


def build_analyzer(language: str = LANGUAGE) -> AnalyzerEngine:
    """An `AnalyzerEngine` with the Chinese recognizers and no NLP model."""
    registry = RecognizerRegistry(supported_languages=[language])
    for recognizer in default_recognizers():
        registry.add_recognizer(ChineseRecognizer(recognizer, language))
    engine = NoOpNlpEngine(models=[{"lang_code": language, "model_name": "none"}])
    return AnalyzerEngine(
        registry=registry, nlp_engine=engine, supported_languages=[language]
    )
