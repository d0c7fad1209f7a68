"""How a model draws when the caller does not say: the one definition of the drawing defaults.

:class:`DrawingSettings` holds the four settings a drawing depends on besides the seed (temperature, pen
temperature, guidance, tries); its field defaults are the project's defaults. :class:`ModelDrawingSettings` is a
model's own choice of them, one for all its categories and, where a category draws better with its own, one per
category; it is stored in the model directory's ``config.json`` under ``"drawing"``::

    "drawing": {
      "temperature": 0.4, "pen_temperature": 1.0, "guidance": 8.0, "tries": 1,
      "categories": {"alarm clock": {"temperature": 0.25}},       (optional; missing keys: the model's)
      "chosen_by": "benchmarks/choose_drawing_settings.py ...",   (optional: how they were chosen)
      "recognised": {"pig": 0.61, "alarm clock": 0.74}            (optional: what the yardstick measured)
    }

A model without that section draws with the project's defaults. ``sample.sample`` / ``sample.complete``, the
``sketchrnn sample`` / ``complete`` commands and the demo's sliders all start from :func:`resolved`, so the same
drawing, model, category and seed give the same endings everywhere. ``benchmarks/choose_drawing_settings.py``
chooses a model's settings on validation cuts and writes them; ``sketchrnn models import`` writes magenta.js's
(see :data:`MAGENTA_JS`). No TensorFlow here: the command line reads it for its help.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field

MAX_TEMPERATURE = 2.0  # temperatures are in (0, MAX_TEMPERATURE]; 0.2-0.6 gives tidy drawings
MAX_GUIDANCE = 16.0  # guidance's upper end (see `Sampler.generate`); 8 and 16 measured alike
MAX_TRIES = 4  # drawings drawn per drawing kept, at most (see `sample.most_like`)
MAX_CHOSEN_BY = 1000  # characters of the "chosen_by" note, at most
SECTION = "drawing"  # the section of config.json that holds a model's settings
RANKING_FILE = "drawing_ranking.json"  # beside the bundled models: per category, the models that draw it, best first
SETTING_NAMES = ("temperature", "pen_temperature", "guidance", "tries")


@dataclass(frozen=True)
class DrawingSettings:
    """The settings a drawing depends on besides the model, the category, the person's strokes and the seed.

    The defaults are the project's, for a model that has not chosen its own (:class:`ModelDrawingSettings`).
    """

    # tau: divides the mixture logits and scales sigma by sqrt(tau) (Ha & Eck 2017, section 3.3); low is tidy and
    # typical, high is wild. 0.4: Sketch-RNN's usual sampling temperature.
    temperature: float = 0.4
    # The pen state's own temperature (the paper uses tau for it too). With the paper's single temperature, our
    # models (trained for about an hour on 2 CPU cores) rarely sample "drawing ended" below 0.6 and scribble on to
    # the 250-point cap (9 of 9 sampled faces at tau = 0.4); at 1.0 drawings end where people's do (docs/design.md,
    # "Sampling"). Pass the same value as the temperature for the paper's behaviour.
    pen_temperature: float = 1.0
    # A model of several categories draws each step guided towards what the chosen category draws and its other
    # categories do not (`Sampler.generate`; 0 turns it off; a model of one category ignores it). Chosen on
    # validation cuts only, 4 endings each (benchmarks/guidance.py, docs/quality/tuning/guidance_plain_pen.md):
    # completions the independent recogniser names rightly, quickdraw6 69.0% unguided -> 77.1% at 4, 78.2% at 8,
    # 78.2% at 16 (alarm clock 48% -> 72%); spg20 73.2% -> 80.9%, 81.6%, 81.9%. It costs a batch as many times
    # larger as the model has categories.
    guidance: float = 8.0
    # The model draws this many drawings for each one shown and shows those it finds itself most like the chosen
    # category (sample.most_like). Unguided, 3 tries lift quickdraw6's validation completions 69.0% -> 71.8%;
    # guided, they add nothing (79.8% -> 79.6%, docs/quality/tuning/guidance_tries3.md) at six times the time, so
    # 1. Magenta's models draw one category: nothing to compare.
    tries: int = 1

    def check(self, where: str = "drawing settings") -> DrawingSettings:
        """Raise ValueError naming ``where`` and the accepted range for a setting out of range; returns self."""
        for name in ("temperature", "pen_temperature"):
            value = getattr(self, name)
            if not (_is_number(value) and 0.0 < value <= MAX_TEMPERATURE):
                raise ValueError(f"{where}: {name} must be a number in (0, {MAX_TEMPERATURE:g}], got {_shown(value)}; "
                                 "0.2-0.6 gives tidy drawings")
        if not (_is_number(self.guidance) and 0.0 <= self.guidance <= MAX_GUIDANCE):
            raise ValueError(f"{where}: guidance must be a number from 0 to {MAX_GUIDANCE:g}, got {_shown(self.guidance)}")
        whole = isinstance(self.tries, int) or (isinstance(self.tries, float) and self.tries.is_integer())
        if not (_is_number(self.tries) and whole and 1 <= self.tries <= MAX_TRIES):
            raise ValueError(f"{where}: tries must be a whole number from 1 to {MAX_TRIES}, got {_shown(self.tries)}")
        return self

    def to_dict(self) -> dict:
        """The settings as JSON numbers."""
        return {"temperature": float(self.temperature), "pen_temperature": float(self.pen_temperature),
                "guidance": float(self.guidance), "tries": int(self.tries)}

    @classmethod
    def from_dict(cls, data, where: str, base: DrawingSettings | None = None) -> DrawingSettings:
        """Checked settings from untrusted JSON; keys left out take ``base``'s values (default: the project's)."""
        if not isinstance(data, dict):
            raise ValueError(f"{where} must be an object of {', '.join(SETTING_NAMES)}, got {_shown(data)}")
        unknown = sorted(set(data) - set(SETTING_NAMES))
        if unknown:
            raise ValueError(f"{where}: unknown setting {_shown(unknown[0])}; the settings are {', '.join(SETTING_NAMES)}")
        settings = dataclasses.replace(base or cls(), **data).check(where)
        return dataclasses.replace(settings, tries=int(settings.tries))

    def describe(self) -> str:
        """One line for people: ``temperature 0.4, pen temperature 1, guidance 8, tries 1``."""
        return (f"temperature {self.temperature:g}, pen temperature {self.pen_temperature:g}, "
                f"guidance {self.guidance:g}, tries {self.tries}")


# The project's defaults: what a model draws with unless it has chosen its own
DEFAULTS = DrawingSettings()
# What magenta.js's sketch demos use: temperature 0.25 for the offsets and, for the mixture weights and the pen,
# a softmax temperature of 0.5 + 0.5 x 0.25 = 0.625 (our temperature tempers the mixture weights and sigma
# together, so only the pen takes the 0.625). `sketchrnn models import` writes these into an imported model;
# benchmarks/choose_drawing_settings.py replaces them with settings chosen on validation where there is data.
MAGENTA_JS = DrawingSettings(temperature=0.25, pen_temperature=0.625, guidance=0.0, tries=1)
MAGENTA_JS_NOTE = ("magenta.js's sketch demos (temperature 0.25; pen softmax temperature 0.5 + 0.5 x 0.25), "
                   "written by `sketchrnn models import`; not measured here")


@dataclass(frozen=True)
class ModelDrawingSettings:
    """A model's drawing settings: one for all its categories and, where it pays, one per category."""

    default: DrawingSettings = DEFAULTS  # for every category without its own
    categories: dict = field(default_factory=dict)  # category -> DrawingSettings, where it draws better with its own
    chosen_by: str = ""  # how the settings were chosen ("": they are the project's defaults)
    recognised: dict = field(default_factory=dict)  # category -> share the yardstick recognised at its settings

    @property
    def chosen(self) -> bool:
        """Whether the model has settings of its own (else it draws with the project's defaults)."""
        return self != ModelDrawingSettings()

    def for_category(self, category: str | None) -> DrawingSettings:
        """The settings the model draws ``category`` with (None: its settings for all categories)."""
        return self.categories.get(category, self.default)

    def to_dict(self) -> dict:
        """The ``"drawing"`` section of config.json."""
        section = self.default.to_dict()
        if self.categories:
            section["categories"] = {name: settings.to_dict() for name, settings in self.categories.items()}
        if self.chosen_by:
            section["chosen_by"] = self.chosen_by
        if self.recognised:
            section["recognised"] = {name: round(float(share), 4) for name, share in self.recognised.items()}
        return section

    @classmethod
    def from_dict(cls, data, categories, where: str = SECTION) -> ModelDrawingSettings:
        """A model's settings from its (untrusted) config.json section; ValueError saying what is wrong.

        ``categories``: the model's categories (per-category settings and figures must name one of them).
        """
        if not isinstance(data, dict):
            raise ValueError(f"{where} must be an object (temperature, pen_temperature, guidance, tries, categories, "
                             f"chosen_by, recognised), got {_shown(data)}")
        default = DrawingSettings.from_dict({k: v for k, v in data.items() if k in SETTING_NAMES}, where)
        unknown = sorted(set(data) - set(SETTING_NAMES) - {"categories", "chosen_by", "recognised"})
        if unknown:
            raise ValueError(f"{where}: unknown key {_shown(unknown[0])}; the keys are {', '.join(SETTING_NAMES)}, "
                             "categories, chosen_by, recognised")
        per_category = _by_category(data.get("categories", {}), categories, f"{where}.categories")
        chosen_by = data.get("chosen_by", "")
        if not isinstance(chosen_by, str) or len(chosen_by) > MAX_CHOSEN_BY:
            raise ValueError(f"{where}.chosen_by must be text of at most {MAX_CHOSEN_BY} characters")
        recognised = _by_category(data.get("recognised", {}), categories, f"{where}.recognised")
        for name, share in recognised.items():
            if not (_is_number(share) and 0.0 <= share <= 1.0):
                raise ValueError(f"{where}.recognised: {name!r} must be a share from 0 to 1, got {_shown(share)}")
        return cls(default,
                   {name: DrawingSettings.from_dict(value, f"{where}.categories[{name!r}]", default)
                    for name, value in per_category.items()},
                   chosen_by, {name: float(share) for name, share in recognised.items()})

    def card_lines(self, model_categories) -> list[str]:
        """The model card's "Drawing settings" section (markdown lines)."""
        lines = ["## Drawing settings", ""]
        if not self.chosen:
            return lines + [f"The project's defaults: {DEFAULTS.describe()} (none chosen for this model yet: "
                            "`python benchmarks/choose_drawing_settings.py` chooses them on validation drawings "
                            "and writes them here and into config.json)."]
        lines += [f"What `sketchrnn sample` / `complete`, `sample.sample` / `sample.complete` and the demo's sliders "
                  f"start from when not told otherwise (config.json, \"{SECTION}\"). Chosen by: {self.chosen_by}.", "",
                  "| category | temperature | pen temperature | guidance | tries | recognised (validation) |",
                  "|---|---|---|---|---|---|"]
        for category in model_categories:
            settings = self.for_category(category)
            share = self.recognised.get(category)
            lines.append(f"| {category} | {settings.temperature:g} | {settings.pen_temperature:g} | "
                         f"{settings.guidance:g} | {settings.tries} | {'-' if share is None else f'{share:.1%}'} |")
        return lines


NO_SETTINGS = ModelDrawingSettings()  # a model that has chosen none: the project's defaults


def resolved(model, category: str | None = None, *, temperature=None, pen_temperature=None, guidance=None,
             tries=None) -> DrawingSettings:
    """The settings a drawing of ``category`` by ``model`` uses: those given, else the model's for the category.

    ``category`` None means the model's first category (what it then draws). The given values are not checked
    here (``sample`` checks them, with its messages).
    """
    drawn = model.categories[model.category_id(category)]
    base = getattr(model, "drawing", NO_SETTINGS).for_category(drawn)
    given = {"temperature": temperature, "pen_temperature": pen_temperature, "guidance": guidance, "tries": tries}
    return dataclasses.replace(base, **{name: value for name, value in given.items() if value is not None})


def read_ranking(path) -> dict[str, list[tuple[str, float | None]]]:
    """``{category: [(model name, share recognised on validation or None), ...]}``, best first, from the file
    ``benchmarks/choose_drawing_settings.py`` writes (see :data:`RANKING_FILE`); ValueError for a damaged one."""
    from sketchrnn import files

    data = files.read_json(path)
    categories = data.get("categories") if isinstance(data, dict) else None
    if not isinstance(categories, dict):
        raise ValueError(f"{path}: expected an object with \"categories\" (category -> models, best first)")
    ranking = {}
    for category, models in categories.items():
        if not isinstance(models, list) or not all(
                isinstance(m, dict) and isinstance(m.get("model"), str)
                and (m.get("recognised") is None or (_is_number(m["recognised"]) and 0 <= m["recognised"] <= 1))
                for m in models):
            raise ValueError(f"{path}: {_shown(category)} must list {{\"model\": name, \"recognised\": share or null}}")
        ranking[category] = [(m["model"], None if m.get("recognised") is None else float(m["recognised"])) for m in models]
    return ranking


def with_card_section(card: str, section_lines: list[str]) -> str:
    """A model card's text with its "## Drawing settings" section replaced by ``section_lines`` (appended if none)."""
    heading = section_lines[0]
    section = "\n".join(section_lines) + "\n"
    lines = card.splitlines(keepends=True)
    if heading + "\n" not in lines:
        return card.rstrip("\n") + "\n\n" + section
    start = lines.index(heading + "\n")
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
    after = "".join(lines[end:])
    return "".join(lines[:start]) + section + ("\n" + after if after else "")


def _by_category(data, categories, where: str) -> dict:
    """A JSON object keyed by the model's categories, checked."""
    if not isinstance(data, dict):
        raise ValueError(f"{where} must be an object keyed by category, got {_shown(data)}")
    unknown = [name for name in data if name not in categories]
    if unknown:
        raise ValueError(f"{where}: {_shown(unknown[0])} is not one of the model's categories "
                         f"({', '.join(categories)[:300]})")
    return data


def _is_number(value) -> bool:
    """A finite real number (not a bool; an int of any size)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    return isinstance(value, int) or math.isfinite(value)


def _shown(value) -> str:
    """``value`` for a message, cut to a readable length (an int of 400 digits stays readable)."""
    from sketchrnn.sample import shown

    return shown(value)
