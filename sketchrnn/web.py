"""A model on a web page: magenta.js's runtime (``@magenta/sketch``) and the static page that draws with it.

``sketchrnn models export-js MODEL --page DIR`` writes a folder a web server can serve as it is::

    DIR/index.html         the page (a copy of docs/web/index.html): draws, and finishes what a person starts
    DIR/model.gen.json     the model, in magenta's format (:func:`sketchrnn.magenta.write_gen_json`)
    DIR/magentasketch.js   @magenta/sketch's browser build (it bundles TensorFlow.js): no CDN at run time

The runtime comes from npm once: the pinned version is installed with ``npm install --prefix`` into the
download cache (``<cache>/npm/magenta-sketch-<version>``) and reused from there, by the page writer and by
the tests that run exported models in Node.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from sketchrnn import files
from sketchrnn.data import DownloadError, default_cache_dir

RUNTIME_PACKAGE = "@magenta/sketch"
RUNTIME_VERSION = "0.2.0"  # pinned: the version the Node check and the browser test run
RUNTIME_SCRIPT = "magentasketch.js"  # the package's browser build, dist/magentasketch.js (global `ms`)
PAGE_TEMPLATE = Path(__file__).resolve().parent.parent / "docs" / "web" / "index.html"
PAGE_FILE = "index.html"
PAGE_MODEL = "model.gen.json"  # the page loads this unless its URL says ?model=OTHER.gen.json
PAGE_DIR_KIND = "a page written by export-js --page"
NPM_TIMEOUT_S = 600


def runtime_prefix(cache_dir=None) -> Path:
    """The npm prefix holding the pinned runtime: ``<download cache>/npm/magenta-sketch-<version>``."""
    root = Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()
    return root / "npm" / f"magenta-sketch-{RUNTIME_VERSION}"


def node_modules(cache_dir=None) -> Path:
    """The ``node_modules`` folder of the installed runtime (for ``NODE_PATH``)."""
    return runtime_prefix(cache_dir) / "node_modules"


def browser_script(cache_dir=None) -> Path:
    """The runtime's browser build in the cache (present once :func:`install_runtime` has run)."""
    return node_modules(cache_dir) / RUNTIME_PACKAGE / "dist" / RUNTIME_SCRIPT


def install_runtime(cache_dir=None, log=None) -> Path:
    """Install the pinned ``@magenta/sketch`` with npm into the cache, once; returns its ``node_modules``.

    The install goes to a temporary prefix renamed into place when complete, under a lock, so two
    processes never install over each other and an interrupted install is never taken for a good one.
    Raises :class:`~sketchrnn.data.DownloadError` (a ValueError) when npm is missing or fails.
    """
    prefix = runtime_prefix(cache_dir)
    if browser_script(cache_dir).is_file():
        return node_modules(cache_dir)
    npm = shutil.which("npm")
    if npm is None:
        raise DownloadError(f"npm (Node.js) is not installed; install it (Debian: apt-get install npm), or put "
                            f"{RUNTIME_PACKAGE} {RUNTIME_VERSION}'s dist/{RUNTIME_SCRIPT} at {browser_script(cache_dir)}")
    files.make_folder(prefix.parent)
    with open(prefix.parent / ".install.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not browser_script(cache_dir).is_file():
            if log:
                log(f"installing {RUNTIME_PACKAGE}@{RUNTIME_VERSION} with npm into {prefix} (once)")
            _npm_install(npm, prefix)
    return node_modules(cache_dir)


def _npm_install(npm: str, prefix: Path) -> None:
    """``npm install --prefix`` the pinned runtime into a temporary folder, then rename it to ``prefix``."""
    temporary = Path(tempfile.mkdtemp(prefix=f".{prefix.name}.tmp-", dir=prefix.parent))
    command = [npm, "install", "--prefix", str(temporary), "--no-audit", "--no-fund", "--ignore-scripts",
               "--loglevel=error", f"{RUNTIME_PACKAGE}@{RUNTIME_VERSION}"]
    try:
        try:
            result = subprocess.run(command, capture_output=True, text=True, timeout=NPM_TIMEOUT_S,
                                    env={**os.environ, "npm_config_update_notifier": "false"})
        except subprocess.TimeoutExpired:
            raise DownloadError(f"npm took over {NPM_TIMEOUT_S} s to install {RUNTIME_PACKAGE}@{RUNTIME_VERSION}; "
                                "check the connection to the npm registry and try again") from None
        if result.returncode != 0 or not (temporary / "node_modules" / RUNTIME_PACKAGE / "dist" / RUNTIME_SCRIPT).is_file():
            last = (result.stderr.strip().splitlines() or ["no message"])[-1]
            raise DownloadError(f"npm could not install {RUNTIME_PACKAGE}@{RUNTIME_VERSION} ({last}); it needs the npm "
                                f"registry once, then it is kept in {prefix}")
        shutil.rmtree(prefix, ignore_errors=True)  # a leftover without the script (checked under the lock)
        os.replace(temporary, prefix)
    except BaseException:
        shutil.rmtree(temporary, ignore_errors=True)
        raise


def is_page_dir(directory: Path) -> bool:
    """True for a folder written by :func:`write_page` (it may be replaced by a new page)."""
    return all((Path(directory) / name).is_file() for name in (PAGE_FILE, PAGE_MODEL, RUNTIME_SCRIPT))


def write_page(gen_json_text: str, directory, cache_dir=None, log=None) -> Path:
    """Write the page, the model (``.gen.json`` text) and the runtime's browser build into ``directory``, atomically.

    ``directory`` must be new, empty or a page written before (replaced as a whole). Returns it.
    """
    directory = files.check_directory_target(directory, is_page_dir, PAGE_DIR_KIND)
    script = browser_script(cache_dir) if browser_script(cache_dir).is_file() else (
        install_runtime(cache_dir, log) / RUNTIME_PACKAGE / "dist" / RUNTIME_SCRIPT)

    def write(temporary: Path) -> None:
        os.chmod(temporary, 0o755)  # a web server may run as another user (mkdtemp makes it 0700)
        shutil.copyfile(PAGE_TEMPLATE, temporary / PAGE_FILE)
        (temporary / PAGE_MODEL).write_text(gen_json_text, encoding="utf-8")
        shutil.copyfile(script, temporary / RUNTIME_SCRIPT)

    return files.atomic_directory(directory, write, is_page_dir, PAGE_DIR_KIND)
