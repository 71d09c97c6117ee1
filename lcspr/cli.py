"""The ``lcspr`` command: refer a case, see where it stands, record decisions, run the system.

One function per subcommand, each ``(args, settings) -> exit code``, registered in
``SUBCOMMANDS`` (add one by appending an ``add_*`` function). ``Settings()`` is built once
in :func:`main` and passed in.

Exit codes: 0 done; 1 the system failed (e.g. the Prefect server is not running, a broken
audit chain); 2 the input was refused (a domain rule, an unknown reference, an invalid
file), with a one-line reason on stderr and nothing written.

Prefect is imported only inside the subcommands that need it, after :func:`main` has
pointed it at the local installation (``PREFECT_HOME``, ``PREFECT_API_URL``), because
Prefect reads its settings when it is imported.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar
from uuid import UUID

import httpx
from pydantic import ValidationError

from lcspr import clock
from lcspr.settings import Settings, flow_run_link
from models.errors import ConfigurationError, NotFound, Refused

if TYPE_CHECKING:
    from models.lifecycle import OpenStep
    from models.runs import Judgement
    from tasks.prefect_runs import PrefectRuns
    from tasks.register import Register, RunLink

T = TypeVar("T")
Handler = Callable[[argparse.Namespace, Settings], int]


class UserError(Exception):
    """A mistake in what the user asked for: shown as one line, exit 2."""


class SystemFailure(Exception):
    """The system could not do it (e.g. Prefect unreachable): shown as one line, exit 1."""


# ---------------------------------------------------------------- helpers


def register_for(settings: Settings) -> Register:
    """The register (``tasks.register`` does not import Prefect)."""
    from tasks.register import open_register

    return open_register(settings)


def flow_run_url(settings: Settings, flow_run_id: str) -> str:
    """The flow run's page in the Prefect UI (V2, served under /v2/)."""
    return flow_run_link(settings.ui_url, flow_run_id)


def describe_validation(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err["loc"]) or "input"
        parts.append(f"{where}: {err['msg']}")
    return "; ".join(parts)


def read_json_object(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise UserError(f"Cannot read {path}: {exc.strerror or exc}.") from None
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UserError(
            f"{path} is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})."
        ) from None
    if not isinstance(value, dict):
        raise UserError(f"{path} must hold a JSON object ({{...}}).")
    return value


def parse_date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a date as yyyy-mm-dd") from None


def prefect_trouble(exc: Exception, settings: Settings) -> str | None:
    """One line saying why Prefect could not be asked, and what to do; None if it is not that."""
    # The URL the client really used: Prefect's own setting, which `lcspr` defaults from LCSPR_API_URL.
    api_url = os.environ.get("PREFECT_API_URL", settings.api_url)
    if isinstance(exc, httpx.TransportError):
        return f"cannot reach the Prefect API at {api_url}; start the system with `lcspr up` (./run)"
    if isinstance(exc, httpx.HTTPStatusError):
        code = exc.response.status_code
        if code in (401, 403):
            return (f"the Prefect API at {api_url} refused the credentials (HTTP {code}): set "
                    "PREFECT_API_AUTH_STRING to the server's PREFECT_SERVER_API_AUTH_STRING ('user:password')")
        if code == 404 and "/deployments/name/" in str(exc.request.url):
            return f"the deployment {settings.deployment} does not exist on {api_url}; `lcspr up` deploys it"
        if code >= 500:
            return f"the Prefect API at {api_url} failed (HTTP {code}); see its log (.lcspr/logs/server.log)"
    return None


@contextmanager
def prefect_runs(settings: Settings) -> Iterator[PrefectRuns]:
    """The review runs on the Prefect server; a failure to reach it becomes one clear line (exit 1)."""
    from prefect.client.orchestration import get_client

    from tasks.prefect_runs import PrefectRuns

    try:
        with get_client(sync_client=True) as client:
            yield PrefectRuns(client, settings.deployment)
    except (httpx.TransportError, httpx.HTTPStatusError) as exc:
        trouble = prefect_trouble(exc, settings)
        if trouble is None:
            raise
        raise SystemFailure(trouble[0].upper() + trouble[1:] + ".") from None


def judge_runs(runs: PrefectRuns, settings: Settings, links: Iterable[RunLink]) -> dict[str, Judgement]:
    """How each review's flow run stands against its open step in the register."""
    from tasks.reconcile import judge_link

    now = clock.now()
    return {link.reference: judge_link(link, runs, now, settings.reconcile_grace_seconds) for link in links}


def _step_json(step: OpenStep | None) -> dict[str, Any] | None:
    if step is None:
        return None
    return {
        "key": step.key,
        "kind": step.kind.value,
        "title": step.title,
        "asked_of": step.asked_of,
        "opened_on": step.opened_on.isoformat(),
        "due": step.due.isoformat() if step.due else None,
        "clock": step.clock_key or None,
        "last_refusal": step.last_refusal or None,
    }


def _table(rows: Sequence[Sequence[str]], header: Sequence[str]) -> str:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(str(v).ljust(w) for v, w in zip(header, widths, strict=True)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    lines += [
        "  ".join(str(v).ljust(w) for v, w in zip(r, widths, strict=True)).rstrip() for r in rows
    ]
    return "\n".join(lines)


# ---------------------------------------------------------------- refer


def add_refer(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "refer", help="Register a referral (JSON file) and start its review flow run."
    )
    p.add_argument("file", type=Path, help="JSON of a Referral, e.g. examples/referral.json")
    p.set_defaults(handler=cmd_refer)


def cmd_refer(args: argparse.Namespace, settings: Settings) -> int:
    from models.referral import Referral

    referral = Referral.model_validate(read_json_object(args.file))
    register = register_for(settings)
    with prefect_runs(settings) as runs:
        # Ask Prefect first: if the run cannot be started, nothing is registered either.
        runs.check()
        referred = register.refer(referral, clock.today(), clock.now())
        reference = referred.reference
        if not referred.created:
            print(f"Already referred: {referral.referring_agency} {referral.agency_reference} is review {reference}.")
        flow_run_id = referred.flow_run_id
        if flow_run_id is None:
            try:
                flow_run_id = runs.start(reference, {"referral": referral.model_dump(mode="json")},
                                         idempotency_key=reference)
            except (httpx.TransportError, httpx.HTTPStatusError) as exc:
                trouble = prefect_trouble(exc, settings) or f"{type(exc).__name__}: {exc}"
                raise SystemFailure(
                    f"{reference} is registered, but its flow run could not be started: {trouble}. "
                    f"Nothing is lost: once that is fixed, `lcspr reconcile` (or this `lcspr refer` again) "
                    f"starts it.") from None
            try:
                register.attach_flow_run(reference, flow_run_id, clock.now())
            except Refused:  # another run got there first (e.g. started from the UI): it stands
                flow_run_id = register.flow_run_id(reference) or flow_run_id
    print(reference)
    print(f"Flow run: {flow_run_url(settings, flow_run_id)}")
    return 0


# ---------------------------------------------------------------- status


def add_status(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "status", help="Where a review stands: stage, open step, clocks, agencies, actions."
    )
    p.add_argument("reference")
    p.add_argument(
        "--json", action="store_true", help="Machine-readable output (stable field names)."
    )
    p.set_defaults(handler=cmd_status)


def status_of(
    register: Register, settings: Settings, reference: str, today: date
) -> dict[str, Any]:
    from models.lifecycle import open_step

    review = register.load(reference)
    cal = settings.calendar()
    amber = settings.amber_within_working_days
    flow_run_id = register.flow_run_id(reference)
    clocks = []
    for c in review.clocks:
        closed = c.met_on is not None or c.stopped_on is not None
        clocks.append(
            {
                "key": c.key,
                "kind": c.kind.value,
                "subject": c.subject or None,
                "owner_role": c.owner_role or None,
                "start": c.start.isoformat(),
                "due": c.due(cal).isoformat(),
                "state": c.state_on(today, cal).value,
                "rag": c.rag(today, cal, amber),
                "working_days_left": None if closed else c.working_days_left(today, cal),
                "met_on": c.met_on.isoformat() if c.met_on else None,
                "stopped_on": c.stopped_on.isoformat() if c.stopped_on else None,
                "paused": c.is_paused,
                "extensions": len(c.extensions),
            }
        )
    return {
        "reference": review.reference,
        "pseudonym": review.referral.child_pseudonym,
        "stage": review.stage.value,
        "route": review.route.value if review.route else None,
        "today": today.isoformat(),
        "flow_run_id": flow_run_id,
        "flow_run_url": flow_run_url(settings, flow_run_id) if flow_run_id else None,
        "open_step": _step_json(open_step(review, register.policy)),
        "clocks": clocks,
        "agency_requests": [
            {
                "agency": a.agency,
                "requested_on": a.requested_on.isoformat(),
                "received_on": a.received_on.isoformat() if a.received_on else None,
            }
            for a in review.agencies
        ],
        "recommendations": list(review.recommendations),
        "actions": [
            {
                "number": a.number,
                "recommendation_number": a.recommendation_number,
                "owner_agency": a.owner_agency,
                "action": a.description,
                "due_on": a.due_on.isoformat(),
                "completed_on": a.completed_on.isoformat() if a.completed_on else None,
            }
            for a in review.actions
        ],
        "closed_on": review.closed_on.isoformat() if review.closed_on else None,
    }


REPAIR = "lcspr reconcile"


def run_status(settings: Settings, register: Register, reference: str) -> dict[str, Any]:
    """The Prefect run's state next to the register's open step, and whether it needs repair."""
    link = next((r for r in register.run_links(include_closed=True) if r.reference == reference), None)
    if link is None:
        return {"health": "unknown", "explanation": "no such review", "needs_repair": False, "repair": None}
    try:
        with prefect_runs(settings) as runs:
            judgement = judge_runs(runs, settings, [link])[reference]
    except SystemFailure as exc:
        return {"health": "unknown", "explanation": str(exc), "needs_repair": False, "repair": None}
    return {"health": judgement.health.value, "explanation": judgement.explanation,
            "needs_repair": judgement.needs_repair, "repair": REPAIR if judgement.needs_repair else None}


def cmd_status(args: argparse.Namespace, settings: Settings) -> int:
    register = register_for(settings)
    status = status_of(register, settings, args.reference, clock.today())
    status["run"] = run_status(settings, register, args.reference)
    if args.json:
        print(json.dumps(status, indent=2))
        return 0
    route = f", route {status['route']}" if status["route"] else ""
    print(f"{status['reference']} ({status['pseudonym']}): stage {status['stage']}{route}")
    if status["flow_run_url"]:
        print(f"Flow run: {status['flow_run_url']}")
    run = status["run"]
    if run["needs_repair"]:
        print(f"PROBLEM: nobody can answer this review now: {run['explanation']}. Repair: `{REPAIR}`.")
    else:
        print(f"Run: {run['health']} ({run['explanation']})")
    step = status["open_step"]
    if step is None:
        print(f"Closed on {status['closed_on']}; waiting on no step.")
    else:
        print(
            f"Open step: {step['key']} — {step['title']}, asked of {step['asked_of']}, "
            f"due {step['due'] or '-'} (open since {step['opened_on']})"
        )
        if step["last_refusal"]:
            print(f"  Previous answer refused: {step['last_refusal']}")
    if status["clocks"]:
        print("\nClocks (today " + status["today"] + ")")
        print(
            _table(
                [
                    [
                        c["key"],
                        c["start"],
                        c["due"],
                        c["state"],
                        c["rag"],
                        "" if c["working_days_left"] is None else str(c["working_days_left"]),
                    ]
                    for c in status["clocks"]
                ],
                ["clock", "start", "due", "state", "RAG", "working days left"],
            )
        )
    if status["agency_requests"]:
        print("\nAgency requests")
        print(
            _table(
                [
                    [a["agency"], a["requested_on"], a["received_on"] or "outstanding"]
                    for a in status["agency_requests"]
                ],
                ["agency", "requested", "received"],
            )
        )
    if status["actions"]:
        print("\nActions")
        print(
            _table(
                [
                    [
                        str(a["number"]),
                        str(a["recommendation_number"]),
                        a["owner_agency"],
                        a["due_on"],
                        a["completed_on"] or "open",
                        a["action"][:50],
                    ]
                    for a in status["actions"]
                ],
                ["#", "rec", "owner", "due", "completed", "action"],
            )
        )
    return 0


# ---------------------------------------------------------------- decide


def add_decide(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "decide", help="Answer a review's open step (judged here first, then the flow resumes)."
    )
    p.add_argument("reference")
    p.add_argument(
        "step",
        help="The open step's key (rapid-review-1) or its kind (rapid_review, rapid-review).",
    )
    p.add_argument(
        "--input", dest="input_file", type=Path, required=True, help="JSON file with the answer."
    )
    p.add_argument(
        "--wait",
        type=float,
        default=0,
        metavar="SECONDS",
        help="Wait up to SECONDS for the flow to record the answer and show the next step.",
    )
    p.set_defaults(handler=cmd_decide)


def resolve_step_key(step: str, open_step: OpenStep | None, reference: str) -> str:
    """A step key from what the user typed: a key as is, a kind as the open step of that kind."""
    from models.steps import StepKind, parse_step_key, step_key

    try:
        parse_step_key(step)
        return step
    except Refused:  # not a key: maybe a kind
        pass
    try:
        kind = StepKind(step.strip().lower().replace("-", "_"))
    except ValueError:
        kinds = ", ".join(k.value for k in StepKind)
        raise UserError(
            f"'{step}' is neither a step key (e.g. rapid-review-1) nor a step kind ({kinds})."
        ) from None
    if open_step is None:
        raise Refused(f"Review {reference} is closed; it waits on no step.")
    return open_step.key if open_step.kind is kind else step_key(kind)


def cmd_decide(args: argparse.Namespace, settings: Settings) -> int:
    register = register_for(settings)
    payload = read_json_object(args.input_file)
    reference = args.reference
    key = resolve_step_key(args.step, register.open_step(reference), reference)
    register.check(reference, key, payload, clock.today())  # Refused: exit 2, nothing written
    flow_run_id = register.flow_run_id(reference)
    run = run_status(settings, register, reference)
    if run["needs_repair"] or flow_run_id is None:
        raise SystemFailure(
            f"{reference}'s flow run cannot take an answer: {run['explanation']}. Run `{REPAIR}` to repair it, "
            "then answer again (nothing was recorded)."
        )
    if run["health"] == "no_worker":
        raise SystemFailure(
            f"{reference}'s flow run is {run['explanation']}: is `lcspr up` (./run) running? "
            "Answer again once its worker is (nothing was recorded)."
        )
    resume_run(settings, flow_run_id, key, payload)
    print(f"{reference}: answer to {key} sent; the flow is resuming.")
    if args.wait > 0:
        return wait_for_outcome(register, reference, key, args.wait)
    return 0


def resume_run(
    settings: Settings, flow_run_id: str, key: str, payload: Mapping[str, Any], settle: float = 30.0
) -> None:
    """Resume the suspended run with the answer, once it waits on ``key`` (up to ``settle`` s)."""
    from prefect.client.schemas.responses import SetStateStatus

    from models.runs import step_of_wait
    from tasks.prefect_runs import retry_unavailable

    run_id = UUID(flow_run_id)
    with prefect_runs(settings) as runs:
        client = runs.client
        deadline = time.monotonic() + settle
        while True:
            run = retry_unavailable(lambda: client.read_flow_run(run_id))
            state = run.state
            waiting_on = step_of_wait(state.state_details.pause_key) if state and state.is_paused() else None
            if waiting_on == key:
                break
            if state is not None and state.is_final():
                raise SystemFailure(
                    f"The flow run is {state.name}; it cannot take an answer. Run `{REPAIR}` to repair it, "
                    f"then answer again. See {flow_run_url(settings, flow_run_id)}"
                )
            if time.monotonic() > deadline:
                now = f"waits on {waiting_on}" if waiting_on else f"is {state.name if state else 'unknown'}"
                raise SystemFailure(
                    f"The flow run {now}, not on {key}, after {settle:.0f} s. `lcspr status` shows why; "
                    f"if it stays so, `{REPAIR}` repairs it. See {flow_run_url(settings, flow_run_id)}"
                )
            time.sleep(1)
        result = retry_unavailable(lambda: client.resume_flow_run(run_id, run_input=dict(payload)))
    if result.status == SetStateStatus.REJECT:
        reason = result.details.reason if hasattr(result.details, "reason") else str(result.details)
        raise Refused(f"The Prefect server refused the answer: {reason}")
    if result.status == SetStateStatus.ABORT:
        reason = getattr(result.details, "reason", "") or ""
        raise Refused(
            f"The flow run is not waiting for input, so the answer was not taken. {reason}".strip()
        )


def wait_for_outcome(register: Register, reference: str, key: str, seconds: float) -> int:
    """Poll the register until the flow has recorded ``key``; print the outcome."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        decision = next((d for d in register.decisions(reference) if d.key == key), None)
        if decision is not None:
            step = register.open_step(reference)
            if not decision.accepted:
                print(f"Refused by the review: {decision.reason}", file=sys.stderr)
                if step is not None:
                    print(f"The step is asked again as {step.key}.", file=sys.stderr)
                return 2
            if step is None:
                print(f"{reference} is closed.")
            else:
                print(
                    f"Next step: {step.key} — {step.title}, asked of {step.asked_of}, "
                    f"due {step.due.isoformat() if step.due else '-'}"
                )
            return 0
        time.sleep(1)
    print(
        f"The flow has not recorded {key} after {seconds:.0f} s; check `lcspr status {reference}`.",
        file=sys.stderr,
    )
    return 1


# ---------------------------------------------------------------- list


def add_list(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("list", help="Open reviews: reference, stage, open step, due date, RAG.")
    p.add_argument("--all", action="store_true", help="Include closed reviews.")
    p.set_defaults(handler=cmd_list)


def cmd_list(args: argparse.Namespace, settings: Settings) -> int:
    from models.lifecycle import open_step

    register = register_for(settings)
    today = clock.today()
    cal = settings.calendar()
    links = register.run_links(include_closed=args.all)
    try:
        with prefect_runs(settings) as runs:
            health: dict[str, str] = {}
            judged = judge_runs(runs, settings, links)
            for reference, judgement in judged.items():
                health[reference] = judgement.health.value + (" !" if judgement.needs_repair else "")
        unreachable = ""
    except SystemFailure as exc:
        health, unreachable = {}, str(exc)
    rows = []
    for link in links:
        review = register.load(link.reference)
        step = open_step(review, register.policy)
        rag = "-"
        if step is not None and step.clock_key:
            rag = review.clock(step.clock_key).rag(today, cal, settings.amber_within_working_days)
        rows.append(
            [
                link.reference,
                review.referral.child_pseudonym,
                review.stage.value,
                step.key if step else "-",
                step.due.isoformat() if step and step.due else "-",
                rag,
                health.get(link.reference, "unknown"),
            ]
        )
    if not rows:
        print("No open reviews.")
        return 0
    print(_table(rows, ["reference", "pseudonym", "stage", "open step", "due", "RAG", "run"]))
    stranded = [r for r in rows if r[-1].endswith("!")]
    if stranded:
        print(f"\n{len(stranded)} review(s) marked ! cannot be answered now (see `lcspr status REFERENCE`); "
              f"`{REPAIR}` repairs them.")
    if unreachable:
        print(f"\nRun states unknown: {unreachable}", file=sys.stderr)
    return 0


# ---------------------------------------------------------------- reconcile


def add_reconcile(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "reconcile",
        help="Compare every open review with its flow run and repair the stranded ones (crashed, lost, none).",
    )
    p.add_argument("--dry-run", action="store_true", help="Only show what is found and would be repaired.")
    p.add_argument("--json", action="store_true", help="Machine-readable output.")
    p.set_defaults(handler=cmd_reconcile)


def cmd_reconcile(args: argparse.Namespace, settings: Settings) -> int:
    from tasks.reconcile import reconcile

    register = register_for(settings)
    with prefect_runs(settings) as runs:
        findings = reconcile(register, runs, now=clock.now(), grace_seconds=settings.reconcile_grace_seconds,
                             dry_run=args.dry_run)
    if args.json:
        print(json.dumps([f.as_json() for f in findings], indent=2))
        return 0
    for finding in findings:
        print(finding.line)
    repairs = [f for f in findings if f.judgement.needs_repair]
    verb = "need" if args.dry_run else "needed"
    print(f"{len(findings)} open review(s); {len(repairs)} {verb} repair.")
    return 0


# ---------------------------------------------------------------- workdays


def add_workdays(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("workdays", help="Working-day arithmetic with the partnership's calendar.")
    wsub = p.add_subparsers(dest="direction", required=True)
    for name, text in (
        ("add", "The Nth working day after DATE (day 0 is DATE)."),
        ("before", "The Nth working day before DATE."),
    ):
        w = wsub.add_parser(name, help=text)
        w.add_argument("date", type=parse_date)
        w.add_argument("n", type=int)
    p.set_defaults(handler=cmd_workdays)


def cmd_workdays(args: argparse.Namespace, settings: Settings) -> int:
    cal = settings.calendar()
    result = (
        cal.add(args.date, args.n) if args.direction == "add" else cal.before(args.date, args.n)
    )
    print(result.isoformat())
    return 0


# ---------------------------------------------------------------- clock


def add_clock(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("clock", help="Pause, resume or extend one of a review's clocks.")
    p.add_argument("reference")
    p.add_argument("clock", help="The clock's key as `lcspr status` shows it, e.g. rapid_review.")
    p.add_argument("action", choices=["pause", "resume", "extend"])
    p.add_argument(
        "--on", type=parse_date, required=True, help="The date it takes effect (yyyy-mm-dd)."
    )
    p.add_argument("--by", required=True, help="Who decided (name and role).")
    p.add_argument("--reason", default="", help="Why (needed to pause or extend).")
    p.add_argument("--new-due", type=parse_date, help="The agreed new due date (extend).")
    p.set_defaults(handler=cmd_clock)


DONE = {"pause": "paused", "resume": "resumed", "extend": "extended"}


def cmd_clock(args: argparse.Namespace, settings: Settings) -> int:
    from models.lifecycle import ClockAdjustment

    adj = ClockAdjustment(
        clock=args.clock,
        action=args.action,
        on=args.on,
        by=args.by,
        reason=args.reason,
        new_due=args.new_due,
    )
    review = register_for(settings).adjust_clock(args.reference, adj, clock.today(), clock.now())
    c = review.clock(adj.clock)
    cal = settings.calendar()
    print(
        f"{args.reference}: clock {c.key} {DONE[args.action]}; due {c.due(cal).isoformat()}, "
        f"{c.state_on(clock.today(), cal).value}."
    )
    return 0


# ---------------------------------------------------------------- audit


def add_audit(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("audit", help="A review's audit trail; --verify checks its hash chain.")
    p.add_argument("reference")
    p.add_argument(
        "--verify", action="store_true", help="Check the hash chain; exit 1 if it is broken."
    )
    p.set_defaults(handler=cmd_audit)


def cmd_audit(args: argparse.Namespace, settings: Settings) -> int:
    register = register_for(settings)
    for e in register.audit_trail(args.reference):
        detail = json.dumps(e.detail, sort_keys=True, separators=(", ", ": "))
        print(
            f"{e.seq:>4}  {e.at.isoformat(timespec='seconds')}  {e.actor:<30}  "
            f"{e.event:<20}  {detail}"
        )
    if args.verify:
        problems = register.verify_audit(args.reference)
        if problems:
            for p in problems:
                print(f"BROKEN: {p}", file=sys.stderr)
            return 1
        print("Audit trail intact: every event matches the hash chain.")
    return 0


# ---------------------------------------------------------------- up


def add_up(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "up", help="Start the Prefect server, worker and local outbox; Ctrl-C stops them."
    )
    p.add_argument(
        "--port", type=int, help="Prefect server port (default from LCSPR_API_URL: 4200)."
    )
    p.add_argument(
        "--smtp-port", type=int, help="Local outbox SMTP port (default LCSPR_SMTP_PORT: 8025)."
    )
    p.set_defaults(handler=cmd_up)


def cmd_up(args: argparse.Namespace, settings: Settings) -> int:
    from lcspr.up import up, with_ports

    return up(with_ports(settings, args.port, args.smtp_port))


# ---------------------------------------------------------------- sweep and outbox


def add_sweep(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "sweep",
        help="Queue today's reminders and escalations into the outbox, then deliver pending messages.",
    )
    p.add_argument("--as-of", type=parse_date, help="Sweep as if today were DATE (yyyy-mm-dd).")
    p.add_argument("--dry-run", action="store_true", help="List what is due; queue and send nothing.")
    p.set_defaults(handler=cmd_sweep)


def cmd_sweep(args: argparse.Namespace, settings: Settings) -> int:
    from tasks.notify import dispatcher_for, outbox_for, worker_name
    from tasks.outbox import sweep

    register = register_for(settings)
    today = args.as_of or clock.today()
    report = sweep(register, outbox_for(settings, register), None if args.dry_run else dispatcher_for(settings),
                   today=today, now=clock.now(), worker=worker_name(), policies=settings.reminder_policies(),
                   dry_run=args.dry_run)
    if not settings.calendar().is_working_day(today):
        print(f"{today} is not a working day: no reminders are due.")
    for key in report.due:
        print(("would queue " if args.dry_run else "due ") + key)
    if not args.dry_run:
        print(f"{today}: {len(report.due)} due, {len(report.queued)} newly queued, "
              f"{len(report.delivery.sent)} sent, {len(report.delivery.failed)} failed (kept pending, retried)")
        for key, error in report.delivery.failed.items():
            print(f"  not delivered: {key}: {error}", file=sys.stderr)
    return 0


def add_outbox(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("outbox", help="Messages in the outbox: pending ones with their last error.")
    p.add_argument("--all", action="store_true", help="Include messages already sent.")
    p.add_argument("--retry-now", action="store_true", help="Make every pending message due now, then deliver.")
    p.add_argument("--json", action="store_true", help="Machine-readable output.")
    p.set_defaults(handler=cmd_outbox)


def cmd_outbox(args: argparse.Namespace, settings: Settings) -> int:
    from tasks.notify import dispatcher_for, outbox_for, worker_name

    outbox = outbox_for(settings)
    if args.retry_now:
        outbox.retry_now(clock.now())
        report = outbox.deliver(dispatcher_for(settings), clock.now(), worker_name())
        print(f"{len(report.sent)} sent, {len(report.failed)} still failing")
    rows = outbox.messages(None if args.all else "pending")
    if args.json:
        print(json.dumps([{"key": m.key, "kind": m.kind, "role": m.role, "status": m.status,
                           "attempts": m.attempts, "last_error": m.last_error, "subject": m.subject,
                           "next_attempt_at": m.next_attempt_at.isoformat(),
                           "sent_at": m.sent_at.isoformat() if m.sent_at else None} for m in rows], indent=2))
        return 0
    if not rows:
        print("The outbox is empty." if args.all else "Nothing pending: every message has been sent.")
        return 0
    print(_table([(m.status, str(m.attempts), m.role, m.subject, m.last_error[:80]) for m in rows],
                 ("status", "attempts", "role", "subject", "last error")))
    return 0


# ---------------------------------------------------------------- main

# Each adds one subcommand; append yours (e.g. sweep, outbox) here.
SUBCOMMANDS: list[Callable[[argparse._SubParsersAction[argparse.ArgumentParser]], None]] = [
    add_up,
    add_refer,
    add_status,
    add_decide,
    add_list,
    add_reconcile,
    add_workdays,
    add_clock,
    add_audit,
    add_sweep,
    add_outbox,
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lcspr",
        description="Local Child Safeguarding Practice Reviews: the case register and its flows.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for add in SUBCOMMANDS:
        add(sub)
    return parser


def point_prefect_at(settings: Settings) -> None:
    """Use the local installation's Prefect (unless the environment already names one)."""
    from lcspr.up import prefect_env

    wanted = prefect_env(settings)
    for name in (
        "PREFECT_HOME",
        "PREFECT_API_URL",
        "PREFECT_SERVER_ANALYTICS_ENABLED",
        "PREFECT_UI_URL",
    ):
        os.environ.setdefault(name, wanted[name])


def main(argv: Iterable[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(None if argv is None else list(argv))
    try:
        settings = Settings()
        if args.command != "up":
            point_prefect_at(settings)
        handler: Handler = args.handler
        return handler(args, settings)
    except ValidationError as exc:
        print(f"lcspr {args.command}: invalid: {describe_validation(exc)}", file=sys.stderr)
        return 2
    except Refused as exc:
        print(f"lcspr {args.command}: refused: {exc.reason}", file=sys.stderr)
        return 2
    except (NotFound, UserError) as exc:
        print(f"lcspr {args.command}: {exc}", file=sys.stderr)
        return 2
    except (SystemFailure, ConfigurationError) as exc:
        print(f"lcspr {args.command}: {exc}", file=sys.stderr)
        return 1
    except (httpx.TransportError, httpx.HTTPStatusError) as exc:
        trouble = prefect_trouble(exc, settings)
        if trouble is None:
            raise
        print(f"lcspr {args.command}: {trouble}.", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
