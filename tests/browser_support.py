"""Helpers of the browser tests: serve an app, open a page at desktop or phone size (light or dark), watch its
traffic (no request leaves the server, none fails), and measure what a person sees: horizontal overflow and
WCAG contrast computed from ``getComputedStyle``.
"""

from __future__ import annotations

import contextlib
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
from playwright.sync_api import expect

#: the two sizes issue 17 names: a laptop and a phone (touch, no hover)
SIZES: dict[str, dict[str, Any]] = {
    "desktop": {"viewport": {"width": 1280, "height": 800}},
    "phone": {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True},
}
#: WCAG 2.1 AA: text 4.5:1; borders of controls and focus indicators 3:1 (SC 1.4.11)
TEXT_AA, NON_TEXT_AA = 4.5, 3.0


@contextlib.contextmanager
def serve(app: Any, timeout: float = 300, **options: Any) -> Iterator[str]:
    """Run an ASGI app with uvicorn on a free port in a thread; yields its base URL, stops it on exit.
    ``options`` are uvicorn's (``Config``)."""
    import socket

    import uvicorn

    with contextlib.closing(socket.socket()) as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port,
                                           **{"log_level": "warning", "lifespan": "on", **options}))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout
    while not server.started:
        if not thread.is_alive():
            raise RuntimeError("uvicorn exited before it started")
        if time.monotonic() > deadline:
            raise RuntimeError(f"uvicorn did not start within {timeout:.0f} s")
        time.sleep(0.1)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


@contextlib.contextmanager
def served(name: str, app: Any, prefix: str, samples: bool = False, timeout: float = 60,
           samples_timeout: float = 180) -> Iterator[tuple[str, httpx.Client]]:
    """Serve one demo ``app`` (registry ``name``) behind the launcher; yields the base URL and a client of
    ``prefix`` (``/image``). With ``samples`` its sample data is loaded first (POST /samples, waited for)."""
    from common.web.launcher import build_app
    from tests.support import wait_task

    with serve(build_app(services={name: app})) as base, \
            httpx.Client(base_url=base + prefix, timeout=timeout) as client:
        if samples:
            wait_task(client, client.post("/samples").json()["task_id"], timeout=samples_timeout)
        yield base, client


def visit(page: Any, base: str, prefix: str) -> Traffic:
    """Open a demo's page (``prefix`` such as ``/image``) and wait for its count; the traffic it makes."""
    traffic = Traffic.watch(page, base)
    page.goto(f"{base}{prefix}/")
    page.locator("[data-count]").filter(has_text="stored").wait_for()
    return traffic


@contextlib.contextmanager
def demo_page(browser: Any, base: str, prefix: str, size: str = "desktop",
              scheme: str = "light") -> Iterator[tuple[Any, Traffic]]:
    """A demo's page (:func:`open_page`, then :func:`visit`) and its traffic, checked when the block ends: no
    request left the server and none failed."""
    with open_page(browser, size, scheme) as page:
        traffic = visit(page, base, prefix)
        yield page, traffic
        traffic.check()


@contextlib.contextmanager
def open_page(browser: Any, size: str = "desktop", scheme: str = "light") -> Iterator[Any]:
    """A page in a fresh browser context at ``size`` ("desktop" or "phone") in the ``scheme`` colour scheme."""
    context = browser.new_context(color_scheme=scheme, **SIZES[size])
    context.set_default_timeout(30_000)  # a shared 2-core machine: be patient, not flaky
    try:
        yield context.new_page()
    finally:
        context.close()


@dataclass
class Traffic:
    """Every request a page makes: those leaving ``base`` and those that fail (status >= 400, or no answer).

    ``allow(status, path)`` names an expected failure (a test that sends a bad query on purpose)."""

    base: str
    outside: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    allowed: list[tuple[int, str]] = field(default_factory=list)

    @classmethod
    def watch(cls, page: Any, base: str) -> Traffic:
        traffic = cls(base)
        page.on("request", traffic._request)
        page.on("response", traffic._response)
        page.on("requestfailed", traffic._request_failed)
        return traffic

    def allow(self, status: int, path: str) -> None:
        self.allowed.append((status, path))

    def _request(self, request: Any) -> None:
        if not request.url.startswith((self.base, "blob:", "data:")):
            self.outside.append(request.url)

    def _response(self, response: Any) -> None:
        if response.status >= 400:
            path = response.url[len(self.base):].split("?")[0]
            if not any(status == response.status and path.endswith(p) for status, p in self.allowed):
                self.failed.append(f"{response.status} {response.url}")

    def _request_failed(self, request: Any) -> None:
        # media elements cancel their range requests when the source changes; that is not a failure
        if request.resource_type != "media" and "ERR_ABORTED" not in (request.failure or ""):
            self.failed.append(f"{request.failure} {request.url}")

    def check(self) -> None:
        assert self.outside == [], f"requests that left the server: {self.outside}"
        assert self.failed == [], f"requests that failed: {self.failed}"


def assert_fits(page: Any) -> None:
    """No horizontal scrolling: ``document.documentElement.scrollWidth <= innerWidth``, and ``innerWidth`` is the
    window's width (a mobile browser widens its layout viewport, zoomed out, to fit a page that is too wide)."""
    width, inner = page.evaluate("() => [document.documentElement.scrollWidth, innerWidth]")
    window = page.viewport_size["width"]
    assert width <= inner <= window, f"the page is {width} px wide ({inner} px layout) in a {window} px window"


def assert_inner_fits(page: Any, selector: str) -> None:
    """A scrolling box (a dialog's body) does not scroll sideways either."""
    width, inner = page.locator(selector).first.evaluate("(el) => [el.scrollWidth, el.clientWidth]")
    assert width <= inner, f"{selector} is {width} px wide inside {inner} px"


# -- contrast ----------------------------------------------------------------------------------------
_COLOR = re.compile(r"rgba?\(\s*([\d.]+)[,\s]+([\d.]+)[,\s]+([\d.]+)(?:\s*[,/]\s*([\d.]+%?))?\s*\)")


def parse_color(css: str) -> tuple[float, float, float, float]:
    """``rgb(1, 2, 3)`` / ``rgba(1, 2, 3, 0.5)`` / ``rgb(1 2 3 / 50%)`` as (r, g, b, alpha)."""
    match = _COLOR.fullmatch(css.strip())
    if not match:
        raise ValueError(f"not an rgb() colour: {css!r}")
    r, g, b, a = match.groups()
    alpha = 1.0 if a is None else (float(a[:-1]) / 100 if a.endswith("%") else float(a))
    return float(r), float(g), float(b), alpha


def _luminance(rgb: tuple[float, float, float]) -> float:
    def channel(c: float) -> float:
        c /= 255
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(c) for c in rgb)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(foreground: str, background: str) -> float:
    """The WCAG contrast ratio of two CSS colours (the foreground composited over the opaque background)."""
    fr, fg, fb, fa = parse_color(foreground)
    br, bg, bb, _ = parse_color(background)
    mixed = (fr * fa + br * (1 - fa), fg * fa + bg * (1 - fa), fb * fa + bb * (1 - fa))
    lighter, darker = sorted((_luminance(mixed), _luminance((br, bg, bb))), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


#: the first opaque background behind an element (its own when ``self``), composited up its ancestors
_BACKGROUND_JS = """([el, self]) => {
  const parse = (c) => { const m = c.match(/[\\d.]+/g) || []; return m.length < 3 ? null :
    [+m[0], +m[1], +m[2], m.length > 3 ? +m[3] : 1]; };
  const layers = [];
  for (let node = self ? el : el.parentElement; node; node = node.parentElement) {
    const c = parse(getComputedStyle(node).backgroundColor);
    if (c && c[3] > 0) { layers.push(c); if (c[3] >= 1) break; }
  }
  layers.push(parse(getComputedStyle(document.documentElement).backgroundColor) || [255, 255, 255, 1]);
  let [r, g, b] = [255, 255, 255];
  for (const [lr, lg, lb, la] of layers.reverse()) {
    r = lr * la + r * (1 - la); g = lg * la + g * (1 - la); b = lb * la + b * (1 - la);
  }
  return `rgb(${Math.round(r)}, ${Math.round(g)}, ${Math.round(b)})`;
}"""


def background_of(page: Any, selector: str, self: bool = False) -> str:
    """The colour behind ``selector`` (its parents' backgrounds; with ``self`` its own first)."""
    return str(page.locator(selector).first.evaluate(f"(el) => ({_BACKGROUND_JS})([el, {str(self).lower()}])"))


def style(page: Any, selector: str, prop: str) -> str:
    return str(page.locator(selector).first.evaluate(f"(el) => getComputedStyle(el)[{prop!r}]"))


def border_contrast(page: Any, selector: str) -> float:
    """Contrast of the element's border against what surrounds it and what it encloses (the lower of the two)."""
    color = style(page, selector, "borderTopColor")
    assert float(style(page, selector, "borderTopWidth").removesuffix("px")) >= 1, f"{selector} has no border"
    outside, inside = background_of(page, selector), background_of(page, selector, self=True)
    return min(contrast(color, outside), contrast(color, inside))


def text_contrast(page: Any, selector: str) -> float:
    return contrast(style(page, selector, "color"), background_of(page, selector, self=True))


def assert_theme(page: Any, scheme: str) -> None:
    """The page follows the system's colour scheme: a dark background behind ``main`` exactly when dark."""
    body = background_of(page, "main")
    assert (contrast(body, "rgb(0, 0, 0)") < 2) == (scheme == "dark"), body


def assert_fits_with_aa(page: Any, scheme: str, borders: tuple[str, ...] = (), focus: tuple[str, ...] = (),
                        text: tuple[str, ...] = ()) -> None:
    """How the page looks in the ``scheme`` the system asks for: it fits the window (:func:`assert_fits`), follows
    the scheme (:func:`assert_theme`) and meets WCAG AA (:func:`assert_aa`)."""
    assert_fits(page)
    assert_theme(page, scheme)
    assert_aa(page, borders, focus, text)


#: what every demo page shares (the header, the library and the load panel) and each demo's looks test checks:
#: control borders, focus rings and text, as for :func:`assert_aa`
SHARED_BORDERS = ("#load-path", "#load .dropzone")
SHARED_FOCUS = ("#library-box .card", ".library-item .delete", "#load .sample")
SHARED_TEXT = ("body", "header.top p", "header.top nav a", ".hint", "#library-box .card-title",
               "#library-box .card-line", "#load .sample", "button.secondary", "button.danger")


def assert_demo_looks(page: Any, scheme: str, borders: tuple[str, ...] = (), focus: tuple[str, ...] = (),
                      text: tuple[str, ...] = ()) -> None:
    """:func:`assert_fits_with_aa` on a demo page once its library shows a card: the page's own ``borders``,
    ``focus`` rings and ``text``, and those of the parts every demo page shares."""
    page.locator("#library-box .card").first.wait_for()
    assert_fits_with_aa(page, scheme, (*SHARED_BORDERS, *borders), (*SHARED_FOCUS, *focus), (*SHARED_TEXT, *text))


def assert_aa(page: Any, borders: tuple[str, ...] = (), focus: tuple[str, ...] = (),
              text: tuple[str, ...] = ()) -> None:
    """WCAG AA for each selector: the ``borders`` of controls and the ``focus`` rings 3:1, the ``text`` 4.5:1."""
    for selector in borders:
        assert border_contrast(page, selector) >= NON_TEXT_AA, selector
    for selector in focus:
        assert focus_ring_contrast(page, selector) >= NON_TEXT_AA, selector
    for selector in text:
        assert text_contrast(page, selector) >= TEXT_AA, selector


def focus_ring_contrast(page: Any, selector: str) -> float:
    """Focus ``selector`` as a keyboard user would (focus-visible) and measure its outline against the background
    around it; fails when no visible ring is drawn."""
    page.keyboard.press("Shift")  # keyboard modality: script focus now shows :focus-visible
    locator = page.locator(selector).first
    locator.focus()
    assert locator.evaluate("(el) => el.matches(':focus-visible')"), f"{selector} shows no focus-visible state"
    width = float(style(page, selector, "outlineWidth").removesuffix("px"))
    assert style(page, selector, "outlineStyle") != "none" and width >= 2, f"{selector}: no focus ring"
    return contrast(style(page, selector, "outlineColor"), background_of(page, selector))


def section_order(page: Any) -> list[str]:
    """The ids of the page's sections, in the order they show."""
    return list(page.evaluate("() => [...document.querySelectorAll('main > section')].map(s => s.id)"))


def assert_first_visit(page: Any, client: httpx.Client, size: str, count: str, before: str = "search") -> None:
    """What an empty demo shows on a first visit: the count says ``count``, the load section comes first (before
    ``before``) with its welcome, "Drop ..." wording only where there is a mouse, and the server-path box suggests
    a path the server may read and says which it may."""
    assert page.locator("[data-count]").inner_text() == count
    order = section_order(page)
    assert order.index("load") < order.index(before), order
    assert "Nothing loaded yet" in page.locator("#load .welcome").inner_text()
    assert page.locator("#load .drop-only").is_visible() == (size == "desktop")
    roots = client.get("/info").json()["data_roots"]
    assert page.locator("#load-path").get_attribute("placeholder") == roots[0]
    assert roots[0] in page.locator("#load-roots").inner_text()


def enter(page: Any, selector: str, text: str) -> None:
    """Type ``text`` into the field ``selector`` and press Enter, as a person would."""
    page.fill(selector, text)
    page.press(selector, "Enter")


def assert_says_nothing_loaded(page: Any) -> None:
    """A search of an empty collection says what to do (load something), not "0 results in 49 ms"."""
    empty = page.locator("#results .empty")
    empty.wait_for()
    assert "Nothing loaded yet" in empty.inner_text()
    assert "0 result" not in page.locator("#results").inner_text()


def load_sample_data(page: Any, timeout: float) -> Any:
    """Press "Load sample data" with the progress bar sampled (:func:`progress_between`) and wait up to ``timeout``
    ms for the load panel to say "Done:"; returns its status line."""
    record_progress(page)
    page.get_by_role("button", name="Load sample data").click()
    expect(page.locator("#load .task .status")).to_be_in_viewport(ratio=1)  # a phone scrolls to the progress
    status = page.locator("#load .task .status")
    status.filter(has_text="Done:").wait_for(timeout=timeout)
    return status


def open_first_result(page: Any, client: httpx.Client) -> tuple[Any, dict[str, Any], Any]:
    """Click the first result card once it shows; returns the card, its item (GET /items/{id}) and the details
    dialog it opened."""
    first = page.locator("#results .card").first
    first.wait_for()
    item: dict[str, Any] = client.get(f"/items/{first.get_attribute('data-id')}").json()
    first.click()
    dialog = page.locator("dialog.details[open]")
    dialog.wait_for()
    return first, item, dialog


def assert_library_pages(page: Any, client: httpx.Client, per_page: int, total: int) -> list[dict[str, Any]]:
    """The library shows the newest of ``total`` items ``per_page`` at a time, says where it stands ("1–24 of 91")
    and pages forward and back; returns its first two pages' items (GET /items)."""
    cards = page.locator("#library-box .library-item")
    cards.first.wait_for()
    assert cards.count() == per_page
    where = page.locator("#library-box .pager-where")
    assert where.inner_text() == f"1–{per_page} of {total:,}"
    newest: list[dict[str, Any]] = client.get(f"/items?limit={2 * per_page}").json()["items"]

    def shown() -> list[str]:
        return list(page.eval_on_selector_all("#library-box .card", "(cards) => cards.map(c => c.dataset.id)"))

    assert shown() == [str(item["id"]) for item in newest[:per_page]]
    assert cards.first.locator(".card-title").inner_text() == newest[0]["name"]
    page.get_by_role("button", name="Next ›").click()
    where.filter(has_text=f"{per_page + 1}–{2 * per_page} of").wait_for()
    assert shown() == [str(item["id"]) for item in newest[per_page:2 * per_page]]
    assert cards.first.locator(".card-title").inner_text() == newest[per_page]["name"]
    page.get_by_role("button", name="‹ Previous").click()
    where.filter(has_text=f"1–{per_page} of").wait_for()
    return newest


def delete_after_a_confirmation(page: Any, client: httpx.Client, victim: dict[str, Any], stored: str,
                                exact: bool = False) -> None:
    """Delete ``victim`` (an item of GET /items) from the library: Cancel and Esc keep it, Delete removes it,
    the count then reads ``stored`` and its row leaves the library."""
    delete = page.get_by_role("button", name=f"Delete {victim['name']}", exact=exact)
    delete.click()
    confirm = page.locator("dialog.confirm[open]")
    assert victim["name"] in confirm.inner_text()
    confirm.get_by_role("button", name="Cancel").click()
    assert client.get(f"/items/{victim['id']}").status_code == 200
    delete.click()
    page.keyboard.press("Escape")  # Esc cancels too
    assert client.get(f"/items/{victim['id']}").status_code == 200
    delete.click()
    page.locator("dialog.confirm[open]").get_by_role("button", name="Delete").click()
    page.locator("[data-count]").filter(has_text=stored).wait_for()
    assert client.get(f"/items/{victim['id']}").status_code == 404
    page.locator(f"#library-box .library-item[data-id='{victim['id']}']").wait_for(state="detached")


def record_progress(page: Any, selector: str = ".load-panel progress") -> None:
    """Start sampling a <progress> every 50 ms into ``window.progressSeen`` as [value, max] pairs."""
    page.evaluate(f"""() => {{ window.progressSeen = [];
        setInterval(() => {{ const p = document.querySelector({selector!r});
          if (p) window.progressSeen.push([p.value, p.max]); }}, 50); }}""")


def progress_between(page: Any) -> list[tuple[float, float]]:
    """The recorded (value, max) samples strictly between an empty and a full bar."""
    return [(value, top) for value, top in page.evaluate("() => window.progressSeen") if 0 < value < top]
