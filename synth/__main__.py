"""``python -m synth DB [SCENE ...]``: write synthetic scenes into a timeline database."""

from __future__ import annotations

import sys

from scenewatch.memory.store import TimelineStore
from synth import SCENES, build_scene, load_scene


def main(argv: list[str]) -> int:
    """Entry point."""
    if not argv:
        sys.stderr.write("usage: python -m synth DB [SCENE ...]\n")
        return 2
    names = argv[1:] or list(SCENES)
    with TimelineStore(argv[0]) as store:
        for name in names:
            ids = load_scene(store, build_scene(name))
            sys.stdout.write(f"{name}: {len(ids)} observations\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
