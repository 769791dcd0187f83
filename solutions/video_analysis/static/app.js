// The /video/ page: search by image, moments by words, label or person (load more), batch queries, the
// library of videos, people, loading, and the player: a details panel that opens a video at a moment, with
// its timeline. The shared parts come from common/static; the timeline from timeline.js.
"use strict";

(() => {
  const B = Bootcamp;
  const { el, api, upload, clock } = B;
  const $ = (id) => document.getElementById(id);
  const POLL_MS = 1500; // while a video's browser-playable copy is being written
  const LABELS_FROM = 20; // the label choices come from the newest videos
  const PAGE = 12;

  const posters = new Map(); // video id -> GET videos/{id} (for posters and label choices)
  function detailsOf(id) {
    if (!posters.has(id)) posters.set(id, api(`videos/${id}`).catch((err) => { posters.delete(id); throw err; }));
    return posters.get(id);
  }

  // -- the player (details panel) ---------------------------------------------------------------
  let shown = null; // {id, timer, timeline, player}

  function stopPlayer() {
    if (!shown) return;
    clearTimeout(shown.timer);
    if (shown.timeline) shown.timeline.destroy();
    const { player } = shown;
    player.pause();
    player.removeAttribute("src"); // and load(): otherwise the element keeps playing what it had
    player.load();
    shown = null;
  }

  function videoFacts(v) {
    return B.details.facts([
      ["Length", v.truncated ? `${clock(v.duration_s)} readable of ${clock(v.declared_duration_s)}` : clock(v.duration_s)],
      ["Picture", `${v.width} × ${v.height} px, ${v.fps.toFixed(v.fps % 1 ? 2 : 0)} fps`],
      ["Format", `${v.codec} in ${v.container.toUpperCase()}`], ["Size", B.bytes(v.size)],
      ["Keyframes", String(v.keyframes)], ["Added", B.when(v.added_at)],
      ["SHA-256", el("span", { class: "mono", text: v.sha256 })], ["Id", String(v.id)],
    ]);
  }

  /** Open video `id` in the details panel, at `t` seconds. The page itself never scrolls. */
  async function openVideo(id, t = 0) {
    const v = await B.apiOr((message) => results.error(message), `videos/${id}`);
    if (!v) return;
    stopPlayer();
    const player = el("video", { id: "player", controls: true, muted: true, playsInline: true, preload: "metadata",
      poster: nearestFrame(v, t), style: `aspect-ratio: ${v.width} / ${v.height}` }); // no jump when it loads
    const status = el("p", { id: "player-status", class: "status", attrs: { role: "status", "aria-live": "polite" } });
    player.addEventListener("error", () => { // e.g. the playable copy failed and the original is an AVI
      if (!player.getAttribute("src")) return; // the source was taken away on close
      B.say(status, `This browser cannot play this file (${v.codec} in ${v.container.toUpperCase()}). Its keyframes, `
        + "timeline and search still work.", "error");
    });
    const timeline = VideoTimeline.build(player, v);
    const warning = v.truncated ? el("p", { class: "status truncated" }, B.badge("truncated", "warn"),
      ` The file stops decoding at ${clock(v.duration_s)} of the ${clock(v.declared_duration_s)} it announces; the readable part is indexed.`) : null;
    const unknown = v.unknown_faces ? el("p", { class: "hint", text: `${B.plural(v.unknown_faces, "face detection")} not matching anybody enrolled.` }) : null;
    const body = el("div", { class: "player-layout" },
      el("div", { class: "player-box" }, player, status), warning,
      el("h3", { text: "Timeline" }), timeline.node, unknown,
      el("details", { class: "video-facts" }, el("summary", { text: "About this file" }), videoFacts(v)));
    const remove = el("button", { type: "button", class: "danger", text: "Delete video", onclick: () => deleteVideo(v) });
    shown = { id, timer: 0, timeline, player };
    B.details.open({ title: v.name, body, actions: [remove], onClose: stopPlayer });
    attach(v, t);
  }

  function nearestFrame(v, t) {
    if (!v.frames.length) return "";
    let best = v.frames[0];
    for (const f of v.frames) if (Math.abs(f.timestamp_s - t) < Math.abs(best.timestamp_s - t)) best = f;
    return best.frame_url;
  }

  /** Give the player its source once the video is playable; until then poll quietly (no scrolling). */
  function attach(v, t) {
    if (!shown || shown.id !== v.id) return;
    const status = $("player-status");
    if (!v.playable) {
      B.say(status, "Preparing a browser-playable copy of this video… the player gets it as soon as it is ready.", "busy");
      shown.timer = setTimeout(async () => {
        if (!shown || shown.id !== v.id) return;
        try {
          attach(await api(`videos/${v.id}`), t);
        } catch (err) {
          B.say(status, err.message, "error");
        }
      }, POLL_MS);
      return;
    }
    B.say(status, "");
    shown.player.src = v.stream_url;
    shown.timeline.seek(t);
  }

  async function deleteVideo(v) {
    if (!(await B.confirm(`Delete ${v.name}?`, { detail: "Its keyframes, thumbnails and stored copy are removed." }))) return;
    try {
      await api(`videos/${v.id}`, { method: "DELETE" });
    } catch (err) {
      B.say($("player-status"), err.message, "error");
      return;
    }
    posters.delete(v.id);
    B.details.close();
    for (const node of document.querySelectorAll(`#results [data-video="${v.id}"]`)) node.closest("li").remove();
    B.refreshCount();
  }

  // -- results ------------------------------------------------------------------------------------
  function hitCard(hit) {
    return el("li", {}, B.card({
      media: B.img(hit.frame_url, `${hit.video_name} at ${clock(hit.timestamp_s)}`), title: hit.video_name,
      lines: [`at ${clock(hit.timestamp_s)}`, `score ${B.score(hit.score, 3)}`],
      data: { video: hit.video_id, t: hit.timestamp_s },
      label: `${hit.video_name} at ${clock(hit.timestamp_s)}, score ${B.score(hit.score, 3)}: play`,
      onOpen: () => openVideo(hit.video_id, hit.timestamp_s),
    }));
  }

  function momentCard(m) {
    const what = m.kind === "face" ? `👤 ${m.person}` : m.label;
    const span = m.end_s > m.start_s ? `${clock(m.start_s)}–${clock(m.end_s)}` : `at ${clock(m.start_s)}`;
    return el("li", {}, B.card({
      media: B.img(m.frame_url, `${what} in ${m.video_name}`), title: what,
      lines: [`${m.video_name} · ${span}`, `score ${B.score(m.score, 3)}`],
      data: { video: m.video_id, t: m.start_s },
      label: `${what} in ${m.video_name}, ${span}: play`,
      onOpen: () => openVideo(m.video_id, m.start_s),
    }));
  }

  const results = B.Results($("results"), { render: (x) => (x.kind ? momentCard(x) : hitCard(x)), label: "search results" });

  function searchByImage(file) {
    results.run(async (offset, limit) => {
      const form = new FormData();
      form.append("file", file, file.name || "query");
      form.append("top_k", limit);
      form.append("offset", offset);
      const answer = await upload("search", form).promise;
      return { items: answer.results, took_ms: answer.took_ms };
    }, { pageSize: PAGE, noMatch: "No video matches this picture." });
  }

  function moments(params, noMatch) {
    results.run(async (offset, limit) => {
      const started = performance.now();
      const answer = await api(B.withQuery("moments", { ...params, offset, limit }));
      return { items: answer.moments, total: answer.total, took_ms: performance.now() - started };
    }, { pageSize: PAGE, noMatch });
  }

  const query = B.QueryImage($("query"), { onFile: searchByImage });

  function submit(form, fn) {
    $(form).addEventListener("submit", (e) => { e.preventDefault(); fn(); });
  }
  submit("words-form", () => {
    const q = $("words").value.trim();
    if (!q) { $("words").focus(); return; }
    query.hide();
    moments({ q }, `No moment matches “${q}”. Try other words, or a label from the list.`);
  });
  submit("label-form", () => {
    const label = $("label").value.trim();
    if (!label) { $("label").focus(); return; }
    query.hide();
    moments({ label }, `No moment shows “${label}”.`);
  });
  submit("person-form", () => {
    const select = $("person");
    if (!select.value) { $("person-name").focus(); return; }
    query.hide();
    moments({ person_id: select.value }, `${select.selectedOptions[0].textContent} appears in no video yet.`);
  });

  // -- label choices, library ----------------------------------------------------------------------
  async function refreshLabels() {
    const answer = await B.apiOr(() => {}, `items?limit=${LABELS_FROM}`); // on failure the choices stay as they are
    if (!answer) return;
    const { items } = answer;
    const all = await Promise.allSettled(items.map((v) => detailsOf(v.id)));
    const labels = all.filter((r) => r.status === "fulfilled").flatMap((r) => r.value.labels.map((s) => s.label));
    B.fillChoices($("label-list"), labels, "moment");
  }

  function videoCard(v) {
    const poster = el("span", { class: "poster" });
    detailsOf(v.id).then((d) => { if (d.frames.length) poster.replaceWith(B.img(nearestFrame(d, d.duration_s / 3), `${v.name}`)); })
      .catch(() => {});
    const badges = [];
    if (v.truncated) badges.push(B.badge("truncated", "warn"));
    return B.card({
      media: poster, title: v.name, badges, data: { video: v.id },
      lines: [v.truncated ? `${clock(v.duration_s)} readable of ${clock(v.declared_duration_s)}` : clock(v.duration_s),
        `${v.width} × ${v.height} · ${B.bytes(v.size)} · ${B.plural(v.keyframes, "keyframe")}`],
      label: `${v.name}, ${clock(v.duration_s)}${v.truncated ? ", truncated" : ""}: play`,
      onOpen: () => openVideo(v.id, 0),
    });
  }

  B.Library($("library"), {
    heading: "Videos", noun: "video", pageSize: 10, layout: "rows", card: videoCard,
    onDeleted: (v) => { if (v) posters.delete(v.id); else posters.clear(); results.clear(); },
  });

  // -- people ---------------------------------------------------------------------------------------
  async function refreshPeople() {
    let people;
    try {
      ({ people } = await api("people"));
    } catch (err) {
      B.say($("enrol-status"), err.message, "error");
      return;
    }
    const select = $("person");
    const chosen = select.value;
    select.replaceChildren(...(people.length ? people.map((p) => el("option", { value: p.id, text: p.name }))
      : [el("option", { value: "", text: "nobody enrolled" })]));
    if (people.some((p) => String(p.id) === chosen)) select.value = chosen;
    $("people-list").replaceChildren(...people.map((p) => el("li", {},
      el("span", { class: "grow", text: `${p.name} (${B.plural(p.photos, "photo")})` }),
      el("button", { type: "button", class: "secondary", text: "Moments", attrs: { "aria-label": `Moments of ${p.name}` },
        onclick: () => { select.value = String(p.id); $("search").scrollIntoView({ block: "start" }); moments({ person_id: p.id }, `${p.name} appears in no video yet.`); } }),
      el("button", { type: "button", class: "icon delete", text: "Remove", attrs: { "aria-label": `Remove ${p.name}` },
        onclick: async () => {
          if (!(await B.confirm(`Remove ${p.name}?`, { ok: "Remove", detail: "Their photos are forgotten; the videos stay." }))) return;
          try { await api(`people/${p.id}`, { method: "DELETE" }); } catch (err) { B.say($("enrol-status"), err.message, "error"); }
          refreshPeople();
        } }))));
  }

  $("enrol-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const status = $("enrol-status");
    const name = $("person-name").value.trim();
    if (!name) { // spaces pass `required`, and the server would only say "Name: Field required"
      B.say(status, "Type the person's name: spaces alone are no name.", "error");
      $("person-name").focus();
      return;
    }
    const form = new FormData();
    form.append("name", name);
    for (const f of $("person-photos").files) form.append("files", f, f.name);
    B.say(status, "Enrolling…", "busy");
    try {
      const p = await upload("people", form).promise;
      const skipped = p.errors.length ? ` Skipped: ${p.errors.map((x) => `${x.item} (${x.error})`).join("; ")}.` : "";
      B.say(status, `Enrolled ${p.name} with ${B.plural(p.photos, "photo")}.${skipped}`, "ok");
      $("enrol-form").reset();
      posters.clear(); // their faces now have a name on the timelines
      refreshPeople();
    } catch (err) {
      B.say(status, err.message, "error");
    }
  });

  // -- batch, load -------------------------------------------------------------------------------
  B.BatchSearch($("batch-box"), { renderHit: hitCard, noun: "image", fields: () => ({ top_k: 5 }) });

  const ANALYSIS = "Keyframes are taken at every scene change and at least every second, then embedded, labelled and "
    + "searched for faces. A file that does not decode is reported; a truncated one is indexed for its readable part, "
    + "with a warning.";
  const formatsLine = (names) => `${names} files, or .zip files of them. ${ANALYSIS}`;
  B.LoadPanel($("load"), {
    noun: "video", accept: ".zip", // the video formats come from the server (GET formats), below
    formats: formatsLine("Video"),
    sample: "vtest.avi (a street from above, 80 s), Megamind.avi (11 s) and tree.avi (a damaged file) from Debian's opencv-doc.",
    next: { href: "#search", text: "Now search them ↑" },
    onLoaded: () => refreshLabels(),
  });

  B.api("formats").then((f) => { // the server's one list: what it loads, its refusals and this file picker
    $("load-files").accept = f.accept;
    $("load").querySelector(".dropzone .hint").textContent = formatsLine(f.text);
  }).catch(() => {});

  B.onCount(() => refreshLabels());
  refreshPeople();
  B.setup({ noun: "video", load: $("load"), search: $("search") });
})();
