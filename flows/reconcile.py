"""The reconcile flow: every few minutes, give each open review a run that can carry it on.

Deployed as ``lcspr-reconcile`` (``prefect.yaml``; the interval is ``LCSPR_RECONCILE_INTERVAL_SECONDS``)
and run by hand as ``lcspr reconcile``. A run whose process died (killed, out of memory, the
machine restarted) is put back to wait for a worker; a lost run is replaced; what was
found and done is logged, one line a review that needed it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from prefect import Flow, flow, get_run_logger

from services.app import App
from tasks.reconcile import reconcile_reviews


def reconcile_flow(connect: Callable[[], App]) -> Flow[[bool], dict[str, Any]]:
    @flow(name="lcspr-reconcile", log_prints=False)
    def reconcile(dry_run: bool = False) -> dict[str, Any]:
        """Compare every open review with its flow run and repair the stranded ones."""
        logger = get_run_logger()
        findings = reconcile_reviews(connect(), dry_run)
        repaired = [f for f in findings if f["needs_repair"]]
        for f in repaired:
            logger.warning("%s: %s: %s -> %s", f["reference"], f["health"], f["explanation"],
                           f["action"] or "not repaired (dry run)")
        logger.info("%d open reviews, %d needed repair.", len(findings), len(repaired))
        return {"open": len(findings), "repaired": [f["reference"] for f in repaired if f["action"]],
                "dry_run": dry_run}

    return reconcile
