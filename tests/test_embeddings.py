"""The speaker model: installed from its pinned wheel without torch, and the numpy network gives
the reference network's voice prints.

tests/data/ge2e_reference.npz holds real speech, librosa's mel spectrogram of it, 1.6 s mel
windows and the embeddings that Resemblyzer's network in torch gave for them (written by
bench/speaker_port.py --write; no weights in it). Where torch is installed, the port is also
compared with the live reference network.
"""

from __future__ import annotations

import io
import pickle
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
from clihelp import offline_python

from callaudit import models
from callaudit.audio import embeddings
from callaudit.errors import CallauditError
from callaudit.torchfile import load_checkpoint

REFERENCE = Path(__file__).parent / "data/ge2e_reference.npz"


@pytest.fixture(scope="module")
def encoder():
    return embeddings.load(models.resolve("speaker-ge2e"))


@pytest.fixture(scope="module")
def reference():
    with np.load(REFERENCE) as z:
        return {k: z[k] for k in z.files}


def test_the_installed_speaker_model_is_verified_and_runs_without_torch(encoder):
    assert models.verify("speaker-ge2e") == []
    assert "torch" not in sys.modules
    assert encoder.linear_w.shape == (256, 256) and len(encoder.lstm) == 3


def test_the_numpy_network_gives_the_reference_networks_voice_prints(encoder, reference):
    got = encoder.embed(reference["mels"])
    cosines = (got * reference["embeddings"]).sum(axis=1)
    assert cosines.min() > 0.999, cosines
    assert np.allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)


def test_the_numpy_front_end_gives_librosas_mel_spectrogram(reference):
    got = embeddings.mel_frames(reference["samples"])
    want = reference["librosa_mel"]
    assert got.shape == want.shape
    assert np.abs(got - want).max() <= 1e-5 * np.abs(want).max()


def test_the_port_matches_torch_itself_when_torch_is_installed(encoder, reference):
    torch = pytest.importorskip("torch", reason="torch is not installed: the stored reference outputs were "
                                                "checked instead (bench/speaker_port.py compares live)")
    from torch import nn

    lstm, linear = nn.LSTM(40, 256, 3, batch_first=True), nn.Linear(256, 256)
    with np.load(models.resolve("speaker-ge2e") / embeddings.WEIGHTS) as z:
        lstm.load_state_dict({k[5:]: torch.from_numpy(z[k]) for k in z.files if k.startswith("lstm.")})
        linear.load_state_dict({k[7:]: torch.from_numpy(z[k]) for k in z.files if k.startswith("linear.")})
    with torch.no_grad():
        _, (hidden, _) = lstm(torch.from_numpy(reference["mels"]))
        raw = torch.relu(linear(hidden[-1]))
        want = (raw / torch.norm(raw, dim=1, keepdim=True)).numpy()
    assert (encoder.embed(reference["mels"]) * want).sum(axis=1).min() > 0.999


def test_a_checkpoint_that_would_run_code_is_refused():
    class Evil:
        def __reduce__(self):
            return (print, ("this must never run",))

    payload = io.BytesIO()
    with zipfile.ZipFile(payload, "w") as z:
        z.writestr("archive/data.pkl", pickle.dumps({"model_state": Evil()}, protocol=2))
    with pytest.raises(CallauditError, match=r"\.print, which a plain state dict"):
        load_checkpoint(payload.getvalue())


def test_installing_from_a_damaged_wheel_leaves_no_model(tmp_path):
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    name = "Resemblyzer-0.1.4-py3-none-any.whl"
    with zipfile.ZipFile(wheels / name, "w") as z:
        z.writestr("resemblyzer/pretrained.pt", b"\x80\x02" + b"\x00" * 64)
        z.writestr("Resemblyzer-0.1.4.dist-info/LICENSE", models.resolve("speaker-ge2e").joinpath("LICENSE").read_bytes())
        z.writestr("Resemblyzer-0.1.4.dist-info/METADATA", "Metadata-Version: 2.1\nName: Resemblyzer\nVersion: 0.1.4\n")
        z.writestr("Resemblyzer-0.1.4.dist-info/WHEEL", "Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n")
        z.writestr("Resemblyzer-0.1.4.dist-info/RECORD", "")
    with pytest.raises(CallauditError, match="pretrained.pt has sha256"):
        models.install("speaker-ge2e", tmp_path / "models", wheels)
    assert not (tmp_path / "models/speaker-ge2e").exists()


def test_the_speaker_model_loads_and_gives_the_reference_prints_with_the_network_cut():
    proc = offline_python(f"""
        import sys
        import numpy as np
        from callaudit import models
        from callaudit.audio import embeddings
        enc = embeddings.load(models.resolve("speaker-ge2e"))
        with np.load({str(REFERENCE)!r}) as z:
            got = enc.embed(z["mels"])
            print("min cosine", float((got * z["embeddings"]).sum(axis=1).min()), "torch" in sys.modules)
    """, timeout=300)
    cosine, torch_loaded = proc.stdout.split()[-2:]
    assert float(cosine) > 0.999 and torch_loaded == "False", proc.stdout
