"""Lists a desk can work: what every list page (orders, approvals, alerts, reports, audit, kill
switches) adds to its own filters, the same way on each.

- `q`: one case-insensitive search over the page's text columns (any word order, every word must
  match somewhere);
- `date_from` / `date_to`: a range of UTC calendar days, both ends included, on the page's date;
- `sort`: one of the page's sortable columns, `-` first for descending, set by the column heads;
- `export=csv` or `export=xlsx`: exactly the filtered rows (every page of them, sorted as shown),
  written by tablib, and recorded in the audit trail as a DATA_ACCESS event.

An export is the page's own view answering in another format: the same role, the same
entitlements and the same filters decide what it holds, so personal data leaves only as far as
the page shows it. Bad input (a malformed date, a range that ends before it starts, an unknown
sort or format) is a 400 with the form's errors, and an export too large to be one file is a
400 asking for narrower filters; nothing is written.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from django import forms
from django.core.paginator import Paginator
from django.db import transaction
from django.db.models import Q, QuerySet
from django.http import HttpResponse
from django.utils.text import slugify

from apps.core.hooks import audit_record
from apps.core.time import rfc3339, utcnow

EXPORT_MAX_ROWS = 50_000
SEARCH_MAX_LENGTH = 200
SEARCH_MAX_WORDS = 8
EXPORT_FORMATS = {
    "csv": ("text/csv; charset=utf-8", "csv"),
    "xlsx": ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "xlsx"),
}
# A cell a spreadsheet would run as a formula (CSV injection): kept as text by a leading quote.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class Column:
    """One column of a list: its heading, its value in an export, and (when sortable) the
    database ordering its head sorts by."""

    key: str
    label: str
    value: Callable[[Any], Any]
    order_by: str | None = None
    shown: bool = True  # False: in exports only


@dataclass(frozen=True)
class DeskList:
    """What a list page searches, when its rows happened, how it sorts and what it exports."""

    name: str  # the export's file name and the audit event's `list`
    object_type: str  # the audit event's object type ("trading.order")
    columns: Sequence[Column]
    search_fields: Sequence[str]  # text fields, through forward relations only (no duplicates)
    date_field: str
    default_sort: str  # a column key, "-" first for descending
    tiebreak: str = "-pk"
    date_label: str = "Date"
    extra: dict = field(default_factory=dict)

    @property
    def sortable(self) -> dict[str, str]:
        return {c.key: c.order_by for c in self.columns if c.order_by}


class DeskListForm(forms.Form):
    q = forms.CharField(required=False, max_length=SEARCH_MAX_LENGTH, label="Search")
    date_from = forms.DateField(required=False, label="From (UTC)")
    date_to = forms.DateField(required=False, label="To (UTC)")
    sort = forms.CharField(required=False, max_length=64)
    export = forms.ChoiceField(
        required=False, choices=[("", "")] + [(f, f) for f in EXPORT_FORMATS]
    )

    def __init__(self, *args, spec: DeskList, **kwargs):
        super().__init__(*args, **kwargs)
        self.spec = spec

    def clean_sort(self) -> str:
        sort = self.cleaned_data["sort"] or self.spec.default_sort
        if sort.removeprefix("-") not in self.spec.sortable:
            raise forms.ValidationError(
                f"Sort by one of: {', '.join(sorted(self.spec.sortable))} ('-' first: descending)."
            )
        return sort

    def clean_q(self) -> str:
        q = " ".join(self.cleaned_data["q"].split())
        if "\x00" in q:
            raise forms.ValidationError("The search holds a character that cannot be searched.")
        return q

    def clean(self):
        data = super().clean()
        start, end = data.get("date_from"), data.get("date_to")
        if start and end and end < start:
            self.add_error("date_to", "The range ends before it starts.")
        return data


@dataclass
class DeskQuery:
    """A list page's extra filters as read from the request, and the rows they leave."""

    spec: DeskList
    form: DeskListForm
    rows: QuerySet
    sort: str
    query: str  # the request's query string without page, sort and export (for the heads)

    @property
    def is_valid(self) -> bool:
        return not self.form.errors

    @property
    def export_format(self) -> str:
        return self.form.cleaned_data.get("export", "") if self.is_valid else ""

    def heads(self) -> list[dict]:
        """The column heads: label, and for a sortable one the link that sorts by it (the
        current column's link reverses it) and its arrow."""
        heads = []
        current = self.sort.removeprefix("-")
        descending = self.sort.startswith("-")
        for column in self.spec.columns:
            if not column.shown:
                continue
            head = {"key": column.key, "label": column.label, "href": "", "arrow": ""}
            if column.order_by:
                if column.key == current:
                    target = column.key if descending else f"-{column.key}"
                    head["arrow"] = "▼" if descending else "▲"
                    head["aria_sort"] = "descending" if descending else "ascending"
                else:
                    target = column.key
                prefix = f"{self.query}&" if self.query else ""
                head["href"] = f"?{prefix}sort={target}"
            heads.append(head)
        return heads

    def export_links(self) -> list[dict]:
        base = self.query + (f"&sort={self.sort}" if self.query else f"sort={self.sort}")
        return [
            {
                "format": fmt,
                "label": "Excel" if fmt == "xlsx" else "CSV",
                "href": f"?{base}&export={fmt}",
            }
            for fmt in EXPORT_FORMATS
        ]


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


def _search(spec: DeskList, q: str) -> Q:
    condition = Q()
    for word in q.split()[:SEARCH_MAX_WORDS]:
        any_field = Q()
        for name in spec.search_fields:
            any_field |= Q(**{f"{name}__icontains": word})
        condition &= any_field
    return condition


def desk_query(request, spec: DeskList, rows: QuerySet) -> DeskQuery:
    """The search, date range and order of `request` applied to `rows` (which carry the page's
    own filters already); no rows when the input is bad (the form says why)."""
    form = DeskListForm(request.GET, spec=spec)
    query = request.GET.copy()
    for name in ("page", "sort", "export"):
        query.pop(name, None)
    if not form.is_valid():
        return DeskQuery(spec, form, rows.none(), spec.default_sort, query.urlencode())
    data = form.cleaned_data
    if data["q"]:
        rows = rows.filter(_search(spec, data["q"]))
    if data["date_from"]:
        rows = rows.filter(**{f"{spec.date_field}__gte": _day_start(data["date_from"])})
    if data["date_to"] and data["date_to"] < date.max:  # to the last day there is: no end
        end = _day_start(data["date_to"] + timedelta(days=1))
        rows = rows.filter(**{f"{spec.date_field}__lt": end})
    sort = data["sort"]
    column = spec.sortable[sort.removeprefix("-")]
    ordering = f"-{column}" if sort.startswith("-") else column
    rows = rows.order_by(ordering, spec.tiebreak)
    return DeskQuery(spec, form, rows, sort, query.urlencode())


def _cell(value: Any, fmt: str) -> Any:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return rfc3339(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        # Excel keeps numbers as numbers; CSV writes the exact decimal.
        return value if fmt == "xlsx" else format(value.normalize(), "f")
    if isinstance(value, bool | int | float):
        return value
    text = str(value)
    if text.startswith(FORMULA_STARTS):
        text = "'" + text
    return text


class ExportTooLarge(Exception):
    pass


def desk_export(request, desk: DeskQuery, *, user, filters: dict | None = None) -> HttpResponse:
    """The filtered rows as a CSV or Excel file, with its DATA_ACCESS audit event (in the
    trail before the file leaves: an export nobody can see in the trail never happens)."""
    import tablib

    fmt = desk.export_format
    spec = desk.spec
    rows = list(desk.rows[: EXPORT_MAX_ROWS + 1])
    if len(rows) > EXPORT_MAX_ROWS:
        raise ExportTooLarge(
            f"More than {EXPORT_MAX_ROWS} rows match: narrow the filters (a date range, say)."
        )
    dataset = tablib.Dataset(headers=[c.label for c in spec.columns], title=spec.name[:31])
    for row in rows:
        dataset.append([_cell(c.value(row), fmt) for c in spec.columns])
    content = dataset.export(fmt)
    if isinstance(content, str):
        content = content.encode("utf-8")
    with transaction.atomic():
        audit_record(
            event_type="DATA_ACCESS",
            actor=user,
            object_type=spec.object_type,
            payload={
                "action": "list_export",
                "via": "page",
                "list": spec.name,
                "format": fmt,
                "count": len(rows),
                "filters": _filters(request),
                **(filters or {}),
            },
        )
    mime, extension = EXPORT_FORMATS[fmt]
    stamp = utcnow().strftime("%Y%m%dT%H%M%SZ")
    response = HttpResponse(content, content_type=mime)
    name = f"{slugify(spec.name)}-{stamp}.{extension}"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    response["Cache-Control"] = "no-store"
    return response


def _filters(request) -> dict:
    """The request's filters as the audit event keeps them (bounded)."""
    out: dict[str, Any] = {}
    for name in sorted(request.GET)[:20]:
        if name in ("export", "page", "csrfmiddlewaretoken"):
            continue
        values = [str(v)[:100] for v in request.GET.getlist(name)][:20]
        out[str(name)[:64]] = values[0] if len(values) == 1 else values
    return out


class DeskListMixin:
    """For a list page (a TemplateView): `desk_list` says what it searches, sorts and exports;
    `desk_rows()` gives the rows after the page's own filters (and may set `desk_problems`).
    GET with `export` answers with the file; otherwise the page, with `desk`, `page`, `query`,
    `heads` and `exports` in its context, and a 400 when the filters are bad."""

    desk_list: DeskList
    page_size = 50
    desk_problems: list[str]

    def desk_rows(self) -> QuerySet:
        raise NotImplementedError

    def desk_params(self):
        """The request's filters without the empty ones: a select left at "Any" sends an empty
        value, which is no filter (a multiple-choice filter would call it an invalid choice)."""
        params = self.request.GET.copy()
        for name in list(params):
            values = [v for v in params.getlist(name) if v != ""]
            if values:
                params.setlist(name, values)
            else:
                del params[name]
        return params

    def desk_filters_for_audit(self) -> dict:
        return {}

    def desk_prepare(self) -> None:
        self.desk_problems = []
        self.desk = desk_query(self.request, self.desk_list, self.desk_rows())

    def get(self, request, *args, **kwargs):
        self.desk_prepare()
        bad = not self.desk.is_valid or bool(self.desk_problems)
        if request.GET.get("export") and not bad:
            try:
                return desk_export(
                    request, self.desk, user=request.user, filters=self.desk_filters_for_audit()
                )
            except ExportTooLarge as exc:
                self.desk_problems.append(str(exc))
                bad = True
        context = self.get_context_data(**kwargs)
        return self.render_to_response(context, status=400 if bad else 200)

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        if not hasattr(self, "desk"):  # a POST that shows the page again
            self.desk_prepare()
        desk = self.desk
        rows = desk.rows if not self.desk_problems else desk.rows.none()
        page = Paginator(rows, self.page_size).get_page(self.request.GET.get("page"))
        sort = f"sort={desk.sort}"
        context.update(
            desk=desk,
            desk_form=desk.form,
            desk_problems=self.desk_problems
            + [f"{n}: {' '.join(e)}" for n, e in desk.form.errors.items()],
            page=page,
            query=f"{desk.query}&{sort}" if desk.query else sort,
            heads=desk.heads(),
            exports=desk.export_links(),
        )
        return context
