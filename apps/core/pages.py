"""What the filtered, paginated list pages share."""

from django.core.paginator import Page, Paginator


def filtered_page(request, filterset_class, queryset, page_size: int) -> dict:
    """The list page's filters, the page of rows (none when a filter is invalid: the form shows
    why), and the query string of the filters without the page, for the pager's links."""
    filters = filterset_class(request.GET, queryset=queryset)
    rows = filters.qs if filters.is_valid() else queryset.none()
    page: Page = Paginator(rows, page_size).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return {"filters": filters, "page": page, "query": query.urlencode()}
