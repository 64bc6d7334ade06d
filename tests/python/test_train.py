"""The trainer from Python: a short Fashion-MNIST run whose callback receives every record, and
a callback that stops the run by raising. Skips without Debian's dataset-fashion-mnist."""

import json
import math
import os

import pytest

import mttt

DATA = os.environ.get("MTTT_FASHION_MNIST") or "/usr/share/datasets/fashion-mnist"


def config(out, **run):
    return {"model": {"variant": "custom", "width": 16, "depth": 1, "heads": 2, "mlp_dim": 32, "patch": 7,
                      "image": 28, "channels": 1, "classes": 10, "layer": "mttt_mlp"},
            "data": {"dataset": "fashion_mnist", "train_subset": 200, "test_subset": 100},
            "optim": {"optimizer": "adam", "lr": 0.003, "schedule": "constant", "weight_decay": 0},
            "run": {"seed": 0, "epochs": 1, "batch_size": 50, "eval_batch_size": 100, "log_every": 1,
                    "out": str(out), **run}}


@pytest.fixture(autouse=True)
def _data():
    if not os.path.isfile(os.path.join(DATA, "train-images-idx3-ubyte.gz")):
        pytest.skip("Fashion-MNIST is not installed (apt-get install dataset-fashion-mnist)")


def test_callback_receives_every_record(tmp_path):
    records = []
    steps = mttt.train(config(tmp_path), records.append)
    assert steps == 4
    train = [r for r in records if r["kind"] == "train"]
    assert [r["step"] for r in train] == [1, 2, 3, 4]
    assert all(math.isfinite(r["loss"]) and r["loss"] > 0 for r in train)
    assert "blocks.0.layer" in train[0]["inner_losses"]
    (evaluation,) = [r for r in records if r["kind"] == "eval"]
    assert evaluation["examples"] == 100 and 0 <= evaluation["accuracy"] <= 1
    # The callback saw what metrics.jsonl holds.
    with open(tmp_path / "metrics.jsonl") as f:
        assert [json.loads(line) for line in f] == records
    assert (tmp_path / "checkpoint.safetensors").exists()


def test_callback_exception_stops_the_run(tmp_path):
    class Stop(Exception):
        pass

    def callback(record):
        if record["step"] == 2:
            raise Stop("enough")

    with pytest.raises(Stop, match="enough"):
        mttt.train(config(tmp_path), callback)
    with open(tmp_path / "metrics.jsonl") as f:
        assert len(f.readlines()) == 2


def test_bad_config_is_refused(tmp_path):
    bad = config(tmp_path)
    bad["optim"]["lrate"] = 1
    with pytest.raises(mttt.Error, match="lrate"):
        mttt.train(bad)
    with pytest.raises(TypeError, match="callable"):
        mttt.train(config(tmp_path), callback=3)


def test_trainer_step_by_step(tmp_path):
    trainer = mttt.Trainer(config(tmp_path, checkpoint=False), overrides=["optim.lr=0.001"])
    assert trainer.total_steps == 4 and trainer.step == 0
    losses = [trainer.train_step() for _ in range(2)]
    assert trainer.step == 2 and all(math.isfinite(v) for v in losses)
    result = trainer.evaluate()
    assert result["examples"] == 100 and "blocks.0.layer" in result["inner_losses"]
    assert "blocks.0.layer.inner.0.kernel" in trainer.model.parameters()
