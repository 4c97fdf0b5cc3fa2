"""Device choice on CPU and meta, and CUDA refused with a reason where there is none."""

import pytest
import torch

from torchlens_gui.core.engine import devices
from torchlens_gui.core.engine.devices import DeviceUnavailable, list_devices, resolve_device


def test_cpu_and_meta_resolve():
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device("meta") == torch.device("meta")


def test_auto_falls_back_to_cpu_without_cuda(monkeypatch):
    monkeypatch.setattr(devices, "cuda_unavailable_reason", lambda: "no CUDA device was found")
    assert resolve_device("auto") == torch.device("cpu")


@pytest.mark.parametrize("name", ["cuda", "cuda:0", "cuda:3"])
def test_cuda_without_cuda_raises_a_clear_error(monkeypatch, name):
    monkeypatch.setattr(devices, "cuda_unavailable_reason", lambda: "no CUDA device was found")
    with pytest.raises(DeviceUnavailable, match="--device cpu"):
        resolve_device(name)


def test_cuda_index_out_of_range(monkeypatch):
    monkeypatch.setattr(devices, "cuda_unavailable_reason", lambda: None)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    with pytest.raises(DeviceUnavailable, match="only 1 CUDA device"):
        resolve_device("cuda:2")


def test_unknown_device_name():
    with pytest.raises(DeviceUnavailable, match="Unknown device"):
        resolve_device("tpu-ish")


def test_device_menu_disables_cuda_with_reason(monkeypatch):
    monkeypatch.setattr(devices, "cuda_unavailable_reason", lambda: "no CUDA device was found")
    choices = list_devices()
    assert choices[0].name == "cpu" and choices[0].available
    cuda = [c for c in choices if c.name.startswith("cuda")]
    assert cuda and not cuda[0].available and cuda[0].reason == "no CUDA device was found"


def test_out_of_memory_is_recognised():
    assert devices.is_out_of_memory(torch.cuda.OutOfMemoryError("CUDA out of memory."))
    assert devices.is_out_of_memory(RuntimeError("CUDA error: out of memory"))
    assert not devices.is_out_of_memory(RuntimeError("mat1 and mat2 shapes cannot be multiplied"))
