"""One registry mechanism for operators, priors, splittings and algorithms.

A registry maps a name to a factory (a class or a function returning the object).
``build(name, **overrides)`` calls the factory with keyword overrides; ``register`` is a
decorator for user code::

    @sd.operators.register("my_blur")
    class MyBlur(sd.operators.LinearOperator):
        ...
"""

from __future__ import annotations

import inspect
from typing import Any, Callable, Generic, TypeVar

T = TypeVar("T")


class Registry(Generic[T]):
    """Named factories of one kind (``kind`` is used in error messages)."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._factories: dict[str, Callable[..., T]] = {}

    def register(
        self, name: str, factory: Callable[..., T] | None = None, *, overwrite: bool = False
    ) -> Any:
        """Register ``factory`` under ``name``; without ``factory``, return a decorator.

        A second registration of the same name is an error unless ``overwrite=True``.
        """
        if not isinstance(name, str) or not name:
            raise ValueError(f"{self.kind} name must be a non-empty string, got {name!r}")

        def decorator(obj: Callable[..., T]) -> Callable[..., T]:
            if not callable(obj):
                raise ValueError(f"{self.kind} {name!r}: expected a class or function, got {obj!r}")
            if name in self._factories and not overwrite and self._factories[name] is not obj:
                raise ValueError(
                    f"{self.kind} {name!r} is already registered; pass overwrite=True to replace it"
                )
            self._factories[name] = obj
            return obj

        return decorator if factory is None else decorator(factory)

    def names(self) -> list[str]:
        """Registered names, sorted."""
        return sorted(self._factories)

    def get(self, name: str) -> Callable[..., T]:
        """The factory registered under ``name``; unknown names list the valid ones."""
        try:
            return self._factories[name]
        except (KeyError, TypeError):
            raise ValueError(
                f"unknown {self.kind} {name!r}; registered {self.kind}s: {', '.join(self.names())}"
            ) from None

    def build(self, name: str, **overrides: Any) -> T:
        """Build the object registered under ``name`` with keyword ``overrides``.

        A keyword the factory does not accept is an error naming the accepted ones.
        """
        factory = self.get(name)
        params = _keyword_names(factory)
        if params is not None:
            unknown = sorted(set(overrides) - params)
            if unknown:
                raise ValueError(
                    f"{self.kind} {name!r} does not take {', '.join(unknown)}; "
                    f"it takes: {', '.join(sorted(params)) or 'no keywords'}"
                )
        missing = sorted(set(_required_names(factory)) - set(overrides))
        if missing:
            raise ValueError(f"{self.kind} {name!r} needs {', '.join(missing)} (no default)")
        return factory(**overrides)

    def summary(self, name: str) -> str:
        """First sentence of the factory's docstring (its first paragraph, up to a period)."""
        doc = inspect.getdoc(self.get(name)) or ""
        paragraph = " ".join(doc.split("\n\n")[0].split())
        end = paragraph.find(". ")
        return paragraph if end < 0 else paragraph[: end + 1]

    def __contains__(self, name: object) -> bool:
        return name in self._factories


def _keyword_names(factory: Callable[..., Any]) -> set[str] | None:
    """Keyword names a factory accepts, or None when it takes ``**kwargs``."""
    try:
        signature = inspect.signature(factory)
    except (TypeError, ValueError):
        return None
    names = set()
    for p in signature.parameters.values():
        if p.kind is p.VAR_KEYWORD:
            return None
        if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY):
            names.add(p.name)
    return names


def _required_names(factory: Callable[..., Any]) -> list[str]:
    """Keyword-capable parameters of a factory that have no default."""
    try:
        signature = inspect.signature(factory)
    except (TypeError, ValueError):
        return []
    return [p.name for p in signature.parameters.values()
            if p.default is p.empty and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
