"""PyTorch side of src/inference/onnx-classifier.test.ts: exports the book's LunaModel (from
src/model/parity_reference.py) to ONNX as a PyTorch user would, and runs it in torch, so the
lab's onnxruntime-web classifier can be checked against PyTorch on the same crops.

Usage: python torch_onnx_reference.py DIR

DIR/manifest.json (tensor_exchange): "x" [N, 1, 32, 48, 48] float32 crops of clamped HU.
Writes into DIR:
  book.onnx    the book's module as is: outputs (logits, softmax), dynamic batch, the legacy
               exporter's own output names (dynamo=False: no onnxscript needed)
  logits.onnx  a wrapper returning logits only, FIXED batch 1 (a minimal user export)
and DIR/out/manifest.json with "torch/probs" [N, 2] (eval mode) and a report of the names.
Weights: torch.manual_seed(7) init, trained-like input BatchNorm statistics (mean -600, var
160000), and the head rescaled so p(nodule) differs from crop to crop (neither saturated nor flat). It only reads and writes files.
"""
import os
import sys

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "model"))
from parity_reference import LunaModel  # noqa: E402
from tensor_exchange import Writer, read_tensors  # noqa: E402


class LogitsOnly(torch.nn.Module):
    def __init__(self, inner):
        super().__init__()
        self.inner = inner

    def forward(self, x):
        return self.inner(x)[0]


def main():
    d = sys.argv[1]
    _, t = read_tensors(d)
    x = torch.from_numpy(t["x"].copy())
    torch.manual_seed(7)
    model = LunaModel()
    with torch.no_grad():
        bn = model.tail_batchnorm
        bn.running_mean.fill_(-600.0)
        bn.running_var.fill_(160000.0)
        bn.weight.fill_(1.25)
        bn.bias.fill_(-0.1)
    model.eval()
    with torch.no_grad():
        # Rescale the head so the logit difference spreads over ~[-2, 2] on these crops: an
        # untrained net's outputs are otherwise nearly equal, and the comparison would say little.
        logits, _ = model(x)
        w, b = model.head_linear.weight, model.head_linear.bias
        g = (logits[:, 1] - logits[:, 0]) - (b[1] - b[0])
        s = 2.0 / float(g.std())
        w.mul_(s)
        b.copy_(torch.tensor([0.0, -s * float(g.mean())]))
        _, probs = model(x)

    dummy = torch.zeros(2, *x.shape[1:])
    torch.onnx.export(model, (dummy,), os.path.join(d, "book.onnx"), dynamo=False, opset_version=17,
                      dynamic_axes={"x": {0: "n"}}, input_names=["x"])
    torch.onnx.export(LogitsOnly(model), (torch.zeros(1, *x.shape[1:]),), os.path.join(d, "logits.onnx"),
                      dynamo=False, opset_version=17, input_names=["crops"], output_names=["scores"])

    out = Writer(os.path.join(d, "out"))
    out.put("torch/probs", probs)
    out.close(report={"torch_version": torch.__version__})


if __name__ == "__main__":
    main()
