"""`govproxy pii scan` and `govproxy pii mask`: one output line per input line."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from governance.cli.main import main

LINES = [
    "客户张伟，电话138 1234 5678",
    "订单号13812345678已发货",
    "",
    "身份证１１０１０５１９４９１２３１００２Ｘ，邮箱 wei@mail.example",
]


def govproxy(*args: str, stdin: bytes = b"") -> subprocess.CompletedProcess[bytes]:
    """Run the real command line in a subprocess, bytes in and out."""
    return subprocess.run(  # noqa: S603 - fixed argv, no shell
        [sys.executable, "-m", "governance", *args],
        input=stdin,
        capture_output=True,
        check=False,
        timeout=120,
    )


@pytest.fixture
def text_file(tmp_path: Path) -> Path:
    """A UTF-8 file holding LINES."""
    path = tmp_path / "notes.txt"
    path.write_text("\n".join(LINES) + "\n", encoding="utf-8")
    return path


class TestScan:
    def test_prints_one_json_array_per_input_line_with_spans_in_the_line(
        self, text_file, capsysbinary
    ):
        """Each line gets its entities; a line without any gets []."""
        code = main(["pii", "scan", str(text_file)])

        out = capsysbinary.readouterr().out.decode("utf-8").splitlines()
        found = [
            [(e["type"], LINES[n][e["start"] : e["end"]]) for e in json.loads(o)]
            for n, o in enumerate(out)
        ]
        assert code == 0
        assert found == [
            [("PERSON", "张伟"), ("CN_MOBILE", "138 1234 5678")],
            [],
            [],
            [
                ("CN_ID_CARD", "１１０１０５１９４９１２３１００２Ｘ"),
                ("EMAIL_ADDRESS", "wei@mail.example"),
            ],
        ]

    def test_when_several_files_are_given_then_they_are_read_in_turn(
        self, text_file, tmp_path, capsysbinary
    ):
        """Output lines follow the files' lines, in argument order."""
        other = tmp_path / "more.txt"
        other.write_text("QQ：123456789", encoding="utf-8")

        main(["pii", "scan", str(text_file), str(other)])

        out = capsysbinary.readouterr().out.decode("utf-8").splitlines()
        assert len(out) == len(LINES) + 1
        assert json.loads(out[-1]) == [
            {"type": "CN_QQ", "start": 3, "end": 12, "score": 0.85}
        ]

    def test_when_a_file_cannot_be_read_then_exit_2_naming_it(self, tmp_path, capsys):
        """A missing file is a one-line error, no stack trace."""
        code = main(["pii", "scan", str(tmp_path / "missing.txt")])

        err = capsys.readouterr().err
        assert code == 2
        assert "missing.txt" in err
        assert "Traceback" not in err


class TestMask:
    def test_prints_each_line_masked_and_keeps_the_rest(self, text_file, capsysbinary):
        """Personal values are masked in place; order numbers and empty lines pass."""
        code = main(["pii", "mask", str(text_file)])

        out = capsysbinary.readouterr().out.decode("utf-8").split("\n")
        assert code == 0
        assert out == [
            "客户张*，电话138****5678",
            "订单号13812345678已发货",
            "",
            "身份证110105********002X，邮箱 w***@mail.example",
            "",
        ]

    def test_reads_stdin_when_no_file_is_given(self):
        """`govproxy pii mask` is a filter; CRLF line endings are accepted."""
        result = govproxy(
            "pii", "mask", stdin="联系人：王芳\r\n手机+86 139-8765-4321\r\n".encode()
        )

        assert result.returncode == 0
        assert result.stdout.decode("utf-8") == "联系人：王*\n手机139****4321\n"

    def test_when_a_line_is_not_utf8_then_it_is_still_masked_and_exit_is_1(self):
        """Invalid bytes become U+FFFD, the number on the same line is masked, lines still match."""
        stdin = "电话13812345678 ".encode() + b"\xff\xfe\n" + "好的\n".encode()

        result = govproxy("pii", "mask", stdin=stdin)

        assert result.returncode == 1
        assert result.stdout.decode("utf-8") == "电话138****5678 \ufffd\ufffd\n好的\n"
        assert b"<stdin>:1: not valid UTF-8" in result.stderr
        assert b"13812345678" not in result.stderr
