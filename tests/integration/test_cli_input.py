"""Every ``lcspr`` command that takes a person's input, fed what a careless or hostile person could:
exit 2, one line on stderr that never quotes the refused text, and nothing written: the
register's row counts and the (fake) Prefect runs and answers unchanged.

Property-based (hypothesis). On the real register (SQLite, or PostgreSQL in CI's second pass);
Prefect is the in-memory fake of its port, which records every run started and every answer sent.
"""

from __future__ import annotations

import codecs
import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import create_engine, func, inspect, select, table

from lcspr.cli import main
from lcspr.settings import Settings
from services import referrals
from services.app import App
from services.ports import Runs
from tests.conftest import make_app, make_referral
from tests.fakes import FakeRuns
from tests.flows import answers

TODAY = date(2026, 3, 10)
REFERRAL: dict[str, Any] = {**make_referral().model_dump(mode="json"), "agency_reference": "POL-2026-7777"}
ANSWER: dict[str, Any] = answers.NOTIFIED
HYPOTHESIS = settings(max_examples=40, deadline=None,
                      suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


class System:
    """The CLI on the test's register, with Prefect faked: what it wrote, and how it answered."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.runs = FakeRuns()
        real = make_app(settings, TODAY)

        @contextmanager
        def open_runs() -> Iterator[Runs]:
            yield self.runs

        self.app = App(config=real.config, clock=real.clock, uow=real.uow, runs=open_runs,
                       dispatcher=real.dispatcher)
        self.reference = referrals.register_referral(self.app, make_referral()).reference
        self.engine = create_engine(settings.register_url)

    def counts(self) -> dict[str, int]:
        with self.engine.connect() as conn:
            return {name: conn.execute(select(func.count()).select_from(table(name))).scalar_one()
                    for name in inspect(conn).get_table_names()}

    def prefect(self) -> Any:
        return {k: (dict(r.parameters), r.name, dict(r.answers)) for k, r in self.runs.runs.items()}, \
            dict(self.runs.keys)


@pytest.fixture
def system(settings: Settings) -> Iterator[System]:
    s = System(settings)
    yield s
    s.engine.dispose()


def run(system: System, capsys: pytest.CaptureFixture[str], args: list[str]) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(args, settings=system.settings, app=lambda _: system.app)
    out, err = capsys.readouterr()
    return code, out, err


def assert_refused(system: System, capsys: pytest.CaptureFixture[str], args: list[str], *secrets: str) -> str:
    before = (system.counts(), system.prefect())
    code, out, err = run(system, capsys, args)
    assert code == 2, (code, out, err)
    assert out == "" and err.count("\n") == 1 and len(err) <= 600, err
    for secret in secrets:
        if len(secret) >= 5:
            assert secret not in err, err
    assert (system.counts(), system.prefect()) == before
    return err


def write(tmp_path: Path, data: bytes) -> Path:
    path = tmp_path / "input.json"
    path.write_bytes(data)
    return path


# -- what a person's file can hold ------------------------------------------------------------

INVISIBLE = st.sampled_from(["\x00", "\x01", "\x1b", "\u200b", "\u200e", "\u202e", "\u2066", "\ufeff", "\u00ad"])
IDENTIFYING = st.sampled_from([
    "Jane Smith, aged 2, was injured at home by her father John Smith at 14 Mill Lane, Aylesbury.",
    "NHS number 943 476 5919", "seen at HP19 8FF", "contact jane.smith@example.com", "born 12/03/2024",
])


def poisoned(base: dict[str, Any]) -> st.SearchStrategy[tuple[dict[str, Any], str]]:
    """``base`` with one field spoiled, and the text that must not be echoed."""
    fields = st.sampled_from(sorted(base))

    def spoil(name: str, how: str, bad: str, text: str) -> tuple[dict[str, Any], str]:
        value = str(base[name]) if isinstance(base[name], str) else "Thames Valley"
        if how == "invisible":
            new = value[:1] + bad + value[1:] + " and some more words"
            return {**base, name: new}, new
        if how == "oversized":
            new = "Lorem ipsum " * 10_000
            return {**base, name: new}, new[:40]
        if how == "identifying":
            return {**base, name: text}, text
        if how == "wrong type":
            return {**base, name: [text]}, text
        return {**base, name: {"nested": text}}, text

    return st.builds(spoil, fields, st.sampled_from(["invisible", "oversized", "identifying", "wrong type",
                                                     "object"]), INVISIBLE, IDENTIFYING)


MALFORMED_FILES = st.one_of(
    st.binary(max_size=200).filter(lambda b: not b.strip().startswith(b"{")),
    st.just(json.dumps(REFERRAL).encode("utf-16")),
    st.just(codecs.BOM_UTF16_LE + json.dumps(REFERRAL).encode("utf-16-le")),
    st.just(json.dumps(REFERRAL).encode("latin-1")[:-1] + b"\xe9}"),
    st.integers(min_value=50, max_value=5000).map(lambda n: b"[" * n + b"]" * n),
    st.integers(min_value=50, max_value=100_000).map(lambda n: b'{"a":' * n + b"1" + b"}" * n),
    st.just(b'{"outline": NaN}'),
    st.just(b'{"outline": "x", "outline": "y"}'),
    st.just(b"\x00" * 100),
    st.just(b"[" + json.dumps(REFERRAL).encode() + b"]"),
)


# -- refer --------------------------------------------------------------------------------------


@HYPOTHESIS
@given(case=poisoned(REFERRAL))
def test_refer_refuses_a_spoiled_referral_and_writes_nothing(system, capsys, tmp_path, case):
    data, secret = case
    path = write(tmp_path, json.dumps(data).encode())
    assert_refused(system, capsys, ["refer", str(path)], secret)


@HYPOTHESIS
@given(data=MALFORMED_FILES)
def test_refer_refuses_a_malformed_file_in_one_line(system, capsys, tmp_path, data):
    assert_refused(system, capsys, ["refer", str(write(tmp_path, data))])


def test_a_referral_file_with_a_byte_order_mark_is_read(system, capsys, tmp_path):
    path = write(tmp_path, codecs.BOM_UTF8 + json.dumps(REFERRAL).encode())
    code, _out, err = run(system, capsys, ["refer", str(path)])
    assert code == 0, err
    assert system.runs.keys, "the referral's run was started"


def test_a_utf16_file_gets_one_clear_line(system, capsys, tmp_path):
    err = assert_refused(system, capsys, ["refer", str(write(tmp_path, json.dumps(REFERRAL).encode("utf-16")))])
    assert "UTF-16" in err and "UTF-8" in err


def test_a_second_referral_with_an_invisible_variant_of_the_reference_is_refused_not_a_second_review(
        system, capsys, tmp_path):
    first = write(tmp_path, json.dumps(REFERRAL).encode())
    assert run(system, capsys, ["refer", str(first)])[0] == 0
    twin = tmp_path / "twin.json"
    twin.write_text(json.dumps({**REFERRAL, "agency_reference": REFERRAL["agency_reference"] + "\u200b"}))
    assert_refused(system, capsys, ["refer", str(twin)])
    lower = tmp_path / "lower.json"
    lower.write_text(json.dumps({**REFERRAL, "agency_reference": REFERRAL["agency_reference"].lower()}))
    code, out, _ = run(system, capsys, ["refer", str(lower)])
    assert code == 0 and "Already referred" in out


# -- decide -------------------------------------------------------------------------------------


@HYPOTHESIS
@given(case=poisoned(ANSWER))
def test_decide_refuses_a_spoiled_answer_and_sends_nothing(system, capsys, tmp_path, case):
    data, secret = case
    path = write(tmp_path, json.dumps(data).encode())
    assert_refused(system, capsys, ["decide", system.reference, "notification-1", "--input", str(path)], secret)


@HYPOTHESIS
@given(data=MALFORMED_FILES)
def test_decide_refuses_a_malformed_file_in_one_line(system, capsys, tmp_path, data):
    path = write(tmp_path, data)
    assert_refused(system, capsys, ["decide", system.reference, "notification-1", "--input", str(path)])


@pytest.mark.parametrize("loose", [{"outcome": "notified", "decided_on": 0}, {"decided_on": "2026-03-05T10:00"},
                                   {"decided_on": "0001-01-01"}, {"decided_by": "Partners 943 476 5919 HP19 8FF"}])
def test_decide_refuses_loose_values(system, capsys, tmp_path, loose):
    path = write(tmp_path, json.dumps({**ANSWER, **loose}).encode())
    assert_refused(system, capsys, ["decide", system.reference, "notification-1", "--input", str(path)],
                   "943 476 5919")


# -- arguments ----------------------------------------------------------------------------------


@HYPOTHESIS
@given(text=st.text(min_size=1, max_size=300).filter(lambda t: not t.startswith("-")))
def test_a_reference_argument_that_is_not_a_reference_is_refused_without_being_echoed(system, capsys, text):
    if text.strip().upper() == system.reference:
        return
    args = ["status", text]
    code, _out, err = run(system, capsys, args)
    assert code == 2 and err.count("\n") == 1, err
    if len(text) > 40 or not text.isascii():
        assert text not in err


BAD_BY = st.one_of(IDENTIFYING, st.builds(lambda i: "A. Jones" + i + " Manager", INVISIBLE))
BAD_ON = st.sampled_from(["0", "1700000000", "2026-03-05T09:00", "05/03/2026", "1989-12-31", "2026-02-30"])


@HYPOTHESIS
@given(by_on=st.one_of(st.tuples(BAD_BY, st.just("2026-03-05")), st.tuples(st.just("A. Jones, Manager"), BAD_ON)))
def test_clock_refuses_identifying_or_invisible_text_and_loose_dates(system, capsys, by_on):
    by, on = by_on
    secret = by if by != "A. Jones, Manager" else ""
    assert_refused(system, capsys, ["clock", system.reference, "serious_incident_notification", "pause",
                                    "--on", on, "--by", by, "--reason", "Criminal proceedings started."], secret)


@HYPOTHESIS
@given(args=st.one_of(
    st.tuples(st.just("workdays"), st.sampled_from(["add", "before"]), BAD_ON, st.just("5")),
    st.tuples(st.just("workdays"), st.just("add"), st.just("2026-03-02"),
              st.sampled_from(["-1", "2001", "1e9", "99999999999999", "five", "5.0", "\u0665"])),
    st.tuples(st.just("sweep"), st.just("--as-of"), BAD_ON),
))
def test_dates_and_counts_in_arguments_are_refused_in_one_line(system, capsys, args):
    assert_refused(system, capsys, list(args))


def test_status_piped_into_a_closed_reader_ends_quietly(system, monkeypatch, capsys):
    class Closed:
        def write(self, _: str) -> int:
            raise BrokenPipeError

        def flush(self) -> None:
            raise BrokenPipeError

        def fileno(self) -> int:
            return devnull.fileno()

    with open("/dev/null", "w") as devnull:
        monkeypatch.setattr("sys.stdout", Closed())
        assert main(["workdays", "add", "2026-03-02", "5"], settings=system.settings) == 141


def test_a_referral_file_naming_siblings_is_read_and_status_lists_each_child(system, capsys, tmp_path):
    siblings = {**REFERRAL, "other_children": [{"pseudonym": "Sibling B", "harm": "died", "looked_after": True},
                                               {"pseudonym": "Child C", "harm": "neither"}]}
    code, out, err = run(system, capsys, ["refer", str(write(tmp_path, json.dumps(siblings).encode()))])
    assert code == 0, err
    reference = out.splitlines()[0]
    code, out, err = run(system, capsys, ["status", reference])
    assert code == 0, err
    assert f"{reference} (Child A +2)" in out
    assert "Children: Child A (seriously harmed); Sibling B (died, looked after); Child C (other)" in out


def test_a_referral_file_nesting_anything_but_the_other_children_is_refused(system, capsys, tmp_path):
    nested = {**REFERRAL, "outline": {"text": "Serious injury to an infant at home."}}
    err = assert_refused(system, capsys, ["refer", str(write(tmp_path, json.dumps(nested).encode()))])
    assert "flat JSON object" in err and "other_children: a list of flat objects" in err
    deeper = {**REFERRAL, "other_children": [{"pseudonym": "Child B", "harm": {"kind": "died"}}]}
    assert "flat JSON object" in assert_refused(
        system, capsys, ["refer", str(write(tmp_path, json.dumps(deeper).encode()))])
