import os

import pytest
from hypothesis import settings

# In CI the property tests are derandomized, so a run is reproducible; locally they explore
# new examples on every run.
settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI") == "true":
    settings.load_profile("ci")

from site_build import build_site


@pytest.fixture(scope="session")
def built_site(tmp_path_factory):
    """The project's site, built once with ``mkdocs build --strict``."""
    site = tmp_path_factory.mktemp("site")
    result = build_site(site)
    assert result.returncode == 0, f"mkdocs build --strict failed:\n{result.stdout}\n{result.stderr}"
    return site
