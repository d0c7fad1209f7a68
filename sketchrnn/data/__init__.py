"""Quick, Draw! datasets: safe loading, the download cache, cleaning and deterministic splits.

* :mod:`~sketchrnn.data.sources`: :func:`load_dataset` -- what each source names, reading, cleaning
  and splitting it into a :class:`Dataset` -- and :func:`describe`;
* :mod:`~sketchrnn.data.npz`: Sketch-RNN ``.npz`` files read safely (no pickle code runs, inflation limit);
* :mod:`~sketchrnn.data.ndjson`: ndjson files (optionally gzip'd) in the simplified, dense or raw format;
* :mod:`~sketchrnn.data.clean`: cleaning, rescaling, de-duplication and deterministic splits;
* :mod:`~sketchrnn.data.categories`: category names, canonical and safe;
* :mod:`~sketchrnn.data.download`: the download cache of official files.
"""

from sketchrnn.data.categories import canonical_category, category_from_filename, validate_category
from sketchrnn.data.clean import (
    SPLIT_NAMES,
    Split,
    clean_stroke3_flat,
    drawing_extents_flat,
    rescale_drawings_flat,
    seeded_split,
    split_counts,
)
from sketchrnn.data.download import (
    DEFAULT_BASE_URL,
    DOWNLOAD_KINDS,
    DownloadError,
    ProgressCallback,
    cache_path,
    category_url,
    default_cache_dir,
    download_category,
    download_to_cache,
    stderr_progress,
)
from sketchrnn.data.ndjson import NDJSON_FORMATS
from sketchrnn.data.npz import MAX_INFLATED_BYTES, UnsafePickleError, inflation_limit, load_npz_safely, npz_member_names
from sketchrnn.data.sources import Dataset, describe, load_dataset

__all__ = [
    "DEFAULT_BASE_URL",
    "DOWNLOAD_KINDS",
    "MAX_INFLATED_BYTES",
    "NDJSON_FORMATS",
    "SPLIT_NAMES",
    "Dataset",
    "DownloadError",
    "ProgressCallback",
    "Split",
    "UnsafePickleError",
    "cache_path",
    "canonical_category",
    "category_from_filename",
    "category_url",
    "clean_stroke3_flat",
    "default_cache_dir",
    "describe",
    "download_category",
    "download_to_cache",
    "drawing_extents_flat",
    "inflation_limit",
    "load_dataset",
    "load_npz_safely",
    "npz_member_names",
    "rescale_drawings_flat",
    "seeded_split",
    "split_counts",
    "stderr_progress",
    "validate_category",
]
