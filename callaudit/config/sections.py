"""The config file's sections as typed, frozen records: one class per [section], one field per key.

Each field's metadata says what a value must be (limits, choices, a path to make absolute), so that
the loader checks every key from one description and config.example.toml cannot drift from it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

LANGUAGES = ("ru", "en", "auto")
# CTranslate2's types; any other fails only when the model loads, and reads like a damaged model then.
COMPUTE_TYPES = ("int8", "int8_float32", "int8_float16", "int8_bfloat16", "int16", "float32", "float16",
                 "bfloat16", "auto", "default")
ROLES = ("agent", "customer")
HOTWORDS = ("off", "names", "phrases")
TRANSPORTS = ("udp", "tcp", "tls")


def setting(default: Any, *, low: float | None = None, high: float | None = None, choices: tuple | None = None,
            path: bool = False, secret: bool = False, cron: bool = False) -> Any:
    """A key with its default and what a value must be. `path`: a file or folder, made absolute at load
    (relative to the config file's folder); "" means "not set". `secret`: its value never appears in a
    message (a nightly job's log keeps every line it prints). `cron`: a cron line (5 fields, or 6 with
    seconds last), "" meaning "never"."""
    return field(default=default, metadata={"low": low, "high": high, "choices": choices, "path": path,
                                            "secret": secret, "cron": cron})


@dataclass(frozen=True)
class ModelSettings:
    name: str = "base"                      # catalog name or a folder path
    dir: str = setting("", path=True)       # where catalog models live; "" = the default
    threads: int = setting(2, low=1)
    beam_size: int = setting(5, low=1, high=20)    # greedy (1) loses Russian words: see config.example.toml
    batched: bool = True
    batch_size: int = setting(8, low=1)
    dense: bool = False                     # pack both parties' speech into full 30 s windows (transcript/dense.py)
    join_silence: float = setting(0.5, low=0.0, high=5.0)  # s of silence at each join inside a dense window
    compute_type: str = setting("int8", choices=COMPUTE_TYPES)


@dataclass(frozen=True)
class TranscriptionSettings:
    # Outside these limits a value crashes the model or, worse, silently hears nothing
    # (vad_threshold 1.5: no speech at all, every call dead air).
    language: str = setting("ru", choices=LANGUAGES)
    vad_threshold: float = setting(0.5, low=0.01, high=0.99)
    min_silence: float = setting(0.3, low=0.0, high=10.0)   # s of quiet that ends a stretch of speech
    turn_gap: float = setting(1.0, low=0.0, high=60.0)      # s of quiet inside one speaker's turn
    hotwords: str = setting("off", choices=HOTWORDS)         # what Whisper is told to expect (analysis/hotwords.py)


@dataclass(frozen=True)
class AudioSettings:
    left: str = setting("agent", choices=ROLES)
    right: str = setting("customer", choices=ROLES)


@dataclass(frozen=True)
class CompanySettings:
    name: str = ""


@dataclass(frozen=True)
class DiarizationSettings:                  # mono recordings and listen-ins: who is agent, who customer
    enabled: bool = True
    min_separation: float = 0.25            # below: one voice (or two not told apart)
    min_confidence: float = 0.6             # below: "roles uncertain", role rules not evaluated


@dataclass(frozen=True)
class SipSettingsSection:                   # the PBX that `listen` and `spot-check` dial
    host: str = ""
    port: int = 5060
    transport: str = setting("udp", choices=TRANSPORTS)
    tls_ca_file: str = setting("", path=True)  # CA (PEM) that signed the PBX's certificate; "" = the system CAs
    tls_verify: bool = True                 # false: no certificate check (a lab only; listen warns)
    user: str = ""
    password: str = setting("", secret=True)  # better: $CALLAUDIT_SIP_PASSWORD (applied at load, wins)
    domain: str = ""                        # "" = host
    register: bool = False
    local_port: int = 0                     # 0 = any free port
    spy_template: str = "*222{ext}"
    whisper_template: str = ""              # "" = spy_template, then DTMF
    barge_template: str = ""
    dtmf_listen: str = "4"                  # ChanSpy option d: 4 spy, 5 whisper, 6 barge; "" = send none
    dtmf_whisper: str = "5"
    dtmf_barge: str = "6"
    rtp_timeout: float = 10.0               # s without RTP that end a session (the peer vanished)
    connect_timeout: float = 5.0


@dataclass(frozen=True)
class ListenSettings:
    recordings: str = setting("recordings", path=True)  # folder for listen-in recordings (files mode 0600)
    supervisor: str = ""                    # who listens, for the audit; "" = the login name
    audit_log: str = setting("", path=True)  # also append each listen session as JSON lines here
    min_call: float = 2.0                   # a spy call ending sooner with no speech: agent not on a call


@dataclass(frozen=True)
class ScoringSettings:
    rules: str = setting("", path=True)     # a pack file; "" = the default pack for the language
    flag_below: float = setting(80.0, low=0.0, high=100.0)
    # The sentence embedder the packs' intents are judged with; "" = the pack's own ([pack] embedder),
    # or "use" where that cannot run. The pack must carry thresholds for it (`rules calibrate`).
    embedder: str = setting("", choices=("", "e5", "use", "e5+use"))


@dataclass(frozen=True)
class RedactionSettings:                    # masking numbers in every transcript shown or exported
    enabled: bool = True
    kinds: tuple[str, ...] = ("card", "phone", "passport")
    min_digits: int = 7                     # shorter runs of digits (amounts, times) stay readable
    patterns: tuple[str, ...] = ()          # extra regular expressions to mask


@dataclass(frozen=True)
class PolicySettings:                       # the disciplinary ladder HR reports recommend from
    window_days: int = 90                   # offences older than this no longer count
    severities: tuple[str, ...] = ("major", "critical")  # which failed findings are offences
    ladder: tuple[str, ...] = ("verbal warning", "written reprimand", "final warning")
    appeal_days: int = setting(14, low=1, high=3650)  # an agent may appeal a verdict this long after it


@dataclass(frozen=True)
class StoreSettings:
    # "" = ./callaudit.db; a SQLite file path (absolute after load) or a postgresql:// URL; $CALLAUDIT_DB wins.
    db: str = setting("", secret=True)      # a URL may carry a password
    lease_seconds: float = 30.0             # a claimed call returns to the queue this long after its worker dies
    poll_seconds: float = 2.0               # how often an idle worker looks for work
    max_attempts: int = 5                   # claims of one call (workers died on it) before it is failed
    # PostgreSQL: the procrastinate queue (jobs/pgqueue.py). A worker that sent no heartbeat for
    # stalled_seconds is dead: its job is put back by the check that runs on stalled_check (cron).
    heartbeat_seconds: float = setting(10.0, low=0.1)
    stalled_seconds: float = setting(60.0, low=0.5)
    stalled_check: str = setting("* * * * *", cron=True)


@dataclass(frozen=True)
class BatchSettings:
    workers: int = setting(1, low=0)        # worker processes, each loads the model once; 0 = only queue
    extensions: tuple[str, ...] = (".wav", ".flac", ".ogg", ".opus", ".mp3")
    patterns: tuple[str, ...] = ()          # extra file-name regexes, tried before the built-in ones
    cdr: tuple[str, ...] = ()               # CDR CSV files read besides those found next to recordings
    extension_pattern: str = r"^\d{2,6}$"   # what an agent's extension looks like
    min_age_seconds: float = 0.0            # skip files modified more recently (still recording)
    # PostgreSQL: `callaudit worker` queues the new files of `folders` on this cron schedule (no cron
    # job needed; several workers queue a scheduled time once). "" = never.
    schedule: str = setting("", cron=True)
    folders: tuple[str, ...] = ()


@dataclass(frozen=True)
class RequestsSettings:                     # customers' requests followed across calls (issue #12)
    enabled: bool = True                    # false: no requests extracted, no statuses recomputed
    timezone: str = "Europe/Moscow"         # the department's: deadlines are read and kept in it
    workday_start: str = "09:00"
    workday_end: str = "18:00"
    lunch_start: str = "13:00"
    lunch_end: str = "14:00"
    workdays: str = "mon-fri"               # "mon-fri", "mon-sat" or "mon,tue,thu"
    holidays: tuple[str, ...] = ()          # ISO dates nobody works on, e.g. "2027-01-01"
    default_due_hours: float = setting(24.0, low=0.1, high=2160.0)  # nothing said about when
    grace_minutes: float = setting(30.0, low=0.0, high=10080.0)     # after the deadline, still in time
    region: str = "RU"                      # how national numbers (8 916 ...) are read
    own_numbers: tuple[str, ...] = ()       # the department's own numbers (DIDs): never a customer
    problem_topics: tuple[str, ...] = ("no-connection", "slow-speed", "outage", "billing", "unanswered")
    pack: str = setting("", path=True)      # the requests phrase pack; "" = rules/requests/requests.<lang>.toml
    embedder: str = setting("e5+use", choices=("e5+use", "e5", "use"))


@dataclass(frozen=True)
class RosterAgent:
    """A person in [roster]: the extension they answer on; other fields (email, team, …) are kept."""

    extension: str
    name: str = ""
    department: str = ""
    extra: tuple[tuple[str, Any], ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {**dict(self.extra), "extension": self.extension, "name": self.name, "department": self.department}


WEB_LANGUAGES = ("ru", "en")


@dataclass(frozen=True)
class WebSettings:                          # the workspace: `callaudit serve`
    host: str = "127.0.0.1"
    port: int = setting(8080, low=1, high=65535)
    language: str = setting("ru", choices=WEB_LANGUAGES)  # the interface's language
    # Signs the session cookies. Better: secret_file (a file holding it, mode 0600); "" for both = a new
    # random key each start (every session ends when the server restarts).
    secret_key: str = setting("", secret=True)
    secret_file: str = setting("", path=True)
    session_minutes: int = setting(480, low=1, high=60 * 24 * 30)  # a session ends this long after login
    secure_cookies: bool = False            # true: cookies only over HTTPS even when TLS ends at a proxy
    # Single sign-on: a reverse proxy that authenticated the user names the account in this header;
    # honoured only from trusted_proxies (addresses or networks), ignored from anyone else.
    trusted_proxy_header: str = ""
    trusted_proxies: tuple[str, ...] = ()
    throttle_attempts: int = setting(5, low=1, high=1000)   # failed logins of one account before a pause
    throttle_address_attempts: int = setting(20, low=1, high=10000)  # ... from one address
    throttle_minutes: int = setting(15, low=1, high=24 * 60)  # how long failures count, and the pause


# section name -> its record, in the order config.example.toml documents them
SECTIONS: dict[str, type] = {
    "model": ModelSettings, "transcription": TranscriptionSettings, "audio": AudioSettings,
    "company": CompanySettings, "diarization": DiarizationSettings, "sip": SipSettingsSection,
    "listen": ListenSettings, "scoring": ScoringSettings, "redaction": RedactionSettings,
    "policy": PolicySettings, "store": StoreSettings, "batch": BatchSettings, "web": WebSettings,
    "requests": RequestsSettings,
}
