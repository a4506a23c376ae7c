"""Webhook event handlers, one gidgethub Router per concern."""
