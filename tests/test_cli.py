"""The command line: ``python -m lmmedu compare|fit DATA.csv FORMULA``.

A few runs go through a real subprocess (as a learner would type them); the
many bad-input cases call ``main(argv)`` in-process, which is the same code.
"""

import subprocess
import sys
from pathlib import Path

import pytest

import lmmedu
from lmmedu.__main__ import main

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "data" / "replicates_within.csv"
FORMULA = "log(length) ~ treatment*gene + (1|replicate)"


def run(*args):
    return subprocess.run([sys.executable, "-m", "lmmedu", *args], capture_output=True, text=True, cwd=ROOT,
                          timeout=120)


@pytest.fixture(scope="module")
def compare_run():
    return run("compare", str(DATA), FORMULA)


def test_compare_prints_table_and_parts(compare_run):
    assert compare_run.returncode == 0, compare_run.stderr
    out = compare_run.stdout
    for piece in ["estimate_lm", "se_lmm", "se_ratio", "varies_replicate", "treatment[T.drug]:gene[T.C]",
                  "Variance components", "Intraclass correlation", "Design effect", "In short:"]:
        assert piece in out
    assert compare_run.stderr == ""


def test_compare_numbers_are_those_of_lmmedu_compare(compare_run):
    # pandas reads the CSV with string columns: the CLI must give the same fit as the loader's categoricals.
    cmp = lmmedu.compare(FORMULA, lmmedu.load_replicates("within"))
    lines = {}
    for ln in compare_run.stdout.splitlines():
        if ln.strip():
            lines.setdefault(ln.split()[0], ln.split())  # the table comes first
    for term, row in cmp.table.iterrows():
        fields = lines[term]
        assert fields[1] == f"{row['estimate_lm']:.4g}"
        assert fields[5] == f"{row['estimate_lmm']:.4g}"
        assert fields[6] == f"{row['se_lmm']:.3g}"
        assert fields[-1] == row["varies_replicate"]
    assert cmp.table.loc["Intercept", "reason"] in compare_run.stdout


def test_fit_prints_summary_and_ml_switch():
    reml = run("fit", str(DATA), FORMULA)
    assert reml.returncode == 0, reml.stderr
    assert "Linear mixed model fit by REML" in reml.stdout
    assert "treatment[T.drug]" in reml.stdout
    ml = run("fit", str(DATA), FORMULA, "--ml")
    assert ml.returncode == 0, ml.stderr
    assert "maximum likelihood" in ml.stdout and "logLik" in ml.stdout


def test_help_lists_commands():
    res = run("--help")
    assert res.returncode == 0
    assert "compare" in res.stdout and "fit" in res.stdout


def test_bad_input_in_a_subprocess_is_one_line_exit_2(tmp_path):
    res = run("compare", str(tmp_path / "missing.csv"), FORMULA)
    assert res.returncode == 2
    assert res.stdout == ""
    assert res.stderr.count("\n") == 1 and res.stderr.startswith("error: ")
    assert "missing.csv" in res.stderr and "Traceback" not in res.stderr


@pytest.mark.parametrize("args, needle", [
    (["compare", str(DATA), "log(length) ~ treatment + (1|replicat)"], "replicat"),
    (["compare", str(DATA), "log(length) ~ treatmnt + (1|replicate)"], "treatmnt"),
    (["compare", str(DATA), "log(length) ~ treatment + (1|replicate"], "unmatched"),
    (["compare", str(DATA), "log(length) ~ treatment"], "random term"),
    (["fit", str(DATA), "log(length) ~ ~ treatment + (1|replicate)"], "~"),
    (["fit", str(DATA)], "FORMULA"),
    (["frobnicate"], "frobnicate"),
    ([], "command"),
])
def test_bad_input_messages(args, needle, capsys):
    assert main(args) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("error: ") and captured.err.count("\n") == 1
    assert needle in captured.err


def test_unreadable_files(tmp_path, capsys):
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    header_only = tmp_path / "header.csv"
    header_only.write_text("length,treatment,replicate\n")
    for path, needle in [(empty, "empty"), (header_only, "no data rows"), (tmp_path, "directory")]:
        assert main(["fit", str(path), FORMULA]) == 2
        err = capsys.readouterr().err
        assert err.startswith("error: ") and needle in err and err.count("\n") == 1


def test_non_positive_values_for_log(tmp_path, capsys):
    bad = tmp_path / "bad.csv"
    bad.write_text(DATA.read_text().replace("\nR1,A,control,68.3715\n", "\nR1,A,control,-1\n", 1))
    assert main(["compare", str(bad), FORMULA]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "length" in err


def test_fit_without_random_term_gives_lm(capsys):
    assert main(["fit", str(DATA), "log(length) ~ treatment*gene"]) == 0
    out = capsys.readouterr().out
    assert "Ordinary least squares" in out and "no random term" in out


def test_dropped_rows_are_reported_as_one_warning_line(tmp_path, capsys):
    holes = tmp_path / "holes.csv"
    holes.write_text(DATA.read_text().replace("\nR1,A,control,68.3715\n", "\nR1,A,control,\n", 1))
    assert main(["fit", str(holes), FORMULA]) == 0
    captured = capsys.readouterr()
    assert "Number of obs: 22499" in captured.out
    lines = captured.err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("warning: ")


def test_a_typo_in_an_offset_column_gets_the_numeric_column_sentence(tmp_path, capsys):
    """offset() columns are checked as the other model columns: one typo must not turn them into text."""
    rows = ["y,x,o,label,g"] + [f"{i * 1.5},{i % 4},{i / 10},a,g{i % 3}" for i in range(12)]
    rows[5] = "7.5,1,<0.1,a,g1"
    path = tmp_path / "offset.csv"
    path.write_text("\n".join(rows) + "\n")
    for formula in ("y ~ x + offset(o)", "y ~ x + offset(log(o + 1)) + (1|g)"):
        assert main(["fit", str(path), formula]) == 2
        err = capsys.readouterr().err
        assert err == ("error: column 'o' holds numbers but line 6 has '<0.1', so it would be read as text; correct "
                       "the entry (a plain number, '.' as decimal point, no spaces or '<') or leave it empty for a "
                       "missing value\n")
    # a column of text in an offset is refused, not read as a factor (one level would be an offset of 1)
    assert main(["fit", str(path), "y ~ x + offset(label)"]) == 2
    err = capsys.readouterr().err
    assert err == ("error: The offset 'offset(label)' could not be computed: the column 'label' is not numeric, and an "
                   "offset needs numbers (convert text first, e.g. with pd.to_numeric).\n")
