"""Abuse limits (composition root): cost estimate, rate limits, persisted operations, production mode."""
