"""The auto rule (fan/rules.py): thresholds, hysteresis, dwell, exclusion, stale data, overrides."""

import pytest

from fan import rules

RULE = rules.Rule(max_temp=70.0, dwell=120.0, stale=60.0)
NOW = 10_000.0


def temps(**celsius):
    return {node: (value, NOW) for node, value in celsius.items()}


def auto(t, running, last_switch=None, rule=RULE, now=NOW):
    return rules.auto_decision(rule, t, running, last_switch, now)


def test_it_switches_on_when_the_hottest_node_reaches_the_maximum():
    assert auto(temps(north=50, west=69.9), running=False).running is False
    d = auto(temps(north=50, west=70.0), running=False)
    assert d.running is True and d.speed == 1.0 and d.reason == "west at 70.0 °C ≥ 70 °C"


def test_it_stays_on_inside_the_band_and_stops_only_at_or_below_90_percent():
    assert auto(temps(west=65.0), running=True).running is True
    assert auto(temps(west=63.1), running=True).running is True
    d = auto(temps(west=63.0, north=40), running=True)
    assert d.running is False and d.reason == "all nodes ≤ 63 °C (hottest west 63.0 °C)"
    assert auto(temps(west=65.0), running=False).running is False  # nor does it start inside the band


def test_no_switch_happens_within_the_dwell_time_of_the_last_one():
    d = auto(temps(west=60.0), running=True, last_switch=NOW - 119)
    assert d.running is True and "dwell 120 s" in d.waiting and "switch off" in d.waiting
    d = auto(temps(west=60.0), running=True, last_switch=NOW - 120)
    assert d.running is False and d.waiting == ""
    d = auto(temps(west=75.0), running=False, last_switch=NOW - 30)
    assert d.running is False and "switch on" in d.waiting


def test_a_stale_temperature_counts_as_hot_and_so_does_having_none():
    t = {"west": (50.0, NOW - 61), "north": (40.0, NOW)}
    d = auto(t, running=False)
    assert d.running is True and d.speed == 1.0 and d.stale == ["west"]
    assert d.reason == "fail-safe: no temperature from west for over 60 s"
    assert auto({}, running=False).running is True
    assert auto({"west": (50.0, NOW - 60)}, running=False).running is False


def test_nodes_are_excluded_by_a_label_selector_not_by_a_name():
    inventory = {
        "master": {"labels": {"kubernetes.io/hostname": "master"}},
        "cp-1": {"labels": {"node-role.kubernetes.io/control-plane": ""}},
        "west": {"labels": {}},
    }
    t = temps(master=90.0, **{"cp-1": 95.0}, west=50.0, gone=99.0)
    terms = rules.parse_selector("node-role.kubernetes.io/control-plane")
    kept = rules.considered(t, inventory, terms)
    assert sorted(kept) == ["master", "west"]  # a node named master is a node like any other
    assert sorted(rules.considered(t, inventory, rules.parse_selector(""))) == ["cp-1", "master", "west"]
    assert sorted(rules.considered(t, {}, terms)) == ["cp-1", "gone", "master", "west"]  # no inventory yet


@pytest.mark.parametrize("selector,labels,selected", [
    ("a", {"a": ""}, True), ("a", {}, False), ("!a", {}, True), ("a=1", {"a": "1"}, True), ("a==1", {"a": "2"}, False),
    ("a!=1", {"a": "2"}, True), ("a!=1", {}, True), ("a=1,b", {"a": "1"}, False), ("a=1,b", {"a": "1", "b": ""}, True),
])
def test_the_selector_speaks_kubectls_equality_terms(selector, labels, selected):
    assert rules.selects(rules.parse_selector(selector), labels) is selected


def test_a_malformed_selector_is_refused():
    with pytest.raises(ValueError):
        rules.parse_selector("=x")


def test_proportional_speed_rises_between_the_two_thresholds():
    rule = rules.Rule(max_temp=70.0, proportional=True, min_speed=0.3)
    assert auto(temps(west=70.0), running=False, rule=rule).speed == 1.0
    assert auto(temps(west=66.5), running=True, rule=rule).speed == 0.5
    assert auto(temps(west=63.5), running=True, rule=rule).speed == 0.3  # never below the minimum
    assert auto({"west": (50.0, NOW - 100)}, running=False, rule=rule).speed == 1.0  # stale: full


def test_a_manual_on_holds_until_it_expires_then_auto_decides_again():
    override = {"running": True, "speed": 1.0, "until": NOW + 1800, "by": "charlie"}
    d, kept = rules.decide(RULE, temps(west=40.0), False, None, override, NOW)
    assert d.running is True and d.mode == "manual" and kept == override and "charlie" in d.reason
    later = NOW + 1799
    d, kept = rules.decide(RULE, {"west": (40.0, later)}, True, NOW, override, later)
    assert d.running is True and d.mode == "manual" and kept == override
    later = NOW + 1800
    d, kept = rules.decide(RULE, {"west": (40.0, later)}, True, NOW, override, later)
    assert kept is None and d.mode == "auto" and d.running is False


def test_a_manual_off_ends_early_when_a_node_gets_hot_or_falls_silent():
    override = {"running": False, "speed": 1.0, "until": NOW + 1800, "by": "charlie"}
    d, kept = rules.decide(RULE, temps(west=60.0), False, NOW - 5, override, NOW)
    assert d.running is False and kept == override
    d, kept = rules.decide(RULE, temps(west=71.0), False, NOW - 5, override, NOW)
    assert d.running is True and kept is None and d.reason == "manual off ended early: west at 71.0 °C ≥ 70 °C"
    d, kept = rules.decide(RULE, {"west": (50.0, NOW - 300)}, False, NOW - 5, override, NOW)
    assert d.running is True and "no temperature from west" in d.reason


def test_without_a_maximum_there_is_no_auto_mode_and_manual_switches_hold():
    rule = rules.Rule(max_temp=None)
    d, kept = rules.decide(rule, temps(west=99.0), False, None, None, NOW)
    assert d.running is False and d.mode == "manual"
    override = {"running": True, "speed": 1.0, "until": None, "by": "charlie"}
    d, kept = rules.decide(rule, temps(west=10.0), False, None, override, NOW + 10**6)
    assert d.running is True and kept == override


def test_the_inefficiency_check_fires_only_when_temperatures_keep_rising_while_the_fan_runs():
    rule = rules.Rule(max_temp=70.0, inefficient_after=180.0, inefficient_rise=1.0)
    rising = [(NOW - 180 + 15 * i, 70.0 + 0.2 * i) for i in range(13)]  # +2.4 °C over 3 minutes
    alert = rules.inefficient(rule, rising, NOW - 200, NOW)
    assert alert and "rose 2.4 °C in 3 min" in alert
    assert rules.inefficient(rule, rising, NOW - 100, NOW) is None  # not running long enough yet
    falling = [(t, 80.0 - (c - 70.0)) for t, c in rising]
    assert rules.inefficient(rule, falling, NOW - 200, NOW) is None
    blip = [(t, 70.0) for t, _ in rising[:-1]] + [(NOW, 72.0)]  # one late jump is not "kept rising"
    assert rules.inefficient(rule, blip, NOW - 200, NOW) is None
