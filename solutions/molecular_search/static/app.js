// The molecule page: search form (similarity / substructure), result grid of RDKit drawings, loads.
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);
  const form = $("search-form");
  const query = $("query");
  const status = $("search-status");
  const results = $("results");
  const preview = $("query-svg");

  const mode = () => form.querySelector("input[name=mode]:checked").value;

  function syncMode() {
    $("min-sim-label").hidden = mode() !== "similarity";
  }

  function fmt(x, digits = 2) {
    return x === null || x === undefined ? "–" : Number(x).toFixed(digits);
  }

  function card(hit, index, searchMode) {
    const li = document.createElement("li");
    li.className = "result";
    li.dataset.id = String(hit.id);
    const img = document.createElement("img");
    img.src = hit.svg_url;
    img.alt = `structure of ${hit.name || hit.smiles}`;
    img.loading = "lazy";
    const score = document.createElement("div");
    score.className = "score";
    score.textContent = searchMode === "similarity" || hit.similarity !== null
      ? `#${index + 1} · Tanimoto ${fmt(hit.similarity, 3)}` : `#${index + 1}`;
    const name = document.createElement("div");
    name.className = "name";
    name.textContent = hit.name || "(no name)";
    const smiles = document.createElement("div");
    smiles.className = "smiles";
    smiles.textContent = hit.smiles;
    const props = document.createElement("div");
    props.className = "props";
    const p = hit.properties || {};
    props.textContent = `MW ${fmt(p.mw, 1)} · logP ${fmt(p.logp, 2)} · HBD ${p.hbd} · HBA ${p.hba}`;
    li.append(img, score, name, smiles, props);
    return li;
  }

  async function runSearch() {
    const smiles = query.value.trim();
    if (!smiles) return;
    const body = { smiles, mode: mode(), top_k: Number($("top-k").value) || 10 };
    const minSim = Number($("min-sim").value);
    if (body.mode === "similarity" && minSim > 0) body.min_similarity = minSim;
    status.className = "status";
    status.textContent = "searching…";
    $("search-btn").disabled = true;
    preview.hidden = false;
    preview.src = `depict?smiles=${encodeURIComponent(smiles)}`;
    try {
      const res = await Bootcamp.api("search", { json: body });
      results.replaceChildren(...res.results.map((h, i) => card(h, i, body.mode)));
      let text = `${res.results.length} result(s) in ${res.took_ms} ms`;
      if (body.mode === "substructure" || body.mode === "superstructure") {
        text += ` · ${res.candidates} of ${res.total} passed the fingerprint screen, ${res.scanned} verified`;
        text += ` · query read as ${res.query_kind}`;
        if (!res.complete) text += " · time budget reached: partial results";
      }
      status.textContent = text;
      status.className = "status " + (res.complete === false ? "error" : "ok");
    } catch (err) {
      results.replaceChildren();
      preview.hidden = true;
      status.className = "status error";
      status.textContent = err.message;
    } finally {
      $("search-btn").disabled = false;
    }
  }

  form.addEventListener("submit", (e) => { e.preventDefault(); runSearch(); });
  form.querySelectorAll("input[name=mode]").forEach((r) => r.addEventListener("change", syncMode));
  document.querySelectorAll("button.example").forEach((b) => b.addEventListener("click", () => {
    query.value = b.dataset.smiles;
    form.querySelector(`input[name=mode][value=${b.dataset.mode}]`).checked = true;
    syncMode();
    runSearch();
  }));

  Bootcamp.loadPanel({
    zone: $("dropzone"), input: $("file-input"), pathForm: $("path-form"), pathInput: $("path-input"),
    progress: $("progress"), status: $("load-status"), errors: $("load-errors"),
    onDone: () => Bootcamp.refreshCount($("count")),
  });

  $("clear-btn").addEventListener("click", async () => {
    if (!confirm("Delete every stored molecule?")) return;
    try {
      const { dropped } = await Bootcamp.api("data", { method: "DELETE" });
      $("load-status").textContent = `deleted ${dropped} molecule(s)`;
      results.replaceChildren();
    } catch (err) {
      $("load-status").textContent = err.message;
    }
    Bootcamp.refreshCount($("count"));
  });

  syncMode();
  Bootcamp.refreshCount($("count"));
})();
