// The /video/ page: upload with progress, search by image, player that jumps to a timestamp,
// a video's timeline of people and labels, and enrolment of people. Relative URLs only.
"use strict";

const $ = (id) => document.getElementById(id);
let current = null; // the video shown in the player
let waiting = null; // timer polling a video whose playable copy is being written

function fmt(t) {
  const m = Math.floor(t / 60), s = (t - m * 60).toFixed(1);
  return `${m}:${s.padStart(4, "0")}`;
}

function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  Object.assign(node, props);
  for (const c of children) node.append(c);
  return node;
}

async function refresh() {
  Bootcamp.refreshCount($("count"));
  try {
    const { videos } = await Bootcamp.api("videos");
    $("videos").replaceChildren(...videos.map((v) => {
      const open = el("button", { className: "secondary", textContent: "open", type: "button" });
      open.addEventListener("click", () => openVideo(v.id, 0));
      const del = el("button", { className: "danger", textContent: "delete", type: "button" });
      del.setAttribute("aria-label", `delete ${v.name}`);
      del.addEventListener("click", async () => {
        if (!window.confirm(`Delete ${v.name}? Its keyframes, thumbnails and stored copy are removed.`)) return;
        await Bootcamp.api(`videos/${v.id}`, { method: "DELETE" });
        if (current && current.id === v.id) closePlayer();
        refresh();
      });
      const info = el("span", { className: "grow", textContent: `${v.name} — ${fmt(v.duration_s)}, ${v.keyframes} keyframes` });
      return el("li", {}, info, open, del);
    }));
  } catch (err) {
    $("videos").replaceChildren(el("li", { className: "status error", textContent: err.message }));
  }
}

async function refreshPeople() {
  const { people } = await Bootcamp.api("people");
  $("people").replaceChildren(...people.map((p) => {
    const del = el("button", { className: "danger", textContent: "remove", type: "button" });
    del.addEventListener("click", async () => {
      await Bootcamp.api(`people/${p.id}`, { method: "DELETE" });
      refreshPeople();
      if (current) openVideo(current.id, null, { scroll: false });
    });
    return el("li", {}, el("span", { className: "grow", textContent: `${p.name} (${p.photos} photo${p.photos === 1 ? "" : "s"})` }), del);
  }));
}

function seek(t) {
  const player = $("player");
  const go = () => { player.currentTime = t; };
  if (player.readyState >= 1) go(); else player.addEventListener("loadedmetadata", go, { once: true });
}

/** Stop and empty the player: removing `src` alone keeps the previous video playing until load(). */
function unloadPlayer() {
  const player = $("player");
  player.pause();
  player.removeAttribute("src");
  player.load();
  player.dataset.videoId = "";
}

function closePlayer() {
  clearTimeout(waiting);
  unloadPlayer();
  current = null;
  $("player-panel").hidden = true;
}

/**
 * Show video `id` in the player (at `t` seconds when given). While its playable copy is being written the
 * player stays empty (poster only) and the video is polled quietly every 1.5 s; only an open the user
 * asked for scrolls the player into view.
 */
async function openVideo(id, t, { scroll = true } = {}) {
  const v = await Bootcamp.api(`videos/${id}`);
  const player = $("player");
  const changed = !current || current.id !== id;
  clearTimeout(waiting);
  current = v;
  $("player-panel").hidden = false;
  $("player-title").textContent = v.name;
  if (changed) {
    unloadPlayer();
    player.poster = v.frames.length ? v.frames[0].frame_url : "";
  }
  if (v.playable && player.dataset.videoId !== String(id)) {
    player.dataset.videoId = String(id);
    player.src = v.stream_url;
  }
  $("player-status").textContent = v.playable ? "" : "preparing a browser-playable copy…";
  if (!v.playable) {
    waiting = setTimeout(() => { if (current && current.id === id) openVideo(id, t, { scroll: false }); }, 1500);
  }
  if (t !== null && t !== undefined && v.playable) seek(t);
  drawTimeline(v);
  if (scroll) $("player-panel").scrollIntoView({ behavior: "smooth", block: "start" });
}

function drawTimeline(v) {
  const tracks = [];
  const add = (kind, name, spans) => {
    const bar = el("div", { className: "bar" });
    for (const s of spans) {
      const left = (100 * s.start_s) / Math.max(v.duration_s, 0.001);
      const width = Math.max((100 * (s.end_s - s.start_s)) / Math.max(v.duration_s, 0.001), 0.8);
      const b = el("button", { className: "span", type: "button",
        title: `${name}: ${fmt(s.start_s)}–${fmt(s.end_s)} (score ${s.score.toFixed(2)})` });
      b.setAttribute("aria-label", b.title);
      b.style.left = `${left}%`;
      b.style.width = `${width}%`;
      b.addEventListener("click", () => seek(s.start_s));
      bar.append(b);
    }
    tracks.push(el("div", { className: `track ${kind}` }, el("span", { className: "who", textContent: name }), bar));
  };
  const group = (spans, key) => spans.reduce((acc, s) => ((acc[s[key]] ||= []).push(s), acc), {});
  for (const [name, spans] of Object.entries(group(v.faces, "person"))) add("face", `👤 ${name}`, spans);
  for (const [name, spans] of Object.entries(group(v.labels, "label"))) add("label", name, spans);
  $("timeline").replaceChildren(...(tracks.length ? tracks : [el("p", { className: "muted", textContent: "nothing recognised" })]));
  $("unknown-faces").textContent = v.unknown_faces ? `${v.unknown_faces} face detection(s) not matching anybody enrolled.` : "";
}

async function search(file) {
  const form = new FormData();
  form.append("file", file, file.name);
  form.append("top_k", $("top-k").value || "10");
  $("query-preview").src = URL.createObjectURL(file);
  $("query-preview").hidden = false;
  $("search-status").className = "status";
  $("search-status").textContent = "searching…";
  try {
    const data = await Bootcamp.api("search", { method: "POST", body: form });
    $("search-status").textContent = `${data.results.length} video(s) in ${data.took_ms} ms`;
    $("results").replaceChildren(...data.results.map((r) => {
      const li = el("li", { tabIndex: 0 },
        el("img", { src: r.frame_url, alt: `frame of ${r.video_name} at ${fmt(r.timestamp_s)}` }),
        el("div", { className: "score", textContent: `score ${r.score.toFixed(3)}` }),
        el("div", { className: "when", textContent: `at ${fmt(r.timestamp_s)}` }),
        el("div", { className: "name", textContent: r.video_name }));
      li.dataset.videoId = r.video_id;
      li.dataset.timestamp = r.timestamp_s;
      const play = () => openVideo(r.video_id, r.timestamp_s);
      li.addEventListener("click", play);
      li.addEventListener("keydown", (e) => { if (e.key === "Enter") play(); });
      return li;
    }));
  } catch (err) {
    $("search-status").className = "status error";
    $("search-status").textContent = err.message;
    $("results").replaceChildren();
  }
}

Bootcamp.dropzone($("query-zone"), $("query-input"), (files) => search(files[0]));

Bootcamp.loadPanel({
  zone: $("dropzone"), input: $("file-input"), pathForm: $("path-form"), pathInput: $("path-input"),
  progress: $("progress"), status: $("load-status"), errors: $("load-errors"), onDone: refresh,
});

$("enrol-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const form = new FormData();
  form.append("name", $("person-name").value);
  for (const f of $("person-photos").files) form.append("files", f, f.name);
  $("enrol-status").className = "status";
  $("enrol-status").textContent = "enrolling…";
  try {
    const p = await Bootcamp.api("people", { method: "POST", body: form });
    const skipped = p.errors.length ? ` (skipped: ${p.errors.map((x) => `${x.item}: ${x.error}`).join("; ")})` : "";
    $("enrol-status").className = "status ok";
    $("enrol-status").textContent = `enrolled ${p.name} with ${p.photos} photo(s)${skipped}`;
    $("enrol-form").reset();
    refreshPeople();
    if (current) openVideo(current.id, null, { scroll: false });
  } catch (err) {
    $("enrol-status").className = "status error";
    $("enrol-status").textContent = err.message;
  }
});

refresh();
refreshPeople();
