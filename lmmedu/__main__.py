"""Command line: fit a formula to a CSV file, or compare the lm and the mixed model.

Usage::

    python -m lmmedu compare DATA.csv "log(length) ~ treatment*gene + (1|replicate)" [--ml]
    python -m lmmedu fit DATA.csv "log(length) ~ treatment*gene + (1|replicate)" [--ml] [--ddf kenward-roger]
    python -m lmmedu anova DATA.csv "log(length) ~ treatment*gene + (1|replicate)" [--type 3] [--ddf satterthwaite]
    python -m lmmedu --help

The same commands are installed as the ``lmmedu`` console script.  Problems
with the input (a missing file, a formula naming a missing column, ...) are
reported as one line ``error: <message>`` on stderr with exit status 2.

The file is read by :func:`lmmedu.data.read.read_table`, as in the notebooks. The
delimiter is guessed from the header line (comma, semicolon -- then with decimal
commas where a column is written so --, tab, ``|`` or spaces).  A numeric column in which a
few entries are text (``<0.1``, ``n/a?``) is refused with its column name and file line,
rather than read as a factor with many levels.

Text columns of the CSV become factors with their levels in sorted order, so
the first level alphabetically is the reference (e.g. ``control`` before
``drug``).
"""

from __future__ import annotations

import argparse
import sys
import warnings

__all__ = ["main"]

_EXAMPLE = 'python -m lmmedu compare data/replicates_within.csv "log(length) ~ treatment*gene + (1|replicate)"'


class _InputError(Exception):
    """A problem with what the user gave us, reported without a traceback."""


class _Parser(argparse.ArgumentParser):
    # argparse prints usage plus a message; keep to the one-line error contract.
    def error(self, message):
        raise _InputError(f"{message} (see --help)")


def _build_parser():
    from . import __version__

    parser = _Parser(
        prog="lmmedu",
        description="Fit linear mixed models written in lme4 syntax to a CSV file, and compare them with the "
                    "ordinary linear model of the same formula.",
        epilog=f"Example: {_EXAMPLE}",
    )
    parser.add_argument("--version", action="version", version=f"lmmedu {__version__}")
    parser.add_argument("--debug", action="store_true", help="show Python tracebacks instead of one-line errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    def command(name, help, description):
        """A subcommand taking the data file, the formula and --ml, as every command does."""
        p = sub.add_parser(name, help=help, description=description)
        p.add_argument("data", metavar="DATA.csv", help="CSV file with a header row, one row per measurement")
        p.add_argument("formula", metavar="FORMULA",
                       help="lme4-style formula in quotes, e.g. \"log(length) ~ treatment*gene + (1|replicate)\"")
        p.add_argument("--ml", action="store_true",
                       help="fit the mixed model by maximum likelihood instead of REML")
        return p

    command("compare", help="lm and mixed model side by side, with why their SEs differ",
            description="Fit the lm (random terms dropped) and the mixed model, print both coefficient tables, the "
                        "variance components, ICC, design effect and a short interpretation.")
    p_fit = command("fit", help="fit one model and print its summary (like R's summary(lmer(...)))",
                    description="Fit the mixed model (or the lm if the formula has no random term) and print its "
                                "summary.")
    p_fit.add_argument("--ddf", default="satterthwaite", metavar="METHOD",
                       help="denominator df of the t tests: satterthwaite (default), kenward-roger or asymptotic (z)")
    p_anova = command("anova", help="F test of every term (like lmerTest's anova(fit), or anova(lm))",
                      description="Fit the mixed model (or the lm if the formula has no random term) and print the "
                                  "F test of each term: type 3 (default, as lmerTest), 2 or 1 (sequential).")
    p_anova.add_argument("--type", type=int, default=3, metavar="{1,2,3}",
                         help="type of the table: 3 (default), 2 or 1 (sequential)")
    p_anova.add_argument("--ddf", default="satterthwaite", metavar="METHOD",
                         help="denominator df: satterthwaite (default), kenward-roger or asymptotic (chi-square)")
    return parser


def _model_columns(data, formula):
    """The data columns a formula uses as numbers or factors (grouping factors are labels: "3b" is fine)."""
    from .stats.formula import formula_names, parse_formula

    parsed = parse_formula(formula)
    columns = set(map(str, data.columns))
    wanted = [parsed.response_var] + formula_names(parsed.fixed, columns)
    for code in parsed.offsets:
        wanted += formula_names(code, columns)
    for term in parsed.random:
        wanted += formula_names(term.expr, columns)
    return list(dict.fromkeys(wanted))


def _run(args, out):
    import pandas as pd

    from .stats.formula import parse_formula

    from .data.read import check_numeric_text, read_table

    if getattr(args, "ddf", None) is not None:
        from .stats.ddf import resolve

        resolve(args.ddf)  # a misspelt method fails before the file is read, also for an lm
    data = read_table(args.data)
    # A numeric column with one typo ("5 ", "<0.1") would silently become a factor with many levels.
    check_numeric_text(data, _model_columns(data, args.formula))
    data.attrs = {}
    reml = not args.ml
    if args.command == "compare":
        from .teach.comparison import compare

        if not parse_formula(args.formula).random:
            raise _InputError("compare needs a random term such as (1|replicate) in the formula; without one there "
                              "is no mixed model to set beside the lm (use 'fit' for an lm alone)")
        out.write(str(compare(args.formula, data, reml=reml).summary()) + "\n")
    else:
        from .stats.fit import fit, fit_lm

        if parse_formula(args.formula).random:
            model = fit(args.formula, data, reml=reml, ddf=args.ddf)
        else:
            out.write("The formula has no random term such as (1|replicate), so this is an ordinary linear "
                      "model.\n\n")
            model = fit_lm(args.formula, data)
        if args.command == "anova":
            from .stats.ftest import f_table

            table = f_table(model, type=args.type)
            with pd.option_context("display.width", 200, "display.max_columns", None):
                text = table.to_string(float_format=lambda v: f"{v:.5g}")
            out.write(text + "\n\n" + "\n".join(table.notes) + "\n")
        else:
            out.write(str(model.summary()) + "\n")


def _one_line(text):
    return " ".join(str(text).split())


def main(argv=None):
    """Run the command line; returns the exit status.

    Parameters
    ----------
    argv : list of str, optional
        Arguments without the program name; default ``sys.argv[1:]``.

    Returns
    -------
    int
        0 on success, 2 for bad input (with one ``error:`` line on stderr).

    Examples
    --------
    >>> main(["fit", "no-such-file.csv", "y ~ x + (1|g)"])  # doctest: +SKIP
    error: cannot read 'no-such-file.csv': no such file
    2
    """
    argv = sys.argv[1:] if argv is None else list(argv)
    debug = "--debug" in argv
    try:
        args = _build_parser().parse_args(argv)
        if args.command is None:
            raise _InputError(f"no command given; use 'compare', 'fit' or 'anova', e.g. {_EXAMPLE}")
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            _run(args, sys.stdout)
        # Warnings (rows dropped, rank deficiency) are part of the answer: one line each.
        for w in caught:
            if issubclass(w.category, UserWarning):
                print(f"warning: {_one_line(w.message)}", file=sys.stderr)
        return 0
    except SystemExit as exc:  # --help and --version
        return int(exc.code or 0)
    except (_InputError, ValueError, KeyError) as err:
        if debug:
            raise
        message = err.args[0] if isinstance(err, KeyError) and err.args else err
        print(f"error: {_one_line(message)}", file=sys.stderr)
        return 2
    except Exception as err:  # noqa: BLE001 - the command line never shows a traceback
        if debug:
            raise
        print(f"error: unexpected {type(err).__name__}: {_one_line(err)} (rerun with --debug for details)",
              file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
