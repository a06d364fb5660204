"""The public Street Safe page in real headless Chromium at a 390x844 phone viewport: a pin and
two reasons in four taps, a keyboard-only report, a pin outside the force area refused, the
999/101 banner, and a report showing on the analyst's dashboard layer only once its cell holds
the minimum count. No raw address in the store or the server's log."""

from __future__ import annotations

import logging
import socket
import threading
import time
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select, text

from guardian.config import Settings
from guardian.operations.accounts import service as accounts
from guardian.operations.streetsafe.models import StreetSafeReport
from headless import CHROMIUM

pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed")]
playwright = pytest.importorskip("playwright.sync_api")
PASSWORD = "correct horse battery"
MIN_SECONDS = 0.5


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _Grab(logging.Handler):
    def __init__(self):
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record):
        self.lines.append(record.getMessage())


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """Uvicorn on loopback (as `guardian web serve` runs it) over a synthetic force area (a grid
    of places over Basildon), with an analyst."""
    import uvicorn

    from guardian.operations.streetsafe.sample import seed_force
    from guardian.store.db import get_engine
    from guardian.web.app import create_app

    home = tmp_path_factory.mktemp("streetsafe")
    engine = get_engine(f"sqlite:///{home / 'store.db'}")
    seed_force(engine, districts=("Basildon",))
    accounts.add_user(engine, username="analyst1", password=PASSWORD, role="analyst")
    (home / "streetsafe.toml").write_text(f"[streetsafe]\nmin_seconds = {MIN_SECONDS}\n")
    app = create_app(Settings(home=home, database_url=str(engine.url)), engine=engine,
                     as_of=datetime(2026, 12, 6, 21, 0, tzinfo=UTC))
    grab = _Grab()
    logging.getLogger().addHandler(grab)
    port = _free_port()
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    t = threading.Thread(target=srv.run, daemon=True)
    t.start()
    for _ in range(100):
        if srv.started:
            break
        time.sleep(0.05)
    yield f"http://localhost:{port}", engine, app, grab
    srv.should_exit = True
    t.join(timeout=10)
    logging.getLogger().removeHandler(grab)


@pytest.fixture
def phone(server):
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        ctx = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True,
                                  has_touch=True)
        # offline tiles: the map is a plain background and pins still work
        ctx.route("https://tile.openstreetmap.org/**", lambda route: route.abort())
        yield ctx.new_page()
        browser.close()


def _stored(engine) -> int:
    with engine.connect() as c:
        return c.execute(select(func.count()).select_from(StreetSafeReport)).scalar_one()


def _open(page, base):
    page.goto(f"{base}/streetsafe")
    page.wait_for_selector("#ss-map.leaflet-container")
    page.wait_for_timeout(int(MIN_SECONDS * 1000) + 100)  # a person takes longer than this


def _received(page):
    page.wait_for_function(
        "document.getElementById('ss-status').textContent.indexOf('Received') >= 0"
        " || document.getElementById('ss-status').className.indexOf('bad') >= 0",
        timeout=10_000)
    return page.locator("#ss-status").inner_text()


def test_banner_signposts_999_and_101(server, phone):
    base, *_ = server
    page = phone
    page.goto(f"{base}/streetsafe")
    banner = page.locator("#ss-banner")
    assert banner.is_visible() and banner.bounding_box()["y"] < 400  # seen without scrolling
    assert "not a crime report" in banner.inner_text()
    assert page.locator("#ss-banner a[href='tel:999']").inner_text() == "999"
    assert page.locator("#ss-banner a[href='tel:101']").inner_text() == "101"
    assert "police.uk" in banner.inner_text()
    assert page.context.cookies() == []  # no cookie at all


def test_pin_and_two_reasons_in_four_taps(server, phone):
    base, engine, *_ = server
    page = phone
    _open(page, base)
    before = _stored(engine)
    page.locator("#ss-map").tap()  # 1: the pin (the map opens on the force area)
    page.locator("label[for=r-badly-lit], #r-badly-lit").first.tap()  # 2
    page.locator("#r-followed").tap()  # 3
    page.locator("#ss-send").tap()  # 4
    assert "Received" in _received(page)
    assert _stored(engine) == before + 1
    with engine.connect() as c:
        r = c.execute(select(StreetSafeReport.reasons, StreetSafeReport.when)
                      .order_by(StreetSafeReport.id.desc())).first()
    assert tuple(r) == ("badly-lit,followed", "now")


def test_keyboard_only_report(server, phone):
    base, engine, *_ = server
    page = phone
    _open(page, base)
    before = _stored(engine)

    def tab_to(element_id: str) -> None:
        for _ in range(60):
            page.keyboard.press("Tab")
            if page.evaluate("document.activeElement && document.activeElement.id") == element_id:
                return
        raise AssertionError(f"Tab never reached #{element_id}")

    tab_to("ss-centre")
    page.keyboard.press("Enter")  # pin at the map's centre
    tab_to("r-no-cctv")
    page.keyboard.press("Space")
    tab_to("r-harassed-group")
    page.keyboard.press("Space")
    tab_to("ss-send")
    page.keyboard.press("Enter")
    assert "Received" in _received(page)
    assert _stored(engine) == before + 1


def test_pin_outside_the_force_area_is_refused(server, phone):
    base, engine, *_ = server
    page = phone
    _open(page, base)
    before = _stored(engine)
    page.fill("#ss-lat", "51.50740")  # central London: another force
    page.fill("#ss-lon", "-0.12780")
    page.locator("#r-isolated").tap()
    page.locator("#ss-send").tap()
    msg = _received(page)
    assert "outside the Essex Police area" in msg
    assert _stored(engine) == before


def test_analyst_layer_shows_a_report_only_once_aggregated(server, phone):
    base, engine, app, grab = server
    page = phone
    from guardian.operations.streetsafe.sample import BASILDON_CENTRE
    from guardian.web.streetsafe import intake

    it = intake(type("R", (), {"app": app})())
    # a place nobody has reported yet: one report from the browser, then more from others
    where = (BASILDON_CENTRE[0] - 0.01, BASILDON_CENTRE[1] + 0.02)
    _open(page, base)
    page.fill("#ss-lat", f"{where[0]:.5f}")
    page.fill("#ss-lon", f"{where[1]:.5f}")
    page.locator("#r-drugs-alcohol").tap()
    page.locator("#ss-send").tap()
    assert "Received" in _received(page)
    page.goto(f"{base}/login?next=/dashboard")
    page.fill("#username", "analyst1")
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/dashboard")
    page.wait_for_selector("#streetsafe-layer p.note")
    lat_txt = f"{where[0]:.3f}"
    assert lat_txt not in page.locator("#streetsafe-layer").inner_html()
    k = it.config.min_count
    for i in range(k - 1):  # others report the same place (each from its own address)
        it.submit({"key": f"browser-other-{i:04d}-xyz", "lat": where[0], "lon": where[1],
                   "reasons": ["drugs-alcohol"], "when": "earlier", "daynight": "night",
                   "token": it.token(time.time() - 30)}, address=f"198.51.100.{i + 1}")
    page.reload()
    page.wait_for_selector("#ss-layer tbody tr[data-lat]")
    rows = page.locator("#ss-layer tbody tr[data-lat]")
    assert rows.count() == 1 and rows.first.locator("td").nth(2).inner_text() == str(k)
    if app.state.leaflet:  # and on the dashboard's map, with its count and reasons
        page.wait_for_selector("#map path.ss-cell")
        assert page.locator("#map path.ss-cell").count() == 1
        page.locator("#map path.ss-cell").click(force=True)
        popup = page.wait_for_selector(".leaflet-popup-content").inner_text()
        assert f"{k} reports" in popup and "drugs-alcohol" in popup, popup
    # no raw address in any table or in the server's log
    with engine.connect() as c:
        for t in c.dialect.get_table_names(c):
            for row in c.execute(text(f'SELECT * FROM "{t}"')):
                assert not any("127.0.0.1" in str(v) or "198.51.100." in str(v) for v in row), t
    assert not [ln for ln in grab.lines if "127.0.0.1" in ln or "198.51.100." in ln]
