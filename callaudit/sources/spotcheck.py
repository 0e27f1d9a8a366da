"""Unannounced spot checks: pick agents at random, the least recently checked first, and listen in on
several at once until the wanted number of live calls has been recorded.

pjsua2 (as built in the wheel) holds at most 4 calls per process, and an abort in one call must not
lose the others, so each check runs in its own process (`listen.check_one`); this process only picks,
starts, collects, and dials the next agent when one turns out not to be on a call.
"""

from __future__ import annotations

import math
import multiprocessing as mp
import os
import queue
import random
import signal
import time
from datetime import datetime, timezone
from typing import Callable

from callaudit.config import Config
from callaudit.errors import CallauditError
from callaudit.sources.listen import COMPLETED, ListenSession, _Stop, check_one, roster, supervisor_name
from callaudit.sources.pbx import SipError, SipSettings
from callaudit.sources.sip import Phone


def pick_order(agents: list[dict], last_checked: dict[str, datetime], rng: random.Random,
               now: datetime | None = None) -> list[dict]:
    """Agents in a random order weighted so that the least recently checked tend to come first:
    weight = hours since the last check (never checked: twice the longest), sampled without replacement."""
    now = now or datetime.now(timezone.utc)
    hours = {a["extension"]: (now - last_checked[a["extension"]]).total_seconds() / 3600
             for a in agents if a["extension"] in last_checked}
    never = 2 * max(hours.values(), default=24.0) + 1.0
    keyed = []
    for a in agents:
        w = max(hours.get(a["extension"], never), 0.01)
        keyed.append((math.log(rng.random() or 1e-12) / w, a))  # Efraimidis–Spirakis: largest u**(1/w) first
    return [a for _, a in sorted(keyed, key=lambda kv: kv[0], reverse=True)]


def _worker(cfg: Config, duration: float | None, started: float, tasks, results) -> None:
    """One listener process: its own pjsua2 endpoint, reused for each agent it is handed."""
    pid = os.getpid()
    try:
        with _Stop() as stop, Phone(SipSettings.from_config(cfg)) as phone:
            results.put(("ready", pid, None, None))
            while not stop.requested:
                try:
                    agent = tasks.get(timeout=0.2)
                except queue.Empty:
                    continue
                if agent is None:
                    break
                results.put(("begin", pid, agent, None))
                session, fatal = check_one(phone, cfg, agent, duration, started, stop)
                results.put(("end", pid, agent, (session, fatal)))
    except CallauditError as e:
        results.put(("error", pid, None, str(e)))
    except Exception as e:  # a bug: one line for the supervisor rather than a silent empty run
        results.put(("error", pid, None, f"listener process failed: {e.__class__.__name__}: {e}"))


def spot_check(cfg: Config, count: int, department: str | None, duration: float | None,
               last_checked: dict[str, datetime], say: Callable[[str], None] = print,
               rng: random.Random | None = None,
               begin: Callable[[ListenSession], Callable[[], int | None]] | None = None) -> list[ListenSession]:
    """Check agents until `count` live calls were recorded or every agent was tried; returns every attempt.
    `begin(attempt)` is called as each spy call is dialled (audit.begin: its row is written at once, so a
    killed spot check stays on record); each returned session carries that row's id.
    Raises SipError (with `.sessions`) when the PBX refuses us (credentials, unreachable)."""
    settings = SipSettings.from_config(cfg)  # a missing [sip] host: one line now, not one per process
    if settings.insecure:
        say(settings.insecure)
    agents = list(roster(cfg).values())
    if not agents:
        raise CallauditError(f"{cfg.source}: [roster] lists no agents: add [[roster.agents]] entries "
                             "with extension, name, department")
    if department:
        agents = [a for a in agents if str(a.get("department", "")).casefold() == department.casefold()]
        if not agents:
            raise CallauditError(f"no agent of department '{department}' in [roster] of {cfg.source}")
    todo = pick_order(agents, last_checked, rng or random.Random())
    ctx = mp.get_context("spawn")  # no fork: pjsua2's threads do not survive one
    tasks, results = ctx.Queue(), ctx.Queue()
    started = time.monotonic()
    # All listeners start (imports, endpoint) before the first call: a start-up on a busy CPU
    # would starve the media clocks of calls already running.
    procs = {}
    for _ in range(min(count, len(todo))):
        p = ctx.Process(target=_worker, args=(cfg, duration, started, tasks, results), daemon=True)
        p.start()
        procs[p.pid] = p
    current: dict[int, tuple[ListenSession, Callable[[], int | None]]] = {}  # pid -> the attempt it is on
    sessions: list[ListenSession] = []
    fatal_error: str | None = None
    ready = given = 0

    def give() -> None:
        nonlocal given
        tasks.put(todo.pop(0))
        given += 1

    def audited() -> int:
        return sum(s.result == COMPLETED for s in sessions)

    with _Stop() as stop:
        while procs:
            if stop.requested or fatal_error:
                for p in procs.values():
                    if p.is_alive():
                        os.kill(p.pid, signal.SIGINT)  # each hangs up its call cleanly and leaves
                stop.requested = False
                todo.clear()
            try:
                kind, pid, agent, payload = results.get(timeout=0.2)
            except queue.Empty:
                for pid, p in list(procs.items()):
                    if not p.is_alive():
                        p.join()
                        del procs[pid]
                        if pid in current:  # it died on a call (an abort in pjsua2): say so, go on
                            attempt, row_id = current.pop(pid)
                            attempt.ended_at, attempt.ended_by = datetime.now(timezone.utc), "failed"
                            attempt.result, attempt.session_id = f"failed: listener exit {p.exitcode}", row_id()
                            sessions.append(attempt)
                            given -= 1
                continue
            if kind == "ready":
                ready += 1
                if ready == len(procs) or ready == min(count, len(todo)):
                    while todo and given < min(count, ready):
                        give()
                        time.sleep(0.15)  # call set-ups one after another, not in one burst
            elif kind == "begin":
                attempt = ListenSession(agent["extension"], agent, "listen", supervisor_name(cfg),
                                        datetime.now(timezone.utc))
                current[pid] = (attempt, begin(attempt) if begin else lambda: None)
            elif kind == "error":
                fatal_error = payload
            elif kind == "end":
                session, fatal = payload
                if pid in current:
                    session.session_id = current.pop(pid)[1]()
                sessions.append(session)
                given -= 1
                say(f"{session.extension} {agent.get('name', '')}: {session.result}"
                    + (f" ({session.duration:.1f} s recorded)" if session.result == COMPLETED
                       else f" ({session.sip_status})" if session.sip_status else ""))
                if fatal:
                    fatal_error = session.error
                elif todo and audited() + given < count:
                    give()
            if given == 0 and (not todo or audited() >= count) and ready:
                for _ in procs:
                    tasks.put(None)
                for p in procs.values():
                    p.join(10)
                break
    if fatal_error:
        err = SipError(fatal_error)
        err.sessions = sessions
        raise err
    return sessions
