"""LLM calls: the wrapper and its run, usage, streams, content, cost, budgets and settings."""
