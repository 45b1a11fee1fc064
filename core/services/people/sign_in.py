"""Password sign-in (lab staff, institution admins, platform admins), the one path of the JSON API and the
console: the failure limits per account and per address around the constant-time password check."""
from __future__ import annotations

import redis
from sqlalchemy.orm import sessionmaker, Session

from core.config import Settings
from core.db import unit_of_work
from core.errors import Unauthorized
from core.models import User
from core.services.people.rate_limit import FailureLimit, forget_failures, give_back, take_attempt
from core.services.people.users import user_for_password


def _failure_limits(settings: Settings, username: str, address: str) -> tuple[FailureLimit, FailureLimit]:
    """Failed passwords counted per account from any address (no botnet guesses one password) and per
    address on any account (no one address locks every account). Unknown usernames are counted too:
    a lock says nothing about whether an account exists."""
    window = settings.login_failure_window_seconds
    return (
        FailureLimit("login-account", username, settings.login_failures_per_account, window,
                     "该账号密码错误次数过多，已暂时锁定，请 {minutes} 分钟后再试，或联系管理员重置密码。"),
        FailureLimit("login-ip-failures", address, settings.login_failures_per_ip, window,
                     "该网络地址登录失败次数过多，请 {minutes} 分钟后再试。"),
    )


def sign_in_with_password(factory: sessionmaker[Session], conn: redis.Redis, settings: Settings,
                          username: str, password: str, address: str) -> User:
    """The user behind a username and password, or Unauthorized / RateLimited. The attempt counts as a
    failure until it proves otherwise; a failure of ours (the database) is given back."""
    account, address_limit = limits = _failure_limits(settings, username.strip(), address)
    take_attempt(conn, limits)
    try:
        with unit_of_work(factory) as session:
            user = user_for_password(session, username, password)
    except Unauthorized:
        raise  # a wrong password (or unknown user): the attempt stays counted
    except BaseException:
        give_back(conn, limits)  # our failure, not the user's
        raise
    give_back(conn, [address_limit])
    forget_failures(conn, account)  # the owner got in: earlier typos no longer count
    return user
