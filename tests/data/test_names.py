"""A typed name: the exact one wins over prefixes; the caller judges none or several."""

from guardian.data.names import matching_names

NAMES = ["Essex Police", "Essex Police Extract", "Kent Police"]


def test_exact_name_wins_over_longer_names_it_prefixes():
    assert matching_names(" essex police ", NAMES) == ["Essex Police"]


def test_prefix_matches_every_name_it_starts():
    assert matching_names("ESSEX", NAMES) == ["Essex Police", "Essex Police Extract"]
    assert matching_names("kent", NAMES) == ["Kent Police"]
    assert matching_names("gwent", NAMES) == []
