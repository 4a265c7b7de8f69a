"""A check shared by the test files: every array argument of a function is named in its errors."""

from __future__ import annotations

import re

import numpy as np
import pytest


def assert_arguments_named(f, args: list, names: list, *, min_ndims: list | None = None, **kwargs) -> None:
    """For each argument with a name: a complex array raises ``TypeError`` starting with its name,
    and (if ``min_ndims`` gives it a least number of dims) one with fewer dims raises ``ValueError``
    starting with its name."""
    for i, name in enumerate(names):
        if name is None:
            continue
        bad = list(args)
        bad[i] = np.asarray(args[i]).astype(complex)
        with pytest.raises(TypeError, match=rf"^{re.escape(name)} must be"):
            f(*bad, **kwargs)
        if min_ndims and min_ndims[i]:
            bad[i] = np.asarray(args[i], dtype=float).reshape(-1)[: 1].reshape((1,) * (min_ndims[i] - 1))
            with pytest.raises(ValueError, match=rf"^{re.escape(name)} must have at least {min_ndims[i]} dimensions"):
                f(*bad, **kwargs)
