"""CALLS against GitHub's official REST description, and the pruned copy Prism serves."""

from __future__ import annotations

import json
from typing import Any

from selfheal.github.calls import CALLS
from tests.support.contract import PRUNED, load_script


def _operations(spec: dict[str, Any]) -> dict[str, tuple[str, str, dict[str, Any]]]:
    found: dict[str, tuple[str, str, dict[str, Any]]] = {}
    for path, item in spec["paths"].items():
        for method, op in item.items():
            if isinstance(op, dict) and "operationId" in op:
                found[op["operationId"]] = (method.upper(), path, op)
    return found


def _param_names(spec: dict[str, Any], op: dict[str, Any]) -> set[str]:
    names = set()
    for param in op.get("parameters", []):
        if "$ref" in param:
            param = spec["components"]["parameters"][param["$ref"].rsplit("/", 1)[1]]
        names.add(param["name"])
    return names


def test_every_call_is_an_official_operation_with_that_method_and_path(
    official_spec: dict[str, Any],
) -> None:
    operations = _operations(official_spec)
    wrong = []
    for call in CALLS.values():
        method, path, op = operations.get(call.operation_id, ("?", "?", {}))
        if (method, path) != (call.method, call.path):
            wrong.append(f"{call.name}: {call.operation_id} is {method} {path}")
            continue
        if call.accepts_body != ("requestBody" in op):
            wrong.append(f"{call.name}: accepts_body disagrees with the description")
        names = _param_names(official_spec, op)
        if not set(call.path_params) <= names:
            wrong.append(f"{call.name}: path parameters {call.path_params} not all in {names}")
        if call.paginated and "per_page" not in names:
            wrong.append(f"{call.name}: marked paginated but takes no per_page")
    assert not wrong, wrong


def test_the_pruned_description_is_current() -> None:
    fresh = load_script("prune_openapi").pruned_text()
    assert PRUNED.read_text(encoding="utf-8") == fresh, (
        "tests/contract/github-pruned.json is stale: run python scripts/prune_openapi.py"
    )


def test_the_pruned_description_holds_exactly_the_calls_and_resolves_every_ref() -> None:
    pruned = json.loads(PRUNED.read_text(encoding="utf-8"))
    kept = {
        (method.upper(), path)
        for path, item in pruned["paths"].items()
        for method in item
        if method != "parameters"
    }
    assert kept == {(c.method, c.path) for c in CALLS.values()}
    refs = set(load_script("prune_openapi")._refs(pruned))
    assert refs
    for ref in refs:
        kind, name = ref.split("/")[2:]
        assert name in pruned["components"][kind], ref


def test_pruning_drops_unused_operations_and_components(official_spec: dict[str, Any]) -> None:
    module = load_script("prune_openapi")
    small = module.prune(official_spec, [("GET", "/rate_limit")])
    assert list(small["paths"]) == ["/rate_limit"]
    assert "rate-limit-overview" in small["components"]["schemas"]
    assert "issue" not in small["components"]["schemas"]
    assert len(small["components"]["schemas"]) < 10
