"""Themes configuration: the shipped file is valid, and every error names the fix."""

from __future__ import annotations

import pytest

from guardian.errors import InputError
from guardian.reports.board.themes import load_themes, parse_themes

GOOD = """
[strategy]
force = "Essex"
name = "Strategy"

[[question]]
key = "going_down"
text = "Is crime going down?"

[[theme]]
key = "burglary"
name = "Burglary"
lead = "Head of Crime"
categories = ["Burglary"]

[[theme.kpi]]
name = "Burglary"
measure = "count"
compare = "previous_quarter"
direction = "down"
target_pct = -5.0
"""


def test_shipped_essex_themes_are_fourteen_and_valid():
    cfg = load_themes()
    assert len(cfg.themes) == 14 and len({t.key for t in cfg.themes}) == 14
    assert cfg.force == "Essex" and len(cfg.questions) == 3
    names = " ".join(t.name.lower() for t in cfg.themes)
    for word in ("domestic abuse", "child", "hate", "knife", "night-time", "county lines",
                 "organised", "fraud", "burglary", "prevent"):
        assert word in names, word
    assert len(cfg.sha256) == 64


def test_a_good_file_parses():
    cfg = parse_themes(GOOD, source="t.toml")
    (t,) = cfg.themes
    assert t.categories == ("Burglary",) and t.kpis[0].target_pct == -5.0


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ('categories = ["Burglary"]', 'categories = ["Burglery"]',
         "category 'Burglery' is not a police.uk category (did you mean 'Burglary'?)"),
        ('categories = ["Burglary"]', 'catagories = ["Burglary"]',
         "unknown key 'catagories' (did you mean 'categories'?)"),
        ('direction = "down"', 'direction = "lower"', "direction = 'lower' is not one of down, up"),
        ('measure = "count"', 'measure = "counts"', "(did you mean 'count'?)"),
        ('target_pct = -5.0', 'target_pct = "five"', "write e.g. target_pct = -5.0"),
        ('target_pct = -5.0', '', "target_pct is missing; add target_pct = -5.0"),
        ('lead = "Head of Crime"', '', 'lead is missing; add lead = "..."'),
        ('key = "burglary"', 'key = "Burglary Theme"', "must be lower-case letters"),
        ('categories = ["Burglary"]', 'categories = "Burglary"',
         "categories must be a list; write categories = ['Burglary']"),
        ('categories = ["Burglary"]', 'categories = ["Burglary", "Burglary"]', "listed twice"),
        ('name = "Strategy"', 'name = Strategy', "is not valid TOML"),
        ('[strategy]\nforce = "Essex"\nname = "Strategy"', '', "[strategy] table is missing"),
    ],
)
def test_configuration_errors_name_the_fix(old, new, message):
    assert old in GOOD
    with pytest.raises(InputError) as exc:
        parse_themes(GOOD.replace(old, new, 1), source="t.toml")
    assert message in str(exc.value)
    assert str(exc.value).startswith("t.toml")


def test_theme_errors_name_the_theme_and_its_position():
    two = GOOD + '\n[[theme]]\nkey = "burglary"\nname = "Again"\nlead = "x"\ncategories = ["Robbery"]\n'
    with pytest.raises(InputError, match=r"theme #2 \('burglary'\): key 'burglary' is already "
                       r"used by theme #1; give each theme its own key"):
        parse_themes(two, source="t.toml")
    bare = GOOD + '\n[[theme]]\nkey = "hate"\nname = "Hate crime"\nlead = "x"\n'
    with pytest.raises(InputError, match="neither categories nor data_sources; add categories"):
        parse_themes(bare, source="t.toml")
    kpi_no_cats = GOOD.replace('categories = ["Burglary"]', 'data_sources = ["extract"]')
    with pytest.raises(InputError, match="has no categories to measure; add categories"):
        parse_themes(kpi_no_cats, source="t.toml")
    dup_q = GOOD.replace('[[theme]]', '[[question]]\nkey = "going_down"\ntext = "Again?"\n\n'
                         '[[theme]]', 1)
    with pytest.raises(InputError, match="key 'going_down' is used twice"):
        parse_themes(dup_q, source="t.toml")
    with pytest.raises(InputError, match="no themes; add at least one"):
        parse_themes(GOOD.split("[[theme]]")[0], source="t.toml")


def test_missing_themes_file_says_what_to_pass(tmp_path):
    with pytest.raises(InputError, match="does not exist; pass an existing file with --themes"):
        load_themes(tmp_path / "nope.toml")
    bad = tmp_path / "bad.toml"
    bad.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(InputError, match="save it as UTF-8"):
        load_themes(bad)
