"""A quiet start: only the project's own output on stderr, none of TensorFlow's start-up lines."""

from __future__ import annotations

import contextlib
import importlib.abc
import importlib.util
import os
import sys
import tempfile

# TensorFlow's native start-up lines, written to file descriptor 2 while `import tensorflow` loads its libraries.
# TF_CPP_MIN_LOG_LEVEL hides the CPU-feature banner but not these (absl writes everything to stderr before
# absl::InitializeLog(), which Python programs never call); the GPU lines come from CUDA builds.
TENSORFLOW_IMPORT_NOISE = (
    "All log messages before absl::InitializeLog() is called",
    "oneDNN custom operations are on",
    "cpu_feature_guard.cc",
    "This TensorFlow binary is optimized to use available CPU instructions",
    "To enable the following instructions:",
    "Unable to register cuDNN factory", "Unable to register cuFFT factory", "Unable to register cuBLAS factory",
    "computation_placer.cc", "TF-TRT Warning: Could not find TensorRT",
    # loading a program from the XLA cache (sketchrnn.compile_cache) names LLVM's tuning pseudo-features
    # (+prefer-no-scatter, +prefer-no-gather) as missing from the host: the cache folder is keyed by the CPU
    "Target machine feature +prefer-no-",
    # and reading an entry tries the text format before the binary one it is written in
    "Error parsing text-format tensorflow.XlaSerializedCacheEntry",
)


def keep_stderr_line(line: str) -> bool:
    """False for TensorFlow's start-up noise, True for anything else (a real error at import stays visible)."""
    return not any(noise in line for noise in TENSORFLOW_IMPORT_NOISE)


@contextlib.contextmanager
def filtered_stderr():
    """Run the body with file descriptor 2 captured, then write back every captured line that is not noise."""
    sys.stderr.flush()
    saved_stderr = os.dup(2)
    with tempfile.TemporaryFile() as capture:  # a file, not a pipe: a long error cannot block the body
        os.dup2(capture.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved_stderr, 2)
            os.close(saved_stderr)
            capture.seek(0)
            kept = [line for line in capture.read().decode(errors="replace").splitlines(True) if keep_stderr_line(line)]
            sys.stderr.write("".join(kept))
            sys.stderr.flush()


class QuietLoader(importlib.abc.Loader):
    """Runs a module's loader with fd 2 captured, then writes back every captured line that is not noise."""

    def __init__(self, loader):
        self.loader = loader

    def __getattr__(self, name):  # get_source, resource readers...: the real loader's
        return getattr(self.loader, name)

    def create_module(self, spec):
        return self.loader.create_module(spec)

    def exec_module(self, module):
        with filtered_stderr():
            try:
                self.loader.exec_module(module)
            finally:
                module.__loader__ = module.__spec__.loader = self.loader  # the package keeps its own loader


class QuietTensorFlowImport(importlib.abc.MetaPathFinder):
    """On the first ``import tensorflow`` (by any module), load it through :class:`QuietLoader`, then step aside."""

    def find_spec(self, name, path=None, target=None):
        if name != "tensorflow" or self not in sys.meta_path:
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(name)  # the finders after this one
        if spec is not None and spec.loader is not None:
            spec.loader = QuietLoader(spec.loader)
        return spec


def quiet_tensorflow_start() -> None:
    """Keep TensorFlow's start-up lines off stderr (oneDNN stays on) and its INFO/WARNING C++ logs off.

    Must run before TensorFlow is imported; the CLI imports it only in the commands that need it.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if "tensorflow" not in sys.modules and not any(isinstance(f, QuietTensorFlowImport) for f in sys.meta_path):
        sys.meta_path.insert(0, QuietTensorFlowImport())
