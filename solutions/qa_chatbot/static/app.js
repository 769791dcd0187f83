// The /qa/ page: a chat over POST answer, "did you mean" alternatives, FAQ upload with progress.
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);
  const chat = $("chat");
  const countEl = $("count");
  const history = JSON.parse(sessionStorage.getItem("qa-history") || "[]");

  function el(tag, cls, text) {
    const node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function render(entry) {
    if (entry.role === "user") {
      chat.append(el("li", "user", entry.text));
    } else {
      const r = entry.response;
      const li = el("li", "bot" + (r.confident ? "" : " unsure"));
      li.append(el("span", "answer", r.confident ? r.answer
        : (r.question ? "I am not sure I know the answer to that." : "Nothing is loaded yet.")));
      if (r.question) {
        li.append(el("span", "match",
          `${r.confident ? "Matched" : "Closest"} question: “${r.question}” — score ${r.score.toFixed(3)}`));
      }
      if (r.alternatives && r.alternatives.length) {
        const alts = el("div", "alts");
        alts.append(el("span", "", "Did you mean: "));
        for (const alt of r.alternatives) {
          const b = el("button", "secondary alt", `${alt.question} (${alt.score.toFixed(2)})`);
          b.type = "button";
          b.addEventListener("click", () => ask(alt.question));
          alts.append(b);
        }
        li.append(alts);
      }
      chat.append(li);
    }
    chat.scrollTop = chat.scrollHeight;
  }

  function remember(entry) {
    history.push(entry);
    sessionStorage.setItem("qa-history", JSON.stringify(history.slice(-100)));
    render(entry);
  }

  async function ask(text) {
    const status = $("ask-status");
    status.className = "status";
    status.textContent = "";
    try {
      const response = await Bootcamp.api("answer", { json: { query: text } });
      remember({ role: "user", text });
      remember({ role: "bot", response });
    } catch (err) {
      status.className = "status error";
      status.textContent = err.message;
    }
  }

  $("ask-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const text = $("query").value;
    $("query").value = "";
    ask(text);
  });
  $("clear-chat").addEventListener("click", () => {
    history.length = 0;
    sessionStorage.removeItem("qa-history");
    chat.replaceChildren();
  });
  $("clear-btn").addEventListener("click", async () => {
    if (!confirm("Delete every stored FAQ entry and document?")) return;
    try {
      await Bootcamp.api("data", { method: "DELETE" });
    } finally {
      Bootcamp.refreshCount(countEl);
    }
  });

  Bootcamp.loadPanel({
    zone: $("dropzone"), input: $("file-input"), pathForm: $("path-form"), pathInput: $("path-input"),
    progress: $("progress"), status: $("load-status"), errors: $("load-errors"),
    onDone: () => Bootcamp.refreshCount(countEl),
  });
  history.forEach(render);
  Bootcamp.refreshCount(countEl);
})();
