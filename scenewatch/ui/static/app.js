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

// ----------------------------------------------------------------- reviews
// Only the fields a person changed are sent: the rest keep what the model perceived.
function changedValues(initial, inputs) {
  const out = {};
  for (const [name, input] of Object.entries(inputs)) {
    const raw = input.value.trim();
    const was = initial[name] == null ? "" : (Array.isArray(initial[name]) ? initial[name].map((v) => Math.round(v)).join(",") : String(initial[name]));
    if (raw === "" || raw === was) continue;
    if (name === "start" || name === "end") out[name] = Number(raw);
    else if (name === "box") out.box = raw.split(/[ ,]+/).map(Number);
    else out[name] = raw;
  }
  return out;
}

function fillInputs(initial, inputs) {
  for (const [name, input] of Object.entries(inputs)) {
    const v = initial[name];
    input.value = v == null ? "" : (Array.isArray(v) ? v.map((x) => Math.round(x)).join(",") : String(v));
  }
}

// A small inline form: label / time span / box / text fields and a save button.
function correctionForm(initial, onSave, names = ["label", "start", "end", "box", "text"]) {
  const inputs = {};
  const status = el("span", { class: "error" });
  const fields = el("div", { class: "fields" });
  for (const name of names) {
    const attrs = name === "start" || name === "end" ? { type: "number", step: "0.01", min: "0" } : { type: "text" };
    inputs[name] = el("input", { ...attrs, name, "data-field": name });
    fields.append(el("label", {}, name, inputs[name]));
  }
  fillInputs(initial, inputs);
  const form = el("form", { class: "review card" }, fields, el("div", { class: "row" },
    el("button", { type: "submit", class: "small" }, "Save correction"), status));
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const values = changedValues(initial, inputs);
    if (!Object.keys(values).length) { status.textContent = "nothing changed"; return; }
    try { await onSave(values); status.textContent = ""; } catch (err) { status.textContent = err.message; }
  });
  return form;
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
    const verdict = (v) => async () => {
      const res = await api(`/api/reviews/events/${e.id}`, { json: { verdict: v } });
      state.textContent = res.event.false_positive ? "false positive" : res.event.state;
      state.className = `badge ${v}`;
    };
    const fix = el("button", { class: "small link", onclick: () => { form.hidden = !form.hidden; } }, "Fix…");
    const form = correctionForm({ label: e.payload.label || e.title, start: e.start, end: e.end, box: e.payload.box },
      async (values) => {
        const res = await api(`/api/reviews/events/${e.id}`, { json: values });
        state.textContent = `corrected · ${res.event.state}`; state.className = "badge corrected"; form.hidden = true;
      }, ["label", "start", "end", "box"]);
    form.hidden = true;
    body.append(el("div", { class: "row wrap" }, ack, fp,
      el("button", { class: "small", "data-verdict": "correct", onclick: verdict("correct") }, "Correct"),
      el("button", { class: "small", "data-verdict": "wrong", onclick: verdict("wrong") }, "Wrong"), fix), form);
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
        (s.reconnects ? ` · ${s.reconnects} reconnects` : "") + (s.error ? ` · ${s.error}` : "") +
        (w.actor ? ` · actor ${w.actor.state || "?"} on ${w.actor.host || "?"}` +
          (w.actor.num_gpus ? ` (${w.actor.num_gpus} GPU)` : "") +
          (w.actor.actor_restarts ? `, ${w.actor.actor_restarts} restarts` : "") : "");
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

// The review bar under the player acts on the span last clicked (a row, or an event on the events lane).
function reviewSpan(it) {
  const form = $("#review-form");
  if (!form) return;
  const url = it.event ? `/api/reviews/events/${it.event}` : `/api/reviews/observations/${it.id}`;
  const inputs = { label: $("#rv-label"), start: $("#rv-start"), end: $("#rv-end"), box: $("#rv-box"), text: $("#rv-text") };
  fillInputs(it, inputs);
  const status = $("#rv-status");
  status.textContent = it.event ? `event #${it.event}` : `row #${it.id}`;
  const send = async (values, what) => {
    try { await api(url, { json: values }); status.textContent = `${what} ✓ (${it.event ? "event #" + it.event : "row #" + it.id})`; }
    catch (err) { status.textContent = err.message; }
  };
  $("#rv-correct").onclick = () => send({ verdict: "correct" }, "marked correct");
  $("#rv-wrong").onclick = () => send({ verdict: "wrong" }, "marked wrong");
  form.onsubmit = (ev) => {
    ev.preventDefault();
    const values = changedValues(it, inputs);
    if (!Object.keys(values).length) { status.textContent = "nothing changed"; return; }
    send(values, "corrected");
  };
  form.hidden = false;
}

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
          "data-obs": it.id, onclick: () => { document.querySelectorAll(".span.sel").forEach((n) => n.classList.remove("sel")); b.classList.add("sel"); select.value && seek(select.value, it.at ?? it.start, it.box, it.title); $("#tl-now").textContent = `${it.title} at ${fmt(it.at ?? it.start)}`; reviewSpan(it); } });
        if (it.event) b.dataset.event = it.event;
        b.style.left = `${x(it.start)}px`;
        b.style.width = `${Math.max(6, x(it.end) - x(it.start))}px`;
        div.append(b);
      }
      return div;
    };
    const mk = (o) => ({ id: o.id, start: o.start, end: o.end, at: lookAt(o), box: o.box, label: o.label,
      text: o.kind === "text" || o.kind === "speech" ? o.text : null, title: o.kind === "text" || o.kind === "speech" ? o.text : o.label });
    lanes.replaceChildren(...LANES.map(([name, kinds]) => lane(name, rows.filter((o) => kinds.includes(o.kind)).map(mk), name)),
      lane("events", events.map((e) => ({ id: e.observation_ids[0], event: e.id, start: e.start, end: e.end, box: e.payload.box || null, label: e.payload.label || e.title, title: e.title })), "event"));
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
    const question = $("#question").value, form = $("#answer-review"), status = $("#ans-status");
    const asked = { question, answer: res.answer, evidence: res.evidence.map((e) => e.observation_id).filter((i) => i),
      source_id: res.evidence[0]?.source_id || "" };
    const send = async (extra, what) => {
      try { await api("/api/reviews/answers", { json: { ...asked, ...extra } }); status.textContent = `${what} ✓`; }
      catch (err) { status.textContent = err.message; }
    };
    $("#ans-correct").onclick = () => send({ verdict: "correct" }, "marked right");
    $("#ans-wrong").onclick = () => send({ verdict: "wrong" }, "marked wrong");
    form.onsubmit = (ev) => { ev.preventDefault(); const t = $("#ans-text").value.trim(); if (t) send({ text: t }, "corrected"); };
    status.textContent = ""; $("#ans-text").value = ""; form.hidden = false;
  });
}

async function pageTokens() {
  const list = $("#tokens");
  const render = async () => {
    const tokens = await api("/api/tokens");
    list.replaceChildren(...tokens.map((t) => {
      const when = (s) => (s ? new Date(s * 1000).toLocaleString() : "never");
      const li = el("li", { "data-token": t.id }, el("div", { class: "body" },
        el("div", {}, el("span", { class: `badge ${t.revoked ? "wrong" : "new"}` }, t.revoked ? "revoked" : "active"),
          el("strong", {}, t.name), " ", el("code", {}, `${t.prefix}…`)),
        el("div", { class: "muted" }, `created ${when(t.created_at)} · last used ${when(t.last_used)}`)));
      if (!t.revoked) {
        li.querySelector(".body").append(el("button", { class: "small link", "data-revoke": t.id, onclick: async () => {
          if (!confirm(`Revoke "${t.name}"? Scripts using it will get 401.`)) return;
          await api(`/api/tokens/${t.id}`, { method: "DELETE" });
          await render();
        } }, "Revoke"));
      }
      return li;
    }));
    if (!tokens.length) list.replaceChildren(el("li", {}, "No tokens yet."));
  };
  $("#token-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    try {
      const t = await api("/api/tokens", { json: { name: $("#token-name").value } });
      $("#token-value").textContent = t.token;  // the only time the secret is shown
      $("#token-new").hidden = false;
      $("#token-name").value = "";
      $("#token-error").textContent = "";
      await render();
    } catch (err) {
      $("#token-error").textContent = err.message;
    }
  });
  await render();
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
  const pages = { login: pageLogin, live: pageLive, timeline: pageTimeline, search: pageSearch, events: pageEvents, ask: pageAsk, tokens: pageTokens };
  pages[document.body.dataset.page]?.();
});
