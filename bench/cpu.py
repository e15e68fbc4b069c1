"""Processor time per component of a benchmark's layout, read from /proc, so a figure says what it cost.

On a shared 2-core machine the end-to-end rate moves with everything else that runs; the processor
seconds each component spent on the measured work do not (much). ``CpuMeter`` samples, at the start
and end of the timed window:

* each process the stack started, with every process of its session (``start_new_session``: a
  worker's threads and any forked child, uvicorn's workers), children that ended included through
  their parents' ``cutime``/``cstime``;
* the PostgreSQL backends serving the benchmark's own database (``postgres: USER DB …``): other
  databases' backends are not counted;
* the Redis server (``redis-server``) as a whole: it is shared with anything else using it, so its
  figure is an upper bound and is labelled so.

``report(messages, seconds)`` gives, per component, processor seconds, milliseconds per message and
the share of the machine's processor capacity used over the window, and the bound those costs put
on the rate: ``cores / (processor seconds per message)`` — the rate at which the layout's work for
one message would fill every core of this machine.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

TICKS = os.sysconf("SC_CLK_TCK")
PROC = Path("/proc")


def _stat(pid: int) -> list[str] | None:
    try:
        raw = (PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    # the command name (field 2) may hold spaces: split after its closing parenthesis
    return raw[raw.rindex(")") + 2 :].split()


def _cpu_of(fields: list[str]) -> float:
    """utime + stime + cutime + cstime (fields 14–17 of /proc/PID/stat) in seconds."""
    return sum(int(v) for v in fields[11:15]) / TICKS


def _cmdline(pid: int) -> str:
    try:
        return (PROC / str(pid) / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return ""


def _pids() -> Iterable[int]:
    for entry in PROC.iterdir():
        if entry.name.isdigit():
            yield int(entry.name)

#: the benchmark database's backends, as :func:`snapshot` names them
DATABASE_CPU = "postgresql (bench database)"


def snapshot(sessions: Mapping[str, int], database: str | None) -> dict[str, float]:
    """Processor seconds so far: per named session id, the benchmark database's backends (none when
    ``database`` is ``None``: a layout without PostgreSQL, such as ``bench/floor.py``), Redis."""
    totals = dict.fromkeys(sessions, 0.0)
    if database is not None:
        totals[DATABASE_CPU] = 0.0
    totals["redis-server (shared)"] = 0.0
    by_session = {sid: name for name, sid in sessions.items()}
    for pid in _pids():
        fields = _stat(pid)
        if fields is None:
            continue
        session = int(fields[3])  # field 6: session id
        if session in by_session:
            totals[by_session[session]] += _cpu_of(fields)
            continue
        command = _cmdline(pid)
        if database is not None and command.startswith("postgres:") and f" {database} " in f"{command} ":
            totals[DATABASE_CPU] += _cpu_of(fields)
        elif command.startswith("redis-server") or command.startswith("/usr/bin/redis-server"):
            totals["redis-server (shared)"] += _cpu_of(fields)
    return totals


@dataclass
class CpuMeter:
    """Start/stop processor-time readings of a running layout (see the module docstring)."""

    sessions: dict[str, int]
    database: str | None
    before: dict[str, float] = field(default_factory=dict)
    after: dict[str, float] = field(default_factory=dict)

    def start(self) -> None:
        self.before = snapshot(self.sessions, self.database)

    def stop(self) -> None:
        self.after = snapshot(self.sessions, self.database)

    def spent(self) -> dict[str, float]:
        """Processor seconds per component between start and stop (a backend that ended is not counted)."""
        return {name: max(0.0, self.after.get(name, 0.0) - self.before.get(name, 0.0)) for name in self.after}

    def report(self, messages: int, seconds: float) -> list[str]:
        """Lines to print: per component, then the total and the rate bound it implies on this machine."""
        cores = os.cpu_count() or 1
        spent = self.spent()
        lines = []
        for name, cpu in sorted(spent.items(), key=lambda item: -item[1]):
            lines.append(f"  {name:<28} {cpu:8.1f} CPU-s  {1000 * cpu / max(messages, 1):6.2f} ms/msg  "
                         f"{100 * cpu / (seconds * cores):5.1f} % of the machine")  # fmt: skip
        total = sum(spent.values())
        relais = sum(cpu for name, cpu in spent.items() if name == "api" or name.startswith("worker"))
        per_message = total / max(messages, 1)
        lines.append(f"  {'all of the above':<28} {total:8.1f} CPU-s  {1000 * per_message:6.2f} ms/msg  "
                     f"{100 * total / (seconds * cores):5.1f} % of the machine")  # fmt: skip
        if per_message > 0 and relais > 0:
            alone = cores * messages / relais
            lines.append(f"  bound from these costs: {cores} cores / {1000 * per_message:.2f} ms per message = "
                         f"{cores / per_message:,.0f} msg/s; Relais's own processes (API + workers) "
                         f"{1000 * relais / max(messages, 1):.2f} ms/msg = {alone:,.0f} msg/s "
                         f"if they had the machine to themselves")  # fmt: skip
        return lines


@dataclass(frozen=True)
class Timing:
    """One timed step of an in-process bench: wall seconds, this process's processor seconds, the
    benchmark database's backends' (``None`` without one: SQLite)."""

    seconds: float
    process_cpu: float
    database_cpu: float | None

    def line(self, label: str, count: int, unit: str) -> str:
        """``count`` items of ``unit`` per second, and the processor ms each cost here and in PostgreSQL."""
        database = ("" if self.database_cpu is None
                    else f"   postgresql {self.database_cpu / count * 1000:6.3f} ms/{unit}")
        return (f"{label:<6} {self.seconds:7.1f} s {count / self.seconds:>9,.0f} {unit}s/s   "
                f"process {self.process_cpu / count * 1000:6.3f} ms/{unit}{database}")


def timed(database: str | None, step: Callable[[], None]) -> Timing:
    """Run ``step`` and measure it (``database``: the bench database's name, or ``None``)."""
    before_db = snapshot({}, database).get(DATABASE_CPU, 0.0)
    before_cpu, before = time.process_time(), time.perf_counter()
    step()
    seconds, cpu = time.perf_counter() - before, time.process_time() - before_cpu
    after_db = snapshot({}, database).get(DATABASE_CPU, 0.0)
    return Timing(seconds, cpu, None if database is None else after_db - before_db)
