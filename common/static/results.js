// Search results with "load more" (the API's offset), honest empty states and readable errors; the query
// image picker (drop, choose or paste; never a broken preview); and the batch searches (query files, or typed
// queries one a line), which show their answers alike.
"use strict";

(() => {
  const { el, say, plural, apiOr, upload, count } = Bootcamp;
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
   * preview of the query. A file the browser cannot show (TIFF, HEIC...) gets its name in the preview's place
   * (never a broken icon): it is searched all the same.
   */
  function QueryImage(container, { onFile, prompt = "Drop an image here, or", id = "query" }) {
    const input = el("input", { type: "file", accept: "image/*", hidden: true, id: `${id}-input` });
    const choose = el("button", { type: "button", class: "secondary choose", text: "Choose an image", onclick: () => input.click() });
    const preview = el("img", { class: "query-preview", alt: "the query image", hidden: true });
    const zone = el("div", { class: "dropzone query-zone", id: `${id}-zone` },
      el("p", { class: "drop-line" }, el("span", { class: "drop-only", text: `${prompt} ` }), choose),
      el("p", { class: "hint drop-only", text: "or paste one (Ctrl+V)" }));
    const unseen = el("p", { class: "no-preview", hidden: true });
    container.append(el("div", { class: "query-pick" }, zone, preview, unseen), input);
    let url = null;

    async function take(file) {
      if (url) URL.revokeObjectURL(url);
      url = URL.createObjectURL(file);
      preview.hidden = true;
      unseen.hidden = true;
      const probe = new Image();
      probe.src = url;
      try {
        await probe.decode();
        preview.src = url;
        preview.alt = `the query: ${file.name || "pasted image"}`;
        preview.hidden = false;
      } catch (_) {
        preview.removeAttribute("src");
        unseen.textContent = `${file.name || "pasted image"}: your browser cannot show it, the server reads it`;
        unseen.hidden = false;
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
    return { take, input, preview, hide: () => { preview.hidden = true; unseen.hidden = true; } };
  }

  /**
   * Where a batch answer shows, for both batch searches below: a status line, a link to download the whole answer
   * (JSON) and one group a query, with its results, its own error or "No match". A query that stopped at the
   * service's time limit (``complete: false``) says so above the matches it found.
   */
  function batchOutput({ renderHit, layout = "grid", mono = false, filename = "batch-results.json", shown = Infinity }) {
    const status = el("p", { id: "batch-status", class: "status", attrs: { role: "status", "aria-live": "polite" } });
    const download = el("a", { id: "batch-download", class: "button secondary", text: "Download the results (JSON)",
      hidden: true, download: filename });
    const groups = el("ol", { id: "batch-groups", class: "batch-groups" });
    let blobUrl = null;

    function group(entry, title) {
      const partial = !entry.error && entry.complete === false;
      let body;
      if (entry.error) body = el("p", { class: "status error", text: Bootcamp.capitalize(entry.error) });
      else if (entry.results.length) {
        body = el("ul", { class: `${layout} compact`, attrs: { "aria-label": `results for ${title}` } },
          ...entry.results.map(renderHit));
      } else body = el("p", { class: "hint", text: partial ? "No match before the time limit." : "No match." });
      return el("li", { class: "batch-group" }, el("h3", { class: mono ? "batch-query mono" : "batch-query", text: title }),
        partial ? el("p", { class: "status warn", text: "Stopped at the time limit: the matches found so far." }) : null,
        body);
    }

    return {
      status, download, groups,
      /** Clear the last answer and say what is being searched. */
      start(text) {
        groups.replaceChildren();
        download.hidden = true;
        say(status, text, "busy");
      },
      fail(message) { say(status, message, "error"); },
      /**
       * Show ``answer``: ``counted`` names its queries ("3 queries"), ``titles[i]`` heads query i's group, ``left``
       * queries were left out beyond ``max``; ``saved`` is what the download holds (the answer by default).
       */
      show(answer, { counted, titles, left = 0, max = 0, saved = answer }) {
        const failed = answer.results.filter((r) => r.error).length;
        const cut = answer.results.filter((r) => !r.error && r.complete === false).length;
        const tooMany = answer.results.length > shown;
        say(status, `${counted} in ${Math.round(answer.took_ms)} ms`
          + (failed ? `, ${failed} could not be searched` : "") + (cut ? `, ${cut} stopped at the time limit` : "")
          + (left > 0 ? ` (${left} beyond ${max} left out)` : "")
          + (tooMany ? `; the first ${shown} are shown, the download has all` : ""), failed || cut ? "" : "ok");
        groups.replaceChildren(...answer.results.slice(0, shown).map((entry, i) => group(entry, titles[i])));
        if (blobUrl) URL.revokeObjectURL(blobUrl);
        blobUrl = URL.createObjectURL(new Blob([JSON.stringify(saved, null, 2)], { type: "application/json" }));
        download.href = blobUrl;
        download.hidden = false;
      },
    };
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
    const out = batchOutput({ renderHit });
    container.append(el("div", { class: "row" }, choose, out.download), input, out.status, out.groups);

    input.addEventListener("change", async () => {
      const files = [...input.files].slice(0, max);
      const dropped = input.files.length - files.length;
      input.value = "";
      if (!files.length) return;
      const form = new FormData();
      for (const f of files) form.append("files", f, f.name);
      for (const [k, v] of Object.entries(fields())) if (v !== null && v !== undefined && v !== "") form.append(k, v);
      out.start(`Searching with ${plural(files.length, noun)}…`);
      try {
        const answer = await upload(endpoint, form).promise;
        out.show(answer, { counted: plural(answer.results.length, "query", "queries"),
          titles: answer.results.map((entry) => entry.query), left: dropped, max });
      } catch (err) {
        out.fail(err.message);
      }
    });
    return { input };
  }

  /** One query a line, blank lines skipped: the default reading of a TextBatch's text. */
  const queryLines = (text) => text.split(/\r?\n/).map((line) => line.trim()).filter(Boolean).map((query) => ({ query }));

  /**
   * Bootcamp.TextBatch(form, {textarea, choose, file, body(queries) -> JSON, renderHit, noun, nouns, max, ...})
   * Many typed queries in one POST search/batch: one a line in ``textarea``, or read from a text file (``choose``
   * opens the hidden ``file`` input). ``parse(text)`` reads the text into ``[{query, name?}]`` (one a line by
   * default; a name heads its group and is kept in the download), ``check()`` a problem with the rest of the page's
   * fields, ``describe(answer)`` what follows the count ("3 queries (substructure) in 40 ms"). The status, the
   * download and the groups go after the form.
   */
  function TextBatch(form, { textarea, choose, file, body, renderHit, noun = "query", nouns = `${noun}s`, max,
    parse = queryLines, check = () => "", describe = () => "", empty = `Write one ${noun} a line first.`,
    maxFileBytes = 1024 * 1024, endpoint = "search/batch", shown = 100, layout = "grid", mono = false,
    filename = "batch-results.json" }) {
    const out = batchOutput({ renderHit, layout, mono, filename, shown });
    form.after(el("div", { class: "row" }, out.download), out.status, out.groups);

    choose.addEventListener("click", () => file.click());
    file.addEventListener("change", async () => {
      const chosen = file.files[0];
      file.value = "";
      if (!chosen) return;
      if (chosen.size > maxFileBytes) {
        out.fail(`${chosen.name} is larger than ${Bootcamp.bytes(maxFileBytes)}, the most a list of ${nouns} may be.`);
        return;
      }
      textarea.value = await chosen.text();
      form.requestSubmit();
    });

    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      const all = parse(textarea.value);
      if (!all.length) {
        out.fail(empty);
        textarea.focus();
        return;
      }
      const problem = check();
      if (problem) {
        out.fail(problem);
        return;
      }
      const queries = all.slice(0, max);
      out.start(`Searching with ${plural(queries.length, noun, nouns)}…`);
      const answer = await apiOr(out.fail, endpoint, { json: body(queries.map((q) => q.query)) });
      if (!answer) return;
      out.show(answer, {
        counted: `${plural(answer.results.length, noun, nouns)}${describe(answer)}`,
        titles: answer.results.map((entry, i) => (queries[i].name ? `${queries[i].name} — ${entry.query}`
          : entry.query || "(empty line)")),
        left: all.length - queries.length, max,
        saved: { ...answer, results: answer.results.map((r, i) => ({ name: queries[i].name, ...r })) },
      });
    });
  }

  Object.assign(Bootcamp, { Results, QueryImage, BatchSearch, TextBatch, NOTHING_LOADED });
})();
