"""The local key file: named keys, versioned and rotatable."""

import base64
import getpass
import json
import sqlite3
from contextlib import closing

import pytest

from adapters.keys.local import KEY_NAMES, NOT_ROTATABLE, LocalKeyProvider
from governance.cli.keys import EFFECTS
from governance.cli.main import main
from governance.errors import ConfigurationError

# The store the CLI audits a rotation in, beside the config (not the cwd).
CONFIG = "keys_file: keys.json\nstore_url: sqlite+aiosqlite:///governance.db\n"


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


class TestReadOnly:
    def test_a_missing_file_is_refused_and_not_created(self, tmp_path):
        """A command that only checks names the missing file and mints no keys."""
        path = tmp_path / "keys.json"

        with pytest.raises(ConfigurationError) as refused:
            LocalKeyProvider(path, read_only=True)

        assert str(path) in str(refused.value)
        assert not path.exists()

    def test_a_missing_key_is_named_with_the_file_and_never_added(self, tmp_path):
        """The proxy would add the key at startup; a read-only reader says it lacks it."""
        path = tmp_path / "keys.json"
        cursor = LocalKeyProvider(path).key("cursor")
        doc = json.loads(path.read_text())
        del doc["keys"]["receipt_signing"]
        path.write_text(json.dumps(doc))
        before = path.read_bytes()

        keys = LocalKeyProvider(path, read_only=True)
        with pytest.raises(ConfigurationError) as refused:
            keys.versions("receipt_signing")

        assert str(path) in str(refused.value)
        assert "'receipt_signing'" in str(refused.value)
        assert keys.key("cursor") == cursor
        assert path.read_bytes() == before

    def test_it_checks_the_file_as_the_proxy_does(self, tmp_path):
        """Read-only is no way around the mode check."""
        path = tmp_path / "keys.json"
        LocalKeyProvider(path)
        path.chmod(0o644)

        with pytest.raises(ConfigurationError, match="chmod 600"):
            LocalKeyProvider(path, read_only=True)


class TestRotateCommand:
    """`govproxy keys rotate|list`: a new version, secrets never printed."""

    def _config(self, tmp_path):
        config = tmp_path / "govproxy.yaml"
        config.write_text(CONFIG, "utf-8")
        LocalKeyProvider(tmp_path / "keys.json")  # as the proxy's first start does
        return config

    def test_rotation_adds_a_current_version_and_keeps_the_old_one(
        self, tmp_path, capsys
    ):
        """v2 is fresh random bytes and current; v1 is unchanged; the file stays 0600."""
        config = self._config(tmp_path)
        before = LocalKeyProvider(tmp_path / "keys.json").versions("tokenise")["v1"]

        code = main(["--config", str(config), "keys", "rotate", "tokenise"])

        keys = LocalKeyProvider(tmp_path / "keys.json")
        out = capsys.readouterr().out
        assert code == 0
        assert "tokenise is now v2" in out
        assert keys.key("tokenise")[0] == "v2"
        assert keys.versions("tokenise")["v1"] == before
        assert keys.key("tokenise")[1] not in (before, b"")
        assert (tmp_path / "keys.json").stat().st_mode & 0o777 == 0o600
        for version in keys.versions("tokenise").values():
            assert _b64(version) not in out

    def test_subject_ref_and_unknown_names_are_refused_with_the_reason(
        self, tmp_path, capsys
    ):
        """subject_ref would split every subject's audit history: exit 2, file untouched."""
        config = self._config(tmp_path)
        stored = (tmp_path / "keys.json").read_bytes()

        refused = main(["--config", str(config), "keys", "rotate", "subject_ref"])
        unknown = main(["--config", str(config), "keys", "rotate", "nope"])

        err = capsys.readouterr().err
        assert (refused, unknown) == (2, 2)
        assert "subject_ref cannot be rotated: the audit trail names subjects" in err
        assert "no key named 'nope'" in err
        assert (tmp_path / "keys.json").read_bytes() == stored

    def test_every_rotatable_key_says_what_its_rotation_changes(self):
        """The command explains each key it rotates; none is left without a line."""
        assert set(EFFECTS) == set(KEY_NAMES) - set(NOT_ROTATABLE)

    def test_list_neither_creates_nor_completes_the_key_file(self, tmp_path, capsys):
        """A listing reads: a missing file, or one lacking a key, is an error (exit
        2), not a file written with fresh keys that would list as if in use."""
        config = tmp_path / "govproxy.yaml"
        config.write_text(CONFIG, "utf-8")  # and no key file yet
        missing = main(["--config", str(config), "keys", "list"])
        created = (tmp_path / "keys.json").exists()
        LocalKeyProvider(tmp_path / "keys.json")  # as the proxy's start writes it
        stored = json.loads((tmp_path / "keys.json").read_text())
        del stored["keys"]["center_link"]
        (tmp_path / "keys.json").write_text(json.dumps(stored))
        lacking = main(["--config", str(config), "keys", "list"])

        assert (missing, created) == (2, False)
        assert lacking == 2
        assert "no 'center_link' key" in capsys.readouterr().err
        kept = json.loads((tmp_path / "keys.json").read_text())["keys"]
        assert "center_link" not in kept

    def test_list_shows_versions_and_no_secret(self, tmp_path, capsys):
        """After a rotation: `audit_signing: v2 (current), v1`; no key material."""
        config = self._config(tmp_path)
        main(["--config", str(config), "keys", "rotate", "audit_signing"])
        capsys.readouterr()

        assert main(["--config", str(config), "keys", "list"]) == 0

        out = capsys.readouterr().out
        assert "audit_signing: v2 (current), v1" in out
        assert "subject_ref: v1 (current)" in out
        secrets = LocalKeyProvider(tmp_path / "keys.json").versions("audit_signing")
        assert all(_b64(s) not in out for s in secrets.values())


class TestFileMode:
    @pytest.mark.parametrize("mode", [0o644, 0o604, 0o660, 0o666])
    def test_a_file_others_may_read_or_its_group_change_is_refused(
        self, tmp_path, mode
    ):
        """Whoever reads the key file can forge receipts and links: refuse to use it,
        naming the mode and the fix, never a key."""
        path = tmp_path / "keys.json"
        LocalKeyProvider(path)
        secret = json.loads(path.read_text())["keys"]["receipt_signing"]["v1"]
        path.chmod(mode)

        with pytest.raises(ConfigurationError) as refused:
            LocalKeyProvider(path)

        assert f"{mode:04o}" in str(refused.value)
        assert "chmod 600" in str(refused.value)
        assert secret not in str(refused.value)

    @pytest.mark.parametrize("mode", [0o600, 0o400, 0o640, 0o440])
    def test_owner_only_or_group_read_is_accepted(self, tmp_path, mode):
        """0600 as the proxy writes it, or a secret mounted 0400/0440 (fsGroup)."""
        path = tmp_path / "keys.json"
        first = LocalKeyProvider(path).key("cursor")
        path.chmod(mode)

        assert LocalKeyProvider(path).key("cursor") == first

    def test_the_proxy_creates_its_key_file_for_its_owner_only(self, tmp_path):
        path = tmp_path / "keys.json"
        LocalKeyProvider(path)

        assert path.stat().st_mode & 0o777 == 0o600

    def test_serve_with_an_exposed_key_file_exits_2_saying_why(self, demo_dir, capsys):
        (demo_dir / "keys.json").chmod(0o644)

        code = main(["--config", str(demo_dir / "govproxy.yaml"), "serve"])

        assert code == 2
        assert "key file mode is 0644" in capsys.readouterr().err


class TestMalformedFile:
    """A hand-edited key file that a reader would trip on is a configuration
    error naming the file and the key, at startup and in `keys list|rotate`:
    never a traceback, never a secret."""

    def _file(self, tmp_path, **changes):
        path = tmp_path / "keys.json"
        LocalKeyProvider(path)
        doc = json.loads(path.read_text())
        doc["keys"] |= changes
        path.write_text(json.dumps(doc))
        path.chmod(0o600)
        (tmp_path / "govproxy.yaml").write_text(CONFIG, "utf-8")
        return path

    @pytest.mark.parametrize(
        ("changes", "says"),
        [
            ({"tokenise": {"vx": _b64(b"k" * 32)}}, "version 'vx' is not named v1"),
            ({"tokenise": {"v0": _b64(b"k" * 32)}}, "version 'v0' is not named v1"),
            ({"tokenise": {"1": _b64(b"k" * 32)}}, "version '1' is not named v1"),
            ({"tokenise": {}}, "key 'tokenise' has no versions"),
            ({"tokenise": "v1"}, "key 'tokenise' has no versions"),
            ({"cursor": {"v1": _b64(b"short")}}, "v1: the key is 5 bytes; at least 32"),
            (
                {"audit_signing": {"v1": _b64(b"s" * 33)}},
                "v1: the key is 33 bytes; exactly 32",
            ),
            ({"cursor": {"v1": "not base64!"}}, "v1: the key is not valid base64"),
        ],
    )
    def test_startup_list_and_rotate_refuse_it_naming_file_and_key(
        self, tmp_path, capsys, changes, says
    ):
        path = self._file(tmp_path, **changes)
        stored = path.read_bytes()
        config = str(tmp_path / "govproxy.yaml")

        with pytest.raises(ConfigurationError) as startup:
            LocalKeyProvider(path)
        listed = main(["--config", config, "keys", "list"])
        rotated = main(["--config", config, "keys", "rotate", "center_link"])

        err = capsys.readouterr().err
        assert str(path) in str(startup.value)
        assert says in str(startup.value)
        assert (listed, rotated) == (2, 2)
        assert err.count(says) == 2
        assert "Traceback" not in err
        assert path.read_bytes() == stored
        assert _b64(b"k" * 32) not in err + str(startup.value)

    def test_serve_refuses_it_with_exit_2(self, demo_dir, capsys):
        path = demo_dir / "keys.json"
        doc = json.loads(path.read_text())
        doc["keys"]["tokenise"] = {"vx": doc["keys"]["tokenise"]["v1"]}
        path.write_text(json.dumps(doc))

        code = main(["--config", str(demo_dir / "govproxy.yaml"), "serve"])

        assert code == 2
        assert "key 'tokenise': version 'vx' is not named v1" in capsys.readouterr().err


class TestRotationChecksAndAudit:
    def _config(self, tmp_path):
        config = tmp_path / "govproxy.yaml"
        config.write_text(CONFIG, "utf-8")
        LocalKeyProvider(tmp_path / "keys.json")
        return config

    def test_rotate_refuses_a_file_others_may_read_and_leaves_it_as_it_was(
        self, tmp_path, capsys
    ):
        """As startup and `keys list` do: exit 2 naming the mode; the file is
        neither rotated nor quietly made 0600."""
        config = self._config(tmp_path)
        path = tmp_path / "keys.json"
        path.chmod(0o644)
        stored = path.read_bytes()

        code = main(["--config", str(config), "keys", "rotate", "tokenise"])

        assert code == 2
        assert "key file mode is 0644" in capsys.readouterr().err
        assert path.read_bytes() == stored
        assert path.stat().st_mode & 0o777 == 0o644

    def test_a_rotation_is_audited_with_name_version_and_os_user_never_the_key(
        self, tmp_path, capsys
    ):
        config = self._config(tmp_path)

        code = main(["--config", str(config), "keys", "rotate", "center_link"])

        new = LocalKeyProvider(tmp_path / "keys.json").key("center_link")[1]
        with closing(sqlite3.connect(tmp_path / "governance.db")) as conn:
            events = conn.execute(
                "SELECT caller, outcome, detail FROM audit_events"
                " WHERE kind = 'key.rotated'"
            ).fetchall()
        assert code == 0
        assert [(c, o) for c, o, _ in events] == [("cli", "allowed")]
        detail = json.loads(events[0][2])
        assert detail == {
            "name": "center_link",
            "version": "v2",
            "os_user": getpass.getuser(),
        }
        assert _b64(new) not in events[0][2]

    def test_a_rotation_the_trail_cannot_record_does_not_happen(self, tmp_path, capsys):
        """The store cannot be opened: exit 2, the key file is unchanged."""
        config = self._config(tmp_path)
        (tmp_path / "governance.db").mkdir()  # not a database: it cannot be opened
        stored = (tmp_path / "keys.json").read_bytes()

        code = main(["--config", str(config), "keys", "rotate", "center_link"])

        assert code == 2
        assert "could not be used" in capsys.readouterr().err
        assert (tmp_path / "keys.json").read_bytes() == stored
        assert not (tmp_path / "keys.json.tmp").exists()
