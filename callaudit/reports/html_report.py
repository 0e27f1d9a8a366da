"""The HR report as one self-contained HTML file: works offline, audio clips embedded, text escaped."""

from __future__ import annotations

import base64
import io
import wave
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np
from jinja2 import Environment
from markupsafe import Markup

from callaudit.audio import decode as audio
from callaudit.errors import CallauditError
from callaudit.reports.hrdata import CallView, ReportData, Section
from callaudit.reports.redact import Redactor

CLIP_BEFORE, CLIP_AFTER = 2.0, 12.0  # s of audio around a finding
CLIP_RATE = 8000


def clip_uri(samples: np.ndarray, start: float, end: float, mute: list[tuple[float, float]]) -> str:
    """A WAV data: URI of [start, end) of the 16 kHz mono mix, with the redacted words silenced."""
    seg = samples[int(start * audio.RATE):int(end * audio.RATE)].copy()
    for a, b in mute:
        i, j = int((a - start) * audio.RATE), int((b - start) * audio.RATE)
        if j > 0 and i < len(seg):
            seg[max(0, i):max(0, j)] = 0.0
    seg = seg[: len(seg) // 2 * 2].reshape(-1, 2).mean(axis=1)  # 16 -> 8 kHz: telephone band anyway
    pcm = (np.clip(seg, -1, 1) * 32767).astype("<i2")
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(CLIP_RATE)
        w.writeframes(pcm.tobytes())
    return "data:audio/wav;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def attach_clips(call: CallView, redactor: Redactor) -> str | None:
    """Give each failed finding of `call` a clip; returns why there are none, or None."""
    try:
        rec = audio.load(call.file)
    except CallauditError as e:
        return f"audio not available: {e}"
    if rec.sha256 != call.sha256:
        return f"audio not available: {call.file} has changed since it was scored (sha256 differs)"
    mix = rec.channels.mean(axis=0)
    mute = [span for words in call.words for span in redactor.word_spans(words)]
    for f in call.failed:
        at = f["at"] or 0.0
        start = max(0.0, at - CLIP_BEFORE)
        end = min(rec.duration, at + CLIP_AFTER)
        f["clip"] = {"uri": clip_uri(mix, start, end, mute), "offset": round(at - start, 3), "start": start}
    return None


def sparkline(points: list[tuple[str, float]], width: int = 160, height: int = 36) -> str:
    """An inline SVG of the average score per day (0..100)."""
    if not points:
        return ""
    n = len(points)
    xs = [4 + (width - 8) * (i / (n - 1) if n > 1 else 0.5) for i in range(n)]
    ys = [height - 4 - (height - 8) * (v / 100) for _, v in points]
    path = " ".join(f"{x:.1f},{y:.1f}" for x, y in zip(xs, ys))
    dots = "".join(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="2"><title>{d}: {v:g}</title></circle>'
                   for (d, v), x, y in zip(points, xs, ys))
    return (f'<svg class="trend" width="{width}" height="{height}" role="img" aria-label="average score per day">'
            f'<polyline fill="none" stroke="#2463eb" stroke-width="1.5" points="{path}"/>{dots}</svg>')


def _hits(call: CallView) -> list[set[str]]:
    """For each transcript turn, the failed rules whose evidence lies in it."""
    out = []
    for t in call.transcript:
        rules = set()
        for f in call.failed:
            for e in f.get("evidence", []):
                if e.get("start") is not None and e["start"] < t["end"] and e["end"] > t["start"]:
                    rules.add(f["rule"])
        out.append(rules)
    return out


def _clock(seconds: float | None) -> str:
    if seconds is None:
        return ""
    m, s = divmod(float(seconds), 60)
    return f"{int(m):02d}:{s:04.1f}"


TEMPLATE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; media-src data:; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:">
<title>callaudit report — {{ data.period.label }}</title>
<style>
body{font:14px/1.45 system-ui,sans-serif;margin:2em auto;max-width:1100px;color:#1b1b1b}
h1{font-size:1.5em}h2{border-bottom:2px solid #ddd;padding-bottom:.2em;margin-top:2em}
table{border-collapse:collapse;width:100%;margin:.5em 0}th,td{text-align:left;padding:.25em .5em;border-bottom:1px solid #eee;vertical-align:top}
.failed{color:#b00020;font-weight:600}.passed{color:#1b7f3b}.dismissed{color:#777;text-decoration:line-through}
.notevaluated{color:#777}.flag{background:#b00020;color:#fff;border-radius:3px;padding:0 .4em}
.turn{margin:.15em 0}.turn .who{display:inline-block;width:6em;color:#555}.turn.hit{background:#fff2cc}
.time{font-variant-numeric:tabular-nums;color:#666}.recommend{background:#eef4ff;padding:.5em;border-left:4px solid #2463eb}
.meta{color:#555;font-size:.9em}audio{vertical-align:middle;height:2em}
.note{background:#fff8e1;padding:.5em;border-left:4px solid #f0b400}
</style></head><body>
<h1>Call audit report</h1>
<p class="meta">Period: <b id="period">{{ data.period.label }}</b> · generated {{ data.generated.strftime("%Y-%m-%d %H:%M UTC") }}
{% if data.filters.agent %}· agent {{ data.filters.agent }}{% endif %}{% if data.filters.department %} · department {{ data.filters.department }}{% endif %}
{% if data.filters.flagged %}· flagged calls only{% endif %} · numbers masked{% if no_audio %} · audio left out{% endif %}</p>
<p class="meta">Each finding below is the tool's verdict with its evidence. It is material for a person to review, not a decision.</p>

<h2 id="department">Department summary</h2>
<table id="agents"><tr><th>Agent</th><th>Department</th><th>Calls checked</th><th>Average score</th><th>Violations</th><th>Recommended step</th></tr>
{% for a in data.agents %}<tr class="agent-row" data-agent="{{ a.extension }}"><td><a href="#agent-{{ a.extension }}">{{ a.extension }} {{ a.name }}</a></td><td>{{ a.department }}</td>
<td>{{ a.checked }}</td><td>{{ a.average }}</td><td>{{ a.failed_total }}</td><td>{{ a.recommendation }}</td></tr>
{% endfor %}</table>
<p>Calls checked: <b id="total">{{ data.total }}</b> · flagged <b id="flagged-total">{{ data.flagged_total }}</b></p>
<p>Rules most often failed: {% for rule, n in data.top_rules %}<b>{{ rule }}</b> ({{ n }}){% if not loop.last %}, {% endif %}{% else %}none{% endfor %}</p>
{% for x in data.sections if x.agent is none %}{{ section(x) }}{% endfor %}

<h2 id="flagged">Flagged calls</h2>
{% if data.flagged_note %}<p class="note" id="flagged-note">{{ data.flagged_note }}</p>{% endif %}
<table><tr><th>Call</th><th>Agent</th><th>Time</th><th>Score</th><th>Failed rules</th></tr>
{% for c in data.flagged %}<tr class="flagged-call" data-call="{{ c.id }}"><td>{% if c.id in detailed %}<a href="#call-{{ c.id }}">{{ c.id }}</a>{% else %}{{ c.id }}{% endif %}</td><td>{{ c.agent }} {{ c.agent_name }}</td>
<td>{{ c.when.strftime("%Y-%m-%d %H:%M") }}</td><td>{{ c.score }}</td><td>{% for r in c.failed_rules %}<span class="failed">{{ r }}</span> {% endfor %}</td></tr>
{% else %}<tr><td colspan="5">No flagged calls in this period.</td></tr>{% endfor %}</table>

{% for a in data.agents %}
<h2 id="agent-{{ a.extension }}" class="agent" data-agent="{{ a.extension }}">Agent {{ a.extension }} {{ a.name }}{% if a.department %} — {{ a.department }}{% endif %}</h2>
<p>Calls checked: <b>{{ a.checked }}</b> · flagged <b>{{ a.flagged }}</b> · average score <b>{{ a.average }}</b> {{ sparkline(a.trend)|safe }}</p>
<table><tr><th>Rule</th><th>Severity</th><th>Times failed</th></tr>
{% for (rule, sev), n in a.violations.items() %}<tr class="violation"><td>{{ rule }}</td><td>{{ sev }}</td><td>{{ n }}</td></tr>{% else %}<tr><td colspan="3">No violations.</td></tr>{% endfor %}</table>
{% if a.repeats %}<p>Repeat offences (same rule on more than one call): {{ a.repeats|join(", ") }}</p>{% endif %}
{% set ds = a.decisions %}
{% if ds %}<p>Reviews and appeals{% if a.decisions_total > ds|length %} (the latest {{ ds|length }} of {{ a.decisions_total }}; all of them: --agent {{ a.extension }} --format json){% endif %}:</p><ul>{% for d in ds %}<li class="decision">{{ d.at.strftime("%Y-%m-%d %H:%M") }} · {{ d.decision }} by {{ d.by }}{% if d.rule != "*" %} ({{ d.rule }}){% endif %}: {{ d.note }}{% if not d.on_current %} <em>(on an earlier scoring)</em>{% endif %}</li>{% endfor %}</ul>{% endif %}
{% for x in data.sections if x.agent == a.extension %}{{ section(x) }}{% endfor %}
<p class="recommend">{{ a.recommendation }}</p>
{% endfor %}

{% for block in blocks %}{{ block|safe }}{% endfor %}
<h2 id="details">Call details</h2>
{% if data.details_note %}<p class="note" id="details-note">{{ data.details_note }}</p>{% endif %}
{% for c in data.details %}
<section id="call-{{ c.id }}" class="call" data-call="{{ c.id }}">
<h3>Call {{ c.id }} · {{ c.agent }} {{ c.agent_name }} · {{ c.when.strftime("%Y-%m-%d %H:%M") }} · score {{ c.score }}{% if c.flagged %} <span class="flag">flagged</span>{% endif %}</h3>
<p class="meta">{{ c.duration }} s, {{ c.channels }} · rules {{ c.rules_version }} · model {{ c.model }} · recording sha256 {{ c.sha256 }}{% if c.audio_note %} · {{ c.audio_note }}{% endif %}</p>
<table><tr><th>Rule</th><th>Severity</th><th>Result</th><th>At</th><th>Detail</th></tr>
{% for f in c.findings %}<tr class="finding {{ f.status|replace(' ', '') }}" data-rule="{{ f.rule }}" data-at="{{ f.at if f.at is not none else '' }}">
<td>{{ f.rule }}</td><td>{{ f.severity }}</td><td class="{{ f.status|replace(' ', '') }}">{{ f.status }}{% if f.review and f.review != f.status %} ({{ f.review }}){% endif %}</td><td class="time">{{ clock(f.at) }}</td>
<td>{{ f.detail }}{% if f.clip %}<br><audio class="clip" controls preload="auto" data-seek="{{ f.clip.offset }}" data-at="{{ f.at }}" src="{{ f.clip.uri }}"></audio>{% endif %}</td></tr>
{% endfor %}</table>
{% set hit = hits(c) %}<div class="transcript">{% for t in c.transcript %}<div class="turn{% if hit[loop.index0] %} hit{% endif %}"><span class="time">{{ clock(t.start) }}</span> <span class="who">{{ t.speaker }}</span> <span class="text">{{ t.text }}</span></div>{% endfor %}</div>
</section>
{% endfor %}
<script>
// Each clip opens at its finding's moment, not at the clip's start.
document.querySelectorAll("audio.clip").forEach(function (a) {
  var seek = function () { a.currentTime = parseFloat(a.dataset.seek); a.dataset.ready = "1"; };
  if (a.readyState >= 1) { seek(); } else { a.addEventListener("loadedmetadata", seek, {once: true}); }
});
</script>
</body></html>
"""


SECTION = """<h3 id="section-{{ x.key }}" class="section" data-section="{{ x.key }}">{{ x.title }}</h3>
<table><tr>{% for c in x.columns %}<th>{{ c }}</th>{% endfor %}</tr>
{% for r in x.rows %}<tr>{% for v in r %}<td>{{ v }}</td>{% endfor %}</tr>{% else %}<tr><td colspan="{{ x.columns|length }}">None.</td></tr>{% endfor %}</table>
{% if x.note %}<p class="meta">{{ x.note }}</p>{% endif %}"""


def generate(data: ReportData, redactor: Redactor, no_audio: bool = False,
             blocks: Sequence[str] = ()) -> Iterator[str]:
    """The HTML report in pieces, as the template produces them (write them as they come). Clips are
    cut only for the detailed calls. `blocks`: more HTML placed before the call details, each already
    escaped by its maker (reports/requests.html_section)."""
    env = Environment(autoescape=True)  # transcript text is untrusted: it must show as text
    for c in data.details:
        c.audio_note = None if no_audio else attach_clips(c, redactor)
    section = env.from_string(SECTION)

    def show(x: Section) -> Markup:
        return Markup(section.render(x=x))

    return env.from_string(TEMPLATE).generate(data=data, no_audio=no_audio, sparkline=sparkline, clock=_clock,
                                              hits=_hits, section=show, detailed={c.id for c in data.details},
                                              blocks=blocks)


def render(data: ReportData, redactor: Redactor, no_audio: bool = False, blocks: Sequence[str] = ()) -> str:
    """The HTML report as one string."""
    return "".join(generate(data, redactor, no_audio, blocks))


def write(path: Path, html: str) -> None:
    path.write_text(html, encoding="utf-8")
