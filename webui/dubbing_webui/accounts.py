"""Accounts: users and roles, login with throttling, sessions, API tokens, bootstrap."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from . import security
from .store import Store, User
from .throttle import LoginThrottle

log = logging.getLogger(__name__)

API_TOKEN_PREFIX = "dbt_"


class AccountError(ValueError):
    pass


class Throttled(Exception):
    pass


@dataclass(frozen=True)
class Session:
    user: User
    csrf: str


class Accounts:
    def __init__(self, store: Store, throttle: LoginThrottle, session_hours: int) -> None:
        self.store = store
        self.throttle = throttle
        self.session_s = session_hours * 3600

    def create_user(self, name: str, password: str, role: str = "user") -> User:
        if not security.valid_username(name):
            raise AccountError("username must be lowercase letters, digits, '-', '_' or '.', at most 63 characters")
        if role not in ("admin", "user"):
            raise AccountError("role must be admin or user")
        try:
            security.check_new_password(password)
        except ValueError as exc:
            raise AccountError(str(exc)) from exc
        if self.store.user(name) is not None:
            raise AccountError("user exists")
        return self.store.add_user(name, security.hash_password(password), role)

    def bootstrap_admin(self, name: str | None, password: str | None) -> None:
        """Create the first admin from env/Secret when there is none yet."""
        if not name or not password:
            return
        if self.store.user(name) is not None:
            return
        if self.store.count_admins() > 0:
            log.info("admin bootstrap skipped: an admin exists")
            return
        self.create_user(name, password, "admin")
        log.info("bootstrapped admin %s", name)

    def authenticate(self, name: str, password: str, client: str) -> User:
        if self.throttle.blocked(name, client):
            raise Throttled()
        if not security.valid_username(name):
            # No account can have this name (the rule is public), so no hash is worth computing.
            self.throttle.failure(name, client)
            raise AccountError("wrong username or password")
        stored = self.store.password_hash(name)
        if not security.verify_password(stored, password):
            self.throttle.failure(name, client)
            raise AccountError("wrong username or password")
        self.throttle.success(name, client)
        assert stored is not None
        if security.needs_rehash(stored):
            self.store.set_password_hash(name, security.hash_password(password))
        user = self.store.user(name)
        assert user is not None
        return user

    def start_session(self, user: User) -> tuple[str, Session]:
        sid = security.new_token()
        csrf = security.new_token()
        self.store.add_session(security.token_hash(sid), user.name, csrf, time.time() + self.session_s)
        return sid, Session(user, csrf)

    def session(self, sid: str | None) -> Session | None:
        if not sid:
            return None
        found = self.store.session(security.token_hash(sid))
        return Session(*found) if found else None

    def end_session(self, sid: str | None) -> None:
        if sid:
            self.store.drop_session(security.token_hash(sid))

    def new_api_token(self, user: User, label: str) -> str:
        label = label.strip()[:64] or "token"
        token = security.new_token(API_TOKEN_PREFIX)
        self.store.add_token(security.token_hash(token), user.name, label)
        return token

    def token_user(self, token: str) -> User | None:
        if not token.startswith(API_TOKEN_PREFIX):
            return None
        return self.store.token_user(security.token_hash(token))
