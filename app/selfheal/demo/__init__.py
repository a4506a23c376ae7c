"""`selfheal demo`: the whole product on the embedded GitHub (see docs/demo.md)."""
