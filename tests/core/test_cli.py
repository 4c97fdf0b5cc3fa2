"""`torchlens-gui check` as a user runs it: one JSON object on stdout, exit codes 0/1/2."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from case_tools import case_path, marker_line, module_entry


def check(*args: str, timeout: float = 120):
    return subprocess.run([sys.executable, "-m", "torchlens_gui", "check", *args],
                          capture_output=True, text=True, timeout=timeout)


def test_json_is_one_object_and_user_prints_go_to_stderr():
    result = check(case_path("eng_surrogate"), "--json", "--device", "cpu")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)  # exactly one object, nothing else on stdout
    assert set(report) >= {"file", "device", "status", "loss", "modules", "diagnostics"}
    assert report["status"] == "ok" and report["device"] == "cpu"
    assert "hello from the model file" in result.stderr
    assert "hello" not in result.stdout


def test_json_never_contains_nan_literals():
    result = check(case_path("eng_nested"), "--json", "--device", "cpu")
    text = result.stdout
    assert "NaN" not in text and "Infinity" not in text
    json.loads(text)


@pytest.mark.parametrize("name, code", [
    ("eng_nested", 0), ("eng_forward_raises", 1), ("eng_syntax_error", 2), ("eng_build_raises", 2),
])
def test_exit_status(name, code):
    assert check(case_path(name), "--device", "cpu").returncode == code


def test_text_report_shows_tree_and_diagnostic():
    result = check(case_path("eng_forward_raises"), "--device", "cpu")
    assert "router" in result.stdout and "runtime-error" in result.stdout
    assert f"eng_forward_raises.py:{marker_line(case_path('eng_forward_raises'), 'runtime-error')}" \
        in result.stdout


def test_forward_that_never_returns_is_stopped_with_a_timeout_diagnostic():
    path = case_path("eng_endless")
    result = check(path, "--json", "--device", "cpu", "--timeout", "1.5", timeout=60)
    assert result.returncode == 1
    report = json.loads(result.stdout)
    timeout = [d for d in report["diagnostics"] if d["code"] == "timeout"]
    assert timeout and timeout[0]["line"] == marker_line(path, "timeout")


def test_python_dash_m_and_help():
    result = subprocess.run([sys.executable, "-m", "torchlens_gui", "check", "--help"],
                            capture_output=True, text=True)
    assert result.returncode == 0 and "--dry-run" in result.stdout


def test_json_owns_stdout_other_threads_fd1_and_subprocesses_go_to_stderr():
    """Issue 10, failure 3: nothing but the JSON object reaches stdout."""
    result = check(case_path("rel_noisy_stdout"), "--json", "--device", "cpu")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["status"] == "ok"
    for text in ("printed by another thread", "written to fd 1", "printed by a subprocess"):
        assert text in result.stderr and text not in result.stdout


def test_json_writer_survives_jagged_complex_quantized_and_sparse_outputs():
    result = check(case_path("rel_odd_tensors"), "--json", "--device", "cpu")
    report = json.loads(result.stdout)
    assert result.returncode in (0, 1), result.stderr
    outputs = {s["name"]: s for s in module_entry(report, "")["outputs"]}
    assert outputs["['jagged']"]["shape"][0] == 2  # a symbolic size comes out as text
    assert set(outputs) >= {"['y']", "['complex']", "['quantized']", "['sparse']", "['csr']"}
    assert not [d for d in report["diagnostics"] if d["code"] == "internal-error"]


def test_json_writer_cannot_fail_even_on_a_broken_report(monkeypatch):
    from torchlens_gui.core.recording import report as report_module
    from torchlens_gui.core.recording.record import RunRecord

    def broken(record, **options):
        raise TypeError("not serializable")

    monkeypatch.setattr(report_module, "to_json", broken)
    record = RunRecord()
    record.status, record.file, record.device = "ok", "model.py", object()
    text = report_module.to_json_text(record)
    report = json.loads(text)
    assert report["status"] == "failed"
    assert report["diagnostics"][-1]["code"] == "internal-error"
    assert isinstance(report["device"], str)


@pytest.mark.parametrize("timeout", ["0", "600"])
def test_ctrl_c_still_prints_one_json_object(timeout):
    """Issue 10, failure 6 (last item): KeyboardInterrupt with or without a time limit."""
    import signal

    proc = subprocess.Popen([sys.executable, "-m", "torchlens_gui", "check",
                             case_path("rel_endless_ready"), "--json", "--device", "cpu",
                             "--timeout", timeout],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    for line in proc.stderr:  # wait until forward runs
        if "forward started" in line:
            break
    proc.send_signal(signal.SIGINT)
    out, _err = proc.communicate(timeout=60)
    report = json.loads(out)
    (diagnostic,) = [d for d in report["diagnostics"] if d["code"] == "interrupted"]
    assert diagnostic["phase"] == "forward"
    assert proc.returncode == 2
