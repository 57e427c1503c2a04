-- Staff who post from the console. A password is kept as its argon2id hash
-- (a PHC string); a user without one has not set it yet. The address is
-- kept lower-cased: it is how people log in.
CREATE TABLE staff_users (
    id            TEXT PRIMARY KEY,
    email         TEXT NOT NULL UNIQUE,
    name          TEXT NOT NULL,
    role          TEXT NOT NULL,
    password_hash TEXT,
    created_at    BIGINT NOT NULL,
    disabled_at   BIGINT
);

-- Console sessions, kept server-side so that logging out or disabling a
-- user ends them at once: the SHA-256 of the cookie's secret, never the
-- secret, and the session's CSRF token, which its forms carry.
CREATE TABLE staff_sessions (
    id_hash    TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES staff_users (id),
    csrf       TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    seen_at    BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    ip         TEXT
);
CREATE INDEX staff_sessions_by_user ON staff_sessions (user_id);
CREATE INDEX staff_sessions_by_expiry ON staff_sessions (expires_at);

-- One-time links to set a password (`candor user create` without one on
-- stdin): the SHA-256 of the link's secret, usable once, until it expires.
CREATE TABLE staff_password_links (
    hash       TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES staff_users (id),
    expires_at BIGINT NOT NULL
);
