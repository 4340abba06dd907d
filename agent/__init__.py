"""The agent and the entrypoints that serve it: the `encore` CLI first."""
