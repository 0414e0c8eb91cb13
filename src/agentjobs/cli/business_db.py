"""`agentjobs business-db`: write the sample business database and its truth.json."""

from __future__ import annotations

import argparse


def business_db(args: argparse.Namespace) -> int:
    from agentjobs.business.generate import generate
    from agentjobs.business.truth import truth_path

    path = args.out.resolve()
    if path.exists() and not args.force:
        # It may hold another seed, or the enrichment job's writes: replacing it is asked for.
        raise SystemExit(
            f"agentjobs: {path} exists and is kept; add --force to replace it and its truth file"
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    truth = generate(path, seed=args.seed)
    print(f"agentjobs: wrote {path} and {truth_path(path)} ({truth.first_day} .. {truth.last_day})")
    if args.postgres_uri:
        import sqlalchemy as sa

        from agentjobs.business.load import load_into

        engine = sa.create_engine(args.postgres_uri)
        try:
            counts = load_into(path, engine)
        finally:
            engine.dispose()
        where = engine.url.render_as_string(hide_password=True)
        print(f"agentjobs: loaded {sum(counts.values())} rows into {where}")
    return 0
