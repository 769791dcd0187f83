// A video's timeline under the player: a time axis, one track per person and per label with its spans, and a
// playhead that follows the player. A span (a button) or a click on the axis seeks the player there.
"use strict";

const VideoTimeline = (() => {
  const { el, clock } = Bootcamp;
  const STEPS = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600];

  /** Tick spacing so that the axis shows at most `most` labels (0 and every whole step up to the end). */
  function step(duration, most) {
    return STEPS.find((s) => Math.floor(duration / s + 1e-6) + 1 <= most) || STEPS[STEPS.length - 1];
  }

  function group(spans, key) {
    const out = new Map();
    for (const s of spans) {
      if (!out.has(s[key])) out.set(s[key], []);
      out.get(s[key]).push(s);
    }
    return out;
  }

  /**
   * build(player, video): the timeline element of `video` (GET videos/{id}) driving `player`.
   * Returns {node, destroy()}; destroy() stops following the player.
   */
  function build(player, video) {
    const duration = Math.max(video.duration_s, 0.001);
    const pct = (t) => `${Math.min(100, Math.max(0, (100 * t) / duration))}%`;
    const seek = (t) => {
      const go = () => { player.currentTime = Math.min(t, player.duration || t); update(); };
      if (player.readyState >= 1) go(); else player.addEventListener("loadedmetadata", go, { once: true });
      movePlayhead(t);
    };

    const rows = [];
    const now = el("span", { class: "tl-name tl-now", text: clock(0), attrs: { "aria-live": "off" } });
    const ticks = [];
    const every = step(duration, window.matchMedia("(max-width: 640px)").matches ? 4 : 8);
    for (let t = 0; t <= duration + 1e-6; t += every) {
      // near the end a label sits left of its tick, so that it stays inside the lane
      ticks.push(el("span", { class: t / duration > 0.85 ? "tl-tick end" : "tl-tick", style: `left:${pct(t)}`,
        text: clock(t, true) }));
    }
    const axis = el("div", { class: "tl-lane tl-axis", title: "click to jump there" }, ...ticks);
    axis.addEventListener("click", (e) => {
      const box = axis.getBoundingClientRect();
      seek(((e.clientX - box.left) / box.width) * duration);
    });
    rows.push(el("div", { class: "tl-row tl-axis-row" }, now, axis));

    const track = (kind, name, spans) => {
      const lane = el("div", { class: "tl-lane" }, ...spans.map((s) => {
        const what = `${name}, ${clock(s.start_s)} to ${clock(s.end_s)}, score ${s.score.toFixed(2)}`;
        return el("button", { type: "button", class: "tl-span", title: what, attrs: { "aria-label": `Play ${what}` },
          dataset: { start: s.start_s }, style: `left:${pct(s.start_s)};width:max(6px, ${pct(s.end_s - s.start_s)})`,
          onclick: () => seek(s.start_s) });
      }));
      rows.push(el("div", { class: `tl-row ${kind}` }, el("span", { class: "tl-name", title: name, text: name }), lane));
    };
    for (const [name, spans] of group(video.faces, "person")) track("face", `👤 ${name}`, spans);
    for (const [name, spans] of group(video.labels, "label")) track("label", name, spans);

    // explicit rows: the playhead's overlay shares the lanes' column and spans them all
    rows.forEach((row, i) => { for (const cell of row.children) cell.style.gridRow = String(i + 1); });
    const playhead = el("div", { class: "tl-playhead", attrs: { "aria-hidden": "true" } });
    const overlay = el("div", { class: "tl-overlay", style: `grid-row: 1 / span ${rows.length}` }, playhead);
    const node = el("div", { class: "timeline", attrs: { role: "group", "aria-label": `timeline of ${video.name}` } },
      ...rows, overlay);
    if (rows.length === 1) node.append(el("p", { class: "hint tl-none", text: "Nothing recognised in this video." }));

    function movePlayhead(t) {
      playhead.style.left = pct(t);
      now.textContent = clock(t);
    }
    let frame = 0;
    function update() { movePlayhead(player.currentTime || 0); }
    function follow() { update(); frame = player.paused ? 0 : requestAnimationFrame(follow); }
    const onPlay = () => { cancelAnimationFrame(frame); follow(); };
    player.addEventListener("timeupdate", update);
    player.addEventListener("seeked", update);
    player.addEventListener("play", onPlay);
    return {
      node, seek,
      destroy() {
        cancelAnimationFrame(frame);
        player.removeEventListener("timeupdate", update);
        player.removeEventListener("seeked", update);
        player.removeEventListener("play", onPlay);
      },
    };
  }

  return { build };
})();
