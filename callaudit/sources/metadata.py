"""Who, when and what of each call, from what lies around its recording.

Metadata comes, weakest first, from the file name (Asterisk MixMonitor, FreePBX, FreeSWITCH uuid,
or the regexes in [batch] patterns), a CDR CSV (Asterisk Master.csv, FreeSWITCH cdr_csv, or any CSV
with a header naming a uniqueid/uuid or recording column), and a sidecar JSON beside the file
(`call.wav.json` or `call.json`). Each field remembers where it came from, for the evidence trail.
"""

from __future__ import annotations

import csv
import json
import re
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable, Iterator

from callaudit.config import LANGUAGES, Config
from callaudit.errors import CallauditError

UUID = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
ASTERISK_ID = r"\d{9,}\.\d+"  # epoch seconds . sequence

# Tried in order on the file name without its extension, after the user's [batch] patterns.
BUILTIN_PATTERNS = (
    # FreePBX: {direction}-{dialled}-{caller}-{YYYYMMDD}-{HHMMSS}-{uniqueid}
    rf"^(?P<direction>in|out|internal|external|exten|q\d*|rg\d*)-(?P<dst>[^-]+)-(?P<src>[^-]+)-(?P<date>\d{{8}})"
    rf"-(?P<time>\d{{6}})-(?P<uniqueid>{ASTERISK_ID})$",
    # MixMonitor with a date: …-{YYYYMMDD}-{HHMMSS}-{src}-{dst}-{uniqueid}
    rf"^(?:.*-)?(?P<date>\d{{8}})-(?P<time>\d{{6}})-(?P<src>[^-]+)-(?P<dst>[^-]+)-(?P<uniqueid>{ASTERISK_ID})$",
    # MixMonitor: …-{src}-{dst}-{uniqueid}
    rf"^(?:.*-)?(?P<src>[^-]+)-(?P<dst>[^-]+)-(?P<uniqueid>{ASTERISK_ID})$",
    # FreeSWITCH record_session ${uuid}.wav, or Asterisk ${UNIQUEID}.wav: the rest is in the CDR
    rf"^(?P<uuid>{UUID})$",
    rf"^(?P<uniqueid>{ASTERISK_ID})$",
)
GROUPS = {"src", "dst", "uniqueid", "uuid", "date", "time", "start", "extension", "direction", "language"}

# CDR CSV header names (lower case) for each field.
CDR_COLUMNS = {
    "uniqueid": ("uniqueid", "uuid", "call_uuid", "callid", "call_id", "linkedid"),
    "src": ("caller_id_number", "src", "source", "from", "caller"),
    "dst": ("destination_number", "dst", "destination", "to", "callee"),
    "start": ("start_stamp", "start", "calldate", "start_time", "started_at"),
    "extension": ("extension", "agent", "agent_extension"),
    "language": ("language",),
    "recording": ("recordingfile", "recording", "record_file", "recording_file"),
}
# Headerless layouts: column of each field. Asterisk cdr_csv with loguniqueid; FreeSWITCH's "example" template.
CDR_LAYOUTS = {
    "asterisk": {"src": 1, "dst": 2, "start": 9, "uniqueid": 16},
    "freeswitch": {"src": 1, "dst": 2, "start": 4, "uniqueid": 10},
}
SIDECAR_KEYS = {"src", "dst", "uniqueid", "uuid", "start", "extension", "agent", "language", "direction"}


# ---------------------------------------------------------------- metadata
def _compile(patterns: Iterable[str], where: str) -> list[re.Pattern]:
    out = []
    for i, p in enumerate(patterns, 1):
        try:
            rx = re.compile(p)
        except re.error as e:
            raise CallauditError(f"{where}: [batch] patterns #{i} {p!r}: not a valid regex ({e})") from None
        unknown = set(rx.groupindex) - GROUPS
        if unknown:
            raise CallauditError(f"{where}: [batch] patterns #{i}: unknown group(s) {', '.join(sorted(unknown))}; "
                                 f"known: {', '.join(sorted(GROUPS))}")
        out.append(rx)
    return out


def _local(dt: datetime) -> datetime:
    return dt if dt.tzinfo else dt.astimezone()  # PBX file names and CDRs are in the PBX's local time


def _iso_time(value: Any) -> str | None:
    if value in (None, ""):
        return None
    try:
        return _local(datetime.fromisoformat(str(value).strip())).isoformat()
    except ValueError:
        return None


def _from_name(stem: str, patterns: list[re.Pattern]) -> dict[str, Any]:
    for rx in patterns:
        m = rx.match(stem)
        if not m:
            continue
        g = {k: v for k, v in m.groupdict().items() if v}
        out: dict[str, Any] = {k: g[k] for k in ("src", "dst", "extension", "direction", "language") if k in g}
        if "uuid" in g or "uniqueid" in g:
            out["uniqueid"] = g.get("uniqueid") or g["uuid"].lower()
        if "start" in g:
            out["start"] = _iso_time(g["start"])
        elif "date" in g:
            try:
                stamp = datetime.strptime(g["date"] + g.get("time", "000000"), "%Y%m%d%H%M%S")
                out["start"] = _local(stamp).isoformat()
            except ValueError:
                pass
        elif re.fullmatch(ASTERISK_ID, out.get("uniqueid", "")):
            epoch = float(out["uniqueid"].split(".")[0])
            if 946684800 <= epoch <= 4102444800:  # 2000..2100: an epoch, not a counter
                out["start"] = datetime.fromtimestamp(epoch, timezone.utc).astimezone().isoformat()
        out["pattern"] = rx.pattern
        return {k: v for k, v in out.items() if v is not None}
    return {}


class CdrIndex:
    """CDR rows by call id (uniqueid/uuid) and by recording file name."""

    def __init__(self) -> None:
        self.by_id: dict[str, dict[str, Any]] = {}
        self.by_file: dict[str, dict[str, Any]] = {}

    def load(self, path: Path, wanted_ids: set[str], wanted_files: set[str], strict: bool) -> int:
        """Index the rows of `path` that concern the wanted calls (the others are not kept: a Master.csv
        holds years of calls); returns how many rows were CDR rows. `strict`: a file that is not a CDR
        is an error (named with --cdr) rather than an unrelated CSV lying in the folder."""
        try:
            with open(path, newline="", encoding="utf-8", errors="replace") as f:
                rows = csv.reader(f)
                first = next(rows, None)
                if first is None:
                    return 0
                header = [c.strip().lower() for c in first]
                cols = {k: next((header.index(a) for a in names if a in header), None)
                        for k, names in CDR_COLUMNS.items()}
                if cols["uniqueid"] is None and cols["recording"] is None:
                    cols, rows = None, _chain([first], rows)
                recognised = 0
                for row in rows:
                    layout = cols or _guess_layout(row)
                    if layout is None:
                        continue
                    recognised += 1
                    rec = {k: row[i].strip() for k, i in layout.items()
                           if i is not None and i < len(row) and row[i].strip()}
                    self._add(rec, path, wanted_ids, wanted_files)
        except OSError as e:
            raise CallauditError(f"CDR {path}: cannot read ({e.strerror})") from None
        except csv.Error as e:
            if strict:
                raise CallauditError(f"CDR {path}: not a readable CSV ({e})") from None
            return 0
        if strict and recognised == 0:
            raise CallauditError(f"CDR {path}: no header naming a uniqueid/uuid or recording column, and not an "
                                 "Asterisk Master.csv or FreeSWITCH cdr_csv layout")
        return recognised

    def _add(self, rec: dict[str, Any], path: Path, wanted_ids: set[str], wanted_files: set[str]) -> None:
        cid = rec.get("uniqueid", "").lower()
        fname = Path(rec.get("recording", "")).name
        if not (cid and cid in wanted_ids) and not (fname and fname in wanted_files):
            return
        if "start" in rec:
            rec["start"] = _iso_time(rec["start"])
        rec["cdr"] = str(path)
        if cid:
            self.by_id[cid] = rec
        if fname:
            self.by_file[fname] = rec


def _chain(first: list, rest: Iterator) -> Iterator:
    yield from first
    yield from rest


def _guess_layout(row: list[str]) -> dict[str, int] | None:
    if len(row) > 16 and re.fullmatch(ASTERISK_ID, row[16].strip()):
        return CDR_LAYOUTS["asterisk"]
    if len(row) > 10 and re.fullmatch(UUID, row[10].strip()):
        return CDR_LAYOUTS["freeswitch"]
    return None


def _sidecar(path: Path) -> tuple[Path | None, dict[str, Any]]:
    for side in (path.with_name(path.name + ".json"), path.with_suffix(".json")):
        if side.is_file():
            try:
                data = json.loads(side.read_text(encoding="utf-8"))
            except (UnicodeDecodeError, json.JSONDecodeError) as e:
                raise CallauditError(f"sidecar {side}: not valid JSON ({e}); fix or remove it") from None
            if not isinstance(data, dict):
                raise CallauditError(f"sidecar {side}: must hold a JSON object, e.g. "
                                     '{"extension": "1040", "language": "ru"}')
            return side, data
    return None, {}


class MetadataReader:
    """Reads each recording's metadata; build it once per batch (it compiles patterns, indexes CDRs)."""

    def __init__(self, config: Config, cdr_files: Iterable[Path] = ()):
        self.config = config
        b = config.batch
        self.patterns = _compile(b.patterns, config.source) + [re.compile(p) for p in BUILTIN_PATTERNS]
        self.extension_rx = re.compile(b.extension_pattern)
        self.roster = config.agents
        self.explicit_cdrs = [Path(p) for p in b.cdr] + [Path(p) for p in cdr_files]
        self.cdr = CdrIndex()

    def index_cdrs(self, recordings: list[Path], found_cdrs: Iterable[Path] = ()) -> None:
        """Load the CDR rows that concern `recordings` (explicit CDR files must exist and be CDRs)."""
        ids = {m["uniqueid"].lower() for m in (_from_name(p.stem, self.patterns) for p in recordings)
               if m.get("uniqueid")}
        files = {p.name for p in recordings}
        for path in self.explicit_cdrs:
            if not path.is_file():
                raise CallauditError(f"CDR {path}: no such file (from --cdr or [batch] cdr)")
            self.cdr.load(path, ids, files, strict=True)
        for path in found_cdrs:
            if path not in self.explicit_cdrs:
                self.cdr.load(path, ids, files, strict=False)

    def read(self, path: Path) -> dict[str, Any]:
        """Merged metadata: name < CDR < sidecar; `sources` says where each field came from.
        Raises CallauditError for a broken sidecar (the call would be misattributed without it)."""
        meta: dict[str, Any] = {}
        sources: dict[str, str] = {}

        def merge(values: dict[str, Any], source: str) -> None:
            for k, v in values.items():
                if v not in (None, "") and k in SIDECAR_KEYS | {"pattern"}:
                    meta[k] = str(v) if k != "start" else v
                    sources[k] = source

        merge(_from_name(path.stem, self.patterns), "name")
        row = self.cdr.by_file.get(path.name) or self.cdr.by_id.get(str(meta.get("uniqueid", "")).lower())
        if row:
            merge(row, f"cdr:{row['cdr']}")
        side, data = _sidecar(path)
        if side:
            if "start" in data:
                data = {**data, "start": _iso_time(data["start"])}
            if "agent" in data and "extension" not in data:
                data = {**data, "extension": data["agent"]}
            merge(data, f"sidecar:{side}")
            extra = {k: v for k, v in data.items() if k not in SIDECAR_KEYS}
            if extra:
                meta["extra"] = extra
        if "language" in meta and meta["language"] not in LANGUAGES:
            # Judging a call in a language it is not in gives nonsense verdicts: refuse it in one line.
            where = sources["language"].replace(":", " ", 1) if sources["language"] != "name" else "file name"
            raise CallauditError(f"{where}: language {meta['language']!r} is not one callaudit scores: use "
                                 f"{', '.join(LANGUAGES)}")
        if "uuid" in meta and "uniqueid" not in meta:
            meta["uniqueid"] = meta.pop("uuid")
        meta.pop("agent", None)
        if "extension" not in meta:
            ext = self.agent_extension(meta.get("src"), meta.get("dst"))
            if ext:
                meta["extension"] = ext
                sources["extension"] = "roster" if ext in self.roster else "extension_pattern"
        meta["sources"] = sources
        return meta

    def agent_extension(self, src: str | None, dst: str | None) -> str | None:
        """Which party is the agent: the one in the roster, else the one that looks like an extension."""
        for side in (src, dst):
            if side and side in self.roster:
                return side
        for side in (src, dst):
            if side and self.extension_rx.match(side):
                return side
        return None
