"""The benchmarks fail on log lines of trouble: a false alarm fails CI, a missed one hides a 503."""

from pathlib import Path

from bench.common import logs_with_trouble


def test_trouble_is_an_http_503_a_traceback_or_a_lock_never_a_timestamp(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "worker-1.log").write_text(
        "16:21:46.503 | INFO    | Task run 'Register the referral' - Finished in state Completed()\n"
        "took 0.503 s, 503 reviews, id 1503\n"
        'INFO:     127.0.0.1:5000 - "POST /api/flow_runs/filter HTTP/1.1" 503\n'
        "httpx.HTTPStatusError: Server error '503 Service Unavailable' for url\n"
        "Traceback (most recent call last):\n"
        "sqlite3.OperationalError: database is locked\n"
    )
    (tmp_path / "up.out").write_text("all well at 12:00:00.503\n")
    found = logs_with_trouble(tmp_path)
    assert [line.split(":", 2)[1] for line in found] == ["3", "4", "5", "6"]
