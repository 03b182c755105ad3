"""Ray Tune driver of `luna-lab sweep --engine ray` (started by src/cli/ray-sweep.ts).

Reads the sweep spec (JSON, written by the CLI), builds Tune's search space from it, and runs
each trial as a `luna-lab train --json` subprocess on whichever node Tune places it. Every
validation the train command prints is reported to Tune as it happens, so Tune's schedulers
(FIFO, ASHA) decide on the lab's own metrics. Events for the CLI go to stdout, one JSON object
per line; everything Ray and Tune print goes to stderr. The results of every trial go to the
spec's `results` file when Tune is done.

Per node, trials share a small pool of browser profiles ("slots", `<cache>/slot-K`): one run
per profile at a time is the lab's rule, so a trial holds an exclusive lock on its slot for its
whole run, and data is ingested once per slot (at most max-concurrent times per node), not per
trial. An interrupted trial continues (`luna-lab train --resume`) on the slot that holds its
run, so a resumed sweep re-runs no finished epoch. The train command writes the trial's
`run.json`, the run's id, before its page creates the run (and queues the run's MLflow start),
and a train process stopped before its run began makes none: a trial killed at any moment is
one lab run and one MLflow child after the restore, never an orphan beside a new one.

A run's MLflow items wait in its slot's outbox until the server has them. A trial whose run
was cut short (stopped by the scheduler: Tune ends its worker, and Ray the worker's children; or
a killed driver) or could not reach the server leaves them there, marked by the slot's
`luna-undelivered.json`; the next run on the slot sends them, and when Tune is done every
sweep, resumed or not, sends what is left on every node (`sweep --engine ray --deliver`)
before it reports.
"""

from __future__ import annotations

import argparse
import ctypes
import fcntl
import json
import math
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Literal, TypedDict, cast

from ray import tune
from ray.tune.schedulers import ASHAScheduler, FIFOScheduler, TrialScheduler
from ray.tune.search.basic_variant import BasicVariantGenerator

# In a slot while a run's tracking items may wait in its outbox (removed when a run on the slot
# exits 0: everything the profile held was delivered).
UNDELIVERED = "luna-undelivered.json"


class GridEntry(TypedDict):
    key: str
    kind: Literal["grid", "choice"]
    values: list[str]


class RandomEntry(TypedDict):
    key: str
    kind: Literal["random"]
    low: float
    high: float
    log: bool
    integer: bool


class TrainSpec(TypedDict):
    node: str
    cli: str
    root: str
    args: list[str]
    cacheRoot: str
    slots: int
    epochs: int


class Spec(TypedDict):
    out: str
    storage: str
    name: str
    space: list[GridEntry | RandomEntry]
    train: TrainSpec
    resources: dict[str, float]
    maxConcurrent: int
    samples: int
    scheduler: Literal["fifo", "asha"]
    metric: str
    mode: Literal["max", "min"]
    parentRunId: str | None
    results: str
    seed: int


def emit(event: str, **body: Any) -> None:
    """An event line for the CLI (driver side only: Tune pickles callbacks, so no file is held)."""
    fd = int(os.environ.get("LUNA_TUNE_EVENTS_FD", "1"))
    os.write(fd, (json.dumps({"event": event, **body}) + "\n").encode())


def search_space(spec: Spec) -> dict[str, Any]:
    """Tune's param space: `point` holds the config key → value text of each trial."""
    point: dict[str, Any] = {}
    for e in spec["space"]:
        if e["kind"] == "grid":
            point[e["key"]] = tune.grid_search(e["values"])
        elif e["kind"] == "choice":
            point[e["key"]] = tune.choice(e["values"])
        else:
            low, high = e["low"], e["high"]
            if e["integer"]:
                point[e["key"]] = tune.lograndint(int(low), int(high) + 1) if e["log"] else tune.randint(int(low), int(high) + 1)
            else:
                point[e["key"]] = tune.loguniform(low, high) if e["log"] else tune.uniform(low, high)
    return {"point": point}


def value_text(v: Any) -> str:
    # The CLI's own text form: integers without ".0", floats in repr's shortest form.
    if isinstance(v, float) and v.is_integer() and abs(v) < 2**53:
        return str(int(v))
    return str(v)


def _die_with_parent() -> None:
    # The train process ends (SIGTERM: stop after the current step) when the trial's worker
    # dies, so a stopped trial or a killed driver leaves no browser behind.
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _lab_lock_alive(profile: Path) -> bool:
    """Whether a luna-lab process still holds the profile (src/cli/profile-lock.ts): a run
    whose Ray worker is gone may still be ending, and its profile is not free before it has."""
    try:
        owner = json.loads((profile / "luna-lab.lock").read_text())
        pid = int(owner["pid"])
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (OSError, ValueError, KeyError, TypeError):
        return False
    start = stat[stat.rfind(")") + 2 :].split(" ")[19]
    return owner.get("startTime") in (None, start)


class Slot:
    """An exclusive lock on one browser profile of this node."""

    def __init__(self, path: Path, fd: int) -> None:
        self.path = path
        self.fd = fd

    @staticmethod
    def acquire(cache_root: Path, slots: int, want: Path | None) -> Slot:
        cache_root.mkdir(parents=True, exist_ok=True)
        candidates = [want] if want is not None else [cache_root / f"slot-{k}" for k in range(slots)]
        while True:
            for path in candidates:
                path.mkdir(parents=True, exist_ok=True)
                fd = os.open(path / "luna-slot.lock", os.O_CREAT | os.O_RDWR, 0o644)
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    os.close(fd)
                    continue
                if not _lab_lock_alive(path):
                    return Slot(path, fd)
                os.close(fd)
            time.sleep(0.5)

    def release(self) -> None:
        os.close(self.fd)


def history(out: Path) -> dict[int, dict[str, float]]:
    """A run's metrics.csv by epoch (a line being rewritten as it is read is left out)."""
    csv = out / "metrics.csv"
    by_epoch: dict[int, dict[str, float]] = {}
    lines = csv.read_text().splitlines() if csv.exists() else []
    head = lines[0].split(",") if lines else []
    for line in lines[1:]:
        cells = line.split(",")
        if len(cells) != len(head):
            continue
        try:
            values = {k: float(v) for k, v in zip(head[2:], cells[2:]) if v != ""}
            by_epoch.setdefault(int(cells[0]), {}).update(values)
        except ValueError:
            continue
    return by_epoch


def replay(out: Path, after: int = 0, before: int | None = None) -> int:
    """Report the validated epochs a run already has (its metrics.csv) after epoch `after` and
    before `before`: a trial restarted by a restore tells Tune what its run did before, then
    continues. Returns the last epoch metrics.csv has."""
    meta = json.loads((out / "run.json").read_text())
    done = 0
    for epoch, values in sorted(history(out).items()):
        if after < epoch and (before is None or epoch < before) and any(k.startswith("validating/") for k in values):
            tune.report({**values, "epoch": epoch, "luna_run_id": meta["runId"], "luna_out": str(out)})
        done = epoch
    return done


def catch_up(out: Path, replayed: int, epoch: int) -> None:
    """A resumed run's first new epoch is `epoch`, but metrics.csv had only `replayed` when the
    trial restarted (a run killed right after an epoch, before its outputs were written): the
    epochs between are reported first, from metrics.csv once this epoch's update has rewritten
    it, so the scheduler judges them (ASHA's stop at a rung is not skipped)."""
    deadline = time.time() + 60
    while max(history(out), default=0) < epoch - 1 and time.time() < deadline:
        time.sleep(0.5)
    replay(out, after=replayed, before=epoch)


def run_trial(config: dict[str, Any], spec: Spec) -> None:
    """One trial: a `luna-lab train --json` run; each validation is a Tune report."""
    t = spec["train"]
    ctx = tune.get_context()
    trial = ctx.get_trial_name()
    point: dict[str, Any] = config["point"]
    out = Path(spec["out"]) / "trials" / trial
    meta = out / "run.json"
    resume = meta.exists()
    replayed = 0  # the last epoch of the run that Tune has been told about on a restart
    # A run that began here continues on the profile that holds it; a new one takes a free slot.
    want = Path(json.loads(meta.read_text())["profileDir"]) if resume else None
    # The slot is free only once the killed attempt's run has ended (it outlives the driver until
    # its next step boundary), so what that run did is read after taking it, not before.
    slot = Slot.acquire(Path(t["cacheRoot"]), t["slots"], want)
    try:
        if resume:
            replayed = epochs = replay(out)
            status = json.loads(meta.read_text()).get("status")
            if status == "finished" and epochs >= t["epochs"]:
                return  # it finished before the driver's last save: nothing to run again
        cli = [t["node"], t["cli"], "train", "--json"]
        if resume:
            cmd = [*cli, "--resume", str(out), "--cache", str(slot.path)]
        else:
            sets = ";".join(f"{k}={value_text(v)}" for k, v in point.items())
            name = " ".join(f"{k.split('.')[-1]}={value_text(v)}" for k, v in point.items())
            tags = [f"luna.sweep={name}", f"luna.tune_trial={trial}"]
            if spec["parentRunId"]:
                tags.append(f"mlflow.parentRunId={spec['parentRunId']}")
            cmd = [*cli, *t["args"], "--set", sets, "--out", str(out), "--cache", str(slot.path), "--name", f"sweep {trial} {name}", "--tags", ";".join(tags)]
        # The worker's output reaches the driver's stderr (log_to_driver).
        print(f"luna-lab trial {trial}: {'resuming ' + str(out) if resume else 'training into ' + str(out)} on profile {slot.path}", file=sys.stderr, flush=True)
        # The lock stays with this worker (not inherited: the run's own children, its lab server
        # and browser, would outlive a hard kill holding it); the run ends with the worker.
        (slot.path / UNDELIVERED).write_text(json.dumps({"trial": trial, "out": str(out), "since": time.time()}) + "\n")
        proc = subprocess.Popen(cmd, cwd=t["root"], stdout=subprocess.PIPE, text=True, preexec_fn=_die_with_parent)
        done: dict[str, Any] | None = None
        try:
            assert proc.stdout is not None
            for line in proc.stdout:
                if not line.startswith("{"):
                    continue
                e = json.loads(line)
                if e.get("event") == "epoch" and resume and e["epoch"] > replayed + 1:
                    catch_up(out, replayed, e["epoch"])
                    replayed = e["epoch"]
                if e.get("event") == "epoch" and any(k.startswith("validating/") for k in e["values"]):
                    tune.report({**e["values"], "epoch": e["epoch"], "luna_run_id": e["runId"], "luna_out": str(out)})
                elif e.get("event") == "done":
                    done = e
            code = proc.wait()
        finally:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    proc.kill()
        if code == 0:
            (slot.path / UNDELIVERED).unlink(missing_ok=True)
        # 3: finished, but tracking items wait for the server (kept in the slot's profile).
        if code not in (0, 3) or done is None or done.get("status") != "finished":
            raise RuntimeError(f"luna-lab train for trial {trial} exited with {code} (status {done and done.get('status')}); see {out}/console.log")
    finally:
        slot.release()


def deliver_node(spec: Spec) -> list[dict[str, Any]]:
    """On one node: every slot marked undelivered sends its outbox to MLflow (a run of
    `luna-lab sweep --engine ray --deliver SLOT`, holding the slot as a trial would)."""
    t = spec["train"]
    root = Path(t["cacheRoot"])
    rows: list[dict[str, Any]] = []
    for path in sorted(root.glob("slot-*")) if root.is_dir() else []:
        if not (path / UNDELIVERED).exists():
            continue
        slot = Slot.acquire(root, t["slots"], path)
        try:
            if not (path / UNDELIVERED).exists():
                continue  # another sweep's driver delivered it meanwhile
            cmd = [t["node"], t["cli"], "sweep", "--engine", "ray", "--deliver", str(path), "--json"]
            proc = subprocess.run(cmd, cwd=t["root"], stdout=subprocess.PIPE, text=True, preexec_fn=_die_with_parent)
            left: int | None = None
            for line in proc.stdout.splitlines():
                if line.startswith("{"):
                    e = json.loads(line)
                    if e.get("event") == "tracking":
                        left = int(e["pending"]) + int(e["failed"])
            if proc.returncode == 0:
                (path / UNDELIVERED).unlink(missing_ok=True)
            rows.append({"node": socket.gethostname(), "slot": str(path), "code": proc.returncode, "left": left})
        finally:
            slot.release()
    return rows


def deliver_backlogs(spec: Spec) -> None:
    """Before the sweep reports: what trials left in their slots' outboxes goes to MLflow, on
    every live node (a task pinned to each), so MLflow has every epoch Tune saw."""
    import ray
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    task = ray.remote(num_cpus=0, max_retries=0)(deliver_node)
    nodes = [n for n in ray.nodes() if n.get("Alive")]
    refs = [task.options(scheduling_strategy=NodeAffinitySchedulingStrategy(n["NodeID"], soft=False)).remote(spec) for n in nodes]
    for node, ref in zip(nodes, refs):
        try:
            rows = ray.get(ref)
        except Exception as e:  # a node that went away keeps its backlog for its next run
            emit("warning", message=f"could not deliver the tracking backlog on node {node.get('NodeManagerAddress')}: {e}")
            continue
        for row in rows:
            emit("delivered", **row)


class Events(tune.Callback):
    """Trial progress for the CLI, as it happens."""

    def __init__(self, metric: str) -> None:
        self.metric = metric

    def on_trial_start(self, iteration: int, trials: list[Any], trial: Any, **info: Any) -> None:
        emit("trial-start", trial=str(trial), point={k: value_text(v) for k, v in (trial.config or {}).get("point", {}).items()})

    def on_trial_result(self, iteration: int, trials: list[Any], trial: Any, result: dict[str, Any], **info: Any) -> None:
        emit("trial-result", trial=str(trial), epoch=result.get("epoch"), metric=self.metric, value=finite(result.get(self.metric)))

    def on_trial_complete(self, iteration: int, trials: list[Any], trial: Any, **info: Any) -> None:
        emit("trial-complete", trial=str(trial), epochs=(trial.last_result or {}).get("epoch"))

    def on_trial_error(self, iteration: int, trials: list[Any], trial: Any, **info: Any) -> None:
        emit("trial-error", trial=str(trial))


class Asha(ASHAScheduler):
    """ASHA that keeps its stop decisions: a trial it stopped whose stop the driver's last save
    missed (the trial still running there) runs again after a restore and replays its epochs;
    ASHA, finding them in its rungs already, would let it go on. It is stopped again instead."""

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        self.stopped_at: dict[str, int] = {}

    def on_trial_result(self, tune_controller: Any, trial: Any, result: dict[str, Any]) -> str:
        epoch = result.get(self._time_attr)
        at = self.stopped_at.get(trial.trial_id)
        if at is not None and isinstance(epoch, (int, float)) and epoch >= at:
            return TrialScheduler.STOP
        # At max_t the run ends by itself: stopping it there would end its worker (and the
        # train process) before the run logs its model and final status to MLflow.
        if isinstance(epoch, (int, float)) and epoch >= self._max_t:
            return TrialScheduler.CONTINUE
        action = super().on_trial_result(tune_controller, trial, result)
        if action == TrialScheduler.STOP and isinstance(epoch, (int, float)):
            self.stopped_at[trial.trial_id] = int(epoch)
            emit("trial-stop", trial=str(trial), epoch=epoch, by="asha")
        return action


class SchedulerState(tune.Callback):
    """ASHA's rungs and stops across a restore: Tune saves the searcher's and the callbacks'
    state, not the scheduler's, so without this a resumed sweep would judge its next trials
    against nobody."""

    def __init__(self, sched: TrialScheduler) -> None:
        self.sched = sched

    def get_state(self) -> dict[str, Any] | None:
        if not isinstance(self.sched, ASHAScheduler):
            return None
        stopped = dict(self.sched.stopped_at) if isinstance(self.sched, Asha) else {}
        return {"rungs": [[(m, dict(rec)) for m, rec in b._rungs] for b in self.sched._brackets], "stopped": stopped}

    def set_state(self, state: dict[str, Any]) -> None:
        if state and isinstance(self.sched, ASHAScheduler):
            for b, rungs in zip(self.sched._brackets, state["rungs"]):
                b._rungs = [(m, dict(rec)) for m, rec in rungs]
            stopped = dict(state.get("stopped", {}))
            if isinstance(self.sched, Asha):  # an experiment begun before Asha has plain ASHA
                self.sched.stopped_at = stopped
            emit("scheduler-restored", recorded=sum(len(rec) for rungs in state["rungs"] for _, rec in rungs), stopped=sorted(stopped))


def scheduler(spec: Spec) -> TrialScheduler:
    if spec["scheduler"] == "asha":
        # Rungs at validated epochs; the epoch is the time axis, so a resumed trial keeps its place.
        return Asha(time_attr="epoch", max_t=spec["train"]["epochs"], grace_period=1, reduction_factor=2)
    return FIFOScheduler()


def finite(x: Any) -> Any:
    return None if isinstance(x, float) and not math.isfinite(x) else x


def collect(results: tune.ResultGrid, spec: Spec) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for r in results:
        m = r.metrics or {}
        by_epoch: dict[int, dict[str, Any]] = {}
        df = r.metrics_dataframe
        if df is not None and len(df) and "epoch" in df.columns:
            keys = [c for c in df.columns if c.startswith(("validating/", "training/"))]
            for rec in df.to_dict("records"):
                # A trial restarted by a restore reports its later epochs again: the last word counts.
                by_epoch[int(rec["epoch"])] = {k: finite(rec[k]) for k in keys if rec[k] == rec[k]}
        history = [{"epoch": ep, "values": v} for ep, v in sorted(by_epoch.items())]
        epochs = max((h["epoch"] for h in history), default=0)
        status = "error" if r.error else "finished" if epochs >= spec["train"]["epochs"] else "stopped"
        rows.append(
            {
                "trial": Path(r.path).name if r.path else None,
                "point": {k: value_text(v) for k, v in (r.config or {}).get("point", {}).items()},
                "status": status,
                "error": str(r.error) if r.error else None,
                "runId": m.get("luna_run_id"),
                "out": m.get("luna_out"),
                "epochs": epochs,
                "metrics": {k: finite(v) for k, v in m.items() if isinstance(k, str) and k.startswith(("validating/", "training/"))},
                "history": history,
            }
        )
    return rows


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("spec", help="the sweep spec (JSON) the CLI wrote")
    ap.add_argument("--address", default=None, help="Ray cluster address (default: a local Ray, or RAY_ADDRESS)")
    ap.add_argument("--restore", action="store_true", help="continue the experiment in the spec's storage")
    a = ap.parse_args()
    spec = cast(Spec, json.loads(Path(a.spec).read_text()))

    # Events keep stdout; Ray's and Tune's own output goes to stderr.
    os.environ["LUNA_TUNE_EVENTS_FD"] = str(os.dup(1))
    os.dup2(2, 1)
    sys.stdout = sys.stderr

    import ray

    ray.init(address=a.address, log_to_driver=True, include_dashboard=False, logging_level="WARNING")
    trainable = tune.with_resources(tune.with_parameters(run_trial, spec=spec), spec["resources"])
    path = str(Path(spec["storage"]) / spec["name"])
    if a.restore:
        if not tune.Tuner.can_restore(path):
            emit("error", message=f"no Tune experiment to restore in {path}")
            return 1
        # Finished trials stay finished; unfinished and failed ones run again (their runs continue).
        tuner = tune.Tuner.restore(path, trainable=trainable, resume_unfinished=True, resume_errored=True)
    else:
        sched = scheduler(spec)
        tuner = tune.Tuner(
            trainable,
            param_space=search_space(spec),
            tune_config=tune.TuneConfig(
                metric=spec["metric"],
                mode=spec["mode"],
                scheduler=sched,
                num_samples=spec["samples"],
                max_concurrent_trials=spec["maxConcurrent"],
                # Seeded draws of `choice` and `random` entries: the same spec, the same trials.
                search_alg=BasicVariantGenerator(random_state=spec["seed"]),
                trial_name_creator=lambda trial: f"trial-{trial.trial_id}",
                trial_dirname_creator=lambda trial: f"trial-{trial.trial_id}",
            ),
            run_config=tune.RunConfig(name=spec["name"], storage_path=spec["storage"], verbose=1, callbacks=[Events(spec["metric"]), SchedulerState(sched)]),
        )
    emit("tune-start", experiment=path, restored=a.restore)
    results = tuner.fit()
    deliver_backlogs(spec)
    rows = collect(results, spec)
    Path(spec["results"]).write_text(json.dumps({"trials": rows}, indent=2) + "\n")
    emit("tune-done", trials=len(rows), errors=sum(1 for r in rows if r["status"] == "error"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
