"""A full LIST comes a page at a time; an expired continue token starts it again."""

from __future__ import annotations

from typing import Any

import pytest
from kubernetes.client.rest import ApiException

from dubbing_operator import metrics
from dubbing_operator.kube import LIST_PAGE, Kube


class PagedKube(Kube):
    def __init__(self, pages: list[Any]) -> None:  # no API client: only request() is used
        self.pages = pages
        self.queries: list[dict[str, Any]] = []

    def request(self, method: str, path: str, body: Any = None, **kw: Any) -> Any:
        self.queries.append(kw["query"])
        answer = self.pages.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


def page(names: list[str], token: str | None, rv: str = "7") -> dict[str, Any]:
    return {"metadata": {"continue": token, "resourceVersion": rv}, "items": [{"metadata": {"name": n}} for n in names]}


def calls(name: str) -> float:
    return metrics.REGISTRY.get_sample_value("dubbing_api_calls_total", {"call": name}) or 0.0


def test_the_pages_are_joined_and_each_counts_as_a_call():
    kube = PagedKube([page(["a", "b"], "t1"), page(["c"], None, rv="9")])
    before = calls("list_jobs")
    items, rv = kube.list_all("/apis/x", {}, "list_jobs")
    assert [i["metadata"]["name"] for i in items] == ["a", "b", "c"] and rv == "9"
    assert kube.queries == [{"limit": str(LIST_PAGE), "continue": None}, {"limit": str(LIST_PAGE), "continue": "t1"}]
    assert calls("list_jobs") - before == 2


def test_an_expired_continue_token_starts_the_list_again():
    gone = ApiException(status=410, reason="Gone")
    kube = PagedKube([page(["a"], "t1"), gone, page(["a"], "t2"), page(["b"], None)])
    items, _ = kube.list_all("/apis/x", {"labelSelector": "k"}, "list_stage_pods")
    assert [i["metadata"]["name"] for i in items] == ["a", "b"]
    assert kube.queries[2] == {"labelSelector": "k", "limit": str(LIST_PAGE), "continue": None}


def test_another_error_is_raised():
    kube = PagedKube([ApiException(status=500, reason="boom")])
    with pytest.raises(ApiException):
        kube.list_all("/apis/x", {}, "list_jobs")


def test_a_list_of_jobs_keeps_each_in_its_compact_form_as_its_page_comes():
    job = {"metadata": {"namespace": "ns", "name": "a", "uid": "u", "resourceVersion": "5", "managedFields": [{}]}}
    kube = PagedKube([{"metadata": {"resourceVersion": "5"}, "items": [job]}])
    [c] = kube.list_jobs("ns")
    assert (c.key, c.uid, c.version) == ("ns/a", "u", "5") and b"managedFields" not in c.data
