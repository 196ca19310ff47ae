"""One small registry used for datasets, aligners, feature extractors, models and metrics.

Entries are either objects or lazy ``"module:attr"`` strings, imported only when looked up,
so registering a torch model never imports torch at CLI start-up.  Each registry may carry a
contract check (``contract=``): it runs when an object is registered or a lazy target is first
looked up, and says in one line what the entry lacks.
"""

from __future__ import annotations

import difflib
import importlib
from typing import Any, Callable, Iterator

from .common.errors import UserError


class Registry:
    """Maps a name to an object or a lazy ``"package.module:attr"`` target."""

    def __init__(self, kind: str, contract: Callable[[Any, str], Any] | str | None = None):
        """``contract(target, name)`` checks an entry when it is registered (objects) or first looked
        up (lazy targets); it returns the object to hand out or raises a one-line UserError.  It may
        itself be a lazy ``"module:function"`` string, imported when first needed."""
        self.kind = kind
        self._contract = contract
        self._entries: dict[str, Any] = {}
        self._help: dict[str, str] = {}

    def register(self, name: str, target: Any = None, *, help: str = ""):
        """Register ``target`` under ``name``; usable as a decorator when target is omitted."""
        if target is None:
            def decorator(obj):
                self.register(name, obj, help=help)
                return obj
            return decorator
        if name in self._entries:
            raise ValueError(f"{self.kind} '{name}' is registered twice")
        if not isinstance(target, str) and self._contract is not None:
            self.check(target, name)
        self._entries[name] = target
        self._help[name] = help
        return target

    def unregister(self, name: str) -> None:
        """Remove ``name`` (tests and plug-ins that register something for a while)."""
        if name not in self._entries:
            raise KeyError(f"{self.kind} '{name}' is not registered")
        del self._entries[name], self._help[name]

    def names(self) -> list[str]:
        return sorted(self._entries)

    def help(self, name: str) -> str:
        return self._help.get(name, "")

    def __contains__(self, name: str) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def get(self, name: str) -> Any:
        """The registered object; lazy targets are imported on first use."""
        if name not in self._entries:
            close = difflib.get_close_matches(name, self._entries, n=3, cutoff=0.5)
            hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
            raise UserError(
                f"unknown {self.kind} '{name}'{hint} (known: {', '.join(self.names()) or 'none'})"
            )
        target = self._entries[name]
        if isinstance(target, str):
            target = self._entries[name] = _import(target)
        return self.check(target, name) if self._contract is not None else target

    def check(self, target: Any, name: str) -> Any:
        """``target`` checked against this registry's contract (as handed out), or a one-line UserError."""
        if isinstance(self._contract, str):
            self._contract = _import(self._contract)
        return self._contract(target, name)


def _import(target: str) -> Any:
    """The object named by ``"package.module:attr"`` (the module itself when there is no ``:attr``)."""
    module_name, _, attr = target.partition(":")
    module = importlib.import_module(module_name)
    return getattr(module, attr) if attr else module
