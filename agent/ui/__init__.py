"""The Chainlit chat UI: local auth, history on SQLite, rendering of agent turns, the launcher.

`chainlit_app.py` at the repo root only registers Chainlit callbacks; the work happens here.
"""
