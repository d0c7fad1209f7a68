"""Reading and writing files safely: never hang on a FIFO, never replace what is not ours.

Reading (:func:`read_regular_file`): only regular files are opened, and only up to a size limit, so a
FIFO, ``/dev/zero`` or a symlink loop is reported for what it is instead of hanging or filling memory.

Writing: every writer of the project writes a temporary file (or directory) beside its target and renames it
into place, so a crash never leaves half a file where a good one was. A rename replaces whatever has
the target's name, so the target is checked first (and again just before the rename):

- a file may replace nothing, or a regular file;
- a directory may replace nothing, an empty directory, or a directory its writer owns (e.g. a model
  directory, recognised by its ``config.json``).

Symbolic links, devices (``/dev/full``), FIFOs, sockets, a folder where a file is expected, and a
parent folder that does not exist are refused with a ``ValueError`` that says what was found.
Failures of the file system itself (permissions, a full disk) stay ``OSError``.
"""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
from pathlib import Path

KINDS = (  # (test of st_mode, how to name it)
    (stat.S_ISDIR, "a folder"), (stat.S_ISLNK, "a symbolic link"), (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"),
    (stat.S_ISREG, "a regular file"),
)


def describe_mode(mode: int) -> str:
    """What a ``st_mode`` is, in words: ``"a FIFO (named pipe)"``, ``"a folder"``, ..."""
    return next((name for test, name in KINDS if test(mode)), "a special file")


def _lstat_mode(path: Path) -> int | None:
    """``st_mode`` of the name itself (links not followed), or None when nothing has that name."""
    try:
        return os.lstat(path).st_mode
    except FileNotFoundError:
        return None
    except OSError as error:
        raise ValueError(f"cannot use {path}: {error.strerror}") from None


def check_folder(folder: Path) -> None:
    """Raise ValueError unless ``folder`` exists and is a folder (a link to a folder is fine)."""
    try:
        mode = os.stat(folder).st_mode
    except FileNotFoundError:
        raise ValueError(f"folder {folder} does not exist; create it first or choose another path") from None
    except OSError as error:  # a symlink loop, a file used as a folder in the path, ...
        raise ValueError(f"cannot use folder {folder}: {error.strerror}") from None
    if not stat.S_ISDIR(mode):
        raise ValueError(f"{folder} is {describe_mode(mode)}, not a folder")


def check_file_target(path) -> Path:
    """Raise ValueError unless a new regular file may be renamed to ``path``.

    ``path`` must be missing or a regular file (not a link, folder, device, FIFO, ...), in an existing folder.
    """
    path = Path(path)
    check_folder(path.parent)
    mode = _lstat_mode(path)
    if mode is not None and not stat.S_ISREG(mode):
        raise ValueError(f"{path} is {describe_mode(mode)}, not a regular file: refusing to replace it; "
                         f"write to a new file name")
    return path


def _never(directory: Path) -> bool:
    return False


def check_directory_target(path, owned=_never, kind: str = "") -> Path:
    """Raise ValueError unless a new directory may replace ``path``.

    ``path`` must be missing, an empty folder, or a folder for which ``owned(path)`` is true; never a
    symbolic link or anything that is not a folder. ``kind`` names what ``owned`` accepts, for the message.
    """
    path = Path(path)
    mode = _lstat_mode(path)
    if mode is None:
        return path
    if not stat.S_ISDIR(mode):
        raise ValueError(f"{path} is {describe_mode(mode)}, not a folder: refusing to replace it")
    contents = sorted(item.name for item in path.iterdir())
    if contents and not owned(path):
        shown = ", ".join(contents[:3]) + (", ..." if len(contents) > 3 else "")
        raise ValueError(f"{path} is a folder with other files in it ({shown})" + (f", not {kind}" if kind else "")
                         + ": refusing to replace it (and delete them); choose a new or empty folder")
    return path


def make_folder(path) -> Path:
    """Create a folder and its missing parents; ValueError when something else has the name."""
    path = Path(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise ValueError(f"cannot create folder {path}: it, or a folder on its path, is an existing file") from None
    except OSError as error:
        raise ValueError(f"cannot create folder {path}: {error.strerror}") from None
    return path


def read_regular_file(path, max_bytes: int) -> bytes:
    """The bytes of a regular file of at most ``max_bytes`` (links followed); ValueError for anything else.

    The name is checked with ``stat`` before it is opened (opening a FIFO would block), and opened non-blocking.
    """
    path = Path(path)
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        dangling = os.path.islink(path)
        raise ValueError(f"{path} is a symbolic link to a missing file" if dangling else f"{path} does not exist") from None
    except OSError as error:  # e.g. a symlink loop: "Too many levels of symbolic links"
        raise ValueError(f"cannot read {path}: {error.strerror}") from None
    if not stat.S_ISREG(mode):
        raise ValueError(f"{path} is {describe_mode(mode)}, not a regular file")
    try:
        with open(os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY), "rb") as handle:
            status = os.fstat(handle.fileno())
            if not stat.S_ISREG(status.st_mode):
                raise ValueError(f"{path} changed into something that is not a regular file while being opened")
            content = _read_at_most(handle, max_bytes + 1, status.st_size)
    except OSError as error:
        raise ValueError(f"cannot read {path}: {error.strerror}") from None
    if len(content) > max_bytes:
        raise ValueError(f"{path} is larger than {max_bytes:,} bytes, the most accepted here")
    return content


def _read_at_most(handle, limit: int, size_hint: int) -> bytes:
    """Up to ``limit`` bytes of an open file; buffers grow with what is read (a small file never costs ``limit``).

    ``size_hint`` (the size ``stat`` reports; 0 for /proc files) sizes the first read.
    """
    chunks, total, want = [], 0, min(limit, size_hint + 1 if size_hint > 0 else 1 << 16)
    while total < limit:
        chunk = handle.read(min(want, limit - total))
        if not chunk:
            break
        chunks.append(chunk)
        total += len(chunk)
        want = min(max(want, 1 << 16) * 2, 1 << 24)
    return b"".join(chunks)


def read_json(path, max_bytes: int = 2**20):
    """Parse a small JSON file (a regular file of at most ``max_bytes``); ValueError for anything else."""
    import json

    try:
        return json.loads(read_regular_file(path, max_bytes).decode("utf-8"))
    except UnicodeDecodeError:
        raise ValueError(f"{path} is not UTF-8 text") from None
    except json.JSONDecodeError as error:
        raise ValueError(f"{path} is not valid JSON ({error})") from None
    except RecursionError:
        raise ValueError(f"{path} is JSON nested too deeply") from None


def atomic_write_text(path, text: str, mode: int = 0o644) -> Path:
    """Replace a text file (UTF-8) atomically: a temporary file beside it, fsync, then ``os.replace``.

    Refuses (ValueError) a target that is not a regular file or whose folder is missing; a crash never
    leaves a half-written file at ``path``.
    """
    path = check_file_target(path)
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temporary, mode)
        check_file_target(path)  # again, just before the rename
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path


def atomic_directory(final, write, owned=_never, kind: str = "") -> Path:
    """Write a directory under a temporary name with ``write(tmp_dir)``, fsync, and rename it to ``final``.

    ``final`` may be missing, an empty folder or one that ``owned(final)`` accepts (see
    :func:`check_directory_target`); the folder it is in is created if missing.
    """
    final = check_directory_target(final, owned, kind)
    make_folder(final.parent)
    temporary = Path(tempfile.mkdtemp(prefix=f".{final.name}.tmp-", dir=final.parent))
    try:
        write(temporary)
        for item in temporary.iterdir():
            with open(item, "rb") as handle:
                os.fsync(handle.fileno())
        _rename_directory(temporary, check_directory_target(final, owned, kind))
    except BaseException:
        shutil.rmtree(temporary, ignore_errors=True)
        raise
    return final


def _rename_directory(temporary: Path, final: Path) -> None:
    """Move ``temporary`` to ``final``, first retiring an existing ``final`` under a fresh temporary name."""
    if _lstat_mode(final) is None:
        os.replace(temporary, final)
        return
    retired = Path(tempfile.mkdtemp(prefix=f".{final.name}.old-", dir=final.parent))
    os.replace(final, retired)  # a folder may be renamed over the empty folder just made
    try:
        os.replace(temporary, final)
    except BaseException:
        os.replace(retired, final)  # put the old one back
        raise
    shutil.rmtree(retired, ignore_errors=True)
