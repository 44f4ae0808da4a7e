// hetalign page: sortable tables, a filter per table, seed spreads, and the
// view (experiment, table, sort, filter) kept in the URL fragment.
(function () {
  "use strict";
  function state() {
    var s = {}, h = location.hash.replace(/^#/, "");
    h.split("&").forEach(function (kv) {
      if (!kv) return;
      var i = kv.indexOf("=");
      if (i < 0) return;
      s[decodeURIComponent(kv.slice(0, i))] = decodeURIComponent(kv.slice(i + 1));
    });
    return s;
  }
  function save(s) {
    var parts = [];
    ["x", "t", "s", "f"].forEach(function (k) {
      if (s[k]) parts.push(k + "=" + encodeURIComponent(s[k]));
    });
    history.replaceState(null, "", parts.length ? "#" + parts.join("&") : location.pathname + location.search);
  }
  function key(td, num) {
    if (!td) return num ? -Infinity : "";
    if (num) {
      // data-v holds the number where the text rounds it; else the text is it.
      var v = td.getAttribute("data-v");
      if (v === null) {
        var e = td.querySelector(".v");
        v = e ? e.textContent : "";
      }
      var x = parseFloat(v);
      return isNaN(x) ? -Infinity : x;
    }
    return td.textContent.trim();
  }
  function sortTable(tbl, col, dir) {
    var ths = tbl.tHead.rows[0].cells;
    var th = ths[col];
    if (!th) return;
    var num = th.getAttribute("data-num") === "1";
    var body = tbl.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (a, b) {
      var ka = key(a.cells[col], num), kb = key(b.cells[col], num);
      var c = num ? (ka < kb ? -1 : ka > kb ? 1 : 0) : String(ka).localeCompare(String(kb), undefined, { numeric: true });
      return dir === "desc" ? -c : c;
    });
    rows.forEach(function (r) { body.appendChild(r); });
    for (var i = 0; i < ths.length; i++) ths[i].removeAttribute("aria-sort");
    th.setAttribute("aria-sort", dir === "desc" ? "descending" : "ascending");
  }
  function filterTable(tbl, q) {
    q = (q || "").toLowerCase();
    var rows = tbl.tBodies[0].rows, shown = 0;
    for (var i = 0; i < rows.length; i++) {
      // The row's label and cells as the report has them (not the
      // hidden padding that aligns decimal points).
      var parts = rows[i].querySelectorAll("th, .v"), text = rows[i].textContent;
      if (parts.length) text = Array.prototype.map.call(parts, function (e) { return e.textContent; }).join(" ");
      var hide = q !== "" && text.toLowerCase().indexOf(q) < 0;
      rows[i].classList.toggle("hidden", hide);
      if (!hide) shown++;
    }
    var n = document.getElementById(tbl.id + "-n");
    if (n) n.textContent = q ? shown + " of " + rows.length + " rows" : "";
  }
  function showExperiment(x) {
    var secs = document.querySelectorAll("section.experiment");
    for (var i = 0; i < secs.length; i++) secs[i].classList.toggle("hidden", !!x && secs[i].getAttribute("data-name") !== x);
    var sel = document.getElementById("pick");
    if (sel) sel.value = x || "";
  }
  function apply() {
    var s = state();
    showExperiment(s.x);
    if (s.t) {
      var tbl = document.getElementById(s.t);
      if (tbl) {
        if (s.s) {
          var p = s.s.split(":");
          sortTable(tbl, parseInt(p[0], 10), p[1]);
        }
        var inp = document.querySelector('input.filter[data-for="' + s.t + '"]');
        if (inp) { inp.value = s.f || ""; filterTable(tbl, s.f); }
        (document.getElementById("h-" + s.t) || tbl).scrollIntoView();
      }
    }
  }
  document.addEventListener("click", function (e) {
    var th = e.target.closest && e.target.closest("table.data thead th");
    if (th) {
      var tbl = th.closest("table");
      var dir = th.getAttribute("aria-sort") === "ascending" ? "desc" : "asc";
      sortTable(tbl, th.cellIndex, dir);
      var s = state();
      if (s.t !== tbl.id) s.f = "";
      s.t = tbl.id; s.s = th.cellIndex + ":" + dir;
      save(s);
      return;
    }
    var sum = e.target.closest && e.target.closest("td.sum");
    if (sum) sum.classList.toggle("open");
  });
  document.addEventListener("input", function (e) {
    var inp = e.target;
    if (!inp.classList || !inp.classList.contains("filter")) return;
    var tbl = document.getElementById(inp.getAttribute("data-for"));
    filterTable(tbl, inp.value);
    var s = state();
    if (s.t !== tbl.id) s.s = "";
    s.t = tbl.id; s.f = inp.value;
    save(s);
  });
  document.addEventListener("change", function (e) {
    if (e.target.id !== "pick") return;
    var s = state();
    s.x = e.target.value; s.t = ""; s.s = ""; s.f = "";
    save(s);
    showExperiment(s.x);
  });
  window.addEventListener("hashchange", apply);
  apply();
  document.documentElement.setAttribute("data-ready", "1");
})();
