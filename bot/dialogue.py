"""The dialogue engine behind every chat channel (WeChat, the demo page, the terminal)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import redis
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from core.db import unit_of_work
from core.errors import AppError
from core.models import Institution, Instrument, Service
from core.services.usage.status import live_statuses
from core.services.catalog.unmet_demand import record_unmet_demand
from search_index.documents import IndexDoc, searchable_docs
from search_index.engine import MAX_QUERY_CHARS, SearchEngine, SearchFilters
from search_index.text import normalise, words
from bot.intents import Turn, constraints, is_vague, read_turn
from bot.state import DialogueState, StateStore

PAGE_SIZE = 3
MAX_RESULTS = 30
# a need fits in a sentence or two; the search API takes at most this many characters too
MAX_MESSAGE_CHARS = MAX_QUERY_CHARS
MINI_PROGRAM_PATH = "pages/service/detail?code={code}"
STATUS_WORDS = {"idle": "仪器空闲", "in_use": "仪器使用中", "off": "仪器关机", "offline": "仪器离线", "unknown": "仪器状态未知"}

HINT = "回复“第2个”看详情，“换一批”看更多，“重庆的”“便宜一点的”“三天内出报告的”可以筛选，“重新开始”换个需求。"
WELCOME = (
    "您好！这里是大型仪器共享平台。用一句话说说您想检测什么，比如“辣椒粉里有没有苏丹红”"
    "“新装修的房子甲醛超标吗”“这批钢材强度够不够”，我来推荐能做的实验室、价格和周期。"
)
CLARIFY = (
    "想帮您找准实验室，能再具体一点吗？\n1）样品是什么：比如食品、水、土壤、金属零件、塑料、化妆品、药品、电子产品？"
    "\n2）想知道什么：比如有没有某种有害物质、成分含量、强度硬度、能不能通过某个标准或认证？"
)
UNMET = (
    "抱歉，平台上暂时还没有实验室提供这项检测（已记录您的需求，我们会尽快补充）。"
    "可以换个说法试试，或回复“联系平台”由工作人员帮您对接。"
)


@dataclass
class Recommendation:
    rank: int
    code: str
    name: str
    institution: str
    city: str
    price_cny: float
    price_unit: str
    turnaround_days: int | None
    status: str
    link: str


@dataclass
class BotReply:
    kind: str  # results, detail, clarify, unmet, help, empty_refine, bad_pick
    text: str
    items: list[Recommendation] = field(default_factory=list)


class Dialogue:
    def __init__(
        self,
        search: SearchEngine,
        conn: redis.Redis,
        sessions: sessionmaker[Session],
        store: StateStore | None = None,
    ):
        self.search = search
        self.conn = conn
        self.sessions = sessions
        self.store = store or StateStore(conn)

    def reply(self, user_key: str, text: str, channel: str = "demo") -> BotReply:
        text = (text or "").strip()
        if not text:
            return BotReply("help", WELCOME)
        if len(text) > MAX_MESSAGE_CHARS:
            # segmentation is superlinear in the length: a long paste must not cost the server seconds
            return BotReply("help", f"消息太长了（{len(text)} 字）。请用一两句话说说想检测什么，{MAX_MESSAGE_CHARS} 字以内，"
                                    "比如“辣椒粉里有没有苏丹红”。")
        state = self.store.load(user_key)
        cities = self.search.index().cities
        turn = read_turn(text, cities, state.active)
        handler: Callable[[str, DialogueState, Turn, str, str], BotReply] = {
            "restart": self._restart,
            "help": self._help,
            "greeting": self._help,
            "next_page": self._next_page,
            "pick": self._pick,
            "refine": self._refine,
        }.get(turn.kind, self._need)
        return handler(user_key, state, turn, text, channel)

    # ---- turns ----------------------------------------------------------
    def _restart(self, user_key: str, state: DialogueState, turn: Turn, text: str, channel: str) -> BotReply:
        self.store.clear(user_key)
        return BotReply("help", "好的，我们重新开始。" + WELCOME)

    def _help(self, user_key: str, state: DialogueState, turn: Turn, text: str, channel: str) -> BotReply:
        return BotReply("help", WELCOME)

    def _need(self, user_key: str, state: DialogueState, turn: Turn, text: str, channel: str) -> BotReply:
        if is_vague(words(normalise(text))):
            self.store.clear(user_key)
            return BotReply("clarify", CLARIFY)
        city, max_price, max_days = constraints(text, self.search.index().cities)
        state = DialogueState(query=text, city=city, max_price=max_price, max_days=max_days)
        docs = self._results(state)
        if not docs:
            with unit_of_work(self.sessions) as session:
                record_unmet_demand(session, text, channel, user_key, city)
            self.store.clear(user_key)
            return BotReply("unmet", UNMET)
        return self._show(user_key, state, docs)

    def _refine(self, user_key: str, state: DialogueState, turn: Turn, text: str, channel: str) -> BotReply:
        narrowed = DialogueState(
            query=state.query,
            city=turn.city or state.city,
            max_price=turn.max_price if turn.max_price is not None else state.max_price,
            max_days=turn.max_days if turn.max_days is not None else state.max_days,
            cheaper=turn.cheaper or state.cheaper,
        )
        docs = self._results(narrowed)
        if not docs:
            return BotReply("empty_refine", f"按“{text}”筛选后没有合适的实验室了，可以放宽条件，或回复“重新开始”。")
        return self._show(user_key, narrowed, docs)

    def _next_page(self, user_key: str, state: DialogueState, turn: Turn, text: str, channel: str) -> BotReply:
        state.page += 1
        if state.page * PAGE_SIZE >= len(state.shown):
            state.page = 0
            prefix = "已经是全部结果了，从头再看一遍：\n"
        else:
            prefix = ""
        reply = self._show(user_key, state, self._from_db(state.shown))
        reply.text = prefix + reply.text
        return reply

    def _pick(self, user_key: str, state: DialogueState, turn: Turn, text: str, channel: str) -> BotReply:
        n = turn.number or 0
        if not 1 <= n <= len(state.shown):
            return BotReply("bad_pick", f"目前的结果只有{len(state.shown)}个，请回复“第1个”到“第{len(state.shown)}个”。")
        return self._detail(state.shown[n - 1], n)

    # ---- helpers --------------------------------------------------------
    def _results(self, state: DialogueState) -> list[IndexDoc]:
        loaded = self.search.index()
        if state.city and state.city not in loaded.cities:
            return []
        filters = SearchFilters(city=state.city, max_price=state.max_price)
        docs = [h.doc for h in self.search.search(state.query, MAX_RESULTS, filters).hits]
        if state.max_days is not None:
            docs = [d for d in docs if d.turnaround_days is not None and d.turnaround_days <= state.max_days]
        if state.cheaper:
            docs.sort(key=lambda d: d.price_cny)
        return docs

    def _from_db(self, codes: list[str]) -> list[IndexDoc]:
        """Listings by code in the given order (a listing gone meanwhile is skipped)."""
        with unit_of_work(self.sessions, write=False) as session:
            found = {d.code: d for d in searchable_docs(session, codes)}
        return [found[c] for c in codes if c in found]

    def _show(self, user_key: str, state: DialogueState, docs: list[IndexDoc]) -> BotReply:
        state.shown = [d.code for d in docs]
        start = state.page * PAGE_SIZE
        page = docs[start : start + PAGE_SIZE]
        statuses = live_statuses(self.conn, [d.instrument_code for d in page])
        items = [
            Recommendation(
                rank=start + i + 1, code=d.code, name=d.name, institution=d.institution_name, city=d.city,
                price_cny=d.price_cny, price_unit=d.price_unit or "样", turnaround_days=d.turnaround_days,
                status=statuses[d.instrument_code], link=MINI_PROGRAM_PATH.format(code=d.code),
            )
            for i, d in enumerate(page)
        ]
        self.store.save(user_key, state)
        where = f"（{state.city}）" if state.city else ""
        shown = f"第{start + 1}个" if len(items) == 1 else f"第{start + 1}-{start + len(items)}个"
        lines = [f"为您找到{len(docs)}个相关检测{where}，{shown}："]
        for r in items:
            days = f" · {r.turnaround_days}天出报告" if r.turnaround_days else ""
            lines.append(
                f"{r.rank}. {r.name}\n   {r.institution}（{r.city}） · ¥{r.price_cny:g}/{r.price_unit}{days}"
                f" · {STATUS_WORDS.get(r.status, STATUS_WORDS['unknown'])}\n   预约：{r.link}"
            )
        lines.append(HINT)
        return BotReply("results", "\n".join(lines), items)

    def _detail(self, code: str, rank: int) -> BotReply:
        with unit_of_work(self.sessions, write=False) as session:
            row = session.execute(
                select(Service, Instrument, Institution)
                .join(Instrument, Service.instrument_id == Instrument.id)
                .join(Institution, Instrument.institution_id == Institution.id)
                .where(Service.code == code)
            ).first()
            if row is None:
                return BotReply("bad_pick", "这个检测刚刚下架了，请回复“换一批”看看别的。")
            svc, ins, inst = row
            status = live_statuses(self.conn, [ins.code])[ins.code]
            parts = [
                f"{rank}. {svc.name}",
                f"实验室：{inst.name}（{inst.city or ''}）",
                f"仪器：{ins.name}{' ' + ins.model if ins.model else ''} · {STATUS_WORDS.get(status, STATUS_WORDS['unknown'])}",
                f"价格：¥{float(svc.price_cny):g}/{svc.price_unit or '样'}"
                + (f" · {svc.turnaround_days}天出报告" if svc.turnaround_days else ""),
            ]
            if svc.standards:
                parts.append("依据标准：" + "、".join(svc.standards))
            if svc.accreditations:
                parts.append("资质：" + "、".join(svc.accreditations))
            if svc.description:
                parts.append("说明：" + svc.description)
            if svc.sample_requirements:
                parts.append("样品要求：" + svc.sample_requirements)
            contact = " ".join(filter(None, [inst.contact_name, inst.contact_phone, inst.address]))
            parts.append(
                "送样方式：在小程序下单后按订单地址寄送或送达" + (f"（{contact}）" if contact else "")
            )
            parts.append(f"预约：{MINI_PROGRAM_PATH.format(code=svc.code)}")
            parts.append("回复其他序号看别的结果，“换一批”看更多。")
            return BotReply("detail", "\n".join(parts))


def safe_reply(dialogue: Dialogue, user_key: str, text: str, channel: str) -> BotReply:
    """A reply even when search is down: the user gets a sentence, not silence."""
    try:
        return dialogue.reply(user_key, text, channel)
    except AppError as exc:
        return BotReply("error", f"抱歉，检索服务暂时不可用（{exc.message}）。请稍后再试。")
