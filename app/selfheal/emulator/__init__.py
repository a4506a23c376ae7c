"""A stateful GitHub REST API v3 emulator: the embedded GitHub of `selfheal demo` and of the
end-to-end tests (see docs/emulator.md).

Start one with the ``github_emulator`` pytest fixture (tests/support/emulator_plugin.py) or by
hand with ``python -m selfheal.emulator --port 8080``.
"""

from .emulator import Emulator
from .keys import generate_private_key
from .people import Person, PersonError
from .webhooks import Delivery, sign

__all__ = [
    "Delivery",
    "Emulator",
    "Person",
    "PersonError",
    "generate_private_key",
    "sign",
]
