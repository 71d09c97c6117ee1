"""The tested set of packages: requirements.lock pins every one, and this .venv holds exactly that.

An upgrade is a deliberate change to the lock (README, "Dependencies") that runs the whole
suite; these tests fail when what is installed drifts from the lock, or when a pin we depend
on (SQLAlchemy below 2.1 for Prefect 3.8's scheduler) is lost.
"""

from __future__ import annotations

import re
import tomllib
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[2]
PIN = re.compile(r"^([A-Za-z0-9_.\-]+)(?:\[[^\]]*\])?==([^\s;\\]+)")


def locked() -> dict[str, Version]:
    pins: dict[str, Version] = {}
    for line in (ROOT / "requirements.lock").read_text().splitlines():
        match = PIN.match(line)
        if match:
            pins[canonicalize_name(match[1])] = Version(match[2])
    return pins


def test_every_locked_package_is_pinned_to_one_version_with_hashes():
    text = (ROOT / "requirements.lock").read_text()
    requirements = [line for line in text.splitlines() if line and not line.startswith((" ", "#"))]
    assert len(requirements) > 50
    assert all(PIN.match(line) for line in requirements), [r for r in requirements if not PIN.match(r)]
    assert text.count("--hash=sha256:") >= len(requirements)


def test_the_pins_that_keep_prefect_working_hold():
    pins = locked()
    assert Version("2.0") <= pins["sqlalchemy"] < Version("2.1"), "SQLAlchemy 2.1 breaks Prefect 3.8's scheduler"
    assert Version("3.8.8") <= pins["prefect"] < Version("3.9")
    assert pins["fastapi"] == Version("0.141.1"), "newer FastAPI breaks the Prefect 3.8 server"


def test_every_direct_dependency_is_in_the_lock_within_its_range():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = [*project["dependencies"], *project["optional-dependencies"]["dev"],
              *project["optional-dependencies"]["postgres"]]
    pins = locked()
    for spec in wanted:
        requirement = Requirement(spec)
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{name} is not in requirements.lock: refresh it (README, Dependencies)"
        assert requirement.specifier.contains(pins[name], prereleases=True), f"{name}=={pins[name]} vs {spec}"


def test_the_installed_packages_are_exactly_the_locked_versions():
    pins = locked()
    drift = {}
    for name, version in pins.items():
        try:
            installed = Version(metadata.version(name))
        except metadata.PackageNotFoundError:
            # Platform-specific packages (e.g. colorama on Windows) are locked but not installed here.
            continue
        if installed != version:
            drift[name] = f"installed {installed}, locked {version}"
    assert drift == {}, "run ./test (it reinstalls from the lock) or refresh the lock"
