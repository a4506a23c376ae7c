"""The demo's sample repository and its people (pure data).

A small agent system: a planner agent whose stats tool divides by zero when a plan has no
steps, a config loader that reads YAML with the unsafe loader, a vulnerable pin of
``requests``, a protected core module (the guard every agent's action passes through) and a
review-level folder (the agents' prompts, which an owner must approve changes to).
"""

from __future__ import annotations

REPO = "acme/agent-system"
OPERATOR = "olivia"  # admin: files requests, owns the policy's paths, halts and resumes
DEVELOPER = "sam"  # write: files requests of their own
AGENT = "planner"  # the agent that reports its failures through the SDK

STATS = "agents/tools/stats.py"
LOADER = "agents/loader.py"
CORE = "core/guard.py"
PROMPT = "agents/prompts/planner.md"
PINS = "requirements.txt"

BUGGY_RATIO = "    return done / total\n"
FIXED_RATIO = "    return done / total if total else 0.0\n"

POLICY = f"""\
# Who may change what in the agent system (CODEOWNERS syntax; the last matching line wins).
guardians @{OPERATOR}
/core/              protected   @{OPERATOR}
/agents/prompts/    review      @{OPERATOR}
"""

FILES: dict[str, str] = {
    "README.md": (
        "# agent-system\n\nA planner agent and its tools. selfheal's demo repository: see "
        "`selfheal demo`.\n"
    ),
    PINS: "requests==2.19.0\npyyaml==6.0.2\n",
    "agents/__init__.py": "",
    "agents/planner.py": (
        '"""The planner agent: turns a goal into steps and reports its progress."""\n\n'
        "from agents.tools.stats import ratio\n\n\n"
        "def progress(done: int, steps: list[str]) -> str:\n"
        '    return f"{ratio(done, len(steps)):.0%} done"\n'
    ),
    "agents/tools/__init__.py": "",
    STATS: (
        '"""Small numeric helpers for the agents."""\n\n\n'
        "def ratio(done: int, total: int) -> float:\n" + BUGGY_RATIO
    ),
    LOADER: (
        '"""Reads an agent\'s configuration file."""\n\n'
        "import yaml\n\n\n"
        "def load_config(path: str) -> dict:\n"
        "    with open(path) as handle:\n"
        "        return yaml.load(handle, Loader=yaml.Loader)\n"
    ),
    PROMPT: "You are the planner. Break the goal into at most ten concrete steps.\n",
    CORE: (
        '"""The guard every agent action passes through. Protected: no bot may change it."""\n'
        '\n\nALLOWED_ACTIONS = frozenset({"read", "plan", "report"})\n\n\n'
        "def allowed(action: str) -> bool:\n"
        "    return action in ALLOWED_ACTIONS\n"
    ),
    ".github/selfheal.policy": POLICY,
}

# The issue form's fields, as GitHub renders a filled-in form (.github/ISSUE_TEMPLATE).
FORM_LABELS = {
    "type": "Change type",
    "description": "What should change, and why",
    "target_files": "Target files",
    "priority": "Priority (1 low – 10 urgent)",
}


def request_body(change_type: str, description: str, targets: list[str], priority: int) -> str:
    """A change request's issue body, as the repository's issue form renders it."""
    values = {
        "type": change_type,
        "description": description,
        "target_files": "```text\n" + "\n".join(targets) + "\n```",
        "priority": str(priority),
    }
    return "\n\n".join(f"### {FORM_LABELS[key]}\n\n{value}" for key, value in values.items())


def traceback_text(host: int) -> str:
    """The planner's failure as one of its machines saw it."""
    return (
        "Traceback (most recent call last):\n"
        f'  File "/srv/agents-{host}/agents/planner.py", line 7, in progress\n'
        '    return f"{ratio(done, len(steps)):.0%} done"\n'
        f'  File "/srv/agents-{host}/{STATS}", line 5, in ratio\n'
        "    return done / total\n"
        "ZeroDivisionError: division by zero\n"
    )
