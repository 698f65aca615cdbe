"""Group names in sentences read as English plurals, whatever a learner calls the factor."""

import pytest

from lmmedu.teach.prose import _plural


@pytest.mark.parametrize("name, plural", [
    ("replicate", "replicates"), ("laboratory", "laboratories"), ("day", "days"), ("batch", "batches"),
    ("box", "boxes"), ("mouse", "mice"), ("Mouse", "Mice"), ("sheep", "sheep"), ("subjects", "subjects groups"), ("plate:sample", "plate:sample groups"), ("s1", "s1 groups"),
])
def test_plural(name, plural):
    assert _plural(name) == plural
