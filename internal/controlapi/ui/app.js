// murmur dashboard: reads the node through the control API of the daemon
// that serves this page (same origin, the browser's credentials). No
// framework, no build step. Everything shown comes from peers and is
// inserted as text, never as HTML.
"use strict";

const REFRESH_MS = 2000;   // status, peers and deliveries
const FEED_MAX = 200;      // live changes kept on the page
const PATHS = ["local", "push", "pull", "sync", "ae", "gossipsub"];

const $ = (sel) => document.querySelector(sel);

// ApiError is a refusal by the API (a status and its message) or no answer.
class ApiError extends Error {
  constructor(status, message) { super(message); this.status = status; }
}

async function api(path) {
  let resp;
  try {
    resp = await fetch(path, { headers: { Accept: "application/json" }, credentials: "same-origin", cache: "no-store" });
  } catch (e) {
    throw new ApiError(0, "cannot reach the murmur daemon at " + location.host + " (is it running?): " + e.message);
  }
  let body = null;
  try { body = await resp.json(); } catch (e) { body = null; }
  if (!resp.ok) {
    const msg = body && body.error ? body.error : resp.statusText;
    throw new ApiError(resp.status, msg);
  }
  return body;
}

// refusal turns an API error into the sentence the banner shows.
function refusal(err) {
  if (!(err instanceof ApiError)) return "dashboard error: " + err.message;
  const what = "The murmur API refused the dashboard";
  switch (err.status) {
    case 0: return err.message;
    case 401: return what + " (401, token): " + err.message + ". Reload the page and give the API token as the password (any user name).";
    case 403: return what + " (403, forbidden): " + err.message;
    case 429: return what + " (429, too many requests): " + err.message + ". Retrying.";
    case 503: return what + " (503, node not running): " + err.message;
    default: return what + " (" + err.status + "): " + err.message;
  }
}

const problems = new Map(); // source -> message
function setProblem(source, err) {
  if (err) problems.set(source, refusal(err)); else problems.delete(source);
  const b = $("#banner");
  if (problems.size === 0) { b.hidden = true; b.textContent = ""; return; }
  b.hidden = false;
  b.textContent = [...new Set(problems.values())].join(" · ");
}

function el(tag, text, cls) {
  const e = document.createElement(tag);
  if (text !== undefined && text !== null) e.textContent = String(text);
  if (cls) e.className = cls;
  return e;
}
function row(cells) {
  const tr = document.createElement("tr");
  for (const c of cells) {
    const td = document.createElement("td");
    if (c instanceof Node) td.appendChild(c); else td.textContent = c === undefined || c === null ? "" : String(c);
    tr.appendChild(td);
  }
  return tr;
}
function short(id) { return id ? (id.length > 16 ? id.slice(0, 8) + "…" + id.slice(-6) : id) : ""; }
function peerCell(id) { const c = el("code", short(id)); c.title = id || ""; return c; }
function ago(t) {
  if (!t || t.startsWith("0001-")) return "never";
  const s = (Date.now() - Date.parse(t)) / 1000;
  if (s < 1) return "now";
  if (s < 90) return Math.round(s) + " s ago";
  if (s < 5400) return Math.round(s / 60) + " min ago";
  return Math.round(s / 3600) + " h ago";
}
function ms(v) {
  if (v === undefined || v === null) return "";
  if (Math.abs(v) < 10) return v.toFixed(1) + " ms";
  if (Math.abs(v) < 10000) return Math.round(v) + " ms";
  return (v / 1000).toFixed(1) + " s";
}
function valueText(value, encoding) {
  return encoding === "base64" ? "(binary, base64) " + value : value;
}

// --- node and peers -------------------------------------------------------

let selfID = "";
async function refreshStatus() {
  try {
    const st = await api("/v1/status");
    selfID = st.peer_id;
    $("#node-id").textContent = short(st.peer_id);
    $("#node-id").title = st.peer_id;
    $("#node-network").textContent = st.network;
    $("#node-uptime").textContent = st.uptime;
    $("#node-events").textContent = st.store.events;
    const dl = $("#node-details");
    dl.replaceChildren();
    const add = (k, v) => { dl.appendChild(el("dt", k)); dl.appendChild(el("dd", v)); };
    add("peer ID", st.peer_id);
    add("addresses", st.addrs.join("\n") || "none");
    add("store", st.store.kind + (st.store.dir ? " at " + st.store.dir : "") + ", " + st.store.events + " events from " + st.store.origins + " origins");
    add("writes", st.engine.created + " local, " + st.engine.accepted + " received, " + st.engine.duplicates + " duplicates, " + st.engine.rejected + " rejected");
    add("sync", st.engine.sync_rounds + " digest syncs (" + st.engine.sync_matches + " equal), " + st.engine.ae_rounds + " anti-entropy rounds, " + st.engine.pulls + " pulls");
    add("conflicts", st.engine.conflicts);
    if (st.engine.snapshot && st.engine.snapshot.active) add("snapshot", st.engine.snapshot.keys_done + " / " + st.engine.snapshot.keys_total + " keys");
    setProblem("status", null);
  } catch (e) { setProblem("status", e); }
}

async function refreshPeers() {
  try {
    const res = await api("/v1/peers?ping=1");
    const tb = $("#peers tbody");
    tb.replaceChildren();
    for (const p of res.peers) {
      const tr = row([peerCell(p.id), p.connected ? "yes" : "no", el("span", p.state || "new", "state-" + (p.state || "new")),
        p.rtt_ms > 0 ? ms(p.rtt_ms) : "–", p.reliability ? (100 * p.reliability).toFixed(0) + " %" : "–", ago(p.last_contact)]);
      tr.dataset.peer = p.id;
      tb.appendChild(tr);
    }
    const connected = res.peers.filter((p) => p.connected).length;
    $("#peers-count").textContent = connected + " connected, " + res.peers.length + " known";
    setProblem("peers", null);
  } catch (e) { setProblem("peers", e); }
}

// --- how writes spread ------------------------------------------------------

async function refreshSpread() {
  try {
    const res = await api("/v1/deliveries?limit=60");
    const bar = $("#paths");
    bar.replaceChildren();
    const total = PATHS.reduce((n, p) => n + (res.paths[p] || 0), 0);
    for (const p of PATHS) {
      const n = res.paths[p] || 0;
      if (!n) continue;
      const seg = el("div", p + " " + n, "path-" + p);
      seg.style.flexGrow = String(n);
      seg.title = p + ": " + n + " of " + total + " deliveries since " + res.since;
      bar.appendChild(seg);
    }
    const max = Math.max(1, ...res.deliveries.map((d) => d.delay_ms));
    const tb = $("#spread tbody");
    tb.replaceChildren();
    for (const d of res.deliveries) {
      const delay = el("div", null, "delay");
      const b = el("div", null, "bar path-" + d.path);
      // A log scale keeps a 2 ms push and a 20 s anti-entropy repair readable.
      b.style.width = d.path === "local" ? "2px" : Math.max(2, 120 * Math.log1p(Math.max(0, d.delay_ms)) / Math.log1p(max)) + "px";
      delay.appendChild(b);
      delay.appendChild(el("span", d.path === "local" ? "written here" : ms(d.delay_ms)));
      const tr = row([el("code", d.key), peerCell(d.origin), d.seq, el("span", d.path, "path path-" + d.path),
        d.from ? peerCell(d.from) : "–", delay]);
      tr.dataset.path = d.path;
      tr.dataset.key = d.key;
      tb.appendChild(tr);
    }
    setProblem("deliveries", null);
  } catch (e) { setProblem("deliveries", e); }
}

// --- live feed --------------------------------------------------------------

let cursor = "";
let stream = null;
function openStream() {
  const live = $("#live");
  stream = new EventSource("/v1/watch" + (cursor ? "?cursor=" + encodeURIComponent(cursor) : ""));
  stream.addEventListener("ready", (m) => {
    cursor = m.lastEventId || cursor;
    live.textContent = "stream: live";
    live.className = "pill on";
    setProblem("watch", null);
  });
  stream.addEventListener("change", (m) => {
    cursor = m.lastEventId || cursor;
    let c;
    try { c = JSON.parse(m.data); } catch (e) { return; }
    const li = el("li", null, "new");
    li.appendChild(el("span", new Date(c.time).toLocaleTimeString(), "mono"));
    li.appendChild(el("span", c.op, "op"));
    li.appendChild(el("code", c.key));
    if (c.op !== "delete") li.appendChild(el("span", valueText(c.value, c.encoding), "value"));
    const from = el("span", "from " + (c.origin === selfID ? "this node" : short(c.origin)), "hint");
    from.title = c.origin;
    li.appendChild(from);
    li.dataset.key = c.key;
    const feed = $("#feed");
    feed.prepend(li);
    while (feed.children.length > FEED_MAX) feed.lastChild.remove();
    keysSoon();
  });
  stream.onerror = async () => {
    live.textContent = "stream: reconnecting";
    live.className = "pill off";
    if (stream.readyState !== EventSource.CLOSED) return; // the browser retries by itself
    // The server refused the stream (a status other than 200): ask it why.
    try { await api("/v1/status"); setProblem("watch", new Error("the change stream closed; reconnecting")); } catch (e) { setProblem("watch", e); }
    setTimeout(openStream, 3000);
  };
}

// --- key browser ------------------------------------------------------------

async function listKeys(prefix) {
  try {
    const res = await api("/v1/kv?limit=500&prefix=" + encodeURIComponent(prefix));
    const tb = $("#keys tbody");
    tb.replaceChildren();
    for (const e of res.keys) {
      const tr = row([el("code", e.key), el("span", valueText(e.value, e.encoding)), peerCell(e.origin), e.seq, ago(e.time)]);
      tr.children[1].className = "value";
      if (e.conflict) tr.children[0].appendChild(el("span", " (conflict)", "state-suspected"));
      tr.dataset.key = e.key;
      tr.addEventListener("click", () => showKey(e.key));
      tb.appendChild(tr);
    }
    $("#keys-info").textContent = res.keys.length + " keys" + (res.truncated ? " (more match: narrow the prefix)" : "");
    setProblem("keys", null);
  } catch (e) { setProblem("keys", e); }
}

async function showKey(key) {
  const box = $("#key-detail");
  try {
    const e = await api("/v1/kv/" + key.split("/").map(encodeURIComponent).join("/"));
    box.replaceChildren(el("h2", e.key));
    const t = document.createElement("table");
    t.appendChild(row(["origin", "seq", "written", "value"]));
    for (const v of e.versions) t.appendChild(row([peerCell(v.origin), v.seq, v.time, v.deleted ? "(deleted)" : valueText(v.value, v.encoding)]));
    box.appendChild(t);
    if (e.conflict) box.appendChild(el("p", "Concurrent writes: every node shows the first version as the value.", "hint"));
    box.hidden = false;
  } catch (err) { setProblem("keys", err); }
}

// Keys written while the page is open appear in the browser at the next
// refresh of the list: soon after a change arrives, and periodically.
function refreshKeys() { listKeys($("#keys-prefix").value); }
let keysTimer = null;
function keysSoon() {
  if (keysTimer) return;
  keysTimer = setTimeout(() => { keysTimer = null; refreshKeys(); }, 500);
}

function start() {
  $("#keys-form").addEventListener("submit", (ev) => { ev.preventDefault(); refreshKeys(); });
  const tick = () => Promise.all([refreshStatus(), refreshPeers(), refreshSpread()]);
  tick().then(() => openStream());
  refreshKeys();
  setInterval(tick, REFRESH_MS);
  setInterval(refreshKeys, 3 * REFRESH_MS);
}

document.addEventListener("DOMContentLoaded", start);
