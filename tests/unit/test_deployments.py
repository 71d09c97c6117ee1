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


SCHEDULED = sorted(name for name, (_, schedules) in EXPECTED.items() if schedules)


def test_every_deployment_but_the_reviews_is_scheduled() -> None:
    assert SCHEDULED == ["lcspr-deadline-sweep", "lcspr-deliver-outbox", "lcspr-portfolio", "lcspr-reconcile"]


@pytest.mark.parametrize("name", SCHEDULED)
def test_a_scheduled_deployment_runs_one_at_a_time_whichever_worker_takes_it(name: str) -> None:
    # Enforced by Prefect's server when a worker moves a run to Pending (SecureFlowConcurrencySlots):
    # a second run is Cancelled, not queued, however many workers poll the pool.
    assert deployments()[name]["concurrency_limit"] == {"limit": 1, "collision_strategy": "CANCEL_NEW"}


def test_review_runs_have_no_deployment_limit() -> None:
    # Every review's run may run at once (each is claimed by one worker); a limit would hold answers back.
    assert "concurrency_limit" not in deployments()["lcspr-review"]
