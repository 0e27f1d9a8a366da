"""Helpers shared by the store tests: generated short calls, a test config, and store checks."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

from callaudit.sources.samples import build, say

ROOT = Path(__file__).resolve().parents[2]
CALLAUDIT = str(ROOT / ".venv" / "bin" / "callaudit")

# ~5 s calls: enough for every rule to run, quick for Whisper.
SHORT_CALL = [say("agent", "hello", at=0.5), say("customer", "auth-thankyou"), say("agent", "goodbye")]


def make_calls(folder: Path, n: int, first: int = 0) -> list[Path]:
    """`n` short stereo calls with MixMonitor names; different line hiss makes each file unique."""
    out = []
    for i in range(first, first + n):
        ext = 1040 + i % 3
        path = folder / f"q-20261124-10{i // 60:02d}{i % 60:02d}-{ext}-7900{i:07d}-1764000000.{i}.wav"
        build(path, SHORT_CALL, "en", seed=1000 + i)
        out.append(path)
    return out


def write_config(folder: Path, batch: dict | None = None, **store) -> Path:
    """tiny.en, English, one thread per worker; [store] overrides (e.g. lease_seconds=3), [batch] keys.
    The PostgreSQL queue is quick to see a dead worker: heartbeats every 0.5 s, dead after 3 s."""
    st = {"lease_seconds": 3.0, "poll_seconds": 0.3, "heartbeat_seconds": 0.5, "stalled_seconds": 3.0,
          "stalled_check": "* * * * * */2", **store}
    lines = ['[model]', 'name = "tiny.en"', 'threads = 1', '[transcription]', 'language = "en"', '[store]']
    lines += [f"{k} = {v!r}" if not isinstance(v, str) else f'{k} = "{v}"' for k, v in st.items()]
    if batch:
        lines += ["[batch]"] + [f"{k} = {v!r}".replace("'", '"') for k, v in batch.items()]
    lines += ['[roster]', 'agents = [{extension = "1040", name = "Anna Ivanova", department = "Sales"},',
              '          {extension = "1041", name = "Boris Petrov", department = "Support"}]']
    path = folder / "callaudit.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def malformed_files(folder: Path, good: Path) -> dict[Path, str]:
    """Twenty broken recordings, each with a word its failure reason must contain."""
    import os
    import random
    import struct

    rng = random.Random(7)
    folder.mkdir(parents=True, exist_ok=True)
    wav = good.read_bytes()

    def noise(n: int) -> bytes:
        return bytes(rng.getrandbits(8) for _ in range(n))

    def riff(chunks: bytes) -> bytes:
        return b"RIFF" + struct.pack("<I", 4 + len(chunks)) + b"WAVE" + chunks

    fmt = b"fmt " + struct.pack("<IHHIIHH", 16, 1, 2, 8000, 32000, 4, 16)
    out: dict[Path, str] = {}

    def add(name: str, data: bytes, reason: str) -> None:
        path = folder / name
        path.write_bytes(data)
        out[path] = reason

    add("empty.wav", b"", "empty file")
    add("truncated-half.wav", wav[: len(wav) // 2], "truncated WAV")
    add("truncated-header.wav", wav[:44], "truncated WAV")
    add("header-only-no-data.wav", riff(fmt), "no data chunk")
    add("huge-header.wav", riff(b"LIST" + struct.pack("<I", 0x7FFFFFF0) + noise(64) + fmt), "no data chunk")
    add("huge-data-claim.wav", riff(fmt + b"data" + struct.pack("<I", 0xFFFFFFF0) + noise(512)), "truncated WAV")
    add("zero-channels.wav", riff(b"fmt " + struct.pack("<IHHIIHH", 16, 1, 0, 8000, 0, 0, 16)
                                  + b"data" + struct.pack("<I", 800) + noise(800)), "not a readable audio")
    add("too-short.wav", riff(fmt + b"data" + struct.pack("<I", 400) + noise(400)), "shorter than 0.1 s")
    add("text.wav", b"This is not a recording, it is a shopping list: milk, bread.\n" * 20, "not a readable audio")
    add("picture.wav", b"\x89PNG\r\n\x1a\n" + noise(2048), "no audio stream")
    add("random.wav", noise(16000), "not a readable audio")
    add("garbage.mp3", b"ID3\x04\x00\x00\x00\x00\x00\x00" + noise(4096), "not a readable audio")
    add("garbage.flac", b"fLaC" + noise(4096), "not a readable audio")
    add("garbage.ogg", b"OggS" + noise(4096), "not a readable audio")
    add("garbage.opus", b"OggS\x00\x02" + noise(100), "not a readable audio")
    add("звонок-обрезан.wav", wav[: len(wav) // 3], "truncated WAV")
    add("通話-テキスト.wav", "これは録音ではありません".encode() * 50, "not a readable audio")
    add("emoji-😀-empty-data.wav", riff(fmt + b"data" + struct.pack("<I", 0)), "no audio samples")
    add("naïve café.flac", b"fLaC\x00\x00\x00\x22" + noise(34) + noise(999), "no audio samples")
    # A good recording under a name that is not UTF-8: it cannot be stored under a name anyone can type.
    bad_name = os.fsdecode(b"latin1-\xe9t\xe9.wav")
    (folder / bad_name).write_bytes(wav[:-2] + b"\x01\x00")
    out[folder / bad_name] = "not valid UTF-8"
    return out


def check_exactly_once(db: str, files: list[Path]) -> dict:
    """Every file is one call with exactly one (current) score and complete rows; nothing is left over.
    Returns a few figures for the test to report."""
    from sqlalchemy import func, select

    from callaudit.digest import sha256_of
    from callaudit.store import db as store
    from callaudit.store.schema import SCORED, CallRow, FindingRow, ScoreRow, TurnRow, WordRow

    st = store.open_store(db, migrate=False)
    with st.session() as s:
        calls = s.scalars(select(CallRow)).all()
        assert sorted(c.sha256 for c in calls) == sorted(sha256_of(f) for f in files)
        assert {c.status for c in calls} == {SCORED}, [(c.path, c.status, c.error) for c in calls]
        assert all(c.lease_token is None and c.lease_owner is None for c in calls)
        per_call = dict(s.execute(select(ScoreRow.call_id, func.count()).group_by(ScoreRow.call_id)).all())
        assert per_call == {c.id: 1 for c in calls}  # exactly one score per call, no superseded ones
        assert s.scalar(select(func.count()).select_from(ScoreRow).where(ScoreRow.is_current.is_(False))) == 0
        # No orphans: every row hangs from a parent that exists.
        assert s.scalar(select(func.count()).select_from(FindingRow)
                        .where(~FindingRow.score_id.in_(select(ScoreRow.id)))) == 0
        assert s.scalar(select(func.count()).select_from(TurnRow).where(~TurnRow.score_id.in_(select(ScoreRow.id)))) == 0
        assert s.scalar(select(func.count()).select_from(WordRow).where(~WordRow.turn_id.in_(select(TurnRow.id)))) == 0
        # Complete: each score holds exactly the findings and turns of its verdict, and words.
        for sc in s.scalars(select(ScoreRow)):
            assert len(sc.findings) == len(sc.verdict["findings"]) > 0
            assert len(sc.turns) == len(sc.verdict["transcript"]) > 0
            assert sum(len(t.words) for t in sc.turns) > 0
        figures = {"calls": len(calls), "max_attempts": max(c.attempts for c in calls),
                   "workers": dict(s.execute(select(ScoreRow.worker, func.count()).group_by(ScoreRow.worker)).all())}
    st.close()
    return figures


# ---------------------------------------------------------------- processes under test
def start(cfg: Path, *args: str) -> subprocess.Popen:
    # Its own process group, so that a kill reaches the batch and its worker processes, as a real kill would.
    return subprocess.Popen([CALLAUDIT, "--config", str(cfg), *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, start_new_session=True)


def scored_count(db: str, worker: str | None = None) -> int:
    from sqlalchemy import func, select

    from callaudit.store import db as store
    from callaudit.store.schema import ScoreRow

    try:
        st = store.open_store(db, migrate=False)
        with st.session() as s:
            q = select(func.count()).select_from(ScoreRow)
            n = s.scalar(q.where(ScoreRow.worker == worker) if worker else q)
        st.close()
        return n
    except Exception:  # not created yet
        return 0


def children(pid: int) -> list[int]:
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            out.append(int(stat.parent.name))
    return out


def alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def wait_for(cond, timeout: float, step: float = 0.1) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(step)
    return False


