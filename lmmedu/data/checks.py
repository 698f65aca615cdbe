"""Argument checks of the simulators, each raising one ValueError sentence that names the argument.

Public so that studies and widgets check their settings with the same sentences as the
simulators they feed.

Examples
--------
>>> count("n_replicates", 4, 2)
4
>>> sd("replicate_sd", -1)
Traceback (most recent call last):
...
ValueError: replicate_sd must be a finite number >= 0 (a standard deviation), got -1.
"""

from __future__ import annotations

import math
import numbers
from typing import Any, Mapping, Sequence

import numpy as np

__all__ = ["is_real", "finite", "real", "sd", "count", "names", "per_gene", "rngs", "check_memory", "MAX_BYTES"]


def is_real(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def finite(name: str, value: Any) -> float:
    if not is_real(value) or not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}.")
    return float(value)


def sd(name: str, value: Any) -> float:
    if not is_real(value) or not math.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be a finite number >= 0 (a standard deviation), got {value!r}.")
    return float(value)


def count(name: str, value: Any, minimum: int) -> int:
    if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}.")
    return int(value)


def names(name: str, values: Any, minimum: int) -> tuple[str, ...]:
    if isinstance(values, str) or not isinstance(values, Sequence):
        raise ValueError(f"{name} must be a list or tuple of names, got {values!r}.")
    out = tuple(values)
    if len(out) < minimum:
        raise ValueError(f"{name} must hold at least {minimum} name(s), got {len(out)}.")
    if not all(isinstance(v, str) and v for v in out):
        raise ValueError(f"{name} must hold non-empty strings only, got {values!r}.")
    if len(set(out)) != len(out):
        raise ValueError(f"{name} must not repeat a name, got {values!r}.")
    return out


def per_gene(name: str, values: Any, genes: tuple[str, ...], default: Mapping[str, float],
              allow_scalar: bool) -> dict[str, float]:
    if values is None:
        # Genes beyond the defaults get no effect, so any gene list works out of the box.
        return {g: float(default.get(g, 0.0)) for g in genes}
    if allow_scalar and is_real(values):
        v = finite(name, values)
        return {g: v for g in genes}
    if not isinstance(values, Mapping):
        kinds = "a number or a dict" if allow_scalar else "a dict"
        raise ValueError(f"{name} must be {kinds} keyed by gene, got {values!r}.")
    if set(values) != set(genes):
        raise ValueError(
            f"{name} must have exactly one entry per gene {list(genes)}, got keys {list(values)}."
        )
    return {g: finite(f"{name}[{g!r}]", values[g]) for g in genes}


def rngs(seed: Any, n: int) -> list[np.random.Generator]:
    try:
        return np.random.default_rng(seed).spawn(n)
    except (TypeError, ValueError) as exc:
        raise ValueError(
            f"seed must be a non-negative integer, None or a numpy Generator, got {seed!r}."
        ) from exc


#: Largest data set a simulator builds; a slider or a typo (1e9 probesets) must not
#: freeze a laptop or a notebook server by trying to allocate tens of GiB.
MAX_BYTES = 4 * 2**30


def check_memory(func: str, n_rows: int, bytes_per_row: int, advice: str) -> None:
    need = n_rows * bytes_per_row
    if need > MAX_BYTES:
        raise ValueError(
            f"{func} would build {n_rows:,} rows, needing about {need / 2**30:,.0f} GiB of memory (limit "
            f"{MAX_BYTES / 2**30:.0f} GiB); {advice}."
        )


def real(name: str, value: Any, low: float | None = None, high: float | None = None, low_open: bool = False,
         high_open: bool = False) -> float:
    """A finite number, optionally bounded (open or closed at each end), as a float."""
    if (not isinstance(value, (int, float, np.integer, np.floating)) or isinstance(value, bool)
            or not math.isfinite(value)):
        raise ValueError(f"{name} must be a finite number, got {value!r}.")
    value = float(value)
    if low is not None and (value < low or (low_open and value == low)):
        raise ValueError(f"{name} must be {'>' if low_open else '>='} {low:g}, got {value:g}.")
    if high is not None and (value > high or (high_open and value == high)):
        raise ValueError(f"{name} must be {'<' if high_open else '<='} {high:g}, got {value:g}.")
    return value
