"""An ASGI app that imports the real one at its first request (see ui/plugin.py)."""

from __future__ import annotations

import importlib
from typing import Any


class LazyApp:
    def __init__(self, target: str) -> None:
        self.target = target  # "module:attribute"
        self._app: Any = None

    def load(self) -> Any:
        if self._app is None:
            module, _, name = self.target.partition(":")
            self._app = getattr(importlib.import_module(module), name)
        return self._app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await self.load()(scope, receive, send)
