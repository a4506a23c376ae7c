"""Hidden markers that identify the bot's own issues and comments (pure constants)."""

DASHBOARD_MARKER = "<!-- selfheal:dashboard -->"
