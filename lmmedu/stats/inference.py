"""Old home of :func:`t_table`; kept only until ``interpret.py`` imports it from :mod:`.satterthwaite`."""

from .satterthwaite import t_table

__all__ = ["t_table"]
