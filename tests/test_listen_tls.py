"""Listen-in over SIP/TLS against a real TLS peer: the PBX's certificate is verified, or nothing is dialled.

The PBX is SIPp behind a TLS listener (sip_peer.TlsFront: Debian's SIPp has no TLS of its own), with
certificates made here by the openssl CLI: a test CA, a certificate for 127.0.0.1 signed by it, one for
another address, and one signed by a CA nobody trusts.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from clihelp import one_error_line
from sip_peer import CALL, PASSWORD, Sipp, assert_recording_matches, build_stream, read_pcm, rows, run_cli, write_config

pytestmark = pytest.mark.skipif(os.system("command -v sipp >/dev/null && command -v openssl >/dev/null") != 0,
                                reason="sipp or openssl not installed")


def _openssl(folder: Path, *args: str) -> None:
    subprocess.run(["openssl", *args], cwd=folder, check=True, capture_output=True)


def _ca(folder: Path, name: str) -> Path:
    _openssl(folder, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
             "-keyout", f"{name}.key", "-out", f"{name}.pem", "-subj", f"/CN={name}", "-days", "2",
             "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign")
    return folder / f"{name}.pem"


def _server(folder: Path, name: str, ca: str, ip: str) -> tuple[Path, Path]:
    """A PBX certificate for `ip` (an IP address SAN, as for a PBX dialled by address) signed by `ca`."""
    _openssl(folder, "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
             "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", "/CN=pbx.test")
    (folder / f"{name}.ext").write_text(f"subjectAltName=IP:{ip}\nbasicConstraints=CA:FALSE\n"
                                        "keyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n")
    _openssl(folder, "x509", "-req", "-in", f"{name}.csr", "-CA", f"{ca}.pem", "-CAkey", f"{ca}.key",
             "-CAcreateserial", "-out", f"{name}.pem", "-days", "2", "-extfile", f"{name}.ext")
    return folder / f"{name}.pem", folder / f"{name}.key"


@pytest.fixture(scope="module")
def pki(tmp_path_factory) -> dict:
    folder = tmp_path_factory.mktemp("pki")
    return {"ca": _ca(folder, "test-pbx-ca"), "rogue-ca": _ca(folder, "rogue-ca"),
            "pbx": _server(folder, "pbx", "test-pbx-ca", "127.0.0.1"),
            "other-host": _server(folder, "other-host", "test-pbx-ca", "127.0.0.2"),
            "rogue": _server(folder, "rogue", "rogue-ca", "127.0.0.1")}


def _tls_config(folder: Path, port: int, ca_file: str | Path, verify: bool = True) -> Path:
    return write_config(folder, port, transport="tls",
                        sip_extra=f'tls_ca_file = "{ca_file}"\ntls_verify = {str(verify).lower()}')


@pytest.mark.slow
def test_listen_over_tls_records_and_audits_the_call(tmp_path, pki):
    ref, ulaw, seconds, _ = build_stream(tmp_path, CALL[:3])  # 11 s: enough speech to compare
    with Sipp("spy.xml", tmp_path, "-key", "stream", f"{ulaw},1,0", "-d", str(int(seconds * 1000)),
              tls=pki["pbx"]) as pbx:
        cfg = _tls_config(tmp_path, pbx.port, pki["ca"])
        proc = run_cli(cfg, "listen", "1042", "--no-audio", "--json")
    assert proc.returncode == 0, proc.stderr[-3000:]
    (s,) = json.loads(proc.stdout)
    assert s["result"] == "completed" and s["ended_by"] == "peer"
    assert "warning" not in proc.stderr
    got = read_pcm(s["recording"])
    assert abs(len(got) / 8000 - seconds) < 0.5, (len(got) / 8000, seconds)
    assert_recording_matches(read_pcm(ref), got)
    assert s["verdict"]["call"]["sha256"] == s["sha256"]
    db = tmp_path / "callaudit.db"
    assert rows(db, "select extension, result from listen_sessions") == [("1042", "completed")]
    assert PASSWORD not in proc.stdout + proc.stderr and PASSWORD.encode() not in db.read_bytes()


@pytest.mark.parametrize("cert,ca,expect", [
    ("rogue", "ca", ["could not be verified (The certificate is untrusted)", "set [sip] tls_ca_file"]),
    ("pbx", "", ["could not be verified (The certificate is untrusted)"]),  # "" = system CAs: not our test CA
    ("other-host", "ca", ["certificate does not name 127.0.0.1", "set [sip] host"]),
])
def test_a_certificate_that_fails_verification_stops_before_dialling(tmp_path, pki, cert, ca, expect):
    with Sipp("reject.xml", tmp_path, tls=pki[cert]) as pbx:
        proc = run_cli(_tls_config(tmp_path, pbx.port, pki[ca] if ca else ""), "listen", "1042", "--no-audio",
                       timeout=30)
        assert pbx.front.forwarded == 0  # no INVITE (not one byte of SIP) reached the PBX
    assert proc.returncode == 2
    line = one_error_line(proc, f"PBX 127.0.0.1:{pbx.port} (tls): its certificate", *expect)
    assert "does not answer" not in line and PASSWORD not in proc.stdout + proc.stderr
    db = tmp_path / "callaudit.db"
    ((result,),) = rows(db, "select result from listen_sessions")
    assert result.startswith("failed: 503 certificate refused: The "), result
    assert not list((tmp_path / "recordings").glob("*.wav"))
    assert PASSWORD.encode() not in db.read_bytes()


def test_tls_verify_false_connects_to_any_certificate_and_warns(tmp_path, pki):
    with Sipp("stream_until_bye.xml", tmp_path, replace={'<exec rtp_stream="[stream]"/>': ""},
              tls=pki["rogue"]) as pbx:
        proc = run_cli(_tls_config(tmp_path, pbx.port, "", verify=False), "listen", "1042", "--no-audio",
                       "--no-record", "--duration", "1", "--json")
        assert pbx.wait(10) == 0  # SIPp saw the whole call, our BYE included, over TLS
    assert proc.returncode == 0, proc.stderr[-3000:]
    (s,) = json.loads(proc.stdout)
    assert s["result"] == "completed" and s["ended_by"] == "duration"
    warnings = [line for line in proc.stderr.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1 and "tls_verify = false" in warnings[0] and "not checked" in warnings[0], proc.stderr


@pytest.mark.parametrize("content,expect", [(None, "not found: "), ("not a certificate\n", "holds no PEM")])
def test_a_bad_tls_ca_file_is_one_config_error(tmp_path, content, expect):
    ca = tmp_path / "pbx-ca.pem"
    if content is not None:
        ca.write_text(content)
    cfg = _tls_config(tmp_path, 5061, "pbx-ca.pem")  # relative: to the config file's folder
    proc = run_cli(cfg, "listen", "1042", "--no-audio", timeout=30)
    assert proc.returncode == 2
    one_error_line(proc, f"{cfg}: [sip] tls_ca_file = '{ca}': ", expect)
    assert not (tmp_path / "callaudit.db").exists()  # nothing dialled, nothing to audit
