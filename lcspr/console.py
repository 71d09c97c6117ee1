"""What every ``lcspr`` subcommand shares: what it is given, how it reads files and dates, how it prints tables."""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Callable, Collection, Sequence
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TypeAlias

from lcspr.settings import Settings
from models.inputs import EARLIEST, LATEST
from services.app import App

if TYPE_CHECKING:
    SubParsers: TypeAlias = argparse._SubParsersAction["Parser"]
else:  # not subscriptable at run time on Python 3.11
    SubParsers = argparse._SubParsersAction


class UserError(Exception):
    """A mistake in what the user asked for: shown as one line, exit 2."""


class Edge:
    """What a subcommand is given: the settings, and the App wired from them on first use (so
    commands that need no register, like ``workdays`` and ``up``, never open one)."""

    def __init__(self, settings: Settings, connect: Callable[[Settings], App]) -> None:
        self.settings = settings
        self._connect = connect
        self._app: App | None = None

    @property
    def app(self) -> App:
        if self._app is None:
            self._app = self._connect(self.settings)
        return self._app


Handler = Callable[[argparse.Namespace, Edge], int]


MAX_INPUT_BYTES = 1_000_000


def read_text(path: Path | str, *, limit: int = MAX_INPUT_BYTES, again: str = "try again",
              too_large: str = "a referral or an answer is a few KB") -> str:
    """A person's file (``-``: standard input) as text: UTF-8, with or without a byte-order mark, up to
    ``limit`` bytes; anything else is one clear line (``again`` says what to do once it is fixed)."""
    shown = shown_path(path)
    try:
        if str(path) == "-":
            data = sys.stdin.buffer.read(limit + 1)
        else:
            with Path(path).open("rb") as handle:
                data = handle.read(limit + 1)
    except OSError as exc:
        raise UserError(f"Cannot read {shown}: {exc.strerror or type(exc).__name__}.") from None
    if len(data) > limit:
        raise UserError(f"{shown} is larger than {limit // 1_000_000} MB; {too_large}.")
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise UserError(f"{shown} is not UTF-8 text (it is UTF-16); save it as UTF-8 and {again}.")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise UserError(f"{shown} is not UTF-8 text (byte {exc.start + 1} cannot be read); "
                        f"save it as UTF-8 and {again}.") from None


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON value")


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    value: dict[str, Any] = {}
    for key, item in pairs:
        if key in value:
            raise ValueError("a field appears twice")
        value[key] = item
    return value


def read_json_object(path: Path, lists_of_objects: Collection[str] = ()) -> dict[str, Any]:
    """A flat JSON object from a person's file (a referral, an answer): one line on any problem.
    ``lists_of_objects``: the fields that hold a list of flat objects (a referral's other children)."""
    shown = shown_path(path)
    text = read_text(path)
    try:
        value = json.loads(text, parse_constant=_refuse_constant, object_pairs_hook=_no_duplicates)
    except json.JSONDecodeError as exc:
        raise UserError(f"{shown} is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg}).") from None
    except ValueError as exc:
        raise UserError(f"{shown} is not valid JSON: {exc}.") from None
    except RecursionError:
        raise UserError(f"{shown} is not a flat JSON object: it nests too deeply.") from None
    if not isinstance(value, dict):
        raise UserError(f"{shown} must hold a JSON object ({{...}}).")
    for name, v in value.items():
        listed = name in lists_of_objects and isinstance(v, list) and all(
            isinstance(item, dict) and not any(isinstance(x, dict | list) for x in item.values()) for item in v)
        if isinstance(v, dict | list) and not listed:
            allowed = f" (but {', '.join(sorted(lists_of_objects))}: a list of flat objects)" \
                if lists_of_objects else ""
            raise UserError(f"{shown} must hold a flat JSON object: no lists or objects inside it{allowed}.")
    return value


def shown_path(path: Path | str) -> str:
    """A path as a refusal may show it: bounded, printable (the path is the person's own, but may be long)."""
    text = str(path)
    text = "".join(ch if ch.isprintable() else "?" for ch in text)
    return text if len(text) <= 80 else "…" + text[-79:]


_ISO_DAY = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")


def parse_date(text: str) -> date:
    """A date argument: ISO ``yyyy-mm-dd`` only, within the plausible range of ``models.inputs``."""
    if not _ISO_DAY.match(text):
        raise argparse.ArgumentTypeError("dates are given as yyyy-mm-dd")
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text} is not a real calendar date") from None
    if not EARLIEST <= day <= LATEST:
        raise argparse.ArgumentTypeError(f"{text} is outside {EARLIEST.isoformat()}..{LATEST.isoformat()}; "
                                         "check the year")
    return day


def working_days(text: str) -> int:
    """A count of working days: a whole number from 0 to 2000 (about eight years)."""
    if not re.fullmatch(r"[0-9]{1,4}", text) or int(text) > 2000:
        raise argparse.ArgumentTypeError("give a whole number of working days from 0 to 2000")
    return int(text)


def parse_limit(text: str) -> int:
    """How many rows to show: a whole number, 0 for every one."""
    if not re.fullmatch(r"[0-9]{1,7}", text):
        raise argparse.ArgumentTypeError("give a whole number of rows (0 shows every one)")
    return int(text)


_REVIEW_REFERENCE = re.compile(r"^[A-Z0-9]{1,20}-[0-9]{4}-[0-9]{4,6}$")


def parse_reference(text: str) -> str:
    """A review reference argument (``LCSPR-2026-0001``; any case), refused without being echoed."""
    canonical = text.strip().upper()
    if not _REVIEW_REFERENCE.match(canonical):
        raise argparse.ArgumentTypeError("that is not a review reference such as LCSPR-2026-0001")
    return canonical


class Parser(argparse.ArgumentParser):
    """argparse, but a mistake is one line that never quotes a long or unprintable value back."""

    def error(self, message: str) -> NoReturn:
        message = re.sub(r"'([^']*)'", _shown_value, message)
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _shown_value(match: re.Match[str]) -> str:
    value = match.group(1)
    return match.group(0) if re.fullmatch(r"[A-Za-z0-9_.:/, -]{1,40}", value) else "'…'"


def table(rows: Sequence[Sequence[str]], header: Sequence[str]) -> str:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(str(v).ljust(w) for v, w in zip(header, widths, strict=True)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(str(v).ljust(w) for v, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    return "\n".join(lines)
