"""Hostile strings through every field of every HTTP endpoint (tests/fuzz/targets.py): no 5xx, every 4xx
a JSON message, no row of another tenant, no statement InfluxDB refuses (docs/reliability.md, "Fuzzing").

``make test`` sends a seeded sample of a few hundred strings; ``make test-slow`` sends 10,000.
"""

import logging
import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.fuzz.corpus import HOSTILE, JSON_CONFUSION, VALID, hostile_strings
from tests.fuzz.targets import TARGETS, Harness, Tally, fire, influx_client_errors, run, set_up_data
from tests.support.base import BaseTestCase, uses_store

FAST_STRINGS = 300
SLOW_STRINGS = 10_000

# Hypothesis's strings: any text (every unicode category but lone surrogates), a corpus string cut
# and glued to a valid value, or text after a valid value; shrunk to the shortest failing one.
HYPOTHESIS_STRINGS = (st.text(max_size=300)
                      | st.builds(lambda a, b, c: a + b + c, st.sampled_from(VALID), st.sampled_from(HOSTILE),
                                  st.text(max_size=20))
                      | st.builds(lambda a, b: a + b, st.sampled_from(VALID), st.text(max_size=40)))
HYPOTHESIS_SETTINGS = {"deadline": None, "suppress_health_check": list(HealthCheck), "database": None}


@uses_store
class HostileStringTests(BaseTestCase):
    def setUp(self):
        super().setUp()
        start, statements = set_up_data(self)
        self.harness = Harness(self, start, statements)
        request_log = logging.getLogger("django.request")  # thousands of 4xx warnings; the 5xx errors stay
        self.addCleanup(request_log.setLevel, request_log.level)
        request_log.setLevel(logging.ERROR)

    def fuzz(self, strings, every_field, fields_per_string):
        before = influx_client_errors()
        tally = run(self.harness, strings, every_field, fields_per_string, JSON_CONFUSION)
        print("\nfuzz:", tally.summary())
        self.assertEqual(influx_client_errors(), before, "InfluxDB answered a kubemon query with an error")
        self.assertEqual(set(tally.by_target), {f"{t.endpoint} / {t.field}" for t in TARGETS})
        return tally

    def test_a_sample_of_hostile_strings_through_every_field_breaks_nothing(self):
        rng = random.Random(14)
        strings = rng.sample(HOSTILE, 60) + rng.sample(hostile_strings(2000)[len(HOSTILE):], FAST_STRINGS - 60)
        tally = self.fuzz(strings, every_field=0, fields_per_string=2)
        self.assertEqual((tally.strings, tally.requests), (FAST_STRINGS, 2 * FAST_STRINGS + 7 * len(JSON_CONFUSION)))

    def fuzz_with_hypothesis(self, examples):
        tally, before = Tally(), influx_client_errors()

        @settings(max_examples=examples, **HYPOTHESIS_SETTINGS)
        @given(target=st.sampled_from(TARGETS), value=HYPOTHESIS_STRINGS, n=st.integers(0, 11))
        def one(target, value, n):
            fire(self.harness, tally, target, value, n)

        one()
        print("\nfuzz (hypothesis):", tally.summary())
        self.assertEqual(influx_client_errors(), before)
        self.assertGreaterEqual(tally.requests, examples)

    def test_hypothesis_strings_through_every_field_break_nothing(self):
        self.fuzz_with_hypothesis(150)

    @pytest.mark.slow
    def test_thousands_of_hypothesis_strings_through_every_field_break_nothing(self):
        self.fuzz_with_hypothesis(3000)

    @pytest.mark.slow
    def test_ten_thousand_hostile_strings_through_every_field_break_nothing(self):
        strings = hostile_strings(SLOW_STRINGS)
        tally = self.fuzz(strings, every_field=len(HOSTILE), fields_per_string=3)
        expected = len(HOSTILE) * len(TARGETS) + (SLOW_STRINGS - len(HOSTILE)) * 3 + 7 * len(JSON_CONFUSION)
        self.assertEqual((tally.strings, tally.requests), (SLOW_STRINGS, expected))
        self.assertEqual(len(set(strings)), SLOW_STRINGS)


@uses_store
class InfluxErrorCountTests(BaseTestCase):
    def test_influxdb_counts_a_statement_it_cannot_parse_so_the_fuzz_check_can_fail(self):
        from kubemon.timeseries import TimeseriesQueryError, get_store

        before = influx_client_errors()
        with self.assertRaises(TimeseriesQueryError):
            get_store().query("SELECT FROM WHERE namespace = 'x' OR")
        self.assertEqual(influx_client_errors()["clientError"], before["clientError"] + 1)
