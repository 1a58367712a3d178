// Sluice log search page: builds API requests from the form, draws the
// severity histogram and the results table, and shows request timelines.
"use strict";

const SEVERITY_NAMES = ["unspecified", "trace", "debug", "info", "warn", "error", "fatal"];
const $ = (id) => document.getElementById(id);
let nextCursor = "";
let lastParams = null;

function severityClass(n) {
  if (!n || n < 1 || n > 24) return "unspecified";
  return SEVERITY_NAMES[Math.floor((n - 1) / 4) + 1];
}

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") e.className = v; else if (k === "text") e.textContent = v; else e.setAttribute(k, v);
  }
  for (const c of children) e.append(c);
  return e;
}

// formParams turns the form into API query parameters.
function formParams() {
  const p = new URLSearchParams();
  const q = $("q").value.trim();
  if (q) p.set("q", q);
  if ($("service").value) p.set("service", $("service").value);
  if ($("severity").value) p.set("severity", $("severity").value);
  const hours = { "15m": 0.25, "1h": 1, "24h": 24, "168h": 168, "720h": 720 }[$("range").value] || 24;
  const to = new Date();
  const from = new Date(to.getTime() - hours * 3600 * 1000);
  p.set("from", from.toISOString());
  p.set("to", to.toISOString());
  const tid = $("trace_id").value.trim();
  if (tid) p.set("trace_id", tid);
  for (const a of $("attr").value.split(/\s+/).filter(Boolean)) p.append("attr", a);
  return p;
}

// syncURL keeps the form state in the address bar so searches can be shared.
function syncURL() {
  const u = new URLSearchParams();
  for (const id of ["q", "service", "severity", "range", "trace_id", "attr"]) {
    if ($(id).value) u.set(id, $(id).value);
  }
  history.replaceState(null, "", "?" + u.toString() + location.hash);
}

function restoreFromURL() {
  const u = new URLSearchParams(location.search);
  for (const id of ["q", "severity", "range", "trace_id", "attr"]) {
    if (u.has(id)) $(id).value = u.get(id);
  }
  return u.get("service") || "";
}

async function api(path, params) {
  const r = await fetch(path + (params ? "?" + params.toString() : ""));
  const body = await r.json().catch(() => ({ error: "invalid response (HTTP " + r.status + ")" }));
  if (!r.ok) throw new Error(body.error || "HTTP " + r.status);
  return body;
}

function showError(err) {
  $("error").hidden = !err;
  $("error").textContent = err ? String(err.message || err) : "";
}

async function loadServices(selected) {
  try {
    const res = await api("api/v1/services");
    for (const s of res.services) {
      $("service").append(el("option", { value: s, text: s || "(no service)" }));
    }
    $("service").value = selected;
  } catch (e) { showError(e); }
}

function drawHistogram(h) {
  const box = $("histogram");
  box.replaceChildren();
  let maxTotal = 0;
  for (const b of h.buckets) maxTotal = Math.max(maxTotal, b.counts.reduce((a, c) => a + c, 0));
  for (const b of h.buckets) {
    const total = b.counts.reduce((a, c) => a + c, 0);
    const bar = el("div", { class: "hist-bar", title: b.start + ": " + total + " matches", "data-count": String(total) });
    b.counts.forEach((c, i) => {
      if (c > 0 && maxTotal > 0) {
        const seg = el("div", { class: "hist-seg sev-" + h.severities[i] });
        seg.style.height = (100 * c / maxTotal) + "%";
        bar.append(seg);
      }
    });
    box.append(bar);
  }
  $("legend").replaceChildren(...h.severities.map((s) => el("span", {}, el("i", { class: "sev-" + s }), s)));
}

function severityBadge(r) {
  const cls = severityClass(r.severity_number);
  return el("span", { class: "sev sev-" + cls, text: r.severity_text || cls.toUpperCase() });
}

function traceLink(id) {
  if (!id) return "";
  const a = el("a", { class: "trace", href: "#trace=" + id, title: "open the request timeline", text: id.slice(0, 12) + "…" });
  a.addEventListener("click", (ev) => ev.stopPropagation());
  return a;
}

function details(r) {
  return JSON.stringify({
    timestamp: r.timestamp, observed_timestamp: r.observed_timestamp, severity_number: r.severity_number,
    severity_text: r.severity_text, service_name: r.service_name, trace_id: r.trace_id, span_id: r.span_id,
    event_name: r.event_name, scope: r.scope_name, body: r.body, attributes: r.attributes,
    resource_attributes: r.resource_attributes, file: r.file,
  }, null, 2);
}

function appendRows(records) {
  const tbody = $("results").tBodies[0];
  for (const r of records) {
    const tr = el("tr", { class: "record" },
      el("td", { class: "time", text: r.timestamp.replace("T", " ").replace("Z", "") }),
      el("td", { class: "service", text: r.service_name || "" }),
      el("td", {}, severityBadge(r)),
      el("td", { class: "body", text: r.body.length > 300 ? r.body.slice(0, 300) + "…" : r.body }),
      el("td", {}, traceLink(r.trace_id)));
    tr.addEventListener("click", () => {
      const next = tr.nextElementSibling;
      if (next && next.classList.contains("detail")) { next.remove(); return; }
      tr.after(el("tr", { class: "detail" }, el("td", { colspan: "5" }, el("pre", { text: details(r) }))));
    });
    tbody.append(tr);
  }
}

function summarize(res, hist) {
  const s = res.stats;
  const shown = $("results").tBodies[0].querySelectorAll("tr.record").length;
  $("summary").textContent = (hist ? hist.total + " matches in range · " : "") + shown + " shown · " +
    res.took_ms.toFixed(1) + " ms · files read " + s.files_scanned + ", skipped " +
    (s.files_skipped_partition + s.files_skipped_statistics + (s.files_skipped_missing || 0)) + " · row groups read " + s.row_groups_scanned +
    ", skipped " + (s.row_groups_skipped_statistics + s.row_groups_skipped_bloom_filter + s.row_groups_skipped_limit);
}

async function runSearch() {
  syncURL();
  showError(null);
  lastParams = formParams();
  $("results").tBodies[0].replaceChildren();
  $("summary").textContent = "Searching…";
  try {
    const [res, hist] = await Promise.all([
      api("api/v1/search", lastParams),
      api("api/v1/histogram", lastParams),
    ]);
    drawHistogram(hist);
    appendRows(res.records);
    nextCursor = res.next_cursor || "";
    $("more").hidden = !nextCursor;
    summarize(res, hist);
    if (res.records.length === 0) $("summary").textContent = "No matches. " + $("summary").textContent;
  } catch (e) {
    $("summary").textContent = "";
    showError(e);
  }
  document.body.dataset.state = "searched";
}

async function loadMore() {
  if (!nextCursor || !lastParams) return;
  const p = new URLSearchParams(lastParams);
  p.set("cursor", nextCursor);
  try {
    const res = await api("api/v1/search", p);
    appendRows(res.records);
    nextCursor = res.next_cursor || "";
    $("more").hidden = !nextCursor;
    summarize(res, null);
  } catch (e) { showError(e); }
}

async function showTrace(id) {
  $("search-view").hidden = true;
  $("trace-view").hidden = false;
  $("trace-title").textContent = id;
  const tbody = $("trace-table").tBodies[0];
  tbody.replaceChildren();
  try {
    const t = await api("api/v1/trace/" + encodeURIComponent(id));
    const t0 = t.records.length ? Date.parse(t.records[0].timestamp) : 0;
    for (const r of t.records) {
      tbody.append(el("tr", { class: "record" },
        el("td", { class: "time", text: "+" + (Date.parse(r.timestamp) - t0) }),
        el("td", { class: "time", text: r.timestamp.replace("T", " ").replace("Z", "") }),
        el("td", { class: "service", text: r.service_name || "" }),
        el("td", {}, severityBadge(r)),
        el("td", { class: "body", text: r.body }),
        el("td", { class: "time", text: r.span_id || "" })));
    }
    $("trace-summary").textContent = t.records.length + " records across " + t.services.length + " services (" +
      t.services.join(", ") + ")" + (t.truncated ? " — truncated" : "") + " · " + t.took_ms.toFixed(1) + " ms";
  } catch (e) {
    $("trace-summary").textContent = String(e.message || e);
  }
  document.body.dataset.state = "trace";
}

function route() {
  const m = location.hash.match(/^#trace=([0-9a-fA-F]{32})$/);
  if (m) { showTrace(m[1]); return; }
  $("trace-view").hidden = true;
  $("search-view").hidden = false;
}

$("search-form").addEventListener("submit", (ev) => { ev.preventDefault(); runSearch(); });
$("more").addEventListener("click", loadMore);
$("trace-close").addEventListener("click", () => { history.pushState(null, "", location.pathname + location.search); route(); });
window.addEventListener("hashchange", route);

const selectedService = restoreFromURL();
loadServices(selectedService).then(() => { runSearch(); route(); });
