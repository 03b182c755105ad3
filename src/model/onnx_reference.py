"""ONNX reference for src/model/onnx-export.test.ts: runs the ONNX model the lab exported with
onnxruntime (CPUExecutionProvider), checks it with onnx.checker, and loads the MLflow model
directory the lab wrote with MLflow itself, so the export is judged by the tools that consume it.

Usage: python onnx_reference.py DIR

DIR/manifest.json:
  "tensors": {name: {"file", "shape"}}: raw little-endian float32 files in DIR, with
      "x"   the batch, [N, 1, D, H, W] (NCDHW; C = 1, so the same bytes as NDHWC)
  "onnx": file name of the ONNX model in DIR
  "mlflow_dir": (optional) an MLflow model directory in DIR (MLmodel, model.onnx, ...)

Writes DIR/out/manifest.json (same form) with tensors
  ort/<output name>      every output of an onnxruntime session on x
  pyfunc/<output name>   (with mlflow_dir) every output of mlflow.pyfunc.load_model(dir).predict(x)
and "report": versions, the checker's verdict, the session's and the MLmodel's inputs/outputs,
and (with mlflow_dir) how the lab's MLflow files differ from what mlflow.onnx.save_model writes
for the same ONNX model and signature (parsed YAML; uuid, time, run_id, artifact_path aside).
A failed check exits non-zero with the reason on stderr. It only reads and writes files.
"""
import os
import sys

import numpy as np
import onnx
import onnxruntime as ort

from tensor_exchange import Writer, read_tensors


def dims(shape):
    """onnxruntime / ValueInfo dims as JSON: ints, or the symbolic name."""
    return [d if isinstance(d, int) else str(d) for d in shape]


def check_onnx(path, x, out, report):
    model = onnx.load(path)
    # full_check also runs strict shape inference: every node's output shape must follow.
    onnx.checker.check_model(model, full_check=True)
    report["checker"] = "ok"
    report["ir_version"] = model.ir_version
    report["opset"] = {o.domain or "ai.onnx": o.version for o in model.opset_import}
    report["producer"] = [model.producer_name, model.producer_version]
    report["ops"] = [n.op_type for n in model.graph.node]
    report["initializers"] = {t.name: list(t.dims) for t in model.graph.initializer}

    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    report["session"] = {
        "providers": sess.get_providers(),
        "inputs": [{"name": i.name, "shape": dims(i.shape), "type": i.type} for i in sess.get_inputs()],
        "outputs": [{"name": o.name, "shape": dims(o.shape), "type": o.type} for o in sess.get_outputs()],
    }
    names = [o.name for o in sess.get_outputs()]
    results = sess.run(names, {sess.get_inputs()[0].name: x})
    for name, r in zip(names, results):
        out.put(f"ort/{name}", r)


def spec_json(spec):
    """An MLflow TensorSpec as plain JSON."""
    return {"name": spec.name, "dtype": str(spec.type), "shape": list(spec.shape)}


# MLmodel keys that differ between any two saves (or that only log_model writes).
VOLATILE = {"model_uuid", "utc_time_created", "run_id", "artifact_path"}


def diff(a, b, where=""):
    """Paths where two parsed YAML documents differ."""
    if isinstance(a, dict) and isinstance(b, dict):
        out = []
        for k in sorted(set(a) | set(b)):
            if k not in a or k not in b:
                out.append(f"{where}{k}: only in {'lab' if k in a else 'mlflow'}")
            else:
                out += diff(a[k], b[k], f"{where}{k}.")
        return out
    return [] if a == b else [f"{where.rstrip('.')}: lab {a!r} != mlflow {b!r}"]


def compare_with_save_model(model_dir, x, report):
    """Save the same ONNX model with mlflow.onnx.save_model and compare every file with the lab's.
    The reference signature is built here (the crop from x's shape), never read from the lab's file."""
    import tempfile

    import mlflow.onnx
    import yaml
    from mlflow.models import ModelSignature
    from mlflow.types.schema import Schema, TensorSpec

    f32 = np.dtype("float32")
    signature = ModelSignature(
        inputs=Schema([TensorSpec(f32, (-1, *x.shape[1:]), "input")]),
        outputs=Schema([TensorSpec(f32, (-1, 2), "logits"), TensorSpec(f32, (-1, 2), "probabilities")]),
    )

    with tempfile.TemporaryDirectory() as tmp:
        ref = os.path.join(tmp, "ref")
        mlflow.onnx.save_model(
            onnx.load(os.path.join(model_dir, "model.onnx")),
            ref,
            signature=signature,
            onnx_execution_providers=["CPUExecutionProvider"],
        )
        diffs = []
        for name in ("MLmodel", "conda.yaml", "python_env.yaml"):
            with open(os.path.join(model_dir, name)) as f:
                ours = yaml.safe_load(f)
            with open(os.path.join(ref, name)) as f:
                theirs = yaml.safe_load(f)
            if name == "MLmodel":
                for k in VOLATILE:
                    ours.pop(k, None)
                    theirs.pop(k, None)
                # Each side's own model.onnx: protobuf encoders may differ in bytes, not in meaning.
                size = os.path.getsize(os.path.join(model_dir, "model.onnx"))
                if ours.pop("model_size_bytes", None) != size:
                    diffs.append(f"MLmodel: model_size_bytes is not the size of model.onnx ({size})")
                theirs.pop("model_size_bytes", None)
            diffs += [f"{name}: {d}" for d in diff(ours, theirs)]
        with open(os.path.join(model_dir, "requirements.txt")) as f, open(os.path.join(ref, "requirements.txt")) as g:
            ours, theirs = f.read(), g.read()
            if ours != theirs:
                diffs.append(f"requirements.txt: lab {ours!r} != mlflow {theirs!r}")
        report["mlmodel_vs_save_model"] = diffs


def check_mlflow(model_dir, x, out, report):
    import mlflow
    import mlflow.pyfunc
    from mlflow.models import Model

    report["mlflow_version"] = mlflow.__version__
    meta = Model.load(os.path.join(model_dir, "MLmodel"))
    sig = meta.signature
    if sig is None:
        raise SystemExit("MLmodel has no signature")
    report["mlmodel"] = {
        "flavors": sorted(meta.flavors.keys()),
        "onnx_flavor": meta.flavors.get("onnx"),
        "pyfunc_flavor": meta.flavors.get("python_function"),
        "run_id": meta.run_id,
        "artifact_path": meta.artifact_path,
        "utc_time_created": meta.utc_time_created,
        "model_uuid": meta.model_uuid,
        "mlflow_version": meta.mlflow_version,
        "signature": {
            "inputs": [spec_json(s) for s in sig.inputs.inputs],
            "outputs": [spec_json(s) for s in sig.outputs.inputs],
        },
    }

    compare_with_save_model(model_dir, x, report)

    model = mlflow.pyfunc.load_model(model_dir)
    pred = model.predict(x)
    if not isinstance(pred, dict):
        raise SystemExit(f"pyfunc predict returned {type(pred).__name__}, expected a dict of outputs")
    for name, r in pred.items():
        out.put(f"pyfunc/{name}", r)


def main():
    if len(sys.argv) != 2:
        raise SystemExit("usage: onnx_reference.py DIR")
    d = sys.argv[1]
    manifest, t = read_tensors(d)
    out = Writer(os.path.join(d, "out"))
    report = {"onnx_version": onnx.__version__, "onnxruntime_version": ort.__version__, "python_version": sys.version.split()[0]}
    check_onnx(os.path.join(d, manifest["onnx"]), t["x"], out, report)
    if manifest.get("mlflow_dir"):
        check_mlflow(os.path.join(d, manifest["mlflow_dir"]), t["x"], out, report)
    out.close(report=report)


if __name__ == "__main__":
    main()
