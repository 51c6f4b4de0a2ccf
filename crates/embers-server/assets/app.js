// The embers explorer page: lists models, asks the JSON API for neighbours, analogies and a
// 2-D projection, and draws the projection as SVG. URL parameters (?model=&word=&k= or
// ?model=&a=&b=&c=) run a query on load, so a link can share a view.
"use strict";

const $ = (id) => document.getElementById(id);
const SVG_NS = "http://www.w3.org/2000/svg";
let models = [];

async function api(method, path, body) {
  const init = { method, headers: {} };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const res = await fetch(path, init);
  let data = null;
  try { data = await res.json(); } catch (_) { /* not JSON */ }
  if (!res.ok) {
    const err = data && data.error ? data.error : { code: String(res.status), message: res.statusText };
    throw new Error(err.message + " (" + err.code + ")");
  }
  return data;
}

function setStatus(text, isError) {
  const s = $("status");
  s.textContent = text;
  s.className = isError ? "error" : "";
}

function model() { return $("model").value; }

function describeModel() {
  const m = models.find((x) => x.name === model());
  $("shape").textContent = m
    ? `${m.rows.toLocaleString()} words × ${m.dims} dims, ${m.storage}` + (m.subwords ? ", subwords" : "")
    : "";
  // The sweep chart, when the server found one beside the model's file.
  const chart = $("sweep-chart");
  $("sweep").hidden = !(m && m.sweep);
  if (m && m.sweep) chart.src = `/v1/models/${encodeURIComponent(m.name)}/sweep.svg`;
  else chart.removeAttribute("src");
}

function renderNeighbors(list) {
  const ol = $("neighbors");
  ol.replaceChildren();
  $("results-title").hidden = false;
  const top = list.length ? Math.max(...list.map((n) => Math.abs(n.score))) || 1 : 1;
  list.forEach((n, i) => {
    const li = document.createElement("li");
    li.className = "neighbor";
    li.dataset.word = n.word;
    const rank = document.createElement("span");
    rank.className = "rank";
    rank.textContent = String(i + 1);
    const word = document.createElement("span");
    word.className = "word";
    word.textContent = n.word;
    const bar = document.createElement("span");
    bar.className = "bar";
    bar.style.width = (100 * Math.max(0, n.score) / top).toFixed(1) + "%";
    word.appendChild(bar);
    const score = document.createElement("span");
    score.className = "score";
    score.textContent = n.score.toFixed(4);
    li.append(rank, word, score);
    li.addEventListener("click", () => { $("word").value = n.word; similar(); });
    ol.appendChild(li);
  });
}

function svg(tag, attrs) {
  const el = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
  return el;
}

// Draws the projected points; `queryWords` are highlighted.
function renderPlot(projection, queryWords) {
  const plot = $("plot");
  plot.replaceChildren();
  const pts = projection.points;
  const [ex, ey] = projection.explained;
  $("explained").textContent = pts.length
    ? `(x: ${(100 * ex).toFixed(1)}%, y: ${(100 * ey).toFixed(1)}% of the variance)` : "";
  if (!pts.length) return;
  const W = 640, H = 480, pad = 48;
  const xs = pts.map((p) => p.x), ys = pts.map((p) => p.y);
  const span = (v) => { const lo = Math.min(...v), hi = Math.max(...v); return [lo, hi - lo || 1]; };
  const [x0, dx] = span(xs), [y0, dy] = span(ys);
  const sx = (x) => pad + (W - 2 * pad) * (x - x0) / dx;
  const sy = (y) => H - pad - (H - 2 * pad) * (y - y0) / dy;
  if (x0 <= 0 && x0 + dx >= 0) plot.appendChild(svg("line", { class: "axis", x1: sx(0), x2: sx(0), y1: pad / 2, y2: H - pad / 2 }));
  if (y0 <= 0 && y0 + dy >= 0) plot.appendChild(svg("line", { class: "axis", y1: sy(0), y2: sy(0), x1: pad / 2, x2: W - pad / 2 }));
  for (const p of pts) {
    const isQuery = queryWords.includes(p.word);
    const g = svg("g", { "data-word": p.word });
    const cx = sx(p.x), cy = sy(p.y);
    g.appendChild(svg("circle", { class: "point" + (isQuery ? " query" : ""), cx, cy, r: isQuery ? 7 : 5 }));
    const label = svg("text", { class: "label" + (isQuery ? " query" : ""), x: cx + 9, y: cy + 4 });
    if (cx > W - 120) { label.setAttribute("x", cx - 9); label.setAttribute("text-anchor", "end"); }
    label.textContent = p.word;
    g.appendChild(label);
    const title = svg("title", {});
    title.textContent = `${p.word} (${p.x.toFixed(3)}, ${p.y.toFixed(3)})`;
    g.appendChild(title);
    g.addEventListener("click", () => { $("word").value = p.word; similar(); });
    plot.appendChild(g);
  }
}

async function showProjection(words, queryWords) {
  const proj = await api("POST", `/v1/models/${encodeURIComponent(model())}/projection`, { words });
  renderPlot(proj, queryWords);
}

function kValue() {
  const k = parseInt($("k").value, 10);
  return Number.isFinite(k) && k > 0 ? k : 10;
}

async function run(label, fn, doneState) {
  document.body.dataset.state = "busy";
  setStatus(label + "…", false);
  try {
    await fn();
    document.body.dataset.state = doneState || "done";
  } catch (e) {
    setStatus(e.message, true);
    document.body.dataset.state = "error";
  }
}

function similar() {
  const word = $("word").value.trim();
  if (!word) return;
  return run("Searching", async () => {
    const t0 = performance.now();
    const res = await api("POST", `/v1/models/${encodeURIComponent(model())}/similar`, { word, k: kValue() });
    renderNeighbors(res.neighbors);
    setStatus(`${res.neighbors.length} neighbours of “${word}” in ${(performance.now() - t0).toFixed(0)} ms`, false);
    await showProjection([word, ...res.neighbors.map((n) => n.word)], [word]);
    history.replaceState(null, "", `?model=${encodeURIComponent(model())}&word=${encodeURIComponent(word)}&k=${kValue()}`);
  });
}

function analogy() {
  const [a, b, c] = ["a", "b", "c"].map((id) => $(id).value.trim());
  if (!a || !b || !c) { setStatus("fill in all three words", true); return; }
  return run("Solving", async () => {
    const res = await api("POST", `/v1/models/${encodeURIComponent(model())}/analogy`, { a, b, c, k: kValue() });
    renderNeighbors(res.neighbors);
    const best = res.neighbors.length ? res.neighbors[0].word : "?";
    setStatus(`${a} is to ${b} as ${c} is to ${best}`, false);
    await showProjection([a, b, c, ...res.neighbors.map((n) => n.word)], [a, b, c]);
    history.replaceState(null, "", `?model=${encodeURIComponent(model())}&a=${encodeURIComponent(a)}&b=${encodeURIComponent(b)}&c=${encodeURIComponent(c)}`);
  });
}

// Two sentences through POST /v1/embeddings (OpenAI's shape), then their cosine.
function cosineOfSentences() {
  const s1 = $("s1").value, s2 = $("s2").value;
  const name = $("sentence-model").value;
  if (!name) { setStatus("this server has no model that embeds sentences", true); return; }
  return run("Encoding", async () => {
    const res = await api("POST", "/v1/embeddings", { model: name, input: [s1, s2], encoding_format: "float" });
    const [a, b] = res.data.map((d) => d.embedding);
    let dot = 0, na = 0, nb = 0;
    for (let i = 0; i < a.length; i++) { dot += a[i] * b[i]; na += a[i] * a[i]; nb += b[i] * b[i]; }
    const cos = na > 0 && nb > 0 ? dot / Math.sqrt(na * nb) : 0;
    const out = $("cosine");
    out.dataset.cosine = String(cos);
    out.textContent = `cosine ${cos.toFixed(4)} (${res.usage.prompt_tokens} tokens, ${a.length} dims, ${name})`;
    setStatus("", false);
  }, "cosine-done");
}

// One line through POST /v1/models/{name}/predict: the 3 most probable labels.
function classify() {
  const text = $("ptext").value;
  const name = $("classifier").value;
  if (!name) return;
  return run("Classifying", async () => {
    const res = await api("POST", `/v1/models/${encodeURIComponent(name)}/predict`, { text, k: 3 });
    const list = $("labels");
    list.replaceChildren();
    const r = res.results[0];
    r.labels.forEach((label, i) => {
      const li = document.createElement("li");
      li.dataset.label = label;
      li.dataset.prob = String(r.probs[i]);
      li.textContent = `${label} ${r.probs[i].toFixed(4)}`;
      list.appendChild(li);
    });
    setStatus("", false);
  }, "predict-done");
}

async function init() {
  $("cosine-form").addEventListener("submit", (e) => { e.preventDefault(); cosineOfSentences(); });
  $("predict-form").addEventListener("submit", (e) => { e.preventDefault(); classify(); });
  $("similar-form").addEventListener("submit", (e) => { e.preventDefault(); similar(); });
  $("analogy-form").addEventListener("submit", (e) => { e.preventDefault(); analogy(); });
  $("model").addEventListener("change", describeModel);
  try {
    const list = await api("GET", "/v1/models");
    models = list.models;
    const sentenceSelect = $("sentence-model");
    for (const m of list.data.filter((d) => d.kind === "sentence" || d.kind === "embedding")) {
      const opt = document.createElement("option");
      opt.value = m.id;
      opt.textContent = `${m.id} (${m.kind === "sentence" ? "static model" : "mean of word vectors"})`;
      sentenceSelect.appendChild(opt);
    }
    const classifiers = list.classifiers || [];
    for (const c of classifiers) {
      const opt = document.createElement("option");
      opt.value = c.name;
      opt.textContent = `${c.name} (${c.labels} labels)`;
      $("classifier").appendChild(opt);
    }
    $("predict-form").hidden = classifiers.length === 0;
  } catch (e) {
    setStatus("cannot list models: " + e.message, true);
    return;
  }
  const select = $("model");
  for (const m of models) {
    const opt = document.createElement("option");
    opt.value = m.name;
    opt.textContent = m.name;
    select.appendChild(opt);
  }
  if (!models.length && $("predict-form").hidden) setStatus("this server has no embedding models", true);
  const params = new URLSearchParams(location.search);
  if (params.get("model") && models.some((m) => m.name === params.get("model"))) select.value = params.get("model");
  if (params.get("k")) $("k").value = params.get("k");
  describeModel();
  document.body.dataset.state = "ready";
  if (params.get("word")) {
    $("word").value = params.get("word");
    await similar();
  } else if (params.get("a") && params.get("b") && params.get("c")) {
    $("a").value = params.get("a");
    $("b").value = params.get("b");
    $("c").value = params.get("c");
    await analogy();
  }
}

init();
