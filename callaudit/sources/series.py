"""A series of calls with the same customers over several days, spoken by the offline voices, named the
way Asterisk's MixMonitor names recordings (…-{YYYYMMDD}-{HHMMSS}-{src}-{dst}-{uniqueid}.wav): the
file name carries when the call took place and both numbers, so callaudit can follow a customer's
requests from one call to the next. The demo's short series is here; tests build longer ones.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from callaudit.sources.voices import Utterance, build_call


@dataclass(frozen=True)
class SeriesCall:
    """One call of a series: who called whom (src → dst: the customer's number or an agent's extension),
    when (the PBX's local time), in which language, and what was said."""

    name: str
    lang: str
    start: datetime
    src: str
    dst: str
    lines: tuple[Utterance, ...]

    def file_name(self, n: int) -> str:
        return f"{self.name}-{self.start:%Y%m%d-%H%M%S}-{self.src}-{self.dst}-{int(self.start.timestamp())}.{n}.wav"


def build_series(folder: Path, calls: list[SeriesCall], *, timezone: str | None = None,
                 cache: Path | None = None) -> list[Path]:
    """Write each call into `folder` under its MixMonitor name and return the paths. With `timezone`, a
    sidecar also says the start with its offset and the language: the names alone are read in the machine's
    own timezone, which need not be the PBX's (the demo runs anywhere)."""
    out = []
    for n, c in enumerate(calls):
        path = folder / c.file_name(n)
        build_call(path, list(c.lines), c.lang, seed=100 + n, cache=cache)
        if timezone:
            start = c.start.replace(tzinfo=ZoneInfo(timezone)).isoformat()
            Path(str(path) + ".json").write_text(json.dumps({"start": start, "language": c.lang}), encoding="utf-8")
        out.append(path)
    return out


def _a(text: str, gap: float = 0.8) -> Utterance:
    return Utterance("agent", text, gap=gap)


def _c(text: str, gap: float = 0.8) -> Utterance:
    return Utterance("customer", text, gap=gap)


# Two customers over two days (Wednesday 25 and Thursday 26 November 2026, after the prompt samples'
# day): one promise kept by a callback in time, one never kept (the customer calls again: nobody came),
# and a new promise that is still open.
DEMO_SERIES = [
    SeriesCall("demo", "ru", datetime(2026, 11, 25, 10, 15), "79161112233", "1040", (
        _a("Здравствуйте, компания «Ромашка», меня зовут Анна, чем могу помочь?"),
        _c("Здравствуйте. Интернет у меня не работает, проверьте, пожалуйста, линию."),
        _a("Поняла вас. Я посмотрю, что с линией, и перезвоню вам сегодня до пяти."),
        _c("Хорошо, спасибо."),
        _a("Всего доброго, до свидания."),
    )),
    SeriesCall("demo", "ru", datetime(2026, 11, 25, 11, 0), "79163334455", "1041", (
        _a("Здравствуйте, компания «Ромашка», слушаю вас."),
        _c("Интернет работает очень медленно, скорость намного ниже, чем в договоре. Пришлите, пожалуйста, мастера."),
        _a("Хорошо, я оформлю заявку, мастер приедет к вам завтра до двенадцати часов."),
        _c("Спасибо."),
        _a("До свидания."),
    )),
    SeriesCall("demo", "ru", datetime(2026, 11, 25, 15, 40), "1040", "79161112233", (
        _a("Добрый день, это Анна из компании «Ромашка»."),
        _a("Я проверила вашу линию, неисправность устранена, интернет снова работает.", gap=0.5),
        _c("Да, вижу, всё заработало, спасибо."),
        _a("Всего доброго."),
    )),
    SeriesCall("demo", "ru", datetime(2026, 11, 26, 16, 0), "79163334455", "1040", (
        _a("Здравствуйте, компания «Ромашка», меня зовут Анна."),
        _c("Я вчера весь день ждал мастера, он так и не пришёл, и никто мне не перезвонил."),
        _a("Извините, пожалуйста. Мастер приедет к вам завтра до двенадцати."),
        _c("Хорошо, жду."),
    )),
]


def build_demo_series(folder: Path) -> list[Path]:
    """The demo's series (Moscow time, said in sidecars so that any machine reads the same times)."""
    return build_series(folder, DEMO_SERIES, timezone="Europe/Moscow")
