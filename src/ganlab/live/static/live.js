// ganlab live: the page. Reads the run from /api/stream (server-sent events), sends commands to
// /api/command. No libraries: canvas drawing only, so the page works offline.
"use strict";
(function () {
  const token = new URLSearchParams(location.search).get("token") || "";
  const $ = (id) => document.getElementById(id);
  const layers = { heat: true, real: true, fake: true, push: true, lattice: false, ema: false };
  let info = null, tick = null, view = null, records = [], metricHistory = [];

  // -- colours ---------------------------------------------------------------------------
  const VIRIDIS = [[68, 1, 84], [72, 40, 120], [62, 74, 137], [49, 104, 142], [38, 130, 142],
    [31, 158, 137], [53, 183, 121], [109, 205, 89], [180, 222, 44], [253, 231, 37]];
  function viridis(t) {
    t = Math.min(1, Math.max(0, t)) * (VIRIDIS.length - 1);
    const i = Math.min(VIRIDIS.length - 2, Math.floor(t)), f = t - i;
    return VIRIDIS[i].map((c, k) => Math.round(c + f * (VIRIDIS[i + 1][k] - c)));
  }
  const fmt = (x, d = 3) => (x === null || x === undefined || Number.isNaN(x)) ? "–" :
    (Math.abs(x) >= 1e4 || (Math.abs(x) < 1e-3 && x !== 0)) ? x.toExponential(2) : (+x).toFixed(d);

  // -- messages and commands -----------------------------------------------------------------
  let msgTimer = null;
  function say(text, kind) {
    const m = $("message");
    m.textContent = text; m.className = "show " + kind;
    clearTimeout(msgTimer);
    if (kind === "ok") msgTimer = setTimeout(() => { m.className = ""; m.textContent = ""; }, 4000);
  }
  function describe(ev) {
    if (!ev) return "";
    if (ev.what === "set") return `${ev.key}: ${JSON.stringify(ev.old)} → ${JSON.stringify(ev.new)}`;
    if (ev.what === "step") return `one ${ev.new === "both" ? "whole" : ev.new.toUpperCase()} step`;
    if (ev.what === "fork") return `forked into ${ev.new}`;
    if (ev.what === "draw") return `drawn data: ${ev.new.points.length} points`;
    if (ev.what === "rewind") return `forked from step ${ev.from} into ${ev.new}`;
    if (ev.what === "forked") return `forked from ${ev.new}`;
    if (ev.what === "snapshot") return `snapshot ${ev.new}`;
    return ev.what;
  }
  async function send(cmd, key, value) {
    try {
      const r = await fetch("/api/command", {
        method: "POST", headers: { "Content-Type": "application/json", "X-Ganlab-Token": token },
        body: JSON.stringify({ cmd, key: key || "", value: value === undefined ? null : value }),
      });
      const body = await r.json();
      if (!r.ok) { say(body.error || `refused (${r.status})`, "error"); return null; }
      if (body.queued) { say(`${cmd}: queued`, "ok"); return body; }
      let text = `step ${body.event.step}: ${describe(body.event)}`;
      if (body.pid) text += ` (training in process ${body.pid})`;
      if (body.message) text += ` — ${body.message}`;
      say(text, "ok");
      return body;
    } catch (e) { say(`the server does not answer (${e})`, "error"); return null; }
  }

  // -- controls ------------------------------------------------------------------------------
  $("pause").addEventListener("click", () => send(tick && tick.paused ? "resume" : "pause"));
  document.querySelectorAll("[data-step]").forEach((b) =>
    b.addEventListener("click", () => send("step", "", b.dataset.step)));
  document.querySelectorAll("input[name=updates]").forEach((r) =>
    r.addEventListener("change", () => send("set", "updates", r.value)));
  $("objective").addEventListener("change", (e) => send("set", "objective.name", e.target.value));
  $("ema").addEventListener("change", (e) => send("set", "ema.enabled", e.target.checked));
  $("snapshot-now").addEventListener("click", () => send("snapshot"));
  $("fork").addEventListener("click", () => send("fork", "", true));
  $("rewind").addEventListener("click", () => {
    const v = $("rewind-step").value;
    if (v !== "") send("rewind", "", Number(v));
  });
  document.querySelectorAll(".field.num").forEach((f) => {
    const input = f.querySelector("input"), key = f.dataset.key;
    const go = async () => {
      const text = input.value.trim();
      const value = text === "" ? null : (Number.isFinite(Number(text)) ? Number(text) : text);
      const r = await send("set", key, value);
      f.classList.toggle("refused", !r);
      if (r) input.dataset.dirty = "";
    };
    f.querySelector("button").addEventListener("click", go);
    input.addEventListener("keydown", (e) => { if (e.key === "Enter") go(); });
    input.addEventListener("input", () => { input.dataset.dirty = "1"; });
  });
  document.querySelectorAll("[data-layer]").forEach((c) => c.addEventListener("change", () => {
    layers[c.dataset.layer] = c.checked; drawPlane();
  }));

  function showSettings(t) {
    const s = t.settings || {};
    document.querySelectorAll(".field").forEach((f) => {
      const key = f.dataset.key;
      f.hidden = info && !info.keys.includes(key);
      if (!(key in s)) return;
      const input = f.querySelector("input[type=text]");
      if (input && !input.dataset.dirty && document.activeElement !== input)
        input.value = s[key] === null ? "" : s[key];
    });
    if ("objective.name" in s) $("objective").value = s["objective.name"];
    if ("ema.enabled" in s) $("ema").checked = !!s["ema.enabled"];
    if ("updates" in s) document.querySelectorAll("input[name=updates]").forEach((r) => { r.checked = r.value === s.updates; });
    for (const [name, lr] of Object.entries(t.lr || {})) {
      const now = document.querySelector(`.field[data-key="optim.${name}.lr"] .now`);
      if (now) now.textContent = `the optimiser uses ${fmt(lr, 6)} now`;
    }
  }

  // -- the header and lists ---------------------------------------------------------------------
  function showTick(t) {
    tick = t;
    const st = t.finished ? "finished" : t.paused ? "paused" : "running";
    $("status").textContent = st; $("status").className = "pill " + st;
    $("step").textContent = t.step; $("rate").textContent = t.steps_per_s;
    $("progress-bar").style.width = `${100 * t.step / Math.max(1, info ? info.total : 1)}%`;
    $("pause").textContent = t.paused ? "Resume" : "Pause";
    document.querySelectorAll("button").forEach((b) => { b.disabled = !!t.finished; });
    if (!t.finished) drawState();   // its buttons wait for a drawing
    if (t.message) say(t.message, "ok");
    showSettings(t);
    const sel = $("rewind-step"), have = Array.from(sel.options).map((o) => o.value).join();
    const steps = (t.checkpoints || []).slice().reverse();
    if (steps.join() !== have) {
      const keep = sel.value; sel.innerHTML = "";
      for (const st of steps) { const o = document.createElement("option"); o.value = st; o.textContent = `step ${st}`; sel.appendChild(o); }
      if (steps.map(String).includes(keep)) sel.value = keep;
    }
    const ol = $("events"); ol.innerHTML = "";
    t.events.slice().reverse().slice(0, 60).forEach((ev) => {
      const li = document.createElement("li");
      li.innerHTML = `<span class="step">step ${ev.step}</span> `;
      li.appendChild(document.createTextNode(describe(ev)));
      ol.appendChild(li);
    });
    if (t.records && t.records.length) {
      records = records.concat(t.records).slice(-5000);
      drawCurves();
    }
  }

  // -- the plane ------------------------------------------------------------------------------
  const heatCanvas = document.createElement("canvas");
  function drawPlane() {
    if (!view || !info || info.kind !== "plane") return;
    const c = $("plane"), g = c.getContext("2d"), W = c.width, H = c.height;
    const [x0, x1, y0, y1] = info.bounds;
    const px = (x) => (x - x0) / (x1 - x0) * W, py = (y) => H - (y - y0) / (y1 - y0) * H;
    g.fillStyle = "#1b1f2a"; g.fillRect(0, 0, W, H);
    const [lo, hi] = view.critic ? view.heat_range : [0, 1];
    if (layers.heat && view.heat && view.heat.length) {
      const n = view.heat.length;
      heatCanvas.width = n; heatCanvas.height = n;
      const hg = heatCanvas.getContext("2d"), img = hg.createImageData(n, n);
      for (let r = 0; r < n; r++) for (let q = 0; q < n; q++) {
        const [R, G, B] = viridis((view.heat[r][q] - lo) / ((hi - lo) || 1));
        const k = ((n - 1 - r) * n + q) * 4;
        img.data[k] = R; img.data[k + 1] = G; img.data[k + 2] = B; img.data[k + 3] = 255;
      }
      hg.putImageData(img, 0, 0);
      g.imageSmoothingEnabled = true; g.globalAlpha = 0.85; g.drawImage(heatCanvas, 0, 0, W, H); g.globalAlpha = 1;
    }
    drawColorbar(lo, hi, view.critic);
    if (layers.lattice && view.lattice) {
      const n = info.lattice_size; g.strokeStyle = "rgba(95,227,255,.8)"; g.lineWidth = 1;
      for (let dir = 0; dir < 2; dir++) for (let a = 0; a < n; a++) {
        g.beginPath();
        for (let b = 0; b < n; b++) {
          const p = view.lattice[dir ? b * n + a : a * n + b];
          b ? g.lineTo(px(p[0]), py(p[1])) : g.moveTo(px(p[0]), py(p[1]));
        }
        g.stroke();
      }
    }
    const dots = (pts, colour, r) => { g.fillStyle = colour; for (const p of pts) { g.beginPath(); g.arc(px(p[0]), py(p[1]), r, 0, 6.283); g.fill(); } };
    if (layers.real) dots(view.real || info.real, "rgba(255,255,255,.75)", 2);
    if (drawn.length) dots(drawn, "rgba(95,227,255,.95)", 2.6);
    if (layers.ema && view.ema) dots(view.ema, "rgba(255,155,210,.9)", 2);
    if (layers.fake && view.fake) dots(view.fake, "rgba(255,77,46,.95)", 2.4);
    if (layers.push && view.push && view.fake) {
      const lens = view.push.map((v) => Math.hypot(v[0], v[1])).sort((a, b) => a - b);
      const ref = lens[Math.floor(0.95 * (lens.length - 1))] || 1;
      const scale = 0.05 * (x1 - x0) / ref;
      g.strokeStyle = "rgba(255,179,0,.9)"; g.lineWidth = 1.2;
      view.fake.forEach((p, i) => {
        const v = view.push[i], ax = px(p[0]), ay = py(p[1]);
        const bx = px(p[0] + v[0] * scale), by = py(p[1] + v[1] * scale);
        g.beginPath(); g.moveTo(ax, ay); g.lineTo(bx, by); g.stroke();
        const ang = Math.atan2(by - ay, bx - ax), h = Math.min(5, Math.hypot(bx - ax, by - ay) / 2);
        g.beginPath(); g.moveTo(bx, by);
        g.lineTo(bx - h * Math.cos(ang - 0.5), by - h * Math.sin(ang - 0.5));
        g.moveTo(bx, by); g.lineTo(bx - h * Math.cos(ang + 0.5), by - h * Math.sin(ang + 0.5)); g.stroke();
      });
    }
    g.fillStyle = "rgba(255,255,255,.85)"; g.font = "12px system-ui";
    g.fillText(`step ${view.points_step} · ${view.objective}`, 10, 18);
    if (view.push && view.push.length) {   // how hard G pushes: arrows are drawn to scale 1
      const lens = view.push.map((v) => Math.hypot(v[0], v[1])).sort((a, b) => a - b);
      const d = view.d_now || {}, on = view.critic ? "critic score" : "D";
      $("view-foot").textContent = `G's push on its points (minus the gradient of G's loss, times the batch): ` +
        `median ${fmt(lens[lens.length >> 1])}, largest ${fmt(lens[lens.length - 1])}. ` +
        `Arrows are scaled so the 95th percentile spans 5% of the plane. ` +
        `Now, on the points shown: ${on}(x) ${fmt(d.real)}, ${on}(G(z)) ${fmt(d.fake)}.`;
    }
  }
  function drawColorbar(lo, hi, critic) {
    const c = $("colorbar"), g = c.getContext("2d");
    for (let y = 0; y < c.height; y++) { const [r, gg, b] = viridis(1 - y / c.height); g.fillStyle = `rgb(${r},${gg},${b})`; g.fillRect(0, y, c.width, 1); }
    $("cb-max").textContent = fmt(hi, 2); $("cb-min").textContent = fmt(lo, 2);
    $("cb-label").textContent = critic ? "critic score (its own scale)" : "D(x): probability real";
  }

  let metricsShown = -1;
  function showMetrics(v) {
    if (v.metrics_step === metricsShown) return;
    metricsShown = v.metrics_step;
    const m = v.metrics || {};
    $("metrics-of").textContent = v.metrics_of ? `(${v.metrics_of}'s points, live)` : "";
    $("m-modes").textContent = m.modes_captured === undefined ? "–" : `${m.modes_captured} / ${m.n_modes}`;
    $("m-hq").textContent = m.high_quality === undefined ? "–" : `${(100 * m.high_quality).toFixed(1)}%`;
    $("m-rkl").textContent = fmt(m.reverse_kl); $("m-js").textContent = fmt(m.js); $("m-w1").textContent = fmt(m.w1);
    if (m.js !== undefined) {
      metricHistory.push({ step: v.metrics_step, js: m.js, w1: m.w1, high_quality: m.high_quality });
      metricHistory = metricHistory.slice(-600);
      plot($("metric-curve"), metricHistory, [["js", "#7b61ff", "JS"], ["w1", "#ff7a45", "W1"], ["high_quality", "#1aa37a", "high quality"]], "live");
    }
  }

  // -- a text-conditional run's prompt ---------------------------------------------------------
  async function ask() {
    const text = $("prompt").value.trim();
    if (!text) return;
    const r = await fetch("/api/prompt", { method: "POST", body: JSON.stringify({ text }),
      headers: { "Content-Type": "application/json", "X-Ganlab-Token": token } });
    const body = await r.json();
    say(r.ok ? `generating “${text}” with the next view` : body.error, r.ok ? "ok" : "error");
  }
  $("prompt-go").addEventListener("click", ask);
  $("prompt").addEventListener("keydown", (e) => { if (e.key === "Enter") ask(); });

  // -- drawing your own data -------------------------------------------------------------------
  let drawn = [], drawing = false, down = false;
  function planePoint(e) {
    const c = $("plane"), r = c.getBoundingClientRect(), [x0, x1, y0, y1] = info.bounds;
    const fx = (e.clientX - r.left) / r.width, fy = (e.clientY - r.top) / r.height;
    return [+(x0 + fx * (x1 - x0)).toFixed(3), +(y1 - fy * (y1 - y0)).toFixed(3)];
  }
  function drawState() {
    $("draw-toggle").classList.toggle("on", drawing); $("plane").classList.toggle("drawing", drawing);
    $("draw-use").disabled = !drawn.length; $("draw-clear").disabled = !drawn.length;
    $("draw-count").textContent = drawing ? `${drawn.length} points: drag on the plane` : (drawn.length ? `${drawn.length} points drawn` : "");
  }
  $("draw-toggle").addEventListener("click", () => { drawing = !drawing; drawState(); });
  $("draw-clear").addEventListener("click", () => { drawn = []; drawState(); drawPlane(); });
  $("draw-use").addEventListener("click", async () => {
    const r = await send("draw", "", { points: drawn.slice(0, 2000), std: 0.02 });
    if (r) { drawn = []; drawing = false; drawState(); }
  });
  $("plane").addEventListener("pointerdown", (e) => { if (drawing) { down = true; addPoint(e); } });
  $("plane").addEventListener("pointermove", (e) => { if (drawing && down) addPoint(e); });
  window.addEventListener("pointerup", () => { down = false; });
  let lastAdd = 0;
  function addPoint(e) {
    const now = performance.now();
    if (now - lastAdd < 15 || drawn.length >= 2000) return;
    lastAdd = now; drawn.push(planePoint(e)); drawState(); drawPlane();
  }

  // -- curves ---------------------------------------------------------------------------------
  const PALETTE = ["#2f6fed", "#e8590c", "#2b8a3e", "#ae3ec9", "#c92a2a", "#0b7285"];
  function plot(canvas, rows, series, title) {
    const g = canvas.getContext("2d"), W = canvas.width, H = canvas.height, L = 44, R = 8, T = 20, B = 20;
    g.clearRect(0, 0, W, H);
    g.fillStyle = "#1d2330"; g.font = "12px system-ui"; g.fillText(title, L, 13);
    const pts = series.map(([k]) => rows.filter((r) => typeof r[k] === "number" && Number.isFinite(r[k])).map((r) => [r.step, r[k]]));
    const all = pts.flat();
    if (!all.length) { g.fillStyle = "#6b7280"; g.fillText("waiting for the first logged step…", L, H / 2); return; }
    let xa = Math.min(...all.map((p) => p[0])), xb = Math.max(...all.map((p) => p[0]));
    let ya = Math.min(...all.map((p) => p[1])), yb = Math.max(...all.map((p) => p[1]));
    if (xb === xa) xb = xa + 1; if (yb === ya) { yb += 0.5; ya -= 0.5; }
    const X = (x) => L + (x - xa) / (xb - xa) * (W - L - R), Y = (y) => T + (1 - (y - ya) / (yb - ya)) * (H - T - B);
    g.strokeStyle = "#e3e6eb"; g.lineWidth = 1; g.beginPath();
    for (let i = 0; i <= 4; i++) { const y = T + i * (H - T - B) / 4; g.moveTo(L, y); g.lineTo(W - R, y); }
    g.stroke();
    g.fillStyle = "#6b7280"; g.font = "10px system-ui";
    g.fillText(fmt(yb, 2), 2, T + 4); g.fillText(fmt(ya, 2), 2, H - B); g.fillText(`step ${xa}`, L, H - 4);
    const last = `${xb}`; g.fillText(last, W - R - g.measureText(last).width, H - 4);
    if (tick) {   // the steering events, as dashed lines
      g.setLineDash([3, 3]); g.strokeStyle = "#9aa3b2";
      for (const ev of tick.events) if (["set", "step", "draw"].includes(ev.what) && ev.step >= xa && ev.step <= xb) {
        g.beginPath(); g.moveTo(X(ev.step), T); g.lineTo(X(ev.step), H - B); g.stroke();
      }
      g.setLineDash([]);
    }
    g.font = "12px system-ui";
    let lx = L + g.measureText(title).width + 16;
    series.forEach(([k, colour, label], i) => {
      if (!pts[i].length) return;
      g.strokeStyle = colour; g.lineWidth = 1.5; g.beginPath();
      pts[i].forEach(([x, y], j) => j ? g.lineTo(X(x), Y(y)) : g.moveTo(X(x), Y(y)));
      g.stroke();
      g.fillStyle = colour; g.font = "11px system-ui"; g.fillText(label, lx, 13); lx += g.measureText(label).width + 12;
    });
  }
  function drawCurves() {
    const groups = (info && info.curves) || [];
    const find = (name, fallback) => groups.find((c) => c.name === name) || fallback;
    const losses = find("losses", { title: "Losses", keys: ["d_loss", "g_loss"] });
    const dout = find("d_outputs", { title: "Discriminator on real and generated data", keys: ["d_real", "d_fake"] });
    const series = (keys) => keys.map((k, i) => [k, PALETTE[i % PALETTE.length], k]);
    plot($("curve-losses"), records, series(losses.keys), losses.title);
    plot($("curve-d"), records, series(dout.keys), dout.title);
    const evals = records.filter((r) => "eval_seconds" in r).slice(-3);
    $("evals").textContent = evals.map((r) => `step ${r.step}: ` + Object.entries(r)
      .filter(([k, v]) => typeof v === "number" && !["step", "eval_seconds", "wall_time", "lr_factor"].includes(k) && !(k in (records[0] || {})))
      .map(([k, v]) => `${k} ${fmt(v)}`).join(", ")).join(" · ");
  }

  // -- snapshot views (image, conditional, translation, sequence runs) --------------------------
  function showSnapshot(v) {
    const box = $("snapshot"); box.hidden = false; box.innerHTML = "";
    for (const im of v.images || []) {
      const fig = document.createElement("figure"), img = document.createElement("img");
      img.src = im.src; img.alt = im.name || "samples"; fig.appendChild(img);
      if (im.name) { const cap = document.createElement("figcaption"); cap.textContent = im.name; fig.appendChild(cap); }
      box.appendChild(fig);
    }
    for (const t of v.texts || []) { const pre = document.createElement("pre"); pre.textContent = t.lines.join("\n"); box.appendChild(pre); }
    $("view-foot").textContent = `step ${v.snapshot_step}`;
  }

  // -- the stream -----------------------------------------------------------------------------
  const es = new EventSource(`/api/stream?token=${encodeURIComponent(token)}`);
  es.addEventListener("static", (e) => {
    info = JSON.parse(e.data);
    $("run-name").textContent = info.name; $("run-family").textContent = `${info.family} · ${info.run}`;
    $("total").textContent = info.total; document.title = `ganlab live · ${info.name}`;
    const plane = info.kind === "plane";
    $("prompt-bar").hidden = !info.prompts;
    $("plane-wrap").hidden = !plane; $("layers").hidden = !plane; $("draw-bar").hidden = !plane;
    document.querySelector(".metrics").hidden = !plane;
    $("view-title").textContent = plane ? "The plane: real data, G's points and D's score" : "Samples";
    records = [];
  });
  es.addEventListener("tick", (e) => showTick(JSON.parse(e.data)));
  es.addEventListener("view", (e) => {
    view = JSON.parse(e.data);
    if (info && info.kind === "plane") { drawPlane(); showMetrics(view); } else showSnapshot(view);
  });
  es.onerror = () => {
    if (tick && tick.finished) { es.close(); return; }
    $("status").textContent = "disconnected"; $("status").className = "pill";
  };
})();
