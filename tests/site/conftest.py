import pytest
from site_build import build_site, build_vault


@pytest.fixture(scope="session")
def built_site(tmp_path_factory):
    """The project's site, built once with ``mkdocs build --strict``."""
    site = tmp_path_factory.mktemp("site")
    result = build_site(site)
    assert result.returncode == 0, f"mkdocs build --strict failed:\n{result.stdout}\n{result.stderr}"
    return site


@pytest.fixture(scope="session")
def vault_site(tmp_path_factory):
    """The fixture vault (tests/site/vault: project pages plus a learner's garden/), built with the
    project's strict configuration: ``(site dir, build log)``."""
    tmp = tmp_path_factory.mktemp("vault")
    result = build_vault(tmp)
    assert result.returncode == 0, f"the vault's build failed:\n{result.stderr}"
    return tmp / "site", result.stderr


@pytest.fixture(scope="session")
def offline_site(tmp_path_factory):
    """The offline copy (``make offline``): the site as files that work from ``file://``."""
    site = tmp_path_factory.mktemp("offline")
    result = build_site(site, offline=True)
    assert result.returncode == 0, f"the offline build failed:\n{result.stderr}"
    return site
