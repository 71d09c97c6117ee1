"""``prefect.yaml`` as `lcspr up` deploys it: every deployment, its entry point, its schedule and pool."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from prefect import Flow

import lcspr.entrypoints

ROOT = Path(__file__).resolve().parents[2]


def deployments() -> dict[str, dict[str, Any]]:
    project = yaml.safe_load((ROOT / "prefect.yaml").read_text(encoding="utf-8"))
    return {d["name"]: d for d in project["deployments"]}


# name: (the flow's name, its schedules)
EXPECTED: dict[str, tuple[str, list[dict[str, Any]]]] = {
    "lcspr-review": ("lcspr-review", []),
    "lcspr-deadline-sweep": ("lcspr-deadline-sweep",
                             [{"cron": "0 8 * * 1-5", "timezone": "Europe/London", "active": True}]),
    "lcspr-portfolio": ("lcspr-portfolio",
                        [{"cron": "30 7 * * 1-5", "timezone": "Europe/London", "active": True}]),
    "lcspr-deliver-outbox": ("lcspr-deliver-outbox", [{"interval": 300, "active": True}]),
    "lcspr-reconcile": ("lcspr-reconcile", [{"interval": 300, "active": True}]),
}


def test_every_deployment_is_listed_here() -> None:
    assert set(deployments()) == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_a_deployment_runs_its_flow_from_the_entrypoints_on_its_schedule_in_the_local_pool(name: str) -> None:
    deployment = deployments()[name]
    flow_name, schedules = EXPECTED[name]
    path, attribute = deployment["entrypoint"].split(":")
    assert path == "lcspr/entrypoints.py"
    flow = getattr(lcspr.entrypoints, attribute)
    assert isinstance(flow, Flow)
    assert flow.name == flow_name
    assert deployment["schedules"] == schedules
    assert deployment["work_pool"]["name"] == "lcspr-local"
    assert "lcspr" in deployment["tags"]


@pytest.mark.parametrize("name", ["lcspr-reconcile", "lcspr-portfolio"])
def test_a_housekeeping_deployment_runs_one_at_a_time(name: str) -> None:
    assert deployments()[name]["concurrency_limit"] == {"limit": 1, "collision_strategy": "CANCEL_NEW"}
