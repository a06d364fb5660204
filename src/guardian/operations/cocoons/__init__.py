"""Burglary cocooning: every new dwelling burglary opens a cocoon (a zone at raised risk for a
few weeks) whose victim and nearest neighbours are visited within 48 hours; overlapping cocoons
merge; visits are tasks with an owner, a due time, an outcome and a reason; the rest of the zone
is covered by the zone itself (leaflets, patrol); what missed its 48 hours is listed as overdue.

See ``docs/cocoons.md`` for the workflow and :mod:`guardian.operations.cocoons.service` for the
functions (split by job into ``times``, ``validation``, ``planning`` and ``queries``; every
public name is importable from ``service``).
"""
