"""Template catalog at scale: 5,000 templates in the index, then browse and full-text search latency
through the platform API (in-process, real database), on SQLite and PostgreSQL. Target: p95 < 50 ms.

    python -m bench.catalog_search [--templates 5000] [--requests 200] [--backend sqlite|postgres|both]

PostgreSQL is the server at FLOWYARD_BENCH_POSTGRES_URL (default postgresql://postgres@127.0.0.1:5432/postgres);
a throwaway database is created and dropped. There is no raw-Prefect counterpart: Prefect has no catalog.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Callable

WORDS = ("local", "weekly", "premium", "express", "seasonal", "loyal", "regional", "smart", "quick", "friendly",
         "bakery", "salon", "clinic", "studio", "garage", "florist", "gym", "cafe", "agency", "shop")
QUERIES = ("invoice", "abandoned cart", "review request", "birthday offer", "appointment reminder", "lead follow",
           "bakery", "salon weekly", "ticket routing", "renewal")
TAGS = ("email", "sms", "leads", "reminders", "customers", "orders")


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def load_templates(url: str, count: int) -> float:
    """Publish `count` templates (the catalog's own, then variants of them) through catalog.index."""
    from catalog.index import analyze, publish
    from catalog.loader import load_all
    from store.db import get_session_factory

    real = [t.model_dump(mode="json") for t in load_all()]
    rng = random.Random(7)
    began = time.perf_counter()
    with get_session_factory(url)() as db:
        for n in range(count):
            base = real[n % len(real)]
            if n < len(real):
                definition = base
            else:
                a, b = rng.sample(WORDS, 2)
                definition = {**base, "slug": f"{base['slug'][:60]}-{n}", "title": f"{base['title']} ({a} {b} #{n})",
                              "description": f"{base['description']} Made for a {a} {b}.",
                              "tags": sorted({*base["tags"][:3], a, b})}
            publish(db, definition)
            if n % 500 == 499:
                db.commit()
        db.commit()
        analyze(db)
    return time.perf_counter() - began


def measure(client, headers: dict[str, str], requests: int) -> dict[str, list[float]]:
    rng = random.Random(11)
    categories = ("sales", "marketing", "customer-service", "operations")
    cases: dict[str, Callable[[], dict]] = {
        "browse: category, page": lambda: {"category": rng.choice(categories), "page": rng.randint(1, 40)},
        "browse: tag": lambda: {"tag": rng.choice(TAGS), "page": rng.randint(1, 20)},
        "search: words": lambda: {"q": rng.choice(QUERIES)},
        "search: words + category": lambda: {"q": rng.choice(QUERIES), "category": rng.choice(categories)},
    }
    timings: dict[str, list[float]] = {}
    for name, params in cases.items():
        for _ in range(10):  # warm-up
            client.get("/api/v1/templates", params=params(), headers=headers)
        samples = []
        for _ in range(requests):
            began = time.perf_counter()
            response = client.get("/api/v1/templates", params=params(), headers=headers)
            samples.append((time.perf_counter() - began) * 1000)
            assert response.status_code == 200, response.text
        timings[name] = samples
    return timings


def run(backend: str, url: str, count: int, requests: int) -> list[tuple]:
    from fastapi.testclient import TestClient

    from flowyard.settings import Settings
    from platform_api.app import create_app
    from store.migrate import upgrade

    upgrade(url)
    load_seconds = load_templates(url, count)
    settings = Settings(home=Path(tempfile.mkdtemp()), database_url=url, dispatcher={"enabled": False},
                        prefect={"api_url": "http://127.0.0.1:9/api"})
    with TestClient(create_app(settings)) as client:
        signup = client.post("/api/v1/signup", json={"tenant_name": "Bench", "email": f"{uuid.uuid4().hex[:8]}@example.com",
                                                     "password": "correct horse battery"})
        headers = {"Authorization": f"Bearer {signup.json()['token']}"}
        total = client.get("/api/v1/templates", headers=headers).json()["total"]
        assert total >= count, f"{total} templates in the index, expected {count}"
        timings = measure(client, headers, requests)
    rows = [(backend, f"load {count} templates", f"{load_seconds:.1f} s", "", "")]
    for name, samples in timings.items():
        p95 = pct(samples, 95)
        rows.append((backend, name, f"{statistics.median(samples):.1f} ms", f"{p95:.1f} ms",
                     "ok" if p95 < 50 else "over the 50 ms target"))
    return rows


def postgres_url() -> str | None:
    admin = os.environ.get("FLOWYARD_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    try:
        import psycopg

        conn = psycopg.connect(admin, autocommit=True, connect_timeout=3)
    except Exception as exc:
        print(f"PostgreSQL skipped: {admin} does not answer ({type(exc).__name__})")
        return None
    name = f"flowyard_bench_catalog_{uuid.uuid4().hex[:8]}"
    conn.execute(f'CREATE DATABASE "{name}"')
    conn.close()
    return admin.rsplit("/", 1)[0] + "/" + name


def drop_postgres(url: str) -> None:
    import psycopg

    admin = os.environ.get("FLOWYARD_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    from store.db import get_engine

    get_engine(url).dispose()
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)')


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.catalog_search")
    parser.add_argument("--templates", type=int, default=5000)
    parser.add_argument("--requests", type=int, default=200, help="requests per case")
    parser.add_argument("--backend", choices=("sqlite", "postgres", "both"), default="both")
    args = parser.parse_args(argv)
    rows: list[tuple] = []
    if args.backend in ("sqlite", "both"):
        with tempfile.TemporaryDirectory() as home:
            rows += run("sqlite", f"sqlite:///{home}/catalog.db", args.templates, args.requests)
    if args.backend in ("postgres", "both"):
        url = postgres_url()
        if url:
            try:
                rows += run("postgres", url, args.templates, args.requests)
            finally:
                drop_postgres(url)
    header = ("backend", "case", "p50", "p95", "target p95 < 50 ms")
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        print("  ".join(str(cell).ljust(width) for cell, width in zip(row, widths)))
    return 0 if all(r[4] in ("", "ok") for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
