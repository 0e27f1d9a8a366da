"""Calibration: how far the tool's verdicts agree with human QA on the same calls, rule by rule."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from callaudit.errors import CallauditError

VERDICTS = {"pass": "pass", "passed": "pass", "ok": "pass", "1": "pass", "true": "pass",
            "fail": "fail", "failed": "fail", "0": "fail", "false": "fail"}


@dataclass(frozen=True)
class Agreement:
    rule: str
    n: int
    matrix: dict[tuple[str, str], int]  # (human, tool) -> count, over pass/fail
    not_evaluated: int  # pairs the tool did not judge (left out of the figures)

    @property
    def agreement(self) -> float | None:
        return (self.matrix[("pass", "pass")] + self.matrix[("fail", "fail")]) / self.n if self.n else None

    @property
    def kappa(self) -> float | None:
        """Cohen's kappa: agreement beyond what chance alone would give."""
        if not self.n:
            return None
        po = self.agreement
        pe = sum(((self.matrix[(v, "pass")] + self.matrix[(v, "fail")]) / self.n)
                 * ((self.matrix[("pass", v)] + self.matrix[("fail", v)]) / self.n) for v in ("pass", "fail"))
        return 1.0 if pe == 1 else (po - pe) / (1 - pe)


def read_human(path: Path) -> list[tuple[str, str, str, int]]:
    """(call, rule, pass|fail, line) rows from a CSV with columns call, rule, verdict."""
    try:
        f = open(path, newline="", encoding="utf-8")
    except FileNotFoundError:
        raise CallauditError(f"{path}: no such file") from None
    rows = []
    with f:
        reader = csv.DictReader(f)
        missing = {"call", "rule", "verdict"} - set(reader.fieldnames or [])
        if missing:
            raise CallauditError(f"{path}:1: missing column(s) {', '.join(sorted(missing))}; "
                                 "the header must be: call,rule,verdict")
        for row in reader:
            v = VERDICTS.get((row["verdict"] or "").strip().lower())
            if v is None:
                raise CallauditError(f"{path}:{reader.line_num}: verdict must be pass or fail, got {row['verdict']!r}")
            rows.append((row["call"].strip(), row["rule"].strip(), v, reader.line_num))
    return rows


def compare(pairs: list[tuple[str, str, str | None]]) -> list[Agreement]:
    """(rule, human pass|fail, tool pass|fail|None) -> one Agreement per rule and one for "all"."""
    out = []
    for rule in sorted({r for r, _, _ in pairs}) + ["all"]:
        mine = [(h, t) for r, h, t in pairs if rule in ("all", r)]
        matrix = {(h, t): 0 for h in ("pass", "fail") for t in ("pass", "fail")}
        skipped = 0
        for h, t in mine:
            if t is None:
                skipped += 1
            else:
                matrix[(h, t)] += 1
        out.append(Agreement(rule, sum(matrix.values()), matrix, skipped))
    return out
