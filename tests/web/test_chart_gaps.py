"""The charts' gap rule (frontend/src/lib/gaps.js), run in Node: buckets that alternate empty are
joined into a line; a real outage stays a gap."""

import json
import subprocess
from pathlib import Path

GAPS = Path(__file__).resolve().parents[2] / "frontend" / "src" / "lib" / "gaps.js"


def _joined(values):
    """What uPlot is given: null stays a gap, undefined (shown here as "join") is drawn through."""
    script = (f"import {{ joinShortGaps }} from {json.dumps(GAPS.as_uri())};\n"
              f"const out = joinShortGaps({json.dumps(values)});\n"
              "console.log(JSON.stringify(out.map((v) => (v === undefined ? 'join' : v))));")
    done = subprocess.run(["node", "--input-type=module", "-e", script], capture_output=True, text=True,
                          check=True, timeout=30)
    return json.loads(done.stdout)


def test_buckets_that_alternate_empty_draw_one_line_not_isolated_dots():
    # 15 s buckets, samples every 30 s: the 1 h chart's usual shape on a loaded collector
    assert _joined([1.0, None, 2.0, None, 3.0, None, None, 4.0]) == [1.0, "join", 2.0, "join", 3.0, "join", "join", 4.0]


def test_an_outage_longer_than_two_buckets_stays_a_gap():
    assert _joined([1.0, None, None, None, 2.0]) == [1.0, None, None, None, 2.0]


def test_no_line_is_invented_before_the_first_sample_or_after_the_last():
    assert _joined([None, None, 1.0, None, 2.0, None]) == [None, None, 1.0, "join", 2.0, None]
