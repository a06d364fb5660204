"""Roles and what each may do. One table: every permission check in the app reads it."""

from __future__ import annotations

ROLES: tuple[str, ...] = ("analyst", "supervisor", "officer", "volunteer-coordinator", "partner",
                          "admin")

#: Permission -> what it allows.
PERMISSIONS: dict[str, str] = {
    "tasks.own": "see and record one's own tasks (the officer's phone)",
    "dashboard.view": "see a district's dashboard (aggregated for partners)",
    "tasks.view": "see every task of a district, with exact places",
    "tasks.assign": "assign tasks to officers or teams",
    "location.exact": "receive exact victim locations and addresses",
    "users.manage": "add, disable and change the role of users",
    "audit.view": "read and export the audit log",
}

ROLE_PERMISSIONS: dict[str, frozenset[str]] = {
    "analyst": frozenset({"dashboard.view", "tasks.view", "location.exact"}),
    "supervisor": frozenset({"dashboard.view", "tasks.view", "tasks.assign", "tasks.own",
                             "location.exact"}),
    "officer": frozenset({"tasks.own", "location.exact"}),
    "volunteer-coordinator": frozenset({"dashboard.view"}),
    "partner": frozenset({"dashboard.view"}),
    "admin": frozenset(PERMISSIONS),
}


def allowed(role: str, permission: str) -> bool:
    """True when ``role`` holds ``permission`` (unknown roles hold nothing)."""
    if permission not in PERMISSIONS:
        raise KeyError(f"unknown permission {permission!r}")
    return permission in ROLE_PERMISSIONS.get(role, frozenset())
