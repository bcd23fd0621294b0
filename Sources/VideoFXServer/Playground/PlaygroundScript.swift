/// The playground's script: builds the effect controls from `/openapi.json` (so a new catalogue entry
/// appears with no page change), uploads through `/files`, previews through `/previews`, and runs a
/// prediction with its event stream. Only this origin is ever asked.
enum PlaygroundScript {
    static let js = #"""
"use strict";
const $ = (id) => document.getElementById(id);
const state = { video: null, steps: [], catalogue: {}, token: sessionStorage.getItem("vfx-token"), customChain: false,
                running: null, previewTimer: null, previewSeq: 0, lastPreviewURL: null };

function headers(extra) {
  const h = Object.assign({}, extra || {});
  if (state.token) h["Authorization"] = "Bearer " + state.token;
  return h;
}

async function api(path, options) {
  const o = Object.assign({}, options || {});
  o.headers = headers(o.headers);
  const r = await fetch(path, o);
  if (r.status === 401) { askToken("The server needs an access token."); throw new Error("an access token is needed"); }
  return r;
}

function askToken(message) {
  $("auth").hidden = false;
  $("auth-error").textContent = message || "";
  $("token").focus();
}

// The server's own words for a refusal: Cog's list of problems, or a detail string.
async function message(r) {
  let body = null;
  try { body = await r.json(); } catch (e) { return "HTTP " + r.status; }
  if (body && Array.isArray(body.detail)) return body.detail.map((p) => (p.loc || []).slice(1).join(".") + ": " + p.msg).join("; ");
  if (body && body.detail) return String(body.detail);
  if (body && body.error) return String(body.error);
  return "HTTP " + r.status;
}

// ---- Catalogue: the Step schema's entries, grouped by kind.
async function loadCatalogue() {
  const r = await api("/openapi.json");
  const doc = await r.json();
  const schemas = doc.components.schemas;
  const add = $("add");
  add.textContent = "";
  const groups = {};
  for (const entry of schemas.Step.oneOf) {
    const name = entry.title;
    state.catalogue[name] = entry;
    const kind = entry["x-kind"] || "effects";
    if (!groups[kind]) { groups[kind] = document.createElement("optgroup"); groups[kind].label = kind; add.appendChild(groups[kind]); }
    const option = document.createElement("option");
    option.value = name;
    option.textContent = name + ": " + entry.description;
    groups[kind].appendChild(option);
  }
  const codec = $("codec");
  for (const c of (schemas.output_codec && schemas.output_codec.enum) || []) {
    const o = document.createElement("option"); o.value = c; o.textContent = c; codec.appendChild(o);
  }
  const input = schemas.Input.properties;
  if (input.output_codec && input.output_codec.default) codec.value = input.output_codec.default;
  if (input.crf) {
    $("quality").min = input.crf.minimum; $("quality").max = input.crf.maximum; $("quality").value = input.crf.default;
  }
}

// ---- Steps and their controls.
function paramSchemas(name) {
  const p = state.catalogue[name].properties.params;
  return (p && p.properties) || {};
}

function addStep(name) {
  const values = {};
  for (const [key, s] of Object.entries(paramSchemas(name))) if (s.default !== undefined) values[key] = s.default;
  state.steps.push({ name, values });
  state.customChain = false;
  renderSteps();
  changed();
}

function formatValue(v) {
  const s = String(v);
  return /[,|=\s']/.test(s) ? "'" + s.replace(/'/g, "''") + "'" : s;
}

function chainText() {
  return state.steps.map((step) => {
    const params = Object.entries(step.values).filter(([, v]) => v !== "" && v !== undefined && v !== null)
      .map(([k, v]) => k + "=" + formatValue(v));
    return params.length ? step.name + ":" + params.join(",") : step.name;
  }).join(" | ");
}

function control(step, index, key, schema) {
  const wrap = document.createElement("div");
  wrap.className = "param";
  const id = "step-" + index + "-" + key;
  const label = document.createElement("label");
  label.htmlFor = id;
  label.textContent = key + (schema["x-unit"] ? " (" + schema["x-unit"] + ")" : "");
  label.title = schema.description || "";
  wrap.appendChild(label);
  const set = (v) => { step.values[key] = v; state.customChain = false; $("chain").value = chainText(); changed(); };
  if (schema.enum) {
    const select = document.createElement("select");
    select.id = id;
    for (const v of schema.enum) { const o = document.createElement("option"); o.value = v; o.textContent = v; select.appendChild(o); }
    select.value = step.values[key] !== undefined ? step.values[key] : schema.enum[0];
    select.addEventListener("change", () => set(select.value));
    wrap.appendChild(select);
  } else if (schema.type === "integer" || schema.type === "number") {
    const number = document.createElement("input");
    number.type = "number"; number.id = id;
    number.min = schema.minimum; number.max = schema.maximum;
    number.step = schema.type === "integer" ? "1" : "any";
    number.value = step.values[key] !== undefined ? step.values[key] : "";
    if (schema.default !== undefined) {
      const range = document.createElement("input");
      range.type = "range"; range.min = schema.minimum; range.max = schema.maximum;
      range.step = schema.type === "integer" ? "1" : String((schema.maximum - schema.minimum) / 200);
      range.value = number.value;
      range.setAttribute("aria-label", key + " slider");
      range.addEventListener("input", () => { number.value = range.value; set(Number(range.value)); });
      number.addEventListener("input", () => { range.value = number.value; set(number.value === "" ? "" : Number(number.value)); });
      wrap.appendChild(range);
    } else {
      number.addEventListener("input", () => set(number.value === "" ? "" : Number(number.value)));
    }
    wrap.appendChild(number);
  } else {
    const text = document.createElement("input");
    text.type = "text"; text.id = id;
    text.value = step.values[key] !== undefined ? step.values[key] : "";
    text.addEventListener("change", () => set(text.value));
    wrap.appendChild(text);
  }
  return wrap;
}

function button(text, label, action) {
  const b = document.createElement("button");
  b.type = "button"; b.textContent = text; b.setAttribute("aria-label", label);
  b.addEventListener("click", action);
  return b;
}

function renderSteps() {
  const list = $("steps");
  list.textContent = "";
  state.steps.forEach((step, i) => {
    const item = document.createElement("li");
    const title = document.createElement("strong");
    title.textContent = step.name;
    item.appendChild(title);
    item.appendChild(button("↑", "Move " + step.name + " up", () => { if (i > 0) { [state.steps[i - 1], state.steps[i]] = [state.steps[i], state.steps[i - 1]]; renderSteps(); changed(); } }));
    item.appendChild(button("↓", "Move " + step.name + " down", () => { if (i < state.steps.length - 1) { [state.steps[i + 1], state.steps[i]] = [state.steps[i], state.steps[i + 1]]; renderSteps(); changed(); } }));
    item.appendChild(button("Remove", "Remove " + step.name, () => { state.steps.splice(i, 1); renderSteps(); changed(); }));
    for (const [key, schema] of Object.entries(paramSchemas(step.name))) item.appendChild(control(step, i, key, schema));
    list.appendChild(item);
  });
  if (!state.customChain) $("chain").value = chainText();
}

function effects() { return $("chain").value.trim(); }

// ---- Source: an upload through /files (with progress), or a URL.
function upload(file) {
  $("source-error").textContent = "";
  const bar = $("upload-progress");
  bar.hidden = false; bar.value = 0;
  const form = new FormData();
  form.append("content", file, file.name);
  const xhr = new XMLHttpRequest();
  xhr.open("POST", "/files");
  if (state.token) xhr.setRequestHeader("Authorization", "Bearer " + state.token);
  xhr.upload.addEventListener("progress", (e) => { if (e.lengthComputable) bar.value = Math.round(100 * e.loaded / e.total); });
  xhr.addEventListener("load", () => {
    let body = null;
    try { body = JSON.parse(xhr.responseText); } catch (e) { body = null; }
    if (xhr.status === 401) { askToken("The server needs an access token."); return; }
    if (xhr.status !== 201 || !body) { $("source-error").textContent = (body && body.detail) || ("upload failed: HTTP " + xhr.status); return; }
    bar.value = 100;
    state.video = body.urls.get;
    $("url").value = "";
    const probe = document.createElement("video");
    probe.preload = "metadata";
    probe.addEventListener("loadedmetadata", () => { if (isFinite(probe.duration)) $("time").max = probe.duration.toFixed(1); });
    probe.src = URL.createObjectURL(file);
    changed();
  });
  xhr.addEventListener("error", () => { $("source-error").textContent = "the upload did not reach the server"; });
  xhr.send(form);
}

// ---- Preview: shortly after a change, one frame beside the original.
function changed() {
  clearTimeout(state.previewTimer);
  state.previewTimer = setTimeout(preview, 350);
}

async function preview() {
  if (!state.video) return;
  const seq = ++state.previewSeq;
  $("preview-status").textContent = "Rendering…";
  try {
    const r = await api("/previews", { method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ video: state.video, effects: effects() || undefined, at: Number($("time").value), compare: true }) });
    if (seq !== state.previewSeq) return;
    if (!r.ok) {
      const text = await message(r);
      const aboutChain = /effects/.test(text);
      $("chain-error").textContent = aboutChain ? text : "";
      $("source-error").textContent = aboutChain ? "" : text;
      $("preview-status").textContent = "No preview: " + text;
      return;
    }
    $("chain-error").textContent = ""; $("source-error").textContent = "";
    const blob = await r.blob();
    if (state.lastPreviewURL) URL.revokeObjectURL(state.lastPreviewURL);
    state.lastPreviewURL = URL.createObjectURL(blob);
    $("preview").src = state.lastPreviewURL;
    $("preview").hidden = false;
    $("preview").dataset.at = $("time").value;
    $("preview-status").textContent = "At " + Number($("time").value).toFixed(1) + " s: original | result";
  } catch (e) {
    if (seq === state.previewSeq) $("preview-status").textContent = "No preview: " + e.message;
  }
}

// ---- Run: a prediction followed through its event stream.
function newID() {
  const a = "abcdefghijklmnopqrstuvwxyz0123456789";
  let s = "";
  for (const b of crypto.getRandomValues(new Uint8Array(26))) s += a[b % a.length];
  return s;
}

function showProgress(line) {
  const m = /frame (\d+)\/(\d+)/.exec(line);
  if (m) $("progress").value = Math.min(100, Math.round(100 * Number(m[1]) / Number(m[2])));
}

function finished(p) {
  state.running = null;
  $("run").disabled = false; $("cancel").disabled = true;
  const item = document.getElementById("recent-" + p.id);
  if (item) item.textContent = p.id + ": " + p.status;
  if (p.status !== "succeeded") { $("run-error").textContent = p.error || ("the prediction " + p.status); return; }
  $("progress").value = 100;
  const out = Array.isArray(p.output) ? p.output[0] : p.output;
  const video = $("result");
  video.src = out; video.hidden = false;
  video.play().catch(() => {});
  const link = $("download");
  link.href = out; link.hidden = false;
  const m = p.metrics || {};
  const dl = $("metrics");
  dl.textContent = "";
  for (const [k, v] of [["encoder", m.encoder], ["frames", m.frames], ["fps", m.fps], ["time", m.predict_time && m.predict_time.toFixed(2) + " s"]]) {
    if (v === undefined) continue;
    const dt = document.createElement("dt"); dt.textContent = k;
    const dd = document.createElement("dd"); dd.textContent = String(v);
    dl.appendChild(dt); dl.appendChild(dd);
  }
}

async function run() {
  if (!state.video) { $("run-error").textContent = "pick a video file or give a video URL first"; return; }
  $("run-error").textContent = ""; $("log").textContent = ""; $("progress").value = 0;
  $("result").hidden = true; $("download").hidden = true;
  const id = newID();
  state.running = id;
  $("run").disabled = true; $("cancel").disabled = false;
  const li = document.createElement("li");
  li.id = "recent-" + id; li.textContent = id + ": running";
  $("recent").prepend(li);
  const input = { video: state.video, output_codec: $("codec").value, crf: Number($("quality").value), audio: $("audio").checked };
  if (effects()) input.effects = effects(); else input.effect = "none";
  try {
    const r = await api("/predictions/" + id, { method: "PUT", headers: { "Content-Type": "application/json", "Accept": "text/event-stream" },
                                               body: JSON.stringify({ id, input }) });
    if (!r.ok) { finished({ id, status: "failed", error: await message(r) }); return; }
    const reader = r.body.getReader();
    const decoder = new TextDecoder();
    let buffer = "", done = false;
    while (!done) {
      const chunk = await reader.read();
      if (chunk.done) break;
      buffer += decoder.decode(chunk.value, { stream: true });
      let cut;
      while ((cut = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, cut); buffer = buffer.slice(cut + 2);
        let event = "message", data = "";
        for (const line of block.split("\n")) {
          if (line.startsWith("event: ")) event = line.slice(7);
          else if (line.startsWith("data: ")) data += line.slice(6);
        }
        if (!data) continue;
        const payload = JSON.parse(data);
        if (event === "log") { $("log").textContent += payload.data + "\n"; showProgress(payload.data); }
        if (event === "completed") { finished(payload); done = true; }
      }
    }
    if (state.running === id) finished({ id, status: "failed", error: "the event stream ended early" });
  } catch (e) {
    if (state.running === id) finished({ id, status: "failed", error: e.message });
  }
}

async function cancel() {
  if (!state.running) return;
  await api("/predictions/" + state.running + "/cancel", { method: "POST" });
}

// ---- A cluster's queue (GET /queue answers on cluster nodes only), every two seconds.
async function queue() {
  let r;
  try { r = await api("/queue"); } catch (e) { return; }
  if (r.status === 404) return;
  if (!r.ok) { $("queue-summary").textContent = await message(r); return; }
  const q = await r.json();
  $("queue").hidden = false;
  const states = Object.entries(q.tasks).map(([k, v]) => k + " " + v).join(", ") || "no tasks";
  const oldest = q.oldest_queued_seconds == null ? "" : "; the oldest queued has waited " + q.oldest_queued_seconds.toFixed(1) + " s";
  $("queue-summary").textContent = "Tasks: " + states + oldest + "; webhooks waiting: " + q.webhooks_waiting;
  const body = $("workers");
  body.textContent = "";
  for (const w of q.workers) {
    const tr = document.createElement("tr");
    for (const v of [w.id + " (" + w.host + ")", w.heartbeat_age_seconds.toFixed(1) + " s", w.running.join(", ") || "idle"]) {
      const td = document.createElement("td"); td.textContent = v; tr.appendChild(td);
    }
    body.appendChild(tr);
  }
  setTimeout(queue, 2000);
}

// ---- Wiring.
document.addEventListener("DOMContentLoaded", async () => {
  $("auth-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    state.token = $("token").value;
    sessionStorage.setItem("vfx-token", state.token);
    $("auth").hidden = true;
    try { await loadCatalogue(); queue(); } catch (err) { $("auth-error").textContent = err.message; }
  });
  $("file").addEventListener("change", () => { if ($("file").files[0]) upload($("file").files[0]); });
  const drop = $("drop");
  drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (e) => { e.preventDefault(); drop.classList.remove("over"); if (e.dataTransfer.files[0]) upload(e.dataTransfer.files[0]); });
  $("url").addEventListener("change", () => { state.video = $("url").value.trim() || null; changed(); });
  $("add-button").addEventListener("click", () => addStep($("add").value));
  $("chain").addEventListener("input", () => { state.customChain = true; changed(); });
  $("time").addEventListener("input", () => { $("time-value").textContent = Number($("time").value).toFixed(1) + " s"; changed(); });
  $("run").addEventListener("click", run);
  $("cancel").addEventListener("click", cancel);
  try { await loadCatalogue(); queue(); } catch (e) { /* asked for a token */ }
});
"""#
}
