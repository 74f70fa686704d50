"""Authentication and authorisation (docs/permissions.md).

keys (derived keys, token digests) · passwords (argon2) · tokens (access JWTs) ·
principal (Role, Principal, authenticate) · refresh (sessions, rotation) · pins (PIN lookup,
lockouts) · login (password and PIN sign-in) · terminals · staff · permissions (the command
table, approvals) · audit (security events into the venue event log) · routes (bearer_principal).
"""
