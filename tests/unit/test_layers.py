"""The layers point downward only, and the domain is pure.

From the top: the edge (``lcspr/``: CLI, ``lcspr up``, bootstrap, entry points) → ``flows/`` →
``tasks/`` → ``services/`` (use cases) → ``adapters/`` and ``notifications/`` → ``models/``.
Each layer's modules are imported in a fresh interpreter, which reports what got loaded:
nothing of a layer above, and, for the lower layers, none of the frameworks they must not need.
"""

from __future__ import annotations

import importlib
import json
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# Each layer with the layers it may use (below it).
LAYERS: dict[str, set[str]] = {
    "lcspr": {"flows", "tasks", "services", "adapters", "notifications", "models"},
    "flows": {"tasks", "services", "adapters", "notifications", "models"},
    "tasks": {"services", "adapters", "notifications", "models"},
    "services": {"notifications", "models"},
    "adapters": {"models"},
    "notifications": {"models"},
    "models": set(),
}
# Libraries a layer must not load: the use cases run without Prefect or a database; the domain is pure.
FORBIDDEN: dict[str, set[str]] = {
    "services": {"prefect", "sqlalchemy", "alembic", "pydantic_settings"},
    "notifications": {"prefect", "sqlalchemy"},
    "models": {"prefect", "sqlalchemy", "alembic", "apprise", "jinja2", "pydantic_settings", "httpx"},
}


def modules_of(layer: str) -> list[str]:
    package = importlib.import_module(layer)
    return [layer, *(m.name for m in pkgutil.walk_packages(package.__path__, prefix=f"{layer}.")
                     if ".migrations" not in m.name)]


def loaded_by(names: list[str]) -> set[str]:
    """The top-level packages loaded by importing ``names`` in a fresh interpreter."""
    script = (
        "import importlib, json, sys\n"
        f"for name in {names!r}:\n"
        "    importlib.import_module(name)\n"
        "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True)
    return set(json.loads(done.stdout))


def test_every_layer_is_a_folder_with_modules() -> None:
    """Guards the discovery itself, so an empty list cannot make the checks below pass."""
    for layer in LAYERS:
        assert len(modules_of(layer)) > 1, layer
    assert {"models.lifecycle", "services.answers", "adapters.register.reviews", "lcspr.bootstrap"} <= {
        name for layer in LAYERS for name in modules_of(layer)}


@pytest.mark.parametrize("layer", sorted(LAYERS))
def test_a_layer_loads_nothing_from_the_layers_above_it(layer: str) -> None:
    loaded = loaded_by(modules_of(layer))
    above = set(LAYERS) - LAYERS[layer] - {layer}
    assert loaded & above == set()
    assert loaded & FORBIDDEN.get(layer, set()) == set()


def test_the_check_would_notice_an_arrow_running_up() -> None:
    """The subprocess really reports sys.modules: the bootstrap pulls in the adapters and SQLAlchemy."""
    assert {"adapters", "sqlalchemy", "services"} <= loaded_by(["lcspr.bootstrap"])


@pytest.mark.parametrize("name", modules_of("models"))
@pytest.mark.parametrize("call", ["datetime.now(", "date.today(", "utcnow("])
def test_no_domain_module_reads_the_real_clock(name: str, call: str) -> None:
    path = importlib.import_module(name).__file__
    assert path is not None
    source = Path(path).read_text(encoding="utf-8")
    assert call not in source, f"{name} reads the clock with {call}...); take time as an argument"


@pytest.mark.parametrize("layer", ["services", "tasks", "flows", "adapters", "notifications", "models"])
def test_nothing_below_the_edge_reads_the_environment(layer: str) -> None:
    offenders = [name for name in modules_of(layer)
                 if "os.environ" in Path(importlib.import_module(name).__file__ or "").read_text(encoding="utf-8")]
    assert offenders == []
