"""Two real MultiWorkerMirroredStrategy workers on 127.0.0.1: only the chief writes the run; after a worker
is killed, the cluster stops cleanly; workers that do not share one run folder refuse to train; and both
workers resume from the chief's checkpoint. One scenario, so that its clusters start as few processes as it needs."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sketchrnn import checkpoint, train
from sketchrnn.train import is_chief, worker_task

REPO = Path(__file__).resolve().parents[1]


def free_ports(count):
    sockets = [socket.socket() for _ in range(count)]
    for handle in sockets:
        handle.bind(("127.0.0.1", 0))
    ports = [handle.getsockname()[1] for handle in sockets]
    for handle in sockets:
        handle.close()
    return ports


def tf_config(ports, index):
    return json.dumps({"cluster": {"worker": [f"127.0.0.1:{port}" for port in ports]},
                       "task": {"type": "worker", "index": index}})


def train_command(shared_data, out, steps):
    return [sys.executable, "-m", "sketchrnn", "train", "--strategy", "multi-worker",
            "--data", str(shared_data / "quickdraw_sketchrnn_pig_2200.npz"), "--out", str(out),
            "--hidden-size", "16", "--num-mixtures", "3", "--batch-size", "20", "--recurrent-dropout", "0",
            "--steps", str(steps), "--checkpoint-every", "3", "--validate-every", "6", "--log-every", "3"]


def start_workers(shared_data, tmp_path, outs, steps, name, extras=((), ()), temporaries="tmp"):
    """Both workers of a fresh two-worker cluster; each gets its own TMPDIR (to see its private folder)."""
    ports = free_ports(2)
    workers = []
    for index, out in enumerate(outs):
        command = train_command(shared_data, out, steps) + list(extras[index])
        temporary = tmp_path / f"{temporaries}-worker-{index}"
        temporary.mkdir(exist_ok=True)
        environment = {**os.environ, "TF_CONFIG": tf_config(ports, index), "TMPDIR": str(temporary),
                       "TF_CPP_MIN_LOG_LEVEL": "2"}
        log = open(tmp_path / f"{name}-worker-{index}.log", "w")
        workers.append(subprocess.Popen(command, cwd=REPO, env=environment, stdout=log, stderr=subprocess.STDOUT))
        log.close()
    return workers


def output(tmp_path, name, index):
    return (tmp_path / f"{name}-worker-{index}.log").read_text()


def stop_all(workers):
    for worker in workers:
        if worker.poll() is None:
            worker.kill()
            worker.wait()


def latest_step(out):
    latest = checkpoint.latest_checkpoint(out)
    return checkpoint.read_state(latest)["step"] if latest else 0


def test_only_the_chief_writes_split_folders_are_refused_and_a_restarted_cluster_resumes(shared_data, tmp_path):
    out = tmp_path / "run"
    workers = start_workers(shared_data, tmp_path, [out, out], 400, "first")
    try:
        deadline = time.monotonic() + 120
        while latest_step(out) < 6:
            assert all(w.poll() is None for w in workers), output(tmp_path, "first", 0) + output(tmp_path, "first", 1)
            assert time.monotonic() < deadline, "no checkpoint of step 6 appeared"
            time.sleep(0.2)
        # the other worker writes its checkpoints into a private folder, never into the run
        private = list((tmp_path / "tmp-worker-1").glob("sketchrnn-worker-1-*"))
        assert len(private) == 1 and (private[0] / "checkpoints").is_dir()
        workers[1].send_signal(signal.SIGKILL)
        workers[1].wait()
        assert workers[0].wait(timeout=120) == 75, output(tmp_path, "first", 0)
    finally:
        stop_all(workers)
    chief_output = output(tmp_path, "first", 0)
    assert "another worker of the cluster stopped" in chief_output and "Traceback" not in chief_output
    assert "\r" not in chief_output and "step 3/400 - loss" in chief_output, "plain progress lines in a log file"
    # the chief's lock file (issue 34: one run per folder); the other worker shares the folder without locking it
    assert sorted(p.name for p in out.iterdir()) == [train.RUN_LOCK_FILE, "best", "checkpoints", "metrics.csv",
                                                     "tensorboard", "train.json"]
    killed_at = latest_step(out)
    assert killed_at >= 6 and killed_at % 3 == 0

    # workers that do not share one run folder refuse to train: worker 0 sees an empty --out, worker 1 the run
    workers = start_workers(shared_data, tmp_path, [tmp_path / "elsewhere", out], killed_at + 10, "split",
                            temporaries="split")
    try:
        codes = [worker.wait(timeout=120) for worker in workers]
    finally:
        stop_all(workers)
    for index in range(2):
        text = output(tmp_path, "split", index)
        assert "found different checkpoints" in text and "same --out on a file system they all share" in text, text
    assert codes == [2, 2] and latest_step(tmp_path / "elsewhere") == 0 and latest_step(out) == killed_at

    # restarted with time budgets: each worker has its own clock (here even its own budget), yet they stop together
    budgets = (["--max-minutes", "0.1"], ["--max-minutes", "5"])
    workers = start_workers(shared_data, tmp_path, [out, out], killed_at + 1000, "second", budgets)
    try:
        codes = [worker.wait(timeout=150) for worker in workers]
    finally:
        stop_all(workers)
    outputs = [output(tmp_path, "second", index) for index in range(2)]
    assert codes == [0, 0], outputs
    stopped_at = latest_step(out)
    assert stopped_at > killed_at
    for text in outputs:
        assert f"resuming {out} from step {killed_at}" in text, text
        assert f"budget at step {stopped_at};" in text, text
    assert "checkpoint saved in" in outputs[0] and "the chief saves the run" in outputs[1]
    assert checkpoint.load_model(checkpoint.latest_checkpoint(out)).step == stopped_at
    steps = [int(row.split(",")[0]) for row in (out / "metrics.csv").read_text().splitlines()[1:]]
    assert steps == list(range(1, stopped_at + 1)), "one metrics row per step, written by the chief only"
    # the restarted worker removed the folder its killed predecessor left, and its own (TensorFlow's AutoGraph
    # leaves generated sources of its own in TMPDIR)
    assert list((tmp_path / "tmp-worker-1").glob("sketchrnn-*")) == []
    assert list((tmp_path / "tmp-worker-0").glob("sketchrnn-*")) == []


@pytest.mark.parametrize("config, chief", [
    (None, True),
    ({"cluster": {"worker": ["a:1", "b:1"]}, "task": {"type": "worker", "index": 0}}, True),
    ({"cluster": {"worker": ["a:1", "b:1"]}, "task": {"type": "worker", "index": 1}}, False),
    ({"cluster": {"chief": ["c:1"], "worker": ["a:1"]}, "task": {"type": "worker", "index": 0}}, False),
    ({"cluster": {"chief": ["c:1"], "worker": ["a:1"]}, "task": {"type": "chief", "index": 0}}, True),
])
def test_the_chief_is_task_chief_or_worker_0_without_one(monkeypatch, config, chief):
    if config is None:
        monkeypatch.delenv("TF_CONFIG", raising=False)
    else:
        monkeypatch.setenv("TF_CONFIG", json.dumps(config))
    assert is_chief("multi-worker") is chief
    assert is_chief("default") is True, "without --strategy multi-worker every process writes its own run"


def test_a_malformed_tf_config_is_a_clear_error(monkeypatch):
    monkeypatch.setenv("TF_CONFIG", "{not json")
    with pytest.raises(ValueError, match="TF_CONFIG is not valid cluster JSON"):
        worker_task("multi-worker")
