import inspect
import re

import pytest

import splitdiff as sd
from splitdiff.registry import Registry

PAPER_ALGORITHMS = {"ddiff", "ddiff-hqs", "diff-pnp-admm", "diff-pnp-hqs", "diffpir", "pnp-admm", "pnp-hqs"}
PAPER_OPERATORS = {"super_resolution", "gaussian_blur", "motion_blur", "inpainting", "phase_retrieval", "hdr"}


def test_paper_names_are_registered():
    assert PAPER_ALGORITHMS <= set(sd.algorithms.names())
    assert PAPER_OPERATORS <= set(sd.operators.names())
    assert {"admm", "hqs", "linearized_admm"} <= set(sd.splitting.names())
    assert {"gaussian", "gaussian_mixture", "tv", "wavelet", "wiener", "random_network"} <= set(sd.priors.names())


@pytest.mark.parametrize("registry", [sd.operators, sd.priors, sd.splitting, sd.algorithms])
def test_unknown_name_lists_valid_names(registry):
    with pytest.raises(ValueError) as err:
        registry.build("no-such-thing")
    for name in registry.names():
        assert name in str(err.value)


def test_unknown_keyword_names_accepted_ones():
    with pytest.raises(ValueError, match="scale"):
        sd.operators.build("super_resolution", scael=4)


def test_build_with_overrides():
    op = sd.operators.build("super_resolution", scale=2, sigma=0.1)
    assert op.scale == 2 and op.sigma == 0.1


def test_register_decorator_and_duplicates():
    reg = Registry("widget")

    @reg.register("w")
    def make(size: int = 1):
        """A widget."""
        return ("widget", size)

    assert reg.names() == ["w"]
    assert reg.build("w", size=3) == ("widget", 3)
    assert reg.summary("w") == "A widget."
    with pytest.raises(ValueError, match="already registered"):
        reg.register("w", lambda: None)
    reg.register("w", lambda: "new", overwrite=True)
    assert reg.build("w") == "new"


def test_user_operator_registration_round_trip():
    @sd.operators.register("test_negate", overwrite=True)
    class Negate(sd.operators.LinearOperator):
        """y = -x."""

        def forward(self, x):
            return -x

    op = sd.operators.build("test_negate", sigma=0.1)
    assert "test_negate" in sd.operators.names()
    assert op.linear and op.sigma == 0.1


@pytest.mark.parametrize("text,first", [
    ("Diff-PnP-ADMM (Eq. 9, Table 2): Tweedie of ``x + u``. DDiff's data step.",
     "Diff-PnP-ADMM (Eq. 9, Table 2): Tweedie of ``x + u``."),
    ("DiffPIR (Zhu et al. 2023): HQS with zeta re-noising. More.", "DiffPIR (Zhu et al. 2023): HQS with zeta re-noising."),
    ("A blur, e.g. a box, i.e. a mean. Next.", "A blur, e.g. a box, i.e. a mean."),
    ("As in Sec. 3.3, Fig. 2 and Alg. 1 (DDiff vs. DPS) at std 3.0. Next.",
     "As in Sec. 3.3, Fig. 2 and Alg. 1 (DDiff vs. DPS) at std 3.0."),
    ("Eqs. 9 and 10 (cf. Eq. 4) hold. Next.", "Eqs. 9 and 10 (cf. Eq. 4) hold."),
    ("A step of 0.5. Then more.", "A step of 0.5."),
    ("Wrap a denoiser (an instance. Or a class) of deepinv. Next.", "Wrap a denoiser (an instance. Or a class) of deepinv."),
    ("Code ``x. y`` and :func:`a. b` stay. Next.", "Code ``x. y`` and :func:`a. b` stay."),
    ("A gain in (0, 1]. Next.", "A gain in (0, 1]."),
    ("Does it? Yes.", "Does it?"),
    ("No period at all", "No period at all"),
    ("Ends here.", "Ends here."),
    ("", ""),
])
def test_first_sentence_keeps_abbreviations_numbers_and_parentheses(text, first):
    from splitdiff.registry import first_sentence

    assert first_sentence(text) == first


def test_summary_is_the_first_sentence_of_the_first_paragraph():
    reg = Registry("widget")

    def make():
        """Diff-PnP-ADMM (Eq. 9,
        Table 2): Tweedie of x. Second sentence.

        Another paragraph."""

    reg.register("w", make)
    assert reg.summary("w") == "Diff-PnP-ADMM (Eq. 9, Table 2): Tweedie of x."


ABBREVIATION_END = re.compile(r"(?:^|[\s(])(?:e\.g|i\.e|et al|eqs?|sec|figs?|alg|vs|cf)\.$", re.IGNORECASE)


def test_list_summaries_end_at_sentence_ends(capsys):
    from splitdiff.cli import main

    assert main(["list"]) == 0
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("  ")]
    registries = [sd.algorithms, sd.operators, sd.priors, sd.splitting]
    assert len(lines) == sum(len(r.names()) for r in registries)
    for line in lines:
        name, _, summary = line.strip().partition(" ")  # an entry without a docstring has no summary
        summary = summary.strip()
        registry = next(r for r in registries if name in r.names() and r.REGISTRY.summary(name) == summary)
        paragraph = " ".join((inspect.getdoc(registry.get(name)) or "").split("\n\n")[0].split())
        assert paragraph.startswith(summary), name
        assert summary == paragraph or (summary[-1] in ".!?" and paragraph[len(summary)] == " "), name
        assert not ABBREVIATION_END.search(summary), f"{name}: {summary!r} ends at an abbreviation"
        assert summary.count("``") % 2 == 0, name
        assert _balanced(re.sub(r"``.*?``", "", summary)), f"{name}: {summary!r}"


def _balanced(text: str) -> bool:
    """Brackets close in order; an interval such as ``(0, 1]`` closes with the other kind."""
    depth = 0
    for char in text:
        depth += (char in "([{") - (char in ")]}")
        if depth < 0:
            return False
    return depth == 0


@pytest.mark.parametrize("package", [sd.operators, sd.priors, sd.splitting, sd.algorithms])
def test_every_package_exports_its_registrys_functions(package):
    """One registry helper: each subpackage's register/build/names/get are its REGISTRY's."""
    for name in ("register", "build", "names", "get"):
        assert getattr(package, name) == getattr(package.REGISTRY, name)
    assert package.names() == package.REGISTRY.names()
