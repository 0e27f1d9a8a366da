"""Properties that must hold for every input, not just the ones a person thought of (hypothesis)."""

from __future__ import annotations

import csv
import io
import tomllib
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from callaudit import config
from callaudit.errors import CallauditError
from callaudit.reports.files import FORMULA_START, csv_text
from callaudit.store.reviews import ALL_FINDINGS, CONFIRMED, DISMISSED, Decision, in_force

SECRETS = [("sip", "password"), ("store", "db")]

# Any value TOML can hold, as TOML text and as the value it reads back to.
scalars = st.one_of(st.integers(-10**12, 10**12), st.floats(allow_nan=True, allow_infinity=True), st.booleans(),
                    st.text(min_size=1, max_size=12))
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=3), max_leaves=6)


def toml_value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return {float("inf"): "inf", float("-inf"): "-inf"}.get(v, "nan" if v != v else repr(v))
    if isinstance(v, str):
        return '"' + v.encode("unicode_escape").decode("ascii").replace('"', '\\"') + '"'
    if isinstance(v, list):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    return str(v)


def shown_forms(v) -> set[str]:
    """How a value could leak into a message: its repr, its str, its TOML spelling."""
    out = {repr(v), str(v), toml_value(v)}
    if isinstance(v, list):
        for x in v:
            out |= shown_forms(x)
    return {s for s in out if len(s) >= 3}  # "1" or "[]" turn up in any message by chance


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(secret=st.sampled_from(SECRETS), value=values, other=st.sampled_from(["", "threads = \"x\"\n", "bogus = 1\n"]))
def test_no_value_of_a_secret_key_ever_appears_in_a_config_error(tmp_path_factory, secret, value, other):
    section, key = secret
    text = f"[{section}]\n{key} = {toml_value(value)}\n" + (f"[model]\n{other}" if other else "")
    try:
        tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        return  # not a value TOML can hold
    path = tmp_path_factory.mktemp("cfg") / "c.toml"
    path.write_text(text, encoding="utf-8")
    try:
        config.load(path)
    except CallauditError as e:
        message = str(e)
        leaked = [s for s in shown_forms(value) if s in message.replace(str(path), "")]
        assert not leaked, (message, leaked)


@given(st.lists(st.dictionaries(st.sampled_from(["call", "agent_name", "department", "file"]), st.text(max_size=30),
                                min_size=4, max_size=4), min_size=1, max_size=5))
def test_no_csv_cell_starts_with_a_formula_character_and_nothing_is_lost(rows):
    fields = ["call", "agent_name", "department", "file"]
    back = list(csv.DictReader(io.StringIO(csv_text(fields, rows))))
    assert len(back) == len(rows)
    for written, read in zip(rows, back):
        for k in fields:
            cell = read[k]
            assert not cell.startswith(FORMULA_START), cell
            # what a person reads is what was stored, behind one apostrophe where it would have been a formula
            assert cell == ("'" + written[k] if written[k].startswith(FORMULA_START) else written[k]), (written[k], cell)


START = datetime(2026, 11, 1, tzinfo=timezone.utc)
decisions = st.lists(st.builds(lambda sid, rule, d, i: Decision(7, rule, d, "HR", "note", START + timedelta(minutes=i),
                                                                 sid, True),
                               st.integers(1, 4), st.sampled_from(["greeting", "closing", ALL_FINDINGS]),
                               st.sampled_from([CONFIRMED, DISMISSED, "appealed"]), st.integers(0, 10_000)),
                     max_size=12)


@given(decisions, st.integers(1, 5), st.sampled_from(["greeting", "closing"]))
def test_a_decision_never_applies_to_a_scoring_it_was_not_made_on(history, score_id, rule):
    history = sorted(history, key=lambda d: d.at)
    mine = [d for d in history if d.score_id == score_id]
    assert in_force(history, rule, score_id) == in_force(mine, rule, score_id)
    if not mine:
        assert in_force(history, rule, score_id) is None
    made = in_force(history, rule, score_id)
    if made is not None:
        last = [d for d in mine if d.decision in (CONFIRMED, DISMISSED) and d.rule in (rule, ALL_FINDINGS)][-1]
        assert made == last.decision


@pytest.mark.parametrize("section, key", SECRETS)
def test_the_secret_keys_are_marked_secret(section, key):
    import dataclasses

    meta = {f.name: f.metadata for f in dataclasses.fields(config.SECTIONS[section])}
    assert meta[key].get("secret") is True
