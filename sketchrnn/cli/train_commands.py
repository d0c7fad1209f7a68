"""``sketchrnn train``, ``evaluate``, ``export`` and ``calibrate-guess``: make models and measure them."""

from __future__ import annotations

import argparse
import sys

from sketchrnn.cli.data_commands import parse_categories

TRAIN_OPTIONS = (  # (flag, TrainSettings field, type, help); defaults come from TrainSettings
    ("--model", "model", str, "decoder (draws and completes) or vae (the paper's encoder + decoder: also redraws "
                              "and morphs)"),
    ("--hidden-size", "hidden_size", int, "LSTM units (paper 512; 256 trains ~3x faster on CPU)"),
    ("--num-mixtures", "num_mixtures", int, "Gaussians in the offset mixture (paper 20)"),
    ("--recurrent-dropout", "recurrent_dropout", float, "dropout on the LSTM state while training"),
    ("--encoder-size", "encoder_size", int, "vae: units of each direction of the bidirectional encoder (paper 256)"),
    ("--latent-size", "latent_size", int, "vae: N_z, the size of the latent vector z (paper 128)"),
    ("--kl-weight", "kl_weight", float, "vae: w_KL, the KL term's weight once annealed (magenta 0.5)"),
    ("--kl-min", "kl_min", float, "vae: KL_min, below which the KL term is not minimised (magenta 0.2)"),
    ("--kl-weight-start", "kl_weight_start", float, "vae: eta_min, the annealed KL weight's start, a fraction (paper 0.01)"),
    ("--kl-decay-rate", "kl_decay_rate", float, "vae: R of the annealing eta = 1 - (1 - eta_min) R^step (paper 0.99995)"),
    ("--batch-size", "batch_size", int, "drawings per batch (paper 100)"),
    ("--steps", "steps", int, "total optimisation steps of the run"),
    ("--max-minutes", "max_minutes", float, "wall-clock budget of this invocation; stops with a checkpoint"),
    ("--learning-rate", "learning_rate", float, "Adam's initial learning rate (paper 1e-3)"),
    ("--min-learning-rate", "min_learning_rate", float, "floor of the exponential decay (magenta 1e-5)"),
    ("--decay-rate", "decay_rate", float, "per-step decay factor of the learning rate (magenta 0.9999)"),
    ("--clip-kind", "clip_kind", str, "gradient clipping: value (each element, as magenta), norm, global_norm or none"),
    ("--clip", "clip", float, "clipping threshold (magenta 1.0)"),
    ("--augment-scale", "augment_scale", float, "random x/y scale augmentation, +-fraction (magenta 0.15; 0 turns it off)"),
    ("--drop-points", "drop_points", float, "probability of dropping interior points (magenta 0.10; default 0)"),
    ("--max-length", "max_length", int, "leave out drawings with more points than this (Sketch-RNN 250)"),
    ("--rescale-to", "rescale_to", float, "scale every drawing so max(width, height) is this (255: the simplified frame)"),
    ("--seed", "seed", int, "seed for the split, batch order, augmentation and initial weights"),
    ("--validate-every", "validate_every", int, "steps between validation runs (best model kept)"),
    ("--checkpoint-every", "checkpoint_every", int, "steps between checkpoints"),
    ("--log-every", "log_every", int, "steps between progress lines when the output is not a terminal (log file, CI)"),
    ("--strategy", "strategy", str, "tf.distribute strategy: default (one device), mirrored (all local devices), "
                                    "multi-worker (cluster from $TF_CONFIG)"),
)
RESUME_OPTIONS = {"steps", "max_minutes", "validate_every", "checkpoint_every", "log_every"}


def add_train_command(subparsers) -> None:
    """``sketchrnn train``: train a model, or resume a run."""
    from sketchrnn.settings import TrainSettings

    defaults = TrainSettings(data=[], out="")
    parser = subparsers.add_parser(
        "train", help="train a model on QuickDraw data (resumable)",
        description=(
            "Train a Sketch-RNN with backpropagation through time: decoder only (--model decoder, the default) or "
            "the paper's VAE (--model vae: a bidirectional encoder to a latent z, the decoder from z, "
            "loss L_R + w_KL eta max(L_KL, KL_min) with the KL weight annealed). Checkpoints go to OUT/checkpoints "
            "(written atomically), the model with the best validation loss to OUT/best, metrics to OUT/metrics.csv "
            "and OUT/tensorboard. Ctrl-C, a kill or --max-minutes stop the run; `--resume OUT` (or the same command "
            "again) continues from the last checkpoint with the optimizer state and the data position."
        ),
        epilog="example: sketchrnn train --data ../shared/data/quickdraw_sketchrnn_pig_2200.npz --out runs/pig "
               "--hidden-size 256 --max-minutes 30",
    )
    parser.add_argument("--data", nargs="+", metavar="SOURCE", help="data files or category names (see `sketchrnn data info`)")
    parser.add_argument("--out", metavar="DIR", help="run directory")
    parser.add_argument("--resume", metavar="DIR", help="continue the run in DIR with its saved settings")
    parser.add_argument("--categories", type=parse_categories, default=None, metavar="NAME[,NAME...]",
                        help="keep only these categories of the data")
    parser.add_argument("--download", action="store_true", help="download category names missing from the cache")
    parser.add_argument("--init-from", metavar="MODEL",
                        help="start from this trained decoder's weights instead of random ones (a model, run or "
                             "checkpoint directory, e.g. data/models/quickdraw6): its LSTM size, mixtures and layer "
                             "norm are taken over, each category it knows starts as it drew it, a new one from the "
                             "mean of its categories; drawings are read in its units (default: random weights)")
    for flag, name, kind, text in TRAIN_OPTIONS:
        parser.add_argument(flag, dest=name, type=kind, default=None, help=f"{text} (default {getattr(defaults, name)})")
    parser.add_argument("--layer-norm", action="store_true", default=None,
                        help="layer-normalised LSTM, as the paper's decoder (magenta's LayerNormLSTMCell) (default off)")
    parser.add_argument("--category-conditioning", action=argparse.BooleanOptionalAction, default=None,
                        help="with several categories, feed a learned category embedding at every step (default: on "
                             "for --model decoder, off for --model vae, whose z says what a drawing is)")
    parser.set_defaults(handler=run_train)


def train_settings_from_arguments(arguments):
    """TrainSettings from the command line: a new run, or a resumed one with only run-length changes."""
    from sketchrnn.settings import TrainSettings
    from sketchrnn.train import read_settings

    given = {name: getattr(arguments, name) for _, name, _, _ in TRAIN_OPTIONS if getattr(arguments, name) is not None}
    if getattr(arguments, "layer_norm", None):
        given["layer_norm"] = True
    if getattr(arguments, "category_conditioning", None) is not None:
        given["category_conditioning"] = arguments.category_conditioning
    if arguments.resume:
        refused = sorted(set(given) - RESUME_OPTIONS) + (["data"] if arguments.data else []) + (
            ["init_from"] if arguments.init_from else [])
        if refused:
            raise ValueError(f"--resume keeps the run's saved settings; only --steps, --max-minutes, --validate-every, "
                             f"--checkpoint-every and --log-every may change (got {', '.join(refused)})")
        settings = read_settings(arguments.resume)
        settings.max_minutes = None
        for name, value in given.items():
            setattr(settings, name, value)
        return settings
    if not arguments.data or not arguments.out:
        raise ValueError("pass --data SOURCE... and --out DIR for a new run, or --resume DIR")
    if arguments.init_from:  # the base model's architecture, unless given (training refuses a mismatch)
        from sketchrnn.checkpoint import load_model
        from sketchrnn.train import architecture_of

        given = {**architecture_of(load_model(arguments.init_from)), **given, "init_from": arguments.init_from}
    return TrainSettings(data=arguments.data, out=arguments.out, categories=arguments.categories,
                         download=arguments.download, **given)


def run_train(arguments) -> int:
    """Train; exit 0 when finished or out of time, 130 when interrupted, 3 when the loss diverged,
    1 when the run folder could not be written, 75 (EX_TEMPFAIL) when another worker of the cluster stopped."""
    from sketchrnn.train import train

    summary = train(train_settings_from_arguments(arguments))
    return {"diverged": 3, "interrupted": 130, "unwritable": 1, "worker_lost": 75}.get(summary["status"], 0)


def add_evaluate_command(subparsers) -> None:
    """``sketchrnn evaluate MODEL --data SOURCE...``."""
    parser = subparsers.add_parser(
        "evaluate", help="print the reconstruction loss L_R of a model on held-out data",
        description=(
            "Print L_R = L_s + L_p (Ha & Eck 2017, eqs. 9-11) on a split (default: test), each drawing padded to "
            "N_max = max_length + 1 rows, averaged over drawings: the figure the paper reports. The split is the "
            "same deterministic split training used (same --seed)."
        ),
        epilog="example: sketchrnn evaluate runs/pig --data ../shared/data/quickdraw_sketchrnn_pig_2200.npz",
    )
    parser.add_argument("model", metavar="MODEL", help="model directory or run directory")
    parser.add_argument("--data", nargs="+", required=True, metavar="SOURCE", help="data files or category names")
    parser.add_argument("--split", default="test", choices=("train", "valid", "test"), help="which split (default test)")
    parser.add_argument("--categories", type=parse_categories, default=None, metavar="NAME[,NAME...]",
                        help="evaluate only these categories")
    parser.add_argument("--rescale-to", type=float, default=None, help="default: as the model was trained")
    parser.add_argument("--seed", type=int, default=None, help="split seed (default: the model's training seed)")
    parser.set_defaults(handler=run_evaluate)


def run_evaluate(arguments) -> int:
    """Print L_R and its parts."""
    from sketchrnn.train import evaluate

    result = evaluate(arguments.model, arguments.data, split=arguments.split, categories=arguments.categories,
                      rescale_to=arguments.rescale_to, seed=arguments.seed)
    kl = "kl_loss" in result  # a VAE: L_KL too
    print(f"{'category':<16} {'drawings':>8} {'L_R':>8} {'L_s':>8} {'L_p':>8}{' ' + format('L_KL', '>8') if kl else ''}"
          f"   ({arguments.split} split)")
    rows = list(result["per_category"].items()) + ([("all", result)] if len(result["per_category"]) > 1 else [])
    for name, part in rows:
        print(f"{name:<16} {part['drawings']:>8} {part['loss']:>8.4f} {part['offset_loss']:>8.4f} {part['pen_loss']:>8.4f}"
              + (f" {part['kl_loss']:>8.4f}" if kl else ""))
    return 0


def add_export_command(subparsers) -> None:
    """``sketchrnn export RUN DEST``."""
    parser = subparsers.add_parser(
        "export", help="copy a run's best model out, with a model card and its test-split L_R",
        description=(
            "Copy RUN/best to DEST (a model directory the demo and the drawing commands load), write "
            "DEST/MODEL_CARD.md with the data, settings, steps, wall time, machine and the held-out test L_R "
            "of each category (the test split of the run's own data; never used for training or selection)."
        ),
        epilog="example: sketchrnn export runs/pig data/models/pig",
    )
    parser.add_argument("run", metavar="RUN", help="training run directory")
    parser.add_argument("destination", metavar="DEST", help="model directory to write (a model already there is replaced; "
                                                               "a folder holding anything else is refused)")
    parser.add_argument("--no-test", action="store_true", help="skip the test-split evaluation")
    parser.add_argument("--compare-with", metavar="MODEL", default=None,
                        help="also evaluate this model (e.g. the decoder-only data/models/quickdraw6) on the same test "
                             "split and put its L_R beside this one's in the card")
    parser.add_argument("--float16", action="store_true",
                        help="store the weights as float16: half the size (for bundled models); the card's test L_R "
                             "is measured on the stored weights")
    parser.set_defaults(handler=run_export)


def run_export(arguments) -> int:
    """Export a run and print its model card."""
    from pathlib import Path

    import numpy as np

    from sketchrnn.export import check_destination, export_run, test_losses_by_category
    from sketchrnn.train import read_settings

    check_destination(arguments.destination)
    settings = read_settings(arguments.run)
    options = dict(seed=settings.seed, rescale_to=settings.rescale_to, categories=settings.categories)
    weights_dtype = np.float16 if arguments.float16 else np.float32
    measured = Path(arguments.run) / "best"
    if arguments.float16 and not arguments.no_test:  # measure the weights as stored: write them first
        measured = export_run(arguments.run, arguments.destination, weights_dtype=weights_dtype)
    losses = None if arguments.no_test else test_losses_by_category(measured, settings.data, **options)
    reference = None
    if arguments.compare_with and losses:
        reference = {"model": Path(arguments.compare_with).name,
                     "test_loss": test_losses_by_category(arguments.compare_with, settings.data, **options)}
    destination = export_run(arguments.run, arguments.destination, losses, reference, weights_dtype)
    print((destination / "MODEL_CARD.md").read_text())
    return 0


def add_calibrate_command(subparsers) -> None:
    """``sketchrnn calibrate-guess``: fit "what are you drawing?" to the models a user has."""
    parser = subparsers.add_parser(
        "calibrate-guess", help='fit the calibration of "what are you drawing?" for your models',
        description=(
            "Fit the per-model temperatures and the per-(model, category) offsets and length slopes that turn each "
            "model's per-point log-likelihood into calibrated guesses, on the validation splits of the models' own training data "
            "(complete drawings and their first 40%%; a category no model's data has, such as an imported magenta model's, is "
            "fitted on that model's own samples at temperature 1); test splits are never used. Default models: the bundled, "
            "imported and cached ones, as the demo loads them. Writes data/models/guess_calibration.json "
            "(or --out), which the demo reads."
        ),
        epilog="example: sketchrnn calibrate-guess --per-category 100",
    )
    parser.add_argument("models", nargs="*", metavar="MODEL", help="model directories (default: the demo's models)")
    parser.add_argument("--per-category", type=int, default=250,
                        help="validation drawings per category, at most (default 250: all of the bundled models' data)")
    parser.add_argument("--seed", type=int, default=0, help="which validation drawings are taken (default 0)")
    parser.add_argument("--out", default=None, metavar="FILE.json", help="where to write (default data/models/guess_calibration.json)")
    parser.add_argument("--length-exponents", action="store_true",
                        help="also fit a length exponent per model, so a guess grows surer as the drawing grows: better "
                             "calibrated percentages, but no better ranking (here: cut test drawings guessed right 62.0%% -> "
                             "60.6%%; see sketchrnn/calibration.py)")
    parser.set_defaults(handler=run_calibrate)


def run_calibrate(arguments) -> int:
    """Fit and save the calibration; print its summary."""
    from sketchrnn import calibration, checkpoint, demo

    if arguments.per_category < 1:
        raise ValueError("--per-category must be at least 1")
    models = [checkpoint.load_model(path) for path in arguments.models] if arguments.models else demo.load_models()
    terminal = sys.stderr.isatty()  # in a log file: one plain line per 50 drawings instead of carriage returns
    progress = lambda done, total: print(f"{chr(13) if terminal else ''}scoring validation drawings: {done}/{total}",  # noqa: E731
                                         end="\n" if done == total or not terminal else "", file=sys.stderr, flush=True)
    fitted = calibration.calibrate(models, per_category=arguments.per_category, seed=arguments.seed, progress=progress,
                                   length_exponents=arguments.length_exponents)
    path = fitted.save(arguments.out or calibration.default_path())
    temperatures = ", ".join(f"{name} {value:.4f}" for name, value in sorted(fitted.temperatures.items()))
    exponents = ", ".join(f"{name} {value:.3f}" for name, value in sorted(fitted.exponents.items()))
    exponents = f"; length exponents {exponents}" if exponents else ""
    print(f"{path}: temperatures {temperatures}{exponents}; {len(fitted.offsets)} offsets and length slopes; "
          f"validation cross-entropy {fitted.facts['validation_cross_entropy']}")
    return 0
