"""The download cache: official Quick, Draw! files fetched once, checked, and moved into place.

A category's file lives at :func:`cache_path` under :func:`default_cache_dir`;
:func:`download_category` fetches it from :func:`category_url` only when it is not there yet. A
download is streamed to a temporary file beside its final path, its length and contents checked,
then renamed into place: a failed or cut download leaves nothing behind and raises
:class:`DownloadError`, which says where to put the file by hand.
"""

from __future__ import annotations

import http.client
import os
import sys
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Callable

from sketchrnn import files
from sketchrnn.data.categories import validate_category
from sketchrnn.data.ndjson import MAX_LINE_BYTES, _parse_record
from sketchrnn.data.npz import INFLATED_LIMIT_VARIABLE, READ_CHUNK, _npz_layout, inflation_limit, load_npz_safely, npz_member_names

DEFAULT_BASE_URL = "https://storage.googleapis.com/quickdraw_dataset"
DOWNLOAD_KINDS = {"npz": ("sketchrnn", ".npz"), "simplified": ("full/simplified", ".ndjson")}  # kind -> (URL dir, suffix)
DOWNLOAD_CHUNK = 1 << 20

ProgressCallback = Callable[[str, int, "int | None", bool], None]  # (file name, bytes so far, total, done)


class DownloadError(ValueError, ConnectionError):
    """A download failed; the message says what happened and where to put the file by hand."""


def default_cache_dir() -> Path:
    """Where downloads are cached: ``$SKETCHRNN_DATA_DIR``, else the repository's ``data/``, else ``~/.cache/sketchrnn``.

    The repository's ``data/`` is used when the package sits in a checkout (``pyproject.toml``
    beside the package directory) and that directory exists and is writable.
    """
    configured = os.environ.get("SKETCHRNN_DATA_DIR")
    if configured:
        return Path(configured).expanduser()
    repository = Path(__file__).resolve().parents[2]  # sketchrnn/data/download.py -> the checkout
    repository_data = repository / "data"
    if (repository / "pyproject.toml").is_file() and repository_data.is_dir() and os.access(repository_data, os.W_OK):
        return repository_data
    return Path.home() / ".cache" / "sketchrnn"


def _check_kind(kind: str) -> tuple[str, str]:
    """(URL directory, file suffix) of a download kind."""
    if kind not in DOWNLOAD_KINDS:
        raise ValueError(f"unknown download format {kind!r}; expected one of {', '.join(DOWNLOAD_KINDS)}")
    return DOWNLOAD_KINDS[kind]


def cache_path(category: str, kind: str = "npz", cache_dir=None) -> Path:
    """Where a category's file lives in the cache: ``<cache>/sketchrnn/<category>.npz`` or
    ``<cache>/simplified/<category>.ndjson`` (spaces in the name become underscores)."""
    _, suffix = _check_kind(kind)
    directory = Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()
    subdirectory = "sketchrnn" if kind == "npz" else kind
    return directory / subdirectory / f"{validate_category(category).replace(' ', '_')}{suffix}"


def category_url(category: str, kind: str = "npz", base_url: str | None = None) -> str:
    """The official URL of a category's file (base overridable by argument or ``$SKETCHRNN_DOWNLOAD_URL``)."""
    url_directory, suffix = _check_kind(kind)
    base = base_url or os.environ.get("SKETCHRNN_DOWNLOAD_URL") or DEFAULT_BASE_URL
    return f"{base.rstrip('/')}/{url_directory}/{urllib.parse.quote(validate_category(category))}{suffix}"


def download_category(category: str, *, kind: str = "npz", cache_dir=None, base_url: str | None = None,
                      progress: ProgressCallback | None = None, timeout: float = 60.0) -> Path:
    """Fetch a category's official file into the cache once; a cache hit makes no request.

    ``kind`` is ``"npz"`` (Sketch-RNN ``.npz``) or ``"simplified"`` (simplified ``.ndjson``). The file
    is streamed to a temporary file beside its final path, its length checked against
    Content-Length and its contents checked, then moved into place; a failed or cut download
    leaves nothing behind and raises :class:`DownloadError` (a ValueError and ConnectionError).
    """
    target = cache_path(category, kind, cache_dir)
    max_bytes = inflation_limit() + READ_CHUNK if kind == "npz" else None  # a larger .npz could not be loaded anyway
    return download_to_cache(category_url(category, kind, base_url), target, lambda path: _verify_kind(path, kind),
                             progress=progress, timeout=timeout, max_bytes=max_bytes)


def download_to_cache(url: str, target: Path, verify: Callable[[Path], None], *, progress: ProgressCallback | None = None,
                      timeout: float = 60.0, max_bytes: int | None = None) -> Path:
    """Fetch ``url`` to the cache file ``target`` once (a cache hit makes no request); returns ``target``.

    The body is streamed to a temporary file beside ``target``, its length checked against
    Content-Length and its contents by ``verify(path)`` (which raises ValueError for a bad file),
    then renamed into place: a failed or cut download leaves nothing behind and raises
    :class:`DownloadError` naming the URL and where to put the file by hand. A body longer than
    ``max_bytes`` (if given) is refused as soon as it passes that size.
    """
    target = Path(target)
    if target.is_file():
        return target
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise ValueError(f"cannot create the cache directory {target.parent}: {error}; set SKETCHRNN_DATA_DIR or --cache-dir") from None
    files.check_file_target(target)  # never rename a download over a folder, link, FIFO or device
    _fetch(url, target, verify, progress, timeout, max_bytes)
    return target


def _fetch(url: str, target: Path, verify, progress, timeout: float, max_bytes: int | None = None) -> None:
    """Stream ``url`` to a temporary file beside ``target`` (:func:`sketchrnn.files.temporary_beside`), check it
    with ``verify``, and move it to ``target``; a temporary a killed download left is removed first."""
    files.clean_stale_temporaries(target.parent, target.name)
    try:
        with files.temporary_beside(target) as temporary:
            _download_checked(url, temporary, target, verify, progress, timeout, max_bytes)
            os.replace(temporary, target)
    except DownloadError:
        raise
    except OSError as error:
        raise ValueError(f"cannot write to the cache directory {target.parent}: {error}; set SKETCHRNN_DATA_DIR or --cache-dir") from None


def _download_checked(url: str, temporary: Path, target: Path, verify, progress, timeout: float,
                      max_bytes: int | None) -> None:
    """The body of ``url`` in ``temporary``, its length and contents checked; DownloadError naming ``target``."""
    try:
        with open(temporary, "wb") as output:
            received, expected = _stream(url, output, target.name, progress, timeout, max_bytes)
    except urllib.error.HTTPError as error:
        raise DownloadError(_download_failure(url, target, f"the server answered HTTP {error.code} {error.reason}")) from None
    except (urllib.error.URLError, http.client.HTTPException, OSError) as error:
        raise DownloadError(_download_failure(url, target, _network_reason(error))) from None
    except _TooLarge as error:
        raise DownloadError(_download_failure(url, target, str(error))) from None
    if expected is not None and received != expected:
        raise DownloadError(_download_failure(url, target, f"the download was cut off after {received} of {expected} bytes"))
    try:
        verify(temporary)
    except ValueError as error:
        raise DownloadError(_download_failure(url, target, f"the downloaded file is not valid ({error})")) from None


class _TooLarge(Exception):
    """A download passed its size limit."""


def _stream(url: str, output, name: str, progress, timeout: float, max_bytes: int | None = None) -> tuple[int, int | None]:
    """Copy the response body to ``output``; return (bytes received, Content-Length or None)."""
    with urllib.request.urlopen(url, timeout=timeout) as response:
        length_header = response.headers.get("Content-Length")
        expected = int(length_header) if length_header and length_header.isdigit() else None
        received = 0
        while chunk := response.read(DOWNLOAD_CHUNK):
            output.write(chunk)
            received += len(chunk)
            if max_bytes is not None and max(received, expected or 0) > max_bytes:
                raise _TooLarge(f"the file is larger than {max_bytes} bytes, more than a dataset file this loader accepts "
                                f"(raise the limit with {INFLATED_LIMIT_VARIABLE}=<MiB> if it is genuine)")
            if progress:
                progress(name, received, expected, False)
        if progress:
            progress(name, received, expected, True)
    return received, expected


def _network_reason(error: Exception) -> str:
    """A short reason for a network failure."""
    reason = getattr(error, "reason", None) or error
    return f"{type(reason).__name__}: {reason}" if not isinstance(reason, str) else reason


def _download_failure(url: str, target: Path, reason: str) -> str:
    """The message of a failed download: what happened and how to put the file in place by hand."""
    return (
        f"could not download {url}: {reason}. Nothing was saved. Retry, or without network access fetch that URL "
        f"elsewhere and put the file at {target}"
    )


def _verify_kind(path: Path, kind: str) -> None:
    """Check a downloaded dataset file opens as what it should be before it enters the cache."""
    if kind == "npz":
        load_npz_safely(path, _npz_layout(npz_member_names(path), path))
    else:
        _check_ndjson_ends(path)


def _check_ndjson_ends(path: Path) -> None:
    """The first and last lines of an ndjson file must be records with a drawing (catches truncation)."""
    with open(path, "rb") as stream:
        first = stream.readline(MAX_LINE_BYTES)
        stream.seek(max(0, path.stat().st_size - (1 << 20)))
        last = stream.read().rstrip(b"\n").rsplit(b"\n", 1)[-1]
    for where, line in (("first line", first), ("last line", last)):
        _parse_record(line.decode("utf-8", errors="replace"), f"{path}: {where}")


def stderr_progress(name: str, received: int, total: int | None, done: bool) -> None:
    """A one-line download progress display on stderr."""
    megabytes = f"{received / 1e6:.1f}" + (f" / {total / 1e6:.1f} MB ({100 * received / total:.0f}%)" if total else " MB")
    print(f"\rdownloading {name}: {megabytes}", end="\n" if done else "", file=sys.stderr, flush=True)
