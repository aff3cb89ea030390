"""A shuffling sampler whose order depends only on ``(seed, epoch)``.

PyTorch's ``DataLoader(shuffle=True)`` draws its order from the global RNG, which a
checkpoint does not hold: a run resumed after a crash would see its epochs in another order
than an uninterrupted run. :class:`EpochShuffleSampler` draws each epoch's permutation from
its own generator seeded with ``(seed, epoch)``; Lightning calls :meth:`set_epoch` before
every training epoch (also after a resume), so a resumed run sees exactly the same order.

>>> s = EpochShuffleSampler(5, seed=0)
>>> s.set_epoch(3)
>>> first = list(s)
>>> sorted(first) == [0, 1, 2, 3, 4] and list(s) == first
True
>>> s.set_epoch(4)
>>> list(s) != first
True
"""

from __future__ import annotations

from collections.abc import Iterator

import torch
from torch.utils.data import Sampler

__all__ = ["EpochShuffleSampler"]


class EpochShuffleSampler(Sampler[int]):
    """A random permutation of ``range(n)`` that is a function of ``(seed, epoch)`` only.

    Parameters
    ----------
    n
        The dataset length.
    seed
        Base seed (the run's ``seed``).
    """

    def __init__(self, n: int, seed: int = 0) -> None:
        self.n = int(n)
        self.seed = int(seed)
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Select the epoch whose permutation :meth:`__iter__` yields."""
        self.epoch = int(epoch)

    def __iter__(self) -> Iterator[int]:
        g = torch.Generator().manual_seed(self.seed * 1_000_003 + self.epoch)
        return iter(torch.randperm(self.n, generator=g).tolist())

    def __len__(self) -> int:
        return self.n
