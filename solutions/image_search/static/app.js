// The /image/ page: search by image (with a label filter) or by words, load more, batch queries, the
// library of stored images, the details of an image, and loading. The parts come from common/static.
"use strict";

(() => {
  const B = Bootcamp;
  const { el, api, upload } = B;
  const $ = (id) => document.getElementById(id);
  const LABELS_FROM = 500; // the label choices come from the newest stored images
  const DRAWN = new Set(["jpeg", "png", "gif", "webp", "bmp", "avif"]); // formats every browser draws (not TIFF, HEIC)

  const labelFilter = $("label-filter");
  const pageSize = () => (B.narrow() ? 12 : 24);
  let lastQuery = null; // the query image of the last search by image

  function topLabel(labels) {
    return labels && labels.length ? `${labels[0].label} ${B.score(labels[0].score)}` : "";
  }

  function thumb(hit) {
    return B.img(hit.thumbnail_url, hit.name);
  }

  function hitCard(hit) {
    const badges = hit.match === "copy" ? [B.badge(`copy · ${hit.inliers} matches`, "ok")] : [];
    return el("li", {}, B.card({
      media: thumb(hit), title: hit.name, badges, data: { id: hit.id },
      lines: [`score ${B.score(hit.score, 3)}`, topLabel(hit.labels)],
      label: `${hit.name}, score ${B.score(hit.score, 3)}${hit.match === "copy" ? ", an edited copy" : ""}`,
      onOpen: (button) => openDetails(hit.id, button),
    }));
  }

  // -- details ----------------------------------------------------------------------------------
  async function openDetails(id) {
    const item = await B.apiOr((message) => results.error(message), `items/${id}`);
    if (!item) return;
    const labels = el("ul", { class: "scores", attrs: { "aria-label": "top-5 labels" } }, ...item.labels.map((l) =>
      el("li", {}, el("span", { text: l.label }), el("span", { class: "mono", text: B.score(l.score) }),
        el("span", { class: "bar", attrs: { "aria-hidden": "true" } }, el("span", { style: `width:${Math.round(l.score * 100)}%` })))));
    const body = el("div", { class: "details-layout" },
      el("div", { class: "details-media" },
        B.img(DRAWN.has(item.format) ? item.image_url : item.thumbnail_url, item.name, { loading: "eager" })),
      el("div", {},
        el("h3", { text: "Labels (ImageNet, top 5)" }), labels,
        B.details.facts([
          ["Size", B.bytes(item.size)], ["Dimensions", `${item.width} × ${item.height} px`],
          ["Format", (item.format || "").toUpperCase()], ["Added", B.when(item.added_at)],
          ["Source", item.source], ["SHA-256", el("span", { class: "mono", text: item.sha256 })], ["Id", String(item.id)],
        ])));
    const similar = el("button", { type: "button", text: "Find similar images", onclick: () => searchWithStored(item) });
    const original = el("a", { class: "button secondary", href: item.image_url, target: "_blank", rel: "noopener", text: "Open the original" });
    const remove = el("button", { type: "button", class: "danger", text: "Delete", onclick: async () => {
      if (!(await B.confirm(`Delete ${item.name}?`, { detail: "It is removed from the index and from the server's storage." }))) return;
      try {
        await api(`items/${item.id}`, { method: "DELETE" });
      } catch (err) {
        B.say(results.status, err.message, "error");
        return;
      }
      B.details.close();
      for (const node of document.querySelectorAll(`[data-id="${item.id}"]`)) node.closest("li").remove();
      B.refreshCount();
    } });
    B.details.open({ title: item.name, body, actions: [similar, original, remove] });
  }

  async function searchWithStored(item) {
    try {
      const response = await fetch(item.image_url);
      if (!response.ok) throw new Error("the stored copy is not available");
      const blob = await response.blob();
      B.details.close();
      $("search").scrollIntoView({ block: "start" });
      query.take(new File([blob], item.name, { type: blob.type }));
    } catch (err) {
      B.say(results.status, B.capitalize(err.message), "error");
    }
  }

  // -- search -----------------------------------------------------------------------------------
  const results = B.Results($("results"), { render: hitCard, label: "search results" });

  function searchByImage(file) {
    lastQuery = file;
    const label = labelFilter.value.trim();
    const noMatch = label ? `No stored image labelled “${label}” — clear the label filter to search them all.` : "No match.";
    results.run(async (offset, limit) => {
      const form = new FormData();
      form.append("file", file, file.name || "query");
      form.append("top_k", limit);
      form.append("offset", offset);
      if (label) form.append("label", label);
      const answer = await upload("search", form).promise;
      return { items: answer.results, took_ms: answer.took_ms };
    }, { pageSize: pageSize(), noMatch });
  }

  const query = B.QueryImage($("query"), { onFile: searchByImage, prompt: "Drop an image here, or" });

  $("words-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const words = $("words").value.trim();
    if (!words) { $("words").focus(); return; }
    query.hide();
    lastQuery = null;
    results.run(async (offset, limit) => {
      const answer = await api("search/text", { json: { query: words, top_k: limit, offset } });
      return { items: answer.results, took_ms: answer.took_ms };
    }, { pageSize: pageSize(), noMatch: `No image matches “${words}”.` });
  });

  labelFilter.addEventListener("change", () => { if (lastQuery) searchByImage(lastQuery); });
  $("label-clear").addEventListener("click", () => {
    labelFilter.value = "";
    if (lastQuery) searchByImage(lastQuery);
    labelFilter.focus();
  });

  /** The labels of the newest stored images, most frequent first, as the filter's choices. */
  async function refreshLabels() {
    const answer = await B.apiOr(() => {}, `items?limit=${LABELS_FROM}`); // on failure the choices stay as they are
    if (!answer) return;
    const { items } = answer;
    B.fillChoices($("label-list"), items.flatMap((item) => (item.labels || []).map((l) => l.label)), "image");
  }

  // -- batch, library, load -------------------------------------------------------------------------
  B.BatchSearch($("batch-box"), {
    renderHit: hitCard, noun: "image",
    fields: () => ({ top_k: 6, label: labelFilter.value.trim() }),
  });

  B.Library($("library"), {
    noun: "image", pageSize: B.narrow() ? 12 : 24,
    card: (item) => B.card({
      media: thumb(item), title: item.name, data: { id: item.id },
      lines: [`${item.width} × ${item.height} · ${B.bytes(item.size)}`, topLabel(item.labels)],
      onOpen: (button) => openDetails(item.id, button),
    }),
    onDeleted: () => results.clear(),
  });

  B.LoadPanel($("load"), {
    noun: "image", accept: "image/*,.zip",
    formats: "JPEG, PNG, WebP, AVIF, HEIC, BMP, GIF (first frame) or TIFF, or .zip files of them. Files that are not images are "
      + "reported and skipped; an image already stored (same bytes) is stored once.",
    sample: "91 photos, screenshots and diagrams from Debian's opencv-doc.",
    next: { href: "#search", text: "Now search them ↑" },
    onLoaded: () => { refreshLabels(); },
  });

  B.onCount(() => refreshLabels());
  B.setup({ noun: "image", load: $("load"), search: $("search") }); // its count shows the library
})();
