"""Burglary cocooning: every new dwelling burglary opens a cocoon (a zone at raised risk for a
few weeks) whose neighbours are visited within 48 hours; overlapping cocoons merge; visits are
tasks with an owner, a due time and an outcome; what missed its 48 hours is listed as overdue.

See ``docs/cocoons.md`` for the workflow and :mod:`guardian.operations.cocoons.service` for the
functions.
"""
