"""PyTorch reference for src/model/parity.test.ts: the book's LunaModel run on the tensors the
test writes, so the tfjs model, loss and optimizers can be compared with PyTorch number by number.

Usage: python parity_reference.py DIR

DIR/manifest.json names raw little-endian float32 files in DIR:
  "tensors": {name: {"file", "shape"}} with
      "x"                  the batch, [N, 1, D, H, W] (NCDHW; C = 1, so the same bytes as NDHWC)
      "labels"             class indices as floats, [N]
      "sd/<state_dict key>" the model's weights in PyTorch layout (no num_batches_tracked)
      "opt/param<i>", "opt/grad<i>/<step>"  small tensors for the multi-step optimizer check
  "sgd": {"lr", "momentum"}, "adamw": {"lr", "weight_decay"}, "opt_steps": int,
  "opt_sgd": {...}, "opt_adamw": {...}  (torch.optim keyword arguments)

Writes DIR/out/manifest.json (same form) with:
  eval/probs, train/logits, train/probs, train/loss_per_sample, train/loss (mean),
  grad/<key> for every parameter (one backward of CrossEntropyLoss(mean), train mode),
  running/<key> for the BatchNorm buffers after the train-mode forward,
  sgd/<key> and adamw/<key>: every parameter after ONE step from the loaded weights,
  opt_sgd/param<i>/<step>, opt_adamw/param<i>/<step>: the small tensors after each step.
This is a reference, never the lab: it only reads and writes files.
"""
import os
import sys

import numpy as np
import torch
import torch.nn as nn

from tensor_exchange import Writer, read_tensors


# The book's model (p2ch11/model.py), as in /work/shared/reference/pytorch_luna_bench.py but
# with the book's module names, which are the state_dict keys the lab maps to.
class LunaBlock(nn.Module):
    def __init__(self, in_channels, conv_channels):
        super().__init__()
        self.conv1 = nn.Conv3d(in_channels, conv_channels, kernel_size=3, padding=1, bias=True)
        self.relu1 = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv3d(conv_channels, conv_channels, kernel_size=3, padding=1, bias=True)
        self.relu2 = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool3d(2, 2)

    def forward(self, x):
        return self.maxpool(self.relu2(self.conv2(self.relu1(self.conv1(x)))))


class LunaModel(nn.Module):
    def __init__(self, in_channels=1, conv_channels=8):
        super().__init__()
        self.tail_batchnorm = nn.BatchNorm3d(1)
        self.block1 = LunaBlock(in_channels, conv_channels)
        self.block2 = LunaBlock(conv_channels, conv_channels * 2)
        self.block3 = LunaBlock(conv_channels * 2, conv_channels * 4)
        self.block4 = LunaBlock(conv_channels * 4, conv_channels * 8)
        self.head_linear = nn.Linear(1152, 2)
        self.head_softmax = nn.Softmax(dim=1)

    def forward(self, x):
        y = self.block4(self.block3(self.block2(self.block1(self.tail_batchnorm(x)))))
        logits = self.head_linear(y.view(y.size(0), -1))
        return logits, self.head_softmax(logits)


def read_torch_tensors(d):
    manifest, arrays = read_tensors(d)
    return manifest, {k: torch.from_numpy(v.copy()) for k, v in arrays.items()}


class TorchWriter(Writer):
    def put(self, name, t):
        super().put(name, t.detach().to(torch.float32).contiguous().numpy() if isinstance(t, torch.Tensor) else t)


def model_checks(manifest, t, out):
    model = LunaModel()
    sd = {k[3:]: v for k, v in t.items() if k.startswith("sd/")}
    missing, unexpected = model.load_state_dict(sd, strict=False)
    bad = [k for k in missing if not k.endswith("num_batches_tracked")]
    if bad or unexpected:
        raise SystemExit(f"state_dict does not fit the book's LunaModel: missing {bad}, unexpected {unexpected}")
    x, labels = t["x"], t["labels"].to(torch.int64)

    model.eval()
    with torch.no_grad():
        _, probs = model(x)
    out.put("eval/probs", probs)

    model.train()  # batch statistics; updates the running stats once
    logits, probs = model(x)
    loss_each = nn.functional.cross_entropy(logits, labels, reduction="none")
    loss = nn.CrossEntropyLoss()(logits, labels)
    loss.backward()
    out.put("train/logits", logits)
    out.put("train/probs", probs)
    out.put("train/loss_per_sample", loss_each)
    out.put("train/loss", loss.reshape(1))
    params = dict(model.named_parameters())
    for k, p in params.items():
        out.put(f"grad/{k}", p.grad)
    for k, b in model.named_buffers():
        if not k.endswith("num_batches_tracked"):
            out.put(f"running/{k}", b)

    start = {k: p.detach().clone() for k, p in params.items()}
    steps = {
        "sgd": lambda ps: torch.optim.SGD(ps, lr=manifest["sgd"]["lr"], momentum=manifest["sgd"]["momentum"]),
        "adamw": lambda ps: torch.optim.AdamW(ps, lr=manifest["adamw"]["lr"], weight_decay=manifest["adamw"]["weight_decay"]),
    }
    for name, make in steps.items():
        with torch.no_grad():
            for k, p in params.items():
                p.copy_(start[k])
        make(model.parameters()).step()  # the gradients of the one backward above
        for k, p in params.items():
            out.put(f"{name}/{k}", p)


def optimizer_checks(manifest, t, out):
    n = sum(1 for k in t if k.startswith("opt/param"))
    for name, cls in (("opt_sgd", torch.optim.SGD), ("opt_adamw", torch.optim.AdamW)):
        ps = [t[f"opt/param{i}"].clone().requires_grad_(True) for i in range(n)]
        opt = cls(ps, **manifest[name])
        for s in range(manifest["opt_steps"]):
            for i, p in enumerate(ps):
                p.grad = t[f"opt/grad{i}/{s}"].clone()
            opt.step()
            for i, p in enumerate(ps):
                out.put(f"{name}/param{i}/{s}", p)


def main():
    if len(sys.argv) != 2:
        raise SystemExit("usage: parity_reference.py DIR")
    torch.manual_seed(0)  # nothing here is random; set anyway so a change that draws stays fixed
    d = sys.argv[1]
    manifest, t = read_torch_tensors(d)
    out = TorchWriter(os.path.join(d, "out"))
    model_checks(manifest, t, out)
    optimizer_checks(manifest, t, out)
    out.close()


if __name__ == "__main__":
    main()
