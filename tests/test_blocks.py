import subprocess
import sys

import numpy as np
import pytest

from blocks import FAMILIES, get_family


def test_inverted_bottleneck_shapes_follow_the_paper():
    family = get_family("inverted_bottleneck")
    specs = family.param_specs(40)
    assert {k: v.shape for k, v in specs.items()} == {
        "expand": (1, 1, 40, 240),
        "depthwise": (3, 3, 240, 1),
        "project": (1, 1, 240, 40),
    }
    assert family.block_size(40) == 40 * 240 * 2 + 9 * 240
    assert family.norm_sites(40) == {"expand": 240, "depthwise": 240, "project": 40}


def test_basic_residual_shapes():
    family = get_family("basic_residual")
    assert family.block_size(8) == 2 * 9 * 8 * 8


@pytest.mark.parametrize("name", sorted(FAMILIES))
def test_branch_keeps_the_shape(name):
    family = get_family(name)
    rng = np.random.default_rng(0)
    params = {
        k: rng.normal(size=v.shape).astype("float32") for k, v in family.param_specs(8).items()
    }
    x = rng.normal(size=(2, 5, 5, 8)).astype("float32")
    out = family.apply(x, params, lambda site, h: h)
    assert tuple(out.shape) == x.shape


def test_unknown_family_lists_known_ones():
    with pytest.raises(LookupError, match="unknown block family 'resnext'; known families: basic"):
        get_family("resnext")


@pytest.mark.parametrize("package", ["blocks", "compose", "tasks"])
def test_each_package_imports_first_in_a_fresh_interpreter(package):
    """``blocks`` needs ``compose.errors`` and ``compose`` needs ``blocks``:
    importing ``blocks`` first once failed on a partially initialised module."""
    result = subprocess.run(
        [sys.executable, "-c", f"import {package}"], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr[-2000:]
