"""DLPack both ways with NumPy and PyTorch: export and import share memory, each side keeps the
other's memory alive, foreign dtypes and devices are refused, capsules are consumed once."""

import gc

import numpy as np
import pytest

import mttt


def test_numpy_round_trip_shares_memory_on_export():
    x = mttt.reshape(mttt.arange(6, dtype=mttt.float64), (2, 3))
    a = np.from_dlpack(x)
    np.testing.assert_array_equal(a, np.arange(6.0).reshape(2, 3))
    a_view = np.from_dlpack(x)  # NumPy's arrays from DLPack are read-only: compare addresses
    assert a_view.__array_interface__["data"][0] == x.numpy().__array_interface__["data"][0]
    back = mttt.from_dlpack(a.copy())  # (NumPy does not re-export the read-only array)
    assert back.dtype == mttt.float64 and back.shape == (2, 3)
    np.testing.assert_array_equal(back.numpy(), a)


def test_strided_export_and_import():
    x = mttt.reshape(mttt.arange(12, dtype=mttt.float32), (3, 4))
    xt = x.T  # a strided view
    np.testing.assert_array_equal(np.from_dlpack(xt), np.arange(12, dtype=np.float32).reshape(3, 4).T)
    a = np.arange(24, dtype=np.float64).reshape(4, 6)[::2, 1::2]
    np.testing.assert_array_equal(mttt.from_dlpack(a).numpy(), a)


def test_exported_memory_outlives_the_tensor():
    x = mttt.arange(1000, dtype=mttt.float64) * 2
    a = np.from_dlpack(x)
    del x
    gc.collect()
    _ = [mttt.ones(1000, dtype=mttt.float64) for _ in range(10)]  # reuse freed memory if it were freed
    assert a[999] == 1998.0 and a.sum() == 999 * 1000


def test_import_shares_memory_and_keeps_the_source_alive():
    a = np.arange(1000, dtype=np.float64)
    t = mttt.from_dlpack(a)
    a[3] = -5.0  # the same memory
    assert t[3].item() == -5.0
    assert t.numpy().__array_interface__["data"][0] == a.__array_interface__["data"][0]
    a[3] = 3.0
    del a
    gc.collect()
    _ = [np.full(1000, -1.0) for _ in range(10)]  # reuse freed memory if it were freed
    assert t.sum().item() == 999 * 1000 / 2


def test_import_copies_what_a_view_cannot_describe():
    reversed_ = np.arange(6, dtype=np.float64)[::-1]  # negative stride
    t = mttt.from_dlpack(reversed_)
    assert t.tolist() == [5.0, 4.0, 3.0, 2.0, 1.0, 0.0]
    reversed_[0] = 100.0  # a copy: unchanged
    assert t[0].item() == 5.0


def test_unconsumed_capsule_is_freed_and_a_capsule_is_consumed_once():
    cap = mttt.to_dlpack(mttt.ones(3))
    del cap  # its destructor frees the export (no leak, no crash)
    gc.collect()
    cap = mttt.to_dlpack(mttt.ones(3))
    assert mttt.from_dlpack(cap).tolist() == [1.0, 1.0, 1.0]
    with pytest.raises(ValueError, match="consumed"):
        mttt.from_dlpack(cap)


def test_foreign_dtypes_are_refused_never_reinterpreted():
    for dtype, name in ((np.int32, "int32"), (np.float16, "float16"), (np.uint8, "uint8")):
        with pytest.raises(TypeError, match=f"float32, float64 and int64; got {name}"):
            mttt.from_dlpack(np.zeros(3, dtype=dtype))
    with pytest.raises(TypeError, match="__dlpack__"):
        mttt.from_dlpack([1, 2, 3])


def test_dlpack_device_and_the_2023_keywords():
    x = mttt.ones(2)
    assert x.__dlpack_device__() == (1, 0)  # kDLCPU
    shared = np.from_dlpack(x)
    copied = mttt.from_dlpack(x.__dlpack__(max_version=(1, 0), dl_device=(1, 0), copy=True))
    assert copied.tolist() == [1.0, 1.0] and shared.tolist() == [1.0, 1.0]
    with pytest.raises(BufferError, match="another device"):
        x.__dlpack__(dl_device=(2, 0))


def test_torch_round_trip(torch):
    x = mttt.reshape(mttt.arange(6, dtype=mttt.float64), (2, 3))
    t = torch.utils.dlpack.from_dlpack(mttt.to_dlpack(x))
    assert t.dtype == torch.float64 and tuple(t.shape) == (2, 3)
    t[0, 0] = 7.0  # zero-copy export: PyTorch writes into the tensor's memory
    assert x[0, 0].item() == 7.0
    t2 = torch.from_dlpack(x)  # through __dlpack__
    assert t2.data_ptr() == t.data_ptr()
    source = torch.arange(5, dtype=torch.int64)
    back = mttt.from_dlpack(source)
    assert back.dtype == mttt.int64 and back.tolist() == [0, 1, 2, 3, 4]
    source[1] = 9  # zero-copy import: mttt sees PyTorch's memory
    assert back[1].item() == 9
    strided = torch.arange(12.0, dtype=torch.float32).reshape(3, 4).t()
    np.testing.assert_array_equal(mttt.from_dlpack(strided).numpy(), strided.numpy())
    with pytest.raises(TypeError, match="got int32"):
        mttt.from_dlpack(torch.zeros(3, dtype=torch.int32))


def test_torch_tensor_outlives_the_mttt_tensor(torch):
    x = mttt.arange(100, dtype=mttt.float32)
    t = torch.from_dlpack(x)
    del x
    gc.collect()
    _ = [mttt.zeros(100) for _ in range(10)]
    assert float(t.sum()) == 4950.0


def test_mttt_tensor_outlives_the_torch_tensor(torch):
    t = torch.arange(100, dtype=torch.float32)
    x = mttt.from_dlpack(t)
    del t
    gc.collect()
    _ = [torch.zeros(100) for _ in range(10)]
    assert x.sum().item() == 4950.0
