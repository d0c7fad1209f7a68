"""Reading and writing files safely: never hang on a FIFO, never replace what is not ours.

Reading (:func:`read_regular_file`): only regular files are opened, and only up to a size limit, so a
FIFO, ``/dev/zero`` or a symlink loop is reported for what it is instead of hanging or filling memory.

Writing, one mechanism for every writer of the project (model directories, checkpoints, exports, imports,
downloads, SVGs, settings): the writer makes a temporary file or folder beside its target, named
``.NAME.tmp-XXXXXXXX`` (:func:`temporary_beside`), holds an ``flock`` on it while it writes, and renames it
into place, so a crash never leaves half a file where a good one was. A writer killed before the rename
leaves its temporary behind; the next writer of the same target removes it (:func:`clean_stale_temporaries`:
only names of that pattern, owned by this user, not locked by a live writer, untouched for a minute). New
folders and files get the modes the user's umask gives (as ``mkdir`` and ``open`` do), not ``mkdtemp``'s 0700.

A rename replaces whatever has the target's name, so the target is checked first (and again just before
the rename):

- a file may replace nothing, or a regular file;
- a directory may replace nothing, an empty directory, or a directory its writer owns: ``owned(path)``,
  e.g. a model directory this project wrote (see :func:`sketchrnn.checkpoint.written_here`).

Symbolic links, devices (``/dev/full``), FIFOs, sockets, a folder where a file is expected, and a
parent folder that does not exist are refused with a ``ValueError`` that says what was found.
Failures of the file system itself (permissions, a full disk) stay ``OSError``. A name taken from inside a
file becomes a folder name only through :func:`safe_name` (a fixed character set, a length cap), so it
never leads out of the folder it is meant for.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import re
import secrets
import shutil
import stat
import time
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
    contents = sorted((item.name for item in path.iterdir()), key=lambda name: (name.startswith("."), name))
    if contents and not owned(path):
        shown = ", ".join(contents[:4]) + (", ..." if len(contents) > 4 else "")
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


def safe_name(text, fallback: str = "model", max_length: int = 64) -> str:
    """A folder or file name made from untrusted text (a name inside a file): letters, digits, ``_`` and ``-``
    only (each run of anything else becomes one ``_``), at most ``max_length`` characters, never starting with
    ``-``; ``fallback`` when nothing is left. ``"x/../../models"`` -> ``"x_models"``."""
    name = re.sub(r"[^A-Za-z0-9_-]+", "_", str(text)).strip("_-")[:max_length].strip("_-")
    return name or fallback


TEMPORARY_NAME = re.compile(  # .NAME.tmp-XXXXXXXX / .NAME.old-XXXXXXXX; before them, .NAME.XXXXXXXX.tmp and .part files
    r"\.(?P<name>.+?)(?:\.(?P<kind>tmp|old)-[a-z0-9_]{8}|\.[a-z0-9_]{8}\.(?:tmp|part))"
)
STALE_AFTER_S = 60.0  # an unlocked temporary untouched for this long was left by a writer that died


def _new_name(final: Path, kind: str = "tmp") -> Path:
    """A fresh name beside ``final``: ``.NAME.tmp-XXXXXXXX`` (or ``.old-``)."""
    return final.parent / f".{final.name}.{kind}-{secrets.token_hex(4)}"


def _lock(descriptor: int, wait: bool = True) -> bool:
    """``flock`` an open file or folder exclusively; False when another holds it (and ``wait`` is False).

    Where the file system has no locks (some network file systems), True: nothing can be coordinated there.
    """
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
    except BlockingIOError:
        return False
    except OSError as error:
        if error.errno not in (errno.ENOLCK, errno.EOPNOTSUPP, errno.EINVAL, errno.EBADF):
            raise
    return True


@contextlib.contextmanager
def temporary_beside(final, directory: bool = False):
    """A new temporary file or folder beside ``final`` (``.NAME.tmp-XXXXXXXX``), locked while the block runs.

    Made with the modes ``open`` and ``mkdir`` give (the umask applies). Removed at the end unless the block
    renamed it away. The lock tells :func:`clean_stale_temporaries` that its writer is alive.
    """
    final = Path(final)
    for _ in range(100):
        temporary = _new_name(final)
        try:
            if directory:
                os.mkdir(temporary, 0o777)
            descriptor = os.open(temporary, os.O_RDONLY | os.O_DIRECTORY if directory
                                 else os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o666)
            break
        except FileExistsError:
            continue
    else:
        raise FileExistsError(errno.EEXIST, "no free temporary name", str(final))
    try:
        _lock(descriptor)
        yield temporary
    finally:
        try:
            if os.path.lexists(temporary):
                shutil.rmtree(temporary, ignore_errors=True) if directory else temporary.unlink(missing_ok=True)
        finally:
            os.close(descriptor)


def clean_stale_temporaries(folder, name: str | None = None) -> list[str]:
    """Remove the temporaries killed writers left in ``folder`` (of the target ``name``, or of any target);
    returns their names.

    Only entries named as :func:`temporary_beside` names them, owned by this user, not symbolic links, not
    locked by a live writer and (a ``.tmp-``) untouched for ``STALE_AFTER_S``. A retired ``.NAME.old-*`` folder
    whose ``NAME`` is missing (a writer killed between its two renames) is put back as ``NAME``.
    """
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return []
    removed = []
    for entry in entries:
        match = TEMPORARY_NAME.fullmatch(entry.name)
        if not match or (name is not None and match["name"] != name):
            continue
        try:
            info = entry.stat(follow_symlinks=False)
        except OSError:
            continue
        fresh = match["kind"] != "old" and time.time() - info.st_mtime < STALE_AFTER_S
        if fresh or info.st_uid != os.getuid() or not (stat.S_ISDIR(info.st_mode) or stat.S_ISREG(info.st_mode)):
            continue
        if _remove_if_unlocked(Path(entry.path), match["name"] if match["kind"] == "old" else None):
            removed.append(entry.name)
    return removed


def _remove_if_unlocked(path: Path, restore_as: str | None) -> bool:
    """Remove a temporary (or rename a retired folder back to ``restore_as`` when that name is free) unless a
    live writer holds its lock; True when it is gone."""
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return False
    try:
        if not _lock(descriptor, wait=False):
            return False
        if restore_as and not os.path.lexists(path.parent / restore_as):
            os.rename(path, path.parent / restore_as)
        elif stat.S_ISDIR(os.fstat(descriptor).st_mode):
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
        return True
    except OSError:
        return False
    finally:
        os.close(descriptor)


def atomic_write_text(path, text: str, mode: int | None = None) -> Path:
    """Replace a text file (UTF-8) atomically: a temporary file beside it, fsync, then ``os.replace``.

    Refuses (ValueError) a target that is not a regular file or whose folder is missing; a crash never
    leaves a half-written file at ``path``. ``mode`` None: what the umask gives a new file.
    """
    path = check_file_target(path)
    clean_stale_temporaries(path.parent, path.name)
    with temporary_beside(path) as temporary:
        with open(temporary, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        if mode is not None:
            os.chmod(temporary, mode)
        check_file_target(path)  # again, just before the rename
        os.replace(temporary, path)
    return path


def atomic_directory(final, write, owned=_never, kind: str = "") -> Path:
    """Write a directory under a temporary name with ``write(tmp_dir)``, fsync, and rename it to ``final``.

    ``final`` may be missing, an empty folder or one that ``owned(final)`` accepts (see
    :func:`check_directory_target`); the folder it is in is created if missing. Temporaries of ``final`` that a
    killed writer left are removed first.
    """
    final = check_directory_target(final, owned, kind)
    make_folder(final.parent)
    clean_stale_temporaries(final.parent, final.name)
    with temporary_beside(final, directory=True) as temporary:
        write(temporary)
        for item in temporary.iterdir():
            with open(item, "rb") as handle:
                os.fsync(handle.fileno())
        _rename_directory(temporary, check_directory_target(final, owned, kind))
    return final


def _rename_directory(temporary: Path, final: Path) -> None:
    """Move ``temporary`` to ``final``, first retiring an existing ``final`` under a fresh ``.old-`` name.

    The retired folder is locked before it is renamed, so no cleaner removes it while this writer lives; a
    writer killed between the renames leaves it for :func:`clean_stale_temporaries` to put back.
    """
    if _lstat_mode(final) is None:
        os.replace(temporary, final)
        return
    retired = _new_name(final, "old")
    descriptor = os.open(final, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    try:
        _lock(descriptor)
        os.rename(final, retired)
        try:
            os.replace(temporary, final)
        except BaseException:
            os.replace(retired, final)  # put the old one back
            raise
        shutil.rmtree(retired, ignore_errors=True)
    finally:
        os.close(descriptor)


@contextlib.contextmanager
def folder_lock(folder, lock_name: str, busy_message: str):
    """Hold an exclusive ``flock`` on ``folder/lock_name`` while the block runs; ValueError(``busy_message``)
    at once when another process holds it.

    The kernel drops the lock when its process ends, however it ends, so a killed holder never leaves it
    stuck. The lock file stays (deleting it would let two processes lock two different files); it holds the
    holder's process id, for people.
    """
    path = Path(folder) / lock_name
    try:
        descriptor = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK, 0o666)
    except OSError as error:
        raise ValueError(f"cannot use the lock file {path}: {error.strerror}") from None
    try:
        if not stat.S_ISREG(os.fstat(descriptor).st_mode):
            raise ValueError(f"{path} is {describe_mode(os.fstat(descriptor).st_mode)}, not a lock file")
        if not _lock(descriptor, wait=False):
            holder = os.pread(descriptor, 32, 0).decode("ascii", "replace").strip()
            raise ValueError(busy_message + (f" (process {holder})" if holder.isdigit() else ""))
        os.ftruncate(descriptor, 0)
        os.pwrite(descriptor, f"{os.getpid()}\n".encode(), 0)
        yield path
    finally:
        os.close(descriptor)
