"""Load perception-survey responses (CSV + TOML mapping) and population margins by age and sex.

Nothing here is stored: a survey file is read, validated and handed to
:mod:`guardian.analysis.surveys` as a frame. Rows that cannot be used are quarantined with the
reason and the raw line, never guessed at; reading the same files twice gives the same frame.

Population margins: the bundled reference data holds 2011 Census *totals* per LSOA but no age
by sex breakdown, so margins for weighting come from a CSV the user supplies (e.g. ONS mid-year
estimates by local authority, sex and age), with columns ``district, sex, age_band,
population``.

Survey mapping (TOML)::

    [survey]
    respondent = "id"            # unique respondent id column
    district = "District"
    wave = "Year"
    sex = "Gender"
    age = "Age"                  # age in years ...
    # age_band = "AgeGroup"      # ... or a column already holding one of age_bands
    age_bands = ["16-24", "25-34", "35-44", "45-54", "55-64", "65+"]
    missing = ["Don't know", "Refused", ""]   # answers that count as not answered

    [survey.sex_values]
    F = ["Female", "F", "Woman"]
    M = ["Male", "M", "Man"]

    [questions.good_job]
    column = "Q1"
    text = "think the police do a good job"
    positive = ["Excellent", "Good"]
    negative = ["Fair", "Poor", "Very poor"]
"""

from __future__ import annotations

import csv
import io
import math
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from guardian.data.quarantine import QuarantinedRow
from guardian.errors import InputError


@dataclass(frozen=True)
class Question:
    """One question's coding: which answers are positive, negative or not answered."""

    name: str
    column: str
    text: str
    positive: tuple[str, ...]
    negative: tuple[str, ...]


@dataclass(frozen=True)
class SurveyMapping:
    """How a survey file's columns map to Guardian's survey fields."""

    respondent: str
    district: str
    wave: str
    sex: str
    age: str | None
    age_band: str | None
    age_bands: tuple[str, ...]
    sex_values: dict[str, tuple[str, ...]]
    missing: tuple[str, ...]
    questions: tuple[Question, ...]

    @classmethod
    def from_toml(cls, path: Path | str) -> SurveyMapping:
        """Read and check a mapping file (format in the module docstring)."""
        p = Path(path)
        try:
            data = tomllib.loads(p.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise InputError(f"survey mapping {str(p)!r} does not exist") from None
        except tomllib.TOMLDecodeError as e:
            raise InputError(f"survey mapping {str(p)!r} is not valid TOML: {e}") from None
        return cls.build(data)

    @classmethod
    def build(cls, data: dict) -> SurveyMapping:
        """Check and build a mapping from a parsed TOML dictionary."""
        s = data.get("survey")
        if not isinstance(s, dict):
            raise InputError("survey mapping needs a [survey] table")
        missing = [k for k in ("respondent", "district", "wave", "sex") if not s.get(k)]
        if missing:
            raise InputError(f"survey mapping: {', '.join(missing)} required in [survey]")
        if bool(s.get("age")) == bool(s.get("age_band")):
            raise InputError("survey mapping: give exactly one of age (years) or age_band")
        bands = tuple(str(b) for b in s.get("age_bands", ()))
        if not bands:
            raise InputError("survey mapping: age_bands required (e.g. ['16-24', ..., '65+'])")
        for b in bands:
            _band_range(b)
        sexv = s.get("sex_values") or {"F": ["F", "Female"], "M": ["M", "Male"]}
        qs = data.get("questions")
        if not isinstance(qs, dict) or not qs:
            raise InputError("survey mapping needs at least one [questions.NAME] table")
        questions = []
        for name, q in qs.items():
            if not isinstance(q, dict) or not q.get("column") or not q.get("positive"):
                raise InputError(f"question {name!r}: column and positive answers required")
            questions.append(Question(
                name=str(name), column=str(q["column"]), text=str(q.get("text", name)),
                positive=tuple(str(v) for v in q["positive"]),
                negative=tuple(str(v) for v in q.get("negative", ()))))
        return cls(
            respondent=str(s["respondent"]), district=str(s["district"]), wave=str(s["wave"]),
            sex=str(s["sex"]), age=s.get("age"), age_band=s.get("age_band"), age_bands=bands,
            sex_values={str(k): tuple(str(x) for x in v) for k, v in sexv.items()},
            missing=tuple(str(v) for v in s.get("missing", ("",))),
            questions=tuple(questions))


def _band_range(band: str) -> tuple[float, float]:
    b = band.strip()
    try:
        if b.endswith("+"):
            return float(b[:-1]), math.inf
        lo, hi = b.split("-")
        lo_f, hi_f = float(lo), float(hi)
    except ValueError:
        raise InputError(f"age band {band!r}: expected 'LO-HI' or 'LO+'") from None
    if hi_f < lo_f:
        raise InputError(f"age band {band!r}: upper bound below lower")
    return lo_f, hi_f


def age_band_of(age: float, bands: tuple[str, ...]) -> str | None:
    """The band holding whole years ``age`` (None if none does)."""
    for b in bands:
        lo, hi = _band_range(b)
        if lo <= age <= hi:
            return b
    return None


@dataclass
class SurveyLoad:
    """Result of reading a survey file."""

    responses: pd.DataFrame
    questions: dict[str, str]
    quarantined: list[QuarantinedRow] = field(default_factory=list)
    rows_read: int = 0

    def summary(self) -> dict:
        """Counts for printing."""
        return {"rows_read": self.rows_read, "accepted": len(self.responses),
                "quarantined": len(self.quarantined),
                "waves": sorted(self.responses["wave"].unique().tolist()) if len(
                    self.responses) else [],
                "districts": int(self.responses["district"].nunique()) if len(
                    self.responses) else 0}


def _read_rows(path: Path) -> tuple[list[str], list[tuple[int, list[str], str]]]:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise InputError(f"{str(path)!r} does not exist") from None
    except UnicodeDecodeError:
        raise InputError(f"{str(path)!r} is not UTF-8 text") from None
    lines = text.splitlines()
    if not lines:
        raise InputError(f"{str(path)!r} is empty")
    header = next(csv.reader([lines[0]]))
    rows = []
    for i, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        rows.append((i, next(csv.reader(io.StringIO(line)), []), line))
    return [h.strip() for h in header], rows


def read_survey(path: Path | str, mapping: SurveyMapping) -> SurveyLoad:
    """Read and validate a survey CSV.

    Parameters
    ----------
    path : path
        CSV file, one row per respondent, header on line 1.
    mapping : SurveyMapping

    Returns
    -------
    SurveyLoad
        ``responses`` has columns ``respondent, district, wave, sex, age_band`` and one
        boolean-or-NaN column per question name; refused rows are in ``quarantined``.

    Raises
    ------
    InputError
        If the file is missing or a mapped column is not in the header.
    """
    path = Path(path)
    header, rows = _read_rows(path)
    m = mapping
    needed = [m.respondent, m.district, m.wave, m.sex, m.age or m.age_band,
              *(q.column for q in m.questions)]
    absent = [c for c in needed if c not in header]
    if absent:
        raise InputError(f"{path.name}: column(s) {', '.join(absent)} not in the header "
                         f"({', '.join(header)})")
    ix = {c: header.index(c) for c in needed}
    sex_lookup = {v.strip().lower(): k for k, vs in m.sex_values.items() for v in vs}
    missing = {v.strip().lower() for v in m.missing}
    seen: set[str] = set()
    out, quarantined = [], []
    for line, vals, raw in rows:
        if len(vals) != len(header):
            quarantined.append(QuarantinedRow(line, f"{len(vals)} fields, header has "
                                              f"{len(header)}", raw))
            continue

        def get(col: str, vals=vals) -> str:
            return vals[ix[col]].strip()

        rid = get(m.respondent)
        if not rid:
            quarantined.append(QuarantinedRow(line, "respondent id is empty", raw))
            continue
        if rid in seen:
            quarantined.append(QuarantinedRow(line, f"respondent id {rid!r} repeated", raw))
            continue
        district, wave = get(m.district), get(m.wave)
        if not district or not wave:
            quarantined.append(QuarantinedRow(line, "district or wave is empty", raw))
            continue
        sex = sex_lookup.get(get(m.sex).lower())
        if sex is None:
            quarantined.append(QuarantinedRow(line, f"sex {get(m.sex)!r} not in sex_values",
                                              raw))
            continue
        if m.age:
            a = get(m.age)
            try:
                age = float(a)
            except ValueError:
                quarantined.append(QuarantinedRow(line, f"age {a!r} is not a number", raw))
                continue
            band = age_band_of(age, m.age_bands)
            if band is None:
                quarantined.append(QuarantinedRow(line, f"age {a} is in no age band", raw))
                continue
        else:
            band = get(m.age_band)
            if band not in m.age_bands:
                quarantined.append(QuarantinedRow(line, f"age band {band!r} not in age_bands",
                                                  raw))
                continue
        rec = {"respondent": rid, "district": district, "wave": wave, "sex": sex,
               "age_band": band}
        bad = None
        for q in m.questions:
            ans = get(q.column)
            low = ans.lower()
            if low in missing:
                rec[q.name] = None
            elif ans in q.positive:
                rec[q.name] = True
            elif ans in q.negative or not q.negative:
                rec[q.name] = False
            else:
                bad = f"{q.name}: answer {ans!r} is not a listed positive, negative or missing"
                break
        if bad:
            quarantined.append(QuarantinedRow(line, bad, raw))
            continue
        seen.add(rid)
        out.append(rec)
    cols = ["respondent", "district", "wave", "sex", "age_band", *(q.name for q in m.questions)]
    frame = pd.DataFrame(out, columns=cols)
    for q in m.questions:
        frame[q.name] = frame[q.name].astype(object)
    return SurveyLoad(frame, {q.name: q.text for q in m.questions}, quarantined, len(rows))


def read_margins(path: Path | str, *, age_bands: tuple[str, ...] | None = None,
                 sexes: tuple[str, ...] | None = None
                 ) -> tuple[pd.DataFrame, list[QuarantinedRow]]:
    """Read population margins: CSV with ``district, sex, age_band, population``.

    Parameters
    ----------
    path : path
    age_bands, sexes : tuple of str, optional
        Allowed values (from the survey mapping); other rows are quarantined.

    Returns
    -------
    (DataFrame, list of QuarantinedRow)
        Accepted rows (population as float), and the refused ones with reasons.
    """
    path = Path(path)
    header, rows = _read_rows(path)
    need = ["district", "sex", "age_band", "population"]
    absent = [c for c in need if c not in header]
    if absent:
        raise InputError(f"{path.name}: margins need columns {', '.join(need)}; missing "
                         f"{', '.join(absent)}")
    ix = {c: header.index(c) for c in need}
    out, q = [], []
    seen = set()
    for line, vals, raw in rows:
        if len(vals) != len(header):
            q.append(QuarantinedRow(line, f"{len(vals)} fields, header has {len(header)}", raw))
            continue
        d, s, b, p = (vals[ix[c]].strip() for c in need)
        try:
            pop = float(p.replace(",", ""))
        except ValueError:
            q.append(QuarantinedRow(line, f"population {p!r} is not a number", raw))
            continue
        if not math.isfinite(pop) or pop < 0:
            q.append(QuarantinedRow(line, f"population {p!r} is negative or not finite", raw))
            continue
        if not d:
            q.append(QuarantinedRow(line, "district is empty", raw))
            continue
        if sexes is not None and s not in sexes:
            q.append(QuarantinedRow(line, f"sex {s!r} not one of {', '.join(sexes)}", raw))
            continue
        if age_bands is not None and b not in age_bands:
            q.append(QuarantinedRow(line, f"age band {b!r} not in the survey's age bands", raw))
            continue
        if (d, s, b) in seen:
            q.append(QuarantinedRow(line, f"{d}/{s}/{b} given twice", raw))
            continue
        seen.add((d, s, b))
        out.append({"district": d, "sex": s, "age_band": b, "population": pop})
    return pd.DataFrame(out, columns=need), q
