// scenewatch web UI: small vanilla JS per page, talking to /api (no build step).
"use strict";

const $ = (sel) => document.querySelector(sel);
const el = (tag, attrs = {}, ...children) => {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") node.className = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v);
  }
  for (const c of children) node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return node;
};
// Where to look at an observation: its best-read moment when the stage recorded one.
const lookAt = (o) => (o.payload && typeof o.payload.best_time === "number" ? o.payload.best_time : o.start);
const fmt = (s) => {
  const m = Math.floor(s / 60);
  return `${m}:${(s - m * 60).toFixed(1).padStart(4, "0")}`;
};

async function api(path, options = {}) {
  const init = { credentials: "same-origin", ...options };
  if (options.json !== undefined) {
    init.method = init.method || "POST";
    init.headers = { "Content-Type": "application/json" };
    init.body = JSON.stringify(options.json);
  }
  const res = await fetch(path, init);
  if (res.status === 401 && document.body.dataset.page !== "login") {
    location.href = "/login";
    throw new Error("login required");
  }
  const data = res.headers.get("content-type")?.includes("json") ? await res.json() : await res.text();
  if (!res.ok) throw new Error((data && data.detail) || res.statusText);
  return data;
}

// ---------------------------------------------------------------- player + box
function showBox(box, label, video) {
  const overlay = $("#overlay");
  overlay.replaceChildren();
  if (!box || !video.videoWidth) return;
  const sx = video.clientWidth / video.videoWidth, sy = video.clientHeight / video.videoHeight;
  const b = el("div", { class: "box", id: "box" }, el("span", {}, label || ""));
  b.style.left = `${box[0] * sx}px`; b.style.top = `${box[1] * sy}px`;
  b.style.width = `${(box[2] - box[0]) * sx}px`; b.style.height = `${(box[3] - box[1]) * sy}px`;
  overlay.append(b);
}

function seek(sourceId, t, box, label) {
  const video = $("#player");
  const src = `/api/media/${encodeURIComponent(sourceId)}/video`;
  const go = () => {
    video.currentTime = t;
    video.addEventListener("seeked", () => showBox(box, label, video), { once: true });
  };
  if (video.dataset.source !== sourceId) {
    video.dataset.source = sourceId;
    video.src = src;
    video.addEventListener("loadedmetadata", go, { once: true });
  } else if (video.readyState >= 1) go();
  else video.addEventListener("loadedmetadata", go, { once: true });
}

// ------------------------------------------------------------------- pages
function eventItem(e, withActions) {
  const thumb = e.observation_ids.length ? `/api/media/observations/${e.observation_ids[0]}/thumbnail?width=240` : "";
  const state = el("span", { class: `badge ${e.state}` }, e.false_positive ? "false positive" : e.state);
  const body = el("div", { class: "body" },
    el("div", {}, state, el("span", { class: `badge ${e.severity}` }, e.severity), el("strong", {}, e.title)),
    el("div", { class: "muted" }, `${e.source_id} · ${fmt(e.start)}–${fmt(e.end)}`),
    el("div", {}, e.summary || ""),
    el("div", { class: "muted" }, `evidence: ${e.observation_ids.map((i) => "#" + i).join(" ")}`));
  if (withActions) {
    const ack = el("button", { class: "small", onclick: async () => { await api(`/api/events/${e.id}/ack`, { method: "POST" }); state.textContent = "reviewed"; state.className = "badge"; } }, "Reviewed");
    const fp = el("button", { class: "small link", onclick: async () => { await api(`/api/events/${e.id}/false-positive`, { method: "POST" }); state.textContent = "false positive"; } }, "False positive");
    body.append(el("div", { class: "row" }, ack, fp));
  }
  const li = el("li", { "data-event": e.id });
  if (thumb) li.append(el("img", { src: thumb, alt: "", loading: "lazy" }));
  li.append(body);
  return li;
}

// Events newer than the newest one already shown (none missed between the page load and the stream).
function liveEvents(items, onEvent) {
  const after = Math.max(0, ...items.map((e) => e.id));
  const source = new EventSource(`/api/stream?observations=false&after_event=${after}`);
  source.addEventListener("event", (m) => onEvent(JSON.parse(m.data)));
  return source;
}

async function pageLive() {
  const tiles = $("#tiles");
  const render = async () => {
    const sources = await api("/api/sources");
    tiles.replaceChildren(...sources.filter((s) => s.id).map((s) => {
      const w = s.worker || {};
      const status = `${w.state || s.status} · ${fmt(s.processed_until || 0)}` +
        (w.fps ? ` · ${w.fps} kf/s` : "") + (w.lag != null ? ` · lag ${w.lag}s` : "") +
        (s.reconnects ? ` · ${s.reconnects} reconnects` : "") + (s.error ? ` · ${s.error}` : "");
      return el("div", { class: "tile", "data-source": s.id },
        el("img", { src: `/api/media/${encodeURIComponent(s.id)}/latest?width=640&_=${Date.now()}`, alt: `latest frame of ${s.id}` }),
        el("div", { class: "meta" }, el("strong", {}, s.id), el("div", { class: "muted" }, status)));
    }));
  };
  await render();
  setInterval(render, 10000);
  const strip = $("#recent-events");
  const page = await api("/api/events?limit=8");
  strip.replaceChildren(...page.items.map((e) => eventItem(e, false)));
  liveEvents(page.items, (e) => strip.prepend(eventItem(e, false)));
}

const LANES = [["object", ["object"]], ["speech", ["speech"]], ["sound", ["sound"]], ["text", ["text"]],
  ["other", ["motion", "scene", "gap", "caption"]]];

async function pageTimeline() {
  const params = new URLSearchParams(location.search);
  const select = $("#tl-source"), zoom = $("#tl-zoom"), lanes = $("#lanes");
  const sources = (await api("/api/sources")).filter((s) => s.id);
  select.replaceChildren(...sources.map((s) => el("option", { value: s.id }, s.id)));
  if (params.get("source")) select.value = params.get("source");
  let rows = [], events = [], duration = 1;
  const draw = () => {
    const width = Math.max(lanes.parentElement.clientWidth, 300) * Number(zoom.value);
    lanes.style.width = `${width}px`;
    const x = (t) => (t / duration) * width;
    const lane = (name, items, cls) => {
      const div = el("div", { class: "lane", "data-lane": name }, el("span", { class: "name" }, name));
      for (const it of items) {
        const b = el("button", { class: `span ${cls}`, title: `${it.title} ${fmt(it.start)}–${fmt(it.end)}`,
          "data-obs": it.id, onclick: () => { document.querySelectorAll(".span.sel").forEach((n) => n.classList.remove("sel")); b.classList.add("sel"); select.value && seek(select.value, it.at ?? it.start, it.box, it.title); $("#tl-now").textContent = `${it.title} at ${fmt(it.at ?? it.start)}`; } });
        b.style.left = `${x(it.start)}px`;
        b.style.width = `${Math.max(6, x(it.end) - x(it.start))}px`;
        div.append(b);
      }
      return div;
    };
    const mk = (o) => ({ id: o.id, start: o.start, end: o.end, at: lookAt(o), box: o.box, title: o.kind === "text" || o.kind === "speech" ? o.text : o.label });
    lanes.replaceChildren(...LANES.map(([name, kinds]) => lane(name, rows.filter((o) => kinds.includes(o.kind)).map(mk), name)),
      lane("events", events.map((e) => ({ id: e.observation_ids[0], start: e.start, end: e.end, box: null, title: e.title })), "event"));
  };
  const load = async () => {
    const id = select.value;
    if (!id) return;
    rows = [];
    let cursor = null;
    do {
      const page = await api(`/api/observations?source_id=${encodeURIComponent(id)}&limit=1000` + (cursor ? `&cursor=${cursor}` : ""));
      rows.push(...page.items);
      cursor = page.next_cursor;
    } while (cursor && rows.length < 20000);
    events = (await api(`/api/events?source_id=${encodeURIComponent(id)}&limit=500`)).items;
    const src = sources.find((s) => s.id === id);
    duration = Math.max(1, src.duration || 0, ...rows.map((r) => r.end), ...events.map((e) => e.end));
    draw();
    seek(id, Number(params.get("t") || 0), null, "");
  };
  select.addEventListener("change", load);
  zoom.addEventListener("input", draw);
  await load();
  const obs = params.get("obs");
  if (obs) {
    const o = await api(`/api/observations/${obs}`);
    seek(o.source_id, lookAt(o), o.box, o.kind === "text" ? o.text : o.label);
    document.querySelector(`.span[data-obs="${obs}"]`)?.classList.add("sel");
  }
}

async function pageSearch() {
  const list = $("#results");
  $("#search-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const moments = await api(`/api/search?q=${encodeURIComponent($("#q").value)}&limit=20`);
    list.replaceChildren(...moments.map((m) => el("li", {
      "data-obs": m.observation_id,
      onclick: () => { location.href = `/timeline?source=${encodeURIComponent(m.source_id)}&t=${m.start}&obs=${m.observation_id}`; },
    }, el("img", { src: `/api/media/observations/${m.observation_id}/thumbnail?width=240`, alt: "", loading: "lazy" }),
    el("div", { class: "body" }, el("div", {}, el("span", { class: "badge" }, m.kind), el("strong", {}, m.snippet)),
      el("div", { class: "muted" }, `${m.source_id} · ${fmt(m.start)}–${fmt(m.end)}`)))));
    if (!moments.length) list.replaceChildren(el("li", {}, "Nothing found."));
  });
}

async function pageEvents() {
  const list = $("#events"), onlyNew = $("#only-new");
  const load = async () => {
    const page = await api("/api/events?limit=100" + (onlyNew.checked ? "&state=new" : ""));
    list.replaceChildren(...page.items.map((e) => eventItem(e, true)));
    return page.items;
  };
  onlyNew.addEventListener("change", load);
  liveEvents(await load(), (e) => list.prepend(eventItem(e, true)));
}

async function pageAsk() {
  $("#ask-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    $("#answer").textContent = "…";
    const res = await api("/api/ask", { json: { question: $("#question").value } });
    $("#answer").textContent = res.answer;
    $("#evidence").replaceChildren(...res.evidence.map((e) => el("button", {
      class: "chip", "data-obs": e.observation_id,
      onclick: () => seek(e.source_id, e.start, e.box, e.snippet),
    }, `${e.kind} ${fmt(e.start)}–${fmt(e.end)} ${e.snippet.slice(0, 40)}`)));
  });
}

function pageLogin() {
  $("#login-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    try {
      await api("/api/auth/login", { json: { password: $("#password").value } });
      location.href = "/";
    } catch (err) {
      $("#login-error").textContent = err.message;
    }
  });
}

document.addEventListener("DOMContentLoaded", () => {
  $("#logout")?.addEventListener("click", async () => { await api("/api/auth/logout", { method: "POST" }); location.href = "/login"; });
  const pages = { login: pageLogin, live: pageLive, timeline: pageTimeline, search: pageSearch, events: pageEvents, ask: pageAsk };
  pages[document.body.dataset.page]?.();
});
