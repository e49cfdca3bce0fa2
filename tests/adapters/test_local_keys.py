"""The local key file: named keys, versioned and rotatable."""

import base64
import json

import pytest

from adapters.keys.local import KEY_NAMES, LocalKeyProvider


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


class TestVersions:
    def test_new_file_holds_a_tokenise_key(self, tmp_path):
        """A fresh key file has every key name, tokenise included, at v1."""
        keys = LocalKeyProvider(tmp_path / "keys.json")

        assert "tokenise" in KEY_NAMES
        assert keys.key("tokenise")[0] == "v1"
        assert list(keys.versions("tokenise")) == ["v1"]

    def test_a_higher_version_is_current_and_older_ones_stay_readable(self, tmp_path):
        """Rotation: add v2 (or v10) beside v1; it becomes current, v1 stays listed."""
        path = tmp_path / "keys.json"
        LocalKeyProvider(path)
        doc = json.loads(path.read_text())
        doc["keys"]["tokenise"] |= {"v2": _b64(b"2" * 32), "v10": _b64(b"x" * 32)}
        path.write_text(json.dumps(doc))

        keys = LocalKeyProvider(path)

        assert keys.key("tokenise") == ("v10", b"x" * 32)
        assert set(keys.versions("tokenise")) == {"v1", "v2", "v10"}
        assert keys.versions("tokenise")["v2"] == b"2" * 32

    def test_versions_are_read_only(self, tmp_path):
        """Nobody can slip a key into the provider through the mapping it returns."""
        versions = LocalKeyProvider(tmp_path / "keys.json").versions("tokenise")

        with pytest.raises(TypeError):
            versions["v9"] = b"k" * 32  # type: ignore[index]

    def test_unknown_key_name_is_a_key_error(self, tmp_path):
        """Asking for a key nobody configured fails loudly at startup."""
        with pytest.raises(KeyError):
            LocalKeyProvider(tmp_path / "keys.json").versions("nope")
