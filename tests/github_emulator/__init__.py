"""A stateful GitHub REST API v3 emulator for end-to-end tests (see docs/emulator.md).

Start one with the ``github_emulator`` pytest fixture (tests/github_emulator/plugin.py) or by
hand with ``python -m tests.github_emulator --port 8080``.
"""

from .emulator import Emulator
from .keys import generate_private_key
from .people import Person, PersonError
from .receiver import WebhookReceiver
from .webhooks import Delivery, sign

__all__ = [
    "Delivery",
    "Emulator",
    "Person",
    "PersonError",
    "WebhookReceiver",
    "generate_private_key",
    "sign",
]
