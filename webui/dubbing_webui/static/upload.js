// The upload page: chunked, resumable upload with per-chunk SHA-256, then the job form.
// The server plans the parts; each chunk goes either straight to MinIO with a presigned URL bound
// to its SHA-256 (upload.transfer "direct") or to the web UI, which streams it on ("proxy").
// PARALLEL chunks are in flight at once; each worker signs its next chunk while one is sent.
(function () {
  "use strict";
  const $ = (id) => document.getElementById(id);
  const PREFIX = "dubbing-upload:";
  const MAX_ATTEMPTS = 6;
  const PARALLEL = 4;
  const keyOf = (f) => PREFIX + [f.name, f.size, f.lastModified].join("|");
  const fmtBytes = (n) => {
    const u = ["B", "KB", "MB", "GB", "TB"];
    let i = 0;
    while (n >= 1000 && i < u.length - 1) { n /= 1000; i++; }
    return (i ? n.toFixed(1) : n) + " " + u[i];
  };
  const fmtSecs = (s) => !isFinite(s) ? "–" : s < 60 ? Math.ceil(s) + " s" : Math.floor(s / 60) + " min " + Math.ceil(s % 60) + " s";
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

  const state = { file: null, upload: null, held: new Set(), paused: false, xhrs: new Set(), running: false,
                  sessionBytes: 0, started: 0, inflight: new Map(), completed: false };
  const inflightBytes = () => { let n = 0; state.inflight.forEach((v) => { n += v; }); return n; };
  const abortAll = () => { state.xhrs.forEach((x) => x.abort()); };

  // A pending upload from an earlier visit: say so, and resume when the same file is chosen.
  const pending = Object.keys(localStorage).filter((k) => k.startsWith(PREFIX));
  if (pending.length) {
    try {
      const rec = JSON.parse(localStorage.getItem(pending[0]));
      $("resume-name").textContent = rec.name;
      $("resume-banner").classList.remove("hidden");
    } catch (e) { localStorage.removeItem(pending[0]); }
  }

  function showError(msg) { const e = $("upload-error"); e.textContent = msg; e.classList.remove("hidden"); }
  function clearError() { $("upload-error").classList.add("hidden"); }

  function chunkLen(i) { const cs = state.upload.chunkSize; return Math.min(cs, state.upload.size - i * cs); }

  function heldBytes() { let n = 0; state.held.forEach((i) => { n += chunkLen(i); }); return n; }

  function paint() {
    if (!state.upload) return;
    const sent = Math.min(state.upload.size, heldBytes() + inflightBytes());
    const pct = (100 * sent) / state.upload.size;
    $("bar").style.width = pct.toFixed(1) + "%";
    $("pct").textContent = pct.toFixed(1) + "%";
    $("sent").textContent = fmtBytes(sent);
    $("total").textContent = fmtBytes(state.upload.size);
    const secs = (performance.now() - state.started) / 1000;
    const speed = secs > 0.2 ? (state.sessionBytes + inflightBytes()) / secs : 0;
    $("speed").textContent = speed ? fmtBytes(speed) + "/s" : "–";
    $("eta").textContent = speed ? fmtSecs((state.upload.size - sent) / speed) : "–";
  }

  // The request that stores chunk `index`: a presigned MinIO URL (direct) or the web UI's chunk route.
  async function target(index, sha) {
    if (state.upload.transfer === "direct") {
      return await Dubbing.api("POST", "/api/uploads/" + state.upload.id + "/chunks/" + index + "/url", { sha256: sha });
    }
    return { method: "PUT", url: "/api/uploads/" + state.upload.id + "/chunks/" + index,
             headers: { "X-CSRF-Token": Dubbing.csrf(), "X-Chunk-SHA256": sha, "Content-Type": "application/octet-stream" } };
  }

  function putChunk(index, blob, req) {
    return new Promise((resolve, reject) => {
      const xhr = new XMLHttpRequest();
      state.xhrs.add(xhr);
      const done = () => { state.xhrs.delete(xhr); state.inflight.delete(index); };
      xhr.open(req.method, req.url);
      Object.entries(req.headers).forEach(([k, v]) => {
        if (k.toLowerCase() !== "content-length") xhr.setRequestHeader(k, v);  // the browser sets the length
      });
      xhr.upload.onprogress = (ev) => { state.inflight.set(index, ev.loaded); paint(); };
      xhr.onload = () => {
        done();
        if (xhr.status >= 200 && xhr.status < 300) resolve();
        else {
          let msg = "HTTP " + xhr.status;
          try { msg = JSON.parse(xhr.responseText).detail || msg; } catch (e) {
            const code = /<Code>([^<]+)<\/Code>/.exec(xhr.responseText || "");
            if (code) msg += " " + code[1];
          }
          const err = new Error(msg); err.status = xhr.status; reject(err);
        }
      };
      xhr.onerror = () => { done(); const e = new Error("network error"); e.status = 0; reject(e); };
      xhr.onabort = () => { done(); const e = new Error("paused"); e.status = -1; reject(e); };
      xhr.send(blob);
    });
  }

  // A part made ready to send: its bytes (a lazy slice of the file), their SHA-256 and a signed request.
  async function prepare(index) {
    const blob = state.file.slice(index * state.upload.chunkSize, index * state.upload.chunkSize + chunkLen(index));
    const sha = await window.sha256hex(await blob.arrayBuffer());
    // A signing that fails here is tried again, with the back-off, where the part is sent.
    return { index, blob, sha, req: await target(index, sha).catch(() => null) };
  }

  async function sendPrepared(part) {
    const { index, blob, sha } = part;
    let req = part.req;
    for (let attempt = 1; ; attempt++) {
      if (state.paused) throw Object.assign(new Error("paused"), { status: -1 });
      try {
        await putChunk(index, blob, req || await target(index, sha));
        state.held.add(index);
        state.sessionBytes += chunkLen(index);
        paint();
        return;
      } catch (err) {
        if (err.status === -1) throw err;
        req = null;  // a retry signs afresh
        // MinIO answers an expired signature with 403 and a damaged body with 400: sign and send again.
        const direct = state.upload.transfer === "direct";
        const retriable = err.status === 0 || err.status >= 500 || err.status === 408 || err.status === 429 ||
          err.status === 422 || (direct && (err.status === 403 || err.status === 400));
        if (!retriable || attempt >= MAX_ATTEMPTS) throw err;
        clearError();
        $("upload-error").textContent = "Chunk " + index + " failed (" + err.message + "), retrying (" + attempt + "/" + (MAX_ATTEMPTS - 1) + ")…";
        $("upload-error").classList.remove("hidden");
        await sleep(Math.min(8000, 500 * 2 ** (attempt - 1)) * (0.75 + Math.random() / 2));
        clearError();
      }
    }
  }

  async function run() {
    if (state.running) return;
    state.running = true;
    state.paused = false;
    clearError();
    $("retry").classList.add("hidden");
    $("pause").classList.remove("hidden");
    $("resume").classList.add("hidden");
    try {
      const status = await Dubbing.api("GET", "/api/uploads/" + state.upload.id);
      state.held = new Set(status.receivedChunks);
      state.started = performance.now();
      state.sessionBytes = 0;
      paint();
      if (status.state !== "complete") {
        const queue = status.missingChunks.filter((i) => !state.held.has(i));
        let failure = null;  // the first real failure stops the other workers (their aborts say "paused")
        const stopped = () => state.paused || (failure && failure.status !== -1);
        const fail = (err) => {
          if (!failure || failure.status === -1) failure = err;
          if (err.status !== -1) abortAll();
        };
        // Each worker hashes and signs its next part while the current one is sent, so the signing
        // round trip is off the path of the bytes. A part taken but not sent (pause, failure) is still
        // missing on the server and is sent on resume or retry.
        const take = () => {
          if (!queue.length || stopped()) return null;
          const p = prepare(queue.shift());
          p.catch(() => {});  // awaited below; this only keeps an early failure from being "unhandled"
          return p;
        };
        const worker = async () => {
          let next = take();
          while (next) {
            let part;
            try { part = await next; } catch (err) { fail(err); return; }
            next = take();
            if (stopped()) return;
            try { await sendPrepared(part); } catch (err) { fail(err); return; }
          }
        };
        await Promise.all(Array.from({ length: Math.min(PARALLEL, queue.length) }, worker));
        if (failure) throw failure;
        if (state.paused) throw Object.assign(new Error("paused"), { status: -1 });
        // Completing may answer "assembled" while a large file is hashed and probed: ask again.
        while ((await Dubbing.api("POST", "/api/uploads/" + state.upload.id + "/complete")).state !== "complete") {
          await sleep(2000);
        }
      }
      state.completed = true;
      $("pause").classList.add("hidden");
      $("abort").classList.add("hidden");
      $("upload-done").classList.remove("hidden");
      $("resume-banner").classList.add("hidden");
      $("submit").disabled = false;
      paint();
    } catch (err) {
      if (err.status === -1) {
        $("pause").classList.add("hidden");
        $("resume").classList.remove("hidden");
      } else {
        showError("Upload failed: " + err.message);
        $("retry").classList.remove("hidden");
        if (err.status === 404 || err.status === 400) { localStorage.removeItem(keyOf(state.file)); }
      }
    } finally {
      state.running = false;
    }
  }

  async function start(file) {
    state.file = file;
    state.completed = false;
    $("submit").disabled = true;
    $("upload-done").classList.add("hidden");
    $("abort").classList.remove("hidden");
    $("progress").classList.remove("hidden");
    clearError();
    const key = keyOf(file);
    const saved = localStorage.getItem(key);
    state.upload = null;
    if (saved) {
      try {
        const rec = JSON.parse(saved);
        state.upload = await Dubbing.api("GET", "/api/uploads/" + rec.id);
        $("resume-name").textContent = file.name;
        $("resume-banner").classList.remove("hidden");
      } catch (e) { localStorage.removeItem(key); state.upload = null; }
    }
    if (!state.upload) {
      $("resume-banner").classList.add("hidden");
      try {
        state.upload = await Dubbing.api("POST", "/api/uploads",
          { name: file.name, size: file.size, type: file.type || "application/octet-stream" });
      } catch (err) { showError("Upload refused: " + err.message); return; }
      localStorage.setItem(key, JSON.stringify({ id: state.upload.id, name: file.name }));
    }
    run();
  }

  $("file").addEventListener("change", (ev) => { if (ev.target.files[0]) start(ev.target.files[0]); });
  $("pause").addEventListener("click", () => { state.paused = true; abortAll(); });
  $("resume").addEventListener("click", run);
  $("retry").addEventListener("click", run);
  $("abort").addEventListener("click", async () => {
    state.paused = true;
    abortAll();
    if (state.upload) { try { await Dubbing.api("DELETE", "/api/uploads/" + state.upload.id); } catch (e) { /* gone */ } }
    if (state.file) localStorage.removeItem(keyOf(state.file));
    location.reload();
  });

  $("job-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    if (!state.completed) return;
    const form = new FormData(ev.target);
    const body = {
      uploadId: state.upload.id,
      targetLanguages: form.getAll("targetLanguages"),
      sourceLanguage: form.get("sourceLanguage"),
      options: {
        tts: form.get("tts") || undefined,
        container: form.get("container"),
        reviewAfter: form.get("reviewAfter") || undefined,
      },
    };
    $("submit").disabled = true;
    try {
      const job = await Dubbing.api("POST", "/api/jobs", body);
      localStorage.removeItem(keyOf(state.file));
      location.href = "/jobs/" + encodeURIComponent(job.name);
    } catch (err) {
      const e = $("job-error"); e.textContent = "Could not start the job: " + err.message; e.classList.remove("hidden");
      $("submit").disabled = false;
    }
  });
})();
