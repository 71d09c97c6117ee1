"""The domain under ``models/`` is pure: no framework or I/O library, no reading of the clock."""

from __future__ import annotations

import importlib
import json
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

import models

IMPURE = ("prefect", "sqlalchemy", "apprise", "jinja2")
# The register mapping and its migrations are the one persistence corner of models/.
NOT_PURE = ("models.register", "models.migrations")


def pure_modules() -> list[str]:
    names = [
        m.name
        for m in pkgutil.walk_packages(models.__path__, prefix="models.")
        if not any(m.name == n or m.name.startswith(n + ".") for n in NOT_PURE)
    ]
    return ["models", *names]


def test_the_pure_modules_include_the_lifecycle_clocks_and_working_days() -> None:
    """Guards the discovery itself, so an empty list cannot make the checks below pass."""
    assert {"models.lifecycle", "models.clocks", "models.workdays", "models.referral"} <= set(
        pure_modules()
    )


def test_importing_every_pure_module_loads_no_framework_or_io_library() -> None:
    script = (
        "import importlib, json, sys\n"
        f"for name in {pure_modules()!r}:\n"
        "    importlib.import_module(name)\n"
        f"print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in {IMPURE!r})))\n"
    )
    root = Path(models.__file__).resolve().parent.parent
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=root, capture_output=True, text=True, check=True
    )
    assert json.loads(done.stdout) == []


def test_the_check_would_notice_a_framework_being_loaded() -> None:
    """The subprocess really reports sys.modules: importing models.register pulls in sqlalchemy."""
    script = "import sys, models.register; print('sqlalchemy' in sys.modules)"
    root = Path(models.__file__).resolve().parent.parent
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=root, capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == "True"


@pytest.mark.parametrize("name", pure_modules())
@pytest.mark.parametrize("call", ["datetime.now(", "date.today(", "utcnow("])
def test_no_pure_module_reads_the_real_clock(name: str, call: str) -> None:
    path = importlib.import_module(name).__file__
    assert path is not None
    source = Path(path).read_text(encoding="utf-8")
    assert call not in source, f"{name} reads the clock with {call}...); take time as an argument"
