import subprocess
import sys

import numpy as np

from attention import scaled_dot_product_attention
from attention.__main__ import main


def test_demo_prints_the_source_note_example(capsys):
    assert main(["demo"]) == 0
    printed = capsys.readouterr().out
    out = scaled_dot_product_attention([[1, 0, 1]], [[1, 0, 1], [0, 1, 0]], np.array([[0.5, 0.5], [0.1, 0.9]]))
    assert np.array2string(out, precision=4) in printed


def test_module_entry_point_runs():
    result = subprocess.run([sys.executable, "-m", "attention", "--help"], capture_output=True, text=True, check=True)
    assert "demo" in result.stdout
