"""Per-repository configuration: ``.github/selfheal.yml`` (pure: text in, RepoConfig out).

The text is parsed with a safe YAML loader that refuses aliases (billion-laughs documents),
duplicate keys and files over 64 KiB, validated against the JSON Schema shipped in
``app/data/selfheal.schema.json`` and merged over the defaults. Unknown keys are reported in
``RepoConfig.warnings`` (with their line) and ignored; any other problem raises
:class:`ConfigError`, whose message names the key as a JSON pointer and its line and column.

:class:`TextCache` is a small LRU keyed by (repository, commit SHA, path) for configuration and
policy text fetched from GitHub: content at a SHA never changes, so entries never go stale.
"""

from __future__ import annotations

import functools
import json
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from selfheal.model.findings import Severity
from selfheal.model.labels import HALT_LABEL
from selfheal.resources import package_data

DEFAULT_PATH = ".github/selfheal.yml"
MAX_CONFIG_BYTES = 64 * 1024
MAX_DEPTH = 32  # the schema needs 3; PyYAML's recursive composer dies near 1,000
SCHEMA_FILE = "selfheal.schema.json"
# Keys a repository may never set, whatever section they are in: what runs a program, passes
# a credential, sets a price or raises a limit belongs to the operator (the server settings).
OPERATOR_ONLY_WORDS = frozenset({
    "command", "cmd", "program", "executable", "args", "argv", "shell", "env", "environment",
    "passthrough", "price", "prices", "pricing", "ceiling", "key", "token", "secret",
    "credential", "credentials", "url", "endpoint",
})  # fmt: skip
OPERATOR_ONLY_KEYS = frozenset({"agents", "coding_agents", "options", "max_budget_usd"})
OPERATOR_ONLY_MESSAGE = (
    "is an operator-only setting: a program, an environment passthrough, a credential, a "
    "price or a higher limit is set in the server's settings (SELFHEAL_CODING_AGENTS, "
    "SELFHEAL_PRICES, SELFHEAL_BUDGET_CEILING_USD), never in a repository; a repository can "
    "only choose among the operator's coding agents and tighten their limits"
)


class ConfigError(Exception):
    """The configuration file is invalid; ``str()`` says where and why."""

    def __init__(self, message: str, source: str, line: int | None = None) -> None:
        self.message = message
        self.source = source
        self.line = line
        where = f"{source}:{line}" if line else source
        super().__init__(f"{where}: {message}")


@dataclass(frozen=True)
class GateConfig:
    check_name: str = "selfheal/security-gate"
    fail_on: Severity = Severity.HIGH
    actor_kind: str = "all"


@dataclass(frozen=True)
class ScanConfig:
    exclude: tuple[str, ...] = ()
    include_vendored: bool = False
    max_file_size_kb: int = 1024
    fail_on: Severity = Severity.HIGH

    @property
    def max_file_size(self) -> int:
        return self.max_file_size_kb * 1024


@dataclass(frozen=True)
class BudgetConfig:
    """``per_request_usd`` None: the operator's budget. A repository may only lower it."""

    per_request_usd: float | None = None
    monthly_cap_usd: float | None = None  # this month's spend may not pass it (UTC months)


@dataclass(frozen=True)
class DashboardConfig:
    enabled: bool = True


@dataclass(frozen=True)
class LabelsConfig:
    prefix: str = "selfheal:"


@dataclass(frozen=True)
class RequestsConfig:
    """``coder``: the coding agent the repository picks (None: the operator's default);
    ``allowed_agents``: the agents a ``selfheal:agent/<id>`` label may pick (empty: any);
    ``max_turns`` and ``wall_clock_seconds``: tighter limits than the agent's (None: none)."""

    coder: str | None = None
    allowed_agents: tuple[str, ...] = ()
    auto_merge: bool = False  # merge a bot PR whose paths are all open once its checks pass
    branch_template: str = "selfheal/{issue}-{slug}"
    max_open_prs: int | None = None  # None: the operator's limit (a repository may only lower it)
    max_new_prs_per_hour: int | None = None
    max_turns: int | None = None
    wall_clock_seconds: float | None = None


@dataclass(frozen=True)
class NotificationsConfig:
    # the events this repository wants notified (None: all); where they go is the operator's
    events: tuple[str, ...] | None = None


@dataclass(frozen=True)
class EndpointProbe:
    url: str
    method: str = "GET"
    expected_status: int = 200
    interval_seconds: int = 300
    timeout_seconds: float = 10.0


@dataclass(frozen=True)
class MonitorConfig:
    enabled: bool = True
    threshold: int | None = None  # None: the operator's
    window_days: float | None = None
    branches: tuple[str, ...] = ()
    count_timed_out: bool = False
    endpoints: tuple[EndpointProbe, ...] = ()


def _monitor_config(data: Mapping[str, Any]) -> MonitorConfig:
    probes = tuple(
        EndpointProbe(
            url=str(e["url"]), method=str(e.get("method", "GET")),
            expected_status=int(e.get("expected_status", 200)),
            interval_seconds=int(e.get("interval_seconds", 300)),
            timeout_seconds=float(e.get("timeout_seconds", 10.0)),
        )
        for e in data.get("endpoints", ())
    )  # fmt: skip
    threshold, window = data.get("threshold"), data.get("window_days")
    return MonitorConfig(
        enabled=bool(data.get("enabled", True)),
        threshold=None if threshold is None else int(threshold),
        window_days=None if window is None else float(window),
        branches=tuple(str(b) for b in data.get("branches", ())),
        count_timed_out=bool(data.get("count_timed_out", False)),
        endpoints=probes,
    )


@dataclass(frozen=True)
class RepoConfig:
    version: int = 1
    halt_label: str = HALT_LABEL
    gate: GateConfig = field(default_factory=GateConfig)
    scan: ScanConfig = field(default_factory=ScanConfig)
    budget: BudgetConfig = field(default_factory=BudgetConfig)
    labels: LabelsConfig = field(default_factory=LabelsConfig)
    requests: RequestsConfig = field(default_factory=RequestsConfig)
    notifications: NotificationsConfig = field(default_factory=NotificationsConfig)
    dashboard: DashboardConfig = field(default_factory=DashboardConfig)
    monitor: MonitorConfig = field(default_factory=MonitorConfig)
    warnings: tuple[str, ...] = ()
    source: str = DEFAULT_PATH


class _TooDeep(yaml.YAMLError):
    def __init__(self, mark: Any) -> None:
        super().__init__(f"nested more than {MAX_DEPTH} levels deep")
        self.line: int | None = mark.line + 1 if mark is not None else None


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader without aliases, without duplicate mapping keys and without nesting deeper
    than MAX_DEPTH: the composer recurses per level, and a 64 KiB file of ``[[[[...`` raised
    RecursionError (a traceback, and exit 1 from the CLI), so it stops at that depth."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()  # type: ignore[no-untyped-call]
            raise yaml.MarkedYAMLError(
                None, None, "YAML aliases (*name) are not allowed here", event.start_mark
            )
        if not self.check_event(yaml.CollectionStartEvent):
            return super().compose_node(parent, index)
        self._depth += 1
        if self._depth > MAX_DEPTH:
            raise _TooDeep(self.peek_event().start_mark)  # type: ignore[no-untyped-call]
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_mapping(self, node: Any, deep: bool = False) -> Any:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            if isinstance(key, str) and key in seen:
                raise yaml.MarkedYAMLError(
                    None, None, f"duplicate key {key!r}", key_node.start_mark
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


@functools.cache
def schema() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(package_data(SCHEMA_FILE).read_text(encoding="utf-8"))
    return data


def _pointer(path: Any) -> str:
    parts = [str(p).replace("~", "~0").replace("/", "~1") for p in path]
    return "/" + "/".join(parts) if parts else "(top level)"


def _locate(root: Any, path: list[Any], *, key: bool = False) -> tuple[int, int] | None:
    """1-based (line, column) of the node at ``path`` in a composed YAML tree."""
    node = root
    mark = getattr(node, "start_mark", None)
    for i, step in enumerate(path):
        last = i == len(path) - 1
        if isinstance(node, yaml.MappingNode):
            for k, v in node.value:
                if k.value == str(step):
                    node = k if (key and last) else v
                    break
            else:
                break
        elif isinstance(node, yaml.SequenceNode) and isinstance(step, int):
            if step >= len(node.value):
                break
            node = node.value[step]
        else:
            break
        mark = node.start_mark
    return (mark.line + 1, mark.column + 1) if mark is not None else None


def _at(loc: tuple[int, int] | None) -> str:
    return f" (line {loc[0]}, column {loc[1]})" if loc else ""


def _parse_yaml(text: str, source: str) -> tuple[Any, Any]:
    """The composed tree (for line numbers) and the data built from it, in one pass."""
    if len(text.encode("utf-8", "surrogatepass")) > MAX_CONFIG_BYTES:
        raise ConfigError(f"file is larger than {MAX_CONFIG_BYTES // 1024} KiB", source)
    loader = _StrictLoader(text)
    try:
        tree = loader.get_single_node()
        data = None if tree is None else loader.construct_document(tree)
    except _TooDeep as exc:
        raise ConfigError(str(exc), source, exc.line) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        column = f", column {mark.column + 1}" if mark is not None else ""
        problem = exc.problem or exc.context or "invalid YAML"
        raise ConfigError(f"invalid YAML: {problem} (line {line}{column})", source, line) from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"invalid YAML: {exc}", source) from None
    finally:
        loader.dispose()
    return tree, data


def load_repo_config(text: str | None, source: str = DEFAULT_PATH) -> RepoConfig:
    """Parse, validate and merge a configuration file; ``None`` (no file) gives defaults."""
    if text is None or not text.strip():
        return RepoConfig(source=source)
    tree, data = _parse_yaml(text, source)
    if data is None:
        return RepoConfig(source=source)
    if not isinstance(data, dict):
        raise ConfigError(
            f"the top level must be a mapping of keys, not a {type(data).__name__}", source, 1
        )
    validator = jsonschema.Draft202012Validator(schema())
    warnings: list[str] = []
    problems: list[tuple[str, tuple[int, int] | None, str]] = []
    for error in sorted(validator.iter_errors(data), key=lambda e: list(map(str, e.path))):
        path = list(error.absolute_path)
        if error.validator == "additionalProperties" and isinstance(error.instance, dict):
            known = set(error.schema.get("properties", {}))
            for name in sorted(set(error.instance) - known, key=str):
                loc = _locate(tree, [*path, name], key=True)
                if operator_only(name):
                    problems.append((_pointer([*path, name]), loc, OPERATOR_ONLY_MESSAGE))
                    continue
                warnings.append(f"unknown key {_pointer([*path, name])}{_at(loc)} is ignored")
                error.instance.pop(name)
            continue
        problems.append((_pointer(path), _locate(tree, path), error.message))
    if problems:
        pointer, loc, message = problems[0]
        more = f" (and {len(problems) - 1} more problems)" if len(problems) > 1 else ""
        raise ConfigError(f"{pointer}{_at(loc)}: {message}{more}", source, loc[0] if loc else None)
    return _build(data, tuple(warnings), source)


def operator_only(key: object) -> bool:
    """Whether ``key`` names something only the operator may set (see OPERATOR_ONLY_WORDS)."""
    name = str(key).lower()
    words = set(name.replace("-", "_").replace(".", "_").split("_"))
    return name in OPERATOR_ONLY_KEYS or bool(words & OPERATOR_ONLY_WORDS)


def _section(data: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    value = data.get(name)
    return value if isinstance(value, Mapping) else {}


def _optional_int(value: Any) -> int | None:
    return None if value is None else int(value)


def _optional_float(value: Any) -> float | None:
    return None if value is None else float(value)


def _build(data: Mapping[str, Any], warnings: tuple[str, ...], source: str) -> RepoConfig:
    gate, scan, budget = _section(data, "gate"), _section(data, "scan"), _section(data, "budget")
    labels, requests = _section(data, "labels"), _section(data, "requests")
    notes = _section(data, "notifications")
    defaults = RepoConfig()
    return RepoConfig(
        version=int(data.get("version", 1)),
        halt_label=str(data.get("halt_label", defaults.halt_label)).strip(),
        gate=GateConfig(
            check_name=str(gate.get("check_name", defaults.gate.check_name)),
            fail_on=Severity.parse(str(gate.get("fail_on", "high"))),
            actor_kind=str(gate.get("actor_kind", "all")),
        ),
        scan=ScanConfig(
            exclude=tuple(str(p) for p in scan.get("exclude", ())),
            include_vendored=bool(scan.get("include_vendored", False)),
            max_file_size_kb=int(scan.get("max_file_size_kb", 1024)),
            fail_on=Severity.parse(str(scan.get("fail_on", "high"))),
        ),
        budget=BudgetConfig(
            per_request_usd=_optional_float(budget.get("per_request_usd")),
            monthly_cap_usd=_optional_float(budget.get("monthly_cap_usd")),
        ),
        dashboard=DashboardConfig(enabled=bool(_section(data, "dashboard").get("enabled", True))),
        labels=LabelsConfig(prefix=str(labels.get("prefix", "selfheal:"))),
        requests=RequestsConfig(
            coder=str(requests["coder"]) if requests.get("coder") is not None else None,
            allowed_agents=tuple(str(a) for a in requests.get("allowed_agents", ())),
            auto_merge=bool(requests.get("auto_merge", False)),
            branch_template=str(requests.get("branch_template", "selfheal/{issue}-{slug}")),
            max_open_prs=_optional_int(requests.get("max_open_prs")),
            max_new_prs_per_hour=_optional_int(requests.get("max_new_prs_per_hour")),
            max_turns=int(requests["max_turns"]) if "max_turns" in requests else None,
            wall_clock_seconds=_optional_float(requests.get("wall_clock_seconds")),
        ),
        notifications=NotificationsConfig(
            events=tuple(str(e) for e in notes["events"]) if "events" in notes else None
        ),
        monitor=_monitor_config(_section(data, "monitor")),
        warnings=warnings,
        source=source,
    )


def load_repo_config_file(root: Path, relative: str = DEFAULT_PATH) -> RepoConfig:
    """The configuration of a checkout on disk (defaults when the file does not exist)."""
    path = root / relative
    if not path.is_file():
        return RepoConfig(source=relative)
    if path.stat().st_size > MAX_CONFIG_BYTES:
        raise ConfigError(f"file is larger than {MAX_CONFIG_BYTES // 1024} KiB", relative)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read: {type(exc).__name__}", relative) from None
    return load_repo_config(text, relative)


CacheKey = tuple[str, str, str]


class TextCache:
    """LRU of file text by (repository, commit SHA, path); ``None`` caches "no such file"."""

    def __init__(self, maxsize: int = 256) -> None:
        self.maxsize = maxsize
        self._items: OrderedDict[CacheKey, str | None] = OrderedDict()
        self.hits = 0
        self.misses = 0

    def get(self, repo: str, sha: str, path: str) -> tuple[bool, str | None]:
        key = (repo, sha, path)
        if key in self._items:
            self._items.move_to_end(key)
            self.hits += 1
            return True, self._items[key]
        self.misses += 1
        return False, None

    def put(self, repo: str, sha: str, path: str, text: str | None) -> None:
        self._items[(repo, sha, path)] = text
        self._items.move_to_end((repo, sha, path))
        while len(self._items) > self.maxsize:
            self._items.popitem(last=False)

    async def fetch(
        self, repo: str, sha: str, path: str, loader: Callable[[], Awaitable[str | None]]
    ) -> str | None:
        """The cached text, or ``await loader()`` stored under the key."""
        found, text = self.get(repo, sha, path)
        if found:
            return text
        text = await loader()
        self.put(repo, sha, path, text)
        return text

    def __len__(self) -> int:
        return len(self._items)
