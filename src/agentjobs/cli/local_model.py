"""`agentjobs local-model`: serve the embedded model in the foreground until stopped."""

from __future__ import annotations

import argparse
import sys


def local_model_server(args: argparse.Namespace) -> int:
    from agentjobs.local_model import LocalModelUnavailable, serve_local_model

    try:
        serve_local_model(host=args.host, port=args.port, ctx_size=args.ctx_size)
    except LocalModelUnavailable as exc:
        print(f"agentjobs: {exc}", file=sys.stderr)
        return 1
