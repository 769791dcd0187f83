// Shared helpers of every demo page: JSON calls, uploads with a progress bar, task polling,
// drag and drop. Plain browser JavaScript, no build step. Pages use relative URLs, so a service
// works the same mounted at /image or anywhere else.
"use strict";

const Bootcamp = (() => {
  /** Headers for state-changing calls: the API key typed into the page, if any. */
  function authHeaders() {
    const key = localStorage.getItem("bootcamp-api-key");
    return key ? { "X-API-Key": key } : {};
  }

  async function parse(response) {
    const type = response.headers.get("content-type") || "";
    const body = type.includes("json") ? await response.json() : await response.text();
    if (!response.ok) {
      const detail = body && body.detail ? body.detail : response.statusText;
      const error = new Error(`${response.status}: ${detail}`);
      error.status = response.status;
      throw error;
    }
    return body;
  }

  /** fetch() returning parsed JSON, throwing Error("status: detail") on 4xx/5xx. */
  async function api(path, options = {}) {
    const init = { ...options, headers: { ...authHeaders(), ...(options.headers || {}) } };
    if (options.json !== undefined) {
      init.body = JSON.stringify(options.json);
      init.headers["Content-Type"] = "application/json";
      init.method = init.method || "POST";
    }
    return parse(await fetch(path, init));
  }

  /** POST a FormData with upload progress (0..1) reported to onProgress; resolves to JSON. */
  function upload(path, formData, onProgress) {
    return new Promise((resolve, reject) => {
      const xhr = new XMLHttpRequest();
      xhr.open("POST", path);
      for (const [k, v] of Object.entries(authHeaders())) xhr.setRequestHeader(k, v);
      xhr.upload.onprogress = (e) => { if (e.lengthComputable && onProgress) onProgress(e.loaded / e.total); };
      xhr.onerror = () => reject(new Error("network error"));
      xhr.onload = () => {
        let body = null;
        try { body = JSON.parse(xhr.responseText); } catch (_) { body = { detail: xhr.responseText }; }
        if (xhr.status >= 200 && xhr.status < 300) resolve(body);
        else reject(new Error(`${xhr.status}: ${(body && body.detail) || xhr.statusText}`));
      };
      xhr.send(formData);
    });
  }

  /** Poll tasks/{id} until it finishes; onUpdate(task) after every read. */
  async function pollTask(taskId, onUpdate, intervalMs = 500) {
    for (;;) {
      const task = await api(`tasks/${encodeURIComponent(taskId)}`);
      onUpdate(task);
      if (task.state === "succeeded" || task.state === "failed" || task.state === "cancelled") return task;
      await new Promise((r) => setTimeout(r, intervalMs));
    }
  }

  /** Render a task into a <progress> and a status line. */
  function showTask(task, progressEl, statusEl, errorsEl) {
    const total = task.total || 0;
    const finished = task.done + task.failed;
    progressEl.max = Math.max(total, 1);
    // `partial`: progress inside the batch being processed (a long video 40 % analysed adds 0.4)
    progressEl.value = task.state === "succeeded" ? progressEl.max : Math.min(progressEl.max, finished + (task.partial || 0));
    progressEl.setAttribute("aria-valuetext", `${finished} of ${total}`);
    const parts = [`${task.state}: ${task.done} loaded`, `${task.failed} failed`, `of ${total}`];
    statusEl.textContent = parts.join(", ") + (task.message ? ` (${task.message})` : "");
    statusEl.className = "status " + (task.state === "failed" ? "error" : task.state === "succeeded" ? "ok" : "");
    if (errorsEl) {
      errorsEl.replaceChildren(...task.errors.map((e) => {
        const li = document.createElement("li");
        li.textContent = `${e.item}: ${e.error}`;
        return li;
      }));
    }
  }

  /** Make `zone` accept dropped files and clicks/Enter (opening `input`); calls onFiles(FileList). */
  function dropzone(zone, input, onFiles) {
    zone.tabIndex = 0;
    zone.setAttribute("role", "button");
    zone.addEventListener("click", () => input.click());
    zone.addEventListener("keydown", (e) => { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); input.click(); } });
    zone.addEventListener("dragover", (e) => { e.preventDefault(); zone.classList.add("over"); });
    zone.addEventListener("dragleave", () => zone.classList.remove("over"));
    zone.addEventListener("drop", (e) => {
      e.preventDefault();
      zone.classList.remove("over");
      if (e.dataTransfer.files.length) onFiles(e.dataTransfer.files);
    });
    input.addEventListener("change", () => { if (input.files.length) onFiles(input.files); });
  }

  /**
   * Wire a standard "load data" panel: a dropzone + file input for uploads, a server-path form,
   * a progress bar, a status line and an error list. onDone(task) runs when a load finishes.
   */
  function loadPanel({ zone, input, pathForm, pathInput, progress, status, errors, onDone }) {
    async function follow(taskId) {
      const task = await pollTask(taskId, (t) => showTask(t, progress, status, errors));
      if (onDone) onDone(task);
    }
    dropzone(zone, input, async (files) => {
      const form = new FormData();
      for (const f of files) form.append("files", f, f.name);
      status.className = "status";
      status.textContent = `uploading ${files.length} file(s)…`;
      try {
        const { task_id } = await upload("upload", form, (p) => { progress.max = 1; progress.value = p; });
        await follow(task_id);
      } catch (err) {
        status.className = "status error";
        status.textContent = err.message;
      } finally {
        input.value = "";
      }
    });
    if (pathForm) {
      pathForm.addEventListener("submit", async (e) => {
        e.preventDefault();
        try {
          const { task_id } = await api("load", { json: { path: pathInput.value } });
          await follow(task_id);
        } catch (err) {
          status.className = "status error";
          status.textContent = err.message;
        }
      });
    }
  }

  /** Keep an element showing GET count up to date. */
  async function refreshCount(el) {
    try {
      const { count } = await api("count");
      el.textContent = String(count);
    } catch (err) {
      el.textContent = "?";
    }
  }

  return { api, upload, pollTask, showTask, dropzone, loadPanel, refreshCount, authHeaders };
})();
