"""Composition root: settings, the Starlette app, and the `contextql` command line."""
