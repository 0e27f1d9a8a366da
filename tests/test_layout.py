"""The house's rooms: the layers import one way only (import-linter), no module grows into two concerns,
and a plain (non-editable) install carries the default rule packs."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def _lint(cwd: Path, pythonpath: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(pythonpath)}
    return subprocess.run([str(BIN / "lint-imports"), "--no-cache"], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=300)


def test_the_layers_contract_holds():
    out = _lint(ROOT, ROOT)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "1 kept, 0 broken" in out.stdout


def test_a_lower_layer_importing_the_cli_breaks_the_contract(tmp_path):
    shutil.copytree(ROOT / "callaudit", tmp_path / "callaudit", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    decode = tmp_path / "callaudit" / "audio" / "decode.py"
    decode.write_text(decode.read_text() + "\n\ndef _oops():\n    from callaudit.cli import main  # noqa\n")
    out = _lint(tmp_path, tmp_path)
    assert out.returncode != 0, out.stdout
    assert "BROKEN" in out.stdout and "callaudit.audio.decode -> callaudit.cli.main" in out.stdout, out.stdout


def test_no_module_holds_two_concerns():
    """A module past ~400 lines is two concerns (STYLE.md): split it by concern."""
    long = {str(p.relative_to(ROOT)): n for p in (ROOT / "callaudit").rglob("*.py")
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > 400}
    assert not long, long


def _clean_checkout(dest: Path) -> Path:
    """The files a clone holds (committed or not, never ignored ones): setuptools reuses a build/ folder,
    and a stale one would smuggle deleted modules into the wheel."""
    listed = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=ROOT, capture_output=True,
                            text=True, check=True).stdout.splitlines()
    for name in listed:
        if (ROOT / name).is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, dest / name)
    return dest


def test_a_wheel_carries_the_default_packs_and_rules_list_works_from_it(tmp_path):
    source = _clean_checkout(tmp_path / "checkout")
    build = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q",
                            "-w", str(tmp_path / "dist"), str(source)], capture_output=True, text=True, timeout=600)
    assert build.returncode == 0, build.stderr[-3000:]
    (wheel,) = (tmp_path / "dist").glob("callaudit-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    for pack in sorted((ROOT / "rules").glob("*.toml")):
        assert f"callaudit/analysis/default_rules/{pack.name}" in names, names
    site = tmp_path / "site"
    install = subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(site),
                              str(wheel)], capture_output=True, text=True, timeout=600)
    assert install.returncode == 0, install.stderr[-3000:]
    # From a folder that is not the checkout, with the installed copy first on the path.
    env = {k: v for k, v in os.environ.items() if not k.startswith("CALLAUDIT")}
    out = subprocess.run([sys.executable, "-m", "callaudit", "rules", "list"], cwd=tmp_path, capture_output=True,
                         text=True, env={**env, "PYTHONPATH": str(site)}, timeout=120)
    assert out.returncode == 0, out.stderr
    shipped = site / "callaudit" / "analysis" / "default_rules"
    assert f"{shipped / 'client-service.ru.toml'}" in out.stdout and "greeting" in out.stdout, out.stdout


def test_no_module_shadows_the_standard_library():
    clash = [str(p.relative_to(ROOT)) for p in (ROOT / "callaudit").rglob("*.py")
             if (p.stem if p.stem != "__init__" else p.parent.name) in sys.stdlib_module_names]
    assert not clash, clash
