// docqa's page: chat over the OpenAI face (streamed), compare, search, status, add documents.
// The conversation lives here, in the browser; the server keeps none of it.
"use strict";

const $ = (id) => document.getElementById(id);
const state = { info: null, conversation: [], controller: null };

function setKeyCookie(key) {
  document.cookie = `docqa_key=${encodeURIComponent(key)}; path=/; SameSite=Strict`;
}

async function api(path, options = {}) {
  const response = await fetch(path, { credentials: "same-origin", ...options });
  if (response.status === 401 && !options.retried) {
    const key = window.prompt("This docqa server needs its API key:");
    if (key) { setKeyCookie(key); return api(path, { ...options, retried: true }); }
  }
  if (!response.ok) {
    let message = `${response.status} ${response.statusText}`;
    try {
      const body = await response.json();
      message = typeof body.error === "string" ? body.error : body.error.message;
    } catch (e) { /* not JSON */ }
    throw new Error(message);
  }
  return response;
}

async function* lines(response) {
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true });
    let cut;
    while ((cut = buffer.indexOf("\n")) >= 0) {
      yield buffer.slice(0, cut);
      buffer = buffer.slice(cut + 1);
    }
  }
  if (buffer) yield buffer;
}

function el(tag, cls, text) {
  const node = document.createElement(tag);
  if (cls) node.className = cls;
  if (text !== undefined) node.textContent = text;
  return node;
}

// --- status, models, presets -------------------------------------------------------------

function showStatus(status) {
  const s = $("status");
  if (!status || !status.store) { s.textContent = status ? status.message : ""; return; }
  s.textContent = `${status.files} files · ${status.chunks} chunks · ${status.embed_model}` +
    (status.warnings && status.warnings.length ? ` · ⚠ ${status.warnings.join("; ")}` : "");
}

async function refreshStatus() {
  showStatus(await (await api("/docqa/status")).json());
}

async function loadInfo() {
  const info = await (await api("/docqa/info")).json();
  state.info = info;
  const models = $("model");
  models.replaceChildren();
  info.models.forEach((name, i) => {
    const option = el("option", "", name);
    option.value = name;
    option.selected = i === 0;
    models.append(option);
  });
  const presets = $("preset");
  presets.replaceChildren();
  for (const [name, text] of Object.entries(info.presets)) {
    const option = el("option", "", name === "default" ? "preset: default" : `preset: ${name}`);
    option.value = name;
    option.title = text;
    option.selected = name === (info.preset || "default");
    presets.append(option);
  }
  showStatus(info.status);
}

function selectedModels() {
  const chosen = Array.from($("model").selectedOptions).map((o) => o.value);
  return chosen.length ? chosen : ["docqa"];
}

function systemText() {
  const preset = state.info ? (state.info.presets[$("preset").value] || "") : "";
  return [preset, $("system").value].map((s) => s.trim()).filter(Boolean).join("\n\n");
}

// --- rendering ---------------------------------------------------------------------------

function sourceList(sources) {
  const list = el("ol", "sources");
  for (const src of sources) {
    const item = el("li");
    item.value = src.n;
    const link = el("a", "", src.title);
    if (src.url) { link.href = src.url; link.target = "_blank"; link.rel = "noopener"; }
    item.append(link);
    if (src.text) {
      const more = el("details");
      more.append(el("summary", "", "passage"), el("blockquote", "", src.text));
      item.append(more);
    }
    list.append(item);
  }
  return list;
}

function bubble(role, label) {
  const node = el("article", `msg ${role}`);
  if (label) node.append(el("div", "label", label));
  const body = el("div", "body");
  node.append(body);
  $("log").append(node);
  node.scrollIntoView({ block: "end" });
  return { node, body };
}

function splitSources(text) {
  const cut = text.lastIndexOf("\n\nSources:\n");
  return cut >= 0 ? [text.slice(0, cut), text.slice(cut)] : [text, ""];
}

// --- chat --------------------------------------------------------------------------------

async function chat(question) {
  const model = selectedModels()[0];
  bubble("user").body.textContent = question;
  const answer = bubble("assistant", model.includes("/") ? model : `${model} · ${state.info.model}`);
  answer.node.dataset.model = model;
  const messages = [];
  const system = systemText();
  if (system) messages.push({ role: "system", content: system });
  messages.push(...state.conversation, { role: "user", content: question });
  const controller = new AbortController();
  state.controller = controller;
  let text = "";
  const sources = new Map();
  try {
    const response = await api("/v1/chat/completions", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ model, messages, stream: true, stream_options: { include_usage: true } }),
      signal: controller.signal,
    });
    for await (const line of lines(response)) {
      if (!line.startsWith("data: ") || line === "data: [DONE]") continue;
      const data = JSON.parse(line.slice(6));
      if (data.error) throw new Error(data.error.message);
      if (data.event && data.event.type === "source") {
        const d = data.event.data;
        // keyed by the source's id: two passages of one page share their URL, not their id
        sources.set(d.source.id || d.source.url || d.source.name, { title: d.source.name, url: d.source.url, text: d.document[0] });
      }
      for (const choice of data.choices || []) {
        if (choice.delta && choice.delta.content) {
          text += choice.delta.content;
          answer.body.innerHTML = renderMarkdown(splitSources(text)[0]);
          answer.node.classList.add("streaming");
        }
      }
      if (data.usage) answer.node.dataset.tokens = data.usage.completion_tokens;
    }
    state.conversation.push({ role: "user", content: question }, { role: "assistant", content: text });
  } catch (error) {
    if (error.name === "AbortError") {
      answer.node.append(el("div", "note", "stopped"));
      answer.node.classList.add("stopped");
    } else {
      answer.node.append(el("div", "error", error.message));
    }
  } finally {
    answer.node.classList.remove("streaming");
    state.controller = null;
  }
  const refs = Array.from(sources.values()).map((s, i) => ({ n: i + 1, ...s }));
  const numbered = splitSources(text)[1].match(/^\[(\d+)\]/gm) || [];
  numbered.forEach((m, i) => { if (refs[i]) refs[i].n = Number(m.slice(1, -1)); });
  if (refs.length) answer.node.append(sourceList(refs));
}

// --- compare -----------------------------------------------------------------------------

function markedColumn(title, side) {
  const column = el("div", "column");
  column.append(el("h3", "", title));
  if (side.marks && side.marks.length) {
    for (const m of side.marks) {
      const p = el("p", m.mark === "✓" ? "supported" : m.mark === "~" ? "similar" : "unsupported");
      p.append(el("span", "mark", m.mark || "·"), document.createTextNode(" " + m.sentence));
      column.append(p);
    }
  } else {
    column.insertAdjacentHTML("beforeend", renderMarkdown(side.text));
  }
  return column;
}

async function compare(question) {
  bubble("user").body.textContent = question;
  const result = bubble("assistant compare", "compare: " + selectedModels().join(", "));
  const controller = new AbortController();
  state.controller = controller;
  result.body.textContent = "answering with and without the documents…";
  try {
    const response = await api("/docqa/compare", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ question, models: selectedModels(), system: systemText() }),
      signal: controller.signal,
    });
    const { results } = await response.json();
    result.body.replaceChildren();
    for (const r of results) {
      const row = el("div", "side-by-side");
      row.append(markedColumn(`${r.model} alone`, r.baseline), markedColumn(`${r.model} with documents`, r.rag));
      result.body.append(row);
      if (r.sources.length) result.body.append(sourceList(r.sources));
    }
    result.body.append(el("p", "muted small", "✓ supported by a source, ~ similar to one"));
  } catch (error) {
    result.body.textContent = error.name === "AbortError" ? "stopped" : error.message;
  } finally {
    state.controller = null;
  }
}

// --- search and ingest -------------------------------------------------------------------

async function search(query) {
  const response = await api("/docqa/search", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ query, k: 8 }),
  });
  const { hits } = await response.json();
  const list = $("hits");
  list.replaceChildren();
  for (const hit of hits) {
    const item = el("li");
    const link = el("a", "", hit.title);
    if (hit.url) { link.href = hit.url; link.target = "_blank"; link.rel = "noopener"; }
    item.append(link, el("span", "muted small", ` ${hit.score.toFixed(3)}`), el("div", "snippet", hit.text.slice(0, 220)));
    list.append(item);
  }
  if (!hits.length) list.append(el("li", "muted", "no matching passage"));
}

function progressEvent(event) {
  const bar = $("progress");
  bar.hidden = false;
  if (event.progress) {
    const p = event.progress;
    const total = p.chunks_total || p.files_total || 1;
    const done = p.chunks_total ? p.chunks : p.files_done;
    bar.max = total;
    bar.value = Math.min(done, total);
    $("ingest-note").textContent = `${p.stage} ${p.path ? p.path.split("/").pop() : ""}`;
  } else if (event.report) {
    const r = event.report;
    bar.value = bar.max;
    $("ingest-note").textContent = `added ${r.added}, updated ${r.updated}, unchanged ${r.unchanged}` +
      (r.failed.length ? `, failed: ${r.failed.map((f) => f.join(": ")).join("; ")}` : "");
    refreshStatus();
  } else if (event.error) {
    $("ingest-note").textContent = event.error;
  }
}

async function ingestFolder(path) {
  const response = await api("/docqa/ingest", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ path }),
  });
  for await (const line of lines(response)) if (line.trim()) progressEvent(JSON.parse(line));
}

function upload(file) {
  return new Promise((resolve) => {
    const xhr = new XMLHttpRequest();
    const bar = $("progress");
    let seen = 0;
    xhr.open("PUT", "/docqa/upload?name=" + encodeURIComponent(file.name));
    xhr.upload.onprogress = (e) => {
      bar.hidden = false;
      bar.max = e.total || 1;
      bar.value = e.loaded;
      $("ingest-note").textContent = `uploading ${file.name}`;
    };
    xhr.onprogress = () => {
      const text = xhr.responseText;
      const cut = text.lastIndexOf("\n");
      if (cut < seen) return;
      for (const line of text.slice(seen, cut).split("\n")) if (line.trim()) progressEvent(JSON.parse(line));
      seen = cut + 1;
    };
    xhr.onloadend = () => {
      if (xhr.status !== 200) {
        try { $("ingest-note").textContent = JSON.parse(xhr.responseText).error.message; } catch (e) {
          $("ingest-note").textContent = `upload failed (${xhr.status})`;
        }
      } else {
        xhr.onprogress();
        const rest = xhr.responseText.slice(seen).trim();
        if (rest) progressEvent(JSON.parse(rest));
      }
      resolve();
    };
    xhr.send(file);
  });
}

// --- wiring ------------------------------------------------------------------------------

function busy(on) {
  $("send").disabled = on;
  $("stop").disabled = !on;
}

$("ask").addEventListener("submit", async (event) => {
  event.preventDefault();
  const question = $("question").value.trim();
  if (!question || state.controller) return;
  $("question").value = "";
  busy(true);
  try {
    await ($("compare").checked ? compare(question) : chat(question));
  } finally {
    busy(false);
  }
});
$("question").addEventListener("keydown", (event) => {
  if (event.key === "Enter" && !event.shiftKey) { event.preventDefault(); $("ask").requestSubmit(); }
});
$("stop").addEventListener("click", () => { if (state.controller) state.controller.abort(); });
$("clear").addEventListener("click", () => { state.conversation = []; $("log").replaceChildren(); });
$("search").addEventListener("submit", (event) => {
  event.preventDefault();
  search($("query").value).catch((e) => { $("hits").replaceChildren(el("li", "error", e.message)); });
});
$("folder").addEventListener("submit", (event) => {
  event.preventDefault();
  ingestFolder($("path").value).catch((e) => { $("ingest-note").textContent = e.message; });
});
$("file").addEventListener("change", async () => {
  for (const file of $("file").files) await upload(file);
  $("file").value = "";
});

loadInfo().catch((error) => { $("status").textContent = error.message; });
