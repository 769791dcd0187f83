// The details panel (one native modal <dialog> per page: Esc and the close button close it, focus returns to
// what opened it, the page does not scroll), a confirmation dialog for deletes, and the result cards every
// list uses (a real <button>, so every result is focusable and Enter/Space opens it).
"use strict";

(() => {
  const { el, breakable } = Bootcamp;

  let dialog = null;
  let current = null; // {onClose, opener}

  /** True when nothing outside a closed dialog holds the focus (it is on the body, or still in the dialog). */
  function focusIsLost(box) {
    const active = document.activeElement;
    return !active || active === document.body || box.contains(active);
  }

  function build() {
    const close = el("button", { type: "button", class: "icon close", text: "✕", attrs: { "aria-label": "Close" },
      onclick: () => dialog.close() });
    dialog = el("dialog", { class: "details", attrs: { "aria-labelledby": "details-title" } },
      el("div", { class: "details-head" }, el("h2", { id: "details-title" }), close),
      el("div", { class: "details-body" }),
      el("div", { class: "details-actions" }));
    // a click on the backdrop (outside the box) closes it too
    dialog.addEventListener("click", (e) => { if (e.target === dialog) dialog.close(); });
    dialog.addEventListener("close", () => {
      const was = current;
      current = null;
      if (was && was.onClose) was.onClose();
      // "close" fires a task after the dialog shut, and the user (or the browser's own focus restoring, or an
      // action such as "Find similar") may have moved the focus meanwhile: only take it back from nowhere.
      if (was && was.opener && was.opener.isConnected && focusIsLost(dialog)) was.opener.focus({ preventScroll: true });
      dialog.querySelector(".details-body").replaceChildren();
    });
    document.body.append(dialog);
    return dialog;
  }

  /**
   * Open the details panel: title (text), body (a Node), actions (Nodes in the footer), onClose().
   * Opening while open replaces the content (the focus still returns to the first opener).
   */
  function open({ title, body, actions = [], onClose = null }) {
    if (!dialog) build();
    const opener = current ? current.opener : document.activeElement;
    if (current && current.onClose) current.onClose();
    current = { onClose, opener };
    dialog.querySelector("#details-title").replaceChildren(...breakable(title));
    dialog.querySelector(".details-body").replaceChildren(body);
    dialog.querySelector(".details-actions").replaceChildren(...actions);
    if (!dialog.open) dialog.showModal();
    dialog.querySelector(".details-body").scrollTop = 0;
    dialog.querySelector(".close").focus({ preventScroll: true });
    return dialog;
  }

  function close() { if (dialog && dialog.open) dialog.close(); }

  function isOpen() { return Boolean(dialog && dialog.open); }

  /** A definition list of [term, value] pairs (values: text or Nodes; empty ones left out). */
  function facts(pairs) {
    return el("dl", { class: "facts" }, ...pairs.filter(([, v]) => v !== null && v !== undefined && v !== "")
      .map(([k, v]) => [el("dt", { text: k }), el("dd", {}, v)]));
  }

  /** Ask before something irreversible; resolves true when confirmed. Esc or Cancel resolve false. */
  function confirm(message, { ok = "Delete", detail = "" } = {}) {
    return new Promise((resolve) => {
      const cancel = el("button", { type: "button", class: "secondary", text: "Cancel", onclick: () => box.close("cancel") });
      const yes = el("button", { type: "button", class: "danger", text: ok, onclick: () => box.close("ok") });
      const box = el("dialog", { class: "confirm", attrs: { "aria-labelledby": "confirm-text", role: "alertdialog" } },
        el("p", { id: "confirm-text", class: "confirm-text", text: message }),
        detail ? el("p", { class: "hint", text: detail }) : null,
        el("div", { class: "row end" }, cancel, yes));
      const opener = document.activeElement;
      box.addEventListener("close", () => {
        const lost = focusIsLost(box);
        box.remove();
        if (opener && opener.isConnected && lost) opener.focus({ preventScroll: true });
        resolve(box.returnValue === "ok");
      });
      document.body.append(box);
      box.showModal();
      cancel.focus({ preventScroll: true });
    });
  }

  /**
   * A result or library card: a <button> holding a picture, a title and lines of text; onOpen(button) on
   * click, Enter or Space. `label` is its accessible name when the visible text is not enough.
   */
  function card({ media = null, title, lines = [], badges = [], onOpen, label = null, data = {} }) {
    const button = el("button", { type: "button", class: "card", dataset: data, attrs: { "aria-label": label },
      onclick: () => onOpen(button) },
      media ? el("span", { class: "card-media" }, media) : null,
      el("span", { class: "card-text" },
        badges.length ? el("span", { class: "badges" }, ...badges) : null,
        el("span", { class: "card-title" }, breakable(title)),
        ...lines.filter(Boolean).map((line) => el("span", { class: "card-line" }, line))));
    return button;
  }

  function badge(text, kind = "") {
    return el("span", { class: `badge${kind ? ` ${kind}` : ""}`, text });
  }

  Object.assign(Bootcamp, { details: { open, close, isOpen, facts }, confirm, card, badge });
})();
