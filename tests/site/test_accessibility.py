"""axe-core (WCAG 2.0/2.1, A and AA; pinned in package-lock.json) in Chromium, on pages of both languages in
the light and the dark scheme: no critical and no serious violation, no rule disabled, nothing excluded."""

from __future__ import annotations

import pytest
from browsing import each_view
from site_build import ROOT

pytestmark = pytest.mark.browser

AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
RUN = """() => axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']}})
    .then(r => r.violations.filter(v => v.impact === 'critical' || v.impact === 'serious')
    .map(v => ({id: v.id, impact: v.impact, nodes: v.nodes.slice(0, 3).map(n => n.target.join(' ') + ': ' +
         (n.failureSummary || '').split('\\n').slice(1, 2).join(''))})))"""


@pytest.mark.parametrize("path", ["notes/attention-mechanism/", "notes/long-sequences/", "en/"])
def test_axe_finds_no_critical_or_serious_violation(page, site_url, path):
    page.goto(f"{site_url}/{path}")
    page.wait_for_load_state("networkidle")
    page.add_script_tag(content=AXE.read_text(encoding="utf-8"))
    found = {}
    for width, scheme in each_view(page):
        if width == 1280:  # colours and names do not depend on the width; the reflow tests cover it
            found[scheme] = page.evaluate(RUN)
    assert found == {"light": [], "dark": []}, found
