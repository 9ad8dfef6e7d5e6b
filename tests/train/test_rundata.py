"""Where a checkpoint's training data is now: `--data`, else the recorded path as given or beside the checkpoint."""

from sqz.train.rundata import training_data


def _payload(data=None):
    return {"record": {"config": {} if data is None else {"data": data}}}


def test_the_recorded_path_is_found_as_given_else_beside_the_checkpoint_else_gone(tmp_path, monkeypatch):
    run, elsewhere = tmp_path / "run", tmp_path / "elsewhere"
    run.mkdir()
    elsewhere.mkdir()
    (run / "d.npz").write_bytes(b"")
    monkeypatch.chdir(elsewhere)
    assert training_data(_payload(str(run / "d.npz")), run) == (str(run / "d.npz"), str(run / "d.npz"))
    assert training_data(_payload("d.npz"), run) == ("d.npz", str(run / "d.npz"))
    (elsewhere / "d.npz").write_bytes(b"")
    assert training_data(_payload("d.npz"), run) == ("d.npz", "d.npz")
    assert training_data(_payload("gone.npz"), run) == ("gone.npz", None)


def test_data_given_wins_and_fashion_mnist_is_the_default(tmp_path):
    assert training_data(_payload("gone.npz"), tmp_path, str(tmp_path)) == (str(tmp_path), str(tmp_path))
    assert training_data(_payload(), tmp_path) == ("fashion-mnist", "fashion-mnist")
    assert training_data({}, tmp_path) == ("fashion-mnist", "fashion-mnist")
