"""The subcommands about reviews: refer, status, decide, list, clock, panel-response, action, audit.

Each is ``add_*`` (its arguments) and ``cmd_*`` (``(args, edge) -> exit code``), calling one
use case of ``services/`` and printing what it returns.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from lcspr.console import (
    Edge,
    SubParsers,
    UserError,
    parse_date,
    parse_limit,
    parse_reference,
    read_json_object,
    table,
)
from lcspr.meeting_commands import meeting_json, meeting_rows
from models.errors import Unavailable
from models.lifecycle import ClockAdjustment
from models.records import AuditHead
from models.referral import read_referral
from models.runs import REPAIR
from services import answers, artifacts, clocks, meetings, quality, queries, reconcile, referrals, reviews, side_records
from services.app import App

# ---------------------------------------------------------------- refer


def add_refer(sub: SubParsers) -> None:
    p = sub.add_parser("refer", help="Register a referral (JSON file) and start its review flow run.")
    p.add_argument("file", type=Path, help="JSON of a Referral, e.g. examples/referral.json")
    p.set_defaults(handler=cmd_refer)


def cmd_refer(args: argparse.Namespace, edge: Edge) -> int:
    referral = read_referral(read_json_object(args.file, lists_of_objects=("other_children",)))
    referred = referrals.refer(edge.app, referral)
    if not referred.created:
        print(f"Already referred: {referral.referring_agency} {referral.agency_reference} "
              f"is review {referred.reference}.")
    print(referred.reference)
    print(f"Flow run: {edge.app.config.run_link(referred.flow_run_id)}")
    return 0


# ---------------------------------------------------------------- status


def add_status(sub: SubParsers) -> None:
    p = sub.add_parser(
        "status", help="Where a review stands: stage, open step, quality checklist, clocks, agencies, actions.")
    p.add_argument("reference", type=parse_reference)
    p.add_argument("--json", action="store_true", help="Machine-readable output (stable field names).")
    p.set_defaults(handler=cmd_status)


def run_status(app: App, reference: str) -> dict[str, Any]:
    """The Prefect run's state next to the register's open step, and whether it needs repair."""
    try:
        judged = reconcile.run_health(app, [reference], include_closed=True)
    except Unavailable as exc:
        return {"health": "unknown", "explanation": str(exc), "needs_repair": False, "repair": None}
    judgement = judged[reference]
    return {"health": judgement.health.value, "explanation": judgement.explanation,
            "needs_repair": judgement.needs_repair, "repair": REPAIR if judgement.needs_repair else None}


def cmd_status(args: argparse.Namespace, edge: Edge) -> int:
    status = queries.status(edge.app, args.reference) | queries.incident(edge.app, args.reference)
    status["run"] = run_status(edge.app, args.reference)
    held, now = meetings.meetings(edge.app, args.reference), edge.app.clock.now()
    status["meetings"] = [meeting_json(m, now) for m in held]
    status["quality"] = quality.status_summary(edge.app, status)
    if args.json:
        print(json.dumps(status, indent=2))
        return 0
    route = f", route {status['route']}" if status["route"] else ""
    print(f"{status['reference']} ({status['pseudonym']}): stage {status['stage']}{route}")
    if len(status["children"]) > 1:
        print("Children: " + "; ".join(
            f"{c['pseudonym']} ({HARM[c['harm']]}{', looked after' if c['looked_after'] else ''}"
            f"{', care leaver' if c['care_leaver'] else ''})" for c in status["children"]))
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
        print(f"Open step: {step['key']} — {step['title']}, asked of {step['asked_of']}, "
              f"due {step['due'] or '-'} (open since {step['opened_on']})")
        if step["last_refusal"]:
            print(f"  Previous answer refused: {step['last_refusal']}")
    print(f"Quality: {status['quality']['line']} (`lcspr quality {status['reference']}`)")
    if status["clocks"]:
        print("\nClocks (today " + status["today"] + ")")
        print(table([[c["key"], c["start"], c["due"], c["state"], c["rag"],
                      "" if c["working_days_left"] is None else str(c["working_days_left"])]
                     for c in status["clocks"]],
                    ["clock", "start", "due", "state", "RAG", "working days left"]))
    if status["agency_requests"]:
        print("\nAgency requests")
        print(table([[a["agency"], a["requested_on"], a["received_on"] or "outstanding"]
                     for a in status["agency_requests"]], ["agency", "requested", "received"]))
    for r in status["panel_responses"]:
        note = f" ({r['note']})" if r["note"] else ""
        print(f"National Panel: {PANEL[r['response']]} on {r['received_on']}{note}")
    if status["actions"]:
        print("\nActions")
        print(table([[str(a["number"]), ACTION_KIND.get(a["kind"], a["kind"]) if a["kind"] != "plan"
                      else f"rec {a['recommendation_number']}", a["owner_agency"], a["due_on"],
                      a["completed_on"] or "open", a["action"][:50]] for a in status["actions"]],
                    ["#", "for", "owner", "due", "completed", "action"]))
    if held:
        print("\nMeetings (`lcspr meeting list` for more)")
        print(meeting_rows(held, now, with_reference=False))
    return 0


HARM = {"died": "died", "seriously_harmed": "seriously harmed", "neither": "other"}
PANEL = {"agreed": "agreed", "asked_for_more": "asked for more information",
         "national_review": "commissioned a national review"}
ACTION_KIND = {"immediate_safety": "immediate", "improvement": "improvement"}


# ---------------------------------------------------------------- decide


def add_decide(sub: SubParsers) -> None:
    p = sub.add_parser("decide", help="Answer a review's open step (judged here first, then the flow resumes).")
    p.add_argument("reference", type=parse_reference)
    p.add_argument("step", help="The open step's key (rapid-review-1) or its kind (rapid_review, rapid-review).")
    p.add_argument("--input", dest="input_file", type=Path, required=True, help="JSON file with the answer.")
    p.add_argument("--wait", type=float, default=0, metavar="SECONDS",
                   help="Wait up to SECONDS for the flow to record the answer and show the next step.")
    p.set_defaults(handler=cmd_decide)


def cmd_decide(args: argparse.Namespace, edge: Edge) -> int:
    payload = read_json_object(args.input_file)
    key = answers.give_answer(edge.app, args.reference, args.step, payload)
    print(f"{args.reference}: answer to {key} sent; the flow is resuming.")
    if args.wait > 0:
        return wait_for_outcome(edge.app, args.reference, key, args.wait)
    return 0


def wait_for_outcome(app: App, reference: str, key: str, seconds: float) -> int:
    """Poll the register until the flow has recorded ``key``; print the outcome."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        decision = next((d for d in queries.decisions(app, reference) if d.key == key), None)
        if decision is not None:
            step = reviews.waiting_on(app, reference)
            if not decision.accepted:
                print(f"Refused by the review: {decision.reason}", file=sys.stderr)
                if step is not None:
                    print(f"The step is asked again as {step.key}.", file=sys.stderr)
                return 2
            if step is None:
                print(f"{reference} is closed.")
            else:
                print(f"Next step: {step.key} — {step.title}, asked of {step.asked_of}, "
                      f"due {step.due.isoformat() if step.due else '-'}")
            return 0
        time.sleep(1)
    print(f"The flow has not recorded {key} after {seconds:.0f} s; check `lcspr status {reference}`.",
          file=sys.stderr)
    return 1


# ---------------------------------------------------------------- list

# Rows ``lcspr list`` shows unless told otherwise: a screenful of the most pressing.
LIST_LIMIT = 50


def add_list(sub: SubParsers) -> None:
    p = sub.add_parser("list", help="Open reviews, soonest due first: reference, stage, open step, due date, RAG, "
                                    "run.")
    p.add_argument("--all", action="store_true", help="Include closed reviews.")
    p.add_argument("--limit", type=parse_limit, default=LIST_LIMIT, metavar="N",
                   help=f"Show N reviews (default {LIST_LIMIT}; 0: every one). Reviews that need repair come "
                        "first, then the soonest due.")
    p.set_defaults(handler=cmd_list)


def cmd_list(args: argparse.Namespace, edge: Edge) -> int:
    try:
        judged = reconcile.run_health(edge.app, include_closed=args.all)
        health = {ref: j.health.value + (" !" if j.needs_repair else "") for ref, j in judged.items()}
        stranded = [ref for ref, j in judged.items() if j.needs_repair]
        unreachable = ""
    except Unavailable as exc:
        health, stranded, unreachable = {}, [], str(exc)
    listing = queries.open_reviews(edge.app, include_closed=args.all, limit=args.limit or None, first=stranded)
    if not listing.rows:
        print("No reviews." if args.all else "No open reviews.")
        return 0
    lines = [[r.reference, r.pseudonym, r.stage, r.open_step, r.due, r.rag, health.get(r.reference, "unknown")]
             for r in listing.rows]
    print(table(lines, ["reference", "pseudonym", "stage", "open step", "due", "RAG", "run"]))
    kind = "reviews" if args.all else "open reviews"
    if len(listing.rows) < listing.total:
        print(f"\n{len(listing.rows):,} of {listing.total:,} {kind}: those that need repair, then the soonest due "
              f"(`--limit 0` lists every one).")
    if stranded:
        print(f"\n{len(stranded):,} review(s) marked ! cannot be answered now (see `lcspr status REFERENCE`); "
              f"`{REPAIR}` repairs them.")
    if unreachable:
        print(f"\nRun states unknown: {unreachable}", file=sys.stderr)
    return 0


# ---------------------------------------------------------------- clock


def add_clock(sub: SubParsers) -> None:
    p = sub.add_parser("clock", help="Pause, resume or extend one of a review's clocks.")
    p.add_argument("reference", type=parse_reference)
    p.add_argument("clock", help="The clock's key as `lcspr status` shows it, e.g. rapid_review.")
    p.add_argument("action", choices=["pause", "resume", "extend"])
    p.add_argument("--on", type=parse_date, required=True, help="The date it takes effect (yyyy-mm-dd).")
    p.add_argument("--by", required=True, help="Who decided (name and role).")
    p.add_argument("--reason", default="", help="Why (needed to pause or extend).")
    p.add_argument("--new-due", type=parse_date, help="The agreed new due date (extend).")
    p.set_defaults(handler=cmd_clock)


DONE = {"pause": "paused", "resume": "resumed", "extend": "extended"}


def cmd_clock(args: argparse.Namespace, edge: Edge) -> int:
    adjustment = ClockAdjustment(clock=args.clock, action=args.action, on=args.on, by=args.by, reason=args.reason,
                                 new_due=args.new_due)
    app = edge.app
    review = clocks.adjust_clock(app, args.reference, adjustment)
    c = review.clock(adjustment.clock)
    cal = app.config.policy.calendar
    print(f"{args.reference}: clock {c.key} {DONE[args.action]}; due {c.due(cal).isoformat()}, "
          f"{c.state_on(app.clock.today(), cal).value}.")
    return 0


# ---------------------------------------------------------------- beside the steps: Panel response, actions


def add_panel_response(sub: SubParsers) -> None:
    p = sub.add_parser("panel-response", help="Record the National Panel's response to the rapid review.")
    p.add_argument("reference", type=parse_reference)
    p.add_argument("response", choices=["agreed", "asked_for_more", "national_review"],
                   help="The Panel agreed, asked for more information, or commissioned a national review.")
    p.add_argument("--on", type=parse_date, required=True, help="The date of the Panel's response (yyyy-mm-dd).")
    p.add_argument("--by", required=True, help="Who records it (name and role).")
    p.add_argument("--note", default="", help="What the Panel said or asked for, briefly (no identifying details).")
    p.set_defaults(handler=cmd_panel_response)


def cmd_panel_response(args: argparse.Namespace, edge: Edge) -> int:
    payload = {"response": args.response, "received_on": args.on.isoformat(), "by": args.by, "note": args.note}
    key, _ = side_records.record_panel_response(edge.app, args.reference, payload)
    print(f"{args.reference}: the National Panel's response recorded ({PANEL[args.response]}, {args.on}; {key}).")
    show_in_prefect(edge.app, args.reference)
    return 0


def show_in_prefect(app: App, reference: str) -> None:
    """The review's artifacts updated at once with what was just recorded, or a line saying they were not."""
    why = artifacts.refresh_review(app, reference)
    if why is not None:
        print(f"Recorded in the register; the review's summary in the Prefect UI shows it at its next publish "
              f"(`lcspr publish {reference}`): {why}", file=sys.stderr)


def add_action(sub: SubParsers) -> None:
    p = sub.add_parser(
        "action", help="Record an immediate safety action or obvious improvement (from the rapid review onwards), "
        "or complete any action with its evidence; reminded and escalated like every clock.")
    p.add_argument("reference", type=parse_reference)
    what = p.add_mutually_exclusive_group(required=True)
    what.add_argument("--add", choices=["immediate_safety", "improvement"], metavar="KIND",
                      help="Record a new action of this kind: immediate_safety or improvement.")
    what.add_argument("--complete", type=int, metavar="NUMBER",
                      help="Complete action NUMBER (as `lcspr status` shows).")
    p.add_argument("--action", default="", help="--add: what is to be done (no identifying details).")
    p.add_argument("--owner", default="", help="--add: the agency that owns it, e.g. 'Thames Valley Police'.")
    p.add_argument("--due", type=parse_date, help="--add: when it is due (yyyy-mm-dd).")
    p.add_argument("--evidence", default="", help="--complete: the evidence of completion.")
    p.add_argument("--on", type=parse_date, required=True,
                   help="The date it was agreed (--add) or completed (--complete) (yyyy-mm-dd).")
    p.add_argument("--by", required=True, help="Who records it (name and role).")
    p.set_defaults(handler=cmd_action)


def cmd_action(args: argparse.Namespace, edge: Edge) -> int:
    app = edge.app
    if args.add:
        if not (args.action and args.owner and args.due):
            raise UserError("--add needs --action, --owner and --due.")
        payload = {"kind": args.add, "action": args.action, "owner_agency": args.owner,
                   "due_on": args.due.isoformat(), "agreed_on": args.on.isoformat(), "by": args.by}
        _, review = side_records.record_immediate_action(app, args.reference, payload)
        action = review.actions[-1]
        print(f"{args.reference}: action {action.number} recorded ({ACTION_KIND[action.kind]}, "
              f"{action.owner_agency}, due {action.due_on}); it is reminded and escalated until completed.")
        show_in_prefect(app, args.reference)
        return 0
    if not args.evidence:
        raise UserError("--complete needs --evidence: what shows the action was done.")
    payload = {"action_number": args.complete, "completed_on": args.on.isoformat(), "evidence": args.evidence,
               "by": args.by}
    _, review = side_records.complete_action(app, args.reference, payload)
    left = len(review.open_actions)
    print(f"{args.reference}: action {args.complete} completed on {args.on}; {left} action(s) still open.")
    show_in_prefect(app, args.reference)
    return 0


# ---------------------------------------------------------------- audit


def add_audit(sub: SubParsers) -> None:
    p = sub.add_parser("audit", help="A review's audit trail; --verify checks it (every review's without a reference).")
    p.add_argument("reference", type=parse_reference, nargs="?",
                   help="The review whose trail to list (and check, with --verify).")
    p.add_argument("--verify", action="store_true",
                   help="Check the keyed hash chain, its head, the decisions and the review row against each other "
                        "and a replay; one line per problem, exit 1 if there is any.")
    p.add_argument("--heads", type=Path, metavar="FILE",
                   help="With --verify: also check the trails still hold the heads --export-heads wrote to FILE.")
    p.add_argument("--export-heads", type=Path, metavar="FILE",
                   help="Write every review's newest audit entry (seq and hash) to FILE, to keep apart from the "
                        "register: a later --verify --heads FILE catches a trail cut back or rolled back.")
    p.set_defaults(handler=cmd_audit)


def cmd_audit(args: argparse.Namespace, edge: Edge) -> int:
    if args.export_heads is not None:
        if args.reference or args.verify or args.heads:
            raise UserError("--export-heads writes every review's head; give it alone.")
        return export_heads(edge.app, args.export_heads)
    verify = args.verify or args.heads is not None
    if args.reference is None and not verify:
        raise UserError("give a review reference to list its audit trail, or --verify to check every review's.")
    if args.reference is not None:
        for e in queries.audit_trail(edge.app, args.reference):
            detail = json.dumps(e.detail, sort_keys=True, separators=(", ", ": "))
            print(f"{e.seq:>4}  {e.at.isoformat(timespec='seconds')}  {e.actor:<30}  {e.event:<20}  {detail}")
    if not verify:
        return 0
    heads = read_heads(args.heads) if args.heads is not None else None
    report = queries.verify_audit(edge.app, args.reference, heads)
    for note in report.notes:
        print(f"note: {note}")
    for problem in report.problems:
        print(problem)
    reviews_checked = f"{report.checked} review{'' if report.checked == 1 else 's'} checked"
    if report.intact:
        print(f"{reviews_checked}, all intact.")
        return 0
    print(f"{reviews_checked}: {len(report.problems)} problem{'' if len(report.problems) == 1 else 's'} found.")
    return 1


def export_heads(app: App, path: Path) -> int:
    heads = queries.audit_heads(app)
    document = {"exported_at": app.clock.now().isoformat(),
                "heads": {h.reference: {"seq": h.seq, "hash": h.hash} for h in heads}}
    try:
        path.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    except OSError as exc:
        raise UserError(f"Cannot write {path}: {exc.strerror or exc}.") from None
    print(f"Wrote the audit heads of {len(heads)} reviews to {path}; keep it apart from the register.")
    return 0


def read_heads(path: Path) -> dict[str, AuditHead]:
    """The heads ``--export-heads`` wrote to ``path``."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise UserError(f"Cannot read {path}: {exc.strerror or exc}.") from None
    except ValueError:  # not JSON, or not text
        document = None
    try:
        return {ref: AuditHead(ref, int(h["seq"]), str(h["hash"])) for ref, h in document["heads"].items()}
    except (KeyError, TypeError, ValueError, AttributeError):
        raise UserError(f"{path} is not a heads file written by `lcspr audit --export-heads`.") from None


COMMANDS = [add_refer, add_status, add_decide, add_list, add_clock, add_panel_response, add_action, add_audit]
