"""`--init imagenet` against a local HTTP server serving a generated torchvision-format state dict: downloaded
once into torch's hub cache and checked; a wrong checksum, a cut connection or no server keep nothing and say
in one line what to do; training starts from the cached file."""

from __future__ import annotations

import hashlib
import http.server
import threading
from pathlib import Path

import pytest
import torch

from sqz.errors import InputError, ModelFileError
from sqz.train import checkpoint, download
from tests.train.test_pretrained import _torchvision_net


class _Server:
    """Serves files from `root` on 127.0.0.1; `cut` names files sent only halfway (the connection then drops)."""

    def __init__(self, root: Path) -> None:
        self.root, self.cut, self.requests = root, set(), []
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                server.requests.append(self.path)
                f = server.root / self.path.lstrip("/")
                if not f.is_file():
                    self.send_error(404)
                    return
                data = f.read_bytes()
                self.send_response(200)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data[: len(data) // 2] if f.name in server.cut else data)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()


@pytest.fixture()
def served(tmp_path, monkeypatch):
    """A server holding squeezenet1_1-<its own sha256 prefix>.pth; TORCH_HOME and SQZ_WEIGHTS_URL point here."""
    root = tmp_path / "www"
    root.mkdir()
    blob = tmp_path / "sd.pth"
    torch.save(_torchvision_net("1.1").state_dict(), blob)
    name = f"squeezenet1_1-{hashlib.sha256(blob.read_bytes()).hexdigest()[:8]}.pth"
    (root / name).write_bytes(blob.read_bytes())
    server = _Server(root)
    monkeypatch.setitem(download.FILES, "1.1", name)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setenv("SQZ_WEIGHTS_URL", server.url)
    yield server, name
    server.httpd.shutdown()


def test_downloads_once_checks_and_reuses_the_cache(served):
    server, name = served
    path = download.imagenet("1.1", log=lambda m: None)
    assert path == download.cache_dir() / name and path.read_bytes() == (server.root / name).read_bytes()
    assert download.imagenet("1.1", log=lambda m: None) == path
    assert server.requests == [f"/{name}"], "the second call reads the cache"
    assert not list(path.parent.glob(".*part"))


def test_a_wrong_checksum_keeps_nothing(served):
    server, name = served
    (server.root / name).write_bytes(b"not the published weights")
    with pytest.raises(ModelFileError, match="is not the published .*nothing was kept"):
        download.imagenet("1.1", log=lambda m: None)
    assert not any(download.cache_dir().iterdir())


def test_a_cut_connection_keeps_no_partial_file(served):
    server, name = served
    server.cut.add(name)
    with pytest.raises(InputError, match=f"cannot download .*{name}.*fetch it yourself into"):
        download.imagenet("1.1", log=lambda m: None)
    assert not any(download.cache_dir().iterdir())


def test_offline_says_what_to_fetch_and_where(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setenv("SQZ_WEIGHTS_URL", "http://127.0.0.1:9/")  # nothing listens on the discard port
    with pytest.raises(InputError) as err:
        download.imagenet("1.0", log=lambda m: None)
    msg = str(err.value)
    assert "squeezenet1_0-b66bff10.pth" in msg and str(download.cache_dir()) in msg and "\n" not in msg


def test_training_starts_from_the_downloaded_weights(served, tmp_path):
    from click.testing import CliRunner

    from sqz.cli import main

    server, name = served
    r = CliRunner().invoke(
        main,
        [
            "train",
            "--data",
            "fashion-mnist",
            "--init",
            "imagenet",
            "--arch",
            "1.1",
            "--epochs",
            "1",
            "--limit",
            "64",
            "--batch-size",
            "32",
            "--workers",
            "0",
            "--out",
            str(tmp_path / "run"),
        ],
    )
    assert r.exit_code == 0, r.output[-1500:]
    assert f"downloading {server.url}{name}" in r.output and server.requests == [f"/{name}"]
    payload = torch.load(tmp_path / "run" / "model.pt", weights_only=True)
    assert payload["preprocess"]["channels"] == 3 and str(download.cache_dir() / name) in str(payload["record"])


def test_init_imagenet_trains_the_classifier_first_then_the_whole_net(served, tmp_path, small_dataset):
    """The default recipe from downloaded weights: after epoch 1 of 5 only the classifier has moved; by the end
    the features have too, at a tenth of the learning rate; the record and history say so."""
    from sqz.train import recipe
    from sqz.train.loop import TrainConfig, train

    server, name = served
    cfg = dict(init="imagenet", epochs=5, batch_size=32, limit=96, seed=0)
    first = train(TrainConfig(out=str(tmp_path / "a"), **cfg), dataset=small_dataset, progress=False, stop_after=1)
    assert first["fine_tune"] == {
        "classifier_epochs": 1,
        "features_lr_scale": recipe.FEATURES_LR_SCALE,
        "frozen_features": False,
    }
    tv = torch.load(download.cache_dir() / name, weights_only=True)
    after1 = checkpoint_state(tmp_path / "a" / "last.pt")
    assert torch.equal(after1["features.0.0.weight"], tv["features.0.weight"])
    assert torch.equal(after1["features.11.expand3x3.0.weight"], tv["features.12.expand3x3.weight"])
    rec = train(TrainConfig(out=str(tmp_path / "b"), **cfg), dataset=small_dataset, progress=False)
    assert [h["phase"] for h in rec["history"]] == ["classifier"] + ["whole net"] * 4
    end = checkpoint_state(tmp_path / "b" / "last.pt")
    assert not torch.equal(end["features.0.0.weight"], tv["features.0.weight"])
    groups = checkpoint.load_raw(tmp_path / "b" / "last.pt")["resume"]["optimizer"]["param_groups"]
    assert [g["max_lr"] for g in groups] == [pytest.approx(2e-3 * recipe.FEATURES_LR_SCALE), pytest.approx(2e-3)]


def checkpoint_state(path):
    return checkpoint.load_raw(path)["state_dict"]


def test_no_classifier_phase_from_scratch_or_with_frozen_features():
    from sqz.train import recipe

    assert recipe.head_epochs("", False, 40) == 0 and recipe.head_epochs("x.pth", True, 40) == 0
    assert recipe.head_epochs("x.pth", False, 40) == recipe.HEAD_EPOCHS_MAX
    assert recipe.head_epochs("x.pth", False, 5) == 1 and recipe.head_epochs("x.pth", False, 1) == 0
