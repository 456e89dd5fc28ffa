// Pintu policy report page: reads /ops/api/report (counts only, small cells
// already suppressed by the server) and draws bars and a table. Values are
// inserted as text, never as HTML. ?from=&to= pick the range (default: this year).
(function () {
  "use strict";
  var TOKEN_KEY = "pintu-ops-token";
  var SVGNS = "http://www.w3.org/2000/svg";
  function $(id) { return document.getElementById(id); }
  var q = new URLSearchParams(window.location.search);
  if (q.get("token")) {
    sessionStorage.setItem(TOKEN_KEY, q.get("token"));
    q.delete("token");
    history.replaceState(null, "", window.location.pathname + (q.toString() ? "?" + q.toString() : ""));
  }
  var year = new Date().getFullYear();
  var from = q.get("from") || (year + "-01-01");
  var to = q.get("to") || (year + "-12-31");
  $("range").textContent = from + " – " + to;
  var base = window.location.pathname.replace(/\/report\/?$/, "");

  function get(by) {
    var headers = { "Accept": "application/json" };
    var tok = sessionStorage.getItem(TOKEN_KEY);
    if (tok) { headers["Authorization"] = "Bearer " + tok; }
    var url = base + "/api/report?format=json&from=" + encodeURIComponent(from) + "&to=" + encodeURIComponent(to) + "&by=" + by;
    return fetch(url, { headers: headers, cache: "no-store", credentials: "omit" }).then(function (r) {
      if (r.status === 401) { $("token-form").classList.remove("hidden"); throw new Error("401"); }
      if (!r.ok) { throw new Error("HTTP " + r.status); }
      return r.json();
    });
  }

  function el(tag, attrs, text) {
    var e = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { e.setAttribute(k, attrs[k]); });
    if (text !== undefined) { e.textContent = text; }
    return e;
  }

  function bars(boxId, rows, label, value) {
    var box = $(boxId);
    box.replaceChildren();
    rows = rows.slice().sort(function (a, b) { return value(b) - value(a); }).slice(0, 20);
    if (rows.length === 0) { box.appendChild(el("p", { "class": "empty" }, "–")); return; }
    var max = Math.max.apply(null, rows.map(value)) || 1;
    var H = 22, W = 640, L = 170;
    var s = document.createElementNS(SVGNS, "svg");
    s.setAttribute("viewBox", "0 0 " + W + " " + (rows.length * H + 4));
    s.setAttribute("width", "100%");
    rows.forEach(function (r, i) {
      var y = i * H + 2;
      var t = document.createElementNS(SVGNS, "text");
      t.setAttribute("x", "0"); t.setAttribute("y", String(y + 15)); t.textContent = label(r);
      var b = document.createElementNS(SVGNS, "rect");
      var w = Math.max(1, (W - L - 60) * value(r) / max);
      b.setAttribute("x", String(L)); b.setAttribute("y", String(y + 3)); b.setAttribute("height", String(H - 6));
      b.setAttribute("width", w.toFixed(1)); b.setAttribute("fill", "#0b5cad");
      b.setAttribute("data-bar", label(r));
      var v = document.createElementNS(SVGNS, "text");
      v.setAttribute("x", String(L + w + 6)); v.setAttribute("y", String(y + 15)); v.textContent = String(value(r));
      s.appendChild(t); s.appendChild(b); s.appendChild(v);
    });
    box.appendChild(s);
  }

  function load() {
    Promise.all([get("province"), get("category"), get("agency"), get("category,region")]).then(function (rs) {
      var prov = rs[0], cat = rs[1], ag = rs[2], pr = rs[3];
      bars("chart-province", prov.rows, function (r) { return r.keys[0]; }, function (r) { return r.received; });
      bars("chart-category", cat.rows, function (r) { return r.keys[0]; }, function (r) { return r.received; });
      bars("chart-pungli", pr.rows.filter(function (r) { return r.keys[0] === "pungli"; }),
        function (r) { return r.keys[1]; }, function (r) { return r.received; });
      var body = document.querySelector("#agencies tbody");
      body.replaceChildren();
      ag.rows.forEach(function (r) {
        var tr = el("tr", { "data-agency": r.keys[0] });
        tr.appendChild(el("td", { "class": "mono" }, r.keys[0]));
        [r.received, r.dispositioned, r.followed_up, r.overdue].forEach(function (v) { tr.appendChild(el("td", {}, String(v))); });
        tr.appendChild(el("td", {}, r.share_overdue === null ? "–" : (100 * r.share_overdue).toFixed(1) + "%"));
        tr.appendChild(el("td", {}, r.median_follow_up_hours === null ? "–" : String(r.median_follow_up_hours)));
        body.appendChild(tr);
      });
      $("suppressed").textContent = "k = " + ag.k + "; baris disembunyikan / rows suppressed: " + ag.suppressed_rows;
      document.body.setAttribute("data-loaded", "1");
    }).catch(function (e) {
      var b = $("banner"); b.textContent = String(e.message || e); b.classList.remove("hidden");
    });
  }
  $("token-form").addEventListener("submit", function (ev) {
    ev.preventDefault();
    sessionStorage.setItem(TOKEN_KEY, $("token-input").value);
    $("token-input").value = "";
    $("token-form").classList.add("hidden");
    load();
  });
  load();
})();
