"""`flask search …`: build, sync, query and evaluate the index; edit synonyms."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import click
from flask import current_app

from core.db import unit_of_work
from core.errors import AppError
from core.services.people.authz import command_line_actor
from core.services.catalog.synonyms import all_synonyms, load_synonyms, put_synonym, remove_synonym
from search_index.builder import build_full, sync_changes
from search_index.engine import SearchEngine, SearchFilters
from search_index.evaluation import evaluate, read_queries
from core.cli_group import PlatformGroup

search_cli = PlatformGroup("search", help="The semantic search index.")
synonyms_cli = PlatformGroup("synonyms", help="The lay-word → technical-word dictionary.")
search_cli.add_command(synonyms_cli)


def _engine() -> SearchEngine:
    return current_app.extensions["search"]


def _sessions():  # type: ignore[no-untyped-def]
    return current_app.extensions["platform"].session_factory


def _fail(message: str) -> None:
    click.echo(f"Error: {message}", err=True)
    sys.exit(1)


@search_cli.command("reindex")
def reindex() -> None:
    """Rebuild the index from the database and switch to it atomically."""
    engine = _engine()
    try:
        encoder = engine.encoder
        with unit_of_work(_sessions()) as session:
            bar = click.progressbar(length=1, label="Encoding listings", file=sys.stderr, show_pos=True, show_eta=True)

            def total(n: int) -> None:
                bar.length = max(n, 1)
                bar.render_progress()

            with bar:
                workers = current_app.extensions["platform"].settings.build_workers
                manifest = build_full(session, engine.store, encoder, progress=bar.update, on_total=total, workers=workers)
    except AppError as exc:
        _fail(exc.message)
    click.echo(f"Index {manifest.version} is live: {manifest.docs} listings, model {manifest.model}.")


@search_cli.command("sync")
def sync() -> None:
    """Apply pending listing changes to the index without a rebuild."""
    engine = _engine()
    with unit_of_work(_sessions()) as session:
        report = sync_changes(session, engine.store, engine.encoder)
    if report.version is None:
        click.echo("The index is up to date.")
    else:
        how = "merged into one segment" if report.merged else "as a new segment"
        click.echo(
            f"Index {report.version}: {report.changed} listings changed "
            f"({report.added} indexed, {report.removed} removed), {how}."
        )


def _filters(city: str | None, category: str | None, max_price: float | None, accreditation: str | None) -> SearchFilters:
    return SearchFilters(city=city, category=category, max_price=max_price, accreditation=accreditation)


@search_cli.command("query")
@click.argument("text")
@click.option("--limit", default=5, show_default=True, type=click.IntRange(1, 50))
@click.option("--city")
@click.option("--category")
@click.option("--max-price", type=float)
@click.option("--accreditation")
def query(text: str, limit: int, city: str | None, category: str | None, max_price: float | None, accreditation: str | None) -> None:
    """Search from the terminal."""
    try:
        result = _engine().search(text, limit, _filters(city, category, max_price, accreditation))
    except AppError as exc:
        _fail(exc.message)
    if result.expansions:
        click.echo("synonyms: " + "; ".join(f"{e.term} → {'/'.join(e.expansions)}" for e in result.expansions))
    if not result.hits:
        click.echo("No listing matches this need confidently.")
    for rank, hit in enumerate(result.hits, start=1):
        d = hit.doc
        click.echo(
            f"{rank}. [{hit.score:.2f}] {d.name}  ¥{d.price_cny:g}/{d.price_unit or '样'}"
            f"  {d.institution_name}（{d.city}）  {d.code}\n     why: {', '.join(hit.why) or '语义相近'}"
            f"  (bm25 {hit.lexical:.1f}, cosine {hit.cosine:.2f})"
        )


@search_cli.command("evaluate")
@click.argument("queries_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--misses/--no-misses", default=True, help="List the queries hybrid got wrong.")
def evaluate_cmd(queries_file: Path, misses: bool) -> None:
    """hit@1, hit@3 and MRR of lexical, vector and hybrid on a labelled set."""
    try:
        queries = read_queries(queries_file.read_text("utf-8").splitlines())
    except ValueError as exc:
        _fail(f"{queries_file}: {exc}")
    try:
        scores = evaluate(_engine(), queries)
    except AppError as exc:
        _fail(exc.message)
    answerable = scores[0].answerable
    click.echo(f"{len(queries)} queries ({answerable} answerable, {scores[0].unanswerable} with no right answer)")
    click.echo(f"{'mode':<8} {'hit@1':>6} {'hit@3':>6} {'MRR':>6} {'silent on unanswerable':>24}")
    for s in scores:
        silent = f"{s.silent}/{s.unanswerable}" if s.unanswerable else "-"
        click.echo(f"{s.mode:<8} {s.hit_at_1:6.3f} {s.hit_at_3:6.3f} {s.mrr:6.3f} {silent:>24}")
    hybrid = scores[-1]
    kinds = sorted(hybrid.by_kind)
    if kinds:
        click.echo("hybrid MRR by kind: " + ", ".join(
            f"{k} {sum(v) / len(v):.3f} (n={len(v)})" for k, v in ((k, hybrid.by_kind[k]) for k in kinds)))
    if misses and hybrid.misses:
        click.echo(f"\nhybrid misses ({len(hybrid.misses)}):")
        for q, got in hybrid.misses:
            want = ",".join(q.expected[:3]) or "(nothing)"
            click.echo(f"  [{q.kind}] {q.query}  want {want}  got {','.join(got) or '(nothing)'}")


@synonyms_cli.command("list")
def synonyms_list() -> None:
    with unit_of_work(_sessions()) as session:
        for term, expansions in all_synonyms(session).items():
            click.echo(json.dumps({"term": term, "expansions": expansions}, ensure_ascii=False))


@synonyms_cli.command("set")
@click.argument("term")
@click.argument("expansions", nargs=-1, required=True)
def synonyms_set(term: str, expansions: tuple[str, ...]) -> None:
    """Add or replace TERM → EXPANSIONS…"""
    try:
        with unit_of_work(_sessions()) as session:
            row = put_synonym(session, command_line_actor(), term, expansions)
    except AppError as exc:
        _fail(exc.message)
    click.echo(f"{row.term} → {' / '.join(row.expansions)}")


@synonyms_cli.command("remove")
@click.argument("term")
def synonyms_remove(term: str) -> None:
    try:
        with unit_of_work(_sessions()) as session:
            remove_synonym(session, command_line_actor(), term)
    except AppError as exc:
        _fail(exc.message)
    click.echo(f"Removed {term}.")


@synonyms_cli.command("load")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def synonyms_load(file: Path) -> None:
    """Upsert a JSON Lines dictionary ({"term": …, "expansions": […]})."""
    with unit_of_work(_sessions()) as session:
        report = load_synonyms(session, command_line_actor(), file.read_text("utf-8").splitlines())
    for line_no, reason in report.rejected:
        click.echo(f"line {line_no}: rejected: {reason}", err=True)
    click.echo(f"Loaded {report.loaded} synonyms, {len(report.rejected)} rejected.")
