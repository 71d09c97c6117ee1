"""``lcspr scan`` on real files: one line per possible identifier, exit 0 / 2 / 1, no register needed.

In-process calls give ``main`` settings for a fresh folder and an App factory that fails the
test if it is ever called; one subprocess runs the installed command on standard input."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from lcspr.cli import main
from lcspr.settings import Settings
from services.app import App

DRAFT = ("The review considers the care of Child A.\n"
         "Jane Smith lived at 14 Mill Lane with the children.\n"
         "Mother's GP was at Whitehill Surgery; DOB 12/03/2015.\n")
FOUND = ["{p}:2:1: name: Jane Smith",
         "{p}:2:21: street address: 14 Mill Lane",
         "{p}:3:20: GP surgery: Whitehill Surgery",
         "{p}:3:39: date of birth: DOB 12/03/2015"]


Result = tuple[int, list[str], list[str]]


def no_register(_: Settings) -> App:
    raise AssertionError("lcspr scan must not open the register or Prefect")


@pytest.fixture
def scan(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Iterator[Callable[..., Result]]:
    """``lcspr scan ARGS`` in this process: (exit code, stdout lines, stderr lines)."""

    def run(*args: str) -> Result:
        code = main(["scan", *args], settings=Settings(home=tmp_path / "home"), app=no_register)
        out, err = capsys.readouterr()
        return code, out.splitlines(), err.splitlines()

    # main() points Prefect at this test's folder through the environment: put it back afterwards.
    environ = dict(os.environ)
    yield run
    os.environ.clear()
    os.environ.update(environ)


def write(path: Path, data: bytes) -> str:
    path.write_bytes(data)
    return str(path)


def test_a_clean_file_exits_0_and_says_so(scan, tmp_path):
    clean = write(tmp_path / "clean.txt", b"Child A was seen by the health visitor on 3 March 2026.\n")
    assert scan(clean) == (0, [], ["No identifiers found in 1 file"])


def test_each_finding_is_a_path_line_column_line_and_the_exit_is_2(scan, tmp_path):
    draft = write(tmp_path / "draft.txt", DRAFT.encode())
    code, out, err = scan(draft)
    assert code == 2
    assert out == [line.format(p=draft) for line in FOUND]
    assert err == ["4 possible identifiers in 1 of 1 file"]


def test_the_summary_counts_files_with_findings(scan, tmp_path):
    draft = write(tmp_path / "draft.txt", DRAFT.encode())
    clean = write(tmp_path / "clean.txt", b"Baby S was born early.\n")
    code, out, err = scan(clean, draft)
    assert (code, len(out), err) == (2, 4, ["4 possible identifiers in 1 of 2 files"])


def test_a_file_with_a_byte_order_mark_is_read_as_utf8_with_the_same_columns(scan, tmp_path):
    bom = write(tmp_path / "bom.txt", b"\xef\xbb\xbf" + DRAFT.encode())
    code, out, _ = scan(bom)
    assert (code, out) == (2, [line.format(p=bom) for line in FOUND])


def test_a_utf16_file_is_refused_in_one_line_with_exit_1(scan, tmp_path):
    utf16 = write(tmp_path / "utf16.txt", DRAFT.encode("utf-16"))
    code, out, err = scan(utf16)
    assert (code, out) == (1, [])
    assert len(err) == 1 and err[0].startswith(f"lcspr scan: {utf16} is not UTF-8 text")


def test_a_file_in_another_encoding_is_refused_in_one_line_with_exit_1(scan, tmp_path):
    latin1 = write(tmp_path / "latin1.txt", "Café meeting with Child A".encode("latin-1"))
    code, _, err = scan(latin1)
    assert code == 1
    assert err == [f"lcspr scan: {latin1} is not UTF-8 text (byte 4 cannot be read); "
                   "save it as UTF-8 and scan it again."]


def test_a_missing_file_is_one_line_with_exit_1_and_the_other_files_are_still_scanned(scan, tmp_path):
    draft = write(tmp_path / "draft.txt", DRAFT.encode())
    missing = str(tmp_path / "missing.txt")
    code, out, err = scan(missing)
    assert (code, out, err) == (1, [], [f"lcspr scan: Cannot read {missing}: No such file or directory."])
    code, out, err = scan(missing, draft)
    assert (code, len(out)) == (1, 4)
    assert err[-1] == "4 possible identifiers in 1 of 1 file; 1 file was not read"


def test_standard_input_is_read_for_a_dash(scan, monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(DRAFT.encode())))
    code, out, _ = scan("-")
    assert (code, out) == (2, [line.format(p="-") for line in FOUND])


def test_an_excerpt_is_one_short_line(scan, tmp_path):
    text = "They lived at Flat 3,\n22 Church Street.\nHe went to Buckingham Park Church of England Primary School.\n"
    path = write(tmp_path / "long.txt", text.encode())
    _, out, _ = scan(path)
    assert out == [f"{path}:1:15: street address: Flat 3, 22 Church Street",
                   f"{path}:3:12: school: Buckingham Park Church of England Prima…"]
    assert all(len(line.split(": ", 2)[2]) <= 40 for line in out)


def test_names_may_be_allowed(scan, tmp_path):
    people = write(tmp_path / "people.txt", b"J. Patel, DSL\nDr A. Shah, Designated Doctor, 07700 900123\n")
    code, out, _ = scan("--names-allowed", people)
    assert (code, out) == (2, [f"{people}:2:32: phone number: 07700 900123"])


def test_the_installed_command_scans_standard_input_without_a_register(tmp_path):
    lcspr = Path(sys.executable).with_name("lcspr")
    env = {"PATH": "/usr/bin:/bin", "LCSPR_HOME": str(tmp_path / "home"), "LCSPR_DATABASE_URL": "postgresql://nowhere/x"}
    done = subprocess.run([str(lcspr), "scan", "-"], input=DRAFT, env=env, cwd=tmp_path, capture_output=True,
                          text=True, timeout=60, check=False)
    assert done.returncode == 2, done.stderr
    assert done.stdout.splitlines() == [line.format(p="-") for line in FOUND]
    assert done.stderr == "4 possible identifiers in 1 of 1 file\n"
    assert not (tmp_path / "home").exists()
