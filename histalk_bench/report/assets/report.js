"use strict";
/* Sortable tables (click a column head; numbers sort by their raw value, absent values last)
   and one SyncGroup per sequence of the browser. */
(function () {
  function sortTable(table, column, th) {
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    var ascending = th.getAttribute("aria-sort") !== "ascending";
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (c) { c.removeAttribute("aria-sort"); });
    th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
    function key(row) {
      var cell = row.cells[column];
      var raw = cell.getAttribute("data-value");
      if (raw === null) { return cell.textContent.trim().toLowerCase(); }
      var number = parseFloat(raw);
      return isNaN(number) ? null : number;
    }
    rows.sort(function (a, b) {
      var x = key(a), y = key(b);
      if (x === null && y === null) { return 0; }
      if (x === null) { return 1; }
      if (y === null) { return -1; }
      var order = x < y ? -1 : x > y ? 1 : 0;
      return ascending ? order : -order;
    });
    rows.forEach(function (row) { body.appendChild(row); });
  }

  document.querySelectorAll("table.sortable").forEach(function (table) {
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th, column) {
      th.addEventListener("click", function () { sortTable(table, column, th); });
    });
  });
  window.reportGroups = Array.prototype.map.call(document.querySelectorAll(".sync-group"), function (root) {
    return new window.SyncGroup(root);
  });
})();
