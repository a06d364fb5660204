"""Roles and what each may do. One table: every permission check in the app reads it."""

from __future__ import annotations

ROLES: tuple[str, ...] = ("analyst", "supervisor", "officer", "volunteer-coordinator", "partner",
                          "volunteer", "reviewer", "admin")

#: Permission -> what it allows.
PERMISSIONS: dict[str, str] = {
    "tasks.own": "see and record one's own tasks (the officer's phone)",
    "dashboard.view": "see a district's dashboard (aggregated for partners)",
    "tasks.view": "see every task of a district, with exact places",
    "tasks.assign": "assign tasks to officers or teams",
    "location.exact": "receive exact victim locations and addresses",
    "users.manage": "add, disable and change the role of users",
    "audit.view": "read and export the audit log",
    "streetsafe.view": "see Street Safe cells, clusters and trends (aggregated, no single pin)",
    "streetsafe.act": "attach an action to a Street Safe cluster (\"you said, we did\")",
    "streetsafe.export": "export Street Safe figures for partners (aggregated only)",
    "volunteers.manage": "manage the volunteer registry, availability and the monthly plan",
    "volunteers.self": "see one's own volunteer record and shifts",
    "initiatives.manage": "create and update initiatives and their outcomes",
    "initiatives.view": "see initiatives, their resources and evaluations",
    "tagmatch.review": "review GPS-tag proximity hits (every view audited)",
    "board.edit": "write the analyst text of the board report",
}

ROLE_PERMISSIONS: dict[str, frozenset[str]] = {
    "analyst": frozenset({"dashboard.view", "tasks.view", "location.exact", "streetsafe.view",
                          "streetsafe.export", "initiatives.view", "board.edit"}),
    "supervisor": frozenset({"dashboard.view", "tasks.view", "tasks.assign", "tasks.own",
                             "location.exact", "streetsafe.view", "streetsafe.act",
                             "streetsafe.export", "initiatives.manage", "initiatives.view"}),
    "officer": frozenset({"tasks.own", "location.exact"}),
    "volunteer-coordinator": frozenset({"dashboard.view", "volunteers.manage",
                                        "initiatives.manage", "initiatives.view"}),
    "partner": frozenset({"dashboard.view", "streetsafe.export", "initiatives.view"}),
    # A volunteer sees their own record and shifts, nothing of anyone else's, and records
    # attendance at their shifts on the phone (their own tasks; no exact victim locations).
    "volunteer": frozenset({"volunteers.self", "tasks.own"}),
    # Tag proximity hits are intelligence for a named, authorised person to review.
    "reviewer": frozenset({"tagmatch.review"}),
    "admin": frozenset(PERMISSIONS),
}


def allowed(role: str, permission: str) -> bool:
    """True when ``role`` holds ``permission`` (unknown roles hold nothing)."""
    if permission not in PERMISSIONS:
        raise KeyError(f"unknown permission {permission!r}")
    return permission in ROLE_PERMISSIONS.get(role, frozenset())
