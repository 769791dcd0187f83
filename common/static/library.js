// The library: what is stored, a page at a time (GET items), newest first, with delete (after a
// confirmation), "delete everything", the count and an export link (GET export, JSON Lines).
"use strict";

(() => {
  const { el, api, say, plural, refreshCount, onCount, confirm, heading, NOTHING_LOADED } = Bootcamp;

  /**
   * Bootcamp.Library(section, {heading, noun, nouns, pageSize, layout, card(item) -> button, name(item), onDeleted})
   * fills the page's empty <section> (id "library"): its heading and a box "<id>-box" with the stored items.
   * card(item) builds the item's card (see Bootcamp.card); the library adds its delete button.
   */
  function Library(section, { heading: headingText = "Library", noun = "item", nouns = `${noun}s`, pageSize = 24,
    layout = "grid", card, name = (item) => item.name, onDeleted = () => {}, loadHref = "#load" }) {
    const container = el("div", { id: `${section.id}-box` });
    heading(section, headingText).append(container);
    const status = el("p", { class: "status", attrs: { role: "status", "aria-live": "polite" } });
    const exportLink = el("a", { class: "button secondary", href: "export", download: "", text: "Export (JSON Lines)",
      title: `every stored ${noun}'s metadata, one JSON object per line` });
    const dropAll = el("button", { type: "button", class: "danger", text: "Delete everything", onclick: deleteAll });
    const list = el("ul", { class: layout === "grid" ? "grid library" : "rows library", attrs: { "aria-label": `stored ${nouns}` } });
    const empty = el("div", { class: "empty", hidden: true },
      el("p", {}, NOTHING_LOADED, " ", el("a", { href: loadHref, text: "Go to Load" })));
    const prev = el("button", { type: "button", class: "secondary", text: "‹ Previous", onclick: () => show(pageNo - 1) });
    const next = el("button", { type: "button", class: "secondary", text: "Next ›", onclick: () => show(pageNo + 1) });
    const where = el("span", { class: "pager-where" });
    const pager = el("nav", { class: "pager", attrs: { "aria-label": `pages of stored ${nouns}` } }, prev, where, next);
    container.append(el("div", { class: "row library-head" }, status, el("span", { class: "grow" }), exportLink, dropAll),
      empty, list, pager);

    let pageNo = 0;
    let total = 0;
    let seq = 0;

    async function show(n = pageNo, focusIndex = null) {
      const mine = ++seq;
      let answer;
      try {
        answer = await api(`items?offset=${Math.max(0, n) * pageSize}&limit=${pageSize}`);
      } catch (err) {
        if (mine === seq) say(status, err.message, "error");
        return;
      }
      if (mine !== seq) return;
      total = answer.total;
      const pages = Math.max(1, Math.ceil(total / pageSize));
      if (answer.items.length === 0 && total > 0 && n > 0) { show(Math.min(n, pages) - 1, focusIndex); return; }
      pageNo = Math.max(0, n);
      list.replaceChildren(...answer.items.map(row));
      empty.hidden = total > 0;
      list.hidden = total === 0;
      exportLink.hidden = dropAll.hidden = total === 0;
      pager.hidden = total <= pageSize;
      prev.disabled = pageNo === 0;
      next.disabled = pageNo >= pages - 1;
      where.textContent = `${pageNo * pageSize + 1}–${pageNo * pageSize + answer.items.length} of ${total.toLocaleString("en")}`;
      say(status, total ? `${plural(total, noun, nouns)}, newest first` : "");
      if (focusIndex !== null) {
        const cards = list.querySelectorAll(".card");
        const target = cards[Math.min(focusIndex, cards.length - 1)] || prev;
        if (target) target.focus({ preventScroll: true });
      }
    }

    function row(item, index) {
      const label = name(item);
      const remove = el("button", { type: "button", class: "icon delete", text: "Delete",
        attrs: { "aria-label": `Delete ${label}` }, onclick: () => removeItem(item, index) });
      return el("li", { class: "library-item", dataset: { id: item.id } }, card(item), remove);
    }

    async function removeItem(item, index) {
      if (!(await confirm(`Delete ${name(item)}?`, { detail: `It is removed from the search index and from the server's storage.` }))) return;
      try {
        await api(`items/${item.id}`, { method: "DELETE" });
      } catch (err) {
        say(status, err.message, "error");
        return;
      }
      onDeleted(item);
      await refreshCount(); // the count listener below re-reads the page
      show(pageNo, index);
    }

    async function deleteAll() {
      if (!(await confirm(`Delete all ${plural(total, noun, nouns)}?`, { ok: "Delete everything",
        detail: "Running loads are cancelled first. This cannot be undone." }))) return;
      try {
        const { dropped } = await api("data", { method: "DELETE" });
        say(status, `${plural(dropped, noun, nouns)} deleted`, "ok");
      } catch (err) {
        say(status, err.message, "error");
        return;
      }
      onDeleted(null);
      await refreshCount();
    }

    onCount(() => show(pageNo));

    return { show, reload: () => show(pageNo) };
  }

  Bootcamp.Library = Library;
})();
