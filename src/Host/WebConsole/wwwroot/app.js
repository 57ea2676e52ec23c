// The Kata Workflows web console: three views (runs, a run, sandboxes) over the host's read-only JSON. Every file it
// loads comes from the host; the timeline component (vis-timeline, from npm) is loaded only on a run's page.
"use strict";

const main = document.getElementById("main");
const live = document.getElementById("live");
const RUNS_POLL_MS = 2000;
const RUN_POLL_MS = 1000;
const SANDBOXES_POLL_MS = 3000;
const STATUSES = ["Running", "Pending", "Completed", "Failed", "Terminated", "Suspended", "ContinuedAsNew"];

function esc(value) {
  return String(value ?? "").replace(/[&<>"']/g, c => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
}

function time(iso) {
  return iso ? iso.replace("T", " ").replace(/(\.\d{3})\d*Z$/, "$1Z").replace(/Z$/, "") : "";
}

function runLink(id, text) {
  return `<a href="/run?id=${encodeURIComponent(id)}">${esc(text ?? id)}</a>`;
}

function badge(text, cls) {
  return `<span class="badge ${esc((cls ?? text).replace(/ /g, "-"))}">${esc(text)}</span>`;
}

async function getJson(url, signal) {
  const response = await fetch(url, { signal, headers: { Accept: "application/json" } });
  const body = await response.json().catch(() => ({ error: `${response.status} ${response.statusText}` }));
  if (!response.ok) {
    throw new Error(body.error ?? `${response.status} ${response.statusText}`);
  }
  return body;
}

function setLive(text) {
  live.textContent = text;
}

// Polls fn every interval ms until it returns false; a failed poll shows its error and tries again.
function poll(fn, interval) {
  let stopped = false;
  const tick = async () => {
    if (stopped) return;
    let again = true;
    try {
      again = (await fn()) !== false;
      setLive(again ? `live · ${new Date().toISOString().slice(11, 19)}Z` : "finished");
    } catch (error) {
      setLive(`disconnected: ${error.message}`);
    }
    if (again && !stopped) setTimeout(tick, interval);
  };
  tick();
  return () => { stopped = true; };
}

// ---------------------------------------------------------------- runs

function runsView() {
  document.getElementById("nav-runs").classList.add("active");
  const params = new URLSearchParams(location.search);
  const statusOptions = ["", ...STATUSES].map(s => `<option value="${s}"${params.get("status") === s ? " selected" : ""}>${s || "any"}</option>`).join("");
  main.innerHTML = `
    <h1>Runs</h1>
    <form class="filters" id="filters">
      <label>status <select name="status">${statusOptions}</select></label>
      <label>name <input name="name" value="${esc(params.get("name"))}" placeholder="RunSandbox"></label>
      <label>sandbox <input name="sandbox" value="${esc(params.get("sandbox"))}" placeholder="sandbox id"></label>
      <label>created from (UTC) <input name="from" value="${esc(params.get("from"))}" placeholder="2026-12-01T00:00:00Z"></label>
      <label>created before (UTC) <input name="to" value="${esc(params.get("to"))}" placeholder="2026-12-02T00:00:00Z"></label>
      <button type="submit">Filter</button>
      <button type="button" class="plain" id="clear">Clear</button>
    </form>
    <div id="runs-error" class="error"></div>
    <table id="runs"><thead><tr><th>instance</th><th>name</th><th>status</th><th>outcome</th><th>sandbox</th><th>created</th><th>updated</th><th>failure</th></tr></thead><tbody></tbody></table>
    <div class="pager"><button class="plain" id="first" disabled>First page</button><button class="plain" id="prev" disabled>Previous</button><button class="plain" id="next" disabled>Next</button><span class="muted" id="page-info"></span></div>`;
  const form = document.getElementById("filters");
  const tokens = [null];
  let last = "";
  form.addEventListener("submit", e => {
    e.preventDefault();
    const next = new URLSearchParams();
    for (const [k, v] of new FormData(form)) if (v) next.set(k, v);
    history.replaceState(null, "", `/runs${next.size ? "?" + next : ""}`);
    tokens.length = 1;
    refresh();
  });
  document.getElementById("clear").addEventListener("click", () => { form.reset(); for (const el of form.elements) if (el.name) el.value = ""; form.requestSubmit(); });
  document.getElementById("first").addEventListener("click", () => { tokens.length = 1; refresh(); });
  document.getElementById("prev").addEventListener("click", () => { tokens.pop(); refresh(); });
  document.getElementById("next").addEventListener("click", () => { if (nextToken) { tokens.push(nextToken); refresh(); } });
  let nextToken = null;

  async function refresh() {
    const query = new URLSearchParams(location.search);
    query.delete("page");
    if (tokens.at(-1)) query.set("page", tokens.at(-1));
    const errorBox = document.getElementById("runs-error");
    let page;
    try {
      page = await getJson(`/api/runs?${query}`);
      errorBox.textContent = "";
    } catch (error) {
      errorBox.textContent = error.message;
      throw error;
    }
    nextToken = page.next;
    document.getElementById("next").disabled = !page.next;
    document.getElementById("prev").disabled = tokens.length < 2;
    document.getElementById("first").disabled = tokens.length < 2;
    document.getElementById("page-info").textContent = `page ${tokens.length} · ${page.runs.length} runs, newest first`;
    const text = JSON.stringify(page.runs);
    if (text === last) return;
    last = text;
    document.querySelector("#runs tbody").innerHTML = page.runs.length === 0
      ? `<tr><td colspan="8" class="muted">no runs</td></tr>`
      : page.runs.map(r => `<tr data-instance="${esc(r.instanceId)}">
          <td class="id">${runLink(r.instanceId)}</td><td>${esc(r.name)}</td><td>${badge(r.status)}</td><td>${badge(r.outcome)}</td>
          <td>${r.sandbox ? `<a href="/runs?sandbox=${encodeURIComponent(r.sandbox)}">${esc(r.sandbox)}</a>` : ""}</td>
          <td class="time">${time(r.createdAt)}</td><td class="time">${time(r.lastUpdatedAt)}</td><td>${esc(r.failure)}</td></tr>`).join("");
  }

  poll(refresh, RUNS_POLL_MS);
}

// ---------------------------------------------------------------- a run

let visLoading = null;
function loadVis() {
  visLoading ??= new Promise((resolve, reject) => {
    const script = document.createElement("script");
    script.src = "/assets/vendor/vis-timeline-graph2d.min.js";
    script.onload = () => resolve(window.vis);
    script.onerror = () => reject(new Error("the timeline component did not load"));
    document.head.appendChild(script);
  });
  return visLoading;
}

// A page lays out a few hundred bars at once without freezing, not thousands: a longer run opens on the first
// WINDOW_BARS bars (or around its failed step) and cannot be zoomed out past about that many; drag to move along.
const LARGE_RUN_BARS = 200;
const WINDOW_BARS = 150;
const HISTORY_CHUNK = 300;

// Bars added to the timeline per task in a large run.
const TIMELINE_SLICE = 150;

const GROUPS = [
  { id: "activity", content: "steps" },
  { id: "compensation", content: "compensations" },
  { id: "timer", content: "timers" },
  { id: "entity", content: "entity calls, locks" },
  { id: "suborchestration", content: "sub-orchestrations" },
];

function groupOf(bar) {
  switch (bar.kind) {
    case "activity": return bar.compensation ? "compensation" : "activity";
    case "timer": return "timer";
    case "entityCall": case "lock": return "entity";
    default: return "suborchestration";
  }
}

function barItem(bar, now) {
  const start = Date.parse(bar.start);
  const end = bar.end ? Date.parse(bar.end) : now;
  const classes = ["kwf", `kwf-${bar.kind.toLowerCase()}`, `kwf-${bar.status}`];
  if (bar.compensation) classes.push("kwf-compensation");
  if (bar.attempt > 1) classes.push("kwf-retry");
  if (bar.culprit) classes.push("kwf-culprit");
  const label = bar.name + (bar.attempt > 1 ? ` (retry ${bar.attempt - 1})` : "");
  const duration = end - start;
  const title = [label, `${bar.status}, ${duration} ms`, bar.culprit ? "this step failed the run" : null, bar.detail, bar.target ? `on ${bar.target}` : null, `events #${bar.startEvent}${bar.endEvent != null ? "–#" + bar.endEvent : ""}`]
    .filter(Boolean).join("\n");
  const content = document.createElement("span");
  content.textContent = label;
  content.dataset.bar = bar.id;
  return { id: bar.id, group: groupOf(bar), start, end: Math.max(end, start + 1), type: "range", content, title: esc(title).replace(/\n/g, "<br>"), className: classes.join(" ") };
}

function failureHtml(f) {
  if (!f) return "";
  return `<div class="failure"><b>${esc(f.type)}</b>: ${esc(f.message)}${f.nonRetriable ? ' <span class="tag">not retriable</span>' : ""}
    ${f.stackTrace ? `<details><summary>stack trace</summary><pre>${esc(f.stackTrace)}</pre></details>` : ""}
    ${f.cause ? `<div class="muted">caused by</div>${failureHtml(f.cause)}` : ""}</div>`;
}

function pretty(json) {
  if (json == null) return "";
  try { return JSON.stringify(JSON.parse(json), null, 2); } catch { return json; }
}

function payload(title, json) {
  return json == null ? "" : `<h2>${esc(title)}</h2><pre class="payload-${esc(title.replace(/ /g, "-"))}">${esc(pretty(json))}</pre>`;
}

async function runView() {
  document.getElementById("nav-runs").classList.add("active");
  const id = new URLSearchParams(location.search).get("id");
  if (!id) {
    main.innerHTML = `<p class="error">No run given: open /run?id=INSTANCE.</p>`;
    return;
  }
  main.innerHTML = `<h1>${esc(id)}</h1><div id="run-head"></div>
    <div class="actions">
      <a class="button" id="export" href="/api/export?id=${encodeURIComponent(id)}" download>Download export</a>
      <button class="plain" id="replay">Replay against this host's code</button>
      <span id="verdict"></span>
    </div>
    <h2>Timeline</h2>
    <div class="legend"><span style="--sw:#3d7bd9">step</span><span style="--sw:#8e5bb5">compensation</span><span style="--sw:#3d7bd9;--sb:#7f0000">failed step</span><span style="--sw:#e57373">failed attempt</span><span style="--sw:repeating-linear-gradient(45deg,#3d7bd9 0 3px,#8fb3ea 3px 6px)">retry</span><span style="--sw:#c9d2de">timer</span><span style="--sw:#2f9e8f">entity call</span><span style="--sw:#e6c36a">lock held</span><span style="--sw:#5c6bc0">sub-orchestration</span></div>
    <div id="timeline"></div><p class="muted" id="timeline-note"></p>
    <div id="payloads"></div>
    <h2>History <span class="muted" id="history-count"></span></h2>
    <div class="history"><table id="history"><thead><tr><th>#</th><th>time</th><th>type</th><th>name</th><th>id</th></tr></thead><tbody></tbody></table></div>`;
  document.getElementById("replay").addEventListener("click", async () => {
    const box = document.getElementById("verdict");
    box.className = "verdict";
    box.textContent = "replaying…";
    try {
      const v = await getJson(`/api/replay?id=${encodeURIComponent(id)}`);
      if (v.error) {
        box.className = "verdict bad";
        box.textContent = `no replay: ${v.error}`;
      } else if (v.deterministic) {
        box.className = "verdict ok";
        box.textContent = `deterministic: replays all ${v.eventsReplayed} events against ${v.code}`;
      } else {
        box.className = "verdict bad";
        box.innerHTML = `diverged at event #${esc(v.eventIndex)} of ${esc(v.eventCount)} against ${esc(v.code)}<br>recorded: ${esc(v.recorded)}<br>new code: ${esc(v.produced)}`;
      }
    } catch (error) {
      box.className = "verdict bad";
      box.textContent = error.message;
    }
  });

  const vis = await loadVis();
  const items = new vis.DataSet();
  const timeline = new vis.Timeline(document.getElementById("timeline"), items, [], {
    stack: true, orientation: "top", zoomMin: 5, maxHeight: 520, verticalScroll: true, horizontalScroll: false,
    margin: { item: { horizontal: 0, vertical: 3 } }, tooltip: { followMouse: true, delay: 50 },
    moment: date => vis.moment(date).utc(), showCurrentTime: false, selectable: false,
  });
  let lastKey = "";
  let fitted = false;

  async function refresh() {
    let run;
    try {
      run = await getJson(`/api/run?id=${encodeURIComponent(id)}`);
    } catch (error) {
      document.getElementById("run-head").innerHTML = `<p class="error">${esc(error.message)}</p>`;
      throw error;
    }
    const r = run.run;
    const terminal = ["Completed", "Failed", "Terminated", "Canceled"].includes(r.status);
    const key = `${r.status}|${run.eventCount}|${r.lastUpdatedAt}`;
    if (key === lastKey) return !terminal;
    lastKey = key;
    document.getElementById("run-head").innerHTML = `<dl class="facts">
      <dt>status</dt><dd><span id="run-status">${badge(r.status)}</span> ${badge(r.outcome)}</dd>
      <dt>orchestration</dt><dd>${esc(r.name)}</dd>
      ${r.sandbox ? `<dt>sandbox</dt><dd><a href="/runs?sandbox=${encodeURIComponent(r.sandbox)}">${esc(r.sandbox)}</a> <a href="/sandboxes">(sandboxes)</a></dd>` : ""}
      <dt>execution</dt><dd class="mono">${esc(run.executionId)}</dd>
      <dt>created</dt><dd class="mono">${time(r.createdAt)}</dd>
      <dt>updated</dt><dd class="mono">${time(r.lastUpdatedAt)}</dd>
      ${r.completedAt ? `<dt>completed</dt><dd class="mono">${time(r.completedAt)}</dd>` : ""}
      ${run.parent ? `<dt>parent</dt><dd id="parent">${runLink(run.parent)}</dd>` : ""}
      ${run.children.length ? `<dt>children</dt><dd id="children">${run.children.map(c => runLink(c)).join("<br>")}</dd>` : ""}
      ${Object.keys(run.tags).length ? `<dt>tags</dt><dd>${Object.entries(run.tags).map(([k, v]) => `<span class="tag">${esc(k)}=${esc(v)}</span>`).join("")}</dd>` : ""}
      <dt>events</dt><dd>${run.eventCount}</dd></dl>`;
    document.getElementById("payloads").innerHTML = `${run.failureDetails ? `<h2>Failure</h2>${failureHtml(run.failureDetails)}` : ""}
      <div class="cols"><div>${payload("Input", run.input)}</div><div>${payload("Output", run.output)}${payload("Custom status", run.customStatus)}</div></div>`;

    const now = Date.now();
    const bars = run.timeline.bars;
    const used = new Set(bars.map(groupOf));
    timeline.setGroups(GROUPS.filter(g => used.has(g.id)));
    performance.mark("kwf-timeline");
    const large = bars.length > LARGE_RUN_BARS;
    if (large) {
      const first = Date.parse(bars[0].start);
      const last = Math.max(...bars.map(b => (b.end ? Date.parse(b.end) : now)));
      const span = Math.max(50, ((last - first) * WINDOW_BARS) / bars.length);
      timeline.setOptions({ zoomMax: span, horizontalScroll: true });
      const culprit = bars.find(b => b.culprit);
      const from = culprit ? Math.max(first, Date.parse(culprit.start) - span / 2) : first;
      timeline.setWindow(from, from + span, { animation: false });
      document.getElementById("timeline-note").textContent =
        `${bars.length} bars: showing about ${WINDOW_BARS} at a time${culprit ? ", around the failed step" : ""}; drag the axis or press shift and scroll to move along the run.`;
    }
    items.clear();
    const all = bars.map(b => barItem(b, now));
    if (large) {
      // In slices a frame apart: vis-timeline builds every item it is given in one task, and 1,000 at once held the
      // page for a second (the 2,000-event browser test saw 1.2 s in CI).
      for (let i = 0; i < all.length; i += TIMELINE_SLICE) {
        items.add(all.slice(i, i + TIMELINE_SLICE));
        if (i + TIMELINE_SLICE < all.length) await new Promise(resolve => requestAnimationFrame(() => setTimeout(resolve, 0)));
      }
    } else {
      items.add(all);
    }
    if (!large && (!fitted || !terminal)) {
      timeline.fit({ animation: false });
      fitted = true;
    }
    performance.measure("kwf-timeline", "kwf-timeline");
    document.getElementById("timeline").dataset.bars = String(bars.length);
    performance.mark("kwf-history");
    await history();
    performance.measure("kwf-history", "kwf-history");
    return !terminal;
  }

  async function history() {
    const { events } = await getJson(`/api/history?id=${encodeURIComponent(id)}`);
    document.getElementById("history-count").textContent = `${events.length} events`;
    const body = document.querySelector("#history tbody");
    const row = e => `<tr class="ev${e.failed ? " failed" : ""}${e.compensation ? " compensation" : ""}" data-index="${e.index}">
      <td>${e.index}</td><td class="time">${time(e.time)}</td><td class="type">${esc(e.type)}${e.compensation ? " (undo)" : ""}</td><td>${esc(e.name)}</td><td>${e.eventId}</td></tr>`;
    // A few hundred rows per frame, so a long history never holds the page for long.
    body.innerHTML = events.slice(0, HISTORY_CHUNK).map(row).join("");
    for (let at = HISTORY_CHUNK; at < events.length; at += HISTORY_CHUNK) {
      await new Promise(resolve => requestAnimationFrame(resolve));
      body.insertAdjacentHTML("beforeend", events.slice(at, at + HISTORY_CHUNK).map(row).join(""));
    }
    body.onclick = event => {
      const row = event.target.closest("tr.ev");
      if (!row) return;
      if (row.nextElementSibling?.classList.contains("payload")) {
        row.nextElementSibling.remove();
        return;
      }
      const detail = document.createElement("tr");
      detail.className = "payload";
      detail.innerHTML = `<td colspan="5"><pre>${esc(pretty(events[Number(row.dataset.index)].json))}</pre></td>`;
      row.after(detail);
    };
  }

  poll(refresh, RUN_POLL_MS);
}

// ---------------------------------------------------------------- sandboxes

function sandboxesView() {
  document.getElementById("nav-sandboxes").classList.add("active");
  main.innerHTML = `<h1>Sandboxes</h1><div id="sandboxes-error" class="error"></div>
    <table id="sandboxes"><thead><tr><th>sandbox</th><th>state</th><th>hypervisor</th><th>containers</th><th>pending operation</th><th>cleanup reason</th><th>lock</th><th>runs that changed it</th><th>updated</th></tr></thead><tbody></tbody></table>`;
  let last = "";
  poll(async () => {
    const { sandboxes } = await getJson("/api/sandboxes");
    const text = JSON.stringify(sandboxes);
    if (text === last) return;
    last = text;
    document.querySelector("#sandboxes tbody").innerHTML = sandboxes.length === 0
      ? `<tr><td colspan="9" class="muted">no sandboxes</td></tr>`
      : sandboxes.map(s => {
        const ops = s.operations.slice(-5).reverse().map(o => runLink(o)).join("<br>");
        const more = s.operations.length > 5 ? `<br><a href="/runs?sandbox=${encodeURIComponent(s.id)}">all ${s.operations.length} runs</a>` : "";
        return `<tr data-sandbox="${esc(s.id)}"><td class="id"><a href="/runs?sandbox=${encodeURIComponent(s.id)}">${esc(s.id)}</a></td><td>${badge(s.state, s.state === "running" ? "completed" : s.state)}</td>
          <td>${esc(s.hypervisor)}${s.vmPid ? ` <span class="muted">pid ${s.vmPid}</span>` : ""}</td>
          <td>${s.containers.map(c => `<span class="tag">${esc(c.id)}: ${esc(c.state)}</span>`).join("") || '<span class="muted">none</span>'}</td>
          <td class="id">${s.pendingOperation ? runLink(s.pendingOperation) : ""}</td><td class="error">${esc(s.cleanupReason)}</td>
          <td class="id">${s.lockedBy ? `held by ${runLink(s.lockedBy)}` : ""}${s.backlog ? ` · ${s.backlog} waiting` : ""}</td>
          <td class="id">${ops}${more}</td><td class="time">${time(s.updatedAt ?? s.lastModifiedAt)}</td></tr>`;
      }).join("");
  }, SANDBOXES_POLL_MS);
}

// ---------------------------------------------------------------- router

switch (location.pathname) {
  case "/run": runView().catch(error => { main.innerHTML = `<p class="error">${esc(error.message)}</p>`; }); break;
  case "/sandboxes": sandboxesView(); break;
  default: runsView(); break;
}
