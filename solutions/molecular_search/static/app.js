// The /molecule/ page: a SMILES query in one of four modes with property filters, load more, the details of a
// molecule (large drawing with the match highlighted, every property, the SMILES to copy), many queries at
// once, the library and loading. Shared parts come from common/static; filters.js is this page's.
"use strict";

(() => {
  const B = Bootcamp;
  const M = Molecule;
  const { el, api, say } = B;
  const $ = (id) => document.getElementById(id);

  const MODES = {
    similarity: { hint: "Ranked by Tanimoto similarity of Morgan fingerprints (radius 2, 2048 bits), most similar first.",
      noMatch: "No stored molecule is similar enough." },
    substructure: { hint: "Molecules that contain the query (a SMILES or a SMARTS pattern), smallest first; the match is highlighted.",
      noMatch: "No stored molecule contains this substructure." },
    superstructure: { hint: "Molecules contained in the query (its fragments), largest first.",
      noMatch: "No stored molecule is a part of this one." },
    exact: { hint: "The same molecule: equal canonical isomeric SMILES (stereochemistry counts).",
      noMatch: "This molecule is not stored." },
  };
  const EXAMPLES = [
    ["aspirin", "CC(=O)Oc1ccccc1C(=O)O", "similarity"],
    ["caffeine", "Cn1cnc2c1c(=O)n(C)c(=O)n2C", "similarity"],
    // SMARTS: a SMILES query ignores hydrogen counts, so c1ccccc1C(=O)[OH] finds benzoate esters too
    ["benzoic acid, inside", "c1ccccc1C(=O)[O;H1]", "substructure"],
    ["aromatic NH₂ (SMARTS)", "[NX3;H2]c", "substructure"],
    // any carbon, any bond: estrogens have an aromatic A ring
    ["steroid core", "[#6]1~[#6]~[#6]~[#6]2~[#6](~[#6]1)~[#6]~[#6]~[#6]1~[#6]2~[#6]~[#6]~[#6]2~[#6]~[#6]~[#6]~[#6]~1~2",
      "substructure"],
    ["parts of ibuprofen", "CC(C)Cc1ccc(cc1)C(C)C(=O)O", "superstructure"],
    ["nicotine, exactly", "CN1CCC[C@H]1c1cccnc1", "exact"],
  ];

  /** A query line split at its first space, tab, comma or semicolon outside [...]: a SMARTS lists alternatives
   *  there ("[Cl,Br]c", "[NX3;H2]c"). */
  function splitQuery(line) {
    let depth = 0;
    for (let i = 0; i < line.length; i += 1) {
      const c = line[i];
      if (c === "[") depth += 1;
      else if (c === "]") depth = Math.max(0, depth - 1);
      else if (depth === 0 && /[\s,;]/.test(c)) return [line.slice(0, i), line.slice(i + 1)];
    }
    return [line, ""];
  }

  /** Whether a word can be SMILES: outside brackets only the organic-subset elements, digits, bonds and branches
   *  ("ZINC03814457" and "CHEMBL25" cannot: no Z, H or M outside brackets). The server's parser decides the rest. */
  function maySmiles(word) {
    return /^(Cl|Br|[BCNOPSFIbcnops0-9%()=#$@+\-\\/.:~*]|\[[^\]]*\])+$/.test(word);
  }

  // the columns a table's SMILES and names are read from: the server's lists (GET columns, records.py)
  let SMILES_COLUMNS = ["smiles"];
  let NAME_COLUMNS = ["name"];
  B.api("columns").then((c) => { SMILES_COLUMNS = c.smiles; NAME_COLUMNS = c.name; }).catch(() => {});

  /** The cells of one line of a delimited table: double quotes may hold the separator, "" is a quote. */
  function cells(line, sep) {
    const out = [];
    let cell = "";
    let quoted = false;
    for (let i = 0; i < line.length; i += 1) {
      const c = line[i];
      if (quoted && c === '"' && line[i + 1] === '"') { cell += '"'; i += 1; }
      else if (c === '"' && (quoted || !cell.trim())) quoted = !quoted;
      else if (c === sep && !quoted) { out.push(cell.trim()); cell = ""; }
      else cell += c;
    }
    out.push(cell.trim());
    return out;
  }

  /** A header with a SMILES column among others ("Compound ID,SMILES", a ChEMBL export): separator and columns. */
  function tableHeader(line) {
    for (const sep of ["\t", ";", ","]) {
      const columns = cells(line, sep).map((c) => c.toLowerCase());
      if (columns.length > 1 && columns.some((c) => SMILES_COLUMNS.includes(c))) return { sep, columns };
    }
    return null;
  }

  /** Batch queries: a table with a header naming its SMILES column (CSV, TSV, semicolons; the name from the first
   *  name column a row fills), else "SMILES [name]" lines (comma, tab or space separated). Comments, blank lines
   *  and a lone "smiles" header are skipped. */
  function parseQueries(text) {
    const lines = text.replace(/^\ufeff/, "").split(/\r?\n/).map((l) => l.trim()).filter((l) => l && !l.startsWith("#"));
    const header = lines.length ? tableHeader(lines[0]) : null;
    if (header) {
      const at = header.columns.findIndex((c) => SMILES_COLUMNS.includes(c));
      const names = NAME_COLUMNS.map((n) => header.columns.indexOf(n)).filter((i) => i >= 0);
      return lines.slice(1).map((line) => cells(line, header.sep)).filter((row) => row[at])
        .map((row) => ({ query: row[at], name: names.map((i) => row[i] || "").find(Boolean) || "" }));
    }
    const out = [];
    let nameFirst = null; // "ZINC03814457<tab>SMILES" lines (ZINC's and RDKit's files), decided on the first line
    for (const line of lines) {
      let [smiles, rest] = splitQuery(line);
      if (/^(canonical_|isomeric_)?smiles$/i.test(smiles)) continue;
      const [second, after] = splitQuery(rest.trim());
      if (nameFirst === null && second) nameFirst = !maySmiles(smiles) && maySmiles(second);
      if (nameFirst && second) [smiles, rest] = [second, `${smiles} ${after}`];
      out.push({ query: smiles, name: rest.split(/[\s,;]+/).filter(Boolean).join(" ").replace(/^"|"$/g, "") });
    }
    return out;
  }

  const form = $("search-form");
  const smilesInput = $("smiles");
  const note = $("search-note");
  const help = $("search-help");
  const mode = () => form.querySelector("input[name=mode]:checked").value;
  const filters = M.Filters($("filter-grid"), { badge: $("filter-count"), onChange: () => { if (lastSearch) search(); } });
  let lastSearch = null; // the query of the results on screen
  let searchSeq = 0;

  function nameOf(m) {
    return m.name || `molecule ${m.id}`;
  }

  function summaryLine(p) {
    return `MW ${M.show("mw", p.mw).replace(" g/mol", "")} · logP ${M.show("logp", p.logp)}`;
  }

  // -- cards ------------------------------------------------------------------------------------
  function hitCard(hit) {
    const name = nameOf(hit);
    const score = hit.similarity === null || hit.similarity === undefined ? null : `Tanimoto ${B.score(hit.similarity, 3)}`;
    const rank = hit.rank ? `#${hit.rank}` : null;
    const first = [rank, score].filter(Boolean).join(" · ");
    return el("li", {}, B.card({
      media: B.img(hit.svg_url, `structure of ${name}`), title: name, data: { id: hit.id },
      lines: [first, summaryLine(hit.properties)],
      label: `${name}${score ? `, ${score}` : ""}${rank ? `, rank ${hit.rank}` : ""}`,
      onOpen: (button) => openDetails(hit, button),
    }));
  }

  // -- details ----------------------------------------------------------------------------------
  /** A larger drawing of the same molecule (and the same highlight) as a result's svg_url. */
  function largeUrl(svgUrl) {
    return `${svgUrl}${svgUrl.includes("?") ? "&" : "?"}width=640&height=440`;
  }

  /** Fetch a drawing into `box`: says whether the highlight was drawn (a time limit may stop it). */
  async function draw(box, caption, url, alt, highlighted) {
    box.dataset.src = url;
    let response;
    try {
      response = await fetch(url, { headers: B.authHeaders() });
    } catch (_) {
      response = null;
    }
    if (!response || !response.ok) {
      box.replaceChildren(el("span", { class: "img-missing", text: "drawing not available" }));
      return null;
    }
    const blobUrl = URL.createObjectURL(await response.blob());
    box.replaceChildren(el("img", { src: blobUrl, alt, decoding: "async" }));
    const complete = response.headers.get("x-highlight-complete") !== "false";
    if (highlighted) {
      caption.textContent = complete ? "The match of the query is highlighted."
        : "The time limit was reached before the match could be drawn: shown without highlight.";
      caption.className = complete ? "hint" : "status warn";
    }
    return blobUrl;
  }

  async function openDetails(hit) {
    const item = await B.apiOr((message) => say(results.status, message, "error"), `items/${hit.id}`);
    if (!item) return;
    const name = nameOf(item);
    const highlighted = (hit.svg_url || "").includes("highlight=");
    const media = el("div", { class: "details-media mol-large" }, el("span", { class: "hint", text: "Drawing…" }));
    const caption = el("p", { class: "hint" });
    const smilesBox = el("input", { type: "text", id: "details-smiles", readOnly: true, value: item.smiles,
      spellcheck: false, attrs: { "aria-label": "SMILES (canonical)" } });
    const copied = el("span", { class: "status", attrs: { role: "status", "aria-live": "polite" } });
    const copy = el("button", { type: "button", class: "secondary", text: "Copy", attrs: { "aria-label": "Copy the SMILES" },
      onclick: () => copyText(item.smiles, smilesBox, copied) });
    const props = B.details.facts(M.PROPERTIES.map((p) => [p.label, M.show(p.key, item.properties[p.key])]));
    props.classList.add("props");
    const fields = Object.entries(item.fields || {});
    const body = el("div", { class: "details-layout" },
      el("div", {}, media, caption),
      el("div", {},
        el("div", { class: "field smiles-copy" }, el("label", { htmlFor: "details-smiles", text: "SMILES" }),
          el("div", { class: "row nowrap" }, smilesBox, copy), copied),
        hit.similarity !== null && hit.similarity !== undefined
          ? el("p", { class: "similarity" }, "Tanimoto similarity to the query: ", el("strong", { text: B.score(hit.similarity, 3) })) : null,
        el("h3", { text: "Properties (RDKit)" }), props,
        fields.length ? [el("h3", { text: "Fields of the record" }), B.details.facts(fields)] : null,
        el("h3", { text: "Record" }),
        B.details.facts([["Name", item.name || "(none)"], ["Id", el("span", { class: "mono", text: String(item.id) })],
          ["Source", item.source], ["Added", B.when(item.added_at)]])));
    const similar = el("button", { type: "button", text: "Find similar molecules", onclick: () => {
      B.details.close();
      runWith(item.smiles, "similarity");
    } });
    const drawing = el("a", { class: "button secondary", href: largeUrl(item.svg_url), target: "_blank", rel: "noopener",
      text: "Open the drawing (SVG)" });
    const remove = el("button", { type: "button", class: "danger", text: "Delete", onclick: async () => {
      if (!(await B.confirm(`Delete ${name}?`, { detail: "It is removed from the search index and the database." }))) return;
      try {
        await api(`items/${item.id}`, { method: "DELETE" });
      } catch (err) {
        say(copied, err.message, "error");
        return;
      }
      B.details.close();
      forget(item);
      B.refreshCount();
    } });
    let blobUrl = null;
    B.details.open({ title: name, body, actions: [similar, drawing, remove],
      onClose: () => { if (blobUrl) URL.revokeObjectURL(blobUrl); } });
    blobUrl = await draw(media, caption, largeUrl(hit.svg_url || item.svg_url), `structure of ${name}`, highlighted);
  }

  async function copyText(text, input, status) {
    try {
      await navigator.clipboard.writeText(text);
      say(status, "Copied.", "ok");
    } catch (_) {
      input.focus();
      input.select();
      say(status, document.execCommand("copy") ? "Copied." : "Selected: press Ctrl+C (⌘C) to copy.", "ok");
    }
  }

  /** A deleted molecule leaves every list on the page. */
  function forget(item) {
    if (!item) { results.clear(); note.textContent = ""; return; }
    for (const node of document.querySelectorAll(`#results [data-id="${item.id}"], #batch-groups [data-id="${item.id}"]`)) {
      node.closest("li").remove();
    }
  }

  // -- search -----------------------------------------------------------------------------------
  const results = B.Results($("results"), { render: hitCard, label: "search results" });

  function syncMode() {
    const m = mode();
    $("mode-hint").textContent = MODES[m].hint;
    $("min-sim-field").hidden = m !== "similarity";
    $("time-field").hidden = !(m === "substructure" || m === "superstructure");
    $("smarts-note").hidden = m !== "substructure";
  }

  /** The mode, filters and limits of the form, as the API's request fields. */
  function params() {
    const m = mode();
    const out = { mode: m };
    const f = filters.value();
    if (f) out.filters = f;
    const minSim = Number($("min-sim").value);
    if (m === "similarity" && $("min-sim").value.trim() !== "" && minSim > 0) out.min_similarity = minSim;
    const limit = Number($("time-limit").value);
    if ((m === "substructure" || m === "superstructure") && limit > 0) out.timeout_ms = Math.max(1, Math.round(limit * 1000));
    return out;
  }

  function showNote(answer, mine, filterText) {
    if (mine !== searchSeq) return;
    const searched = `${answer.total.toLocaleString("en")} molecules`;
    const within = filterText ? ` (filters: ${filterText})` : "";
    if (answer.mode === "substructure" || answer.mode === "superstructure") {
      const screen = `Read as ${answer.query_kind === "smarts" ? "SMARTS" : "SMILES"}: ${answer.candidates.toLocaleString("en")} of ${searched}`
        + ` passed the fingerprint screen${within}, ${answer.scanned.toLocaleString("en")} checked by RDKit.`;
      if (answer.complete === false) {
        say(note, `Stopped at the time limit: ${answer.scanned.toLocaleString("en")} of ${answer.candidates.toLocaleString("en")} `
          + "candidates were checked, so these are the matches found so far and there may be more. Raise the time "
          + "limit, add filters or make the query more specific.", "warn");
      } else say(note, screen);
    } else {
      say(note, `Searched ${searched}${within}.`);
    }
  }

  async function search() {
    const smiles = smilesInput.value.trim();
    help.hidden = true;
    $("query-view").hidden = true;
    if (!smiles) {
      results.clear();
      say(note, "Type a SMILES first, or pick one of the examples.", "error");
      smilesInput.focus();
      return;
    }
    const mine = ++searchSeq;
    const problem = filters.problem();
    if (problem) {
      results.clear();
      say(note, problem, "error");
      $("filters").open = true;
      return;
    }
    const request = params();
    const filterText = filters.text();
    lastSearch = { smiles, mode: request.mode };
    say(note, "");
    let failed = null, last = null;
    const noMatch = MODES[request.mode].noMatch + (filterText ? ` Filters are on (${filterText}): clear them to search every molecule.` : "");
    await results.run(async (offset, limit) => {
      let answer;
      try {
        answer = await api("search", { json: { ...request, smiles, top_k: limit, offset } });
      } catch (err) {
        failed = err;
        throw err;
      }
      last = answer;
      showNote(answer, mine, filterText);
      return { items: answer.results.map((hit, i) => ({ ...hit, rank: offset + i + 1 })), took_ms: answer.took_ms };
    }, { pageSize: Number($("page-size").value), noMatch });
    if (mine !== searchSeq) return;
    if (failed) {
      lastSearch = null;
      say(note, "");
      suggest(failed);
      return;
    }
    if (last && last.complete === false && !results.list.children.length) {
      const empty = $("results").querySelector(".empty p");
      if (empty && B.count()) empty.textContent = "No match among the candidates checked before the time limit.";
    }
    if (last && request.mode === "substructure" && last.query_kind === "smiles") offerHydrogens(smiles, results.list.children.length > 0);
    showQuery(smiles, last ? last.query_kind : "smiles");
  }

  /** A substructure query read as SMILES ignores the hydrogen counts of its bracket atoms: "c1ccccc1C(=O)[OH]"
   *  finds esters too, and "[OH]" alone any oxygen. Offer the SMARTS that requires those hydrogens
   *  ([OH] → [O;H1]). */
  function offerHydrogens(smiles, found) {
    const bracketH = /\[([A-Z][a-z]?|[a-z]{1,2})H(\d?)\]/g;
    const smarts = smiles.replace(bracketH, (_, atom, n) => `[${atom};H${n || 1}]`);
    if (smarts === smiles) return;
    const why = `A SMILES query ignores the hydrogen counts in brackets${found ? ", so these results include molecules where those atoms carry other groups" : ""}. `;
    help.replaceChildren(el("span", { text: `${why}To require the hydrogens, search the SMARTS: ` }),
      el("button", { type: "button", class: "secondary mono", text: smarts, onclick: () => runWith(smarts, "substructure") }));
    help.hidden = false;
  }

  /** A rejected query: the API said why (in the results' status); offer its example, or the SMILES of a pasted CSV
   *  line, as a button. */
  function suggest(err) {
    const detail = typeof err.detail === "string" ? err.detail : "";
    const alone = detail.match(/enter the SMILES alone: (\S+)$/);
    if (alone) {
      const m = mode();
      help.replaceChildren(el("span", { text: "Search the SMILES alone: " }),
        el("button", { type: "button", class: "secondary mono", text: alone[1], onclick: () => runWith(alone[1], m) }));
      help.hidden = false;
      return;
    }
    const example = detail.match(/e\.g\. (\S+) for ([^)]+)\)/);
    if (!example) return;
    help.replaceChildren(el("span", { text: "Try a SMILES instead: " }),
      el("button", { type: "button", class: "secondary", text: `${example[1]} (${example[2]})`,
        onclick: () => runWith(example[1], "similarity") }));
    help.hidden = false;
  }

  function showQuery(smiles, kind) {
    const url = B.withQuery("depict", { smiles, width: 240, height: 160 });
    $("query-tile").replaceChildren(B.img(url, `the query, ${smiles}`));
    $("query-caption").textContent = `Your query, read as ${kind === "smarts" ? "a SMARTS pattern" : "a SMILES"}.`;
    $("query-view").hidden = false;
  }

  function runWith(smiles, m) {
    smilesInput.value = smiles;
    form.querySelector(`input[name=mode][value=${m}]`).checked = true;
    syncMode();
    $("search").scrollIntoView({ block: "start" });
    search();
  }

  form.addEventListener("submit", (e) => { e.preventDefault(); search(); });
  for (const radio of form.querySelectorAll("input[name=mode]")) {
    radio.addEventListener("change", () => { syncMode(); if (lastSearch && smilesInput.value.trim()) search(); });
  }
  $("page-size").addEventListener("change", () => { if (lastSearch) search(); });
  $("rule-of-five").addEventListener("click", () => filters.ruleOfFive());
  $("filters-clear").addEventListener("click", () => filters.clear());
  form.querySelector(".examples").append(...EXAMPLES.map(([label, smiles, m]) => el("button", {
    type: "button", class: "secondary example", text: label, title: `${m}: ${smiles}`, dataset: { smiles, mode: m },
    onclick: () => runWith(smiles, m) })));
  if (B.narrow()) $("page-size").value = "12"; else $("filters").open = true;
  syncMode();

  // -- batch, library, load -------------------------------------------------------------------------
  B.TextBatch($("batch-form"), {
    textarea: $("batch-queries"), choose: $("batch-choose"), file: $("batch-file"), max: 1000,
    noun: "query", nouns: "queries", parse: parseQueries, renderHit: hitCard, mono: true,
    // an empty store says so, as a single search does, not "No match." under every query
    check: () => filters.problem() || (B.count() === 0 ? B.NOTHING_LOADED : ""),
    body: (queries) => ({ ...params(), queries, top_k: Number($("batch-top").value) }),
    describe: (answer) => ` (${answer.mode})`, empty: "Type at least one SMILES, one a line.",
    maxFileBytes: 2 * 1024 * 1024, filename: "molecule-batch.json",
  });

  B.Library($("library"), {
    noun: "molecule", pageSize: B.narrow() ? 12 : 24, name: nameOf,
    card: (item) => B.card({
      media: B.img(item.svg_url, `structure of ${nameOf(item)}`), title: nameOf(item), data: { id: item.id },
      lines: [summaryLine(item.properties), el("span", { class: "mono clip", text: item.smiles })],
      onOpen: (button) => openDetails(item, button),
    }),
    onDeleted: forget,
  });

  B.LoadPanel($("load"), {
    noun: "molecule", accept: ".smi,.smiles,.ism,.can,.csv,.tsv,.jsonl,.sdf,.sd,.mol,.txt,.zip",
    formats: ".smi (a SMILES and an optional name a line), .csv/.tsv/.jsonl (a smiles column; other columns are kept "
      + "as fields), .sdf, or a .zip of them. Invalid records are reported with their line; a molecule already stored "
      + "(same canonical SMILES) is stored once.",
    sample: "4,999 molecules of the NCI set bundled with RDKit, six common drugs and two steroids.",
    next: { href: "#search", text: "Now search them ↑" },
  });

  B.setup({ noun: "molecule", load: $("load"), search: $("search") });
})();
