"""`lcspr up`'s Supervisor, driven with real short-lived Python children and small backoffs."""

from __future__ import annotations

import contextlib
import itertools
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from lcspr.up import Supervisor, alive, descendants, set_child_subreaper

pytestmark = pytest.mark.timeout(60)

SLEEPER = "import time; time.sleep(60)"
# Starts a grandchild in a session of its own (as a process worker may start a flow run),
# appends its pid to the file named by argv[1], then sleeps.
SPAWNER = """
import subprocess, sys, time
grandchild = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"], start_new_session=True)
with open(sys.argv[1], "a") as pids:
    pids.write(f"{grandchild.pid}\\n")
time.sleep(60)
"""
RESTART = re.compile(r"restarting in ([0-9.]+) s \(restart (\d+)\)")
on_linux = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux /proc")

MakeSupervisor = Callable[..., Supervisor]


@pytest.fixture
def strays() -> Iterator[list[int]]:
    """Pids a test saw outside the supervisor's children; killed (and reaped if ours) afterwards."""
    pids: list[int] = []
    yield pids
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)
    time.sleep(0.1)
    for pid in pids:
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)


@pytest.fixture
def make_supervisor(tmp_path: Path, strays: list[int]) -> Iterator[MakeSupervisor]:
    """Supervisors logging to tmp_path with small backoffs; every one is stopped afterwards."""
    made: list[Supervisor] = []

    def make(**options: Any) -> Supervisor:
        values: dict[str, Any] = {
            "backoff_base": 0.05, "backoff_cap": 0.2, "max_quick_failures": 5, "quick_run_seconds": 5.0,
        }
        values.update(options)
        supervisor = Supervisor(env=dict(os.environ), logs=tmp_path, **values)
        made.append(supervisor)
        return supervisor

    yield make
    for supervisor in made:
        strays.extend(c.process.pid for c in supervisor.children)
        supervisor.stop_all()


@pytest.fixture
def subreaper() -> Iterator[None]:
    """This test process as the subreaper `lcspr up` makes itself, for one test only."""
    if not set_child_subreaper(True):
        pytest.skip("prctl(PR_SET_CHILD_SUBREAPER) is not available here")
    try:
        yield
    finally:
        set_child_subreaper(False)


def tick_until(supervisor: Supervisor, done: Callable[[], bool], timeout: float = 10.0) -> str | None:
    """Drive the supervisor as `up()` does, faster, until ``done()`` or it gives up; the reason."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        reason = supervisor.supervise_once(time.monotonic())
        if reason is not None or done():
            return reason
        time.sleep(0.01)
    raise AssertionError(f"not done within {timeout} s")


def wait_for(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"not done within {timeout} s"
        time.sleep(0.01)


def pids_in(path: Path, count: int) -> list[int]:
    """The first ``count`` pids the SPAWNER children wrote to ``path``, waiting for them."""
    def ready() -> bool:
        return path.exists() and len([line for line in path.read_text().splitlines() if line.strip()]) >= count

    wait_for(ready)
    return [int(line) for line in path.read_text().split()][:count]


def parent_and_state(pid: int) -> tuple[int, str]:
    state, ppid = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[:2]
    return int(ppid), state


def test_a_child_killed_with_sigkill_is_restarted_with_a_new_pid_and_the_restart_is_logged(
    make_supervisor: MakeSupervisor, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A SIGKILLed child comes back after the backoff with a new pid, noted on stdout and in its log."""
    supervisor = make_supervisor(backoff_base=0.2)
    child = supervisor.start("worker", [sys.executable, "-c", SLEEPER])
    first = child.process.pid
    assert supervisor.supervise_once(time.monotonic()) is None

    killed = time.monotonic()
    os.kill(first, signal.SIGKILL)
    assert tick_until(supervisor, lambda: child.process.pid != first, timeout=5) is None
    waited = time.monotonic() - killed

    assert supervisor.children == [child]
    assert alive(child.process.pid) and child.process.poll() is None
    assert not alive(first)
    assert waited >= 0.2
    line = "lcspr up: worker stopped unexpectedly (exit -9); restarting in 0.2 s (restart 1)"
    log = (tmp_path / "worker.log").read_text()
    assert line in log
    # The restarted process appends to the same log, under a header of its own.
    assert log.count("\n==== ") == 2
    assert log.index(line) < log.rindex("\n==== ")
    assert line in capsys.readouterr().out


def test_a_child_that_always_exits_at_once_is_restarted_with_growing_delays_then_given_up(
    make_supervisor: MakeSupervisor, tmp_path: Path
) -> None:
    """Quick failures back off 0.05, 0.1, 0.2, 0.2 s (capped), and the fifth makes the supervisor give up."""
    supervisor = make_supervisor(backoff_base=0.05, backoff_cap=0.2, max_quick_failures=5)
    child = supervisor.start("outbox", [sys.executable, "-c", "print('boom: no config'); raise SystemExit(3)"])
    starts = [(time.monotonic(), child.process.pid)]

    def note_restart() -> bool:
        if child.process.pid != starts[-1][1]:
            starts.append((time.monotonic(), child.process.pid))
        return False

    reason = tick_until(supervisor, note_restart, timeout=10)

    assert reason is not None
    assert "outbox stopped 5 times in a row" in reason
    assert "exit 3" in reason
    assert "boom: no config" in reason
    assert str(tmp_path / "outbox.log") in reason
    log = (tmp_path / "outbox.log").read_text()
    assert RESTART.findall(log) == [("0.05", "1"), ("0.1", "2"), ("0.2", "3"), ("0.2", "4")]
    assert len({pid for _, pid in starts}) == 5
    gaps = [later - earlier for (earlier, _), (later, _) in itertools.pairwise(starts)]
    for gap, delay in zip(gaps, [0.05, 0.1, 0.2, 0.2], strict=True):
        assert gap >= delay
    # Given up for good: no more restarts, the same reason again.
    time.sleep(0.3)
    assert supervisor.supervise_once(time.monotonic()) == reason
    assert child.process.pid == starts[-1][1]
    assert len(RESTART.findall((tmp_path / "outbox.log").read_text())) == 4


def test_a_run_longer_than_the_threshold_resets_the_quick_failure_count(
    make_supervisor: MakeSupervisor, tmp_path: Path
) -> None:
    """Two quick failures, one long run, then three quick failures: the give-up comes on the sixth run."""
    runs = tmp_path / "runs"
    script = (
        "import pathlib, sys, time\n"
        "p = pathlib.Path(sys.argv[1])\n"
        "n = int(p.read_text()) + 1 if p.exists() else 1\n"
        "p.write_text(str(n))\n"
        "if n == 3:\n"
        "    time.sleep(2.0)\n"
        "raise SystemExit(4)\n"
    )
    supervisor = make_supervisor(backoff_base=0.05, backoff_cap=1.0, max_quick_failures=3, quick_run_seconds=1.5)
    supervisor.start("server", [sys.executable, "-c", script, str(runs)])

    reason = tick_until(supervisor, lambda: False, timeout=15)

    assert reason is not None and "server stopped 3 times in a row" in reason and "exit 4" in reason
    # Without the reset the third failure in a row (the long run) would have been the last.
    assert runs.read_text() == "6"
    # The backoff starts again after the long run too.
    delays = [delay for delay, _ in RESTART.findall((tmp_path / "server.log").read_text())]
    assert delays == ["0.05", "0.1", "0.05", "0.05", "0.1"]


@on_linux
@pytest.mark.usefixtures("subreaper")
def test_stop_all_ends_a_grandchild_in_its_own_session_orphaned_by_a_sigkilled_child(
    make_supervisor: MakeSupervisor, tmp_path: Path, strays: list[int]
) -> None:
    """An orphaned flow-run-like grandchild stays below the subreaper and stop_all ends and reaps it,
    while a process of this one that the supervisor never started is left alone."""
    bystander = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    strays.append(bystander.pid)
    pidfile = tmp_path / "grandchildren"
    supervisor = make_supervisor()
    child = supervisor.start("worker", [sys.executable, "-c", SPAWNER, str(pidfile)])
    (orphan,) = pids_in(pidfile, 1)
    strays.append(orphan)
    first = child.process.pid
    # The main loop ticks every 0.5 s; a tick notes the grandchild while it is still below its parent.
    assert supervisor.supervise_once(time.monotonic()) is None
    assert orphan in supervisor.family

    os.kill(first, signal.SIGKILL)
    wait_for(lambda: parent_and_state(orphan)[0] == os.getpid())
    assert orphan in descendants(os.getpid())
    assert orphan not in descendants(first)
    # The worker comes back and starts another flow run of its own.
    tick_until(supervisor, lambda: child.process.pid != first)
    _, second = pids_in(pidfile, 2)
    strays.append(second)
    current = child.process.pid

    supervisor.stop_all()

    for pid in (orphan, second, current):
        assert not alive(pid), pid
    assert alive(bystander.pid), "stop_all ended a process it never started"
    bystander.kill()
    bystander.wait()
    # Reaped too, not left a zombie child of this process.
    with pytest.raises(ChildProcessError):
        os.waitpid(orphan, os.WNOHANG)
    assert "(exit -9)" in (tmp_path / "worker.log").read_text()


@on_linux
@pytest.mark.usefixtures("subreaper")
def test_an_orphan_that_exits_is_reaped_by_the_next_tick_without_taking_the_childs_exit_status(
    make_supervisor: MakeSupervisor, tmp_path: Path, strays: list[int]
) -> None:
    """A zombie orphan is reaped by supervise_once while the dead child's exit code stays for its Popen."""
    pidfile = tmp_path / "grandchildren"
    supervisor = make_supervisor(backoff_base=5.0, backoff_cap=5.0)
    child = supervisor.start("worker", [sys.executable, "-c", SPAWNER, str(pidfile)])
    (orphan,) = pids_in(pidfile, 1)
    strays.append(orphan)
    assert supervisor.supervise_once(time.monotonic()) is None

    os.kill(child.process.pid, signal.SIGKILL)
    wait_for(lambda: parent_and_state(orphan)[0] == os.getpid())
    os.kill(orphan, signal.SIGKILL)
    wait_for(lambda: parent_and_state(orphan)[1] == "Z" and parent_and_state(child.process.pid)[1] == "Z")

    assert supervisor.supervise_once(time.monotonic()) is None

    assert not Path(f"/proc/{orphan}").exists()
    assert child.process.returncode == -signal.SIGKILL
    assert "worker stopped unexpectedly (exit -9); restarting in 5 s (restart 1)" in (
        tmp_path / "worker.log"
    ).read_text()


def test_several_workers_are_each_restarted_on_their_own_and_a_child_keeps_its_own_environment(
    make_supervisor: MakeSupervisor, tmp_path: Path
) -> None:
    """As `lcspr up --workers 2` starts them: killing one restarts that one only; a child started with an
    environment of its own (the server's) gets it again when restarted."""
    supervisor = make_supervisor(backoff_base=0.05)
    one = supervisor.start("worker-1", [sys.executable, "-c", SLEEPER])
    two = supervisor.start("worker-2", [sys.executable, "-c", SLEEPER])
    shows = "import os, time; print('ROLE=' + os.environ.get('LCSPR_TEST_ROLE', '-'), flush=True); time.sleep(60)"
    server = supervisor.start("server", [sys.executable, "-c", shows], env={**os.environ, "LCSPR_TEST_ROLE": "server"})
    first_one, first_two, first_server = one.process.pid, two.process.pid, server.process.pid

    os.kill(first_two, signal.SIGKILL)
    assert tick_until(supervisor, lambda: two.process.pid != first_two, timeout=5) is None
    assert one.process.pid == first_one and alive(first_one)
    assert "worker-2 stopped unexpectedly" in (tmp_path / "worker-2.log").read_text()
    assert "stopped" not in (tmp_path / "worker-1.log").read_text()

    wait_for(lambda: "ROLE=server" in (tmp_path / "server.log").read_text())
    os.kill(first_server, signal.SIGKILL)
    assert tick_until(supervisor, lambda: server.process.pid != first_server, timeout=5) is None
    wait_for(lambda: (tmp_path / "server.log").read_text().count("ROLE=server") == 2)
    assert "ROLE=-" not in (tmp_path / "server.log").read_text()
