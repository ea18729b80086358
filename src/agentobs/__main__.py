"""``python -m agentobs``: the same as the ``agentobs`` command."""

from agentobs.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
