import pytest
from site_build import build_site


@pytest.fixture(scope="session")
def built_site(tmp_path_factory):
    """The project's site, built once with ``mkdocs build --strict``."""
    site = tmp_path_factory.mktemp("site")
    result = build_site(site)
    assert result.returncode == 0, f"mkdocs build --strict failed:\n{result.stdout}\n{result.stderr}"
    return site
