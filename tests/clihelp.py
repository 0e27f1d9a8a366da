"""What every bad-input test checks: one line from callaudit on stderr and a non-zero exit."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest
from click.testing import CliRunner

from callaudit.cli.main import cli


def run(*args: str, env: dict | None = None, input: str | None = None):
    """The CLI in-process; catch_exceptions=False: a traceback fails the test instead of hiding.
    `input`: what stdin holds (a password, say)."""
    return CliRunner().invoke(cli, list(args), env=env, input=input, catch_exceptions=False)


def one_error_line(result, *must_contain: str) -> str:
    """Exactly one line on stderr, callaudit's own, and a non-zero exit: never a traceback.
    `result` is a CliRunner result or a subprocess.CompletedProcess."""
    code = result.exit_code if hasattr(result, "exit_code") else result.returncode
    assert code != 0, result.stdout
    assert "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("callaudit: error: "), lines[0]
    for text in must_contain:
        assert text in lines[0], f"{text!r} not in {lines[0]!r}"
    return lines[0]


_PROBE = """
import socket
try:
    socket.create_connection(("pypi.org", 443), timeout=2)
    print("NETWORK STILL UP")
except OSError:
    pass
"""


def offline_python(code: str, timeout: int = 600) -> subprocess.CompletedProcess:
    """`code` run by this Python in a process with the network cut (`unshare --net`), after checking
    the network is really gone; skips where the machine cannot cut it. Asserts the exit status."""
    if subprocess.run(["unshare", "--net", "--", "true"], capture_output=True).returncode != 0:
        pytest.skip("this machine does not let us cut the network (unshare --net needs root)")
    proc = subprocess.run(["unshare", "--net", "--", sys.executable, "-c", _PROBE + textwrap.dedent(code)],
                          capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, proc.stderr
    assert "NETWORK STILL UP" not in proc.stdout, proc.stdout
    return proc
