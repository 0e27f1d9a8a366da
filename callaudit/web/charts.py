"""Charts drawn on the server by pygal, as inline SVG: no script, nothing fetched (pygal's tooltip
script, which it would load from the web, is switched off)."""

from __future__ import annotations

import re

import pygal
from pygal.style import Style

STYLE = Style(background="white", plot_background="white", foreground="#1b1b1b", foreground_strong="#1b1b1b",
              foreground_subtle="#777", colors=("#2463eb", "#b00020", "#1b7f3b", "#c77700"), font_family="sans-serif",
              label_font_size=12, major_label_font_size=12, title_font_size=14)


def _config(title: str, **extra) -> pygal.Config:
    settings = dict(js=[], disable_xml_declaration=True, style=STYLE, width=720, height=300, title=title,
                    show_legend=False, explicit_size=False, print_values=False, margin=12, truncate_label=-1,
                    x_label_rotation=30, no_data_text="—")
    return pygal.Config(**{**settings, **extra})


def _svg(chart, label: str) -> str:
    # pygal writes its settings into an inline <script> for its tooltips, even with js=[]: not wanted (the
    # pages allow no inline script), and the chart draws the same without it.
    svg = re.sub(r"<script\b.*?</script>", "", chart.render(is_unicode=True), flags=re.S)
    return svg.replace("<svg ", f'<svg role="img" aria-label="{_attr(label)}" ', 1)


def _attr(text: str) -> str:
    return text.replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;")


def trend(points: list[tuple[str, float]], title: str) -> str:
    """Average score per day, 0..100."""
    chart = pygal.Line(_config(title, range=(0, 100), dots_size=3))
    chart.x_labels = [d for d, _ in points]
    chart.add(title, [v for _, v in points])
    return _svg(chart, title)


def weekly(weeks: list[tuple[str, int, int]], title: str) -> str:
    """Calls checked per week."""
    chart = pygal.Bar(_config(title))
    chart.x_labels = [w for w, _, _ in weeks]
    chart.add(title, [n for _, n, _ in weeks])
    return _svg(chart, title)


def flagged_share(weeks: list[tuple[str, int, int]], title: str) -> str:
    """The share of calls flagged per week, in per cent."""
    chart = pygal.Line(_config(title, range=(0, 100), dots_size=3))
    chart.x_labels = [w for w, _, _ in weeks]
    chart.add(title, [round(100 * f / n, 1) if n else None for _, n, f in weeks])
    return _svg(chart, title)


def top_rules(rules: list[tuple[str, int]], title: str) -> str:
    """The rules failed most often."""
    chart = pygal.HorizontalBar(_config(title, x_label_rotation=0))
    chart.x_labels = [r for r, _ in rules]
    chart.add(title, [n for _, n in rules])
    return _svg(chart, title)
