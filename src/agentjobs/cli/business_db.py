"""`agentjobs business-db`: write the sample business database and its truth.json, or load the
product-shaped Ledgerly schema into PostgreSQL and write its truth (`--schema ledgerly`)."""

from __future__ import annotations

import argparse


def business_db(args: argparse.Namespace) -> int:
    if args.schema == "ledgerly":
        return _ledgerly(args)
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


def _ledgerly(args: argparse.Namespace) -> int:
    import sqlalchemy as sa

    from agentjobs.business.ledgerly.generate import generate
    from agentjobs.business.ledgerly.load import has_rows, load
    from agentjobs.business.ledgerly.truth import write_truth

    if not args.postgres_uri:
        raise SystemExit("agentjobs: --schema ledgerly is PostgreSQL's; give --postgres-uri")
    truth_file = args.out.resolve().with_name("ledgerly.truth.json")
    engine = sa.create_engine(args.postgres_uri)
    try:
        # The schema may hold the jobs' writes (links, enrichment): replacing it is asked for.
        if not args.force and (truth_file.exists() or has_rows(engine, args.pg_schema)):
            raise SystemExit(
                f"agentjobs: {truth_file} or schema {args.pg_schema} exists and is kept; "
                "add --force to replace them"
            )
        rows, truth = generate(seed=args.seed)
        counts = load(engine, rows, args.pg_schema)
    finally:
        engine.dispose()
    write_truth(truth_file, truth)
    where = engine.url.render_as_string(hide_password=True)
    print(
        f"agentjobs: loaded {sum(counts.values())} rows into {where} schema {args.pg_schema} "
        f"({truth.first_day} .. {truth.last_day}) and wrote {truth_file}"
    )
    return 0
