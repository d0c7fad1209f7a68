"""Downloads into the cache, against a real HTTP server on 127.0.0.1 (no internet needed)."""

from __future__ import annotations

import http.server
import io
import json
import os
import socket
import stat
import threading
import time
import zipfile
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from sketchrnn import cli, data
from sketchrnn.data import download


def official_npz_bytes(count: int = 30) -> bytes:
    """A small file in the official Sketch-RNN layout (train / valid / test object arrays)."""
    rng = np.random.default_rng(0)
    arrays = {}
    for name, size in (("train", count), ("valid", 3), ("test", 3)):
        array = np.empty(size, dtype=object)
        for index in range(size):
            drawing = rng.integers(-20, 21, size=(int(rng.integers(5, 30)), 3)).astype(np.int16)
            drawing[:, 2] = rng.random(len(drawing)) < 0.2
            array[index] = drawing
        arrays[name] = array
    stream = io.BytesIO()
    np.savez(stream, **arrays)
    return stream.getvalue()


def simplified_ndjson_bytes(count: int = 20) -> bytes:
    lines = [json.dumps({"word": "pig", "key_id": str(i), "drawing": [[[0, 10 + i, 20], [0, 5, 30]]]}) for i in range(count)]
    return ("\n".join(lines) + "\n").encode()


class Routes(dict):
    """path -> (body, how): "ok" serves it whole; "cut" promises all of it and sends half; "no-length" omits Content-Length."""


@pytest.fixture
def server():
    """A threaded HTTP server on 127.0.0.1 that records every request path."""
    routes, requests = Routes(), []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (the http.server API)
            requests.append(self.path)
            if self.path not in routes:
                self.send_error(404, "Not Found")
                return
            body, how = routes[self.path]
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            if not how.startswith("no-length"):
                self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body[: len(body) // 2] if how in ("cut", "no-length-cut") else body)
            self.close_connection = True

        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    yield SimpleNamespace(url=f"http://127.0.0.1:{httpd.server_address[1]}", routes=routes, requests=requests)
    httpd.shutdown()
    httpd.server_close()
    thread.join()


def files_under(directory: Path) -> list[str]:
    return sorted(str(path.relative_to(directory)) for path in directory.rglob("*") if path.is_file())


def test_download_is_cached_and_never_repeated(server, tmp_path):
    body = official_npz_bytes()
    server.routes["/sketchrnn/pig.npz"] = (body, "ok")
    path = data.download_category("pig", cache_dir=tmp_path, base_url=server.url)
    assert path == tmp_path / "sketchrnn" / "pig.npz" and path.read_bytes() == body
    assert server.requests == ["/sketchrnn/pig.npz"]
    assert data.download_category("pig", cache_dir=tmp_path, base_url=server.url) == path
    dataset = data.load_dataset(["pig"], cache_dir=tmp_path, download=True)
    assert server.requests == ["/sketchrnn/pig.npz"]  # cache hits make no request
    assert [len(dataset.splits[name]) for name in data.SPLIT_NAMES] == [30, 3, 3]
    assert files_under(tmp_path) == ["sketchrnn/pig.npz"]  # no temporary file left behind


def test_load_dataset_downloads_through_the_environment_url(server, tmp_path, monkeypatch):
    server.routes["/sketchrnn/alarm%20clock.npz"] = (official_npz_bytes(), "ok")
    monkeypatch.setenv("SKETCHRNN_DOWNLOAD_URL", server.url)
    monkeypatch.setenv("SKETCHRNN_DATA_DIR", str(tmp_path))
    dataset = data.load_dataset(["alarm_clock"], download=True)
    assert dataset.categories == ["alarm clock"]
    assert (tmp_path / "sketchrnn" / "alarm_clock.npz").is_file()
    assert server.requests == ["/sketchrnn/alarm%20clock.npz"]


def test_simplified_ndjson_download(server, tmp_path):
    server.routes["/full/simplified/pig.ndjson"] = (simplified_ndjson_bytes(), "ok")
    path = data.download_category("pig", kind="simplified", cache_dir=tmp_path, base_url=server.url)
    assert path == tmp_path / "simplified" / "pig.ndjson"
    dataset = data.load_dataset([path])
    assert sum(len(split) for split in dataset.splits.values()) == 20


@pytest.mark.parametrize("how", ["cut", "no-length-cut"])
def test_cut_download_leaves_nothing_and_says_so(server, tmp_path, how):
    server.routes["/sketchrnn/pig.npz"] = (official_npz_bytes(), how)
    with pytest.raises(data.DownloadError) as caught:
        data.download_category("pig", cache_dir=tmp_path, base_url=server.url)
    message = str(caught.value)
    assert f"{server.url}/sketchrnn/pig.npz" in message
    assert ("cut off after" if how == "cut" else "not valid") in message
    assert str(tmp_path / "sketchrnn" / "pig.npz") in message
    assert isinstance(caught.value, ValueError) and isinstance(caught.value, ConnectionError)
    assert files_under(tmp_path) == []  # neither the final file nor a temporary one
    server.routes["/sketchrnn/pig.npz"] = (official_npz_bytes(), "ok")  # a retry then works
    assert data.download_category("pig", cache_dir=tmp_path, base_url=server.url).is_file()


def test_truncated_ndjson_download_is_refused(server, tmp_path):
    body = simplified_ndjson_bytes()
    server.routes["/full/simplified/pig.ndjson"] = (body[: len(body) // 2], "no-length")
    with pytest.raises(data.DownloadError, match="not valid.*last line"):
        data.download_category("pig", kind="simplified", cache_dir=tmp_path, base_url=server.url)
    assert files_under(tmp_path) == []


def test_unknown_category_on_the_server(server, tmp_path):
    with pytest.raises(data.DownloadError, match="HTTP 404"):
        data.download_category("unicorn", cache_dir=tmp_path, base_url=server.url)
    assert files_under(tmp_path) == []


def npz_bomb_bytes(inflated_mib: int) -> bytes:
    """A zip whose one member inflates to ``inflated_mib`` MiB of zeros (compressed by zipfile in 1 MiB writes)."""
    stream = io.BytesIO()
    with zipfile.ZipFile(stream, "w", zipfile.ZIP_DEFLATED) as archive, archive.open("sketches.npy", "w") as member:
        for _ in range(inflated_mib):
            member.write(bytes(1 << 20))
    return stream.getvalue()


def test_a_decompression_bomb_download_is_refused_and_leaves_nothing(server, tmp_path, monkeypatch):
    monkeypatch.setenv("SKETCHRNN_MAX_INFLATED_MB", "4")
    server.routes["/sketchrnn/pig.npz"] = (npz_bomb_bytes(16), "ok")
    with pytest.raises(data.DownloadError, match="not valid .*more than 4 MiB.*SKETCHRNN_MAX_INFLATED_MB"):
        data.download_category("pig", cache_dir=tmp_path, base_url=server.url)
    assert files_under(tmp_path) == []


@pytest.mark.parametrize("how", ["ok", "no-length"])
def test_a_download_larger_than_any_loadable_npz_is_stopped(server, tmp_path, monkeypatch, how):
    monkeypatch.setenv("SKETCHRNN_MAX_INFLATED_MB", "1")  # an .npz download may then be at most 2 MiB
    server.routes["/sketchrnn/pig.npz"] = (bytes(5 << 20), how)
    with pytest.raises(data.DownloadError, match="larger than 2097152 bytes"):
        data.download_category("pig", cache_dir=tmp_path, base_url=server.url)
    assert files_under(tmp_path) == []


def test_offline_error_says_where_to_put_the_file(tmp_path):
    with socket.socket() as probe:  # a port nothing listens on: connection refused
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(data.DownloadError) as caught:
        data.download_category("pig", cache_dir=tmp_path, base_url=f"http://127.0.0.1:{port}", timeout=5)
    message = str(caught.value)
    assert "could not download" in message and "refused" in message.lower()
    assert f"put the file at {tmp_path / 'sketchrnn' / 'pig.npz'}" in message
    assert files_under(tmp_path) == []


def test_invalid_category_builds_no_url(server, tmp_path):
    for name in ("../pig", "pig/../../etc", "pig%2f"):
        with pytest.raises(ValueError, match="invalid category name"):
            data.download_category(name, cache_dir=tmp_path, base_url=server.url)
    assert server.requests == []


def test_urls_and_cache_paths(tmp_path, monkeypatch):
    monkeypatch.delenv("SKETCHRNN_DOWNLOAD_URL", raising=False)
    assert data.category_url("pig") == "https://storage.googleapis.com/quickdraw_dataset/sketchrnn/pig.npz"
    assert data.category_url("alarm_clock", "simplified") == (
        "https://storage.googleapis.com/quickdraw_dataset/full/simplified/alarm%20clock.ndjson"
    )
    assert data.category_url("pig", base_url="http://mirror/q/") == "http://mirror/q/sketchrnn/pig.npz"
    assert data.cache_path("The Eiffel Tower", cache_dir=tmp_path) == tmp_path / "sketchrnn" / "The_Eiffel_Tower.npz"
    with pytest.raises(ValueError, match="unknown download format 'raw'"):
        data.cache_path("pig", kind="raw", cache_dir=tmp_path)


def test_default_cache_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("SKETCHRNN_DATA_DIR", str(tmp_path / "cache"))
    assert data.default_cache_dir() == tmp_path / "cache"
    monkeypatch.delenv("SKETCHRNN_DATA_DIR")
    repository = Path(download.__file__).resolve().parents[2]
    expected = repository / "data"
    if not (expected.is_dir() and (repository / "pyproject.toml").is_file()):
        expected = Path.home() / ".cache" / "sketchrnn"
    assert data.default_cache_dir() == expected


def test_cli_download(server, tmp_path, capsys):
    server.routes["/sketchrnn/pig.npz"] = (official_npz_bytes(), "ok")
    arguments = ["data", "download", "pig", "--cache-dir", str(tmp_path), "--base-url", server.url]
    assert cli.main(arguments) == 0
    captured = capsys.readouterr()
    assert captured.out.strip() == str(tmp_path / "sketchrnn" / "pig.npz")
    assert "downloading pig.npz" in captured.err and "100%" in captured.err
    assert cli.main(arguments) == 0
    assert "already cached" in capsys.readouterr().out
    assert server.requests == ["/sketchrnn/pig.npz"]


def test_cli_download_failure_exits_2(server, tmp_path, capsys):
    status = cli.main(["data", "download", "unicorn", "--cache-dir", str(tmp_path), "--base-url", server.url])
    captured = capsys.readouterr()
    assert status == 2
    assert captured.err.startswith("error: could not download") and "Traceback" not in captured.err


def test_a_cache_path_taken_by_something_else_is_refused_before_any_request(server, tmp_path):
    server.routes["/sketchrnn/pig.npz"] = (official_npz_bytes(), "ok")
    target = data.cache_path("pig", "npz", tmp_path)
    target.mkdir(parents=True)  # a folder where the file would go
    with pytest.raises(ValueError, match="not a regular file"):
        data.download_category("pig", cache_dir=tmp_path, base_url=server.url)
    assert server.requests == [] and target.is_dir()


def test_a_killed_downloads_temporary_is_removed_by_the_next_download(server, tmp_path):
    """A download killed mid-way leaves its `.NAME.tmp-XXXXXXXX` (or, before issue 34, `.NAME.XXXXXXXX.part`); the next
    download of the same file removes it (a temporary some live download holds, or one touched a moment ago, stays)."""
    body = official_npz_bytes()
    server.routes["/sketchrnn/pig.npz"] = (body, "ok")
    folder = tmp_path / "sketchrnn"
    folder.mkdir()
    long_ago = time.time() - 3600
    for name in (".pig.npz.tmp-0123abcd", ".pig.npz.k2j3h4g5.part", ".pig.npz.tmp-fresh123", ".cow.npz.tmp-0123abcd"):
        (folder / name).write_bytes(body[:100])
        if "fresh" not in name:
            os.utime(folder / name, (long_ago, long_ago))
    data.download_category("pig", cache_dir=tmp_path, base_url=server.url)
    assert sorted(os.listdir(folder)) == [".cow.npz.tmp-0123abcd", ".pig.npz.tmp-fresh123", "pig.npz"]
    assert stat.S_IMODE(os.stat(folder / "pig.npz").st_mode) == 0o666 & ~current_umask()


def current_umask() -> int:
    previous = os.umask(0o022)
    os.umask(previous)
    return previous
