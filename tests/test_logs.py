"""What a user sees on stderr: the project's own output, not TensorFlow's start-up or retracing lines."""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from sketchrnn.cli.quiet import keep_stderr_line

REPO = Path(__file__).resolve().parents[1]
TENSORFLOW_NOISE = ("oneDNN custom operations", "absl::InitializeLog", "cpu_feature_guard", "retracing",
                    "This TensorFlow binary is optimized")


def environment(log_level):
    values = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    return values if log_level is None else {**values, "TF_CPP_MIN_LOG_LEVEL": log_level}


@pytest.mark.parametrize("log_level", [None, "2"])
def test_a_command_that_imports_tensorflow_prints_only_its_own_output(tmp_path, log_level):
    completed = subprocess.run(
        [sys.executable, "-m", "sketchrnn", "sample", "--category", "pig", "--n", "1", "--seed", "1",
         "--out", str(tmp_path / "pig.svg")],
        cwd=REPO, env=environment(log_level), capture_output=True, text=True, timeout=180)
    assert completed.returncode == 0, completed.stderr
    assert (tmp_path / "pig.svg").read_text().startswith("<svg")
    assert not any(noise in completed.stderr for noise in TENSORFLOW_NOISE), completed.stderr


NOISY_MODULE = textwrap.dedent("""
    import os
    os.write(2, b"WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\\n")
    os.write(2, b"I0000 00:00:1 port.cc:153] oneDNN custom operations are on. You may see slightly different results\\n")
    os.write(2, b"E0000 00:00:1 loader.cc:1] a real error at import\\n")
""")

LOAD_QUIETLY = textwrap.dedent("""
    import importlib.util, sys
    from sketchrnn.cli.quiet import QuietLoader
    spec = importlib.util.spec_from_file_location("noisy", sys.argv[1])
    spec.loader = QuietLoader(spec.loader)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    print("loaded")
""")


def test_a_module_loaded_quietly_keeps_only_lines_that_are_not_start_up_noise(tmp_path):
    # what a library writes to file descriptor 2 while it loads (TensorFlow's native start-up lines, which differ
    # between CPUs) is filtered by our loader: the noise goes, a real error stays, whatever this CPU prints
    module = tmp_path / "noisy.py"
    module.write_text(NOISY_MODULE)
    completed = subprocess.run([sys.executable, "-c", LOAD_QUIETLY, str(module)], cwd=REPO,
                               capture_output=True, text=True, timeout=60)
    assert completed.returncode == 0 and "loaded" in completed.stdout, completed.stderr
    assert "a real error at import" in completed.stderr
    assert not any(noise in completed.stderr for noise in TENSORFLOW_NOISE), completed.stderr


def test_a_data_command_prints_only_its_own_output(shared_data):
    completed = subprocess.run(
        [sys.executable, "-m", "sketchrnn", "data", "info", str(shared_data / "quickdraw_sketchrnn_pig_2200.npz")],
        cwd=REPO, env=environment(None), capture_output=True, text=True, timeout=120)
    assert completed.returncode == 0, completed.stderr
    assert "pig" in completed.stdout and completed.stderr == ""


def test_only_tensorflows_start_up_lines_are_dropped():
    assert not keep_stderr_line("WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\n")
    assert not keep_stderr_line("I0000 00:00:1795790043.686099   29214 port.cc:153] oneDNN custom operations are on. ...\n")
    assert keep_stderr_line("ImportError: libcudart.so.12: cannot open shared object file\n")
    assert keep_stderr_line("E0000 00:00:1 something.cc:1] a real error\n")


# TensorFlow reports "retracing" once one Python function has been traced more than 5 times: seven models in one
# process (as the page holds), each with its own compiled sampler and scorer, decoders of one and several categories
# and a VAE. Small untrained ones: what is traced depends on the kind of model, not on its size or weights.
SEVERAL_MODELS = textwrap.dedent("""
    from sketchrnn.cli.quiet import quiet_tensorflow_start
    quiet_tensorflow_start()
    import numpy as np
    from sketchrnn.model import ModelConfig, TrainedModel, build_network
    from sketchrnn.strokes import DataStats
    kinds = [dict(num_categories=n) for n in (1, 1, 3, 6, 20, 2)] + [dict(kind="vae", encoder_size=8, latent_size=4)]
    for index, kind in enumerate(kinds):
        config = ModelConfig(hidden_size=16 + 8 * index, num_mixtures=5, max_length=60, **kind)
        categories = [f"category {c}" for c in range(config.num_categories)]
        model = TrainedModel(build_network(config), config, DataStats(20.0, 8.0, 40.0), categories)
        model.sampler.warm_up((1,))
        z = np.zeros((1, config.latent_size), np.float32) if config.kind == "vae" else None
        model.sampler.score_outputs(np.zeros((3, 5), np.float32), [0], z=z)
    print("sampled", len(kinds))
""")


def test_one_compiled_sampler_per_model_is_not_reported_as_retracing():
    completed = subprocess.run([sys.executable, "-c", SEVERAL_MODELS], cwd=REPO, env=environment(None),
                               capture_output=True, text=True, timeout=300)
    assert completed.returncode == 0 and "sampled 7" in completed.stdout, completed.stderr
    assert not any(noise in completed.stderr for noise in TENSORFLOW_NOISE), completed.stderr


def test_training_a_vae_prints_no_tensorflow_error_lines(shared_data, tmp_path):
    # a VAE of several categories (z and a category embedding beside every row): once tiled, whose gradient made
    # oneDNN print "E0000 ... oneDNN supports DT_INT32 only on platforms with AVX-512" (a decoder of several
    # categories: test_train.py's kill-and-resume run checks its output for the same)
    files = [str(shared_data / f"quickdraw_sketchrnn_{name}_2200.npz") for name in ("pig", "face")]
    completed = subprocess.run(
        [sys.executable, "-m", "sketchrnn", "train", "--model", "vae", "--data", *files, "--out", str(tmp_path / "run"),
         "--hidden-size", "16", "--encoder-size", "8", "--latent-size", "4", "--num-mixtures", "3", "--steps", "3",
         "--batch-size", "20", "--validate-every", "3", "--checkpoint-every", "3"],
        cwd=REPO, env=environment(None), capture_output=True, text=True, timeout=300)
    assert completed.returncode == 0, completed.stderr
    assert "finished at step 3" in completed.stdout + completed.stderr
    assert "E0000" not in completed.stderr and "oneDNN" not in completed.stderr, completed.stderr
    assert not any(noise in completed.stderr for noise in TENSORFLOW_NOISE), completed.stderr
