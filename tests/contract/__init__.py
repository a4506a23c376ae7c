"""Contract suites: our calls, the emulator's responses and webhooks vs GitHub's descriptions."""
