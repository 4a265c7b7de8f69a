"""tools/mutate.py covers every public module, and tools/mutants.txt explains each survivor it lists."""

import re

import mutate  # tools/mutate.py, on the path by pyproject's pytest `pythonpath`

CATEGORIES = ("equivalent", "precision", "performance", "unreachable")


def test_every_public_module_is_mutated():
    public = {p.stem for p in mutate.PACKAGE.glob("*.py") if not p.stem.startswith("_") and p.stem != "cli"}
    assert set(mutate.library_modules()) == public  # each has its own tests/test_<module>.py
    for internal, users in mutate.INTERNALS.items():
        assert (mutate.PACKAGE / f"{internal}.py").exists(), internal
        # the tests of the public functions built on it (a test file that exists)
        assert all((mutate.ROOT / "tests" / f"test_{user}.py").exists() for user in users), internal


def test_every_known_survivor_names_a_mutant_and_a_reason():
    known = mutate.known_survivors()
    assert known
    modules = {m.replace("/", ".") for m in [*mutate.library_modules(), *mutate.INTERNALS]}
    for name, reason in known.items():
        match = re.fullmatch(r"attention\.([\w.]+)\.x.*__mutmut_\d+", name)
        assert match and match.group(1) in modules, name
        category, _, why = reason.partition(":")
        # a reason of its own, or "as mutmut_19": the same reason as a mutant above
        assert category.split()[0] in CATEGORIES and len(why.split()) >= 2, (name, reason)
