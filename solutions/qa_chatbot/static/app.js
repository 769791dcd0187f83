// The /qa/ page: a conversation over POST answer (highlighted answer, its source, an honest "I don't know"),
// the ranking itself (POST search, load more), many questions at once (POST search/batch), the library of
// stored FAQ entries and documents, the details of a source (a FAQ entry, a document's passages) and loading.
// The shared parts (load panel, library, results, details, dialogs) come from common/static.
"use strict";

(() => {
  const B = Bootcamp;
  const { el, api } = B;
  const $ = (id) => document.getElementById(id);
  const HISTORY_KEY = "qa-conversation";
  const HISTORY_MAX = 50; // conversation turns kept in this tab (sessionStorage)
  const PAGE = 10; // search results per page
  const PASSAGE_PAGE = 50; // passages of a document shown at a time in its details
  const BATCH_MAX = 100; // the API's limit of questions per batch
  const BATCH_TOP_K = 3;
  // Alternatives of a refusal are offered only when they come close to the answer threshold: the score is
  // calibrated (it reads as the probability that the result answers the question), so one under half the
  // threshold is no suggestion, it is noise (issue 17: "did you mean" unrelated questions scoring 0.04).
  const CLOSE_FRACTION = 0.5;

  // -- text with the API's highlight ----------------------------------------------------------------
  /** `text` as nodes with <mark> around the [start, end] spans (code points, as the server counts them). */
  function marked(text, spans = []) {
    const chars = Array.from(text || "");
    const nodes = [];
    let at = 0;
    for (const [start, end] of [...spans].sort((a, b) => a[0] - b[0])) {
      if (start < at || end <= start) continue;
      if (start > at) nodes.push(chars.slice(at, start).join(""));
      nodes.push(el("mark", { text: chars.slice(start, end).join("") }));
      at = end;
    }
    if (at < chars.length) nodes.push(chars.slice(at).join(""));
    return nodes;
  }

  /** A short excerpt around the first highlighted span (the whole text when it is short). */
  function excerpt(text, spans = [], room = 320) {
    const chars = Array.from(text || "");
    if (chars.length <= room) return marked(text, spans);
    const [start, end] = spans.length ? spans[0] : [0, 0];
    const from = Math.max(0, Math.min(start - 60, chars.length - room));
    const to = Math.min(chars.length, Math.max(from + room, Math.min(end, from + room * 2)));
    const inside = spans.filter(([s, e]) => s >= from && e <= to).map(([s, e]) => [s - from, e - from]);
    return [from > 0 ? "… " : "", ...marked(chars.slice(from, to).join(""), inside), to < chars.length ? " …" : ""];
  }

  /** The last part of a heading path ("Chapter 7 › 7.8. What is a Virtual Package?" → "7.8. What is …"). */
  function lastHeading(path) {
    const parts = String(path || "").split(" › ");
    return parts[parts.length - 1];
  }

  // -- where an answer comes from -------------------------------------------------------------------
  /** The source line of a result: a link into the stored document, or the FAQ file and line; and a button
   * opening the source in the details panel. */
  function sourceOf(hit) {
    const s = hit.source || {};
    const open = el("button", { type: "button", class: "secondary small source-open",
      text: hit.kind === "faq" ? "Show the FAQ entry" : "Show the passage in its document",
      onclick: () => (hit.kind === "faq" ? openFaq(hit.id) : openDocument(s.document_id, s.position, hit.highlight)) });
    if (hit.kind === "faq") {
      const where = s.position !== null && s.position !== undefined ? `${s.document}, line ${s.position}` : s.document;
      return el("p", { class: "source" }, el("span", { class: "source-label", text: "Source: " }),
        `FAQ entry “${hit.question}” (${where}) `, open);
    }
    const link = s.url ? el("a", { href: s.url, target: "_blank", rel: "noopener",
      text: `${s.document}${s.section ? ` › ${lastHeading(s.section)}` : ""}` }) : s.document;
    return el("p", { class: "source" }, el("span", { class: "source-label", text: "Source: " }), link, " ", open);
  }

  // -- the conversation -----------------------------------------------------------------------------
  const conversation = $("conversation");
  const askStatus = $("ask-status");
  let history = [];
  try { history = JSON.parse(sessionStorage.getItem(HISTORY_KEY) || "[]"); } catch (_) { history = []; }

  function userTurn(text) {
    return el("li", { class: "turn user" }, el("span", { class: "sr-only", text: "You asked: " }),
      el("p", { class: "said", text }));
  }

  function botTurn(r, question) {
    if (r.confident) {
      const kind = r.kind === "faq" ? "FAQ answer" : "From a document";
      const also = r.alternatives.filter((a) => a.score >= r.threshold && a.question !== r.question);
      return el("li", { class: "turn bot" },
        el("span", { class: "sr-only", text: "Answer: " }),
        el("p", { class: "said answer" }, ...marked(r.answer, r.highlight)),
        el("p", { class: "meta" }, B.badge(kind), " ", el("span", { text: `confidence ${B.score(r.score)}` })),
        sourceOf(r),
        also.length ? alternatives("Also relevant:", also) : null);
    }
    const close = r.alternatives.filter((a) => a.score >= r.threshold * CLOSE_FRACTION);
    const why = r.question === null
      ? "Nothing is stored yet, so there is nothing to answer from."
      : `Nothing stored answers “${question}” confidently: the best match scores ${B.score(r.score)}, `
        + `under the ${B.score(r.threshold)} an answer needs.`;
    // a few keywords are no question: the scores are calibrated on questions, so "printer jam" is refused even
    // when the right passage ranks first; the search below ranks the stored texts without a threshold
    const searchInstead = r.question === null ? null : el("p", { class: "meta" },
      el("button", { type: "button", class: "secondary small search-instead", text: "Show the best matches",
        onclick: () => searchFor(question) }), " (the search below, which ranks without a threshold)");
    return el("li", { class: "turn bot unsure" },
      el("span", { class: "sr-only", text: "Answer: " }),
      el("p", { class: "said answer", text: "I don't know." }),
      el("p", { class: "meta", text: why }),
      close.length ? alternatives("Close, but not sure enough:", close)
        : r.question === null ? el("p", { class: "meta" }, el("a", { href: "#load", text: "Load the sample data or your own files" }), ".")
          : el("p", { class: "meta", text: "Try other words, or load documents that cover it." }),
      searchInstead);
  }

  /** Buttons that ask the suggested question (for a passage: its section's heading). */
  function alternatives(title, list) {
    const seen = new Set();
    const unique = list.filter((a) => !seen.has(a.question) && seen.add(a.question));
    return el("div", { class: "alternatives" }, el("p", { class: "meta", text: title }),
      el("ul", {}, ...unique.map((a) => {
        const asked = a.kind === "faq" ? a.question : lastHeading(a.question);
        return el("li", {}, el("button", { type: "button", class: "secondary small alt",
          attrs: { "aria-label": `Ask: ${asked} (score ${B.score(a.score)})` },
          onclick: () => ask(asked) }, asked, el("span", { class: "alt-score", text: B.score(a.score) })));
      })));
  }

  function render(turn) {
    conversation.append(turn.role === "user" ? userTurn(turn.text) : botTurn(turn.response, turn.question));
    $("clear-chat").hidden = false;
    $("chat-empty").hidden = true;
  }

  function remember(turn) {
    history.push(turn);
    history = history.slice(-HISTORY_MAX);
    try { sessionStorage.setItem(HISTORY_KEY, JSON.stringify(history)); } catch (_) { /* storage full: keep on screen */ }
    render(turn);
  }

  let asking = false;
  async function ask(text) {
    const question = String(text || "").trim();
    if (!question) {
      B.say(askStatus, "Type a question first.", "error");
      $("question").focus();
      return;
    }
    if (asking) return;
    asking = true;
    $("ask-btn").disabled = true;
    B.say(askStatus, "Looking for an answer…", "busy");
    try {
      const response = await api("answer", { json: { query: question } });
      remember({ role: "user", text: question });
      remember({ role: "bot", question, response });
      B.say(askStatus, `Answered in ${Math.round(response.took_ms)} ms.`);
      $("question").value = "";
      const last = conversation.lastElementChild;
      if (last) last.scrollIntoView({ block: "nearest" });
    } catch (err) {
      B.say(askStatus, err.message, "error");
    } finally {
      asking = false;
      $("ask-btn").disabled = false;
    }
  }

  $("ask-form").addEventListener("submit", (e) => {
    e.preventDefault();
    ask($("question").value);
  });
  const example = $("chat-empty").querySelector(".example");
  const SAMPLE_QUESTION = example.textContent.replace(/\s+/g, " ").trim();
  example.addEventListener("click", (e) => ask(e.currentTarget.textContent));

  /** The example is a question the loaded data answers: the question of the newest FAQ entry among the newest
   *  items; with documents only, none is offered (a fixed Debian question got "I don't know" from someone who had
   *  loaded only their own files). Nothing loaded: the sample's question, which "Load sample data" answers. */
  async function chooseExample(count) {
    if (!count) {
      example.textContent = SAMPLE_QUESTION;
      $("example-line").hidden = false;
      return;
    }
    try {
      const { items } = await B.api("items?limit=100");
      const faq = items.find((item) => item.kind === "faq");
      if (faq) example.textContent = faq.question;
      $("example-line").hidden = !faq;
    } catch (err) {
      $("example-line").hidden = true;
    }
  }
  B.onCount(chooseExample);
  $("clear-chat").addEventListener("click", () => {
    history = [];
    sessionStorage.removeItem(HISTORY_KEY);
    conversation.replaceChildren();
    $("clear-chat").hidden = true;
    $("chat-empty").hidden = false;
    B.say(askStatus, "");
    $("question").focus();
  });

  // -- details: a FAQ entry, a document and its passages ----------------------------------------------
  function deleteButton(item, what) {
    return el("button", { type: "button", class: "danger", text: `Delete this ${what}`, onclick: async () => {
      if (!(await B.confirm(`Delete ${named(item)}?`, { detail: what === "document"
        ? "The document, its passages and its stored copy are removed; it is no longer searched."
        : "The entry is removed; it is no longer searched." }))) return;
      try {
        await api(`items/${item.id}`, { method: "DELETE" });
      } catch (err) {
        B.say($("details-status"), err.message, "error");
        return;
      }
      B.details.close();
      results.clear();
      B.refreshCount();
    } });
  }

  const detailsStatus = () => el("p", { id: "details-status", class: "status", attrs: { role: "status", "aria-live": "polite" } });

  async function openFaq(id) {
    const item = await B.apiOr((message) => B.say(askStatus, message, "error"), `items/${id}`);
    if (!item) return;
    const metadata = Object.entries(item.metadata || {}).map(([k, v]) => [k, typeof v === "string" ? v : JSON.stringify(v)]);
    const body = el("div", { class: "faq-details" },
      el("h3", { text: "Question" }), el("p", { class: "faq-question", text: item.question }),
      el("h3", { text: "Answer" }), el("p", { class: "faq-answer", text: item.answer }),
      el("h3", { text: "About this entry" }),
      B.details.facts([["Kind", "FAQ entry"], ["From", item.name], ["Source", item.source], ["Added", B.when(item.added_at)],
        ...metadata, ["Id", String(item.id)]]),
      detailsStatus());
    B.details.open({ title: item.question, body, actions: [deleteButton(item, "FAQ entry")] });
  }

  /** A document's details: its facts and its passages, the page holding `position` first, that passage marked. */
  async function openDocument(id, position = null, highlight = []) {
    const doc = await B.apiOr((message) => B.say(askStatus, message, "error"), `items/${id}`);
    if (!doc) return;
    const list = el("ol", { class: "passages", attrs: { "aria-label": `passages of ${doc.name}` } });
    const where = el("span", { class: "pager-where" });
    const prev = el("button", { type: "button", class: "secondary", text: "‹ Earlier passages" });
    const next = el("button", { type: "button", class: "secondary", text: "Later passages ›" });
    const status = detailsStatus();
    const body = el("div", { class: "doc-details" },
      B.details.facts([["Kind", "document"], ["File", doc.name], ["Passages", String(doc.passages)],
        ["Added", B.when(doc.added_at)], ["Source", doc.source], doc.truncated ? ["Note", "cut at the passage or page limit"] : ["", ""],
        ["SHA-256", el("span", { class: "mono", text: doc.sha256 })], ["Id", String(doc.id)]]),
      el("h3", { text: "Passages, as they are searched" }), status, list,
      el("nav", { class: "pager", attrs: { "aria-label": "pages of passages" } }, prev, where, next));
    const original = el("a", { class: "button secondary", href: doc.file_url, target: "_blank", rel: "noopener", text: "Open the document" });
    B.details.open({ title: doc.title || doc.name, body, actions: [original, deleteButton(doc, "document")] });

    async function show(offset, focus = false) {
      const page = await B.apiOr((message) => B.say(status, message, "error"),
        `items/${id}/passages?offset=${offset}&limit=${PASSAGE_PAGE}`);
      if (!page) return;
      list.replaceChildren(...page.passages.map((p) => el("li", { class: `passage${p.position === position ? " current" : ""}`,
        dataset: { position: p.position } },
        el("h4", {}, p.anchor ? el("a", { href: `${doc.file_url}#${encodeURIComponent(p.anchor)}`, target: "_blank",
          rel: "noopener", text: lastHeading(p.heading) }) : lastHeading(p.heading),
        p.position === position ? el("span", { class: "badge ok", text: "the result" }) : null),
        el("p", { class: "passage-text" }, ...(p.position === position ? marked(p.text, highlight) : [p.text])))));
      list.start = offset + 1;
      prev.disabled = offset === 0;
      next.disabled = offset + page.passages.length >= page.total;
      prev.onclick = () => show(Math.max(0, offset - PASSAGE_PAGE), true);
      next.onclick = () => show(offset + PASSAGE_PAGE, true);
      where.textContent = `${offset + 1}–${offset + page.passages.length} of ${page.total}`;
      const scroller = list.closest(".details-body");
      const current = list.querySelector(".passage.current");
      if (scroller && current && !focus) scroller.scrollTop = current.offsetTop - scroller.offsetTop - 16;
      else if (scroller && focus) { scroller.scrollTop = list.offsetTop - scroller.offsetTop - 16; }
    }
    await show(position === null ? 0 : Math.floor(position / PASSAGE_PAGE) * PASSAGE_PAGE);
  }

  // -- search: the ranking, a page at a time -----------------------------------------------------------
  function hitCard(hit) {
    const where = hit.kind === "faq" ? `FAQ · ${hit.source.document}` : `${hit.source.document}`;
    return el("li", {}, B.card({
      title: hit.kind === "faq" ? hit.question : lastHeading(hit.question),
      badges: [B.badge(hit.kind === "faq" ? "FAQ" : "passage")],
      lines: [el("span", { class: "snippet" }, ...excerpt(hit.answer, hit.highlight)),
        `score ${B.score(hit.score, 3)} · ${where}`],
      data: { id: hit.id, kind: hit.kind },
      onOpen: () => (hit.kind === "faq" ? openFaq(hit.id) : openDocument(hit.source.document_id, hit.source.position, hit.highlight)),
    }));
  }

  const results = B.Results($("results"), { render: hitCard, label: "search results" });

  /** Run the search section with `query` and bring it into view. */
  function searchFor(query) {
    $("search-q").value = query;
    $("search").scrollIntoView({ block: "start" });
    $("search-form").requestSubmit();
  }

  $("search-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const query = $("search-q").value.trim();
    if (!query) { $("search-q").focus(); return; }
    results.run(async (offset, limit) => {
      const answer = await api("search", { json: { query, top_k: limit, offset } });
      return { items: answer.results, took_ms: answer.took_ms };
    }, { pageSize: PAGE, noMatch: `Nothing stored matches “${query}”.` });
  });

  // -- many questions at once ------------------------------------------------------------------------
  B.TextBatch($("batch-form"), {
    textarea: $("batch-queries"), choose: $("batch-choose"), file: $("batch-file"), max: BATCH_MAX,
    body: (queries) => ({ queries, top_k: BATCH_TOP_K }), renderHit: hitCard, layout: "rows", noun: "question",
    filename: "qa-batch-results.json",
  });

  // -- library, load --------------------------------------------------------------------------------
  /** Where an item was loaded from, enough to tell two files of one name apart (/a/README.md, /b/README.md):
   * its file on the server, or the upload or archive member (whose source ends with the item's name), and a
   * FAQ entry's line. */
  function origin(item) {
    const source = item.source || "";
    if (!source || source.endsWith(item.name)) return source || item.name;
    const line = item.kind === "faq" ? /:(\d+)$/.exec(item.name) : null;
    return line ? `${source}:${line[1]}` : source;
  }

  /** An item's name and, when it says more, where it came from ("README.md (/srv/b/README.md)"): the delete
   * buttons' and confirmations' words. */
  function named(item) {
    const where = origin(item);
    return where === item.name ? item.name : `${item.name} (${where})`;
  }

  B.Library($("library"), {
    noun: "FAQ entry or document", nouns: "FAQ entries and documents", pageSize: 12, layout: "rows",
    name: named,
    card: (item) => B.card({
      title: item.kind === "faq" ? item.question : (item.title || item.name),
      badges: [B.badge(item.kind === "faq" ? "FAQ" : "document")],
      lines: item.kind === "faq" ? [origin(item), excerpt(item.answer, [], 140)]
        : [`${origin(item)} · ${B.plural(item.passages, "passage")}${item.truncated ? " (cut)" : ""}`],
      data: { id: item.id, kind: item.kind },
      onOpen: () => (item.kind === "faq" ? openFaq(item.id) : openDocument(item.id)),
    }),
    onDeleted: () => results.clear(),
  });

  B.LoadPanel($("load"), {
    heading: "Load a FAQ or documents", noun: "file",
    accept: ".csv,.tsv,.jsonl,.ndjson,.json,.md,.markdown,.rst,.txt,.html,.htm,.pdf,.docx,.zip",
    formats: "A FAQ: CSV with question and answer columns (other columns are kept), or JSON Lines with the same "
      + "fields. Documents: Markdown, reStructuredText, text, HTML, PDF or Word (.docx), split into passages along "
      + "their headings. "
      + "Bad rows and unreadable files are reported; what is already stored is stored once.",
    sample: "The Debian FAQ (17 HTML chapters) and the FAQs of Debian's base-files and procps packages (18 questions).",
    next: { href: "#chat", text: "Now ask a question ↑" },
  });

  history.forEach(render);
  B.setup({ noun: "FAQ entry or document", nouns: "FAQ entries or documents", load: $("load"), search: $("chat"),
    kinds: { document: ["document", "documents"], faq: ["FAQ entry", "FAQ entries"] } });
})();
