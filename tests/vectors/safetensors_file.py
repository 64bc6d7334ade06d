"""Reads and writes safetensors files (an 8-byte little-endian header length, a JSON header of
dtype, shape and byte offsets per tensor plus string metadata, then the raw little-endian data)
as dictionaries of torch tensors, with no dependency beyond torch and numpy."""
import json
import struct

import numpy as np
import torch

_DTYPES = {"F64": (np.float64, torch.float64), "F32": (np.float32, torch.float32), "I64": (np.int64, torch.int64)}
_NAMES = {torch.float64: "F64", torch.float32: "F32", torch.int64: "I64"}


def load(path):
    """(tensors by name, metadata) of the file at `path`."""
    with open(path, "rb") as f:
        raw = f.read()
    (length,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + length])
    metadata = header.pop("__metadata__", {})
    body = raw[8 + length:]
    tensors = {}
    for name, entry in header.items():
        numpy_type, _ = _DTYPES[entry["dtype"]]
        begin, end = entry["data_offsets"]
        array = np.frombuffer(body[begin:end], dtype=np.dtype(numpy_type).newbyteorder("<"))
        tensors[name] = torch.from_numpy(array.astype(numpy_type).reshape(entry["shape"]))
    return tensors, metadata


def save(path, tensors, metadata):
    """Writes `tensors` (name -> torch tensor) with string `metadata`, names in sorted order."""
    header = {"__metadata__": {k: str(v) for k, v in metadata.items()}}
    chunks, offset = [], 0
    for name in sorted(tensors):
        t = tensors[name].detach().contiguous().cpu()
        data = t.numpy().astype(t.numpy().dtype.newbyteorder("<")).tobytes()
        header[name] = {"dtype": _NAMES[t.dtype], "shape": list(t.shape), "data_offsets": [offset, offset + len(data)]}
        chunks.append(data)
        offset += len(data)
    encoded = json.dumps(header, separators=(",", ":")).encode()
    encoded += b" " * (-len(encoded) % 8)  # the data starts 8-byte aligned
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(encoded)) + encoded + b"".join(chunks))
