"""The requests' part of the HR report: commitments not kept (late or overdue, charged to the agent who made
them, each with its evidence chain and the commitment's clip), the ones a person must listen to before
anyone is charged, and the service problems customers reported.

Gathered here from the store, apart from reports/hrdata.py, and plugged into the report by three small
hooks: `apply_to_agents` adds the charged commitments to each agent's violations and to the [policy]
ladder's count; `html_section` is one more HTML block for html_report.generate(blocks=...); `PdfSection`
gives reports.files.to_pdf the lines of each agent's page and an appendix.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from jinja2 import Environment
from sqlalchemy.orm import Session

from callaudit.config import Config
from callaudit.periods import Period
from callaudit.reports.request_views import RESOLVED, Shown, problem_row, request_json
from callaudit.store import requests as rq_store
from callaudit.store.schema import CallRow

CLIP_BEFORE, CLIP_AFTER = 1.0, 9.0


@dataclass
class RequestsReport:
    period: Period
    shown: Shown
    grace_minutes: float
    charged: list[dict] = field(default_factory=list)    # late/overdue, failed: charged to the agent
    doubtful: list[dict] = field(default_factory=list)   # late/overdue but not evaluated: listen first
    window: list[dict] = field(default_factory=list)     # charged within the ladder's window (for offences)
    problems: list[dict] = field(default_factory=list)   # service problems reported in the period
    as_of: str | None = None
    audio: dict[str, tuple[str, str, list]] = field(default_factory=dict)  # call -> (file, sha256, words)

    def for_agent(self, extension: str) -> list[dict]:
        return [r for r in self.charged if r["charged"] == extension]


def _charged(j: dict) -> bool:
    return bool(j["finding"]) and j["finding"]["passed"] is False


def _doubtful(j: dict) -> bool:
    return bool(j["finding"]) and j["finding"]["passed"] is None


def gather(s: Session, period: Period, cfg: Config, shown: Shown, agent: str | None = None,
           department: str | None = None, now: datetime | None = None) -> RequestsReport:
    """The period's charged and doubtful commitments, the ladder window's charged ones, the problems."""
    now = now or datetime.now(timezone.utc)
    rep = RequestsReport(period, shown, cfg.requests.grace_minutes)
    roster = cfg.agents
    start = min(period.end, now) - timedelta(days=cfg.policy.window_days)
    rows = rq_store.request_rows(s, since=min(start, period.start), until=period.end)

    def wanted(ext: str | None) -> bool:
        if agent and ext != agent and (roster.get(ext or "") is None or roster[ext].name != agent):
            return False
        return not department or (roster.get(ext or "") is not None and roster[ext].department == department)

    for rec in rows:
        j = request_json(rec, shown)
        in_period = period.start <= rec["row"].asked_at < period.end
        who = j["charged"] or j["agent"]
        if j["as_of"]:
            rep.as_of = j["as_of"]
        if _charged(j) and wanted(j["charged"]):
            rep.window.append(j)
            if in_period:
                rep.charged.append(j)
                rep.audio[j["call"]] = _audio_of(s, rec["call"])
                for e in j["evidence"]:
                    if e["kind"] in ("not_done", "repeat_contact") and e["call"]:
                        call = rq_store.call_by_public_id(s, e["call"])
                        if call is not None:
                            rep.audio[e["call"]] = _audio_of(s, call)
        elif _doubtful(j) and in_period and wanted(who):
            rep.doubtful.append(j)
        if rec["row"].kind == "problem" and in_period and wanted(j["agent"]):
            rep.problems.append(problem_row(j, shown, cfg.requests.problem_topics))
    return rep


def _audio_of(s: Session, call: CallRow) -> tuple[str, str, list]:
    score = call.current_score
    words = [[(w.start, w.end, w.text) for w in t.words] for t in score.turns] if score else []
    return call.path, call.sha256, words


def apply_to_agents(data, rep: RequestsReport, cfg: Config) -> None:
    """Charged commitments join each agent's violations (this period) and offences (the ladder's window), and
    the ladder's recommendation follows; an agent charged but without a call in the period gets a page."""
    from callaudit.reports.hrdata import AgentView, recommend

    agents = {a.extension: a for a in data.agents}
    for j in rep.charged + rep.window:
        ext = j["charged"]
        if ext not in agents:
            person = cfg.agents.get(ext)
            agents[ext] = AgentView(ext, person.name if person else "", person.department if person else "")
            data.agents.append(agents[ext])
    for j in rep.charged:
        key = (j["finding"]["rule"], j["finding"]["severity"])
        a = agents[j["charged"]]
        a.violations[key] = a.violations.get(key, 0) + 1
        a.charged += 1
    for j in rep.window:
        if j["finding"]["severity"] in cfg.policy.severities:
            agents[j["charged"]].offences += 1
    for a in agents.values():
        a.recommendation = recommend(a.offences, cfg.policy)
    data.agents.sort(key=lambda a: a.extension)


def _clock(iso: str | None) -> str:
    return (iso or "")[:16].replace("T", " ")


def _clips(rep: RequestsReport, redactor) -> None:
    """Each charged commitment's words (and the customer's "nobody came"), as clips of their calls."""
    from callaudit.audio import decode
    from callaudit.errors import CallauditError
    from callaudit.reports.html_report import clip_uri

    loaded: dict[str, object] = {}
    for j in rep.charged:
        for e in j["evidence"]:
            if e["kind"] not in ("commitment", "not_done", "repeat_contact") or e["offset"] is None:
                continue
            src = rep.audio.get(e["call"])
            if src is None:
                continue
            if e["call"] not in loaded:
                try:
                    rec = decode.load(src[0])
                    loaded[e["call"]] = rec if rec.sha256 == src[1] else "changed since it was scored"
                except CallauditError as err:
                    loaded[e["call"]] = str(err)
            rec = loaded[e["call"]]
            if isinstance(rec, str):
                e["clip_note"] = f"audio not available: {rec}"
                continue
            start = max(0.0, e["offset"] - CLIP_BEFORE)
            end = min(rec.duration, e["offset"] + CLIP_AFTER)
            mute = [span for words in src[2] for span in redactor.word_spans(words)]
            e["clip"] = {"uri": clip_uri(rec.channels.mean(axis=0), start, end, mute), "offset": round(e["offset"] - start, 3)}


SECTION = """
<h2 id="commitments">Commitments not kept</h2>
<p class="meta">Requests made in this period whose commitment was kept late or not at all, each charged to the agent
who made it (rule request-fulfilment), with what happened after. Statuses as of <b id="requests-as-of">{{ rep.as_of | clock }}</b>
(the latest recording stored); a deadline counts {{ rep.grace_minutes | int }} min of grace. A person decides.</p>
{% for r in rep.charged %}
<section class="commitment {{ r.status }}" data-request="{{ r.id }}" data-agent="{{ r.charged }}" data-status="{{ r.status }}">
<h3>{{ r.status }} · agent {{ r.charged }} · customer {{ r.customer }} · due {{ r.due | clock }} ({{ r.due_source }}{% if r.due_source == "default" %}: nothing was said about when{% endif %})</h3>
<p class="meta">request {{ r.id }} · {{ r.finding.title }} ({{ r.finding.severity }}) · {{ r.finding.detail }} · rules {{ r.finding.rules_version }}</p>
<ol class="chain">{% for e in r.evidence %}
<li class="link {{ e.kind }}" data-kind="{{ e.kind }}"><span class="time">{{ e.at | clock }}</span> <b>{{ e.kind | replace("_", " ") }}</b>{% if e.call %} · call <a href="#call-{{ e.call }}">{{ e.call }}</a>{% endif %}{% if e.who %} · {{ e.who }}{% endif %}
{% if e.quote %}<span class="quote">«{{ e.quote }}»</span>{% endif %} <span class="note">{{ e.note }}</span>{% if e.recognised == "unsure" %} <em>(recognised unsurely)</em>{% endif %}
{% if e.clip %}<br><audio class="clip" controls preload="auto" data-seek="{{ e.clip.offset }}" src="{{ e.clip.uri }}"></audio>{% elif e.clip_note %} <em>{{ e.clip_note }}</em>{% endif %}</li>{% endfor %}
</ol></section>
{% else %}<p id="no-commitments">No commitment made in this period was kept late or not at all.</p>{% endfor %}
{% if rep.doubtful %}<h3>Late or overdue, not charged: a person should listen first</h3><ul>
{% for r in rep.doubtful %}<li class="doubtful" data-request="{{ r.id }}">{{ r.status }} · agent {{ r.agent }} · customer {{ r.customer }} · due {{ r.due | clock }}: {{ r.doubt }}</li>{% endfor %}</ul>{% endif %}

<h2 id="problems">Service problems reported</h2>
<p class="meta">What customers reported about the service, by topic, in this period; open until a later call or a person resolves it
(<code>callaudit requests problems --format csv</code> exports them for the technical department).</p>
<table id="problem-table"><tr><th>Reported</th><th>Topic</th><th>Customer</th><th>Words</th><th>Call</th><th>Status</th></tr>
{% for p in rep.problems %}<tr class="problem {{ 'resolved' if p.resolved else 'open' }}" data-topics="{{ p.topics }}" data-request="{{ p.id }}">
<td>{{ p.reported_at | clock }}</td><td>{{ p.topic_titles }}</td><td>{{ p.customer }}</td><td>{{ p.quote }}</td>
<td><a href="#call-{{ p.call }}">{{ p.call }}</a></td><td>{{ "resolved " ~ (p.resolved_at | clock) if p.resolved else "open (" ~ p.status ~ ")" }}</td></tr>
{% else %}<tr><td colspan="6">No service problems reported in this period.</td></tr>{% endfor %}</table>
"""


def html_section(rep: RequestsReport, redactor, no_audio: bool = False) -> str:
    """The report's HTML block (escaped: the words are what customers and agents said)."""
    if not no_audio:
        _clips(rep, redactor)
    env = Environment(autoescape=True)
    env.filters["clock"] = _clock
    return env.from_string(SECTION).render(rep=rep)


class PdfSection:
    """What reports.files.to_pdf adds: on each agent's page the commitments charged to them with their chain,
    and an appendix of doubtful ones and of service problems. Lines are (text, size, bold)."""

    def __init__(self, rep: RequestsReport):
        self.rep = rep

    def agent_lines(self, extension: str) -> list[tuple[str, int, bool]]:
        mine = self.rep.for_agent(extension)
        if not mine:
            return []
        out = [("Commitments not kept", 12, True)]
        for r in mine:
            out.append((f"  {r['status'].upper()}: customer {r['customer']}, due {_clock(r['due'])} ({r['due_source']}), "
                        f"request {r['id']}", 9, True))
            for e in r["evidence"]:
                words = f" «{e['quote']}»" if e["quote"] else ""
                call = f" call {e['call']}" if e["call"] else ""
                out.append((f"    {_clock(e['at'])} {e['kind'].replace('_', ' ')}{call}{words} {e['note']}".rstrip(), 8, False))
        return out

    def appendix(self) -> list[tuple[str, int, bool]]:
        out: list[tuple[str, int, bool]] = []
        if self.rep.doubtful:
            out.append(("Late or overdue, not charged: a person should listen first", 12, True))
            out += [(f"  {r['status']} · agent {r['agent']} · customer {r['customer']} · due {_clock(r['due'])}: "
                     f"{r['doubt']}", 8, False) for r in self.rep.doubtful]
        out.append(("Service problems reported", 12, True))
        if not self.rep.problems:
            out.append(("  none in this period", 9, False))
        for p in self.rep.problems:
            state = f"resolved {_clock(p['resolved_at'])}" if p["resolved"] else f"open ({p['status']})"
            out.append((f"  {_clock(p['reported_at'])}  {p['topic_titles']}  {p['customer']}  call {p['call']}  {state}: "
                        f"«{p['quote']}»", 8, False))
        return out


__all__ = ["RESOLVED", "RequestsReport", "gather", "apply_to_agents", "html_section", "PdfSection"]
