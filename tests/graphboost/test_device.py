"""resolve_device and torch_threads: the project's one device choice and thread guard."""

import pytest
import torch

from graphboost import resolve_device, torch_threads


@pytest.mark.parametrize(
    ("device", "expected"),
    [("cpu", torch.device("cpu")), (torch.device("cpu"), torch.device("cpu"))],
)
def test_resolve_device_accepts_strings_and_devices(device, expected):
    assert resolve_device(device) == expected


def test_auto_is_cuda_only_when_torch_sees_it():
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert resolve_device("auto").type == expected


@pytest.mark.parametrize("device", ["gpu", "cuda:x", "CPU", 0, None])
def test_resolve_device_rejects_unknown_values(device):
    with pytest.raises(ValueError, match="The 'device' parameter must be 'auto', 'cpu', 'cuda'"):
        resolve_device(device)


def test_resolve_device_rejects_other_device_types():
    with pytest.raises(ValueError, match="must be a CPU or CUDA device; got 'meta'"):
        resolve_device(torch.device("meta"))


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
@pytest.mark.parametrize("device", ["cuda", "cuda:0", torch.device("cuda", 1)])
def test_cuda_without_cuda_is_a_clear_error(device):
    with pytest.raises(ValueError, match="torch sees no CUDA device; use device='auto'"):
        resolve_device(device)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_index_beyond_the_visible_devices_is_a_clear_error():
    count = torch.cuda.device_count()
    assert resolve_device("cuda:0") == torch.device("cuda", 0)
    with pytest.raises(ValueError, match=rf"torch sees {count} CUDA device\(s\)"):
        resolve_device(f"cuda:{count}")


def test_torch_threads_restores_the_thread_count_also_after_an_error():
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        with torch_threads(10, "cpu"):
            assert torch.get_num_threads() == 1
        assert torch.get_num_threads() == 2
        with pytest.raises(RuntimeError, match="boom"), torch_threads(10, torch.device("cpu")):
            raise RuntimeError("boom")
        assert torch.get_num_threads() == 2
        with torch_threads(50_000, "cpu"):  # large graphs keep the count
            assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)
