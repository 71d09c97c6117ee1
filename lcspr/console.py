"""What every ``lcspr`` subcommand shares: what it is given, how it reads files and dates, how it prints tables."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable, Sequence
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeAlias

from lcspr.settings import Settings
from services.app import App

if TYPE_CHECKING:
    SubParsers: TypeAlias = argparse._SubParsersAction[argparse.ArgumentParser]
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


def read_json_object(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise UserError(f"Cannot read {path}: {exc.strerror or exc}.") from None
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UserError(f"{path} is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg}).") from None
    if not isinstance(value, dict):
        raise UserError(f"{path} must hold a JSON object ({{...}}).")
    return value


def parse_date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a date as yyyy-mm-dd") from None


def table(rows: Sequence[Sequence[str]], header: Sequence[str]) -> str:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(str(v).ljust(w) for v, w in zip(header, widths, strict=True)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(str(v).ljust(w) for v, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    return "\n".join(lines)
