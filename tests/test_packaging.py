"""What a user who installs the package relies on: its license, its one version, its changelog."""

import tomllib
from pathlib import Path

import attention

ROOT = Path(__file__).resolve().parents[1]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]


def test_the_license_file_is_the_license_the_metadata_names():
    assert PROJECT["license"] == "MIT" and PROJECT["license-files"] == ["LICENSE"]
    text = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert text.startswith("MIT License") and "Permission is hereby granted, free of charge" in text


def test_one_version_from_pyproject():
    assert attention.__version__ == PROJECT["version"]


def test_metadata_a_user_sees():
    assert PROJECT["authors"] and PROJECT["classifiers"]
    assert any(c.startswith("Natural Language :: Chinese") for c in PROJECT["classifiers"])


def test_the_changelog_has_a_section_for_what_is_not_released_yet():
    text = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    assert "## Unreleased" in text and f"{PROJECT['version']}" in text
