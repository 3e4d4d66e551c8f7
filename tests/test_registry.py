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
