"""How well, and how fast, the identifier scanner works on the labelled corpus.

    .venv/bin/python bench/identifier_scanner.py [--repeats N]

Reads tests/data/identifier_corpus.jsonl (one sentence per line, with the kinds of identifier it
holds; [] for clean prose) and prints Markdown tables:

* per kind: how many sentences hold that kind, the share of them in which the scanner found that
  kind ("right kind") and in which it found anything ("flagged"), and how many clean sentences it
  reported that kind in;
* overall: recall (every labelled kind found; anything found), the false-alarm rate (clean
  sentences with any finding);
* cost: importing ``models.identifiers`` and the first scan (which loads the name lists), each in a
  fresh interpreter, median of N runs, with the resident memory each adds (Linux /proc); and the
  time to scan one sentence (each sentence's median over N repeats; the median and the 95th
  percentile over sentences).

docs/performance.md ("Identifier scanner") records a run.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "tests" / "data" / "identifier_corpus.jsonl"
sys.path.insert(0, str(ROOT))

from models.identifiers import KINDS, scan  # noqa: E402 - after the path is set, for a plain `python bench/...`

COLD = """
import time


def rss_kb():  # resident memory now (ru_maxrss would carry over the parent's peak across fork)
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))


before = rss_kb()
started = time.perf_counter()
import models.identifiers as identifiers
imported = time.perf_counter()
after_import = rss_kb()
identifiers.scan("Jane Smith was seen at 14 Mill Lane on 07700 900123.")
scanned = time.perf_counter()
print(imported - started, scanned - imported, after_import - before, rss_kb() - after_import)
"""


def load() -> list[dict[str, object]]:
    return [json.loads(line) for line in CORPUS.read_text(encoding="utf-8").splitlines() if line.strip()]


def quality(rows: list[dict[str, object]]) -> tuple[list[list[str]], list[list[str]]]:
    found = [{f.kind for f in scan(str(row["text"]))} for row in rows]
    labelled = [set(row["kinds"]) for row in rows]  # type: ignore[call-overload]
    clean = [k for k, want in zip(found, labelled, strict=True) if not want]
    per_kind = []
    for kind in KINDS:
        holding = [got for got, want in zip(found, labelled, strict=True) if kind in want]
        if not holding:
            continue
        per_kind.append([kind, str(len(holding)), f"{sum(kind in got for got in holding) / len(holding):.2f}",
                         f"{sum(bool(got) for got in holding) / len(holding):.2f}",
                         str(sum(kind in got for got in clean))])
    identifying = [(got, want) for got, want in zip(found, labelled, strict=True) if want]
    overall = [
        ["sentences", f"{len(rows)} ({len(identifying)} with identifiers, {len(clean)} clean)"],
        ["recall, right kinds (every labelled kind found)",
         f"{sum(want <= got for got, want in identifying) / len(identifying):.3f}"],
        ["recall, flagged at all", f"{sum(bool(got) for got, _ in identifying) / len(identifying):.3f}"],
        ["false-alarm rate (clean sentences flagged)",
         f"{sum(bool(got) for got in clean) / len(clean):.3f} ({sum(bool(got) for got in clean)} of {len(clean)})"],
    ]
    return per_kind, overall


def cost(rows: list[dict[str, object]], repeats: int) -> list[list[str]]:
    cold = []
    for _ in range(repeats):
        done = subprocess.run([sys.executable, "-c", COLD], cwd=ROOT, capture_output=True, text=True, check=True)
        cold.append([float(v) for v in done.stdout.split()])
    import_s, first_s, import_kb, scan_kb = (statistics.median(c[i] for c in cold) for i in range(4))
    scan(str(rows[0]["text"]))  # name lists loaded, as in a running worker
    per_sentence = []
    for row in rows:
        times = []
        for _ in range(repeats):
            started = time.perf_counter()
            scan(str(row["text"]))
            times.append(time.perf_counter() - started)
        per_sentence.append(statistics.median(times))
    per_sentence.sort()
    p95 = per_sentence[int(0.95 * (len(per_sentence) - 1))]
    return [
        ["import models.identifiers (fresh interpreter)",
         f"{import_s * 1000:.0f} ms, resident memory +{import_kb / 1024:.1f} MB"],
        ["first scan (loads phone metadata and Faker's name lists)",
         f"{first_s * 1000:.0f} ms, resident memory +{scan_kb / 1024:.1f} MB"],
        ["scan one sentence, median", f"{statistics.median(per_sentence) * 1e6:.0f} µs"],
        ["scan one sentence, 95th percentile", f"{p95 * 1e6:.0f} µs"],
    ]


def markdown(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    return "\n".join(lines + ["| " + " | ".join(r) + " |" for r in rows])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7, help="runs per measurement (default 7)")
    args = parser.parse_args()
    rows = load()
    per_kind, overall = quality(rows)
    print(f"Machine: {platform.machine()}, {platform.processor() or platform.platform()}, "
          f"Python {platform.python_version()}; repeats: {args.repeats}\n")
    print(markdown(["kind", "sentences", "right kind", "flagged", "reported in clean sentences"], per_kind))
    print()
    print(markdown(["overall", "value"], overall))
    print()
    print(markdown(["cost", "value"], cost(rows, args.repeats)))


if __name__ == "__main__":
    main()
