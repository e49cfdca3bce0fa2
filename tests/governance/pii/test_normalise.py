"""Normalisation: what changes, what is removed, and how spans map back."""

import pytest

from governance.pii.normalise import normalise


@pytest.mark.parametrize(
    ("text", "normalised"),
    [
        ("１３８　１２３４", "138 1234"),
        ("ＡＢＣ＠ｍａｉｌ．ｅｘａｍｐｌｅ", "ABC@mail.example"),
        ("（０５７１）", "(0571)"),
        ("客户：你好，谢谢！", "客户：你好，谢谢！"),
        ("138\u200b1234\u200d5678", "13812345678"),
        ("a\u202eb\u2066c\u00add\ufeffe", "abcde"),
        ("1\x002\x073\x7f4", "1234"),
        ("tab\tand\nnewline", "tab\tand\nnewline"),
        ("\ud800x\udfff", "\ud800x\udfff"),
        ("", ""),
    ],
    ids=[
        "full-width-digits",
        "full-width-email",
        "full-width-brackets",
        "sentence-punctuation-kept",
        "zero-width",
        "bidi-and-soft-hyphen",
        "controls",
        "whitespace-kept",
        "lone-surrogates",
        "empty",
    ],
)
def test_normalised_text(text, normalised):
    """Full-width forms become ASCII; invisible characters go; the rest stays."""
    assert normalise(text).text == normalised


def test_spans_map_back_over_removed_characters():
    """A span of the normalised text covers the invisible characters inside it."""
    text = "电话138\u200b1234\u200d5678。"
    result = normalise(text)
    start = result.text.index("138")

    mapped = result.to_original(start, start + 11)

    assert text[mapped[0] : mapped[1]] == "138\u200b1234\u200d5678"


def test_an_expanded_character_maps_back_whole():
    """A character NFKC expands (ﬁ -> fi) maps back to itself from either half."""
    text = "xﬁ13800138000"
    result = normalise(text)

    assert result.text == "xfi13800138000"
    assert [result.original_index(i) for i in range(4)] == [0, 1, 1, 2]
    assert result.to_original(2, 3) == (1, 2)
    assert text[slice(*result.to_original(3, 14))] == "13800138000"
