"""Who is running a run, and whether they still are: how a killed process's run is told apart.

A run row is written as `running` before its calls, stamped with its owner (host, pid and the
process's start time, so a recycled pid is not mistaken for the owner) and a heartbeat that every
saved result refreshes. A `running` run whose owner is gone was cut short (a kill, a crash, a power
cut): the store shows it as `interrupted`, keeping the results that had landed. On this host the
owner's death is certain at once; a run owned by another host (a team store on PostgreSQL) counts
as gone only once its heartbeat is older than STALE_AFTER.
"""

from __future__ import annotations

import datetime as dt
import functools
import os
import socket

import psutil

STALE_AFTER = dt.timedelta(hours=1)  # a foreign host's run with no result saved for this long is gone


def _start_time(pid: int) -> float | None:
    """When a live process started; None when there is no such process (or only its zombie)."""
    try:
        proc = psutil.Process(pid)
        if proc.status() == psutil.STATUS_ZOMBIE:
            return None
        return proc.create_time()
    except (psutil.Error, OSError):
        return None


@functools.cache
def _host() -> str:
    return socket.gethostname()


def current() -> str:
    """This process as an owner string: ``host|pid|start time`` (pid and start time change after a fork).

    >>> current().count("|")
    2
    """
    pid = os.getpid()
    started = _start_time(pid)
    return f"{_host()}|{pid}|{started:.2f}" if started is not None else f"{_host()}|{pid}|"


def is_gone(owner: str | None, heartbeat_at: dt.datetime | None, now: dt.datetime) -> bool:
    """Whether the process that owns a `running` run can no longer finish it.

    >>> now = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    >>> is_gone(current(), now, now)
    False
    >>> is_gone(f"{_host()}|999999999|1.00", now, now)
    True
    >>> is_gone("elsewhere|1|1.00", now - dt.timedelta(minutes=5), now)
    False
    >>> is_gone("elsewhere|1|1.00", now - dt.timedelta(hours=2), now)
    True
    """
    if owner:
        host, _, rest = owner.partition("|")
        pid_text, _, started_text = rest.partition("|")
        if host == _host() and pid_text.isdigit():
            started = _start_time(int(pid_text))
            if started is None:
                return True
            return bool(started_text) and abs(started - float(started_text)) > 1.0  # the pid was reused
    if heartbeat_at is None:
        return True  # a run written before owners were recorded, never finished
    if heartbeat_at.tzinfo is None:
        heartbeat_at = heartbeat_at.replace(tzinfo=dt.UTC)
    return now - heartbeat_at > STALE_AFTER
