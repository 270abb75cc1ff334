"""The fan in the portal: one tick of auto mode, manual overrides, and the state JSON.

A tick (the beat task, every ``FAN_TICK_SECONDS``): read the nodes' latest temperatures and the
host's state, decide with ``fan.rules``, command the host when the decision differs from what it
does, send the heartbeat (with the OLED panel's data), write every change to InfluxDB's ``fan``
measurement, and keep the fan's memory in Redis (``kubemon.keys.FAN_STATE``).
"""

from __future__ import annotations

import logging
import time

import orjson
from django.conf import settings

from fan import history, rules
from fan.client import FanHostClient, FanHostError
from kubemon import cluster, keys

log = logging.getLogger(__name__)
SAMPLES_KEPT_SECONDS = 1800


def rule_from_settings():
    return rules.Rule(
        max_temp=settings.FAN_MAXTEMP, off_ratio=settings.FAN_OFF_RATIO, dwell=settings.FAN_DWELL_SECONDS,
        stale=settings.FAN_STALE_SECONDS, proportional=settings.FAN_PROPORTIONAL, min_speed=settings.FAN_MIN_SPEED,
        inefficient_after=settings.FAN_INEFFICIENT_SECONDS, inefficient_rise=settings.FAN_INEFFICIENT_RISE)


def client_from_settings():
    return FanHostClient(settings.FAN_SERVER_URL, settings.FAN_TOKEN, settings.FAN_TIMEOUT)


def load_state(redis):
    raw = redis.get(keys.FAN_STATE)
    return orjson.loads(raw) if raw else {}


def save_state(redis, state):
    redis.set(keys.FAN_STATE, orjson.dumps(state))


def node_temperatures(redis):
    """``{node: (hottest °C, newest sample time)}`` from the temperatures every source keeps in Redis.

    The hottest is of the node's sensors that reported within ``FAN_STALE_SECONDS`` of its newest."""
    by_node = {}
    for key, raw in redis.hgetall(keys.TEMPERATURE_LATEST).items():
        node = key.decode().split("/", 1)[0]
        entry = orjson.loads(raw)
        by_node.setdefault(node, []).append((float(entry["celsius"]), float(entry["time"])))
    out = {}
    for node, samples in by_node.items():
        newest = max(t for _, t in samples)
        hottest = max(c for c, t in samples if newest - t <= settings.FAN_STALE_SECONDS)
        out[node] = (hottest, newest)
    return out


def considered_temperatures(redis):
    terms = rules.parse_selector(settings.FAN_EXCLUDE_NODES)
    return rules.considered(node_temperatures(redis), cluster.inventory_nodes(redis), terms)


def _panel(rule, temps, override):
    return {"temperatures": {node: round(c, 1) for node, (c, _) in temps.items()},
            "autoMode": rule.max_temp is not None and override is None,
            "minTemperature": None if rule.off_temp is None else round(rule.off_temp, 1),
            "maxTemperature": rule.max_temp}


def tick(redis, store, client=None, now=None, override=..., rule=None):
    """One decision; returns the saved state. ``override``: leave as is (``...``), or the new one.

    Raises ``FanHostError`` only when a new override is given (a person is waiting for the answer);
    a beat tick records the error in the state and the history instead."""
    now = time.time() if now is None else now
    rule = rule or rule_from_settings()
    client = client or client_from_settings()
    state = load_state(redis)
    new_override = override is not ...
    current_override = override if new_override else state.get("override")
    temps = considered_temperatures(redis)
    try:
        host = client.state()
    except FanHostError as exc:
        if new_override:
            raise
        return _host_down(redis, store, state, exc, now)
    _notice_host_changes(store, state, host, now)
    running = host["running"]
    decision, kept = rules.decide(rule, temps, running, state.get("last_switch"), current_override, now)
    try:
        host = _command(client, host, decision)
        host = client.heartbeat(_panel(rule, temps, kept))
    except FanHostError as exc:
        if new_override:
            raise
        return _host_down(redis, store, state, exc, now)
    # against the portal's last state and against the host's before the command: someone else may
    # have switched the host since, and switching it back is a change the history must show
    changed = host["running"] != state.get("running") or host["running"] != running \
        or abs(host["speed"] - state.get("speed", -1)) >= 0.005 or decision.mode != state.get("mode")
    if host["running"] != running:
        state["last_switch"] = now
        state["running_since"] = now if host["running"] else None
    if changed:
        history.record(store, host["running"], host["speed"], decision.mode, decision.reason, now)
        log.info("fan %s at %.0f%% (%s): %s", "on" if host["running"] else "off", host["speed"] * 100,
                 decision.mode, decision.reason)
    state.update(running=host["running"], speed=host["speed"], mode=decision.mode, reason=decision.reason,
                 waiting=decision.waiting, override=kept, hottest=decision.hottest, stale=decision.stale,
                 host={"ok": True, "error": None, "kind": None, "checked": now, "mode": host["mode"],
                       "failsafe": host["failsafe"], "reason": host["reason"], "since": host["since"]})
    _check_efficiency(store, state, rule, decision, now)
    state["ticked"] = now
    save_state(redis, state)
    return state


def _command(client, host, decision):
    if decision.running and (not host["running"] or host["failsafe"]):
        return client.start(decision.speed, decision.reason)
    if not decision.running and host["running"]:
        return client.stop(decision.reason)
    if decision.running and abs(host["speed"] - decision.speed) >= 0.05:
        return client.speed(decision.speed, decision.reason)
    return host


def _notice_host_changes(store, state, host, now):
    """The host switched on its own (its fail-safe, while the portal was away): into the history,
    at the time the host says, so that the history matches what the host did."""
    was_failsafe = (state.get("host") or {}).get("failsafe")
    if host["failsafe"] and not was_failsafe:
        # when the fail-safe began, not when the fan last switched: it may have been on already,
        # and a point at that earlier switch's time would overwrite the switch in the history
        when = min(float(host.get("failsafe_since") or host.get("since") or now), now)
        if host["running"] != state.get("running"):
            state["last_switch"] = when
            state["running_since"] = when
        history.record(store, host["running"], host["speed"], "failsafe", f"fan host: {host['reason']}", when)
        log.warning("the fan host is in its fail-safe: %s", host["reason"])
        state.update(running=host["running"], speed=host["speed"], mode="failsafe")


def _host_down(redis, store, state, exc, now):
    previous = state.get("host") or {}
    if previous.get("ok", True) or previous.get("error") != str(exc):
        log.error("%s", exc)
        history.record(store, bool(state.get("running")), float(state.get("speed") or 0.0), "error", str(exc), now)
    state["host"] = {**previous, "ok": False, "error": str(exc), "kind": exc.kind, "checked": now}
    state["ticked"] = now
    save_state(redis, state)
    return state


def _check_efficiency(store, state, rule, decision, now):
    samples = [s for s in state.get("samples", []) if now - s[0] <= SAMPLES_KEPT_SECONDS]
    if decision.hottest:
        samples.append([now, decision.hottest[1]])
    state["samples"] = samples[-400:]
    if not state["running"]:
        state["alert"] = None
        return
    alert = rules.inefficient(rule, samples, state.get("running_since"), now)
    if alert and not state.get("alert"):
        log.warning("fan alert: %s", alert)
        history.record(store, True, state["speed"], state["mode"], f"alert: {alert}", now)
        state["alert_since"] = now
    state["alert"] = alert or (state.get("alert") if decision.hottest is None else None)


def set_manual(redis, store, running, username, client=None, now=None):
    """A person's on/off: holds ``FAN_OVERRIDE_SECONDS`` (then auto again), or for good without auto mode.

    Raises ``FanHostError`` when the host cannot be told; nothing is saved then."""
    now = time.time() if now is None else now
    until = now + settings.FAN_OVERRIDE_SECONDS if settings.FAN_MAXTEMP is not None else None
    override = {"running": bool(running), "speed": 1.0, "until": until, "by": username}
    with redis.lock(keys.FAN_LOCK, timeout=15, blocking_timeout=10):
        return tick(redis, store, client, now, override=override)


def clear_manual(redis, store, client=None, now=None):
    with redis.lock(keys.FAN_LOCK, timeout=15, blocking_timeout=10):
        return tick(redis, store, client, now, override=None)


def status(state):
    """The legacy FanStatus JSON, with kubemon's extra keys; ``isRunning`` null when the host is down."""
    enabled = bool(settings.FAN_SERVER_URL)
    rule = rule_from_settings()
    host = state.get("host") or {}
    if not enabled:
        message, running = "Disabled Fan service", False
    elif not host:
        message, running = "fan host not asked yet", None
    elif not host.get("ok"):
        message, running = host.get("error") or "fan host error", None
    else:
        running = bool(state.get("running"))
        message = "FAN ON" if running else "FAN OFF"
    override = state.get("override")
    return {
        "isEnabled": enabled, "isRunning": running,
        "isAutoMode": enabled and rule.max_temp is not None and override is None,
        "minTemperature": None if rule.off_temp is None else round(rule.off_temp, 2),
        "maxTemperature": rule.max_temp, "message": message,
        "speed": state.get("speed"), "mode": state.get("mode"), "reason": state.get("reason"),
        "waiting": state.get("waiting") or None, "override": override, "alert": state.get("alert"),
        "hottest": state.get("hottest"), "stale": state.get("stale") or [],
        "host": {"ok": host.get("ok"), "error": host.get("error"), "failsafe": host.get("failsafe"),
                 "reason": host.get("reason"), "checked": host.get("checked")} if enabled else None,
        "dwellSeconds": rule.dwell, "proportional": rule.proportional, "lastSwitch": state.get("last_switch"),
    }
