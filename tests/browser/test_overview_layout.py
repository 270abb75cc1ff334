"""The overview's tables and badges as drawn: rows where the virtual table puts them, icons beside
their text, a changed row still in its state's colour. Checked on the real stack's page, because
these are what the CSS of base.css and overview.css do together in Chromium."""

ROW_HEIGHT = 30  # frontend/src/pages/overview.js: VirtualTable rowHeight

GEOMETRY = """(id) => {
  const scroller = document.getElementById(id);
  const th = scroller.querySelector('thead th').getBoundingClientRect();
  const rows = [...scroller.querySelectorAll('tbody tr:not(.spacer)')];
  const under = rows.find((r) => r.getBoundingClientRect().bottom > th.bottom + 1);
  return {header: th.height, heights: [...new Set(rows.map((r) => r.getBoundingClientRect().height))],
          gap: under.getBoundingClientRect().top - th.bottom, first: under.cells[1].textContent};
}"""


def _wait_rows(page):
    page.wait_for_function("() => document.getElementById('live-state').dataset.state === 'live'")
    page.wait_for_function("() => Number(document.getElementById('pods-table').dataset.rows) > 30")


def test_both_tables_put_their_first_row_right_under_the_header_at_the_row_height_they_scroll_by(
        live_stack, page, shoot, log_in):
    log_in("charlie")
    _wait_rows(page)
    for scroller in ("nodes-scroll", "pods-scroll"):
        geometry = page.evaluate(GEOMETRY, scroller)
        assert geometry["heights"] == [ROW_HEIGHT], (scroller, geometry)
        assert abs(geometry["gap"]) < 1, (scroller, geometry)  # no empty band under the header
        assert geometry["header"] <= 40, (scroller, geometry)
    # Scrolled by ten rows, the eleventh row of the sorted list is the one under the header.
    names = page.evaluate("() => [...document.querySelectorAll('#pods-table tbody tr:not(.spacer)')]"
                          ".map((r) => r.cells[1].textContent)")
    page.evaluate(f"() => {{ document.getElementById('pods-scroll').scrollTop = {10 * ROW_HEIGHT}; }}")
    page.wait_for_timeout(200)
    geometry = page.evaluate(GEOMETRY, "pods-scroll")
    assert abs(geometry["gap"]) < 1, geometry
    assert geometry["first"] == names[10], (geometry, names[:12])
    shoot(page, "pods-scrolled", full_page=False)


def test_a_state_icon_never_overlaps_its_count(live_stack, page, log_in):
    log_in("charlie")
    _wait_rows(page)
    overlaps = page.evaluate("""() => {
      const found = {};
      for (const label of document.querySelectorAll('#totals .state')) {
        const icon = getComputedStyle(label, '::before');
        const probe = document.createElement('span');
        probe.style.font = icon.font;
        probe.style.whiteSpace = 'pre';
        probe.textContent = icon.content.replace(/^"|"$/g, '');
        document.body.append(probe);
        const glyph = probe.getBoundingClientRect().width;
        probe.remove();
        found[label.textContent] = [glyph, parseFloat(icon.width)];
      }
      return found;
    }""")
    assert any("deleting" in text for text in overlaps), overlaps
    for text, (glyph, box) in overlaps.items():
        assert glyph <= box + 0.5, (text, glyph, box)  # the icon fits its box: it does not run into the text


def test_a_row_that_just_changed_keeps_its_state_colour_under_the_highlight(live_stack, page, shoot, log_in):
    log_in("charlie", next_path="/?state=failed")
    _wait_rows_failed = "() => document.querySelector('#pods-table tbody tr.row-failed')"
    page.wait_for_function(_wait_rows_failed)
    # Mark the first failed row changed as the page does for 2.5 s after a cycle.
    colours = page.evaluate("""() => {
      const row = document.querySelector('#pods-table tbody tr.row-failed');
      const cell = row.cells[1];
      const before = getComputedStyle(cell).backgroundColor;
      const rowBefore = getComputedStyle(row).backgroundColor;
      row.classList.add('row-changed');
      return {rowBefore, cellBefore: before, row: getComputedStyle(row).backgroundColor,
              cell: getComputedStyle(cell).backgroundColor, edge: getComputedStyle(row.cells[0]).boxShadow};
    }""")
    assert colours["row"] == colours["rowBefore"] != "rgba(0, 0, 0, 0)", colours
    assert colours["cell"] == colours["cellBefore"] == "rgba(0, 0, 0, 0)", colours  # nothing paints over the row
    assert colours["edge"] != "none", colours  # the highlight is an edge
    shoot(page, "changed-failed-row", full_page=False)
