"""The Python side of the tests' tensor exchange (see tensor-exchange.test-helper.ts): a folder
of raw little-endian float32 files plus manifest.json naming each tensor's file and shape."""
import json
import os

import numpy as np


def read_tensors(d):
    """(manifest, {name: float32 ndarray})."""
    with open(os.path.join(d, "manifest.json")) as f:
        manifest = json.load(f)
    tensors = {}
    for name, spec in manifest["tensors"].items():
        a = np.fromfile(os.path.join(d, spec["file"]), dtype="<f4")
        tensors[name] = a.reshape(spec["shape"]).astype(np.float32)
    return manifest, tensors


class Writer:
    def __init__(self, d):
        self.dir = d
        self.specs = {}
        os.makedirs(d, exist_ok=True)

    def put(self, name, a):
        a = np.ascontiguousarray(np.asarray(a, dtype="<f4"))
        file = f"{len(self.specs):04d}.f32"
        a.tofile(os.path.join(self.dir, file))
        self.specs[name] = {"file": file, "shape": list(a.shape)}

    def close(self, **extra):
        with open(os.path.join(self.dir, "manifest.json"), "w") as f:
            json.dump({**extra, "tensors": self.specs}, f)
