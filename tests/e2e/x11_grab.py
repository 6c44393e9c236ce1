"""Screenshot of an X display with Qt (already installed for the native window), so the native-window
test needs no ImageMagick: `python -m tests.e2e.x11_grab OUT.png` with DISPLAY set.

Prints how many distinct colours a 32x32 grid of samples holds: a blank screen has one."""

from __future__ import annotations

import os
import sys


def main(path: str) -> int:
    os.environ.setdefault('QT_QPA_PLATFORM', 'xcb')
    from PyQt6.QtGui import QGuiApplication

    application = QGuiApplication(sys.argv[:1])
    image = application.primaryScreen().grabWindow(0).toImage()
    if image.isNull() or not image.save(path):
        print('0')
        return 1
    width, height = image.width(), image.height()
    samples = {image.pixel(x * width // 32, y * height // 32) for x in range(32) for y in range(32)}
    print(len(samples))
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1]))
