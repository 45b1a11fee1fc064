"""同义词: the lay-word → technical-word dictionary (core/services/catalog/synonyms.py, as `flask search
synonyms`), with a try box that runs a query against the saved dictionary and against the entry as
typed, before anything is saved."""
from __future__ import annotations

import re
from typing import Any

from flask import current_app, flash, g, redirect, render_template, request, url_for

from core.errors import AppError
from core.services.catalog.browse import browse_synonyms
from core.services.catalog.synonyms import MAX_TERM, all_synonyms, put_synonym, remove_synonym
from search_index.engine import MAX_QUERY_CHARS, SearchEngine, SearchResult
from search_index.synonyms import SynonymTable
from web.console.blueprint import console_bp
from web.console.form_once import once
from web.session import ADMIN_ROLES, platform, requires

TRY_LIMIT = 5
_SPLIT = re.compile(r"[\n\r,，、;；]+")


def parse_expansions(text: str) -> list[str]:
    """One technical word per line (commas and 、 also separate them)."""
    return [w.strip() for w in _SPLIT.split(text or "") if w.strip()][:50]


def _term_key(term: str) -> str:
    return " ".join(term.split()).lower()  # as the dictionary stores it


def _page(form: dict[str, str], errors: dict[str, str], status: int = 200) -> Any:
    q = (request.args.get("q") or "").strip()[:100]
    page = request.args.get("page", "1")
    with platform().transaction(write=False) as session:
        entries = browse_synonyms(session, q, int(page) if page.isdigit() and len(page) < 6 else 1)

    def page_url(n: int) -> str:
        return url_for("console.synonyms", q=q or None, page=n)

    return render_template("console/synonyms.html", entries=entries, q=q, form=form, errors=errors,
                           page_url=page_url, max_term=MAX_TERM), status


@console_bp.get("/synonyms")
@requires(*ADMIN_ROLES)
def synonyms():  # type: ignore[no-untyped-def]
    term = (request.args.get("term") or "").strip()[:MAX_TERM]
    expansions = request.args.get("expansions") or ""
    if term and not expansions:  # "编辑": the saved entry
        with platform().transaction(write=False) as session:
            expansions = "\n".join(all_synonyms(session).get(_term_key(term), []))
    try_q = (request.args.get("try_q") or "").strip()[:MAX_QUERY_CHARS]
    return _page({"term": term, "expansions": expansions[:2000], "try_q": try_q}, {})


@console_bp.post("/synonyms")
@requires(*ADMIN_ROLES)
def save_synonym():  # type: ignore[no-untyped-def]
    form = {"term": (request.form.get("term") or "").strip(), "expansions": request.form.get("expansions") or "",
            "try_q": request.form.get("try_q") or ""}
    errors = {}
    if not form["term"]:
        errors["term"] = "请填写词条（用户会说的词）。"
    elif len(_term_key(form["term"])) > MAX_TERM:
        errors["term"] = f"词条最多 {MAX_TERM} 个字符。"
    if not parse_expansions(form["expansions"]):
        errors["expansions"] = "请至少填写一个扩展词（实验室会写的专业词），每行一个。"
    if errors:
        return _page(form, errors, 400)

    def action() -> Any:
        try:
            with platform().transaction() as session:
                row = put_synonym(session, g.user, form["term"], parse_expansions(form["expansions"]))
                saved = f"已保存同义词：{row.term} → {' / '.join(row.expansions)}。"
        except AppError as exc:
            return _page(form, {"expansions": exc.message}, exc.status)
        flash(saved + "搜索在几秒内使用新词典。", "success")
        return redirect(url_for("console.synonyms", term=form["term"]), 303)
    return once(action)


@console_bp.post("/synonyms/remove")
@requires(*ADMIN_ROLES)
def remove_synonym_view():  # type: ignore[no-untyped-def]
    term = (request.form.get("term") or "").strip()

    def action() -> Any:
        try:
            with platform().transaction() as session:
                remove_synonym(session, g.user, term)
        except AppError as exc:
            flash(exc.message, "error")
        else:
            flash(f"已删除同义词「{term}」。", "success")
        return redirect(url_for("console.synonyms", q=request.form.get("q") or None), 303)
    return once(action)


@console_bp.post("/synonyms/try")
@requires(*ADMIN_ROLES)
def try_synonym():  # type: ignore[no-untyped-def]
    """htmx: the top results of a query with the saved dictionary and with the entry as typed."""
    query = (request.form.get("try_q") or "").strip()
    term = _term_key(request.form.get("term") or "")
    expansions = parse_expansions(request.form.get("expansions") or "")
    if not query or len(query) > MAX_QUERY_CHARS:
        return render_template("console/synonyms_try.html", error=f"请输入要试的搜索内容（1 到 {MAX_QUERY_CHARS} 个字）。")
    if not term:
        return render_template("console/synonyms_try.html", error="请先在上面填写词条。")
    with platform().transaction(write=False) as session:
        saved = all_synonyms(session)
    edited = {k: v for k, v in saved.items() if k != term}
    if expansions:
        edited[term] = expansions  # no expansions: what search would do with the entry removed
    engine: SearchEngine = current_app.extensions["search"]
    try:
        before = engine.search(query, TRY_LIMIT, synonyms=SynonymTable(saved))
        after = engine.search(query, TRY_LIMIT, synonyms=SynonymTable(edited))
    except AppError as exc:  # no index yet, or the model cannot load: said, not a stack trace
        return render_template("console/synonyms_try.html", error=exc.message)
    return render_template("console/synonyms_try.html", query=query, before=_shown(before), after=_shown(after),
                           removing=not expansions, term=term, changed=_codes(before) != _codes(after))


def _codes(result: SearchResult) -> list[str]:
    return [h.doc.code for h in result.hits]


def _shown(result: SearchResult) -> dict[str, Any]:
    return {"hits": [{"code": h.doc.code, "name": h.doc.name, "institution": h.doc.institution_name,
                      "city": h.doc.city, "score": h.score, "why": h.why} for h in result.hits],
            "expansions": [f"{e.term} → {' / '.join(e.expansions)}" for e in result.expansions]}
