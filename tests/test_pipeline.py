"""The training input pipeline: shifted targets, bucketing, augmentation, reproducibility, resume position."""

import numpy as np
import pytest

from sketchrnn import pipeline, strokes


def random_drawings(count, seed=0):
    rng = np.random.default_rng(seed)
    drawings = []
    for _ in range(count):
        length = int(rng.integers(5, 120))
        drawing = np.column_stack([rng.normal(size=(length, 2)), rng.random(length) < 0.15]).astype(np.float32)
        drawing[-1, 2] = 1
        drawings.append(drawing)
    return drawings, rng.integers(0, 3, size=count)


def test_batches_are_shifted_stroke5_with_category_ids():
    drawings, ids = random_drawings(30)
    inputs, targets, category_ids = pipeline.make_batch(drawings, ids, np.arange(10))
    longest = max(len(d) for d in drawings[:10])
    assert inputs.shape == targets.shape == (10, longest + 1, 5)
    np.testing.assert_array_equal(inputs[:, 1:], targets[:, :-1])  # targets are the inputs one step ahead
    np.testing.assert_array_equal(inputs[:, 0], np.tile(strokes.START_TOKEN, (10, 1)))
    np.testing.assert_array_equal(category_ids, ids[:10])
    for row, drawing in zip(targets, drawings[:10]):
        np.testing.assert_array_equal(strokes.stroke5_to_stroke3(row, has_start_token=False), drawing)
        assert row[len(drawing):, 4].all(), "end rows after the drawing"


def test_bucketing_pads_much_less_than_random_batches():
    drawings, ids = random_drawings(2000)
    lengths = np.array([len(d) for d in drawings])

    def padding(bucket):
        batches = pipeline.epoch_batches(lengths, 50, seed=1, epoch=0, bucket=bucket)
        return sum(lengths[b].max() * len(b) - lengths[b].sum() for b in batches)

    assert padding(True) < 0.2 * padding(False)


def test_every_drawing_once_per_epoch_and_epochs_differ():
    lengths = np.arange(1, 251)
    first = pipeline.epoch_batches(lengths, 25, seed=3, epoch=0)
    second = pipeline.epoch_batches(lengths, 25, seed=3, epoch=1)
    assert sorted(np.concatenate(first)) == list(range(250))
    assert any(not np.array_equal(a, b) for a, b in zip(first, second))
    assert all(np.array_equal(a, b) for a, b in zip(first, pipeline.epoch_batches(lengths, 25, seed=3, epoch=0)))


def test_too_few_drawings_for_a_batch_is_explained():
    with pytest.raises(ValueError, match="fewer than one batch"):
        pipeline.epoch_batches(np.arange(10), 100, seed=0, epoch=0)
    drawings, ids = random_drawings(10)
    with pytest.raises(ValueError, match="only 10 drawings, fewer than one batch of 100"):  # not tf.data's error, later
        pipeline.tf_dataset(pipeline.BatchSource(drawings, ids, batch_size=100))


def test_resuming_at_a_data_position_gives_the_same_batches():
    drawings, ids = random_drawings(300)
    source = pipeline.BatchSource(drawings, ids, batch_size=40, seed=7, augmentation=pipeline.Augmentation(0.15, 0.1))
    straight = source.batches()
    expected = [next(straight) for _ in range(12)]  # 7 batches per epoch: crosses into epoch 1
    epoch, batch_index, _ = expected[9]
    resumed = source.batches(start_epoch=epoch, start_batch=batch_index)
    for want in expected[9:]:
        got = next(resumed)
        assert got[:2] == want[:2]
        for a, b in zip(got[2], want[2]):
            np.testing.assert_array_equal(a, b)


def test_augmentation_scales_within_range_and_drops_only_interior_points():
    rng = np.random.default_rng(0)
    drawing = np.array([[0, 0, 0], [10, 0, 0], [10, 0, 0], [10, 0, 1], [0, 10, 0], [0, 10, 0], [0, 10, 1]], np.float32)
    for _ in range(50):
        scaled = pipeline.augment(drawing, pipeline.Augmentation(scale=0.15), rng)
        ratio = scaled[:, :2].sum(axis=0) / drawing[:, :2].sum(axis=0)
        assert np.all((ratio >= 0.85 - 1e-6) & (ratio <= 1.15 + 1e-6))
        dropped = pipeline.augment(drawing, pipeline.Augmentation(scale=0.0, drop_points=0.9), rng)
        # the shape survives: stroke ends stay where they were
        ends = np.cumsum(dropped[:, :2], axis=0)[dropped[:, 2] == 1]
        np.testing.assert_allclose(ends, [[30, 0], [30, 30]])
        assert dropped[:, 2].sum() == 2


def test_tf_dataset_yields_batches_with_their_position():
    drawings, ids = random_drawings(120)
    source = pipeline.BatchSource(drawings, ids, batch_size=30, seed=0)
    (inputs, category_ids), targets, position = next(iter(pipeline.tf_dataset(source, start_epoch=2, start_batch=1)))
    assert inputs.shape[0] == 30 and inputs.shape[2] == 5 and category_ids.shape == (30,)
    assert position.numpy().tolist() == [[2, 1]] * 30
    _, _, (expected_inputs, _, _) = next(source.batches(2, 1))
    np.testing.assert_array_equal(inputs.numpy(), expected_inputs)
