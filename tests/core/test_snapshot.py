"""Snapshots: a run saved and read back equals the live record; broken files give reasons."""

from __future__ import annotations

import json
import math
import os
import pickle
import subprocess
import sys
import zipfile

import pytest
import torch

from case_tools import case_path
from torchlens_gui.core.engine.session import Session
from torchlens_gui.core.engine.tensor_keeper import TensorKeeper
from torchlens_gui.core.recording import snapshot
from torchlens_gui.core.recording.snapshot import SnapshotError, load_snapshot, save_snapshot


def _run(name: str, keeper=None):
    return Session(case_path(name), device="cpu", histograms=True, tensor_keeper=keeper).run()


def assert_same_record(live, opened):
    assert opened.file == live.file and opened.device == live.device
    assert opened.status == live.status and opened.phase == live.phase
    assert list(opened.nodes) == list(live.nodes)
    for path, node in live.nodes.items():  # module for module
        assert opened.nodes[path] == node, path
        assert opened.calls_of(path) == live.calls_of(path), path
    assert opened.calls == live.calls
    assert opened.backward_order == live.backward_order
    assert opened.diagnostics == live.diagnostics
    assert opened.log == live.log
    assert (opened.loss is None) == (live.loss is None)
    if live.loss is not None:
        assert opened.loss.summary == live.loss.summary
        assert opened.loss.surrogate == live.loss.surrogate
        same_nan = live.loss.value is not None and math.isnan(live.loss.value) \
            and math.isnan(opened.loss.value)
        assert same_nan or opened.loss.value == live.loss.value


@pytest.mark.parametrize("name", ["diag_clean_resnet", "diag_nan_backward", "diag_shape_linear",
                                  "eng_unregistered", "eng_structures", "diag_clean_gpt2",
                                  "eng_syntax_error"])
def test_a_snapshot_opened_equals_the_live_record(tmp_path, name):
    live = _run(name)
    path = tmp_path / "run.tlsnap"
    size = save_snapshot(live, str(path), tensors=False)
    assert size == os.path.getsize(path) > 0
    opened = load_snapshot(str(path))
    assert_same_record(live, opened)
    info = opened.snapshot
    assert info.version == snapshot.VERSION and info.environment["torch"] == torch.__version__
    assert info.sources[live.file] == open(live.file, encoding="utf-8").read()
    assert opened.tensors == {}


def test_kept_tensors_round_trip_bit_for_bit(tmp_path):
    keeper = TensorKeeper(pinned={"features.0"})
    live = _run("snap_conv_nan", keeper)
    # The call with the problem (NaN born in features.2) and the pinned conv are kept.
    roles = {(path, role) for path, _, role, _ in live.tensors}
    assert {("features.2", "output"), ("features.2", "input"), ("features.0", "output")} <= roles
    conv_out = live.tensors[("features.0", 0, "output", "")]
    assert conv_out.shape == (2, 6, 12, 12) and conv_out.device.type == "cpu"
    path = tmp_path / "run.tlsnap"
    save_snapshot(live, str(path))
    opened = load_snapshot(str(path))
    assert_same_record(live, opened)
    assert set(opened.tensors) == set(live.tensors)
    for key, tensor in live.tensors.items():
        assert torch.equal(opened.tensors[key].nan_to_num(7.0), tensor.nan_to_num(7.0)), key
        assert opened.tensors[key].isnan().sum() == tensor.isnan().sum()


def test_the_figures_of_every_training_step_round_trip(tmp_path):
    from torchlens_gui.core.engine.training_session import TrainingSession

    live = TrainingSession(case_path("train_contract"), steps=3, device="cpu",
                           histograms=True).run()
    assert len(live.steps) == 3
    path = tmp_path / "train.tlsnap"
    save_snapshot(live, str(path))
    opened = load_snapshot(str(path))
    assert list(opened.steps) == list(live.steps)
    assert [opened.steps.modules(i) for i in (1, 2, 3)] == \
        [live.steps.modules(i) for i in (1, 2, 3)]
    assert opened.steps.losses() == live.steps.losses()
    assert_same_record(live, opened)


def test_the_tensor_budget_is_respected():
    keeper = TensorKeeper(pinned={"features.0", "features.1", "head"}, max_bytes=10_000)
    live = _run("snap_conv_nan", keeper)
    kept = sum(t.numel() * t.element_size() for t in live.tensors.values())
    assert kept <= 10_000 and keeper.skipped > 0


def _write_zip(path, members: dict[str, bytes]) -> None:
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)


@pytest.fixture(scope="module")
def good_snapshot(tmp_path_factory):
    path = tmp_path_factory.mktemp("snap") / "good.tlsnap"
    save_snapshot(_run("diag_nan_log"), str(path))
    return path


def test_a_truncated_snapshot_says_so(tmp_path, good_snapshot):
    data = good_snapshot.read_bytes()
    broken = tmp_path / "cut.tlsnap"
    broken.write_bytes(data[: len(data) // 2])
    with pytest.raises(SnapshotError, match="truncated or damaged"):
        load_snapshot(str(broken))


def test_a_newer_snapshot_asks_for_an_update(tmp_path, good_snapshot):
    with zipfile.ZipFile(good_snapshot) as archive:
        manifest = json.loads(archive.read(snapshot.MANIFEST))
    manifest["version"] = snapshot.VERSION + 1
    newer = tmp_path / "newer.tlsnap"
    _write_zip(newer, {snapshot.MANIFEST: json.dumps(manifest).encode()})
    with pytest.raises(SnapshotError, match="newer torchlens-gui.*Update"):
        load_snapshot(str(newer))


@pytest.mark.parametrize("content, reason", [
    (b"import torch\nprint('hi')\n", "not a zip file"),
    (b"", "not a zip file"),
])
def test_a_file_that_is_not_a_snapshot_says_so(tmp_path, content, reason):
    path = tmp_path / "model.py"
    path.write_bytes(content)
    with pytest.raises(SnapshotError, match=reason):
        load_snapshot(str(path))
    assert not snapshot.looks_like_snapshot(str(path))
    assert snapshot.looks_like_snapshot(str(tmp_path / "renamed.tlsnap"))


def test_a_zip_without_our_manifest_is_not_a_snapshot(tmp_path):
    path = tmp_path / "other.zip"
    _write_zip(path, {"readme.txt": b"hello"})
    with pytest.raises(SnapshotError, match="not a torchlens-gui snapshot"):
        load_snapshot(str(path))


class Boom:
    def __reduce__(self):
        return (os.system, ("touch /tmp/torchlens_gui_pickle_ran",))


@pytest.mark.parametrize("member", ["data.pkl", "record"])
def test_a_pickle_member_is_refused_and_never_loaded(tmp_path, good_snapshot, member):
    marker = "/tmp/torchlens_gui_pickle_ran"
    if os.path.exists(marker):
        os.remove(marker)
    with zipfile.ZipFile(good_snapshot) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    members[member] = pickle.dumps(Boom())
    path = tmp_path / "evil.tlsnap"
    _write_zip(path, members)
    with pytest.raises(SnapshotError, match="pickle"):
        load_snapshot(str(path))
    assert not os.path.exists(marker)


def test_a_damaged_or_incomplete_snapshot_is_a_clear_error(tmp_path, good_snapshot):
    with zipfile.ZipFile(good_snapshot) as archive:
        arrays = archive.read(snapshot.SUMMARIES)
    manifest = json.dumps({"format": snapshot.FORMAT, "version": 1,
                           "record": {"nodes": 3}}).encode()
    path = tmp_path / "bad.tlsnap"
    _write_zip(path, {snapshot.MANIFEST: manifest, snapshot.SUMMARIES: arrays})
    with pytest.raises(SnapshotError, match="damaged"):
        load_snapshot(str(path))
    _write_zip(path, {snapshot.MANIFEST: manifest})
    with pytest.raises(SnapshotError, match="incomplete"):
        load_snapshot(str(path))
    _write_zip(path, {snapshot.MANIFEST: manifest, snapshot.SUMMARIES: arrays[:50]})
    with pytest.raises(SnapshotError, match="damaged"):
        load_snapshot(str(path))


def test_no_pickle_anywhere_in_the_snapshot_code():
    import torchlens_gui.core.recording as recording

    folder = os.path.dirname(recording.__file__)
    for name in ("snapshot.py", "record_codec.py"):
        text = open(os.path.join(folder, name), encoding="utf-8").read()
        assert "import pickle" not in text and "torch.load" not in text


def test_check_save_writes_a_snapshot_and_reports_unwritable_paths(tmp_path):
    out = tmp_path / "run.tlsnap"
    result = subprocess.run(
        [sys.executable, "-m", "torchlens_gui", "check", case_path("snap_conv_nan"), "--device",
         "cpu", "--json", "--save", str(out), "--save-tensors", "--pin", "features.0"],
        capture_output=True, text=True, timeout=120)
    assert result.returncode == 1, result.stderr
    json.loads(result.stdout)  # stdout stays one JSON object
    assert f"snapshot saved to {out}" in result.stderr
    opened = load_snapshot(str(out))
    assert ("features.0", 0, "output", "") in opened.tensors
    assert opened.snapshot.environment["command"][-1] == "features.0"
    bad = subprocess.run(
        [sys.executable, "-m", "torchlens_gui", "check", case_path("diag_nan_log"), "--device",
         "cpu", "--save", str(tmp_path / "missing" / "dir" / "x.tlsnap")],
        capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2
    assert "cannot write snapshot" in bad.stderr and "No such file or directory" in bad.stderr


def test_run_headless_saves_a_snapshot_and_a_report_of_a_training_script(tmp_path, capsys):
    from torchlens_gui.cli import main

    script = os.path.join(os.path.dirname(case_path("x")), "scripts", "argparse_train.py")
    snap, page = tmp_path / "train.tlsnap", tmp_path / "train.html"
    code = main(["run", "--headless", "--steps", "3", "--save", str(snap), "--html", str(page),
                 script, "--lr", "0.1", "--steps", "50"])
    err = capsys.readouterr().err
    assert code == 0 and f"snapshot saved to {snap}" in err and f"report written to {page}" in err
    opened = load_snapshot(str(snap))
    assert len(opened.steps) == 3 and opened.steps.losses()[0] > opened.steps.losses()[2]
    assert opened.snapshot.sources[script] == open(script, encoding="utf-8").read()
    text = page.read_text(encoding="utf-8")
    assert "alt='Loss'" in text and "3 steps, loss" in text
