"""The reconcile task: a thin wrapper over :func:`services.reconcile.reconcile`."""

from __future__ import annotations

from typing import Any

from prefect import task
from prefect.cache_policies import NO_CACHE

from services import reconcile
from services.app import App


@task(name="reconcile-reviews",
      task_run_name="Repair stranded reviews",
      cache_policy=NO_CACHE, retries=2, retry_delay_seconds=30)
def reconcile_reviews(app: App, dry_run: bool = False) -> list[dict[str, Any]]:
    """Repair every open review whose run is stranded; what was found and done, per review."""
    return [f.as_json() for f in reconcile.reconcile(app, dry_run)]
