// The "Load" panel every page has: sample data, drag and drop or "choose files", a server path checked
// against the allowed roots, a progress bar that moves inside a batch, "N new, M already stored, K failed",
// warnings and errors, cancel, and the recent loads (GET tasks), which survive a reload: a running load is
// picked up again. Builds its own markup inside the <section> it is given.
"use strict";

(() => {
  const { el, api, upload, say, plural, bytes, when, info, refreshCount, heading } = Bootcamp;
  const LIVE = new Set(["queued", "running"]);
  const POLL_MS = 500;
  const SHOWN_PROBLEMS = 50;

  /** "91 new, 0 already stored, 0 failed" (+ warnings). */
  function tally(task) {
    let text = `${task.new} new, ${task.duplicates} already stored, ${task.failed} failed`;
    if (task.warnings) text += `, ${plural(task.warnings, "warning")}`;
    return text;
  }

  function progressOf(task) {
    const max = Math.max(task.total || 0, 1);
    const finished = task.done + task.failed;
    const value = task.state === "succeeded" ? max : Math.min(max, finished + (task.partial || 0));
    return { max, value, finished };
  }

  function describe(task) {
    const { max, value, finished } = progressOf(task);
    switch (task.state) {
      case "queued": return "Waiting for the load before it to finish…";
      case "running": {
        const pct = Math.floor((100 * value) / max);
        return `Loading: ${pct} % (${finished} of ${task.total}) — ${tally(task)}`;
      }
      case "succeeded": return `Done: ${tally(task)}.`;
      case "cancelled": return `Cancelled: ${tally(task)}; the rest was not loaded.`;
      default: return `Failed${task.message ? `: ${task.message}` : ""} — ${tally(task)}.`;
    }
  }

  const STATE_WORDS = { queued: "waiting", running: "running", succeeded: "done", cancelled: "cancelled", failed: "failed" };

  /**
   * Bootcamp.LoadPanel(section, {noun, nouns, heading, accept, formats, sample, next, onLoaded}) fills the page's empty
   * <section> (id "load"), under its heading ("Load <nouns>" unless given). accept: the file input's accept attribute; formats: a sentence on what is read; sample: what the
   * sample data is; next: {href, text} of the step after a first load; onLoaded(task) after every load.
   */
  function LoadPanel(section, { noun = "item", nouns = `${noun}s`, heading: headingText = `Load ${nouns}`, accept = "",
    formats = "", sample = "", next = null, onLoaded = () => {} } = {}) {
    const ids = (name) => `${section.id || "load"}-${name}`;
    const input = el("input", { type: "file", multiple: true, accept, hidden: true, id: ids("files") });
    const choose = el("button", { type: "button", class: "secondary choose", text: "Choose files",
      onclick: () => input.click() });
    const zone = el("div", { class: "dropzone" },
      el("p", { class: "drop-line" }, el("span", { class: "drop-only", text: `Drop ${nouns} or a .zip here, or ` }), choose),
      formats ? el("p", { class: "hint", text: formats }) : null);
    const sampleButton = el("button", { type: "button", class: "primary sample", text: "Load sample data",
      onclick: () => start("Preparing the sample data…", () => api("samples", { method: "POST" })) });
    const pathInput = el("input", { type: "text", id: ids("path"), autocomplete: "off", spellcheck: false,
      attrs: { "aria-describedby": ids("roots") } });
    const pathForm = el("form", { class: "path-form", onsubmit: (e) => { e.preventDefault(); loadPath(); } },
      el("label", { htmlFor: ids("path"), text: "Or a file, folder or .zip on the server" }),
      el("div", { class: "row nowrap" }, pathInput, el("button", { type: "submit", class: "secondary", text: "Load" })),
      el("p", { class: "hint", id: ids("roots"), text: "Checking which folders the server may read…" }));
    const title = el("p", { class: "task-title" });
    const cancel = el("button", { type: "button", class: "secondary cancel", text: "Cancel", hidden: true });
    const progress = el("progress", { max: 1, value: 0, attrs: { "aria-label": "load progress" } });
    const status = el("p", { class: "status", attrs: { role: "status", "aria-live": "polite" } });
    const problems = el("ul", { class: "problems" });
    const nextLink = next ? el("a", { class: "next-step", href: next.href, text: next.text, hidden: true }) : null;
    const taskBox = el("div", { class: "task", hidden: true }, el("div", { class: "task-head" }, title, cancel),
      progress, status, problems, nextLink);
    const recentList = el("ol", { class: "recent-list" });
    const recent = el("div", { class: "recent", hidden: true }, el("h3", { text: "Recent loads" }), recentList);

    heading(section, headingText).classList.add("load-panel");
    section.append(
      el("div", { class: "welcome" }, el("p", { text: "Nothing loaded yet — load the sample data or your own files." })),
      el("div", { class: "row sample-row" }, sampleButton, sample ? el("span", { class: "hint", text: sample }) : null),
      zone, input, pathForm, taskBox, recent);

    let token = 0; // the load this panel follows; an older follow loop stops when it changes

    // drag and drop on the whole zone; the button (and Enter/Space on it) opens the file chooser
    zone.addEventListener("dragover", (e) => { e.preventDefault(); zone.classList.add("over"); });
    zone.addEventListener("dragleave", () => zone.classList.remove("over"));
    zone.addEventListener("drop", (e) => {
      e.preventDefault();
      zone.classList.remove("over");
      if (e.dataTransfer.files.length) uploadFiles([...e.dataTransfer.files]);
    });
    input.addEventListener("change", () => {
      const files = [...input.files];
      input.value = "";
      if (files.length) uploadFiles(files);
    });

    info().then((details) => {
      const roots = details.data_roots;
      pathInput.placeholder = roots[0] || "";
      const rootsHint = pathForm.querySelector(".hint");
      rootsHint.textContent = roots.length
        ? `Allowed: paths inside ${roots.join(" or ")} (setting DATA_ROOTS); a relative path is also looked up in them. Uploads up to ${details.max_upload_mb} MB.`
        : "This server reads no server paths (DATA_ROOTS is empty); upload files instead.";
    }).catch(() => {});

    function begin(text) {
      const mine = ++token;
      taskBox.hidden = false;
      problems.replaceChildren();
      if (nextLink) nextLink.hidden = true;
      title.textContent = text;
      progress.max = 1;
      progress.value = 0;
      progress.removeAttribute("aria-valuetext");
      say(status, text, "busy");
      cancel.hidden = true;
      cancel.onclick = null;
      return mine;
    }

    function fail(mine, err) {
      if (mine !== token) return;
      cancel.hidden = true;
      say(status, err.name === "AbortError" ? "Upload cancelled: nothing was loaded." : err.message, "error");
    }

    /** Bring the progress into view when it is not (a phone: below the fold), centred, so the status lines it
     * grows while the load runs stay on screen; a box already in view is left where it is. */
    function reveal() {
      const box = taskBox.getBoundingClientRect();
      if (box.top >= 0 && box.bottom + 120 <= window.innerHeight) return;
      const still = matchMedia("(prefers-reduced-motion: reduce)").matches;
      taskBox.scrollIntoView({ block: "center", behavior: still ? "auto" : "smooth" });
    }

    /** Run `call` (which answers {task_id}) and follow the task it started. */
    async function start(text, call) {
      const mine = begin(text);
      reveal();
      try {
        const { task_id } = await call();
        await follow(task_id, mine);
      } catch (err) {
        fail(mine, err);
      }
    }

    function loadPath() {
      const path = pathInput.value.trim();
      if (!path) {
        begin("");
        say(status, `Type a file or folder on the server first${pathInput.placeholder ? `, for example ${pathInput.placeholder}/…` : ""}.`, "error");
        pathInput.focus();
        return;
      }
      start(`Loading ${path}`, () => api("load", { json: { path } }));
    }

    async function uploadFiles(files) {
      const size = files.reduce((sum, f) => sum + f.size, 0);
      const what = `${plural(files.length, "file")} (${bytes(size)})`;
      const mine = begin(`Uploading ${what}`);
      reveal();
      const form = new FormData();
      for (const f of files) form.append("files", f, f.name);
      const sending = upload("upload", form, (p) => {
        if (mine !== token) return;
        progress.max = 1;
        progress.value = p;
        say(status, `Uploading ${what}: ${Math.floor(p * 100)} %`, "busy");
      });
      cancel.hidden = false;
      cancel.onclick = () => sending.abort();
      try {
        const { task_id } = await sending.promise;
        await follow(task_id, mine);
      } catch (err) {
        fail(mine, err);
      }
    }

    function render(task) {
      const { max, value, finished } = progressOf(task);
      title.textContent = task.source;
      progress.max = max;
      progress.value = value;
      progress.setAttribute("aria-valuetext", `${finished} of ${task.total}`);
      say(status, describe(task), task.state === "failed" ? "error" : LIVE.has(task.state) ? "busy" : "ok");
      const shown = task.errors.slice(0, SHOWN_PROBLEMS).map((e) => el("li", { class: e.level === "warning" ? "warning" : "error" },
        el("span", { class: "problem-kind", text: e.level === "warning" ? "Warning" : "Failed" }), " ",
        el("span", { class: "problem-item", text: e.item }), `: ${e.error}`));
      const hidden = task.failed + task.warnings - shown.length;
      if (hidden > 0) shown.push(el("li", { class: "more", text: `… and ${hidden} more (GET tasks/${task.task_id})` }));
      problems.replaceChildren(...shown);
      cancel.hidden = !LIVE.has(task.state);
    }

    /** Poll a task until it ends (or until this panel follows another one). */
    async function follow(taskId, mine = begin("Loading")) {
      cancel.hidden = false;
      cancel.onclick = async () => {
        cancel.disabled = true;
        try { render(await api(`tasks/${encodeURIComponent(taskId)}/cancel`, { method: "POST" })); } catch (err) { say(status, err.message, "error"); } finally { cancel.disabled = false; }
      };
      let task = null;
      for (;;) {
        if (mine !== token) return;
        try {
          task = await api(`tasks/${encodeURIComponent(taskId)}`);
        } catch (err) {
          if (mine === token) say(status, err.message, "error");
          return;
        }
        if (mine !== token) return;
        render(task);
        if (!LIVE.has(task.state)) break;
        await new Promise((r) => setTimeout(r, POLL_MS));
      }
      if (nextLink && task.new > 0) nextLink.hidden = false;
      await refreshCount();
      refreshRecent();
      onLoaded(task);
    }

    async function refreshRecent() {
      let tasks;
      try {
        ({ tasks } = await api("tasks?limit=5"));
      } catch (_) {
        return [];
      }
      recent.hidden = tasks.length === 0;
      recentList.replaceChildren(...tasks.map((t) => el("li", { class: `recent-item state-${t.state}` },
        el("span", { class: `badge state-${t.state}`, text: STATE_WORDS[t.state] || t.state }), " ",
        el("span", { class: "recent-source", text: t.source, title: t.source }),
        el("span", { class: "recent-counts hint", text: ` ${tally(t)} · ${when(t.created_at)}` }))));
      return tasks;
    }

    // a load that was running when the page was (re)opened: follow it again
    refreshRecent().then((tasks) => {
      const live = tasks.find((t) => LIVE.has(t.state));
      if (live && token === 0) follow(live.task_id, begin(live.source));
    });

    return { refreshRecent, follow: (id) => follow(id, begin("Loading")), uploadFiles };
  }

  Bootcamp.LoadPanel = LoadPanel;
})();
