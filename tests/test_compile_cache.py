"""The XLA program cache a one-off command loads the sampler from (sketchrnn.compile_cache)."""

import os

from sketchrnn import compile_cache


def test_the_cache_folder_is_keyed_by_the_machine_and_named_in_tf_xla_flags(tmp_path, monkeypatch):
    monkeypatch.setenv("TF_XLA_FLAGS", "--tf_xla_auto_jit=0")
    monkeypatch.delenv("SKETCHRNN_XLA_CACHE", raising=False)
    folder = compile_cache.enable(tmp_path)
    assert folder == tmp_path / "xla" / compile_cache.machine_key() and folder.is_dir()
    assert os.environ["TF_XLA_FLAGS"] == f"--tf_xla_auto_jit=0 {compile_cache.CACHE_FLAG}={folder}"
    assert len(compile_cache.machine_key()) == 16 and compile_cache.machine_key() == compile_cache.machine_key()


def test_a_cache_the_caller_named_or_turned_off_is_left_alone(tmp_path, monkeypatch):
    mine = f"{compile_cache.CACHE_FLAG}=/somewhere/else"
    monkeypatch.setenv("TF_XLA_FLAGS", mine)
    assert compile_cache.enable(tmp_path) is None
    assert not (tmp_path / "xla").exists()
    monkeypatch.delenv("TF_XLA_FLAGS")
    monkeypatch.setenv("SKETCHRNN_XLA_CACHE", "0")
    assert compile_cache.enable(tmp_path) is None
    assert "TF_XLA_FLAGS" not in os.environ


def test_a_folder_that_cannot_be_made_means_compiling_as_before(tmp_path, monkeypatch):
    monkeypatch.delenv("TF_XLA_FLAGS", raising=False)
    monkeypatch.delenv("SKETCHRNN_XLA_CACHE", raising=False)
    blocker = tmp_path / "a file"
    blocker.write_text("not a folder")
    assert compile_cache.enable(blocker) is None
