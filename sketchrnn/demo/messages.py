"""What the page tells a person: refused requests (one log line each, never a traceback) and names from a model's
files made safe for the Markdown status line."""

from __future__ import annotations

import html
import logging
import re

import gradio as gr

logger = logging.getLogger(__name__)


def refusal(message: str) -> gr.Error:
    """The gr.Error for a refused request: one line in the server's log (not a traceback), and the message shown
    as text (Gradio renders an error's message as HTML; a name from an imported model may hold markup)."""
    logger.warning("refused a request: %s", " ".join(message.split())[:300])
    return gr.Error(html.escape(message, quote=False), print_exception=False)


def markdown_text(text) -> str:
    """Untrusted text (a category or model name from a model's files) for a Markdown status line: shown as
    written, never as markup (Markdown's inline characters backslash-escaped, then HTML's, as the endings' captions)."""
    return html.escape(re.sub(r"([\\`*_\[\]~|!])", r"\\\1", str(text)), quote=False)
