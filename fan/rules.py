"""The auto rule as plain functions of plain data (DESIGN §5, §13); no I/O, the clock passed in.

- On when the hottest considered node reaches the maximum, off when every one is at or below
  ``off_ratio`` (90 %) of it; in between nothing changes (the hysteresis band).
- A switch waits until ``dwell`` seconds have passed since the last one (no flapping).
- Considered nodes: those with a temperature that the inventory lists, minus those the label
  selector excludes (control-plane nodes by default, not a node named ``master``).
- A considered node whose temperature is older than ``stale`` seconds counts as hot (fail-safe);
  so does having no temperature at all.
- Proportional speed (optional): from ``min_speed`` at the off threshold to 1 at the maximum, as
  the Pi 5's own fan curve and the kernel's step_wise governor step up between trip points.
- A manual override holds until it expires; a manual "off" ends early when a node gets hot.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Rule:
    max_temp: float | None  # None: no auto mode (FAN_MAXTEMP unset)
    off_ratio: float = 0.9
    dwell: float = 120.0
    stale: float = 60.0
    proportional: bool = False
    min_speed: float = 0.3
    inefficient_after: float = 180.0
    inefficient_rise: float = 1.0

    @property
    def off_temp(self):
        return None if self.max_temp is None else self.max_temp * self.off_ratio


@dataclass
class Decision:
    running: bool
    speed: float
    mode: str  # "auto" | "manual"
    reason: str
    hottest: tuple | None = None  # (node, celsius) of the hottest considered node
    stale: list = field(default_factory=list)
    waiting: str = ""  # why a wanted switch waits (the dwell), "" when none does


# --- the label selector (equality-based, as kubectl's -l: "k", "!k", "k=v", "k!=v", comma = and) ---

def parse_selector(text):
    """``[(key, op, value)]``; ``ValueError`` for a malformed term. An empty text selects nothing."""
    terms = []
    for raw in (text or "").split(","):
        term = raw.strip()
        if not term:
            continue
        if "!=" in term:
            key, value = term.split("!=", 1)
            terms.append((key.strip(), "!=", value.strip()))
        elif "==" in term or "=" in term:
            key, value = term.split("==" if "==" in term else "=", 1)
            terms.append((key.strip(), "=", value.strip()))
        elif term.startswith("!"):
            terms.append((term[1:].strip(), "!", None))
        else:
            terms.append((term, "exists", None))
        if not terms[-1][0] or any(c.isspace() for c in terms[-1][0]):
            raise ValueError(f"bad label selector term {raw.strip()!r}")
    return terms


def selects(terms, labels):
    """True when every term holds for ``labels``; an empty selector selects no node."""
    if not terms:
        return False
    for key, op, value in terms:
        present = key in labels
        if op == "exists" and not present:
            return False
        if op == "!" and present:
            return False
        if op == "=" and labels.get(key) != value:
            return False
        if op == "!=" and present and labels.get(key) == value:
            return False
    return True


def considered(temperatures, inventory, exclude_terms):
    """``{node: (celsius, time)}`` of the nodes the rule looks at.

    ``temperatures``: ``{node: (celsius, time)}``; ``inventory``: ``{node: {"labels": ...}}`` or
    ``{}`` before the first inventory (then every node with a temperature counts)."""
    out = {}
    for node, sample in temperatures.items():
        if inventory and node not in inventory:
            continue  # a node that left the cluster: its last temperature would be stale forever
        labels = (inventory.get(node) or {}).get("labels") or {}
        if selects(exclude_terms, labels):
            continue
        out[node] = sample
    return out


def speed_for(rule, hottest_celsius, any_stale):
    if not rule.proportional or any_stale or rule.max_temp is None:
        return 1.0
    span = rule.max_temp - rule.off_temp
    share = 1.0 if span <= 0 else (hottest_celsius - rule.off_temp) / span
    return round(min(max(share, rule.min_speed), 1.0), 2)


def auto_decision(rule, temps, running, last_switch, now):
    """What auto mode wants, given ``temps`` (``considered()``) and the fan's current state."""
    stale = sorted(node for node, (_, t) in temps.items() if now - t > rule.stale)
    fresh = {node: c for node, (c, t) in temps.items() if now - t <= rule.stale}
    hottest = max(fresh.items(), key=lambda item: item[1]) if fresh else None
    if not temps:
        want, reason = True, "fail-safe: no node temperature to go by"
    elif stale:
        want, reason = True, f"fail-safe: no temperature from {', '.join(stale)} for over {rule.stale:g} s"
    elif hottest[1] >= rule.max_temp:
        want, reason = True, f"{hottest[0]} at {hottest[1]:.1f} °C ≥ {rule.max_temp:g} °C"
    elif hottest[1] <= rule.off_temp:
        want, reason = False, f"all nodes ≤ {rule.off_temp:g} °C (hottest {hottest[0]} {hottest[1]:.1f} °C)"
    else:
        want = running
        reason = (f"{hottest[0]} at {hottest[1]:.1f} °C, between {rule.off_temp:g} and {rule.max_temp:g} °C: "
                  f"fan stays {'on' if running else 'off'}")
    waiting = ""
    if want != running and last_switch is not None and now - last_switch < rule.dwell:
        waiting = (f"would switch {'on' if want else 'off'} ({reason}) but the last switch was "
                   f"{now - last_switch:.0f} s ago (dwell {rule.dwell:g} s)")
        want = running
        reason = waiting
    speed = speed_for(rule, hottest[1] if hottest else 0.0, bool(stale) or not temps) if want else 0.0
    return Decision(want, speed, "auto", reason, hottest, stale, waiting)


def decide(rule, temps, running, last_switch, override, now):
    """The decision, with a manual ``override`` (``{"running", "speed", "until", "by"}`` or None).

    Returns ``(decision, override)``: the override is None once it has expired or ended."""
    if override is not None and override.get("until") is not None and now >= override["until"]:
        override = None
    if override is not None:
        if not override["running"] and rule.max_temp is not None:
            danger = _danger(rule, temps, now)
            if danger:  # a human's "off" never holds while a node is hot or silent
                return Decision(True, 1.0, "auto", f"manual off ended early: {danger}"), None
        until = override.get("until")
        tail = "" if until is None else time.strftime(" until %H:%M UTC", time.gmtime(until))
        speed = float(override.get("speed") or 1.0) if override["running"] else 0.0
        who = override.get("by") or "someone"
        reason = f"manual {'on' if override['running'] else 'off'} by {who}{tail}"
        return Decision(override["running"], speed, "manual", reason), override
    if rule.max_temp is None:
        return Decision(running, 1.0 if running else 0.0, "manual", "no auto mode (FAN_MAXTEMP unset)"), None
    return auto_decision(rule, temps, running, last_switch, now), None


def _danger(rule, temps, now):
    if not temps:
        return "no node temperature to go by"
    stale = sorted(node for node, (_, t) in temps.items() if now - t > rule.stale)
    if stale:
        return f"no temperature from {', '.join(stale)} for over {rule.stale:g} s"
    node, celsius = max(((n, c) for n, (c, _) in temps.items()), key=lambda item: item[1])
    if celsius >= rule.max_temp:
        return f"{node} at {celsius:.1f} °C ≥ {rule.max_temp:g} °C"
    return None


def inefficient(rule, samples, running_since, now):
    """The original's "inefficiency" check, with its units right: the fan has run for at least
    ``inefficient_after`` seconds and the hottest temperature rose by more than
    ``inefficient_rise`` °C over that span. ``samples``: ``[(time, celsius)]``, oldest first.

    Returns the alert's text or None."""
    if running_since is None or now - running_since < rule.inefficient_after:
        return None
    window = [(t, c) for t, c in samples if t >= now - rule.inefficient_after and t >= running_since]
    if len(window) < 3:
        return None
    rise = window[-1][1] - window[0][1]
    span = window[-1][0] - window[0][0]
    if span < rule.inefficient_after * 0.5 or rise <= rule.inefficient_rise:
        return None
    # Rising all along, not a blip at the end: each half of the window rises too.
    middle = window[len(window) // 2][1]
    if middle <= window[0][1] or window[-1][1] <= middle:
        return None
    return (f"the fan has run for {(now - running_since) / 60:.0f} min and the hottest node still rose "
            f"{rise:.1f} °C in {span / 60:.0f} min: check the fan and the airflow")
