"""From a node's summary to two LED colours (plain, tested).

Top LED: green when any pod runs. Bottom LED: the worst state, red failed, blue deleting, yellow
pending, green all running. With no pod running both show the worst state, so a node whose
only pods failed lights red (the original lit nothing). No pods: both off. Unknown (kubemon
unreachable, or its data stale): a purple blink that no state uses, never a stale colour.
``LIGHT_MODE``: ``0`` index 0 is the top LED, ``1`` flipped, anything else both show the bottom colour.
"""

OFF = (0, 0, 0)
GREEN = (0, 25, 0)
BLUE = (0, 0, 50)
RED = (50, 0, 0)
YELLOW = (50, 50, 0)
PURPLE = (30, 0, 30)
COLOURS = {"red": RED, "blue": BLUE, "yellow": YELLOW, "green": GREEN, "off": OFF}
ORDER = ("failed", "deleting", "pending", "running")  # most severe first
BY_STATE = {"failed": RED, "deleting": BLUE, "pending": YELLOW, "running": GREEN}


def top_and_bottom(summary):
    """``(top, bottom)`` RGB for a summary, or None when it says nothing trustworthy."""
    if not summary or summary.get("stale"):
        return None
    counts = summary.get("counts") or {}
    worst = next((state for state in ORDER if counts.get(state)), None)
    if worst is None:
        return OFF, OFF
    bottom = BY_STATE[worst]
    top = GREEN if counts.get("running") else bottom
    return top, bottom


def unknown(phase):
    """The "unknown" pattern: purple alternating between the LEDs each phase."""
    return (PURPLE, OFF) if phase % 2 == 0 else (OFF, PURPLE)


def leds(summary, mode="0", phase=0):
    """``[index 0, index 1]`` colours for the device."""
    pair = top_and_bottom(summary)
    if pair is None:
        return list(unknown(phase))
    top, bottom = pair
    if mode == "0":
        return [top, bottom]
    if mode == "1":
        return [bottom, top]
    return [bottom, bottom]
