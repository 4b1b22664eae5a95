"""Cell conversion: one converter per field kind, turning a raw cell into the stored value or a BadCell.

Why: dates in the common formats (day-first unless the column needs month-first), list cells as "a; b" or JSON
lists, vocabularies matched case-insensitively, markings normalised. The STIX importer uses the same converters
for the same fields, so a value means the same whichever format carried it.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

from analytics import vocab
from analytics.access.markings import INSTITUTES, normalise_tlp, parse_releasable
from analytics.ingest import ImportRefused, load_json
from analytics.ingest.tabular.fields import norm_name


class BadCell(ValueError):
    """A cell that cannot be converted; the message is shown with its row and column."""


_MONTHS = {
    m: i
    for i, names in enumerate(
        [
            ("jan", "january"),
            ("feb", "february"),
            ("mar", "march"),
            ("apr", "april"),
            ("may",),
            ("jun", "june"),
            ("jul", "july"),
            ("aug", "august"),
            ("sep", "sept", "september"),
            ("oct", "october"),
            ("nov", "november"),
            ("dec", "december"),
        ],
        start=1,
    )
    for m in names
}
# A timestamp as real tools write it (lower-cased input): a date, then optionally a time with fractional seconds,
# then an offset and/or 'z' -- garak writes `2024-10-02 10:37:26.511331+00:00Z`, an offset and a Z at once.
_ISO = re.compile(
    r"^(\d{4})-(\d{1,2})-(\d{1,2})"
    r"(?:[t ](\d{1,2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?\s*(?:([+-])(\d{2}):?(\d{2}))?\s*z?)?$"
)
_YMD_SLASH = re.compile(r"^(\d{4})[/.](\d{1,2})[/.](\d{1,2})$")
_NUMERIC_DMY = re.compile(r"^(\d{1,2})[/.-](\d{1,2})[/.-](\d{4}|\d{2})(?:[t ][0-9:.]+)?$")
_DAY_MONTH_NAME = re.compile(r"^(\d{1,2})(?:st|nd|rd|th)?[\s-]+([a-z]+)\.?,?[\s-]+(\d{4}|\d{2})$")
_MONTH_NAME_DAY = re.compile(r"^([a-z]+)\.?\s+(\d{1,2})(?:st|nd|rd|th)?,?\s+(\d{4})$")
_COMPACT = re.compile(r"^(\d{4})(\d{2})(\d{2})$")

DATE_FORMATS_HELP = (
    "2024-03-05, 2024-03-05T10:00:00Z, 2024/03/05, 05/03/2024, 5/3/24, 05-03-2024, 05.03.2024, "
    "5 March 2024, 5 Mar 2024, 05-Mar-2024, March 5, 2024, 20240305"
)


def _year(y: str) -> int:
    value = int(y)
    return value + 2000 if len(y) == 2 else value


def _make_date(y: int, m: int, d: int, raw: str) -> date:
    try:
        return date(y, m, d)
    except ValueError:
        raise BadCell(f"{raw!r} is not a real date") from None


def parse_timestamp(raw: Any) -> datetime:
    """A timestamp (ISO 8601 and the variants tools write: a space for the T, fractional seconds of any length,
    `Z`, `+05:30`, `-0400`, an offset followed by `Z`) as an aware UTC datetime; a date alone is midnight UTC;
    a timestamp without an offset is taken as UTC. Anything else is a BadCell saying so."""
    if isinstance(raw, datetime):
        return raw if raw.tzinfo else raw.replace(tzinfo=UTC)
    if isinstance(raw, date):
        return datetime(raw.year, raw.month, raw.day, tzinfo=UTC)
    m = _ISO.match(raw.strip().lower()) if isinstance(raw, str) else None
    if m is None:
        raise BadCell(f"{str(raw)[:60]!r} is not a timestamp (e.g. 2024-10-02T10:37:26Z)")
    y, mo, d, hh, mm, ss, frac, sign, oh, om = m.groups()
    try:
        micro = int((frac or "0")[:6].ljust(6, "0"))
        stamp = datetime(int(y), int(mo), int(d), int(hh or 0), int(mm or 0), int(ss or 0), micro)
        offset = (
            timedelta(hours=int(oh), minutes=int(om)) * (-1 if sign == "-" else 1) if sign else timedelta()
        )
    except ValueError:
        raise BadCell(f"{str(raw)[:60]!r} is not a timestamp (no such date or time)") from None
    return (stamp - offset).replace(tzinfo=UTC)


def parse_date(raw: Any, *, month_first: bool = False) -> date:
    """One cell to a date. Numeric day/month dates are day-first (UK and AU usage) unless the column says
    otherwise (see `column_month_first`)."""
    if isinstance(raw, datetime):
        return raw.date()
    if isinstance(raw, date):
        return raw
    if not isinstance(raw, str):
        raise BadCell(f"{raw!r} is not a date")
    s = raw.strip().lower()
    if m := _ISO.match(s):
        # the date as written (local to the tool that wrote it): an offset never moves an incident's day
        if m[4] is not None:
            try:
                parse_timestamp(raw)
            except BadCell:
                raise BadCell(f"{raw!r} is not a real date and time") from None
        return _make_date(int(m[1]), int(m[2]), int(m[3]), raw)
    if m := _YMD_SLASH.match(s):
        return _make_date(int(m[1]), int(m[2]), int(m[3]), raw)
    if m := _NUMERIC_DMY.match(s):
        a, b = int(m[1]), int(m[2])
        day, month = (b, a) if month_first else (a, b)
        if month > 12:
            order = "month-first (MM/DD/YYYY)" if month_first else "day-first (DD/MM/YYYY)"
            raise BadCell(f"{raw!r} is not a valid {order} date")
        return _make_date(_year(m[3]), month, day, raw)
    if m := _DAY_MONTH_NAME.match(s):
        if m[2] not in _MONTHS:
            raise BadCell(f"{raw!r}: unknown month {m[2]!r}")
        return _make_date(_year(m[3]), _MONTHS[m[2]], int(m[1]), raw)
    if m := _MONTH_NAME_DAY.match(s):
        if m[1] not in _MONTHS:
            raise BadCell(f"{raw!r}: unknown month {m[1]!r}")
        return _make_date(int(m[3]), _MONTHS[m[1]], int(m[2]), raw)
    if m := _COMPACT.match(s):
        return _make_date(int(m[1]), int(m[2]), int(m[3]), raw)
    raise BadCell(f"{raw!r} is not a date in a known format ({DATE_FORMATS_HELP})")


def column_month_first(values: Iterable[Any]) -> bool:
    """True when a column's numeric dates can only be month-first (some second part above 12, no first part
    above 12), as in files exported with US settings."""
    first_over = second_over = False
    for v in set(v for v in values if isinstance(v, str)):
        m = _NUMERIC_DMY.match(v.strip())
        if m:
            first_over = first_over or int(m[1]) > 12
            second_over = second_over or int(m[2]) > 12
    return second_over and not first_over


def split_list(raw: Any) -> list[str]:
    """A list cell: a JSON list, or items separated by ';', '|', ',' or new lines."""
    if raw is None:
        return []
    if isinstance(raw, list | tuple):
        items = list(raw)
    elif isinstance(raw, str):
        s = raw.strip()
        if s.startswith("["):
            try:
                parsed = load_json("cell", s)
            except json.JSONDecodeError:
                raise BadCell(f"{raw!r} looks like a JSON list but is not valid JSON") from None
            except ImportRefused:
                raise BadCell("a JSON list nested too deep") from None
            if not isinstance(parsed, list):
                raise BadCell(f"{raw!r} is not a list")
            items = parsed
        else:
            items = re.split(r"[;|,\n]", s)
    else:
        items = [raw]
    out: list[str] = []
    for it in items:
        if isinstance(it, dict | list):
            raise BadCell(f"{raw!r}: list items must be plain values")
        text = _no_control(str(it).strip())
        if text and text not in out:
            out.append(text)
    return out


# C0 control characters and DEL, except tab, line feed and carriage return (line breaks inside a cell): a NUL or
# an escape sequence in a title is never intended and breaks terminals, CSV readers and partner systems.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _no_control(s: str) -> str:
    if m := _CONTROL.search(s):
        raise BadCell(
            f"contains the control character U+{ord(m.group()):04X}; only tab and line breaks are allowed in text"
        )
    return s


def _text(raw: Any, limit: int = 500) -> str | None:
    if raw is None:
        return None
    if isinstance(raw, list) and not any(isinstance(v, dict | list) for v in raw):
        # nested JSON often wraps one name in a list (AVID: "developer": ["OpenAI"]); several are joined
        raw = ", ".join(str(v).strip() for v in raw if v is not None and str(v).strip()) or None
        if raw is None:
            return None
    if isinstance(raw, dict | list):
        raise BadCell("expected text, found a list or object")
    if isinstance(raw, float) and raw.is_integer():
        raw = int(raw)
    s = _no_control(str(raw).strip())
    if len(s) > limit:
        raise BadCell(f"is {len(s):,} characters long; the limit is {limit:,}")
    return s or None


def _vocab(options: Sequence[str], what: str) -> Callable[[Any], str | None]:
    lookup = {norm_name(o): o for o in options}

    def convert(raw: Any) -> str | None:
        s = _text(raw)
        if s is None:
            return None
        hit = lookup.get(norm_name(s))
        if hit is None:
            shown = ", ".join(options) if len(options) <= 12 else ", ".join(options[:12]) + ", ..."
            raise BadCell(f"{s!r} is not a known {what} (expected one of: {shown})")
        return hit

    return convert


def _int_in(
    lo: int, hi: int, what: str, labels: Mapping[str, int] | None = None
) -> Callable[[Any], int | None]:
    def convert(raw: Any) -> int | None:
        if raw is None or (isinstance(raw, str) and not raw.strip()):
            return None
        if isinstance(raw, bool):
            raise BadCell(f"{raw!r} is not a {what}")
        if isinstance(raw, str) and labels and norm_name(raw) in labels:
            return labels[norm_name(raw)]
        try:
            f = float(raw)
        except (TypeError, ValueError):
            raise BadCell(f"{raw!r} is not a {what} ({lo} to {hi})") from None
        if not f.is_integer() or not lo <= f <= hi:
            raise BadCell(f"{raw!r} is not a {what} ({lo} to {hi})")
        return int(f)

    return convert


def _float(nonneg: bool, what: str) -> Callable[[Any], float | None]:
    def convert(raw: Any) -> float | None:
        if raw is None or (isinstance(raw, str) and not raw.strip()):
            return None
        if isinstance(raw, bool):
            raise BadCell(f"{raw!r} is not a number")
        try:
            if isinstance(raw, str) and raw.strip().endswith("%"):
                f = float(raw.strip()[:-1]) / 100
            else:
                f = float(raw)
        except (TypeError, ValueError):
            raise BadCell(f"{raw!r} is not a number") from None
        if math.isnan(f) or math.isinf(f):
            raise BadCell(f"{raw!r} is not a finite number")
        if nonneg and f < 0:
            raise BadCell(f"{raw!r}: {what} cannot be negative")
        return f

    return convert


def _list_of(item: Callable[[str], str], *, upper: bool = False) -> Callable[[Any], list[str]]:
    def convert(raw: Any) -> list[str]:
        out: list[str] = []
        bad: list[str] = []
        for s in split_list(raw):
            try:
                v = item(s.upper() if upper else s)
            except BadCell as e:
                bad.append(str(e))
                continue
            if v not in out:
                out.append(v)
        if bad:
            raise BadCell("; ".join(bad))
        return out

    return convert


_SECTOR = _vocab(vocab.SECTORS, "sector")
_COUNTRY_ALIASES = {"UK": "GB"}
_TECHNIQUE = re.compile(r"^AML\.T\d{4}(\.\d{3})?$")
_EMAIL = re.compile(r"^[^@\s;,]+@[^@\s;,]+\.[a-z]{2,}$")


def _sector(s: str) -> str:
    v = _SECTOR(s)
    assert v is not None
    return v


def _country(s: str) -> str:
    s = _COUNTRY_ALIASES.get(s, s)
    if not re.fullmatch(r"[A-Z]{2}", s):
        raise BadCell(f"{s!r} is not a two-letter country code (ISO 3166, e.g. GB, AU)")
    return s


def _technique(s: str) -> str:
    if not _TECHNIQUE.match(s):
        raise BadCell(f"{s!r} is not an ATLAS technique id (AML.T0000 or AML.T0000.000)")
    return s


def _email(s: str) -> str:
    s = s.lower()
    if not _EMAIL.match(s):
        raise BadCell(f"{s!r} is not an email address")
    return s


def _tag(s: str) -> str:
    if len(s) > 100:
        raise BadCell(f"tag {s[:20]!r}... is longer than 100 characters")
    return s


def _tlp(raw: Any) -> str | None:
    s = _text(raw)
    if s is None:
        return None
    try:
        return normalise_tlp(s)
    except ValueError as e:
        raise BadCell(str(e)) from None


def _releasable(raw: Any) -> list[str] | None:
    items = split_list(raw)
    if not items:
        return None
    try:
        return list(parse_releasable(items))
    except ValueError as e:
        raise BadCell(str(e)) from None


def _institute(options: Sequence[str]) -> Callable[[Any], str | None]:
    def convert(raw: Any) -> str | None:
        s = _text(raw)
        if s is None:
            return None
        v = s.upper()
        v = {"GB": "UK", "AUS": "AU", "AUSTRALIA": "AU", "UNITED KINGDOM": "UK", "UK AISI": "UK"}.get(v, v)
        if v not in options:
            raise BadCell(f"{s!r} is not an institute ({' or '.join(options)})")
        return v

    return convert


def _id(raw: Any) -> str | None:
    s = _text(raw, limit=120)
    if s is not None and not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._:/-]*", s):
        raise BadCell(f"{s!r} is not a usable id (letters, digits and . _ : / - only)")
    return s


def date_or_none(raw: Any, month_first: bool = False) -> date | None:
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None
    return parse_date(raw, month_first=month_first)


CONVERTERS: dict[str, Callable[[Any], Any]] = {
    "id": _id,
    "date": date_or_none,
    "date_precision": _vocab(vocab.DATE_PRECISIONS, "date precision"),
    "title": lambda raw: _text(raw, 500),
    "long_text": lambda raw: _text(raw, 20_000),
    "text": lambda raw: _text(raw, 200),
    "institute": _institute(INSTITUTES),
    "eval_institute": _institute((*INSTITUTES, "PUBLIC")),
    "category": _vocab(vocab.CATEGORIES, "category"),
    "severity": _int_in(1, 5, "severity", {norm_name(v): k for k, v in vocab.SEVERITY_LABELS.items()}),
    "actor_type": _vocab(vocab.ACTOR_TYPES, "actor type"),
    "sectors": _list_of(_sector),
    "countries": _list_of(_country, upper=True),
    "incident_status": _vocab(vocab.STATUSES, "status"),
    "eval_status": _vocab(("success", "error", "cancelled", "started"), "run status"),
    "tlp": _tlp,
    "releasable": _releasable,
    "emails": _list_of(_email),
    "reliability": _vocab(vocab.SOURCE_RELIABILITY, "source reliability grade"),
    "credibility": _int_in(1, 6, "credibility grade"),
    "tags": _list_of(_tag),
    "techniques": _list_of(_technique, upper=True),
    "score": _float(False, "score"),
    "nonneg_float": _float(True, "standard error"),
    "count": _int_in(0, 100_000_000, "sample count"),
}
