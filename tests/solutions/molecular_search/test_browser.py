"""The /molecule/ page in headless Chromium at desktop and phone size: first visit and sample data, the four
search modes with property filters, load more, the time limit, details with the highlighted match and every
property, a name typed instead of a SMILES, many queries at once, the library, keyboard use, and how it looks
(fit, two columns on phones, contrast, dark theme with legible structures)."""

from __future__ import annotations

import uuid

import pytest
from playwright.sync_api import expect
from rdkit import Chem

from tests.browser_support import (
    Traffic,
    assert_demo_looks,
    assert_first_visit,
    assert_fits,
    assert_inner_fits,
    assert_library_pages,
    assert_says_nothing_loaded,
    background_of,
    contrast,
    delete_after_a_confirmation,
    demo_page,
    load_sample_data,
    open_first_result,
    open_page,
    progress_between,
    section_order,
    served,
    visit,
)
from tests.conftest import Backend

from .helpers import make_app

pytestmark = pytest.mark.browser
ASPIRIN = "CC(=O)Oc1ccccc1C(=O)O"
BENZOIC = "c1ccccc1C(=O)[OH]"
HIGHLIGHT = "#FF7F7F"  # RDKit's highlight colour in the drawings
PROPERTY_LABELS = {"mw": "Molecular weight", "logp": "logP (Crippen)", "tpsa": "Polar surface area",
                   "hbd": "H-bond donors", "hba": "H-bond acceptors", "rotatable_bonds": "Rotatable bonds",
                   "heavy_atoms": "Heavy atoms", "rings": "Rings"}


def _service(tmp_path_factory, loaded: bool):
    tmp = tmp_path_factory.mktemp("molecule-page")
    app = make_app(Backend("lite", "", ""), tmp, uuid.uuid4().hex[:8], tmp)
    with served("molecular_search", app, "/molecule", samples=loaded, samples_timeout=600) as (base, client):
        yield base, client, app


@pytest.fixture(scope="module")
def loaded(tmp_path_factory):
    """One service with the sample molecules, shared by the module (tests that delete leave the rest)."""
    yield from _service(tmp_path_factory, loaded=True)


@pytest.fixture(scope="module")
def fresh(tmp_path_factory):
    """A service the first-visit tests empty before they start."""
    yield from _service(tmp_path_factory, loaded=False)


def goto(page, base: str) -> Traffic:
    return visit(page, base, "/molecule")


def opened(browser, base: str, size: str = "desktop", scheme: str = "light"):
    """The page at ``size`` in ``scheme`` and its traffic (checked when the block ends)."""
    return demo_page(browser, base, "/molecule", size, scheme)


def per_page(size: str) -> int:
    return 24 if size == "desktop" else 12


def card_ids(page, selector: str = "#results .card") -> list[str]:
    return page.eval_on_selector_all(selector, "(cards) => cards.map(c => c.dataset.id)")


def wait_ids(page, ids: list[int], selector: str = "#results .card") -> None:
    """Wait until the cards show exactly these ids, in this order."""
    page.wait_for_function("([sel, want]) => JSON.stringify([...document.querySelectorAll(sel)]"
                           ".map(c => c.dataset.id)) === JSON.stringify(want)", arg=[selector, [str(i) for i in ids]])


def api_ids(client, **body) -> list[int]:
    response = client.post("/search", json=body)
    assert response.status_code == 200, response.text
    return [hit["id"] for hit in response.json()["results"]]


def search(page, smiles: str, mode: str = "similarity") -> None:
    page.fill("#smiles", smiles)
    page.check(f"input[name=mode][value={mode}]")
    page.get_by_role("button", name="Search", exact=True).click()


def open_filters(page) -> None:
    if not page.locator("#filters").evaluate("(d) => d.open"):
        page.locator("#filters summary").click()


def no_broken_images(page) -> None:
    broken = page.evaluate("() => [...document.images].filter(i => i.getAttribute('src') && i.complete"
                           " && i.naturalWidth === 0 && i.offsetParent !== null).map(i => i.src)")
    assert broken == []


def test_first_visit_puts_load_first_and_the_sample_data_button_loads(browser, fresh, size):
    base, client, _ = fresh
    client.delete("/data")
    with opened(browser, base, size) as (page, _traffic):
        assert_first_visit(page, client, size, "No molecules stored yet")
        # searching an empty collection says what to do, not "0 results in 3 ms"
        search(page, ASPIRIN)
        assert_says_nothing_loaded(page)

        status = load_sample_data(page, timeout=180_000)
        task = client.get("/tasks?limit=1").json()["tasks"][0]
        assert task["new"] > 4800 and task["duplicates"] > 0 and task["failed"] > 0  # the NCI set has both
        tally = f"{task['new']} new, {task['duplicates']} already stored, {task['failed']} failed"
        assert status.inner_text() == f"Done: {tally}."
        assert progress_between(page), "the progress bar went from empty to full without moving in between"
        assert page.locator("#load .problems li.error").count() == task["failed"]  # every bad record, with its line
        assert page.locator("[data-count]").inner_text() == f"{task['new']:,} molecules stored"
        page.locator("#library-box .card").first.wait_for()
        assert not page.locator("#load .welcome").is_visible()
        assert_fits(page)

        # the load survives a reload in the recent loads; search now comes first
        page.reload()
        recent = page.locator("#load .recent-item").first
        recent.wait_for()
        assert "sample data" in recent.inner_text() and "done" in recent.inner_text() and tally in recent.inner_text()
        order = section_order(page)
        assert order.index("search") < order.index("load"), order


def test_each_mode_with_a_property_filter(browser, loaded, size):
    base, client, _ = loaded
    n = per_page(size)
    cases = [  # mode, query, filters; each filter changes the answer
        ("similarity", ASPIRIN, {"mw": [None, 170]}),
        ("substructure", BENZOIC, {"heavy_atoms": [12, None]}),  # the smallest come first unfiltered
        ("superstructure", "CC(C)Cc1ccc(cc1)C(C)C(=O)O", {"rings": [1, None]}),
        ("exact", "CN1CCC[C@H]1c1cccnc1", {"mw": [100, 200]}),
    ]
    with opened(browser, base, size) as (page, _traffic):
        open_filters(page)
        for mode, smiles, filters in cases:
            (name, (lo, hi)), = filters.items()
            page.get_by_role("button", name="Clear filters").click()
            page.fill(f"#f-{name}-min", "" if lo is None else str(lo))
            page.fill(f"#f-{name}-max", "" if hi is None else str(hi))
            assert page.locator("#filter-count").inner_text() == "1 active"
            search(page, smiles, mode)
            want = api_ids(client, smiles=smiles, mode=mode, top_k=n, filters=filters)
            if mode != "exact":  # exact: the filter that leaves nicotine out is tried below
                unfiltered = api_ids(client, smiles=smiles, mode=mode, top_k=n)
                assert want and want != unfiltered, f"{mode}: the filter has no effect"
            wait_ids(page, want)
            page.locator("#results .status.ok").wait_for()
            note = page.locator("#search-note").inner_text()
            assert "filters:" in note, note
            if mode == "substructure":
                assert "passed the fingerprint screen" in note and "time limit" not in note
                assert all("highlight=" in (src or "") for src in
                           page.eval_on_selector_all("#results .card img", "(i) => i.map(x => x.getAttribute('src'))"))
            if mode == "similarity":  # aspirin itself weighs 180: the best hit under 170 is another molecule
                best = client.post("/search", json={"smiles": smiles, "top_k": 1, "filters": filters}).json()
                line = page.locator("#results .card").first.locator(".card-line").first.inner_text()
                assert line == f"#1 · Tanimoto {best['results'][0]['similarity']:.3f}" and "1.000" not in line

        # a range upside down is caught on the page, before any request
        page.fill("#f-mw-min", "300")
        page.locator("#f-mw-min").blur()
        problem = page.locator("#search-note.error")
        problem.wait_for()
        assert problem.inner_text() == "Molecular weight: the minimum 300 is above the maximum 200."
        assert page.locator("#results .card").count() == 0

        # the exact molecule outside the filter: an honest "not stored" that names the filters
        page.fill("#f-mw-max", "")
        search(page, "CN1CCC[C@H]1c1cccnc1", "exact")
        empty = page.locator("#results .empty")
        empty.filter(has_text="Filters are on").wait_for()
        assert "not stored" in empty.inner_text()

        # load more: two pages equal one longer query
        page.get_by_role("button", name="Clear filters").click()
        search(page, ASPIRIN, "similarity")
        wait_ids(page, api_ids(client, smiles=ASPIRIN, top_k=n))
        page.get_by_role("button", name="Load more").click()
        wait_ids(page, api_ids(client, smiles=ASPIRIN, top_k=2 * n))
        assert_fits(page)


def test_a_search_stopped_by_the_time_limit_says_so(browser, loaded, size):
    base, client, _ = loaded
    with opened(browser, base, size) as (page, _traffic):
        page.check("input[name=mode][value=substructure]")
        page.fill("#time-limit", "0.001")
        page.select_option("#page-size", "96")  # 96 matches need more than one round of RDKit work: > 1 ms
        search(page, "c1ccccc1", "substructure")
        assert client.post("/search", json={"smiles": "c1ccccc1", "mode": "substructure", "top_k": 96,
                                            "timeout_ms": 1}).json()["complete"] is False
        note = page.locator("#search-note.warn")
        note.wait_for()
        assert "Stopped at the time limit" in note.inner_text() and "there may be more" in note.inner_text()
        assert "not stored" not in page.locator("#results").inner_text()
        # with the server's own limit the same search completes, and the warning goes
        page.fill("#time-limit", "")
        search(page, "c1ccccc1", "substructure")
        page.locator("#search-note").filter(has_text="checked by RDKit").wait_for()
        assert "warn" not in (page.locator("#search-note").get_attribute("class") or "")


def test_details_show_the_highlighted_match_every_property_and_copy_the_smiles(browser, loaded, size):
    base, client, _ = loaded
    with open_page(browser, size) as page:
        page.context.grant_permissions(["clipboard-read", "clipboard-write"])
        traffic = goto(page, base)
        search(page, BENZOIC, "substructure")
        first, item, dialog = open_first_result(page, client)
        assert dialog.locator("#details-title").inner_text() == (item["name"] or f"molecule {item['id']}")
        drawing = dialog.locator(".mol-large img")
        drawing.wait_for()
        page.wait_for_function("() => { const i = document.querySelector('dialog.details .mol-large img');"
                               " return i && i.complete && i.naturalWidth > 0; }")
        assert "highlight=" in dialog.locator(".mol-large").get_attribute("data-src")
        shown = drawing.evaluate("(img) => fetch(img.src).then(r => r.text())")
        assert HIGHLIGHT in shown, "the large drawing has no highlighted match"
        assert HIGHLIGHT not in client.get(f"/items/{item['id']}/svg").text  # only the match is coloured
        assert drawing.evaluate("(img) => img.getBoundingClientRect().width") >= 300
        assert "highlighted" in dialog.inner_text()
        text = dialog.inner_text()
        for key, label in PROPERTY_LABELS.items():
            value = item["properties"][key]
            shown_value = {"mw": f"{value:.2f} g/mol", "logp": f"{value:.2f}",
                           "tpsa": f"{value:.1f} Å²"}.get(key, str(value))
            assert f"{label}\t{shown_value}" in text or f"{label}\n{shown_value}" in text, (label, shown_value)
        for expected in (item["source"], str(item["id"])):
            assert expected in text
        assert dialog.locator("#details-smiles").input_value() == item["smiles"]
        dialog.get_by_role("button", name="Copy the SMILES").click()
        dialog.locator(".smiles-copy .status").filter(has_text="Copied").wait_for()
        assert page.evaluate("() => navigator.clipboard.readText()") == item["smiles"]
        assert_inner_fits(page, "dialog .details-body")
        assert_fits(page)
        page.keyboard.press("Escape")
        page.locator("dialog.details").wait_for(state="hidden")
        assert first.evaluate("(el) => el === document.activeElement"), "focus did not return to the result"

        # a record's own fields (a CSV column) are shown too; "Find similar" searches with its SMILES
        search(page, ASPIRIN, "similarity")
        aspirin = page.locator("#results .card").filter(has_text="aspirin").first
        aspirin.wait_for()
        aspirin.click()
        dialog.locator("text=indication").wait_for()
        assert "pain" in dialog.inner_text() and "drugs.csv" in dialog.inner_text()
        assert "Tanimoto similarity to the query: 1.000" in dialog.inner_text()
        dialog.get_by_role("button", name="Find similar molecules").click()
        page.locator("dialog.details").wait_for(state="hidden")
        assert page.locator("#smiles").input_value() == ASPIRIN
        traffic.check()


def test_cards_are_reached_and_opened_with_the_keyboard(browser, loaded, size):
    base, _, _ = loaded
    with opened(browser, base, size) as (page, _traffic):
        page.locator("#smiles").focus()
        page.keyboard.type(ASPIRIN)
        page.keyboard.press("Enter")
        page.locator("#results .status.ok").wait_for()
        for _ in range(80):  # Tab from the query box to the first result
            page.keyboard.press("Tab")
            if page.evaluate("() => document.activeElement.matches('#results .card')"):
                break
        else:
            pytest.fail("Tab never reached a result card")
        assert page.evaluate("() => document.activeElement.matches(':focus-visible')")
        page.keyboard.press("Enter")
        dialog = page.locator("dialog.details[open]")
        dialog.wait_for()
        page.keyboard.press("Escape")
        page.locator("dialog.details").wait_for(state="hidden")
        expect(page.locator("#results .card").first).to_be_focused()  # Esc gives focus back to the card
        page.keyboard.press("Tab")  # the next card, opened with Space
        second = page.locator("#results .card").nth(1)
        expect(second).to_be_focused()
        page.keyboard.press("Space")
        dialog.wait_for()
        assert dialog.locator("#details-title").inner_text() == second.locator(".card-title").inner_text()
        page.get_by_role("button", name="Close").click()
        page.locator("dialog.details").wait_for(state="hidden")
        expect(second).to_be_focused()  # focus returns to the card (waits: the dialog restores it on close)


def test_focus_moved_while_the_details_close_is_not_taken_back(browser, loaded):
    """The dialog's "close" event comes a task after it shut: a focus moved in between (a quick Tab) stays."""
    base, _, _ = loaded
    with opened(browser, base) as (page, _traffic):
        search(page, ASPIRIN)
        cards = page.locator("#results .card")
        cards.nth(1).wait_for()
        cards.first.click()
        page.locator("dialog.details[open]").wait_for()
        kept = page.evaluate(
            """async () => {
                const second = document.querySelectorAll("#results .card")[1];
                document.querySelector("dialog.details").close();
                second.focus();
                await new Promise((done) => setTimeout(done, 100));
                return document.activeElement === second;
            }"""
        )
        assert kept, "the dialog's close handler moved the focus back to the card that opened it"


def test_a_name_instead_of_a_smiles_gets_a_helpful_message_and_an_example(browser, loaded, size):
    base, _, _ = loaded
    with opened(browser, base, size) as (page, traffic):
        search(page, ASPIRIN)
        page.locator("#results .card").first.wait_for()
        traffic.allow(422, "/molecule/search")
        search(page, "aspirin")
        error = page.locator("#results .status.error")
        error.wait_for()
        message = error.inner_text()
        assert "enter a SMILES, not a name" in message and "422" not in message, message
        assert page.locator("#results .card").count() == 0
        assert not page.locator("#query-view").is_visible()  # no drawing of a query that was rejected
        no_broken_images(page)
        example = page.locator("#search-help button")
        assert ASPIRIN in example.inner_text()
        example.click()
        page.locator("#results .status.ok").wait_for()
        assert page.locator("#results .card").first.locator(".card-title").inner_text() == "aspirin"
        assert not page.locator("#search-help").is_visible()
        page.wait_for_function("() => { const i = document.querySelector('#query-view img');"
                               " return i && i.complete && i.naturalWidth > 0; }")
        assert_fits(page)


def test_batch_queries_use_the_mode_and_filters_and_get_their_own_errors(browser, loaded, size, tmp_path):
    base, client, _ = loaded
    queries = tmp_path / "queries.smi"
    queries.write_text("smiles name\n# a comment\nCCO ethanol\naspirin\nc1ccccc1C(=O)O benzoic\n", encoding="utf-8")
    filters = {"heavy_atoms": [None, 12]}
    with opened(browser, base, size) as (page, _traffic):
        page.check("input[name=mode][value=substructure]")
        open_filters(page)
        page.fill("#f-heavy_atoms-max", "12")
        page.set_input_files("#batch-file", str(queries))
        groups = page.locator(".batch-group")
        groups.nth(2).wait_for(timeout=60_000)
        assert groups.count() == 3
        assert "3 queries (substructure)" in page.locator("#batch-status").inner_text()
        assert groups.nth(0).locator(".batch-query").inner_text() == "ethanol — CCO"
        assert "enter a SMILES, not a name" in groups.nth(1).locator(".status.error").inner_text()
        answer = client.post("/search/batch", json={"queries": ["CCO", "aspirin", "c1ccccc1C(=O)O"],
                                                    "mode": "substructure", "top_k": 6, "filters": filters}).json()
        for i in (0, 2):
            want = [str(h["id"]) for h in answer["results"][i]["results"]]
            assert want and card_ids(page, f".batch-group:nth-child({i + 1}) .card") == want
        assert page.get_by_role("link", name="Download the results (JSON)").is_visible()
        assert_fits(page)


def test_library_pages_and_deletes_after_a_confirmation(browser, loaded, size):
    base, client, _ = loaded
    total = client.get("/count").json()["count"]
    n = per_page(size)
    with opened(browser, base, size) as (page, _traffic):
        newest = assert_library_pages(page, client, n, total)
        delete_after_a_confirmation(page, client, newest[0], f"{total - 1:,} molecules stored", exact=True)
        first = page.locator("#library-box .library-item").first
        assert first.locator(".card-title").inner_text() == newest[1]["name"]
        assert page.get_by_role("link", name="Export (JSON Lines)").get_attribute("href") == "export"
        assert_fits(page)


def test_results_fit_the_screen_two_columns_on_a_phone(browser, loaded, size):
    base, _, _ = loaded
    with opened(browser, base, size) as (page, _traffic):
        search(page, BENZOIC, "substructure")
        page.locator("#results .status.ok").wait_for()
        lefts = page.eval_on_selector_all("#results .card",
                                          "(cs) => cs.slice(0, 8).map(c => Math.round(c.getBoundingClientRect().left))")
        columns = len(set(lefts))
        assert columns == 2 if size == "phone" else columns >= 4, lefts
        right = page.locator("#smiles").evaluate("(el) => el.getBoundingClientRect().right")
        assert right <= page.viewport_size["width"] - 8, f"the SMILES box reaches {right} px"
        page.wait_for_function("() => [...document.querySelectorAll('#results .card img')].slice(0, 4)"
                               ".every(i => i.complete && i.naturalWidth > 0)")
        assert_fits(page)
        page.locator("#results .card").first.click()
        page.locator("dialog.details[open] .mol-large img").wait_for()
        assert_inner_fits(page, "dialog .details-body")
        assert_fits(page)


def test_aa_contrast_in_both_themes_and_structures_on_a_light_tile(browser, loaded, size, scheme):
    base, _, _ = loaded
    with opened(browser, base, size, scheme) as (page, _traffic):
        open_filters(page)
        assert_demo_looks(
            page, scheme, borders=("#smiles", "#f-mw-min", "#min-sim", "#batch-queries", ".mode-choices label"),
            focus=("#smiles", "input[name=mode]", "#f-mw-max", ".examples button"),
            text=("#mode-hint", ".range legend", ".range .to", ".examples button"))
        # RDKit draws black bonds: the tiles stay light in the dark theme too
        tile = background_of(page, "#library-box .card-media", self=True)
        assert contrast(tile, "rgb(0, 0, 0)") >= 15, tile


def test_a_filter_that_is_not_a_number_stops_the_search_and_says_which(browser, fresh):
    """A number box the browser cannot read ("5e") has the value "": it must not be dropped silently."""
    base, _, _ = fresh
    with opened(browser, base) as (page, _traffic):
        open_filters(page)
        page.locator("#f-logp-max").click()
        page.keyboard.type("5e")
        sent: list[str] = []
        page.on("request", lambda r: sent.append(r.url) if r.url.endswith("/search") else None)
        search(page, ASPIRIN)
        expect(page.locator("#search-note")).to_contain_text("logP (Crippen): the maximum is not a number")
        assert sent == [] and page.locator("#filters").evaluate("(d) => d.open")


@pytest.mark.parametrize("width", [320, 360, 375])
def test_the_search_button_keeps_its_word_on_one_line_on_small_phones(browser, fresh, width):
    """Phones narrower than the suite's 390 px (many Androids are 360, an iPhone mini 375) broke "Searc|h"."""
    base, _, _ = fresh
    context = browser.new_context(viewport={"width": width, "height": 740}, is_mobile=True, has_touch=True)
    try:
        page = context.new_page()
        traffic = visit(page, base, "/molecule")
        # one client rect per line the text takes
        lines = page.locator("#search-btn").evaluate(
            "(b) => { const r = document.createRange(); r.selectNodeContents(b); return r.getClientRects().length; }")
        assert lines == 1, f"'Search' takes {lines} lines at {width} px"
        right = page.locator("#search-btn").evaluate("(b) => b.getBoundingClientRect().right")
        assert right <= width, f"the button reaches {right} px"
        assert_fits(page)
        traffic.check()
    finally:
        context.close()


def test_a_property_that_rounds_to_zero_shows_no_minus_sign(browser, fresh):
    """Ethanol's Crippen logP is -0.0014: "logP 0.00", not "-0.00"."""
    base, _, _ = fresh
    with opened(browser, base) as (page, _traffic):
        shown = page.evaluate("() => [Molecule.show('logp', -0.0014), Molecule.show('logp', -0.006),"
                              " Molecule.show('tpsa', -0.04), Molecule.show('mw', 46.069), Molecule.show('hbd', 0)]")
        assert shown == ["0.00", "-0.01", "0.0 Å²", "46.07 g/mol", "0"]


def test_the_steroid_core_example_finds_estrogens_too(browser, fresh):
    """Aliphatic "C" atoms left out every steroid with an aromatic A ring (estradiol; the NCI set's estradiol
    cypionate); the example's SMARTS must match both kinds and no plain hydrocarbon ring chain."""
    base, _, _ = fresh
    with opened(browser, base) as (page, _traffic):
        smarts = page.get_by_role("button", name="steroid core").get_attribute("data-smiles")
    query = Chem.MolFromSmarts(smarts)
    steroids = {"testosterone": "C[C@]12CC[C@H]3[C@@H](CCC4=CC(=O)CC[C@@]43C)[C@@H]1CC[C@@H]2O",
                "estradiol": "C[C@]12CC[C@H]3[C@@H](CCc4cc(O)ccc43)[C@@H]1CC[C@@H]2O",
                "cholesterol": "CC(C)CCC[C@@H](C)[C@H]1CC[C@H]2[C@@H]3CC=C4C[C@@H](O)CC[C@]4(C)[C@H]3CC[C@]12C"}
    for name, smiles in steroids.items():
        assert Chem.MolFromSmiles(smiles).HasSubstructMatch(query), name
    assert not Chem.MolFromSmiles("c1ccc2cc3ccccc3cc2c1").HasSubstructMatch(query)  # anthracene: no 5-ring


def test_many_queries_on_an_empty_store_say_nothing_is_loaded_not_no_match(browser, fresh):
    """As a single search does: "Nothing loaded yet", not "No match." under every query."""
    base, client, _ = fresh
    client.delete("/data")
    with opened(browser, base) as (page, _traffic):
        page.fill("#batch-queries", "CCO ethanol\nc1ccccc1O phenol")
        page.get_by_role("button", name="Search them").click()
        expect(page.locator("#batch-status")).to_contain_text("Nothing loaded yet")
        assert page.locator(".batch-group").count() == 0
        assert "No match" not in page.locator("#batch").inner_text()


def test_a_pasted_csv_line_is_refused_and_its_smiles_offered(browser, loaded):
    """"c1ccccc1O,phenol" in the query box: the API says it is a CSV line, the page offers the SMILES alone."""
    base, client, _ = loaded
    with opened(browser, base) as (page, traffic):
        traffic.allow(422, "/molecule/search")
        search(page, "c1ccccc1O,phenol", "substructure")
        error = page.locator("#results .status.error")
        error.wait_for()
        assert "line of a CSV file" in error.inner_text(), error.inner_text()
        offer = page.locator("#search-help button")
        assert offer.inner_text() == "c1ccccc1O"
        offer.click()
        page.locator("#results .status.ok").wait_for()
        assert page.locator("#smiles").input_value() == "c1ccccc1O"
        assert page.locator("input[name=mode][value=substructure]").is_checked()
        want = api_ids(client, smiles="c1ccccc1O", mode="substructure", top_k=24)
        wait_ids(page, want)


def test_batch_queries_read_a_spreadsheet_by_its_smiles_column(browser, loaded, tmp_path):
    """A ChEMBL export (semicolons, quoted cells, SMILES last) was read a line at a time: every query was the
    line's first word ('"ChEMBL'), and failed."""
    base, client, _ = loaded
    export = tmp_path / "chembl_export.csv"
    export.write_text('\ufeff"ChEMBL ID";"Name";"Molecular Weight";"Smiles"\n'
                      '"CHEMBL25";"ASPIRIN";"180.16";"CC(=O)Oc1ccccc1C(=O)O"\n"CHEMBL545";"";"46.07";"CCO"\n',
                      encoding="utf-8")
    with opened(browser, base) as (page, _traffic):
        page.set_input_files("#batch-file", str(export))
        groups = page.locator(".batch-group")
        groups.nth(1).wait_for(timeout=60_000)
        assert groups.count() == 2
        assert [groups.nth(i).locator(".batch-query").inner_text() for i in range(2)] == [
            "ASPIRIN — CC(=O)Oc1ccccc1C(=O)O", "CHEMBL545 — CCO"]
        assert page.locator(".batch-group .status.error").count() == 0
        answer = client.post("/search/batch", json={"queries": ["CC(=O)Oc1ccccc1C(=O)O", "CCO"], "top_k": 6}).json()
        for i in range(2):
            want = [str(h["id"]) for h in answer["results"][i]["results"]]
            assert want and card_ids(page, f".batch-group:nth-child({i + 1}) .card") == want


def test_batch_queries_read_name_first_lines_as_zinc_files_write_them(browser, loaded):
    """RDKit's Contrib/Fastcluster/cdk2.smi is "ZINC03814457<tab>SMILES": the page sent each name as the query
    ("'ZINC03814457' looks like a name") and showed the SMILES as its name."""
    base, _client, _ = loaded
    with opened(browser, base) as (page, _traffic):
        page.fill("#batch-queries", "ZINC03814457\tCC(C)C(=O)Nc1ccccc1\nZINC00000002 CCO")
        page.get_by_role("button", name="Search them").click()
        groups = page.locator(".batch-group")
        groups.nth(1).wait_for(timeout=60_000)
        assert [groups.nth(i).locator(".batch-query").inner_text() for i in range(2)] == [
            "ZINC03814457 — CC(C)C(=O)Nc1ccccc1", "ZINC00000002 — CCO"]
        assert page.locator(".batch-group .status.error").count() == 0


def test_batch_smarts_lines_keep_their_bracketed_commas_and_semicolons(browser, loaded):
    """The batch box split every line at "," and ";", inside brackets too: "[NX3;H2]c" was sent as "[NX3"."""
    base, client, _ = loaded
    with opened(browser, base) as (page, _traffic):
        page.check("input[name=mode][value=substructure]")
        page.fill("#batch-queries", "[NX3;H2]c aromatic amine\n[Cl,Br]c, aryl halide\nCCO;ethanol")
        page.get_by_role("button", name="Search them").click()
        groups = page.locator(".batch-group")
        groups.nth(2).wait_for(timeout=60_000)
        assert [groups.nth(i).locator(".batch-query").inner_text() for i in range(3)] == [
            "aromatic amine — [NX3;H2]c", "aryl halide — [Cl,Br]c", "ethanol — CCO"]
        assert page.locator(".batch-group .status.error").count() == 0
        answer = client.post("/search/batch", json={"queries": ["[NX3;H2]c", "[Cl,Br]c", "CCO"],
                                                    "mode": "substructure", "top_k": 6}).json()
        for i in range(3):
            want = [str(h["id"]) for h in answer["results"][i]["results"]]
            assert want and card_ids(page, f".batch-group:nth-child({i + 1}) .card") == want


def test_the_benzoic_acid_example_finds_acids_not_their_esters(browser, loaded):
    """Written as SMILES (``c1ccccc1C(=O)[OH]``), the example ignored the hydrogen and found benzoate esters too
    (108 of its 257 hits in the sample data); as SMARTS, every hit has the acid's OH."""
    base, client, _ = loaded
    with opened(browser, base) as (page, _traffic):
        example = page.get_by_role("button", name="benzoic acid, inside")
        query = example.get_attribute("data-smiles")
        example.click()
        body = client.post("/search", json={"smiles": query, "mode": "substructure", "top_k": 1000}).json()
        assert body["query_kind"] == "smarts", body
        wait_ids(page, [hit["id"] for hit in body["results"]][:per_page("desktop")])
    acid = Chem.MolFromSmarts("c1ccccc1C(=O)[OX2H1]")
    hits = [Chem.MolFromSmiles(hit["smiles"]) for hit in body["results"]]
    assert len(hits) > 100 and all(m.HasSubstructMatch(acid) for m in hits)


@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_a_smiles_query_with_bracket_hydrogens_is_offered_the_smarts_that_requires_them(browser, loaded, size):
    """``c1ccccc1C(=O)[OH]`` found esters too, silently, and ``[OH]`` any oxygen. The page offers the SMARTS that
    requires the hydrogens (``[O;H1]``), and its button runs it."""
    base, client, _ = loaded
    with opened(browser, base, size) as (page, _traffic):
        search(page, "[OH]", "substructure")
        offer = page.locator("#search-help button")
        offer.wait_for()
        assert page.locator("#results .card").count() > 0
        assert "include molecules where those atoms carry other groups" in page.locator("#search-help").inner_text()
        assert offer.inner_text() == "[O;H1]"
        offer.click()
        want = api_ids(client, smiles="[O;H1]", mode="substructure", top_k=per_page(size))
        assert len(want) == per_page(size)
        wait_ids(page, want)
        assert page.locator("#smiles").input_value() == "[O;H1]"
        assert not page.locator("#search-help").is_visible()  # a SMARTS query: nothing to offer

        search(page, "c1ccccc1C(=O)[OH]", "substructure")
        offer.wait_for()
        assert offer.inner_text() == "c1ccccc1C(=O)[O;H1]"
        assert "include molecules where those atoms carry other groups" in page.locator("#search-help").inner_text()
        assert page.locator("#results .card").count() > 0
        search(page, "c1ccccc1O", "substructure")  # no bracket hydrogens: no offer
        page.locator("#results .card").first.wait_for()
        assert not page.locator("#search-help").is_visible()
        assert_fits(page)
