"""Accounts: users and roles, login with throttling, sessions, API tokens, bootstrap."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from . import security
from .store import Store, User, UserExists
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
    def __init__(
        self,
        store: Store,
        throttle: LoginThrottle,
        session_hours: int,
        idle_minutes: int | None = None,
        token_days: int = 90,
    ) -> None:
        self.store = store
        self.throttle = throttle
        self.session_s = session_hours * 3600
        self.idle_s = idle_minutes * 60 if idle_minutes else None
        self.token_days = token_days

    def create_user(self, name: str, password: str, role: str = "user") -> User:
        if not security.valid_username(name):
            raise AccountError("username must be lowercase letters, digits, '-', '_' or '.', at most 63 characters")
        if role not in ("admin", "user"):
            raise AccountError("role must be admin or user")
        try:
            security.check_new_password(password)
        except ValueError as exc:
            raise AccountError(str(exc)) from exc
        if self.store.user(name, include_disabled=True) is not None:
            raise AccountError("user exists")
        try:
            return self.store.add_user(name, security.hash_password(password), role)
        except UserExists:
            raise AccountError("user exists") from None

    def bootstrap_admin(self, name: str | None, password: str | None) -> None:
        """Create the first admin from env/Secret when there is none yet."""
        if not name or not password:
            return
        if self.store.user(name) is not None:
            return
        if self.store.count_admins() > 0:
            log.info("admin bootstrap skipped: an admin exists")
            return
        try:
            self.create_user(name, password, "admin")
        except AccountError:
            if self.store.user(name) is None:
                raise
            return  # another replica made it at the same moment
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
        if self.store.is_disabled(name):
            raise AccountError("this account is disabled: ask an administrator")
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
        found = self.store.session(security.token_hash(sid), self.idle_s)
        return Session(*found) if found else None

    def end_session(self, sid: str | None) -> None:
        if sid:
            self.store.drop_session(security.token_hash(sid))

    def new_api_token(self, user: User, label: str, days: int | None = None) -> str:
        """A new API token of ``user``, valid ``days`` (at most, and by default, the configured lifetime)."""
        label = label.strip()[:64] or "token"
        lifetime = min(days or self.token_days, self.token_days)
        if lifetime < 1:
            raise AccountError("a token lives at least one day")
        token = security.new_token(API_TOKEN_PREFIX)
        self.store.add_token(security.token_hash(token), user.name, label, time.time() + lifetime * 86400)
        return token

    def revoke_token(self, user: User, token_id: str) -> bool:
        return self.store.drop_token(user.name, token_id)

    def change_password(self, user: User, old: str, new: str, current_sid: str | None) -> None:
        """Check the old password, set the new one, and end the user's other sessions."""
        if not security.verify_password(self.store.password_hash(user.name), old):
            raise AccountError("the current password is wrong")
        try:
            security.check_new_password(new)
        except ValueError as exc:
            raise AccountError(str(exc)) from exc
        self.store.set_password_hash(user.name, security.hash_password(new))
        self.store.drop_sessions(user.name, keep=security.token_hash(current_sid) if current_sid else None)

    def _check_not_last_admin(self, admin: User, name: str, what: str) -> None:
        if name == admin.name:
            raise AccountError(f"you cannot {what} your own account")
        target = self.store.user(name, include_disabled=True)
        if target is None:
            raise AccountError(f"no user {name}")
        if target.is_admin and self.store.count_admins() <= 1 and not self.store.is_disabled(name):
            raise AccountError(f"cannot {what} the last admin")

    def disable_user(self, admin: User, name: str) -> None:
        """Disable ``name``: their sessions end and their tokens stop working at once."""
        self._check_not_last_admin(admin, name, "disable")
        self.store.set_disabled(name, True)

    def enable_user(self, name: str) -> None:
        if not self.store.set_disabled(name, False):
            raise AccountError(f"no user {name}")

    def delete_user(self, admin: User, name: str) -> None:
        self._check_not_last_admin(admin, name, "delete")
        self.store.delete_user(name)

    def token_user(self, token: str) -> User | None:
        if not token.startswith(API_TOKEN_PREFIX):
            return None
        return self.store.token_user(security.token_hash(token))
