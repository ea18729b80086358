"""Instrumentation for third-party libraries: one lazy, idempotent, reversible module each."""
