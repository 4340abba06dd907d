"""The shared kernel: settings, errors, entity schemas and warehouse connections.

Nothing in `core` imports any other Encore package.
"""
