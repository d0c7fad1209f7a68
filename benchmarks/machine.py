"""What a benchmark ran on, and capping the instruction set so an AVX2-only CPU can be measured on a newer one.

Every speed figure depends on the CPU: ``cpu_line()`` names it (model, the vector extensions it has) for the
benchmark to print beside its figures. ``--isa avx2`` (``add_isa_option`` / ``apply_isa_cap``) caps both
frameworks at AVX2 + FMA before they load, in the same process and its subprocesses:

  * oneDNN (TensorFlow's and PyTorch's matmuls and LSTMs): ``ONEDNN_MAX_CPU_ISA=AVX2``;
  * XLA (this project's LSTM steps and sampler): ``XLA_FLAGS=--xla_cpu_max_isa=AVX2``;
  * PyTorch's own kernels: ``ATEN_CPU_CAPABILITY=avx2``; MKL: ``MKL_ENABLE_INSTRUCTIONS=AVX2``.

``isa_check()`` then reports whether the caps took effect, from what the libraries say themselves: the ISA
oneDNN reports it dispatches to (``ONEDNN_VERBOSE``), and whether XLA's compiled code holds AVX-512
instructions (its object files, disassembled), each from a fresh subprocess.

    python benchmarks/machine.py [--isa avx2]    # prints the CPU line and the check
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import statistics
import subprocess
import time
import sys
import tempfile
from pathlib import Path

EXTENSIONS = ("avx2", "fma", "avx512f", "avx512bw", "avx512vl", "avx512_vnni", "avx512_bf16", "amx_tile", "amx_bf16")
ISA_CAPS = {  # --isa value -> the environment that caps every library at it
    "avx2": {"ONEDNN_MAX_CPU_ISA": "AVX2", "XLA_FLAGS": "--xla_cpu_max_isa=AVX2",
             "ATEN_CPU_CAPABILITY": "avx2", "MKL_ENABLE_INSTRUCTIONS": "AVX2"},
}


def cpu_flags() -> set[str]:
    """The CPU's feature flags as Linux lists them (empty elsewhere)."""
    cpuinfo = Path("/proc/cpuinfo")
    if not cpuinfo.exists():
        return set()
    line = next((line for line in cpuinfo.read_text().splitlines() if line.startswith("flags")), "")
    return set(line.split(":", 1)[-1].split())


def cpu_model() -> str:
    """The CPU's model name (``/proc/cpuinfo``), else what ``platform`` knows."""
    cpuinfo = Path("/proc/cpuinfo")
    lines = cpuinfo.read_text().splitlines() if cpuinfo.exists() else []
    return next((line.split(":", 1)[1].strip() for line in lines if line.startswith("model name")),
                platform.processor() or platform.machine())


def cpu_line() -> str:
    """One line: cores, model, the vector extensions present, and the ISA cap in force (if any)."""
    flags = cpu_flags()
    present = " ".join(name.upper() for name in EXTENSIONS if name in flags) or "none listed"
    cap = os.environ.get("ONEDNN_MAX_CPU_ISA")
    capped = f"; capped at {cap} (ONEDNN_MAX_CPU_ISA, XLA_FLAGS, ATEN_CPU_CAPABILITY)" if cap else "; uncapped"
    return f"CPU: {os.cpu_count()} cores, {cpu_model()}; extensions {present}{capped}"


def add_isa_option(parser: argparse.ArgumentParser) -> None:
    """``--isa``: measure as on a CPU with at most this instruction set."""
    parser.add_argument("--isa", choices=sorted(ISA_CAPS), default=None,
                        help="cap TensorFlow/XLA/oneDNN and PyTorch at this instruction set (default: the CPU's own)")


def isa_from_argv(argv=None) -> str | None:
    """The ``--isa`` value of a command line (``sys.argv`` by default), read before the frameworks are imported."""
    parser = argparse.ArgumentParser(add_help=False)
    add_isa_option(parser)
    return parser.parse_known_args(sys.argv[1:] if argv is None else argv)[0].isa


def apply_isa_cap(isa: str | None) -> None:
    """Set the environment of ``ISA_CAPS[isa]``; must run before TensorFlow or PyTorch is imported."""
    if isa is None:
        return
    if "tensorflow" in sys.modules or "torch" in sys.modules:
        raise RuntimeError("apply_isa_cap must run before TensorFlow or PyTorch is imported")
    for name, value in ISA_CAPS[isa].items():
        if name == "XLA_FLAGS" and os.environ.get(name):
            value = f"{os.environ[name]} {value}"
        os.environ[name] = value


ONEDNN_PROBE = "import tensorflow as tf; tf.linalg.matmul(tf.ones([64, 64]), tf.ones([64, 64])).numpy()"
XLA_PROBE = ("import tensorflow as tf; f = tf.function(lambda a: tf.tanh(a) * 2.0 + 1.0, jit_compile=True); "
             "f(tf.ones([256])).numpy()")


def onednn_isa() -> str:
    """The ISA oneDNN says it dispatches to, in a fresh TensorFlow process with this environment."""
    env = {**os.environ, "ONEDNN_VERBOSE": "1", "TF_CPP_MIN_LOG_LEVEL": "2"}
    done = subprocess.run([sys.executable, "-c", ONEDNN_PROBE], env=env, capture_output=True, text=True, timeout=300)
    found = re.search(r"onednn_verbose,.*?info,cpu,isa:([^\n]+)", done.stdout + done.stderr)
    return found.group(1).strip() if found else "not reported (oneDNN off?)"


# in disassembly, operands only AVX-512's EVEX encoding has: mask registers, vector registers 16-31, broadcasts
EVEX_ONLY = re.compile(r"%k[0-7]|%[xyz]mm(1[6-9]|2[0-9]|3[01])|%zmm|\{1to\d+\}|vpternlog")


def xla_features() -> str:
    """Whether XLA's compiled code uses AVX-512: its object files (``--xla_dump_to``) disassembled with objdump."""
    with tempfile.TemporaryDirectory() as dump:
        flags = f"{os.environ.get('XLA_FLAGS', '')} --xla_dump_to={dump}".strip()
        env = {**os.environ, "XLA_FLAGS": flags, "TF_CPP_MIN_LOG_LEVEL": "2"}
        done = subprocess.run([sys.executable, "-c", XLA_PROBE], env=env, capture_output=True, text=True, timeout=300)
        if done.returncode != 0:
            return f"failed: {done.stderr.strip().splitlines()[-1] if done.stderr.strip() else done.returncode}"
        objects = [str(path) for path in Path(dump).glob("*.o")]
        try:
            code = subprocess.run(["objdump", "-d", *objects], capture_output=True, text=True, timeout=60).stdout
        except FileNotFoundError:
            return "not checked (no objdump: apt-get install binutils)"
        if not objects or not code:
            return "not checked (no object code dumped)"
        evex = len(EVEX_ONLY.findall(code))
        return f"AVX-512 code ({evex} EVEX-only operands)" if evex else "up to AVX2 (no AVX-512 instruction)"


def isa_check() -> str:
    """One line: what oneDNN and XLA say they compile for (two fresh subprocesses, ~10 s)."""
    return f"ISA in use: oneDNN {onednn_isa()}; XLA {xla_features()}"


def matmul_gflops(size: int = 2048, repeats: int = 10) -> float:
    """Median GFLOP/s of a dense float32 size x size matmul in a TensorFlow graph: the practical ceiling."""
    import tensorflow as tf

    a = tf.random.normal([size, size])
    b = tf.random.normal([size, size])
    multiply = tf.function(lambda: tf.reduce_sum(tf.matmul(a, b)))
    multiply()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        multiply().numpy()
        times.append(time.perf_counter() - start)
    return 2 * size**3 / statistics.median(times) / 1e9


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_isa_option(parser)
    arguments = parser.parse_args(argv)
    apply_isa_cap(arguments.isa)
    print(cpu_line())
    print(isa_check())


if __name__ == "__main__":
    main()
