"""A page's read of what it shows, made one at a time: an ask while a read is under way makes one more read after it
(not one per ask), so the newest ask is always answered and an older answer never lands after a newer one. A page
asks on its first draw, when its live stream opens, after an action and on each change event; those overlap."""

from __future__ import annotations

from collections.abc import Awaitable, Callable


class SerialRead:
    def __init__(self, read: Callable[[], Awaitable[None]]) -> None:
        self.read = read
        self.reading = False
        self.again = False

    async def __call__(self) -> None:
        """Read; or, while a read is under way, have it read once more when it ends (and return at once)."""
        if self.reading:
            self.again = True
            return
        self.reading = True
        try:
            while True:
                self.again = False
                await self.read()
                if not self.again:
                    return
        finally:
            self.reading = False
