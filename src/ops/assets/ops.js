// Pintu ops page: polls /ops/api/summary and draws tiles, SVG charts and tables.
// No framework and no CDN; every value from the API is inserted as text, never
// as HTML, because category/region names come from complaint messages.
(function () {
  "use strict";
  var REFRESH_MS = 5000;
  var TOKEN_KEY = "pintu-ops-token";
  var LANG_KEY = "pintu-ops-lang";
  var SVGNS = "http://www.w3.org/2000/svg";
  var COLORS = ["#0b5cad", "#1e8e3e", "#c77700", "#8e24aa", "#00838f", "#c5221f", "#5d4037", "#546e7a"];

  var T = {
    id: {
      sla_open: "Aduan berjalan (tenggat)", sla_overdue: "Lewat tenggat", sla_title: "Tenggat per instansi (hari kerja)",
      sla_agency: "Instansi", sla_open_col: "Berjalan", sla_overdue_col: "Lewat tenggat", sla_paused: "Tertunda",
      sla_oldest: "Terlama lewat", sla_off: "jam tenggat tidak aktif (sla.enabled)",
      subtitle: "Pemantauan operasi", updated: "Diperbarui", source: "Sumber antrean",
      received: "Diterima (1 jam)", duplicates: "Duplikat (1 jam)", rejected: "Ditolak (1 jam)",
      outbox: "Antrean outbox", intake_queue: "Belum dirutekan (antrean intake)",
      oldest: "Aduan tertua belum dirutekan", triage: "Antrean triase", unbound: "Tanpa antrean instansi",
      dead: "Surat mati (dead letter)", routed: "Dirutekan (1 jam)", replies_failed: "Balasan gagal (1 jam)",
      chart_received: "Aduan diterima per menit, per kanal", chart_dup_rej: "Duplikat dan ditolak per menit",
      chart_routed: "Dirutekan dan balasan gagal per menit", queues: "Antrean", q_name: "Nama", q_role: "Peran",
      q_messages: "Pesan", q_unacked: "Belum di-ack", q_consumers: "Konsumen", q_note: "Catatan",
      top_categories: "Kategori teratas (1 jam)", top_regions: "Wilayah teratas (1 jam)",
      top_agencies: "Instansi teratas (1 jam)", footer: "Data: /ops/api/summary · diperbarui otomatis tiap 5 detik",
      token_needed: "Token akses diperlukan.", token_use: "Gunakan", none: "tidak ada", no_data: "belum ada data",
      no_consumer: "tanpa konsumen", not_declared: "antrean belum dideklarasikan", see_dead: "lihat `pintu dead list`",
      fetch_failed: "Gagal mengambil data", stale: "data lama", broker_down: "Relay tidak terhubung ke RabbitMQ",
      backlog_limit: "batas siap", untracked: "tak terlacak", of_which_unacked: "diproses", sent: "terkirim",
      duplicates_s: "duplikat", rejected_s: "ditolak", routed_s: "dirutekan", failed_s: "balasan gagal",
      minutes_ago: "menit lalu", now: "sekarang", sec: "dtk", min: "mnt", hour: "jam",
      role_intake: "intake", role_triage: "triase", role_agency: "instansi", role_unbound: "tanpa instansi",
      role_outbound: "balasan", role_dead: "surat mati", tap_off: "tap rute mati",
      quarantined: "E-mail dikarantina (24 jam)", quarantine: "Karantina e-mail (terbaru)", qr_at: "Waktu",
      qr_mailbox: "Kotak surat", qr_reason: "Alasan", qr_sender: "Pengirim", qr_what: "Subjek / keterangan",
      qr_id: "Id", replayed_as: "diputar ulang sebagai", no_raw: "salinan mentah terhapus",
      qr_hint: "Bukan surat warga dan surat rusak tidak diteruskan ke instansi. Jika keliru: pintu quarantine replay <id>",
      held: "Ditahan (banjir pesan)", held_title: "Pesan ditahan pengendali banjir (tertua)",
      h_id: "ID", h_at: "Ditahan", h_channel: "Kanal", h_sender: "Pengirim", h_reason: "Alasan", h_preview: "Awal teks",
      held_hint: "Lepaskan sebagai aduan: pintu flood replay <id>… | --all", held_hour: "dalam 1 jam"
    },
    en: {
      sla_open: "Open (deadlines)", sla_overdue: "Overdue", sla_title: "Deadlines per agency (working days)",
      sla_agency: "Agency", sla_open_col: "Open", sla_overdue_col: "Overdue", sla_paused: "Paused",
      sla_oldest: "Oldest overdue", sla_off: "deadline clock off (sla.enabled)",
      subtitle: "Operations monitor", updated: "Updated", source: "Queue source",
      received: "Received (1 h)", duplicates: "Duplicates (1 h)", rejected: "Rejected (1 h)",
      outbox: "Outbox backlog", intake_queue: "Unrouted (intake queue)",
      oldest: "Oldest unrouted complaint", triage: "Triage queue", unbound: "No agency queue",
      dead: "Dead letters", routed: "Routed (1 h)", replies_failed: "Reply failures (1 h)",
      chart_received: "Complaints received per minute, per channel", chart_dup_rej: "Duplicates and rejected per minute",
      chart_routed: "Routed and reply failures per minute", queues: "Queues", q_name: "Name", q_role: "Role",
      q_messages: "Messages", q_unacked: "Unacked", q_consumers: "Consumers", q_note: "Note",
      top_categories: "Top categories (1 h)", top_regions: "Top regions (1 h)",
      top_agencies: "Top agencies (1 h)", footer: "Data: /ops/api/summary · refreshes every 5 seconds",
      token_needed: "An access token is required.", token_use: "Use", none: "none", no_data: "no data yet",
      no_consumer: "no consumer", not_declared: "queue not declared", see_dead: "see `pintu dead list`",
      fetch_failed: "Could not fetch data", stale: "stale", broker_down: "Relay is not connected to RabbitMQ",
      backlog_limit: "ready limit", untracked: "untracked", of_which_unacked: "in progress", sent: "sent",
      duplicates_s: "duplicates", rejected_s: "rejected", routed_s: "routed", failed_s: "reply failures",
      minutes_ago: "min ago", now: "now", sec: "s", min: "min", hour: "h",
      role_intake: "intake", role_triage: "triage", role_agency: "agency", role_unbound: "unbound",
      role_outbound: "replies", role_dead: "dead", tap_off: "routing tap off",
      quarantined: "E-mail quarantined (24 h)", quarantine: "E-mail quarantine (latest)", qr_at: "Time",
      qr_mailbox: "Mailbox", qr_reason: "Reason", qr_sender: "Sender", qr_what: "Subject / detail",
      qr_id: "Id", replayed_as: "replayed as", no_raw: "raw copy deleted",
      qr_hint: "Mail no citizen wrote and broken mail are not passed to agencies. If that is wrong: pintu quarantine replay <id>",
      held: "Held (flood control)", held_title: "Messages held by flood control (oldest)",
      h_id: "ID", h_at: "Held", h_channel: "Channel", h_sender: "Sender", h_reason: "Reason", h_preview: "Text begins",
      held_hint: "Release as complaints: pintu flood replay <id>… | --all", held_hour: "in 1 h"
    }
  };

  // ?lang=en|id (a shareable link) wins over the remembered choice.
  var qlang = new URL(window.location.href).searchParams.get("lang");
  if (qlang === "en" || qlang === "id") { localStorage.setItem(LANG_KEY, qlang); }
  var lang = localStorage.getItem(LANG_KEY) === "en" ? "en" : "id";
  var last = null;
  var timer = null;

  function t(key) { return (T[lang] && T[lang][key]) || T.id[key] || key; }
  function $(id) { return document.getElementById(id); }
  function setText(id, v) { var el = $(id); if (el) { el.textContent = v; } }
  function fmt(n) { return (n === null || n === undefined) ? "?" : Number(n).toLocaleString(lang === "en" ? "en-US" : "id-ID"); }
  function sum(a) { var s = 0; (a || []).forEach(function (x) { s += x; }); return s; }
  function age(sec) {
    if (sec === null || sec === undefined) { return "–"; }
    if (sec < 120) { return Math.round(sec) + " " + t("sec"); }
    if (sec < 7200) { return Math.round(sec / 60) + " " + t("min"); }
    return (sec / 3600).toFixed(1) + " " + t("hour");
  }
  function state(id, cls) {
    var el = $(id); if (!el) { return; }
    el.classList.remove("warn", "bad", "unknown");
    if (cls) { el.classList.add(cls); }
  }

  // ?token= is taken once, kept for this tab only, and removed from the address bar.
  (function takeToken() {
    var u = new URL(window.location.href);
    var tok = u.searchParams.get("token");
    if (tok) {
      sessionStorage.setItem(TOKEN_KEY, tok);
      u.searchParams.delete("token");
      history.replaceState(null, "", u.pathname + (u.search || "") + u.hash);
    }
  })();

  function applyLang() {
    document.documentElement.lang = lang;
    document.querySelectorAll("[data-i18n]").forEach(function (el) { el.textContent = t(el.getAttribute("data-i18n")); });
    $("lang").textContent = lang === "id" ? "EN" : "ID";
    document.title = "Pintu — " + (lang === "id" ? "Operasi" : "Operations");
    if (last) { render(last); }
  }

  function apiUrl() {
    // Works for /ops and /ops/ and behind a reverse proxy that adds a path prefix.
    var p = window.location.pathname.replace(/\/+$/, "");
    return p + "/api/summary";
  }

  function el(tag, attrs, text) {
    var e = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { e.setAttribute(k, attrs[k]); });
    if (text !== undefined) { e.textContent = text; }
    return e;
  }
  function svg(tag, attrs) {
    var e = document.createElementNS(SVGNS, tag);
    Object.keys(attrs || {}).forEach(function (k) { e.setAttribute(k, attrs[k]); });
    return e;
  }

  // series: [{name, values[60], color, kind: "line"|"bar"}]
  function chart(boxId, legendId, series) {
    var box = $(boxId), legend = $(legendId);
    // viewBox in real pixels, so tick labels are not stretched.
    var W = Math.max(box.clientWidth || 600, 200), H = 170, L = 34, R = 6, TP = 8, B = 18;
    var n = 60, max = 1;
    series.forEach(function (s) { s.values.forEach(function (v) { if (v > max) { max = v; } }); });
    var step = Math.pow(10, Math.floor(Math.log10(max)));
    var top = Math.ceil(max / step) * step;
    if (top % 2 !== 0) { top += step; } // the middle grid line stays a whole number
    var g = svg("svg", { viewBox: "0 0 " + W + " " + H, preserveAspectRatio: "none", role: "img" });
    function x(i) { return L + (W - L - R) * i / (n - 1); }
    function y(v) { return TP + (H - TP - B) * (1 - v / top); }
    [0, 0.5, 1].forEach(function (f) {
      g.appendChild(svg("line", { x1: L, x2: W - R, y1: y(top * f), y2: y(top * f), "class": "axis" }));
      var lab = svg("text", { x: L - 4, y: y(top * f) + 3, "text-anchor": "end", "class": "tick" });
      lab.textContent = String(Math.round(top * f));
      g.appendChild(lab);
    });
    [[0, "-60 " + t("min")], [30, "-30 " + t("min")], [59, t("now")]].forEach(function (p) {
      var lab = svg("text", { x: x(p[0]), y: H - 4, "text-anchor": p[0] === 0 ? "start" : (p[0] === 59 ? "end" : "middle"), "class": "tick" });
      lab.textContent = p[1];
      g.appendChild(lab);
    });
    var bars = series.filter(function (s) { return s.kind === "bar"; });
    var bw = (W - L - R) / n / Math.max(bars.length, 1) * 0.8;
    bars.forEach(function (s, k) {
      s.values.forEach(function (v, i) {
        if (v > 0) {
          g.appendChild(svg("rect", { x: x(i) - bw * bars.length / 2 + k * bw, y: y(v), width: bw, height: Math.max(y(0) - y(v), 1), fill: s.color }));
        }
      });
    });
    series.filter(function (s) { return s.kind !== "bar"; }).forEach(function (s) {
      var pts = s.values.map(function (v, i) { return x(i).toFixed(1) + "," + y(v).toFixed(1); }).join(" ");
      g.appendChild(svg("polyline", { points: pts, fill: "none", stroke: s.color, "stroke-width": 2, "stroke-linejoin": "round" }));
    });
    box.replaceChildren(g);
    legend.replaceChildren();
    series.forEach(function (s) {
      var item = el("span");
      var sw = el("i"); sw.style.background = s.color;
      item.appendChild(sw);
      item.appendChild(document.createTextNode(s.name + ": " + fmt(sum(s.values))));
      legend.appendChild(item);
    });
  }

  function ranked(id, list) {
    var ol = $(id);
    ol.replaceChildren();
    if (!list || list.length === 0) { ol.appendChild(el("li", { "class": "empty" }, t("no_data"))); return; }
    var max = list[0].count || 1;
    list.forEach(function (r) {
      var li = el("li");
      li.appendChild(el("span", { "class": "name" }, r.name));
      li.appendChild(el("span", { "class": "count" }, fmt(r.count)));
      var bar = el("div", { "class": "bar" });
      var fill = el("span"); fill.style.width = Math.max(2, 100 * r.count / max) + "%";
      bar.appendChild(fill);
      li.appendChild(bar);
      ol.appendChild(li);
    });
  }

  function queueByRole(s, role) { return s.queues.filter(function (q) { return q.role === role; }); }

  function render(s) {
    last = s;
    var now = Date.parse(s.generated_at);
    setText("updated", new Date(now).toLocaleTimeString(lang === "en" ? "en-GB" : "id-ID"));
    setText("source", s.broker.source + (s.broker.tap_connected ? "" : " · " + t("tap_off")));
    var dot = $("status-dot");
    dot.className = "dot " + (s.broker.relay_connected ? (s.broker.error ? "warn" : "ok") : "bad");
    dot.title = s.broker.error || "";

    var h = s.intake.last_hour;
    setText("v-received", fmt(h.received));
    setText("s-received", s.intake.channels.map(function (c) { return c.channel + " " + fmt(sum(c.received)); }).join(" · "));
    setText("v-duplicates", fmt(h.duplicates));
    setText("v-rejected", fmt(h.rejected));
    state("tile-rejected", h.rejected > 0 ? "warn" : null);

    setText("v-outbox", fmt(s.outbox.backlog));
    setText("s-outbox", t("backlog_limit") + " " + fmt(s.outbox.backlog_max));
    state("tile-outbox", s.outbox.backlog > s.outbox.backlog_max ? "bad" : (s.outbox.backlog > 0 && !s.broker.relay_connected ? "warn" : null));

    var intake = queueByRole(s, "intake")[0];
    setText("v-intake", intake ? fmt(intake.messages) : "?");
    setText("s-intake", intake && intake.consumers === 0 ? t("no_consumer") : (intake && intake.messages_unacked !== null ? fmt(intake.messages_unacked) + " " + t("of_which_unacked") : ""));
    state("tile-intake", !intake || intake.messages === null ? "unknown" : (intake.consumers === 0 && intake.messages > 0 ? "bad" : null));

    var u = s.unrouted;
    setText("v-oldest", u.oldest_age_seconds === null ? t("none") : age(u.oldest_age_seconds));
    setText("s-oldest", u.untracked > 0 ? fmt(u.untracked) + " " + t("untracked") : (u.oldest_received_at || ""));
    state("tile-oldest", u.oldest_age_seconds > 900 ? "bad" : (u.oldest_age_seconds > 120 ? "warn" : null));

    function depthTile(role, id, tile, warnAt) {
      var qs = queueByRole(s, role);
      var known = qs.filter(function (q) { return q.messages !== null; });
      var total = sum(known.map(function (q) { return q.messages; }));
      setText(id, known.length ? fmt(total) : "?");
      state(tile, !known.length ? "unknown" : (total > warnAt ? "warn" : null));
    }
    depthTile("triage", "v-triage", "tile-triage", 100);
    depthTile("unbound", "v-unbound", "tile-unbound", 0);
    depthTile("dead", "v-dead", "tile-dead", 0);
    var dead = queueByRole(s, "dead")[0];
    if (dead && dead.messages > 0) { state("tile-dead", "bad"); }

    setText("v-routed", fmt(s.routed.last_hour));
    setText("v-replies-failed", fmt(s.replies.failed_last_hour));
    setText("s-replies", fmt(s.replies.sent_last_hour) + " " + t("sent"));
    state("tile-replies", s.replies.failed_last_hour > 0 ? "warn" : null);

    var chans = s.intake.channels.map(function (c, i) {
      return { name: c.channel, values: c.received, color: COLORS[i % COLORS.length], kind: "line" };
    });
    if (chans.length === 0) { chans = [{ name: "sms", values: new Array(60).fill(0), color: COLORS[0], kind: "line" }]; }
    chart("chart-received", "legend-received", chans);
    var dups = new Array(60).fill(0), rej = new Array(60).fill(0);
    s.intake.channels.forEach(function (c) { c.duplicates.forEach(function (v, i) { dups[i] += v; }); c.rejected.forEach(function (v, i) { rej[i] += v; }); });
    chart("chart-duprej", "legend-duprej", [
      { name: t("duplicates_s"), values: dups, color: "#c77700", kind: "bar" },
      { name: t("rejected_s"), values: rej, color: "#c5221f", kind: "bar" }
    ]);
    chart("chart-routed", "legend-routed", [
      { name: t("routed_s"), values: s.routed.per_minute, color: "#1e8e3e", kind: "line" },
      { name: t("failed_s"), values: s.replies.failed_per_minute, color: "#c5221f", kind: "bar" }
    ]);

    var tbody = document.querySelector("#queues tbody");
    tbody.replaceChildren();
    var maxDepth = 1;
    s.queues.forEach(function (q) { if (q.messages > maxDepth) { maxDepth = q.messages; } });
    s.queues.forEach(function (q) {
      var tr = el("tr", { "data-queue": q.name });
      var note = q.error ? (q.error === "queue not declared" ? t("not_declared") : q.error) : "";
      if (!note && q.consumers === 0 && q.role !== "dead") { note = t("no_consumer"); }
      if (!note && q.role === "dead" && q.messages > 0) { note = t("see_dead"); }
      if (q.error || (q.role === "dead" && q.messages > 0)) { tr.className = "bad"; }
      else if (q.consumers === 0 && q.role !== "dead" && q.messages > 0) { tr.className = "warn"; }
      tr.appendChild(el("td", {}, q.name));
      tr.appendChild(el("td", {}, t("role_" + q.role)));
      tr.appendChild(el("td", { "class": "num" }, fmt(q.messages)));
      tr.appendChild(el("td", { "class": "num" }, q.messages_unacked === null ? "–" : fmt(q.messages_unacked)));
      tr.appendChild(el("td", { "class": "num" }, fmt(q.consumers)));
      var bc = el("td", { "class": "barcol" });
      var bar = el("div", { "class": "qbar" });
      bar.style.width = (q.messages ? Math.max(1, 100 * q.messages / maxDepth) : 0) + "%";
      bc.appendChild(bar);
      tr.appendChild(bc);
      tr.appendChild(el("td", { "class": "note" }, note));
      tbody.appendChild(tr);
    });

    var eq = s.email_quarantine || { last_24h: 0, by_reason: [], recent: [] };
    setText("v-quarantine", fmt(eq.last_24h));
    setText("s-quarantine", eq.by_reason.slice(0, 3).map(function (r) { return r.name + " " + fmt(r.count); }).join(" · "));
    state("tile-quarantine", eq.last_24h > 0 ? "warn" : null);
    var qbody = document.querySelector("#quarantine tbody");
    qbody.replaceChildren();
    if (eq.recent.length === 0) {
      var tr0 = el("tr"); tr0.appendChild(el("td", { colspan: "6", "class": "empty" }, t("none"))); qbody.appendChild(tr0);
    }
    eq.recent.forEach(function (q) {
      var tr = el("tr", { "data-quarantine": q.id });
      var note = q.replayed ? " (" + t("replayed_as") + " " + q.replayed.tracking + ")" : (q.raw_available ? "" : " (" + t("no_raw") + ")");
      tr.appendChild(el("td", {}, new Date(Date.parse(q.at)).toLocaleString(lang === "en" ? "en-GB" : "id-ID")));
      tr.appendChild(el("td", {}, q.mailbox));
      tr.appendChild(el("td", { "class": "reason" }, q.reason));
      tr.appendChild(el("td", {}, q.sender || "–"));
      tr.appendChild(el("td", { title: q.detail }, (q.subject || q.detail) + note));
      tr.appendChild(el("td", { "class": "mono" }, q.id));
      qbody.appendChild(tr);
    });

    // Absent from gateways older than flood control.
    var fl = s.flood || { held: 0, last_hour: 0, oldest: [] };
    setText("v-held", fmt(fl.held));
    setText("s-held", fmt(fl.last_hour) + " " + t("held_hour"));
    state("tile-held", fl.held > 0 ? "warn" : null);
    var hbody = document.querySelector("#held tbody");
    hbody.replaceChildren();
    if (fl.oldest.length === 0) {
      var th0 = el("tr"); th0.appendChild(el("td", { colspan: "6", "class": "empty" }, t("none"))); hbody.appendChild(th0);
    }
    fl.oldest.forEach(function (m) {
      var tr = el("tr", { "data-held": m.id });
      tr.appendChild(el("td", { "class": "mono" }, m.id));
      tr.appendChild(el("td", {}, new Date(Date.parse(m.held_at)).toLocaleString(lang === "en" ? "en-GB" : "id-ID")));
      tr.appendChild(el("td", {}, m.channel + "/" + m.provider));
      tr.appendChild(el("td", {}, m.sender + " [" + m.sender_tag + "]"));
      tr.appendChild(el("td", { "class": "reason" }, m.reason));
      tr.appendChild(el("td", { "class": "note" }, m.preview));
      hbody.appendChild(tr);
    });

    ranked("top-categories", s.routed.top_categories);
    ranked("top-regions", s.routed.top_regions);
    ranked("top-agencies", s.routed.top_agencies);

    var banner = $("banner");
    if (!s.broker.relay_connected) { banner.textContent = t("broker_down") + (s.broker.error ? " — " + s.broker.error : ""); banner.classList.remove("hidden"); }
    else { banner.classList.add("hidden"); }
    document.body.setAttribute("data-loaded", "1");
  }

  function showError(msg) {
    var banner = $("banner");
    banner.textContent = t("fetch_failed") + ": " + msg + (last ? " (" + t("stale") + ")" : "");
    banner.classList.remove("hidden");
    $("status-dot").className = "dot bad";
  }

  function poll() {
    var headers = { "Accept": "application/json" };
    var tok = sessionStorage.getItem(TOKEN_KEY);
    if (tok) { headers["Authorization"] = "Bearer " + tok; }
    fetch(apiUrl(), { headers: headers, cache: "no-store", credentials: "omit" })
      .then(function (r) {
        if (r.status === 401) { $("token-form").classList.remove("hidden"); throw new Error("401"); }
        if (!r.ok) { throw new Error("HTTP " + r.status); }
        $("token-form").classList.add("hidden");
        return r.json();
      })
      .then(function (s) { render(s); })
      .catch(function (e) { showError(e.message || String(e)); })
      .then(function () { clearTimeout(timer); timer = setTimeout(poll, REFRESH_MS); });
  }

  $("lang").addEventListener("click", function () {
    lang = lang === "id" ? "en" : "id";
    localStorage.setItem(LANG_KEY, lang);
    applyLang();
  });
  $("token-form").addEventListener("submit", function (ev) {
    ev.preventDefault();
    sessionStorage.setItem(TOKEN_KEY, $("token-input").value);
    $("token-input").value = "";
    clearTimeout(timer);
    poll();
  });
  // Working-day deadlines (docs/sla.md): /ops/api/sla, polled with the summary.
  function renderSla(d) {
    var body = document.querySelector("#sla tbody");
    body.replaceChildren();
    if (!d.enabled) {
      setText("v-sla-open", "–"); setText("v-sla-overdue", "–"); setText("s-sla-overdue", t("sla_off"));
      var tr0 = el("tr"); tr0.appendChild(el("td", { colspan: "5", "class": "empty" }, t("sla_off"))); body.appendChild(tr0);
      return;
    }
    var s = d.summary;
    setText("v-sla-open", fmt(s.open));
    setText("v-sla-overdue", fmt(s.overdue));
    var oldest = null;
    s.agencies.forEach(function (a) { if (a.oldest_overdue_secs !== null && (oldest === null || a.oldest_overdue_secs > oldest)) { oldest = a.oldest_overdue_secs; } });
    setText("s-sla-overdue", oldest === null ? "" : t("sla_oldest") + " " + age(oldest));
    state("tile-sla-overdue", s.overdue > 0 ? "warn" : null);
    var rows = s.agencies.slice().sort(function (a, b) { return (b.overdue - a.overdue) || (b.open - a.open); });
    if (rows.length === 0) {
      var tr1 = el("tr"); tr1.appendChild(el("td", { colspan: "5", "class": "empty" }, t("none"))); body.appendChild(tr1);
    }
    rows.forEach(function (a) {
      var tr = el("tr", { "data-agency": a.agency });
      tr.appendChild(el("td", { "class": "mono" }, a.agency));
      tr.appendChild(el("td", {}, fmt(a.open)));
      tr.appendChild(el("td", { "class": a.overdue > 0 ? "warn" : "" }, fmt(a.overdue)));
      tr.appendChild(el("td", {}, fmt(a.paused)));
      tr.appendChild(el("td", {}, a.oldest_overdue_secs === null ? "–" : age(a.oldest_overdue_secs)));
      body.appendChild(tr);
    });
    document.body.setAttribute("data-sla-loaded", "1");
  }

  function pollSla() {
    var headers = { "Accept": "application/json" };
    var tok = sessionStorage.getItem(TOKEN_KEY);
    if (tok) { headers["Authorization"] = "Bearer " + tok; }
    fetch(apiUrl().replace(/summary$/, "sla"), { headers: headers, cache: "no-store", credentials: "omit" })
      .then(function (r) { if (!r.ok) { throw new Error("HTTP " + r.status); } return r.json(); })
      .then(function (d) { renderSla(d); })
      .catch(function () { /* the summary poll shows fetch errors */ })
      .then(function () { setTimeout(pollSla, REFRESH_MS); });
  }

  applyLang();
  poll();
  pollSla();
})();
