"""One page of a longer list, as the back office's tables show them."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class Paged(Generic[T]):
    items: list[T]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


def clamp_page(page: int, total: int, per_page: int) -> int:
    """A page number within the list: past the end is the last page, below 1 the first."""
    return min(max(1, page), max(1, -(-total // per_page)))
