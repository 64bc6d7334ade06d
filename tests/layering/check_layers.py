#!/usr/bin/env python3
"""The layering of docs/design.md, checked on the sources.

The build compiles each layer against an include root holding only itself and the layers below
it (meson.build, "The layers"), so an upward #include does not compile; this check says the same
with the file and line, and adds the rules a compiler cannot see:
  - a layer includes only itself and the layers below it: autodiff < tensor < nn < mttt;
  - no #include climbs out of the include root ("../");
  - above tensor/ (nn/, mttt/, the mttt program in tools/cli/, examples/), nothing includes
    tensor/backend/ or touches a data pointer or a backend: tensors are read and written through
    tensor-level calls (from_host, copy_to_host, to_vector, ...; docs/backends.md).

Usage: check_layers.py SOURCE_ROOT prints every violation and exits 1 when there is one;
check_layers.py --self-test checks that a tree with one violation of each kind fails.
"""
import re
import sys
import tempfile
from pathlib import Path

LAYERS = ["autodiff", "tensor", "nn", "mttt"]
# Folders that use the library from above: they may include every layer, but not the backends.
ABOVE_TENSOR = ["nn", "mttt", "tools/cli", "examples"]
SOURCE_SUFFIXES = {".hpp", ".cpp", ".h", ".cu", ".cuh"}

INCLUDE = re.compile(r'^\s*#\s*include\s*[<"]([^">]+)[">]')
# What reaches past the tensor-level API: raw element pointers and the backend's kernels.
BACKEND_USE = [
    (re.compile(r"\bdata_ptr\s*\("), "a raw data pointer (data_ptr)"),
    (re.compile(r"[.>]\s*data\s*<"), "a raw data pointer (Tensor::data<T>)"),
    (re.compile(r"\bbackend_of\s*\("), "a backend's kernels (backend_of)"),
    (re.compile(r"(?<![\w.>:])backend\s*\("), "a backend's kernels (backend(device))"),
    (re.compile(r"\bBackend\s*[&*]"), "a backend's kernels (Backend&)"),
    (re.compile(r"\bstorage\s*\(\s*\)"), "a tensor's storage"),
]


def sources(root, folder):
    base = root / folder
    if not base.is_dir():
        return []
    return sorted(p for p in base.rglob("*") if p.suffix in SOURCE_SUFFIXES and p.is_file())


def code_lines(path):
    """(line number, text without // comments) of every line."""
    for number, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
        yield number, line.split("//", 1)[0]


def check(root):
    problems = []
    project_folders = {p.name for p in root.iterdir() if p.is_dir()}
    for index, layer in enumerate(LAYERS):
        allowed = set(LAYERS[: index + 1])
        for path in sources(root, layer):
            for number, line in code_lines(path):
                match = INCLUDE.match(line)
                if not match:
                    continue
                target = match.group(1)
                where = f"{path.relative_to(root)}:{number}"
                if target.startswith("..") or "/../" in target:
                    problems.append(f'{where}: #include "{target}" climbs out of the include root')
                    continue
                top = target.split("/", 1)[0]
                if "/" in target and top in project_folders and top not in allowed:
                    problems.append(f'{where}: {layer}/ includes "{target}", from {top}/, a layer above it '
                                    f"(it may include {', '.join(sorted(allowed, key=LAYERS.index))})")
    for folder in ABOVE_TENSOR:
        for path in sources(root, folder):
            for number, line in code_lines(path):
                where = f"{path.relative_to(root)}:{number}"
                match = INCLUDE.match(line)
                if match and match.group(1).startswith("tensor/backend/"):
                    problems.append(f'{where}: includes "{match.group(1)}": above tensor/, go through '
                                    "tensor-level calls (tensor/tensor.hpp, tensor/device_stats.hpp)")
                    continue
                for pattern, what in BACKEND_USE:
                    if pattern.search(line):
                        problems.append(f"{where}: touches {what}: above tensor/, go through tensor-level "
                                        "calls (from_host, copy_to_host, to_vector)")
    return problems


def self_test():
    """A small tree with one violation of each kind: each must be reported, and nothing else."""
    files = {
        "autodiff/node.hpp": '#include <vector>\n',
        "tensor/core.hpp": '#include "autodiff/node.hpp"\n#include "nn/module.hpp"\n',
        "tensor/ops/a.cpp": '#include "../core.hpp"\n',
        "nn/module.hpp": '#include "tensor/core.hpp"\n#include "mttt/layer.hpp"\n',
        "nn/data.cpp": '#include "tensor/backend/backend.hpp"\nfloat* p = t.data<float>();  // ok: x.data<float>()\n'
                       "void* q = t.data_ptr();\nbackend_of(t).copy_to_host(t, q);\nbackend(kCPU);\n"
                       "std::vector<char> v; v.data(); my_backend(kCPU);\n",
        "mttt/layer.hpp": '#include "nn/module.hpp"\n#include "tensor/tensor.hpp"\n',
    }
    expected = ["tensor/core.hpp:2", "tensor/ops/a.cpp:1", "nn/module.hpp:2", "nn/data.cpp:1", "nn/data.cpp:2",
                "nn/data.cpp:3", "nn/data.cpp:4", "nn/data.cpp:5"]
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for name, text in files.items():
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            (root / name).write_text(text)
        found = [p.split(": ", 1)[0] for p in check(root)]
    if found != expected:
        sys.exit(f"check_layers.py --self-test: reported {found}, expected {expected}")
    print(f"self-test: the {len(expected)} planted violations reported, nothing else")


def main():
    if sys.argv[1:] == ["--self-test"]:
        self_test()
        return
    if len(sys.argv) != 2:
        sys.exit("usage: check_layers.py SOURCE_ROOT")
    root = Path(sys.argv[1]).resolve()
    for layer in LAYERS:
        if not (root / layer).is_dir():
            sys.exit(f"check_layers.py: {root} has no {layer}/ (is it the source root?)")
    problems = check(root)
    for p in problems:
        print(p)
    print(f"{len(problems)} layering violation(s) in {', '.join(LAYERS)} and {', '.join(ABOVE_TENSOR)}")
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
