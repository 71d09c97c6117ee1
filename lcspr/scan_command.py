"""``lcspr scan``: the identifier scanner as a linter, for a draft before it leaves the business unit.

It runs the same checks as every free-text field of the register (``models.identifiers``) over
text files, and prints one line per possible identifier, as compilers and linters do::

    draft.txt:12:41: name: Jane Smith
    draft.txt:12:77: street address: 14 Mill Lane

The person running it is reading their own file, so the line shows what was found (a short,
bounded excerpt) to let them fix it. Exit codes: 0 nothing found; 2 something found; 1 a file
could not be read (missing, not UTF-8): one line on stderr each, the other files still scanned.
It needs neither the register nor Prefect.
"""

from __future__ import annotations

import argparse
import bisect
import re
import sys

from lcspr.console import Edge, SubParsers, UserError, read_text
from models.identifiers import Finding, scan

# A report is tens of pages; anything far larger is not what this is for (and is read whole).
MAX_BYTES = 20_000_000
EXCERPT_CHARS = 40


def add_scan(sub: SubParsers) -> None:
    p = sub.add_parser(
        "scan", help="Look for names, addresses, dates of birth, NHS numbers and other identifiers in text files "
                     "(e.g. a draft report); exit 2 if any are found.")
    p.add_argument("files", nargs="+", metavar="FILE", help="UTF-8 text file to scan; - reads standard input.")
    p.add_argument("--names-allowed", action="store_true",
                   help="Do not report people's names (e.g. a list of the professionals who took part).")
    p.set_defaults(handler=cmd_scan)


def cmd_scan(args: argparse.Namespace, edge: Edge) -> int:  # edge unused: no register, no Prefect
    scanned = unreadable = with_findings = total = 0
    for name in args.files:
        shown = _shown(name)
        try:
            text = read_text(name, limit=MAX_BYTES, again="scan it again", too_large="scan it in parts")
        except UserError as exc:
            print(f"lcspr scan: {exc}", file=sys.stderr)
            unreadable += 1
            continue
        scanned += 1
        findings = scan(text, names_allowed=args.names_allowed)
        line_starts = [0, *(m.end() for m in re.finditer("\n", text))] if findings else [0]
        for finding in findings:
            line, column = _position(line_starts, finding.start)
            print(f"{shown}:{line}:{column}: {finding.kind}: {excerpt(text, finding)}")
        total += len(findings)
        with_findings += bool(findings)
    if scanned:  # a lone unreadable file has said all there is in its one line
        print(summary(total, with_findings, scanned, unreadable), file=sys.stderr)
    return 1 if unreadable else 2 if total else 0


def excerpt(text: str, finding: Finding) -> str:
    """The finding on one line, at most EXCERPT_CHARS characters."""
    found = " ".join(text[finding.start : finding.end].split())
    found = "".join(ch if ch.isprintable() else "?" for ch in found)
    return found if len(found) <= EXCERPT_CHARS else found[: EXCERPT_CHARS - 1] + "…"


def summary(total: int, with_findings: int, scanned: int, unreadable: int) -> str:
    files = f"{scanned} file" + ("" if scanned == 1 else "s")
    if total:
        line = f"{total} possible identifier{'' if total == 1 else 's'} in {with_findings} of {files}"
    else:
        line = f"No identifiers found in {files}"
    if unreadable:
        line += f"; {unreadable} file{' was' if unreadable == 1 else 's were'} not read"
    return line


def _position(line_starts: list[int], offset: int) -> tuple[int, int]:
    """1-based line and column (in characters) of ``offset``, given where each line starts."""
    line = bisect.bisect_right(line_starts, offset)
    return line, offset - line_starts[line - 1] + 1


def _shown(name: str) -> str:
    """A path as the output shows it: as given, with unprintable characters replaced."""
    return "".join(ch if ch.isprintable() else "?" for ch in name)


COMMANDS = [add_scan]
