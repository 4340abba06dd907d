"""The Chainlit chat UI: local auth, history on SQLite, rendering of agent turns, the launcher.

`chainlit_app.py` at the repo root only registers Chainlit callbacks; the work happens here.
Everything the UI keeps lives under `<data_dir>/ui` (users.json, demo_login.txt, auth_secret,
history.sqlite, all 0600), the tables, charts and files of past answers under
`<data_dir>/ui/elements` (served back only to their owner, so a resumed thread shows them again)
and uploads under `<data_dir>/uploads`.

Sign-in, by configuration:
- Password (always on): local users in `users.json`, scrypt-hashed; `start_ui` creates the demo
  user once and prints its login. Add users with `agent.ui.auth.UserStore(settings).add(...)`.
- Header auth, for deployments behind an authenticating proxy: `ENCORE_UI_HEADER_AUTH=true`;
  the user comes from `ENCORE_UI_HEADER_USER` (default `x-forwarded-user`), the role from
  `ENCORE_UI_HEADER_ROLE` (default `x-forwarded-role`). Only turn it on when the proxy strips
  those headers from client requests.
- Cognito OAuth: set Chainlit's `OAUTH_COGNITO_CLIENT_ID`, `OAUTH_COGNITO_CLIENT_SECRET` and
  `OAUTH_COGNITO_DOMAIN` (the hosted UI domain, no scheme), plus `CHAINLIT_URL` when the public
  address differs from the bound one; the app registers its OAuth callback only then. The Cognito
  app client's callback URL is `<CHAINLIT_URL>/auth/oauth/aws-cognito/callback`.

The agent: `ENCORE_UI_AGENT` (default `agent.service:AgentService.create`) names the factory,
`ENCORE_MODEL` the initial model; users switch model and role (never above their own) in the
chat settings, where their remembered preferences are also shown and edited (or type
`/preferences`).
"""
