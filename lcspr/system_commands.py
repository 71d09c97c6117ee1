"""The subcommands that run the system: up, reconcile, sweep, outbox, workdays."""

from __future__ import annotations

import argparse
import json
import re
import sys

from lcspr.console import Edge, SubParsers, UserError, parse_date, table, working_days
from services import delegations, messages, queries, reconcile

# ---------------------------------------------------------------- up


def add_up(sub: SubParsers) -> None:
    p = sub.add_parser("up", help="Start the Prefect server, worker and local outbox; Ctrl-C stops them.")
    p.add_argument("--port", type=int, help="Prefect server port (default from LCSPR_API_URL: 4200).")
    p.add_argument("--smtp-port", type=int, help="Local outbox SMTP port (default LCSPR_SMTP_PORT: 8025).")
    p.add_argument("--auth", action="store_true",
                   help="API and UI ask for a password, kept with the encryption key in <home>/auth.env "
                        "(written on first use, owner-only; LCSPR_AUTH_FILE); the CLI reads it.")
    p.add_argument("--workers", type=worker_count, default=1, metavar="N",
                   help=f"How many process workers serve the pool, each restarted if it stops (1 to {MAX_WORKERS}; "
                        "default 1). A flow run is claimed by one worker at a time.")
    p.set_defaults(handler=cmd_up)


# Each idle process worker holds about 100 MB; more than this is a typo, not a plan.
MAX_WORKERS = 32


def worker_count(text: str) -> int:
    """``--workers``: a whole number from 1 to `MAX_WORKERS`."""
    if not re.fullmatch(r"[0-9]{1,3}", text.strip()) or not 1 <= int(text) <= MAX_WORKERS:
        raise argparse.ArgumentTypeError(f"give a whole number of workers from 1 to {MAX_WORKERS}")
    return int(text)


def cmd_up(args: argparse.Namespace, edge: Edge) -> int:
    from lcspr.up import up, with_ports

    return up(with_ports(edge.settings, args.port, args.smtp_port), auth=args.auth, workers=args.workers)


# ---------------------------------------------------------------- reconcile


def add_reconcile(sub: SubParsers) -> None:
    p = sub.add_parser(
        "reconcile",
        help="Compare every open review with its flow run and repair the stranded ones (crashed, lost, none).")
    p.add_argument("--dry-run", action="store_true", help="Only show what is found and would be repaired.")
    p.add_argument("--json", action="store_true", help="Machine-readable output.")
    p.set_defaults(handler=cmd_reconcile)


def cmd_reconcile(args: argparse.Namespace, edge: Edge) -> int:
    findings = reconcile.reconcile(edge.app, dry_run=args.dry_run)
    if args.json:
        print(json.dumps([f.as_json() for f in findings], indent=2))
        return 0
    for finding in findings:
        print(finding.line)
    repairs = [f for f in findings if f.judgement.needs_repair]
    verb = "need" if args.dry_run else "needed"
    print(f"{len(findings)} open review(s); {len(repairs)} {verb} repair.")
    return 0


# ---------------------------------------------------------------- sweep and outbox


def add_sweep(sub: SubParsers) -> None:
    p = sub.add_parser(
        "sweep", help="Queue today's reminders and escalations into the outbox, then deliver pending messages.")
    p.add_argument("--as-of", type=parse_date, help="Sweep as if today were DATE (yyyy-mm-dd).")
    p.add_argument("--dry-run", action="store_true", help="List what is due; queue and send nothing.")
    p.set_defaults(handler=cmd_sweep)


def cmd_sweep(args: argparse.Namespace, edge: Edge) -> int:
    report = messages.sweep(edge.app, args.as_of, args.dry_run)
    if not report.working_day:
        print(f"{report.today} is not a working day: no reminders are due.")
    for key in report.due:
        print(("would queue " if args.dry_run else "due ") + key)
    if not args.dry_run:
        digests = f"{len(report.digests)} daily digest{'' if len(report.digests) == 1 else 's'} made, " \
            if report.digests else ""
        print(f"{report.today}: {len(report.due)} due, {len(report.queued)} newly queued, {digests}"
              f"{len(report.delivery.sent)} sent, {len(report.delivery.failed)} failed (kept pending, retried)")
        for key, error in report.delivery.failed.items():
            print(f"  not delivered: {key}: {error}", file=sys.stderr)
    return 0


def add_outbox(sub: SubParsers) -> None:
    p = sub.add_parser("outbox", help="Messages in the outbox: pending ones with their last error, and reminders held "
                                      "for a daily digest.")
    p.add_argument("--all", action="store_true", help="Include messages already sent (with where each went when not "
                                                      "to its role: a delegate, or the fallback role).")
    action = p.add_mutually_exclusive_group()
    action.add_argument("--retry-now", action="store_true", help="Make every pending message due now, then deliver.")
    action.add_argument("--send", action="store_true",
                        help="Send the pending messages that are due, as the review runs and the lcspr-deliver-outbox "
                             "deployment do, and say what was sent.")
    p.add_argument("--reference", help="With --send: only this review's messages.")
    p.add_argument("--json", action="store_true", help="Machine-readable output.")
    p.set_defaults(handler=cmd_outbox)


def cmd_outbox(args: argparse.Namespace, edge: Edge) -> int:
    if args.reference and not args.send:
        raise UserError("--reference goes with --send.")
    if args.send:
        report = messages.deliver(edge.app, args.reference)
        if args.json:
            print(json.dumps({"sent": report.sent, "failed": report.failed}))
            return 0
        print(f"{len(report.sent)} sent, {len(report.failed)} failed (kept pending, retried)")
        for key, error in report.failed.items():
            print(f"  not delivered: {key}: {error}", file=sys.stderr)
        return 0
    if args.retry_now:
        _, report = messages.retry_now(edge.app)
        print(f"{len(report.sent)} sent, {len(report.failed)} still failing")
    rows = queries.outbox(edge.app) if args.all else queries.outbox(edge.app, "pending", "held")
    if args.json:
        print(json.dumps([{"key": m.key, "kind": m.kind, "role": m.role, "status": m.status,
                           "attempts": m.attempts, "last_error": m.last_error, "subject": m.subject,
                           "next_attempt_at": m.next_attempt_at.isoformat(),
                           "sent_at": m.sent_at.isoformat() if m.sent_at else None,
                           "sent_to": m.sent_to, "digest_key": m.digest_key} for m in rows], indent=2))
        return 0
    if not rows:
        print("The outbox is empty." if args.all else "Nothing pending: every message has been sent.")
        return 0
    print(table([(m.status, str(m.attempts), m.role, m.subject, _routed(m.sent_to, m.digest_key), m.last_error[:80])
                 for m in rows], ("status", "attempts", "role", "subject", "sent to / via", "last error")))
    return 0


def _routed(sent_to: str, digest_key: str) -> str:
    """Where a message went, or goes, when not alone to its role's own addresses."""
    parts = [f"in {digest_key}" if digest_key else "", f"to {sent_to}" if sent_to else ""]
    return ", ".join(p for p in parts if p)


# ---------------------------------------------------------------- delegations


def add_delegate(sub: SubParsers) -> None:
    p = sub.add_parser(
        "delegate", help="Send a role's messages to someone else from one day to another (leave, handover); "
                         "--list shows them, --cancel ends one.")
    p.add_argument("role", nargs="?", help="The role whose messages to send elsewhere (e.g. subgroup_chair).")
    p.add_argument("--to", help="The delegate's email address.")
    p.add_argument("--from", dest="starts_on", type=parse_date, metavar="DATE", help="The first day (yyyy-mm-dd).")
    p.add_argument("--until", dest="ends_on", type=parse_date, metavar="DATE",
                   help="The last day, included (yyyy-mm-dd).")
    p.add_argument("--reason", help="Why (e.g. annual leave, new manager starting).")
    p.add_argument("--by", help="Who records (or cancels) it.")
    p.add_argument("--list", action="store_true", help="The delegations in force or to come.")
    p.add_argument("--all", action="store_true", help="With --list: every delegation recorded, cancelled ones too.")
    p.add_argument("--cancel", type=int, metavar="ID", help="Cancel delegation ID (the role's own addresses again).")
    p.set_defaults(handler=cmd_delegate)


def cmd_delegate(args: argparse.Namespace, edge: Edge) -> int:
    if args.list:
        found = delegations.delegations(edge.app, include_past=args.all)
        if not found:
            print("No delegations." if args.all else "No delegation in force or to come.")
            return 0
        print(table([(str(d.id), d.role, d.delegate, d.starts_on.isoformat(), d.ends_on.isoformat(), d.reason[:40],
                      d.recorded_by, f"cancelled by {d.cancelled_by}" if d.cancelled_by else "")
                     for d in found], ("id", "role", "delegate", "from", "until", "reason", "recorded by", "")))
        return 0
    if args.cancel is not None:
        if args.by is None:
            raise UserError("--cancel needs --by: who cancels it.")
        cancelled = delegations.cancel(edge.app, args.cancel, args.by)
        print(f"Delegation {cancelled.id} cancelled: {cancelled.role}'s messages go to its own addresses again.")
        return 0
    missing = [flag for flag, value in (("ROLE", args.role), ("--to", args.to), ("--from", args.starts_on),
                                        ("--until", args.ends_on), ("--reason", args.reason), ("--by", args.by))
               if value is None]
    if missing:
        raise UserError(f"A delegation needs {', '.join(missing)} (or use --list, or --cancel ID --by NAME).")
    made = delegations.delegate(edge.app, args.role, args.to, args.starts_on, args.ends_on, args.reason, args.by)
    print(f"Delegation {made.id}: {made.role}'s messages go to {made.delegate} from {made.period} (both days "
          "included); messages already sent are not sent again.")
    return 0


# ---------------------------------------------------------------- workdays


def add_workdays(sub: SubParsers) -> None:
    p = sub.add_parser("workdays", help="Working-day arithmetic with the partnership's calendar.")
    wsub = p.add_subparsers(dest="direction", required=True)
    for name, text in (("add", "The Nth working day after DATE (day 0 is DATE)."),
                       ("before", "The Nth working day before DATE.")):
        w = wsub.add_parser(name, help=text)
        w.add_argument("date", type=parse_date)
        w.add_argument("n", type=working_days, help="0 to 2000 working days.")
    p.set_defaults(handler=cmd_workdays)


def cmd_workdays(args: argparse.Namespace, edge: Edge) -> int:
    cal = edge.settings.calendar()
    print((cal.add(args.date, args.n) if args.direction == "add" else cal.before(args.date, args.n)).isoformat())
    return 0


COMMANDS = [add_up, add_reconcile, add_sweep, add_outbox, add_delegate, add_workdays]
