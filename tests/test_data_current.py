"""The shipped CSV files must be exactly what their recipes produce, small, and loadable."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from lmmedu.data.datasets import (
    RECIPES,
    data_dir,
    load_dataset,
    load_expression_small,
    load_replicates,
    render_csv,
    simulate_dataset,
    stale_datasets,
)
from lmmedu.data.simulate import truth

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "make_data.py"
MAX_BYTES = 5_000_000


@pytest.fixture(scope="module")
def fresh():
    return {name: simulate_dataset(name) for name in RECIPES}


def test_committed_files_match_their_recipes():
    problems = stale_datasets()
    assert not problems, "out of date (run `python scripts/make_data.py`): " + "; ".join(
        f"{f}: {why}" for f, why in problems.items())


@pytest.mark.parametrize("name", list(RECIPES))
def test_file_text_is_exact_and_small(name, fresh):
    path = data_dir() / RECIPES[name].filename
    raw = path.read_bytes()
    assert len(raw) < MAX_BYTES
    assert b"\r" not in raw and raw.endswith(b"\n")
    assert raw.decode("utf-8") == render_csv(fresh[name])


@pytest.mark.parametrize("name", list(RECIPES))
def test_loaded_frame_equals_simulation(name, fresh):
    sim = fresh[name]
    df = load_dataset(name)
    assert list(df.columns) == list(sim.columns) and len(df) == len(sim)
    for col in sim.columns:
        if isinstance(sim[col].dtype, pd.CategoricalDtype):
            assert list(df[col].cat.categories) == list(sim[col].cat.categories), col
            np.testing.assert_array_equal(df[col].cat.codes, sim[col].cat.codes)
        elif pd.api.types.is_integer_dtype(sim[col]):
            np.testing.assert_array_equal(df[col], sim[col])
        else:
            # %.6g keeps 6 significant digits: relative error at most 5e-6.
            np.testing.assert_allclose(df[col], sim[col], rtol=5e-6, atol=0)
    t = truth(df)
    assert t.n_obs == len(df)


def test_loaders_and_reference_levels():
    w, b = load_replicates("within"), load_replicates("between")
    assert list(w["treatment"].cat.categories) == ["control", "drug"]
    assert list(w["gene"].cat.categories) == ["A", "B", "C"]
    assert truth(w).design == "within" and truth(b).design == "between"
    # Between design: one arm per replicate, alternating.
    arms = b.groupby("replicate", observed=True)["treatment"].agg(lambda x: sorted(set(x)))
    assert arms.tolist() == [["control"], ["drug"], ["control"], ["drug"]]
    e = load_expression_small(with_truth=False)
    assert "truth" not in e.attrs
    assert list(e["genotype"].cat.categories) == ["B6", "CSB"]
    assert e["sample"].nunique() == 23 and e["probeset"].nunique() == 400
    assert e["weeks"].dtype == np.int64
    with pytest.raises(ValueError, match="^design"):
        load_replicates("crossed")
    with pytest.raises(ValueError, match="^name"):
        load_dataset("nope")


def test_missing_folder_and_file_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="data folder"):
        load_replicates(directory=tmp_path / "absent")
    with pytest.raises(FileNotFoundError, match="make_data"):
        load_replicates(directory=tmp_path)


def test_readme_documents_every_file_and_column(fresh):
    text = (data_dir() / "README.md").read_text(encoding="utf-8")
    for name, r in RECIPES.items():
        assert r.filename in text
        assert str(r.kwargs["seed"]) in text
        for col in fresh[name].columns:
            assert f"`{col}`" in text, col


def test_script_check_names_the_stale_file(tmp_path):
    ok = subprocess.run([sys.executable, str(SCRIPT), "--check"], capture_output=True, text=True, cwd=ROOT)
    assert ok.returncode == 0, ok.stderr
    for r in RECIPES.values():
        shutil.copy(data_dir() / r.filename, tmp_path / r.filename)
    target = tmp_path / RECIPES["replicates_between"].filename
    lines = target.read_text(encoding="utf-8").split("\n")
    lines[5] = lines[5].rsplit(",", 1)[0] + ",1"  # alter one length
    target.write_text("\n".join(lines), encoding="utf-8")
    (tmp_path / RECIPES["expression_small"].filename).unlink()
    bad = subprocess.run([sys.executable, str(SCRIPT), "--check", "--out", str(tmp_path)],
                         capture_output=True, text=True, cwd=ROOT)
    assert bad.returncode == 1
    assert "replicates_between.csv: out of date (line 6" in bad.stderr
    assert "expression_small.csv: out of date (missing)" in bad.stderr
    assert "replicates_within.csv" not in bad.stderr
