// wingress dashboard: the live parts. Every page works without this file;
// it adds the copy button on the "added" page, and on the peers and routes
// pages it reads GET /events (one JSON event a second, see the server) to
// draw throughput graphs and rates. No framework, no build step.
//
// Event: {"t": unix ms, "peers": {NAME: {"rx", "tx", "hs", "endpoint"}},
//         "routes": [{"requests", "errors"}]}  (routes in /status order)
(function () {
  "use strict";

  var WINDOW_MS = 60000; // the graphs show the last minute
  var ONLINE_SECS = 180; // as the server's pages decide "online"
  var RATE_SAMPLES = 6; // routes: rates over the last 5 intervals
  var W = 120, H = 32; // the graph's viewBox

  function $(sel, root) { return (root || document).querySelector(sel); }
  function $all(sel, root) { return Array.prototype.slice.call((root || document).querySelectorAll(sel)); }
  function setText(el, text) { if (el && el.textContent !== text) el.textContent = text; }

  // === Formatting, as the server renders it ===

  function span(secs) {
    secs = Math.max(0, Math.floor(secs));
    if (secs < 60) return secs + " s";
    if (secs < 3600) return Math.floor(secs / 60) + " min";
    if (secs < 86400) {
      var m = Math.floor((secs % 3600) / 60);
      return Math.floor(secs / 3600) + " h" + (m ? " " + m + " min" : "");
    }
    var h = Math.floor((secs % 86400) / 3600);
    return Math.floor(secs / 86400) + " d" + (h ? " " + h + " h" : "");
  }

  function bytes(b) {
    var units = ["B", "KiB", "MiB", "GiB", "TiB"], u = 0;
    while (b >= 1024 && u < units.length - 1) { b /= 1024; u++; }
    if (u === 0) return b + " B";
    return (b < 10 ? b.toFixed(1) : b.toFixed(0)) + " " + units[u];
  }

  function bits(bps) {
    var units = ["bit/s", "kbit/s", "Mbit/s", "Gbit/s"], u = 0;
    while (bps >= 1000 && u < units.length - 1) { bps /= 1000; u++; }
    return (u === 0 ? bps.toFixed(0) : bps < 10 ? bps.toFixed(1) : bps.toFixed(0)) + " " + units[u];
  }

  function count(n) { return String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ","); }

  function percent(part, whole) {
    if (!whole) return "—";
    var p = part * 100 / whole;
    if (p === 0) return "0 %";
    if (p < 0.1) return "< 0.1 %";
    return p.toFixed(1) + " %";
  }

  // === Copy button (added page) ===

  var copy = $("#copy-conf"), conf = $("#client-conf");
  if (copy && conf) {
    copy.hidden = false;
    copy.addEventListener("click", function () {
      var done = $("#copy-done");
      var text = conf.textContent;
      function ok() { setText(done, "Copied."); }
      function fallback() {
        // Older browsers, or no clipboard permission: select the text so
        // the person can copy it by hand.
        var range = document.createRange();
        range.selectNodeContents(conf);
        var sel = window.getSelection();
        sel.removeAllRanges();
        sel.addRange(range);
        try { if (document.execCommand("copy")) { ok(); return; } } catch (e) { /* below */ }
        setText(done, "Selected: copy it with your keyboard.");
      }
      if (navigator.clipboard && navigator.clipboard.writeText) {
        navigator.clipboard.writeText(text).then(ok, fallback);
      } else {
        fallback();
      }
    });
  }

  // === Live pages ===

  var page = document.body.getAttribute("data-page");
  if ((page !== "peers" && page !== "routes") || !window.EventSource) return;

  // Keyed by peer name: no prototype, so no name can collide with one.
  var peerRows = Object.create(null); // name -> {row, last sample, points}
  $all("tr[data-peer]").forEach(function (row) {
    peerRows[row.getAttribute("data-peer")] = {
      row: row,
      last: null,
      points: [], // {t, rx, tx} in bit/s
      rxPath: $("svg.graph path.rx", row),
      txPath: $("svg.graph path.tx", row)
    };
  });
  var routeRows = $all("tr[data-route]");
  var routeSamples = []; // per route: [{t, requests, errors}]

  function pathOf(points, key, now, max) {
    var d = "";
    for (var i = 0; i < points.length; i++) {
      var p = points[i];
      var x = W - (now - p.t) / WINDOW_MS * W;
      var y = H - 2 - (p[key] / max) * (H - 4);
      d += (d ? " L " : "M ") + x.toFixed(1) + " " + y.toFixed(1);
    }
    return d;
  }

  function onPeers(t, peers) {
    Object.keys(peerRows).forEach(function (name) {
      var s = peerRows[name], p = peers[name];
      if (!p || typeof p !== "object") return;
      var row = s.row;
      var rx = Number(p.rx) || 0, tx = Number(p.tx) || 0;
      var hs = typeof p.hs === "number" ? p.hs : null;
      setText($(".endpoint", row), p.endpoint ? String(p.endpoint) : "—");
      setText($(".handshake", row), hs === null ? "never" : span(hs) + " ago");
      setText($(".transfer", row), bytes(rx) + " / " + bytes(tx));
      var state = $(".state .pill", row);
      if (state) {
        var word = hs === null ? "never" : hs <= ONLINE_SECS ? "online" : "idle";
        setText(state, word);
        state.className = "pill " + (word === "online" ? "ok" : "quiet");
      }
      if (s.last && t > s.last.t) {
        var secs = (t - s.last.t) / 1000;
        // A counter that went down (the peer was re-added) restarts at 0.
        var point = {
          t: t,
          rx: Math.max(0, rx - s.last.rx) * 8 / secs,
          tx: Math.max(0, tx - s.last.tx) * 8 / secs
        };
        // The first rate covers the interval before it: start the line there.
        if (!s.points.length) s.points.push({ t: s.last.t, rx: point.rx, tx: point.tx });
        s.points.push(point);
      }
      s.last = { t: t, rx: rx, tx: tx };
      while (s.points.length && s.points[0].t < t - WINDOW_MS) s.points.shift();
      // Scale to the busiest moment of the minute, at least 8 kbit/s so
      // keepalives stay a flat line.
      var max = 8000;
      s.points.forEach(function (q) { max = Math.max(max, q.rx, q.tx); });
      if (s.rxPath) s.rxPath.setAttribute("d", pathOf(s.points, "rx", t, max));
      if (s.txPath) s.txPath.setAttribute("d", pathOf(s.points, "tx", t, max));
      var now = s.points[s.points.length - 1];
      if (now) setText($(".rate", row), "↓ " + bits(now.rx) + " ↑ " + bits(now.tx));
    });
  }

  function onRoutes(t, routes) {
    routeRows.forEach(function (row) {
      var i = Number(row.getAttribute("data-route"));
      var r = routes[i];
      if (!r || typeof r !== "object") return;
      var requests = Number(r.requests) || 0, errors = Number(r.errors) || 0;
      var samples = routeSamples[i] || (routeSamples[i] = []);
      samples.push({ t: t, requests: requests, errors: errors });
      while (samples.length > RATE_SAMPLES) samples.shift();
      setText($(".requests", row), count(requests));
      var first = samples[0], last = samples[samples.length - 1];
      if (samples.length < 2 || last.t <= first.t) return;
      var dr = Math.max(0, last.requests - first.requests);
      var de = Math.max(0, last.errors - first.errors);
      var secs = (last.t - first.t) / 1000;
      var rps = dr / secs;
      setText($(".rps", row), rps === 0 ? "0" : rps < 10 ? rps.toFixed(1) : rps.toFixed(0));
      var errorsCell = $(".errors", row);
      setText(errorsCell, dr ? percent(de, dr) : "—");
      if (errorsCell) errorsCell.title = "5xx share of the last " + Math.round(secs) + " s";
    });
  }

  var live = $("#live");
  var events = new EventSource("/events");
  events.onopen = function () { if (live) live.hidden = false; };
  events.onerror = function () { if (live) live.hidden = true; };
  events.onmessage = function (e) {
    var data;
    try { data = JSON.parse(e.data); } catch (err) { return; }
    if (!data || typeof data.t !== "number") return;
    if (live) live.hidden = false;
    if (data.peers && typeof data.peers === "object") onPeers(data.t, data.peers);
    if (Array.isArray(data.routes)) onRoutes(data.t, data.routes);
  };
})();
