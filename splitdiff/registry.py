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
import re
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
        """First sentence of the first paragraph of the factory's docstring (see :func:`first_sentence`)."""
        doc = inspect.getdoc(self.get(name)) or ""
        return first_sentence(" ".join(doc.split("\n\n")[0].split()))

    def functions(self) -> tuple[Callable[..., Any], Callable[..., T], Callable[[], list[str]], Callable[[str], Callable[..., T]]]:
        """``(register, build, names, get)``: the module-level functions each subpackage exports::

            REGISTRY = Registry("operator")
            register, build, names, get = REGISTRY.functions()
        """
        return self.register, self.build, self.names, self.get

    def __contains__(self, name: object) -> bool:
        return name in self._factories


#: Abbreviations whose period does not end a sentence (matched case-insensitively).
ABBREVIATIONS: tuple[str, ...] = (
    "e.g.", "i.e.", "et al.", "eq.", "eqs.", "sec.", "fig.", "figs.", "alg.", "vs.", "cf.", "tab.", "approx.", "resp.",
)
_ABBREVIATION_END = re.compile(
    r"(?:^|[\s(\[])(?:" + "|".join(re.escape(a) for a in ABBREVIATIONS) + r")$", re.IGNORECASE
)
_OPEN, _CLOSE = "([{", ")]}"


def first_sentence(text: str) -> str:
    """The first sentence of ``text``, or all of it when no sentence ends.

    A sentence ends at '.', '!' or '?' followed by white space or the end of the text, outside
    parentheses, brackets and backquoted code, unless the period closes an abbreviation from
    ``ABBREVIATIONS`` ("Eq. 9", "Zhu et al. 2023"). A decimal number ("3.0") has no white
    space after its point, so it never ends one.
    """
    depth, code = 0, False
    for i, char in enumerate(text):
        if char == "`":
            if i == 0 or text[i - 1] != "`":  # a run of backquotes opens or closes code once
                code = not code
        elif code:
            continue
        elif char in _OPEN:
            depth += 1
        elif char in _CLOSE:
            depth = max(0, depth - 1)
        elif char in ".!?" and depth == 0 and _ends_sentence(text, i):
            return text[: i + 1]
    return text


def _ends_sentence(text: str, i: int) -> bool:
    """Whether the punctuation at ``text[i]`` ends a sentence (not an abbreviation, white space next)."""
    if i + 1 < len(text) and not text[i + 1].isspace():
        return False
    return text[i] != "." or not _ABBREVIATION_END.search(text[: i + 1])


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
