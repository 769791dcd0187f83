"use strict";
(() => {
  const $ = (id) => document.getElementById(id);
  const count = $("count");
  const refresh = () => Bootcamp.refreshCount(count);

  Bootcamp.loadPanel({
    zone: $("dropzone"), input: $("file-input"), pathForm: $("path-form"), pathInput: $("path-input"),
    progress: $("progress"), status: $("load-status"), errors: $("load-errors"), onDone: refresh,
  });

  function card(hit) {
    const li = document.createElement("li");
    const a = document.createElement("a");
    a.href = hit.image_url;
    a.target = "_blank";
    a.rel = "noopener";
    const img = document.createElement("img");
    img.src = hit.thumbnail_url;
    img.alt = hit.name;
    img.loading = "lazy";
    a.append(img);
    const score = document.createElement("div");
    score.className = "score";
    score.textContent = hit.score.toFixed(3);
    const kind = document.createElement("span");
    kind.className = hit.match;
    kind.textContent = hit.match === "copy" ? ` copy (${hit.inliers} matches)` : " similar";
    score.append(kind);
    const name = document.createElement("div");
    name.className = "name";
    name.textContent = hit.name;
    li.append(a, score, name);
    return li;
  }

  async function search(file) {
    const status = $("search-status");
    const preview = $("query-preview");
    if (preview.src) URL.revokeObjectURL(preview.src);
    preview.src = URL.createObjectURL(file);
    preview.hidden = false;
    const form = new FormData();
    form.append("file", file, file.name);
    form.append("top_k", $("top-k").value || "12");
    status.className = "status";
    status.textContent = "searching…";
    try {
      const body = await Bootcamp.upload("search", form);
      $("results").replaceChildren(...body.results.map(card));
      status.className = "status ok";
      status.textContent = `${body.results.length} result(s) in ${body.took_ms} ms`;
    } catch (err) {
      $("results").replaceChildren();
      status.className = "status error";
      status.textContent = err.message;
    } finally {
      $("query-input").value = "";
    }
  }
  Bootcamp.dropzone($("query-zone"), $("query-input"), (files) => search(files[0]));

  $("clear").addEventListener("click", async () => {
    if (!confirm("Delete every stored image?")) return;
    const status = $("load-status");
    try {
      const { dropped } = await Bootcamp.api("data", { method: "DELETE" });
      status.className = "status ok";
      status.textContent = `${dropped} image(s) deleted`;
      $("results").replaceChildren();
    } catch (err) {
      status.className = "status error";
      status.textContent = err.message;
    }
    refresh();
  });
  refresh();
})();
