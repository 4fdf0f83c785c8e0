"""A user's own model (dietgen trim --model package.module:factory) as a dietgen model: training, tracing,
surgery, checkpoints and export treat it as one of the zoo families. The interface it must follow is in
dietgen.trim.lottery's docstring. Its checkpoint config names the factory and its arguments; rebuilding calls
that factory, so a factory named only by a checkpoint must be the user's own code
(dietgen.frontend.sources.check_own_code).
"""
from __future__ import annotations

from typing import Any

import torch
from torch import nn

from dietgen.frontend.sources import call_factory, check_own_code
from dietgen.models import architecture
from dietgen.models.base import SAMPLE_RATE, AudioModel

FACTORY = "factory"   # the checkpoint architecture of a user's model


class FactoryModel(AudioModel):
    """A user's model behind the interface of the dietgen.models families, so training, tracing, surgery,
    checkpoints and export treat it as one: its config is the factory and the arguments that rebuild it."""
    family = FACTORY
    presets: dict = {}

    def __init__(self, factory: str, kwargs: dict[str, Any], net: nn.Module | None = None):
        super().__init__(factory=factory, kwargs=dict(kwargs))
        self.net = net if net is not None else call_factory(factory, kwargs)[0]
        self.sample_rate = int(getattr(self.net, "sample_rate", SAMPLE_RATE))

    def loss(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        return self.net.loss(batch)

    def export_module(self) -> tuple[nn.Module, dict[str, tuple[int, ...]]]:
        return self.net, {name: tuple(shape) for name, shape in self.net.input_shapes().items()}

    def trim_dependencies(self) -> dict:
        """The user's declarations, named as this wrapper names the parameters."""
        declare = getattr(self.net, "trim_dependencies", None)
        spec = declare() if declare is not None else {}
        return {"couple": [[(f"net.{name}", dim) for name, dim in names] for names in spec.get("couple", [])],
                "lock": [f"net.{prefix}" for prefix in spec.get("lock", [])]}


# Factories the user named to this process (dietgen trim --model, a sweep file): a run's checkpoints may be
# rebuilt by them even from an installed package. One named only by a checkpoint must be the user's own code.
_NAMED_BY_USER: set[str] = set()


def trust(factory: str) -> None:
    """``factory`` was named by the user to this process: checkpoints naming it may be rebuilt by it."""
    _NAMED_BY_USER.add(factory)


@architecture(FACTORY)
def _rebuild(factory: str, kwargs: dict[str, Any]) -> FactoryModel:
    """A checkpoint's user model, rebuilt by its factory."""
    if factory not in _NAMED_BY_USER:
        check_own_code(factory)
    return FactoryModel(factory, kwargs)
