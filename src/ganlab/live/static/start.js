// ganlab live: the start page of `ganlab live`. Picks a preset (or drawn 2-D data), then waits
// for the run's page.
"use strict";
(function () {
  const token = new URLSearchParams(location.search).get("token") || "";
  const $ = (id) => document.getElementById(id);
  const BOUNDS = [-1.53, 1.53];   // the plane of ring-ns
  let points = [], down = false;

  function say(text, kind) { const m = $("message"); m.textContent = text; m.className = "show " + kind; }
  async function start(body) {
    const r = await fetch("/api/start", { method: "POST", body: JSON.stringify(body),
      headers: { "Content-Type": "application/json", "X-Ganlab-Token": token } });
    const answer = await r.json();
    if (!r.ok) { say(answer.error || `refused (${r.status})`, "error"); return; }
    say(`starting ${body.preset}…`, "ok");
    const wait = setInterval(async () => {
      const s = await (await fetch("/api/state", { headers: { "X-Ganlab-Token": token } })).json();
      if (!s.start) { clearInterval(wait); location.reload(); }
    }, 500);
  }

  fetch("/api/presets", { headers: { "X-Ganlab-Token": token } }).then((r) => r.json()).then((list) => {
    const box = $("presets");
    for (const p of list) {
      const b = document.createElement("button");
      b.className = "preset";
      b.innerHTML = `<b></b><span class="kind"></span><span class="muted small"></span>`;
      b.querySelector("b").textContent = p.name;
      b.querySelector(".kind").textContent = p.kind;
      b.querySelector(".muted").textContent = p.description;
      b.addEventListener("click", () => start({ preset: p.name }));
      box.appendChild(b);
    }
  });

  const pad = $("pad"), g = pad.getContext("2d");
  function paint() {
    g.fillStyle = "#1b1f2a"; g.fillRect(0, 0, pad.width, pad.height);
    g.fillStyle = "rgba(95,227,255,.95)";
    for (const [x, y] of points) {
      const px = (x - BOUNDS[0]) / (BOUNDS[1] - BOUNDS[0]) * pad.width;
      const py = pad.height - (y - BOUNDS[0]) / (BOUNDS[1] - BOUNDS[0]) * pad.height;
      g.beginPath(); g.arc(px, py, 2.6, 0, 6.283); g.fill();
    }
    $("pad-count").textContent = points.length ? `${points.length} points` : "";
    $("pad-start").disabled = !points.length;
  }
  function add(e) {
    if (points.length >= 2000) return;
    const r = pad.getBoundingClientRect();
    const fx = (e.clientX - r.left) / r.width, fy = (e.clientY - r.top) / r.height;
    const w = BOUNDS[1] - BOUNDS[0];
    points.push([+(BOUNDS[0] + fx * w).toFixed(3), +(BOUNDS[1] - fy * w).toFixed(3)]);
    paint();
  }
  pad.addEventListener("pointerdown", (e) => { down = true; add(e); });
  pad.addEventListener("pointermove", (e) => { if (down) add(e); });
  window.addEventListener("pointerup", () => { down = false; });
  $("pad-clear").addEventListener("click", () => { points = []; paint(); });
  $("pad-start").addEventListener("click", () => start({ preset: "ring-ns", points }));
  paint();
})();
