"""The REST API (`encore serve api`): the insight tools over HTTP with bearer-token auth.

Auth by `ENCORE_AUTH`: `local` (default) issues HS256 tokens for the UI's local users at
POST /v1/token, signed with a secret kept in `<data_dir>/api/jwt_secret` (0600); `cognito`
accepts a user pool's RS256 tokens (ENCORE_COGNITO_USER_POOL_ID, optional _APP_CLIENT_ID,
_JWKS_URL, _GROUP_ROLES) and takes the role from `cognito:groups`. Limits: ENCORE_API_*
(agent/rest/config.py). Rate-limit buckets and revoked tokens live in SQLite files under
`<data_dir>/api`, shared by every process serving that data dir. Modules: `server` (`serve`:
listens first, then imports the app), `app` (routes), `auth`,
`revocation`, `limits`, `shared_db`, `errors`, `config`, `warmup` (the forecaster loaded as the
server starts), `bench`.
"""
