"""mttt.Tensor: properties, operators, indexing, NumPy views, the buffer protocol, conversions and
the refusals of foreign input."""

import gc

import numpy as np
import pytest

import mttt


def test_properties_and_creation():
    x = mttt.zeros((2, 3), dtype=mttt.float64)
    assert x.shape == (2, 3) and x.ndim == 2 and x.dtype == mttt.float64 and x.device == "cpu"
    assert not x.requires_grad and x.grad is None and x.numel() == 6 and len(x) == 2
    assert str(mttt.float32) == "float32" and mttt.int64.itemsize == 8
    assert mttt.ones(4).shape == (4,) and mttt.full((2,), 7.0).tolist() == [7.0, 7.0]
    assert mttt.arange(5, dtype=mttt.int64).tolist() == [0, 1, 2, 3, 4]
    np.testing.assert_array_equal(mttt.eye(3, dtype=mttt.float64).numpy(), np.eye(3))
    w = mttt.uniform((3,), -1, 1, requires_grad=True)
    assert w.requires_grad and w.is_leaf


def test_tensor_from_python_and_numpy():
    assert mttt.tensor([1.5, 2.5]).dtype == mttt.float32  # Python floats: float32, as PyTorch
    assert mttt.tensor([[1, 2], [3, 4]]).dtype == mttt.int64
    a = np.arange(6, dtype=np.float64).reshape(2, 3)
    t = mttt.tensor(a)
    assert t.dtype == mttt.float64 and t.shape == (2, 3)
    a[0, 0] = 100  # a copy: the array's later writes do not reach the tensor
    assert t[0, 0].item() == 0
    assert mttt.tensor(np.arange(3, dtype=np.int32), dtype=mttt.int64).tolist() == [0, 1, 2]


def test_foreign_dtypes_are_refused_with_a_message():
    with pytest.raises(TypeError, match="float32, float64 and int64.*'i'"):
        mttt.tensor(np.arange(3, dtype=np.int32))
    with pytest.raises(TypeError, match="float32, float64 and int64"):
        mttt.from_buffer(np.ones(3, dtype=np.float16))
    with pytest.raises(TypeError, match="dtype"):
        mttt.zeros((2,), dtype="complex64")


def test_non_contiguous_input_is_copied_in_order():
    a = np.arange(24, dtype=np.float64).reshape(4, 6)
    for view in (a[:, ::2], a.T, a[::-1], a[1:3, 2:5]):
        np.testing.assert_array_equal(mttt.tensor(view).numpy(), view)


def test_operators_match_numpy():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(3, 4)), rng.normal(size=(4,))
    x, y = mttt.tensor(a), mttt.tensor(b)
    np.testing.assert_allclose((x + y).numpy(), a + b)
    np.testing.assert_allclose((x - 2).numpy(), a - 2)
    np.testing.assert_allclose((2 - x).numpy(), 2 - a)
    np.testing.assert_allclose((x * y / 3).numpy(), a * b / 3)
    np.testing.assert_allclose((1 / (x * x + 1)).numpy(), 1 / (a * a + 1))
    np.testing.assert_allclose((abs(x) ** 1.5).numpy(), np.abs(a) ** 1.5)
    np.testing.assert_allclose((x @ mttt.tensor(a.T)).numpy(), a @ a.T)
    np.testing.assert_allclose((-x).numpy(), -a)
    np.testing.assert_array_equal((x > 0).numpy(), (a > 0).astype(np.float64))
    np.testing.assert_allclose(x.sum(axis=1).numpy(), a.sum(axis=1))
    np.testing.assert_allclose(x.mean().item(), a.mean())
    np.testing.assert_allclose(mttt.max(x, axis=0, keepdim=True).numpy(), a.max(axis=0, keepdims=True))
    # NumPy on the left defers to the tensor's reflected operator.
    np.testing.assert_allclose((2.0 * x).numpy(), 2 * a)


def test_indexing_matches_numpy():
    a = np.arange(60, dtype=np.float64).reshape(3, 4, 5)
    x = mttt.tensor(a)
    for key in (1, -1, (0, 2), (slice(None), 1), (slice(1, None), slice(None, None, 2)), (Ellipsis, 3),
                (None, 0), (1, Ellipsis, slice(0, 5, 3)), slice(0, 10)):
        np.testing.assert_array_equal(x[key].numpy(), a[key], err_msg=str(key))
    rows = mttt.tensor([2, 0])
    np.testing.assert_array_equal(x[rows].numpy(), a[[2, 0]])
    with pytest.raises(IndexError, match="out of range"):
        x[3]
    with pytest.raises(IndexError, match="too many indices"):
        x[0, 0, 0, 0]
    assert [r.shape for r in x] == [(4, 5)] * 3  # iteration stops at the end of axis 0
    x[0, 1] = 0.0
    assert x.numpy()[0, 1].sum() == 0


def test_numpy_view_shares_memory_and_keeps_the_tensor_alive():
    x = mttt.arange(6, dtype=mttt.float64)
    view = x.numpy()
    view[0] = 42
    assert x[0].item() == 42  # the same memory
    del x
    gc.collect()
    assert view.tolist() == [42, 1, 2, 3, 4, 5]  # the array holds the tensor
    strided = mttt.reshape(mttt.arange(12, dtype=mttt.float64), (3, 4)).T
    np.testing.assert_array_equal(strided.numpy(), np.arange(12.0).reshape(3, 4).T)


def test_buffer_protocol():
    x = mttt.reshape(mttt.arange(6, dtype=mttt.int64), (2, 3))
    m = memoryview(x)
    assert m.format in ("l", "q") and m.shape == (2, 3) and m.strides == (24, 8) and not m.readonly
    assert np.asarray(x).sum() == 15
    w = mttt.ones((2,), requires_grad=True)
    assert memoryview(w).readonly  # a tensor on the tape is not written behind its back
    assert not w.numpy().flags.writeable


def test_scalars_and_truth_values():
    assert float(mttt.scalar(2.5)) == 2.5 and int(mttt.scalar(3, dtype=mttt.int64)) == 3
    assert bool(mttt.scalar(1.0))
    with pytest.raises(ValueError, match="ambiguous"):
        bool(mttt.ones(2))


def test_engine_errors_arrive_with_their_message():
    with pytest.raises(mttt.Error, match=r"\[matmul\].*\(3, 4\).*\(5, 6\)") as info:
        mttt.matmul(mttt.ones((3, 4)), mttt.ones((5, 6)))
    assert isinstance(info.value, RuntimeError)
    with pytest.raises(mttt.Error, match="float32.*float64|dtype"):
        mttt.ones(2) + mttt.ones(2, dtype=mttt.float64)
    with pytest.raises(mttt.Error, match=r"\[reshape\]"):
        mttt.ones((2, 3)).reshape(4)


def test_constructor_and_devices():
    x = mttt.Tensor([[1, 2], [3, 4]], dtype=mttt.float64, requires_grad=True)
    assert x.dtype == mttt.float64 and x.requires_grad and x.is_leaf
    try:
        h = mttt.arange(4, dtype=mttt.float64).to("thrust-host")
    except mttt.Error as e:  # a build without CUDA's Thrust headers has no thrust-host device
        pytest.skip(str(e))
    assert h.device == "thrust-host" and h.__dlpack_device__() == (1, 0)  # host memory
    np.testing.assert_array_equal(np.from_dlpack(h), [0, 1, 2, 3])
    assert (h * 2).cpu().tolist() == [0.0, 2.0, 4.0, 6.0]
