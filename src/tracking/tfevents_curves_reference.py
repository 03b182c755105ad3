"""PR curves and histograms read back with TensorBoard's own code, for src/tracking/tfevents.test.ts.

Usage: python tfevents_curves_reference.py LOGDIR [DATA.json TORCHDIR] -> JSON on stdout.

Reads LOGDIR two ways, both tensorboard's:
- accumulator: event_accumulator.EventAccumulator (no sampling), its Histograms(tag) and, for
  every tag of the pr_curves plugin (PluginTagToContent), the PrCurvePluginData and Tensors(tag).
- dashboard: what `tensorboard --logdir` serves the histograms and PR curves dashboards from
  (plugin_event_multiplexer, data_compat migration, MultiplexerDataProvider.read_tensors).

With DATA.json ([{"mode", "step", "labels", "probs"}]), TORCHDIR gets what the seed writes for the
same predictions with torch.utils.tensorboard (its logMetrics: add_pr_curve('pr', ...) and
add_histogram('is_neg' / 'is_pos', ..., bins=[x / 50.0 for x in range(51)]), tags prefixed by mode
as the lab's one file does), read back the same way under "torch".
"""

import json
import os
import sys

import numpy as np
from tensorboard import context
from tensorboard.backend.event_processing import data_provider, event_accumulator, plugin_event_multiplexer
from tensorboard.plugins.histogram import metadata as histogram_metadata
from tensorboard.plugins.pr_curve import metadata as pr_metadata
from tensorboard.util import tensor_util


def accumulator(logdir):
    acc = event_accumulator.EventAccumulator(logdir, size_guidance={k: 0 for k in event_accumulator.DEFAULT_SIZE_GUIDANCE})
    acc.Reload()
    histograms = {
        tag: [
            {"step": e.step, "num": e.histogram_value.num, "min": e.histogram_value.min, "max": e.histogram_value.max,
             "bucket_limit": list(e.histogram_value.bucket_limit), "bucket": list(e.histogram_value.bucket)}
            for e in acc.Histograms(tag)
        ]
        for tag in acc.Tags()["histograms"]
    }
    pr = {}
    for tag, content in acc.PluginTagToContent(pr_metadata.PLUGIN_NAME).items():
        data = pr_metadata.parse_plugin_metadata(content)
        pr[tag] = [
            {"step": e.step, "num_thresholds": data.num_thresholds,
             "shape": list(tensor_util.make_ndarray(e.tensor_proto).shape),
             "values": tensor_util.make_ndarray(e.tensor_proto).astype(np.float64).tolist()}
            for e in acc.Tensors(tag)
        ]
    return {"histograms": histograms, "pr": pr}


def dashboard(logdir):
    mux = plugin_event_multiplexer.EventMultiplexer(
        tensor_size_guidance={histogram_metadata.PLUGIN_NAME: 0, pr_metadata.PLUGIN_NAME: 0})
    mux.AddRunsFromDirectory(logdir)
    mux.Reload()
    provider = data_provider.MultiplexerDataProvider(mux, logdir)
    out = {}
    for plugin in (histogram_metadata.PLUGIN_NAME, pr_metadata.PLUGIN_NAME):
        runs = provider.read_tensors(context.RequestContext(), experiment_id="", plugin_name=plugin, downsample=100000)
        out[plugin] = {
            tag: [{"step": d.step, "values": np.asarray(d.numpy, dtype=np.float64).tolist()} for d in data]
            for tags in runs.values() for tag, data in tags.items()
        }
    return out


def read(logdir):
    return {"accumulator": accumulator(logdir), "dashboard": dashboard(logdir)}


def torch_writes(data_path, logdir):
    import torch
    from torch.utils.tensorboard import SummaryWriter

    bins = [x / 50.0 for x in range(51)]
    writer = SummaryWriter(log_dir=logdir)
    for p in json.load(open(data_path)):
        label = torch.tensor(p["labels"], dtype=torch.float32)
        pred = torch.tensor(p["probs"], dtype=torch.float32)
        step, mode = p["step"], p["mode"]
        writer.add_pr_curve(f"{mode}/pr", label, pred, step)
        # The seed's masks (p2ch12 training.py logMetrics).
        neg_mask = (label <= 0.5) & (pred > 0.01)
        pos_mask = (label > 0.5) & (pred < 0.99)
        if neg_mask.any():
            writer.add_histogram(f"{mode}/is_neg", pred[neg_mask], step, bins=bins)
        if pos_mask.any():
            writer.add_histogram(f"{mode}/is_pos", pred[pos_mask], step, bins=bins)
    writer.close()


def main():
    report = {"ours": read(sys.argv[1])}
    if len(sys.argv) > 3:
        torch_writes(sys.argv[2], sys.argv[3])
        report["torch"] = read(sys.argv[3])
    json.dump(report, sys.stdout)


if __name__ == "__main__":
    main()
