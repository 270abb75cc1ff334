// A table that renders only the rows in view (virtual scrolling), so that 10,000 rows stay smooth.
//
// The rows have one fixed height (CSS: .vtable td); spacer rows above and below the visible
// slice keep the scrollbar true. The caller hands it the filtered, sorted rows and re-renders
// after each cycle; only the ~40 visible rows are built.

const OVERSCAN = 8;

export class VirtualTable {
  // columns: [{key, label, num, cell(row) -> string | Node, title?}]
  constructor(scroller, table, { columns, rowHeight = 30, rowClass = () => "", onSort, sort }) {
    this.scroller = scroller;
    this.table = table;
    this.columns = columns;
    this.rowHeight = rowHeight;
    this.rowClass = rowClass;
    this.rows = [];
    this.sort = sort || { key: null, dir: 1 };
    this.onSort = onSort;
    this.thead = table.createTHead();
    this.tbody = table.tBodies[0] || table.createTBody();
    this.#header();
    let pending = false;
    scroller.addEventListener("scroll", () => {
      if (pending) return;
      pending = true;
      requestAnimationFrame(() => {
        pending = false;
        this.render();
      });
    }, { passive: true });
  }

  #header() {
    const tr = document.createElement("tr");
    for (const column of this.columns) {
      const th = document.createElement("th");
      th.scope = "col";
      if (column.num) th.className = "num";
      const button = document.createElement("button");
      button.type = "button";
      button.className = "sort";
      button.dataset.key = column.key;
      button.textContent = column.label;
      if (column.title) button.title = column.title;
      button.addEventListener("click", () => {
        const dir = this.sort.key === column.key ? -this.sort.dir : (column.descFirst ? -1 : 1);
        this.sort = { key: column.key, dir };
        this.#marks();
        if (this.onSort) this.onSort(this.sort);
      });
      th.append(button);
      tr.append(th);
    }
    this.thead.replaceChildren(tr);
    this.#marks();
  }

  #marks() {
    for (const th of this.thead.rows[0].cells) {
      const key = th.firstChild.dataset.key;
      const sorted = key === this.sort.key;
      th.setAttribute("aria-sort", sorted ? (this.sort.dir > 0 ? "ascending" : "descending") : "none");
    }
  }

  setRows(rows) {
    this.rows = rows;
    this.render();
  }

  render() {
    const total = this.rows.length;
    const height = this.rowHeight;
    const headerHeight = this.thead.offsetHeight || height;
    const top = Math.max(0, this.scroller.scrollTop - headerHeight);
    const visible = Math.ceil((this.scroller.clientHeight || 600) / height);
    const first = Math.max(0, Math.floor(top / height) - OVERSCAN);
    const last = Math.min(total, first + visible + 2 * OVERSCAN);
    const fragment = document.createDocumentFragment();
    if (first > 0) fragment.append(this.#spacer(first * height));
    for (let i = first; i < last; i += 1) fragment.append(this.#row(this.rows[i]));
    if (last < total) fragment.append(this.#spacer((total - last) * height));
    this.tbody.replaceChildren(fragment);
    this.table.dataset.rows = String(total);
    this.table.dataset.rendered = String(last - first);
  }

  #spacer(px) {
    const tr = document.createElement("tr");
    tr.className = "spacer";
    tr.setAttribute("aria-hidden", "true");
    const td = document.createElement("td");
    td.colSpan = this.columns.length;
    td.style.height = `${px}px`; // CSSOM, allowed by the CSP (style attributes in markup are not)
    tr.append(td);
    return tr;
  }

  #row(row) {
    const tr = document.createElement("tr");
    const extra = this.rowClass(row);
    if (extra) tr.className = extra;
    for (const column of this.columns) {
      const td = document.createElement("td");
      if (column.num) td.className = "num";
      const value = column.cell(row);
      if (value instanceof Node) td.append(value);
      else td.textContent = value ?? "";
      tr.append(td);
    }
    return tr;
  }
}
