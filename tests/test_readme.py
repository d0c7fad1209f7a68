"""The README is a short user's guide whose links, pictures and commands work.

README.md stays under 15 KB; the history it used to hold lives in docs/, and every markdown file there is
reachable from the README by following links. Every relative link or picture in README.md and docs/**/*.md
names a file that exists (and, with ``#anchor``, a heading in it), and every ``sketchrnn`` / ``./run.sh``
command in the shell blocks of the README and the guides in docs/ parses with the real command-line parser.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from urllib.parse import unquote

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
README_MAX_BYTES = 15_000
# docs/readme_sections/: sections written for the README, waiting to be placed in it (their links are the README's)
MARKDOWN_FILES = [README, *sorted(path for path in (ROOT / "docs").rglob("*.md") if "readme_sections" not in path.parts)]

FENCE = re.compile(r"^(```|~~~).*?^\1[ \t]*$", re.MULTILINE | re.DOTALL)
CODE_SPAN = re.compile(r"(`+)(?!`).+?(?<!`)\1(?!`)", re.DOTALL)
MARKDOWN_LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
HTML_LINK = re.compile(r"<(?:img|a|source)\b[^>]*?\b(?:src|href)=\"([^\"]+)\"", re.IGNORECASE)
HEADING = re.compile(r"^#{1,6}[ \t]+(.+?)[ \t]*#*[ \t]*$", re.MULTILINE)


def prose(text: str) -> str:
    """The markdown with fenced code blocks and code spans blanked out (links there are not links)."""
    return CODE_SPAN.sub("", FENCE.sub("", text))


def link_targets(path: Path) -> list[str]:
    """Every link and picture target in a markdown file, in order."""
    text = prose(path.read_text(encoding="utf-8"))
    return [match.group(1) for pattern in (MARKDOWN_LINK, HTML_LINK) for match in pattern.finditer(text)]


def is_external(target: str) -> bool:
    """A URL (http, https, mailto, ...) rather than a path in the repository."""
    return re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*:", target) is not None


def anchor(heading: str) -> str:
    """GitHub's id for a heading: lower case, punctuation dropped, spaces as hyphens."""
    text = re.sub(r"<[^>]+>|[*_`]", "", heading).strip().lower()
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(path: Path) -> set[str]:
    """The ids of every heading of a markdown file (repeats get -1, -2, ... as on GitHub)."""
    seen: dict[str, int] = {}
    ids = set()
    for heading in HEADING.findall(FENCE.sub("", path.read_text(encoding="utf-8"))):
        base = anchor(heading)
        ids.add(base if base not in seen else f"{base}-{seen[base]}")
        seen[base] = seen.get(base, 0) + 1
    return ids


def resolve(source: Path, target: str) -> tuple[Path, str]:
    """The file a relative link points to (the source itself for '#anchor') and its anchor ('' if none)."""
    path_part, _, fragment = target.partition("#")
    path = (source.parent / unquote(path_part)).resolve() if path_part else source
    return path, fragment


def test_the_readme_is_a_short_guide():
    size = len(README.read_bytes())
    assert size <= README_MAX_BYTES, (
        f"README.md is {size:,} bytes, over {README_MAX_BYTES:,}: move history and tables to docs/ and link them")


@pytest.mark.parametrize("source", MARKDOWN_FILES, ids=lambda path: str(path.relative_to(ROOT)))
def test_every_relative_link_names_an_existing_file_and_heading(source):
    broken = []
    for target in link_targets(source):
        if is_external(target):
            continue
        path, fragment = resolve(source, target)
        if not path.exists():
            broken.append(f"{target}: no such file")
        elif fragment and path.suffix == ".md" and fragment not in anchors(path):
            broken.append(f"{target}: {path.name} has no heading with the id #{fragment}")
    assert not broken, f"{source.relative_to(ROOT)}: " + "; ".join(broken)


def test_every_doc_is_reachable_from_the_readme():
    reached, waiting = {README.resolve()}, [README.resolve()]
    while waiting:
        source = waiting.pop()
        for target in link_targets(source):
            if is_external(target):
                continue
            path, _ = resolve(source, target)
            if path.suffix == ".md" and path.is_file() and path not in reached:
                reached.add(path)
                waiting.append(path)
    unreached = [str(path.relative_to(ROOT)) for path in MARKDOWN_FILES if path.resolve() not in reached]
    assert not unreached, f"not linked from README.md (directly or through docs): {unreached}"


def test_the_checker_sees_broken_links_and_anchors(tmp_path):
    page = tmp_path / "page.md"
    (tmp_path / "there.md").write_text("# A heading, with: punctuation\n", encoding="utf-8")
    page.write_text("[ok](there.md#a-heading-with-punctuation) [gone](missing.md) ![pic](there.md#nope)\n"
                    "`[code](not-a-link.md)`\n```\n[fenced](nor-this.md)\n```\n<img src=\"pic.png\">\n"
                    "[web](https://example.com/x.md)\n", encoding="utf-8")
    targets = link_targets(page)
    assert targets == ["there.md#a-heading-with-punctuation", "missing.md", "there.md#nope",
                       "https://example.com/x.md", "pic.png"]
    assert not resolve(page, "missing.md")[0].exists()
    assert "a-heading-with-punctuation" in anchors(tmp_path / "there.md")
    assert "nope" not in anchors(tmp_path / "there.md")


RUN_SH_VERBS = ("demo", "test")  # run.sh's own verbs; every other word is passed to `sketchrnn`


# the guides whose shell blocks a user copies from (records of past runs may use shell variables)
COMMAND_PAGES = [README, *(ROOT / "docs" / name for name in ("command_line.md", "magenta.md", "scaling.md", "quality/vae.md"))]


def shell_commands(page: Path) -> list[list[str]]:
    """The words of each `sketchrnn ...` / `./run.sh ...` command in a page's shell code blocks."""
    commands = []
    for block in re.findall(r"^```(?:bash|sh|shell)?\n(.*?)^```", page.read_text(encoding="utf-8"),
                            re.MULTILINE | re.DOTALL):
        for line in block.replace("\\\n", " ").splitlines():
            words = shlex.split(line, comments=True)
            if words and words[0] in ("sketchrnn", "./run.sh"):
                commands.append(words)
    return commands


def test_the_two_commands_come_first():
    first_block = re.search(r"^```(?:bash|sh|shell)?\n(.*?)^```", README.read_text(encoding="utf-8"),
                            re.MULTILINE | re.DOTALL).group(1)
    assert [words[:2] for words in map(shlex.split, first_block.splitlines()) if words] == [
        ["./run.sh", "demo"], ["./run.sh", "test"]]


CLI_COMMANDS = [words for page in COMMAND_PAGES for words in shell_commands(page)
                if words[1:2] and words[1] not in RUN_SH_VERBS]


def test_the_readme_shows_the_command_line():
    verbs = {words[1] for words in shell_commands(README)}
    assert {"sample", "complete", "train", "evaluate", "models", "calibrate-guess"} <= verbs, verbs


@pytest.mark.parametrize("words", CLI_COMMANDS, ids=shlex.join)
def test_every_readme_command_parses(words):
    from sketchrnn.cli import build_parser

    try:
        arguments = build_parser().parse_args(words[1:])
    except SystemExit as error:
        pytest.fail(f"`{shlex.join(words)}` does not parse (exit status {error.code}); see `sketchrnn {words[1]} --help`")
    # a model the command reads (not one it writes, as export's DEST) from data/models/ must be bundled
    read = [getattr(arguments, name, None) for name in ("model", "init_from")]
    missing = [path for path in read if isinstance(path, str) and path.startswith("data/models/")
               and not (ROOT / path / "config.json").is_file()]
    assert not missing, f"`{shlex.join(words)}` reads models that are not bundled: {missing}"
