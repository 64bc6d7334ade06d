"""The Python examples run and show what they claim: the bilevel tutorial's outer loop beats
every fixed map while its inner loop learns each test instance, printing what the C++ program
prints, and MTTT-MLP agrees with the PyTorch implementation to rounding error."""

import os
import re
import subprocess
import sys

import pytest

ROOT = os.environ.get("MTTT_SOURCE_ROOT") or os.path.join(os.path.dirname(__file__), "..", "..")
BUILD = os.environ.get("MTTT_BUILD_ROOT") or os.path.join(ROOT, "build")


def run(script, *args):
    result = subprocess.run([sys.executable, os.path.join(ROOT, script), *args], capture_output=True, text=True,
                            timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_bilevel_tutorial():
    out = run("examples/bilevel/bilevel.py")
    best_fixed = float(re.search(r"Best fixed linear map.*?([0-9.]+)\n", out).group(1))
    rows = re.findall(r"^\s*(\d+)\s+([0-9.]+)\s+([0-9.]+)\s+(.*)$", out, re.M)
    assert len(rows) == 9
    final_loss = float(rows[-1][1])
    assert final_loss < 0.7 * best_fixed  # learning at test time beats any fixed map
    for row in rows:
        inner = [float(v) for v in row[3].split(" -> ")]
        assert all(b < a for a, b in zip(inner, inner[1:]))  # every inner step lowers the inner loss
    cpp = os.path.join(BUILD, "examples", "bilevel", "bilevel")
    if os.path.exists(cpp):  # the same seeds, ops and order: the same numbers as bilevel.cpp
        assert out == subprocess.run([cpp], capture_output=True, text=True, timeout=600, check=True).stdout


def test_mttt_mlp_against_pytorch(torch):
    out = run("examples/python/mttt_mlp_vs_torch.py", "--steps", "3")
    assert "agree" in out and "DISAGREE" not in out
