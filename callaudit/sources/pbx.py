"""The PBX as the supervisor's config names it ([sip]), and what its answers mean, in one line each.

No pjsua2 here: the settings are checked, and refusals explained, before (and without) a SIP stack.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from callaudit.config import Config
from callaudit.errors import CallauditError

MODES = ("listen", "whisper", "barge")
PASSWORD_ENV = "CALLAUDIT_SIP_PASSWORD"   # applied to [sip] password when the config loads
NOT_ON_A_CALL = (480, 486, 487, 600, 603)   # what a PBX answers a spy attempt on an idle agent
SYSTEM_CAS = "/etc/ssl/certs/ca-certificates.crt"   # Debian's ca-certificates bundle
CERT_REFUSED = "certificate refused"        # our reason when we refuse the PBX's certificate (the audit keeps 64)


class SipError(CallauditError):
    """A spy attempt that failed; `code` is the SIP status (0: no answer from the PBX)."""

    def __init__(self, message: str, code: int = 0):
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class SipSettings:
    """The [sip] section, checked. The password never appears in repr, logs or records."""

    host: str
    port: int = 5060
    transport: str = "udp"
    user: str = ""
    password: str = field(default="", repr=False)
    domain: str = ""
    register: bool = False
    local_port: int = 0
    spy_template: str = "*222{ext}"
    whisper_template: str = ""
    barge_template: str = ""
    dtmf: dict = field(default_factory=lambda: {"listen": "4", "whisper": "5", "barge": "6"})
    rtp_timeout: float = 10.0
    connect_timeout: float = 5.0
    tls_ca_file: str = ""          # checked to exist; used when transport is tls
    tls_verify: bool = True

    @classmethod
    def from_config(cls, cfg: Config) -> "SipSettings":
        s = cfg.sip
        if not s.host:
            raise CallauditError(f"{cfg.source}: [sip] host is not set: name the PBX (see config.example.toml)")
        for key in ("spy_template", "whisper_template", "barge_template"):
            value = getattr(s, key)
            if value and "{ext}" not in value:
                raise CallauditError(f"{cfg.source}: [sip] {key} = {value!r} has no {{ext}}: "
                                     "write where the extension goes, e.g. \"*222{ext}\"")
        ca_file = _ca_file(cfg) if s.transport == "tls" and s.tls_verify else ""
        return cls(host=s.host, port=s.port, transport=s.transport, user=s.user, password=s.password,
                   domain=s.domain or s.host, register=s.register, local_port=s.local_port,
                   spy_template=s.spy_template, whisper_template=s.whisper_template,
                   barge_template=s.barge_template,
                   dtmf={"listen": s.dtmf_listen, "whisper": s.dtmf_whisper, "barge": s.dtmf_barge},
                   rtp_timeout=s.rtp_timeout, connect_timeout=s.connect_timeout,
                   tls_ca_file=ca_file, tls_verify=s.tls_verify)

    @property
    def insecure(self) -> str:
        """A warning line when the PBX's certificate goes unchecked; "" otherwise."""
        if self.transport != "tls" or self.tls_verify:
            return ""
        return (f"warning: [sip] tls_verify = false: the certificate of PBX {self.where} is not checked, "
                "so anyone on the path could listen in unnoticed; set tls_ca_file and tls_verify = true")

    @property
    def where(self) -> str:
        return f"{self.host}:{self.port} ({self.transport})"

    def number(self, ext: str, mode: str) -> str:
        """What to dial to spy on `ext` in `mode`: the mode's own template, else the spy template."""
        template = {"whisper": self.whisper_template, "barge": self.barge_template}.get(mode) or self.spy_template
        return template.format(ext=ext)

    def uri(self, number: str) -> str:
        tail = "" if self.transport == "udp" else f";transport={self.transport}"
        return f"sip:{number}@{self.host}:{self.port}{tail}"


def _ca_file(cfg: Config) -> str:
    """[sip] tls_ca_file (made absolute when the config loaded) checked for pjsua, or the system CAs."""
    raw = cfg.sip.tls_ca_file
    path = Path(raw or SYSTEM_CAS)
    key = f"{cfg.source}: [sip] tls_ca_file = {raw!r}"
    if not path.is_file():
        if not raw:
            raise CallauditError(f"{key}: the system CA bundle {SYSTEM_CAS} is not there: install ca-certificates, "
                                 "or name the CA that signed the PBX's certificate")
        raise CallauditError(f"{key}: not found: name the PEM file of the CA that signed the PBX's "
                             "certificate, or \"\" for the system CAs")
    try:
        pem = path.read_bytes()
    except OSError as e:
        raise CallauditError(f"{key}: cannot read {path} ({e.strerror})") from None
    if b"-----BEGIN CERTIFICATE-----" not in pem:  # pjsua would fail each call with "Unknown OpenSSL error"
        raise CallauditError(f"{key}: holds no PEM certificate: name the CA certificate "
                             "(-----BEGIN CERTIFICATE-----)")
    return str(path)


def failure_message(settings: SipSettings, number: str, code: int, reason: str) -> str:
    """One line saying why a spy attempt failed and what to do about it."""
    said = f"{code} {reason}".strip()
    if reason.startswith(CERT_REFUSED):  # see _Endpoint.refused: what the TLS check found follows
        why = reason.partition(": ")[2] or "no detail"
        if "identity" in why and ";" not in why:  # the name alone is wrong: a CA file would not help
            return (f"PBX {settings.where}: its certificate does not name {settings.host} ({why}): set [sip] host "
                    "to a name (or IP address) the certificate carries")
        return (f"PBX {settings.where}: its certificate could not be verified ({why}): set [sip] tls_ca_file "
                "to the CA that signed it")
    if code in (401, 407):
        return (f"PBX {settings.where} refused the credentials of user '{settings.user}' ({said}): "
                f"check [sip] user and the password (${PASSWORD_ENV} or [sip] password)")
    if code == 403:
        return f"PBX {settings.where} forbids user '{settings.user}' to dial {number} ({said}): ask the PBX admin"
    if code == 404:
        return f"PBX {settings.where} knows no {number} ({said}): check the extension and [sip] spy_template"
    if code in NOT_ON_A_CALL:
        return f"{number}: the agent is not on a call, or the PBX refused the spy ({said})"
    if code in (0, 408, 502, 503) or code >= 700:
        return (f"PBX {settings.where} does not answer ({said or 'no reply'}): check [sip] host, port, transport, "
                f"and that the PBX is up")
    return f"PBX {settings.where} answered {said} to {number}"
