"""What a flow-run process does when its run starts (``lcspr/entrypoints.py``): it wires the App, and loads
the messaging libraries in a thread meanwhile, so that the delivery after an answer does not import them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from lcspr.settings import Settings

ROOT = Path(__file__).resolve().parents[2]

PROGRAM = """
import sys, time
import lcspr.entrypoints as entrypoints
before = sorted(m for m in ("apprise", "jinja2", "icalendar") if m in sys.modules)
app = entrypoints.connect()
deadline = time.monotonic() + 60
while not all(m in sys.modules for m in ("apprise", "jinja2", "icalendar")) and time.monotonic() < deadline:
    time.sleep(0.05)
after = sorted(m for m in ("apprise", "jinja2", "icalendar") if m in sys.modules)
print(before, after, type(app).__name__)
"""


def test_a_flow_run_loads_the_messaging_libraries_beside_its_start(settings: Settings):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "LCSPR_"))}
    env.update({"LCSPR_HOME": str(settings.home), "LCSPR_DATABASE_URL": settings.register_url,
                "PREFECT_HOME": str(settings.home / "prefect")})
    done = subprocess.run([sys.executable, "-c", PROGRAM], env=env, cwd=ROOT, capture_output=True, text=True,
                          timeout=120, check=True)
    assert done.stdout.split("\n")[0] == "[] ['apprise', 'icalendar', 'jinja2'] App", done.stderr[-2000:]
