"""Prune GitHub's REST OpenAPI description to the calls selfheal makes.

Prism needs about a minute to load the full description (800+ paths). The contract suite
serves this pruned copy instead: only the operations listed in ``app.github.calls.CALLS``,
plus every component they reference (transitively). A test regenerates it in memory and
fails when the committed file is stale.

Usage: python scripts/prune_openapi.py [--source FILE] [--output FILE]
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT / "node_modules/@octokit/openapi/generated/api.github.com.json"
OUTPUT = ROOT / "tests/contract/github-pruned.json"
KEEP_TOP = ("openapi", "info", "servers")


def _refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield value
            else:
                yield from _refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _refs(value)


def _lookup(spec: Mapping[str, Any], ref: str) -> Any:
    if not ref.startswith("#/"):
        raise ValueError(f"external $ref not supported: {ref}")
    node: Any = spec
    for part in ref[2:].split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def prune(spec: Mapping[str, Any], operations: Iterable[tuple[str, str]]) -> dict[str, Any]:
    """A copy of ``spec`` holding only ``operations`` ((method, path) pairs) and the
    components they reference."""
    out: dict[str, Any] = {key: spec[key] for key in KEEP_TOP if key in spec}
    paths: dict[str, Any] = {}
    for method, path in sorted(set(operations)):
        source = spec["paths"].get(path, {})
        operation = source.get(method.lower())
        if operation is None:
            raise KeyError(f"{method} {path} is not in the OpenAPI description")
        target = paths.setdefault(path, {})
        if "parameters" in source:
            target["parameters"] = source["parameters"]
        target[method.lower()] = operation
    out["paths"] = dict(sorted(paths.items()))

    seen: set[str] = set()
    pending = list(_refs(out["paths"]))
    while pending:
        ref = pending.pop()
        if ref in seen:
            continue
        seen.add(ref)
        pending.extend(_refs(_lookup(spec, ref)))
    components: dict[str, dict[str, Any]] = {}
    for ref in sorted(seen):
        parts = ref[2:].split("/")
        if parts[0] != "components" or len(parts) != 3:
            raise ValueError(f"unexpected $ref shape: {ref}")
        components.setdefault(parts[1], {})[parts[2]] = _lookup(spec, ref)
    out["components"] = {
        kind: dict(sorted(items.items())) for kind, items in sorted(components.items())
    }
    return out


def render(pruned: Mapping[str, Any]) -> str:
    return json.dumps(pruned, indent=1, sort_keys=False, ensure_ascii=False) + "\n"


def pruned_text(source: Path = SOURCE) -> str:
    """The pruned description for the current CALLS, as the committed file should read."""
    sys.path.insert(0, str(ROOT))
    from selfheal.github.calls import CALLS

    spec = json.loads(source.read_text(encoding="utf-8"))
    return render(prune(spec, ((c.method, c.path) for c in CALLS.values())))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, default=SOURCE)
    parser.add_argument("--output", type=Path, default=OUTPUT)
    args = parser.parse_args(argv)
    text = pruned_text(args.source)
    args.output.write_text(text, encoding="utf-8")
    print(f"wrote {args.output} ({len(text):,} bytes)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
