"""The strategy's themes as configuration (TOML): reading, validating, and naming the fix.

A themes file has a ``[strategy]`` table, ``[[question]]`` entries (the board's questions, each
a heading of the executive summary) and ``[[theme]]`` entries (see the shipped
``themes_essex.toml`` for every key, with comments). Every error names the file, the theme and
the key, and says what to write instead.
"""

from __future__ import annotations

import difflib
import hashlib
import re
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from guardian.data.schema import CATEGORIES
from guardian.errors import InputError

DEFAULT_THEMES = "themes_essex.toml"
MEASURES = ("count", "per_1000", "harm")
COMPARES = ("same_quarter_last_year", "previous_quarter", "baseline_year")
DIRECTIONS = ("down", "up")
_KEY = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
_THEME_KEYS = {"key", "name", "lead", "categories", "data_sources", "initiatives", "kpi", "notes"}
_KPI_KEYS = {"name", "measure", "compare", "direction", "target_pct"}
_QUESTION_KEYS = {"key", "text"}
_STRATEGY_KEYS = {"force", "name", "version"}


@dataclass(frozen=True)
class Kpi:
    """A theme's measure with the way that is better and its target.

    Attributes
    ----------
    name : str
    measure : str
        ``count`` (offences in the quarter), ``per_1000`` (per 1,000 residents) or ``harm``.
    compare : str
        Reference period: ``same_quarter_last_year``, ``previous_quarter`` or ``baseline_year``
        (the same quarter of the report's baseline year).
    direction : str
        ``down`` (a fall is better) or ``up``.
    target_pct : float
        Target per cent change against the reference (``-5.0``: at least 5% down).
    """

    name: str
    measure: str
    compare: str
    direction: str
    target_pct: float

    def to_dict(self) -> dict:
        return {"name": self.name, "measure": self.measure, "compare": self.compare,
                "direction": self.direction, "target_pct": self.target_pct}


@dataclass(frozen=True)
class Theme:
    """One theme of the strategy (see the module docstring)."""

    key: str
    name: str
    lead: str
    categories: tuple[str, ...] = ()
    data_sources: tuple[str, ...] = ()
    initiatives: tuple[str, ...] = ()
    kpis: tuple[Kpi, ...] = ()
    notes: str = ""


@dataclass(frozen=True)
class Question:
    key: str
    text: str


@dataclass(frozen=True)
class ThemesConfig:
    """A validated themes file.

    Attributes
    ----------
    source : str
        File name (the shipped default is ``guardian:themes_essex.toml``).
    sha256 : str
        SHA-256 of the file's bytes (written into every trace that uses it).
    """

    source: str
    sha256: str
    force: str
    name: str
    version: str
    questions: tuple[Question, ...]
    themes: tuple[Theme, ...]
    raw: dict = field(default_factory=dict, repr=False, compare=False)

    def theme(self, key: str) -> Theme:
        for t in self.themes:
            if t.key == key:
                return t
        raise InputError(f"no theme {key!r} in {self.source}; themes: "
                         f"{', '.join(t.key for t in self.themes)}")

    def to_dict(self) -> dict:
        return {"source": self.source, "sha256": self.sha256, "force": self.force,
                "name": self.name, "version": self.version,
                "questions": [{"key": q.key, "text": q.text} for q in self.questions],
                "themes": [t.key for t in self.themes]}


def _suggest(value: str, options) -> str:
    close = difflib.get_close_matches(str(value), list(options), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _str(where: str, d: dict, key: str, *, required: bool = True) -> str:
    v = d.get(key)
    if v is None:
        if required:
            raise InputError(f"{where}: {key} is missing; add {key} = \"...\"")
        return ""
    if not isinstance(v, str) or not v.strip():
        raise InputError(f"{where}: {key} must be a non-empty text in quotes, got {v!r}; write "
                         f"{key} = \"...\"")
    return v.strip()


def _strings(where: str, d: dict, key: str) -> tuple[str, ...]:
    v = d.get(key, [])
    if isinstance(v, str):
        raise InputError(f"{where}: {key} must be a list; write {key} = [{v!r}]")
    if not isinstance(v, list) or not all(isinstance(x, str) and x.strip() for x in v):
        raise InputError(f"{where}: {key} must be a list of texts, e.g. {key} = [\"a\", \"b\"]; "
                         f"got {v!r}")
    return tuple(x.strip() for x in v)


def _unknown(where: str, d: dict, allowed: set[str]) -> None:
    for k in d:
        if k not in allowed:
            raise InputError(f"{where}: unknown key {k!r}{_suggest(k, allowed)}; the keys are "
                             f"{', '.join(sorted(allowed))}")


def _kpi(where: str, d: dict, theme: Theme) -> Kpi:
    if not isinstance(d, dict):
        raise InputError(f"{where}: a KPI must be a [[theme.kpi]] table")
    _unknown(where, d, _KPI_KEYS)
    name = _str(where, d, "name")
    choices = {"measure": MEASURES, "compare": COMPARES, "direction": DIRECTIONS}
    vals = {}
    for key, opts in choices.items():
        v = d.get(key)
        if v is None:
            raise InputError(f"{where}: {key} is missing; add {key} = \"{opts[0]}\" (one of "
                             f"{', '.join(opts)})")
        if v not in opts:
            raise InputError(f"{where}: {key} = {v!r} is not one of {', '.join(opts)}"
                             f"{_suggest(v, opts)}; write {key} = \"{opts[0]}\" or another of "
                             "them")
        vals[key] = v
    t = d.get("target_pct")
    if t is None:
        raise InputError(f"{where}: target_pct is missing; add target_pct = -5.0 (the per cent "
                         "change to reach against the reference)")
    if isinstance(t, bool) or not isinstance(t, int | float) or not -100 <= t <= 1000:
        raise InputError(f"{where}: target_pct must be a number of per cent between -100 and "
                         f"1000, got {t!r}; write e.g. target_pct = -5.0")
    if not theme.categories:
        raise InputError(f"{where}: theme {theme.key!r} has no categories to measure; add "
                         "categories = [...] to the theme or remove its KPIs")
    return Kpi(name=name, target_pct=float(t), **vals)


def parse_themes(text: str, *, source: str) -> ThemesConfig:
    """Validate a themes file's text into a :class:`ThemesConfig`.

    Raises
    ------
    InputError
        Naming the file, the theme (by key and position) and the key at fault, and the fix.
    """
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"{source} is not valid TOML ({exc}); fix the line named, e.g. quote "
                         "texts: name = \"Hate crime\"") from exc
    _unknown(source, raw, {"strategy", "question", "theme"})
    st = raw.get("strategy")
    if not isinstance(st, dict):
        raise InputError(f"{source}: the [strategy] table is missing; add [strategy] with "
                         "force = \"Essex\" and name = \"...\"")
    _unknown(f"{source} [strategy]", st, _STRATEGY_KEYS)
    force = _str(f"{source} [strategy]", st, "force")
    qs, seen_q = [], set()
    for i, q in enumerate(raw.get("question", []) or [], 1):
        where = f"{source} question #{i}"
        if not isinstance(q, dict):
            raise InputError(f"{where}: write each question as a [[question]] table")
        _unknown(where, q, _QUESTION_KEYS)
        key = _str(where, q, "key")
        if not _KEY.match(key):
            raise InputError(f"{where}: key {key!r} must be lower-case letters, digits and _ "
                             "starting with a letter, e.g. key = \"going_down\"")
        if key in seen_q:
            raise InputError(f"{where}: key {key!r} is used twice; give each question its own key")
        seen_q.add(key)
        qs.append(Question(key=key, text=_str(where, q, "text")))
    themes_raw = raw.get("theme")
    if not themes_raw or not isinstance(themes_raw, list):
        raise InputError(f"{source}: no themes; add at least one [[theme]] with key, name, lead")
    themes, seen = [], {}
    for i, d in enumerate(themes_raw, 1):
        where = f"{source} theme #{i}"
        if not isinstance(d, dict):
            raise InputError(f"{where}: write each theme as a [[theme]] table")
        key = d.get("key")
        if isinstance(key, str):
            where = f"{source} theme #{i} ({key!r})"
        _unknown(where, d, _THEME_KEYS)
        key = _str(where, d, "key")
        if not _KEY.match(key):
            raise InputError(f"{where}: key {key!r} must be lower-case letters, digits and _ "
                             "starting with a letter (at most 40), e.g. key = \"hate_crime\"")
        if key in seen:
            raise InputError(f"{where}: key {key!r} is already used by theme #{seen[key]}; give "
                             "each theme its own key")
        seen[key] = i
        cats = _strings(where, d, "categories")
        for c in cats:
            if c not in CATEGORIES:
                raise InputError(f"{where}: category {c!r} is not a police.uk category"
                                 f"{_suggest(c, CATEGORIES)}; use one of {', '.join(CATEGORIES)}"
                                 ", or list the data under data_sources instead")
        if len(set(cats)) != len(cats):
            raise InputError(f"{where}: a category is listed twice in categories; list each once")
        theme = Theme(
            key=key,
            name=_str(where, d, "name"),
            lead=_str(where, d, "lead"),
            categories=cats,
            data_sources=_strings(where, d, "data_sources"),
            initiatives=_strings(where, d, "initiatives"),
            notes=_str(where, d, "notes", required=False),
        )
        if not cats and not theme.data_sources:
            raise InputError(f"{where}: the theme has neither categories nor data_sources; add "
                             "categories = [\"Burglary\"] or data_sources = [\"...\"] so the "
                             "report can say what data it needs")
        kpis_raw = d.get("kpi", [])
        if not isinstance(kpis_raw, list):
            raise InputError(f"{where}: write KPIs as [[theme.kpi]] tables under the theme")
        kpis = tuple(_kpi(f"{where} KPI #{j}", k, theme) for j, k in enumerate(kpis_raw, 1))
        themes.append(Theme(**{**theme.__dict__, "kpis": kpis}))
    return ThemesConfig(
        source=source,
        sha256=hashlib.sha256(text.encode("utf-8")).hexdigest(),
        force=force,
        name=_str(f"{source} [strategy]", st, "name"),
        version=_str(f"{source} [strategy]", st, "version", required=False),
        questions=tuple(qs),
        themes=tuple(themes),
        raw=raw,
    )


def load_themes(path: str | Path | None = None) -> ThemesConfig:
    """Read and validate a themes file; ``None``: the shipped Essex themes.

    Raises
    ------
    InputError
        The file cannot be read, or its content is invalid (the message names the fix).
    """
    if path is None:
        text = (resources.files("guardian.reports.board") / DEFAULT_THEMES).read_text("utf-8")
        return parse_themes(text, source=f"guardian:{DEFAULT_THEMES}")
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise InputError(f"themes file {p} does not exist; pass an existing file with --themes "
                         "or leave it out for the shipped Essex themes") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"themes file {p} cannot be read as UTF-8 text ({exc}); save it as "
                         "UTF-8 TOML") from exc
    return parse_themes(text, source=p.name)
