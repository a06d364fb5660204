"""The CLI's command groups are registered once per process, however often tests ask."""

from __future__ import annotations

from guardian import cli


def test_register_twice_adds_each_group_once():
    cli._register()
    before = [g.name for g in cli.app.registered_groups]
    cli._register()
    cli._register()
    names = [g.name for g in cli.app.registered_groups]
    assert names == before
    assert len(names) == len(set(names)) and {"cocoons", "patrols", "streetsafe"} <= set(names)
