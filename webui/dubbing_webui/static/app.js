// Shared helpers, the dashboard's live list and the job page's live timeline and logs.
(function () {
  "use strict";
  const csrf = () => (document.querySelector('meta[name="csrf-token"]') || {}).content || "";

  async function api(method, path, body, extraHeaders) {
    const headers = Object.assign({ "X-CSRF-Token": csrf() }, extraHeaders || {});
    let payload = body;
    if (body !== undefined && !(body instanceof Blob)) {
      headers["Content-Type"] = "application/json";
      payload = JSON.stringify(body);
    }
    const resp = await fetch(path, { method, headers, body: payload, credentials: "same-origin" });
    let data = null;
    try { data = await resp.json(); } catch (e) { data = null; }
    if (!resp.ok) {
      const err = new Error((data && data.detail) || resp.statusText || ("HTTP " + resp.status));
      err.status = resp.status;
      throw err;
    }
    return data;
  }

  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }

  function jobCard(j) {
    const a = el("a", "job card");
    a.href = "/jobs/" + encodeURIComponent(j.name);
    a.dataset.name = j.name;
    const title = el("div", "job-title");
    title.appendChild(el("strong", "", j.input || j.name));
    title.appendChild(el("span", "phase phase-" + (j.phase || "pending").toLowerCase(), j.phase || "Pending"));
    a.appendChild(title);
    let meta = j.name + " · " + (j.targetLanguages || []).join(", ");
    if (j.currentStage) meta += " · stage " + j.currentStage;
    if (j.queueLabel) meta += " · queue " + j.queueLabel;
    a.appendChild(el("div", "job-meta", meta));
    const bar = el("div", "bar");
    const fill = el("span");
    fill.style.width = (j.progress || 0) + "%";
    bar.appendChild(fill);
    a.appendChild(bar);
    return a;
  }

  function dashboard() {
    const list = document.getElementById("jobs");
    const state = document.getElementById("live-state");
    const jobs = new Map();
    function render() {
      const sorted = Array.from(jobs.values()).sort((a, b) => (b.created || "").localeCompare(a.created || ""));
      list.replaceChildren(...sorted.map(jobCard));
      if (!sorted.length) {
        const p = el("p", "empty card", "No jobs yet. ");
        const link = el("a", "", "Upload a video");
        link.href = "/upload";
        p.appendChild(link);
        list.appendChild(p);
      }
    }
    const es = new EventSource("/api/events");
    es.addEventListener("snapshot", (ev) => {
      jobs.clear();
      JSON.parse(ev.data).jobs.forEach((j) => jobs.set(j.name, j));
      render();
    });
    es.addEventListener("job", (ev) => {
      const j = JSON.parse(ev.data);
      if (j.deleted) jobs.delete(j.name); else jobs.set(j.name, j);
      render();
    });
    es.onopen = () => { state.textContent = "Live"; state.dataset.live = "1"; };
    es.onerror = () => { state.textContent = "Reconnecting…"; state.dataset.live = "0"; };
  }

  function fmtTime(iso) { return iso ? iso.substring(11, 19) : ""; }

  function renderStage(row, s, share) {
    row.className = "stage-row st-" + (s.phase || "Pending").toLowerCase();
    const width = s.phase === "Running" ? (s.progress || 0) : share * 100;
    row.querySelector(".st-bar span").style.width = width.toFixed(1) + "%";
    const info = row.querySelector(".st-info");
    info.replaceChildren();
    let phase = s.phase || "Pending";
    if (s.phase === "Running" && s.progress != null) phase += " " + Math.round(s.progress) + "%";
    info.appendChild(el("span", "st-phase", phase));
    if (s.durationSeconds != null) info.appendChild(el("span", "st-dur", s.durationSeconds.toFixed(1) + " s"));
    if (s.attempts > 1) info.appendChild(el("span", "st-att", s.attempts + " attempts"));
    if (s.startedAt) info.appendChild(el("span", "st-time muted", fmtTime(s.startedAt) + (s.finishedAt ? "–" + fmtTime(s.finishedAt) : "")));
    if (s.cacheHit) info.appendChild(el("span", "muted", "cached"));
  }

  function jobPage(name, stages, initialStage) {
    let refreshing = false;
    const initialPhase = document.getElementById("job-phase").textContent.trim();
    async function refresh() {
      if (refreshing) return;
      refreshing = true;
      try {
        const j = await api("GET", "/api/jobs/" + encodeURIComponent(name));
        const phase = document.getElementById("job-phase");
        phase.textContent = j.phase;
        phase.className = "phase phase-" + j.phase.toLowerCase();
        document.getElementById("job-stage").textContent = j.currentStage ? "Stage " + j.currentStage : "";
        document.getElementById("job-queue").textContent = j.queueLabel ? "· queue " + j.queueLabel : "";
        if (j.sourceLanguage) document.getElementById("job-source-language").textContent = j.sourceLanguage;
        document.getElementById("job-progress").style.width = (j.progress || 0) + "%";
        document.getElementById("last-line").textContent = j.lastLogLine || "–";
        j.timeline.forEach((s) => {
          const row = document.querySelector('.stage-row[data-stage="' + s.name + '"]');
          if (row) renderStage(row, s, s.share);
        });
        const done = ["Succeeded", "Failed", "Cancelled"].includes(j.phase);
        document.getElementById("cancel").disabled = done;
        document.getElementById("retry-job").disabled = !(j.phase === "Failed" || j.phase === "Cancelled");
        // Outputs are rendered by the server with fresh presigned URLs: load them once, when the job succeeds.
        if (j.phase === "Succeeded" && initialPhase !== "Succeeded" && document.getElementById("no-outputs")) location.reload();
        // A review pause: the server renders the way to the segment editor; load it once.
        if (j.phase === "AwaitingReview" && !document.getElementById("review-banner")) location.reload();
        if (j.currentStage && j.currentStage !== logStage && !done) followLogs(j.currentStage);
      } catch (e) { /* next event retries */ }
      refreshing = false;
    }
    const es = new EventSource("/api/events");
    es.addEventListener("job", (ev) => { if (JSON.parse(ev.data).name === name) refresh(); });
    es.addEventListener("snapshot", refresh);

    const logs = document.getElementById("logs");
    let logStage = null;
    let logSource = null;
    function followLogs(stage) {
      if (logSource) logSource.close();
      logStage = stage;
      logSource = new EventSource("/api/jobs/" + encodeURIComponent(name) + "/logs" + (stage ? "?stage=" + encodeURIComponent(stage) : ""));
      // Each (re)connection starts with the Pod's recent lines: start the view afresh.
      logSource.addEventListener("open", () => { logs.textContent = ""; });
      logSource.addEventListener("log", (ev) => {
        const d = JSON.parse(ev.data);
        logs.textContent += d.line + "\n";
        if (logs.textContent.length > 200000) logs.textContent = logs.textContent.slice(-150000);
        logs.scrollTop = logs.scrollHeight;
      });
      logSource.addEventListener("end", () => { logSource.close(); });
    }
    followLogs(initialStage || null);
  }

  // The scorecard panels: picking a segment plays its source span, then its dub span.
  function scorecards() {
    document.querySelectorAll(".scorecard[data-lang]").forEach((panel) => {
      const src = panel.querySelector("audio.src-audio");
      const dub = panel.querySelector("audio.dub-audio");
      const detail = panel.querySelector(".seg-detail");
      const text = panel.querySelector(".seg-text");
      const playSrc = panel.querySelector(".play-src");
      const playDub = panel.querySelector(".play-dub");
      let chosen = null;
      let run = 0; // each start cancels what was playing

      function stop() {
        run += 1;
        [src, dub].forEach((a) => { if (a) a.pause(); });
      }

      // Plays [audio, start, end] spans one after the other; each is paused at its end.
      function play(spans) {
        stop();
        const mine = run;
        const step = (i) => {
          if (mine !== run || i >= spans.length) return;
          const [audio, start, end] = spans[i];
          if (!audio || !(end > start)) { step(i + 1); return; }
          audio.currentTime = start;
          let done = false;
          const next = () => { if (!done && mine === run) { done = true; step(i + 1); } };
          const watch = () => {
            if (done || mine !== run) return;
            if (audio.currentTime >= end || audio.ended) { audio.pause(); next(); return; }
            if (audio.error) { next(); return; }
            window.requestAnimationFrame(watch);
          };
          const started = audio.play();
          // Refused (no media, or the browser's autoplay rule): the span is skipped, the position stays set.
          if (started && started.catch) started.catch(() => next());
          window.requestAnimationFrame(watch);
        };
        step(0);
      }

      function spanOf(seg, which) {
        const d = seg.dataset;
        return which === "src" ? [src, parseFloat(d.slotStart), parseFloat(d.slotEnd)]
                               : [dub, parseFloat(d.start), parseFloat(d.end)];
      }

      panel.querySelectorAll(".seg").forEach((seg) => {
        seg.addEventListener("click", () => {
          if (chosen) chosen.setAttribute("aria-pressed", "false");
          chosen = seg;
          seg.setAttribute("aria-pressed", "true");
          detail.textContent = seg.dataset.detail;
          text.textContent = seg.dataset.text ? "\u201c" + seg.dataset.text + "\u201d" : "";
          if (playSrc) playSrc.disabled = !src;
          if (playDub) playDub.disabled = !dub;
          play([spanOf(seg, "src"), spanOf(seg, "dub")]);
        });
      });
      if (playSrc) playSrc.addEventListener("click", () => { if (chosen) play([spanOf(chosen, "src")]); });
      if (playDub) playDub.addEventListener("click", () => { if (chosen) play([spanOf(chosen, "dub")]); });
    });
  }

  window.Dubbing = { api, el, dashboard, jobPage, csrf, scorecards };
})();
