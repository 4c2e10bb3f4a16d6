// volcast status page: fetch the JSON documents every `data-refresh` seconds and update the
// chart (uPlot), the champion card, the health indicators and the events, without a reload.
// Everything is written with textContent (no HTML from the API is interpreted).
"use strict";

(function () {
  const refresh = Number(document.body.dataset.refresh || "10") * 1000;
  const state = { charts: {}, points: {}, versions: {}, updates: 0 };
  window.volcast = state;

  const STATUS = ["ok", "warn", "alert", "info"];
  const fmtTime = (iso) => (iso ? iso.replace("T", " ").slice(0, 16) + " UTC" : "—");
  const fmtAxis = (x) => (x === null ? "" : Number(Number(x).toPrecision(3)).toString());
  const fmtNum = (x) => (x === null || x === undefined ? "—" : Number(x).toPrecision(4));

  function setField(root, name, text) {
    root.querySelectorAll(`[data-field="${name}"]`).forEach((el) => {
      el.textContent = text;
    });
  }

  function setStatus(el, level) {
    if (!el) return;
    STATUS.forEach((s) => el.classList.remove(`st-${s}`));
    el.classList.add(`st-${level}`);
  }

  async function getJSON(url) {
    const response = await fetch(url, { headers: { Accept: "application/json" } });
    if (!response.ok) {
      const error = new Error(`${url}: HTTP ${response.status}`);
      error.status = response.status;
      throw error;
    }
    return response.json();
  }

  function chartSize(el) {
    const width = Math.max(240, el.clientWidth || 600);
    return { width, height: Math.round(Math.min(360, Math.max(200, width * 0.45))) };
  }

  function drawChart(section, key, doc) {
    const el = section.querySelector(".chart");
    const empty = section.querySelector(".chart-empty");
    const pts = doc.points;
    const xs = pts.map((p) => Date.parse(p.timestamp) / 1000);
    const data = [
      xs,
      pts.map((p) => p.realized),
      pts.map((p) => p.forecast),
      pts.map((p) => p.baseline),
    ];
    state.points[key] = pts.length;
    el.dataset.points = String(pts.length);
    empty.hidden = pts.length > 0;
    const origin = { live: "live loop", backtest: "out-of-sample backtest", none: "nothing stored" };
    const label = `${origin[doc.origin]}${doc.model ? ", " + doc.model : ""}, ${pts.length} bars` +
      (doc.synthetic ? " · synthetic data" : "");
    setField(section, "origin", `(${label})`);
    if (state.charts[key]) {
      state.charts[key].setData(data);
      return;
    }
    if (!pts.length) return;
    const opts = {
      ...chartSize(el),
      scales: { x: { time: true } },
      axes: [{}, { label: "volatility per bar", size: 70, values: (u, v) => v.map(fmtAxis) }],
      series: [
        {},
        { label: "realized", stroke: "#1f2937", width: 1 },
        { label: "forecast", stroke: "#2563eb", width: 2 },
        { label: "HAR baseline", stroke: "#b45309", width: 1, dash: [6, 4] },
      ],
    };
    state.charts[key] = new uPlot(opts, data, el);
    new ResizeObserver(() => state.charts[key].setSize(chartSize(el))).observe(el);
  }

  function updateChampion(section, key, card) {
    const box = section.querySelector('[data-role="champion"] dl');
    if (!box) return; // rendered without a model: the next page load shows it
    box.dataset.version = String(card.version);
    state.versions[key] = card.version;
    const baselines = Object.entries(card.baselines_qlike)
      .sort()
      .map(([k, v]) => `${k} ${fmtNum(v)}`)
      .join(", ");
    setField(box, "champion.version", `v${card.version}`);
    setField(box, "champion.kind", card.kind || "—");
    setField(box, "champion.registered_at", fmtTime(card.registered_at));
    setField(box, "champion.decision", card.decision || "not judged by `promote`");
    setField(box, "champion.decided_at", fmtTime(card.decided_at));
    setField(box, "champion.reason", card.reason || "—");
    setField(box, "champion.qlike", fmtNum(card.qlike));
    setField(box, "champion.baselines", baselines || "—");
    setField(box, "champion.loaded_at", fmtTime(card.loaded_at));
  }

  function updateStatus(section, doc) {
    const overall = section.querySelector('[data-field="overall"]');
    overall.textContent = doc.status;
    setStatus(overall, doc.status);
    ["freshness", "drift", "ood", "loss"].forEach((name) => {
      const item = doc[name];
      setStatus(section.querySelector(`[data-indicator="${name}"]`), item.status);
      setField(section, `status.${name}.status`, item.status);
      setField(section, `status.${name}.text`, item.text);
    });
  }

  function updateEvents(section, doc) {
    const list = section.querySelector('[data-role="events"]');
    const items = doc.events.map((e) => {
      const li = document.createElement("li");
      const time = document.createElement("time");
      time.dateTime = e.time;
      time.textContent = fmtTime(e.time);
      const what = document.createElement("strong");
      what.textContent = e.event;
      li.append(time, " ", what);
      return li;
    });
    if (!items.length) {
      const li = document.createElement("li");
      li.className = "empty";
      li.textContent = "No events yet (no stream worker has run).";
      items.push(li);
    }
    list.replaceChildren(...items);
  }

  async function updateSeries(section) {
    const key = `${section.dataset.slug}-${section.dataset.interval}`;
    const base = `/api/series/${section.dataset.slug}/${section.dataset.interval}`;
    const [forecasts, status, events] = await Promise.all([
      getJSON(`${base}/forecasts`),
      getJSON(`${base}/status`),
      getJSON(`${base}/events?limit=10`),
    ]);
    drawChart(section, key, forecasts);
    updateStatus(section, status);
    updateEvents(section, events);
    try {
      updateChampion(section, key, await getJSON(`${base}/champion`));
    } catch (error) {
      if (error.status !== 503) throw error; // 503: no model in service right now
    }
  }

  async function tick() {
    const note = document.getElementById("updated");
    try {
      await Promise.all([...document.querySelectorAll("section.series")].map(updateSeries));
      state.updates += 1;
      note.textContent = `last updated ${new Date().toISOString().slice(11, 19)} UTC`;
    } catch (error) {
      note.textContent = `update failed (${error.message}); retrying`;
    } finally {
      setTimeout(tick, refresh);
    }
  }

  tick();
})();
