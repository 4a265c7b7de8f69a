"""The HTML of the notes' interactive widgets (drawn by ``docs/javascripts/widgets.js``).

Each note's experiment module builds its widget's state (inputs from the package, labels in the
page's language) when the site is built, so a widget cannot drift from the note around it; this
module only wraps a state into the element the script looks for.
"""

from __future__ import annotations

import html
import json
from typing import Any

import numpy as np


def embed(name: str, state: dict[str, Any], caption: str) -> str:
    """Embed one widget in a page.

    One widget: a ``<div data-widget=name>`` holding ``caption`` (what to try) and ``state``
    as JSON. Arrays become nested lists of floats; NaN and inf are not allowed in a state.
    """
    data = json.dumps(_plain(state), ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    data = data.replace("</", "<\\/")  # a "</script>" inside a string must not end the script element
    return (f'<div class="attention-widget" data-widget="{html.escape(name)}">'
            f'<p class="widget-caption">{html.escape(caption)}</p>'
            f'<script type="application/json">{data}</script></div>')


def _plain(x: object) -> object:
    """``x`` with numpy arrays and scalars turned into lists and Python numbers."""
    if isinstance(x, dict):
        return {k: _plain(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_plain(v) for v in x]
    if isinstance(x, np.ndarray):
        return x.tolist()
    if isinstance(x, np.generic):
        return x.item()
    return x
