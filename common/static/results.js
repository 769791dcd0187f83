// Search results with "load more" (the API's offset), honest empty states and readable errors; the query
// image picker (drop, choose or paste; never a broken preview); and the batch query upload.
"use strict";

(() => {
  const { el, say, plural, upload, count } = Bootcamp;
  const NOTHING_LOADED = "Nothing loaded yet — load the sample data or your own files.";

  /**
   * Bootcamp.Results(container, {render(hit) -> <li>, label, loadHref})
   * run(fetchPage, {pageSize, noMatch}): fetchPage(offset, limit) resolves to {items, took_ms, total?}.
   */
  function Results(container, { render, label = "results", loadHref = "#load" }) {
    const status = el("p", { class: "status", attrs: { role: "status", "aria-live": "polite" } });
    const list = el("ul", { class: "grid results", attrs: { "aria-label": label } });
    const more = el("button", { type: "button", class: "secondary load-more", text: "Load more", hidden: true });
    const empty = el("div", { class: "empty", hidden: true });
    container.append(status, empty, list, el("p", { class: "more-row" }, more));

    let seq = 0;
    let query = null; // {fetchPage, pageSize, noMatch, offset, shown}

    function showEmpty(text) {
      empty.hidden = false;
      const stored = count();
      empty.replaceChildren(stored === 0
        ? el("p", {}, NOTHING_LOADED, " ", el("a", { href: loadHref, text: "Go to Load" }))
        : el("p", { text }));
    }

    async function page(mine, append) {
      more.disabled = true;
      if (!append) say(status, "Searching…", "busy");
      let answer;
      try {
        answer = await query.fetchPage(query.offset, query.pageSize);
      } catch (err) {
        if (mine !== seq) return;
        more.disabled = false;
        if (!append) { list.replaceChildren(); more.hidden = true; }
        say(status, err.message, "error");
        return;
      }
      if (mine !== seq) return;
      more.disabled = false;
      const items = answer.items;
      const nodes = items.map(render);
      if (append) list.append(...nodes); else list.replaceChildren(...nodes);
      query.offset += items.length;
      query.shown += items.length;
      const total = answer.total;
      const ended = items.length < query.pageSize || (total !== undefined && query.offset >= total);
      more.hidden = ended;
      if (query.shown === 0) {
        say(status, "");
        showEmpty(query.noMatch);
        return;
      }
      empty.hidden = true;
      const of = total !== undefined ? ` of ${total.toLocaleString("en")}` : "";
      const took = answer.took_ms !== undefined ? ` in ${Math.round(answer.took_ms)} ms` : "";
      say(status, `${plural(query.shown, "result")}${of}${took}${ended ? "" : " — more below"}`, "ok");
      if (append && nodes.length) {
        const first = nodes[0].querySelector("button, a, [tabindex]") || nodes[0];
        first.focus({ preventScroll: true });
      }
    }

    more.addEventListener("click", () => { if (query) page(seq, true); });

    /** Start a new search (the previous one's late answers are dropped). */
    function run(fetchPage, { pageSize = 12, noMatch = "No match." } = {}) {
      seq += 1;
      query = { fetchPage, pageSize, noMatch, offset: 0, shown: 0 };
      empty.hidden = true;
      more.hidden = true;
      return page(seq, false);
    }

    function clear() {
      seq += 1;
      query = null;
      list.replaceChildren();
      empty.hidden = true;
      more.hidden = true;
      say(status, "");
    }

    function error(message) {
      clear();
      say(status, message, "error");
    }

    return { run, clear, error, list, status };
  }

  /**
   * Bootcamp.QueryImage(container, {onFile(file), prompt}): a drop area with a "choose an image" button and a
   * preview of the query. A file the browser cannot show as an image gets no preview (never a broken icon).
   */
  function QueryImage(container, { onFile, prompt = "Drop an image here, or", id = "query" }) {
    const input = el("input", { type: "file", accept: "image/*", hidden: true, id: `${id}-input` });
    const choose = el("button", { type: "button", class: "secondary choose", text: "Choose an image", onclick: () => input.click() });
    const preview = el("img", { class: "query-preview", alt: "the query image", hidden: true });
    const zone = el("div", { class: "dropzone query-zone", id: `${id}-zone` },
      el("p", { class: "drop-line" }, el("span", { class: "drop-only", text: `${prompt} ` }), choose),
      el("p", { class: "hint drop-only", text: "or paste one (Ctrl+V)" }));
    container.append(el("div", { class: "query-pick" }, zone, preview), input);
    let url = null;

    async function take(file) {
      if (url) URL.revokeObjectURL(url);
      url = URL.createObjectURL(file);
      preview.hidden = true;
      const probe = new Image();
      probe.src = url;
      try {
        await probe.decode();
        preview.src = url;
        preview.alt = `the query: ${file.name || "pasted image"}`;
        preview.hidden = false;
      } catch (_) {
        preview.removeAttribute("src");
      }
      onFile(file);
    }

    zone.addEventListener("dragover", (e) => { e.preventDefault(); zone.classList.add("over"); });
    zone.addEventListener("dragleave", () => zone.classList.remove("over"));
    zone.addEventListener("drop", (e) => {
      e.preventDefault();
      zone.classList.remove("over");
      if (e.dataTransfer.files.length) take(e.dataTransfer.files[0]);
    });
    input.addEventListener("change", () => {
      const file = input.files[0];
      input.value = "";
      if (file) take(file);
    });
    document.addEventListener("paste", (e) => {
      if (e.target.closest && e.target.closest("input, textarea")) return;
      const file = [...(e.clipboardData ? e.clipboardData.files : [])].find((f) => f.type.startsWith("image/"));
      if (file) take(file);
    });
    return { take, input, preview, hide: () => { preview.hidden = true; } };
  }

  /**
   * Bootcamp.BatchSearch(container, {endpoint, fields() -> {name: value}, renderHit(hit) -> <li>, max})
   * Many query files in one POST; each query gets its own group of results, or its own error.
   */
  function BatchSearch(container, { endpoint = "search/batch", fields = () => ({}), renderHit, max = 32,
    accept = "image/*", noun = "image" }) {
    const input = el("input", { type: "file", accept, multiple: true, hidden: true, id: "batch-input" });
    const choose = el("button", { type: "button", class: "secondary", text: `Choose up to ${max} query ${noun}s`,
      onclick: () => input.click() });
    const status = el("p", { class: "status", attrs: { role: "status", "aria-live": "polite" } });
    const download = el("a", { class: "button secondary", text: "Download the results (JSON)", hidden: true,
      download: "batch-results.json" });
    const groups = el("ol", { class: "batch-groups" });
    container.append(el("div", { class: "row" }, choose, download), input, status, groups);
    let blobUrl = null;

    input.addEventListener("change", async () => {
      const files = [...input.files].slice(0, max);
      const dropped = input.files.length - files.length;
      input.value = "";
      if (!files.length) return;
      const form = new FormData();
      for (const f of files) form.append("files", f, f.name);
      for (const [k, v] of Object.entries(fields())) if (v !== null && v !== undefined && v !== "") form.append(k, v);
      say(status, `Searching with ${plural(files.length, noun)}…`, "busy");
      groups.replaceChildren();
      download.hidden = true;
      try {
        const answer = await upload(endpoint, form).promise;
        const failed = answer.results.filter((r) => r.error).length;
        say(status, `${plural(answer.results.length, "query", "queries")} in ${Math.round(answer.took_ms)} ms`
          + (failed ? `, ${failed} could not be searched` : "") + (dropped ? ` (${dropped} beyond ${max} left out)` : ""),
          failed ? "" : "ok");
        groups.replaceChildren(...answer.results.map((entry) => el("li", { class: "batch-group" },
          el("h3", { class: "batch-query", text: entry.query }),
          entry.error ? el("p", { class: "status error", text: Bootcamp.capitalize(entry.error) })
            : entry.results.length ? el("ul", { class: "grid compact", attrs: { "aria-label": `results for ${entry.query}` } }, ...entry.results.map(renderHit))
              : el("p", { class: "hint", text: "No match." }))));
        if (blobUrl) URL.revokeObjectURL(blobUrl);
        blobUrl = URL.createObjectURL(new Blob([JSON.stringify(answer, null, 2)], { type: "application/json" }));
        download.href = blobUrl;
        download.hidden = false;
      } catch (err) {
        say(status, err.message, "error");
      }
    });
    return { input };
  }

  Object.assign(Bootcamp, { Results, QueryImage, BatchSearch, NOTHING_LOADED });
})();
