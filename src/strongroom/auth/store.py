"""Authorization-server state in SQL (SQLAlchemy 2): one `metadata` the registry's Alembic
migration includes, so every worker sees the same sessions, codes and revocations.

Secrets are never stored: codes, PAR request URIs and refresh tokens are kept as SHA-256
digests of random 256-bit values (a digest of a high-entropy secret needs no salt), passwords
as argon2id hashes. TOTP seeds must be read back, so they are sealed by the vault like PII,
bound to their principal (`auth/login.py`): a copied database yields none of them.
"""

from __future__ import annotations

import hashlib

import sqlalchemy as sa

metadata = sa.MetaData()

clients = sa.Table(
    "auth_clients",
    metadata,
    sa.Column("client_id", sa.String(128), primary_key=True),
    sa.Column("public", sa.Boolean, nullable=False),
    sa.Column("redirect_uris", sa.JSON, nullable=False),
    sa.Column("grant_types", sa.JSON, nullable=False),
    sa.Column("jwks", sa.JSON, nullable=True),  # private_key_jwt (RFC 7523) public keys
    sa.Column("service_principal_id", sa.String(64), nullable=True),
    sa.Column("rotate_refresh_tokens", sa.Boolean, nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
)

credentials = sa.Table(
    "auth_credentials",
    metadata,
    sa.Column("principal_id", sa.String(64), primary_key=True),
    sa.Column("username", sa.String(128), nullable=False, unique=True),
    sa.Column("password_hash", sa.String(255), nullable=False),
    # Seeds enrolled before they were sealed (up to migration 0003). `Credentials` seals
    # any it finds when the service starts and never writes these again.
    sa.Column("totp_secret", sa.String(64), nullable=True),
    sa.Column("totp_pending", sa.String(64), nullable=True),
    # Vault ciphertexts (store "identity", row = principal ID).
    sa.Column("totp_secret_ct", sa.LargeBinary, nullable=True),
    sa.Column("totp_pending_ct", sa.LargeBinary, nullable=True),
    sa.Column("totp_last_step", sa.BigInteger, nullable=True),  # no TOTP code used twice
    # Consecutive failed sign-ins, when the next try may be read, and the lock.
    sa.Column("failed_logins", sa.Integer, nullable=False, server_default="0"),
    sa.Column("next_attempt_at", sa.Float, nullable=True),
    sa.Column("locked_at", sa.Float, nullable=True),
)

# WebAuthn credentials (passkeys): public keys only, so nothing here needs sealing.
passkeys = sa.Table(
    "auth_passkeys",
    metadata,
    sa.Column("credential_id", sa.String(1024), primary_key=True),  # base64url
    sa.Column("principal_id", sa.String(64), nullable=False, index=True),
    sa.Column("public_key", sa.LargeBinary, nullable=False),  # COSE_Key
    sa.Column("sign_count", sa.BigInteger, nullable=False),
    sa.Column("transports", sa.JSON, nullable=False),
    sa.Column("aaguid", sa.String(36), nullable=False),
    sa.Column("name", sa.String(128), nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("last_used_at", sa.Float, nullable=True),
    # Set when the sign count went backwards (a cloned authenticator): refused from then on.
    sa.Column("flagged_at", sa.Float, nullable=True),
)

# Outstanding WebAuthn challenges, each bound to what it was issued for (a principal
# registering, or one pushed authorization request signing in) and deleted when answered.
webauthn_challenges = sa.Table(
    "auth_webauthn_challenges",
    metadata,
    sa.Column("challenge_hash", sa.String(64), primary_key=True),
    sa.Column("ceremony", sa.String(16), nullable=False),  # register | authenticate
    sa.Column("bound_to", sa.String(128), nullable=False),
    sa.Column("expires_at", sa.Float, nullable=False),
)

par_requests = sa.Table(
    "auth_par_requests",
    metadata,
    sa.Column("uri_hash", sa.String(64), primary_key=True),
    sa.Column("client_id", sa.String(128), nullable=False),
    sa.Column("params", sa.JSON, nullable=False),
    sa.Column("expires_at", sa.Float, nullable=False),
    sa.Column("used", sa.Boolean, nullable=False, server_default=sa.false()),
)

codes = sa.Table(
    "auth_codes",
    metadata,
    sa.Column("code_hash", sa.String(64), primary_key=True),
    sa.Column("client_id", sa.String(128), nullable=False),
    sa.Column("principal_id", sa.String(64), nullable=False),
    sa.Column("session_id", sa.String(64), nullable=False),
    sa.Column("params", sa.JSON, nullable=False),
    sa.Column("expires_at", sa.Float, nullable=False),
    sa.Column("used", sa.Boolean, nullable=False, server_default=sa.false()),
)

sessions = sa.Table(
    "auth_sessions",
    metadata,
    sa.Column("session_id", sa.String(64), primary_key=True),
    sa.Column("principal_id", sa.String(64), nullable=False, index=True),
    sa.Column("client_id", sa.String(128), nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("last_seen", sa.Float, nullable=False),
    sa.Column("absolute_expiry", sa.Float, nullable=False),
    sa.Column("acr", sa.String(32), nullable=True),
    sa.Column("auth_time", sa.Float, nullable=True),
    sa.Column("ended_at", sa.Float, nullable=True),
    sa.Column("end_reason", sa.String(64), nullable=True),
    # Where the sign-in came from: a new device or network is an alert, and a second
    # session from another network is refused (policy `sign_in.other_network_sessions`).
    sa.Column("ip_prefix", sa.String(64), nullable=True),
    sa.Column("user_agent", sa.String(256), nullable=True),
)

refresh_tokens = sa.Table(
    "auth_refresh_tokens",
    metadata,
    sa.Column("token_hash", sa.String(64), primary_key=True),
    sa.Column("family_id", sa.String(64), nullable=False, index=True),
    sa.Column("session_id", sa.String(64), nullable=True, index=True),
    sa.Column("client_id", sa.String(128), nullable=False),
    sa.Column("principal_id", sa.String(64), nullable=False, index=True),
    sa.Column("jkt", sa.String(64), nullable=False),
    sa.Column("grant", sa.JSON, nullable=False),  # role, scopes, purpose, acr, ...
    sa.Column("issued_at", sa.Float, nullable=False),
    sa.Column("expires_at", sa.Float, nullable=False),
    sa.Column("used_at", sa.Float, nullable=True),
    sa.Column("revoked_at", sa.Float, nullable=True),
)

revoked_tokens = sa.Table(
    "auth_revoked_tokens",
    metadata,
    sa.Column("jti", sa.String(64), primary_key=True),
    sa.Column("expires_at", sa.Float, nullable=False),
)

# DPoP proofs (RFC 9449 §11.1) and client assertions (RFC 7523) already seen, by the
# SHA-256 of what identifies them, until their time window has passed: the primary key
# lets exactly one of the workers racing on the same proof store it.
seen_proofs = sa.Table(
    "auth_seen_proofs",
    metadata,
    sa.Column("key", sa.String(128), primary_key=True),
    sa.Column("expires_at", sa.Float, nullable=False, index=True),
)

principal_revocations = sa.Table(
    "auth_principal_revocations",
    metadata,
    sa.Column("principal_id", sa.String(64), primary_key=True),
    sa.Column("revoked_before", sa.Float, nullable=False),
)


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def make_auth_engine(url: str) -> sa.Engine:
    """An engine for the auth tables; SQLite gets a busy timeout for several workers."""
    if url.startswith("sqlite"):
        return sa.create_engine(url, connect_args={"timeout": 15})
    return sa.create_engine(url, pool_pre_ping=True)
