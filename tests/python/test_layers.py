"""Layers and models through the bindings: every drop-in layer against the PyTorch peer's spec
vectors (tests/data/vectors), parameters as dicts by the spec's names, the ViT, checkpoints,
verify() as data, and bad input raising the right exception."""

import json
import os

import numpy as np
import pytest

import mttt
from conftest import max_rel_error

CASES = ["self_attention", "linear_attention", "linear_attention_elu", "mttt_linear", "mttt_linear_t2",
         "mttt_mlp_t1", "mttt_mlp_t4", "mttt_mlp_t4_sgd", "mttt_mlp_t1_noln_fixw0"]


@pytest.mark.parametrize("dtype", ["f64", "f32"])
@pytest.mark.parametrize("case", CASES)
def test_layer_matches_the_spec_vectors(vectors, case, dtype):
    base = os.path.join(vectors, f"{case}.{dtype}")
    params, meta = mttt.load_safetensors(base + ".params.safetensors", metadata=True)
    cli, config = json.loads(meta["cli"]), json.loads(meta["config"])
    y = mttt.load_safetensors(base + ".input.safetensors")["y"].detach().requires_grad_()
    dz = mttt.load_safetensors(base + ".cotangent.safetensors")["dz"]
    expected = mttt.load_safetensors(base + ".expected.safetensors")
    params = {name: t.detach().requires_grad_() for name, t in params.items()}
    kind, heads = cli["kind"], config["H"]

    mine = {}
    if kind.startswith("mttt"):
        perm = mttt.load_safetensors(base + ".perm.safetensors")["perm"] if cli["sgd"] else None
        out = mttt.ttt_forward(params, y, kind=kind, heads=heads, steps=cli["steps"], eta=cli["eta"], sgd=cli["sgd"],
                               decoder_ln=cli["decoder_ln"], train_w0=cli["train_w0"], permutation=perm,
                               collect_inner_losses=True, collect_fast_weights=True)
        z = out["z"]
        for t, loss in enumerate(out["inner_losses"][:-1]):
            mine[f"aux.inner_loss.step{t}"] = loss
        mine["aux.inner_loss.final"] = out["inner_losses"][-1]
        for t, weights in enumerate(out["fast_weights"]):
            for name, w in weights.items():
                mine[f"aux.W.step{t + 1}.{name}"] = w
    else:
        layer = mttt.Layer(kind, config["D"], heads, dtype=y.dtype)
        assert sorted(layer.parameters()) == sorted(params)  # the spec's names
        z = layer.forward(y, params=params)
    names = list(params)
    grads = mttt.grad(mttt.sum(z * dz), [y] + [params[n] for n in names], allow_unused=True)
    mine["z"], mine["grad.y"] = z.detach(), grads[0]
    mine.update({f"grad.{n}": g for n, g in zip(names, grads[1:])})

    tolerance = 1e-10 if dtype == "f64" else 1e-4
    scale = max(float(np.max(np.abs(t.numpy()))) for n, t in expected.items() if n == "z" or n.startswith("grad."))
    compared = 0
    for name, t in expected.items():
        if name == "z" or name.startswith("grad.") or name.startswith("aux."):
            assert name in mine, name
            error = max_rel_error(mine[name].numpy(), t.numpy(), floor=1e-3 * scale)
            assert error < tolerance, f"{name}: {error}"
            compared += 1
    assert compared >= 2 + len(names)


def test_ttt_layer_with_options_and_parameters_by_spec_names():
    layer = mttt.Layer("mttt_mlp", 12, 3, tokens=8, dtype=mttt.float64, steps=2, eta=[0.5, 1.0], sgd=False, decoder_ln=True)
    names = set(layer.parameters())
    assert {"phi.kernel", "psi.bias", "g.kernel", "h.bias", "decoder_ln.scale", "inner.0.kernel", "inner.1.bias"} <= names
    assert layer.parameters()["phi.kernel"].shape == (3, 12, 4)
    y = mttt.uniform((2, 8, 12), -1, 1, dtype=mttt.float64)
    layer.collect_inner_losses(True)
    z = layer(y)
    assert z.shape == (2, 8, 12)
    losses = layer.inner_losses
    assert len(losses) == 3 and losses[-1] < losses[0]  # the inner loop learns
    mttt.sum(z).backward()
    assert all(p.grad is not None for n, p in layer.parameters().items())
    # Loading parameters by name, and refusing a wrong shape with the name in the message.
    values = {n: p.detach() * 0.5 for n, p in layer.parameters().items()}
    layer.load_parameters(values)
    np.testing.assert_allclose(layer.parameters()["g.kernel"].numpy(), values["g.kernel"].numpy())
    with pytest.raises(mttt.Error, match="phi.kernel"):
        layer.load_parameters({**values, "phi.kernel": mttt.zeros((3, 12, 5), dtype=mttt.float64)})
    with pytest.raises(mttt.Error, match="unknown option|stepz|valid"):
        mttt.Layer("mttt_mlp", 12, 3, stepz=2)
    with pytest.raises(mttt.Error, match="softmax"):
        mttt.Layer("softmax", 12, 3)
    assert mttt.Layer("self_attention", 12, 3).inner_losses is None


def test_wrong_input_raises():
    layer = mttt.Layer("linear_attention", 12, 3)
    with pytest.raises(mttt.Error):
        layer(mttt.ones((2, 8, 10)))  # width 10, not 12
    with pytest.raises(mttt.Error):
        layer(mttt.ones((2, 8, 12), dtype=mttt.float64))  # float64 input, float32 parameters
    with pytest.raises(TypeError, match="expected mttt.Tensor"):
        layer.load_parameters({"query.kernel": np.zeros((12, 12))})


MODEL = {"variant": "custom", "width": 16, "depth": 2, "heads": 2, "mlp_dim": 32, "patch": 4, "image": 8,
         "channels": 1, "classes": 3, "layer": "mttt_mlp"}


def test_vit_and_checkpoint_round_trip(tmp_path):
    vit = mttt.ViT(MODEL, seed=1)
    assert vit.depth == 2 and vit.config["layer"] == "mttt_mlp"
    assert "blocks.0.layer.inner.0.kernel" in vit.parameters()
    images = mttt.uniform((2, 8, 8, 1))
    logits = vit(images)
    assert logits.shape == (2, 3)
    counts = vit.count_parameters()
    assert counts["total"] == sum(p.numel() for p in vit.parameters().values())
    path = tmp_path / "model.safetensors"
    mttt.save_checkpoint(path, vit, step=5)
    loaded = mttt.load_checkpoint(path)
    assert loaded.train_config["model"]["layer"] == "mttt_mlp"
    np.testing.assert_array_equal(loaded(images).numpy(), logits.numpy())
    info = mttt.read_checkpoint(str(path))
    assert info["step"] == 5 and "head.kernel" in info["tensors"]


def test_bad_checkpoint_files(tmp_path):
    path = tmp_path / "model.safetensors"
    mttt.save_checkpoint(path, mttt.ViT(MODEL))
    with open(path, "rb") as f:
        pass
    with pytest.raises(ValueError, match="closed"):
        mttt.load_checkpoint(f)  # a closed file object
    data = path.read_bytes()
    truncated = tmp_path / "truncated.safetensors"
    truncated.write_bytes(data[: len(data) // 2])
    with pytest.raises(mttt.Error, match="truncated.safetensors"):
        mttt.load_checkpoint(truncated)
    plain = tmp_path / "plain.safetensors"
    mttt.save_safetensors(plain, {"x": mttt.ones(2)})
    with pytest.raises(mttt.Error, match="plain.safetensors"):
        mttt.load_checkpoint(plain)  # not an mttt checkpoint
    with pytest.raises(mttt.Error, match="missing.safetensors"):
        mttt.load_safetensors(tmp_path / "missing.safetensors")
    with pytest.raises(TypeError, match="path"):
        mttt.load_safetensors(42)


def test_safetensors_round_trip(tmp_path):
    tensors = {"a": mttt.arange(6, dtype=mttt.float64).reshape(2, 3), "b": mttt.tensor([1, 2, 3])}
    mttt.save_safetensors(tmp_path / "t.safetensors", tensors, {"note": "x"})
    back, meta = mttt.load_safetensors(tmp_path / "t.safetensors", metadata=True)
    assert list(back) == ["a", "b"] and meta["note"] == "x"
    np.testing.assert_array_equal(back["a"].numpy(), tensors["a"].numpy())
    assert back["b"].dtype == mttt.int64


def test_verify_returns_the_table():
    rows = mttt.verify(seed=0)
    assert len(rows) > 5
    assert {"group", "check", "dtype", "quantity", "error", "estimate", "tolerance", "ok"} <= set(rows[0])
    assert all(r["ok"] for r in rows), [r for r in rows if not r["ok"]]
    chosen = mttt.verify(seed=0, rows=["linear-attention"], device="thrust-host")
    assert chosen and all(r["group"].startswith("linear-attention") for r in chosen)
    with pytest.raises(mttt.Error, match="no row is named 'no-such-row'"):
        mttt.verify(rows=["no-such-row"])
