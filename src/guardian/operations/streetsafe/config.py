"""Street Safe settings of a force (``$GUARDIAN_HOME/streetsafe.toml``) and the reason codes.

The reasons are the two groups police.uk's Street Safe shows: the place (environmental) and what
people did (behavioural).
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, fields
from pathlib import Path

from guardian.errors import InputError

ENVIRONMENTAL: dict[str, str] = {
    "no-cctv": "No CCTV",
    "badly-lit": "Badly lit",
    "isolated": "Empty buildings or an isolated place",
    "layout": "Poor layout or blind spots",
    "visibility": "Restricted visibility",
    "run-down": "Run-down, graffiti or fly-tipping",
    "drugs-alcohol": "Signs of drug or alcohol use",
    "place-other": "Something else about the place",
}
BEHAVIOURAL: dict[str, str] = {
    "harassed-one": "Verbal harassment by one stranger",
    "harassed-group": "Verbal harassment by a group",
    "followed": "Being followed",
    "harassment-other": "Other harassment",
}
REASONS: dict[str, str] = {**ENVIRONMENTAL, **BEHAVIOURAL}
NOT_REPORTED: dict[str, str] = {
    "not-a-crime": "I did not think it was a crime",
    "not-serious": "It did not seem serious enough",
    "no-action": "I did not think anything would be done",
    "not-sure-how": "I did not know how to report it",
    "other": "Another reason",
}
WHEN = ("now", "earlier")
DAYNIGHT = ("day", "night")
ACTION_KINDS: dict[str, str] = {
    "patrol": "Police patrols",
    "lighting-referral": "Lighting referred to the council",
    "street-week": "Street Week",
    "cctv-referral": "CCTV referred to the council",
    "other": "Other action",
}
REFUSALS = ("invalid", "honeypot", "too-fast", "bad-token", "outside-area", "rate-client",
            "rate-global", "comment-off")
"""Reasons a submission is refused; each is counted per day in ``streetsafe_refusals``
(``folded`` and ``replayed`` are counted there too, though both are acknowledged)."""


@dataclass(frozen=True)
class StreetSafeConfig:
    """A force's Street Safe settings.

    Attributes
    ----------
    dataset : str or None
        The dataset (force) whose area the page serves; default the dataset with most places.
    min_count : int
        Minimum reports in a cell (and in any other published figure) before it is shown to
        anyone but the store: the k of k-anonymity (default 5).
    cell_m : int
        Side of the square aggregation cells, metres (default 250).
    area_cell_m : int
        Side of the cells the force area is built from, metres (default 1000).
    comment : bool
        Accept a short comment (default False: no free text is stored).
    per_client_per_hour, global_per_minute : int
        Rate limits: per client (keyed hash of the address) and per server process.
    fold_minutes : float
        A second report from one client in the same cell with the same reasons within this many
        minutes is folded into the first (acknowledged, stored once, counted as folded).
    min_seconds, token_hours : float
        The time-to-submit check: the page's form token must be at least ``min_seconds`` and at
        most ``token_hours`` old.
    trust_forwarded : bool
        Take the client address from ``X-Forwarded-For`` (only behind a proxy that sets it).
    """

    dataset: str | None = None
    min_count: int = 5
    cell_m: int = 250
    area_cell_m: int = 1000
    comment: bool = False
    per_client_per_hour: int = 10
    global_per_minute: int = 6000
    fold_minutes: float = 10.0
    min_seconds: float = 3.0
    token_hours: float = 6.0
    trust_forwarded: bool = False

    def __post_init__(self) -> None:
        if self.min_count < 2:
            raise InputError(f"streetsafe min_count must be at least 2, got {self.min_count}")
        if not 50 <= self.cell_m <= 5000 or not 250 <= self.area_cell_m <= 10000:
            raise InputError("streetsafe cell_m must be 50..5000 m and area_cell_m 250..10000 m")
        if self.per_client_per_hour < 1 or self.global_per_minute < 1:
            raise InputError("streetsafe rate limits must be at least 1")


def load_config(home: Path) -> StreetSafeConfig:
    """The settings in ``home/streetsafe.toml`` (``[streetsafe]`` table), defaults otherwise."""
    path = Path(home) / "streetsafe.toml"
    if not path.exists():
        return StreetSafeConfig()
    try:
        data = tomllib.loads(path.read_text()).get("streetsafe", {})
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"{path}: {exc}") from exc
    known = {f.name for f in fields(StreetSafeConfig)}
    unknown = set(data) - known
    if unknown:
        raise InputError(f"{path}: unknown settings {sorted(unknown)}; known: {sorted(known)}")
    return StreetSafeConfig(**data)
