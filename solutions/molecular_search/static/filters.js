// The molecule page's property filters: a min–max pair for each of the eight RDKit properties the API filters
// on (POST search "filters"), a count of the active ones, Lipinski's rule of five as a preset.
"use strict";

window.Molecule = window.Molecule || {};

(() => {
  const { el } = Bootcamp;

  /** The properties of every molecule, in the API's names; `step` 1 marks counts. */
  const PROPERTIES = [
    { key: "mw", label: "Molecular weight", short: "MW", unit: "g/mol", step: "any", digits: 2 },
    { key: "logp", label: "logP (Crippen)", short: "logP", unit: "", step: "any", digits: 2 },
    { key: "tpsa", label: "Polar surface area", short: "TPSA", unit: "Å²", step: "any", digits: 1 },
    { key: "hbd", label: "H-bond donors", short: "HBD", unit: "", step: "1", digits: 0 },
    { key: "hba", label: "H-bond acceptors", short: "HBA", unit: "", step: "1", digits: 0 },
    { key: "rotatable_bonds", label: "Rotatable bonds", short: "rot. bonds", unit: "", step: "1", digits: 0 },
    { key: "heavy_atoms", label: "Heavy atoms", short: "heavy atoms", unit: "", step: "1", digits: 0 },
    { key: "rings", label: "Rings", short: "rings", unit: "", step: "1", digits: 0 },
  ];
  const RULE_OF_FIVE = { mw: [null, 500], logp: [null, 5], hbd: [null, 5], hba: [null, 10] };

  function number(input) {
    const text = input.value.trim();
    return text === "" || Number.isNaN(Number(text)) ? null : Number(text);
  }

  /** A property value as the page shows it: "180.16 g/mol", "3". */
  function show(key, value) {
    const p = PROPERTIES.find((x) => x.key === key);
    if (value === null || value === undefined) return "";
    // a value that rounds to zero shows no minus sign (ethanol's logP, -0.0014, is "0.00", not "-0.00")
    const text = p && p.digits === 0 ? String(value) : Number(value).toFixed(p ? p.digits : 2).replace(/^-(?=[0.]+$)/, "");
    return p && p.unit ? `${text} ${p.unit}` : text;
  }

  /**
   * Molecule.Filters(grid, {badge, onChange}): builds the inputs in `grid`; value() is the API's `filters`
   * object ({mw: [lo, hi], ...}, null when none is set); text() says them in words.
   */
  function Filters(grid, { badge = null, onChange = () => {} } = {}) {
    const inputs = {};
    for (const p of PROPERTIES) {
      const ids = { lo: `f-${p.key}-min`, hi: `f-${p.key}-max` };
      const unit = p.unit ? ` (${p.unit})` : "";
      const box = (end) => el("input", { type: "number", id: ids[end], step: p.step, inputMode: "decimal",
        placeholder: end === "lo" ? "min" : "max",
        attrs: { "aria-label": `${p.label}${unit}, ${end === "lo" ? "at least" : "at most"}` } });
      inputs[p.key] = { lo: box("lo"), hi: box("hi") };
      grid.append(el("fieldset", { class: "range", dataset: { key: p.key } },
        el("legend", { text: `${p.label}${unit}` }),
        el("div", { class: "row nowrap" }, inputs[p.key].lo, el("span", { class: "to", text: "to", attrs: { "aria-hidden": "true" } }),
          inputs[p.key].hi)));
    }

    function value() {
      const out = {};
      for (const p of PROPERTIES) {
        const lo = number(inputs[p.key].lo), hi = number(inputs[p.key].hi);
        if (lo !== null || hi !== null) out[p.key] = [lo, hi];
      }
      return Object.keys(out).length ? out : null;
    }

    /** A bound the browser cannot read as a number ("5e": its value is "", which would drop the filter
     *  silently) or a range upside down, in words ("Molecular weight: the minimum 300 is above the maximum
     *  200."), or "". */
    function problem() {
      for (const p of PROPERTIES) {
        for (const [end, word] of [["lo", "minimum"], ["hi", "maximum"]]) {
          if (inputs[p.key][end].validity.badInput) return `${p.label}: the ${word} is not a number.`;
        }
        const lo = number(inputs[p.key].lo), hi = number(inputs[p.key].hi);
        if (lo !== null && hi !== null && lo > hi) return `${p.label}: the minimum ${lo} is above the maximum ${hi}.`;
      }
      return "";
    }

    function text() {
      const f = value();
      if (!f) return "";
      return Object.entries(f).map(([key, [lo, hi]]) => {
        const p = PROPERTIES.find((x) => x.key === key);
        if (lo !== null && hi !== null) return `${p.short} ${lo}–${hi}`;
        return lo !== null ? `${p.short} ≥ ${lo}` : `${p.short} ≤ ${hi}`;
      }).join(", ");
    }

    function sync() {
      const n = Object.keys(value() || {}).length;
      if (badge) {
        badge.hidden = n === 0;
        badge.textContent = `${n} active`;
      }
    }

    function set(filters) {
      for (const p of PROPERTIES) {
        const [lo, hi] = (filters && filters[p.key]) || [null, null];
        inputs[p.key].lo.value = lo === null ? "" : lo;
        inputs[p.key].hi.value = hi === null ? "" : hi;
      }
      sync();
      onChange();
    }

    grid.addEventListener("input", sync);
    grid.addEventListener("change", () => { sync(); onChange(); });
    return { value, text, problem, set, clear: () => set(null), ruleOfFive: () => set(RULE_OF_FIVE), inputs };
  }

  Object.assign(window.Molecule, { PROPERTIES, Filters, show });
})();
