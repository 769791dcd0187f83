// The core every demo page shares: calls to the service (JSON, uploads with progress) with human error
// messages, DOM and formatting helpers, the service's /info and item count, and the page set-up (count in the
// header, API key, first-visit order). The components (load panel, library, results, details) live in the
// other files of this folder and hang off the same `Bootcamp` object. Plain browser JavaScript, no build
// step; URLs are relative, so a service works the same mounted at /image or anywhere else.
"use strict";

const Bootcamp = (() => {
  const KEY_STORAGE = "bootcamp-api-key";

  // -- DOM ----------------------------------------------------------------------------------------
  /**
   * el("button", {class: "secondary", type: "button", onclick: fn, dataset: {id: 3}}, "text", node)
   * Properties starting with "on" become listeners; "class", "text", "dataset", "style" and "attrs" are
   * handled; anything else is assigned to the element. null/undefined/false children are skipped.
   */
  function el(tag, props = {}, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(props || {})) {
      if (value === undefined || value === null) continue;
      if (key === "class") node.className = value;
      else if (key === "text") node.textContent = value;
      else if (key === "dataset") Object.assign(node.dataset, value);
      else if (key === "style") node.style.cssText = value;
      else if (key === "attrs") for (const [a, v] of Object.entries(value)) { if (v !== null && v !== undefined) node.setAttribute(a, v); }
      else if (key.startsWith("on") && typeof value === "function") node.addEventListener(key.slice(2), value);
      else node[key] = value;
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined || child === false) continue;
      node.append(child instanceof Node ? child : String(child));
    }
    return node;
  }

  const $ = (selector, root = document) => root.querySelector(selector);

  /** An <img> that never shows the browser's broken-image icon: on error it becomes a neutral placeholder. */
  function img(src, alt, props = {}) {
    const image = el("img", { src, alt, loading: "lazy", decoding: "async", ...props });
    image.addEventListener("error", () => {
      image.replaceWith(el("span", { class: "img-missing", role: "img", attrs: { "aria-label": alt ? `${alt} (not available)` : "image not available" } }, "no preview"));
    }, { once: true });
    return image;
  }

  // -- formatting ---------------------------------------------------------------------------------
  function plural(n, one, many = `${one}s`) {
    return `${n.toLocaleString("en")} ${n === 1 ? one : many}`;
  }

  function bytes(n) {
    if (n === null || n === undefined) return "";
    const units = ["bytes", "KB", "MB", "GB", "TB"];
    let value = n, i = 0;
    while (value >= 1024 && i < units.length - 1) { value /= 1024; i++; }
    return i === 0 ? `${n} bytes` : `${value.toFixed(value >= 100 ? 0 : 1)} ${units[i]}`;
  }

  /** 83.4 → "1:23.4"; with whole=true "1:23". */
  function clock(seconds, whole = false) {
    const t = Math.max(0, Number(seconds) || 0);
    const h = Math.floor(t / 3600), m = Math.floor((t % 3600) / 60), s = t % 60;
    const sec = whole ? String(Math.floor(s)).padStart(2, "0") : s.toFixed(1).padStart(4, "0");
    return h ? `${h}:${String(m).padStart(2, "0")}:${sec}` : `${m}:${sec}`;
  }

  function score(value, digits = 2) {
    return Number(value).toFixed(digits);
  }

  /** An ISO time as "3 min ago" / "26 Nov, 00:55". */
  function when(iso) {
    if (!iso) return "";
    const date = new Date(/[zZ]|[+-]\d\d:?\d\d$/.test(iso) ? iso : `${iso}Z`);
    if (Number.isNaN(date.getTime())) return iso;
    const seconds = (Date.now() - date.getTime()) / 1000;
    if (seconds < 45) return "just now";
    if (seconds < 3600) return `${Math.round(seconds / 60)} min ago`;
    if (seconds < 86400) return `${Math.round(seconds / 3600)} h ago`;
    return date.toLocaleString("en-GB", { day: "numeric", month: "short", hour: "2-digit", minute: "2-digit" });
  }

  // -- calls to the service -------------------------------------------------------------------------
  class ApiError extends Error {
    constructor(status, detail, retryAfter = null) {
      super(humanize(status, detail, retryAfter));
      this.status = status;
      this.detail = detail;
    }
  }

  function capitalize(text) {
    const s = String(text || "").trim();
    return s ? s[0].toUpperCase() + s.slice(1) : s;
  }

  /** A message for people: the API's own words (never a bare "415:"), or what a status means. */
  function humanize(status, detail, retryAfter) {
    const said = typeof detail === "string" ? detail.trim()
      : Array.isArray(detail) ? detail.map((d) => d.msg || String(d)).join("; ") : "";
    if (status === 0) return "Cannot reach the server. Is it still running?";
    if (status === 401 || (status === 403 && /api.?key/i.test(said))) {
      return "This server needs an API key to search or change data: enter it at the top of the page.";
    }
    if (status === 503) {
      const wait = retryAfter ? ` Try again in ${retryAfter} s.` : " Try again in a moment.";
      return `${capitalize(said || "the server is busy")}.`.replace(/\.\.$/, ".") + wait;
    }
    if (status === 413) return capitalize(said || "that is larger than the server accepts");
    if (status >= 500) return `Something went wrong on the server (error ${status}). Try again; if it persists, see the server log.`;
    return capitalize(said || `the request failed (${status})`);
  }

  function authHeaders() {
    const key = localStorage.getItem(KEY_STORAGE);
    return key ? { "X-API-Key": key } : {};
  }

  async function parse(response) {
    const type = response.headers.get("content-type") || "";
    let body = null;
    try {
      body = type.includes("json") ? await response.json() : await response.text();
    } catch (_) {
      body = null;
    }
    if (!response.ok) {
      throw new ApiError(response.status, body && body.detail !== undefined ? body.detail : (typeof body === "string" ? body.slice(0, 200) : ""),
        response.headers.get("retry-after"));
    }
    return body;
  }

  /** fetch() returning parsed JSON; throws ApiError (a readable .message) on 4xx/5xx or no connection. */
  async function api(path, options = {}) {
    const init = { ...options, headers: { ...authHeaders(), ...(options.headers || {}) } };
    delete init.json;
    if (options.json !== undefined) {
      init.body = JSON.stringify(options.json);
      init.headers["Content-Type"] = "application/json";
      init.method = init.method || "POST";
    }
    let response;
    try {
      response = await fetch(path, init);
    } catch (err) {
      if (err.name === "AbortError") throw err;
      throw new ApiError(0, "");
    }
    return parse(response);
  }

  /** api() with a query string built from `params` (null/undefined/"" values left out). */
  function withQuery(path, params) {
    const query = new URLSearchParams();
    for (const [k, v] of Object.entries(params)) if (v !== null && v !== undefined && v !== "") query.set(k, v);
    const text = query.toString();
    return text ? `${path}?${text}` : path;
  }

  /**
   * POST a FormData with upload progress (0..1) reported to onProgress. Returns {promise, abort}; the promise
   * resolves to the JSON answer and rejects with ApiError, or with an Error named "AbortError" after abort().
   */
  function upload(path, formData, onProgress) {
    const xhr = new XMLHttpRequest();
    const promise = new Promise((resolve, reject) => {
      xhr.open("POST", path);
      for (const [k, v] of Object.entries(authHeaders())) xhr.setRequestHeader(k, v);
      xhr.upload.onprogress = (e) => { if (e.lengthComputable && onProgress) onProgress(e.loaded / e.total); };
      xhr.onerror = () => reject(new ApiError(0, ""));
      xhr.onabort = () => { const e = new Error("upload cancelled"); e.name = "AbortError"; reject(e); };
      xhr.onload = () => {
        let body = null;
        try { body = JSON.parse(xhr.responseText); } catch (_) { body = { detail: xhr.responseText.slice(0, 200) }; }
        if (xhr.status >= 200 && xhr.status < 300) resolve(body);
        else reject(new ApiError(xhr.status, body && body.detail, xhr.getResponseHeader("retry-after")));
      };
      xhr.send(formData);
    });
    return { promise, abort: () => xhr.abort() };
  }

  // -- the service: info and count --------------------------------------------------------------------
  let infoPromise = null;
  /** GET info once per page: data_roots, accepted kinds, limits, api_key_required, count. */
  function info() {
    if (!infoPromise) infoPromise = api("info").catch((err) => { infoPromise = null; throw err; });
    return infoPromise;
  }

  const counter = { value: null, listeners: new Set(), noun: "item", nouns: "items", kinds: null };

  /** "12 images stored"; by kind where the service counts kinds and the page named them ("17 documents and 18 FAQ
   * entries stored", not "35 FAQ entries and documents stored"). */
  function countText(n, kinds = null) {
    if (n === 0) return `No ${counter.nouns} stored yet`;
    const named = kinds && counter.kinds ? Object.entries(counter.kinds).filter(([kind]) => kinds[kind] > 0) : [];
    if (!named.length) return `${plural(n, counter.noun, counter.nouns)} stored`;
    const parts = named.map(([kind, [one, many]]) => plural(kinds[kind], one, many));
    return `${parts.join(" and ")} stored`;
  }

  function setCount(n, kinds = null) {
    const changed = counter.value !== n;
    counter.value = n;
    for (const node of document.querySelectorAll("[data-count]")) node.textContent = countText(n, kinds);
    if (changed) for (const fn of counter.listeners) fn(n);
  }

  /** Read GET count into every [data-count] element; listeners run when it changed. */
  async function refreshCount() {
    try {
      const { count, kinds } = await api("count");
      setCount(count, kinds);
      return count;
    } catch (err) {
      for (const node of document.querySelectorAll("[data-count]")) node.textContent = "Item count unavailable";
      return null;
    }
  }

  /** fn(count) whenever the stored count changes (after loads and deletes). */
  function onCount(fn) { counter.listeners.add(fn); }

  function count() { return counter.value; }

  /** Page set-up: nouns for messages, the count in the header, the API key box, the first-visit order.
   * kinds: where the service counts items by kind, each kind's nouns in the order the count names them
   * ({document: ["document", "documents"], faq: ["FAQ entry", "FAQ entries"]}). */
  async function setup({ noun = "item", nouns = `${noun}s`, kinds = null, load = null, search = null } = {}) {
    counter.noun = noun;
    counter.nouns = nouns;
    counter.kinds = kinds;
    let details = null;
    try {
      details = await info();
    } catch (err) {
      for (const node of document.querySelectorAll("[data-count]")) node.textContent = err.message;
      return null;
    }
    if (details.api_key_required) apiKeyBox();
    // first visit: nothing stored, so loading is what to do first
    if (details.count === 0 && load && search && (search.compareDocumentPosition(load) & Node.DOCUMENT_POSITION_FOLLOWING)) {
      search.before(load);
    }
    document.body.classList.toggle("is-empty", details.count === 0);
    onCount((n) => document.body.classList.toggle("is-empty", n === 0));
    setCount(details.count, details.kinds);
    return details;
  }

  function apiKeyBox() {
    const header = $("header.top .inner") || $("header.top");
    if (!header || $("#api-key", header)) return;
    const input = el("input", { id: "api-key", type: "password", autocomplete: "off", value: localStorage.getItem(KEY_STORAGE) || "",
      oninput: () => localStorage.setItem(KEY_STORAGE, input.value.trim()) });
    header.append(el("p", { class: "api-key" }, el("label", { htmlFor: "api-key", text: "API key (this server requires one to search or change data)" }), input));
  }

  /** Show a message in a status element; kind: "" | "ok" | "error" | "busy". */
  function say(node, text, kind = "") {
    node.textContent = text || "";
    node.className = `status${kind ? ` ${kind}` : ""}`;
  }

  /** Fill a <datalist> with `values`, most frequent first; each option says how often ("3 images"). */
  function fillChoices(datalist, values, noun) {
    const counts = new Map();
    for (const v of values) counts.set(v, (counts.get(v) || 0) + 1);
    const sorted = [...counts].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
    datalist.replaceChildren(...sorted.map(([value, n]) => el("option", { value, label: plural(n, noun) })));
  }

  /** `api(path, options)`, or null once `fail(message)` has shown why it failed (a view that cannot go on without). */
  async function apiOr(fail, path, options = {}) {
    try {
      return await api(path, options);
    } catch (err) {
      fail(err.message);
      return null;
    }
  }

  /** Give a page's <section> its heading (an h2 with id "<section id>-h" that labels it), before its content. */
  function heading(section, text) {
    const h2 = el("h2", { id: `${section.id}-h`, text });
    section.prepend(h2);
    section.setAttribute("aria-labelledby", h2.id);
    return section;
  }

  /** Touch screen without a mouse: no "drop" wording, bigger targets (CSS does the rest). */
  function touch() {
    return window.matchMedia("(hover: none) and (pointer: coarse)").matches;
  }

  /** ``text`` as nodes that may wrap after ``_ . - /``: a file name breaks at its parts on a phone
   *  ("renamed_mpg." / "flv"), where it broke anywhere before ("renamed_mpg.fl" / "v"). Copies as written. */
  function breakable(text) {
    const parts = String(text).split(/(?<=[_.\-/])(?=.)/);
    return parts.flatMap((part, i) => (i ? [document.createElement("wbr"), part] : [part]));
  }

  /** A phone-sized window (the CSS switches to its phone layout at the same width). */
  function narrow() {
    return window.matchMedia("(max-width: 640px)").matches;
  }

  return { narrow, breakable, el, $, img, plural, bytes, clock, score, when, capitalize, humanize, ApiError, api, apiOr, withQuery, upload,
    authHeaders, fillChoices, heading, info, refreshCount, setCount, onCount, count, countText, setup, say, touch };
})();
