"""Reads a log directory of event files with TensorBoard's own code, for src/tracking/tfevents.test.ts.

Two readers, both tensorboard's:
- strict: compat.tensorflow_stub's PyRecordReader_New over every file, which raises DataLossError on
  a bad length or data CRC (the loader below swallows those and just stops), parsed as event_pb2.Event.
- dashboard: the path `tensorboard --logdir` serves scalars from (plugin_event_multiplexer,
  data_compat migration of simple_value, MultiplexerDataProvider.read_scalars for the scalars plugin).

Usage: python tfevents_reference.py LOGDIR  -> JSON on stdout. Float32 values go as hex bits so
NaN and infinities cross JSON exactly.
"""

import json
import os
import struct
import sys

import tensorboard
from tensorboard import context
from tensorboard.backend.event_processing import data_provider, plugin_event_multiplexer
from tensorboard.compat.proto import event_pb2
from tensorboard.compat.tensorflow_stub import errors, pywrap_tensorflow
from tensorboard.plugins.scalar import metadata as scalar_metadata


def f32_bits(x):
    return struct.pack("<f", x).hex()


def strict(path):
    reader = pywrap_tensorflow.PyRecordReader_New(path.encode(), 0, b"", None)
    events = []
    while True:
        try:
            reader.GetNext()
        except errors.OutOfRangeError:
            break
        except errors.DataLossError as e:
            return {"events": events, "error": str(e)}
        ev = event_pb2.Event.FromString(reader.record())
        out = {"wall_time": ev.wall_time, "step": ev.step, "what": ev.WhichOneof("what")}
        if ev.HasField("file_version"):
            out["file_version"] = ev.file_version
        if ev.HasField("summary"):
            out["values"] = [
                {"tag": v.tag, "kind": v.WhichOneof("value"), "bits": f32_bits(v.simple_value)}
                for v in ev.summary.value
            ]
        events.append(out)
    return {"events": events, "error": None}


def dashboard(logdir):
    mux = plugin_event_multiplexer.EventMultiplexer(tensor_size_guidance={scalar_metadata.PLUGIN_NAME: 0})
    mux.AddRunsFromDirectory(logdir)
    mux.Reload()
    provider = data_provider.MultiplexerDataProvider(mux, logdir)
    scalars = provider.read_scalars(
        context.RequestContext(), experiment_id="", plugin_name=scalar_metadata.PLUGIN_NAME, downsample=100000)
    return {
        run: {
            tag: [{"step": d.step, "wall_time": d.wall_time, "bits": f32_bits(d.value)} for d in data]
            for tag, data in tags.items()
        }
        for run, tags in scalars.items()
    }


def main():
    logdir = sys.argv[1]
    files = sorted(
        os.path.join(dp, f) for dp, _, fs in os.walk(logdir) for f in fs if "tfevents" in f
    )
    report = {
        "tensorboard_version": tensorboard.__version__,
        "files": {os.path.relpath(f, logdir): strict(f) for f in files},
        "scalars": dashboard(logdir),
    }
    json.dump(report, sys.stdout)


if __name__ == "__main__":
    main()
