// Many SMILES in one POST search/batch (JSON): typed one a line or read from a .smi/.txt/.csv file; each query
// gets its own group of results, or its own error; the whole answer can be downloaded as JSON.
"use strict";

window.Molecule = window.Molecule || {};

(() => {
  const { el, api, say, plural } = Bootcamp;
  const SHOWN_GROUPS = 100; // drawn on the page; the download has them all
  const MAX_FILE_BYTES = 2 * 1024 * 1024;

  /** "SMILES [name]" lines (comma, tab or space separated); comments, blanks and a "smiles" header skipped. */
  function parseQueries(text) {
    const out = [];
    for (const line of text.split(/\r?\n/)) {
      const trimmed = line.trim();
      if (!trimmed || trimmed.startsWith("#")) continue;
      const [smiles, ...rest] = trimmed.split(/[\s,;]+/);
      if (/^(canonical_|isomeric_)?smiles$/i.test(smiles)) continue;
      out.push({ smiles, name: rest.join(" ").replace(/^"|"$/g, "") });
    }
    return out;
  }

  /**
   * Molecule.Batch({form, textarea, choose, file, top, status, groups, download, params() -> {...}, renderHit,
   * max, check}): params() gives the mode, filters and limits of the search form; check() a problem with them.
   */
  function Batch({ form, textarea, choose, file, top, status, groups, download, params, renderHit, max = 1000,
    check = () => "" }) {
    let blobUrl = null;

    choose.addEventListener("click", () => file.click());
    file.addEventListener("change", async () => {
      const chosen = file.files[0];
      file.value = "";
      if (!chosen) return;
      if (chosen.size > MAX_FILE_BYTES) {
        say(status, `${chosen.name} is larger than ${MAX_FILE_BYTES / 1024 / 1024} MB; load it into the library instead (Load below).`, "error");
        return;
      }
      textarea.value = await chosen.text();
      form.requestSubmit();
    });

    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      const all = parseQueries(textarea.value);
      if (!all.length) {
        say(status, "Type at least one SMILES, one a line.", "error");
        textarea.focus();
        return;
      }
      const problem = check();
      if (problem) {
        say(status, problem, "error");
        return;
      }
      const queries = all.slice(0, max);
      const left = all.length - queries.length;
      groups.replaceChildren();
      download.hidden = true;
      say(status, `Searching with ${plural(queries.length, "query", "queries")}…`, "busy");
      let answer;
      try {
        answer = await api("search/batch", { json: { ...params(), queries: queries.map((q) => q.smiles), top_k: Number(top.value) } });
      } catch (err) {
        say(status, err.message, "error");
        return;
      }
      const failed = answer.results.filter((r) => r.error).length;
      const cut = answer.results.filter((r) => !r.error && !r.complete).length;
      say(status, `${plural(answer.results.length, "query", "queries")} (${answer.mode}) in ${Math.round(answer.took_ms)} ms`
        + (failed ? `, ${failed} could not be searched` : "") + (cut ? `, ${cut} stopped at the time limit` : "")
        + (left > 0 ? ` — ${left} beyond ${max} left out` : "")
        + (answer.results.length > SHOWN_GROUPS ? `; the first ${SHOWN_GROUPS} are shown, the download has all` : ""),
      failed || cut ? "" : "ok");
      groups.replaceChildren(...answer.results.slice(0, SHOWN_GROUPS).map((entry, i) => group(entry, queries[i])));
      if (blobUrl) URL.revokeObjectURL(blobUrl);
      const named = { ...answer, results: answer.results.map((r, i) => ({ name: queries[i].name, ...r })) };
      blobUrl = URL.createObjectURL(new Blob([JSON.stringify(named, null, 2)], { type: "application/json" }));
      download.href = blobUrl;
      download.hidden = false;
    });

    function group(entry, query) {
      const title = query.name ? `${query.name} — ${entry.query}` : entry.query;
      let body;
      if (entry.error) body = el("p", { class: "status error", text: Bootcamp.capitalize(entry.error) });
      else if (entry.results.length) {
        body = el("ul", { class: "grid compact", attrs: { "aria-label": `results for ${title}` } }, ...entry.results.map(renderHit));
      } else body = el("p", { class: "hint", text: entry.complete ? "No match." : "No match before the time limit." });
      return el("li", { class: "batch-group" }, el("h3", { class: "batch-query mono", text: title }),
        !entry.error && !entry.complete ? el("p", { class: "status warn", text: "Stopped at the time limit: the matches found so far." }) : null,
        body);
    }

    return { parseQueries };
  }

  Object.assign(window.Molecule, { Batch, parseQueries });
})();
